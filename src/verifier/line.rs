//! Classifying one log line. Total: every line gets a [`Kind`], [`Kind::Unknown`] when
//! nothing else fits. No allocation: every field borrows from the line.

use super::state::{parse_int, StateText};

/// What a log line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind<'a> {
    /// An empty (or whitespace-only) line.
    Blank,
    /// `N: (op) text ; state` or, without the state, `N: (op) text`.
    Insn(InsnLine<'a>),
    /// `N: state` or `N: frame1: state`: the full state before instruction `N`.
    State {
        /// The instruction index.
        insn: u32,
        /// The state.
        state: StateText<'a>,
    },
    /// `; source text @ file:line` (or, on older kernels, `; source text`).
    Source(SourceLine<'a>),
    /// `from A to B: state` (a path taken up after a branch or a return),
    /// or `from A to B: safe`.
    Branch {
        /// The instruction the path branched (or returned) from.
        from: u32,
        /// The instruction the path goes on at.
        to: u32,
        /// Whether the line says `(speculative execution)`.
        speculative: bool,
        /// The state at `to` (empty for `safe`).
        state: StateText<'a>,
        /// `from A to B: safe`: the state was already known safe, the path ends here.
        safe: bool,
    },
    /// `A: safe`: the state at `A` is covered by one already verified; the path ends.
    Safe {
        /// The instruction index.
        insn: u32,
    },
    /// `func#N @M`: subprogram `N` starts at instruction `M`.
    Func {
        /// The subprogram number.
        func: u32,
        /// Its first instruction.
        insn: u32,
    },
    /// `caller:` / `callee:` / `returning from callee:` / `to caller at N:` headers around a
    /// bpf-to-bpf call or return.
    FrameHeader(FrameHeader),
    /// An indented state line under a [`Kind::FrameHeader`] (` R6=ctx() R10=fp0`,
    /// ` frame1: R1=...`), or an older kernel's state on a line of its own.
    FrameState(StateText<'a>),
    /// `mark_precise: frame0: ...`: precision backtracking.
    MarkPrecise(MarkPrecise<'a>),
    /// `Live regs before insn:`.
    LiveRegsHeader,
    /// One line of the live-registers block: `   5: .12....... (b7) r3 = 0`.
    LiveRegs(LiveRegsLine<'a>),
    /// Stack liveness debugging: `(0) frame 0 insn 13 +live -8`,
    /// `(0) live stack update done in 2 iterations`.
    StackLiveness(&'a str),
    /// `SCC enter (1)` / `SCC exit (1)`: strongly connected component (loop) bookkeeping.
    Scc(&'a str),
    /// `verification time N usec`.
    VerificationTime(u64),
    /// `stack depth N` or, with subprograms, `stack depth 8+0+16`.
    StackDepth(&'a str),
    /// `processed N insns (limit L) max_states_per_insn ...`: the stats footer.
    Footer(&'a str),
    /// An error message the kernel printed without its newline, so that the next stats line
    /// (`processed ...`, `verification time ...` or `stack depth ...`) is glued to it:
    /// `expected prog array map for tail callprocessed 3 insns ...`.
    Glued {
        /// The message, up to the stats.
        message: &'a str,
        /// The stats line's text; [`classify`] it to read it.
        stats: &'a str,
    },
    /// A line of the error that refused the program (decided after the whole log is read:
    /// the unknown lines just before the stats at the end).
    Error(&'a str),
    /// Anything else, kept as is.
    Unknown,
}

/// An instruction line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InsnLine<'a> {
    /// The instruction's slot index.
    pub insn: u32,
    /// The opcode byte, from `(b7)`.
    pub opcode: u8,
    /// The instruction as the kernel prints it (`r2 += -4`, `call bpf_map_push_elem#87`).
    pub text: &'a str,
    /// The state after it (the part after ` ; `), empty when not printed.
    pub state: StateText<'a>,
    /// On level-1 logs the kernel glues the branch it takes up next to the jump:
    /// `3: (25) if r7 > 0x5dc goto pc+5 9: R1=ctx() ...`. This is the `9`; `state` is then
    /// the state at that target.
    pub glued_target: Option<u32>,
}

impl InsnLine<'_> {
    /// The instruction, decoded from its text by the assembler's parser (which reads the
    /// kernel's spelling) and checked against the opcode column; `None` for text the parser
    /// does not read. The viewer's def-use analysis works on this ([`crate::insn::Insn::uses`],
    /// [`crate::insn::Insn::defs`]).
    pub fn decode(&self) -> Option<crate::insn::Insn> {
        crate::text::parse_log_insn(self.text, self.opcode)
    }
}

/// A source annotation line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLine<'a> {
    /// The source text (the line as recorded in BTF line info).
    pub text: &'a str,
    /// The file, when the kernel printed ` @ file:line`.
    pub file: Option<&'a str>,
    /// The 1-based line, when printed.
    pub line: Option<u32>,
}

/// Headers around bpf-to-bpf calls and returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameHeader {
    /// `caller:`.
    Caller,
    /// `callee:`.
    Callee,
    /// `returning from callee:`.
    ReturningFromCallee,
    /// `to caller at N:`.
    ToCallerAt(u32),
}

/// A `mark_precise:` line. The detail is kept as printed and read by the methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkPrecise<'a> {
    /// The frame (`frame0`).
    pub frame: Option<u8>,
    /// The text after `frameN: `.
    pub detail: &'a str,
}

impl<'a> MarkPrecise<'a> {
    /// The registers being tracked back (`regs=r1,r4` → `[1, 4]`), when the line lists them.
    pub fn regs(&self) -> Option<Vec<u8>> {
        let rest = self.after("regs=")?;
        let list = rest.split([' ', ':']).next().unwrap_or("");
        Some(
            list.split(',')
                .filter_map(|r| r.strip_prefix('r')?.parse().ok())
                .collect(),
        )
    }

    /// The stack slots being tracked back (`stack=-8,-16` → `[-8, -16]`), when listed.
    pub fn stack(&self) -> Option<Vec<i32>> {
        let rest = self.after("stack=")?;
        let list = rest.split([' ', ':']).next().unwrap_or("");
        Some(
            list.split(',')
                .filter_map(|s| parse_int(s).map(|n| n as i32))
                .collect(),
        )
    }

    /// The instruction index of `before N: (op) ...` lines.
    pub fn before_insn(&self) -> Option<u32> {
        let rest = self.after(" before ")?;
        rest.split(':').next()?.trim().parse().ok()
    }

    /// `last_idx N`.
    pub fn last_idx(&self) -> Option<u32> {
        self.after("last_idx ")?.split(' ').next()?.parse().ok()
    }

    /// `first_idx N`.
    pub fn first_idx(&self) -> Option<u32> {
        self.after("first_idx ")?.split(' ').next()?.parse().ok()
    }

    /// The state printed by `parent state regs=... stack=...:  R0=...`.
    pub fn parent_state(&self) -> Option<StateText<'a>> {
        let rest = self.after("parent state ")?;
        let (_, state) = rest.split_once(':')?;
        Some(StateText(state.trim()))
    }

    fn after(&self, key: &str) -> Option<&'a str> {
        let i = self.detail.find(key)?;
        Some(&self.detail[i + key.len()..])
    }
}

/// One line of the `Live regs before insn:` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveRegsLine<'a> {
    /// The instruction index.
    pub insn: u32,
    /// The loop (strongly connected component) number printed before it, if any.
    pub scc: Option<u32>,
    /// Bit `n` set: register `n` is live before the instruction.
    pub live: u16,
    /// The opcode byte.
    pub opcode: u8,
    /// The instruction text.
    pub text: &'a str,
}

/// Leading decimal number of `s` and the rest.
fn leading_u32(s: &str) -> Option<(u32, &str)> {
    let end = s
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    if end == 0 || end > 10 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

fn hex_byte(s: &str) -> Option<u8> {
    if s.len() != 2 {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

/// Classify one line (without its newline).
pub fn classify(raw: &str) -> Kind<'_> {
    let line = raw.strip_suffix('\r').unwrap_or(raw);
    let Some(&first) = line.as_bytes().first() else {
        return Kind::Blank;
    };
    match first {
        // The tail of a log buffer read past its terminating NUL.
        b'\0' if line.bytes().all(|b| b == 0 || b.is_ascii_whitespace()) => Kind::Blank,
        b'0'..=b'9' => numbered(line),
        b';' => Kind::Source(source(line)),
        b' ' | b'\t' => indented(line),
        b'f' => {
            if let Some(rest) = line.strip_prefix("from ") {
                branch(rest)
            } else if let Some(rest) = line.strip_prefix("func#") {
                func(rest)
            } else {
                Kind::Unknown
            }
        }
        b'c' => match line {
            "caller:" => Kind::FrameHeader(FrameHeader::Caller),
            "callee:" => Kind::FrameHeader(FrameHeader::Callee),
            _ => Kind::Unknown,
        },
        b'r' if line == "returning from callee:" => {
            Kind::FrameHeader(FrameHeader::ReturningFromCallee)
        }
        b't' => line
            .strip_prefix("to caller at ")
            .and_then(|r| r.strip_suffix(':'))
            .and_then(|n| n.parse().ok())
            .map_or(Kind::Unknown, |n| {
                Kind::FrameHeader(FrameHeader::ToCallerAt(n))
            }),
        b'm' => match line.strip_prefix("mark_precise: ") {
            Some(rest) => Kind::MarkPrecise(mark_precise(rest)),
            None => Kind::Unknown,
        },
        b'L' if line.trim_end() == "Live regs before insn:" => Kind::LiveRegsHeader,
        b'(' => stack_liveness(line),
        b'S' if line.starts_with("SCC ") => Kind::Scc(line),
        b'v' => line
            .strip_prefix("verification time ")
            .and_then(|r| r.strip_suffix(" usec"))
            .and_then(|n| n.parse().ok())
            .map_or(Kind::Unknown, Kind::VerificationTime),
        b's' => match line.strip_prefix("stack depth ") {
            Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit() || b == b'+') => {
                Kind::StackDepth(d)
            }
            _ => Kind::Unknown,
        },
        b'p' if is_footer(line) => Kind::Footer(line),
        _ => glued_footer(line),
    }
}

fn is_footer(s: &str) -> bool {
    s.strip_prefix("processed ")
        .and_then(leading_u32)
        .is_some_and(|(_, r)| r.starts_with(" insns"))
}

/// An error message printed without a newline, then the footer: `...for tail callprocessed 3
/// insns ...`.
fn glued_footer(line: &str) -> Kind<'_> {
    for key in ["processed ", "verification time ", "stack depth "] {
        if let Some(i) = line.rfind(key) {
            if i > 0 {
                let stats = &line[i..];
                if matches!(
                    classify(stats),
                    Kind::Footer(_) | Kind::VerificationTime(_) | Kind::StackDepth(_)
                ) {
                    return Kind::Glued {
                        message: &line[..i],
                        stats,
                    };
                }
            }
        }
    }
    Kind::Unknown
}

fn numbered(line: &str) -> Kind<'_> {
    let Some((n, rest)) = leading_u32(line) else {
        return glued_footer(line);
    };
    let Some(rest) = rest.strip_prefix(':') else {
        return glued_footer(line);
    };
    if rest == " safe" {
        return Kind::Safe { insn: n };
    }
    if let Some(after) = rest.strip_prefix(" (") {
        if let Some(op) = after.get(..2).and_then(hex_byte) {
            if let Some(text) = after[2..].strip_prefix(')') {
                return Kind::Insn(insn_line(n, op, text.strip_prefix(' ').unwrap_or(text)));
            }
        }
        return Kind::Unknown;
    }
    let st = rest.trim_start();
    if rest.is_empty() || looks_like_state(st) {
        return Kind::State {
            insn: n,
            state: StateText(st),
        };
    }
    glued_footer(line)
}

