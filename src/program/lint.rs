//! Warnings about code that builds and loads but behaves differently across kernels. The one
//! place the checks live: [`crate::program::Program::warnings`] (the DSL) and the assembler's
//! [`crate::text::asm_warnings`] both call [`helper_result_compares`], so the two cannot drift.
//!
//! # A helper's `int` result compared with 64 bits
//!
//! Before Linux 6.4 the x86 JIT calls a map's update, delete, push, pop and peek operations
//! directly, and those returned `int`: a negative error reaches `r0` zero-extended
//! (`0x00000000fffffff9` for `-E2BIG`), while the interpreter sign-extends it. Linux 6.4 made
//! the operations return `long`. So after helpers 2, 3, 87, 88 and 89, a 64-bit compare of
//! `r0` with a negative number (`if r0 != -7`), or a signed 64-bit compare (`if r0 s< 0`),
//! takes the other branch on those kernels. The 32-bit view is the same on every kernel:
//! `if w0 != -7 goto fail`. A compare with 0 or another non-negative number by `==`, `!=`, or
//! an unsigned operator is portable (an error is a large number either way) and not reported.
//!
//! The analysis is deliberately simple and never guesses: it follows the straight-line code
//! after the call (through the fall-through side of conditional jumps) and stops at the first
//! instruction that another jump or call can land on, at any write to `r0`, at a call and at
//! `exit` or `goto`. A copy of `r0` into another register is not followed.
//!
//! ```
//! use bpfsmith::prelude::*;
//! use bpfsmith::program::lint::helper_result_compares;
//!
//! let mut obj = Object::new("GPL");
//! let queue = obj.map("queue", MapDef::queue::<u32>(4)).unwrap();
//! let mut p = ProgramBuilder::new("push", Section::SOCKET);
//! let fail = p.label("fail");
//! p.store(Size::U32, R10, -4, 1);
//! p.push(&queue, StackSlot::at(-4), PushFlags::ANY);
//! p.jump_if(R0, Cond::Eq, -7, fail);   // 64 bits: not portable before Linux 6.4
//! p.jump_if(W0, Cond::Eq, -7, fail);   // 32 bits: the same on every kernel
//! p.mov(R0, 0).exit();
//! p.bind(fail).mov(R0, 1).exit();
//! let prog = p.finish().unwrap();
//!
//! let found = helper_result_compares(&prog.insns);
//! assert_eq!(found.len(), 1);
//! assert_eq!((found[0].helper, found[0].imm), (87, -7));
//! let w = &prog.warnings()[0];
//! assert!(w.to_string().contains("warning:"));
//! assert!(w.help().contains("`if w0 == -7 goto ...`"));
//! ```

use std::fmt;

use crate::diag::{render_at, render_message, Severity};
use crate::helpers::Helper;
use crate::insn::{Callee, Cond, Insn, Operand, Pseudo, Reg, Width};

use super::Location;

/// The helpers whose map operation returned `int` before Linux 6.4, so that the x86 JIT hands
/// a negative result back zero-extended: update (2), delete (3), push (87), pop (88), peek (89).
pub const INT_RESULT_HELPERS: [Helper; 5] = [
    Helper::MapUpdateElem,
    Helper::MapDeleteElem,
    Helper::MapPushElem,
    Helper::MapPopElem,
    Helper::MapPeekElem,
];

/// The error a help text shows for `helper` (its number): `-ENOENT` (-2) for pop, peek and
/// delete, `-E2BIG` (-7) for push and update (a full map).
pub fn example_error(helper: i32) -> i32 {
    match Helper::from_id(helper as u32) {
        Some(Helper::MapPopElem | Helper::MapPeekElem | Helper::MapDeleteElem) => -2,
        _ => -7,
    }
}

/// A 64-bit conditional jump on `r0` that still holds one of the [`INT_RESULT_HELPERS`]'
/// results: against a negative immediate, or a signed compare against any immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HelperResultCompare {
    /// Index (in the program's instructions) of the helper call.
    pub call: usize,
    /// Index of the jump.
    pub jump: usize,
    /// The helper's number.
    pub helper: i32,
    /// The jump's condition.
    pub cond: Cond,
    /// The immediate `r0` is compared with.
    pub imm: i32,
}

