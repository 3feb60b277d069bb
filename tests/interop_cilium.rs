//! cilium/ebpf loads what we write. A small Go program (`tests/interop/cilium/main.go`), built
//! once per test run and offline against Debian's `golang-github-cilium-ebpf-dev`
//! (cilium/ebpf 0.9.1), reads each object with `ebpf.LoadCollectionSpec`, creates and loads it
//! with `ebpf.NewCollection` (the verifier runs), pushes, test-runs and pops, and prints JSON
//! that is checked here against the object's definition.
//!
//! Every object is loaded as written (an `asm/` example as `bpfsmith asm` writes it, calls
//! into `.text` and all), labels included: the symbol table holds what clang
//! writes, and the labels go to `.bpfsmith.labels`, which cilium/ebpf does not look at. With
//! the opt-in label symbols (`ElfOptions::label_symbols`, `bpfsmith asm --label-symbols`),
//! cilium/ebpf 0.9.1 does not take the object, and a test pins down why: it takes every
//! `STT_NOTYPE` symbol in a program section for the start of a function (clang before 8 wrote
//! functions that way; it only skips names starting with `LBB`), so a label cuts a program in
//! two: the label becomes a program of its own and the jumps to it leave the truncated
//! program ("jump out of range"). libbpf only takes `STT_FUNC` symbols for functions. Calls
//! into `.text` are relocated against the section symbol, as clang writes them, which it
//! resolves.
//!
//! Needs `go` and the Debian package: skipped with a notice when either is missing, a failure
//! with `BPFSMITH_REQUIRE_INTEROP=1`; and root (or CAP_BPF), see `tests/common/kernel.rs`.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;
#[path = "common/objects.rs"]
mod objects;
#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use bpfsmith::maps::{flags, MapDef};
use bpfsmith::object::Object;
use objects::{cases, Case};
use serde_json::Value;

/// Where Debian's Go packages keep their sources (a GOPATH).
const GOPATH: &str = "/usr/share/gocode";
/// The Debian package with cilium/ebpf's sources.
const PACKAGE: &str = "golang-github-cilium-ebpf-dev";

/// The kernel's limit on object names (BPF_OBJ_NAME_LEN - 1).
const OBJ_NAME_MAX: usize = 15;

/// The built `cilium-load`, or `None` (after a notice) when Go or the package is missing.
fn cilium_load() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(build).as_deref()
}

/// Build `tests/interop/cilium/main.go` offline (GOPATH mode on Debian's sources, no module
/// proxy, no cgo) into the target's temporary directory.
fn build() -> Option<PathBuf> {
    let go = tools::require_tool("go")?;
    let src = Path::new(GOPATH).join("src/github.com/cilium/ebpf");
    if !src.join("collection.go").exists() {
        let why = format!(
            "{} is missing: install {PACKAGE} (apt-get install {PACKAGE})",
            src.display()
        );
        if tools::interop_required() {
            panic!(
                "{why}, and {}=1 requires every interop test to run",
                tools::REQUIRE_ENV
            );
        }
        tools::notice(&format!("SKIPPED: {why}; this interop test does not run"));
        return None;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-cilium");
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!("cilium-load.{}", std::process::id()));
    let started = Instant::now();
    tools::run(
        Command::new(go)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/cilium"))
            .args(["build", "-o"])
            .arg(&tmp)
            .arg("main.go")
            .env("GOPATH", GOPATH)
            .env("GO111MODULE", "off")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "")
            .env("GOENV", "off")
            .env("GOTOOLCHAIN", "local")
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", dir.join("go-cache")),
    );
    let bin = dir.join("cilium-load");
    std::fs::rename(&tmp, &bin).unwrap();
    tools::notice(&format!(
        "built {} against cilium/ebpf {} in {:.1}s",
        bin.display(),
        cilium_version().as_deref().unwrap_or("(unknown version)"),
        started.elapsed().as_secs_f64()
    ));
    Some(bin)
}

/// The installed package's version (`0.9.1-1`), from dpkg.
fn cilium_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", PACKAGE])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the installed cilium/ebpf is the 0.9 line whose limitations the tests pin down.
fn is_0_9() -> bool {
    let v = cilium_version();
    let yes = v.as_deref().is_some_and(|v| v.starts_with("0.9."));
    if !yes {
        tools::notice(&format!(
            "SKIPPED: cilium/ebpf is {}, not 0.9.x: its known limitations are not checked",
            v.as_deref().unwrap_or("of an unknown version")
        ));
    }
    yes
}

/// Run `cilium-load` with `args` on the object at `path`: its JSON, or its stderr.
fn run(bin: &Path, args: &[String], path: &Path) -> Result<Value, String> {
    let out = Command::new(bin).args(args).arg(path).output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("cilium-load prints JSON"))
}

