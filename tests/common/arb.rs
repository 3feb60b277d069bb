//! `proptest` strategies for [`Insn`]: every variant, every field over the range the encoding
//! allows (and nothing outside it, so `decode(encode(i)) == i` must hold for every value).
//!
//! Integers mix uniformly random values with edge values (0, ±1, the type's extremes, and the
//! values that select sub-operations elsewhere, like 8/16/32/64 and 0x100/0x110) so that both
//! bit patterns and boundaries get exercised.

use bpfsmith::insn::{
    AluOp, AtomicOp, Callee, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;

/// Any register `r0`-`r10`.
pub fn reg() -> impl Strategy<Value = Reg> + Clone {
    select(Reg::ALL.to_vec())
}

/// 32 or 64 bits.
pub fn width() -> impl Strategy<Value = Width> + Clone {
    select(vec![Width::W32, Width::W64])
}

/// Any memory access size.
pub fn size() -> impl Strategy<Value = Size> + Clone {
    select(Size::ALL.to_vec())
}

/// The sizes of the legacy packet loads `ld_abs`/`ld_ind`: 1, 2 and 4 bytes.
pub fn packet_size() -> impl Strategy<Value = Size> + Clone {
    select(vec![Size::U8, Size::U16, Size::U32])
}

/// Edge values of a 32-bit immediate.
pub const IMM32_EDGES: [i32; 14] = [
    0,
    1,
    -1,
    8,
    16,
    32,
    64,
    0x100,
    0x110,
    0x7fff,
    -0x8000,
    i32::MIN,
    i32::MAX,
    i32::MIN + 1,
];

/// Edge values of a 16-bit offset.
pub const OFF16_EDGES: [i16; 10] = [0, 1, -1, 8, 16, 32, 0x7f, -0x80, i16::MIN, i16::MAX];

/// Edge values of a 64-bit immediate.
pub const IMM64_EDGES: [i64; 12] = [
    0,
    1,
    -1,
    i32::MIN as i64,
    i32::MAX as i64,
    u32::MAX as i64,
    1 << 32,
    -(1 << 32),
    i64::MIN,
    i64::MAX,
    0x1234_5678_9abc_def0,
    0x8000_0000,
];

/// A 32-bit immediate: random or an edge value.
pub fn imm32() -> impl Strategy<Value = i32> + Clone {
    prop_oneof![3 => any::<i32>(), 2 => select(IMM32_EDGES.to_vec())]
}

/// A 16-bit offset: random or an edge value.
pub fn off16() -> impl Strategy<Value = i16> + Clone {
    prop_oneof![3 => any::<i16>(), 2 => select(OFF16_EDGES.to_vec())]
}

/// A 64-bit immediate: random, random 32-bit (sign-extended), or an edge value.
pub fn imm64() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![
        2 => any::<i64>(),
        1 => any::<i32>().prop_map(i64::from),
        2 => select(IMM64_EDGES.to_vec()),
    ]
}

/// A register or an immediate operand.
pub fn operand() -> impl Strategy<Value = Operand> + Clone {
    prop_oneof![reg().prop_map(Operand::Reg), imm32().prop_map(Operand::Imm)]
}

/// `dst op= src` in 32 or 64 bits, every binary operation (including `s/=` and `s%=`).
pub fn alu() -> impl Strategy<Value = Insn> + Clone {
    (width(), select(AluOp::ALL.to_vec()), reg(), operand()).prop_map(|(width, op, dst, src)| {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        }
    })
}

/// `dst = -dst`.
pub fn neg() -> impl Strategy<Value = Insn> + Clone {
    (width(), reg()).prop_map(|(width, dst)| Insn::Neg { width, dst })
}

/// `dst = (s8/s16/s32)src`: 8/16/32 bits in 64-bit width, 8/16 in 32-bit width.
pub fn movsx() -> impl Strategy<Value = Insn> + Clone {
    let wb = prop_oneof![
        select(vec![8u8, 16, 32]).prop_map(|b| (Width::W64, b)),
        select(vec![8u8, 16]).prop_map(|b| (Width::W32, b)),
    ];
    (wb, reg(), reg()).prop_map(|((width, bits), dst, src)| Insn::MovSx {
        width,
        bits,
        dst,
        src,
    })
}

/// `dst = addr_space_cast(src, dst_as, src_as)`, any address spaces.
pub fn addr_space_cast() -> impl Strategy<Value = Insn> + Clone {
    let as_ = prop_oneof![any::<u16>(), select(vec![0u16, 1, u16::MAX])];
    (reg(), reg(), as_.clone(), as_).prop_map(|(dst, src, dst_as, src_as)| Insn::AddrSpaceCast {
        dst,
        src,
        dst_as,
        src_as,
    })
}

/// `le`/`be`/`bswap` 16/32/64.
pub fn endian() -> impl Strategy<Value = Insn> + Clone {
    (
        select(vec![Endian::ToLe, Endian::ToBe, Endian::Swap]),
        select(vec![16u8, 32, 64]),
        reg(),
    )
        .prop_map(|(kind, bits, dst)| Insn::Endian { kind, bits, dst })
}

/// Loads of every size; sign-extending loads only for 1, 2 and 4 bytes.
pub fn load() -> impl Strategy<Value = Insn> + Clone {
    let size_sign = prop_oneof![
        size().prop_map(|s| (s, false)),
        packet_size().prop_map(|s| (s, true)),
    ];
    (size_sign, reg(), reg(), off16()).prop_map(|((size, sign), dst, src, off)| Insn::Load {
        size,
        sign,
        dst,
        src,
        off,
    })
}