fn is_signed(c: Cond) -> bool {
    matches!(c, Cond::Sgt | Cond::Sge | Cond::Slt | Cond::Sle)
}

impl HelperResultCompare {
    fn helper_name(&self) -> &'static str {
        Helper::from_id(self.helper as u32).map_or("the helper", Helper::name)
    }

    /// One line: what is compared, and that it is not portable.
    pub fn message(&self) -> String {
        let result = format!(
            "r0, `{}`'s int result (helper {})",
            self.helper_name(),
            self.helper
        );
        let what = if self.imm < 0 {
            format!("64-bit compare of {result}, with {}", self.imm)
        } else {
            format!(
                "signed 64-bit compare (`{}`) of {result}",
                self.cond.symbol()
            )
        };
        format!("{what}: not portable to kernels before Linux 6.4")
    }

    /// Why, and the portable spelling of the same jump.
    pub fn help(&self) -> String {
        // The error to show: the compared number when it is one, else the helper's usual one.
        let err = if self.imm < 0 {
            self.imm
        } else {
            example_error(self.helper)
        };
        format!(
            "before Linux 6.4 the JIT zero-extends this helper's int error into r0 \
             ({:#018x} for {err}); compare the low 32 bits: `if w0 {} {} goto ...`",
            err as u32 as u64,
            self.cond.symbol(),
            self.imm
        )
    }
}

/// Every [`HelperResultCompare`] of `insns` (jump offsets resolved, as in a finished
/// [`crate::program::Program`]), in instruction order. Linear in the number of instructions; a
/// program without calls to the [`INT_RESULT_HELPERS`] costs one pass.
pub fn helper_result_compares(insns: &[Insn]) -> Vec<HelperResultCompare> {
    let int_helper = |i: &Insn| match i {
        Insn::Call(Callee::Helper(h)) => INT_RESULT_HELPERS.iter().any(|x| x.id() as i32 == *h),
        _ => false,
    };
    let mut out = Vec::new();
    if !insns.iter().any(int_helper) {
        return out;
    }
    let targets = landing_points(insns);
    for (call, insn) in insns.iter().enumerate() {
        if !int_helper(insn) {
            continue;
        }
        let Insn::Call(Callee::Helper(helper)) = *insn else {
            continue;
        };
        for (jump, next) in insns.iter().enumerate().skip(call + 1) {
            if targets[jump] {
                break;
            }
            if let Insn::Jump {
                width: Width::W64,
                cond,
                dst: Reg::R0,
                src: Operand::Imm(imm),
                ..
            } = *next
            {
                if imm < 0 || is_signed(cond) {
                    out.push(HelperResultCompare {
                        call,
                        jump,
                        helper,
                        cond,
                        imm,
                    });
                }
            }
            if ends_straight_line(next) || next.defs().contains(Reg::R0) {
                break;
            }
        }
    }
    out
}

/// Which instructions a jump, a local call or a function's address lands on.
fn landing_points(insns: &[Insn]) -> Vec<bool> {
    let map = crate::slots::SlotMap::new(insns);
    let mut targets = vec![false; insns.len()];
    for (_, slot, insn) in crate::slots::with_slots(insns) {
        let off = match *insn {
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => i32::try_from(imm).ok(),
            _ => insn.branch_offset(),
        };
        let to = off.and_then(|off| usize::try_from(slot as i64 + 1 + off as i64).ok());
        if let Some(t) = to.and_then(|t| map.index(t)) {
            targets[t] = true;
        }
    }
    targets
}

/// Whether execution never falls through to the next instruction, or leaves the function.
fn ends_straight_line(i: &Insn) -> bool {
    matches!(
        i,
        Insn::Exit | Insn::Ja { .. } | Insn::JaLong { .. } | Insn::Call(_) | Insn::CallX { .. }
    )
}

