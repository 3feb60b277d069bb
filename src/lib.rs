//! bpfsmith: build eBPF programs by hand, without a C compiler.
//!
//! # The helper ABI, by example
//!
//! An eBPF program calls a kernel helper with `call N`. The arguments go in `r1` to `r5`, the
//! result comes back in `r0`, and the call clobbers `r1`-`r5`: only `r0`, the callee-saved
//! `r6`-`r9` and the frame pointer `r10` hold their values afterwards. Memory arguments are
//! pointers, usually into the 512-byte stack frame below `r10`.
//!
//! The queue/stack helpers follow that pattern:
//!
//! | helper | r1 | r2 | r3 | r0 |
//! |---|---|---|---|---|
//! | 87 `bpf_map_push_elem` | the map | pointer to the value (initialised) | flags: `BPF_ANY` 0 or `BPF_EXIST` 2 | 0, `-E2BIG` when full, `-EINVAL` for other flags |
//! | 88 `bpf_map_pop_elem` | the map | pointer to a value-sized buffer | | 0, or `-ENOENT` when empty (buffer zeroed) |
//! | 89 `bpf_map_peek_elem` | the map | pointer to a value-sized buffer | | 0, or `-ENOENT` when empty (buffer zeroed) |
//!
//! Test their result in its low 32 bits, `w0`: before Linux 6.4 the x86 JIT hands the error
//! back zero-extended (`0x00000000fffffff9` for -E2BIG), while the interpreter and later kernels
//! sign-extend it (see [Testing a helper's result](#testing-a-helpers-result)).
//!
//! ## Calling a helper by hand
//!
//! A map is loaded into `r1` with a two-slot `ld_imm64` that the loader patches with the map's
//! file descriptor; the value pointer is `r10` plus a negative offset:
//!
//! ```
//! use bpfsmith::prelude::*;
//!
//! let mut obj = Object::new("GPL");
//! let queue = obj.map("queue", MapDef::queue::<u32>(8)).unwrap();
//!
//! let mut p = ProgramBuilder::new("by_hand", Section::SOCKET);
//! p.store(Size::U32, R10, -4, 42);     // the value, on the stack
//! p.ld_map(R1, &queue);                // r1 = queue ll (a relocation against `queue`)
//! p.mov(R2, R10).add(R2, -4);          // r2 = r10 - 4
//! p.mov(R3, 0);                        // r3 = BPF_ANY
//! p.call(Helper::MapPushElem);         // call 87; r0 = 0 or -E2BIG
//! p.exit();                            // return r0
//! let by_hand = p.finish().unwrap();
//!
//! // The typed operation emits exactly the same instructions, and checks them first.
//! let mut p = ProgramBuilder::new("typed", Section::SOCKET);
//! p.store(Size::U32, R10, -4, 42);
//! p.push(&queue, StackSlot::of::<u32>(-4), PushFlags::ANY);
//! p.exit();
//! assert_eq!(p.finish().unwrap().insns, by_hand.insns);
//! ```
//!
//! ## Testing a helper's result
//!
//! A 32-bit compare (`JMP32`, the [`insn::WReg`] view `W0`) reads the same on every kernel. A
//! 64-bit compare of `r0` with a negative number, or a signed one, builds and loads, but takes
//! the other branch before Linux 6.4 with the JIT: the program says so in its
//! [`program::Program::warnings`], with the Rust line of the jump:
//!
//! ```
//! use bpfsmith::prelude::*;
//!
//! let mut obj = Object::new("GPL");
//! let queue = obj.map("queue", MapDef::queue::<u32>(1)).unwrap();
//! let build = |portable: bool| {
//!     let mut p = ProgramBuilder::new("full", Section::SOCKET);
//!     let full = p.label("full");
//!     p.store(Size::U32, R10, -4, 42);
//!     p.push(&queue, StackSlot::at(-4), PushFlags::ANY);
//!     if portable {
//!         p.jump_if(W0, Cond::Eq, -7, full);   // if w0 == -7 goto full: -E2BIG on every kernel
//!     } else {
//!         p.jump_if(R0, Cond::Eq, -7, full);   // if r0 == -7: never taken before 6.4 (JIT)
//!     }
//!     p.mov(R0, 0).exit();
//!     p.bind(full).mov(R0, 1).exit();
//!     p.finish().unwrap()
//! };
//! assert!(build(true).warnings().is_empty());
//! let warnings = build(false).warnings();
//! assert!(warnings[0].location.as_ref().unwrap().file.ends_with("lib.rs"));
//! assert!(warnings[0].help().contains("0x00000000fffffff9 for -7"));
//! assert!(warnings[0].help().ends_with("compare the low 32 bits: `if w0 == -7 goto ...`"));
//! ```
//!
//! ## What the checks catch
//!
//! The typed operations refuse at build time what the kernel would refuse later, and say
//! which Rust line did it:
//!
//! ```
//! use bpfsmith::prelude::*;
//!
//! let mut obj = Object::new("GPL");
//! let counts = obj.map("counts", MapDef::hash::<u32, u64>(16)).unwrap();
//! let mut p = ProgramBuilder::new("wrong", Section::SOCKET);
//! p.pop(&counts, StackSlot::at(-8)).exit();  // pop needs a queue or stack map
//! let err = p.finish().unwrap_err().to_string();
//! assert!(err.contains("cannot pass map_type 1 into func bpf_map_pop_elem#88"));
//! assert!(err.contains("src/lib.rs:"));
//! ```
//!
//! ## Reading what you emitted
//!
//! Listings print in LLVM's syntax (what `llvm-objdump` shows) or the kernel's (what the
//! verifier log shows), with the helper's convention beside each call:
//!
//! ```
//! use bpfsmith::prelude::*;
//! use bpfsmith::text::{listing, ListingOptions, Style};
//!
//! let mut obj = Object::new("GPL");
//! let stack = obj.map("stack", MapDef::stack::<u64>(4)).unwrap();
//! let mut p = ProgramBuilder::new("peek", Section::SOCKET);
//! p.peek(&stack, StackSlot::at(-8)).exit();
//! let prog = p.finish().unwrap();
//!
//! let llvm = listing(&prog, &ListingOptions { abi: true, ..Default::default() });
//! assert!(llvm.contains("call 0x59 # bpf_map_peek_elem: r1 = map, r2 = value -> r0"));
//! let kernel = listing(&prog, &ListingOptions { style: Style::Kernel, ..Default::default() });
//! assert!(kernel.contains("4: (85) call bpf_map_peek_elem#89"));
//! ```
//!
//! ## Into the kernel
//!
//! An [`object::Object`] writes a relocatable ELF file that libbpf, bpftool and LLVM's tools
//! read ([`object::Object::write_elf`]), and loads straight into the kernel
//! ([`object::Object::load`], root or CAP_BPF), where [`load::Queue`] and [`load::Stack`] give
//! user space the same maps:
//!
//! ```no_run
//! # #[cfg(bpfsmith_kernel)] {
//! use bpfsmith::prelude::*;
//! use bpfsmith::load::TestRun;
//!
//! let obj = bpfsmith::seed::object();
//! obj.write_elf("/tmp/seed.o")?;                      // bpftool prog loadall /tmp/seed.o ...
//! let loaded = obj.load()?;
//! let run = loaded.program("queue_prog")?.test_run(&TestRun { data: &[0; 64], ..Default::default() })?;
//! assert_eq!(run.retval, 20);
//! assert_eq!(loaded.queue::<u32>("queue")?.drain()?, vec![30, 40, 50]);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The pipeline
//!
//! One module per box: [`program`] (the builder DSL) and [`text`] (the assembler and the
//! printers) produce [`program::Program`]s of [`insn::Insn`]s; an [`object::Object`] gathers
//! programs, [`maps`] and a license and reads and writes ELF with BTF; `load` (over `sys`, the
//! only `unsafe` code) puts objects in the kernel and runs them; [`verifier`] parses the
//! verifier's log; [`explain`] and [`helpers`] teach; [`snapshot`] turns listings into insta
//! snapshots. Around them: [`input`] reads a program file (ELF or assembly, bounded, the wrong
//! kind named) for `check`, the kernel matrix (`guest`) and the command; [`seed`] is the seed
//! scenario (push, pop and peek on a queue and a stack) and what the kernel documents it to
//! give; [`conformance`] runs the public conformance suite on the kernel.
//!
//! All of that is library. The command's own code (the `demo` walkthrough, argument parsing,
//! printing) is not: it lives in the binary, `src/main.rs` and `src/cli/`, compiled only with
//! the `cli` feature.
//!
//! # Features
//!
//! All on by default: `cli` builds the `bpfsmith` command (`src/main.rs`, `src/cli/`; it
//! brings in `clap`), `snapshot` offers the [`snapshot`] module and its assertion macros (and
//! brings in `insta`), `kernel` builds `load`, `sys`, `probe` and `guest` (bpf(2), `libc`,
//! `caps`) on Linux; on another OS it builds nothing. A library user who wants none of them
//! depends with `default-features = false`.
#![forbid(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

