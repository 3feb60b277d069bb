//! Run assembly files and hold each to the outcome its header states
//! ([`crate::text::asm::expect`]), on the running kernel: what `bpfsmith check` does, and what
//! a test over a folder of examples or generated programs needs.
//!
//! Expectations may depend on the kernel (`# expect-retval (linux < 6.4, jit on): 32`): the
//! facts of the running kernel ([`running_kernel`]) pick the line that applies.

use std::fmt;
use std::path::{Path, PathBuf};

// The kernel engine is in the kernel build only (`cfg(bpfsmith_kernel)`); the VM's half
// builds everywhere.
#[cfg(bpfsmith_kernel)]
use crate::load::run::{run, RunError};
#[cfg(bpfsmith_kernel)]
use crate::load::{BtfSource, LoadError};
use crate::run::{Engine, RunRequest};
use crate::text::asm::expect::{Expectations, KernelFacts};

/// What the running kernel is: its version and whether the JIT is on.
#[cfg(bpfsmith_kernel)]
pub fn running_kernel() -> KernelFacts {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let jit = std::fs::read_to_string("/proc/sys/net/core/bpf_jit_enable")
        .map(|s| s.trim() != "0")
        .unwrap_or(true);
    KernelFacts {
        version: crate::load::isa::release_version(release.trim()).unwrap_or((0, 0)),
        jit,
    }
}

/// How one file fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It did what its header says (what was seen).
    Passed(String),
    /// It did not (what differed).
    Failed(String),
    /// It was not run (why).
    Skipped(String),
}

/// One file's verdict.
#[derive(Clone, Debug)]
pub struct FileCheck {
    /// The file.
    pub path: PathBuf,
    /// The verdict.
    pub verdict: Verdict,
}

impl fmt::Display for FileCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, text) = match &self.verdict {
            Verdict::Passed(t) => ("pass", t),
            Verdict::Failed(t) => ("FAIL", t),
            Verdict::Skipped(t) => ("skip", t),
        };
        write!(f, "{word} {}: {text}", self.path.display())
    }
}

/// Totals over several files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
    /// Files that did what their header says.
    pub passed: usize,
    /// Files that did not.
    pub failed: usize,
    /// Files not run.
    pub skipped: usize,
}

impl CheckSummary {
    /// Count one verdict.
    pub fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Passed(_) => self.passed += 1,
            Verdict::Failed(_) => self.failed += 1,
            Verdict::Skipped(_) => self.skipped += 1,
        }
    }
}

impl fmt::Display for CheckSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// The `.s` files named: files as given, folders searched (not recursively), sorted by name.
/// A folder without a `.s` file is an error that says so.
pub fn files(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "s"))
                .collect();
            if v.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "{}: no `.s` file in this folder (check runs assembly sources whose \
                         header states their outcome, e.g. `# expect-retval: 20`)",
                        p.display()
                    ),
                ));
            }
            v.sort();
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The privileges a check runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privileges {
    /// Whatever this process has (root: every capability). Files that state their outcome
    /// with CAP_BPF alone (`# load-with: CAP_BPF`) are skipped.
    AsIs,
    /// CAP_PERFMON and CAP_SYS_ADMIN were dropped ([`drop_to_cap_bpf`]): only the files that
    /// state their outcome with CAP_BPF alone are run.
    CapBpfOnly,
}

/// Whether a file states its outcome with CAP_BPF alone (`# load-with: CAP_BPF`), so that
/// it must run after [`drop_to_cap_bpf`].
pub fn needs_cap_bpf_only(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| Expectations::parse(&s).ok())
        .is_some_and(|e| e.cap_bpf_only)
}

/// Give up CAP_PERFMON and CAP_SYS_ADMIN for the rest of this process (effective and
/// permitted sets), keeping CAP_BPF: the verifier then judges as it does for a service with
/// CAP_BPF alone (it refuses reads of uninitialised stack, which it allows root). There is
/// no way back.
#[cfg(bpfsmith_kernel)]
pub fn drop_to_cap_bpf() -> Result<(), String> {
    use caps::{CapSet, Capability};
    for cap in [Capability::CAP_PERFMON, Capability::CAP_SYS_ADMIN] {
        for set in [CapSet::Effective, CapSet::Permitted] {
            caps::drop(None, set, cap).map_err(|e| format!("dropping {cap}: {e}"))?;
        }
    }
    Ok(())
}