/// Control flow the verifier refuses (its `check_subprogs` and `check_cfg`), found in a
/// finished program. Each can be encoded, so the assembler and the DSL's
/// [`crate::program::ProgramBuilder::finish_lenient`] build the program and warn: people write
/// such programs on purpose, to test the verifier or to reproduce a bug.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FlowIssue {
    /// A jump (or a local call, or a function address) whose target slot is outside the
    /// program, or outside the function it is in. The verifier: `jump out of range from insn
    /// FROM to TO`.
    JumpOutOfRange {
        /// Index of the jump.
        insn: usize,
        /// Its slot.
        slot: usize,
        /// The target slot (may be negative, or past the end).
        target: i64,
        /// The program's slot count.
        slots: usize,
        /// When the target is inside the program but in another function: that function.
        other_function: Option<String>,
    },
    /// A jump whose target is the second slot of an `ld_imm64`. The verifier: `jump into the
    /// middle of ldimm64 insn N` (N the `ld_imm64`'s slot).
    JumpIntoLdImm64 {
        /// Index of the jump.
        insn: usize,
        /// The target slot.
        target: usize,
        /// The `ld_imm64`'s slot.
        ld_imm64: usize,
    },
    /// The last instruction of the program, or of a function, is neither `exit` nor `goto`:
    /// execution would run past its end. The verifier: `last insn is not an exit or jmp`.
    FallsOffEnd {
        /// Index of that last instruction.
        insn: usize,
        /// The function it ends (the program's name for the entry).
        function: String,
        /// The function that follows, when execution would run into it.
        into: Option<String>,
    },
    /// Instructions no path from the entry reaches. The verifier: `unreachable insn N`.
    Unreachable {
        /// Index of the first one.
        insn: usize,
        /// Its slot.
        slot: usize,
        /// How many instructions in a row.
        count: usize,
    },
}

impl FlowIssue {
    /// The instruction the issue is about.
    pub fn insn(&self) -> usize {
        match *self {
            FlowIssue::JumpOutOfRange { insn, .. }
            | FlowIssue::JumpIntoLdImm64 { insn, .. }
            | FlowIssue::FallsOffEnd { insn, .. }
            | FlowIssue::Unreachable { insn, .. } => insn,
        }
    }

    /// One line: what is wrong.
    pub fn message(&self) -> String {
        match self {
            FlowIssue::JumpOutOfRange {
                target,
                slots,
                other_function: None,
                ..
            } => format!(
                "this jump lands at slot {target}, outside the program (slots 0 to {})",
                *slots as i64 - 1
            ),
            FlowIssue::JumpOutOfRange {
                target,
                other_function: Some(f),
                ..
            } => format!("this jump lands at slot {target}, in another function (`{f}`)"),
            FlowIssue::JumpIntoLdImm64 { target, .. } => {
                format!("this jump lands at slot {target}, the second half of an ld_imm64")
            }
            FlowIssue::FallsOffEnd {
                function,
                into: None,
                ..
            } => format!(
                "`{function}` falls off the end: its last instruction is not `exit` or `goto`"
            ),
            FlowIssue::FallsOffEnd {
                function,
                into: Some(next),
                ..
            } => format!("execution falls through from `{function}` into function `{next}`"),
            FlowIssue::Unreachable { count: 1, .. } => "unreachable instruction".to_owned(),
            FlowIssue::Unreachable { count, .. } => format!("{count} unreachable instructions"),
        }
    }

    /// What the verifier says about it (its own words), as a `note:` text.
    pub fn verifier_says(&self) -> String {
        let says = match *self {
            FlowIssue::JumpOutOfRange { slot, target, .. } => {
                format!("jump out of range from insn {slot} to {target}")
            }
            FlowIssue::JumpIntoLdImm64 { ld_imm64, .. } => {
                format!("jump into the middle of ldimm64 insn {ld_imm64}")
            }
            FlowIssue::FallsOffEnd { .. } => "last insn is not an exit or jmp".to_owned(),
            FlowIssue::Unreachable { slot, .. } => format!("unreachable insn {slot}"),
        };
        format!("the verifier refuses it: `{says}`")
    }
}

