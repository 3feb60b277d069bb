//! The ELF writer and reader against the real tools: bpftool (libbpf) loads what we write,
//! llvm-objdump and readelf read it cleanly, and we read clang-22's objects instruction for
//! instruction. Each test skips with a notice when its tool is missing (fails instead with
//! BPFSMITH_REQUIRE_INTEROP=1; the bpftool load also needs root, BPFSMITH_REQUIRE_KERNEL=1).

#[path = "common/interop.rs"]
mod interop;

use std::path::{Path, PathBuf};

use bpfsmith::insn::{encode, Callee, Insn};
use bpfsmith::maps::{flags, MapType, TypeDesc};
use bpfsmith::object::ElfObject;
use bpfsmith::prelude::*;
use interop::{
    have_kernel, have_tool, mount_bpffs, objdump_functions, run, run_ok, seed_object, unique,
};

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(stem: &str) -> TempDir {
        let d = unique(None, stem);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A bpffs directory for `bpftool prog loadall`, removed (pins and all) when dropped.
struct Pins(PathBuf);

impl Drop for Pins {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Load every program of `obj` with `bpftool prog loadall`; the pins live as long as the
/// returned guard.
fn bpftool_loadall(obj: &Path) -> Pins {
    mount_bpffs();
    let pins = Pins(unique(Some("/sys/fs/bpf"), "elf"));
    run_ok("bpftool", &["prog", "loadall", s(obj), s(&pins.0)]);
    pins
}

/// Parse bpftool's JSON output as a list of objects of `"key": value` pairs (flat values only).
fn json_objects(json: &str) -> Vec<Vec<(String, String)>> {
    // bpftool -j prints one array of flat-ish objects; nested arrays (map_ids) are kept raw.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in json.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    cur.clear();
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    out.push(fields(&cur));
                    continue;
                }
            }
            _ => {}
        }
        if depth >= 1 {
            cur.push(c);
        }
    }
    out
}

fn fields(body: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut rest = body;
    while let Some(k0) = rest.find('"') {
        let after = &rest[k0 + 1..];
        let Some(k1) = after.find('"') else { break };
        let key = after[..k1].to_owned();
        let after = after[k1 + 1..].trim_start();
        let Some(after) = after.strip_prefix(':') else {
            rest = after;
            continue;
        };
        let after = after.trim_start();
        let (val, next) = if let Some(a) = after.strip_prefix('"') {
            let e = a.find('"').unwrap_or(a.len());
            (a[..e].to_owned(), &a[(e + 1).min(a.len())..])
        } else if after.starts_with('[') {
            let e = after.find(']').map_or(after.len(), |e| e + 1);
            (after[..e].to_owned(), &after[e..])
        } else {
            let e = after.find([',', '}']).unwrap_or(after.len());
            (after[..e].trim().to_owned(), &after[e..])
        };
        v.push((key, val));
        rest = next;
    }
    v
}

fn get<'a>(o: &'a [(String, String)], k: &str) -> &'a str {
    o.iter().find(|(key, _)| key == k).map_or("", |(_, v)| v)
}

