//! Every `asm/*.s` example on the real kernel, checked against the outcome its header states:
//! loaded (with bpfsmith's loader, and as an ELF object by bpftool/libbpf) or refused with the
//! stated verifier message, its return value and its maps' contents; and the instruction lines
//! of the level-2 verifier log equal bpfsmith's kernel-style listing.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;
#[path = "common/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfsmith::load::{LoadError, LoadOptions, TestRun};
use bpfsmith::object::Object;
use bpfsmith::text::asm::expect::Expectations;
use bpfsmith::text::assemble_file;

fn examples() -> Vec<PathBuf> {
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

fn expectations(path: &Path) -> Expectations {
    Expectations::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

#[test]
fn every_example_does_what_its_header_says() {
    require_kernel!("every_example_does_what_its_header_says");
    for path in examples() {
        let exp = expectations(&path);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let obj = assemble_file(&path).unwrap_or_else(|e| panic!("{e}"));
        if exp.cap_bpf_only {
            check_with_cap_bpf_only(&path, &exp);
            continue;
        }
        let result = obj.load_with(&LoadOptions {
            log_level: 2,
            ..Default::default()
        });
        if !exp.load_ok {
            let Err(LoadError::Verifier { log, .. }) = result else {
                panic!(
                    "{file}: expected a refusal by the verifier, got {:?}",
                    result.map(|_| ())
                );
            };
            let want = exp.verifier_error.as_deref().unwrap_or("");
            assert!(log.contains(want), "{file}: the log lacks {want:?}:\n{log}");
            check_report(&path, &obj, &log, want);
            continue;
        }
        let loaded = result.unwrap_or_else(|e| panic!("{file}: {e}"));
        for p in loaded.programs() {
            let prog = obj.programs.iter().find(|q| q.name == p.name()).unwrap();
            // As loaded: functions of `.text` appended and the calls to them patched.
            let prog = bpfsmith::program::Program::from_insns(
                prog.name.clone(),
                prog.section.clone(),
                p.insns().to_vec(),
            );
            let seen = kernel::compare_log_with_listing(&prog, p.log().unwrap());
            assert!(
                seen.iter().any(|&s| s),
                "{file}: no instruction line compared"
            );
        }
        for (map, values) in &exp.push_before {
            let m = loaded.map(map).unwrap();
            for v in values {
                let size = m.def().value_size as usize;
                m.update(&[], &v.to_le_bytes()[..size], 0).unwrap();
            }
        }
        let prog = match &exp.program {
            Some(n) => loaded.program(n).unwrap(),
            None => &loaded.programs()[0],
        };
        let run = prog
            .test_run(&TestRun {
                data: &[0; 64],
                ..Default::default()
            })
            .unwrap();
        if let Some(r) = exp.retval {
            assert_eq!(run.retval, r as u32, "{file}: return value");
        }
        for (map, values) in &exp.maps_after {
            let m = loaded.map(map).unwrap();
            let mut got = Vec::new();
            while let Ok(v) = m.lookup_and_delete(&[], 0) {
                let mut w = [0u8; 8];
                w[..v.len()].copy_from_slice(&v);
                got.push(u64::from_le_bytes(w));
            }
            assert_eq!(&got, values, "{file}: map {map}");
        }
    }
}

/// Root may read uninitialised stack; with CAP_BPF alone (no CAP_PERFMON, no CAP_SYS_ADMIN) the
/// verifier refuses it. Runs `bpfsmith load` with those capabilities out of the bounding set.
fn check_with_cap_bpf_only(path: &Path, exp: &Expectations) {
    let Some(setpriv) = tools::require_tool("setpriv") else {
        return;
    };
    let out = Command::new(setpriv)
        .args(["--bounding-set", "-perfmon,-sys_admin", "--"])
        .arg(env!("CARGO_BIN_EXE_bpfsmith"))
        .arg("load")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "{}: loaded with CAP_BPF only:\n{text}",
        path.display()
    );
    let want = exp.verifier_error.as_deref().unwrap_or("");
    assert!(
        text.contains(want),
        "{}: the log lacks {want:?}:\n{text}",
        path.display()
    );
    // The command shows the viewer's report, which names the marked line.
    let marked = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .position(|l| l.contains("<- the verifier refuses this line"))
        .map(|i| i + 1)
        .unwrap();
    let file = path.file_name().unwrap().to_string_lossy();
    assert!(text.contains(&format!("{file}:{marked}:")), "{text}");
}

/// Removes a folder of pins when dropped (also when an assertion fails).
struct Unpin(PathBuf);

impl Drop for Unpin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The examples meant to load, written as ELF objects, load in libbpf through bpftool, show
/// their maps as defined, and return the expected value through `bpftool prog run`.
#[test]
fn bpftool_loads_and_runs_every_loadable_example() {
    require_kernel!("bpftool_loads_and_runs_every_loadable_example");
    let Some(bpftool) = tools::require_tool("bpftool") else {
        return;
    };
    // Mount bpffs only where there is none: mounting another over a live one would hide the
    // pins of every other process (a concurrent run of this test among them).
    if !bpfsmith::sys::is_bpffs(Path::new("/sys/fs/bpf")).unwrap_or(false) {
        let _ = Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .output();
    }
    let tmp = tools::TempDir::new("asm-bpftool");
    let data = tmp.path().join("data");
    std::fs::write(&data, [0u8; 64]).unwrap();
    for path in examples() {
        let exp = expectations(&path);
        if !exp.load_ok || !exp.push_before.is_empty() {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let obj = assemble_file(&path).unwrap();
        let o = tmp.path().join(format!("{stem}.o"));
        obj.write_elf(&o).unwrap();
        let pin = format!("/sys/fs/bpf/bpfsmith-asm-{}-{stem}", std::process::id());
        // Removed however the checks below end.
        let _unpin = Unpin(PathBuf::from(&pin));
        let load = Command::new(&bpftool)
            .args(["prog", "loadall"])
            .arg(&o)
            .arg(&pin)
            .output()
            .unwrap();
        assert!(
            load.status.success(),
            "{stem}: bpftool refused it: {}",
            String::from_utf8_lossy(&load.stderr)
        );
        let prog = exp
            .program
            .clone()
            .unwrap_or_else(|| obj.programs[0].name.clone());
        let run = Command::new(&bpftool)
            .args(["prog", "run", "pinned"])
            .arg(format!("{pin}/{prog}"))
            .arg("data_in")
            .arg(&data)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&run.stdout).into_owned();
        // Only this program's maps, by the ids it holds (while it is pinned): never the
        // machine's other maps, which other processes create and delete meanwhile.
        let json = |args: &[&str]| -> serde_json::Value {
            let o = Command::new(&bpftool)
                .arg("-j")
                .args(args)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{stem}: bpftool {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            serde_json::from_slice(&o.stdout).unwrap()
        };
        let pinned = format!("{pin}/{prog}");
        let shown_prog = json(&["prog", "show", "pinned", &pinned]);
        let maps: Vec<serde_json::Value> = shown_prog["map_ids"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .map(|id| json(&["map", "show", "id", &id.to_string()]))
                    .collect()
            })
            .unwrap_or_default();
        let _ = std::fs::remove_dir_all(&pin);
        assert!(
            run.status.success(),
            "{stem}: bpftool prog run failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        if let Some(r) = exp.retval {
            assert!(
                out.contains(&format!("Return value: {}", r as u32)),
                "{stem}: {out}"
            );
        }
        // Each map the program uses shows with the type, sizes and capacity of its definition.
        let used: Vec<_> = obj
            .maps
            .iter()
            .filter(|m| {
                obj.programs
                    .iter()
                    .any(|p| p.name == prog && p.relocs.iter().any(|r| r.symbol == m.name))
            })
            .collect();
        assert_eq!(maps.len(), used.len(), "{stem}: {shown_prog}");
        for m in used {
            let found = maps.iter().any(|j| {
                j["name"] == m.name.as_str()
                    && j["type"] == m.def.map_type.name()
                    && j["bytes_value"] == m.def.value_size
                    && j["max_entries"] == m.def.max_entries
            });
            assert!(found, "{stem}: map {} not shown as defined", m.name);
        }
    }
}

/// The viewer's report of a teaching program names the source line marked `<- the verifier
/// refuses this line` in the file, and explains the message from the catalogue.
fn check_report(path: &Path, obj: &Object, log: &str, message: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let marked = text
        .lines()
        .position(|l| l.contains("<- the verifier refuses this line"))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{}: no line marked as refused", path.display()));
    let parsed = bpfsmith::verifier::VerifierLog::parse(log);
    let program = bpfsmith::verifier::SourceMap::pick_program(&parsed, &obj.programs);
    let opts = bpfsmith::verifier::ReportOptions {
        color: false,
        full: false,
    };
    let report = bpfsmith::verifier::render_log_text(log, program, &opts);
    let file = path.file_name().unwrap().to_string_lossy();
    let at = format!("{file}:{marked}:");
    assert!(
        report.contains(&at),
        "{file}: the report does not point at line {marked}:\n{report}"
    );
    let entry = bpfsmith::explain::match_messages(message);
    let meaning = entry
        .first()
        .unwrap_or_else(|| panic!("{file}: {message:?} is not in the catalogue"))
        .meaning;
    assert!(
        report.contains(meaning),
        "{file}: the report lacks the explanation:\n{report}"
    );
    assert!(
        report.lines().count() <= 60,
        "{file}: the default report is longer than a screen"
    );
}
