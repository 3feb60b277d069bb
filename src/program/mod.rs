//! The program builder: emit instructions, bind labels, reference maps and call helpers.
//!
//! Every emitting method of [`ProgramBuilder`] is `#[track_caller]`: each instruction remembers
//! the Rust file, line and column that emitted it. Those locations become `.BTF.ext` line info,
//! so the kernel's verifier log prints your Rust line above each instruction.
//!
//! Labels are resolved by [`ProgramBuilder::finish`]; so are the checks that the typed
//! queue/stack operations make. Emitting methods return `&mut Self` for chaining and never
//! fail on their own: every problem is collected and reported, all at once, by `finish`, each
//! naming the Rust location that caused it.
//!
//! ```
//! use bpfsmith::prelude::*;
//!
//! let mut obj = Object::new("GPL");
//! let queue = obj.map("queue", MapDef::queue::<u32>(10)).unwrap();
//! let mut p = ProgramBuilder::new("push_pop", Section::SOCKET);
//! let value = p.reserve::<u32>();                    // a 4-byte slot at r10 - 4
//! p.store(Size::U32, R10, value.off, 1234);          // *(u32 *)(r10 - 4) = 1234
//! p.push(&queue, value, PushFlags::ANY);             // r1 = queue ll; r2 = r10; r2 += -4; r3 = 0; call 87
//! let empty = p.label("empty");
//! p.pop(&queue, value);                              // r1 = queue ll; r2 = r10; r2 += -4; call 88
//! p.jump_if(W0, Cond::Ne, 0, empty);                 // -ENOENT: the map was empty (w0: the
//!                                                    // low 32 bits, the same on every kernel)
//! p.load(Size::U32, R0, R10, value.off);             // r0 = the popped value
//! p.exit();
//! p.bind(empty).mov(R0, 1).exit();
//! let prog = p.finish().unwrap();
//! assert_eq!(prog.insns.len(), 15);
//! assert_eq!(prog.slot_count(), 17);                 // the two ld_imm64 take two slots each
//! obj.add_program(prog).unwrap();
//! ```

mod item;
pub mod lint;
mod section;

pub use item::{Item, Items, Reference};
pub use lint::{FlowIssue, Warning, WarningKind};
pub use section::{ProgType, Section, SectionKind};

pub use crate::slots::{set_offset, with_slots, OutOfReach, SlotCursor, SlotMap, WithSlots};

use std::fmt;
use std::panic::Location as CallerLocation;
use std::sync::Arc;

use crate::diag::Severity;
use crate::helpers::Helper;
use crate::insn::{AluOp, AtomicOp, Callee, Cond, Insn, Operand, Pseudo, Reg, Size, Width};
pub use crate::insn::{HelperId, Src, View};
use crate::maps::{MapDef, MapType, MapValue};

/// Index of a source file in a [`Program`]'s file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// Where an instruction came from: a file of the program's table, a line and a column
/// (both 1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceLoc {
    /// The file.
    pub file: FileId,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A source file an instruction can point to: a Rust file of the DSL or an assembly file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The path as recorded (`src/main.rs`, `asm/queue.s`).
    pub path: String,
    /// The file's text when known (the assembler keeps it; for Rust files it is read when
    /// needed, see [`Program::line_text`]).
    pub text: Option<Arc<str>>,
}

/// An owned source location, for errors and reports: `file:line:column`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file path.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A relocation: an instruction whose immediate a loader fills in from a symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// Index (in [`Program::insns`]) of the instruction to patch.
    pub insn: usize,
    /// The symbol: a map name, or a function name.
    pub symbol: String,
    /// What kind of reference.
    pub kind: RelocKind,
}

/// What a relocation refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocKind {
    /// An `ld_imm64` that loads a map (`R_BPF_64_64` against the map's symbol in `.maps`).
    Map,
    /// A call or `ld_imm64` of a function in another section (`R_BPF_64_32`).
    Function,
}

/// A function inside a program: the entry point or a bpf-to-bpf callee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    /// Its name (the program's name for the entry point).
    pub name: String,
    /// Index in [`Program::insns`] of its first instruction.
    pub insn: usize,
}

/// A finished program: instructions, their source locations, labels, functions and relocations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The program's (entry function's) name.
    pub name: String,
    /// Its ELF section.
    pub section: Section,
    /// The instructions.
    pub insns: Vec<Insn>,
    /// Source location of each instruction (same indexes as `insns`; `None` where unknown).
    pub locs: Vec<Option<SourceLoc>>,
    /// The files `locs` point into.
    pub files: Vec<SourceFile>,
    /// Labels bound in the program: instruction index and name, in index order.
    pub labels: Vec<(usize, String)>,
    /// Functions: the entry point first (at instruction 0), then bpf-to-bpf callees.
    pub functions: Vec<Function>,
    /// Relocations, in instruction order.
    pub relocs: Vec<Reloc>,
}

