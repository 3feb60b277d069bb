//! The VM against the kernel: `asm/` examples run in both, with the same return value and the
//! same maps afterwards. The VM is checked against the example's header (what the kernel
//! documents) everywhere, and against the real kernel when it can be used (root or CAP_BPF;
//! otherwise that half skips with a notice, unless BPFSMITH_REQUIRE_KERNEL=1).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::path::Path;

use bpfsmith::load::{LoadedObject, TestRun, TestRunResult};
use bpfsmith::object::Object;
use bpfsmith::text::asm::expect::Expectations;
use bpfsmith::text::assemble;
use bpfsmith::vm::Vm;

/// The examples both engines run.
const EXAMPLES: [&str; 8] = [
    "bpf2bpf.s",
    "r0_width.s",
    "queue.s",
    "stack.s",
    "exist.s",
    "full.s",
    "empty.s",
    "user_push.s",
];

/// What a run gives: the 32-bit return value and each map's contents in pop order.
type Result_ = (u32, Vec<(String, Vec<u64>)>);

fn example(file: &str) -> (Object, Expectations) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("asm").join(file);
    let src = std::fs::read_to_string(&path).unwrap();
    let obj = assemble(&path.display().to_string(), &src).unwrap_or_else(|e| panic!("{e}"));
    let exp = Expectations::parse(&src).unwrap_or_else(|e| panic!("{file}: {e:?}"));
    (obj, exp)
}

fn word(v: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w[..v.len().min(8)].copy_from_slice(&v[..v.len().min(8)]);
    u64::from_le_bytes(w)
}

fn program_name(obj: &Object, exp: &Expectations) -> String {
    exp.program
        .clone()
        .unwrap_or_else(|| obj.programs[0].name.clone())
}

fn in_vm(obj: &Object, exp: &Expectations) -> Result_ {
    let mut vm = Vm::from_object(obj, &program_name(obj, exp)).unwrap();
    for (map, values) in &exp.push_before {
        let m = vm.map_mut(map).unwrap();
        let size = m.def().value_size as usize;
        for v in values {
            m.push(&v.to_le_bytes()[..size], 0).unwrap();
        }
    }
    let run = vm.run(&mut [0; 64]).unwrap_or_else(|e| panic!("{e}"));
    let maps = exp
        .maps_after
        .iter()
        .map(|(name, _)| {
            let m = vm.map(name).unwrap();
            (name.clone(), m.contents().iter().map(|v| word(v)).collect())
        })
        .collect();
    (run.r0 as u32, maps)
}

/// Program `name` of `loaded` run once in the kernel on `data`.
fn kernel_run(loaded: &LoadedObject, name: &str, data: &[u8]) -> TestRunResult {
    loaded
        .program(name)
        .unwrap()
        .test_run(&TestRun {
            data,
            ..Default::default()
        })
        .unwrap()
}

fn in_kernel(obj: &Object, exp: &Expectations) -> Result_ {
    let loaded = obj.load().unwrap_or_else(|e| panic!("{e}"));
    for (map, values) in &exp.push_before {
        let m = loaded.map(map).unwrap();
        let size = m.def().value_size as usize;
        for v in values {
            m.update(&[], &v.to_le_bytes()[..size], 0).unwrap();
        }
    }
    let run = kernel_run(&loaded, &program_name(obj, exp), &[0; 64]);
    let maps = exp
        .maps_after
        .iter()
        .map(|(name, _)| {
            let m = loaded.map(name).unwrap();
            let mut got = Vec::new();
            while let Ok(v) = m.lookup_and_delete(&[], 0) {
                got.push(word(&v));
            }
            (name.clone(), got)
        })
        .collect();
    (run.retval, maps)
}

#[test]
fn the_vm_gives_what_the_examples_document() {
    for file in EXAMPLES {
        let (obj, exp) = example(file);
        let (retval, maps) = in_vm(&obj, &exp);
        if let Some(r) = exp.retval {
            assert_eq!(retval, r as u32, "{file}: return value");
        }
        assert_eq!(maps, exp.maps_after, "{file}: maps");
    }
}