/// Assemble, load and run one file on the running kernel and compare with its header.
#[cfg(bpfsmith_kernel)]
pub fn check_file(path: &Path, kernel: &KernelFacts, privileges: Privileges) -> FileCheck {
    let verdict = check(path, kernel, privileges, Engine::Kernel);
    FileCheck {
        path: path.to_owned(),
        verdict,
    }
}

/// The kernel the VM stands for when a header's expectations depend on the kernel: the newest
/// semantics (map errors not zero-extended, as since Linux 6.4 or without the JIT).
pub const VM_FACTS: KernelFacts = KernelFacts {
    version: (u32::MAX, 0),
    jit: false,
};

/// [`check_file`] in the built-in VM ([`crate::vm::run`]): the run's results against the
/// header's (for [`VM_FACTS`]); a file that states a verifier refusal is skipped, since the VM
/// verifies nothing, and privileges do not matter there.
pub fn check_file_in_vm(path: &Path) -> FileCheck {
    let verdict = check(path, &VM_FACTS, Privileges::AsIs, Engine::Vm);
    FileCheck {
        path: path.to_owned(),
        verdict,
    }
}

/// The run a file's header asks for: its program (`# run:`) and its pushes
/// (`# push-before:`, each value in its map's value size).
pub fn run_request(exp: &Expectations, obj: &crate::object::Object) -> Result<RunRequest, String> {
    let mut push = Vec::new();
    for (map, values) in &exp.push_before {
        let Some(m) = obj.maps.iter().find(|m| &m.name == map) else {
            return Err(format!("push-before names no map `{map}`"));
        };
        let size = m.def.value_size as usize;
        let bytes = values
            .iter()
            .map(|v| v.to_le_bytes()[..size.min(8)].to_vec())
            .collect();
        push.push((map.clone(), bytes));
    }
    Ok(RunRequest {
        program: exp.program.clone(),
        data: None,
        repeat: 1,
        push,
        log_level: 0,
    })
}

fn check(path: &Path, kernel: &KernelFacts, privileges: Privileges, engine: Engine) -> Verdict {
    if crate::input::is_elf(path) {
        return Verdict::Failed(
            "an ELF object: check runs assembly sources whose header states their outcome; \
             `bpfsmith run` runs an object"
                .into(),
        );
    }
    let source = match crate::input::read_text(path) {
        Ok(s) => s,
        Err(e) => return Verdict::Failed(e.to_string()),
    };
    let exp = match Expectations::parse(&source) {
        Ok(e) => e,
        Err(e) => return Verdict::Failed(format!("header {e}")),
    };
    if !exp.states_an_outcome() {
        return Verdict::Skipped(
            "its header states no outcome: add `# expect-retval: N`, `# expect-map: MAP = V1 V2`, \
             `# expect-load: ok` or `# expect-verifier-error: TEXT` at the top"
                .into(),
        );
    }
    if engine == Engine::Vm && !exp.load_ok {
        return Verdict::Skipped(
            "states a verifier refusal: the VM verifies nothing (check it with --engine kernel)"
                .into(),
        );
    }
    match (exp.cap_bpf_only && engine == Engine::Kernel, privileges) {
        (true, Privileges::AsIs) => {
            return Verdict::Skipped(
                "states its outcome with CAP_BPF alone: check it after drop_to_cap_bpf".into(),
            )
        }
        (false, Privileges::CapBpfOnly) => {
            return Verdict::Skipped("states its outcome with full privileges".into())
        }
        _ => {}
    }
    let obj = match crate::text::assemble_file(path) {
        Ok(o) => o,
        Err(e) => return Verdict::Failed(format!("does not assemble:\n{e}")),
    };
    let req = match run_request(&exp, &obj) {
        Ok(r) => r,
        Err(e) => return Verdict::Failed(e),
    };
    // Without the kernel build only the VM is asked for: check_file, the kernel's caller,
    // is in the kernel build only.
    #[cfg(bpfsmith_kernel)]
    if engine == Engine::Kernel {
        return in_kernel(&exp, kernel, &obj, &req);
    }
    match crate::vm::run(&obj, &req) {
        Ok(report) => compare(&exp, kernel, &report),
        Err(e) => Verdict::Failed(format!("the VM stopped: {e}")),
    }
}