/// A source location resolved to its file path, for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRef<'a> {
    /// The file path.
    pub file: &'a str,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl fmt::Display for SourceRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl Program {
    /// A program from its parts, with no source locations, labels or relocations.
    pub fn from_insns(name: impl Into<String>, section: Section, insns: Vec<Insn>) -> Program {
        let name = name.into();
        Program {
            locs: vec![None; insns.len()],
            functions: vec![Function {
                name: name.clone(),
                insn: 0,
            }],
            name,
            section,
            insns,
            files: Vec::new(),
            labels: Vec::new(),
            relocs: Vec::new(),
        }
    }

    /// The number of 8-byte slots (instructions, counting `ld_imm64` twice).
    pub fn slot_count(&self) -> usize {
        self.insns.iter().map(Insn::slots).sum()
    }

    /// Each instruction with its index, slot, source location, the name bound there and what
    /// it refers to ([`Item`]): the one walk over a program that needs more than the
    /// instructions.
    pub fn items(&self) -> Items<'_> {
        Items::new(self)
    }

    /// Each instruction with its index and slot ([`with_slots`]).
    pub fn slots(&self) -> WithSlots<'_> {
        with_slots(&self.insns)
    }

    /// The map between instruction indexes and slots ([`SlotMap`]).
    pub fn slot_map(&self) -> SlotMap {
        SlotMap::new(&self.insns)
    }

    /// The slot of each instruction, plus one entry for the end: a table, for code that
    /// indexes it many times; [`Program::slots`] and [`Program::slot_map`] serve without one.
    pub fn slot_offsets(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.slots().map(|(_, s, _)| s).collect();
        v.push(self.slot_count());
        v
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> Vec<u8> {
        crate::insn::encode(&self.insns)
    }

    /// Where instruction `insn` came from, if known.
    pub fn source(&self, insn: usize) -> Option<SourceRef<'_>> {
        let loc = (*self.locs.get(insn)?)?;
        let file = self.files.get(loc.file.0 as usize)?;
        Some(SourceRef {
            file: &file.path,
            line: loc.line,
            column: loc.column,
        })
    }

    /// The warnings about this program (see [`lint`]): control flow the verifier refuses
    /// (a jump out of range or into an `ld_imm64`, code that falls off the end, unreachable
    /// code: [`lint::control_flow`]), and code that loads everywhere but behaves differently
    /// on some kernels. Each has the location of the offending instruction (the Rust line for
    /// the DSL, the assembly line for the assembler), in instruction order. Computed on each
    /// call, in linear time.
    ///
    /// ```
    /// use bpfsmith::prelude::*;
    ///
    /// let mut obj = Object::new("GPL");
    /// let queue = obj.map("queue", MapDef::queue::<u32>(4)).unwrap();
    /// let mut p = ProgramBuilder::new("pop", Section::SOCKET);
    /// let empty = p.label("empty");
    /// p.pop(&queue, StackSlot::at(-4));
    /// p.jump_if(R0, Cond::Slt, 0, empty);   // signed 64-bit: wrong before Linux 6.4 (JIT)
    /// p.mov(R0, 0).exit();
    /// p.bind(empty).mov(R0, 1).exit();
    /// let prog = p.finish().unwrap();
    /// let warnings = prog.warnings();
    /// assert_eq!(warnings.len(), 1);
    /// let loc = warnings[0].location.as_ref().unwrap();
    /// assert!(loc.file.ends_with(".rs") && loc.line > 0 && loc.column > 0);
    /// assert!(warnings[0].help().ends_with("`if w0 s< 0 goto ...`"));
    /// ```
    pub fn warnings(&self) -> Vec<Warning> {
        let location = |insn: usize| {
            self.source(insn).map(|s| Location {
                file: s.file.to_owned(),
                line: s.line,
                column: s.column,
            })
        };
        let mut out: Vec<Warning> = lint::control_flow(self)
            .into_iter()
            .map(|f| Warning {
                program: self.name.clone(),
                location: location(f.insn()),
                call_location: None,
                kind: WarningKind::Flow(f),
            })
            .collect();
        out.extend(
            lint::helper_result_compares(&self.insns)
                .into_iter()
                .map(|kind| Warning {
                    program: self.name.clone(),
                    location: location(kind.jump),
                    call_location: location(kind.call),
                    kind: WarningKind::HelperResult(kind),
                }),
        );
        out.sort_by_key(|w| w.kind.insn());
        out
    }

    /// The text of line `line` (1-based) of file `file`, from the kept text or, failing that,
    /// read from disk (a regular file: never a device or standard input). `None` when neither
    /// is available.
    pub fn line_text(&self, file: FileId, line: u32) -> Option<String> {
        let f = self.files.get(file.0 as usize)?;
        let from = |text: &str| {
            text.lines()
                .nth(line.checked_sub(1)? as usize)
                .map(str::to_owned)
        };
        match &f.text {
            Some(t) => from(t),
            None => from(&crate::diag::read_source(&f.path)?),
        }
    }
}

/// The lines of one file, looked up mostly in increasing order (as the assembler records
/// them): a cursor walks forward through the text; a lookup behind it splits the whole text
/// into lines once, for the rest. The one line index of the crate: [`SourceLines`] keeps one per
/// file, and the BTF encoder one per source text.
pub(crate) struct FileLines<'p> {
    text: std::borrow::Cow<'p, str>,
    /// The cursor: a 1-based line number, where it starts and, once found, where it ends.
    line: u32,
    pos: usize,
    end: Option<usize>,
    /// Where each line starts, once a lookup went backwards.
    starts: Option<Vec<usize>>,
}

impl<'p> FileLines<'p> {
    pub(crate) fn new(text: std::borrow::Cow<'p, str>) -> Self {
        FileLines {
            text,
            line: 1,
            pos: 0,
            end: None,
            starts: None,
        }
    }

    /// Line `line` (1-based) without its line break, `""` when there is no such line; without a trailing `\r`.
    pub(crate) fn get(&mut self, line: u32) -> &str {
        let Some(i) = (line as usize).checked_sub(1) else {
            return "";
        };
        let bytes = self.text.as_bytes();
        let line_end = |start: usize| {
            memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |k| start + k)
        };
        let (start, end) = if let Some(starts) = &self.starts {
            let Some(&start) = starts.get(i) else {
                return "";
            };
            (start, None)
        } else if line >= self.line {
            let (mut l, mut pos, mut end) = (self.line, self.pos, self.end);
            while l < line {
                let e = match end {
                    Some(e) => e,
                    None => line_end(pos),
                };
                if e >= bytes.len() {
                    return "";
                }
                pos = e + 1;
                l += 1;
                end = None;
            }
            (self.line, self.pos, self.end) = (l, pos, end);
            (pos, end)
        } else {
            let mut starts = vec![0];
            starts.extend(memchr::memchr_iter(b'\n', bytes).map(|i| i + 1));
            let start = starts.get(i).copied();
            self.starts = Some(starts);
            match start {
                Some(s) => (s, None),
                None => return "",
            }
        };
        // A text that ends with a line break has no line after it.
        if start >= bytes.len() {
            return "";
        }
        let end = end.unwrap_or_else(|| line_end(start));
        if self.starts.is_none() {
            self.end = Some(end);
        }
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches('\r')
    }
}

/// The source lines of a program's files, each file split into lines once, so that looking up
/// a line is constant time (listings and the BTF encoder ask for one per instruction).
///
/// ```
/// use bpfsmith::program::{FileId, Program, Section, SourceLines};
/// let mut prog = Program::from_insns("p", Section::SOCKET, vec![]);
/// prog.files.push(bpfsmith::program::SourceFile { path: "a.s".into(), text: Some("one\ntwo\r\n".into()) });
/// let mut lines = SourceLines::new(&prog.files);
/// assert_eq!(lines.get(FileId(0), 2), "two");
/// assert_eq!(lines.get(FileId(0), 3), "");
/// ```
pub struct SourceLines<'p> {
    files_of: &'p [SourceFile],
    // Per file, once looked at: its lines (from the kept text, or read from disk).
    files: Vec<Option<Option<FileLines<'p>>>>,
}