/// Every [`FlowIssue`] of `prog`, in instruction order: jumps out of range or into an
/// `ld_imm64`, programs and functions that fall off their end, unreachable code. One pass to
/// index the slots and one walk of the reachable code.
pub fn control_flow(prog: &super::Program) -> Vec<FlowIssue> {
    let insns = &prog.insns;
    let mut out = Vec::new();
    if insns.is_empty() {
        return out;
    }
    let map = prog.slot_map();
    let total = map.slot_count();
    let mut relocated: Vec<usize> = prog
        .relocs
        .iter()
        .filter(|r| r.kind == super::RelocKind::Function)
        .map(|r| r.insn)
        .collect();
    relocated.sort_unstable();
    // Function starts (sorted, entry first) and the function of an instruction. As the
    // verifier does, every target of a local call or function address starts a function.
    let mut starts: Vec<usize> = prog
        .functions
        .iter()
        .map(|f| f.insn)
        .filter(|&i| i < insns.len())
        .collect();
    starts.push(0);
    for (i, slot, insn) in prog.slots() {
        let off = match *insn {
            Insn::Call(Callee::Local(imm)) => imm as i64,
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => imm,
            _ => continue,
        };
        if relocated.binary_search(&i).is_ok() {
            continue;
        }
        let target = slot as i64 + 1 + off;
        if let Some(t) = usize::try_from(target).ok().and_then(|t| map.index(t)) {
            starts.push(t);
        }
    }
    starts.sort_unstable();
    starts.dedup();
    let function_of = |i: usize| starts.partition_point(|&s| s <= i).saturating_sub(1);
    let function_name = |k: usize| {
        let at = starts[k];
        prog.functions
            .iter()
            .find(|f| f.insn == at)
            .map(|f| f.name.clone())
            .or_else(|| {
                let k = prog.labels.partition_point(|(i, _)| *i < at);
                prog.labels
                    .get(k)
                    .filter(|(i, _)| *i == at)
                    .map(|(_, n)| n.clone())
            })
            .unwrap_or_else(|| format!("the function at instruction {at}"))
    };
    // Where each instruction may go next, besides falling through: a target instruction.
    let target_of = |i: usize, slot: usize| -> Option<(i64, bool)> {
        let insn = &insns[i];
        let (off, call) = match *insn {
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => (i32::try_from(imm).ok()?, true),
            Insn::Call(Callee::Local(imm)) => (imm, true),
            _ => (insn.branch_offset()?, false),
        };
        if call && relocated.binary_search(&i).is_ok() {
            return None; // the relocation names the callee
        }
        Some((slot as i64 + 1 + off as i64, call))
    };
    // The instruction each jump, call or function address lands on (u32::MAX: none), for the
    // walk below.
    let mut lands_on = vec![u32::MAX; insns.len()];
    for (i, slot, _) in prog.slots() {
        let Some((target, call)) = target_of(i, slot) else {
            continue;
        };
        let in_range = usize::try_from(target).ok().filter(|&t| t < total);
        let Some(t) = in_range else {
            out.push(FlowIssue::JumpOutOfRange {
                insn: i,
                slot,
                target,
                slots: total,
                other_function: None,
            });
            continue;
        };
        let Some(t) = map.index(t) else {
            out.push(FlowIssue::JumpIntoLdImm64 {
                insn: i,
                target: target as usize,
                ld_imm64: target as usize - 1,
            });
            continue;
        };
        lands_on[i] = t as u32;
        if !call && function_of(t) != function_of(i) {
            out.push(FlowIssue::JumpOutOfRange {
                insn: i,
                slot,
                target,
                slots: total,
                other_function: Some(function_name(function_of(t))),
            });
        }
    }
    // Each function's last instruction.
    for k in 0..starts.len() {
        let end = starts.get(k + 1).copied().unwrap_or(insns.len());
        if end == 0 || is_terminator(&insns[end - 1]) {
            continue;
        }
        out.push(FlowIssue::FallsOffEnd {
            insn: end - 1,
            function: function_name(k),
            into: (k + 1 < starts.len()).then(|| function_name(k + 1)),
        });
    }
    // Reachability from the entry, through jumps, calls and function addresses.
    let mut reached = vec![false; insns.len()];
    let mut stack = vec![0usize];
    reached[0] = true;
    // Every function of `.text` may be called from another program (a loader links them one
    // by one, as libbpf does): each is reached.
    if prog.section == super::Section::TEXT {
        for f in &prog.functions {
            if f.insn < insns.len() && !reached[f.insn] {
                reached[f.insn] = true;
                stack.push(f.insn);
            }
        }
    }
    let by_name = |name: &str| {
        prog.functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.insn)
    };
    while let Some(i) = stack.pop() {
        let mut visit = |j: usize, stack: &mut Vec<usize>| {
            if j < insns.len() && !reached[j] {
                reached[j] = true;
                stack.push(j);
            }
        };
        if !is_terminator(&insns[i]) {
            visit(i + 1, &mut stack);
        }
        if lands_on[i] != u32::MAX {
            visit(lands_on[i] as usize, &mut stack);
        } else if relocated.binary_search(&i).is_ok() {
            for r in prog.relocs.iter().filter(|r| r.insn == i) {
                if let Some(t) = by_name(&r.symbol) {
                    visit(t, &mut stack);
                }
            }
        }
    }
    let mut i = 0;
    while i < insns.len() {
        if reached[i] {
            i += 1;
            continue;
        }
        let first = i;
        while i < insns.len() && !reached[i] {
            i += 1;
        }
        out.push(FlowIssue::Unreachable {
            insn: first,
            slot: map.slot(first),
            count: i - first,
        });
    }
    out.sort_by_key(FlowIssue::insn);
    out
}

