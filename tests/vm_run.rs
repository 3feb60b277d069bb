//! `bpfsmith run --engine kernel|vm|auto`: the VM's report against the kernel's, from the
//! command line. The asm examples that use queue and stack maps give the same retval and maps
//! in both engines (the kernel half needs root or CAP_BPF and skips with a notice otherwise,
//! a failure with BPFSMITH_REQUIRE_KERNEL=1); as an unprivileged user `--engine auto` picks
//! the VM and prints what the kernel printed as root (needs root to drop privileges, and
//! `setpriv`).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_bpfsmith");

/// The examples compared: a queue, a stack, pushes from user space, a bpf-to-bpf call.
const FILES: [&str; 4] = [
    "asm/queue.s",
    "asm/stack.s",
    "asm/user_push.s",
    "asm/bpf2bpf.s",
];

/// `--push MAP=V1,V2,...` for each `# push-before: MAP = V1 V2 ...` line of the file's header.
fn push_args(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut args = Vec::new();
    for line in text
        .lines()
        .take_while(|l| l.starts_with('#') || l.is_empty())
    {
        if let Some(rest) = line
            .trim_start_matches('#')
            .trim()
            .strip_prefix("push-before:")
        {
            let (map, values) = rest.split_once('=').unwrap();
            let values: Vec<&str> = values.split_whitespace().collect();
            args.push("--push".to_owned());
            args.push(format!("{}={}", map.trim(), values.join(",")));
        }
    }
    args
}

/// `bpfsmith run FILE --json` with `extra`, as `cmd` runs it: the JSON object printed.
fn run_json(mut cmd: Command, file: &str, extra: &[&str]) -> serde_json::Value {
    let out = cmd
        .arg("run")
        .arg(file)
        .arg("--json")
        .args(extra)
        .args(push_args(file))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{file} {extra:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{file}: {e}: {stdout}"))
}

/// What both engines must agree on.
fn result(v: &serde_json::Value) -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    (v["program"].clone(), v["retval"].clone(), v["maps"].clone())
}

#[test]
fn the_vm_gives_the_kernels_retval_and_maps() {
    let mut vm = Vec::new();
    for file in FILES {
        let v = run_json(Command::new(BIN), file, &["--engine", "vm"]);
        assert_eq!(v["engine"], "vm", "{file}");
        assert_eq!(v["duration_ns"].as_u64().map(|_| ()), Some(()), "{file}");
        vm.push(v);
    }
    require_kernel!("the_vm_gives_the_kernels_retval_and_maps");
    for (file, vm) in FILES.iter().zip(&vm) {
        let k = run_json(Command::new(BIN), file, &["--engine", "kernel"]);
        assert_eq!(k["engine"], "kernel", "{file}");
        assert_eq!(
            result(vm),
            result(&k),
            "{file}: the VM (left), the kernel (right)"
        );
        assert_eq!(vm["data_out"], k["data_out"], "{file}");
    }
}

