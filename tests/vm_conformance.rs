//! The conformance suite (`../shared/bpf_conformance/tests`) in the VM: every `.data` file,
//! the Linux exclusions included (the VM follows the RFC). The suite's expected values are the
//! truth: `-- result` against `r0`, `-- error` against a VM error.

use std::path::PathBuf;

use bpfsmith::text::conformance::ConformanceTest;
use bpfsmith::text::AsmOptions;
use bpfsmith::vm::Vm;

fn suite() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/bpf_conformance/tests"
    ));
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var("BPFSMITH_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "the conformance suite is not at {} and BPFSMITH_REQUIRE_INTEROP=1",
        dir.display()
    );
    eprintln!(
        "notice: skipping the conformance suite: {} is missing",
        dir.display()
    );
    None
}

/// One file's verdict: `Ok` or what went wrong.
fn run_one(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let test = ConformanceTest::parse(&text).map_err(|e| e.to_string())?;
    let name = path.display().to_string();
    let prog = test
        .program(&name, &AsmOptions::default())
        .map_err(|e| format!("does not build: {e}"))?;
    let mut vm = Vm::new(&prog.insns);
    // The suite's plugins define helper 5 as `unwind`: it returns its first argument (and
    // stops the program when that is 0, which no test of the suite does).
    vm.helper(5, |args| args[0]);
    let mut mem = test.mem.clone();
    let outcome = vm.run(&mut mem);
    match (&test.error, test.result, outcome) {
        (Some(_), _, Err(_)) => Ok(()),
        (Some(e), _, Ok(o)) => Err(format!("expected the error `{e}`, got r0 = {:#x}", o.r0)),
        (None, Some(want), Ok(o)) if o.r0 == want => Ok(()),
        (None, Some(want), Ok(o)) => Err(format!("r0 = {:#x}, expected {want:#x}", o.r0)),
        (None, Some(want), Err(e)) => Err(format!("expected {want:#x}, got: {e}")),
        (None, None, _) => Err("the file has neither a result nor an error".into()),
    }
}

#[test]
fn every_conformance_test_passes_in_the_vm() {
    let Some(dir) = suite() else { return };
    let files = bpfsmith::conformance::data_files(&dir).expect("list the suite");
    assert!(
        files.len() >= 300,
        "only {} files in {}",
        files.len(),
        dir.display()
    );
    let mut failed = Vec::new();
    for f in &files {
        if let Err(why) = run_one(f) {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            failed.push(format!("{name}: {why}"));
        }
    }
    println!(
        "{} passed, {} failed",
        files.len() - failed.len(),
        failed.len()
    );
    for f in &failed {
        println!("  {f}");
    }
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
