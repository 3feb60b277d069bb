//! The verifier log for people: what refused the program, in plain words, at which source line,
//! with the values the failing instruction used and where each came from.
//!
//! [`render_report`] is the terminal report of a load: for a refused program
//!
//! 1. the verifier's message and, under it, what it means, its usual cause and the fix
//!    ([`crate::explain::match_messages`]);
//! 2. the failing instruction with its source `file:line` and line text, and the listing
//!    around it (kernel style, with slot numbers, the failing one marked);
//! 3. the registers and stack slots that instruction uses ([`uses`]), each with its value in
//!    plain words and the instruction (slot, text, source line) that gave it that value on
//!    this path ([`operands`]);
//! 4. the path that led there, compressed ([`path_summary`]);
//! 5. the verifier's statistics.
//!
//! The default report fits on one screen; [`ReportOptions::full`] adds every known register
//! and slot and the whole log with source lines. An accepted program's level-2 log is shown
//! instruction by instruction by [`render_accepted`] (which [`render_report`] calls when the
//! log holds no error).
//!
//! The source lines come from a [`SourceMap`]: of the program that was loaded, or of the log
//! alone for a log saved elsewhere ([`render_log_text`]).
//!
//! ```
//! use bpfsmith::verifier::{render_log_text, ReportOptions};
//!
//! let log = "\
//! 0: R1=ctx() R10=fp0
//! ; r1 = 0 @ prog.s:5
//! 1: (b7) r1 = 0                        ; R1=0
//! ; call 87 @ prog.s:9
//! 5: (85) call bpf_map_push_elem#87
//! R1 type=scalar expected=map_ptr
//! processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
//! ";
//! let report = render_log_text(log, None, &ReportOptions::default());
//! assert!(report.contains("error: R1 type=scalar expected=map_ptr"));
//! assert!(report.contains("--> prog.s:9"));
//! assert!(report.contains("set at 1: (b7) r1 = 0"));
//! ```

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::explain::{match_messages, Message};
use crate::helpers::{ArgKind, Helper};
use crate::insn::{AtomicOp, Callee, Insn, Operand, Reg};
use crate::program::Program;

use super::source_map::{SourceInfo, SourceMap};
use super::trace::{trace_before, walk_log_while, Origin, Trace, TracedReg};
use super::{Kind, LogError, PtrKind, SlotContents, Stats, Value, Verdict, VerifierLog};

/// How to render a report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportOptions {
    /// ANSI colours (decide with `std::io::IsTerminal`).
    pub color: bool,
    /// Everything: every known register and slot at the failing instruction, the whole path,
    /// and the whole log with source lines. Otherwise the report fits on one screen.
    pub full: bool,
}

/// A memory access of an instruction: `*(size *)(base + off)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemUse {
    /// The base register.
    pub base: u8,
    /// The offset from it.
    pub off: i16,
    /// The access size in bytes.
    pub size: u32,
}

/// What an instruction reads: registers (each with its role) and memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uses {
    /// Registers read, in argument order, each with a short role (`map`, `value`, `flags` for
    /// a helper's arguments; `address`, `stored value`, `operand`, `return value`).
    pub regs: Vec<(u8, &'static str)>,
    /// A memory access through a base register.
    pub mem: Option<MemUse>,
    /// A helper call's number.
    pub helper: Option<i32>,
    /// Whether the instruction writes its first register (`dst`), e.g. `r10 += -4`.
    pub writes: Option<u8>,
}

impl Uses {
    fn read(&mut self, r: Reg, role: &'static str) {
        if !self.regs.iter().any(|(n, _)| *n == r.num()) {
            self.regs.push((r.num(), role));
        }
    }
}

/// The argument roles of helper `id`: its arguments' names from [`Helper::info`], or r1-r5
/// when the helper is not described.
fn helper_args(id: i32) -> Vec<(u8, &'static str)> {
    let args = u32::try_from(id)
        .ok()
        .and_then(Helper::from_id)
        .and_then(|h| h.info().args);
    match args {
        Some(args) => args
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u8 + 1, a.name))
            .collect(),
        None => (1..=5).map(|n| (n, "argument")).collect(),
    }
}

