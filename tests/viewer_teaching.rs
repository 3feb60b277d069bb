//! The viewer on the teaching programs' real logs from two kernels: Linux 6.1 (Debian's LTS,
//! captured inside it under qemu) and Linux 6.18 (this machine), at levels 1 and 2
//! (`mistake_uninit_value` with CAP_BPF alone, as its header says)
//! (`tests/fixtures/verifier/teaching/`, written by its `capture.sh`). The two kernels print
//! their logs differently (6.1: no `@ file:line` after the source text, `map_ptr(off=0,...)`,
//! `R1_w=`), and the report must say the same thing for both: the verifier's message as the
//! file's header states it, the failing instruction at the line the file marks, and every
//! instruction line equal to bpfsmith's own kernel-style listing.

// Only the log-vs-listing comparison is used: no kernel is needed here.
#[allow(unused_macros)]
#[path = "common/kernel.rs"]
mod kernel;

use std::path::Path;

use bpfsmith::text::asm::expect::Expectations;
use bpfsmith::verifier::{render_log_text, ReportOptions, VerifierLog};

const KERNELS: [&str; 2] = ["linux-6.1", "linux-6.18"];
const REFUSED: [&str; 5] = [
    "mistake_flags_unset",
    "mistake_r1_after_call",
    "mistake_r2_after_call",
    "mistake_uninit_value",
    "mistake_wrong_map_type",
];
const ACCEPTED: [&str; 2] = ["queue", "r0_width"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(kernel: &str, name: &str, level: u32) -> String {
    let p = root().join(format!(
        "tests/fixtures/verifier/teaching/{kernel}/{name}.level{level}.log"
    ));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn program(name: &str) -> (bpfsmith::program::Program, String) {
    let path = root().join(format!("asm/{name}.s"));
    let source = std::fs::read_to_string(&path).unwrap();
    let mut obj = bpfsmith::text::assemble_file(&path).unwrap();
    (obj.programs.remove(0), source)
}

const PLAIN: ReportOptions = ReportOptions {
    color: false,
    full: false,
};

#[test]
fn refusals_read_the_same_on_both_kernels() {
    for kernel in KERNELS {
        for name in REFUSED {
            let (prog, source) = program(name);
            let exp = Expectations::parse(&source).unwrap();
            let marked = source
                .lines()
                .position(|l| l.contains("<- the verifier refuses this line"))
                .map(|i| i + 1)
                .unwrap();
            for level in [1, 2] {
                let text = fixture(kernel, name, level);
                let log = VerifierLog::parse(&text);
                let err = log
                    .error()
                    .unwrap_or_else(|| panic!("{kernel}/{name}: no error found"));
                let want = exp.verifier_error.as_deref().unwrap();
                assert!(
                    err.headline().contains(want),
                    "{kernel}/{name}.level{level}: {:?} lacks {want:?}",
                    err.headline()
                );
                let report = render_log_text(&text, Some(&prog), &PLAIN);
                assert!(
                    report.contains(&format!("--> {}:{marked}:", prog_file(name))),
                    "{kernel}/{name}.level{level}: the report does not point at line {marked}:\n{report}"
                );
                assert!(
                    report.contains("where each value came from"),
                    "{kernel}/{name}.level{level}:\n{report}"
                );
                let seen = kernel::compare_log_with_listing(&prog, &text);
                assert!(seen.iter().any(|&s| s), "{kernel}/{name}: no line compared");
            }
        }
    }
}

fn prog_file(name: &str) -> String {
    // The assembler records the path it was given.
    root().join(format!("asm/{name}.s")).display().to_string()
}

#[test]
fn accepted_programs_list_every_instruction_on_both_kernels() {
    for kernel in KERNELS {
        for name in ACCEPTED {
            let (prog, _) = program(name);
            let text = fixture(kernel, name, 2);
            let log = VerifierLog::parse(&text);
            assert!(log.error().is_none(), "{kernel}/{name}: {:?}", log.error());
            assert!(
                log.stats().processed_insns.is_some(),
                "{kernel}/{name}: no footer"
            );
            let seen = kernel::compare_log_with_listing(&prog, &text);
            assert!(
                seen.iter().all(|&s| s),
                "{kernel}/{name}: instructions missing from the level-2 log: {seen:?}"
            );
            // The viewer shows an accepted level-2 log without calling it an error.
            let report = render_log_text(&text, Some(&prog), &PLAIN);
            assert!(!report.contains("error:"), "{kernel}/{name}:\n{report}");
        }
    }
}

/// The two kernels print the same refusal in different words where the format changed; the
/// fixtures keep the differences visible (and the viewer reads both).
#[test]
fn the_fixtures_are_from_two_kernels() {
    let old = fixture("linux-6.1", "mistake_flags_unset", 1);
    let new = fixture("linux-6.18", "mistake_flags_unset", 1);
    // 6.18 names the source file after the source text; 6.1 prints the text alone.
    assert!(new.contains("@ mistake_flags_unset.s:18"));
    assert!(!old.contains(" @ "));
    // 6.1 prints map pointers with off= and imm=.
    assert!(old.contains("map_ptr(off=0"));
    assert!(new.contains("map_ptr(map=queue"));
}