#[test]
fn bpftool_loads_the_seed_object_and_shows_its_maps() {
    if !have_tool("bpftool") || !have_kernel() {
        return;
    }
    let dir = TempDir::new("seed");
    let out = dir.path("seed.o");
    seed_object().write_elf(&out).unwrap();
    let pins = bpftool_loadall(&out);
    let mut names: Vec<String> = std::fs::read_dir(&pins.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["drain", "push_exist_peek", "push_pop"]);

    // The maps the pinned programs use, as bpftool shows them.
    let mut map_ids = Vec::new();
    for n in &names {
        let j = run_ok(
            "bpftool",
            &["-j", "prog", "show", "pinned", s(&pins.0.join(n))],
        );
        let p = &json_objects(&j)[0];
        let want = if n == "drain" { "xdp" } else { "socket_filter" };
        assert_eq!(get(p, "type"), want);
        let ids = get(p, "map_ids").trim_matches(['[', ']']).to_owned();
        map_ids.extend(ids.split(',').map(|x| x.trim().to_owned()));
    }
    map_ids.sort();
    map_ids.dedup();
    assert_eq!(map_ids.len(), 2, "{map_ids:?}");
    let mut seen = Vec::new();
    for id in &map_ids {
        let j = run_ok("bpftool", &["-j", "map", "show", "id", id]);
        let m = &json_objects(&j)[0];
        seen.push((
            get(m, "name").to_owned(),
            get(m, "type").to_owned(),
            get(m, "bytes_key").to_owned(),
            get(m, "bytes_value").to_owned(),
            get(m, "max_entries").to_owned(),
            get(m, "flags").to_owned(),
        ));
        // The plain listing too, for the record.
        let text = run_ok("bpftool", &["map", "show", "id", id]);
        eprintln!("{}", text.trim_end());
    }
    seen.sort();
    let row = |n: &str, t: &str, k: &str, v: &str, m: &str, f: u32| {
        (
            n.into(),
            t.into(),
            k.into(),
            v.into(),
            m.into(),
            f.to_string(),
        )
    };
    assert_eq!(
        seen,
        vec![
            row("queue", "queue", "0", "4", "10", 0),
            row("stack", "stack", "0", "8", "8", flags::NUMA_NODE),
        ]
    );
}

#[test]
fn bpftool_dumps_the_map_btf() {
    if !have_tool("bpftool") {
        return;
    }
    let dir = TempDir::new("btf");
    let out = dir.path("seed.o");
    seed_object().write_elf(&out).unwrap();
    let dump = run_ok("bpftool", &["btf", "dump", "file", s(&out)]);
    for want in [
        "INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED",
        "INT '__ARRAY_SIZE_TYPE__' size=4 bits_offset=0 nr_bits=32 encoding=(none)",
        "STRUCT '(anon)' size=24 vlen=3",
        "STRUCT '(anon)' size=32 vlen=4",
        "'map_flags' type_id=",
        "VAR 'queue' type_id=",
        "VAR 'stack' type_id=",
        "DATASEC '.maps' size=56 vlen=2",
        "offset=0 size=24 (VAR 'queue')",
        "offset=24 size=32 (VAR 'stack')",
        "FUNC 'push_pop' type_id=",
        "FUNC 'pop_one' type_id=",
        "linkage=static",
    ] {
        assert!(dump.contains(want), "missing {want:?} in:\n{dump}");
    }
}

#[test]
fn objdump_shows_the_relocations_and_our_bytes() {
    if !have_tool("llvm-objdump-22") {
        return;
    }
    let dir = TempDir::new("objdump");
    let out = dir.path("seed.o");
    let obj = seed_object();
    // Label symbols (opt-in) so that objdump names the label `empty`.
    let opts = bpfsmith::object::ElfOptions::default().label_symbols(true);
    obj.write_elf_with(&out, &opts).unwrap();
    let dump = run_ok("llvm-objdump-22", &["-dr", s(&out)]);
    for want in [
        "R_BPF_64_64\tqueue",
        "R_BPF_64_64\tstack",
        // A call into `.text` is relocated as clang writes it: against the section symbol.
        "R_BPF_64_32\t.text",
        "<push_pop>:",
        "<empty>:",
        "<pop_one>:",
    ] {
        assert!(dump.contains(want), "missing {want:?} in:\n{dump}");
    }
    // Instruction bytes as objdump reads them, against the programs' own encoding; the
    // only difference is the call to the subprogram, whose immediate in the file is its slot
    // in `.text` minus one: -1 for the first function there.
    let funcs = objdump_functions(&dump);
    let bytes = |sec: &str, name: &str| {
        funcs
            .iter()
            .filter(|(s, n, _)| s == sec && (n == name || n == "empty"))
            .skip_while(|(_, n, _)| n != name)
            .take_while(|(_, n, _)| n == name || n == "empty")
            .flat_map(|(_, _, b)| b.clone())
            .collect::<Vec<u8>>()
    };
    assert_eq!(bytes("socket", "push_pop"), obj.programs[0].bytes());
    assert_eq!(bytes("socket", "push_exist_peek"), obj.programs[1].bytes());
    let drain = &obj.programs[2];
    let split = drain.functions[1].insn;
    let mut entry = drain.insns[..split].to_vec();
    entry[0] = Insn::Call(Callee::Local(-1));
    assert_eq!(bytes("xdp", "drain"), encode(&entry));
    assert_eq!(bytes(".text", "pop_one"), encode(&drain.insns[split..]));
}