/// The registers and memory `insn` reads. A helper call reads r1..rN for its N arguments
/// (r1-r5 for helpers not described, local and kfunc calls), `exit` reads r0, a store its
/// base and source, an ALU operation its destination (except `mov`) and source, a jump its
/// operands, the legacy packet loads r6 (the context).
pub fn uses(insn: &Insn) -> Uses {
    let mut u = Uses::default();
    match *insn {
        Insn::Alu { op, dst, src, .. } => {
            if op != crate::insn::AluOp::Mov {
                u.read(dst, "operand");
            }
            if let Operand::Reg(s) = src {
                u.read(s, "operand");
            }
            u.writes = Some(dst.num());
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => {
            u.read(dst, "operand");
            u.writes = Some(dst.num());
        }
        Insn::MovSx { dst, src, .. } | Insn::AddrSpaceCast { dst, src, .. } => {
            u.read(src, "operand");
            u.writes = Some(dst.num());
        }
        Insn::Load {
            size,
            dst,
            src,
            off,
            ..
        } => {
            u.read(src, "address");
            u.mem = Some(MemUse {
                base: src.num(),
                off,
                size: size.bytes(),
            });
            u.writes = Some(dst.num());
        }
        Insn::StoreImm { size, dst, off, .. } => {
            u.read(dst, "address");
            u.mem = Some(MemUse {
                base: dst.num(),
                off,
                size: size.bytes(),
            });
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            u.read(dst, "address");
            u.read(src, "stored value");
            u.mem = Some(MemUse {
                base: dst.num(),
                off,
                size: size.bytes(),
            });
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let (base, val) = match op {
                AtomicOp::LoadAcquire => (src, None),
                _ => (dst, Some(src)),
            };
            u.read(base, "address");
            if let Some(v) = val {
                u.read(v, "operand");
            }
            if op == AtomicOp::CmpXchg {
                u.read(Reg::R0, "expected value");
            }
            u.mem = Some(MemUse {
                base: base.num(),
                off,
                size: size.bytes(),
            });
        }
        Insn::LdImm64 { dst, .. } => u.writes = Some(dst.num()),
        Insn::LdAbs { .. } => u.read(Reg::R6, "context"),
        Insn::LdInd { src, .. } => {
            u.read(Reg::R6, "context");
            u.read(src, "offset");
        }
        Insn::Jump { dst, src, .. } => {
            u.read(dst, "compared");
            if let Operand::Reg(s) = src {
                u.read(s, "compared");
            }
        }
        Insn::Ja { .. } | Insn::JaLong { .. } | Insn::MayGoto { .. } => {}
        Insn::Call(Callee::Helper(id)) => {
            u.helper = Some(id);
            u.regs = helper_args(id);
            u.writes = Some(0);
        }
        Insn::Call(_) => {
            u.regs = (1..=5).map(|n| (n, "argument")).collect();
            u.writes = Some(0);
        }
        Insn::CallX { dst } => u.read(dst, "target"),
        Insn::Exit => u.read(Reg::R0, "return value"),
    }
    u
}

/// Register number of `rN`/`wN` at the start of `s`, and the rest.
fn reg_at(s: &str) -> Option<(u8, &str)> {
    let rest = s.strip_prefix(['r', 'w'])?;
    let d = rest.bytes().take_while(u8::is_ascii_digit).count();
    let n: u8 = rest.get(..d)?.parse().ok()?;
    (n <= 10).then_some((n, &rest[d..]))
}

/// Every register named in `s` (`r1`, `w2`), in order, without repeats.
fn regs_in(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    for i in 0..b.len() {
        let starts = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if starts && (b[i] == b'r' || b[i] == b'w') {
            if let Some((n, rest)) = reg_at(&s[i..]) {
                let ends = rest
                    .bytes()
                    .next()
                    .map_or(true, |c| !(c.is_ascii_alphanumeric() || c == b'_'));
                if ends && !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

/// `*(u32 *)(r10 -4)` → (size, base, off).
fn mem_in(s: &str) -> Option<MemUse> {
    let i = s.find("*(")?;
    let rest = &s[i + 2..];
    let ty_end = rest.find(" *)")?;
    let ty = &rest[..ty_end];
    let bits: u32 = ty.trim_start_matches(['u', 's']).parse().ok()?;
    let rest = rest[ty_end + 3..].strip_prefix('(')?;
    let (base, rest) = reg_at(rest)?;
    let rest = rest.trim_start();
    let end = rest.find(')')?;
    let off: i16 = rest[..end]
        .replace(' ', "")
        .trim_start_matches('+')
        .parse()
        .ok()?;
    Some(MemUse {
        base,
        off,
        size: bits / 8,
    })
}

/// [`uses`] for an instruction known only by its kernel-style text (a log without a program).
pub fn uses_from_text(text: &str) -> Uses {
    let t = text.trim();
    let mut u = Uses::default();
    if let Some(call) = t.strip_prefix("call ") {
        let id = call
            .rsplit_once('#')
            .and_then(|(_, n)| n.trim().parse().ok());
        match id {
            Some(id) if !call.starts_with("pc") => {
                u.helper = Some(id);
                u.regs = helper_args(id);
            }
            _ => u.regs = (1..=5).map(|n| (n, "argument")).collect(),
        }
        u.writes = Some(0);
        return u;
    }
    if t == "exit" {
        u.regs.push((0, "return value"));
        return u;
    }
    u.mem = mem_in(t);
    let written = super::trace::regs_written_by_text(t);
    let (lhs, rhs) = match t.find(" = ") {
        Some(i) if !written.is_empty() => (&t[..i], &t[i + 3..]),
        _ => ("", t),
    };
    u.writes = written.first().copied();
    let plain_mov = !lhs.is_empty() && !lhs.contains('*');
    // `rX op= y` reads rX too.
    if !plain_mov {
        if let Some(w) = u.writes {
            u.regs.push((w, "operand"));
        }
    }
    for n in regs_in(if plain_mov { rhs } else { t }) {
        if u.regs.iter().any(|(r, _)| *r == n) {
            continue;
        }
        let role = match u.mem {
            Some(m) if m.base == n => "address",
            _ if t.starts_with('*') => "stored value",
            _ if t.starts_with("if ") => "compared",
            _ => "operand",
        };
        u.regs.push((n, role));
    }
    if t.contains(" op=") || (!plain_mov && u.writes.is_some() && lhs.is_empty()) {
        // `r1 += r2`: written and read (handled above).
    }
    u
}

/// What one step of an origin is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginKind {
    /// The instruction that wrote the value.
    SetBy,
    /// The program's entry state (r1 = the context, r10 = the frame pointer).
    Entry,
    /// A state line of the log that shows the value first (its history is not in the log).
    ShownBy,
    /// A conditional jump or a branch that narrowed the value without writing it.
    NarrowedBy,
    /// The helper call that clobbered the register (r0-r5 do not survive a call).
    ClobberedBy,
    /// Before that call the register held a value: where that came from.
    HeldBefore,
    /// Nothing on this path set the register.
    NeverSet,
}

/// One line of "where did this come from?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginLine {
    /// What this line says.
    pub kind: OriginKind,
    /// The log record it points at.
    pub record: Option<usize>,
    /// The instruction's slot, when the record is an instruction.
    pub slot: Option<u32>,
    /// The instruction's kernel-style text (from the program when known).
    pub text: Option<String>,
    /// The instruction's source line.
    pub source: Option<SourceInfo>,
    /// The value held then (for [`OriginKind::HeldBefore`]).
    pub value: Option<String>,
    /// For a conditional jump: whether it was taken, and where to.
    pub jump: Option<Jump>,
}

/// The outcome of a conditional jump on the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jump {
    /// Taken, to this slot.
    Taken(u32),
    /// Not taken: the path went on with the next instruction.
    NotTaken,
}

impl OriginLine {
    /// The line in words: `set at 4: (b7) r3 = 0`.
    pub fn headline(&self) -> String {
        let at = match (self.slot, &self.text) {
            (Some(s), Some(t)) => format!("{s}: {t}"),
            _ => self
                .record
                .map(|r| format!("log line {}", r + 1))
                .unwrap_or_default(),
        };
        match self.kind {
            OriginKind::SetBy => format!("set at {at}"),
            OriginKind::Entry => {
                "set at program entry (r1 = the context, r10 = the frame pointer)".to_owned()
            }
            OriginKind::ShownBy => format!("first shown by {at}"),
            OriginKind::NarrowedBy => match self.jump {
                Some(Jump::Taken(to)) => format!("narrowed by {at} (taken, to {to})"),
                Some(Jump::NotTaken) => format!("narrowed by {at} (not taken)"),
                None => format!("narrowed by {at}"),
            },
            OriginKind::ClobberedBy => {
                format!("not readable: clobbered by {at} (r0-r5 do not survive a call)")
            }
            OriginKind::HeldBefore => match &self.value {
                Some(v) => format!("before that call it held {v}, set at {at}"),
                None => format!("before that call it was set at {at}"),
            },
            OriginKind::NeverSet => "not readable: nothing set it on this path".to_owned(),
        }
    }
}

/// A register or stack slot the failing instruction uses, its value and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperandReport {
    /// `r1` or `fp-8`.
    pub name: String,
    /// The role (`map`, `value`, `flags`, `address` ...), empty for stack slots.
    pub role: String,
    /// The value as the verifier printed it; `None` when the register holds nothing.
    pub value: Option<String>,
    /// The value in plain words, with what the instruction expects when it differs.
    pub meaning: String,
    /// Where it came from, most recent first.
    pub origin: Vec<OriginLine>,
}

/// The value in plain words.
pub fn describe_value(v: &Value<'_>) -> String {
    match v {
        Value::Const(n) => format!("the number {n}"),
        Value::Scalar(s) => match (s.as_const(), s.smin, s.smax, s.umin, s.umax) {
            (Some(c), ..) => format!("the number {c}"),
            (None, Some(a), Some(b), ..) => format!("a number in [{a}, {b}]"),
            (None, _, _, Some(a), Some(b)) => format!("a number in [{a}, {b}]"),
            (None, _, _, _, Some(b)) => format!("a number up to {b}"),
            _ => "a number (unknown)".to_owned(),
        },
        Value::Pointer(p) => match p.kind {
            PtrKind::Ctx => "the context pointer".to_owned(),
            PtrKind::Stack => match (p.stack_frame, p.off()) {
                (Some(f), Some(o)) => format!("a pointer to frame {f}'s stack at fp{o:+}"),
                (None, Some(0)) => "the frame pointer (top of the stack)".to_owned(),
                (None, Some(o)) => format!("a pointer to the stack at fp{o:+}"),
                _ => "a pointer to the stack".to_owned(),
            },
            PtrKind::MapPtr => match p.map_name() {
                Some(m) => format!("the map `{m}`"),
                None => "a map".to_owned(),
            },
            PtrKind::MapValue => match p.map_name() {
                Some(m) => format!("a pointer into a value of map `{m}`"),
                None => "a pointer into a map value".to_owned(),
            },
            PtrKind::MapValueOrNull => {
                "a map value pointer that may be NULL (not compared with 0 yet)".to_owned()
            }
            PtrKind::MapKey => "a pointer to a map key".to_owned(),
            PtrKind::Packet => "a packet pointer".to_owned(),
            PtrKind::PacketEnd => "the end of the packet (data_end)".to_owned(),
            PtrKind::PacketMeta => "a packet metadata pointer".to_owned(),
            PtrKind::Socket => format!("a socket pointer ({})", p.name),
            PtrKind::Mem => format!("a memory pointer ({})", p.name),
            PtrKind::Btf => format!("a kernel object pointer ({})", p.name),
            PtrKind::Other => format!("a pointer ({})", p.name),
        },
        Value::Unknown(s) => (*s).to_owned(),
    }
}

/// What a helper argument kind wants, when `v` is not it.
fn expectation(kind: ArgKind, v: &Value<'_>) -> Option<&'static str> {
    let ptr = v.as_pointer().map(|p| p.kind);
    let ok = match kind {
        ArgKind::ConstMapPtr => ptr == Some(PtrKind::MapPtr),
        ArgKind::PtrToCtx => ptr == Some(PtrKind::Ctx),
        ArgKind::PtrToMapKey
        | ArgKind::PtrToMapValue
        | ArgKind::PtrToUninitMapValue
        | ArgKind::PtrToMem
        | ArgKind::PtrToUninitMem
        | ArgKind::PtrToStack => ptr.is_some_and(|k| {
            !matches!(
                k,
                PtrKind::MapPtr | PtrKind::MapValueOrNull | PtrKind::Ctx | PtrKind::PacketEnd
            )
        }),
        ArgKind::ConstSize | ArgKind::ConstSizeOrZero => ptr.is_none(),
        ArgKind::Anything | ArgKind::Other(_) => true,
    };
    if ok {
        return None;
    }
    Some(match kind {
        ArgKind::ConstMapPtr => "the helper expects a map here (`r1 = map ll`)",
        ArgKind::PtrToCtx => "the helper expects the context pointer here",
        ArgKind::ConstSize | ArgKind::ConstSizeOrZero => "the helper expects a size here",
        _ => "the helper expects a pointer to memory here (e.g. r10 plus a negative offset)",
    })
}

/// The stack slot contents in plain words: `fp-8=mmmm????` → `fp-4..fp-1 data, fp-8..fp-5
/// never written`.
pub fn describe_slot(off: i32, contents: &SlotContents<'_>) -> String {
    match contents {
        SlotContents::Spilled(v) => format!("a spilled register: {}", describe_value(v)),
        SlotContents::Types(t) => {
            // Character j is the byte at fp + off + 7 - j.
            let mut runs: Vec<(char, i32, i32)> = Vec::new();
            for (j, c) in t.chars().enumerate() {
                let byte = off + 7 - j as i32;
                match runs.last_mut() {
                    Some((rc, lo, _)) if *rc == c => *lo = byte,
                    _ => runs.push((c, byte, byte)),
                }
            }
            runs.reverse();
            let parts: Vec<String> = runs
                .iter()
                .map(|&(c, lo, hi)| {
                    let what = match c {
                        '?' => "never written",
                        'm' => "data",
                        '0' => "zero",
                        'r' => "part of a spilled register",
                        'd' => "dynptr",
                        'i' => "iterator",
                        'f' => "irq flag",
                        _ => "?",
                    };
                    if lo == hi {
                        format!("fp{lo} {what}")
                    } else {
                        format!("fp{lo}..fp{hi} {what}")
                    }
                })
                .collect();
            parts.join(", ")
        }
    }
}

/// The slot (8-byte aligned offset) range covering `[start, start + size)`.
fn slots_covering(start: i64, size: u32) -> Vec<i32> {
    let size = i64::from(size.max(1));
    let first = start.div_euclid(8) * 8;
    let last = (start + size - 1).div_euclid(8) * 8;
    let mut v = Vec::new();
    let mut s = last;
    while s >= first && v.len() < 64 {
        if (-512..0).contains(&s) {
            v.push(s as i32);
        }
        s -= 8;
    }
    v
}

/// The listing text of slot `slot`: the map's, or the log's at `record`.
fn insn_text(log: &VerifierLog<'_>, map: &SourceMap, slot: u32, record: Option<usize>) -> String {
    if let Some(m) = map.get(slot) {
        return m.text.clone();
    }
    match record.and_then(|r| log.records().get(r)).map(|r| r.kind) {
        Some(Kind::Insn(l)) => format!("({:02x}) {}", l.opcode, l.text),
        _ => String::new(),
    }
}

fn origin_line(
    log: &VerifierLog<'_>,
    map: &SourceMap,
    kind: OriginKind,
    record: usize,
) -> OriginLine {
    let (slot, jump) = match log.records().get(record).map(|r| r.kind) {
        Some(Kind::Insn(l)) => {
            let jump = match l.glued_target {
                Some(t) => Some(Jump::Taken(t)),
                None if l.text.starts_with("if ") => Some(Jump::NotTaken),
                None => None,
            };
            (Some(l.insn), jump)
        }
        // `from A to B`: the jump at A, taken.
        Some(Kind::Branch { from, to, .. }) => (Some(from), Some(Jump::Taken(to))),
        _ => (None, None),
    };
    let jump = jump.filter(|_| kind == OriginKind::NarrowedBy);
    let text_record = match log.records().get(record).map(|r| r.kind) {
        Some(Kind::Insn(_)) => Some(record),
        _ => slot.and_then(|s| log.insn_records(s).next()),
    };
    OriginLine {
        kind,
        record: Some(record),
        slot,
        text: slot.map(|s| insn_text(log, map, s, text_record)),
        source: slot.and_then(|s| map.source(s).cloned()),
        value: None,
        jump,
    }
}

/// Whether record `record` is the program's entry state: a state line before any instruction.
fn is_entry(log: &VerifierLog<'_>, record: usize) -> bool {
    matches!(
        log.records().get(record).map(|r| r.kind),
        Some(Kind::State { insn: 0, .. })
    ) && !log.records()[..record]
        .iter()
        .any(|r| matches!(r.kind, Kind::Insn(_)))
}

/// The origin lines of a value with origin `o`.
fn origin_lines(log: &VerifierLog<'_>, map: &SourceMap, o: Origin) -> Vec<OriginLine> {
    let mut v = Vec::new();
    let first = if is_entry(log, o.record) {
        OriginLine {
            kind: OriginKind::Entry,
            record: Some(o.record),
            slot: None,
            text: None,
            source: None,
            value: None,
            jump: None,
        }
    } else if matches!(
        log.records().get(o.record).map(|r| r.kind),
        Some(Kind::Insn(_))
    ) {
        origin_line(log, map, OriginKind::SetBy, o.record)
    } else {
        origin_line(log, map, OriginKind::ShownBy, o.record)
    };
    v.push(first);
    if let Some(n) = o.narrowed {
        v.push(origin_line(log, map, OriginKind::NarrowedBy, n));
    }
    v
}

fn reg_report(
    log: &VerifierLog<'_>,
    map: &SourceMap,
    trace: &Trace<'_>,
    n: u8,
    role: &str,
    arg: Option<ArgKind>,
) -> OperandReport {
    let name = format!("r{n}");
    match trace.reg(n) {
        Some(TracedReg { state, origin }) => {
            let mut meaning = describe_value(&state.value);
            if let Some(e) = arg.and_then(|k| expectation(k, &state.value)) {
                meaning.push_str(": ");
                meaning.push_str(e);
            }
            OperandReport {
                name,
                role: role.to_owned(),
                value: Some(value_text(state.raw)),
                meaning,
                origin: origin_lines(log, map, *origin),
            }
        }
        None => {
            let mut origin = Vec::new();
            match trace.clobbered(n) {
                Some(c) => {
                    origin.push(origin_line(log, map, OriginKind::ClobberedBy, c.call));
                    if let Some(b) = &c.before {
                        let mut l = origin_lines(log, map, b.origin).remove(0);
                        if l.kind == OriginKind::SetBy {
                            l.kind = OriginKind::HeldBefore;
                            l.value = Some(value_text(b.state.raw));
                        }
                        origin.push(l);
                    }
                }
                None => origin.push(OriginLine {
                    kind: OriginKind::NeverSet,
                    record: None,
                    slot: None,
                    text: None,
                    source: None,
                    value: None,
                    jump: None,
                }),
            }
            OperandReport {
                name,
                role: role.to_owned(),
                value: None,
                meaning: "no value".to_owned(),
                origin,
            }
        }
    }
}

/// Whether an operand report says the register held nothing and nothing set it.
fn never_set(op: &OperandReport) -> bool {
    op.value.is_none() && op.origin.iter().all(|o| o.kind == OriginKind::NeverSet)
}

/// `R1_w=map_ptr(...)` → `map_ptr(...)`.
fn value_text(raw: &str) -> String {
    stack_pointer_text(raw.split_once('=').map_or(raw, |(_, v)| v))
}

/// A stack pointer as `fp-N`: the kernel prints offsets outside the 16-bit range in hex
/// (`fp0xffffffffffff7ff8`), which reads as `fp-32776`.
pub fn stack_pointer_text(value: &str) -> String {
    if let Some(rest) = value.strip_prefix("fp0x") {
        let digits = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if let Ok(n) = u64::from_str_radix(&rest[..digits], 16) {
            return format!("fp{}{}", n as i64, &rest[digits..]);
        }
    }
    value.to_owned()
}

/// The failing instruction of a log: the slot and the record, taking `at insn N` in messages
/// that name it (`infinite loop detected at insn 1`, errors found before verification).
pub fn failing_insn(log: &VerifierLog<'_>, err: &LogError<'_>) -> Option<(u32, Option<usize>)> {
    let named = err.headline().split("insn ").nth(1).and_then(|r| {
        let d = r.bytes().take_while(u8::is_ascii_digit).count();
        r[..d].parse::<u32>().ok()
    });
    let prefer_named = err.headline().starts_with("infinite loop detected at insn");
    match (err.insn, named) {
        (Some(_), Some(n)) if prefer_named => {
            let rec = log.insn_records(n).last();
            Some((n, rec))
        }
        (Some(i), _) => Some((i, err.insn_record)),
        (None, Some(n)) => Some((n, None)),
        (None, None) => None,
    }
}

/// The registers and stack slots instruction `slot` uses (from the program's instruction when
/// the map has it, else from the log's text), each with its value before the instruction on
/// the failing path and where that came from. Registers the error message names are included.
pub fn operands(log: &VerifierLog<'_>, map: &SourceMap, slot: u32) -> Vec<OperandReport> {
    let err = log.error();
    let Some(trace) = trace_before(log, slot) else {
        return Vec::new();
    };
    let mut u = match map.get(slot).and_then(|m| m.insn) {
        Some(i) => uses(&i),
        None => {
            let text = log
                .insn_records(slot)
                .last()
                .and_then(|r| match log.records()[r].kind {
                    Kind::Insn(l) => Some(l.text),
                    _ => None,
                })
                .unwrap_or("");
            uses_from_text(text)
        }
    };
    if let Some(e) = &err {
        // The headline only: later lines of a message are often state dumps.
        for n in regs_named(e.headline()) {
            if !u.regs.iter().any(|(r, _)| *r == n) {
                u.regs.push((n, "named in the message"));
            }
        }
        if e.headline().contains("frame pointer") && !u.regs.iter().any(|(r, _)| *r == 10) {
            u.regs.push((10, "written"));
        }
    }
    let info = u
        .helper
        .and_then(|id| u32::try_from(id).ok())
        .and_then(Helper::from_id)
        .and_then(|h| h.info().args);
    let mut out = Vec::new();
    let mut slots: Vec<i32> = Vec::new();
    for (i, &(n, role)) in u.regs.iter().enumerate() {
        let arg = info.and_then(|a| {
            let k = (n as usize).checked_sub(1)?;
            (u.helper.is_some() && i == k).then(|| a.get(k).map(|a| a.kind))?
        });
        let report = reg_report(log, map, &trace, n, role, arg);
        // A helper whose arguments are not described: r1-r5 are shown when they hold
        // something (or the message names them).
        if role == "argument" && u.helper.is_some() && info.is_none() && never_set(&report) {
            continue;
        }
        out.push(report);
        // Stack memory a helper argument points to.
        if let (Some(kind), Some(r)) = (arg, trace.reg(n)) {
            if let Some(p) = r.state.value.as_pointer() {
                if p.kind == PtrKind::Stack && p.stack_frame.is_none() {
                    let size = match kind {
                        ArgKind::PtrToMapKey => map_size(&trace, "ks"),
                        ArgKind::PtrToMapValue | ArgKind::PtrToUninitMapValue => {
                            map_size(&trace, "vs")
                        }
                        ArgKind::PtrToMem | ArgKind::PtrToUninitMem => trace
                            .reg(n + 1)
                            .and_then(|s| s.state.value.as_const())
                            .and_then(|c| u32::try_from(c).ok()),
                        _ => None,
                    };
                    for s in slots_covering(p.off().unwrap_or(0), size.unwrap_or(1)) {
                        if !slots.contains(&s) {
                            slots.push(s);
                        }
                    }
                }
            }
        }
    }
    if let Some(m) = u.mem {
        let base = trace
            .reg(m.base)
            .and_then(|r| r.state.value.as_pointer().copied())
            .filter(|p| p.kind == PtrKind::Stack && p.stack_frame.is_none())
            .and_then(|p| p.off())
            .or((m.base == 10).then_some(0));
        if let Some(b) = base {
            for s in slots_covering(b + i64::from(m.off), m.size) {
                if !slots.contains(&s) {
                    slots.push(s);
                }
            }
        }
    }
    for s in slots {
        let report = match trace.slot(s) {
            Some(t) => OperandReport {
                name: format!("fp{s}"),
                role: String::new(),
                value: Some(value_text(t.state.raw)),
                meaning: describe_slot(s, &t.state.contents),
                origin: origin_lines(log, map, t.origin),
            },
            None => OperandReport {
                name: format!("fp{s}"),
                role: String::new(),
                value: None,
                meaning: "never written on this path".to_owned(),
                origin: Vec::new(),
            },
        };
        out.push(report);
    }
    out
}

fn map_size(trace: &Trace<'_>, key: &str) -> Option<u32> {
    let p = trace.reg(1)?.state.value.as_pointer().copied()?;
    let v = p.param(key)?;
    super::parse_int(v).and_then(|n| u32::try_from(n).ok())
}

/// Registers named `R<n>` in a message (`R1 type=scalar expected=map_ptr`).
fn regs_named(line: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = line.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'R' && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let d = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if d > 0 && d <= 2 {
                if let Ok(n) = line[i + 1..i + 1 + d].parse::<u8>() {
                    let end = b.get(i + 1 + d);
                    if n <= 10
                        && end.map_or(true, |c| !c.is_ascii_alphanumeric() || *c == b'_')
                        && !out.contains(&n)
                    {
                        out.push(n);
                    }
                }
            }
        }
    }
    out
}

