//! The public eBPF conformance suite (bpf_conformance) on the real kernel.
//!
//! Each `.data` file ([`crate::text::conformance::ConformanceTest`]) holds a program (assembly
//! or raw words), optional input memory and the expected 64-bit `r0`. It runs the way the
//! suite's Linux plugin does: as an XDP program through `BPF_PROG_TEST_RUN`, with the memory as
//! the packet (padded to 14 bytes), a prologue that bounds-checks the packet and sets r1 = its
//! start and r2 = its length, the test body called as a bpf-to-bpf function, and the body's
//! full 64-bit `r0` stored into a one-entry array map and read back from user space
//! (test_run's own return value has only 32 bits).
//!
//! A test whose program needs an instruction the kernel is too old for (cpu v4's `s/=`,
//! `bswap` ... before Linux 6.6) is skipped with that reason rather than failed: the kernel is
//! probed once per process ([`crate::probe::isa`]).

use std::path::{Path, PathBuf};

/// Whether the suite's own Linux runs leave a file out (names with `imm-` or `intmin-`, and
/// the callx group).
pub fn excluded_on_linux(name: &str) -> bool {
    name.contains("imm-") || name.contains("intmin-") || name.starts_with("callx")
}

/// The `.data` files a path names, sorted: the file itself, the `.data` files of a folder, or,
/// when a folder has none of its own, those found below it, up to three levels down (in the
/// suite's checkout, those of its `tests` folder).
pub fn data_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        std::fs::metadata(path)?;
        if path.extension().is_some_and(|x| x == "data") {
            return Ok(vec![path.to_owned()]);
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a .data file of the conformance suite (nor a folder of them)",
        ));
    }
    let mut v = Vec::new();
    collect(path, 0, &mut v)?;
    // The suite's checkout: its `tests` folder holds the programs with results (`negative`
    // holds programs meant to be refused, a different verdict).
    let tests = path.join("tests");
    if v.iter().any(|p| p.starts_with(&tests)) {
        v.retain(|p| p.starts_with(&tests));
    }
    v.sort();
    Ok(v)
}

fn collect(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut subdirs = Vec::new();
    let before = out.len();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            subdirs.push(p);
        } else if p.extension().is_some_and(|x| x == "data") {
            out.push(p);
        }
    }
    if out.len() == before && depth < 3 {
        subdirs.sort();
        for d in subdirs {
            collect(&d, depth + 1, out)?;
        }
    }
    Ok(())
}

#[cfg(bpfsmith_kernel)]
pub use kernel::{run_body, run_dir, run_file, FileOutcome, RunError, Summary, Verdict};

/// One `.data` file run in the built-in VM ([`crate::vm`]): `Ok` with what it returned, or what
/// differs from the suite's expectation (`-- result` against r0, `-- error` against a VM
/// error). The VM follows the RFC, so the Linux exclusions run too. The suite's plugin helper 5
/// (`unwind`) returns its first argument, as the suite's runners define it.
pub fn run_file_in_vm(path: &Path) -> Result<String, String> {
    use crate::text::conformance::ConformanceTest;
    let text = crate::input::read_text(path).map_err(|e| e.to_string())?;
    let test = ConformanceTest::parse(&text).map_err(|e| e.to_string())?;
    let name = path.display().to_string();
    let prog = test
        .program(&name, &crate::text::AsmOptions::default())
        .map_err(|e| format!("does not build: {e}"))?;
    let mut vm = crate::vm::Vm::new(&prog.insns);
    vm.helper(5, |args| args[0]);
    let mut mem = test.mem.clone();
    match (&test.error, test.result, vm.run(&mut mem)) {
        (Some(_), _, Err(e)) => Ok(format!("stopped as expected: {}", e.kind)),
        (Some(e), _, Ok(o)) => Err(format!("expected the error `{e}`, got r0 = {:#x}", o.r0)),
        (None, Some(want), Ok(o)) if o.r0 == want => Ok(format!("r0 = {want:#x}")),
        (None, Some(want), Ok(o)) => Err(format!("r0 = {:#x}, expected {want:#x}", o.r0)),
        (None, Some(want), Err(e)) => Err(format!("expected {want:#x}, got: {e}")),
        (None, None, _) => Err("the file has neither a result nor an error".into()),
    }
}