#[test]
fn readelf_prints_no_warning() {
    let dir = TempDir::new("readelf");
    let out = dir.path("seed.o");
    seed_object().write_elf(&out).unwrap();
    for tool in ["readelf", "llvm-readelf-22"] {
        if !have_tool(tool) {
            continue;
        }
        let o = run(tool, &["-a", "-W", s(&out)]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{tool}: {all}");
        assert!(
            !all.to_lowercase().contains("warning"),
            "{tool} warns:\n{all}"
        );
        // binutils calls R_BPF_64_64 R_BPF_INSN_64.
        assert!(
            all.contains("R_BPF_64_64") || all.contains("R_BPF_INSN_64"),
            "{all}"
        );
    }
}

const HEADER: &str = r#"
typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef long long __s64;
enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_QUEUE = 22, BPF_MAP_TYPE_STACK = 23 };
enum { BPF_ANY = 0, BPF_EXIST = 2, BPF_F_NUMA_NODE = 4 };
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __noinline __attribute__((noinline))
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
static long (*bpf_map_push_elem)(void *map, const void *value, __u64 flags) = (void *) 87;
static long (*bpf_map_pop_elem)(void *map, void *value) = (void *) 88;
static long (*bpf_map_peek_elem)(void *map, void *value) = (void *) 89;
static long (*bpf_loop)(__u32 nr, void *fn, void *ctx, __u64 flags) = (void *) 181;
char _license[] SEC("license") = "GPL";
"#;

/// The seed's queue example.
const QUEUE_C: &str = r#"
struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __type(value, __u32);
    __uint(max_entries, 10);
} queue SEC(".maps");

SEC("socket")
int push(void *ctx)
{
    __u32 v = 42;
    return bpf_map_push_elem(&queue, &v, BPF_ANY);
}
"#;

/// A static __noinline subprogram called from two programs, and a callback by address.
const SUBPROG_C: &str = r#"
struct {
    __uint(type, BPF_MAP_TYPE_STACK);
    __type(value, __u64);
    __uint(max_entries, 16);
} stk SEC(".maps");

static __noinline int scale(__u64 x)
{
    __u64 v = x * 3;
    bpf_map_push_elem(&stk, &v, BPF_EXIST);
    return (int)v & 1;
}

static int step(__u32 i, void *ctx)
{
    return scale(i);
}

SEC("socket")
int one(void *ctx)
{
    __u64 v = 0;
    if (bpf_map_pop_elem(&stk, &v))
        return 0;
    return scale(v) + 1;
}

SEC("socket")
int looped(void *ctx)
{
    bpf_loop(4, step, 0, 0);
    return scale(5);
}
"#;

/// Several maps of different shapes, and arithmetic that cpu v4 encodes with movsx/sdiv.
const MAPS_C: &str = r#"
struct { __uint(type, BPF_MAP_TYPE_QUEUE); __type(value, __u32); __uint(max_entries, 10); } q SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK); __type(value, __u64); __uint(max_entries, 8);
         __uint(map_flags, BPF_F_NUMA_NODE); } st SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, __u32); __type(value, __s64);
         __uint(max_entries, 64); } h SEC(".maps");
struct big { __u8 bytes[12]; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); __type(value, struct big);
         __uint(max_entries, 2); } arr SEC(".maps");

SEC("xdp")
int several(void *ctx)
{
    __u32 v = 0, k = 1;
    __u64 w = 0;
    if (bpf_map_peek_elem(&q, &v))
        return 1;
    bpf_map_push_elem(&st, &w, BPF_ANY);
    __s64 *x = bpf_map_lookup_elem(&h, &k);
    struct big *b = bpf_map_lookup_elem(&arr, &k);
    if (!x || !b)
        return 2;
    long y = (long)(signed char)b->bytes[3];
#if __BPF_CPU_VERSION__ >= 4
    return (int)((y + *x) / -3) & 2;
#else
    return (int)(y + *x) & 2;
#endif
}
"#;