/// The instruction slots along the failing path (or the last path explored), in order.
fn path_slots<'a>(log: &VerifierLog<'a>) -> Vec<(u32, u8, &'a str)> {
    log.path()
        .into_iter()
        .filter_map(|i| match log.records()[i].kind {
            Kind::Insn(l) => Some((l.insn, l.opcode, l.text)),
            _ => None,
        })
        .collect()
}

/// The path as its branch decisions: `0 → 3 (taken) → 9 → 14`. Conditional jumps show
/// whether they were taken, gotos and calls where they went; a long path keeps its start and
/// end. `end` is appended to the last instruction (`✗` for the failing one).
pub fn path_summary(log: &VerifierLog<'_>, end: &str) -> String {
    let path = path_slots(log);
    let Some(&(first, ..)) = path.first() else {
        return String::new();
    };
    let mut tokens: Vec<String> = vec![first.to_string()];
    let mut last_token_slot = Some(first);
    for w in path.windows(2) {
        let (a, opcode, text) = w[0];
        let (b, ..) = w[1];
        // `ld_imm64` (opcode 0x18) takes two slots.
        let width = if opcode == 0x18 { 2 } else { 1 };
        let fall = b == a + width;
        let note = if text.starts_with("if ") {
            Some(if fall { "(not taken)" } else { "(taken)" })
        } else if text.starts_with("goto") || text.starts_with("gotol") {
            Some("(goto)")
        } else if text.starts_with("call pc") {
            Some("(call)")
        } else if text == "exit" {
            Some("(return)")
        } else if !fall {
            Some("")
        } else {
            None
        };
        if let Some(note) = note {
            let tok = if note.is_empty() {
                a.to_string()
            } else {
                format!("{a} {note}")
            };
            if last_token_slot == Some(a) {
                *tokens.last_mut().unwrap() = tok;
            } else {
                tokens.push(tok);
            }
            if !fall {
                tokens.push(b.to_string());
                last_token_slot = Some(b);
            } else {
                last_token_slot = Some(a);
            }
        }
    }
    let (last, ..) = *path.last().unwrap();
    let last_tok = if end.is_empty() {
        last.to_string()
    } else {
        format!("{last} {end}")
    };
    if last_token_slot == Some(last) {
        *tokens.last_mut().unwrap() = last_tok;
    } else {
        tokens.push(last_tok);
    }
    const KEEP: usize = 8;
    if tokens.len() > 2 * KEEP + 1 {
        let skipped = tokens.len() - 2 * KEEP;
        let mut t: Vec<String> = tokens[..KEEP].to_vec();
        t.push(format!("… {skipped} more …"));
        t.extend_from_slice(&tokens[tokens.len() - KEEP..]);
        tokens = t;
    }
    tokens.join(" → ")
}

