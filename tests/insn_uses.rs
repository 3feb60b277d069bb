//! `Insn::uses`, `Insn::defs` and `Insn::mem_access` against RFC 9669 (BPF Instruction Set
//! Architecture) and the kernel's calling convention, written out by hand from the RFC's
//! wording, one row per kind of instruction.

use bpfsmith::helpers::Helper;
use bpfsmith::insn::{
    AluOp, AtomicOp, Callee, Cond, Endian, Insn, MemAccess, Pseudo, Regs, Size, Width, R0, R1, R10,
    R2, R3, R4, R5, R6, R7, W1, W2,
};

const CLOBBERED: [bpfsmith::insn::Reg; 6] = [R0, R1, R2, R3, R4, R5];

/// (instruction, what the RFC says it reads, what it writes), with the RFC's pseudo-code.
fn table() -> Vec<(Insn, Vec<bpfsmith::insn::Reg>, Vec<bpfsmith::insn::Reg>)> {
    vec![
        // 4.1: "dst = src" reads src only; "dst += src" reads both.
        (Insn::mov(R1, R2), vec![R2], vec![R1]),
        (Insn::mov(R1, 7), vec![], vec![R1]),
        (Insn::mov(W1, W2), vec![R2], vec![R1]),
        (Insn::add(R1, R2), vec![R1, R2], vec![R1]),
        (Insn::add(W1, 3), vec![R1], vec![R1]),
        (Insn::alu(AluOp::SMod, R3, R4), vec![R3, R4], vec![R3]),
        (Insn::arsh(R1, R1), vec![R1], vec![R1]),
        // "dst = -dst".
        (Insn::neg(R5), vec![R5], vec![R5]),
        // MOVSX: "dst = (s8,s16,s32)src".
        (
            Insn::MovSx {
                width: Width::W64,
                bits: 8,
                dst: R1,
                src: R2,
            },
            vec![R2],
            vec![R1],
        ),
        // Arena pointer cast: reads src, writes dst.
        (
            Insn::AddrSpaceCast {
                dst: R1,
                src: R2,
                dst_as: 0,
                src_as: 1,
            },
            vec![R2],
            vec![R1],
        ),
        // 4.2: "dst = bswap16(dst)", "dst = htobe32(dst)".
        (
            Insn::Endian {
                kind: Endian::Swap,
                bits: 16,
                dst: R3,
            },
            vec![R3],
            vec![R3],
        ),
        (
            Insn::Endian {
                kind: Endian::ToBe,
                bits: 32,
                dst: R3,
            },
            vec![R3],
            vec![R3],
        ),
        // 5.1: "dst = *(unsigned size *) (src + offset)".
        (Insn::load(Size::U32, R0, R1, 4), vec![R1], vec![R0]),
        (Insn::load_sx(Size::U16, R0, R1, 4), vec![R1], vec![R0]),
        // "*(size *) (dst + offset) = src" / "= imm": reads dst (the base) and src.
        (Insn::store(Size::U64, R10, -8, R1), vec![R10, R1], vec![]),
        (Insn::store(Size::U8, R10, -1, 7), vec![R10], vec![]),
        // 5.3 atomics: "*(u64 *)(dst + offset) += src"; with FETCH "src = old value".
        (
            Insn::atomic(Size::U64, AtomicOp::Add { fetch: false }, R10, -8, R1),
            vec![R10, R1],
            vec![],
        ),
        (
            Insn::atomic(Size::U32, AtomicOp::Or { fetch: true }, R10, -8, R1),
            vec![R10, R1],
            vec![R1],
        ),
        (
            Insn::atomic(Size::U64, AtomicOp::Xchg, R2, 0, R3),
            vec![R2, R3],
            vec![R3],
        ),
        // CMPXCHG: "compares R0 with *(dst + offset); ... the old value is zero-extended and
        // loaded into R0".
        (
            Insn::atomic(Size::U64, AtomicOp::CmpXchg, R2, 0, R3),
            vec![R2, R3, R0],
            vec![R0],
        ),
        // Load-acquire: dst = *(src + off); store-release: *(dst + off) = src.
        (
            Insn::atomic(Size::U8, AtomicOp::LoadAcquire, R4, 0, R2),
            vec![R2],
            vec![R4],
        ),
        (
            Insn::atomic(Size::U16, AtomicOp::StoreRelease, R4, 0, R2),
            vec![R4, R2],
            vec![],
        ),
        // 5.4: "dst = (next_imm << 32) | imm".
        (Insn::ld_imm64(R7, 1 << 40), vec![], vec![R7]),
        (
            Insn::LdImm64 {
                dst: R1,
                pseudo: Pseudo::MapFd,
                imm: 3,
            },
            vec![],
            vec![R1],
        ),
        // 5.5 legacy packet access: R6 the implicit context, the result in R0, and (the
        // kernel's check_ld_abs) R1-R5 scratched.
        (
            Insn::LdAbs {
                size: Size::U16,
                imm: 12,
            },
            vec![R6],
            CLOBBERED.to_vec(),
        ),
        (
            Insn::LdInd {
                size: Size::U32,
                src: R7,
                imm: 0,
            },
            vec![R6, R7],
            CLOBBERED.to_vec(),
        ),
        // 4.3 jumps: "if dst cond src"; JA reads nothing.
        (Insn::jump(Cond::Set, R1, R2, 3), vec![R1, R2], vec![]),
        (Insn::jump(Cond::Slt, W1, -1, 3), vec![R1], vec![]),
        (Insn::goto(2), vec![], vec![]),
        (Insn::JaLong { imm: 70_000 }, vec![], vec![]),
        (Insn::MayGoto { off: 1 }, vec![], vec![]),
        // 4.3.1 helper calls: arguments R1-R5 (as many as the helper takes), result in R0,
        // R1-R5 not preserved.
        (
            Insn::call(Helper::MapPushElem),
            vec![R1, R2, R3],
            CLOBBERED.to_vec(),
        ),
        (Insn::call(Helper::KtimeGetNs), vec![], CLOBBERED.to_vec()),
        // A helper number the table does not know: all five may be arguments.
        (
            Insn::call(100_000),
            vec![R1, R2, R3, R4, R5],
            CLOBBERED.to_vec(),
        ),
        // 4.3.2 program-local and kfunc calls: the arity is not in the instruction.
        (
            Insn::Call(Callee::Local(4)),
            vec![R1, R2, R3, R4, R5],
            CLOBBERED.to_vec(),
        ),
        (
            Insn::Call(Callee::Kfunc { btf_id: 9, off: 0 }),
            vec![R1, R2, R3, R4, R5],
            CLOBBERED.to_vec(),
        ),
        (
            Insn::CallX { dst: R7 },
            vec![R7, R1, R2, R3, R4, R5],
            CLOBBERED.to_vec(),
        ),
        // EXIT: "return R0".
        (Insn::exit(), vec![R0], vec![]),
    ]
}

