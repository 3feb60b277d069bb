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
    p.jump_if(W0, Cond::Ne, E2BIG, fail); // w0: portable to kernels before 6.4
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

/// The part of the demo that needs no kernel: the maps, then each program's listing with the
/// Rust source line above each group of instructions and the helper ABI beside each call.
pub fn listing_report(obj: &Object) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "maps:");
    for m in &obj.maps {
        let d = &m.def;
        let _ = writeln!(
            out,
            "  {:<8} type={} value_size={} max_entries={} flags={:#x}",
            m.name, d.map_type, d.value_size, d.max_entries, d.map_flags
        );
    }
    let opts = crate::text::ListingOptions {
        source: true,
        abi: true,
        ..Default::default()
    };
    for p in &obj.programs {
        let _ = writeln!(
            out,
            "\nprogram {} (section {}): {} instructions in {} slots",
            p.name,
            p.section,
            p.insns.len(),
            p.slot_count()
        );
        crate::text::write_listing(&mut out, p, &opts);
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
