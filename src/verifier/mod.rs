//! The kernel verifier's log, parsed: text in, typed records out. Pure, no I/O.
//!
//! [`VerifierLog::parse`] turns a log into one [`Record`] per line. Each record borrows its
//! line from the text (`VerifierLog<'a>` keeps `&'a str` slices, no copy) and has a typed
//! [`Kind`]: an instruction with its state, a state line, a source annotation, a branch, a
//! `safe` line, the stats footer, the error, and so on. A line that fits none of them is
//! [`Kind::Unknown`]: parsing never fails and never panics.
//!
//! Register and stack states are kept as text ([`StateText`]) and parsed on demand into
//! [`State`], [`RegState`] and [`StackSlotState`], so parsing a million-line log allocates
//! nothing per line.
//!
//! The queries a viewer needs sit on [`VerifierLog`]: [`VerifierLog::error`] (what refused the
//! program, and at which instruction), [`VerifierLog::path`] (the records of the path that
//! failed, or of the last one explored, in execution order), [`VerifierLog::state_before`]
//! (every register and slot known before an instruction on that path, each with the record
//! that last set it: "where did this come from?") and [`VerifierLog::stats`].
//!
//! The viewer sits on top: a [`SourceMap`] joins log slots to the program's instructions and
//! source lines ([`source_map`]), a [`Trace`] replays a path keeping where each value came from
//! ([`trace`]), [`render_report`] and [`render_accepted`] write the terminal report ([`view`]),
//! and [`render_html`] one self-contained page ([`html`]).
//!
//! What the parser assumes, and where it guesses:
//!
//! - **The error** is the run of unknown lines just before the trailing stats (`verification
//!   time`, `stack depth`, `processed ...`). The log does not say whether the load failed, so an
//!   accepted program whose log ends with a line of a shape this parser does not know would
//!   show that line as an error. Some kernel messages lack their newline and run into the next
//!   stats line (`expected prog array map for tail callprocessed 3 insns ...`): such a line is
//!   [`Kind::Glued`], and both halves are kept.
//! - **States**: since 6.2 the line after an instruction shows only the registers it touched,
//!   and `N: state` lines are partial too; `from A to B: state`, the glued level-1 branch state
//!   and the `caller:`/`callee:` blocks are full. [`VerifierLog::state_before`] starts from
//!   the full states and applies the partial ones in path order; a helper call (`call name#id`)
//!   forgets r0-r5 until the log shows them again.
//! - **Paths** in a level-2 log are spread over the log: the verifier explores depth-first and
//!   prints `from A to B` when it takes up a branch it pushed at `A`. Each `from A to B` is
//!   joined to the latest earlier record of instruction `A` not already joined
//!   ([`VerifierLog::branch_links`]); a conditional jump whose outcome was known pushes no
//!   branch, and in a loop that can join the wrong visit of `A`. A level-1 log is the failing
//!   path already.
//! - **Older formats** (before 6.2, 5.x, 4.x: `inv`, `inv0`, `imm2,min_value=...`,
//!   `ctx(id=0,off=0,imm=0)`, `R10=fp0,call_-1`, `processed 9 insns (limit 131072), stack
//!   depth 8`) parse into the same values. Before 4.14 `invN` meant something else (known
//!   leading zero bits); it is read as the constant `N`.
//!
//! Memory: the only allocation of [`VerifierLog::parse`] is the records' vector, sized from a
//! count of the newlines: 72 bytes a line on 64-bit targets. For a level-2 log (43 bytes a
//! line on average in the benchmark) text and records together take 2.7 times the text.
//!
//! ```
//! use bpfsmith::verifier::{Kind, VerifierLog};
//!
//! let text = "\
//! 0: R1=ctx() R10=fp0
//! ; r2 = r10 @ push.s:6
//! 3: (bf) r2 = r10                      ; R2=fp0 R10=fp0
//! 4: (07) r2 += -4                      ; R2=fp-4
//! 5: (85) call bpf_map_push_elem#87
//! R1 type=scalar expected=map_ptr
//! processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
//! ";
//! let log = VerifierLog::parse(text);
//! assert_eq!(log.records().len(), 7);
//! let Kind::Insn(i) = log.records()[3].kind else { panic!() };
//! assert_eq!((i.insn, i.opcode, i.text), (4, 0x07, "r2 += -4"));
//! let err = log.error().unwrap();
//! assert_eq!(err.message(), "R1 type=scalar expected=map_ptr");
//! assert_eq!(err.insn, Some(5));
//! let before = log.state_before(5).unwrap();
//! assert_eq!(before.reg(2).unwrap().state.value.as_pointer().unwrap().off(), Some(-4));
//! assert_eq!(log.stats().processed_insns, Some(6));
//! ```

