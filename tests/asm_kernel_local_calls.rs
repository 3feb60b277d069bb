//! Local calls that stay where the file put them (functions inside a program section, as
//! llvm-mc-22 writes them: pc-relative calls in place, no relocation) load and run in the
//! kernel: the object `bpfsmith asm` writes, llvm-mc-22's object of the same file (no BTF),
//! and the file itself, through the library and through `bpfsmith run`.
//!
//! Needs root (or CAP_BPF): skips with a notice without it, unless
//! `BPFSMITH_REQUIRE_KERNEL=1`. llvm-mc-22's object is skipped with a notice when the tool is
//! missing, unless `BPFSMITH_REQUIRE_INTEROP=1`.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;
#[path = "common/tools.rs"]
mod tools;

use std::process::Command;

use bpfsmith::load::TestRun;
use bpfsmith::object::{ElfOptions, Object};

/// (file name, source, the return value the kernel's semantics give).
const FILES: &[(&str, &str, u32)] = &[
    // f(1) = 1 + 41.
    (
        "socket_call",
        "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 1\n\tcall f\n\
         \texit\nf:\n\tr0 = r1\n\tr0 += 41\n\texit\n",
        42,
    ),
    // g(2) = f() + 2 = 3, not > 3, so f() again: 1.
    (
        "xdp_nested",
        "\t.section xdp,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 2\n\tcall g\n\
         \tif r0 > 3 goto out\n\tcall f\nout:\n\texit\nf:\n\tr0 = 1\n\texit\n\
         g:\n\tr6 = r1\n\tcall f\n\tr0 += r6\n\texit\n",
        1,
    ),
    // Two programs of one section, each with its function: the first returns 7 * 2.
    (
        "two_programs",
        "\t.section socket,\"ax\",@progbits\n\t.globl a\na:\n\tr1 = 7\n\tcall fa\n\texit\n\
         fa:\n\tr0 = r1\n\tr0 *= 2\n\texit\n\t.globl b\nb:\n\tcall fb\n\texit\n\
         fb:\n\tr0 = 2\n\texit\n",
        14,
    ),
];

