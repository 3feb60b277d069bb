//! `bpfsmith demo`: the walkthrough of the seed scenario ([`bpfsmith::seed`]): what each
//! program does, its listing in decimal, the object written as `seed.o`, the run in the kernel
//! and why each result is what it is. The command's script, so it lives in the binary.

use std::process::ExitCode;

use bpfsmith::object::Object;
use bpfsmith::run::Engine;

use crate::fail;

/// `bpfsmith demo`: the seed scenario as a lesson. What it does, the listings, the object
/// written to `out` (or a fresh private directory), then the run in the kernel, each result
/// against the documented one.
pub(crate) fn run(out: Option<&std::path::Path>, full: bool, engine: Engine) -> ExitCode {
    let obj = bpfsmith::seed::object();
    println!("bpfsmith demo: the seed scenario, built with the Rust DSL (src/seed.rs)");
    println!("A queue and a stack of four u32 slots, and one program for each. Before each");
    println!("check it sets r6 to a failure code, returned if the step goes otherwise:");
    println!("  1. push 10, 20, 30, 40 with BPF_ANY: the map is full              (else 1001)");
    println!("  2. push 50 with BPF_ANY: refused with -E2BIG, -7 in w0             (else 1002)");
    println!("  3. push 50 with BPF_EXIST: accepted, the oldest element dropped     (else 1003)");
    println!("  4. peek, then pop: return the popped value if both agree  (else 1004, 1005, 1006)");
    print!("{}", listing_report(&obj, full));
    match write_seed(&obj, out) {
        Ok(path) => {
            let p = path.display();
            println!("\nwrote the ELF object {p}; look at it with:");
            println!("  bpfsmith dis {p}                 # programs, maps, source lines");
            println!("  llvm-objdump-22 -dr {p}          # LLVM's listing, relocations");
            println!("  bpftool btf dump file {p}        # the maps' BTF");
            if full {
                println!("  bpfsmith dis {p} --style kernel  # as the verifier log prints it");
                println!("  readelf -S -s {p}                # sections and symbols");
                println!("  bpfsmith load {p} --log-level 2  # the verifier, line by line");
            }
        }
        Err(e) => {
            eprintln!("\nerror: writing the ELF object: {e}");
            // The kernel part still runs; the exit status says the write failed.
            let _ = run_scenario(&obj, full, engine);
            return ExitCode::FAILURE;
        }
    }
    run_scenario(&obj, full, engine)
}

/// The scenario's run on `engine`.
fn run_scenario(obj: &Object, full: bool, engine: Engine) -> ExitCode {
    match engine {
        Engine::Kernel => demo_in_kernel(obj, full),
        Engine::Vm => demo_in_vm(obj),
    }
}

/// The scenario in the built-in VM: each program run once on fresh maps (each program uses
/// its own map), the maps drained after it; nothing is verified.
fn demo_in_vm(obj: &Object) -> ExitCode {
    use bpfsmith::run::RunRequest;
    use bpfsmith::seed::EXPECTED_RETVAL;
    println!(
        "\nvm: running both programs in the built-in interpreter (no BPF_PROG_LOAD: nothing was \
         verified; `--engine kernel` as root loads them)"
    );
    let mut run = ScenarioRun::default();
    for (name, expected) in EXPECTED_RETVAL {
        let req = RunRequest {
            program: Some(name.to_owned()),
            // Socket filters see a packet; 64 zero bytes are enough for this program.
            data: Some(vec![0; 64]),
            ..Default::default()
        };
        let report = match bpfsmith::vm::run(obj, &req) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        run.programs.push(ProgramRun {
            name: name.to_owned(),
            retval: report.retval,
            expected,
            verifier_stats: Vec::new(),
        });
        // The maps this program uses (each run starts on fresh maps, so another program's map
        // is still empty here).
        let uses = |map: &str| {
            obj.programs.iter().any(|p| {
                p.name == name
                    && p.relocs
                        .iter()
                        .any(|r| r.kind == bpfsmith::program::RelocKind::Map && r.symbol == map)
            })
        };
        for (map, values) in report.maps.iter().filter(|(m, _)| uses(m)) {
            let ints = values
                .iter()
                .map(|v| v.as_u64().map_or(u32::MAX, |n| n as u32))
                .collect();
            run.maps.push((map.clone(), ints));
        }
    }
    report(&run, false, "run in the VM")
}