/// Statistics in one line: `processed 7 instructions (limit 1000000) · states 0 (peak 0, at
/// most 0 per instruction) · stack depth 8 bytes · verified in 21 µs`.
pub fn stats_line(s: &Stats) -> String {
    let mut parts = Vec::new();
    if let Some(p) = s.processed_insns {
        let limit = s
            .insn_limit
            .map(|l| format!(" (limit {l})"))
            .unwrap_or_default();
        parts.push(format!("processed {p} instructions{limit}"));
    }
    if let Some(t) = s.total_states {
        let mut more = Vec::new();
        if let Some(p) = s.peak_states {
            more.push(format!("peak {p}"));
        }
        if let Some(m) = s.max_states_per_insn {
            more.push(format!("at most {m} per instruction"));
        }
        let more = if more.is_empty() {
            String::new()
        } else {
            format!(" ({})", more.join(", "))
        };
        parts.push(format!("states {t}{more}"));
    }
    if let Some(d) = s.total_stack_depth() {
        let split = if s.stack_depth.len() > 1 {
            let each: Vec<String> = s.stack_depth.iter().map(u32::to_string).collect();
            format!(" ({})", each.join("+"))
        } else {
            String::new()
        };
        parts.push(format!("stack depth {d} bytes{split}"));
    }
    if let Some(t) = s.verification_time_usec {
        parts.push(format!("verified in {t} µs"));
    }
    if parts.is_empty() {
        "none in this log".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// Word-wrap `text` at `width` columns, continuation lines indented by `indent` spaces.
fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    let mut first = true;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        if !first && col + 1 + w > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if !first {
            out.push(' ');
            col += 1;
        }
        first = false;
        out.push_str(word);
        col += w;
    }
    out
}