#[test]
fn the_vm_and_the_kernel_agree_on_the_examples() {
    require_kernel!("the_vm_and_the_kernel_agree_on_the_examples");
    for file in EXAMPLES {
        let (obj, exp) = example(file);
        let vm = in_vm(&obj, &exp);
        let kernel = in_kernel(&obj, &exp);
        println!("{file}: retval {}, maps {:?}", vm.0, vm.1);
        assert_eq!(
            vm, kernel,
            "{file}: the VM (left) and the kernel (right) disagree"
        );
    }
}

#[test]
fn the_pre_6_4_jit_option_gives_what_the_examples_document_for_linux_6_1() {
    // Linux 6.1 with the JIT on: the header's per-kernel expectations (checked on that kernel
    // by the kernel matrix) for every example, with the VM told to zero-extend map errors.
    let facts = bpfsmith::text::asm::expect::KernelFacts {
        version: (6, 1),
        jit: true,
    };
    let mut seen = 0;
    for file in EXAMPLES {
        let (obj, exp) = example(file);
        let mut vm = Vm::from_object(&obj, &program_name(&obj, &exp)).unwrap();
        vm.zero_extend_map_errors = true;
        for (map, values) in &exp.push_before {
            let m = vm.map_mut(map).unwrap();
            let size = m.def().value_size as usize;
            for v in values {
                m.push(&v.to_le_bytes()[..size], 0).unwrap();
            }
        }
        let r0 = vm.run(&mut [0; 64]).unwrap().r0 as u32;
        let want = exp
            .retval_when
            .iter()
            .find(|(c, _)| c.holds(&facts))
            .map(|&(_, r)| r)
            .or(exp.retval);
        if exp.retval_when.iter().any(|(c, _)| c.holds(&facts)) {
            seen += 1;
        }
        assert_eq!(
            Some(i64::from(r0 as i32)),
            want.map(|r| i64::from(r as i32)),
            "{file}"
        );
    }
    assert!(
        seen >= 1,
        "no example states a result for Linux 6.1 with the JIT"
    );
}

/// The seed scenario built with the DSL (`bpfsmith::seed`): each program's return value and its
/// map afterwards, in the VM.
fn seed_in_vm() -> Vec<(u32, Vec<u64>)> {
    let obj = bpfsmith::seed::object();
    [("queue_prog", "queue"), ("stack_prog", "stack")]
        .iter()
        .map(|(prog, map)| {
            let mut vm = Vm::from_object(&obj, prog).unwrap();
            let r0 = vm.run(&mut [0; 64]).unwrap().r0 as u32;
            let left = vm
                .map(map)
                .unwrap()
                .contents()
                .iter()
                .map(|v| word(v))
                .collect();
            (r0, left)
        })
        .collect()
}

#[test]
fn the_seed_scenario_gives_in_the_vm_what_the_kernel_gives() {
    let vm = seed_in_vm();
    // What the kernel documents (bpfsmith::seed's constants, from the kernel's semantics).
    for ((_, want_r0), ((_, want_left), got)) in bpfsmith::seed::EXPECTED_RETVAL
        .iter()
        .zip(bpfsmith::seed::EXPECTED_LEFT.iter().zip(&vm))
    {
        let want_left: Vec<u64> = want_left.iter().map(|&v| u64::from(v)).collect();
        assert_eq!(got, &(*want_r0, want_left));
    }
    require_kernel!("the_seed_scenario_gives_in_the_vm_what_the_kernel_gives");
    let loaded = bpfsmith::seed::object().load().unwrap();
    let kernel: Vec<(u32, Vec<u64>)> = [("queue_prog", "queue"), ("stack_prog", "stack")]
        .iter()
        .map(|(prog, map)| {
            let run = kernel_run(&loaded, prog, &[0; 64]);
            let m = loaded.map(map).unwrap();
            let mut left = Vec::new();
            while let Ok(v) = m.lookup_and_delete(&[], 0) {
                left.push(word(&v));
            }
            (run.retval, left)
        })
        .collect();
    assert_eq!(vm, kernel, "the VM (left) and the kernel (right)");
}

