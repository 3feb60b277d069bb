//! The text assembler: `.s` files into an [`Object`] of programs and maps.
//!
//! # What it reads
//!
//! One statement per line (LLVM's `;` also separates statements on one line), in either of two
//! dialects, freely mixed:
//!
//! * **LLVM's BPF syntax**, everything `llvm-mc-22 -triple bpfel -mcpu=v4` accepts
//!   (`r1 += r2`, `w0 = *(u8 *)(r2 + 4)`, `if w1 s< 5 goto L`, `lock *(u64 *)(r1 + 8) += r2`,
//!   `r0 = cmpxchg_64(r1 + 8, r0, r2)`, `r1 = queue ll`, `call bpf_map_push_elem` ...), and
//!   what the printers of [`crate::text`] print: `llvm-objdump` listings (a leading `N:\t`,
//!   raw bytes, `<sym+0x8>` annotations, `ld_pseudo\tr1, 0x1, 0x5`, `0000000000000018 <L>:`
//!   headers, `R_BPF_64_64 queue` relocation lines, `Disassembly of section xdp:`) and the
//!   kernel's verifier-log spelling (`N: (op) insn ; state`, `*(u32 *)(r10 -4)`,
//!   `goto pc+3`, `call bpf_map_push_elem#87`, `r2 = atomic64_fetch_add(...)`).
//! * **The mnemonic dialect** of the eBPF conformance suite (`mov32 %r0, 1`,
//!   `ldxdw %r0, [%r1+8]`, `jne %r1, 0, label`, `lock fetch add [%r10-8], %r1`, `lddw`,
//!   `call local f`, `call %r2`). As in that suite, a jump to `exit` where no label `exit` is
//!   defined goes to the program's first `exit` instruction.
//!
//! Comments: `#` (not in the kernel's `name#id`), `//`, `/* ... */` (across lines), and lines
//! that start with `;` (the source annotations of verifier logs and objdump).
//!
//! Immediates are decimal, hexadecimal (`0x`), binary (`0b`) or, in LLVM syntax as in llvm-mc,
//! octal with a leading `0`. A 32-bit immediate takes -2^31 ..= 2^32-1 in LLVM syntax (the
//! bit pattern, as llvm-mc); the mnemonic dialect takes signed decimal or a hex bit pattern,
//! as the conformance suite's assembler. Where llvm-mc only warns that an immediate is out of
//! range and truncates it, this assembler refuses it.
//!
//! # Programs, sections, labels
//!
//! `.section NAME[,"flags",@progbits]` and `.text` select a section; sections whose flags lack
//! `x`, and `.maps`, `license`, `.data*`, `.rodata*`, `.bss*` without flags, hold no code. A
//! global label (`.globl name` then `name:`) in a code section starts a program; the section
//! name gives its type by libbpf's conventions (`socket`, `xdp`, `tc`, `tracepoint/...`).
//! Other labels are local to their program; a label that `call NAME` calls (or that
//! `rN = NAME ll` loads) is a bpf-to-bpf function. `call NAME` is a helper call when `NAME` is
//! a helper's name (`bpf_map_push_elem`, or without `bpf_`) and no function of the program has
//! that name.
//!
//! Instructions of a section before any global label form a program named
//! [`AsmOptions::default_name`], in that section (`.text` stays `.text`, as llvm-mc writes
//! it), or in [`AsmOptions::default_section`] (`socket`) when the file chose no section at
//! all: conformance programs and bare listings assemble without any directive. A program of
//! `.text` is written in one piece, its functions where the file put them, calls between
//! them pc-relative as llvm-mc encodes them; `bpfsmith run` and `load` take it as a socket
//! filter. An objdump header at address 0 (`0000000000000000 <name>:`) names that program.
//! Going back to a section continues its last program, as assemblers continue a section
//! where they left it. A bpf-to-bpf call names a label of its own program (pc-relative), or,
//! as clang writes it, a function of `.text` from another section (`call f` / `rN = f ll`
//! where `f` is a global label of `.text`, or a local one there): the caller gets a
//! [`RelocKind::Function`] relocation, written as llvm-mc writes it (`call -1` and
//! `R_BPF_64_32` against a global `f`; against the `.text` section symbol with the callee's
//! slot otherwise), and the loader (or any loader, from the file) appends the callee (a
//! `.text` program is cut into one program per function when nothing crosses between them,
//! so that only the functions a caller reaches are appended). A
//! global function of `.text` calling another global one is relocated the same way. A local
//! label at the very start of `.text` names the function there (a program whose first
//! label is its name, which the writer keeps local). `bpfsmith asm` writes a program's functions where
//! the file put them, in the program's own section with pc-relative calls and no
//! relocation, byte for byte as llvm-mc-22 writes them
//! ([`ElfOptions::functions_in_place`](crate::object::ElfOptions::functions_in_place));
//! [`Object::write_elf`] with default options moves them to `.text`, as clang does, because
//! libbpf resolves subprogram calls only there. bpfsmith's reader and loader take both; the
//! examples in `asm/` keep their functions in `.text`, so that every loader takes them as
//! `bpfsmith asm` writes them.
//!
//! # Constants and expressions
//!
//! `.equ NAME, EXPR` and `.set NAME, EXPR` define a constant from the next line on (setting
//! it again changes it from there, as in llvm-mc); `.equiv` refuses a name that is already a
//! constant. A constant cannot share its name with a label or a map. Where llvm-mc-22 takes
//! an expression, so does this assembler, with the same value: immediates of ALU operations,
//! moves, compares and stores, `rN = EXPR ll`, helper numbers (`call N + 1`) and jump offsets
//! (`goto N - 1`). An expression starts with a number (optionally signed) or a constant, then
//! `* / % << >>`, `| & ^` and `+ -` (in that precedence, as GNU as) over numbers, constants
//! and parenthesised parts, in 64-bit arithmetic (`>>` logical, `/` signed). As llvm-mc, it
//! refuses a constant as a memory offset (`*(u32 *)(r10 - OFF)`), `label + N` as a jump
//! target, and a leading `-`, `~` or `(`; each with file, line and column. A `.equ` may
//! name a constant defined further down (its value then counts where it is used; constants
//! defined above keep the value they had at its line, as llvm-mc folds them); a constant
//! defined through itself is an error, and so is a use before a value exists (where llvm-mc
//! writes a relocation no loader takes).
//!
//! Our own directives: `.license "GPL"` (default [`AsmOptions::default_license`], said in a
//! note when the file has none) and
//! `.map NAME, type=queue, value_size=4, max_entries=10` (also `key_size=`, `flags=` as numbers
//! or `BPF_F_*` names joined by `|`, and `pinning=by_name` for a map a loader shares through
//! bpffs, as clang's `__uint(pinning, LIBBPF_PIN_BY_NAME)`), checked against the kernel's
//! creation rules. Maps may be
//! declared before or after their use. `.globl`/`.global` are read; `.type`, `.size`,
//! `.p2align`, `.align`, `.balign`, `.file`, `.loc`, `.ident`, `.addrsig`, `.hidden` are
//! accepted and ignored. Data directives (`.byte`, `.zero` ...) are refused.
//!
//! # Checks
//!
//! An assembler encodes, the verifier judges. What cannot be encoded is an error: the syntax,
//! every operand range, labels (undefined, duplicate), offsets that do not fit their field,
//! unknown helpers, `.map` rules, and a jump from a program's code into one of its
//! bpf-to-bpf functions when they go to different sections. All errors of a file are
//! reported in one run ([`AsmErrors`]), each with its line, column and a caret.
//!
//! # Warnings
//!
//! What can be encoded but the verifier refuses, or behaves differently on some kernels, is
//! assembled and written, with a warning in the same form (`warning:` instead of `error:`):
//! a jump outside the program or into the second half of an `ld_imm64`, a program or function
//! whose last instruction is not `exit` or `goto`, unreachable code (each with the verifier's
//! own words for it), and a 64-bit compare of a map helper's `int` result, which the x86 JIT
//! hands back zero-extended before Linux 6.4; and `rN = NAME ll` of a `NAME` the file does
//! not declare, written as llvm-mc writes it (an `R_BPF_64_64` relocation against the
//! undefined symbol: an extern map, [`Object::extern_maps`], that a loader must supply; the
//! warning names the nearest declared map); and a map helper called with `r1` loaded from a
//! map of a type it does not take (push, pop or peek on a hash or array map, lookup, update or
//! delete on a queue or stack: the map's real type, the verifier's words, what to use instead,
//! as the DSL checks it). People write such programs on purpose: to test
//! the verifier, to teach, to reproduce a bug. [`assemble_with_warnings`] and
//! [`assemble_file_with_warnings`] return both ([`Assembled`]); [`warnings`] finds them in
//! any assembled object; `bpfsmith asm --deny-warnings` (`-D warnings`) makes them errors. The
//! checks are the program's ([`crate::program::lint`]), shared with the DSL.
//!
//! # Notes
//!
//! What the file leaves to the assembler is said as a note ([`AsmNote`], in
//! [`Assembled::notes`]; `--deny-warnings` does not count notes): no `.license` (the object
//! gets `GPL`), and code that no global label names (the program gets
//! [`AsmOptions::default_name`]; when a local label starts it, the note says to add
//! `.globl`).
//!
//! ```
//! let src = "\
//! .map queue, type=queue, value_size=4, max_entries=1
//! r1 = queue ll
//! r2 = r10
//! r2 += -4
//! call bpf_map_pop_elem
//! if r0 != -2 goto empty
//! exit
//! empty:
//! exit
//! ";
//! let a = bpfsmith::text::assemble_with_warnings("pop.s", src, &Default::default()).unwrap();
//! assert_eq!(a.object.programs.len(), 1);
//! let w = a.warnings[0].to_string();
//! assert!(w.starts_with("pop.s:6:4: warning: 64-bit compare of r0"), "{w}");
//! assert!(w.contains("compare the low 32 bits: `if w0 != -2 goto ...`"), "{w}");
//! // `if w0 != -2 goto empty` is the portable spelling: no warning.
//! let fixed = src.replace("if r0", "if w0");
//! assert!(bpfsmith::text::assemble_with_warnings("pop.s", &fixed, &Default::default())
//!     .unwrap()
//!     .warnings
//!     .is_empty());
//! ```
//!
//! ```
//! let src = "\
//! .map queue, type=queue, value_size=4, max_entries=10
//! .section socket
//! .globl push_one
//! push_one:
//!     *(u32 *)(r10 - 4) = 42
//!     r1 = queue ll
//!     r2 = r10
//!     r2 += -4
//!     r3 = 0
//!     call bpf_map_push_elem
//!     exit
//! ";
//! let obj = bpfsmith::text::assemble("push.s", src).unwrap();
//! let prog = &obj.programs[0];
//! assert_eq!((prog.name.as_str(), prog.section.name()), ("push_one", "socket"));
//! assert_eq!(prog.relocs[0].symbol, "queue");
//! assert_eq!(prog.source(0).unwrap().line, 5);
//!
//! let err = bpfsmith::text::assemble("bad.s", "r11 = 1\nexit\n").unwrap_err();
//! assert!(err.to_string().starts_with("bad.s:1:1: error: unknown register `r11`"));
//! ```

pub mod expect;

use std::collections::HashMap as StdHashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

use super::diag::{suggest, AsmError, AsmErrorKind as K, AsmErrors};
use super::lex::{Lexer, Tok, T};
use super::parse::{looks_like_register, parse_const_expr, parse_insn_with, Span, Sym};
use crate::helpers::Helper;
use crate::insn::{Callee, Insn, Pseudo};
use crate::maps::{flags, MapDef, MapDefError, MapType, TypeDesc};
use crate::object::{Object, ObjectError, Pinning};
use crate::program::SourceLines;
use crate::program::{
    FileId, Function, Program, ProgramBuilder, Reloc, RelocKind, Section, SourceLoc,
};
use crate::slots::SlotMap;

/// FNV-1a: label and symbol names are short, and SipHash showed in profiles. The result goes
/// through a finalizer (splitmix64's): FNV alone leaves the bits the table indexes by poorly
/// mixed for names like `L1` ... `L62500`, which then share buckets.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<Fnv>>;

