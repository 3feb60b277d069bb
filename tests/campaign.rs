//! The differential campaign, small enough for every CI run: 300 programs from `bpfsmith gen`
//! (cpu v3, which Linux 6.1 has) in the VM, on this machine's kernel and on Linux 6.1 with the
//! JIT on and off (`bpfsmith matrix DIR`), then one difference minimised.
//!
//! What must hold: every kernel's verifier accepts at least 99.5% of the programs (a refusal
//! is a generator bug); every program gives the VM's result, except where the pre-6.4 JIT's
//! zero-extended map errors explain the difference; and that difference is found: the
//! generator has no notion of it, so a program that shows it is a rediscovery, not a plant.
//!
//! Kernel images come from `BPFSMITH_KERNEL_IMAGES` (`.ci/fetch-kernels`); without them, or
//! without root, the test prints a notice and skips unless `BPFSMITH_REQUIRE_KERNEL=1`.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::path::Path;
use std::process::{Command, Output};

use bpfsmith::guest::campaign::{self, Comparison};
use bpfsmith::guest::KernelImage;

const PROGRAMS: usize = 300;
const SEED: &str = "20261204";

fn bpfsmith(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Linux 6.1's image from `BPFSMITH_KERNEL_IMAGES`, or `None` after a notice.
fn linux_6_1(test: &str) -> Option<KernelImage> {
    let list = std::env::var("BPFSMITH_KERNEL_IMAGES").unwrap_or_default();
    let found = list
        .split([':', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|p| KernelImage::open(Path::new(p)).ok())
        .find(|i| i.version() == Some((6, 1)));
    if found.is_none() {
        if kernel::required() {
            panic!(
                "campaign test `{test}`: BPFSMITH_REQUIRE_KERNEL=1 but BPFSMITH_KERNEL_IMAGES \
                 names no Linux 6.1 image (run .ci/fetch-kernels)"
            );
        }
        eprintln!(
            "notice: skipping campaign test `{test}`: set BPFSMITH_KERNEL_IMAGES to a Linux 6.1 \
             image (.ci/fetch-kernels prints one)"
        );
    }
    found
}

#[test]
fn generated_programs_agree_across_engines_and_kernels_but_for_the_known_difference() {
    require_kernel!(
        "generated_programs_agree_across_engines_and_kernels_but_for_the_known_difference"
    );
    let Some(image) = linux_6_1("generated_programs_agree") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    let count = PROGRAMS.to_string();
    let dir = corpus.to_str().unwrap();
    let gen = bpfsmith(&[
        "gen", "--seed", SEED, "--count", &count, "--isa", "v3", "--out", dir,
    ]);
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );

    let kernel = image.path.to_str().unwrap();
    let out = bpfsmith(&[
        "matrix", dir, "--kernel", "host", "--kernel", kernel, "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let run = campaign::from_json(&stdout).unwrap_or_else(|| {
        panic!(
            "matrix printed no campaign:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // The VM, the host, 6.1 with the JIT on, 6.1 with it off.
    assert_eq!(run.columns.len(), 4, "{stdout}");
    assert_eq!(run.files.len(), PROGRAMS);
    eprintln!("{}", run.render());

    let mut explained_on_old_jit = 0;
    for c in 1..run.columns.len() {
        let col = &run.columns[c];
        let old_jit = col.jit == Some(true) && col.release.starts_with("6.1.");
        let mut refused = Vec::new();
        for f in 0..run.files.len() {
            match run.compare(c, f) {
                Comparison::Agrees => {}
                Comparison::Refused(m) => refused.push(format!("{}: {m}", run.files[f].display())),
                Comparison::ExplainedByOldJit if old_jit => explained_on_old_jit += 1,
                other => panic!(
                    "{} on {} (JIT {:?}): {other:?}\n{}",
                    run.files[f].display(),
                    col.label,
                    col.jit,
                    run.render()
                ),
            }
        }
        // At least 99.5% accepted: with 300 programs, at most one refusal.
        assert!(
            refused.len() * 1000 <= PROGRAMS * 5,
            "{} refused {} of {PROGRAMS}:\n{}",
            col.label,
            refused.len(),
            refused.join("\n")
        );
    }
    assert!(
        explained_on_old_jit > 0,
        "no program showed the pre-6.4 JIT's zero-extended map errors on 6.1 with the JIT on:\n{}",
        run.render()
    );

    // Minimise the first difference on 6.1 with the JIT on: a handful of lines that still
    // differ there, with the kernel's result written under its condition.
    let first = (0..run.files.len())
        .find(|&f| {
            (1..run.columns.len()).any(|c| run.compare(c, f) == Comparison::ExplainedByOldJit)
        })
        .unwrap();
    let one = tmp.path().join("one");
    std::fs::create_dir(&one).unwrap();
    std::fs::copy(&run.files[first], one.join("case.s")).unwrap();
    let min = tmp.path().join("min");
    let out = bpfsmith(&[
        "matrix",
        one.to_str().unwrap(),
        "--kernel",
        kernel,
        "--jit",
        "on",
        "--minimise",
        min.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // One file, named for the column: case.RELEASE-jit-on-min.s.
    let written: Vec<_> = std::fs::read_dir(&min)
        .unwrap_or_else(|e| panic!("no minimised file ({e}):\n{stderr}"))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 1, "{written:?}\n{stderr}");
    let name = written[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("case.6.1.") && name.ends_with("-jit-on-min.s"),
        "{name}"
    );
    let text = std::fs::read_to_string(&written[0]).unwrap();
    eprintln!("{stderr}\n{text}");
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count();
    assert!(lines <= 20, "{lines} lines left:\n{text}");
    assert!(
        text.contains("# expect-retval (linux < 6.4, jit on):"),
        "{text}"
    );
    // The minimised case holds on 6.1 with the JIT on and off, and on this machine.
    for jit in ["on", "off"] {
        let out = bpfsmith(&[
            "check",
            min.to_str().unwrap(),
            "--kernel",
            kernel,
            "--jit",
            jit,
        ]);
        assert!(
            out.status.success(),
            "JIT {jit}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = bpfsmith(&["check", min.to_str().unwrap(), "--engine", "kernel"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
