//! The conformance suite (`../shared/bpf_conformance/tests`) in the VM: every `.data` file,
//! the Linux exclusions included (the VM follows the RFC). The suite's expected values are the
//! truth: `-- result` against `r0`, `-- error` against a VM error.

#[path = "common/tools.rs"]
mod tools;

use std::path::PathBuf;

fn suite() -> Option<PathBuf> {
    tools::conformance_suite("it is not run in the VM").map(|d| d.join("tests"))
}

#[test]
fn every_conformance_test_passes_in_the_vm() {
    let Some(dir) = suite() else { return };
    let mut failed = Vec::new();
    let (passed, n_failed) = bpfsmith::conformance::run_dir_in_vm(&dir, &mut |line| {
        if line.starts_with("fail ") {
            failed.push(line.to_owned());
        }
    })
    .expect("list the suite");
    println!("{passed} passed, {n_failed} failed");
    assert!(
        passed + n_failed >= 300,
        "only {} files in {}",
        passed + n_failed,
        dir.display()
    );
    assert!(
        failed.is_empty() && n_failed == 0,
        "{n_failed} failed:\n{}",
        failed.join("\n")
    );
}

/// `bpfsmith conformance DIR --engine vm` runs the whole suite in the VM: one line per file and
/// `N passed, 0 failed` for all of them.
#[test]
fn the_command_runs_the_suite_in_the_vm() {
    let Some(dir) = suite() else { return };
    let files = bpfsmith::conformance::data_files(&dir).expect("list the suite");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .args(["conformance", "--engine", "vm"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("engine: vm"), "{text}");
    assert_eq!(
        text.lines().last(),
        Some(format!("{} passed, 0 failed", files.len()).as_str()),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("pass ")).count(),
        files.len()
    );
}