/// `exit`, `goto` or `gotol`: what may end a function (the verifier's rule).
fn is_terminator(i: &Insn) -> bool {
    matches!(i, Insn::Exit | Insn::Ja { .. } | Insn::JaLong { .. })
}

/// What a [`Warning`] is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// A 64-bit compare of a map helper's `int` result: not portable before Linux 6.4.
    HelperResult(HelperResultCompare),
    /// Control flow the verifier refuses.
    Flow(FlowIssue),
}

impl WarningKind {
    /// The instruction the warning points at.
    pub fn insn(&self) -> usize {
        match self {
            WarningKind::HelperResult(h) => h.jump,
            WarningKind::Flow(f) => f.insn(),
        }
    }

    /// The helper-result compare, when it is one.
    pub fn helper_result(&self) -> Option<&HelperResultCompare> {
        match self {
            WarningKind::HelperResult(h) => Some(h),
            WarningKind::Flow(_) => None,
        }
    }

    /// The control-flow issue, when it is one.
    pub fn flow(&self) -> Option<&FlowIssue> {
        match self {
            WarningKind::Flow(f) => Some(f),
            WarningKind::HelperResult(_) => None,
        }
    }
}

/// A warning about a finished program: where, and what (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The program.
    pub program: String,
    /// Where the offending instruction was written (the Rust line of the DSL call, or the
    /// assembly line), when the program records it.
    pub location: Option<Location>,
    /// For a helper-result compare: where the helper call was written, when recorded.
    pub call_location: Option<Location>,
    /// What was found.
    pub kind: WarningKind,
}

impl Warning {
    /// The one-line message.
    pub fn message(&self) -> String {
        match &self.kind {
            WarningKind::HelperResult(h) => h.message(),
            WarningKind::Flow(f) => f.message(),
        }
    }

    /// The `note:` text, if any: what the verifier says about it.
    pub fn note(&self) -> Option<String> {
        match &self.kind {
            WarningKind::HelperResult(_) => None,
            WarningKind::Flow(f) => Some(f.verifier_says()),
        }
    }

    /// The `help:` text: why, and the portable spelling; or how to fix the control flow.
    pub fn help(&self) -> String {
        match &self.kind {
            WarningKind::HelperResult(h) => h.help(),
            WarningKind::Flow(f) => match f {
                FlowIssue::JumpOutOfRange {
                    other_function: Some(_),
                    ..
                } => "a jump stays inside its function; call the other function instead".into(),
                FlowIssue::JumpOutOfRange { .. } => {
                    "a jump must land on an instruction of its own program".into()
                }
                FlowIssue::JumpIntoLdImm64 { ld_imm64, .. } => format!(
                    "an ld_imm64 takes two slots: land on its first (slot {ld_imm64}) or on the \
                     instruction after it (slot {})",
                    ld_imm64 + 2
                ),
                FlowIssue::FallsOffEnd { .. } => "end it with `exit` or `goto`".into(),
                FlowIssue::Unreachable { .. } => {
                    "jump to it, or remove it (the verifier checks every instruction)".into()
                }
            },
        }
    }
}