pub mod html;
mod line;
pub mod source_map;
mod state;
pub mod trace;
pub mod view;

pub use html::{render_html, render_log_html};
pub use source_map::{MappedInsn, Mismatch, SourceInfo, SourceMap};
pub use trace::{
    trace_before, walk_log, Clobbered, Origin, Trace, TracedFrame, TracedReg, TracedSlot,
};
pub use view::{
    describe_slot, describe_value, failing_insn, operands, path_summary, render_accepted,
    render_log_text, render_report, stats_line, uses, Jump, MemUse, OperandReport, OriginKind,
    OriginLine, ReportOptions, Uses,
};

pub use line::{classify, FrameHeader, InsnLine, Kind, LiveRegsLine, MarkPrecise, SourceLine};
pub use state::{
    parse_int, parse_var_off, Params, Pointer, PtrKind, RegState, Scalar, SlotContents,
    StackSlotState, State, StateText, Tokens, Value, SLOT_TYPE_CHARS,
};

use std::collections::HashMap;
use std::ops::Range;

/// One line of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The line number, 1-based.
    pub line: u32,
    /// The line's text as printed, without its newline.
    pub raw: &'a str,
    /// What the line is.
    pub kind: Kind<'a>,
}

/// A parsed verifier log. Borrows the text it was parsed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierLog<'a> {
    text: &'a str,
    records: Vec<Record<'a>>,
    error: Option<Range<usize>>,
}

/// The error that refused a program: the last lines before the stats that are not one of
/// the known kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogError<'a> {
    /// The message's lines (usually one; `infinite loop detected` and some access errors
    /// print more). A message glued to the footer is cut off before `processed`.
    pub lines: Vec<&'a str>,
    /// The records the message spans.
    pub records: Range<usize>,
    /// The instruction being verified when the error was printed: the last instruction
    /// record before the message (`None` for errors found before verification starts, such as
    /// `unreachable insn 3`).
    pub insn: Option<u32>,
    /// The index of that instruction's record.
    pub insn_record: Option<usize>,
}

impl LogError<'_> {
    /// The message, lines joined by `\n`.
    pub fn message(&self) -> String {
        self.lines.join("\n")
    }

    /// The first line of the message.
    pub fn headline(&self) -> &str {
        self.lines.first().copied().unwrap_or("")
    }
}

/// The verifier's statistics, from the footer and the level-4 lines.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `processed N insns`.
    pub processed_insns: Option<u64>,
    /// `(limit N)`.
    pub insn_limit: Option<u64>,
    /// `max_states_per_insn N`.
    pub max_states_per_insn: Option<u64>,
    /// `total_states N`.
    pub total_states: Option<u64>,
    /// `peak_states N`.
    pub peak_states: Option<u64>,
    /// `mark_read N`.
    pub mark_read: Option<u64>,
    /// `verification time N usec`.
    pub verification_time_usec: Option<u64>,
    /// `stack depth 8+0`: one entry per subprogram (from the level-4 line, or from an older
    /// footer's `, stack depth N`).
    pub stack_depth: Vec<u32>,
}

impl Stats {
    /// The sum of [`Stats::stack_depth`], when known.
    pub fn total_stack_depth(&self) -> Option<u32> {
        (!self.stack_depth.is_empty()).then(|| self.stack_depth.iter().sum())
    }