/// Text styles, or none.
struct Paint {
    on: bool,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const SOURCE: Style = AnsiColor::Green.on_default();
const SLOT: Style = AnsiColor::Cyan.on_default();
const HEAD: Style = AnsiColor::Yellow.on_default().bold();
const MARK: Style = AnsiColor::Red.on_default().bold();

impl Paint {
    fn p(&self, style: Style, text: &str) -> String {
        if self.on && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }
}

const WIDTH: usize = 100;
const MESSAGE_LINES: usize = 6;

fn source_suffix(src: Option<&SourceInfo>, paint: &Paint) -> String {
    match src {
        Some(s) => {
            let text = s.text.as_deref().unwrap_or("");
            let t = if text.is_empty() {
                String::new()
            } else {
                format!("  {}", paint.p(SOURCE, &truncate(text, 60)))
            };
            format!("   {}{t}", paint.p(DIM, &s.short_location()))
        }
        None => String::new(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let t: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

fn write_operand(out: &mut String, op: &OperandReport, paint: &Paint) {
    let name = if op.role.is_empty() {
        op.name.clone()
    } else {
        format!("{} ({})", op.name, op.role)
    };
    let value = match &op.value {
        Some(v) => format!("{} = {v}", paint.p(BOLD, &name)),
        None => format!("{}: {}", paint.p(BOLD, &name), op.meaning),
    };
    let plain_len =
        2 + name.chars().count() + 3 + op.value.as_deref().map_or(0, |v| v.chars().count());
    if op.value.is_some() {
        let meaning = paint.p(DIM, &format!("— {}", op.meaning));
        if plain_len + 4 + op.meaning.chars().count() <= WIDTH {
            let _ = writeln!(out, "  {value}  {meaning}");
        } else {
            let _ = writeln!(out, "  {value}");
            let _ = writeln!(out, "      {meaning}");
        }
    } else {
        let _ = writeln!(out, "  {value}");
    }
    for o in &op.origin {
        let head = o.headline();
        let src = source_suffix(o.source.as_ref(), paint);
        let plain = source_suffix(o.source.as_ref(), &Paint { on: false });
        if 6 + head.chars().count() + plain.chars().count() <= WIDTH {
            let _ = writeln!(out, "      {head}{src}");
        } else {
            let _ = writeln!(out, "      {head}");
            if !src.is_empty() {
                let _ = writeln!(out, "        {}", src.trim_start());
            }
        }
    }
}

/// The terminal report of a load's verifier log. See the [module docs](self). For a log with no
/// error this is [`render_accepted`].
pub fn render_report(log: &VerifierLog<'_>, map: &SourceMap, opts: &ReportOptions) -> String {
    let paint = Paint { on: opts.color };
    match log.verdict() {
        Verdict::NotALog => {
            let lines = log.records().len();
            return format!(
                "{} {}\n",
                paint.p(ERROR, "not a verifier log:"),
                if lines == 0 {
                    "the text is empty".to_owned()
                } else {
                    format!("none of its {lines} lines is a line the verifier writes")
                }
            );
        }
        Verdict::Truncated => {
            // What is there, instruction by instruction, under a headline that says no more
            // than the log does.
            let body = render_accepted(log, map, opts);
            let rest = body.split_once('\n').map_or("", |(_, r)| r);
            let cut = if log.text().ends_with('\n') {
                "it ends"
            } else {
                "it ends in the middle of a line,"
            };
            return format!(
                "{} {cut} before the verifier's verdict (no `processed N insns` footer): the \
                 log was cut off, so it tells neither acceptance nor refusal\n{rest}",
                paint.p(ERROR, "truncated:")
            );
        }
        Verdict::Accepted | Verdict::Refused => {}
    }
    let Some(err) = log.error() else {
        return render_accepted(log, map, opts);
    };
    let mut out = String::new();
    let failing = failing_insn(log, &err);

    // 1. The message and what it means.
    let mut lines = err.lines.iter();
    let head = lines.next().copied().unwrap_or("");
    let _ = writeln!(out, "{} {}", paint.p(ERROR, "error:"), paint.p(BOLD, head));
    let more: Vec<&&str> = lines.collect();
    let shown = if opts.full {
        more.len()
    } else {
        more.len().min(MESSAGE_LINES - 1)
    };
    for l in &more[..shown] {
        let _ = writeln!(out, "       {}", truncate(l, WIDTH));
    }
    if shown < more.len() {
        let _ = writeln!(out, "       … {} more lines (--full)", more.len() - shown);
    }
    let hits = match_messages(head);
    match hits.first() {
        Some(m) => write_explanation(&mut out, m, &paint),
        None => {
            let _ = writeln!(
                out,
                "  {}",
                paint.p(
                    DIM,
                    "(this message is not in the catalogue of `bpfsmith explain`)"
                )
            );
        }
    }
    for m in map.mismatches(log).iter().take(1) {
        let _ = writeln!(
            out,
            "{} the log is not from this program: at {} the log has `{}`, the program {}",
            paint.p(HEAD, "warning:"),
            m.slot,
            m.log,
            m.program
                .as_deref()
                .map_or("nothing".to_owned(), |p| format!("`{p}`"))
        );
    }

    // 2. Where.
    if let Some((slot, record)) = failing.filter(|&(s, r)| {
        let known = !insn_text(log, map, s, r).is_empty();
        if !known {
            let _ = writeln!(
                out,
                "\n{} {}",
                paint.p(HEAD, "at"),
                paint.p(
                    BOLD,
                    &format!("instruction {s} (found before verification started: the log shows no instruction)")
                )
            );
        }
        known
    }) {
        out.push('\n');
        let text = insn_text(log, map, slot, record);
        let _ = writeln!(
            out,
            "{} {}",
            paint.p(HEAD, "at"),
            paint.p(BOLD, &format!("{slot}: {text}"))
        );
        match map.source(slot) {
            Some(src) => {
                let col = src.column.map(|c| format!(":{c}")).unwrap_or_default();
                let _ = writeln!(out, "   --> {}{col}", src.location());
                if let Some(t) = &src.text {
                    let ln = src.line.map(|l| l.to_string()).unwrap_or_default();
                    let pad = " ".repeat(ln.len());
                    let _ = writeln!(out, "   {pad} |");
                    let _ = writeln!(out, "   {} | {}", paint.p(SLOT, &ln), paint.p(SOURCE, t));
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "   {}",
                    paint.p(
                        DIM,
                        "(no source line: the log has none, and no program was given)"
                    )
                );
            }
        }
        out.push('\n');
        let _ = writeln!(out, "{}", paint.p(HEAD, "listing around it:"));
        write_listing(
            &mut out,
            log,
            map,
            slot,
            if opts.full { usize::MAX } else { 3 },
            &paint,
        );

        // 3. The operands.
        let ops = operands(log, map, slot);
        if !ops.is_empty() {
            out.push('\n');
            let what = format!("what {slot} uses, and where each value came from on this path:");
            let _ = writeln!(out, "{}", paint.p(HEAD, &what));
            if let Some(abi) = helper_abi(log, map, slot) {
                let _ = writeln!(out, "  {}", paint.p(DIM, &format!("({abi})")));
            }
            for op in &ops {
                write_operand(&mut out, op, &paint);
                if let Some(note) = int_result_note(op, map) {
                    let _ = writeln!(out, "      {}", paint.p(DIM, &wrap(&note, WIDTH, 6)));
                }
            }
        }
        if opts.full {
            write_full_state(&mut out, log, map, slot, &paint);
        }
    }

    // 4. The path.
    let summary = path_summary(log, "✗");
    if !summary.is_empty() {
        out.push('\n');
        let n = path_slots(log).len();
        let _ = writeln!(
            out,
            "{} {}",
            paint.p(HEAD, "path:"),
            wrap(&summary, WIDTH, 6)
        );
        let _ = writeln!(
            out,
            "      {}",
            paint.p(
                DIM,
                &format!("({n} instructions on this path; ✗ = refused here)")
            )
        );
    }

    // 5. Stats.
    let _ = writeln!(
        out,
        "{} {}",
        paint.p(HEAD, "stats:"),
        wrap(&stats_line(&log.stats()), WIDTH, 7)
    );
    if opts.full {
        out.push('\n');
        let _ = writeln!(
            out,
            "{}",
            paint.p(HEAD, "the whole log, with source lines:")
        );
        write_annotated_log(&mut out, log, map, failing.and_then(|f| f.1), &paint);
    } else {
        let _ = writeln!(
            out,
            "{}",
            paint.p(
                DIM,
                "(--full: every register, the whole path and the whole log with source lines)"
            )
        );
    }
    out
}

/// For a value a map helper returned (helpers 2, 3, 87, 88, 89: an `int`, 0 or a negative
/// errno), what to know about it: it is no pointer, and its errors reach r0 zero-extended
/// before Linux 6.4 with the JIT.
fn int_result_note(op: &OperandReport, map: &SourceMap) -> Option<String> {
    let slot = op
        .origin
        .iter()
        .find(|o| matches!(o.kind, OriginKind::SetBy))?
        .slot?;
    let Some(Insn::Call(Callee::Helper(id @ (2 | 3 | 87..=89)))) = map.get(slot)?.insn else {
        return None;
    };
    let h = Helper::from_id(u32::try_from(id).ok()?)?;
    Some(format!(
        "{} returns an int, 0 or a negative errno (not a pointer); test it as w0: before \
         Linux 6.4 the JIT zero-extends the error into r0",
        h.name()
    ))
}

/// The ABI line of the helper called at `slot` (`bpf_map_push_elem: r1 = map, ...`).
fn helper_abi(log: &VerifierLog<'_>, map: &SourceMap, slot: u32) -> Option<String> {
    let id = match map.get(slot).and_then(|m| m.insn) {
        Some(i) => uses(&i).helper,
        None => {
            let text = log
                .insn_records(slot)
                .last()
                .and_then(|r| match log.records()[r].kind {
                    Kind::Insn(l) => Some(l.text),
                    _ => None,
                })?;
            uses_from_text(text).helper
        }
    }?;
    let h = Helper::from_id(u32::try_from(id).ok()?)?;
    Some(match h.info().abi_line() {
        Some(abi) => format!("{}: {abi}", h.name()),
        None => h.name().to_owned(),
    })
}

fn write_explanation(out: &mut String, m: &Message, paint: &Paint) {
    for (label, text) in [
        ("what it means:", m.meaning),
        ("usual cause:  ", m.cause),
        ("fix:          ", m.fix),
    ] {
        let _ = writeln!(out, "  {} {}", paint.p(BOLD, label), wrap(text, WIDTH, 17));
    }
}

/// The listing around `slot`: `n` instructions each side, with the source line above each
/// run of instructions from the same line, the failing one marked with `>`.
fn write_listing(
    out: &mut String,
    log: &VerifierLog<'_>,
    map: &SourceMap,
    slot: u32,
    n: usize,
    paint: &Paint,
) {
    let mut around: Vec<(u32, String, Option<SourceInfo>)> = map
        .around(slot, n, n)
        .into_iter()
        .map(|m| (m.slot, m.text.clone(), m.source.clone()))
        .collect();
    if !around.iter().any(|(s, ..)| *s == slot) {
        // The map does not know the slot (an empty log map): the log's own text.
        let text = insn_text(log, map, slot, log.insn_records(slot).last());
        around.push((slot, text, None));
    }
    let width = around
        .iter()
        .map(|(s, ..)| s.to_string().len())
        .max()
        .unwrap_or(1);
    let mut last: Option<SourceInfo> = None;
    for (s, text, src) in around {
        if let Some(src) = &src {
            if !last.as_ref().is_some_and(|l| l.same_line(src)) {
                let _ = writeln!(
                    out,
                    "    {}",
                    paint.p(SOURCE, &truncate(&src.comment(true), 90))
                );
            }
            last = Some(src.clone());
        }
        let num = format!("{s:>width$}");
        if s == slot {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                paint.p(MARK, ">"),
                paint.p(MARK, &num),
                paint.p(MARK, &text)
            );
        } else {
            let _ = writeln!(out, "    {}: {text}", paint.p(SLOT, &num));
        }
    }
}

/// Every register and slot known before `slot`, with origins.
fn write_full_state(
    out: &mut String,
    log: &VerifierLog<'_>,
    map: &SourceMap,
    slot: u32,
    paint: &Paint,
) {
    let Some(trace) = trace_before(log, slot) else {
        return;
    };
    out.push('\n');
    let _ = writeln!(
        out,
        "{}",
        paint.p(
            HEAD,
            &format!("everything known before {slot} (frame {}):", trace.frame)
        )
    );
    for n in 0..=10u8 {
        let held = trace.clobbered(n).is_some_and(|c| c.before.is_some());
        if trace.reg(n).is_some() || held {
            write_operand(out, &reg_report(log, map, &trace, n, "", None), paint);
        }
    }
    if let Some(f) = trace.current() {
        for s in &f.slots {
            let op = OperandReport {
                name: format!("fp{}", s.state.off),
                role: String::new(),
                value: Some(value_text(s.state.raw)),
                meaning: describe_slot(s.state.off, &s.state.contents),
                origin: origin_lines(log, map, s.origin),
            };
            write_operand(out, &op, paint);
        }
    }
}

/// The log as printed, with the map's source line above each instruction whose line the log
/// does not already show; `>` marks the failing record, `|` the records of the path.
fn write_annotated_log(
    out: &mut String,
    log: &VerifierLog<'_>,
    map: &SourceMap,
    failing: Option<usize>,
    paint: &Paint,
) {
    let on_path: std::collections::HashSet<usize> = log.path().into_iter().collect();
    let mut last: Option<SourceInfo> = None;
    for (i, r) in log.records().iter().enumerate() {
        let gutter = if Some(i) == failing {
            paint.p(MARK, ">")
        } else if on_path.contains(&i) {
            paint.p(DIM, "|")
        } else {
            " ".to_owned()
        };
        match r.kind {
            Kind::Source(s) => {
                last = Some(SourceInfo {
                    file: s.file.unwrap_or("").to_owned(),
                    line: s.line,
                    column: None,
                    text: Some(s.text.trim().to_owned()),
                });
                let _ = writeln!(out, "{gutter} {}", paint.p(SOURCE, r.raw));
                continue;
            }
            Kind::Branch { .. } => last = None,
            Kind::Insn(l) => {
                if let Some(src) = map.source(l.insn) {
                    let shown = last.as_ref().is_some_and(|p| {
                        p.line == src.line
                            && p.file.rsplit('/').next() == src.file.rsplit('/').next()
                    });
                    if !shown {
                        let _ = writeln!(out, "{gutter} {}", paint.p(SOURCE, &src.comment(false)));
                        last = Some(src.clone());
                    }
                }
            }
            _ => {}
        }
        let text = match r.kind {
            Kind::Error(_) | Kind::Glued { .. } => paint.p(ERROR, r.raw),
            _ if Some(i) == failing => paint.p(MARK, r.raw),
            _ => r.raw.to_owned(),
        };
        let _ = writeln!(out, "{gutter} {text}");
    }
}

/// A register or slot entry of a state line: `r6=ctx()`, `fp-8=mmmm????`.
fn entry(name: &str, raw: &str) -> String {
    format!("{name}={}", value_text(raw))
}

/// How many instruction lines the default view of an accepted log shows.
pub const ACCEPTED_INSNS: usize = 400;

/// An accepted program's level-2 log, instruction by instruction: the source line above each
/// run of instructions from one line, each instruction with what it set (or, for a jump,
/// narrowed) and the whole state after it, the `from A to B` branches as they are taken up, and the stats. A log without
/// instructions (level 1 or 4 of an accepted program: only the stats) says to load with
/// level 2. With [`ReportOptions::full`], the log's other lines too (live registers,
/// precision tracking).
pub fn render_accepted(log: &VerifierLog<'_>, map: &SourceMap, opts: &ReportOptions) -> String {
    let paint = Paint { on: opts.color };
    let mut out = String::new();
    let count = log.insns().count();
    let what = match map.program_name() {
        Some(n) => format!("the verifier accepted program `{n}`"),
        None => "the verifier accepted the program".to_owned(),
    };
    let _ = writeln!(out, "{} {what}", paint.p(SOURCE, "accepted:"));
    let _ = writeln!(
        out,
        "{} {}",
        paint.p(HEAD, "stats:"),
        wrap(&stats_line(&log.stats()), WIDTH, 7)
    );
    if count == 0 {
        let _ = writeln!(
            out,
            "{}",
            paint.p(
                DIM,
                "(this log shows no instructions: load with log level 2 to see each one with its state)"
            )
        );
        return out;
    }
    out.push('\n');
    let mut last: Option<SourceInfo> = None;
    let records = log.records();
    // The last instruction shown: its record, where its state line is in `out`, its glued
    // target. Lines of precision tracking may come between it and its state line.
    let mut pending: Option<(usize, usize, usize, Option<u32>)> = None;
    // The default view is bounded, as the refused one is: the first instructions, then how
    // many more there are (a level-2 log can hold millions).
    let mut shown = 0usize;
    walk_log_while(log, |i, t| {
        let r = &records[i];
        if !opts.full && matches!(r.kind, Kind::Insn(_)) {
            if shown == ACCEPTED_INSNS {
                let _ = writeln!(
                    out,
                    "\n  {}",
                    paint.p(
                        DIM,
                        &format!(
                            "… {} more instruction lines in the log (--full shows them all, \
                             --html FILE as a page)",
                            count - shown
                        )
                    )
                );
                return false;
            }
            shown += 1;
        }
        if matches!(
            r.kind,
            Kind::Source(_)
                | Kind::Branch { .. }
                | Kind::Safe { .. }
                | Kind::Func { .. }
                | Kind::FrameHeader(_)
                | Kind::FrameState(_)
        ) {
            pending = None;
        }
        match r.kind {
            Kind::Insn(l) => {
                if let Some(src) = map.source(l.insn) {
                    if !last.as_ref().is_some_and(|p| p.same_line(src)) {
                        let _ = writeln!(out, "  {}", paint.p(SOURCE, &src.comment(false)));
                        last = Some(src.clone());
                    }
                }
                let text = insn_text(log, map, l.insn, Some(i));
                let _ = writeln!(
                    out,
                    "  {}: {text}",
                    paint.p(SLOT, &format!("{:>4}", l.insn))
                );
                let start = out.len();
                write_state_line(&mut out, t, i, l.glued_target, &paint);
                pending = Some((i, start, out.len(), l.glued_target));
            }
            // Older kernels print an instruction's result on a state line after it: show the
            // instruction's line again with it.
            Kind::State { .. } if pending.is_some() => {
                if let Some((rec, start, end, glued)) = pending {
                    let mut line = String::new();
                    write_state_line(&mut line, t, rec, glued, &paint);
                    out.replace_range(start..end, &line);
                    pending = Some((rec, start, start + line.len(), glued));
                }
            }
            Kind::Branch { from, to, safe, .. } => {
                last = None;
                let how = if safe {
                    " (already verified: safe)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "\n  {}",
                    paint.p(
                        HEAD,
                        &format!("from {from} to {to}: the branch at {from} taken{how}")
                    )
                );
            }
            Kind::Safe { insn } => {
                let _ = writeln!(
                    out,
                    "          {}",
                    paint.p(
                        DIM,
                        &format!("{insn}: safe (a state already verified covers this one)")
                    )
                );
            }
            Kind::Func { func, insn } => {
                let _ = writeln!(
                    out,
                    "  {}",
                    paint.p(HEAD, &format!("function {func} starts at {insn}"))
                );
            }
            Kind::FrameHeader(_) | Kind::FrameState(_) => {
                let _ = writeln!(out, "          {}", paint.p(DIM, r.raw.trim()));
            }
            Kind::Source(_)
            | Kind::State { .. }
            | Kind::Blank
            | Kind::Footer(_)
            | Kind::VerificationTime(_)
            | Kind::StackDepth(_) => {}
            _ if opts.full => {
                let _ = writeln!(out, "          {}", paint.p(DIM, r.raw));
            }
            _ => {}
        }
        true
    });
    out
}

/// The state line under instruction record `record`: `set r2=fp-4  known r1=... r10=fp0`.
fn write_state_line(
    out: &mut String,
    t: &Trace<'_>,
    record: usize,
    glued: Option<u32>,
    paint: &Paint,
) {
    let [set, narrowed, rest] = state_entries(t, record);
    let mut line = String::new();
    if !set.is_empty() {
        line.push_str(&paint.p(BOLD, &format!("set {}", set.join(" "))));
        line.push_str("  ");
    }
    if !narrowed.is_empty() {
        line.push_str(&paint.p(BOLD, &format!("narrowed {}", narrowed.join(" "))));
        line.push_str("  ");
    }
    if !rest.is_empty() {
        line.push_str(&paint.p(DIM, &format!("known {}", rest.join(" "))));
    }
    if let Some(target) = glued {
        line = format!("{} {line}", paint.p(DIM, &format!("(then at {target}:)")));
    }
    if !line.is_empty() {
        let _ = writeln!(out, "          {}", line.trim_end());
    }
}

/// The entries of the current frame after record `record`: those it set, those it narrowed
/// (a conditional jump), and the others.
fn state_entries(t: &Trace<'_>, record: usize) -> [Vec<String>; 3] {
    let mut out: [Vec<String>; 3] = Default::default();
    let Some(f) = t.current() else {
        return out;
    };
    let mut put = |e: String, o: Origin| {
        let k = if o.record == record {
            0
        } else if o.narrowed == Some(record) {
            1
        } else {
            2
        };
        out[k].push(e);
    };
    for (n, r) in f.regs.iter().enumerate() {
        if let Some(r) = r {
            put(entry(&format!("r{n}"), r.state.raw), r.origin);
        }
    }
    for s in &f.slots {
        put(entry(&format!("fp{}", s.state.off), s.state.raw), s.origin);
    }
    out
}

/// The report of a log given as text (saved from `bpftool -d`, a CI artifact, another
/// loader), joined to `program`'s source lines when given (else the log's own annotations):
/// [`render_report`] over [`SourceMap::new`].
pub fn render_log_text(text: &str, program: Option<&Program>, opts: &ReportOptions) -> String {
    let log = VerifierLog::parse(text);
    let map = SourceMap::new(&log, program);
    render_report(&log, &map, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Size, R0, R1, R10, R2, R3};

    #[test]
    fn stack_pointers_beyond_16_bits_read_as_fp_minus_n() {
        assert_eq!(stack_pointer_text("fp0xffffffffffff7ff8"), "fp-32776");
        assert_eq!(stack_pointer_text("fp-8"), "fp-8");
        assert_eq!(stack_pointer_text("fp0x10"), "fp16");
        assert_eq!(stack_pointer_text("fp0xzz"), "fp0xzz");
        assert_eq!(value_text("R2=fp0xffffffffffff7ff8"), "fp-32776");
    }

    #[test]
    fn uses_of_instructions() {
        let push = uses(&Insn::Call(Callee::Helper(87)));
        assert_eq!(push.regs, vec![(1, "map"), (2, "value"), (3, "flags")]);
        let unknown = uses(&Insn::Call(Callee::Helper(100_000)));
        assert_eq!(unknown.regs.len(), 5);
        assert_eq!(uses(&Insn::Exit).regs, vec![(0, "return value")]);
        let st = uses(&Insn::Store {
            size: Size::U32,
            dst: R10,
            off: -4,
            src: R1,
        });
        assert_eq!(st.regs, vec![(10, "address"), (1, "stored value")]);
        assert_eq!(
            st.mem,
            Some(MemUse {
                base: 10,
                off: -4,
                size: 4
            })
        );
        let mov = uses(&Insn::Alu {
            width: crate::insn::Width::W64,
            op: crate::insn::AluOp::Mov,
            dst: R0,
            src: Operand::Reg(R1),
        });
        assert_eq!(mov.regs, vec![(1, "operand")]);
        let add = uses(&Insn::Alu {
            width: crate::insn::Width::W64,
            op: crate::insn::AluOp::Add,
            dst: R2,
            src: Operand::Reg(R3),
        });
        assert_eq!(add.regs, vec![(2, "operand"), (3, "operand")]);
    }

    #[test]
    fn uses_of_text() {
        assert_eq!(
            uses_from_text("call bpf_map_pop_elem#88").regs,
            vec![(1, "map"), (2, "value")]
        );
        assert_eq!(uses_from_text("r0 = r1").regs, vec![(1, "operand")]);
        assert_eq!(uses_from_text("r10 += -4").regs, vec![(10, "operand")]);
        let ld = uses_from_text("r0 = *(u64 *)(r0 +0)");
        assert_eq!(ld.regs, vec![(0, "address")]);
        assert_eq!(
            ld.mem,
            Some(MemUse {
                base: 0,
                off: 0,
                size: 8
            })
        );
        let st = uses_from_text("*(u32 *)(r10 -4) = r1");
        assert_eq!(st.regs, vec![(10, "address"), (1, "stored value")]);
        assert_eq!(
            st.mem,
            Some(MemUse {
                base: 10,
                off: -4,
                size: 4
            })
        );
        assert_eq!(
            uses_from_text("if r7 > r8 goto pc+5").regs,
            vec![(7, "compared"), (8, "compared")]
        );
        assert_eq!(uses_from_text("exit").regs, vec![(0, "return value")]);
    }

    #[test]
    fn slots_and_words() {
        assert_eq!(slots_covering(-4, 4), vec![-8]);
        assert_eq!(slots_covering(-12, 8), vec![-8, -16]);
        assert_eq!(
            describe_slot(-8, &SlotContents::Types("mmmm????")),
            "fp-8..fp-5 never written, fp-4..fp-1 data"
        );
        assert_eq!(regs_named("R1 type=scalar expected=map_ptr"), vec![1]);
        assert_eq!(
            regs_named("invalid read from stack R2 off=-4 size=4"),
            vec![2]
        );
        assert_eq!(regs_in("*(u32 *)(r10 -4) = w1"), vec![10, 1]);
    }
}
