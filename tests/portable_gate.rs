//! The portable build is honest: the only OS gate is `cfg(bpfsmith_kernel)`, which build.rs
//! sets on Linux with the `kernel` feature. A `target_os` anywhere in the crate's Rust code
//! (src/, tests/, examples/, benches/) would be a gate that the portable build on Linux
//! (`--no-default-features --features cli,snapshot`, what CI runs for macOS) still compiles one
//! way and macOS the other, so the check that CI makes would no longer hold for it.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue; // benches/ or examples/ may not exist
        };
        for e in entries {
            let path = e.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn no_os_gate_but_bpfsmith_kernel() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This file names what it looks for.
    let itself = root.join(file!());
    let mut found = Vec::new();
    let mut files = 0;
    for dir in ["src", "tests", "examples", "benches"] {
        for path in rust_files(&root.join(dir)) {
            files += 1;
            if path == itself {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            for (i, line) in text.lines().enumerate() {
                if line.contains("target_os") {
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    found.push(format!("{}:{}: {}", rel.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        files > 100,
        "only {files} Rust files found under {}",
        root.display()
    );
    assert!(
        found.is_empty(),
        "gate on cfg(bpfsmith_kernel) (build.rs sets it on Linux with the `kernel` feature), \
         not on the target OS:\n{}",
        found.join("\n")
    );
}

/// build.rs sets the gate exactly when the target OS (as std reports it) is Linux and the
/// `kernel` feature is on; without it, `--engine auto` is the VM whatever the privileges.
#[test]
fn the_gate_is_linux_and_the_kernel_feature() {
    let linux = std::env::consts::OS == "linux";
    assert_eq!(
        cfg!(bpfsmith_kernel),
        linux && cfg!(feature = "kernel"),
        "cfg(bpfsmith_kernel) on {} with the kernel feature {}",
        std::env::consts::OS,
        if cfg!(feature = "kernel") {
            "on"
        } else {
            "off"
        }
    );
    if !cfg!(bpfsmith_kernel) {
        use bpfsmith::run::{Engine, EngineChoice};
        assert!(!bpfsmith::run::may_load_programs());
        assert_eq!(EngineChoice::Auto.resolve(), Engine::Vm);
    }
}

/// Without the kernel parts, `run` and `demo` say that this build has no kernel engine and run
/// in the VM (with the results `asm/queue.s` states in its header); `--engine kernel`, `load` and
/// `probe` are errors that say so, not panics.
#[cfg(not(bpfsmith_kernel))]
#[test]
fn without_the_kernel_the_commands_say_so_and_use_the_vm() {
    use bpfsmith::text::asm::expect::Expectations;
    let root = env!("CARGO_MANIFEST_DIR");
    let bpfsmith = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
            .args(args)
            .current_dir(root)
            .env("NO_COLOR", "1")
            .output()
            .expect("run bpfsmith");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (o.status.code(), text(&o.stdout), text(&o.stderr))
    };
    let none = "this build has no kernel engine";

    let source = std::fs::read_to_string(Path::new(root).join("asm/queue.s")).expect("queue.s");
    let want = Expectations::parse(&source).expect("its header");
    let retval = want.retval.expect("queue.s states its retval");
    let (code, out, err) = bpfsmith(&["run", "asm/queue.s"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains(none), "{err}");
    assert!(out.starts_with("engine: vm"), "{out}");
    assert!(out.contains(&format!("r0 = {retval} ")), "{out}");

    let (code, out, err) = bpfsmith(&["demo"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains(none), "{err}");
    assert!(out.contains("vm: running both programs"), "{out}");

    for args in [
        &["run", "asm/queue.s", "--engine", "kernel"][..],
        &["demo", "--engine", "kernel"][..],
        &["check", "asm/queue.s", "--engine", "kernel"][..],
        &["load", "asm/queue.s"][..],
        &["probe"][..],
    ] {
        let (code, out, err) = bpfsmith(args);
        assert_eq!(code, Some(1), "{args:?}: {out}{err}");
        assert!(
            err.starts_with("error: ") && err.contains(none),
            "{args:?}: {err}"
        );
    }
}