#[test]
fn uses_and_defs_follow_rfc_9669() {
    for (insn, uses, defs) in table() {
        assert_eq!(insn.uses(), Regs::of(&uses), "uses of {insn:?}");
        assert_eq!(insn.defs(), Regs::of(&defs), "defs of {insn:?}");
        assert_eq!(insn.uses().iter().collect::<Vec<_>>(), uses, "{insn:?}");
        // r10 is read-only: no instruction writes it.
        assert!(!insn.defs().contains(R10), "{insn:?}");
    }
}

#[test]
fn callee_saved_registers_survive_every_call() {
    let calls = [
        Insn::call(1),
        Insn::Call(Callee::Local(1)),
        Insn::Call(Callee::Kfunc { btf_id: 1, off: 0 }),
    ];
    for c in calls {
        for r in [R6, R7, bpfsmith::insn::R8, bpfsmith::insn::R9, R10] {
            assert!(!c.defs().contains(r), "{c:?} clobbers {r}");
        }
    }
}

#[test]
fn memory_accesses_name_base_offset_size_and_direction() {
    let m = |base, off, size, read, write| {
        Some(MemAccess {
            base,
            off,
            size,
            read,
            write,
        })
    };
    let cases = [
        (
            Insn::load(Size::U8, R0, R1, 3),
            m(R1, 3, Size::U8, true, false),
        ),
        (
            Insn::store(Size::U32, R10, -4, 1),
            m(R10, -4, Size::U32, false, true),
        ),
        (
            Insn::store(Size::U64, R10, -8, R2),
            m(R10, -8, Size::U64, false, true),
        ),
        (
            Insn::atomic(Size::U64, AtomicOp::Xor { fetch: false }, R3, 8, R2),
            m(R3, 8, Size::U64, true, true),
        ),
        // Load-acquire's address is in src.
        (
            Insn::atomic(Size::U32, AtomicOp::LoadAcquire, R0, 16, R5),
            m(R5, 16, Size::U32, true, false),
        ),
        (
            Insn::atomic(Size::U32, AtomicOp::StoreRelease, R0, 16, R5),
            m(R0, 16, Size::U32, false, true),
        ),
        (Insn::add(R1, 1), None),
        (
            Insn::LdAbs {
                size: Size::U8,
                imm: 0,
            },
            None,
        ),
    ];
    for (insn, want) in cases {
        assert_eq!(insn.mem_access(), want, "{insn:?}");
    }
}

/// Every decodable instruction of a spread of raw slots: uses and defs never name a register
/// the instruction's bytes and the ABI do not account for.
#[test]
fn uses_and_defs_only_name_encoded_or_abi_registers() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut seen = 0;
    for _ in 0..200_000 {
        // Random opcode and registers; offset and immediate from the values the encoding
        // gives meaning to (sizes, atomic selectors, movsx bits), so most opcodes decode.
        let r = next();
        let picks: [i32; 12] = [0, 1, 8, 16, 32, 64, 0x41, 0xe1, 0xf1, 0x100, 0x110, 87];
        let off = [0i16, 1, 8, 16, 32][(r >> 24) as usize % 5];
        let imm = picks[(r >> 32) as usize % picks.len()];
        let regs = ((r >> 8) as u8 % 11) | (((r >> 16) as u8 % 11) << 4);
        let mut bytes = vec![r as u8, regs];
        bytes.extend_from_slice(&off.to_le_bytes());
        bytes.extend_from_slice(&imm.to_le_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let Ok(insn) = bpfsmith::insn::decode_at(&bytes, 0) else {
            continue;
        };
        seen += 1;
        let (_, dst, src, _, _) = insn.fields();
        let abi = matches!(insn, Insn::Call(_) | Insn::CallX { .. })
            || matches!(insn, Insn::LdAbs { .. } | Insn::LdInd { .. });
        for r in insn.uses().iter().chain(insn.defs().iter()) {
            let encoded = r.num() == dst || r.num() == src;
            let implicit = abi && r.num() <= 6
                || insn == Insn::Exit && r == R0
                || matches!(
                    insn,
                    Insn::Atomic {
                        op: AtomicOp::CmpXchg,
                        ..
                    }
                ) && r == R0;
            assert!(encoded || implicit, "{insn:?} names {r}");
        }
    }
    assert!(seen > 1000, "only {seen} decodable slots");
}
