//! Text forms of instructions: one instruction at a time, in the two styles people compare
//! against.
//!
//! * **LLVM style** ([`write_llvm`]): exactly what `llvm-objdump -d --no-show-raw-insn`
//!   (LLVM 22) prints after the `N:\t` column, e.g. `if r1 > r2 goto +0xd`. Branches get the
//!   ` <sym+0x..>` annotation objdump adds from the section's symbols through a separate call,
//!   [`write_llvm_target_annotation`], since only the program-level listing knows the symbols.
//! * **Kernel style** ([`write_kernel`]): exactly what the kernel's instruction printer
//!   (`print_bpf_insn` in `kernel/bpf/disasm.c`) prints in a verifier log after `N: `, with the
//!   callbacks the verifier installs, e.g. `(55) if r0 != 0x0 goto pc+3`.
//!
//! The writers append to a `String` without allocating anything of their own, so a listing of
//! a million instructions costs one growing buffer. [`Llvm`] and [`Kernel`] wrap an
//! instruction for `{}` formatting into any [`std::fmt::Write`].
//!
//! ```
//! use bpfsmith::insn::{AluOp, Insn, Operand, Width, R1};
//! use bpfsmith::text::{write_kernel, write_llvm};
//!
//! let add = Insn::Alu { width: Width::W64, op: AluOp::Add, dst: R1, src: Operand::Imm(-4) };
//! let mut s = String::new();
//! write_llvm(&mut s, &add);
//! s.push('\n');
//! write_kernel(&mut s, &add);
//! assert_eq!(s, "r1 += -0x4\n(07) r1 += -4");
//! ```

mod print;

pub use print::{
    write_kernel, write_kernel_with, write_llvm, write_llvm_target_annotation, Kernel, Llvm,
};

mod listing;

pub use listing::{
    listing, object_listing, view_listing, write_listing, write_listing_chunked,
    write_object_listing, write_view_listing, write_view_listing_with, ListingOptions, Style,
};

mod source;

pub use source::{object_source, write_program_source};

mod diag;
mod lex;
mod parse;

// The verifier viewer decodes log lines with the assembler's parser.
pub(crate) use parse::parse_log_insn;

pub mod asm;
pub mod conformance;

pub use asm::{
    assemble, assemble_file, assemble_file_with, assemble_file_with_warnings, assemble_with,
    assemble_with_warnings, warnings as asm_warnings, AsmFileError, AsmOptions, Assembled,
};
pub use diag::{render_message, AsmError, AsmErrorKind, AsmErrors, Capped, Severity, MAX_SHOWN};