impl<'p> SourceLines<'p> {
    /// An empty cache over a program's files ([`Program::files`]).
    pub fn new(files: &'p [SourceFile]) -> Self {
        SourceLines {
            files_of: files,
            files: files.iter().map(|_| None).collect(),
        }
    }

    /// Line `line` (1-based) of `file`, without its line break; `""` when unknown.
    pub fn get(&mut self, file: FileId, line: u32) -> &str {
        let index = file.0 as usize;
        let Some(slot) = self.files.get_mut(index) else {
            return "";
        };
        let files = self.files_of;
        let entry = slot.get_or_insert_with(|| {
            let f = &files[index];
            let text = match &f.text {
                Some(t) => Some(std::borrow::Cow::Borrowed(&**t)),
                None => crate::diag::read_source(&f.path).map(std::borrow::Cow::Owned),
            };
            text.map(FileLines::new)
        });
        match entry {
            Some(lines) => lines.get(line),
            None => "",
        }
    }
}

/// A label: a position in the program that jumps and calls can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// A handle to a map of an [`crate::object::Object`], for `ld_imm64` references and the typed
/// queue/stack operations. It carries what the builder checks against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRef {
    name: Arc<str>,
    def: Arc<MapDef>,
}

impl MapRef {
    /// A handle to a map with this name and definition (the map symbol a relocation names).
    pub fn new(name: &str, def: MapDef) -> MapRef {
        MapRef {
            name: name.into(),
            def: Arc::new(def),
        }
    }

    /// The map's name (its symbol in `.maps`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The map's definition.
    pub fn def(&self) -> &MapDef {
        &self.def
    }
}

/// A buffer in the 512-byte stack frame, addressed as `r10 + off` (`off` < 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackSlot {
    /// Offset from the frame pointer `r10`.
    pub off: i16,
    /// Size in bytes, when known (checked against the map's value size).
    pub size: Option<u32>,
}

impl StackSlot {
    /// The slot at `r10 + off`, its size taken to be whatever the operation needs.
    pub fn at(off: i16) -> StackSlot {
        StackSlot { off, size: None }
    }

    /// A slot at `r10 + off` that holds a `T`.
    pub fn of<T: MapValue>(off: i16) -> StackSlot {
        StackSlot {
            off,
            size: Some(T::type_desc().size()),
        }
    }
}

/// The flags argument of `bpf_map_push_elem` (r3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushFlags(pub u64);

impl PushFlags {
    /// `BPF_ANY` (0): push; `-E2BIG` when the map is full.
    pub const ANY: PushFlags = PushFlags(0);
    /// `BPF_EXIST` (2): push; when the map is full, drop the oldest element to make room.
    pub const EXIST: PushFlags = PushFlags(2);
}

/// The 512-byte stack frame limit of one eBPF function.
pub const MAX_STACK: i32 = 512;

/// A problem found while building a program, with the location that caused it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: in program `{program}`: {kind}")]
pub struct BuildError {
    /// The program being built.
    pub program: String,
    /// The Rust (or assembly) location of the offending call.
    pub location: Location,
    /// What is wrong.
    pub kind: BuildErrorKind,
}

/// What is wrong with a program.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildErrorKind {
    /// A jump or call targets a label that was never bound.
    #[error("label `{label}` is used but never bound")]
    UnboundLabel {
        /// The label.
        label: String,
    },
    /// A label was bound twice.
    #[error("label `{label}` is bound twice (first at {first})")]
    LabelBoundTwice {
        /// The label.
        label: String,
        /// Where it was bound first.
        first: Location,
    },
    /// A label was bound after the last instruction, where nothing can follow.
    #[error(
        "label `{label}` is bound after the last instruction: a jump there would leave the program"
    )]
    LabelPastEnd {
        /// The label.
        label: String,
    },
    /// A jump offset does not fit its field (the assembler says the same, with the same
    /// `help:`, from [`set_offset`]).
    #[error("the jump to `{label}` {reach}")]
    JumpOutOfRange {
        /// The label.
        label: String,
        /// The offset needed, the field's width and what reaches that far.
        reach: OutOfReach,
    },
    /// `bpf_map_push_elem` flags other than `BPF_ANY` and `BPF_EXIST`.
    #[error("bpf_map_push_elem takes flags BPF_ANY (0) or BPF_EXIST (2), not {flags} (queue_stack_map_push_elem returns -EINVAL)")]
    BadPushFlags {
        /// The flags given.
        flags: u64,
    },
    /// A helper used on a map type it does not accept.
    #[error("{helper} works on {allowed}, but `{map}` is a {map_type} map (the verifier's check_map_func_compatibility refuses it: \"cannot pass map_type {type_num} into func {helper}#{helper_id}\")")]
    WrongMapType {
        /// The helper.
        helper: &'static str,
        /// Its number.
        helper_id: u32,
        /// The map.
        map: String,
        /// The map's type.
        map_type: MapType,
        /// The map's type number.
        type_num: u32,
        /// Which types are accepted, in words ([`Helper::map_types_taken`]).
        allowed: &'static str,
    },
    /// The value buffer's size differs from the map's value size.
    #[error("the value buffer at r10{off:+} holds {slot_size} bytes, but map `{map}` has value_size {value_size} (the helper reads or writes exactly value_size bytes)")]
    SlotSize {
        /// The map.
        map: String,
        /// Slot offset.
        off: i16,
        /// Slot size.
        slot_size: u32,
        /// Map value size.
        value_size: u32,
    },
    /// The value buffer is not inside the 512-byte frame.
    #[error("the {size}-byte value buffer at r10{off:+} is outside the stack frame r10-512 .. r10 (the verifier refuses: invalid indirect access to stack)")]
    SlotOutsideFrame {
        /// Slot offset.
        off: i16,
        /// Bytes accessed.
        size: u32,
    },
    /// The value buffer is misaligned for its value.
    #[error("the value buffer at r10{off:+} is not {align}-byte aligned; loads of the value from it would be refused (the verifier's stack accesses are strictly aligned)")]
    SlotMisaligned {
        /// Slot offset.
        off: i16,
        /// Required alignment.
        align: u32,
    },
    /// `reserve` ran out of the 512-byte frame.
    #[error("reserving {size} more bytes exceeds the 512-byte stack frame")]
    FrameFull {
        /// The size asked for.
        size: u32,
    },
    /// A program with no instruction.
    #[error("the program has no instructions")]
    Empty,
    /// An instruction whose fields hold values the encoding does not define (a `movsx` of 7
    /// bits, a 1-byte atomic add, a sign-extending 8-byte load): [`Insn::validate`] refuses
    /// it, and so does the kernel.
    #[error("{insn:?} has no encoding: {reason}")]
    Undefined {
        /// The instruction as emitted.
        insn: Insn,
        /// What the decoder of its bytes refuses.
        reason: crate::insn::DecodeReason,
    },
}