/// Every `.data` file under `dir` ([`data_files`]) in the VM, each outcome handed to `each`
/// (`pass NAME: ...` / `fail NAME: ...`); returns (passed, failed).
pub fn run_dir_in_vm(dir: &Path, each: &mut dyn FnMut(&str)) -> std::io::Result<(usize, usize)> {
    let (mut passed, mut failed) = (0, 0);
    for f in data_files(dir)? {
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match run_file_in_vm(&f) {
            Ok(what) => {
                passed += 1;
                each(&format!("pass {name}: {what}"));
            }
            Err(why) => {
                failed += 1;
                each(&format!("fail {name}: {why}"));
            }
        }
    }
    Ok((passed, failed))
}

#[cfg(bpfsmith_kernel)]
mod kernel {
    use std::fmt;
    use std::path::Path;

    use super::{data_files, excluded_on_linux};
    use crate::insn::{Cond, Reg, Size};
    use crate::load::isa::Feature;
    use crate::load::{LoadError, TestRun};
    use crate::maps::MapDef;
    use crate::object::Object;
    use crate::program::{Program, ProgramBuilder, Section};
    use crate::text::conformance::ConformanceTest;
    use crate::text::AsmOptions;

    /// Why a test program did not produce a result.
    #[derive(Debug, thiserror::Error)]
    pub enum RunError {
        /// The wrapper could not be built.
        #[error("building the test program: {0}")]
        Build(String),
        /// The kernel refused to load it (the verifier log is in the error).
        #[error(transparent)]
        Load(#[from] LoadError),
        /// `BPF_PROG_TEST_RUN` failed.
        #[error("test_run: {0}")]
        Run(crate::sys::SysError),
        /// Reading the result map failed.
        #[error("reading the result: {0}")]
        Result(crate::load::MapError),
    }

    /// XDP_PASS: what the wrapper returns.
    const XDP_PASS: i32 = 2;
    /// test_run needs at least an Ethernet header of packet.
    const MIN_PACKET: usize = 14;

    /// Run `body` (a test program ending in `exit`, possibly with bpf-to-bpf functions of its
    /// own) on the kernel with `mem` as its memory: r1 = start of `mem`, r2 = its length.
    /// Returns the body's 64-bit `r0`.
    pub fn run_body(body: &Program, mem: &[u8]) -> Result<u64, RunError> {
        let mut obj = Object::new("GPL");
        let result = obj
            .map("result", MapDef::array::<u64>(1))
            .map_err(|e| RunError::Build(e.to_string()))?;
        let len =
            i32::try_from(mem.len()).map_err(|_| RunError::Build("memory too large".into()))?;
        let mut p = ProgramBuilder::new("conformance", Section::XDP);
        let out = p.label("wrapper_out");
        let test = p.function("test_body");
        // The packet pointers of xdp_md, checked against the memory's length so that the body
        // may access all of it.
        p.load(Size::U32, Reg::R6, Reg::R1, 0);
        p.load(Size::U32, Reg::R7, Reg::R1, 4);
        p.mov(Reg::R8, Reg::R6).add(Reg::R8, len);
        p.jump_if(Reg::R8, Cond::Gt, Reg::R7, out);
        p.mov(Reg::R1, Reg::R6).mov(Reg::R2, len);
        p.call_fn(test);
        p.mov(Reg::R6, Reg::R0);
        // result[0] = r0, all 64 bits.
        p.store(Size::U32, Reg::R10, -4, 0);
        p.ld_map(Reg::R1, &result);
        p.mov(Reg::R2, Reg::R10).add(Reg::R2, -4);
        p.call(crate::helpers::Helper::MapLookupElem);
        p.jump_if(Reg::R0, Cond::Eq, 0, out);
        p.store_reg(Size::U64, Reg::R0, 0, Reg::R6);
        p.bind(out).mov(Reg::R0, XDP_PASS).exit();
        p.bind(test);
        // The body's own functions stay functions (the kernel wants one func_info each).
        let mut starts = body.functions.iter().skip(1).peekable();
        for (i, insn) in body.insns.iter().enumerate() {
            while let Some(f) = starts.next_if(|f| f.insn == i) {
                let l = p.function(format!("test_{}", f.name));
                p.bind(l);
            }
            p.emit(*insn);
        }
        let prog = p.finish().map_err(|e| RunError::Build(e.to_string()))?;
        obj.add_program(prog)
            .map_err(|e| RunError::Build(e.to_string()))?;
        let loaded = obj.load()?;
        let mut packet = mem.to_vec();
        packet.resize(packet.len().max(MIN_PACKET), 0);
        let prog = loaded
            .program("conformance")
            .map_err(|e| RunError::Build(e.to_string()))?;
        prog.test_run(&TestRun {
            data: &packet,
            ..Default::default()
        })
        .map_err(RunError::Run)?;
        let map = loaded
            .map("result")
            .map_err(|e| RunError::Build(e.to_string()))?;
        let v = map
            .lookup(&0u32.to_le_bytes(), 0)
            .map_err(RunError::Result)?;
        let bytes: [u8; 8] = v.get(..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]);
        Ok(u64::from_le_bytes(bytes))
    }

