//! The BTF that the ELF writer and reader produce, loaded straight into the kernel with
//! BPF_BTF_LOAD and BPF_PROG_LOAD (no libbpf): the contract the loader relies on.
//! Needs root; skips with a notice otherwise (fails with BPFSMITH_REQUIRE_KERNEL=1).
#![cfg(bpfsmith_kernel)]

#[path = "common/interop.rs"]
mod interop;

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};

use bpfsmith::insn::{Insn, Pseudo};
use bpfsmith::object::btf::{ObjectBtf, ProgBtfInfo};
use bpfsmith::object::ElfObject;
use bpfsmith::prelude::*;
use bpfsmith::program::RelocKind;
use interop::{have_kernel, have_tool, run_ok, seed_object, sys, unique};

/// Create the object's maps, patch their fds into the programs and load every program that
/// has a program type, with the BTF records. Returns each program's verifier log.
fn load_all(obj: &Object, btf: &ObjectBtf) -> Vec<(String, String)> {
    let btf_fd =
        sys::btf_load(&btf.btf).unwrap_or_else(|(e, log)| panic!("BTF_LOAD: errno {e}\n{log}"));
    let mut fds: HashMap<&str, OwnedFd> = HashMap::new();
    for m in &obj.maps {
        let d = &m.def;
        let fd = sys::map_create(
            d.map_type as u32,
            d.key_size,
            d.value_size,
            d.max_entries,
            d.map_flags,
        )
        .unwrap_or_else(|e| panic!("MAP_CREATE {}: errno {e}", m.name));
        fds.insert(&m.name, fd);
    }
    let mut logs = Vec::new();
    for (p, info) in obj.programs.iter().zip(&btf.programs) {
        let Some(kind) = p.section.kind() else {
            continue;
        };
        let mut insns = p.insns.clone();
        for r in &p.relocs {
            assert_eq!(r.kind, RelocKind::Map);
            if let Insn::LdImm64 { pseudo, imm, .. } = &mut insns[r.insn] {
                *pseudo = Pseudo::MapFd;
                *imm = fds[r.symbol.as_str()].as_raw_fd() as i64;
            }
        }
        let bytes = bpfsmith::insn::encode(&insns);
        let (func, line) = records(info);
        let (_fd, log) = sys::prog_load(
            kind.prog_type as u32,
            &bytes,
            &obj.license,
            Some(btf_fd.as_raw_fd()),
            &func,
            &line,
        )
        .unwrap_or_else(|(e, log)| panic!("PROG_LOAD {}: errno {e}\n{log}", p.name));
        logs.push((p.name.clone(), log));
    }
    logs
}

fn records(info: &ProgBtfInfo) -> (Vec<[u32; 2]>, Vec<[u32; 4]>) {
    (
        info.func_info
            .iter()
            .map(|f| [f.insn_off, f.type_id])
            .collect(),
        info.line_info
            .iter()
            .map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col])
            .collect(),
    )
}

#[test]
fn our_btf_and_records_load_into_the_kernel() {
    if !have_kernel() {
        return;
    }
    let obj = seed_object();
    let btf = obj.btf().unwrap();
    let logs = load_all(&obj, &btf);
    assert_eq!(logs.len(), 3);
    // Level-2 logs print the Rust line above the instructions it emitted.
    let (_, log) = &logs[0];
    assert!(
        log.contains("; p.push(&queue, value, PushFlags::ANY); @ interop.rs:"),
        "{log}"
    );
    // The subprogram got its func_info and line_info: the kernel verified it as func#1.
    let (_, log) = &logs[2];
    assert!(log.contains("; p.pop(&queue, v); @ interop.rs:"), "{log}");
}

#[test]
fn btf_read_back_from_our_elf_loads_too() {
    if !have_kernel() {
        return;
    }
    let obj = seed_object();
    let e = ElfObject::parse(&obj.to_elf().unwrap()).unwrap();
    let btf = e.btf.clone().unwrap();
    assert_eq!(
        btf,
        obj.btf().unwrap(),
        "the records read from the ELF are the ones written"
    );
    load_all(&e.object, &btf);
}

