//! Shared helpers for tests that run external tools (LLVM, bpftool, ...).
//!
//! Include with `#[path = "common/tools.rs"] mod tools;`. An interop test calls
//! [`require_tool`] first and returns early when it gives `None`: the tool is missing and the
//! test is skipped with a notice on stderr. Setting `BPFSMITH_REQUIRE_INTEROP=1` turns a
//! missing tool into a test failure, for CI machines that must run every interop test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The environment variable that makes missing tools a failure instead of a skip.
pub const REQUIRE_ENV: &str = "BPFSMITH_REQUIRE_INTEROP";

/// Whether missing tools must fail the test (`BPFSMITH_REQUIRE_INTEROP=1`).
pub fn interop_required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1")
}

/// The path of executable `name` found on `PATH` (or `name` itself when it contains a `/`).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The path of tool `name`, or `None` after printing a skip notice when it is missing.
///
/// Panics instead when `BPFSMITH_REQUIRE_INTEROP=1` is set.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    if let Some(p) = find_tool(name) {
        return Some(p);
    }
    if interop_required() {
        panic!("{name} is not on PATH, and {REQUIRE_ENV}=1 requires every interop test to run");
    }
    notice(&format!(
        "SKIPPED: {name} is not on PATH, so this interop test does not run \
         (set {REQUIRE_ENV}=1 to make that a failure)"
    ));
    None
}

/// Print a line on stderr that shows even while the test harness captures output (it
/// captures `eprintln!`, not direct writes to the stream), so a skip is never silent.
pub fn notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The conformance suite's checkout (`../shared/bpf_conformance`, with its `tests` folder), or
/// `None` after a notice when it is missing; missing is a failure under
/// `BPFSMITH_REQUIRE_INTEROP=1`. `what` says what is skipped without it.
pub fn conformance_suite(what: &str) -> Option<PathBuf> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/bpf_conformance"
    ));
    if dir.join("tests").is_dir() {
        return Some(dir.to_path_buf());
    }
    if interop_required() {
        panic!(
            "{} is missing and {}=1 requires it",
            dir.display(),
            REQUIRE_ENV
        );
    }
    notice(&format!(
        "SKIPPED: the conformance suite is not at {}, so {what}",
        dir.display()
    ));
    None
}

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Create `bpfsmith-<tag>-<pid>-<n>` in the temp dir.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("bpfsmith-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `cmd`, panicking with its stderr unless it succeeds; returns stdout.
pub fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("tool output is UTF-8")
}