    /// How one file fared.
    #[derive(Debug)]
    pub enum Verdict {
        /// The result matched, or an expected error happened.
        Passed(String),
        /// The result did not match, or an error happened that the file does not expect.
        Failed(String),
        /// Not run: the program needs an instruction this kernel lacks (the reason says which,
        /// and which Linux release has it).
        Skipped(String),
    }

    /// One file's outcome.
    #[derive(Debug)]
    pub struct FileOutcome {
        /// The file name.
        pub name: String,
        /// Whether the suite's Linux runs exclude it (it ran anyway).
        pub excluded: bool,
        /// What happened.
        pub verdict: Verdict,
    }

    impl fmt::Display for FileOutcome {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let (word, detail) = match &self.verdict {
                Verdict::Passed(d) => ("PASS", d),
                Verdict::Failed(d) => ("FAIL", d),
                Verdict::Skipped(d) => ("SKIP", d),
            };
            let tag = match (self.excluded, &self.verdict) {
                (false, _) => "",
                (true, Verdict::Skipped(_)) => " (excluded on Linux)",
                (true, _) => " (excluded on Linux, run anyway)",
            };
            write!(f, "{word} {}{tag}: {detail}", self.name)
        }
    }

    /// Run one `.data` file.
    pub fn run_file(path: &Path) -> FileOutcome {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let excluded = excluded_on_linux(&name);
        let verdict = verdict(path, &name);
        FileOutcome {
            name,
            excluded,
            verdict,
        }
    }

    fn verdict(path: &Path, name: &str) -> Verdict {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return Verdict::Failed(format!("cannot read: {e}")),
        };
        let test = match ConformanceTest::parse(&text) {
            Ok(t) => t,
            Err(e) => return Verdict::Failed(format!("malformed: {e}")),
        };
        let opts = AsmOptions {
            default_section: Section::XDP,
            ..Default::default()
        };
        let body = match test.program(name, &opts) {
            Ok(b) => Ok(b),
            Err(e) => Err(format!("does not assemble: {e}")),
        };
        if let Ok(b) = &body {
            if let Some((_, feature)) = crate::load::isa::isa().first_lacking(&b.insns) {
                return Verdict::Skipped(lacking(feature));
            }
        }
        let outcome = body.and_then(|body| run_body(&body, &test.mem).map_err(|e| short_error(&e)));
        match (outcome, &test.result, &test.error) {
            (Ok(got), Some(want), _) if got == *want => Verdict::Passed(format!("r0 = {got:#x}")),
            (Ok(got), Some(want), _) => {
                Verdict::Failed(format!("r0 = {got:#x}, expected {want:#x}"))
            }
            (Ok(got), None, Some(e)) => {
                Verdict::Failed(format!("r0 = {got:#x}, expected an error ({e})"))
            }
            (Ok(got), None, None) => {
                Verdict::Passed(format!("r0 = {got:#x} (the file expects nothing)"))
            }
            (Err(e), _, Some(want)) => Verdict::Passed(format!("error as expected ({want}): {e}")),
            (Err(e), _, None) => Verdict::Failed(e),
        }
    }

    /// Why a test is skipped: `this kernel lacks cpu v4 (sdiv/smod, needs Linux 6.6)`.
    fn lacking(feature: Feature) -> String {
        format!(
            "this kernel lacks cpu v{} ({}, needs Linux {})",
            feature.cpu_version(),
            feature.name(),
            feature.since_text()
        )
    }

    /// A one-line summary of a run error (the verifier's message rather than its whole log).
    fn short_error(e: &RunError) -> String {
        match e {
            RunError::Load(LoadError::MissingFeature(m)) => lacking(m.feature),
            RunError::Load(LoadError::Verifier { log, .. }) => {
                let last = log.lines().rev().find(|l| {
                    !l.is_empty()
                        && !l.starts_with("processed ")
                        && !l.starts_with("verification time")
                        && !l.starts_with("stack depth")
                });
                format!("the verifier refused it: {}", last.unwrap_or("(empty log)"))
            }
            e => e.to_string(),
        }
    }

    /// The counts of a run over a directory.
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
    pub struct Summary {
        /// Files outside the Linux exclusions that passed.
        pub passed: usize,
        /// Files outside the Linux exclusions that failed.
        pub failed: usize,
        /// Files the suite's Linux runs exclude (run anyway, unless this kernel lacks what
        /// they need; their outcome is printed).
        pub skipped: usize,
        /// Files outside the Linux exclusions that were not run: they need an instruction this
        /// kernel lacks.
        pub unsupported: usize,
    }

    impl fmt::Display for Summary {
        /// `235 passed, 0 failed, 29 skipped, 49 need what this kernel lacks` (the last part
        /// only when there are such files).
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "{} passed, {} failed, {} skipped",
                self.passed, self.failed, self.skipped
            )?;
            if self.unsupported > 0 {
                write!(f, ", {} need what this kernel lacks", self.unsupported)?;
            }
            Ok(())
        }
    }

    /// Run every `.data` file of `dir`, calling `each` with every outcome.
    pub fn run_dir(dir: &Path, each: &mut dyn FnMut(&FileOutcome)) -> std::io::Result<Summary> {
        let mut s = Summary::default();
        for path in data_files(dir)? {
            let o = run_file(&path);
            each(&o);
            match (o.excluded, &o.verdict) {
                (true, _) => s.skipped += 1,
                (false, Verdict::Passed(_)) => s.passed += 1,
                (false, Verdict::Failed(_)) => s.failed += 1,
                (false, Verdict::Skipped(_)) => s.unsupported += 1,
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_a_folder_or_the_folder_above() {
        let dir = tempfile::tempdir().unwrap();
        let tests = dir.path().join("tests");
        std::fs::create_dir(&tests).unwrap();
        for n in ["b.data", "a.data", "notes.txt"] {
            std::fs::write(tests.join(n), "").unwrap();
        }
        let want = vec![tests.join("a.data"), tests.join("b.data")];
        assert_eq!(data_files(&tests).unwrap(), want);
        // The checkout above its tests folder: found below, `negative` left out.
        let negative = dir.path().join("negative");
        std::fs::create_dir(&negative).unwrap();
        std::fs::write(negative.join("c.data"), "").unwrap();
        assert_eq!(data_files(dir.path()).unwrap(), want);
        assert_eq!(
            data_files(&tests.join("b.data")).unwrap(),
            vec![tests.join("b.data")]
        );
        assert!(data_files(&tests.join("notes.txt")).is_err());
        assert!(data_files(&tests.join("missing.data")).is_err());
    }

    #[test]
    fn linux_exclusions() {
        assert!(excluded_on_linux("alu64-imm-foo.data"));
        assert!(excluded_on_linux("callx.data"));
        assert!(!excluded_on_linux("add.data"));
    }
}
