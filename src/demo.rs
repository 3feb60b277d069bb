//! The seed scenario: push, pop and peek on a queue and on a stack, built with the DSL.
//!
//! Two maps of four `u32` slots, `queue` (FIFO) and `stack` (LIFO), and one socket-filter
//! program for each, doing the same thing:
//!
//! 1. push 10, 20, 30, 40 with `BPF_ANY` (the map is now full);
//! 2. push 50 with `BPF_ANY`: refused with `-E2BIG`;
//! 3. push 50 with `BPF_EXIST`: accepted, the oldest element (10) is dropped;
//! 4. peek into one buffer, pop into another, and return the popped value if it equals the
//!    peeked one.
//!
//! The queue program returns 20 and leaves 30, 40, 50; the stack program returns 50 and leaves
//! 40, 30, 20 (in pop order). A step that does not behave as the kernel documents makes the
//! program return `1000 + step` instead.
//!
//! Each helper's result is tested in its low 32 bits (`w0`, a `JMP32` jump): before Linux 6.4
//! the x86 JIT hands a push's, pop's or peek's error back zero-extended (`0x00000000fffffff9`
//! for -E2BIG), so a 64-bit `r0 != -7` would fail step 2 on those kernels.
//!
//! ```
//! let obj = bpfsmith::demo::object();
//! assert_eq!(obj.maps.len(), 2);
//! assert_eq!(obj.programs.len(), 2);
//! assert_eq!(bpfsmith::demo::EXPECTED_RETVAL, [("queue_prog", 20), ("stack_prog", 50)]);
//! ```

use crate::insn::{Cond, Reg, Size, W0};
use crate::maps::MapDef;
use crate::object::Object;
use crate::program::{MapRef, Program, ProgramBuilder, PushFlags, Section};

/// Capacity of both maps.
pub const CAPACITY: u32 = 4;

/// What each program returns when the kernel behaves as documented.
pub const EXPECTED_RETVAL: [(&str, u32); 2] = [("queue_prog", 20), ("stack_prog", 50)];

/// What each map holds afterwards, in pop order.
pub const EXPECTED_LEFT: [(&str, [u32; 3]); 2] = [("queue", [30, 40, 50]), ("stack", [40, 30, 20])];

/// `-E2BIG`, what `bpf_map_push_elem` returns on a full map without `BPF_EXIST`.
const E2BIG: i32 = -7;

/// The seed scenario as an object: the two maps and the two programs.
pub fn object() -> Object {
    let mut obj = Object::new("GPL");
    let def = MapDef::queue::<u32>(CAPACITY);
    let queue = obj
        .map("queue", def)
        .expect("the demo queue is a valid map");
    let stack = obj
        .map("stack", MapDef::stack::<u32>(CAPACITY))
        .expect("the demo stack is a valid map");
    for (name, map) in [("queue_prog", &queue), ("stack_prog", &stack)] {
        obj.add_program(program(name, map))
            .expect("the demo program references its own map");
    }
    obj
}