/// `FILE:LINE:COL: warning: in program `NAME`: MESSAGE` (or `instruction N: ...` when the
/// program records no location), the source line and a caret when the file can be read, then
/// `= note:` (where the call is, or what the verifier says) and `= help:` lines, rendered as
/// [`crate::program::BuildError`]s are ([`crate::diag`]).
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = format!("in program `{}`: {}", self.program, self.message());
        let mut notes = Vec::new();
        if let Some(c) = &self.call_location {
            notes.push(format!("note: r0 holds the result of the call at {c}"));
        }
        if let Some(n) = self.note() {
            notes.push(format!("note: {n}"));
        }
        notes.push(format!("help: {}", self.help()));
        let text = match &self.location {
            Some(l) => render_at(
                Severity::Warning,
                &l.file,
                l.line,
                l.column,
                &message,
                &notes,
            ),
            None => render_message(
                Severity::Warning,
                Some(&format!("instruction {}", self.kind.insn())),
                &message,
                &notes,
            ),
        };
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{AluOp, AtomicOp, R0, R1, R6};

    fn call(h: i32) -> Insn {
        Insn::Call(Callee::Helper(h))
    }

    fn jump(width: Width, cond: Cond, imm: i32, off: i16) -> Insn {
        Insn::Jump {
            width,
            cond,
            dst: R0,
            src: Operand::Imm(imm),
            off,
        }
    }

    fn mov(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        }
    }

    /// What is reported, as `(call, jump, helper, cond, imm)`.
    fn found(insns: &[Insn]) -> Vec<(usize, usize, i32, Cond, i32)> {
        helper_result_compares(insns)
            .iter()
            .map(|w| (w.call, w.jump, w.helper, w.cond, w.imm))
            .collect()
    }

    #[test]
    fn a_64_bit_compare_with_a_negative_number_after_push() {
        let p = [
            call(87),
            mov(R6, 1002),
            jump(Width::W64, Cond::Ne, -7, 0),
            Insn::Exit,
        ];
        assert_eq!(found(&p), vec![(0, 2, 87, Cond::Ne, -7)]);
    }

    #[test]
    fn a_signed_64_bit_compare_after_pop() {
        let p = [call(88), jump(Width::W64, Cond::Slt, 0, 0), Insn::Exit];
        assert_eq!(found(&p), vec![(0, 1, 88, Cond::Slt, 0)]);
        // Every helper of the list, every signed condition.
        for h in INT_RESULT_HELPERS {
            for c in [Cond::Sgt, Cond::Sge, Cond::Slt, Cond::Sle] {
                let p = [call(h.id() as i32), jump(Width::W64, c, 5, 0), Insn::Exit];
                assert_eq!(found(&p).len(), 1, "{h} {c:?}");
            }
        }
    }

    #[test]
    fn the_32_bit_view_is_portable() {
        for c in Cond::ALL {
            let p = [call(87), jump(Width::W32, c, -7, 0), Insn::Exit];
            assert!(found(&p).is_empty(), "{c:?}");
        }
    }

    #[test]
    fn compares_with_zero_by_equality_are_portable() {
        for c in [
            Cond::Eq,
            Cond::Ne,
            Cond::Gt,
            Cond::Ge,
            Cond::Lt,
            Cond::Le,
            Cond::Set,
        ] {
            let p = [call(89), jump(Width::W64, c, 0, 0), Insn::Exit];
            assert!(found(&p).is_empty(), "{c:?}");
        }
    }

    #[test]
    fn lookup_returns_a_pointer() {
        let p = [call(1), jump(Width::W64, Cond::Ne, -7, 0), Insn::Exit];
        assert!(found(&p).is_empty());
        let p = [call(1), jump(Width::W64, Cond::Slt, 0, 0), Insn::Exit];
        assert!(found(&p).is_empty());
    }

    #[test]
    fn r0_written_between_call_and_compare() {
        let writes = [
            mov(R0, 5),
            Insn::Load {
                size: crate::insn::Size::U32,
                sign: false,
                dst: R0,
                src: Reg::R10,
                off: -4,
            },
            Insn::Atomic {
                size: crate::insn::Size::U64,
                op: AtomicOp::CmpXchg,
                dst: Reg::R10,
                src: R1,
                off: -8,
            },
            call(5),
        ];
        for w in writes {
            let p = [call(87), w, jump(Width::W64, Cond::Ne, -7, 0), Insn::Exit];
            assert!(found(&p).is_empty(), "{w:?}");
        }
        // Writing another register does not stop it.
        let p = [
            call(87),
            mov(R1, 5),
            jump(Width::W64, Cond::Ne, -7, 0),
            Insn::Exit,
        ];
        assert_eq!(found(&p).len(), 1);
    }

    #[test]
    fn through_fall_throughs_not_past_a_landing_point() {
        // call; if w0 == 0 goto +1; if r0 == -2 goto +0; exit: both compares follow the call.
        let p = [
            call(88),
            jump(Width::W32, Cond::Eq, 0, 1),
            jump(Width::W64, Cond::Eq, -2, 0),
            Insn::Exit,
        ];
        assert_eq!(found(&p), vec![(0, 2, 88, Cond::Eq, -2)]);
        // A jump from elsewhere lands on the compare: r0 may come from that path.
        let p = [
            call(88),
            Insn::Ja { off: 1 },
            mov(R0, -2),
            jump(Width::W64, Cond::Eq, -2, 0),
            Insn::Exit,
        ];
        assert!(found(&p).is_empty());
        let p = [
            call(88),
            jump(Width::W32, Cond::Eq, 0, 0),
            jump(Width::W64, Cond::Eq, -2, 0),
            Insn::Exit,
        ];
        assert!(found(&p).is_empty(), "the first jump lands on the second");
        // `goto` and `exit` end the straight line.
        let p = [
            call(88),
            Insn::Ja { off: 0 },
            jump(Width::W64, Cond::Eq, -2, 0),
            Insn::Exit,
        ];
        assert!(found(&p).is_empty());
    }

    #[test]
    fn the_help_shows_the_zero_extended_error_and_the_portable_jump() {
        let w = HelperResultCompare {
            call: 0,
            jump: 2,
            helper: 87,
            cond: Cond::Ne,
            imm: -7,
        };
        assert_eq!(
            w.help(),
            "before Linux 6.4 the JIT zero-extends this helper's int error into r0 \
             (0x00000000fffffff9 for -7); compare the low 32 bits: `if w0 != -7 goto ...`"
        );
        assert_eq!(
            w.message(),
            "64-bit compare of r0, `bpf_map_push_elem`'s int result (helper 87), with -7: \
             not portable to kernels before Linux 6.4"
        );
        let s = HelperResultCompare {
            helper: 88,
            cond: Cond::Slt,
            imm: 0,
            ..w
        };
        assert!(
            s.help().contains("(0x00000000fffffffe for -2)"),
            "{}",
            s.help()
        );
        assert!(s.help().ends_with("`if w0 s< 0 goto ...`"));
        assert_eq!(
            s.message(),
            "signed 64-bit compare (`s<`) of r0, `bpf_map_pop_elem`'s int result (helper 88): \
             not portable to kernels before Linux 6.4"
        );
    }
}

