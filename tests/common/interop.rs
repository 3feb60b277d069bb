//! Helpers for the ELF interop and kernel tests: tool and privilege checks that skip with a
//! notice (or fail when `BPFSMITH_REQUIRE_INTEROP=1` / `BPFSMITH_REQUIRE_KERNEL=1`), unique
//! temporary paths, the seed scenario object, and a minimal bpf(2) layer to load BTF and
//! programs directly (without libbpf).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use bpfsmith::maps::flags;
use bpfsmith::prelude::*;

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Whether `tool` can be run. When it cannot: a notice and `false`, or a panic when
/// `BPFSMITH_REQUIRE_INTEROP=1`.
pub fn have_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if required("BPFSMITH_REQUIRE_INTEROP") {
            panic!("{tool} is required (BPFSMITH_REQUIRE_INTEROP=1) but cannot be run");
        }
        eprintln!(
            "SKIPPED: {tool} is not installed (set BPFSMITH_REQUIRE_INTEROP=1 to fail instead)"
        );
    }
    ok
}

/// Whether the test may use bpf(2) (root) and bpffs. When it cannot: a notice and `false`, or a
/// panic when `BPFSMITH_REQUIRE_KERNEL=1`.
#[cfg(bpfsmith_kernel)]
pub fn have_kernel() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let ok = root && std::path::Path::new("/sys/fs/bpf").exists();
    if !ok {
        if required("BPFSMITH_REQUIRE_KERNEL") {
            panic!("root and /sys/fs/bpf are required (BPFSMITH_REQUIRE_KERNEL=1)");
        }
        eprintln!(
            "SKIPPED: not root or no /sys/fs/bpf (set BPFSMITH_REQUIRE_KERNEL=1 to fail instead)"
        );
    }
    ok
}

/// The portable build (no `cfg(bpfsmith_kernel)`) has no bpf(2): always `false`, with the same
/// notice, or panic, as above.
#[cfg(not(bpfsmith_kernel))]
pub fn have_kernel() -> bool {
    if required("BPFSMITH_REQUIRE_KERNEL") {
        panic!("the kernel is required (BPFSMITH_REQUIRE_KERNEL=1) but this build has none");
    }
    eprintln!("SKIPPED: this build has no kernel parts (the `kernel` feature, on Linux)");
    false
}