/// Choices for what the source leaves open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmOptions {
    /// The section of instructions that come before any global label, when no `.section`
    /// chose one (default `socket`; the conformance suite runs programs as `xdp`).
    pub default_section: Section,
    /// The name of the program those instructions form (default `main`).
    pub default_name: String,
    /// The license when the file has no `.license` (default `GPL`).
    pub default_license: String,
    /// The conformance suite's rule for its `.data` files: a decimal 32-bit immediate in the
    /// mnemonic dialect is signed (-2^31 ..= 2^31-1), larger bit patterns are written in hex
    /// ([`ConformanceTest::program`](crate::text::conformance::ConformanceTest::program) sets it). Off by
    /// default: both dialects then take -2^31 ..= 2^32-1, decimal or hex, as llvm-mc-22 does.
    pub signed_decimal_imm32: bool,
}

impl Default for AsmOptions {
    fn default() -> Self {
        AsmOptions {
            default_section: Section::SOCKET,
            default_name: "main".to_owned(),
            default_license: "GPL".to_owned(),
            signed_decimal_imm32: false,
        }
    }
}

/// Assemble `source` with the default [`AsmOptions`]. `path` is the file name that messages
/// and source locations show.
pub fn assemble(path: &str, source: &str) -> Result<Object, AsmErrors> {
    assemble_with(path, source, &AsmOptions::default())
}

/// Assemble `source` with `opts`.
pub fn assemble_with(path: &str, source: &str, opts: &AsmOptions) -> Result<Object, AsmErrors> {
    assemble_text(path, Arc::from(source), opts).map(|(o, _)| o)
}

/// Why [`assemble_file`] failed.
#[derive(Debug)]
pub enum AsmFileError {
    /// The file could not be read.
    Io {
        /// The path.
        path: String,
        /// The error.
        error: std::io::Error,
    },
    /// The text does not assemble.
    Asm(AsmErrors),
}

impl fmt::Display for AsmFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsmFileError::Io { path, error } => write!(f, "error: cannot read {path}: {error}"),
            AsmFileError::Asm(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AsmFileError {}

/// Read and assemble the file at `path` (default [`AsmOptions`]): everything the `bpfsmith
/// asm` command does except writing the ELF object.
pub fn assemble_file(path: impl AsRef<Path>) -> Result<Object, AsmFileError> {
    assemble_file_with(path, &AsmOptions::default())
}

/// [`assemble_file`] with `opts`.
pub fn assemble_file_with(
    path: impl AsRef<Path>,
    opts: &AsmOptions,
) -> Result<Object, AsmFileError> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| AsmFileError::Io {
        path: shown.clone(),
        error,
    })?;
    assemble_text(&shown, Arc::from(text), opts)
        .map(|(o, _)| o)
        .map_err(AsmFileError::Asm)
}

/// An assembled file: the object, the warnings about its code ([`warnings`], in program
/// and instruction order) and notes about what the file left to defaults. The object is
/// complete whatever the warnings say.
#[derive(Clone, Debug)]
pub struct Assembled {
    /// The object, as [`assemble_with`] gives it.
    pub object: Object,
    /// The warnings ([`AsmError`]s with [`Severity::Warning`](crate::text::Severity::Warning)).
    pub warnings: Vec<AsmError>,
    /// What the file did not say and the assembler chose ([`AsmNote`]): the license, the
    /// name of a program without a global label. Not warnings: `--deny-warnings` ignores
    /// them.
    pub notes: Vec<AsmNote>,
}

/// A note about a choice the assembler made for the file: `FILE:LINE:COL: note: ...` and
/// `help:` lines saying how to make it explicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmNote {
    /// The file name given to the assembler.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What was chosen.
    pub message: String,
    /// How to choose otherwise.
    pub help: Vec<String>,
}

impl fmt::Display for AsmNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let help: Vec<String> = self.help.iter().map(|h| format!("help: {h}")).collect();
        let (path, line, column) = (&self.path, self.line, self.column);
        let note = crate::diag::Severity::Note;
        f.write_str(&crate::diag::render_at(
            note,
            path,
            line,
            column,
            &self.message,
            &help,
        ))
    }
}

/// A note for each program section that keeps bpf-to-bpf functions, when the object is
/// written with them in place ([`ElfOptions::functions_in_place`](crate::object::ElfOptions::functions_in_place),
/// as `bpfsmith asm` writes it, as llvm-mc does): libbpf (bpftool) loads subprograms only from
/// `.text`, and refuses a static function elsewhere. Points at the first such function.
pub fn in_place_notes(obj: &Object) -> Vec<AsmNote> {
    let mut out = Vec::new();
    for prog in &obj.programs {
        if prog.section == Section::TEXT || prog.functions.len() < 2 {
            continue;
        }
        let f = &prog.functions[1];
        let Some(loc) = prog.locs.get(f.insn).copied().flatten() else {
            continue;
        };
        let names: Vec<String> = prog.functions[1..]
            .iter()
            .map(|f| format!("`{}`", f.name))
            .collect();
        out.push(AsmNote {
            path: file_path(prog, loc).to_owned(),
            line: loc.line,
            column: loc.column,
            message: format!(
                "{} of program `{}` {} written in section `{}`, where the file puts {}, as \
                 llvm-mc writes {}",
                names.join(", "),
                prog.name,
                if names.len() == 1 { "is" } else { "are" },
                prog.section.name(),
                if names.len() == 1 { "it" } else { "them" },
                if names.len() == 1 { "it" } else { "them" },
            ),
            help: vec![
                "libbpf (bpftool) loads bpf-to-bpf functions only from `.text`: \
                 `bpfsmith asm --functions-in-text` writes them there, as clang does \
                 (bpfsmith loads either)"
                    .to_owned(),
            ],
        });
    }
    out
}

/// [`assemble_with`], and the warnings about the code it assembled.
pub fn assemble_with_warnings(
    path: &str,
    source: &str,
    opts: &AsmOptions,
) -> Result<Assembled, AsmErrors> {
    let (object, notes) = assemble_text(path, Arc::from(source), opts)?;
    let warnings = warnings(&object);
    Ok(Assembled {
        object,
        warnings,
        notes,
    })
}

/// [`assemble_file_with`], and the warnings about the code it assembled: what the `bpfsmith
/// asm` command prints before writing the object.
pub fn assemble_file_with_warnings(
    path: impl AsRef<Path>,
    opts: &AsmOptions,
) -> Result<Assembled, AsmFileError> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| AsmFileError::Io {
        path: shown.clone(),
        error,
    })?;
    assemble_with_warnings(&shown, &text, opts).map_err(AsmFileError::Asm)
}

/// The warnings about the programs of `obj` ([`crate::program::Program::warnings`]), rendered
/// as the assembler renders errors: `FILE:LINE:COL: warning: ...`, the source line and a caret
/// under the offending operand (a jump's target, the compared `r0`), notes (what the verifier
/// says, where the helper was called) and a `help:` line. Control flow the verifier refuses
/// (a jump out of range or into an `ld_imm64`, code falling off the end, unreachable code) and
/// non-portable compares of a map helper's result. Works on any object whose programs record
/// source lines: assembled ones, and objects read back with their line info (the line's text
/// is then what `.BTF.ext` carries). Linear in the number of instructions.
pub fn warnings(obj: &Object) -> Vec<AsmError> {
    use crate::program::{FlowIssue, WarningKind};
    let mut out = Vec::new();
    for prog in &obj.programs {
        extern_map_warnings(obj, prog, &mut out);
        map_helper_warnings(obj, prog, &mut out);
        let found = prog.warnings();
        if found.is_empty() {
            continue;
        }
        let mut lines = SourceLines::new(&prog.files);
        for w in found {
            let at = w.kind.insn();
            let kind = match &w.kind {
                WarningKind::HelperResult(_) => K::HelperResultWidth,
                WarningKind::Flow(FlowIssue::FallsOffEnd { .. }) => K::FallsOffEnd,
                WarningKind::Flow(FlowIssue::Unreachable { .. }) => K::Unreachable,
                WarningKind::Flow(_) => K::JumpRange,
            };
            let message = match &w.kind {
                WarningKind::HelperResult(_) => w.message(),
                WarningKind::Flow(_) => format!("in program `{}`: {}", prog.name, w.message()),
            };
            let Some(loc) = prog.locs.get(at).copied().flatten() else {
                let mut e = AsmError::in_line(
                    &format!("program `{}`, instruction {at}", prog.name),
                    "",
                    1,
                    0,
                    0,
                    0,
                    kind,
                    message,
                )
                .warning();
                if let Some(n) = w.note() {
                    e = e.note(n);
                }
                out.push(e.help(w.help()));
                continue;
            };
            let path = file_path(prog, loc);
            let text = lines.get(loc.file, loc.line);
            let (start, end) = match &w.kind {
                WarningKind::HelperResult(_) => r0_operand(text, loc.column),
                WarningKind::Flow(
                    FlowIssue::JumpOutOfRange { .. } | FlowIssue::JumpIntoLdImm64 { .. },
                ) => last_operand(text, loc.column),
                WarningKind::Flow(_) => statement(text, loc.column),
            };
            let mut e =
                AsmError::in_line(path, text, loc.line, 0, start, end, kind, message).warning();
            if let Some(n) = w.note() {
                e = e.note(n);
            }
            if let WarningKind::HelperResult(h) = &w.kind {
                let call = prog.locs.get(h.call).copied().flatten();
                match call {
                    Some(c) if c.file == loc.file => {
                        e = e.note(format!(
                            "r0 holds the result of the call on line {}",
                            c.line
                        ));
                    }
                    _ => {
                        if let Some(c) = &w.call_location {
                            e = e.note(format!("r0 holds the result of the call at {c}"));
                        }
                    }
                }
            }
            out.push(e.help(w.help()));
        }
    }
    out
}

/// A warning for each `rN = NAME ll` of `prog` whose `NAME` is not a map of `obj`: it is
/// written as llvm-mc writes it, an `R_BPF_64_64` relocation against an undefined symbol (an
/// extern map, which a loader must supply), with the nearest declared map as a hint.
fn extern_map_warnings(obj: &Object, prog: &Program, out: &mut Vec<AsmError>) {
    let mut lines = None;
    for r in &prog.relocs {
        if r.kind != RelocKind::Map || obj.maps.iter().any(|m| m.name == r.symbol) {
            continue;
        }
        let Some(loc) = prog.locs.get(r.insn).copied().flatten() else {
            continue;
        };
        let lines = lines.get_or_insert_with(|| SourceLines::new(&prog.files));
        let path = file_path(prog, loc);
        let text = lines.get(loc.file, loc.line);
        let from = column_offset(text, loc.column);
        let (start, end) = match text.get(from..).and_then(|t| t.find(r.symbol.as_str())) {
            Some(k) => (from + k, from + k + r.symbol.len()),
            None => statement(text, loc.column),
        };
        let name = &r.symbol;
        let message = format!(
            "`{name}` is not a map of this file: written as an undefined symbol (an extern map \
             the loader must supply), as llvm-mc writes it"
        );
        let e = AsmError::in_line(path, text, loc.line, 0, start, end, K::UnknownMap, message)
            .warning();
        let help = match suggest(name, obj.maps.iter().map(|m| m.name.as_str())) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "to define it here: `.map {name}, type=queue, value_size=4, max_entries=16`"
            ),
        };
        out.push(e.help(help));
    }
}

/// A warning for each map helper that `prog` calls on a map of a type it does not take
/// ([`crate::program::lint::map_helper_mismatches`], the check the DSL makes when it builds):
/// the map's real type, what the verifier says, and what to use instead.
fn map_helper_warnings(obj: &Object, prog: &Program, out: &mut Vec<AsmError>) {
    let found = crate::program::lint::map_helper_mismatches(&prog.insns, &prog.relocs, |n| {
        obj.maps
            .iter()
            .find(|m| m.name == n)
            .map(|m| m.def.map_type)
    });
    if found.is_empty() {
        return;
    }
    let mut lines = SourceLines::new(&prog.files);
    for m in found {
        let Some(loc) = prog.locs.get(m.call).copied().flatten() else {
            continue;
        };
        let path = file_path(prog, loc);
        let text = lines.get(loc.file, loc.line);
        let (start, end) = last_operand(text, loc.column);
        let mut e = AsmError::in_line(path, text, loc.line, 0, start, end, K::BadMap, m.message())
            .warning()
            .note(m.verifier_says());
        if let Some(l) = prog.locs.get(m.load).copied().flatten() {
            if l.file == loc.file {
                e = e.note(format!(
                    "r1 holds map `{}`, loaded on line {}",
                    m.map, l.line
                ));
            }
        }
        out.push(e.help(m.help()));
    }
}