/// Whether `s` starts like a state: `R1=`, `frame1:`, `fp-8=`, `refs=`.
fn looks_like_state(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(b'R') => b.get(1).is_some_and(u8::is_ascii_digit),
        Some(b'f') => s.starts_with("frame") || s.starts_with("fp-"),
        Some(b'r') => s.starts_with("refs="),
        _ => false,
    }
}

fn insn_line(insn: u32, opcode: u8, text: &str) -> InsnLine<'_> {
    let mut out = InsnLine {
        insn,
        opcode,
        text: text.trim_end(),
        state: StateText(""),
        glued_target: None,
    };
    // The state follows the first `;` outside parentheses (a state's `var_off=(0x0; 0xff)`
    // has one inside).
    let mut depth = 0i32;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b';' if depth <= 0 => {
                out.text = text[..i].trim_end();
                out.state = StateText(text[i + 1..].trim());
                return out;
            }
            _ => {}
        }
    }
    // A level-1 log glues the next branch target: `... goto pc+5 9: R1=ctx() ...`.
    let bytes = text.as_bytes();
    let mut search = 0;
    while let Some(j) = text[search..].find(": ") {
        let colon = search + j;
        let start = bytes[..colon]
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |p| p + 1);
        if start < colon && start > 0 && bytes[start - 1] == b' ' {
            let after = &text[colon + 2..];
            if let Ok(t) = text[start..colon].parse::<u32>() {
                if looks_like_state(after) || after.trim_end() == "safe" {
                    out.text = text[..start].trim_end();
                    out.glued_target = Some(t);
                    out.state = StateText(after.trim());
                    return out;
                }
            }
        }
        search = colon + 2;
    }
    out
}