#[test]
fn a_program_without_source_locations_loads_with_empty_line_records() {
    if !have_kernel() {
        return;
    }
    // No location at all: every function start gets a record with file "", text "" and
    // line 0, which the kernel accepts (without it: "missing bpf_line_info for func#0").
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("bare", Section::SOCKET);
    let f = p.function("sub");
    p.call_fn(f).exit();
    p.bind(f).mov(R0, 0).exit();
    let mut prog = p.finish().unwrap();
    prog.locs.iter_mut().for_each(|l| *l = None);
    obj.add_program(prog).unwrap();
    let btf = obj.btf().unwrap();
    let info = &btf.programs[0];
    assert_eq!(info.line_info.len(), 2);
    assert!(info
        .line_info
        .iter()
        .all(|l| l.file_name_off == 0 && l.line_off == 0 && l.line_col == 0));
    load_all(&obj, &btf);
}

#[test]
fn clang_objects_load_with_the_fixed_up_btf() {
    if !have_kernel() || !have_tool("clang-22") {
        return;
    }
    let dir = unique(None, "clang-kernel");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("q.c");
    std::fs::write(
        &c,
        r#"
typedef unsigned int __u32;
typedef unsigned long long __u64;
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
static long (*bpf_map_push_elem)(void *map, const void *value, __u64 flags) = (void *) 87;
static long (*bpf_map_pop_elem)(void *map, void *value) = (void *) 88;
struct { __uint(type, 22); __type(value, __u32); __uint(max_entries, 10); } queue SEC(".maps");
static __attribute__((noinline)) int twice(int x) { return x * 2; }
SEC("socket") int push(void *ctx) { __u32 v = 1234; bpf_map_push_elem(&queue, &v, 0); return twice(v); }
SEC("socket") int pop(void *ctx) { __u32 v = 0; if (bpf_map_pop_elem(&queue, &v)) return 1; return twice(v); }
char _license[] SEC("license") = "GPL";
"#,
    )
    .unwrap();
    let o = dir.join("q.o");
    run_ok(
        "clang-22",
        &[
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-c",
            c.to_str().unwrap(),
            "-o",
            o.to_str().unwrap(),
        ],
    );
    let e = ElfObject::read(&o).unwrap();
    // clang leaves DATASEC sizes at 0, which the kernel refuses; the reader fills them in.
    let bytes = std::fs::read(&o).unwrap();
    let elf = goblin::elf::Elf::parse(&bytes).unwrap();
    let sh = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(".BTF"))
        .expect("clang writes .BTF");
    let raw = &bytes[sh.sh_offset as usize..(sh.sh_offset + sh.sh_size) as usize];
    let (_, log) = sys::btf_load(raw).expect_err("clang's raw .BTF has DATASEC size 0");
    assert!(log.contains("size"), "{log}");
    let logs = load_all(&e.object, e.btf.as_ref().unwrap());
    assert_eq!(logs.len(), 2);
    assert!(
        logs[1].1.contains("bpf_map_pop_elem(&queue, &v)"),
        "{}",
        logs[1].1
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Code only in `.text`: llvm-mc's object of such a file, and ours, which keeps `.text` as
/// llvm-mc does (same bytes), are loaded and run as socket filters, with a one-line notice.
#[test]
fn text_only_objects_run_as_socket_filters() {
    if !have_kernel() || !have_tool("llvm-mc-22") {
        return;
    }
    let dir = unique(None, "text-only");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("t.s");
    std::fs::write(&src, "\t.text\n\tr0 = 7\n\tr0 += 35\n\texit\n").unwrap();
    let theirs = dir.join("llvm.o");
    let ours = dir.join("ours.o");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    run_ok(
        "llvm-mc-22",
        &[
            "-triple",
            "bpfel",
            "-mcpu=v4",
            "-filetype=obj",
            &s(&src),
            "-o",
            &s(&theirs),
        ],
    );
    let bin = env!("CARGO_BIN_EXE_bpfsmith");
    let out = std::process::Command::new(bin)
        .args(["asm", &s(&src), "-o", &s(&ours)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let read = |p: &std::path::Path| ElfObject::read(p).unwrap().object;
    let (a, b) = (read(&theirs), read(&ours));
    assert_eq!(a.programs[0].section.name(), ".text");
    assert_eq!(b.programs[0].section.name(), ".text");
    assert_eq!(a.programs[0].bytes(), b.programs[0].bytes());
    for obj in [&theirs, &ours, &src] {
        let out = std::process::Command::new(bin)
            .args(["run", &s(obj), "--json"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: {stdout}\n{stderr}",
            obj.display()
        );
        assert!(stdout.contains("\"retval\":42"), "{stdout}");
        assert!(
            stderr.contains("code only in `.text`: loading")
                && stderr.contains("as a socket filter"),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
