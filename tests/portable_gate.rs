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
