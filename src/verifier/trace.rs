//! Replaying a log with the history of each value: for every register and stack slot, the
//! value and where it came from ("which instruction gave r1 this value, on this path?").
//!
//! [`VerifierLog::state_before`] already tells which record last *printed* a register. Since
//! Linux 6.2 the kernel prints after each instruction the registers it *touched*, read ones
//! included (`r2 = r10 ; R2=fp0 R10=fp0`), and a branch restates every register
//! (`from 3 to 9: R1=ctx() ...`). A [`Trace`] tells those apart:
//!
//! - a value an instruction prints unchanged, for a register the instruction does not write,
//!   keeps its origin (the read of `r10` above does not make `r2 = r10` the origin of `r10`);
//! - a changed value of a register the instruction does not write (a conditional jump's
//!   refinement), or a changed value at a branch, keeps its origin and records the narrowing;
//! - a helper call clobbers r0-r5, and the trace remembers which call did it and what the
//!   register held before, for `R1 !read_ok`;
//! - a callee's arguments come from the caller's r1-r5, and the caller's r0 after the return
//!   from the callee's r0.
//!
//! Walk the failing path with [`Trace::along`] (or [`trace_before`]), or the whole log in
//! its order with [`walk_log`], which takes up each `from A to B` with the state the trace had
//! at `A`.

use std::collections::{HashMap, HashSet};

use crate::insn::{Callee, Insn, Regs};

/// Whether register number `n` (as a state line names it) is in `w`.
fn writes_reg(w: Regs, n: u8) -> bool {
    crate::insn::Reg::from_num(n).is_some_and(|r| w.contains(r))
}

use super::{
    FrameHeader, InsnLine, Kind, RegState, SlotContents, StackSlotState, State, StateText,
    VerifierLog,
};

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The record (index in [`VerifierLog::records`]) that gave the value: the instruction
    /// that wrote it, or the state line that first showed it (the program's entry state, a
    /// branch whose earlier history the log does not show).
    pub record: usize,
    /// The last record that narrowed the value since without writing it: a conditional
    /// jump, or a `from A to B` branch (the jump taken).
    pub narrowed: Option<usize>,
}

/// A register's value and its origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedReg<'a> {
    /// The value as last printed.
    pub state: RegState<'a>,
    /// Where it came from.
    pub origin: Origin,
}

/// A stack slot's contents and their origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedSlot<'a> {
    /// The contents as last printed.
    pub state: StackSlotState<'a>,
    /// Where they came from.
    pub origin: Origin,
}

/// A register that a helper call made unreadable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clobbered<'a> {
    /// The record of the call.
    pub call: usize,
    /// What the register held before the call, if anything.
    pub before: Option<TracedReg<'a>>,
}