    /// Read a footer line (`processed 15 insns (limit 1000000) max_states_per_insn 0 ...`, or an
    /// older `processed 9 insns (limit 131072), stack depth 8`) into `self`.
    pub fn read_footer(&mut self, text: &str) {
        let text = text.trim_end_matches(['\0', '\r', ' ']);
        let mut words = text.split([' ', ',']).filter(|w| !w.is_empty());
        while let Some(w) = words.next() {
            let num = |n: Option<&str>| n.and_then(|n| n.trim_end_matches(')').parse().ok());
            match w {
                "processed" => self.processed_insns = num(words.next()),
                "(limit" => self.insn_limit = num(words.next()),
                "max_states_per_insn" => self.max_states_per_insn = num(words.next()),
                "total_states" => self.total_states = num(words.next()),
                "peak_states" => self.peak_states = num(words.next()),
                "mark_read" => self.mark_read = num(words.next()),
                "depth" => {
                    if let Some(d) = words.next() {
                        self.stack_depth = parse_depths(d);
                    }
                }
                _ => {}
            }
        }
    }
}

fn parse_depths(d: &str) -> Vec<u32> {
    d.split('+').filter_map(|n| n.parse().ok()).collect()
}

/// Where a register or slot value came from: the value and the record that printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked<T> {
    /// The value as last printed.
    pub state: T,
    /// Index (in [`VerifierLog::records`]) of the record that printed it.
    pub record: usize,
}

/// What is known about one call frame at a point of a path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameRegs<'a> {
    /// Registers R0..=R10; `None` when not known (never printed, or clobbered by a call).
    pub regs: [Option<Tracked<RegState<'a>>>; 11],
    /// Stack slots, sorted by offset (highest first).
    pub slots: Vec<Tracked<StackSlotState<'a>>>,
}

impl<'a> FrameRegs<'a> {
    fn set_reg(&mut self, r: RegState<'a>, record: usize) {
        let n = r.reg as usize;
        self.regs[n] = Some(Tracked { state: r, record });
    }

    fn set_slot(&mut self, s: StackSlotState<'a>, record: usize) {
        match self.slots.binary_search_by(|t| s.off.cmp(&t.state.off)) {
            Ok(i) => self.slots[i] = Tracked { state: s, record },
            Err(i) => self.slots.insert(i, Tracked { state: s, record }),
        }
    }

    fn apply(&mut self, st: State<'a>, record: usize) {
        for r in st.regs {
            self.set_reg(r, record);
        }
        for s in st.slots {
            self.set_slot(s, record);
        }
    }
}

/// Everything known about the registers and stack at one point of a path, rebuilt from the
/// full states (`from A to B: ...`, `caller:`/`callee:`) and the changes printed after each
/// instruction since.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KnownState<'a> {
    /// The current call frame.
    pub frame: u8,
    /// All frames, frame 0 first.
    pub frames: Vec<FrameRegs<'a>>,
}

impl<'a> KnownState<'a> {
    /// Register `n` of the current frame.
    pub fn reg(&self, n: u8) -> Option<&Tracked<RegState<'a>>> {
        self.frames
            .get(self.frame as usize)?
            .regs
            .get(n as usize)?
            .as_ref()
    }

    /// The stack slot at `fp + off` of the current frame.
    pub fn slot(&self, off: i32) -> Option<&Tracked<StackSlotState<'a>>> {
        self.frames
            .get(self.frame as usize)?
            .slots
            .iter()
            .find(|s| s.state.off == off)
    }

    fn frame_mut(&mut self, f: u8) -> &mut FrameRegs<'a> {
        let f = f as usize;
        if self.frames.len() <= f {
            self.frames.resize_with(f + 1, FrameRegs::default);
        }
        &mut self.frames[f]
    }

    fn snapshot(&mut self, st: State<'a>, record: usize) {
        let f = st.frame.unwrap_or(0);
        self.frame = f;
        let fr = self.frame_mut(f);
        *fr = FrameRegs::default();
        fr.apply(st, record);
    }

    fn delta(&mut self, st: State<'a>, record: usize) {
        if st.regs.is_empty() && st.slots.is_empty() {
            return;
        }
        let f = st.frame.unwrap_or(0);
        self.frame = f;
        self.frame_mut(f).apply(st, record);
    }
}