/// A map helper called with `r1` loaded from a map whose type it does not take: push, pop and
/// peek (87, 88, 89) on a map that is no queue or stack (push and peek also take a bloom
/// filter), or lookup, update and delete (1, 2, 3) on a queue, stack or bloom filter. The
/// verifier's `check_map_func_compatibility` refuses both ("cannot pass map_type N into func
/// NAME#ID"); the DSL refuses the first when the program is built
/// ([`crate::program::BuildErrorKind::WrongMapType`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapHelperMismatch {
    /// Index of the `call`.
    pub call: usize,
    /// Index of the `r1 = MAP ll` that loaded the map.
    pub load: usize,
    /// The helper.
    pub helper: Helper,
    /// The map's name.
    pub map: String,
    /// The map's type.
    pub map_type: crate::maps::MapType,
}

impl MapHelperMismatch {
    /// The one-line message: what the helper takes, and what the map is.
    pub fn message(&self) -> String {
        let allowed = self.helper.map_types_taken().map_or("", |(words, _)| words);
        format!(
            "{}#{} works on {allowed}, but `{}` is a {} map",
            self.helper.name(),
            self.helper.id(),
            self.map,
            self.map_type
        )
    }

    /// What the verifier says (Linux 6.18): for lookup, update and delete on a keyless map
    /// it stops at the key first, which such a map does not have.
    pub fn verifier_says(&self) -> String {
        if matches!(
            self.helper,
            Helper::MapLookupElem | Helper::MapUpdateElem | Helper::MapDeleteElem
        ) {
            return "the verifier refuses it: `invalid zero-sized read` (the key argument: the \
                    map has no key)"
                .to_owned();
        }
        format!(
            "the verifier refuses it: `cannot pass map_type {} into func {}#{}`",
            self.map_type as u32,
            self.helper.name(),
            self.helper.id()
        )
    }