impl BuildErrorKind {
    /// Whether the program can be encoded all the same, and the verifier would refuse it (or
    /// the helper fail at run time): push flags, value buffers, map types, a label after the
    /// last instruction, a full frame, an instruction with no encoding. [`ProgramBuilder::finish_lenient`] turns these into
    /// warnings. Unbound or twice-bound labels, offsets that do not fit and an empty program
    /// cannot be encoded: they stay errors.
    pub fn verifier_catches(&self) -> bool {
        match self {
            BuildErrorKind::BadPushFlags { .. }
            | BuildErrorKind::WrongMapType { .. }
            | BuildErrorKind::SlotSize { .. }
            | BuildErrorKind::SlotOutsideFrame { .. }
            | BuildErrorKind::SlotMisaligned { .. }
            | BuildErrorKind::FrameFull { .. }
            | BuildErrorKind::LabelPastEnd { .. }
            | BuildErrorKind::Undefined { .. } => true,
            BuildErrorKind::UnboundLabel { .. }
            | BuildErrorKind::LabelBoundTwice { .. }
            | BuildErrorKind::JumpOutOfRange { .. }
            | BuildErrorKind::Empty => false,
        }
    }
}

impl BuildError {
    /// The error as rustc shows one ([`crate::diag::render_at`]): `FILE:LINE:COL: error: in
    /// program `NAME`: MESSAGE`, then the Rust line and a caret under the call when the file
    /// can be read.
    pub fn render(&self, severity: Severity) -> String {
        let l = &self.location;
        let message = format!("in program `{}`: {}", self.program, self.kind);
        let notes: Vec<String> = match &self.kind {
            BuildErrorKind::JumpOutOfRange { reach, .. } => {
                reach.help.iter().map(|h| format!("help: {h}")).collect()
            }
            _ => Vec::new(),
        };
        crate::diag::render_at(severity, &l.file, l.line, l.column, &message, &notes)
    }
}

/// A problem of [`BuildErrorKind::verifier_catches`] kind, kept as a warning by
/// [`ProgramBuilder::finish_lenient`]. Displays as `FILE:LINE:COL: warning: in program
/// `NAME`: MESSAGE`, then the Rust line of the call and a caret when the file can be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildWarning(pub BuildError);

impl fmt::Display for BuildWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.render(Severity::Warning))
    }
}

/// What [`ProgramBuilder::finish_lenient`] gives: the program, and the problems the verifier
/// would catch, as warnings (the program's own [`Program::warnings`] come on top).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// The program, encoded as written.
    pub program: Program,
    /// The build-time checks that failed, each with its Rust location.
    pub warnings: Vec<BuildWarning>,
}

/// All the problems found in one program. Displays each as rustc shows an error
/// ([`BuildError::render`]), a blank line between two: the first [`crate::diag::MAX_SHOWN`],
/// then how many more there are, as [`crate::text::AsmErrors`] do.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub struct BuildErrors(pub Vec<BuildError>);

/// One error of a [`BuildErrors`] list, shown as an error.
struct Shown<'a>(&'a BuildError);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.render(Severity::Error))
    }
}

impl fmt::Display for BuildErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<Shown<'_>> = self.0.iter().map(Shown).collect();
        crate::diag::write_capped(f, &shown, |_| Severity::Error)
    }
}

/// Instructions built once, with their labels, source locations, map references and checks,
/// to append to any number of builders ([`ProgramBuilder::append`]).
///
/// A fragment is written with the [`ProgramBuilder`] methods. Its labels belong to each copy:
/// appending the same fragment twice gives two sets of labels, so the jumps of one copy never
/// land in the other (a name that is taken already gets a `.1`, `.2` ... suffix in listings).
/// A label bound after the fragment's last instruction points at whatever the builder emits
/// next. Stack buffers the fragment reserves keep their offsets, and the builder's frame
/// grows to cover them. Every source location is the fragment's line, and every problem (an
/// unbound label, a bad value buffer) is reported by the builder's `finish` at that line.
///
/// ```
/// use bpfsmith::prelude::*;
///
/// // r0 = max(r0, r1), as a fragment with its own label.
/// let max = Fragment::build(|f| {
///     let done = f.label("done");
///     f.jump_if(R0, Cond::Ge, R1, done);
///     f.mov(R0, R1);
///     f.bind(done);
/// });
/// let mut p = ProgramBuilder::new("max3", Section::SOCKET);
/// p.mov(R0, 3).mov(R1, 9);
/// p.append(&max);                          // r0 = 9
/// p.mov(R1, 5);
/// p.append(&max);                          // r0 = 9: the second copy jumps within itself
/// p.exit();
/// let prog = p.finish().unwrap();
/// assert_eq!(prog.insns.len(), 8);
/// assert_eq!(prog.insns[2], Insn::jump(Cond::Ge, R0, R1, 1));
/// assert_eq!(prog.insns[5], Insn::jump(Cond::Ge, R0, R1, 1));
/// let names: Vec<&str> = prog.labels.iter().map(|(_, n)| n.as_str()).collect();
/// assert_eq!(names, ["done", "done.1"]);
/// ```
pub struct Fragment {
    b: ProgramBuilder,
}

impl Fragment {
    /// Build a fragment: `f` emits into it with the [`ProgramBuilder`] methods.
    pub fn build(f: impl FnOnce(&mut ProgramBuilder)) -> Fragment {
        let mut b = ProgramBuilder::new("", Section::SOCKET);
        f(&mut b);
        Fragment { b }
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.b.insns.len()
    }

    /// Whether the fragment has no instruction.
    pub fn is_empty(&self) -> bool {
        self.b.insns.is_empty()
    }