/// One call frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TracedFrame<'a> {
    /// Registers R0..=R10; `None` when unknown (never set, or clobbered).
    pub regs: [Option<TracedReg<'a>>; 11],
    /// For registers that are `None` because a helper call clobbered them: that call.
    pub clobbered: [Option<Box<Clobbered<'a>>>; 11],
    /// Stack slots, highest offset first.
    pub slots: Vec<TracedSlot<'a>>,
}

/// Everything known at one point of a walk, with origins. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace<'a> {
    /// The current call frame.
    pub frame: u8,
    /// All frames, frame 0 first.
    pub frames: Vec<TracedFrame<'a>>,
    /// The frame of the last callee that returned, until the return's state lines are read.
    returned: Option<TracedFrame<'a>>,
    /// The caller's registers at the last bpf-to-bpf call, for the callee's arguments.
    call_args: Option<Box<[Option<TracedReg<'a>>; 11]>>,
    /// The last instruction record stepped since the last full state (older kernels print an
    /// instruction's result as a state line of its own after it).
    last_insn: Option<usize>,
    /// The registers that instruction writes.
    last_writes: Regs,
    after_header: Option<FrameHeader>,
}

fn same_slot(a: &StackSlotState<'_>, b: &StackSlotState<'_>) -> bool {
    match (&a.contents, &b.contents) {
        (SlotContents::Types(x), SlotContents::Types(y)) => x == y,
        (SlotContents::Spilled(x), SlotContents::Spilled(y)) => x == y,
        _ => false,
    }
}

/// How a state line applies.
#[derive(Clone, Copy)]
enum Apply {
    /// The result of instruction `record`, which writes these registers (and, for a store,
    /// the slots it prints: since 6.2 a store prints the slots it wrote).
    Insn {
        record: usize,
        writes: Regs,
        store: bool,
    },
    /// A state line repeating what is known: new values are attributed to `attribute`, the
    /// last instruction (which writes `writes`: a changed register it does not write was
    /// narrowed), or the state line itself.
    Restate {
        attribute: usize,
        writes: Option<Regs>,
    },
}

impl<'a> TracedFrame<'a> {
    fn slot_index(&self, off: i32) -> Result<usize, usize> {
        self.slots.binary_search_by(|t| off.cmp(&t.state.off))
    }

    /// The slot at `fp + off`.
    pub fn slot(&self, off: i32) -> Option<&TracedSlot<'a>> {
        self.slot_index(off).ok().map(|i| &self.slots[i])
    }

    fn set_slot(&mut self, s: TracedSlot<'a>) {
        match self.slot_index(s.state.off) {
            Ok(i) => self.slots[i] = s,
            Err(i) => self.slots.insert(i, s),
        }
    }

    fn apply(&mut self, st: &State<'a>, how: Apply) {
        for r in &st.regs {
            let n = r.reg as usize;
            let prev = self.regs[n].as_ref();
            let origin = match how {
                Apply::Insn { record, writes, .. } => match prev {
                    Some(p) if !writes_reg(writes, r.reg) => {
                        if p.state.value == r.value {
                            p.origin
                        } else {
                            Origin {
                                record: p.origin.record,
                                narrowed: Some(record),
                            }
                        }
                    }
                    _ => Origin {
                        record,
                        narrowed: None,
                    },
                },
                Apply::Restate { attribute, writes } => match prev {
                    Some(p) if p.state.value == r.value => p.origin,
                    Some(p) if writes.is_some_and(|w| !writes_reg(w, r.reg)) => Origin {
                        record: p.origin.record,
                        narrowed: Some(attribute),
                    },
                    _ => Origin {
                        record: attribute,
                        narrowed: None,
                    },
                },
            };
            self.regs[n] = Some(TracedReg {
                state: r.clone(),
                origin,
            });
            self.clobbered[n] = None;
        }
        for s in &st.slots {
            let prev = self.slot(s.off);
            let origin = match (prev, how) {
                (Some(p), Apply::Insn { store: false, .. }) if same_slot(&p.state, s) => p.origin,
                (Some(p), Apply::Restate { .. }) if same_slot(&p.state, s) => p.origin,
                (_, Apply::Insn { record, .. }) => Origin {
                    record,
                    narrowed: None,
                },
                (_, Apply::Restate { attribute, .. }) => Origin {
                    record: attribute,
                    narrowed: None,
                },
            };
            self.set_slot(TracedSlot {
                state: s.clone(),
                origin,
            });
        }
    }
}