/// Lines of `text`: split at `\n`; a final newline does not start another line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    let empty = text.is_empty();
    body.split('\n').filter(move |_| !empty)
}

/// What a log says of the program: accepted, refused, cut off before the verdict, or no
/// verifier log at all ([`VerifierLog::verdict`]). `bpfsmith log` exits 0, 1, 3 and 2 for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The log ends with the stats footer (`processed N insns ...`) and no error before it.
    Accepted,
    /// The log ends with an error: before the footer, or (on kernels before 5.x, which
    /// printed no footer for a refusal) a message the catalogue knows, on a complete line.
    Refused,
    /// The log stops before the verdict: no footer, and no known error on a complete last
    /// line (a buffer that kept the head, a file cut off, a line cut in the middle).
    Truncated,
    /// Nothing in the text is a line of a verifier log (empty, or another kind of file).
    NotALog,
}

impl Verdict {
    /// The exit status `bpfsmith log` gives: accepted 0, refused 1, not a log 2, truncated 3.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Accepted => 0,
            Verdict::Refused => 1,
            Verdict::NotALog => 2,
            Verdict::Truncated => 3,
        }
    }
}

impl<'a> VerifierLog<'a> {
    /// Parse a log: one record per line (a trailing newline does not make an empty last
    /// line). Never fails.
    pub fn parse(text: &'a str) -> VerifierLog<'a> {
        let n = if text.is_empty() {
            0
        } else {
            text.bytes().filter(|&b| b == b'\n').count() + usize::from(!text.ends_with('\n'))
        };
        let mut records = Vec::with_capacity(n);
        for (i, raw) in lines(text).enumerate() {
            records.push(Record {
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
                raw,
                kind: classify(raw),
            });
        }
        let error = find_error(&mut records);
        VerifierLog {
            text,
            records,
            error,
        }
    }

    /// What the log says of the program ([`Verdict`]). The kernel ends every complete log
    /// with the stats footer, accepted or refused (kernels before 5.x: accepted only), so a
    /// log without one was cut off unless it ends with a known refusal on a complete line.
    pub fn verdict(&self) -> Verdict {
        let footer = self
            .records
            .iter()
            .rev()
            .any(|r| matches!(r.kind, Kind::Footer(_) | Kind::Glued { .. }));
        let known = |k: &Kind<'_>| !matches!(k, Kind::Blank | Kind::Unknown | Kind::Error(_));
        if !footer {
            let complete = self.text.ends_with('\n');
            let error = self.error();
            let refused = complete
                && error.as_ref().is_some_and(|e| {
                    !crate::explain::match_messages(e.headline()).is_empty()
                        && e.headline().trim().len() >= 8
                });
            if refused {
                return Verdict::Refused;
            }
            if !self.records.iter().any(|r| known(&r.kind)) {
                return Verdict::NotALog;
            }
            return Verdict::Truncated;
        }
        if self.error.is_some() {
            Verdict::Refused
        } else {
            Verdict::Accepted
        }
    }

    /// The text the log was parsed from.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// All records, one per line.
    pub fn records(&self) -> &[Record<'a>] {
        &self.records
    }

    /// The instruction records, in log order.
    pub fn insns(&self) -> impl Iterator<Item = (usize, &InsnLine<'a>)> + '_ {
        self.records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.kind {
                Kind::Insn(l) => Some((i, l)),
                _ => None,
            })
    }

    /// The error that refused the program, if the log ends with one.
    pub fn error(&self) -> Option<LogError<'a>> {
        let range = self.error.clone()?;
        let mut lines = Vec::new();
        for r in &self.records[range.clone()] {
            match r.kind {
                Kind::Error(m) => lines.push(m),
                Kind::Glued { message, .. } => lines.push(message),
                _ => {}
            }
        }
        let insn_record = self.records[..range.start]
            .iter()
            .rposition(|r| matches!(r.kind, Kind::Insn(_)));
        let insn = insn_record.and_then(|i| match self.records[i].kind {
            Kind::Insn(l) => Some(l.insn),
            _ => None,
        });
        Some(LogError {
            lines,
            records: range,
            insn,
            insn_record,
        })
    }