/// One program of the scenario against `map` (a queue or a stack of `u32`).
pub fn program(name: &str, map: &MapRef) -> Program {
    let mut p = ProgramBuilder::new(name, Section::SOCKET);
    let value = p.reserve::<u32>();
    let peeked = p.reserve::<u32>();
    let popped = p.reserve::<u32>();
    let fail = p.label("fail");

    // Step 1: fill the map. Each push reads the value from the stack buffer.
    for v in [10, 20, 30, 40] {
        p.store(Size::U32, Reg::R10, value.off, v);
        p.push(map, value, PushFlags::ANY);
        p.mov(Reg::R6, 1001);
        p.jump_if(W0, Cond::Ne, 0, fail);
    }
    // Step 2: one more with BPF_ANY is refused with -E2BIG.
    p.store(Size::U32, Reg::R10, value.off, 50);
    p.push(map, value, PushFlags::ANY);
    p.mov(Reg::R6, 1002);
    // w0: portable to kernels before 6.4 (their JIT zero-extends the error into r0).
    p.jump_if(W0, Cond::Ne, E2BIG, fail);
    // Step 3: with BPF_EXIST it goes in, and the oldest element is dropped.
    p.push(map, value, PushFlags::EXIST);
    p.mov(Reg::R6, 1003);
    p.jump_if(W0, Cond::Ne, 0, fail);
    // Step 4: peek, then pop; both must succeed and agree.
    p.peek(map, peeked);
    p.mov(Reg::R6, 1004);
    p.jump_if(W0, Cond::Ne, 0, fail);
    p.pop(map, popped);
    p.mov(Reg::R6, 1005);
    p.jump_if(W0, Cond::Ne, 0, fail);
    p.load(Size::U32, Reg::R1, Reg::R10, peeked.off);
    p.load(Size::U32, Reg::R0, Reg::R10, popped.off);
    p.mov(Reg::R6, 1006);
    p.jump_if(Reg::R0, Cond::Ne, Reg::R1, fail);
    p.exit();
    p.bind(fail);
    p.mov(Reg::R0, Reg::R6);
    p.exit();
    let mut prog = p.finish().expect("the demo program is well formed");
    // Keep this file's text in the program, so that listings and line info show the Rust
    // lines wherever the binary runs.
    for f in &mut prog.files {
        if f.path.ends_with("demo.rs") {
            f.text = Some(include_str!("demo.rs").into());
        }
    }
    prog
}

/// What each failure code in r6 means: the step that did not behave as documented.
pub const FAILURE_CODES: [(u32, &str); 6] = [
    (
        1001,
        "a push of 10, 20, 30 or 40 with BPF_ANY did not return 0",
    ),
    (
        1002,
        "the fifth push with BPF_ANY did not return -E2BIG (-7) in w0",
    ),
    (1003, "the push with BPF_EXIST did not return 0"),
    (1004, "peek did not return 0"),
    (1005, "pop did not return 0"),
    (1006, "pop did not give the value peek saw"),
];

/// Why each program returns what it returns, and why each map holds what it holds.
pub const WHY: [(&str, &str); 4] = [
    (
        "queue_prog",
        "a queue is FIFO: BPF_EXIST made room by dropping the oldest, 10, so peek and pop \
         both see the oldest left, 20",
    ),
    (
        "stack_prog",
        "a stack is LIFO: BPF_EXIST made room by dropping the bottom, 10, so peek and pop \
         both see the newest, 50",
    ),
    ("queue", "20 was popped; 30, 40 and 50 stay, oldest first"),
    ("stack", "50 was popped; 40, 30 and 20 stay, newest first"),
];