/// Compile `src` with clang-22 (extra flags `cpu`), read it, and check every function's bytes
/// against llvm-objdump's. Returns the object read.
fn clang_roundtrip(dir: &TempDir, name: &str, src: &str, cpu: &[&str]) -> ElfObject {
    let c = dir.path(&format!("{name}.c"));
    let o = dir.path(&format!("{name}{}.o", cpu.join("")));
    std::fs::write(&c, format!("{HEADER}{src}")).unwrap();
    let mut args = vec!["-O2", "-g", "-target", "bpf"];
    args.extend_from_slice(cpu);
    args.extend_from_slice(&["-c", s(&c), "-o", s(&o)]);
    run_ok("clang-22", &args);
    let e = ElfObject::read(&o).unwrap_or_else(|e| panic!("{name}: {e}"));
    let dump = run_ok("llvm-objdump-22", &["-d", s(&o)]);
    let funcs = objdump_functions(&dump);
    for p in &e.object.programs {
        for (k, f) in p.functions.iter().enumerate() {
            let end = p.functions.get(k + 1).map_or(p.insns.len(), |n| n.insn);
            let ours = encode(&p.insns[f.insn..end]);
            let theirs = &funcs
                .iter()
                .find(|(_, n, _)| *n == f.name)
                .unwrap_or_else(|| panic!("{} not in objdump:\n{dump}", f.name))
                .2;
            assert_eq!(ours.len(), theirs.len(), "{}/{}", p.name, f.name);
            // Same bytes, except the immediates of bpf-to-bpf calls and function addresses,
            // which the reader links: pc-relative inside the program.
            let slots: Vec<usize> = p.slot_offsets();
            for (i, insn) in p.insns[f.insn..end].iter().enumerate() {
                let at = (slots[f.insn + i] - slots[f.insn]) * 8;
                let n = insn.slots() * 8;
                let linked = matches!(insn, Insn::Call(Callee::Local(_)))
                    || matches!(
                        insn,
                        Insn::LdImm64 {
                            pseudo: bpfsmith::insn::Pseudo::Func,
                            ..
                        }
                    );
                if linked {
                    assert_eq!(
                        ours[at..at + 1],
                        theirs[at..at + 1],
                        "{}: opcode at {at}",
                        f.name
                    );
                    let target = slots[f.insn + i] as i64
                        + 1
                        + insn.branch_offset().map_or_else(
                            || match insn {
                                Insn::LdImm64 { imm, .. } => *imm,
                                _ => 0,
                            },
                            |o| o as i64,
                        );
                    assert!(
                        p.functions.iter().any(|g| slots[g.insn] as i64 == target),
                        "{}: linked call at {at} targets slot {target}, not a function",
                        f.name
                    );
                } else {
                    assert_eq!(
                        ours[at..at + n],
                        theirs[at..at + n],
                        "{}/{}: bytes at {at}",
                        p.name,
                        f.name
                    );
                }
            }
        }
    }
    e
}

#[test]
fn clang_queue_example_reads_back() {
    if !have_tool("clang-22") || !have_tool("llvm-objdump-22") {
        return;
    }
    let dir = TempDir::new("clang-queue");
    for cpu in [&[][..], &["-mcpu=v4"][..]] {
        let e = clang_roundtrip(&dir, "queue", QUEUE_C, cpu);
        let o = &e.object;
        assert_eq!(o.license, "GPL");
        assert_eq!(o.maps.len(), 1);
        let q = &o.maps[0];
        assert_eq!(q.name, "queue");
        assert_eq!(
            (
                q.def.map_type,
                q.def.key_size,
                q.def.value_size,
                q.def.max_entries,
                q.def.map_flags
            ),
            (MapType::Queue, 0, 4, 10, 0)
        );
        assert_eq!(
            q.def.value_type,
            Some(TypeDesc::Int {
                name: "unsigned int",
                size: 4,
                signed: false
            })
        );
        assert_eq!(o.programs.len(), 1);
        let p = &o.programs[0];
        assert_eq!((p.name.as_str(), p.section.name()), ("push", "socket"));
        assert_eq!(p.relocs.len(), 1);
        assert_eq!(p.relocs[0].symbol, "queue");
        assert!(matches!(p.insns[p.relocs[0].insn], Insn::LdImm64 { .. }));
        // Line info: the file and the text of the line that called the helper.
        let push = p.relocs[0].insn;
        let src = p.source(push).unwrap();
        assert!(src.file.ends_with("queue.c"), "{src}");
        let text = p.line_text(p.locs[push].unwrap().file, src.line).unwrap();
        assert!(
            text.contains("bpf_map_push_elem(&queue, &v, BPF_ANY)"),
            "{text}"
        );
    }
}