    /// Statistics from the footer, `verification time` and `stack depth` lines (the last of
    /// each wins).
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for r in &self.records {
            let kind = match r.kind {
                Kind::Glued { stats, .. } => classify(stats),
                k => k,
            };
            match kind {
                Kind::Footer(text) => {
                    let depth = std::mem::take(&mut s.stack_depth);
                    s.read_footer(text);
                    if s.stack_depth.is_empty() {
                        s.stack_depth = depth;
                    }
                }
                Kind::VerificationTime(t) => s.verification_time_usec = Some(t),
                Kind::StackDepth(d) => s.stack_depth = parse_depths(d),
                _ => {}
            }
        }
        s
    }

    /// For each `from A to B` record, the instruction record at `A` it continues from: the
    /// most recent earlier record of instruction `A` not already taken by another branch
    /// (the verifier explores depth-first, so the last pushed branch is the first resumed).
    pub fn branch_links(&self) -> HashMap<usize, usize> {
        let mut open: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut links = HashMap::new();
        for (i, r) in self.records.iter().enumerate() {
            match r.kind {
                Kind::Insn(l) => open.entry(l.insn).or_default().push(i),
                Kind::Branch { from, .. } => {
                    if let Some(j) = open.get_mut(&from).and_then(Vec::pop) {
                        links.insert(i, j);
                    }
                }
                _ => {}
            }
        }
        links
    }

    /// The records of the path that failed (or, for an accepted program, the last path
    /// explored), in execution order: from the program's start, through each `from A to B`
    /// taken, to the error. On a level-1 log this is simply every line of the path; on a
    /// level-2 log the path's pieces are spread over the log and are joined through
    /// [`VerifierLog::branch_links`]. Only lines about the program's execution are included
    /// (instructions, states, sources, branches, frame headers, `mark_precise`).
    pub fn path(&self) -> Vec<usize> {
        let end = self.error.as_ref().map_or(self.records.len(), |r| r.start);
        self.path_to(end)
    }

    /// Like [`VerifierLog::path`], but ending just before record `end`.
    pub fn path_to(&self, end: usize) -> Vec<usize> {
        let links = self.branch_links();
        let mut out = Vec::new();
        let mut i = end.min(self.records.len());
        let mut guard = self.records.len() + 1;
        while i > 0 && guard > 0 {
            guard -= 1;
            i -= 1;
            let r = &self.records[i];
            match r.kind {
                Kind::Branch { .. } => {
                    out.push(i);
                    match links.get(&i) {
                        // Go on from the branching instruction itself (included next).
                        Some(&j) if j < i => i = j + 1,
                        _ => break,
                    }
                }
                Kind::Insn(_)
                | Kind::State { .. }
                | Kind::Source(_)
                | Kind::FrameHeader(_)
                | Kind::FrameState(_)
                | Kind::MarkPrecise(_) => out.push(i),
                _ => {}
            }
        }
        out.reverse();
        out
    }

    /// The instruction indexes along [`VerifierLog::path`], in order.
    pub fn path_insns(&self) -> Vec<u32> {
        self.path()
            .into_iter()
            .filter_map(|i| match self.records[i].kind {
                Kind::Insn(l) => Some(l.insn),
                _ => None,
            })
            .collect()
    }

    /// What is known just before the last time instruction `insn` is verified on
    /// [`VerifierLog::path`] (for a refused program: the failing path). When the instruction
    /// is not on that path, the last time it appears in the log, along the path that led
    /// there. `None` when the log never shows it.
    pub fn state_before(&self, insn: u32) -> Option<KnownState<'a>> {
        let path = self.path();
        let is_insn = |i: usize| matches!(self.records[i].kind, Kind::Insn(l) if l.insn == insn);
        match path.iter().rposition(|&i| is_insn(i)) {
            Some(pos) => Some(self.replay(&path[..pos])),
            None => {
                let last = (0..self.records.len()).rev().find(|&i| is_insn(i))?;
                Some(self.state_before_record(last))
            }
        }
    }

    /// What is known just before record `record`, replaying the path that leads to it.
    pub fn state_before_record(&self, record: usize) -> KnownState<'a> {
        let path = self.path_to(record);
        self.replay(&path)
    }

    /// Replay states along `path` (record indexes in execution order).
    fn replay(&self, path: &[usize]) -> KnownState<'a> {
        let mut ks = KnownState::default();
        let mut after_header = None;
        for &i in path {
            match self.records[i].kind {
                Kind::Branch { state, safe, .. } if !safe => ks.snapshot(state.parse(), i),
                Kind::State { state, .. } => ks.delta(state.parse(), i),
                Kind::FrameHeader(h) => after_header = Some(h),
                Kind::FrameState(state) => {
                    let st = state.parse();
                    match after_header {
                        Some(_) => {
                            let cur = ks.frame;
                            ks.snapshot(st, i);
                            // A header's state describes a frame; the current frame is
                            // given by the lines that follow.
                            match after_header {
                                Some(FrameHeader::Caller) => ks.frame = cur,
                                Some(FrameHeader::ToCallerAt(_)) => {
                                    ks.frames.truncate(ks.frame as usize + 1)
                                }
                                _ => {}
                            }
                        }
                        None => ks.delta(st, i),
                    }
                }
                Kind::Insn(l) => {
                    after_header = None;
                    let insn = l.decode();
                    // A helper or kfunc call clobbers r0-r5 (a bpf-to-bpf call starts a frame).
                    if matches!(insn, Some(crate::insn::Insn::Call(c))
                        if !matches!(c, crate::insn::Callee::Local(_)))
                    {
                        let f = ks.frame;
                        let fr = ks.frame_mut(f);
                        for r in &mut fr.regs[1..=5] {
                            *r = None;
                        }
                        fr.regs[0] = None;
                    }
                    if l.glued_target.is_some() {
                        if !l.state.is_empty() {
                            ks.snapshot(l.state.parse(), i);
                        }
                    } else {
                        ks.delta(l.state.parse(), i);
                        if insn == Some(crate::insn::Insn::Exit) && ks.frame > 0 {
                            ks.frames.truncate(ks.frame as usize);
                            ks.frame -= 1;
                        }
                    }
                }
                _ => {}
            }
        }
        ks
    }

    /// The source annotation that applies to record `record`: the nearest `; ...` line before
    /// it, not looking past the start of its path piece (a `from A to B` line).
    pub fn source_for(&self, record: usize) -> Option<SourceLine<'a>> {
        let end = record.min(self.records.len());
        for r in self.records[..end].iter().rev() {
            match r.kind {
                Kind::Source(s) => return Some(s),
                Kind::Branch { .. } => return None,
                _ => {}
            }
        }
        None
    }

    /// The records of instruction `insn`, in log order.
    pub fn insn_records(&self, insn: u32) -> impl Iterator<Item = usize> + '_ {
        self.insns()
            .filter(move |(_, l)| l.insn == insn)
            .map(|(i, _)| i)
    }
}

/// Find the error block: the unknown lines (and a message glued to the footer) just before
/// the trailing stats; turn those records into [`Kind::Error`].
fn find_error(records: &mut [Record<'_>]) -> Option<Range<usize>> {
    let mut end = records.len();
    // Skip the trailing stats and blanks.
    while end > 0 {
        match records[end - 1].kind {
            Kind::Blank | Kind::VerificationTime(_) | Kind::StackDepth(_) => end -= 1,
            Kind::Footer(_) => end -= 1,
            _ => break,
        }
    }
    let mut start = end;
    if start > 0 && matches!(records[start - 1].kind, Kind::Glued { .. }) {
        start -= 1;
    }
    while start > 0 && matches!(records[start - 1].kind, Kind::Unknown) {
        start -= 1;
    }
    if start == end {
        return None;
    }
    for r in &mut records[start..end] {
        if matches!(r.kind, Kind::Unknown) {
            r.kind = Kind::Error(r.raw.strip_suffix('\r').unwrap_or(r.raw));
        }
    }
    Some(start..end)
}
