//! The viewer's def-use analysis: which registers and stack slots an instruction uses, each
//! with its role, and where each value came from on the path.
//!
//! What an instruction reads is [`Insn::uses`] and [`Insn::mem_access`], on the program's
//! instruction when the [`SourceMap`] has it, else on the log line decoded by the assembler's
//! parser ([`crate::verifier::InsnLine::decode`]); the viewer adds the roles (a helper's
//! argument names, `address`, `stored value` ...) and the values the trace knows.

use crate::helpers::{ArgKind, Helper};
use crate::insn::{AtomicOp, Callee, Insn, Reg};
use crate::verifier::source_map::{SourceInfo, SourceMap};
use crate::verifier::trace::{trace_before, Origin, Trace, TracedReg};
use crate::verifier::{Kind, LogError, PtrKind, VerifierLog};

use super::words::{describe_slot, describe_value, expectation, value_text};

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

/// What an instruction reads, for the report: registers (each with its role) and memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Uses {
    /// Registers read, in the order [`Insn::uses`] gives (operands, then implicit ones), each
    /// with a short role (`map`, `value`, `flags` for a helper's arguments; `address`,
    /// `stored value`, `operand`, `return value`).
    pub regs: Vec<(u8, &'static str)>,
    /// A memory access through a base register.
    pub mem: Option<MemUse>,
    /// A helper call's number.
    pub helper: Option<i32>,
    /// The first register the instruction writes ([`Insn::defs`]), e.g. `r10` for
    /// `r10 += -4`, `r0` for a call.
    pub writes: Option<u8>,
}

/// The name of argument register `r` of helper `id`: the parameter's name from
/// [`Helper::info`], or `argument` when the helper is not described.
fn helper_arg(id: i32, r: Reg) -> &'static str {
    u32::try_from(id)
        .ok()
        .and_then(Helper::from_id)
        .and_then(|h| h.info().args)
        .and_then(|args| args.get((r.num() as usize).checked_sub(1)?))
        .map_or("argument", |a| a.name)
}

/// The role of register `r`, which `insn` reads.
fn role(insn: &Insn, r: Reg) -> &'static str {
    if insn.mem_access().is_some_and(|m| m.base == r) {
        return "address";
    }
    match *insn {
        Insn::Call(Callee::Helper(id)) => helper_arg(id, r),
        Insn::CallX { dst } if dst == r => "target",
        Insn::Call(_) | Insn::CallX { .. } => "argument",
        Insn::Exit => "return value",
        Insn::Store { .. } => "stored value",
        Insn::Atomic {
            op: AtomicOp::CmpXchg,
            src,
            ..
        } if r == Reg::R0 && src != r => "expected value",
        Insn::LdAbs { .. } | Insn::LdInd { .. } if r == Reg::R6 => "context",
        Insn::LdInd { .. } => "offset",
        Insn::Jump { .. } => "compared",
        _ => "operand",
    }
}

/// The registers and memory `insn` reads ([`Insn::uses`], [`Insn::mem_access`]), with
/// their roles.
pub fn uses(insn: &Insn) -> Uses {
    Uses {
        regs: insn
            .uses()
            .iter()
            .map(|r| (r.num(), role(insn, r)))
            .collect(),
        mem: insn.mem_access().map(|m| MemUse {
            base: m.base.num(),
            off: m.off,
            size: m.size.bytes(),
        }),
        helper: match *insn {
            Insn::Call(Callee::Helper(id)) => Some(id),
            _ => None,
        },
        writes: insn.defs().iter().next().map(Reg::num),
    }
}