    /// What to use instead.
    pub fn help(&self) -> String {
        use crate::maps::MapType as M;
        match (self.helper, self.map_type) {
            (Helper::MapPushElem | Helper::MapPopElem | Helper::MapPeekElem, _) => format!(
                "on a {} map use bpf_map_lookup_elem (1), bpf_map_update_elem (2) and \
                 bpf_map_delete_elem (3); or declare `{}` with `type=queue` or `type=stack`",
                self.map_type, self.map
            ),
            (_, M::BloomFilter) => {
                "on a bloom filter use bpf_map_push_elem (87) to add and bpf_map_peek_elem (89) \
                 to test"
                    .to_owned()
            }
            _ => format!(
                "on a {} map use bpf_map_push_elem (87) to add, bpf_map_pop_elem (88) to take \
                 and bpf_map_peek_elem (89) to read the next element",
                self.map_type
            ),
        }
    }
}

/// The [`MapHelperMismatch`]es of a program: each call of helper 1, 2, 3, 87, 88 or 89 whose
/// `r1` holds a map loaded on the straight line before it (`r1 = MAP ll` with a map
/// relocation of `relocs`; `map_type` gives the map's type by name). As simple as
/// [`helper_result_compares`] and never guessing: the line stops at an instruction a jump can
/// land on, at a call, at `exit` or `goto`, and at any other write to `r1`.
pub fn map_helper_mismatches(
    insns: &[Insn],
    relocs: &[super::Reloc],
    map_type: impl Fn(&str) -> Option<crate::maps::MapType>,
) -> Vec<MapHelperMismatch> {
    let mut out = Vec::new();
    if relocs.is_empty() {
        return out;
    }
    // Jump targets, one flag per slot: a sorted list searched at every instruction cost 45%
    // of `asm` on a 1M-line file with map loads (cachegrind: 409M instructions, now 85M).
    let mut target = vec![false; insns.iter().map(Insn::slots).sum::<usize>() + 1];
    for (_, slot, insn) in crate::slots::with_slots(insns) {
        if let Some(off) = insn.branch_offset() {
            if let Some(t) = usize::try_from(slot as i64 + 1 + off as i64)
                .ok()
                .and_then(|t| target.get_mut(t))
            {
                *t = true;
            }
        }
    }
    let mut reloc = relocs.iter().peekable();
    let mut r1: Option<(usize, &str)> = None;
    for (i, slot, insn) in crate::slots::with_slots(insns) {
        if target[slot] {
            r1 = None;
        }
        let named = reloc
            .next_if(|r| r.insn == i)
            .filter(|r| r.kind == super::RelocKind::Map);
        while reloc.next_if(|r| r.insn <= i).is_some() {}
        if let Insn::Call(Callee::Helper(id)) = *insn {
            let helper = Helper::from_id(id as u32);
            if let (Some(helper), Some((load, map))) = (helper, r1) {
                let taken = helper.map_types_taken().map(|(_, takes)| takes);
                if let (Some(t), Some(takes)) = (map_type(map), taken) {
                    if !takes(t) {
                        out.push(MapHelperMismatch {
                            call: i,
                            load,
                            helper,
                            map: map.to_owned(),
                            map_type: t,
                        });
                    }
                }
            }
        }
        // With no map in r1 and none loaded here, r1 stays unknown: skip the def check.
        if (r1.is_some() || named.is_some())
            && (insn.defs().contains(Reg::R1)
                || matches!(
                    insn,
                    Insn::Exit
                        | Insn::Ja { .. }
                        | Insn::JaLong { .. }
                        | Insn::Call(_)
                        | Insn::CallX { .. }
                ))
        {
            r1 = match (insn, named) {
                (Insn::LdImm64 { dst: Reg::R1, .. }, Some(r)) => Some((i, r.symbol.as_str())),
                _ => None,
            };
        }
    }
    out
}