/// The part of the demo that needs no kernel: the maps, then the first program's listing
/// with decimal numbers and helper ids (`call 87 # bpf_map_push_elem`), and each other program
/// as its difference from the first. With `full`, every program in full with the Rust source
/// line above each group of instructions and the helper ABI beside each call.
pub fn listing_report(obj: &Object, full: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let maps: Vec<String> = obj
        .maps
        .iter()
        .map(|m| {
            let d = &m.def;
            format!(
                "{} (type={} value_size={} max_entries={} flags={:#x})",
                m.name, d.map_type, d.value_size, d.max_entries, d.map_flags
            )
        })
        .collect();
    let _ = writeln!(out, "maps: {}", maps.join(", "));
    let opts = crate::text::ListingOptions {
        source: full,
        abi: full,
        ..Default::default()
    };
    let mut first: Option<(&str, Vec<String>)> = None;
    for p in &obj.programs {
        let mut text = String::new();
        crate::text::write_listing(&mut text, p, &opts);
        let lines: Vec<String> = text.lines().map(decimal_line).collect();
        let head = format!(
            "\nprogram {} (section {}): {} instructions in {} slots",
            p.name,
            p.section,
            p.insns.len(),
            p.slot_count()
        );
        match &first {
            Some((name, base)) if !full && base.len() == lines.len() => {
                // The differing instruction lines, grouped by what changed: `slot:\ttext`.
                let mut changes: Vec<(String, String, Vec<String>)> = Vec::new();
                for (ours, theirs) in lines.iter().zip(base) {
                    let (Some((slot, a)), Some((_, b))) = (
                        ours.trim().split_once(":\t"),
                        theirs.trim().split_once(":\t"),
                    ) else {
                        continue;
                    };
                    if a == b {
                        continue;
                    }
                    match changes.iter_mut().find(|(x, y, _)| x == a && y == b) {
                        Some(c) => c.2.push(slot.to_owned()),
                        None => changes.push((a.to_owned(), b.to_owned(), vec![slot.to_owned()])),
                    }
                }
                let _ = writeln!(out, "{head}: {name}'s instructions, with");
                for (a, b, slots) in changes {
                    let _ = writeln!(out, "  `{a}` for `{b}` at {}", slots.join(", "));
                }
            }
            _ => {
                let _ = writeln!(out, "{head}");
                for l in &lines {
                    let _ = writeln!(out, "{l}");
                }
                if first.is_none() {
                    first = Some((&p.name, lines));
                }
            }
        }
    }
    out
}