/// The instruction at `slot`: the program's, when the map has it, else the log's last line
/// of that instruction, decoded.
pub(super) fn insn_at(log: &VerifierLog<'_>, map: &SourceMap, slot: u32) -> Option<Insn> {
    if let Some(i) = map.get(slot).and_then(|m| m.insn) {
        return Some(i);
    }
    let r = log.insn_records(slot).last()?;
    match log.records()[r].kind {
        Kind::Insn(l) => l.decode(),
        _ => None,
    }
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
pub(super) fn insn_text(
    log: &VerifierLog<'_>,
    map: &SourceMap,
    slot: u32,
    record: Option<usize>,
) -> String {
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
                None if matches!(l.decode(), Some(Insn::Jump { .. })) => Some(Jump::NotTaken),
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
pub(super) fn origin_lines(log: &VerifierLog<'_>, map: &SourceMap, o: Origin) -> Vec<OriginLine> {
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

pub(super) fn reg_report(
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

/// The registers and stack slots instruction `slot` uses (from the program's instruction when
/// the map has it, else from the log's line, decoded), each with its value before the instruction on
/// the failing path and where that came from. Registers the error message names are included.
pub fn operands(log: &VerifierLog<'_>, map: &SourceMap, slot: u32) -> Vec<OperandReport> {
    let err = log.error();
    let Some(trace) = trace_before(log, slot) else {
        return Vec::new();
    };
    let mut u = insn_at(log, map, slot).map_or_else(Uses::default, |i| uses(&i));
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
    crate::verifier::parse_int(v).and_then(|n| u32::try_from(n).ok())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{AtomicOp, Size, R0, R1, R10, R2, R3, R6, R7};

    #[test]
    fn roles_of_what_instructions_read() {
        let push = uses(&Insn::call(87));
        assert_eq!(push.regs, vec![(1, "map"), (2, "value"), (3, "flags")]);
        assert_eq!(push.helper, Some(87));
        let unknown = uses(&Insn::call(100_000));
        assert_eq!(unknown.regs.len(), 5);
        assert_eq!(uses(&Insn::Exit).regs, vec![(0, "return value")]);
        let st = uses(&Insn::store(Size::U32, R10, -4, R1));
        assert_eq!(st.regs, vec![(10, "address"), (1, "stored value")]);
        let m = MemUse {
            base: 10,
            off: -4,
            size: 4,
        };
        assert_eq!(st.mem, Some(m));
        assert_eq!(uses(&Insn::mov(R0, R1)).regs, vec![(1, "operand")]);
        assert_eq!(
            uses(&Insn::add(R2, R3)).regs,
            vec![(2, "operand"), (3, "operand")]
        );
        assert_eq!(uses(&Insn::add(R10, -4)).writes, Some(10));
        let cmpxchg = uses(&Insn::atomic(Size::U64, AtomicOp::CmpXchg, R10, -8, R1));
        assert_eq!(
            cmpxchg.regs,
            vec![(10, "address"), (1, "operand"), (0, "expected value")]
        );
        let jump = uses(&Insn::jump(crate::insn::Cond::Gt, R7, R6, 5));
        assert_eq!(jump.regs, vec![(7, "compared"), (6, "compared")]);
    }

    /// A log line is decoded by the assembler's parser, so a log without its program gets
    /// the same answers.
    #[test]
    fn log_lines_decode_to_the_same_uses() {
        let line = |op: u8, text: &str| {
            let l = crate::verifier::InsnLine {
                insn: 0,
                opcode: op,
                text,
                state: crate::verifier::StateText::default(),
                glued_target: None,
            };
            uses(&l.decode().expect(text))
        };
        assert_eq!(
            line(0x85, "call bpf_map_pop_elem#88").regs,
            vec![(1, "map"), (2, "value")]
        );
        assert_eq!(line(0xbf, "r0 = r1").regs, vec![(1, "operand")]);
        assert_eq!(line(0x07, "r10 += -4").regs, vec![(10, "operand")]);
        let ld = line(0x79, "r0 = *(u64 *)(r0 +0)");
        assert_eq!(ld.regs, vec![(0, "address")]);
        let st = line(0x63, "*(u32 *)(r10 -4) = r1");
        assert_eq!(st.regs, vec![(10, "address"), (1, "stored value")]);
        assert_eq!(
            line(0x2d, "if r7 > r8 goto pc+5").regs,
            vec![(7, "compared"), (8, "compared")]
        );
        assert_eq!(line(0x95, "exit").regs, vec![(0, "return value")]);
    }

    #[test]
    fn slots_and_message_registers() {
        assert_eq!(slots_covering(-4, 4), vec![-8]);
        assert_eq!(slots_covering(-12, 8), vec![-8, -16]);
        assert_eq!(regs_named("R1 type=scalar expected=map_ptr"), vec![1]);
        assert_eq!(
            regs_named("invalid read from stack R2 off=-4 size=4"),
            vec![2]
        );
    }
}