impl<'a> Trace<'a> {
    /// An empty trace: nothing known.
    pub fn new() -> Trace<'a> {
        Trace::default()
    }

    /// The current frame.
    pub fn current(&self) -> Option<&TracedFrame<'a>> {
        self.frames.get(self.frame as usize)
    }

    /// Register `n` of the current frame.
    pub fn reg(&self, n: u8) -> Option<&TracedReg<'a>> {
        self.current()?.regs.get(n as usize)?.as_ref()
    }

    /// Why register `n` of the current frame is unknown, when a helper call clobbered it.
    pub fn clobbered(&self, n: u8) -> Option<&Clobbered<'a>> {
        self.current()?.clobbered.get(n as usize)?.as_deref()
    }

    /// The stack slot at `fp + off` of the current frame.
    pub fn slot(&self, off: i32) -> Option<&TracedSlot<'a>> {
        self.current()?.slot(off)
    }

    fn frame_mut(&mut self, f: u8) -> &mut TracedFrame<'a> {
        let f = f as usize;
        if self.frames.len() <= f {
            self.frames.resize_with(f + 1, TracedFrame::default);
        }
        &mut self.frames[f]
    }

    /// A full state: the frame it describes is replaced; values equal to what the frame (or
    /// `prev`) had keep their origin, changed ones are narrowed at `record`, new ones start
    /// at `record`.
    fn snapshot(&mut self, st: &State<'a>, record: usize, prev: Option<TracedFrame<'a>>) {
        let f = st.frame.unwrap_or(0);
        self.frame = f;
        let old = match prev {
            Some(p) => p,
            None => self.frames.get(f as usize).cloned().unwrap_or_default(),
        };
        let mut fresh = TracedFrame::default();
        for r in &st.regs {
            let n = r.reg as usize;
            let origin = match &old.regs[n] {
                Some(p) if p.state.value == r.value => p.origin,
                Some(p) => Origin {
                    record: p.origin.record,
                    narrowed: Some(record),
                },
                None => Origin {
                    record,
                    narrowed: None,
                },
            };
            fresh.regs[n] = Some(TracedReg {
                state: r.clone(),
                origin,
            });
        }
        for (n, c) in old.clobbered.iter().enumerate() {
            if fresh.regs[n].is_none() {
                fresh.clobbered[n].clone_from(c);
            }
        }
        for s in &st.slots {
            let origin = match old.slot(s.off) {
                Some(p) if same_slot(&p.state, s) => p.origin,
                Some(p) => Origin {
                    record: p.origin.record,
                    narrowed: Some(record),
                },
                None => Origin {
                    record,
                    narrowed: None,
                },
            };
            fresh.set_slot(TracedSlot {
                state: s.clone(),
                origin,
            });
        }
        *self.frame_mut(f) = fresh;
        self.last_insn = None;
    }

    fn delta(&mut self, st: &State<'a>, how: Apply) {
        if st.regs.is_empty() && st.slots.is_empty() {
            return;
        }
        let f = st.frame.unwrap_or(self.frame);
        self.frame = f;
        self.frame_mut(f).apply(st, how);
    }

    fn clobber_call_regs(&mut self, call: usize) {
        let f = self.frame;
        let fr = self.frame_mut(f);
        for n in 0..=5 {
            let before = fr.regs[n].take();
            fr.clobbered[n] = Some(Box::new(Clobbered { call, before }));
        }
    }

    /// Apply record `record` of `log`.
    pub fn step(&mut self, log: &VerifierLog<'a>, record: usize) {
        let Some(r) = log.records().get(record) else {
            return;
        };
        match r.kind {
            Kind::Branch {
                state, safe: false, ..
            } => {
                self.snapshot(&state.parse(), record, None);
                self.after_header = None;
            }
            Kind::State { state, .. } => self.restate(state, record),
            Kind::FrameHeader(h) => self.after_header = Some(h),
            Kind::FrameState(state) => self.frame_state(state, record),
            Kind::Insn(l) => self.insn(l, record),
            _ => {}
        }
    }

    /// A state line outside a frame header: what the last instruction did (older kernels), or
    /// a restatement.
    fn restate(&mut self, state: StateText<'a>, record: usize) {
        let how = Apply::Restate {
            attribute: self.last_insn.unwrap_or(record),
            writes: self.last_insn.map(|_| self.last_writes),
        };
        self.delta(&state.parse(), how);
    }

    fn frame_state(&mut self, state: StateText<'a>, record: usize) {
        let st = state.parse();
        match self.after_header {
            None => self.restate(state, record),
            Some(h) => {
                let cur = self.frame;
                let f = st.frame.unwrap_or(0);
                let prev = match h {
                    // The callee's arguments are the caller's r1-r5.
                    FrameHeader::Callee if f > 0 => {
                        let mut p = self.frames.get(f as usize).cloned().unwrap_or_default();
                        if let Some(caller) = &self.call_args {
                            for n in 1..=5 {
                                if let (Some(c), Some(r)) = (&caller[n], st.reg(n as u8)) {
                                    p.regs[n] = Some(TracedReg {
                                        state: r.clone(),
                                        origin: c.origin,
                                    });
                                }
                            }
                        }
                        Some(p)
                    }
                    FrameHeader::ReturningFromCallee => self.returned.clone(),
                    // The caller's r0 is the callee's.
                    FrameHeader::ToCallerAt(_) => {
                        let mut p = self.frames.get(f as usize).cloned().unwrap_or_default();
                        let callee_r0 = self
                            .frames
                            .get(f as usize + 1)
                            .or(self.returned.as_ref())
                            .and_then(|c| c.regs[0].clone());
                        if let (Some(c), Some(r)) = (callee_r0, st.reg(0)) {
                            p.regs[0] = Some(TracedReg {
                                state: r.clone(),
                                origin: c.origin,
                            });
                        }
                        Some(p)
                    }
                    _ => None,
                };
                self.snapshot(&st, record, prev);
                match h {
                    FrameHeader::Caller => self.frame = cur,
                    FrameHeader::ToCallerAt(_) => {
                        self.frames.truncate(self.frame as usize + 1);
                        self.returned = None;
                    }
                    _ => {}
                }
            }
        }
    }

    fn insn(&mut self, l: InsnLine<'a>, record: usize) {
        self.after_header = None;
        // What the instruction reads and writes, from the line decoded; a line the parser
        // does not read writes nothing known.
        let insn = l.decode();
        match insn {
            Some(Insn::Call(Callee::Local(_))) => {
                let regs = self.current().map(|f| f.regs.clone()).unwrap_or_default();
                self.call_args = Some(Box::new(regs));
            }
            Some(Insn::Call(_)) => self.clobber_call_regs(record),
            _ => {}
        }
        if l.glued_target.is_some() {
            // Level 1: the jump, and the state at the target it goes on with.
            if !l.state.is_empty() {
                self.snapshot(&l.state.parse(), record, None);
            }
            return;
        }
        let writes = insn.map_or(Regs::EMPTY, |i| i.defs());
        let how = Apply::Insn {
            record,
            writes,
            // Since 6.2 a store prints the slots it wrote.
            store: insn.and_then(|i| i.mem_access()).is_some_and(|m| m.write),
        };
        self.delta(&l.state.parse(), how);
        if insn == Some(Insn::Exit) && self.frame > 0 {
            self.returned = self.frames.pop();
            self.frame -= 1;
        }
        self.last_insn = Some(record);
        self.last_writes = writes;
    }

    /// Replay `path` (record indexes in execution order, as [`VerifierLog::path`] gives).
    pub fn along(log: &VerifierLog<'a>, path: &[usize]) -> Trace<'a> {
        let mut t = Trace::new();
        for &i in path {
            t.step(log, i);
        }
        t
    }
}

