//! Objects written to ELF read back as they were: programs (instructions, functions, labels,
//! map relocations), maps, license, and the source lines of the line info; and the BTF the
//! reader hands to a loader is the one the writer encoded.

#[path = "common/interop.rs"]
mod interop;

use std::sync::Arc;

use bpfsmith::insn::{AluOp, Callee, Cond, Insn, Operand, Pseudo, Reg, Size, Width};
use bpfsmith::maps::{flags, MapDef, MapType, TypeDesc};
use bpfsmith::object::{ElfObject, Map, Object};
use bpfsmith::program::{
    FileId, Function, Program, Reloc, RelocKind, Section, SourceFile, SourceLoc,
};
use proptest::prelude::*;

/// The location each instruction should have after a round trip: line info is written when
/// the (file, line) changes and at each function start, and read back as applying until the
/// next record. So an instruction keeps its file and line; one without a location, or one on
/// the same line as the record before it, takes that record's location (and its column).
fn expected_locs(p: &Program) -> Vec<Option<(String, u32, u32)>> {
    let path = |l: &SourceLoc| p.files[l.file.0 as usize].path.clone();
    let starts: Vec<usize> = p.functions.iter().map(|f| f.insn).collect();
    let mut out: Vec<Option<(String, u32, u32)>> = Vec::with_capacity(p.insns.len());
    let mut prev_key: Option<(String, u32)> = None;
    for (i, loc) in p.locs.iter().enumerate() {
        let key = loc.as_ref().map(|l| (path(l), l.line));
        let record = starts.contains(&i) || (key.is_some() && key != prev_key);
        if starts.contains(&i) {
            prev_key = None;
        }
        let e = if record {
            if key.is_some() {
                prev_key = key.clone();
            }
            loc.as_ref().map(|l| (path(l), l.line, l.column.min(0x3ff)))
        } else {
            out.last().cloned().flatten()
        };
        out.push(e);
    }
    out
}

fn assert_same(orig: &Object, back: &Object) {
    assert_eq!(back.license, orig.license);
    assert_eq!(back.maps, orig.maps);
    assert_eq!(back.programs.len(), orig.programs.len());
    for (o, b) in orig.programs.iter().zip(&back.programs) {
        assert_eq!(b.name, o.name);
        assert_eq!(b.section, o.section);
        assert_eq!(b.insns, o.insns, "{}", o.name);
        assert_eq!(b.functions, o.functions, "{}", o.name);
        assert_eq!(b.relocs, o.relocs, "{}", o.name);
        assert_eq!(b.labels, o.labels, "{}", o.name);
        let want = expected_locs(o);
        for (i, w) in want.iter().enumerate() {
            let got = b.source(i).map(|s| (s.file.to_owned(), s.line, s.column));
            assert_eq!(&got, w, "{}: location of instruction {i}", o.name);
            // The line text the kernel prints is the line of the source.
            if let (Some(ol), Some(bl)) = (o.locs[i], b.locs[i]) {
                if o.source(i).map(|s| (s.file, s.line)) == b.source(i).map(|s| (s.file, s.line)) {
                    assert_eq!(
                        b.line_text(bl.file, bl.line).unwrap_or_default(),
                        o.line_text(ol.file, ol.line).unwrap_or_default(),
                        "{}: text of line {}",
                        o.name,
                        ol.line
                    );
                }
            }
        }
    }
}

fn roundtrip(obj: &Object) -> ElfObject {
    let elf = obj.to_elf().unwrap();
    let back = ElfObject::parse(&elf).unwrap();
    assert_same(obj, &back.object);
    assert_eq!(
        back.btf.as_ref(),
        Some(&obj.btf().unwrap()),
        "BTF and records"
    );
    // Writing what was read gives the same file.
    assert_eq!(
        back.object.to_elf().unwrap(),
        elf,
        "write(read(write(x))) == write(x)"
    );
    back
}

#[test]
fn the_seed_object_reads_back() {
    let obj = interop::seed_object();
    let back = roundtrip(&obj);
    // The DSL recorded Rust locations; the text of each line came through .BTF.
    let p = &back.object.programs[0];
    let i = p.relocs[0].insn;
    let loc = p.locs[i].unwrap();
    assert!(p.files[loc.file.0 as usize]
        .path
        .ends_with("tests/common/interop.rs"));
    assert_eq!(
        p.line_text(loc.file, loc.line).unwrap().trim(),
        "p.push(&queue, value, PushFlags::ANY);"
    );
    assert_eq!(p.labels, [(13, "empty".to_owned())]);
    assert_eq!(back.object.programs[2].functions[1].name, "pop_one");
}

#[test]
fn the_doc_example_of_the_program_module_reads_back() {
    use bpfsmith::prelude::*;
    let mut obj = Object::new("Dual MIT/GPL");
    let queue = obj.map("queue", MapDef::queue::<u32>(10)).unwrap();
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
    roundtrip(&obj);
}

// ---- generated objects ----

const LINES: u32 = 40;