/// `*(size *)(dst + off) = imm`.
pub fn store_imm() -> impl Strategy<Value = Insn> + Clone {
    (size(), reg(), off16(), imm32()).prop_map(|(size, dst, off, imm)| Insn::StoreImm {
        size,
        dst,
        off,
        imm,
    })
}

/// `*(size *)(dst + off) = src`.
pub fn store() -> impl Strategy<Value = Insn> + Clone {
    (size(), reg(), off16(), reg()).prop_map(|(size, dst, off, src)| Insn::Store {
        size,
        dst,
        off,
        src,
    })
}

/// Every (size, operation) pair that `AtomicOp::allows`.
pub fn atomic_size_op() -> Vec<(Size, AtomicOp)> {
    Size::ALL
        .iter()
        .flat_map(|&s| AtomicOp::ALL.iter().map(move |&op| (s, op)))
        .filter(|&(s, op)| op.allows(s))
        .collect()
}

/// Atomic operations, only at sizes the operation allows.
pub fn atomic() -> impl Strategy<Value = Insn> + Clone {
    (select(atomic_size_op()), reg(), reg(), off16()).prop_map(|((size, op), dst, src, off)| {
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        }
    })
}

/// `dst = imm ll` with every pseudo source.
pub fn ld_imm64() -> impl Strategy<Value = Insn> + Clone {
    (reg(), select(Pseudo::ALL.to_vec()), imm64()).prop_map(|(dst, pseudo, imm)| Insn::LdImm64 {
        dst,
        pseudo,
        imm,
    })
}

/// Legacy `ld_abs` (1, 2, 4 bytes).
pub fn ld_abs() -> impl Strategy<Value = Insn> + Clone {
    (packet_size(), imm32()).prop_map(|(size, imm)| Insn::LdAbs { size, imm })
}

/// Legacy `ld_ind` (1, 2, 4 bytes).
pub fn ld_ind() -> impl Strategy<Value = Insn> + Clone {
    (packet_size(), reg(), imm32()).prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm })
}

/// Conditional jumps, `JMP` and `JMP32`, every condition, register or immediate.
pub fn jump() -> impl Strategy<Value = Insn> + Clone {
    (
        width(),
        select(Cond::ALL.to_vec()),
        reg(),
        operand(),
        off16(),
    )
        .prop_map(|(width, cond, dst, src, off)| Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        })
}

/// Helper, local and kfunc calls.
pub fn callee() -> impl Strategy<Value = Callee> + Clone {
    prop_oneof![
        imm32().prop_map(Callee::Helper),
        imm32().prop_map(Callee::Local),
        (imm32(), off16()).prop_map(|(btf_id, off)| Callee::Kfunc { btf_id, off }),
    ]
}

/// Any instruction: every `Insn` variant, weighted so the variants with many forms (ALU,
/// jumps, memory) are drawn more often, but each variant is drawn regularly.
pub fn any_insn() -> impl Strategy<Value = Insn> + Clone {
    Union::new_weighted(vec![
        (8, alu().boxed()),
        (1, neg().boxed()),
        (2, movsx().boxed()),
        (1, addr_space_cast().boxed()),
        (2, endian().boxed()),
        (3, load().boxed()),
        (2, store_imm().boxed()),
        (2, store().boxed()),
        (3, atomic().boxed()),
        (2, ld_imm64().boxed()),
        (1, ld_abs().boxed()),
        (1, ld_ind().boxed()),
        (6, jump().boxed()),
        (1, off16().prop_map(|off| Insn::Ja { off }).boxed()),
        (1, imm32().prop_map(|imm| Insn::JaLong { imm }).boxed()),
        (1, off16().prop_map(|off| Insn::MayGoto { off }).boxed()),
        (2, callee().prop_map(Insn::Call).boxed()),
        (1, reg().prop_map(|dst| Insn::CallX { dst }).boxed()),
        (1, Just(Insn::Exit).boxed()),
    ])
}

/// The name of an instruction's variant, to check that a generator reaches all of them.
pub fn variant_name(i: &Insn) -> &'static str {
    match i {
        Insn::Alu { .. } => "Alu",
        Insn::Neg { .. } => "Neg",
        Insn::MovSx { .. } => "MovSx",
        Insn::AddrSpaceCast { .. } => "AddrSpaceCast",
        Insn::Endian { .. } => "Endian",
        Insn::Load { .. } => "Load",
        Insn::StoreImm { .. } => "StoreImm",
        Insn::Store { .. } => "Store",
        Insn::Atomic { .. } => "Atomic",
        Insn::LdImm64 { .. } => "LdImm64",
        Insn::LdAbs { .. } => "LdAbs",
        Insn::LdInd { .. } => "LdInd",
        Insn::Jump { .. } => "Jump",
        Insn::Ja { .. } => "Ja",
        Insn::JaLong { .. } => "JaLong",
        Insn::MayGoto { .. } => "MayGoto",
        Insn::Call(_) => "Call",
        Insn::CallX { .. } => "CallX",
        Insn::Exit => "Exit",
    }
}

/// Every variant name `variant_name` returns. Adding a variant to `Insn` breaks the exhaustive
/// match above, which is the reminder to add it here and to `any_insn`.
pub const VARIANTS: [&str; 19] = [
    "Alu",
    "Neg",
    "MovSx",
    "AddrSpaceCast",
    "Endian",
    "Load",
    "StoreImm",
    "Store",
    "Atomic",
    "LdImm64",
    "LdAbs",
    "LdInd",
    "Jump",
    "Ja",
    "JaLong",
    "MayGoto",
    "Call",
    "CallX",
    "Exit",
];
