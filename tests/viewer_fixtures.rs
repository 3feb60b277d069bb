//! The viewer on logs alone: the real logs from Linux 6.18 (`tests/fixtures/verifier/linux-6.18`,
//! mapped back by their own `; source @ file:line` annotations), the hand-written older formats,
//! and the saved kernel logs of `tests/fixtures/viewer/` joined to the programs that produced
//! them (`tests/fixtures/viewer/progs.rs`), all without a kernel.

#[path = "fixtures/viewer/progs.rs"]
mod progs;

use bpfsmith::verifier::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/verifier/linux-6.18"
);

fn fixture(name: &str) -> String {
    let path = format!("{DIR}/{name}.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn logs_in(dir: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn all_logs() -> Vec<(String, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut v = logs_in(DIR);
    v.extend(logs_in(&format!("{root}/tests/fixtures/verifier/older")));
    v.extend(logs_in(&format!("{root}/tests/fixtures/viewer")));
    v
}

const PLAIN: ReportOptions = ReportOptions {
    color: false,
    full: false,
};

/// The report of a log alone, and the parsed pieces the checks need.
fn report(text: &str) -> String {
    render_log_text(text, None, &PLAIN)
}

fn ops_of(text: &str) -> (u32, Vec<OperandReport>) {
    let log = VerifierLog::parse(text);
    let map = SourceMap::from_log_only(&log);
    let (slot, _) = failing_insn(&log, &log.error().unwrap()).unwrap();
    (slot, operands(&log, &map, slot))
}

fn op<'a>(ops: &'a [OperandReport], name: &str) -> &'a OperandReport {
    ops.iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no {name} in {ops:#?}"))
}

fn loc(o: &OriginLine) -> String {
    o.source.as_ref().map(|s| s.location()).unwrap_or_default()
}

#[test]
fn every_log_renders_in_every_form() {
    let logs = all_logs();
    assert!(logs.len() >= 90, "{} logs", logs.len());
    for (name, text) in &logs {
        let log = VerifierLog::parse(text);
        let map = SourceMap::from_log_only(&log);
        let plain = render_report(&log, &map, &PLAIN);
        let full = render_report(
            &log,
            &map,
            &ReportOptions {
                color: false,
                full: true,
            },
        );
        let color = render_report(
            &log,
            &map,
            &ReportOptions {
                color: true,
                full: false,
            },
        );
        assert_eq!(strip_ansi(&color), plain, "{name}");
        let page = render_html(&log, &map, name);
        assert!(page.ends_with("</html>\n"), "{name}");
        match log.error() {
            Some(e) => {
                assert!(plain.starts_with("error: "), "{name}:\n{plain}");
                assert!(plain.contains(e.headline()), "{name}");
                assert!(page.contains("id=\"error\""), "{name}");
                // The default report fits on a screen; the full one has the whole log.
                let n = plain.lines().count();
                assert!(n <= 60, "{name}: {n} lines\n{plain}");
                for l in text.lines().filter(|l| !l.trim().is_empty()) {
                    assert!(full.contains(l), "{name}: {l}");
                }
            }
            None => {
                assert!(plain.starts_with("accepted: "), "{name}:\n{plain}");
                // Each instruction line of the log is shown.
                for (_, l) in log.insns() {
                    assert!(plain.contains(l.text), "{name}: {}", l.text);
                }
            }
        }
    }
}

#[test]
fn clobbered_register_points_at_the_call_and_the_line_before_it() {
    let text = fixture("read_after_call.level1");
    let out = report(&text);
    assert!(out.contains("error: R1 !read_ok\n"), "{out}");
    assert!(out.contains("--> read_after_call.s:10\n"), "{out}");
    assert!(out.contains("   10 | r0 = r1\n"), "{out}");
    assert!(out.contains("  > 7: (bf) r0 = r1\n"), "{out}");
    let (slot, ops) = ops_of(&text);
    assert_eq!(slot, 7);
    let r1 = op(&ops, "r1");
    assert_eq!(r1.value, None);
    assert_eq!(r1.origin[0].kind, OriginKind::ClobberedBy);
    assert_eq!(r1.origin[0].slot, Some(6));
    assert_eq!(loc(&r1.origin[0]), "read_after_call.s:9");
    assert_eq!(r1.origin[1].kind, OriginKind::HeldBefore);
    assert_eq!(r1.origin[1].slot, Some(1));
    assert_eq!(loc(&r1.origin[1]), "read_after_call.s:5");
    assert_eq!(
        r1.origin[1].value.as_deref(),
        Some("map_ptr(map=queue,ks=0,vs=4)")
    );
}