fn run(obj: &Object, what: &str) -> u32 {
    let loaded = obj
        .load()
        .unwrap_or_else(|e| panic!("{what}: the kernel refused it: {e}"));
    let prog = &loaded.programs()[0];
    prog.test_run(&TestRun {
        data: &[0; 64],
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{what}: {e}"))
    .retval
}

#[test]
fn local_calls_in_program_sections_load_and_run() {
    require_kernel!("local_calls_in_program_sections_load_and_run");
    let dir = tools::TempDir::new("asm-kernel-local-calls");
    let mc = tools::require_tool("llvm-mc-22");
    let in_place = ElfOptions::default().functions_in_place(true);
    for &(name, src, want) in FILES {
        // The file itself.
        let obj = bpfsmith::text::assemble(&format!("{name}.s"), src).unwrap();
        assert_eq!(run(&obj, name), want, "{name}.s");
        // The object `bpfsmith asm` writes, read back: each function a subprogram.
        let ours = Object::from_elf(&obj.to_elf_with(&in_place).unwrap()).unwrap();
        assert!(ours.programs[0].functions.len() > 1, "{name}");
        assert_eq!(run(&ours, name), want, "{name}.o (ours)");
        // llvm-mc's object of the same file: no BTF, no FUNC symbols.
        if let Some(mc) = &mc {
            let s = dir.path().join(format!("{name}.s"));
            let o = dir.path().join(format!("{name}.llvm.o"));
            std::fs::write(&s, src).unwrap();
            tools::run(
                Command::new(mc)
                    .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
                    .arg(&o)
                    .arg(&s),
            );
            let theirs = Object::read_elf(&o).unwrap();
            assert_eq!(run(&theirs, name), want, "{name}.o (llvm-mc)");
        }
        // `bpfsmith asm` then `bpfsmith run`.
        let bin = env!("CARGO_BIN_EXE_bpfsmith");
        let s = dir.path().join(format!("{name}.s"));
        let o = dir.path().join(format!("{name}.o"));
        std::fs::write(&s, src).unwrap();
        let out = Command::new(bin)
            .arg("asm")
            .arg(&s)
            .arg("-o")
            .arg(&o)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(bin).arg("run").arg(&o).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(&format!("r0 = {want} ")),
            "bpfsmith run {name}.o: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Calls from a program section into `.text` (as clang writes them: a relocation against the
/// function's symbol, or against `.text` with the callee's slot), and a function address
/// across sections (a `bpf_loop` callback): (name, source, the value the kernel's semantics
/// give, whether the program needs BTF func_info, which llvm-mc's object lacks).
const TEXT_CALLS: &[(&str, &str, u32, bool)] = &[
    // f(20) = 20 + 22.
    (
        "text_global",
        "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 20\n\tcall f\n\
         \texit\n\t.text\n\t.globl f\nf:\n\tr0 = r1\n\tr0 += 22\n\texit\n",
        42,
        false,
    ),
    // f(5) = 15, plus bpf_loop's 3 iterations of the local cb: 18.
    (
        "text_local_callback",
        "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 5\n\tcall f\n\
         \tr6 = r0\n\tr1 = 3\n\tr2 = cb ll\n\tr3 = 0\n\tr4 = 0\n\tcall bpf_loop\n\
         \tr0 += r6\n\texit\n\t.text\n\t.globl f\nf:\n\tr0 = r1\n\tr0 *= 3\n\texit\n\
         cb:\n\tr0 = 0\n\texit\n",
        18,
        true,
    ),
    // h(5) = 15 and cb, local functions after a global one nobody calls (a loader appends
    // only what the program reaches): 18.
    (
        "text_uncalled_first",
        "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tr1 = 5\n\tcall h\n\
         \tr6 = r0\n\tr1 = 3\n\tr2 = cb ll\n\tr3 = 0\n\tr4 = 0\n\tcall bpf_loop\n\
         \tr0 += r6\n\texit\n\t.text\n\t.globl f\nf:\n\tr0 = 0\n\texit\nh:\n\tr0 = r1\n\
         \tr0 *= 3\n\texit\ncb:\n\tr0 = 0\n\texit\n",
        18,
        true,
    ),
    // A local label that starts `.text`.
    (
        "text_local_first",
        "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tcall f\n\texit\n\
         \t.text\nf:\n\tr0 = 7\n\texit\n",
        7,
        false,
    ),
    // A global function of `.text` calling another: g() = f() + 1 = 5.
    (
        "text_global_chain",
        "\t.section socket,\"ax\",@progbits\n\t.globl prog\nprog:\n\tcall g\n\texit\n\
         \t.text\n\t.globl f\nf:\n\tr0 = 4\n\texit\n\t.globl g\ng:\n\tcall f\n\tr0 += 1\n\
         \texit\n",
        5,
        false,
    ),
];

/// Each of [`TEXT_CALLS`] loads and runs as the kernel's semantics say: the file through the
/// library (the assembler's object, its calls linked by the loader), the object `bpfsmith
/// asm` writes read back, llvm-mc-22's object of the same file, and `bpfsmith run` of the
/// file and of the object.
#[test]
fn calls_into_text_load_and_run() {
    require_kernel!("calls_into_text_load_and_run");
    let dir = tools::TempDir::new("asm-kernel-text-calls");
    let mc = tools::require_tool("llvm-mc-22");
    let bin = env!("CARGO_BIN_EXE_bpfsmith");
    for &(name, src, want, needs_btf) in TEXT_CALLS {
        let obj = bpfsmith::text::assemble(&format!("{name}.s"), src).unwrap();
        assert_eq!(run(&obj, name), want, "{name}.s");
        let s = dir.path().join(format!("{name}.s"));
        let o = dir.path().join(format!("{name}.o"));
        std::fs::write(&s, src).unwrap();
        tools::run(Command::new(bin).arg("asm").arg(&s).arg("-o").arg(&o));
        let ours = Object::read_elf(&o).unwrap();
        assert_eq!(run(&ours, name), want, "{name}.o (ours)");
        if let (Some(mc), false) = (&mc, needs_btf) {
            let l = dir.path().join(format!("{name}.llvm.o"));
            tools::run(
                Command::new(mc)
                    .args(["-triple", "bpfel", "-mcpu=v4", "-filetype=obj", "-o"])
                    .arg(&l)
                    .arg(&s),
            );
            let theirs = Object::read_elf(&l).unwrap();
            assert_eq!(run(&theirs, name), want, "{name}.o (llvm-mc)");
        }
        for f in [&s, &o] {
            let out = Command::new(bin).arg("run").arg(f).output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && stdout.contains(&format!("prog: r0 = {want} ")),
                "bpfsmith run {}: {stdout}{}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `bpfsmith asm` says where it wrote a program's functions and how to get libbpf's layout;
/// with `--functions-in-text` the object loads in libbpf (through bpftool), which refuses a
/// function kept in a program section ("is static and not supported"). The file is
/// `asm/bpf2bpf.s` with its function moved into the program's section; the example itself,
/// whose function is in `.text`, loads either way.
#[test]
fn functions_in_text_for_libbpf() {
    require_kernel!("functions_in_text_for_libbpf");
    let Some(bpftool) = tools::require_tool("bpftool") else {
        return;
    };
    let _ = Command::new("mount")
        .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
        .output();
    let dir = tools::TempDir::new("asm-functions-in-text");
    let bin = env!("CARGO_BIN_EXE_bpfsmith");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/asm/bpf2bpf.s");
    let text = std::fs::read_to_string(example).unwrap();
    assert!(
        text.contains("\n.text\n.globl push_u32\n"),
        "asm/bpf2bpf.s changed"
    );
    let in_section = text.replace("\n.text\n.globl push_u32\n", "\n");
    let src = dir.path().join("bpf2bpf_in_section.s");
    std::fs::write(&src, in_section).unwrap();
    for (flag, loads) in [(None, false), (Some("--functions-in-text"), true)] {
        let o = dir.path().join(format!("b{}.o", flag.is_some() as u8));
        let mut cmd = Command::new(bin);
        cmd.arg("asm").arg(&src).arg("-o").arg(&o);
        if let Some(f) = flag {
            cmd.arg(f);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains("note: `push_u32` of program `bpf2bpf` is written in section `socket`"),
            flag.is_none(),
            "{stderr}"
        );
        let (ok, said) = loadall(&bpftool, &o, &(loads as u8).to_string());
        assert_eq!(ok, loads, "{flag:?}: {said}");
        if !loads {
            assert!(said.contains("is static and not supported"), "{said}");
        }
    }
    for flag in [None, Some("--functions-in-text")] {
        let o = dir.path().join("example.o");
        let mut cmd = Command::new(bin);
        cmd.arg("asm").arg(example).arg("-o").arg(&o);
        cmd.args(flag);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("note: `push_u32`"),
            "{stderr}"
        );
        let (ok, said) = loadall(&bpftool, &o, "example");
        assert!(ok, "asm/bpf2bpf.s {flag:?}: {said}");
    }
}

/// `bpftool prog loadall OBJ` into a pin directory of this process (removed after): whether
/// it loaded, and what bpftool said.
fn loadall(bpftool: &std::path::Path, obj: &std::path::Path, tag: &str) -> (bool, String) {
    let pin = format!("/sys/fs/bpf/bpfsmith-h1-{}-{tag}", std::process::id());
    let load = Command::new(bpftool)
        .args(["prog", "loadall"])
        .arg(obj)
        .arg(&pin)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&pin);
    (
        load.status.success(),
        String::from_utf8_lossy(&load.stderr).into_owned(),
    )
}
