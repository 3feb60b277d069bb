//! The terminal renderer: the report of a refused program and the walk through an accepted
//! one, as text with optional ANSI colours. See the [view module](super) for what a report
//! holds.

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use crate::explain::{match_messages, Message};
use crate::helpers::Helper;
use crate::insn::{Callee, Insn};
use crate::program::Program;
use crate::verifier::source_map::{SourceInfo, SourceMap};
use crate::verifier::trace::{trace_before, walk_log_while, Origin, Trace};
use crate::verifier::{Kind, Verdict, VerifierLog};

use super::defuse::{
    failing_insn, insn_at, insn_text, operands, origin_lines, reg_report, OperandReport, OriginKind,
};
use super::words::{describe_slot, path_slots, path_summary, stats_line, value_text};
use super::ReportOptions;

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

/// The terminal report of a load's verifier log. See the [module docs](super). For a log with no
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
    let id = match insn_at(log, map, slot)? {
        Insn::Call(Callee::Helper(id)) => id,
        _ => return None,
    };
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