#[test]
fn helper_arguments_their_origins_and_the_value_buffer() {
    let text = fixture("r1_not_map.level1");
    let (slot, ops) = ops_of(&text);
    assert_eq!(slot, 5);
    let names: Vec<&str> = ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["r1", "r2", "r3", "fp-8"]);
    let r1 = op(&ops, "r1");
    assert_eq!((r1.role.as_str(), r1.value.as_deref()), ("map", Some("0")));
    assert!(r1.meaning.contains("expects a map"), "{}", r1.meaning);
    assert_eq!(
        (r1.origin[0].slot, loc(&r1.origin[0])),
        (Some(1), "r1_not_map.s:5".to_owned())
    );
    let r2 = op(&ops, "r2");
    assert_eq!(r2.value.as_deref(), Some("fp-4"));
    assert_eq!(r2.origin[0].slot, Some(3), "r2 += -4 set it, not r2 = r10");
    let fp8 = op(&ops, "fp-8");
    assert_eq!(fp8.value.as_deref(), Some("mmmm????"));
    assert_eq!(loc(&fp8.origin[0]), "r1_not_map.s:4");

    // The uninitialised buffer: the slot r2 points to was never written.
    let text = fixture("push_uninit.level1");
    let out = report(&text);
    assert!(out.contains("never written"), "{out}");
    let (_, ops) = ops_of(&text);
    assert_eq!(op(&ops, "fp-8").value, None);
    assert!(op(&ops, "fp-8").meaning.contains("never written"));
}

#[test]
fn level_1_and_level_2_logs_agree_on_the_failing_path() {
    for level in ["level1", "level2", "level5", "level6"] {
        let text = fixture(&format!("branch_refused.{level}"));
        let log = VerifierLog::parse(&text);
        assert_eq!(
            path_summary(&log, "✗"),
            "0 → 3 (taken) → 9 → 14 ✗",
            "{level}"
        );
        let (slot, ops) = ops_of(&text);
        assert_eq!(slot, 14);
        let r0 = op(&ops, "r0");
        assert_eq!(r0.role, "address");
        assert_eq!(
            (r0.origin[0].slot, loc(&r0.origin[0])),
            (Some(13), "branch_refused.s:18".to_owned()),
            "{level}"
        );
        // r7 comes from the load at 1, narrowed by the jump at 3 (taken to 9).
        let t = trace_before(&log, 14).unwrap();
        let r7 = t.reg(7).unwrap();
        assert!(matches!(log.records()[r7.origin.record].kind, Kind::Insn(l) if l.insn == 1));
        let narrowed = r7.origin.narrowed.expect("narrowed by the branch");
        let by = &log.records()[narrowed];
        assert!(
            by.raw.starts_with("from 3 to 9") || by.raw.starts_with("3: "),
            "{level}: {}",
            by.raw
        );
        // The path-only view is what path_summary says.
        assert!(report(&text).contains("path: 0 → 3 (taken) → 9 → 14 ✗"));
    }
}

#[test]
fn messages_of_other_refusals() {
    let out = report(&fixture("perf_output_queue.level1"));
    assert!(out.contains("error: cannot pass map_type 22 into func bpf_perf_event_output#25"));
    assert!(out.contains("what it means: The helper does not work on this type of map."));
    // A message the kernel glued to the stats line.
    let out = report(&fixture("tail_call_queue.level1"));
    assert!(
        out.starts_with("error: expected prog array map for tail call\n"),
        "{out}"
    );
    assert!(
        out.contains("r2 (argument) = map_ptr(map=queue,ks=0,vs=4)"),
        "{out}"
    );
    assert!(
        !out.contains("r4 (argument)"),
        "unset arguments of an undescribed helper: {out}"
    );
    // The loop names its instruction; its path goes round.
    let text = fixture("infinite_loop.level1");
    let out = report(&text);
    assert!(out.contains("at 1: (b7) r1 = 0\n"), "{out}");
    assert!(out.contains("--> infinite_loop.s:6"), "{out}");
    assert!(out.contains("2 (goto) → 1"), "{out}");
    // Two-line messages keep both lines.
    let out = report(&fixture("lookup_queue_mapvalue.level1"));
    assert!(
        out.contains("R2 min value is outside of the allowed memory range"),
        "{out}"
    );
}

#[test]
fn accepted_logs_instruction_by_instruction() {
    let text = fixture("queue_push_pop.level2");
    let out = report(&text);
    assert!(
        out.starts_with("accepted: the verifier accepted the program\n"),
        "{out}"
    );
    assert!(out.contains("; r2 += -4 @ queue_push_pop.s:"), "{out}");
    assert!(out.contains("set r2=fp-4"), "{out}");
    assert!(
        out.contains("from 12 to 15: the branch at 12 taken"),
        "{out}"
    );
    // Level 1 of an accepted program: only the stats.
    let out = report(&fixture("queue_push_pop.level1"));
    assert!(out.contains("load with log level 2"), "{out}");
    assert!(out.contains("processed "), "{out}");
}

