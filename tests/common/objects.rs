//! The objects the loader interop tests (`tests/interop_aya.rs`, `tests/interop_cilium.rs`)
//! hand to another loader, with what running them must give: the seed scenario
//! ([`bpfsmith::seed::object`]), the same two programs in an `xdp` section, and every
//! `asm/*.s` example whose header says `# expect-load: ok`.
//!
//! Include with `#[path = "common/objects.rs"] mod objects;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use bpfsmith::maps::MapType;
use bpfsmith::object::Object;
use bpfsmith::program::Section;
use bpfsmith::seed;
use bpfsmith::text::asm::expect::Expectations;
use bpfsmith::text::assemble_file;

/// One object and what it must do.
pub struct Case {
    /// A short name (`demo`, `demo_xdp`, or the example's file stem).
    pub name: String,
    /// The object.
    pub obj: Object,
    /// Values to push into maps from user space before the runs: (map, values).
    pub push_before: Vec<(String, Vec<u64>)>,
    /// Programs to test-run, in order, with the value each returns (32 bits).
    pub runs: Vec<(String, u32)>,
    /// What each map holds after the runs, in pop order.
    pub maps_after: Vec<(String, Vec<u64>)>,
    /// The `asm/*.s` file of an example: its object is the one `bpfsmith asm` writes.
    pub source: Option<PathBuf>,
}

impl Case {
    /// Write the object into `dir` and return the path: an `asm/` example as `bpfsmith asm`
    /// writes it (the command itself, no option: what a user hands to a loader), any other
    /// object with [`Object::write_elf`].
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.o", self.name));
        if let Some(src) = &self.source {
            bpfsmith_asm(src, &path);
            return path;
        }
        self.obj
            .write_elf(&path)
            .unwrap_or_else(|e| panic!("{}: write_elf: {e}", self.name));
        path
    }
}

/// `bpfsmith asm SRC -o OUT`, the command itself with no option.
fn bpfsmith_asm(src: &Path, out: &Path) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .arg("asm")
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("{}: cannot run bpfsmith asm: {e}", src.display()));
    assert!(
        o.status.success(),
        "{}: bpfsmith asm failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The object `bpfsmith asm` writes for `src`, read back: its programs as a loader sees
/// them (functions of `.text` appended to the programs that call them, as libbpf, aya and
/// cilium/ebpf link them), which is what the loaders' answers are checked against.
fn as_written(src: &Path) -> Object {
    let stem = src.file_stem().unwrap_or_default().to_string_lossy();
    let n = CASE_FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out =
        std::env::temp_dir().join(format!("bpfsmith-case-{stem}-{}-{n}.o", std::process::id()));
    bpfsmith_asm(src, &out);
    let obj = Object::read_elf(&out);
    let _ = std::fs::remove_file(&out);
    obj.unwrap_or_else(|e| panic!("{}: read back: {e}", src.display()))
}

static CASE_FILES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The seed scenario's expected runs and leftovers.
fn demo_case(name: &str, obj: Object) -> Case {
    Case {
        name: name.to_owned(),
        obj,
        push_before: Vec::new(),
        runs: seed::EXPECTED_RETVAL
            .iter()
            .map(|(p, r)| (p.to_string(), *r))
            .collect(),
        maps_after: seed::EXPECTED_LEFT
            .iter()
            .map(|(m, v)| (m.to_string(), v.iter().map(|&x| x.into()).collect()))
            .collect(),
        source: None,
    }
}

/// The `asm/` examples, sorted.
pub fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("asm");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    v.sort();
    assert!(v.len() >= 12, "the asm/ examples are missing");
    v
}

/// Every object of the interop tests: the seed scenario, the seed scenario as XDP programs,
/// and the loadable `asm/` examples.
pub fn cases() -> Vec<Case> {
    let mut out = vec![demo_case("demo", seed::object())];

    // The same two programs in one `xdp` section (XDP test runs take the same 64 bytes).
    let mut xdp = seed::object();
    for p in &mut xdp.programs {
        p.section = Section::XDP;
    }
    out.push(demo_case("demo_xdp", xdp));

    for path in examples() {
        let src = std::fs::read_to_string(&path).unwrap();
        let exp = Expectations::parse(&src).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        if !exp.load_ok {
            continue;
        }
        // Checked to assemble here, with its message, before the command writes it.
        assemble_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let obj = as_written(&path);
        let prog = exp
            .program
            .clone()
            .unwrap_or_else(|| obj.programs[0].name.clone());
        let runs = exp
            .retval
            .map(|r| vec![(prog, r as u32)])
            .unwrap_or_default();
        out.push(Case {
            name: path.file_stem().unwrap().to_string_lossy().into_owned(),
            obj,
            push_before: exp.push_before,
            runs,
            maps_after: exp.maps_after,
            source: Some(path.clone()),
        });
    }
    assert!(
        out.len() >= 9,
        "expected the demo, its XDP twin and at least 7 loadable examples"
    );
    out
}

/// Whether values of this map are pushed and popped (queue and stack maps).
pub fn is_queue_or_stack(t: MapType) -> bool {
    matches!(t, MapType::Queue | MapType::Stack)
}