/// A listing line with its numbers in decimal (`call 0x57` -> `call 87`, `r6 = 0x3e9` ->
/// `r6 = 1001`, `goto +0x3f` -> `goto +63`); function headers keep their hex offsets, as
/// llvm-objdump prints them.
fn decimal_line(line: &str) -> String {
    if line.starts_with(|c: char| c.is_ascii_hexdigit()) && line.ends_with(">:") {
        return line.to_owned();
    }
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < b.len() {
        let starts_token = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if starts_token && b[i..].starts_with(b"0x") {
            let digits = b[i + 2..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            let hex = &line[i + 2..i + 2 + digits];
            let ends_token = b
                .get(i + 2 + digits)
                .map_or(true, |c| !(c.is_ascii_alphanumeric() || *c == b'_'));
            if digits > 0 && ends_token {
                if let Ok(v) = u64::from_str_radix(hex, 16) {
                    out.push_str(&v.to_string());
                    i += 2 + digits;
                    continue;
                }
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// What one program of the scenario did in the kernel.
#[cfg(target_os = "linux")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramRun {
    /// The program.
    pub name: String,
    /// What it returned.
    pub retval: u32,
    /// What the kernel's documented semantics predict.
    pub expected: u32,
    /// The verifier's statistics lines for it (log level 4).
    pub verifier_stats: Vec<String>,
}

/// What the scenario did in the kernel: each program's run, then each map's contents in pop
/// order.
#[cfg(target_os = "linux")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelRun {
    /// The programs' runs, in object order.
    pub programs: Vec<ProgramRun>,
    /// Each map's contents afterwards, drained in pop order.
    pub maps: Vec<(String, Vec<u32>)>,
}

/// Why the scenario could not run in the kernel.
#[cfg(target_os = "linux")]
#[derive(Debug, thiserror::Error)]
pub enum KernelRunError {
    /// Loading failed (privileges, the verifier ...).
    #[error(transparent)]
    Load(#[from] crate::load::LoadError),
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("running `{program}`: {source}")]
    Run {
        /// The program.
        program: String,
        /// The syscall error.
        source: crate::sys::SysError,
    },
    /// Reading a map back failed.
    #[error("reading map `{map}`: {source}")]
    Map {
        /// The map.
        map: String,
        /// The error.
        source: crate::load::MapError,
    },
}

/// Load the scenario's object into the kernel (with the verifier's statistics), run each
/// program once with `BPF_PROG_TEST_RUN`, and drain the maps. Needs root or CAP_BPF.
#[cfg(target_os = "linux")]
pub fn run_in_kernel(obj: &Object) -> Result<KernelRun, KernelRunError> {
    use crate::load::{log_level, LoadOptions, TestRun};
    let loaded = obj.load_with(&LoadOptions {
        log_level: log_level::STATS,
        ..Default::default()
    })?;
    let mut programs = Vec::new();
    for p in loaded.programs() {
        // Socket filters see a packet; 64 zero bytes are enough for this program.
        let run = p
            .test_run(&TestRun {
                data: &[0; 64],
                ..Default::default()
            })
            .map_err(|source| KernelRunError::Run {
                program: p.name().to_owned(),
                source,
            })?;
        let expected = EXPECTED_RETVAL
            .iter()
            .find(|(n, _)| *n == p.name())
            .map_or(0, |(_, v)| *v);
        let verifier_stats = p
            .log()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        programs.push(ProgramRun {
            name: p.name().to_owned(),
            retval: run.retval,
            expected,
            verifier_stats,
        });
    }
    let mut maps = Vec::new();
    for m in &obj.maps {
        let values = match m.def.map_type {
            crate::maps::MapType::Stack => loaded.stack::<u32>(&m.name).and_then(|s| s.drain()),
            _ => loaded.queue::<u32>(&m.name).and_then(|q| q.drain()),
        }
        .map_err(|source| KernelRunError::Map {
            map: m.name.clone(),
            source,
        })?;
        maps.push((m.name.clone(), values));
    }
    Ok(KernelRun { programs, maps })
}

/// Write the demo's object as `seed.o`: into `out` when given (created if missing), else into
/// a fresh private directory (`$TMPDIR/bpfsmith-demo-XXXXXX`, mode 0700, a new name each
/// run). The file is created exclusively (`O_EXCL`): whatever is already at that name (a file,
/// a symbolic link planted by another user) is an error and is left alone. Returns the path.
pub fn write_seed(
    obj: &Object,
    out: Option<&std::path::Path>,
) -> Result<std::path::PathBuf, String> {
    let dir = match out {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            d.to_path_buf()
        }
        None => private_dir_builder()
            .tempdir()
            .map_err(|e| {
                format!(
                    "a private directory in {}: {e}",
                    std::env::temp_dir().display()
                )
            })?
            .keep(),
    };
    let path = dir.join("seed.o");
    let bytes = obj.to_elf().map_err(|e| e.to_string())?;
    crate::output::create_new(&path, &bytes).map_err(|e| match e {
        crate::output::OutputError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            format!(
                "{}: already exists (a file or a link someone put there): left alone; remove \
                 it or give another --out DIR",
                path.display()
            )
        }
        e => e.to_string(),
    })?;
    Ok(path)
}

fn private_dir_builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix("bpfsmith-demo-");
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_decimal() {
        assert_eq!(
            decimal_line("       6:\tcall 0x57 # bpf_map_push_elem"),
            "       6:\tcall 87 # bpf_map_push_elem"
        );
        assert_eq!(decimal_line("\tr2 += -0x4"), "\tr2 += -4");
        assert_eq!(
            decimal_line("\tif w0 != 0x0 goto +0x3f <fail>"),
            "\tif w0 != 0 goto +63 <fail>"
        );
        assert_eq!(
            decimal_line("0000000000000240 <fail>:"),
            "0000000000000240 <fail>:"
        );
        assert_eq!(decimal_line("r1 = abc0x12"), "r1 = abc0x12");
    }

    #[test]
    fn the_second_program_is_shown_as_its_difference() {
        let text = listing_report(&object(), false);
        assert!(
            text.contains(
                "program stack_prog (section socket): 66 instructions in 74 slots: \
                 queue_prog's instructions, with\n  `r1 = stack ll` for `r1 = queue ll` at 1, \
                 10, 19, 28, 37, 45, 53, 60\n"
            ),
            "{text}"
        );
        assert!(text.contains("call 87 # bpf_map_push_elem"), "{text}");
        assert!(!text.contains("0x3e9"), "{text}");
    }
}