#[test]
fn the_human_output_names_the_engine_first() {
    let out = Command::new(BIN)
        .args(["run", "asm/queue.s", "--engine", "vm"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(first.starts_with("engine: vm"), "{stdout}");
    assert!(first.contains("nothing was verified"), "{stdout}");
    require_kernel!("the_human_output_names_the_engine_first");
    let out = Command::new(BIN)
        .args(["run", "asm/queue.s", "--engine", "kernel"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("engine: kernel"), "{stdout}");
}

/// Whether `setpriv` can be run.
fn have_setpriv() -> bool {
    Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn without_privileges_auto_runs_the_vm_and_prints_the_kernels_results() {
    use std::os::unix::fs::PermissionsExt;
    if !have_setpriv() {
        eprintln!(
            "notice: skipping without_privileges_auto_runs_the_vm_and_prints_the_kernels_results: \
             no setpriv to drop privileges with"
        );
        return;
    }
    // Dropping to another user needs root; the kernel's own results need it too.
    require_kernel!("without_privileges_auto_runs_the_vm_and_prints_the_kernels_results");
    let dir = tempfile::tempdir().unwrap();
    let mode = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(dir.path(), mode.clone()).unwrap();
    let bin = dir.path().join("bpfsmith");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, mode.clone()).unwrap();
    for file in FILES {
        let name = Path::new(file).file_name().unwrap();
        let copy = dir.path().join(name);
        std::fs::copy(file, &copy).unwrap();
        std::fs::set_permissions(&copy, mode.clone()).unwrap();
        let mut nobody = Command::new("setpriv");
        nobody
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .current_dir(dir.path());
        let copy = copy.to_str().unwrap();
        let unprivileged = run_json(nobody, copy, &[]);
        assert_eq!(unprivileged["engine"], "vm", "{file}");
        let root = run_json(Command::new(BIN), file, &["--engine", "auto"]);
        assert_eq!(root["engine"], "kernel", "{file}");
        assert_eq!(
            result(&unprivileged),
            result(&root),
            "{file}: unprivileged (left), root (right)"
        );
    }
}

#[test]
fn a_push_into_a_full_map_is_refused_alike() {
    let stderr = |engine: &str| {
        let out = Command::new(BIN)
            .args(["run", "asm/queue.s", "--engine", engine])
            .args(["--push", "queue=1,2,3,4,5"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{engine}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let vm = stderr("vm");
    assert!(vm.contains("value 5 of --push"), "{vm}");
    require_kernel!("a_push_into_a_full_map_is_refused_alike");
    assert_eq!(vm, stderr("kernel"));
}

#[test]
fn a_run_the_vm_stops_is_one_json_object_naming_the_instruction() {
    // The VM refuses what the verifier refuses at run time here: pop on a hash map.
    let out = Command::new(BIN)
        .args([
            "run",
            "asm/mistake_wrong_map_type.s",
            "--engine",
            "vm",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["engine"], "vm");
    assert_eq!(v["program"], "wrong_map_type");
    // The line the file's own comment marks as the one the verifier refuses.
    let text = std::fs::read_to_string("asm/mistake_wrong_map_type.s").unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.contains("# <- the verifier refuses this line"))
        .unwrap();
    assert_eq!(
        v["error"]["location"],
        format!("asm/mistake_wrong_map_type.s:{line}")
    );
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bpf_map_pop_elem#88"));
}

#[test]
fn repeated_runs_keep_the_maps_between_runs_as_the_kernel_does() {
    require_kernel!("repeated_runs_keep_the_maps_between_runs_as_the_kernel_does");
    for file in ["asm/queue.s", "asm/stack.s"] {
        for repeat in ["2", "5"] {
            let extra = |engine| ["--engine", engine, "--repeat", repeat];
            let vm = run_json(Command::new(BIN), file, &extra("vm"));
            let k = run_json(Command::new(BIN), file, &extra("kernel"));
            assert_eq!(
                result(&vm),
                result(&k),
                "{file} --repeat {repeat}: the VM (left), the kernel (right)"
            );
        }
    }
}

/// `bpfsmith demo` without privileges runs both seed programs in the VM and reads the maps
/// back as documented (the same lines the kernel's run prints as root, each "as documented"),
/// saying first that nothing was verified.
#[test]
fn an_unprivileged_demo_runs_in_the_vm_as_documented() {
    use std::os::unix::fs::PermissionsExt;
    if !have_setpriv() {
        eprintln!("notice: skipping an_unprivileged_demo_runs_in_the_vm_as_documented: no setpriv");
        return;
    }
    require_kernel!("an_unprivileged_demo_runs_in_the_vm_as_documented");
    let dir = tempfile::tempdir().unwrap();
    let mode = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(dir.path(), mode.clone()).unwrap();
    let bin = dir.path().join("bpfsmith");
    std::fs::copy(BIN, &bin).unwrap();
    std::fs::set_permissions(&bin, mode).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["demo", "--out"])
        .arg(dir.path().join("out"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\nvm: running both programs"), "{text}");
    assert!(text.contains("nothing was verified"), "{text}");
    // The kernel's own run, as root, for the lines to agree with.
    let root = Command::new(BIN)
        .args(["demo", "--engine", "kernel", "--out"])
        .arg(dir.path().join("root"))
        .output()
        .unwrap();
    let root = String::from_utf8_lossy(&root.stdout);
    let results = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("  r0 = ") || l.starts_with("map "))
            .map(str::to_owned)
            .collect()
    };
    let (vm, kernel) = (results(&text), results(&root));
    assert_eq!(vm.len(), 4, "{text}");
    assert!(
        vm.iter()
            .all(|l| l.contains("as documented") && !l.contains("NOT")),
        "{text}"
    );
    assert_eq!(vm, kernel, "the VM's results (left), the kernel's (right)");
}

/// `bpfsmith check asm --engine vm` holds every example to its header in the VM: each file the
/// kernel runs and passes gives the same line (the same r0 and maps), and each file that states
/// a verifier refusal is skipped, saying the VM verifies nothing.
#[test]
fn check_in_the_vm_agrees_with_the_kernel_on_every_example() {
    require_kernel!("check_in_the_vm_agrees_with_the_kernel_on_every_example");
    let lines = |engine: &str| -> Vec<String> {
        let out = Command::new(BIN)
            .args(["check", "asm", "--engine", engine])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{engine}: {text}");
        text.lines().map(str::to_owned).collect()
    };
    let (vm, kernel) = (lines("vm"), lines("kernel"));
    assert!(vm[0].starts_with("engine: vm"), "{vm:#?}");
    let mut ran = 0;
    for k in kernel
        .iter()
        .filter(|l| l.starts_with("pass ") || l.starts_with("fail "))
    {
        let file = k
            .split(':')
            .next()
            .unwrap()
            .trim_start_matches("pass ")
            .trim_start_matches("fail ");
        let v = vm
            .iter()
            .find(|l| l.split(':').next().is_some_and(|h| h.ends_with(file)))
            .unwrap_or_else(|| panic!("{file} missing from the VM's check: {vm:#?}"));
        if k.contains("refused as stated") {
            assert!(
                v.starts_with("skip ") && v.contains("verifies nothing"),
                "{v}"
            );
        } else {
            assert_eq!(v, k, "the VM (left) and the kernel (right) on {file}");
            ran += 1;
        }
    }
    assert!(ran >= 8, "{kernel:#?}");
    assert!(vm.last().unwrap().contains(" 0 failed"), "{vm:#?}");
}