fn source(line: &str) -> SourceLine<'_> {
    let rest = line[1..].strip_prefix(' ').unwrap_or(&line[1..]);
    if let Some(at) = rest.rfind(" @ ") {
        let loc = &rest[at + 3..];
        if let Some((file, ln)) = loc.rsplit_once(':') {
            if let Ok(n) = ln.trim_end().parse::<u32>() {
                return SourceLine {
                    text: &rest[..at],
                    file: Some(file),
                    line: Some(n),
                };
            }
        }
    }
    SourceLine {
        text: rest,
        file: None,
        line: None,
    }
}

fn branch(rest: &str) -> Kind<'_> {
    let parse = || {
        let (a, rest) = leading_u32(rest)?;
        let rest = rest.strip_prefix(" to ")?;
        let (b, rest) = leading_u32(rest)?;
        let (speculative, rest) = match rest.strip_prefix(" (speculative execution)") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let body = rest.strip_prefix(':')?.trim();
        let safe = body == "safe";
        Some(Kind::Branch {
            from: a,
            to: b,
            speculative,
            state: StateText(if safe { "" } else { body }),
            safe,
        })
    };
    parse().unwrap_or(Kind::Unknown)
}

fn func(rest: &str) -> Kind<'_> {
    let parse = || {
        let (f, rest) = leading_u32(rest)?;
        let rest = rest.strip_prefix(" @")?;
        let (i, rest) = leading_u32(rest)?;
        rest.trim()
            .is_empty()
            .then_some(Kind::Func { func: f, insn: i })
    };
    parse().unwrap_or(Kind::Unknown)
}