/// Make sure bpffs is mounted at /sys/fs/bpf.
pub fn mount_bpffs() {
    let mounted = std::fs::read_to_string("/proc/mounts").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split(' ').nth(1) == Some("/sys/fs/bpf") && l.contains(" bpf "))
    });
    if !mounted {
        let _ = Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status();
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh path in the temporary directory (or, with `dir`, under it), unique per process
/// and call.
pub fn unique(dir: Option<&str>, stem: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("bpfsmith-{stem}-{}-{n}", std::process::id());
    match dir {
        Some(d) => PathBuf::from(d).join(name),
        None => std::env::temp_dir().join(name),
    }
}

/// Run a command and return its output; panics when it cannot start.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// Run and require success; gives stdout.
pub fn run_ok(cmd: &str, args: &[&str]) -> String {
    let o = run(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The seed scenario: a queue of u32 (10 entries) and a stack of u64 (8 entries, flag
/// BPF_F_NUMA_NODE), programs that push with BPF_ANY and BPF_EXIST, pop and peek, two of them
/// in the same section, and one that calls a subprogram.
pub fn seed_object() -> Object {
    let mut obj = Object::new("GPL");
    let queue = obj.map("queue", MapDef::queue::<u32>(10)).unwrap();
    let stack = obj
        .map(
            "stack",
            MapDef::stack::<u64>(8).with_flags(flags::NUMA_NODE),
        )
        .unwrap();

    // push 1234 (BPF_ANY) then pop it back: 0 on success, 1 when empty.
    let mut p = ProgramBuilder::new("push_pop", Section::SOCKET);
    let value = p.reserve::<u32>();
    p.store(Size::U32, R10, value.off, 1234);
    p.push(&queue, value, PushFlags::ANY);
    let empty = p.label("empty");
    p.pop(&queue, value);
    p.jump_if(R0, Cond::Ne, 0, empty);
    p.load(Size::U32, R0, R10, value.off);
    p.exit();
    p.bind(empty).mov(R0, 1).exit();
    obj.add_program(p.finish().unwrap()).unwrap();

    // push with BPF_EXIST (drop the oldest when full), then peek the stack.
    let mut p = ProgramBuilder::new("push_exist_peek", Section::SOCKET);
    let v = p.reserve::<u64>();
    p.store(Size::U64, R10, v.off, 7);
    p.push(&stack, v, PushFlags::EXIST);
    p.peek(&stack, v);
    p.mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();

    // A program in another section with a bpf-to-bpf call: the callee pops the queue.
    // (libbpf 1.1 knows `socket` only as an exact name, so not `socket/...`.)
    let mut p = ProgramBuilder::new("drain", Section::XDP);
    let v = p.reserve::<u32>();
    let pop = p.function("pop_one");
    p.call_fn(pop);
    p.mov(R0, 0).exit();
    p.bind(pop);
    p.pop(&queue, v);
    p.exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    obj
}

/// Little-endian bytes of the instruction column of `llvm-objdump -d` for one section:
/// every instruction line's hex bytes, in order.
pub fn objdump_bytes(objdump_out: &str, section: &str) -> Vec<u8> {
    let mut in_section = false;
    let mut out = Vec::new();
    for line in objdump_out.lines() {
        if let Some(rest) = line.strip_prefix("Disassembly of section ") {
            in_section = rest.trim_end_matches(':') == section;
            continue;
        }
        if !in_section {
            continue;
        }
        // "      12:	55 00 02 00 00 00 00 00	if r0 != 0x0 goto +0x2 <empty>"
        let mut parts = line.split('\t');
        let (Some(addr), Some(hex)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !addr.trim_end().ends_with(':')
            || addr.trim().trim_end_matches(':').parse::<u64>().is_err()
        {
            continue;
        }
        for b in hex.split_whitespace() {
            out.push(u8::from_str_radix(b, 16).expect("hex byte"));
        }
    }
    out
}

/// A minimal bpf(2) layer for the tests.
#[cfg(bpfsmith_kernel)]
pub mod sys {
    use std::os::fd::{FromRawFd, OwnedFd};

    const BPF_MAP_CREATE: i32 = 0;
    const BPF_PROG_LOAD: i32 = 5;
    const BPF_BTF_LOAD: i32 = 18;

    fn bpf(cmd: i32, attr: &mut [u8; 160]) -> Result<OwnedFd, i32> {
        let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
        }
    }

    fn put32(a: &mut [u8; 160], at: usize, v: u32) {
        a[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn put64(a: &mut [u8; 160], at: usize, v: u64) {
        a[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }

    /// BPF_BTF_LOAD; on failure the errno and the kernel's BTF log.
    pub fn btf_load(btf: &[u8]) -> Result<OwnedFd, (i32, String)> {
        let mut log = vec![0u8; 1 << 16];
        let mut a = [0u8; 160];
        put64(&mut a, 0, btf.as_ptr() as u64);
        put64(&mut a, 8, log.as_mut_ptr() as u64);
        put32(&mut a, 16, btf.len() as u32);
        put32(&mut a, 20, log.len() as u32);
        put32(&mut a, 24, 1);
        bpf(BPF_BTF_LOAD, &mut a).map_err(|e| (e, cstring(&log)))
    }

    /// BPF_MAP_CREATE of a keyless map (queue/stack).
    pub fn map_create(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        flags: u32,
    ) -> Result<OwnedFd, i32> {
        let mut a = [0u8; 160];
        put32(&mut a, 0, map_type);
        put32(&mut a, 4, key_size);
        put32(&mut a, 8, value_size);
        put32(&mut a, 12, max_entries);
        put32(&mut a, 16, flags);
        bpf(BPF_MAP_CREATE, &mut a)
    }

    /// BPF_PROG_LOAD with BTF func_info and line_info (records as the kernel takes them:
    /// func_info 8 bytes each, line_info 16 bytes each); on failure the errno and the log.
    #[allow(clippy::too_many_arguments)]
    pub fn prog_load(
        prog_type: u32,
        insns: &[u8],
        license: &str,
        btf_fd: Option<i32>,
        func_info: &[[u32; 2]],
        line_info: &[[u32; 4]],
    ) -> Result<(OwnedFd, String), (i32, String)> {
        let lic = format!("{license}\0");
        let mut log = vec![0u8; 1 << 20];
        let fi: Vec<u8> = func_info
            .iter()
            .flatten()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let li: Vec<u8> = line_info
            .iter()
            .flatten()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let mut a = [0u8; 160];
        put32(&mut a, 0, prog_type);
        put32(&mut a, 4, (insns.len() / 8) as u32);
        put64(&mut a, 8, insns.as_ptr() as u64);
        put64(&mut a, 16, lic.as_ptr() as u64);
        put32(&mut a, 24, 2);
        put32(&mut a, 28, log.len() as u32);
        put64(&mut a, 32, log.as_mut_ptr() as u64);
        if let Some(fd) = btf_fd {
            put32(&mut a, 72, fd as u32);
            if !func_info.is_empty() {
                put32(&mut a, 76, 8);
                put64(&mut a, 80, fi.as_ptr() as u64);
                put32(&mut a, 88, func_info.len() as u32);
            }
            if !line_info.is_empty() {
                put32(&mut a, 92, 16);
                put64(&mut a, 96, li.as_ptr() as u64);
                put32(&mut a, 104, line_info.len() as u32);
            }
        }
        match bpf(BPF_PROG_LOAD, &mut a) {
            Ok(fd) => Ok((fd, cstring(&log))),
            Err(e) => Err((e, cstring(&log))),
        }
    }

    fn cstring(b: &[u8]) -> String {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    }
}

/// The functions of an `llvm-objdump -d` listing: (section, symbol, instruction bytes), in
/// listing order. A label inside a function (a NOTYPE symbol) starts a new entry.
pub fn objdump_functions(objdump_out: &str) -> Vec<(String, String, Vec<u8>)> {
    let mut section = String::new();
    let mut out: Vec<(String, String, Vec<u8>)> = Vec::new();
    for line in objdump_out.lines() {
        if let Some(rest) = line.strip_prefix("Disassembly of section ") {
            section = rest.trim_end_matches(':').to_owned();
            continue;
        }
        // "0000000000000058 <pop>:"
        if let Some((addr, rest)) = line.split_once(" <") {
            if addr.len() == 16
                && addr.chars().all(|c| c.is_ascii_hexdigit())
                && rest.ends_with(">:")
            {
                out.push((
                    section.clone(),
                    rest.trim_end_matches(">:").to_owned(),
                    Vec::new(),
                ));
                continue;
            }
        }
        let mut parts = line.split('\t');
        let (Some(addr), Some(hex)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !addr.trim_end().ends_with(':')
            || addr.trim().trim_end_matches(':').parse::<u64>().is_err()
        {
            continue;
        }
        if let Some(f) = out.last_mut() {
            for b in hex.split_whitespace() {
                f.2.push(u8::from_str_radix(b, 16).expect("hex byte"));
            }
        }
    }
    out
}
