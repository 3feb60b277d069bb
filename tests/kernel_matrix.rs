//! The kernel matrix: the same commands inside other kernels, booted under qemu with
//! `--kernel`, and each kernel's own answer where behaviour changed between versions.
//!
//! The kernel images come from `BPFSMITH_KERNEL_IMAGES` (paths separated by `:` or new lines;
//! `.ci/fetch-kernels` fetches Debian's 6.1 and 6.12 cloud kernels and prints theirs). Without
//! it the tests print a notice and skip, unless `BPFSMITH_REQUIRE_KERNEL=1` (as in CI).
//!
//! What differs, and why:
//! - Linux 6.1 with the JIT returns a map helper's error zero-extended in r0 (the JIT calls the
//!   map's `int`-returning operation directly; Linux 6.4 made them return `long`): the r0-width
//!   example returns 32 there and 64 everywhere else.
//! - Linux 6.1 lacks cpu v4 (Linux 6.6): the conformance suite skips those tests there.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::path::Path;
use std::process::{Command, Output};

use bpfsmith::guest::KernelImage;

/// The kernel images to run in, or `None` (after a notice) when none are given.
fn images(test: &str) -> Option<Vec<KernelImage>> {
    let list = std::env::var("BPFSMITH_KERNEL_IMAGES").unwrap_or_default();
    let paths: Vec<&str> = list
        .split([':', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if paths.is_empty() {
        if kernel::required() {
            panic!(
                "kernel matrix test `{test}`: BPFSMITH_REQUIRE_KERNEL=1 but BPFSMITH_KERNEL_IMAGES \
                 names no kernel image (run .ci/fetch-kernels)"
            );
        }
        eprintln!(
            "notice: skipping kernel matrix test `{test}`: set BPFSMITH_KERNEL_IMAGES to kernel \
             images (.ci/fetch-kernels prints Debian's 6.1 and 6.12)"
        );
        return None;
    }
    Some(
        paths
            .iter()
            .map(|p| KernelImage::open(Path::new(p)).unwrap_or_else(|e| panic!("{e}")))
            .collect(),
    )
}

/// The image of a `(major, minor)` series.
fn series(images: &[KernelImage], v: (u32, u32)) -> Option<&KernelImage> {
    images.iter().find(|i| i.version() == Some(v))
}

/// Each image with the JIT modes it is tested in: both where the kernel allows the
/// interpreter, as Debian's do.
fn runs(images: &[KernelImage]) -> Vec<(&KernelImage, &'static str)> {
    images
        .iter()
        .flat_map(|i| [(i, "on"), (i, "off")])
        .collect()
}

fn bpfsmith(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn in_guest(image: &KernelImage, jit: &str, args: &[&str]) -> (Output, String) {
    let path = image.path.to_str().unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--kernel", path, "--jit", jit]);
    let out = bpfsmith(&all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn what(image: &KernelImage, jit: &str, out: &Output, stdout: &str) -> String {
    format!(
        "Linux {} (JIT {jit}): exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        image.release,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_asm_example_gives_its_stated_result_on_every_kernel() {
    let Some(images) = images("every_asm_example_gives_its_stated_result_on_every_kernel") else {
        return;
    };
    for (image, jit) in runs(&images) {
        let (out, stdout) = in_guest(image, jit, &["check", "asm"]);
        let ctx = what(image, jit, &out, &stdout);
        assert!(out.status.success(), "{ctx}");
        assert!(
            stdout
                .lines()
                .last()
                .unwrap_or("")
                .ends_with(" 0 failed, 0 skipped"),
            "{ctx}"
        );
        // The r0-width lesson: each kernel's own answer.
        let line = stdout
            .lines()
            .find(|l| l.contains("r0_width.s"))
            .unwrap_or_else(|| panic!("{ctx}"));
        let zero_extended = image.version().unwrap() < (6, 4) && jit == "on";
        let want = if zero_extended {
            // Before 6.4 the JIT zero-extends the queue's int error: only `w0 == -7` matches.
            "r0 = 32"
        } else {
            // The interpreter, and 6.4 and later, sign-extend it: `r0 == -7` matches.
            "r0 = 64"
        };
        assert!(line.contains(want), "{ctx}");
    }
}

#[test]
fn the_demo_runs_as_documented_on_every_kernel() {
    let Some(images) = images("the_demo_runs_as_documented_on_every_kernel") else {
        return;
    };
    for (image, jit) in runs(&images) {
        let (out, stdout) = in_guest(image, jit, &["demo"]);
        let ctx = what(image, jit, &out, &stdout);
        assert!(out.status.success(), "{ctx}");
        assert!(!stdout.contains("NOT as documented"), "{ctx}");
        // Two programs and two maps, each as documented.
        assert_eq!(stdout.matches("as documented").count(), 4, "{ctx}");
    }
}

#[test]
fn conformance_has_no_failure_on_any_kernel() {
    let Some(images) = images("conformance_has_no_failure_on_any_kernel") else {
        return;
    };
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bpf_conformance/tests");
    if !suite.is_dir() {
        assert!(
            !kernel::required(),
            "the conformance suite is missing: {}",
            suite.display()
        );
        eprintln!(
            "notice: skipping: no conformance suite at {}",
            suite.display()
        );
        return;
    }
    let suite = suite.to_str().unwrap();
    for (image, jit) in runs(&images) {
        let (out, stdout) = in_guest(image, jit, &["conformance", suite]);
        let ctx = what(image, jit, &out, &stdout);
        assert!(out.status.success(), "{ctx}");
        let last = stdout.lines().last().unwrap_or("");
        assert!(last.contains(" 0 failed"), "{ctx}");
        let passed: usize = last
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // 313 files; 29 excluded on Linux by the suite itself; 6.1 skips the cpu-v4 ones.
        assert!(passed >= 200, "{ctx}");
    }
}

#[test]
fn the_viewer_explains_a_refusal_inside_another_kernel() {
    let Some(images) = images("the_viewer_explains_a_refusal_inside_another_kernel") else {
        return;
    };
    let image = &images[0];
    let (out, stdout) = in_guest(image, "on", &["load", "asm/mistake_flags_unset.s"]);
    let ctx = what(image, "on", &out, &stdout);
    assert_eq!(out.status.code(), Some(1), "{ctx}");
    assert!(stdout.contains("error: R3 !read_ok"), "{ctx}");
    // The marked line of the file, found through the object (6.1 prints no `@ file:line`).
    assert!(
        stdout.contains("--> asm/mistake_flags_unset.s:18:"),
        "{ctx}"
    );
    assert!(stdout.contains("r3 (flags): no value"), "{ctx}");
}

#[test]
fn the_matrix_shows_where_r0_width_differs() {
    require_kernel!("the_matrix_shows_where_r0_width_differs");
    let Some(images) = images("the_matrix_shows_where_r0_width_differs") else {
        return;
    };
    let mut args = vec!["matrix", "asm/r0_width.s", "--kernel", "host"];
    let paths: Vec<String> = images
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    for p in &paths {
        args.extend(["--kernel", p.as_str()]);
    }
    let json_args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    let out = bpfsmith(&json_args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rows.len(), 1 + 2 * images.len(), "{stdout}");
    for r in &rows {
        let release = r["release"].as_str().unwrap();
        let v = bpfsmith::guest::release_version(release).unwrap();
        let jit = r["jit"].as_bool().unwrap();
        let want = if v < (6, 4) && jit { 32 } else { 64 };
        assert_eq!(r["retval"], want, "Linux {release}, JIT {jit}: {r}");
        assert_eq!(r["as_stated"], true, "{r}");
    }
    // The table marks the rows that differ and explains why.
    let out = bpfsmith(&args);
    let table = String::from_utf8_lossy(&out.stdout);
    if series(&images, (6, 1)).is_some() {
        assert!(table.contains("<- differs"), "{table}");
        assert!(table.contains("before Linux 6.4 the JIT"), "{table}");
    }
}

/// A kernel image that is not one is refused before anything boots.
#[test]
fn a_file_that_is_not_a_kernel_image_is_refused() {
    let out = bpfsmith(&["run", "asm/queue.s", "--kernel", "Cargo.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("not an x86 bzImage"), "{stderr}");
}