#[test]
fn clang_subprograms_are_linked_into_each_caller() {
    if !have_tool("clang-22") || !have_tool("llvm-objdump-22") {
        return;
    }
    let dir = TempDir::new("clang-sub");
    for cpu in [&[][..], &["-mcpu=v4"][..]] {
        let e = clang_roundtrip(&dir, "sub", SUBPROG_C, cpu);
        let o = &e.object;
        let names: Vec<&str> = o.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["one", "looped"]);
        let funcs = |p: &Program| {
            p.functions
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(funcs(&o.programs[0]), ["one", "scale"]);
        assert_eq!(funcs(&o.programs[1]), ["looped", "scale", "step"]);
        // The BTF records follow the linking: one func_info per function, in slots.
        let btf = e.btf.as_ref().unwrap();
        for (p, info) in o.programs.iter().zip(&btf.programs) {
            let slots = p.slot_offsets();
            let starts: Vec<u32> = p.functions.iter().map(|f| slots[f.insn] as u32).collect();
            assert_eq!(
                info.func_info
                    .iter()
                    .map(|f| f.insn_off)
                    .collect::<Vec<_>>(),
                starts
            );
            for &s in &starts {
                assert!(
                    info.line_info.iter().any(|l| l.insn_off == s),
                    "no line_info at {s}"
                );
            }
        }
        // Written back by us, the object loads with libbpf.
        if cpu.is_empty() && have_tool("bpftool") && have_kernel() {
            let again = dir.path("sub-again.o");
            o.write_elf(&again).unwrap();
            let pins = bpftool_loadall(&again);
            assert!(pins.0.join("looped").exists());
        }
    }
}

#[test]
fn clang_several_maps_read_back() {
    if !have_tool("clang-22") || !have_tool("llvm-objdump-22") {
        return;
    }
    let dir = TempDir::new("clang-maps");
    for cpu in [&[][..], &["-mcpu=v4"][..]] {
        let e = clang_roundtrip(&dir, "maps", MAPS_C, cpu);
        let o = &e.object;
        let got: Vec<_> = o
            .maps
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.def.map_type,
                    m.def.key_size,
                    m.def.value_size,
                    m.def.max_entries,
                    m.def.map_flags,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("q", MapType::Queue, 0, 4, 10, 0),
                ("st", MapType::Stack, 0, 8, 8, flags::NUMA_NODE),
                ("h", MapType::Hash, 4, 8, 64, 0),
                ("arr", MapType::Array, 4, 12, 2, 0),
            ]
        );
        assert_eq!(
            o.maps[2].def.value_type,
            Some(TypeDesc::Int {
                name: "long long",
                size: 8,
                signed: true
            })
        );
        assert_eq!(o.maps[3].def.value_type, Some(TypeDesc::Bytes(12)));
        let p = &o.programs[0];
        assert_eq!(p.section.name(), "xdp");
        let mut syms: Vec<&str> = p.relocs.iter().map(|r| r.symbol.as_str()).collect();
        syms.sort();
        syms.dedup();
        assert_eq!(syms, ["arr", "h", "q", "st"]);
        if cpu == ["-mcpu=v4"] {
            // The v4 encodings came through: a sign-extending move or load, a signed division.
            assert!(
                p.insns
                    .iter()
                    .any(|i| matches!(i, Insn::MovSx { .. } | Insn::Load { sign: true, .. })),
                "{:?}",
                p.insns
            );
            assert!(p.insns.iter().any(|i| matches!(
                i,
                Insn::Alu {
                    op: AluOp::SDiv,
                    ..
                }
            )));
        }
        // The BTF, fixed up, loads with the maps' ids.
        let btf = e.btf.as_ref().unwrap();
        assert_eq!(btf.maps.len(), 4);
        assert!(btf
            .maps
            .iter()
            .all(|m| m.var_type_id != 0 && m.value_type_id != 0));
    }
}

