//! Shared by the kernel tests (`tests/kernel_*.rs`, included with `#[path]`): whether `bpf(2)`
//! is usable here.
//!
//! The tests need root or CAP_BPF. Without them each test prints a notice and returns early,
//! unless `BPFSMITH_REQUIRE_KERNEL=1` is set (as CI sets it): then a missing kernel is a
//! failure.
#![allow(dead_code)]

// Probing bpf(2) needs the kernel build; the log helpers below do not.
#[cfg(bpfsmith_kernel)]
use bpfsmith::load::{Map, MapError};
#[cfg(bpfsmith_kernel)]
use bpfsmith::maps::MapDef;

/// Whether the environment asks for the kernel tests to run.
pub fn required() -> bool {
    std::env::var("BPFSMITH_REQUIRE_KERNEL").is_ok_and(|v| v == "1")
}

/// Why `bpf(2)` cannot be used here, if it cannot: creates (and drops) a one-entry queue map,
/// which needs CAP_BPF whatever `kernel.unprivileged_bpf_disabled` says.
#[cfg(bpfsmith_kernel)]
pub fn unavailable() -> Option<String> {
    match Map::create(&MapDef::queue::<u32>(1)) {
        Ok(_) => None,
        Err(MapError::Other(e)) if e.is_permission() => {
            Some(format!("{e}: these tests need root or CAP_BPF"))
        }
        Err(MapError::Other(e)) if e.errno == libc::ENOSYS => {
            Some(format!("{e}: this kernel has no bpf(2)"))
        }
        Err(e) => Some(format!("creating a probe map failed: {e}")),
    }
}

/// `true` when the test can go on. Otherwise prints why it is skipped and returns `false`,
/// or panics when `BPFSMITH_REQUIRE_KERNEL=1`.
#[cfg(bpfsmith_kernel)]
pub fn available(test: &str) -> bool {
    match unavailable() {
        None => true,
        Some(why) if required() => {
            panic!("kernel test `{test}` cannot run and BPFSMITH_REQUIRE_KERNEL=1: {why}")
        }
        Some(why) => {
            eprintln!(
                "notice: skipping kernel test `{test}`: {why}. Run as root (or with CAP_BPF) to run it; set BPFSMITH_REQUIRE_KERNEL=1 to make this a failure."
            );
            false
        }
    }
}

/// Return early from a test when the kernel is not usable (see [`available`]). Include this
/// file with `#[macro_use]`.
macro_rules! require_kernel {
    ($name:expr) => {
        if !kernel::available($name) {
            return;
        }
    };
}

/// `(slot, "(op) text")` of a verifier-log instruction line `N: (op) text ; state`.
pub fn log_insn_line(line: &str) -> Option<(usize, &str)> {
    let (idx, rest) = line.split_once(": ")?;
    let idx = idx.parse().ok()?;
    let text = rest.split_once(';').map_or(rest, |(t, _)| t);
    rest.starts_with('(').then(|| (idx, text.trim_end()))
}

/// Check every instruction line of a verifier log against bpfsmith's kernel-style listing of
/// `prog` (an `ld_imm64` up to its value: the kernel prints the map address it patched in).
/// Lines past the program's own slots (callees appended from `.text`) are not compared.
/// Returns, per instruction of `prog`, whether the log printed it.
pub fn compare_log_with_listing(prog: &bpfsmith::program::Program, log: &str) -> Vec<bool> {
    use bpfsmith::insn::Insn;
    let slots = prog.slot_offsets();
    let mut seen = vec![false; prog.insns.len()];
    for line in log.lines() {
        let Some((slot, text)) = log_insn_line(line) else {
            continue;
        };
        let i = match slots.binary_search(&slot) {
            Ok(i) if i < prog.insns.len() => i,
            Ok(_) => continue,
            Err(i) if i >= prog.insns.len() => continue,
            Err(_) => panic!(
                "{}: log line {line:?} names slot {slot}, inside an instruction",
                prog.name
            ),
        };
        let mut ours = String::new();
        bpfsmith::text::write_kernel(&mut ours, &prog.insns[i]);
        if let Insn::LdImm64 { .. } = prog.insns[i] {
            let (ours_head, _) = ours.split_once(" = ").unwrap();
            let (theirs_head, theirs_value) = text.split_once(" = ").unwrap();
            assert_eq!(ours_head, theirs_head, "{}: {line}", prog.name);
            assert!(theirs_value.starts_with("0x"), "{}: {line}", prog.name);
        } else {
            assert_eq!(ours, text, "{}: slot {slot}", prog.name);
        }
        seen[i] = true;
    }
    seen
}
