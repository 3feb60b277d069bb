//! The viewer on programs the real kernel refuses: the classic queue/stack mistakes
//! (`tests/fixtures/viewer/progs.rs`), built with the DSL and loaded with `BPF_PROG_LOAD`. Each
//! report must name the Rust line of the refused instruction, explain the message, mark the
//! instruction in the listing, and say which line gave each operand its value. Needs root or
//! CAP_BPF (see tests/common/kernel.rs).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

#[path = "fixtures/viewer/progs.rs"]
mod progs;

use bpfsmith::explain::match_messages;
use bpfsmith::load::{LoadError, LoadOptions};
use bpfsmith::verifier::*;
use progs::Case;

const FILE: &str = "tests/fixtures/viewer/progs.rs";

/// Load `case` and return the verifier's log of the refusal.
fn refused(case: &Case, log_level: u32) -> String {
    let opts = LoadOptions {
        log_level,
        ..Default::default()
    };
    match case.object.load_with(&opts) {
        Err(LoadError::Verifier { program, log, .. }) => {
            assert_eq!(program, case.program);
            if let Ok(dir) = std::env::var("BPFSMITH_VIEWER_CAPTURE") {
                let path = format!("{dir}/{}.level{}.log", case.program, log_level.max(1));
                std::fs::write(&path, &log).unwrap();
            }
            log
        }
        Ok(_) => panic!("{}: the kernel accepted it", case.program),
        Err(e) => panic!("{}: {e}", case.program),
    }
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Check the default report of `case`'s refusal log; returns it.
fn check(case: &Case, text: &str) -> String {
    let log = VerifierLog::parse(text);
    let err = log.error().expect("the log ends with an error");
    assert_eq!(err.headline(), case.message, "{text}");
    let map = SourceMap::new(&log, Some(case.program()));
    assert_eq!(map.mismatches(&log), vec![], "the log is the program's");
    let report = render_report(&log, &map, &ReportOptions::default());
    let ctx = format!("{}:\n{report}\n--- log:\n{text}", case.program);

    // The message, and what it means.
    assert!(
        report.starts_with(&format!("error: {}\n", case.message)),
        "{ctx}"
    );
    let m = match_messages(case.message)[0];
    for part in [m.meaning, m.cause, m.fix] {
        assert!(squash(&report).contains(&squash(part)), "{ctx}");
    }

    // The refused instruction, at its Rust line, with the line's text.
    let (slot, _) = failing_insn(&log, &err).expect("a failing instruction");
    let src = map.source(slot).expect("the instruction's source");
    assert_eq!(
        (src.file.as_str(), src.line),
        (FILE, Some(case.failing_line)),
        "{ctx}"
    );
    assert!(
        report.contains(&format!("--> {FILE}:{}:", case.failing_line)),
        "{ctx}"
    );
    let line_text = src.text.as_deref().unwrap();
    assert!(line_text.contains("at!("), "{line_text}");
    assert!(report.contains(&format!(" | {line_text}")), "{ctx}");
    let text = &map.get(slot).unwrap().text;
    assert!(
        report.lines().any(|l| l.starts_with("  > ")
            && l.trim_start_matches([' ', '>']) == format!("{slot}: {text}")),
        "the failing instruction is marked in the listing: {ctx}"
    );

    // Where each operand came from.
    let ops = operands(&log, &map, slot);
    for &(name, line) in &case.origins {
        let op = ops
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("no operand {name}: {ctx}"));
        let o = op
            .origin
            .iter()
            .find(|o| {
                matches!(
                    o.kind,
                    OriginKind::SetBy | OriginKind::HeldBefore | OriginKind::Entry
                )
            })
            .unwrap_or_else(|| panic!("{name} has no origin: {ctx}"));
        if line == 0 {
            assert_eq!(o.kind, OriginKind::Entry, "{name}: {ctx}");
            continue;
        }
        let s = o.source.as_ref().expect("the origin's source line");
        assert_eq!(
            (s.file.as_str(), s.line),
            (FILE, Some(line)),
            "{name}: {ctx}"
        );
        assert!(
            report.contains(&format!("progs.rs:{line}")),
            "{name}: {ctx}"
        );
    }

    // One screen.
    assert!(
        report.lines().count() <= 60,
        "{} lines: {ctx}",
        report.lines().count()
    );
    assert!(report.lines().all(|l| l.chars().count() <= 110), "{ctx}");
    report
}

fn operand<'a>(report_ops: &'a [OperandReport], name: &str) -> &'a OperandReport {
    report_ops.iter().find(|o| o.name == name).unwrap()
}

#[test]
fn each_classic_mistake_is_explained_at_its_rust_line() {
    require_kernel!("each_classic_mistake_is_explained_at_its_rust_line");
    for case in progs::all() {
        let text = refused(&case, 0);
        check(&case, &text);
    }
}

#[test]
fn the_same_from_a_level_2_log() {
    require_kernel!("the_same_from_a_level_2_log");
    for case in progs::all() {
        let text = refused(&case, 2);
        check(&case, &text);
    }
}