    /// The instructions, with jump offsets not resolved yet (0 for jumps to labels).
    pub fn insns(&self) -> &[Insn] {
        &self.b.insns
    }
}

struct LabelInfo {
    name: String,
    bound: Option<(usize, SourceLoc)>,
    function: bool,
}

#[derive(Clone, Copy)]
struct Fixup {
    insn: usize,
    label: Label,
    loc: SourceLoc,
}

/// Builds one [`Program`]. See the [module documentation](self) for how errors and source
/// locations work.
///
/// A whole program, and the helper ABI it follows: a call takes its arguments in `r1`-`r5`,
/// leaves its result in `r0`, and clobbers `r1`-`r5` (the verifier refuses to read them after
/// the call); `r6`-`r9` survive it, and `r10` is the read-only frame pointer. `r1` holds the
/// context when the program starts, and `r0` is what it returns.
///
/// ```
/// use bpfsmith::insn::Regs;
/// use bpfsmith::prelude::*;
///
/// let mut obj = Object::new("GPL");
/// let queue = obj.map("queue", MapDef::queue::<u32>(8)).unwrap();
///
/// let mut p = ProgramBuilder::new("push_len", Section::SOCKET);
/// // Entry: r1 = the context (a __sk_buff). What must outlive a call goes in r6-r9.
/// p.mov(R6, R1);
/// p.load(Size::U32, R7, R6, 0);             // r7 = skb->len
/// p.store_reg(Size::U32, R10, -4, R7);      // the value to push, on the stack at r10 - 4
/// // bpf_map_push_elem(map, &value, flags): r1, r2, r3.
/// p.ld_map(R1, &queue);                     // r1 = the map (relocated to its fd at load)
/// p.mov(R2, R10).add(R2, -4);               // r2 = r10 - 4, a pointer to the value
/// p.mov(R3, 0);                             // r3 = BPF_ANY
/// p.call(Helper::MapPushElem);              // r0 = 0 or -E2BIG; r1-r5 are gone now
/// let full = p.label("full");
/// p.jump_if(W0, Cond::Ne, 0, full);         // a helper's int result: compare w0
/// p.mov(R0, R7).exit();                     // r7 survived the call: return the length
/// p.bind(full).mov(R0, 0).exit();
/// let prog = p.finish().unwrap();
///
/// // The call's reads and writes, as the verifier (and the VM) see them.
/// let call = prog.insns.iter().find(|i| matches!(i, Insn::Call(_))).unwrap();
/// assert_eq!(call.uses(), Regs::of(&[R1, R2, R3]));
/// assert_eq!(call.defs(), Regs::of(&[R0, R1, R2, R3, R4, R5]));
/// obj.add_program(prog).unwrap();
/// ```
pub struct ProgramBuilder {
    name: String,
    section: Section,
    insns: Vec<Insn>,
    locs: Vec<Option<SourceLoc>>,
    files: Vec<SourceFile>,
    // Fast path for interning the caller's file: the last &'static str seen.
    last_file: Option<(&'static str, FileId)>,
    loc_override: Option<SourceLoc>,
    labels: Vec<LabelInfo>,
    fixups: Vec<Fixup>,
    relocs: Vec<Reloc>,
    errors: Vec<(SourceLoc, BuildErrorKind)>,
    frame_used: u32,
}

impl ProgramBuilder {
    /// A builder for the program `name` in `section`.
    pub fn new(name: impl Into<String>, section: Section) -> ProgramBuilder {
        ProgramBuilder {
            name: name.into(),
            section,
            insns: Vec::new(),
            locs: Vec::new(),
            files: Vec::new(),
            last_file: None,
            loc_override: None,
            labels: Vec::new(),
            fixups: Vec::new(),
            relocs: Vec::new(),
            errors: Vec::new(),
            frame_used: 0,
        }
    }

    /// Reserve room for `n` instructions.
    pub fn reserve_insns(&mut self, n: usize) {
        self.insns.reserve(n);
        self.locs.reserve(n);
    }