/// What is known, with origins, just before the last time instruction `insn` is verified on
/// [`VerifierLog::path`] (the failing path of a refused program); when the instruction is not
/// on it, before its last record in the log, along the path that leads there. `None` when the
/// log never shows the instruction.
pub fn trace_before<'a>(log: &VerifierLog<'a>, insn: u32) -> Option<Trace<'a>> {
    let path = log.path();
    let is_insn = |i: usize| matches!(log.records()[i].kind, Kind::Insn(l) if l.insn == insn);
    match path.iter().rposition(|&i| is_insn(i)) {
        Some(pos) => Some(Trace::along(log, &path[..pos])),
        None => {
            let last = (0..log.records().len()).rev().find(|&i| is_insn(i))?;
            Some(Trace::along(log, &log.path_to(last)))
        }
    }
}

/// Walk the whole log in its order, calling `f(record, trace)` after each record. Each
/// `from A to B` is taken up with the trace as it was after instruction `A` (and the frame
/// lines that followed it), so origins stay right across the pieces of a level-2 log.
pub fn walk_log<'a>(log: &VerifierLog<'a>, mut f: impl FnMut(usize, &Trace<'a>)) {
    walk_log_while(log, |i, t| {
        f(i, t);
        true
    });
}

/// [`walk_log`] that stops as soon as `f` returns `false` (a bounded view of a long log).
pub fn walk_log_while<'a>(log: &VerifierLog<'a>, mut f: impl FnMut(usize, &Trace<'a>) -> bool) {
    let links = log.branch_links();
    let targets: HashSet<usize> = links.values().copied().collect();
    let mut saved: HashMap<usize, Trace<'a>> = HashMap::new();
    let mut open: Option<usize> = None;
    let mut t = Trace::new();
    for (i, r) in log.records().iter().enumerate() {
        match r.kind {
            Kind::Branch { safe: false, .. } => {
                if let Some(s) = links.get(&i).and_then(|j| saved.remove(j)) {
                    t = s;
                }
                open = None;
            }
            Kind::Insn(_) | Kind::State { .. } | Kind::Safe { .. } | Kind::Branch { .. } => {
                open = None
            }
            _ => {}
        }
        t.step(log, i);
        match r.kind {
            Kind::Insn(_) if targets.contains(&i) => {
                saved.insert(i, t.clone());
                open = Some(i);
            }
            Kind::FrameHeader(_) | Kind::FrameState(_) => {
                if let Some(j) = open {
                    saved.insert(j, t.clone());
                }
            }
            _ => {}
        }
        if !f(i, &t) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ_AFTER_CALL: &str = "\
0: R1=ctx() R10=fp0
0: (62) *(u32 *)(r10 -4) = 7          ; R10=fp0 fp-8=mmmm????
1: (18) r1 = 0xffff88810251e400       ; R1=map_ptr(map=queue,ks=0,vs=4)
3: (bf) r2 = r10                      ; R2=fp0 R10=fp0
4: (07) r2 += -4                      ; R2=fp-4
5: (b7) r3 = 0                        ; R3=0
6: (85) call bpf_map_push_elem#87     ; R0=scalar()
7: (bf) r0 = r1
R1 !read_ok
processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    /// The kernel marks a value precise (`P`) or written (`_w`) when it prints it again; the
    /// value is the same, so its origin stays (the marks live beside the value, in
    /// `RegState::precise` and `RegState::written`).
    #[test]
    fn marks_do_not_change_a_values_origin() {
        let log = VerifierLog::parse(
            "\
0: R1=ctx() R10=fp0
0: (b7) r6 = 5                        ; R6_w=5
1: (bf) r2 = r6                       ; R2_w=5 R6=P5
2: (95) exit
",
        );
        let t = trace_before(&log, 2).unwrap();
        let r6 = t.reg(6).unwrap();
        assert!(r6.state.precise);
        assert_eq!(
            r6.origin,
            Origin {
                record: 1,
                narrowed: None
            }
        );
        assert_eq!(t.reg(2).unwrap().origin.record, 2);
    }

    #[test]
    fn reads_keep_origins_and_calls_clobber() {
        let log = VerifierLog::parse(READ_AFTER_CALL);
        let t = trace_before(&log, 7).unwrap();
        // r10 was read by `r2 = r10`, not written: it still comes from the entry state.
        assert_eq!(t.reg(10).unwrap().origin.record, 0);
        assert_eq!(t.reg(0).unwrap().origin.record, 6);
        assert!(t.reg(1).is_none());
        let c = t.clobbered(1).unwrap();
        assert_eq!(c.call, 6);
        assert_eq!(c.before.as_ref().unwrap().origin.record, 2);
        assert_eq!(t.slot(-8).unwrap().origin.record, 1);
        let before_call = trace_before(&log, 6).unwrap();
        assert_eq!(before_call.reg(2).unwrap().origin.record, 4);
        assert_eq!(before_call.reg(3).unwrap().origin.record, 5);
    }

    #[test]
    fn branches_narrow() {
        let text = "\
0: R1=ctx() R10=fp0
0: (61) r7 = *(u32 *)(r1 +0)          ; R1=ctx() R7=scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))
1: (25) if r7 > 0x5dc goto pc+2       ; R7=scalar(smin=smin32=0,smax=umax=smax32=umax32=1500,var_off=(0x0; 0x7ff))
2: (b7) r0 = 1                        ; R0=1
3: (95) exit

from 1 to 4: R1=ctx() R7=scalar(smin=umin=umin32=1501,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
4: R1=ctx() R7=scalar(smin=umin=umin32=1501,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0
4: (bf) r0 = r7                       ; R0=scalar(id=1) R7=scalar(id=1)
5: (95) exit
processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";
        let log = VerifierLog::parse(text);
        // On the fall-through, r7 comes from insn 0, narrowed by the jump.
        let t = trace_before(&log, 2).unwrap();
        let r7 = t.reg(7).unwrap();
        assert_eq!((r7.origin.record, r7.origin.narrowed), (1, Some(2)));
        // After the branch: still insn 0, narrowed by `from 1 to 4`.
        let t = trace_before(&log, 4).unwrap();
        let r7 = t.reg(7).unwrap();
        assert_eq!((r7.origin.record, r7.origin.narrowed), (1, Some(6)));
        assert_eq!(t.reg(1).unwrap().origin.record, 0);
        // The log-order walk agrees.
        let mut at_4 = None;
        walk_log(&log, |i, t| {
            if i == 7 {
                at_4 = Some(t.clone());
            }
        });
        let at_4 = at_4.unwrap();
        assert_eq!(
            at_4.reg(7).unwrap().origin,
            Origin {
                record: 1,
                narrowed: Some(6)
            }
        );
        assert!(at_4.reg(0).is_none());
    }
}