fn gen_file(name: &str) -> SourceFile {
    let text: String = (1..=LINES)
        .map(|n| format!("  {name} line {n};\n"))
        .collect();
    SourceFile {
        path: format!("gen/{name}.s"),
        text: Some(Arc::from(text.trim_end_matches('\n'))),
    }
}

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..10).prop_map(|n| Reg::from_num(n).unwrap())
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg().prop_map(Operand::Reg),
        any::<i32>().prop_map(Operand::Imm)
    ]
}

fn size() -> impl Strategy<Value = Size> {
    prop::sample::select(Size::ALL.to_vec())
}

/// A straight-line instruction (no control flow).
fn plain() -> impl Strategy<Value = Insn> {
    let width = prop_oneof![Just(Width::W32), Just(Width::W64)];
    prop_oneof![
        4 => (width.clone(), prop::sample::select(AluOp::ALL.to_vec()), reg(), operand())
            .prop_map(|(width, op, dst, src)| Insn::Alu { width, op, dst, src }),
        1 => (width, reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        2 => (size(), reg(), reg(), any::<i16>())
            .prop_map(|(size, dst, src, off)| Insn::Load { size, sign: false, dst, src, off }),
        2 => (size(), reg(), any::<i16>(), reg())
            .prop_map(|(size, dst, off, src)| Insn::Store { size, dst, off, src }),
        1 => (size(), reg(), any::<i16>(), any::<i32>())
            .prop_map(|(size, dst, off, imm)| Insn::StoreImm { size, dst, off, imm }),
        1 => (reg(), any::<i64>())
            .prop_map(|(dst, imm)| Insn::LdImm64 { dst, pseudo: Pseudo::Imm, imm }),
        1 => (1i32..200).prop_map(|h| Insn::Call(Callee::Helper(h))),
    ]
}

/// One instruction of a generated function, before offsets are known.
#[derive(Clone, Debug)]
enum Op {
    Plain(Insn),
    /// `if dst cond 0 goto` the op at this index (modulo the function length).
    Jump(Cond, Reg, usize),
    /// Load map number (modulo the map count) into a register.
    LdMap(usize, Reg),
    /// Call function number (modulo the function count, never the entry).
    Call(usize),
    Exit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => plain().prop_map(Op::Plain),
        2 => (prop::sample::select(Cond::ALL.to_vec()), reg(), any::<usize>())
            .prop_map(|(c, r, t)| Op::Jump(c, r, t)),
        1 => (any::<usize>(), reg()).prop_map(|(m, r)| Op::LdMap(m, r)),
        1 => any::<usize>().prop_map(Op::Call),
        1 => Just(Op::Exit),
    ]
}

/// A location: file 0 or 1, a line, a column; or none.
fn loc() -> impl Strategy<Value = Option<(u32, u32, u32)>> {
    prop_oneof![
        1 => Just(None),
        8 => (0u32..2, 1..=LINES, 1u32..1500).prop_map(Some),
    ]
}

/// A generated instruction and its location (file, line, column).
type Located = (Op, Option<(u32, u32, u32)>);

#[derive(Clone, Debug)]
struct ProgSpec {
    section: &'static str,
    /// Functions: ops with a location each (the last op of each function is forced to exit).
    funcs: Vec<Vec<Located>>,
    labels: Vec<usize>,
}

fn prog_spec() -> impl Strategy<Value = ProgSpec> {
    (
        prop::sample::select(vec![
            "socket",
            "xdp",
            "tc",
            "kprobe/do_sys_open",
            "socket",
            ".text",
        ]),
        prop::collection::vec(prop::collection::vec((op(), loc()), 1..12), 1..4),
        prop::collection::vec(any::<usize>(), 0..3),
    )
        .prop_map(|(section, funcs, labels)| ProgSpec {
            section,
            funcs,
            labels,
        })
}

fn map_spec() -> impl Strategy<Value = MapDef> {
    let value = prop_oneof![
        Just(TypeDesc::Int {
            name: "unsigned int",
            size: 4,
            signed: false
        }),
        Just(TypeDesc::Int {
            name: "long long",
            size: 8,
            signed: true
        }),
        Just(TypeDesc::Int {
            name: "unsigned char",
            size: 1,
            signed: false
        }),
        (1u32..64).prop_map(TypeDesc::Bytes),
    ];
    (0..4u8, value, 1u32..5000, any::<bool>()).prop_map(|(kind, value, max, flag)| {
        let size = value.size();
        let (map_type, key, map_flags) = match kind {
            0 => (
                MapType::Queue,
                None,
                if flag { flags::NUMA_NODE } else { 0 },
            ),
            1 => (
                MapType::Stack,
                None,
                if flag { flags::RDONLY_PROG } else { 0 },
            ),
            2 => (
                MapType::Hash,
                Some(TypeDesc::Bytes(6)),
                if flag { flags::NO_PREALLOC } else { 0 },
            ),
            _ => (
                MapType::Array,
                Some(TypeDesc::Int {
                    name: "unsigned int",
                    size: 4,
                    signed: false,
                }),
                0,
            ),
        };
        MapDef {
            map_type,
            key_size: key.as_ref().map_or(0, TypeDesc::size),
            value_size: size,
            max_entries: max,
            map_flags,
            key_type: key,
            value_type: Some(value),
        }
    })
}