/// The kernel's verdict on a file's run: a refusal as stated, or its results.
#[cfg(bpfsmith_kernel)]
fn in_kernel(
    exp: &Expectations,
    kernel: &KernelFacts,
    obj: &crate::object::Object,
    req: &RunRequest,
) -> Verdict {
    match run(obj, BtfSource::default(), req) {
        Err(RunError::Load(e)) if e.refusal().is_some() => {
            let Some((_, errno, log)) = e.refusal() else {
                unreachable!("matched on a refusal")
            };
            let message = match &e {
                // The kernel lacks an instruction: say which, not the verifier's raw words.
                LoadError::MissingFeature(m) => m.to_string(),
                _ => crate::verifier::VerifierLog::parse(log)
                    .error()
                    .map(|e| e.message())
                    .unwrap_or_else(|| crate::sys::errno_name(errno).unwrap_or("?").to_owned()),
            };
            if exp.load_ok {
                return Verdict::Failed(format!("refused by the verifier: {message}"));
            }
            let want = exp.verifier_error_on(kernel).unwrap_or("");
            if log.contains(want) {
                Verdict::Passed(format!("refused as stated: {message}"))
            } else {
                Verdict::Failed(format!("refused, but the log lacks `{want}`: {message}"))
            }
        }
        Err(e) => Verdict::Failed(e.to_string()),
        Ok(_) if !exp.load_ok => Verdict::Failed(format!(
            "loaded, but the header says the verifier refuses it ({})",
            exp.verifier_error
                .as_deref()
                .unwrap_or("expect-load: refused")
        )),
        Ok(report) => compare(exp, kernel, &report),
    }
}

/// A run's results against the header's expectations for `kernel`.
fn compare(exp: &Expectations, kernel: &KernelFacts, report: &crate::run::RunReport) -> Verdict {
    let mut wrong = Vec::new();
    if let Some(want) = exp.retval_on(kernel) {
        if report.retval != want as u32 {
            wrong.push(format!("r0 = {}, expected {}", report.retval, want as u32));
        }
    }
    for (map, want) in exp.maps_after_on(kernel) {
        let got: Option<Vec<u64>> = report.maps.iter().find(|(n, _)| *n == map).map(|(_, vs)| {
            vs.iter()
                // A value of another size compares as no number a header can state.
                .map(|v| v.as_u64().unwrap_or(u64::MAX))
                .collect()
        });
        match got {
            Some(got) if got == want => {}
            Some(got) => wrong.push(format!("map {map} = {got:?}, expected {want:?}")),
            None => wrong.push(format!(
                "the header expects map `{map}`, which the object does not have"
            )),
        }
    }
    if wrong.is_empty() {
        let maps: Vec<String> = report
            .maps
            .iter()
            .map(|(n, vs)| format!("{n} = {}", crate::run::values_text(vs)))
            .collect();
        let mut seen = format!("r0 = {}", report.retval);
        if !maps.is_empty() {
            seen = format!("{seen}, {}", maps.join(", "));
        }
        Verdict::Passed(seen)
    } else {
        Verdict::Failed(wrong.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts() {
        let mut s = CheckSummary::default();
        s.add(&Verdict::Passed(String::new()));
        s.add(&Verdict::Failed(String::new()));
        s.add(&Verdict::Skipped(String::new()));
        s.add(&Verdict::Passed(String::new()));
        assert_eq!(s.to_string(), "2 passed, 1 failed, 1 skipped");
    }

    #[cfg(bpfsmith_kernel)]
    #[test]
    fn a_file_without_an_outcome_is_skipped_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.s");
        std::fs::write(&p, "# a comment\nr0 = 1\nexit\n").unwrap();
        let c = check_file(&p, &running_kernel(), Privileges::AsIs);
        assert!(
            matches!(&c.verdict, Verdict::Skipped(m) if m.contains("states no outcome")),
            "{c}"
        );
    }

    #[cfg(bpfsmith_kernel)]
    #[test]
    fn an_object_or_an_empty_folder_is_refused_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let err = files(&[dir.path().to_owned()]).unwrap_err().to_string();
        assert!(err.contains("no `.s` file in this folder"), "{err}");
        let p = dir.path().join("x.o");
        std::fs::write(&p, b"\x7fELF\x02\x01\x01").unwrap();
        let c = check_file(&p, &running_kernel(), Privileges::AsIs);
        assert!(
            matches!(&c.verdict, Verdict::Failed(m) if m.starts_with("an ELF object")),
            "{c}"
        );
    }

    #[cfg(bpfsmith_kernel)]
    #[test]
    fn a_bad_header_fails_without_running() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.s");
        std::fs::write(&p, "# expect-retval: nine\nexit\n").unwrap();
        let c = check_file(&p, &running_kernel(), Privileges::AsIs);
        assert!(
            matches!(&c.verdict, Verdict::Failed(m) if m.contains("line 1")),
            "{c}"
        );
    }
}