#[test]
fn clang_global_data_is_reported_as_not_supported_yet() {
    if !have_tool("clang-22") {
        return;
    }
    let dir = TempDir::new("clang-data");
    let c = dir.path("data.c");
    std::fs::write(
        &c,
        format!("{HEADER}\nint counter;\nSEC(\"socket\") int count(void *ctx) {{ return ++counter; }}\n"),
    )
    .unwrap();
    let o = dir.path("data.o");
    run_ok(
        "clang-22",
        &["-O2", "-g", "-target", "bpf", "-c", s(&c), "-o", s(&o)],
    );
    let err = ElfObject::read(&o).unwrap_err();
    let text = err.to_string();
    match err {
        bpfsmith::object::ElfError::At { section, kind, .. } => {
            assert_eq!(section, "socket", "{text}");
            assert!(
                matches!(&kind, bpfsmith::object::ElfErrorKind::Unsupported { symbol, section, what: "global data" }
                    if symbol == "counter" && section == ".bss"),
                "{text}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(text.contains("not supported yet"), "{text}");
}

/// Every `asm/*.s` example, as `bpfsmith asm` writes it with no option, goes through
/// `bpftool prog loadall` (libbpf's ELF reader, relocations and subprogram linking, then the
/// kernel): a loadable example loads and each of its programs is pinned by name; a `mistake_`
/// example reaches the verifier, which refuses it with the words its header expects (or, for
/// one a privileged loader may run, loads it). None is refused by libbpf itself.
#[test]
fn bpftool_loads_every_asm_example_as_bpfsmith_asm_writes_it() {
    if !have_tool("bpftool") || !have_kernel() {
        return;
    }
    mount_bpffs();
    let dir = TempDir::new("asm-examples-bpftool");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("asm");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    let (mut loaded, mut refused) = (Vec::new(), Vec::new());
    for src in &files {
        let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
        let out = dir.path(&format!("{stem}.o"));
        run_ok(
            env!("CARGO_BIN_EXE_bpfsmith"),
            &["asm", s(src), "-o", s(&out)],
        );
        let text = std::fs::read_to_string(src).unwrap();
        let exp = bpfsmith::text::asm::expect::Expectations::parse(&text).unwrap();
        let obj = Object::read_elf(&out).unwrap();
        let pins = Pins(unique(Some("/sys/fs/bpf"), "asm-example"));
        let o = run("bpftool", &["prog", "loadall", s(&out), s(&pins.0)]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        if o.status.success() {
            for p in &obj.programs {
                assert!(
                    pins.0.join(&p.name).exists(),
                    "{stem}: program {} not pinned; bpftool said:\n{err}",
                    p.name
                );
            }
            loaded.push(stem);
            continue;
        }
        assert!(!exp.load_ok, "{stem}: bpftool prog loadall failed:\n{err}");
        let want = exp.verifier_error.as_deref().unwrap_or("");
        assert!(
            err.contains("BPF program load failed") && err.contains(want),
            "{stem}: refused before the verifier or for another reason (want {want:?}):\n{err}"
        );
        refused.push(stem);
    }
    let ok = files
        .iter()
        .filter(|f| {
            let t = std::fs::read_to_string(f).unwrap();
            bpfsmith::text::asm::expect::Expectations::parse(&t)
                .unwrap()
                .load_ok
        })
        .count();
    assert!(loaded.len() >= ok && ok >= 8, "loaded only {loaded:?}");
    eprintln!(
        "bpftool prog loadall of `bpfsmith asm` objects: loaded {}; refused by the verifier \
         as expected: {}",
        loaded.join(", "),
        refused.join(", ")
    );
}