#[test]
fn flags_never_set_and_registers_clobbered_by_the_call() {
    require_kernel!("flags_never_set_and_registers_clobbered_by_the_call");
    // r3 was never set.
    let case = progs::flags_unset();
    let text = refused(&case, 0);
    let log = VerifierLog::parse(&text);
    let map = SourceMap::new(&log, Some(case.program()));
    let slot = failing_insn(&log, &log.error().unwrap()).unwrap().0;
    let ops = operands(&log, &map, slot);
    let r3 = operand(&ops, "r3");
    assert_eq!(r3.role, "flags");
    assert_eq!(r3.value, None);
    assert_eq!(r3.origin[0].kind, OriginKind::NeverSet);
    let r1 = operand(&ops, "r1");
    assert_eq!(r1.value.as_deref(), Some("map_ptr(map=queue,ks=0,vs=4)"));
    assert!(r1.meaning.contains("the map `queue`"));

    // r1 was clobbered by the push's call; before it held the map.
    let case = progs::read_after_call();
    let text = refused(&case, 0);
    let log = VerifierLog::parse(&text);
    let map = SourceMap::new(&log, Some(case.program()));
    let slot = failing_insn(&log, &log.error().unwrap()).unwrap().0;
    let ops = operands(&log, &map, slot);
    let r1 = operand(&ops, "r1");
    assert_eq!(r1.origin[0].kind, OriginKind::ClobberedBy);
    assert_eq!(
        r1.origin[0].text.as_deref(),
        Some("(85) call bpf_map_push_elem#87")
    );
    assert_eq!(r1.origin[1].kind, OriginKind::HeldBefore);
    assert!(r1.origin[1]
        .value
        .as_deref()
        .unwrap()
        .starts_with("map_ptr("));
    assert_eq!(
        r1.origin[1].text.as_deref(),
        Some("(18) r1 = 0x0 ; map queue")
    );
}

#[test]
fn snapshot_of_a_report() {
    require_kernel!("snapshot_of_a_report");
    let case = progs::r1_scalar();
    let text = refused(&case, 0);
    let report = check(&case, &text);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("viewer_r1_scalar", report);
    });
}

#[test]
fn colours_full_reports_and_html() {
    require_kernel!("colours_full_reports_and_html");
    let case = progs::pop_hash();
    let text = refused(&case, 2);
    let log = VerifierLog::parse(&text);
    let map = SourceMap::new(&log, Some(case.program()));
    let plain = render_report(&log, &map, &ReportOptions::default());
    let color = render_report(
        &log,
        &map,
        &ReportOptions {
            color: true,
            full: false,
        },
    );
    assert!(color.contains("\x1b["));
    assert_eq!(strip_ansi(&color), plain);
    let full = render_report(
        &log,
        &map,
        &ReportOptions {
            color: false,
            full: true,
        },
    );
    // Every line of the log is in the full report, with the program's source lines added.
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        assert!(full.contains(l), "{l}\n{full}");
    }
    // The kernel names the file by its base name in the log's own source lines (the object
    // carries BTF line info); lines the log lacks are added with the program's full path.
    let base = FILE.rsplit('/').next().unwrap();
    assert!(
        full.contains(&format!("@ {FILE}:{}", case.failing_line))
            || full.contains(&format!("@ {base}:{}", case.failing_line)),
        "{full}"
    );
    let page = render_html(&log, &map, "pop_hash");
    assert!(page.contains("cannot pass map_type 1 into func bpf_map_pop_elem#88"));
    assert!(page.contains(&format!("{FILE}:{}", case.failing_line)));
}

/// The text without ANSI escape sequences.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn an_accepted_program_instruction_by_instruction() {
    require_kernel!("an_accepted_program_instruction_by_instruction");
    let obj = bpfsmith::seed::object();
    let loaded = obj
        .load_with(&LoadOptions {
            log_level: 2,
            ..Default::default()
        })
        .expect("the demo loads");
    let prog = obj.program("queue_prog").unwrap();
    let text = loaded
        .program("queue_prog")
        .unwrap()
        .log()
        .expect("a level-2 log");
    let log = VerifierLog::parse(text);
    assert!(log.error().is_none());
    let map = SourceMap::new(&log, Some(prog));
    assert_eq!(map.mismatches(&log), vec![]);
    let out = render_report(&log, &map, &ReportOptions::default());
    assert!(
        out.starts_with("accepted: the verifier accepted program `queue_prog`\n"),
        "{out}"
    );
    // Every instruction line, each under its Rust line, with what it set.
    for (_, l) in log.insns() {
        assert!(
            out.contains(l.text) || l.text.contains("0xffff"),
            "{}",
            l.text
        );
    }
    assert!(out.contains("@ src/seed.rs:"), "{out}");
    assert!(out.contains("set r2=fp-4"), "{out}");
    // The demo tests w0 (a JMP32 jump): the branch narrows r0's low half to 0 and leaves its
    // high half unknown.
    assert!(
        out.contains("narrowed r0=scalar(") && out.contains("smax32=umax32=0"),
        "a jump narrows, it does not set: {out}"
    );
    assert!(out.contains("the branch at"), "{out}");
    assert!(out.contains("processed "), "{out}");
}

/// A map helper's result used as a pointer: the report says what the value is (an int, not a
/// pointer) and how to test it portably.
#[test]
fn a_map_helpers_int_result_is_explained() {
    require_kernel!("a_map_helpers_int_result_is_explained");
    let src = concat!(
        ".license \"GPL\"\n",
        ".map queue, type=queue, value_size=4, max_entries=4\n",
        ".section socket\n.globl p\np:\n",
        "\tr1 = queue ll\n\tr2 = r10\n\tr2 += -4\n",
        "\tcall bpf_map_pop_elem\n",
        "\tr0 = *(u32 *)(r0 + 0)\n\texit\n",
    );
    let obj = bpfsmith::text::assemble("pop_deref.s", src).unwrap();
    let Err(LoadError::Verifier { log, .. }) = obj.load_with(&LoadOptions::default()) else {
        panic!("the kernel accepted a dereference of pop's result");
    };
    let opts = ReportOptions {
        color: false,
        full: false,
    };
    let report = render_log_text(&log, Some(&obj.programs[0]), &opts);
    let squashed = squash(&report);
    assert!(
        squashed.contains("bpf_map_pop_elem returns an int, 0 or a negative errno (not a pointer)"),
        "{report}"
    );
    assert!(squashed.contains("test it as w0"), "{report}");
}
