//! No input makes the VM panic: random instruction vectors (every variant, every field range,
//! plus "near" instructions whose jumps and memory offsets land inside the program and its
//! regions), random memory, random maps; every run ends with an outcome or a typed error.
//! `BPFSMITH_FUZZ_CASES` sets the number of programs (2,000 by default).

mod common;

use bpfsmith::insn::{Callee, Insn, Operand, Pseudo, Size, R1, R10};
use bpfsmith::maps::MapDef;
use bpfsmith::vm::{Vm, VmMap};
use common::arb;
use proptest::prelude::*;
use proptest::sample::select;

/// Instructions that stay near: short jumps and calls, accesses close to `r10` or `r1`, map
/// references and map helpers, so that runs get past their first instructions.
fn near_insn() -> impl Strategy<Value = Insn> + Clone {
    let base = select(vec![R10, R1]);
    let off = -24i16..24;
    prop_oneof![
        (arb::size(), base.clone(), off.clone(), arb::reg()).prop_map(|(size, dst, off, src)| {
            Insn::Store {
                size,
                dst,
                off,
                src,
            }
        }),
        (
            arb::size(),
            any::<bool>(),
            arb::reg(),
            base.clone(),
            off.clone()
        )
            .prop_map(|(size, sign, dst, src, off)| Insn::Load {
                size,
                sign: sign && size != Size::U64,
                dst,
                src,
                off,
            }),
        (select(arb::atomic_size_op()), base, arb::reg(), off).prop_map(
            |((size, op), dst, src, off)| Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            }
        ),
        (-4i16..4).prop_map(|off| Insn::Ja { off }),
        (-4i16..4).prop_map(|off| Insn::MayGoto { off }),
        (-4i32..4).prop_map(|imm| Insn::Call(Callee::Local(imm))),
        (
            arb::width(),
            select(bpfsmith::insn::Cond::ALL.to_vec()),
            arb::reg(),
            -4i16..4
        )
            .prop_map(|(width, cond, dst, off)| Insn::Jump {
                width,
                cond,
                dst,
                src: Operand::Imm(0),
                off,
            }),
        (
            select(vec![
                Pseudo::MapFd,
                Pseudo::MapIdx,
                Pseudo::MapValue,
                Pseudo::MapIdxValue
            ]),
            0i64..5
        )
            .prop_map(|(pseudo, imm)| {
                Insn::LdImm64 {
                    dst: R1,
                    pseudo,
                    imm,
                }
            }),
        select(vec![87, 88, 89, 1, 2, 3, 5, 7]).prop_map(|h| Insn::Call(Callee::Helper(h))),
        (arb::reg(), select(vec![R10, R1])).prop_map(|(dst, src)| Insn::Alu {
            width: bpfsmith::insn::Width::W64,
            op: bpfsmith::insn::AluOp::Mov,
            dst,
            src: Operand::Reg(src),
        }),
        Just(Insn::Exit),
    ]
}

/// 2,000 programs, or `BPFSMITH_FUZZ_CASES` (as the other fuzz targets).
fn cases() -> u32 {
    std::env::var("BPFSMITH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

fn program() -> impl Strategy<Value = Vec<Insn>> {
    proptest::collection::vec(prop_oneof![arb::any_insn(), near_insn()], 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics(
        insns in program(),
        mut mem in proptest::collection::vec(any::<u8>(), 0..64),
        value_size in 1u32..9,
        max_entries in 1u32..4,
    ) {
        let mut vm = Vm::new(&insns);
        vm.budget = 10_000;
        vm.may_goto_limit = 50;
        let queue = VmMap::new("q", &MapDef::new(bpfsmith::maps::MapType::Queue, 0, value_size, max_entries)).unwrap();
        let stack = VmMap::new("s", &MapDef::new(bpfsmith::maps::MapType::Stack, 0, value_size, max_entries)).unwrap();
        let array = VmMap::new("a", &MapDef::new(bpfsmith::maps::MapType::Array, 4, value_size, max_entries)).unwrap();
        let hash = VmMap::new("h", &MapDef::new(bpfsmith::maps::MapType::Hash, 4, value_size, max_entries)).unwrap();
        for (fd, m) in [queue, stack, array, hash].into_iter().enumerate() {
            let i = vm.add_map(m);
            vm.bind_fd(fd as i32, i);
        }
        // A descriptor bound to no map: an error when used, never a panic.
        vm.bind_fd(4, 99);
        let len = mem.len();
        match vm.run(&mut mem) {
            Ok(o) => prop_assert!(o.executed <= 10_000),
            Err(e) => {
                // The error names an instruction of the program (or its end).
                prop_assert!(e.index <= insns.len());
                prop_assert!(!e.to_string().is_empty());
            }
        }
        prop_assert_eq!(mem.len(), len);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 4, ..ProptestConfig::default() })]

    /// Objects with random relocations (any instruction index, known and unknown maps and
    /// functions, both kinds) never make `Vm::from_object` or the run panic.
    #[test]
    fn no_object_panics(
        main in program(),
        callee in program(),
        relocs in proptest::collection::vec(
            (0usize..48, select(vec!["q", "h", "f", "main", "nope"]), any::<bool>()),
            0..6,
        ),
    ) {
        use bpfsmith::object::Object;
        use bpfsmith::program::{Program, Reloc, RelocKind, Section};
        let mut obj = Object::new("GPL");
        obj.map("q", MapDef::queue::<u32>(2)).unwrap();
        obj.map("h", MapDef::hash::<u32, u64>(2)).unwrap();
        let mut p = Program::from_insns("main", Section::SOCKET, main);
        p.relocs = relocs
            .into_iter()
            .map(|(insn, symbol, map)| Reloc {
                insn,
                symbol: symbol.into(),
                kind: if map { RelocKind::Map } else { RelocKind::Function },
            })
            .collect();
        obj.programs.push(p);
        obj.programs.push(Program::from_insns("f", Section::new(".text"), callee));
        if let Ok(mut vm) = Vm::from_object(&obj, "main") {
            vm.budget = 10_000;
            let _ = vm.run(&mut [0; 16]);
        }
    }
}