/// `Debug` as the readable message: `fn main() -> Result<(), E>` prints a returned error with
/// `{:?}` (`Error: ...`), so the library's errors show their `Display` text there, not their
/// structure. A rustc-style text's leading `error: ` is left out, since `Error: ` precedes it.
macro_rules! debug_as_display {
    ($($t:ty),* $(,)?) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let text = self.to_string();
                f.write_str(text.strip_prefix("error: ").unwrap_or(&text))
            }
        }
    )*};
}

pub mod abi;
pub mod check;
pub mod conformance;
pub mod diag;
pub mod explain;
pub mod gen;
pub mod helpers;
pub mod input;
pub mod insn;
pub mod maps;
pub mod object;
pub mod output;
pub mod program;
pub mod run;
pub mod seed;
mod slots;
#[cfg(feature = "snapshot")]
pub mod snapshot;
pub mod text;
pub mod verifier;
pub mod vm;

#[cfg(bpfsmith_kernel)]
pub mod guest;
#[cfg(bpfsmith_kernel)]
pub mod load;
#[cfg(bpfsmith_kernel)]
pub mod probe;
#[cfg(bpfsmith_kernel)]
pub mod sys;

/// Everything a DSL user needs in one import: `use bpfsmith::prelude::*;`.
pub mod prelude {
    pub use crate::helpers::Helper;
    pub use crate::insn::{
        AluOp, AtomicOp, Cond, Insn, Reg, Size, WReg, Width, R0, R1, R10, R2, R3, R4, R5, R6, R7,
        R8, R9, W0, W1, W10, W2, W3, W4, W5, W6, W7, W8, W9,
    };
    pub use crate::maps::{MapDef, MapType};
    pub use crate::object::Object;
    pub use crate::program::{
        Fragment, Label, MapRef, Program, ProgramBuilder, PushFlags, Section, StackSlot,
    };

    #[cfg(bpfsmith_kernel)]
    pub use crate::load::{LoadOptions, LoadedObject, Queue, Stack, TestRun};
}