    /// The number of instructions emitted so far (the index the next one gets).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether nothing has been emitted yet.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Add a source file to the program's table (for assemblers and generators that record
    /// their own locations with [`ProgramBuilder::set_location`]).
    pub fn add_file(&mut self, path: impl Into<String>, text: Option<Arc<str>>) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile {
            path: path.into(),
            text,
        });
        id
    }

    /// Record `loc` for the instructions emitted from now on, instead of the Rust caller;
    /// `None` goes back to the caller's location.
    pub fn set_location(&mut self, loc: Option<SourceLoc>) -> &mut Self {
        self.loc_override = loc;
        self
    }

    #[inline]
    fn here(&mut self, caller: &'static CallerLocation<'static>) -> SourceLoc {
        if let Some(l) = self.loc_override {
            return l;
        }
        let path = caller.file();
        let file = match self.last_file {
            Some((p, id)) if std::ptr::eq(p, path) => id,
            _ => {
                let id = match self.files.iter().position(|f| f.path == path) {
                    Some(i) => FileId(i as u32),
                    None => self.add_file(path, None),
                };
                self.last_file = Some((path, id));
                id
            }
        };
        SourceLoc {
            file,
            line: caller.line(),
            column: caller.column(),
        }
    }

    fn location(&self, loc: SourceLoc) -> Location {
        Location {
            file: self
                .files
                .get(loc.file.0 as usize)
                .map(|f| f.path.clone())
                .unwrap_or_default(),
            line: loc.line,
            column: loc.column,
        }
    }

    #[inline]
    fn push_insn(&mut self, insn: Insn, loc: SourceLoc) -> usize {
        self.insns.push(insn);
        self.locs.push(Some(loc));
        self.insns.len() - 1
    }

    /// Emit any instruction as is. Jump offsets in it are taken literally.
    #[track_caller]
    #[inline]
    pub fn emit(&mut self, insn: Insn) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.push_insn(insn, loc);
        self
    }

    /// Append a [`Fragment`]: its instructions, its labels (fresh ones for this copy), its
    /// source locations, map references and pending problems.
    pub fn append(&mut self, frag: &Fragment) -> &mut Self {
        let b = &frag.b;
        let base = self.insns.len();
        let label_base = self.labels.len() as u32;
        let files: Vec<FileId> = b
            .files
            .iter()
            .map(|f| match self.files.iter().position(|g| g == f) {
                Some(i) => FileId(i as u32),
                None => self.add_file(f.path.clone(), f.text.clone()),
            })
            .collect();
        let at = |l: SourceLoc| SourceLoc {
            file: files.get(l.file.0 as usize).copied().unwrap_or(l.file),
            ..l
        };
        self.insns.extend_from_slice(&b.insns);
        self.locs.extend(b.locs.iter().map(|l| l.map(at)));
        let mut taken: std::collections::HashSet<String> =
            self.labels.iter().map(|l| l.name.clone()).collect();
        for l in &b.labels {
            let mut name = l.name.clone();
            let mut k = 1;
            while taken.contains(&name) {
                name = format!("{}.{k}", l.name);
                k += 1;
            }
            taken.insert(name.clone());
            self.labels.push(LabelInfo {
                name,
                bound: l.bound.map(|(i, loc)| (base + i, at(loc))),
                function: l.function,
            });
        }
        self.fixups.extend(b.fixups.iter().map(|f| Fixup {
            insn: base + f.insn,
            label: Label(label_base + f.label.0),
            loc: at(f.loc),
        }));
        self.relocs.extend(b.relocs.iter().map(|r| Reloc {
            insn: base + r.insn,
            ..r.clone()
        }));
        self.errors
            .extend(b.errors.iter().map(|(l, k)| (at(*l), k.clone())));
        self.frame_used = self.frame_used.max(b.frame_used);
        self
    }

    /// A new anonymous label (named `L<n>` in listings).
    #[track_caller]
    pub fn new_label(&mut self) -> Label {
        let name = format!("L{}", self.labels.len());
        self.label(name)
    }

    /// A new label with a name, for listings and error messages.
    #[track_caller]
    pub fn label(&mut self, name: impl Into<String>) -> Label {
        self.labels.push(LabelInfo {
            name: name.into(),
            bound: None,
            function: false,
        });
        Label(self.labels.len() as u32 - 1)
    }

    /// A new label that starts a bpf-to-bpf function (see [`ProgramBuilder::call_fn`]).
    #[track_caller]
    pub fn function(&mut self, name: impl Into<String>) -> Label {
        let l = self.label(name);
        self.labels[l.0 as usize].function = true;
        l
    }

    /// Bind `label` to the next instruction emitted.
    #[track_caller]
    pub fn bind(&mut self, label: Label) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        let at = self.insns.len();
        let first = self.labels.get(label.0 as usize).and_then(|l| l.bound);
        match first {
            Some((_, first)) => {
                let kind = BuildErrorKind::LabelBoundTwice {
                    label: self.labels[label.0 as usize].name.clone(),
                    first: self.location(first),
                };
                self.errors.push((loc, kind));
            }
            None => {
                if let Some(l) = self.labels.get_mut(label.0 as usize) {
                    l.bound = Some((at, loc));
                }
            }
        }
        self
    }

    fn jump_to(&mut self, insn: Insn, label: Label, loc: SourceLoc) -> &mut Self {
        let at = self.push_insn(insn, loc);
        self.fixups.push(Fixup {
            insn: at,
            label,
            loc,
        });
        self
    }

    // ---- ALU ----

    /// `dst op= src` at the width of `dst` (`rN` 64-bit, `wN` 32-bit).
    #[track_caller]
    #[inline]
    pub fn alu<V: View>(&mut self, op: AluOp, dst: V, src: impl Into<Src<V>>) -> &mut Self {
        // `emit` is #[track_caller] too: the location recorded is still our caller's.
        self.emit(Insn::alu(op, dst, src))
    }

    /// `dst = src`.
    #[track_caller]
    #[inline]
    pub fn mov<V: View>(&mut self, dst: V, src: impl Into<Src<V>>) -> &mut Self {
        self.emit(Insn::mov(dst, src))
    }

    /// `dst += src`.
    #[track_caller]
    #[inline]
    pub fn add<V: View>(&mut self, dst: V, src: impl Into<Src<V>>) -> &mut Self {
        self.emit(Insn::add(dst, src))
    }

    /// `dst -= src`.
    #[track_caller]
    #[inline]
    pub fn sub<V: View>(&mut self, dst: V, src: impl Into<Src<V>>) -> &mut Self {
        self.emit(Insn::sub(dst, src))
    }

    /// `dst = -dst`.
    #[track_caller]
    pub fn neg<V: View>(&mut self, dst: V) -> &mut Self {
        self.emit(Insn::neg(dst))
    }

    /// `dst = imm ll`: a 64-bit constant (two slots).
    #[track_caller]
    pub fn ld_imm64(&mut self, dst: Reg, imm: i64) -> &mut Self {
        self.emit(Insn::ld_imm64(dst, imm))
    }

    /// `dst = map ll`: load a map reference (an `ld_imm64` with a relocation to the map's
    /// symbol; the loader patches in the map's fd).
    #[track_caller]
    pub fn ld_map(&mut self, dst: Reg, map: &MapRef) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.emit_ld_map(dst, map, loc);
        self
    }

    fn emit_ld_map(&mut self, dst: Reg, map: &MapRef, loc: SourceLoc) {
        let at = self.push_insn(
            Insn::LdImm64 {
                dst,
                pseudo: Pseudo::Imm,
                imm: 0,
            },
            loc,
        );
        self.relocs.push(Reloc {
            insn: at,
            symbol: map.name().to_owned(),
            kind: RelocKind::Map,
        });
    }

    // ---- memory ----

    /// `dst = *(size *)(base + off)`.
    #[track_caller]
    pub fn load(&mut self, size: Size, dst: Reg, base: Reg, off: i16) -> &mut Self {
        self.emit(Insn::load(size, dst, base, off))
    }

    /// `dst = *(s8/s16/s32 *)(base + off)`: sign-extending load (cpu v4).
    #[track_caller]
    pub fn load_sx(&mut self, size: Size, dst: Reg, base: Reg, off: i16) -> &mut Self {
        self.emit(Insn::load_sx(size, dst, base, off))
    }

    /// `*(size *)(base + off) = imm`.
    #[track_caller]
    pub fn store(&mut self, size: Size, base: Reg, off: i16, imm: i32) -> &mut Self {
        self.emit(Insn::store(size, base, off, imm))
    }

    /// `*(size *)(base + off) = src`.
    #[track_caller]
    pub fn store_reg(&mut self, size: Size, base: Reg, off: i16, src: Reg) -> &mut Self {
        self.emit(Insn::store(size, base, off, src))
    }

    /// An atomic operation on `*(size *)(base + off)` with `src`.
    #[track_caller]
    pub fn atomic(&mut self, size: Size, op: AtomicOp, base: Reg, off: i16, src: Reg) -> &mut Self {
        self.emit(Insn::atomic(size, op, base, off, src))
    }

    /// Reserve a buffer for a `T` in the stack frame, below what was reserved before, aligned
    /// to the value's size (8 at most).
    #[track_caller]
    pub fn reserve<T: MapValue>(&mut self) -> StackSlot {
        let size = T::type_desc().size();
        self.reserve_bytes(size)
            .map_or(StackSlot::at(-8), |off| StackSlot {
                off,
                size: Some(size),
            })
    }

    #[track_caller]
    fn reserve_bytes(&mut self, size: u32) -> Option<i16> {
        let align = natural_align(size);
        let end = (self.frame_used + size).div_ceil(align) * align;
        if end as i32 > MAX_STACK || size == 0 {
            let loc = self.here(CallerLocation::caller());
            self.errors.push((loc, BuildErrorKind::FrameFull { size }));
            return None;
        }
        self.frame_used = end;
        Some(-(end as i16))
    }

    // ---- control flow ----

    /// `goto label`.
    #[track_caller]
    pub fn jump(&mut self, label: Label) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.jump_to(Insn::Ja { off: 0 }, label, loc)
    }

    /// `gotol label`: an unconditional jump with a 32-bit offset (cpu v4).
    #[track_caller]
    pub fn jump_long(&mut self, label: Label) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.jump_to(Insn::JaLong { imm: 0 }, label, loc)
    }

    /// `may_goto label`: jump when the loop budget runs out.
    #[track_caller]
    pub fn may_goto(&mut self, label: Label) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.jump_to(Insn::MayGoto { off: 0 }, label, loc)
    }

    /// `if dst cond src goto label`, at the width of `dst` (`wN` gives a `JMP32` jump).
    #[track_caller]
    pub fn jump_if<V: View>(
        &mut self,
        dst: V,
        cond: Cond,
        src: impl Into<Src<V>>,
        label: Label,
    ) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.jump_to(Insn::jump(cond, dst, src, 0), label, loc)
    }

    /// `call` a helper, by [`Helper`] or by number: `call(Helper::MapPushElem)` or `call(87)`.
    /// Arguments go in r1-r5, the result comes back in r0, and r1-r5 are clobbered.
    #[track_caller]
    pub fn call(&mut self, helper: impl Into<HelperId>) -> &mut Self {
        self.emit(Insn::call(helper))
    }

    /// A bpf-to-bpf `call` of the function that starts at `label` (made with
    /// [`ProgramBuilder::function`] or any label, which then becomes a function).
    #[track_caller]
    pub fn call_fn(&mut self, label: Label) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        if let Some(l) = self.labels.get_mut(label.0 as usize) {
            l.function = true;
        }
        self.jump_to(Insn::Call(Callee::Local(0)), label, loc)
    }

    /// `exit`: return `r0`.
    #[track_caller]
    pub fn exit(&mut self) -> &mut Self {
        self.emit(Insn::Exit)
    }

    // ---- queue / stack helpers ----

    /// `bpf_map_push_elem(map, r10 + slot.off, flags)` (helper 87): emits
    /// `r1 = map ll; r2 = r10; r2 += off; r3 = flags; call 87`. The result (0 or a negative
    /// errno) is in r0; r1-r5 are clobbered. The buffer must hold an initialised value.
    #[track_caller]
    pub fn push(&mut self, map: &MapRef, slot: StackSlot, flags: PushFlags) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        if flags.0 != PushFlags::ANY.0 && flags.0 != PushFlags::EXIST.0 {
            self.errors
                .push((loc, BuildErrorKind::BadPushFlags { flags: flags.0 }));
        }
        self.map_value_call(Helper::MapPushElem, map, slot, Some(flags.0), loc);
        self
    }

    /// `bpf_map_pop_elem(map, r10 + slot.off)` (helper 88): emits
    /// `r1 = map ll; r2 = r10; r2 += off; call 88`. r0 is 0 and the buffer holds the oldest
    /// (queue) or newest (stack) element, or r0 is `-ENOENT` when the map is empty.
    #[track_caller]
    pub fn pop(&mut self, map: &MapRef, slot: StackSlot) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.map_value_call(Helper::MapPopElem, map, slot, None, loc);
        self
    }

    /// `bpf_map_peek_elem(map, r10 + slot.off)` (helper 89): as [`ProgramBuilder::pop`],
    /// without removing the element.
    #[track_caller]
    pub fn peek(&mut self, map: &MapRef, slot: StackSlot) -> &mut Self {
        let loc = self.here(CallerLocation::caller());
        self.map_value_call(Helper::MapPeekElem, map, slot, None, loc);
        self
    }

    fn map_value_call(
        &mut self,
        helper: Helper,
        map: &MapRef,
        slot: StackSlot,
        flags: Option<u64>,
        loc: SourceLoc,
    ) {
        let def = map.def();
        let (allowed, takes) = helper.map_types_taken().unwrap_or(("any maps", |_| true));
        if !takes(def.map_type) {
            self.errors.push((
                loc,
                BuildErrorKind::WrongMapType {
                    helper: helper.name(),
                    helper_id: helper.id(),
                    map: map.name().to_owned(),
                    map_type: def.map_type,
                    type_num: def.map_type as u32,
                    allowed,
                },
            ));
        }
        self.check_slot(map, slot, loc);
        self.emit_ld_map(Reg::R1, map, loc);
        self.push_insn(
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R2,
                src: Operand::Reg(Reg::R10),
            },
            loc,
        );
        self.push_insn(
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R2,
                src: Operand::Imm(slot.off as i32),
            },
            loc,
        );
        if let Some(flags) = flags {
            // The kernel reads all 64 bits of r3; valid flags fit an immediate.
            let imm = Operand::Imm(flags as i32);
            self.push_insn(
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: Reg::R3,
                    src: imm,
                },
                loc,
            );
        }
        self.push_insn(Insn::Call(Callee::Helper(helper.id() as i32)), loc);
    }

    fn check_slot(&mut self, map: &MapRef, slot: StackSlot, loc: SourceLoc) {
        let value_size = map.def().value_size;
        if let Some(size) = slot.size {
            if size != value_size {
                let kind = BuildErrorKind::SlotSize {
                    map: map.name().to_owned(),
                    off: slot.off,
                    slot_size: size,
                    value_size,
                };
                self.errors.push((loc, kind));
            }
        }
        let (off, size) = (slot.off as i32, value_size);
        if !(-MAX_STACK..0).contains(&off) || off + size as i32 > 0 {
            self.errors.push((
                loc,
                BuildErrorKind::SlotOutsideFrame {
                    off: slot.off,
                    size,
                },
            ));
        } else {
            let align = natural_align(size);
            if off % align as i32 != 0 {
                self.errors.push((
                    loc,
                    BuildErrorKind::SlotMisaligned {
                        off: slot.off,
                        align,
                    },
                ));
            }
        }
    }

    // ---- finish ----

    /// Resolve labels and report every problem found, or give the finished [`Program`].
    /// Code that builds but behaves differently on some kernels is no error: the program's
    /// [`Program::warnings`] name it, with the Rust line of each offending instruction.
    pub fn finish(self) -> Result<Program, BuildErrors> {
        self.finish_with(false).map(|b| b.program)
    }

    /// [`ProgramBuilder::finish`] for programs that are meant to be refused: what the verifier
    /// would catch ([`BuildErrorKind::verifier_catches`]: push flags, value buffers, map types,
    /// a jump to a label after the last instruction) is encoded as written and reported as a
    /// warning; only what cannot be encoded is an error. For tests of the verifier, teaching,
    /// reproducing a bug. The control-flow warnings of [`Program::warnings`] apply as usual.
    ///
    /// ```
    /// use bpfsmith::prelude::*;
    ///
    /// let mut obj = Object::new("GPL");
    /// let queue = obj.map("queue", MapDef::queue::<u32>(4)).unwrap();
    /// let mut p = ProgramBuilder::new("bad_flags", Section::SOCKET);
    /// p.store(Size::U32, R10, -4, 1);
    /// p.push(&queue, StackSlot::at(-4), PushFlags(1));   // BPF_NOEXIST: -EINVAL at run time
    /// p.exit();
    /// let built = p.finish_lenient().unwrap();
    /// assert_eq!(built.warnings.len(), 1);
    /// assert!(built.warnings[0].to_string().contains(": warning: in program `bad_flags`"));
    /// assert_eq!(built.program.insns.len(), 7);
    /// ```
    pub fn finish_lenient(self) -> Result<Built, BuildErrors> {
        self.finish_with(true)
    }

    fn finish_with(mut self, lenient: bool) -> Result<Built, BuildErrors> {
        let mut insns = std::mem::take(&mut self.insns);
        let mut errors: Vec<BuildError> = Vec::new();
        let err = |errors: &mut Vec<BuildError>, loc: SourceLoc, kind: BuildErrorKind| {
            errors.push(BuildError {
                program: self.name.clone(),
                location: self.location(loc),
                kind,
            });
        };
        for (loc, kind) in &self.errors {
            err(&mut errors, *loc, kind.clone());
        }
        // Where an error has no instruction to point at: no file, line 0.
        let nowhere = SourceLoc {
            file: FileId(u32::MAX),
            line: 0,
            column: 0,
        };
        if insns.is_empty() {
            err(&mut errors, nowhere, BuildErrorKind::Empty);
        }
        // Slots, for the jumps to labels (not built when nothing jumps to a label: the
        // assembler resolves its own).
        let slots = if self.fixups.is_empty() {
            SlotMap::default()
        } else {
            SlotMap::new(&insns)
        };
        let mut from_cursor = slots.cursor();
        let mut reported_past_end = vec![false; self.labels.len()];
        for f in &self.fixups {
            let info = &self.labels[f.label.0 as usize];
            let Some((target, _)) = info.bound else {
                err(
                    &mut errors,
                    f.loc,
                    BuildErrorKind::UnboundLabel {
                        label: info.name.clone(),
                    },
                );
                continue;
            };
            // Encoded all the same when lenient: the jump lands just past the end.
            if target >= insns.len() && !reported_past_end[f.label.0 as usize] {
                reported_past_end[f.label.0 as usize] = true;
                let bound_at = info.bound.map_or(f.loc, |(_, l)| l);
                err(
                    &mut errors,
                    bound_at,
                    BuildErrorKind::LabelPastEnd {
                        label: info.name.clone(),
                    },
                );
            }
            let offset = slots.slot(target) as i64 - (from_cursor.slot(f.insn) as i64 + 1);
            if let Err(reach) = set_offset(&mut insns[f.insn], offset) {
                let label = info.name.clone();
                err(
                    &mut errors,
                    f.loc,
                    BuildErrorKind::JumpOutOfRange { label, reach },
                );
            }
        }
        for (insn, loc) in insns.iter().zip(&self.locs) {
            if let Err(reason) = insn.validate() {
                let loc = loc.unwrap_or(nowhere);
                let kind = BuildErrorKind::Undefined {
                    insn: *insn,
                    reason,
                };
                err(&mut errors, loc, kind);
            }
        }
        let mut warnings = Vec::new();
        if lenient {
            let (w, e): (Vec<BuildError>, Vec<BuildError>) =
                errors.into_iter().partition(|e| e.kind.verifier_catches());
            warnings = w.into_iter().map(BuildWarning).collect();
            errors = e;
        }
        if !errors.is_empty() {
            return Err(BuildErrors(errors));
        }
        let mut labels: Vec<(usize, String)> = Vec::new();
        let mut functions = vec![Function {
            name: self.name.clone(),
            insn: 0,
        }];
        for l in &self.labels {
            if let Some((at, _)) = l.bound {
                if l.function {
                    if at != 0 {
                        functions.push(Function {
                            name: l.name.clone(),
                            insn: at,
                        });
                    }
                } else {
                    labels.push((at, l.name.clone()));
                }
            }
        }
        labels.sort_by_key(|(at, _)| *at);
        functions[1..].sort_by_key(|f| f.insn);
        let program = Program {
            name: self.name,
            section: self.section,
            insns,
            locs: self.locs,
            files: self.files,
            labels,
            functions,
            relocs: self.relocs,
        };
        Ok(Built { program, warnings })
    }
}

/// The alignment of a value of `size` bytes: the largest power of two dividing it, at most 8.
fn natural_align(size: u32) -> u32 {
    if size == 0 {
        1
    } else {
        (1 << size.trailing_zeros()).min(8)
    }
}

debug_as_display!(BuildErrors);