#[test]
fn legacy_packet_loads_read_what_the_kernel_reads() {
    use bpfsmith::insn::{Insn, Size, R1, R6, R7};
    use bpfsmith::program::{Program, Section};
    require_kernel!("legacy_packet_loads_read_what_the_kernel_reads");
    // A socket filter's test run sees the data after its 14-byte Ethernet header: that is the
    // packet ld_abs and ld_ind read, and the memory the VM gets.
    let data: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
    // Each load with the base it finds in r7 (for ld_ind): in range, past the end, negative,
    // and sums that wrap in 32 bits.
    let mut loads = Vec::new();
    for size in [Size::U8, Size::U16, Size::U32] {
        for imm in (0..56).step_by(3).chain([-1, 1 << 20, i32::MAX]) {
            loads.push((Insn::LdAbs { size, imm }, 0));
            for base in [0, 5, -3, i32::MAX] {
                loads.push((Insn::LdInd { size, src: R7, imm }, base));
            }
        }
    }
    let mut compared = 0;
    for (load, base) in loads {
        let insns = vec![Insn::mov(R6, R1), Insn::mov(R7, base), load, Insn::Exit];
        let in_vm = Vm::new(&insns).run(&mut data[14..].to_vec()).unwrap().r0 as u32;
        let mut obj = Object::new("GPL");
        obj.add_program(Program::from_insns("ld", Section::SOCKET, insns))
            .unwrap();
        let loaded = obj.load().unwrap_or_else(|e| panic!("{load:?}: {e}"));
        let run = kernel_run(&loaded, "ld", &data);
        assert_eq!(
            in_vm, run.retval,
            "{load:?} with r7 = {base}: VM (left), kernel (right)"
        );
        compared += 1;
    }
    println!("{compared} legacy packet loads agree");
}

#[test]
fn a_direct_map_value_reference_reaches_the_array_value() {
    use bpfsmith::insn::{AluOp, Insn, Operand, Pseudo, Size, Width, R0, R1, R2};
    use bpfsmith::maps::MapDef;
    use bpfsmith::program::{Program, Reloc, RelocKind, Section};
    // `r1 = m + 4` (BPF_PSEUDO_MAP_VALUE, the offset in the high half): a pointer into element
    // 0 of an array. *(u32 *)(r1 + 0) = 7; *(u64 *)(r1 + 4) += 5; r0 = *(u32 *)(r1 + 0).
    let insns = vec![
        Insn::LdImm64 {
            dst: R1,
            pseudo: Pseudo::MapValue,
            imm: 4 << 32,
        },
        Insn::StoreImm {
            size: Size::U32,
            dst: R1,
            off: 0,
            imm: 7,
        },
        Insn::Load {
            size: Size::U64,
            sign: false,
            dst: R2,
            src: R1,
            off: 4,
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: R2,
            src: Operand::Imm(5),
        },
        Insn::Store {
            size: Size::U64,
            dst: R1,
            off: 4,
            src: R2,
        },
        Insn::Load {
            size: Size::U32,
            sign: false,
            dst: R0,
            src: R1,
            off: 0,
        },
        Insn::Exit,
    ];
    let mut p = Program::from_insns("p", Section::SOCKET, insns);
    p.relocs.push(Reloc {
        insn: 0,
        symbol: "m".into(),
        kind: RelocKind::Map,
    });
    let mut obj = Object::new("GPL");
    obj.map("m", MapDef::array::<[u8; 16]>(1)).unwrap();
    obj.add_program(p).unwrap();
    let mut vm = Vm::from_object(&obj, "p").unwrap();
    let r0 = vm.run(&mut [0; 64]).unwrap().r0 as u32;
    let value = vm.map("m").unwrap().lookup(&0u32.to_le_bytes()).unwrap();
    let mut want = vec![0u8; 16];
    want[4..8].copy_from_slice(&7u32.to_le_bytes());
    want[8] = 5;
    assert_eq!((r0, value.clone()), (7, want));
    require_kernel!("a_direct_map_value_reference_reaches_the_array_value");
    let loaded = obj.load().unwrap_or_else(|e| panic!("{e}"));
    let run = kernel_run(&loaded, "p", &[0; 64]);
    let kernel = loaded
        .map("m")
        .unwrap()
        .lookup(&0u32.to_le_bytes(), 0)
        .unwrap();
    assert_eq!(
        (r0, value),
        (run.retval, kernel),
        "VM (left), kernel (right)"
    );
}