/// The `-push` and `-run` arguments of a case.
fn args(case: &Case) -> Vec<String> {
    let mut a = Vec::new();
    for (map, values) in &case.push_before {
        let v: Vec<String> = values.iter().map(u64::to_string).collect();
        a.push("-push".to_owned());
        a.push(format!("{map}={}", v.join(",")));
    }
    for (prog, _) in &case.runs {
        a.push("-run".to_owned());
        a.push(prog.clone());
    }
    a
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn truncated(name: &str) -> &str {
    &name[..name.len().min(OBJ_NAME_MAX)]
}

/// The maps of the JSON are the object's, as defined, in the spec and in the kernel.
fn check_maps(case: &Case, json: &Value) {
    let maps = json["maps"].as_array().unwrap();
    let mut want: Vec<&str> = case.obj.maps.iter().map(|m| m.name.as_str()).collect();
    want.sort_unstable();
    let got: Vec<&str> = maps.iter().map(|m| s(m, "name")).collect();
    assert_eq!(got, want, "{}: maps", case.name);
    for m in maps {
        let def: &MapDef = &case
            .obj
            .maps
            .iter()
            .find(|d| d.name == s(m, "name"))
            .unwrap()
            .def;
        let fields = |v: &Value| {
            (
                u(v, "type_id"),
                u(v, "key_size"),
                u(v, "value_size"),
                u(v, "max_entries"),
                u(v, "flags"),
            )
        };
        let want = (
            def.map_type as u64,
            def.key_size.into(),
            def.value_size.into(),
            def.max_entries.into(),
            def.map_flags.into(),
        );
        let name = s(m, "name");
        assert_eq!(fields(m), want, "{}: map {name} in the spec", case.name);
        assert_eq!(
            fields(&m["loaded"]),
            want,
            "{}: map {name} in the kernel",
            case.name
        );
        assert_eq!(s(&m["loaded"], "name"), truncated(name), "{}", case.name);
        assert_eq!(m["has_btf"], true, "{}: map {name}: BTF", case.name);
    }
}

/// The programs of the JSON are the object's: section, type, license, instructions, and the
/// func_info and line_info records of `.BTF.ext`; the kernel loaded them with BTF.
fn check_programs(case: &Case, json: &Value) {
    let progs = json["programs"].as_array().unwrap();
    let mut want: Vec<&str> = case.obj.programs.iter().map(|p| p.name.as_str()).collect();
    want.sort_unstable();
    let got: Vec<&str> = progs.iter().map(|p| s(p, "name")).collect();
    assert_eq!(got, want, "{}: programs", case.name);
    let btf = case.obj.btf().unwrap();
    for p in progs {
        let name = s(p, "name");
        let i = case
            .obj
            .programs
            .iter()
            .position(|q| q.name == name)
            .unwrap();
        let ours = &case.obj.programs[i];
        let prog_type = ours.section.kind().unwrap().prog_type as u64;
        let c = &case.name;
        assert_eq!(s(p, "section"), ours.section.name(), "{c}: {name}");
        assert_eq!(u(p, "type_id"), prog_type, "{c}: {name}: type in the spec");
        assert_eq!(
            u(p, "loaded_type_id"),
            prog_type,
            "{c}: {name}: type in the kernel"
        );
        assert_eq!(s(p, "loaded_name"), truncated(name), "{c}: {name}");
        assert_eq!(s(p, "license"), case.obj.license, "{c}: {name}: license");
        assert_eq!(
            u(p, "insns") as usize,
            ours.slot_count(),
            "{c}: {name}: instruction slots"
        );
        assert_eq!(
            (u(p, "func_infos") as usize, u(p, "line_infos") as usize),
            (
                btf.programs[i].func_info.len(),
                btf.programs[i].line_info.len()
            ),
            "{c}: {name}: func_info and line_info records read from .BTF.ext"
        );
        assert_eq!(p["loaded_btf"], true, "{c}: {name}: loaded with BTF");
    }
}

/// The runs returned what the case expects, and the maps held what it expects afterwards.
fn check_runs(case: &Case, json: &Value) {
    let runs: Vec<(String, u32)> = json["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (s(r, "program").to_owned(), u(r, "retval") as u32))
        .collect();
    assert_eq!(runs, case.runs, "{}: return values", case.name);
    for (map, values) in &case.maps_after {
        let got = json["maps_after"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| s(m, "name") == map)
            .unwrap_or_else(|| panic!("{}: map {map} was not drained", case.name));
        let got: Vec<u64> = got["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(&got, values, "{}: map {map} after the runs", case.name);
    }
}

/// Whether the object calls a function of its own (bpf-to-bpf): its spec lists the `.text`
/// functions too.
fn has_calls(obj: &Object) -> bool {
    obj.programs.iter().any(|p| p.functions.len() > 1)
}

/// A label name used twice in one program section: (section, label).
fn duplicate_label(obj: &Object) -> Option<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    obj.programs.iter().find_map(|p| {
        p.labels.iter().find_map(|(_, l)| {
            let key = (p.section.name().to_owned(), l.clone());
            (!seen.insert(key.clone())).then_some(key)
        })
    })
}

#[test]
fn cilium_loads_runs_and_reads_every_object() {
    require_kernel!("cilium_loads_runs_and_reads_every_object");
    let Some(bin) = cilium_load() else {
        return;
    };
    let dir = tools::TempDir::new("cilium");
    let mut loaded = Vec::new();
    let mut with_labels = 0;
    for case in cases() {
        // As written: no option, labels and all.
        let path = case.write(dir.path());
        let json = run(bin, &args(&case), &path)
            .unwrap_or_else(|e| panic!("{}: cilium/ebpf: {e}", case.name));
        // The labels are still in the file, for `bpfsmith dis`.
        let back = Object::read_elf(&path).unwrap();
        for (p, q) in case.obj.programs.iter().zip(&back.programs) {
            assert_eq!(p.labels, q.labels, "{}: {}", case.name, p.name);
            with_labels += usize::from(!p.labels.is_empty());
        }
        check_maps(&case, &json);
        check_programs(&case, &json);
        check_runs(&case, &json);
        loaded.push(case.name);
    }
    assert!(loaded.len() >= 9, "only {loaded:?} loaded");
    assert!(with_labels >= 8, "only {with_labels} programs with labels");
    tools::notice(&format!("cilium/ebpf loaded: {}", loaded.join(", ")));
}

/// Keyed maps and map flags (the objects above hold only queues and stacks, without flags),
/// in an object with no program.
#[test]
fn cilium_creates_keyed_maps_with_flags() {
    require_kernel!("cilium_creates_keyed_maps_with_flags");
    let Some(bin) = cilium_load() else {
        return;
    };
    let mut obj = Object::new("GPL");
    obj.map(
        "counts",
        MapDef::hash::<u32, u64>(16).with_flags(flags::NO_PREALLOC),
    )
    .unwrap();
    obj.map("slots", MapDef::array::<u64>(4)).unwrap();
    obj.map(
        "events",
        MapDef::queue::<u64>(8).with_flags(flags::RDONLY_PROG),
    )
    .unwrap();
    let case = Case {
        name: "keyed".into(),
        obj,
        push_before: vec![("events".into(), vec![5, 6])],
        runs: Vec::new(),
        maps_after: vec![("events".into(), vec![5, 6])],

        source: None,
    };
    let dir = tools::TempDir::new("cilium-keyed");
    let json = run(bin, &args(&case), &case.write(dir.path()))
        .unwrap_or_else(|e| panic!("keyed: cilium/ebpf: {e}"));
    check_maps(&case, &json);
    check_programs(&case, &json);
    check_runs(&case, &json);
}

/// Why label symbols are opt-in: cilium/ebpf 0.9 reads each label symbol as the start of a
/// function: the spec lists the labels of a program's entry function as programs of their
/// own, and the program, cut short at its first label, does not load.
#[test]
fn cilium_0_9_takes_labels_for_functions() {
    require_kernel!("cilium_0_9_takes_labels_for_functions");
    let Some(bin) = cilium_load() else {
        return;
    };
    if !is_0_9() {
        return;
    }
    let dir = tools::TempDir::new("cilium-labels");
    let mut checked = 0;
    for case in cases() {
        if has_calls(&case.obj) || case.obj.programs.iter().all(|p| p.labels.is_empty()) {
            continue;
        }
        let path = dir.path().join(format!("{}.o", case.name));
        let opts = bpfsmith::object::ElfOptions::default().label_symbols(true);
        case.obj.write_elf_with(&path, &opts).unwrap();
        let spec = run(bin, &["-spec-only".to_owned()], &path);
        // Labels of the same name in two programs of one section (the seed scenario's `fail`)
        // are two functions of the same name to it: the spec is refused.
        if let Some((section, label)) = duplicate_label(&case.obj) {
            let err = spec.expect_err("duplicate labels read");
            let want = format!("section {section}: insns contains duplicate Symbol {label}");
            assert!(err.ends_with(&want), "{}: {err}", case.name);
            checked += 1;
            continue;
        }
        let spec = spec.unwrap_or_else(|e| panic!("{}: LoadCollectionSpec: {e}", case.name));
        let mut want: Vec<&str> = case.obj.programs.iter().map(|p| p.name.as_str()).collect();
        for p in &case.obj.programs {
            want.extend(p.labels.iter().map(|(_, l)| l.as_str()));
        }
        want.sort_unstable();
        let got: Vec<&str> = spec["programs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(got, want, "{}: the spec's programs", case.name);
        // NewCollection loads the programs in Go's map order and stops at the first refusal:
        // a program cut at its first label (its jumps to the label leave it, or it no longer
        // ends in `exit`), or a label's fragment, which starts mid-program.
        let err = run(bin, &[], &path).expect_err("a program cut at a label loads");
        let failed = err
            .strip_prefix("NewCollection: program ")
            .and_then(|rest| rest.split_once(':'))
            .map(|(name, _)| name)
            .unwrap_or_else(|| panic!("{}: {err}", case.name));
        let is_label = case.obj.programs.iter().all(|p| p.name != failed);
        assert!(
            want.contains(&failed)
                && (is_label
                    || err.contains("jump out of range")
                    || err.contains("last insn is not an exit")),
            "{}: {err}",
            case.name
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} objects with labels");
}