/// Build the object: programs from specs, jumps resolved inside their function, calls to
/// function starts, map loads with their relocations.
///
/// Programs of `.text` (functions of their own, with no GLOBAL symbol) read back after the
/// programs of other sections, so they are generated last.
fn build(license: String, maps: Vec<MapDef>, mut progs: Vec<ProgSpec>) -> Object {
    progs.sort_by_key(|p| p.section == ".text");
    let maps: Vec<Map> = maps
        .into_iter()
        .enumerate()
        .map(|(i, def)| Map {
            name: format!("map_{i}"),
            def,
            pinning: Default::default(),
        })
        .collect();
    let mut programs = Vec::new();
    for (pi, spec) in progs.into_iter().enumerate() {
        let mut ops: Vec<Located> = Vec::new();
        let mut functions = Vec::new();
        let mut ranges = Vec::new();
        let n_funcs = spec.funcs.len();
        for (k, mut f) in spec.funcs.into_iter().enumerate() {
            if let Some(last) = f.last_mut() {
                last.0 = Op::Exit;
            }
            if k == 0 {
                // The entry calls every subprogram: an uncalled one would read back as a
                // program of its own (and the kernel would refuse it as unreachable).
                let calls = (1..n_funcs).map(|j| (Op::Call(j - 1), Some((0, 1, 1))));
                f.splice(0..0, calls);
            }
            functions.push(Function {
                name: if k == 0 {
                    format!("prog_{pi}")
                } else {
                    format!("prog_{pi}_f{k}")
                },
                insn: ops.len(),
            });
            ranges.push(ops.len()..ops.len() + f.len());
            ops.extend(f);
        }
        // Map loads without maps become plain moves.
        let mut insns: Vec<Insn> = ops
            .iter()
            .map(|(op, _)| match op {
                Op::Plain(i) => *i,
                Op::Jump(c, r, _) => Insn::Jump {
                    width: Width::W64,
                    cond: *c,
                    dst: *r,
                    src: Operand::Imm(0),
                    off: 0,
                },
                Op::LdMap(_, r) if !maps.is_empty() => Insn::LdImm64 {
                    dst: *r,
                    pseudo: Pseudo::Imm,
                    imm: 0,
                },
                Op::LdMap(_, r) => Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: *r,
                    src: Operand::Imm(0),
                },
                Op::Call(_) if functions.len() > 1 => Insn::Call(Callee::Local(0)),
                Op::Call(_) => Insn::Call(Callee::Helper(5)),
                Op::Exit => Insn::Exit,
            })
            .collect();
        let mut slots = vec![0i64];
        for i in &insns {
            slots.push(slots.last().unwrap() + i.slots() as i64);
        }
        let mut relocs = Vec::new();
        for (i, (op, _)) in ops.iter().enumerate() {
            let fun = ranges.iter().position(|r| r.contains(&i)).unwrap();
            match op {
                Op::Jump(_, _, t) => {
                    let r = &ranges[fun];
                    let target = r.start + t % r.len();
                    if let Insn::Jump { off, .. } = &mut insns[i] {
                        *off = (slots[target] - slots[i] - 1) as i16;
                    }
                }
                Op::Call(t) if functions.len() > 1 => {
                    let callee = 1 + t % (functions.len() - 1);
                    let target = slots[functions[callee].insn];
                    insns[i] = Insn::Call(Callee::Local((target - slots[i] - 1) as i32));
                }
                Op::LdMap(m, _) if !maps.is_empty() => relocs.push(Reloc {
                    insn: i,
                    symbol: maps[m % maps.len()].name.clone(),
                    kind: RelocKind::Map,
                }),
                _ => {}
            }
        }
        let locs = ops
            .iter()
            .map(|(_, l)| {
                l.map(|(file, line, column)| SourceLoc {
                    file: FileId(file),
                    line,
                    column,
                })
            })
            .collect();
        let mut labels: Vec<(usize, String)> = spec
            .labels
            .iter()
            .map(|&l| l % insns.len())
            .map(|at| (at, format!("L{at}")))
            .collect();
        labels.sort();
        labels.dedup();
        programs.push(Program {
            name: format!("prog_{pi}"),
            section: Section::new(spec.section),
            insns,
            locs,
            files: vec![gen_file("a"), gen_file("b")],
            labels,
            functions,
            relocs,
        });
    }
    Object {
        license,
        maps,
        programs,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("BPFSMITH_ROUNDTRIP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_objects_read_back(
        license in prop::sample::select(vec!["GPL", "Dual BSD/GPL", "Proprietary", ""]),
        maps in prop::collection::vec(map_spec(), 0..4),
        progs in prop::collection::vec(prog_spec(), 1..4),
    ) {
        let obj = build(license.to_owned(), maps, progs);
        roundtrip(&obj);
    }
}