/// The path of the file `loc` is in.
fn file_path(prog: &Program, loc: SourceLoc) -> &str {
    prog.files
        .get(loc.file.0 as usize)
        .map_or("", |f| f.path.as_str())
}

/// The byte offset of character `column` (1-based) of `line`, or its end.
fn column_offset(line: &str, column: u32) -> usize {
    line.char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(line.len(), |(i, _)| i)
}

/// The statement at character `column` of `line`: up to a comment or a `;` separator.
fn statement(line: &str, column: u32) -> (usize, usize) {
    let from = column_offset(line, column);
    let rest = &line[from..];
    let end = [
        rest.find('#'),
        rest.find("//"),
        rest.find(';'),
        rest.find("/*"),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(rest.len());
    (from, from + rest[..end].trim_end().len())
}

/// The last operand of the statement at `column` (a jump's target: `+3`, `label`).
fn last_operand(line: &str, column: u32) -> (usize, usize) {
    let (from, end) = statement(line, column);
    let start = line[from..end]
        .rfind([' ', '\t', ','])
        .map_or(from, |k| from + k + 1);
    (start, end)
}

/// The byte range of the `r0` (or `%r0`) operand in `line` at or after character `column`
/// (1-based): the compared register, the first one every dialect writes. The instruction's
/// start when there is none (a line of another language, from line info).
fn r0_operand(line: &str, column: u32) -> (usize, usize) {
    let from = column_offset(line, column);
    let b = line.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = from;
    while let Some(k) = line[i..].find("r0") {
        let (s, e) = (i + k, i + k + 2);
        if (s == 0 || !word(b[s - 1])) && (e == b.len() || !word(b[e])) {
            let s = if s > 0 && b[s - 1] == b'%' { s - 1 } else { s };
            return (s, e);
        }
        i = s + 1;
    }
    (from, from)
}

fn assemble_text(
    path: &str,
    text: Arc<str>,
    opts: &AsmOptions,
) -> Result<(Object, Vec<AsmNote>), AsmErrors> {
    if text.len() >= u32::MAX as usize {
        let e = AsmError::in_line(
            path,
            "",
            1,
            0,
            0,
            0,
            K::Program,
            "the input is 4 GiB or larger, which the assembler does not take",
        );
        return Err(AsmErrors(vec![e]));
    }
    let src: &str = &text;
    let mut a = Asm::new(path, src, text.clone(), opts);
    a.run();
    a.finish()
}

// ---------------------------------------------------------------------------------------------

/// A label of a program.
struct LabelDef {
    /// The instruction it is bound to.
    at: u32,
    /// That instruction's slot.
    slot: u32,
    line: u32,
    /// The program's own name at instruction 0.
    entry: bool,
    /// Called or loaded as a function.
    function: bool,
}

/// The last instruction emitted: its kind (for the fall-through checks) and where it is.
#[derive(Clone, Copy)]
struct Last {
    insn: Insn,
    span: Span,
    line: u32,
}

/// An instruction whose symbol is resolved at the end (kept small: there can be one for
/// every instruction).
#[derive(Clone, Copy)]
struct Fix {
    insn: u32,
    /// The instruction's slot.
    slot: u32,
    line: u32,
    kind: FixKind,
    /// Where the name or the offset is.
    span: Span,
    /// A name's label, when it was already defined where the instruction is (a label is
    /// defined once, so this is the one the end would find; looking it up while its entry is
    /// fresh costs less than a lookup at the end), else [`NO_LABEL`]. An offset's value.
    arg: u32,
}

const NO_LABEL: u32 = u32::MAX;

/// What a [`Fix`] resolves: a [`Sym`] without its name (the text at the span).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FixKind {
    Label,
    Offset,
    Call,
    Load,
}

impl Fix {
    /// The fixup of `sym` (none for [`Sym::None`]) on instruction `insn` at `slot`, whose
    /// branch offset is `off`.
    fn new(
        insn: u32,
        slot: u32,
        line: u32,
        sym: Sym<'_>,
        off: i32,
        labels: &Labels<'_>,
    ) -> Option<Fix> {
        let (kind, span) = match sym {
            Sym::None => return None,
            Sym::Label(_, s) => (FixKind::Label, s),
            Sym::Offset(s) => (FixKind::Offset, s),
            Sym::Call(_, s) => (FixKind::Call, s),
            Sym::Load(_, s) => (FixKind::Load, s),
        };
        let arg = match sym.name() {
            Some(n) => labels.find(n).unwrap_or(NO_LABEL),
            None => off as u32,
        };
        Some(Fix {
            insn,
            slot,
            line,
            kind,
            span,
            arg,
        })
    }

    /// The label found when the instruction was read.
    fn label(&self) -> Option<u32> {
        (self.arg != NO_LABEL).then_some(self.arg)
    }
}

/// The labels of a program: by name, in the order they were defined.
#[derive(Default)]
struct Labels<'a> {
    index: HashMap<&'a str, u32>,
    defs: Vec<(&'a str, LabelDef)>,
}

impl<'a> Labels<'a> {
    fn find(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    fn contains_key(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    fn def_mut(&mut self, k: u32) -> &mut LabelDef {
        &mut self.defs[k as usize].1
    }

    /// Define `name`, replacing its definition if it has one.
    fn insert(&mut self, name: &'a str, def: LabelDef) {
        match self.index.entry(name) {
            std::collections::hash_map::Entry::Occupied(e) => {
                self.defs[*e.get() as usize].1 = def;
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.defs.len() as u32);
                self.defs.push((name, def));
            }
        }
    }

    /// Define `name` unless it is defined: then its definition.
    fn define(&mut self, name: &'a str, def: LabelDef) -> Result<(), &LabelDef> {
        match self.index.entry(name) {
            std::collections::hash_map::Entry::Occupied(e) => Err(&self.defs[*e.get() as usize].1),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(self.defs.len() as u32);
                self.defs.push((name, def));
                Ok(())
            }
        }
    }

    fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.defs.iter().map(|(n, _)| *n)
    }
}

struct Prog<'a> {
    name: String,
    /// The global label that started it (`None`: the default program).
    name_span: Option<(Span, u32)>,
    b: ProgramBuilder,
    labels: Labels<'a>,
    fixups: Vec<Fix>,
    /// Where its instructions start (a jump by offset must not land on the second half of an
    /// `ld_imm64`); its length is the instruction count.
    slot_map: SlotMap,
    /// The first `exit` and its slot.
    first_exit: Option<(u32, u32)>,
    last: Option<Last>,
    /// Whether an objdump header at address 0 may still name it.
    nameable: bool,
    /// The section it was started in (as the directive named it).
    section_name: String,
    /// Its first instruction (where a note about its name points).
    first: Option<(Span, u32)>,
}

struct SectionState {
    name: String,
    exec: bool,
    /// Chosen by a directive (not the default).
    explicit: bool,
}

struct Asm<'a> {
    path: &'a str,
    src: &'a str,
    text: Arc<str>,
    opts: &'a AsmOptions,
    errors: Vec<AsmError>,
    license: Option<(String, Span, u32)>,
    maps: Vec<MapDecl<'a>>,
    /// The line each map in `maps` is declared on, by name: a duplicate is found without a
    /// scan (100,000 `.map` lines stay linear).
    map_lines: HashMap<&'a str, u32>,
    /// Maps whose `.map` line has an error: references to them are not reported again.
    bad_maps: Vec<&'a str>,
    globals: HashMap<&'a str, Span>,
    section: SectionState,
    progs: Vec<Prog<'a>>,
    cur: Option<usize>,
    line: u32,
    line_start: usize,
    toks: Vec<Tok>,
    /// How many instructions programs may still reserve room for up front (see
    /// [`Asm::start_program`]); `None` until the first program starts.
    reserve_budget: Option<usize>,
    /// The constants of `.equ` / `.set` / `.equiv`: value and the line that set it.
    consts: HashMap<&'a str, (i64, u32)>,
    /// Constants whose expression names a constant not yet defined (`.equ N, M + 1` before
    /// `.equ M, 3`, which llvm-mc takes): the expression and its line, evaluated when used,
    /// with the values the constants it names had at its line (as llvm-mc folds them).
    pending: HashMap<&'a str, Pending<'a>>,
}

/// A constant whose expression names a constant not defined yet.
struct Pending<'a> {
    toks: Vec<Tok>,
    line: u32,
    /// The constants the expression names that had a value at its line, with that value.
    known: Vec<(&'a str, i64)>,
}

struct MapDecl<'a> {
    name: &'a str,
    def: MapDef,
    pinning: Pinning,
    span: Span,
    line: u32,
}

const DATA_SECTIONS: &[&str] = &[".maps", "maps", "license", ".BTF", ".BTF.ext"];
const DATA_PREFIXES: &[&str] = &[".data", ".rodata", ".bss"];
const IGNORED_DIRECTIVES: &[&str] = &[
    ".type",
    ".size",
    ".p2align",
    ".align",
    ".balign",
    ".file",
    ".loc",
    ".ident",
    ".addrsig",
    ".addrsig_sym",
    ".hidden",
];
const DATA_DIRECTIVES: &[&str] = &[
    ".byte", ".short", ".half", ".word", ".long", ".int", ".quad", ".zero", ".space", ".fill",
    ".ascii", ".asciz", ".string", ".skip",
];
const KNOWN_DIRECTIVES: &[&str] = &[
    ".text",
    ".equ",
    ".set",
    ".equiv",
    ".section",
    ".globl",
    ".global",
    ".license",
    ".map",
    ".type",
    ".size",
    ".p2align",
    ".align",
    ".balign",
    ".file",
    ".loc",
    ".ident",
    ".addrsig",
    ".addrsig_sym",
    ".hidden",
];

/// The span of a directive's arguments, or of the directive when it has none.
fn args_span(d: Tok, args: &[Tok]) -> Span {
    match (args.first(), args.last()) {
        (Some(a), Some(b)) => (a.start, b.end),
        _ => (d.start, d.end),
    }
}

use crate::object::valid_name as valid_symbol;

impl<'a> Asm<'a> {
    fn new(path: &'a str, src: &'a str, text: Arc<str>, opts: &'a AsmOptions) -> Asm<'a> {
        Asm {
            path,
            src,
            text,
            opts,
            errors: Vec::new(),
            license: None,
            maps: Vec::new(),
            map_lines: HashMap::default(),
            bad_maps: Vec::new(),
            globals: HashMap::default(),
            section: SectionState {
                name: opts.default_section.name().to_owned(),
                exec: true,
                explicit: false,
            },
            progs: Vec::new(),
            cur: None,
            line: 1,
            line_start: 0,
            toks: Vec::with_capacity(32),
            reserve_budget: None,
            consts: HashMap::default(),
            pending: HashMap::default(),
        }
    }

    // ---- errors ----

    /// An error on the current line.
    fn err(&mut self, span: Span, kind: K, msg: impl Into<String>) -> &mut AsmError {
        let e = AsmError::in_line(
            self.path,
            self.src,
            self.line,
            self.line_start,
            span.0 as usize,
            span.1 as usize,
            kind,
            msg,
        );
        self.errors.push(e);
        self.errors.last_mut().expect("just pushed")
    }

    /// An error on an earlier line.
    fn err_on(&mut self, line: u32, span: Span, kind: K, msg: impl Into<String>) -> &mut AsmError {
        let start = (span.0 as usize).min(self.src.len());
        let line_start = self
            .src
            .get(..start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |i| i + 1);
        let e = AsmError::in_line(
            self.path,
            self.src,
            line,
            line_start,
            start,
            span.1 as usize,
            kind,
            msg,
        );
        self.errors.push(e);
        self.errors.last_mut().expect("just pushed")
    }

    fn text(&self, span: Span) -> &'a str {
        let src: &'a str = self.src;
        src.get(span.0 as usize..span.1 as usize).unwrap_or("")
    }