/// The kernel part of the demo: load, run, read the maps back; explain what was skipped when
/// the kernel is out of reach.
#[cfg(bpfsmith_kernel)]
fn demo_in_kernel(obj: &Object, full: bool) -> ExitCode {
    use bpfsmith::load::LoadError;
    println!("kernel: loading both programs (BPF_PROG_LOAD), running them (BPF_PROG_TEST_RUN)");
    match run_in_kernel(obj) {
        Ok(run) => report(&run, full, "verifier accepted it; test_run"),
        Err(KernelRunError::Load(e @ LoadError::Permission { .. })) => {
            println!("skipped: loading and running in the kernel ({e})");
            println!("Everything above needed no kernel; run as root to see the programs run.");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

#[cfg(not(bpfsmith_kernel))]
fn demo_in_kernel(_obj: &Object, _full: bool) -> ExitCode {
    println!(
        "\nskipped: loading and running in the kernel (this build has no kernel engine: that \
         needs Linux and the `kernel` feature)"
    );
    ExitCode::SUCCESS
}

/// Print each program's result and each map's contents against the documented ones; success
/// when all are as documented. `accepted` says how the program got to run.
fn report(run: &ScenarioRun, full: bool, accepted: &str) -> ExitCode {
    use bpfsmith::seed::EXPECTED_LEFT;
    let why = |name: &str| WHY.iter().find(|(n, _)| *n == name).map_or("", |(_, w)| *w);
    let mut ok = true;
    for p in &run.programs {
        println!("\n{}: {accepted}:", p.name);
        if full {
            for l in &p.verifier_stats {
                println!("  verifier: {l}");
            }
        }
        let verdict = if p.retval == p.expected {
            "as documented"
        } else {
            "NOT as documented"
        };
        ok &= p.retval == p.expected;
        println!("  r0 = {} (expected {}: {verdict})", p.retval, p.expected);
        if p.retval == p.expected {
            println!("  why: {}", why(&p.name));
        } else if let Some((_, what)) = FAILURE_CODES.iter().find(|(c, _)| *c == p.retval) {
            println!("  failure code {}: {what}", p.retval);
        }
    }
    println!();
    for (name, values) in &run.maps {
        let expected = EXPECTED_LEFT
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_vec());
        let verdict = if expected.as_ref() == Some(values) {
            "as documented"
        } else {
            "NOT as documented"
        };
        ok &= expected.as_ref() == Some(values);
        if expected.as_ref() == Some(values) {
            println!(
                "map {name}, drained in pop order: {values:?} ({verdict}: {})",
                why(name)
            );
        } else {
            println!("map {name}, drained in pop order: {values:?} ({verdict})");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What each failure code in r6 means: the step that did not behave as documented.
const FAILURE_CODES: [(u32, &str); 6] = [
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
const WHY: [(&str, &str); 4] = [
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
fn listing_report(obj: &Object, full: bool) -> String {
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
    let opts = bpfsmith::text::ListingOptions {
        source: full,
        abi: full,
        ..Default::default()
    };
    let mut first: Option<(&str, Vec<String>)> = None;
    for p in &obj.programs {
        let mut text = String::new();
        bpfsmith::text::write_listing(&mut text, p, &opts);
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

/// What one program of the scenario did (in the kernel or the VM).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProgramRun {
    /// The program.
    pub name: String,
    /// What it returned.
    pub retval: u32,
    /// What the kernel's documented semantics predict.
    pub expected: u32,
    /// The verifier's statistics lines for it (log level 4; none in the VM).
    pub verifier_stats: Vec<String>,
}

/// What the scenario did: each program's run, then each map's contents in pop order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ScenarioRun {
    /// The programs' runs, in object order.
    pub programs: Vec<ProgramRun>,
    /// Each map's contents afterwards, drained in pop order.
    pub maps: Vec<(String, Vec<u32>)>,
}

/// Why the scenario could not run in the kernel.
#[cfg(bpfsmith_kernel)]
#[derive(Debug, thiserror::Error)]
enum KernelRunError {
    /// Loading failed (privileges, the verifier ...).
    #[error(transparent)]
    Load(#[from] bpfsmith::load::LoadError),
    /// `BPF_PROG_TEST_RUN` failed.
    #[error("running `{program}`: {source}")]
    Run {
        /// The program.
        program: String,
        /// The syscall error.
        source: bpfsmith::sys::SysError,
    },
    /// Reading a map back failed.
    #[error("reading map `{map}`: {source}")]
    Map {
        /// The map.
        map: String,
        /// The error.
        source: bpfsmith::load::MapError,
    },
}

/// Load the scenario's object into the kernel (with the verifier's statistics), run each
/// program once with `BPF_PROG_TEST_RUN`, and drain the maps. Needs root or CAP_BPF.
#[cfg(bpfsmith_kernel)]
fn run_in_kernel(obj: &Object) -> Result<ScenarioRun, KernelRunError> {
    use bpfsmith::load::{log_level, LoadOptions, TestRun};
    use bpfsmith::seed::EXPECTED_RETVAL;
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
            bpfsmith::maps::MapType::Stack => loaded.stack::<u32>(&m.name).and_then(|s| s.drain()),
            _ => loaded.queue::<u32>(&m.name).and_then(|q| q.drain()),
        }
        .map_err(|source| KernelRunError::Map {
            map: m.name.clone(),
            source,
        })?;
        maps.push((m.name.clone(), values));
    }
    Ok(ScenarioRun { programs, maps })
}

/// Write the demo's object as `seed.o`: into `out` when given (created if missing), else into
/// a fresh private directory (`$TMPDIR/bpfsmith-demo-XXXXXX`, mode 0700, a new name each
/// run). The file is created exclusively (`O_EXCL`): whatever is already at that name (a file,
/// a symbolic link planted by another user) is an error and is left alone. Returns the path.
fn write_seed(obj: &Object, out: Option<&std::path::Path>) -> Result<std::path::PathBuf, String> {
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
    bpfsmith::output::create_new(&path, &bytes).map_err(|e| match e {
        bpfsmith::output::OutputError::Io { source, .. }
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
        let text = listing_report(&bpfsmith::seed::object(), false);
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