#[test]
fn values_cross_bpf_to_bpf_calls_with_their_origins() {
    let text = fixture("bpf2bpf.level2");
    let log = VerifierLog::parse(&text);
    let rec_of = |insn: u32| log.insn_records(insn).next().unwrap();
    let mut seen = 0;
    walk_log(&log, |i, t| {
        // In the callee, r1 is the caller's r1 (set by `r1 += -8` at 3).
        if i == rec_of(9) {
            assert_eq!(t.frame, 1);
            assert_eq!(t.reg(1).unwrap().origin.record, rec_of(3));
            assert_eq!(t.reg(2).unwrap().origin.record, rec_of(4));
            seen += 1;
        }
        // Back in the caller, r0 is the callee's r0 (set at 13).
        if matches!(
            log.records()[i].kind,
            Kind::Branch {
                from: 14,
                to: 6,
                ..
            }
        ) {
            assert_eq!(t.frame, 0);
            assert_eq!(t.reg(0).unwrap().origin.record, rec_of(13));
            assert_eq!(t.reg(6).unwrap().origin.record, rec_of(0));
            seen += 1;
        }
    });
    assert_eq!(seen, 2);
}

#[test]
fn saved_kernel_logs_join_the_program_that_produced_them() {
    let root = env!("CARGO_MANIFEST_DIR");
    for case in progs::all() {
        for level in [1, 2] {
            let path = format!(
                "{root}/tests/fixtures/viewer/{}.level{level}.log",
                case.program
            );
            let text = std::fs::read_to_string(&path).unwrap();
            // With the program: its Rust lines.
            let out = render_log_text(&text, Some(case.program()), &PLAIN);
            let at = format!("--> tests/fixtures/viewer/progs.rs:{}:", case.failing_line);
            assert!(out.contains(&at), "{path}:\n{out}");
            for &(name, line) in &case.origins {
                if line > 0 {
                    assert!(out.contains(&format!("progs.rs:{line}")), "{name}: {out}");
                }
            }
            // Without it: no source line, but the same operands and origins (by slot).
            let alone = render_log_text(&text, None, &PLAIN);
            assert!(alone.contains("(no source line"), "{alone}");
            let (_, ops) = ops_of(&text);
            for &(name, _) in &case.origins {
                let o = op(&ops, name);
                assert!(!o.origin.is_empty(), "{name}");
            }
        }
    }
}

#[test]
fn a_log_from_another_program_is_flagged() {
    let text = fixture("read_after_call.level1");
    let other = progs::write_r10();
    let out = render_log_text(&text, Some(other.program()), &PLAIN);
    assert!(
        out.contains("warning: the log is not from this program"),
        "{out}"
    );
}

/// A long level-2 log (the real ones one after the other, ending with a refusal) renders in
/// every form; the page carries whole states for at most 5000 instructions.
#[test]
fn long_logs_render() {
    let mut names: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".level2.log"))
        .collect();
    names.sort();
    let mut block = String::new();
    for n in names {
        block.push_str(&std::fs::read_to_string(n).unwrap());
    }
    let mut text = String::new();
    while text.lines().count() < 100_000 {
        text.push_str(&block);
    }
    text.push_str(&fixture("read_after_call.level2"));
    let t0 = std::time::Instant::now();
    let log = VerifierLog::parse(&text);
    let map = SourceMap::from_log_only(&log);
    let out = render_report(&log, &map, &PLAIN);
    assert!(out.starts_with("error: R1 !read_ok"), "{out}");
    assert!(out.lines().count() <= 60);
    let t1 = t0.elapsed();
    let full = render_report(
        &log,
        &map,
        &ReportOptions {
            color: false,
            full: true,
        },
    );
    assert!(full.lines().count() > 100_000);
    let t2 = t0.elapsed();
    let page = render_html(&log, &map, "long");
    let t3 = t0.elapsed();
    let states = page.matches("\":[[").count();
    assert!(states <= 5001, "{states}");
    // Timings are printed, not asserted (benchmarks measure; tests check).
    eprintln!(
        "long log: {} lines; report {t1:?}, full {:?}, html {:?} ({} bytes)",
        log.records().len(),
        t2 - t1,
        t3 - t2,
        page.len()
    );
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
fn older_formats() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |n: &str| {
        std::fs::read_to_string(format!("{root}/tests/fixtures/verifier/older/{n}.log")).unwrap()
    };
    // An error found before verification: no instruction to show.
    let out = report(&read("v4.14-level1-back-edge"));
    assert!(
        out.contains("at instruction 2 (found before verification started"),
        "{out}"
    );
    // 5.x prints an instruction's result on the state line after it; a jump narrows.
    let text = read("v5-level2-accepted");
    let log = VerifierLog::parse(&text);
    let rec_of = |insn: u32| log.insn_records(insn).next().unwrap();
    let t = trace_before(&log, 4).unwrap();
    let r2 = t.reg(2).unwrap();
    assert_eq!(r2.origin.record, rec_of(2), "r2 &= 255 set it");
    assert_eq!(
        r2.origin.narrowed,
        Some(rec_of(3)),
        "the jump at 3 narrowed it"
    );
    assert_eq!(t.reg(0).unwrap().origin.record, rec_of(0));
    let out = report(&text);
    assert!(
        out.contains("; int x = 0;\n"),
        "no ` @ ?` for a line without a file: {out}"
    );
    assert!(out.contains("narrowed r2="), "{out}");
}