    fn tok_text(&self, t: Tok) -> &'a str {
        self.text((t.start, t.end))
    }

    // ---- the line loop ----

    fn run(&mut self) {
        let bytes = self.src.as_bytes();
        let mut lx = Lexer::new(bytes);
        let mut pos = 0usize;
        let mut toks = std::mem::take(&mut self.toks);
        loop {
            self.line_start = pos;
            let end = self.one_line(&mut lx, pos, &mut toks);
            if end >= bytes.len() {
                break;
            }
            pos = end + 1;
            self.line += 1;
        }
        if let Some(open) = lx.open_comment {
            let line = self.src[..open].bytes().filter(|&b| b == b'\n').count() as u32 + 1;
            self.err_on(
                line,
                (open as u32, open as u32 + 2),
                K::Syntax,
                "this `/*` comment never ends",
            )
            .notes
            .push("help: close it with `*/`".to_owned());
        }
    }

    /// Assemble the line that starts at `pos`; gives where it ends (its `\n`, or the end of
    /// the input).
    fn one_line(&mut self, lx: &mut Lexer<'a>, pos: usize, toks: &mut Vec<Tok>) -> usize {
        let bytes = self.src.as_bytes();
        let mut from = pos;
        let mut kernel_op = None;
        // The line's end, when something before the lexer needs it.
        let mut line_end = None;
        if lx.open_comment.is_none() {
            let mut i = pos;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\r') {
                i += 1;
            }
            match bytes.get(i) {
                Some(b';') => return lx.line_end(i),
                Some(b'0'..=b'9' | b'a'..=b'f') => {
                    let end = lx.line_end(i);
                    line_end = Some(end);
                    match self.prefix(i, end) {
                        Prefix::None => {}
                        Prefix::Handled => return end,
                        Prefix::Slot { after, op } => {
                            from = after;
                            kernel_op = op;
                        }
                    }
                }
                Some(b'D') if self.src[i..].starts_with("Disassembly of section ") => {
                    let end = lx.line_end(i);
                    let name = self.src[i + 23..end].trim_end().trim_end_matches(':');
                    self.set_section(name, true);
                    return end;
                }
                _ => {}
            }
        }
        let end = match line_end {
            Some(end) => {
                lx.lex(from, end, toks);
                end
            }
            None => lx.lex_line(from, toks),
        };
        self.lex_done(toks, kernel_op);
        end
    }

    /// The rest of [`Asm::one_line`], once the line is lexed.
    fn lex_done(&mut self, toks: &mut Vec<Tok>, kernel_op: Option<u8>) {
        if toks.is_empty() || self.is_file_format_line(toks) {
            return;
        }
        if kernel_op.is_some() {
            // A verifier-log line: the register state follows `;`.
            if let Some(k) = toks.iter().position(|t| t.kind == T::Semi) {
                toks.truncate(k);
            }
            self.statement(toks, kernel_op);
            return;
        }
        let mut start = 0;
        for k in 0..=toks.len() {
            if k == toks.len() || toks[k].kind == T::Semi {
                if k > start {
                    self.statement(&toks[start..k], None);
                }
                start = k + 1;
            }
        }
    }

    /// Objdump and verifier-log line shapes that start with a hex digit.
    fn prefix(&mut self, i: usize, end: usize) -> Prefix {
        let b = self.src.as_bytes();
        let hex_run = b[i..end]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        let after = i + hex_run;
        // `0000000000000018 <label>:`: an objdump symbol header.
        if hex_run == 16 && b.get(after) == Some(&b' ') && b.get(after + 1) == Some(&b'<') {
            let rest = &self.src[after + 2..end];
            if let Some(close) = rest.find(">:") {
                if rest[close + 2..].trim().is_empty() {
                    let name_start = (after + 2) as u32;
                    let span = (name_start, name_start + close as u32);
                    let name = self.text(span);
                    if !valid_symbol(name) {
                        // objdump's stand-in for a section without symbols: `<.text>`.
                        return Prefix::Handled;
                    }
                    let addr = u64::from_str_radix(&self.src[i..after], 16).ok();
                    self.define_label(name, span, addr);
                    return Prefix::Handled;
                }
            }
        }
        // `\t\t0000000000000000:  R_BPF_64_64\tqueue`: an objdump relocation.
        if hex_run == 16 && b.get(after) == Some(&b':') {
            let line = &self.src[..end];
            let mut k = after + 1;
            while k < end && matches!(b[k], b' ' | b'\t') {
                k += 1;
            }
            if line[k..].starts_with("R_BPF_") {
                let kind_end = k + line[k..].find([' ', '\t']).unwrap_or(end - k);
                let mut s0 = kind_end;
                while s0 < end && matches!(b[s0], b' ' | b'\t') {
                    s0 += 1;
                }
                let s1 = s0 + line[s0..].find([' ', '\t', '\r']).unwrap_or(end - s0);
                let kind = &line[k..kind_end];
                let sym = &line[s0..s1];
                let off = u64::from_str_radix(&self.src[i..after], 16).unwrap_or(u64::MAX);
                self.reloc_line(
                    kind,
                    off,
                    sym,
                    (s0 as u32, s1 as u32),
                    (i as u32, after as u32),
                );
                return Prefix::Handled;
            }
        }
        // `12:\t...` (objdump) or `12: (bf) ...` (verifier log): a slot number.
        let digits = b[i..end].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0
            && b.get(i + digits) == Some(&b':')
            && matches!(b.get(i + digits + 1), Some(b' ' | b'\t'))
        {
            let mut k = i + digits + 1;
            while k < end && matches!(b[k], b' ' | b'\t') {
                k += 1;
            }
            // The kernel's opcode column: `(bf) `.
            if k + 4 < end
                && b[k] == b'('
                && b[k + 1].is_ascii_hexdigit()
                && b[k + 2].is_ascii_hexdigit()
                && b[k + 3] == b')'
                && b[k + 4] == b' '
            {
                let op = u8::from_str_radix(&self.src[k + 1..k + 3], 16).ok();
                return Prefix::Slot { after: k + 5, op };
            }
            // objdump's raw bytes: `b7 00 00 00 2a 00 00 00\t`.
            let mut r = k;
            while r + 2 < end
                && b[r].is_ascii_hexdigit()
                && b[r + 1].is_ascii_hexdigit()
                && matches!(b[r + 2], b' ' | b'\t')
            {
                r += 3;
                if b[r - 1] == b'\t' {
                    k = r;
                    break;
                }
            }
            return Prefix::Slot { after: k, op: None };
        }
        Prefix::None
    }

    /// objdump's `file.o:\tfile format elf64-bpf`.
    fn is_file_format_line(&self, toks: &[Tok]) -> bool {
        let Some(c) = toks.iter().position(|t| t.kind == T::Colon) else {
            return false;
        };
        matches!(toks.get(c + 1..c + 3), Some([a, b]) if self.tok_text(*a) == "file" && self.tok_text(*b) == "format")
    }

    fn reloc_line(&mut self, kind: &str, off: u64, sym: &'a str, span: Span, off_span: Span) {
        let Some(pi) = self.cur else {
            self.err(span, K::Syntax, "a relocation line outside any program");
            return;
        };
        let p = &self.progs[pi];
        let Some(last) = p.last else {
            self.err(span, K::Syntax, "a relocation line before any instruction");
            return;
        };
        let slot = (p.slot_map.slot_count() - last.insn.slots()) as u64;
        if off != slot * 8 {
            self.err(
                off_span,
                K::Syntax,
                format!(
                    "this relocation is at offset {off:#x}, but the instruction above it is at {:#x}",
                    slot * 8
                ),
            );
            return;
        }
        let sym = match (kind, last.insn) {
            ("R_BPF_64_64", Insn::LdImm64 { .. }) => Sym::Load(sym, span),
            ("R_BPF_64_32", Insn::Call(_)) => Sym::Call(sym, span),
            _ => {
                self.err(
                    span,
                    K::Syntax,
                    format!("a {kind} relocation does not apply to the instruction above it"),
                )
                .notes
                .push("note: R_BPF_64_64 goes with `rN = 0 ll`, R_BPF_64_32 with `call`".into());
                return;
            }
        };
        let line = self.line;
        let p = &mut self.progs[pi];
        let insn = p.slot_map.len() as u32 - 1;
        // Fixups are in instruction order, at most one per instruction: this instruction's is
        // the last, if any.
        if p.fixups.last().is_some_and(|f| f.insn == insn) {
            p.fixups.pop();
        }
        if let Some(f) = Fix::new(insn, slot as u32, line, sym, 0, &p.labels) {
            p.fixups.push(f);
        }
    }

    // ---- statements ----

    fn statement(&mut self, toks: &[Tok], kernel_op: Option<u8>) {
        let mut i = 0;
        while i + 1 < toks.len()
            && toks[i].kind == T::Ident
            && toks[i + 1].kind == T::Colon
            && kernel_op.is_none()
        {
            let span = (toks[i].start, toks[i].end);
            let name = self.text(span);
            self.define_label(name, span, None);
            i += 2;
        }
        let rest = &toks[i..];
        let Some(&first) = rest.first() else { return };
        if first.kind == T::Ident && self.tok_text(first).starts_with('.') && kernel_op.is_none() {
            self.directive(rest);
            return;
        }
        self.instruction(rest, kernel_op);
    }

    fn instruction(&mut self, toks: &[Tok], kernel_op: Option<u8>) {
        let first = toks[0];
        let end = toks[toks.len() - 1].end;
        let span = (first.start, end);
        let Some(pi) = self.program_for_code(span) else {
            return;
        };
        let lookup = |n: &str| self.constant(n, 0);
        let parsed = parse_insn_with(
            self.src,
            toks,
            kernel_op,
            self.opts.signed_decimal_imm32,
            &lookup,
        );
        let line = self.line;
        let column = first.start - self.line_start as u32 + 1;
        let (insn, sym, ok) = match parsed {
            Ok(p) => (p.insn, p.sym, true),
            Err(e) => {
                let err = self.err(e.span, e.kind, e.msg);
                if let Some(h) = e.help {
                    err.notes.push(format!("help: {h}"));
                }
                // A stand-in keeps the slot numbering of what follows.
                (Insn::Exit, Sym::None, false)
            }
        };
        let p = &mut self.progs[pi];
        p.b.set_location(Some(SourceLoc {
            file: FileId(0),
            line,
            column,
        }));
        p.b.emit(insn);
        let slot = p.slot_map.slot_count() as u32;
        let at = p.slot_map.len() as u32;
        let off = insn.branch_offset().unwrap_or(0);
        if let Some(f) = Fix::new(at, slot, line, sym, off, &p.labels) {
            p.fixups.push(f);
        }
        if ok && insn == Insn::Exit && p.first_exit.is_none() {
            p.first_exit = Some((at, slot));
        }
        p.last = Some(Last { insn, span, line });
        if at == 0 {
            p.first = Some((span, line));
        }
        p.slot_map.push(insn.slots());
        p.nameable = false;
    }

    /// The program the next instruction or label goes to, starting the default program when
    /// there is none yet.
    fn program_for_code(&mut self, span: Span) -> Option<usize> {
        if let Some(c) = self.cur {
            return Some(c);
        }
        if !self.section.exec {
            let name = self.section.name.clone();
            self.err(
                span,
                K::Program,
                format!("code in data section `{name}`"),
            )
            .notes
            .push("help: start a code section with `.section NAME` (e.g. `socket`, `xdp`) or `.text`".into());
            return None;
        }
        let section = if self.section.explicit {
            Section::new(self.section.name.clone())
        } else {
            self.opts.default_section.clone()
        };
        let name = self.opts.default_name.clone();
        Some(self.start_program(name, None, section))
    }

    fn start_program(
        &mut self,
        name: String,
        name_span: Option<(Span, u32)>,
        section: Section,
    ) -> usize {
        let mut b = ProgramBuilder::new(name.clone(), section.clone());
        b.add_file(self.path, Some(self.text.clone()));
        // Room for the instructions the rest of the file may hold (a line of 8 bytes or more
        // each), so that a large program does not copy its instructions as they grow: room
        // never used costs address space, not memory. All programs together reserve room for
        // at most one instruction per 4 bytes of the file.
        let budget = *self.reserve_budget.get_or_insert(self.src.len() / 4);
        let n = ((self.src.len() - self.line_start.min(self.src.len())) / 8).min(budget);
        if n > 0 {
            b.reserve_insns(n);
            self.reserve_budget = Some(budget - n);
        }
        let nameable = name_span.is_none();
        self.progs.push(Prog {
            name,
            name_span,
            b,
            labels: Labels::default(),
            fixups: Vec::new(),
            slot_map: SlotMap::default(),
            first_exit: None,
            last: None,
            nameable,
            section_name: self.section.name.clone(),
            first: None,
        });
        self.cur = Some(self.progs.len() - 1);
        self.progs.len() - 1
    }

    fn define_label(&mut self, name: &'a str, span: Span, header: Option<u64>) {
        if looks_like_register(name) {
            self.err(
                span,
                K::Syntax,
                format!("`{name}` is a register and cannot be a label"),
            );
            return;
        }
        let line = self.line;
        let defined = self.consts.get(name).map(|c| c.1);
        if let Some(at) = defined.or_else(|| self.pending.get(name).map(|p| p.line)) {
            self.defined_twice(span, name, format!("`{name}` is a constant (line {at})"));
            return;
        }
        if self.globals.contains_key(name) && self.section.exec {
            let section = if self.section.explicit {
                Section::new(self.section.name.clone())
            } else {
                self.opts.default_section.clone()
            };
            let pi = self.start_program(name.to_owned(), Some((span, line)), section);
            self.progs[pi].labels.insert(
                name,
                LabelDef {
                    at: 0,
                    slot: 0,
                    line,
                    entry: true,
                    function: false,
                },
            );
            return;
        }
        if header == Some(0) {
            // An objdump header at address 0 names the program it starts.
            let named = match self.cur {
                Some(c) if self.progs[c].nameable => Some(c),
                None if self.section.exec => {
                    let section = if self.section.explicit {
                        Section::new(self.section.name.clone())
                    } else {
                        self.opts.default_section.clone()
                    };
                    Some(self.start_program(name.to_owned(), None, section))
                }
                _ => None,
            };
            if let Some(c) = named {
                let p = &mut self.progs[c];
                p.name = name.to_owned();
                p.nameable = false;
                p.labels.insert(
                    name,
                    LabelDef {
                        at: 0,
                        slot: 0,
                        line,
                        entry: true,
                        function: false,
                    },
                );
                return;
            }
        }
        if !self.section.exec {
            let sec = self.section.name.clone();
            self.err(
                span,
                K::Program,
                format!("label `{name}` in data section `{sec}`"),
            )
            .notes
            .push(
                "help: declare maps with `.map NAME, type=..., value_size=..., max_entries=...`"
                    .into(),
            );
            return;
        }
        let Some(pi) = self.program_for_code(span) else {
            return;
        };
        let p = &mut self.progs[pi];
        let at = p.slot_map.len() as u32;
        let def = LabelDef {
            at,
            slot: p.slot_map.slot_count() as u32,
            line,
            entry: false,
            function: false,
        };
        if let Err(first) = p.labels.define(name, def) {
            let first_line = first.line;
            let first_entry = first.entry;
            let e = self.err(
                span,
                K::DuplicateLabel,
                format!("label `{name}` is defined twice"),
            );
            e.notes.push(if first_entry {
                format!("note: `{name}` is the program's name (line {first_line})")
            } else {
                format!("note: first defined on line {first_line}")
            });
        }
    }

    /// Switch sections. Code that follows continues the last program of that section, as
    /// assemblers continue a section where it was left.
    fn set_section(&mut self, name: &str, exec: bool) {
        if self.section.name != name || !self.section.explicit {
            self.cur = self.progs.iter().rposition(|p| p.section_name == name);
        }
        self.section = SectionState {
            name: name.to_owned(),
            exec,
            explicit: true,
        };
    }

    // ---- directives ----

    fn directive(&mut self, toks: &[Tok]) {
        let d = toks[0];
        let name = self.tok_text(d);
        let args = &toks[1..];
        match name {
            ".text" => {
                if let Some(t) = args.first() {
                    self.err(
                        (t.start, t.end),
                        K::BadDirective,
                        "`.text` takes no arguments",
                    );
                    return;
                }
                self.set_section(".text", true);
            }
            ".section" => self.section_directive(d, args),
            ".globl" | ".global" => {
                let mut expect_name = true;
                for t in args {
                    match (expect_name, t.kind) {
                        (true, T::Ident) => {
                            let s = self.tok_text(*t);
                            self.globals.insert(s, (t.start, t.end));
                            expect_name = false;
                        }
                        (false, T::Comma) => expect_name = true,
                        _ => {
                            self.err(
                                (t.start, t.end),
                                K::BadDirective,
                                format!("expected a symbol name in `{name}`"),
                            );
                            return;
                        }
                    }
                }
                if expect_name {
                    let at = args.last().map_or(d.end, |t| t.end);
                    self.err(
                        (d.start, at),
                        K::BadDirective,
                        format!("`{name}` needs a symbol name"),
                    );
                }
            }
            ".license" => self.license_directive(d, args),
            ".equ" | ".set" | ".equiv" => self.equ_directive(d, args),
            ".map" => self.map_directive(d, args),
            n if IGNORED_DIRECTIVES.contains(&n) || n.starts_with(".cfi_") => {}
            n if DATA_DIRECTIVES.contains(&n) => {
                self.err(
                    (d.start, d.end),
                    K::BadDirective,
                    format!("data directive `{n}` is not supported"),
                )
                .notes
                .push(
                    "help: declare maps with `.map` and the license with `.license \"GPL\"`".into(),
                );
            }
            n => {
                let e = self.err(
                    (d.start, d.end),
                    K::BadDirective,
                    format!("unknown directive `{n}`"),
                );
                match suggest(n, KNOWN_DIRECTIVES.iter().copied()) {
                    Some(s) => e.notes.push(format!("help: did you mean `{s}`?")),
                    None => e.notes.push(
                        "help: the directives are .section, .text, .globl, .equ, .set, .license and .map"
                            .into(),
                    ),
                }
            }
        }
    }

    fn section_directive(&mut self, d: Tok, args: &[Tok]) {
        let comma = args
            .iter()
            .position(|t| t.kind == T::Comma)
            .unwrap_or(args.len());
        let name_toks = &args[..comma];
        let (Some(first), Some(last)) = (name_toks.first(), name_toks.last()) else {
            self.err(
                (d.start, d.end),
                K::BadDirective,
                "`.section` needs a section name",
            );
            return;
        };
        let span = (first.start, last.end);
        let raw = self.text(span);
        let name = if first.kind == T::Str && name_toks.len() == 1 {
            &raw[1..raw.len() - 1]
        } else {
            raw
        };
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '"') {
            self.err(
                span,
                K::BadDirective,
                format!("`{raw}` is not a section name"),
            );
            return;
        }
        let flags = args.get(comma + 1).copied();
        let exec = match flags {
            Some(t) if t.kind == T::Str => self.tok_text(t).contains('x'),
            Some(t) => {
                self.err(
                    (t.start, t.end),
                    K::BadDirective,
                    "expected the section flags as a string, like \"ax\"",
                );
                return;
            }
            None => {
                !(DATA_SECTIONS.contains(&name)
                    || DATA_PREFIXES
                        .iter()
                        .any(|p| name == *p || name.starts_with(&format!("{p}."))))
            }
        };
        self.set_section(name, exec);
    }

    /// `.equ NAME, EXPR` / `.set NAME, EXPR`: a constant, usable from the next line on in
    /// immediates, helper numbers and jump offsets; setting it again changes it from there on,
    /// as llvm-mc does. `.equiv` refuses a name that is already a constant.
    fn equ_directive(&mut self, d: Tok, args: &[Tok]) {
        let dname = self.tok_text(d);
        let line = self.line;
        let (name_tok, expr) = match args {
            [n, c, rest @ ..] if n.kind == T::Ident && c.kind == T::Comma && !rest.is_empty() => {
                (*n, rest)
            }
            _ => {
                self.err(
                    args_span(d, args),
                    K::BadDirective,
                    format!("`{dname}` takes a name and a value: `{dname} NAME, VALUE`"),
                );
                return;
            }
        };
        let name = self.tok_text(name_tok);
        let span = (name_tok.start, name_tok.end);
        if !valid_symbol(name) || looks_like_register(name) {
            self.err(
                span,
                K::BadDirective,
                format!("`{name}` cannot be a constant's name"),
            )
            .notes
            .push("help: use letters, digits, `_` and `.`, not starting with a digit, and not a register name".into());
            return;
        }
        let clash = if let Some(&l) = self.map_lines.get(name) {
            Some(format!("map `{name}` is declared on line {l}"))
        } else {
            self.progs
                .iter()
                .find_map(|p| p.labels.find(name).map(|k| (p, k)))
                .map(|(p, k)| {
                    let l = &p.labels.defs[k as usize].1;
                    format!("`{name}` is a label (line {})", l.line)
                })
        };
        if let Some(c) = clash {
            self.defined_twice(span, name, c);
            return;
        }
        if dname == ".equiv" {
            let first = self.consts.get(name).map(|c| c.1);
            if let Some(first) = first.or_else(|| self.pending.get(name).map(|p| p.line)) {
                self.err(
                    span,
                    K::DuplicateLabel,
                    format!("constant `{name}` is defined twice"),
                )
                .notes
                .push(format!(
                    "note: first defined on line {first}; `.equiv` does not redefine (`.set` does)"
                ));
                return;
            }
        }
        let lookup = |n: &str| self.constant(n, 0);
        match parse_const_expr(self.src, expr, &lookup) {
            Ok(v) => {
                self.consts.insert(name, (v, line));
                self.pending.remove(name);
            }
            // A name defined further down: evaluated when the constant is used.
            Err(e) if e.kind == K::UndefinedLabel => {
                let known = expr
                    .iter()
                    .filter(|t| t.kind == T::Ident)
                    .filter_map(|t| {
                        let n = self.tok_text(*t);
                        self.constant(n, 0).map(|v| (n, v))
                    })
                    .collect();
                self.consts.remove(name);
                let toks = expr.to_vec();
                self.pending.insert(name, Pending { toks, line, known });
            }
            Err(e) => {
                let err = self.err(e.span, e.kind, e.msg);
                if let Some(h) = e.help {
                    err.notes.push(format!("help: {h}"));
                }
            }
        }
    }

    /// A constant whose expression comes back to itself through others (`.equ N, M + 1`,
    /// `.equ M, N`) is an error at its line, as llvm-mc reports it ("cyclic dependency").
    fn cyclic_constants(&mut self) {
        let mut names: Vec<(&'a str, u32)> =
            self.pending.iter().map(|(n, p)| (*n, p.line)).collect();
        names.sort_by_key(|&(_, line)| line);
        let mut reported: Vec<&str> = Vec::new();
        for (name, line) in names {
            // Names reachable from `name` through pending expressions.
            let mut stack = vec![name];
            let mut seen: Vec<&str> = Vec::new();
            let mut cyclic = false;
            while let Some(n) = stack.pop() {
                let Some(p) = self.pending.get(n) else {
                    continue;
                };
                for t in p.toks.iter().filter(|t| t.kind == T::Ident) {
                    let m = self.tok_text(*t);
                    if m == name {
                        cyclic = true;
                    } else if !seen.contains(&m) {
                        seen.push(m);
                        stack.push(m);
                    }
                }
            }
            if cyclic && !seen.iter().any(|s| reported.contains(s)) {
                reported.push(name);
                let span = self.pending[name]
                    .toks
                    .first()
                    .map_or((0, 0), |t| (t.start, t.end));
                self.err_on(
                    line,
                    span,
                    K::UndefinedLabel,
                    format!("constant `{name}` is defined through itself (a cyclic dependency)"),
                );
            }
        }
    }

    /// The value of constant `name`: as last set, or its pending expression evaluated with
    /// the constants defined so far (`depth` stops a cycle).
    fn constant(&self, name: &str, depth: u32) -> Option<i64> {
        if let Some(c) = self.consts.get(name) {
            return Some(c.0);
        }
        if depth > 32 || self.pending.is_empty() {
            return None;
        }
        let p = self.pending.get(name)?;
        let lookup = |n: &str| match p.known.iter().find(|k| k.0 == n) {
            Some(k) => Some(k.1),
            None => self.constant(n, depth + 1),
        };
        parse_const_expr(self.src, &p.toks, &lookup).ok()
    }

    /// `name` (at `span`) is already a constant, label or map: `note` says which.
    fn defined_twice(&mut self, span: Span, name: &str, note: String) {
        self.err(
            span,
            K::DuplicateLabel,
            format!("`{name}` is defined twice"),
        )
        .notes
        .push(format!("note: {note}"));
    }

    fn license_directive(&mut self, d: Tok, args: &[Tok]) {
        let line = self.line;
        let [t] = args else {
            self.err(
                args_span(d, args),
                K::BadDirective,
                "`.license` takes one string, like `.license \"GPL\"`",
            );
            return;
        };
        if t.kind != T::Str {
            self.err(
                (t.start, t.end),
                K::BadDirective,
                "expected the license as a string, like \"GPL\"",
            );
            return;
        }
        let raw = self.tok_text(*t);
        let mut s = String::new();
        let mut chars = raw[1..raw.len() - 1].chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('\\' | '"')) => s.push(e),
                    _ => {
                        self.err(
                            (t.start, t.end),
                            K::BadDirective,
                            "only `\\\\` and `\\\"` escapes are allowed in the license",
                        );
                        return;
                    }
                },
                '\0' => {
                    self.err(
                        (t.start, t.end),
                        K::BadDirective,
                        "the license cannot contain a NUL",
                    );
                    return;
                }
                c => s.push(c),
            }
        }
        if let Some((_, _, first)) = &self.license {
            let first = *first;
            self.err((d.start, t.end), K::BadDirective, "a second `.license`")
                .notes
                .push(format!("note: the license is set on line {first}"));
            return;
        }
        self.license = Some((s, (t.start, t.end), line));
    }

    fn map_directive(&mut self, d: Tok, args: &[Tok]) {
        let line = self.line;
        let Some(&name_tok) = args.first() else {
            self.err(
                (d.start, d.end),
                K::BadMap,
                "`.map` needs a name: `.map NAME, type=queue, value_size=4, max_entries=10`",
            );
            return;
        };
        if name_tok.kind != T::Ident {
            self.err(
                (name_tok.start, name_tok.end),
                K::BadMap,
                "expected the map's name",
            );
            return;
        }
        let name = self.tok_text(name_tok);
        let name_span = (name_tok.start, name_tok.end);
        if !valid_symbol(name) || looks_like_register(name) {
            self.err(name_span, K::BadMap, format!("`{name}` is not a valid map name"))
                .notes
                .push("help: use letters, digits, `_` and `.`, not starting with a digit, and not a register name".into());
            return;
        }
        if let Some(&first) = self.map_lines.get(name) {
            self.err(
                name_span,
                K::BadMap,
                format!("map `{name}` is declared twice"),
            )
            .notes
            .push(format!("note: first declared on line {first}"));
            return;
        }
        self.bad_maps.push(name);
        // key=value pairs, separated by commas.
        let mut vals: [Option<(u32, Span)>; 4] = [None; 4]; // key_size, value_size, max_entries, flags
        let mut ty: Option<(MapType, Span)> = None;
        let mut pinning: Option<Pinning> = None;
        let mut i = 1;
        let dir_span = (d.start, args.last().map_or(d.end, |t| t.end));
        loop {
            if i >= args.len() {
                break;
            }
            if args[i].kind != T::Comma {
                self.err(
                    (args[i].start, args[i].end),
                    K::BadMap,
                    "expected `,` before the next `key=value`",
                );
                return;
            }
            i += 1;
            let Some(&key) = args.get(i) else {
                self.err(
                    (args[i - 1].start, args[i - 1].end),
                    K::BadMap,
                    "expected `key=value` after `,`",
                );
                return;
            };
            if key.kind != T::Ident || args.get(i + 1).map(|t| t.kind) != Some(T::Assign) {
                self.err(
                    (key.start, key.end),
                    K::BadMap,
                    "expected `key=value` (type, key_size, value_size, max_entries, flags, pinning)",
                );
                return;
            }
            let vstart = i + 2;
            let mut vend = vstart;
            while vend < args.len() && args[vend].kind != T::Comma {
                vend += 1;
            }
            let value = &args[vstart..vend];
            let kv_span = (key.start, value.last().map_or(args[i + 1].end, |t| t.end));
            i = vend;
            let key_name = self.tok_text(key);
            if value.is_empty() {
                self.err(kv_span, K::BadMap, format!("`{key_name}=` needs a value"));
                return;
            }
            if key_name == "pinning" {
                if pinning.is_some() {
                    self.err(kv_span, K::BadMap, "`pinning` is given twice");
                    return;
                }
                let vspan = (value[0].start, value[value.len() - 1].end);
                match Pinning::from_name(self.text(vspan)) {
                    Some(p) => pinning = Some(p),
                    None => {
                        self.err(
                            vspan,
                            K::BadMap,
                            format!("unknown pinning `{}`", self.text(vspan)),
                        )
                        .notes
                        .push(
                            "help: `pinning=by_name` (LIBBPF_PIN_BY_NAME) or `pinning=none`".into(),
                        );
                        return;
                    }
                }
                continue;
            }
            let slot = match key_name {
                "type" => None,
                "key_size" => Some(0),
                "value_size" => Some(1),
                "max_entries" => Some(2),
                "flags" | "map_flags" => Some(3),
                other => {
                    let e = self.err(
                        (key.start, key.end),
                        K::BadMap,
                        format!("unknown map key `{other}`"),
                    );
                    e.notes.push(match suggest(other, ["type", "key_size", "value_size", "max_entries", "flags", "pinning"]) {
                        Some(s) => format!("help: did you mean `{s}`?"),
                        None => "help: the keys are type, key_size, value_size, max_entries, flags and pinning".into(),
                    });
                    return;
                }
            };
            let dup = match slot {
                None => ty.is_some(),
                Some(k) => vals[k].is_some(),
            };
            if dup {
                self.err(kv_span, K::BadMap, format!("`{key_name}` is given twice"));
                return;
            }
            match slot {
                None => {
                    let vt = value[0];
                    let tname = self.text((vt.start, value[value.len() - 1].end));
                    match MapType::from_name(tname).filter(|_| value.len() == 1) {
                        Some(t) => ty = Some((t, kv_span)),
                        None => {
                            let e = self.err(
                                (vt.start, value[value.len() - 1].end),
                                K::BadMap,
                                format!("unknown map type `{tname}`"),
                            );
                            let lower = tname.to_ascii_lowercase();
                            e.notes.push(match suggest(&lower, MapType::ALL.iter().map(|t| t.name())) {
                                Some(s) => format!("help: did you mean `{s}`?"),
                                None => "help: use the kernel's name without BPF_MAP_TYPE_: queue, stack, hash, array, ...".into(),
                            });
                            return;
                        }
                    }
                }
                Some(3) => match self.flags_value(value) {
                    Some(f) => vals[3] = Some((f, kv_span)),
                    None => return,
                },
                Some(k) => {
                    let vt = value[0];
                    let parsed = if value.len() == 1 && vt.kind == T::Num {
                        parse_u32(self.tok_text(vt))
                    } else {
                        None
                    };
                    match parsed {
                        Some(v) => vals[k] = Some((v, kv_span)),
                        None => {
                            let vspan = (vt.start, value[value.len() - 1].end);
                            self.err(
                                vspan,
                                K::BadMap,
                                format!("`{key_name}` takes a number from 0 to 4294967295"),
                            );
                            return;
                        }
                    }
                }
            }
        }
        let Some((map_type, type_span)) = ty else {
            self.err(dir_span, K::BadMap, format!("map `{name}` needs a type"))
                .notes
                .push("help: add `type=queue` (or stack, hash, array, ...)".into());
            return;
        };
        let v = |k: usize| vals[k].map_or(0, |(v, _)| v);
        let mut def = MapDef::new(map_type, v(0), v(1), v(2)).with_flags(v(3));
        def.value_type = TypeDesc::of_size(def.value_size);
        if let Err(rule) = def.check() {
            let key = match rule {
                MapDefError::QueueStackKey { .. }
                | MapDefError::ZeroKeySize { .. }
                | MapDefError::ArrayKey { .. } => Some(0),
                MapDefError::ZeroValueSize { .. } => Some(1),
                MapDefError::ZeroMaxEntries { .. } => Some(2),
                MapDefError::BtfArrayTooLarge { field, .. } => match field {
                    "key_size" => Some(0),
                    "value_size" => Some(1),
                    "max_entries" => Some(2),
                    _ => Some(3),
                },
                MapDefError::QueueStackNoPrealloc { .. }
                | MapDefError::UnsupportedFlags { .. }
                | MapDefError::ProgAccessFlags
                | MapDefError::UserAccessFlags => Some(3),
                _ => None,
            };
            let (span, missing) = match key.map(|k| vals[k]) {
                Some(Some((_, s))) => (s, None),
                Some(None) => (name_span, key),
                None => (type_span, None),
            };
            let e = self.err(span, K::BadMap, format!("map `{name}`: {rule}"));
            if let Some(k) = missing {
                let key = ["key_size", "value_size", "max_entries", "flags"][k];
                e.notes
                    .push(format!("help: `{key}` was not given and defaults to 0"));
            }
            return;
        }
        if !self.bad_maps.is_empty() {
            self.bad_maps.retain(|m| *m != name);
        }
        self.map_lines.insert(name, line);
        self.maps.push(MapDecl {
            name,
            def,
            pinning: pinning.unwrap_or_default(),
            span: name_span,
            line,
        });
    }

    fn flags_value(&mut self, value: &[Tok]) -> Option<u32> {
        let mut f = 0u32;
        let mut want_term = true;
        for &t in value {
            match (want_term, t.kind) {
                (true, T::Num) => match parse_u32(self.tok_text(t)) {
                    Some(v) => f |= v,
                    None => {
                        self.err((t.start, t.end), K::BadMap, "flags are 32 bits");
                        return None;
                    }
                },
                (true, T::Ident) => {
                    let n = self.tok_text(t);
                    match flag_by_name(n) {
                        Some(v) => f |= v,
                        None => {
                            let e = self.err(
                                (t.start, t.end),
                                K::BadMap,
                                format!("unknown map flag `{n}`"),
                            );
                            let upper = n.to_ascii_uppercase();
                            let bare = upper.strip_prefix("BPF_F_").unwrap_or(&upper);
                            e.notes.push(
                                match suggest(bare, FLAG_NAMES.iter().map(|(n, _)| &n[6..])) {
                                    Some(s) => format!("help: did you mean `BPF_F_{s}`?"),
                                    None => {
                                        "help: flags are numbers or BPF_F_* names joined by `|`"
                                            .into()
                                    }
                                },
                            );
                            return None;
                        }
                    }
                }
                (false, T::Pipe) => {}
                _ => {
                    self.err(
                        (t.start, t.end),
                        K::BadMap,
                        "flags are numbers or BPF_F_* names joined by `|`",
                    );
                    return None;
                }
            }
            want_term = !want_term;
        }
        if want_term {
            let t = value[value.len() - 1];
            self.err((t.start, t.end), K::BadMap, "expected a flag after `|`");
            return None;
        }
        Some(f)
    }

    // ---- the end ----

    fn finish(mut self) -> Result<(Object, Vec<AsmNote>), AsmErrors> {
        self.cyclic_constants();
        let mut progs = std::mem::take(&mut self.progs);
        let map_names: HashMap<&str, ()> = self.maps.iter().map(|m| (m.name, ())).collect();
        let cross = self.cross_section_functions(&mut progs, &map_names);
        let notes = self.notes(&progs);
        let mut done = Vec::with_capacity(progs.len());
        // Labels of every program, to say where a label lives when a jump cannot reach it.
        let elsewhere: Vec<(String, Vec<&'a str>)> = progs
            .iter()
            .map(|p| (p.name.clone(), p.labels.keys().collect()))
            .collect();
        for p in progs {
            if let Some((prog, at)) = self.finish_program(p, &map_names, &cross, &elsewhere) {
                done.extend(split_text_functions(prog).into_iter().map(|q| (q, at)));
            }
        }
        if done.is_empty() && self.errors.is_empty() {
            let end = self.src.len() as u32;
            self.err_on(
                self.line,
                (end, end),
                K::Program,
                "no instructions: there is nothing to assemble",
            );
        }
        let license = self
            .license
            .as_ref()
            .map_or(self.opts.default_license.clone(), |l| l.0.clone());
        let mut obj = Object::new(&license);
        for m in std::mem::take(&mut self.maps) {
            // Names were checked unique as the `.map` lines were read.
            match obj.map_named_uniquely(m.name, m.def) {
                Ok(_) => {
                    if let Some(added) = obj.maps.last_mut() {
                        added.pinning = m.pinning;
                    }
                }
                Err(e) => {
                    self.err_on(m.line, m.span, K::BadMap, e.to_string());
                }
            }
        }
        for (prog, at) in done {
            let name = prog.name.clone();
            if let Err(e) = obj.add_program_with_extern_maps(prog) {
                let (span, line) = at;
                let msg = match &e {
                    ObjectError::DuplicateName(n) if *n == name => {
                        format!("program name `{n}` is already used by a map or another program")
                    }
                    ObjectError::DuplicateName(n) => {
                        format!("function name `{n}` is already used by a map or another program")
                    }
                    _ => e.to_string(),
                };
                self.err_on(line, span, K::Program, msg);
            }
        }
        if self.errors.is_empty() {
            Ok((obj, notes))
        } else {
            self.note_constants_defined_later();
            self.errors.sort_by_key(|e| (e.line, e.column));
            Err(AsmErrors(self.errors))
        }
    }

    /// An error that stumbled on a name a later `.equ` defines says so: a constant counts
    /// from its definition on (llvm-mc's own handling of such a use is a relocation against
    /// an absolute symbol, which no loader takes).
    fn note_constants_defined_later(&mut self) {
        if self.consts.is_empty() && self.pending.is_empty() {
            return;
        }
        // Why a pending constant has no value where it is used.
        let mut why = Vec::new();
        for e in &self.errors {
            let name = e
                .message
                .split_once("found `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(n, _)| n);
            if let Some(p) = name.and_then(|n| self.pending.get(n)) {
                let at = p.line;
                let lookup = |n: &str| self.constant(n, 0);
                let reason = match parse_const_expr(self.src, &p.toks, &lookup) {
                    Err(p) => p.msg,
                    Ok(_) => "a constant defined after this line".to_owned(),
                };
                why.push(format!(
                    "note: `{}` is set on line {at} from {reason}, which has no value here",
                    name.unwrap_or("")
                ));
            } else {
                why.push(String::new());
            }
        }
        for (e, w) in self.errors.iter_mut().zip(why) {
            if !w.is_empty() {
                e.notes.push(w);
            }
        }
        for e in &mut self.errors {
            let Some(name) = e
                .message
                .split_once("found `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(n, _)| n)
            else {
                continue;
            };
            if let Some(&(_, at)) = self.consts.get(name).filter(|c| c.1 > e.line) {
                e.notes.push(format!(
                    "note: `{name}` is a constant defined on line {at}, after this line: \
                     define it before its first use"
                ));
            }
        }
    }

    /// Notes about what the file left to the defaults: no `.license` (the object gets
    /// [`AsmOptions::default_license`]), and each program that no global label names (it
    /// gets [`AsmOptions::default_name`]).
    fn notes(&self, progs: &[Prog<'a>]) -> Vec<AsmNote> {
        let mut notes = Vec::new();
        let at = |line: u32, span: Span| {
            let start = (span.0 as usize).min(self.src.len());
            let line_start = self.src[..start].rfind('\n').map_or(0, |i| i + 1);
            (line, self.src[line_start..start].chars().count() as u32 + 1)
        };
        for p in progs {
            if p.name_span.is_some() || p.name != self.opts.default_name {
                continue;
            }
            let Some((span, line)) = p.first else {
                continue;
            };
            let (line, column) = at(line, span);
            let mut help = Vec::new();
            // A label at the first instruction is most likely meant as the name.
            let label = p.labels.defs.iter().find(|(_, l)| l.at == 0 && !l.entry);
            match label {
                Some((l, _)) => help.push(format!(
                    "`{l}` is a local label here; to name the program `{l}`, add `.globl {l}` \
                     before `{l}:`"
                )),
                None => help.push(
                    "to name it: `.globl NAME` and `NAME:` before its first instruction".to_owned(),
                ),
            }
            notes.push(AsmNote {
                path: self.path.to_owned(),
                line,
                column,
                message: format!(
                    "no global label starts this code: it is program `{}` (section `{}`)",
                    p.name, p.section_name
                ),
                help,
            });
        }
        if self.license.is_none() && !progs.is_empty() {
            // At the first character of the file that is not blank (where a `.license` line
            // would go), not under indentation.
            let (line, column) = self
                .src
                .lines()
                .enumerate()
                .find_map(|(k, l)| {
                    let indent = l.chars().take_while(|c| c.is_whitespace()).count();
                    (indent < l.chars().count()).then_some((k as u32 + 1, indent as u32 + 1))
                })
                .unwrap_or((1, 1));
            notes.push(AsmNote {
                path: self.path.to_owned(),
                line,
                column,
                message: format!(
                    "no `.license` directive: the object's license is \"{}\", the default",
                    self.opts.default_license
                ),
                help: vec![
                    "set it with `.license \"GPL\"` (or `\"Dual BSD/GPL\"`, `\"MIT\"`, ...); \
                     GPL-only helpers need a GPL-compatible license"
                        .to_owned(),
                ],
            });
        }
        notes
    }

    /// The functions of `.text` that code of another section calls (`call f`) or takes the
    /// address of (`rN = f ll`), as clang writes a call to a function of `.text`: names that
    /// are no label of the caller's own program (nor, for `call`, a helper; nor, for `ld`, a
    /// map of the file) but a label of a program of `.text`. Such a label becomes a function
    /// of its program; one that starts a program the file did not name (`.text` then `f:`)
    /// names it. The caller gets a relocation against it, as llvm-mc writes it.
    fn cross_section_functions(
        &self,
        progs: &mut [Prog<'a>],
        maps: &HashMap<&str, ()>,
    ) -> HashMap<&'a str, bool> {
        let mut cross: HashMap<&'a str, bool> = HashMap::default();
        let text: HashMap<&'a str, usize> = progs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.section_name == Section::TEXT.name())
            .flat_map(|(i, p)| p.labels.defs.iter().map(move |(n, _)| (*n, i)))
            .collect();
        if text.is_empty() {
            return cross;
        }
        let mut marks: Vec<(&'a str, usize)> = Vec::new();
        for (pi, p) in progs.iter().enumerate() {
            let in_text = p.section_name == Section::TEXT.name();
            for f in &p.fixups {
                // Only names of `call` and `ld_imm64` (a fixup's `arg` is a label for them).
                if !matches!(f.kind, FixKind::Call | FixKind::Load) {
                    continue;
                }
                let name = self.text(f.span);
                let own = f
                    .label()
                    .or_else(|| p.labels.find(name))
                    .and_then(|k| p.labels.defs.get(k as usize))
                    .is_some_and(|(_, l)| (l.at as usize) < p.slot_map.len());
                let other = match f.kind {
                    FixKind::Call => Helper::from_name(name).is_none(),
                    _ => !maps.contains_key(name),
                };
                if own || !other {
                    continue;
                }
                // Within `.text`, only a global function of another program: llvm-mc
                // relocates a call to a global symbol, and calls a local one pc-relative.
                let global = |t: usize| {
                    let q = &progs[t];
                    q.name_span.is_some()
                        && q.labels.find(name).is_some_and(|k| {
                            q.labels.defs.get(k as usize).is_some_and(|(_, l)| l.entry)
                        })
                };
                if let Some(&t) = text
                    .get(name)
                    .filter(|&&t| !in_text || (t != pi && global(t)))
                {
                    marks.push((name, t));
                }
            }
        }
        for (name, t) in marks {
            let q = &mut progs[t];
            let Some(k) = q.labels.find(name) else {
                continue;
            };
            let (at, entry) = {
                let l = q.labels.def_mut(k);
                (l.at, l.entry)
            };
            if at as usize >= q.slot_map.len() {
                continue; // a label after the last instruction is no function
            }
            let global = entry && q.name_span.is_some();
            if at == 0 && !entry && q.name_span.is_none() {
                // `.text` then `f:`: the code is function `f`.
                // The label stays a label at instruction 0: the writer keeps such a function
                // local, as the file wrote it.
                q.name = name.to_owned();
                q.nameable = false;
            }
            if at > 0 {
                q.labels.def_mut(k).function = true;
            }
            cross.insert(name, global);
        }
        cross
    }

    /// Resolve the program's symbols and check its ends; returns the program and where its
    /// name was given (for errors when adding it to the object).
    fn finish_program(
        &mut self,
        mut p: Prog<'a>,
        maps: &HashMap<&str, ()>,
        cross: &HashMap<&'a str, bool>,
        elsewhere: &[(String, Vec<&'a str>)],
    ) -> Option<(Program, (Span, u32))> {
        let name_at = p.name_span.or_else(|| p.last.map(|l| (l.span, l.line)));
        let Some(last) = p.last else {
            let (span, line) = p.name_span.unwrap_or(((0, 0), 1));
            let name = p.name.clone();
            self.err_on(
                line,
                span,
                K::Program,
                format!("program `{name}` has no instructions"),
            );
            return None;
        };
        let errors_before = self.errors.len();
        let from_other_section = p.section_name != Section::TEXT.name();
        let mut prog = match p.b.finish() {
            Ok(prog) => prog,
            Err(e) => {
                // The builder only reports an empty program, which was checked above.
                self.err_on(last.line, last.span, K::Program, e.to_string());
                return None;
            }
        };
        let n = prog.insns.len();
        let total = p.slot_map.slot_count() as i64;
        let mut relocs = Vec::new();
        // (instruction, its slot) of calls by offset.
        let mut numeric_functions: Vec<(usize, u32)> = Vec::new();
        // Jumps (instruction, span, line), checked against the functions at the end.
        let mut jumps: Vec<(u32, Span, u32)> = Vec::new();
        for f in std::mem::take(&mut p.fixups) {
            if matches!(f.kind, FixKind::Label | FixKind::Offset)
                && !matches!(prog.insns[f.insn as usize], Insn::Call(_))
            {
                jumps.push((f.insn, f.span, f.line));
            }
            let i = f.insn as usize;
            let from = f.slot as i64 + 1;
            let span = f.span;
            let name = self.text(span);
            match f.kind {
                FixKind::Label => {
                    let label = f.label().or_else(|| p.labels.find(name));
                    let target = match label {
                        Some(k) => {
                            let l = p.labels.def_mut(k);
                            Some((l.at as usize, l.slot))
                        }
                        None if name == "exit" => p.first_exit.map(|(e, s)| (e as usize, s)),
                        None => None,
                    };
                    let Some((_, target_slot)) = target else {
                        self.undefined_label(&p.name, &p.labels, name, span, f.line, elsewhere);
                        continue;
                    };
                    // A label after the last instruction is the end of the program: the jump
                    // is encoded, and the warnings say it leaves the program.
                    let off = target_slot as i64 - from;
                    if self.patch_branch(&mut prog.insns[i], off, name, span, f.line) {
                        if let (Insn::Call(Callee::Local(_)), Some(k)) = (prog.insns[i], label) {
                            p.labels.def_mut(k).function = true;
                        }
                    }
                }
                FixKind::Offset => {
                    let off = f.arg as i32 as i64;
                    let target = from + off;
                    if !(0..total).contains(&target) {
                        continue; // encoded as written; the warnings say it leaves the program
                    }
                    // The target is an instruction unless it is the second slot of an
                    // `ld_imm64` (encoded all the same, and warned about).
                    let start = p.slot_map.index(target as usize);
                    if let (Some(t), Insn::Call(Callee::Local(_))) = (start, prog.insns[i]) {
                        numeric_functions.push((t, target as u32));
                    }
                }
                FixKind::Call => {
                    let label = f.label().or_else(|| p.labels.find(name));
                    match label.map(|k| p.labels.def_mut(k)) {
                        Some(l) if (l.at as usize) < n => {
                            l.function = true;
                            let off = l.slot as i64 - from;
                            prog.insns[i] = Insn::Call(Callee::Local(0));
                            self.patch_branch(&mut prog.insns[i], off, name, span, f.line);
                        }
                        _ => match Helper::from_name(name) {
                            Some(h) => prog.insns[i] = Insn::Call(Callee::Helper(h.id() as i32)),
                            // A function of `.text`: `call -1` and a relocation against it,
                            // as llvm-mc writes it (the writer chooses the symbol).
                            None if cross.get(name).is_some_and(|&g| g || from_other_section) => {
                                prog.insns[i] = Insn::Call(Callee::Local(-1));
                                relocs.push(Reloc {
                                    insn: i,
                                    symbol: name.to_owned(),
                                    kind: RelocKind::Function,
                                });
                            }
                            None => {
                                let other = elsewhere
                                    .iter()
                                    .find(|(pn, ls)| *pn != p.name && ls.contains(&name))
                                    .map(|(pn, _)| pn.clone());
                                let e = self.err_on(f.line, span, K::UnknownHelper, format!("`{name}` is neither a helper nor a function of program `{}`", p.name));
                                if let Some(o) = other {
                                    e.notes.push(format!("note: `{name}` is in program `{o}`; a bpf-to-bpf call goes to a function of its own program or of `.text`: put the function after the program's `exit`, or in `.text` (`.text`, then `.globl {name}` and `{name}:`), as clang does"));
                                    continue;
                                }
                                let bare = name.strip_prefix("bpf_").unwrap_or(name);
                                let cands = Helper::ALL
                                    .iter()
                                    .map(|h| &h.name()[4..])
                                    .chain(p.labels.keys());
                                if let Some(s) = suggest(bare, cands) {
                                    let s = if Helper::from_name(s).is_some()
                                        && !p.labels.contains_key(s)
                                    {
                                        format!("bpf_{s}")
                                    } else {
                                        s.to_owned()
                                    };
                                    e.notes.push(format!("help: did you mean `{s}`?"));
                                }
                            }
                        },
                    }
                }
                FixKind::Load => {
                    let label = f.label().or_else(|| p.labels.find(name));
                    if let Some(l) = label
                        .map(|k| p.labels.def_mut(k))
                        .filter(|l| (l.at as usize) < n)
                    {
                        l.function = true;
                        let off = l.slot as i64 - from;
                        if let Insn::LdImm64 { dst, .. } = prog.insns[i] {
                            prog.insns[i] = Insn::LdImm64 {
                                dst,
                                pseudo: Pseudo::Func,
                                imm: off,
                            };
                        }
                    } else if !maps.contains_key(name)
                        && cross.get(name).is_some_and(|&g| g || from_other_section)
                    {
                        // The address of a function of `.text`, as llvm-mc writes it.
                        if let Insn::LdImm64 { dst, .. } = prog.insns[i] {
                            prog.insns[i] = Insn::LdImm64 {
                                dst,
                                pseudo: Pseudo::Func,
                                imm: -1,
                            };
                        }
                        relocs.push(Reloc {
                            insn: i,
                            symbol: name.to_owned(),
                            kind: RelocKind::Function,
                        });
                    } else if maps.contains_key(name) || !self.bad_maps.contains(&name) {
                        // A map of the file, or one it does not declare: an extern map,
                        // written as llvm-mc writes it (a relocation against an undefined
                        // symbol) and warned about ([`warnings`]).
                        if let Insn::LdImm64 { dst, .. } = prog.insns[i] {
                            prog.insns[i] = Insn::LdImm64 {
                                dst,
                                pseudo: Pseudo::Imm,
                                imm: 0,
                            };
                        }
                        relocs.push(Reloc {
                            insn: i,
                            symbol: name.to_owned(),
                            kind: RelocKind::Map,
                        });
                    }
                }
            }
        }
        // Falling off the end of the program or of a function is encoded and warned about
        // ([`crate::program::lint::control_flow`]).
        let mut fn_at: Vec<(usize, String)> = Vec::new();
        let mut labels: Vec<(usize, String)> = Vec::new();
        for (name, l) in &p.labels.defs {
            let at = l.at as usize;
            if l.entry || at >= n {
                continue;
            }
            if l.function {
                if at > 0 {
                    fn_at.push((at, (*name).to_owned()));
                }
            } else {
                labels.push((at, (*name).to_owned()));
            }
        }
        for (at, at_slot) in numeric_functions {
            if at == 0 || fn_at.iter().any(|(a, _)| *a == at) {
                continue;
            }
            let name = match labels.iter().position(|(a, _)| *a == at) {
                Some(pos) => labels.remove(pos).1,
                None => format!("{}_fn{}", p.name, at_slot),
            };
            fn_at.push((at, name));
        }
        labels.sort();
        fn_at.sort();
        if !fn_at.is_empty() && prog.section != Section::TEXT {
            // Functions other than the entry go to `.text` in the ELF file, apart from the
            // program. A jump from one function into another would then land elsewhere: such
            // a program is kept in one piece, as written (its calls pc-relative, as llvm-mc
            // writes them; the verifier refuses the jump, and the warnings say so).
            let slots = SlotMap::new(&prog.insns);
            let starts: Vec<usize> = fn_at.iter().map(|(a, _)| *a).collect();
            let func_of = |i: usize| starts.partition_point(|&s| s <= i);
            let crosses = jumps.iter().any(|&(i, _, _)| {
                let i = i as usize;
                let Some(off) = prog.insns[i].branch_offset() else {
                    return false;
                };
                let target = slots.slot(i) as i64 + 1 + off as i64;
                if !(0..total).contains(&target) {
                    return false;
                }
                // The last instruction starting at or before the target slot.
                let t = slots.starts_before(target as usize + 1) - 1;
                func_of(t) != func_of(i)
            });
            if crosses {
                labels.append(&mut fn_at);
                labels.sort();
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let mut functions = vec![Function {
            name: p.name.clone(),
            insn: 0,
        }];
        functions.extend(
            fn_at
                .into_iter()
                .map(|(insn, name)| Function { name, insn }),
        );
        relocs.sort_by_key(|r| r.insn);
        prog.name = p.name.clone();
        prog.labels = labels;
        prog.functions = functions;
        prog.relocs = relocs;
        Some((prog, name_at.unwrap_or(((0, 0), 1))))
    }

    /// Set a branch's offset, or report that it does not fit. Returns whether it was set.
    fn patch_branch(
        &mut self,
        insn: &mut Insn,
        off: i64,
        label: &str,
        span: Span,
        line: u32,
    ) -> bool {
        // The builder's rule and words ([`crate::program::set_offset`]).
        let Err(reach) = crate::slots::set_offset(insn, off) else {
            return true;
        };
        let e = self.err_on(
            line,
            span,
            K::JumpRange,
            format!("the jump to `{label}` {reach}"),
        );
        if let Some(help) = reach.help {
            e.notes.push(format!("help: {help}"));
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn undefined_label(
        &mut self,
        pname: &str,
        labels: &Labels<'a>,
        name: &str,
        span: Span,
        line: u32,
        elsewhere: &[(String, Vec<&'a str>)],
    ) {
        let other = elsewhere
            .iter()
            .find(|(pn, ls)| pn != pname && ls.contains(&name))
            .map(|(pn, _)| pn.clone());
        let cands: Vec<&str> = labels.keys().collect();
        let e = self.err_on(
            line,
            span,
            K::UndefinedLabel,
            format!("undefined label `{name}` in program `{pname}`"),
        );
        if let Some(o) = other {
            e.notes.push(format!(
                "note: `{name}` is a label of program `{o}`; jumps cannot leave their program"
            ));
        } else if let Some(s) = suggest(name, cands) {
            e.notes.push(format!("help: did you mean `{s}`?"));
        }
    }
}

/// A program of `.text` with functions (labels that code of another section calls) is cut
/// into one program per function when no jump, call or function address crosses between
/// them: a loader then appends to a caller only the functions it reaches, as libbpf links
/// function by function (appending the whole, an uncalled function before the callee would
/// be code the verifier cannot reach). Each later piece keeps the local label that names it
/// at its first instruction, which the writer keeps local; written one after the other, the
/// pieces are the same bytes.
fn split_text_functions(prog: Program) -> Vec<Program> {
    if prog.section != Section::TEXT || prog.functions.len() < 2 {
        return vec![prog];
    }
    let slots = SlotMap::new(&prog.insns);
    let starts: Vec<i64> = prog
        .functions
        .iter()
        .map(|f| slots.slot(f.insn) as i64)
        .collect();
    let total = slots.slot_count() as i64;
    let func_of = |slot: i64| starts.partition_point(|&s| s <= slot);
    let crosses = prog.slots().any(|(i, from, insn)| {
        if prog.relocs.iter().any(|r| r.insn == i) {
            return false; // named by a relocation, not by an offset
        }
        let off = match *insn {
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => imm,
            _ => match insn.branch_offset() {
                Some(o) => o as i64,
                None => return false,
            },
        };
        let from = from as i64;
        let target = from + 1 + off;
        !(0..total).contains(&target) || func_of(target) != func_of(from)
    });
    if crosses {
        return vec![prog];
    }
    let mut out = Vec::with_capacity(prog.functions.len());
    for (k, f) in prog.functions.iter().enumerate() {
        let (a, b) = (
            f.insn,
            prog.functions
                .get(k + 1)
                .map_or(prog.insns.len(), |n| n.insn),
        );
        let mut labels: Vec<(usize, String)> = prog
            .labels
            .iter()
            .filter(|(at, _)| (a..b).contains(at))
            .map(|(at, l)| (at - a, l.clone()))
            .collect();
        if k > 0 {
            labels.insert(0, (0, f.name.clone()));
        }
        out.push(Program {
            name: f.name.clone(),
            section: Section::TEXT,
            insns: prog.insns[a..b].to_vec(),
            locs: prog.locs.get(a..b).map_or_else(Vec::new, <[_]>::to_vec),
            files: prog.files.clone(),
            labels,
            functions: vec![Function {
                name: f.name.clone(),
                insn: 0,
            }],
            relocs: prog
                .relocs
                .iter()
                .filter(|r| (a..b).contains(&r.insn))
                .map(|r| Reloc {
                    insn: r.insn - a,
                    ..r.clone()
                })
                .collect(),
        });
    }
    out
}

enum Prefix {
    /// Not a special line.
    None,
    /// A line fully handled (a header or a relocation).
    Handled,
    /// A slot number (and maybe the kernel's opcode): the instruction starts at `after`.
    Slot { after: usize, op: Option<u8> },
}

fn parse_u32(text: &str) -> Option<u32> {
    let t = text.as_bytes();
    if t.len() > 2 && t[0] == b'0' && matches!(t[1], b'x' | b'X') {
        u32::from_str_radix(&text[2..], 16).ok()
    } else {
        text.parse().ok()
    }
}

const FLAG_NAMES: &[(&str, u32)] = &[
    ("BPF_F_NO_PREALLOC", flags::NO_PREALLOC),
    ("BPF_F_NO_COMMON_LRU", flags::NO_COMMON_LRU),
    ("BPF_F_NUMA_NODE", flags::NUMA_NODE),
    ("BPF_F_RDONLY", flags::RDONLY),
    ("BPF_F_WRONLY", flags::WRONLY),
    ("BPF_F_STACK_BUILD_ID", flags::STACK_BUILD_ID),
    ("BPF_F_ZERO_SEED", flags::ZERO_SEED),
    ("BPF_F_RDONLY_PROG", flags::RDONLY_PROG),
    ("BPF_F_WRONLY_PROG", flags::WRONLY_PROG),
    ("BPF_F_CLONE", flags::CLONE),
    ("BPF_F_MMAPABLE", flags::MMAPABLE),
    ("BPF_F_PRESERVE_ELEMS", flags::PRESERVE_ELEMS),
    ("BPF_F_INNER_MAP", flags::INNER_MAP),
];

fn flag_by_name(n: &str) -> Option<u32> {
    FLAG_NAMES.iter().find_map(|&(full, v)| {
        (n.eq_ignore_ascii_case(full) || n.eq_ignore_ascii_case(&full[6..])).then_some(v)
    })
}