fn mark_precise(rest: &str) -> MarkPrecise<'_> {
    if let Some(r) = rest.strip_prefix("frame") {
        if let Some((n, after)) = leading_u32(r) {
            if let Some(detail) = after.strip_prefix(':') {
                return MarkPrecise {
                    frame: u8::try_from(n).ok(),
                    detail: detail.trim(),
                };
            }
        }
    }
    MarkPrecise {
        frame: None,
        detail: rest.trim(),
    }
}

fn stack_liveness(line: &str) -> Kind<'_> {
    let ok = line[1..].split_once(") ").is_some_and(|(ids, _)| {
        !ids.is_empty() && ids.bytes().all(|b| b.is_ascii_digit() || b == b',')
    });
    if ok {
        Kind::StackLiveness(line)
    } else {
        Kind::Unknown
    }
}

fn indented(line: &str) -> Kind<'_> {
    let t = line.trim_start();
    if t.is_empty() {
        return Kind::Blank;
    }
    if t.as_bytes()[0].is_ascii_digit() {
        if let Some(k) = live_regs(t) {
            return k;
        }
        return Kind::Unknown;
    }
    if looks_like_state(t) {
        return Kind::FrameState(StateText(t.trim_end()));
    }
    Kind::Unknown
}

/// `5: .12....... (b7) r3 = 0` or, inside a loop, `1   2: 01........ (0f) r0 += r1`.
fn live_regs(t: &str) -> Option<Kind<'_>> {
    let (a, rest) = leading_u32(t)?;
    let (scc, insn, rest) = if let Some(r) = rest.strip_prefix(':') {
        (None, a, r)
    } else {
        let (b, r) = leading_u32(rest.trim_start())?;
        (Some(a), b, r.strip_prefix(':')?)
    };
    let rest = rest.strip_prefix(' ')?;
    let (mask, rest) = rest.split_once(' ')?;
    let mut live = 0u16;
    for (i, c) in mask.bytes().enumerate() {
        match c {
            b'.' => {}
            b'0'..=b'9' if i < 16 => live |= 1 << i,
            b'a' if i == 10 => live |= 1 << 10,
            _ => return None,
        }
    }
    let rest = rest.strip_prefix('(')?;
    let opcode = hex_byte(rest.get(..2)?)?;
    let text = rest[2..].strip_prefix(") ").unwrap_or("");
    Some(Kind::LiveRegs(LiveRegsLine {
        insn,
        scc,
        live,
        opcode,
        text,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_with_state() {
        let Kind::Insn(i) = classify("4: (07) r2 += -4                      ; R2=fp-4") else {
            panic!()
        };
        assert_eq!(
            (i.insn, i.opcode, i.text, i.state.0),
            (4, 7, "r2 += -4", "R2=fp-4")
        );
        let Kind::Insn(i) = classify("14: (95) exit") else {
            panic!()
        };
        assert_eq!((i.text, i.state.0), ("exit", ""));
    }

    #[test]
    fn glued_branch() {
        let Kind::Insn(i) = classify("3: (25) if r7 > 0x5dc goto pc+5 9: R1=ctx() R10=fp0") else {
            panic!()
        };
        assert_eq!(i.text, "if r7 > 0x5dc goto pc+5");
        assert_eq!(i.glued_target, Some(9));
        assert_eq!(i.state.0, "R1=ctx() R10=fp0");
    }

    #[test]
    fn source_last_at() {
        let Kind::Source(s) = classify("; a @ b @ c.s:12") else {
            panic!()
        };
        assert_eq!((s.text, s.file, s.line), ("a @ b", Some("c.s"), Some(12)));
        let Kind::Source(s) = classify("; int x = 0;") else {
            panic!()
        };
        assert_eq!((s.text, s.file), ("int x = 0;", None));
    }

    #[test]
    fn misc() {
        assert_eq!(classify("func#1 @9"), Kind::Func { func: 1, insn: 9 });
        assert_eq!(classify("\0\0\0"), Kind::Blank);
        assert_eq!(classify("18: safe"), Kind::Safe { insn: 18 });
        assert_eq!(classify("stack depth 8+0"), Kind::StackDepth("8+0"));
        assert_eq!(
            classify("verification time 38 usec"),
            Kind::VerificationTime(38)
        );
        assert!(matches!(
            classify("from 6 to 9: R0=1 R10=fp0"),
            Kind::Branch {
                from: 6,
                to: 9,
                safe: false,
                ..
            }
        ));
        assert!(matches!(
            classify("from 6 to 9: safe"),
            Kind::Branch { safe: true, .. }
        ));
        assert!(matches!(
            classify("expected prog array map for tail callprocessed 3 insns (limit 1000000)"),
            Kind::Glued {
                message: "expected prog array map for tail call",
                ..
            }
        ));
        assert!(matches!(
            classify("expected prog array map for tail callverification time 21 usec"),
            Kind::Glued {
                stats: "verification time 21 usec",
                ..
            }
        ));
        let Kind::LiveRegs(l) = classify("  1   2: 01........ (0f) r0 += r1") else {
            panic!()
        };
        assert_eq!(
            (l.scc, l.insn, l.live, l.opcode, l.text),
            (Some(1), 2, 3, 0x0f, "r0 += r1")
        );
        let Kind::MarkPrecise(m) =
            classify("mark_precise: frame0: regs=r4 stack= before 8: (bf) r4 = r7")
        else {
            panic!()
        };
        assert_eq!(m.regs(), Some(vec![4]));
        assert_eq!(m.stack(), Some(vec![]));
        assert_eq!(m.before_insn(), Some(8));
    }
}
