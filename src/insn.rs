//! The instruction set: registers, the [`Insn`] type, and encode/decode of raw 8-byte slots.
//!
//! One [`Insn`] is one logical instruction. `ld_imm64` ([`Insn::LdImm64`]) is one `Insn` that
//! occupies two 8-byte slots; every other instruction occupies one. Offsets that the kernel and
//! the verifier print are slot indexes, so jump offsets here count slots too.
//!
//! The type is semantic (an ALU operation, a load, a conditional jump ...), not a bag of raw
//! fields. A few field combinations can still be written that the encoding does not define
//! (`MovSx { bits: 7, .. }`, a 1-byte read-modify-write atomic); [`Insn::validate`] finds them,
//! and [`crate::program::ProgramBuilder::finish`] reports them with their source line.
//! Decoding is strict: reserved fields must be zero and every field must hold a value the
//! encoding defines, or [`decode`] returns a [`DecodeError`] naming the slot and the reason.
//! For any bytes that decode, encoding the result gives the same bytes back.
//!
//! Instructions are values, built with short constructors where the first register picks the
//! width (`rN` 64-bit, `wN` 32-bit) and the second operand is a register or an immediate:
//! `Insn::mov(R0, 0)`, `Insn::add(W1, W2)`, `Insn::load(Size::U32, R0, R1, 4)`,
//! `Insn::store(Size::U64, R10, -8, R1)`, `Insn::jump(Cond::Eq, R1, 0, 2)`,
//! `Insn::call(Helper::MapPushElem)`, `Insn::exit()`. What each reads and writes is
//! [`Insn::uses`], [`Insn::defs`] and [`Insn::mem_access`].
//!
//! ```
//! use bpfsmith::insn::{decode, encode, Insn, Reg, Size};
//!
//! // *(u32 *)(r10 - 4) = 1234: a store of an immediate into the stack frame.
//! let store = Insn::StoreImm { size: Size::U32, dst: Reg::R10, off: -4, imm: 1234 };
//! let bytes = encode(&[store, Insn::Exit]);
//! assert_eq!(&bytes[..8], &[0x62, 0x0a, 0xfc, 0xff, 0xd2, 0x04, 0x00, 0x00]);
//! assert_eq!(decode(&bytes).unwrap(), vec![store, Insn::Exit]);
//! ```

use std::fmt;

mod build;
mod effects;

pub use build::{HelperId, Src, Stored, View};
pub use effects::{MemAccess, Regs};

/// Size of one instruction slot in bytes.
pub const SLOT_SIZE: usize = 8;

/// A general-purpose register, `r0` to `r10`.
///
/// `r0` holds return values, `r1`-`r5` carry arguments to calls and are clobbered by them,
/// `r6`-`r9` are callee-saved, and `r10` is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reg {
    /// Return value of calls and of the program.
    R0 = 0,
    /// First argument.
    R1,
    /// Second argument.
    R2,
    /// Third argument.
    R3,
    /// Fourth argument.
    R4,
    /// Fifth argument.
    R5,
    /// Callee-saved.
    R6,
    /// Callee-saved.
    R7,
    /// Callee-saved.
    R8,
    /// Callee-saved.
    R9,
    /// Read-only frame pointer: the top of the 512-byte stack frame.
    R10,
}

impl Reg {
    /// Every register in order.
    pub const ALL: [Reg; 11] = [
        Reg::R0,
        Reg::R1,
        Reg::R2,
        Reg::R3,
        Reg::R4,
        Reg::R5,
        Reg::R6,
        Reg::R7,
        Reg::R8,
        Reg::R9,
        Reg::R10,
    ];

    /// The register with this number, if it exists (0..=10).
    pub fn from_num(n: u8) -> Option<Reg> {
        Self::ALL.get(n as usize).copied()
    }

    /// The register's number as encoded in an instruction.
    pub fn num(self) -> u8 {
        self as u8
    }

    /// The 32-bit view of this register (`wN`).
    pub fn w(self) -> WReg {
        WReg(self)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.num())
    }
}

/// The 32-bit view `wN` of a register: ALU32 operations read its low half and zero the high
/// half of the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WReg(pub Reg);

impl fmt::Display for WReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0.num())
    }
}

macro_rules! reg_consts {
    ($($r:ident $w:ident),*) => {
        $(
            #[doc = concat!("Register `", stringify!($r), "` (64-bit view).")]
            pub const $r: Reg = Reg::$r;
            #[doc = concat!("The 32-bit view of `", stringify!($r), "`.")]
            pub const $w: WReg = WReg(Reg::$r);
        )*
    };
}
reg_consts!(R0 W0, R1 W1, R2 W2, R3 W3, R4 W4, R5 W5, R6 W6, R7 W7, R8 W8, R9 W9, R10 W10);

/// The operand width of ALU and jump instructions: class `ALU`/`JMP32` (32) or
/// `ALU64`/`JMP` (64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit: operates on `wN`, zero-extends the result.
    W32,
    /// 64-bit: operates on `rN`.
    W64,
}

/// Memory access size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte (`BPF_B`).
    U8,
    /// 2 bytes (`BPF_H`).
    U16,
    /// 4 bytes (`BPF_W`).
    U32,
    /// 8 bytes (`BPF_DW`).
    U64,
}

impl Size {
    /// Every size, smallest first.
    pub const ALL: [Size; 4] = [Size::U8, Size::U16, Size::U32, Size::U64];

    /// The size in bytes.
    pub fn bytes(self) -> u32 {
        match self {
            Size::U8 => 1,
            Size::U16 => 2,
            Size::U32 => 4,
            Size::U64 => 8,
        }
    }

    /// The size field of the opcode byte.
    fn code(self) -> u8 {
        match self {
            Size::U32 => 0x00,
            Size::U16 => 0x08,
            Size::U8 => 0x10,
            Size::U64 => 0x18,
        }
    }

    fn from_code(code: u8) -> Size {
        match code & 0x18 {
            0x00 => Size::U32,
            0x08 => Size::U16,
            0x10 => Size::U8,
            _ => Size::U64,
        }
    }
}

/// A binary ALU operation (`dst op= src`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`, unsigned.
    Div,
    /// `s/=`, signed (cpu v4; `off` = 1).
    SDiv,
    /// `|=`
    Or,
    /// `&=`
    And,
    /// `<<=`
    Lsh,
    /// `>>=`, logical.
    Rsh,
    /// `%=`, unsigned.
    Mod,
    /// `s%=`, signed (cpu v4; `off` = 1).
    SMod,
    /// `^=`
    Xor,
    /// `=`
    Mov,
    /// `s>>=`, arithmetic.
    Arsh,
}

impl AluOp {
    /// Every binary ALU operation.
    pub const ALL: [AluOp; 14] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];

    /// The operation field of the opcode and the `off` field that selects the signed variant.
    fn code(self) -> (u8, i16) {
        match self {
            AluOp::Add => (0x00, 0),
            AluOp::Sub => (0x10, 0),
            AluOp::Mul => (0x20, 0),
            AluOp::Div => (0x30, 0),
            AluOp::SDiv => (0x30, 1),
            AluOp::Or => (0x40, 0),
            AluOp::And => (0x50, 0),
            AluOp::Lsh => (0x60, 0),
            AluOp::Rsh => (0x70, 0),
            AluOp::Mod => (0x90, 0),
            AluOp::SMod => (0x90, 1),
            AluOp::Xor => (0xa0, 0),
            AluOp::Mov => (0xb0, 0),
            AluOp::Arsh => (0xc0, 0),
        }
    }

    /// The operator as LLVM and the kernel print it (`+=`, `s/=`, `=` ...).
    pub fn symbol(self) -> &'static str {
        match self {
            AluOp::Add => "+=",
            AluOp::Sub => "-=",
            AluOp::Mul => "*=",
            AluOp::Div => "/=",
            AluOp::SDiv => "s/=",
            AluOp::Or => "|=",
            AluOp::And => "&=",
            AluOp::Lsh => "<<=",
            AluOp::Rsh => ">>=",
            AluOp::Mod => "%=",
            AluOp::SMod => "s%=",
            AluOp::Xor => "^=",
            AluOp::Mov => "=",
            AluOp::Arsh => "s>>=",
        }
    }
}

/// The second operand of an ALU operation, a conditional jump or a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register (`BPF_X`).
    Reg(Reg),
    /// A 32-bit immediate (`BPF_K`), sign-extended to 64 bits by 64-bit operations.
    Imm(i32),
}

impl From<Reg> for Operand {
    fn from(r: Reg) -> Self {
        Operand::Reg(r)
    }
}

impl From<i32> for Operand {
    fn from(i: i32) -> Self {
        Operand::Imm(i)
    }
}

/// The byte-order operations (`BPF_END`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endian {
    /// `le16/32/64`: convert to little endian (class ALU, `BPF_TO_LE`).
    ToLe,
    /// `be16/32/64`: convert to big endian (class ALU, `BPF_TO_BE`).
    ToBe,
    /// `bswap16/32/64`: unconditional swap (class ALU64, cpu v4).
    Swap,
}

/// The condition of a conditional jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// `==`
    Eq,
    /// `>`, unsigned.
    Gt,
    /// `>=`, unsigned.
    Ge,
    /// `&` (jump if `dst & src` is non-zero).
    Set,
    /// `!=`
    Ne,
    /// `s>`, signed.
    Sgt,
    /// `s>=`, signed.
    Sge,
    /// `<`, unsigned.
    Lt,
    /// `<=`, unsigned.
    Le,
    /// `s<`, signed.
    Slt,
    /// `s<=`, signed.
    Sle,
}

impl Cond {
    /// Every condition.
    pub const ALL: [Cond; 11] = [
        Cond::Eq,
        Cond::Gt,
        Cond::Ge,
        Cond::Set,
        Cond::Ne,
        Cond::Sgt,
        Cond::Sge,
        Cond::Lt,
        Cond::Le,
        Cond::Slt,
        Cond::Sle,
    ];

    fn code(self) -> u8 {
        match self {
            Cond::Eq => 0x10,
            Cond::Gt => 0x20,
            Cond::Ge => 0x30,
            Cond::Set => 0x40,
            Cond::Ne => 0x50,
            Cond::Sgt => 0x60,
            Cond::Sge => 0x70,
            Cond::Lt => 0xa0,
            Cond::Le => 0xb0,
            Cond::Slt => 0xc0,
            Cond::Sle => 0xd0,
        }
    }

    fn from_code(op: u8) -> Option<Cond> {
        Some(match op {
            0x10 => Cond::Eq,
            0x20 => Cond::Gt,
            0x30 => Cond::Ge,
            0x40 => Cond::Set,
            0x50 => Cond::Ne,
            0x60 => Cond::Sgt,
            0x70 => Cond::Sge,
            0xa0 => Cond::Lt,
            0xb0 => Cond::Le,
            0xc0 => Cond::Slt,
            0xd0 => Cond::Sle,
            _ => return None,
        })
    }

    /// The operator as LLVM and the kernel print it (`==`, `s<`, `&` ...).
    pub fn symbol(self) -> &'static str {
        match self {
            Cond::Eq => "==",
            Cond::Gt => ">",
            Cond::Ge => ">=",
            Cond::Set => "&",
            Cond::Ne => "!=",
            Cond::Sgt => "s>",
            Cond::Sge => "s>=",
            Cond::Lt => "<",
            Cond::Le => "<=",
            Cond::Slt => "s<",
            Cond::Sle => "s<=",
        }
    }
}

/// An atomic operation (`BPF_STX | BPF_ATOMIC`), selected by the immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `lock *(size *)(dst + off) += src`; with `fetch`, `src` receives the old value.
    Add {
        /// `BPF_FETCH`: return the old value in `src`.
        fetch: bool,
    },
    /// `|=` (see [`AtomicOp::Add`]).
    Or {
        /// `BPF_FETCH`: return the old value in `src`.
        fetch: bool,
    },
    /// `&=` (see [`AtomicOp::Add`]).
    And {
        /// `BPF_FETCH`: return the old value in `src`.
        fetch: bool,
    },
    /// `^=` (see [`AtomicOp::Add`]).
    Xor {
        /// `BPF_FETCH`: return the old value in `src`.
        fetch: bool,
    },
    /// `src = xchg(dst + off, src)`.
    Xchg,
    /// `r0 = cmpxchg(dst + off, r0, src)`.
    CmpXchg,
    /// `dst = load_acquire(src + off)` (any size). The operands swap roles here: `dst` of the
    /// [`Insn::Atomic`] is the loaded register and `src` the address.
    LoadAcquire,
    /// `store_release(dst + off, src)` (any size).
    StoreRelease,
}

const BPF_FETCH: i32 = 0x01;

impl AtomicOp {
    /// Every atomic operation.
    pub const ALL: [AtomicOp; 12] = [
        AtomicOp::Add { fetch: false },
        AtomicOp::Add { fetch: true },
        AtomicOp::Or { fetch: false },
        AtomicOp::Or { fetch: true },
        AtomicOp::And { fetch: false },
        AtomicOp::And { fetch: true },
        AtomicOp::Xor { fetch: false },
        AtomicOp::Xor { fetch: true },
        AtomicOp::Xchg,
        AtomicOp::CmpXchg,
        AtomicOp::LoadAcquire,
        AtomicOp::StoreRelease,
    ];

    /// The immediate that selects this operation.
    pub fn imm(self) -> i32 {
        let f = |fetch: bool| if fetch { BPF_FETCH } else { 0 };
        match self {
            AtomicOp::Add { fetch } => f(fetch),
            AtomicOp::Or { fetch } => 0x40 | f(fetch),
            AtomicOp::And { fetch } => 0x50 | f(fetch),
            AtomicOp::Xor { fetch } => 0xa0 | f(fetch),
            AtomicOp::Xchg => 0xe0 | BPF_FETCH,
            AtomicOp::CmpXchg => 0xf0 | BPF_FETCH,
            AtomicOp::LoadAcquire => 0x100,
            AtomicOp::StoreRelease => 0x110,
        }
    }

    fn from_imm(imm: i32) -> Option<AtomicOp> {
        Some(match imm {
            0x00 => AtomicOp::Add { fetch: false },
            0x01 => AtomicOp::Add { fetch: true },
            0x40 => AtomicOp::Or { fetch: false },
            0x41 => AtomicOp::Or { fetch: true },
            0x50 => AtomicOp::And { fetch: false },
            0x51 => AtomicOp::And { fetch: true },
            0xa0 => AtomicOp::Xor { fetch: false },
            0xa1 => AtomicOp::Xor { fetch: true },
            0xe1 => AtomicOp::Xchg,
            0xf1 => AtomicOp::CmpXchg,
            0x100 => AtomicOp::LoadAcquire,
            0x110 => AtomicOp::StoreRelease,
            _ => return None,
        })
    }

    /// Whether the operation is allowed at this size: read-modify-write operations exist for
    /// 32 and 64 bits only, load-acquire and store-release for every size.
    pub fn allows(self, size: Size) -> bool {
        matches!(self, AtomicOp::LoadAcquire | AtomicOp::StoreRelease)
            || matches!(size, Size::U32 | Size::U64)
    }
}

/// What the 64-bit immediate of an `ld_imm64` means: the instruction's `src` field
/// (`BPF_PSEUDO_*`), rewritten by loaders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Pseudo {
    /// 0: a plain 64-bit constant.
    Imm,
    /// 1 (`BPF_PSEUDO_MAP_FD`): the low 32 bits are a map file descriptor.
    MapFd,
    /// 2 (`BPF_PSEUDO_MAP_VALUE`): low 32 bits a map fd, high 32 bits an offset into its value.
    MapValue,
    /// 3 (`BPF_PSEUDO_BTF_ID`): a kernel variable by BTF id.
    BtfId,
    /// 4 (`BPF_PSEUDO_FUNC`): the address of a function; the immediate is a slot offset.
    Func,
    /// 5 (`BPF_PSEUDO_MAP_IDX`): a map by index into `fd_array`.
    MapIdx,
    /// 6 (`BPF_PSEUDO_MAP_IDX_VALUE`): as `MapValue`, by index into `fd_array`.
    MapIdxValue,
}

impl Pseudo {
    /// Every pseudo source.
    pub const ALL: [Pseudo; 7] = [
        Pseudo::Imm,
        Pseudo::MapFd,
        Pseudo::MapValue,
        Pseudo::BtfId,
        Pseudo::Func,
        Pseudo::MapIdx,
        Pseudo::MapIdxValue,
    ];

    /// The `src` register field value.
    pub fn src(self) -> u8 {
        self as u8
    }

    fn from_src(src: u8) -> Option<Pseudo> {
        Self::ALL.get(src as usize).copied()
    }
}

/// What a `call` instruction calls: its `src` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Callee {
    /// `src` 0: a kernel helper by number (`call 87` is `bpf_map_push_elem`).
    Helper(i32),
    /// `src` 1 (`BPF_PSEUDO_CALL`): a bpf-to-bpf call; the immediate is the slot offset of
    /// the callee from the next instruction.
    Local(i32),
    /// `src` 2 (`BPF_PSEUDO_KFUNC_CALL`): a kernel function by BTF id; `off` selects the BTF
    /// (0: vmlinux, otherwise an index into `fd_array`).
    Kfunc {
        /// BTF id of the function.
        btf_id: i32,
        /// BTF object index (0 for vmlinux).
        off: i16,
    },
}

/// One eBPF instruction.
///
/// Every variant encodes to exactly the bytes the kernel and LLVM use; see each variant for its
/// opcode. Jump offsets are in slots, relative to the next instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// `dst op= src` (classes `ALU` and `ALU64`, opcode `op | K/X | class`).
    Alu {
        /// 32 or 64 bits.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination and first operand.
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// `dst = -dst` (`BPF_NEG`).
    Neg {
        /// 32 or 64 bits.
        width: Width,
        /// The negated register.
        dst: Reg,
    },
    /// `dst = (s8/s16/s32)src`: sign-extending move (cpu v4, `BPF_MOV` with `off` = bits).
    /// 32-bit width allows 8 and 16 bits.
    MovSx {
        /// 32 or 64 bits.
        width: Width,
        /// Bits of the source that are sign-extended: 8, 16 or 32.
        bits: u8,
        /// Destination.
        dst: Reg,
        /// Source.
        src: Reg,
    },
    /// `dst = addr_space_cast(src, dst_as, src_as)` (arena pointers: `ALU64 | MOV | X`,
    /// `off` = 1, `imm` = `dst_as << 16 | src_as`).
    AddrSpaceCast {
        /// Destination.
        dst: Reg,
        /// Source.
        src: Reg,
        /// Destination address space.
        dst_as: u16,
        /// Source address space.
        src_as: u16,
    },
    /// Byte-order conversion of `dst` (`BPF_END`): `be16 r1`, `le32 r1`, `bswap64 r1`.
    Endian {
        /// Which conversion.
        kind: Endian,
        /// 16, 32 or 64.
        bits: u8,
        /// The converted register.
        dst: Reg,
    },
    /// `dst = *(size *)(src + off)`, or with `sign` `dst = *(s8/s16/s32 *)(src + off)`
    /// (`LDX | MEM` or `LDX | MEMSX`; the sign-extending load has no 64-bit size).
    Load {
        /// Access size.
        size: Size,
        /// Sign-extending load (cpu v4).
        sign: bool,
        /// Destination.
        dst: Reg,
        /// Base address.
        src: Reg,
        /// Offset from `src`.
        off: i16,
    },
    /// `*(size *)(dst + off) = imm` (`ST | MEM`).
    StoreImm {
        /// Access size.
        size: Size,
        /// Base address.
        dst: Reg,
        /// Offset from `dst`.
        off: i16,
        /// Stored value (truncated to `size`).
        imm: i32,
    },
    /// `*(size *)(dst + off) = src` (`STX | MEM`).
    Store {
        /// Access size.
        size: Size,
        /// Base address.
        dst: Reg,
        /// Offset from `dst`.
        off: i16,
        /// Stored register.
        src: Reg,
    },
    /// Atomic operation on `*(size *)(dst + off)` with `src` (`STX | ATOMIC`).
    Atomic {
        /// Access size.
        size: Size,
        /// Operation.
        op: AtomicOp,
        /// Address base (the loaded register for `LoadAcquire`).
        dst: Reg,
        /// Operand (the address base for `LoadAcquire`).
        src: Reg,
        /// Offset.
        off: i16,
    },
    /// `dst = imm ll`: a 64-bit immediate, two slots (`LD | IMM | DW`, opcode 0x18).
    LdImm64 {
        /// Destination.
        dst: Reg,
        /// What the immediate means.
        pseudo: Pseudo,
        /// Low 32 bits from the first slot, high 32 bits from the second.
        imm: i64,
    },
    /// Legacy packet load `r0 = *(size *)skb[imm]` (`LD | ABS`; sizes 8, 16, 32).
    LdAbs {
        /// Access size.
        size: Size,
        /// Packet offset.
        imm: i32,
    },
    /// Legacy packet load `r0 = *(size *)skb[src + imm]` (`LD | IND`; sizes 8, 16, 32).
    LdInd {
        /// Access size.
        size: Size,
        /// Offset register.
        src: Reg,
        /// Packet offset.
        imm: i32,
    },
    /// `if dst cond src goto +off` (`JMP` or `JMP32`).
    Jump {
        /// 64 bits (`JMP`) or 32 bits (`JMP32`).
        width: Width,
        /// Condition.
        cond: Cond,
        /// Left operand.
        dst: Reg,
        /// Right operand.
        src: Operand,
        /// Slot offset from the next instruction.
        off: i16,
    },
    /// `goto +off` (`JMP | JA`, 0x05).
    Ja {
        /// Slot offset from the next instruction.
        off: i16,
    },
    /// `gotol +imm`: long unconditional jump (cpu v4, `JMP32 | JA`, 0x06).
    JaLong {
        /// Slot offset from the next instruction.
        imm: i32,
    },
    /// `may_goto +off`: bounded loop escape (`JMP | JCOND`, 0xe5).
    MayGoto {
        /// Slot offset from the next instruction.
        off: i16,
    },
    /// `call` a helper, a local function or a kfunc (0x85).
    Call(Callee),
    /// `callx dst`: indirect call through a register (0x8d; the register sits in `dst`).
    CallX {
        /// Register holding the target.
        dst: Reg,
    },
    /// `exit` (0x95): return `r0`.
    Exit,
}

impl Insn {
    /// How many 8-byte slots the instruction occupies: 2 for `ld_imm64`, 1 otherwise.
    #[inline]
    pub fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The raw fields of the first slot: `(opcode, dst, src, off, imm)`.
    #[inline]
    pub fn fields(&self) -> (u8, u8, u8, i16, i32) {
        raw_fields(self)
    }

    /// Encode into one or two slots, appended to `out`.
    #[inline]
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (code, dst, src, off, imm) = raw_fields(self);
        out.extend_from_slice(&slot_bytes(code, dst, src, off, imm));
        if let Insn::LdImm64 { imm, .. } = self {
            out.extend_from_slice(&slot_bytes(0, 0, 0, 0, (*imm >> 32) as i32));
        }
    }

    /// Check that the fields hold values the encoding defines (what [`decode`] would accept
    /// from this instruction's bytes).
    #[inline]
    pub fn validate(&self) -> Result<(), DecodeReason> {
        // Only these variants have fields (bit counts, sizes) that the type lets through and
        // the encoding does not define; every other one decodes back to itself whatever its
        // fields hold (the unit test `validate_matches_the_round_trip` checks both sides).
        // The encode/decode round trip only runs to name what is wrong: run on every
        // instruction, it cost ProgramBuilder::finish 12% of `asm` on a 1M-line file
        // (cachegrind).
        let defined = match *self {
            Insn::MovSx { width, bits, .. } => {
                matches!(
                    (width, bits),
                    (Width::W64, 8 | 16 | 32) | (Width::W32, 8 | 16)
                )
            }
            Insn::Endian { bits, .. } => matches!(bits, 16 | 32 | 64),
            Insn::Load { sign, size, .. } => !sign || size != Size::U64,
            Insn::Atomic { op, size, .. } => op.allows(size),
            Insn::LdAbs { size, .. } | Insn::LdInd { size, .. } => size != Size::U64,
            _ => true,
        };
        if defined {
            Ok(())
        } else {
            self.round_trip()
        }
    }

    /// Whether the instruction's bytes decode back to it, and the reason when they do not.
    fn round_trip(&self) -> Result<(), DecodeReason> {
        let (code, dst, src, off, imm) = raw_fields(self);
        let s = RawSlot {
            code,
            dst,
            src,
            off,
            imm,
        };
        let next = match *self {
            Insn::LdImm64 { imm, .. } => Some(RawSlot {
                code: 0,
                dst: 0,
                src: 0,
                off: 0,
                imm: (imm >> 32) as i32,
            }),
            _ => None,
        };
        match decode_slot(s, next) {
            Ok(back) if back == *self => Ok(()),
            Ok(_) => Err(DecodeReason::UnknownOpcode(code)),
            Err(reason) => Err(reason),
        }
    }

    /// Encode into a fresh byte vector (8 or 16 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        self.encode_into(&mut v);
        v
    }

    /// Whether the instruction transfers control to a slot offset (a jump, `gotol`,
    /// `may_goto`, or a local call), and that offset.
    pub fn branch_offset(&self) -> Option<i32> {
        match *self {
            Insn::Jump { off, .. } | Insn::Ja { off } | Insn::MayGoto { off } => Some(off as i32),
            Insn::JaLong { imm } => Some(imm),
            Insn::Call(Callee::Local(imm)) => Some(imm),
            _ => None,
        }
    }

    /// The lowest LLVM `-mcpu` version (1 to 4) whose instruction set holds this instruction:
    /// what a kernel must support for it, in the versions LLVM and the kernel's documentation
    /// use.
    ///
    /// | version | adds | first Linux |
    /// |---|---|---|
    /// | 1 | the original eBPF set: ALU and ALU64 (32-bit ALU operations were always part of it, even though LLVM only emits them from v3 on), loads and stores, `ld_imm64`, `JMP` with `==`, `>`, `>=`, `&`, `!=`, `s>`, `s>=`, `call`, `exit`, the legacy packet loads, and `lock ... +=` (atomic add without fetch) | 3.18 |
    /// | 2 | the remaining 64-bit conditions `<`, `<=`, `s<`, `s<=` | 4.14 |
    /// | 3 | the `JMP32` class (conditional jumps on `wN`), and every atomic but the add without fetch: `atomic_fetch_add`, `lock` and/or/xor with or without fetch, `xchg`, `cmpxchg` (LLVM emits these only from v3, or with `+alu32`) | 5.1 (atomics: 5.12) |
    /// | 4 | `s/=` and `s%=` (sdiv/smod), `movsx` (`r1 = (s8)r2`), sign-extending loads (`ldsx`), `bswap16/32/64` (`BPF_END` in class ALU64), `gotol` (`JA` in class JMP32); and LLVM 22 adds `load_acquire` / `store_release` to v4 | 6.6 (load-acquire / store-release: 6.15) |
    ///
    /// Extensions outside the numbered versions count as version 1, since LLVM accepts them
    /// at every version: `may_goto`, `addr_space_cast`, bpf-to-bpf and kfunc calls, the pseudo
    /// `ld_imm64` forms, `callx`. [`Insn::since_linux`] says which release each one needs.
    ///
    /// ```
    /// use bpfsmith::insn::{AluOp, Cond, Insn, Operand, Width, R1};
    ///
    /// let sdiv = Insn::Alu { width: Width::W64, op: AluOp::SDiv, dst: R1, src: Operand::Imm(3) };
    /// assert_eq!(sdiv.cpu_version(), 4);
    /// let jlt = |width| Insn::Jump { width, cond: Cond::Lt, dst: R1, src: Operand::Imm(3), off: 1 };
    /// assert_eq!(jlt(Width::W64).cpu_version(), 2);
    /// assert_eq!(jlt(Width::W32).cpu_version(), 3);   // JMP32
    /// assert_eq!(Insn::Exit.cpu_version(), 1);
    /// ```
    pub fn cpu_version(&self) -> u8 {
        match *self {
            Insn::Alu {
                op: AluOp::SDiv | AluOp::SMod,
                ..
            }
            | Insn::MovSx { .. }
            | Insn::Load { sign: true, .. }
            | Insn::Endian {
                kind: Endian::Swap, ..
            }
            | Insn::JaLong { .. }
            | Insn::Atomic {
                op: AtomicOp::LoadAcquire | AtomicOp::StoreRelease,
                ..
            } => 4,
            Insn::Atomic {
                op: AtomicOp::Add { fetch: false },
                ..
            } => 1,
            Insn::Atomic { .. }
            | Insn::Jump {
                width: Width::W32, ..
            } => 3,
            Insn::Jump {
                cond: Cond::Lt | Cond::Le | Cond::Slt | Cond::Sle,
                ..
            } => 2,
            _ => 1,
        }
    }

    /// The first Linux release (`(major, minor)`) whose verifier accepts this instruction, or
    /// `None` when none does (`callx`, which only LLVM's `-O0` emits).
    ///
    /// The original instruction set answers `(3, 18)` (the release that added `bpf(2)`); the
    /// later ones: `<`/`<=`/`s<`/`s<=` 4.14, bpf-to-bpf calls 4.16, `JMP32` 5.1, map values
    /// by address (`ld_imm64` with `BPF_PSEUDO_MAP_VALUE`) 5.2, kernel variables by BTF id
    /// 5.10, the atomics beyond `lock +=` 5.12, kfunc calls and function addresses 5.13, maps
    /// by `fd_array` index 5.14, cpu v4 6.6, `may_goto` and `addr_space_cast` (arenas) 6.9,
    /// load-acquire and store-release 6.15.
    ///
    /// ```
    /// use bpfsmith::insn::{Insn, R1, R2};
    ///
    /// assert_eq!(Insn::MovSx { width: bpfsmith::insn::Width::W64, bits: 8, dst: R1, src: R2 }.since_linux(), Some((6, 6)));
    /// assert_eq!(Insn::Exit.since_linux(), Some((3, 18)));
    /// assert_eq!(Insn::CallX { dst: R1 }.since_linux(), None);
    /// ```
    pub fn since_linux(&self) -> Option<(u32, u32)> {
        Some(match *self {
            Insn::CallX { .. } => return None,
            Insn::Atomic {
                op: AtomicOp::LoadAcquire | AtomicOp::StoreRelease,
                ..
            } => (6, 15),
            Insn::MayGoto { .. } | Insn::AddrSpaceCast { .. } => (6, 9),
            Insn::Call(Callee::Kfunc { .. }) => (5, 13),
            Insn::Call(Callee::Local(_)) => (4, 16),
            Insn::LdImm64 { pseudo, .. } => match pseudo {
                Pseudo::Imm | Pseudo::MapFd => (3, 18),
                Pseudo::MapValue => (5, 2),
                Pseudo::BtfId => (5, 10),
                Pseudo::Func => (5, 13),
                Pseudo::MapIdx | Pseudo::MapIdxValue => (5, 14),
            },
            Insn::Atomic { .. } if self.cpu_version() == 3 => (5, 12),
            _ => match self.cpu_version() {
                4 => (6, 6),
                3 => (5, 1),
                2 => (4, 14),
                _ => (3, 18),
            },
        })
    }
}

// Instruction classes.
const LD: u8 = 0x00;
const LDX: u8 = 0x01;
const ST: u8 = 0x02;
const STX: u8 = 0x03;
const ALU: u8 = 0x04;
const JMP: u8 = 0x05;
const JMP32: u8 = 0x06;
const ALU64: u8 = 0x07;
// Modes of the load/store classes.
const MODE_IMM: u8 = 0x00;
const MODE_ABS: u8 = 0x20;
const MODE_IND: u8 = 0x40;
const MODE_MEM: u8 = 0x60;
const MODE_MEMSX: u8 = 0x80;
const MODE_ATOMIC: u8 = 0xc0;
// Source bit.
const K: u8 = 0x00;
const X: u8 = 0x08;
// Jump operations that are not conditions.
const JA: u8 = 0x00;
const CALL: u8 = 0x80;
const EXIT: u8 = 0x90;
const JCOND: u8 = 0xe0;
// ALU operations that are not binary.
const NEG: u8 = 0x80;
const END: u8 = 0xd0;
const MOV: u8 = 0xb0;

fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => ALU,
        Width::W64 => ALU64,
    }
}

fn jmp_class(width: Width) -> u8 {
    match width {
        Width::W32 => JMP32,
        Width::W64 => JMP,
    }
}

#[inline]
fn raw_fields(insn: &Insn) -> (u8, u8, u8, i16, i32) {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let (opc, off) = op.code();
            match src {
                Operand::Reg(s) => (opc | X | alu_class(width), dst.num(), s.num(), off, 0),
                Operand::Imm(i) => (opc | K | alu_class(width), dst.num(), 0, off, i),
            }
        }
        Insn::Neg { width, dst } => (NEG | K | alu_class(width), dst.num(), 0, 0, 0),
        Insn::MovSx {
            width,
            bits,
            dst,
            src,
        } => (
            MOV | X | alu_class(width),
            dst.num(),
            src.num(),
            bits as i16,
            0,
        ),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => (
            MOV | X | ALU64,
            dst.num(),
            src.num(),
            1,
            ((dst_as as u32) << 16 | src_as as u32) as i32,
        ),
        Insn::Endian { kind, bits, dst } => {
            let code = match kind {
                Endian::ToLe => END | K | ALU,
                Endian::ToBe => END | X | ALU,
                Endian::Swap => END | K | ALU64,
            };
            (code, dst.num(), 0, 0, bits as i32)
        }
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => {
            let mode = if sign { MODE_MEMSX } else { MODE_MEM };
            (mode | size.code() | LDX, dst.num(), src.num(), off, 0)
        }
        Insn::StoreImm {
            size,
            dst,
            off,
            imm,
        } => (MODE_MEM | size.code() | ST, dst.num(), 0, off, imm),
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => (MODE_MEM | size.code() | STX, dst.num(), src.num(), off, 0),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => (
            MODE_ATOMIC | size.code() | STX,
            dst.num(),
            src.num(),
            off,
            op.imm(),
        ),
        Insn::LdImm64 { dst, pseudo, imm } => (
            MODE_IMM | Size::U64.code() | LD,
            dst.num(),
            pseudo.src(),
            0,
            imm as i32,
        ),
        Insn::LdAbs { size, imm } => (MODE_ABS | size.code() | LD, 0, 0, 0, imm),
        Insn::LdInd { size, src, imm } => (MODE_IND | size.code() | LD, 0, src.num(), 0, imm),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => match src {
            Operand::Reg(s) => (
                cond.code() | X | jmp_class(width),
                dst.num(),
                s.num(),
                off,
                0,
            ),
            Operand::Imm(i) => (cond.code() | K | jmp_class(width), dst.num(), 0, off, i),
        },
        Insn::Ja { off } => (JA | K | JMP, 0, 0, off, 0),
        Insn::JaLong { imm } => (JA | K | JMP32, 0, 0, 0, imm),
        Insn::MayGoto { off } => (JCOND | K | JMP, 0, 0, off, 0),
        Insn::Call(c) => match c {
            Callee::Helper(id) => (CALL | K | JMP, 0, 0, 0, id),
            Callee::Local(imm) => (CALL | K | JMP, 0, 1, 0, imm),
            Callee::Kfunc { btf_id, off } => (CALL | K | JMP, 0, 2, off, btf_id),
        },
        Insn::CallX { dst } => (CALL | X | JMP, dst.num(), 0, 0, 0),
        Insn::Exit => (EXIT | K | JMP, 0, 0, 0, 0),
    }
}

#[inline]
fn slot_bytes(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [
        code,
        (src << 4) | (dst & 0x0f),
        o[0],
        o[1],
        i[0],
        i[1],
        i[2],
        i[3],
    ]
}

/// Encode instructions into little-endian bytes, 8 per slot.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * SLOT_SIZE + 8);
    for i in insns {
        i.encode_into(&mut out);
    }
    out
}

/// Why a slot could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeReason {
    /// The byte count is not a multiple of 8.
    #[error("{0} trailing bytes do not make a whole 8-byte slot")]
    TrailingBytes(usize),
    /// The opcode byte is not defined.
    #[error("opcode {0:#04x} is not defined")]
    UnknownOpcode(u8),
    /// A register field holds 11-15.
    #[error("{field} register field holds {value}, registers are r0-r10")]
    BadRegister {
        /// `dst` or `src`.
        field: &'static str,
        /// The value found.
        value: u8,
    },
    /// A field that must be zero for this opcode is not.
    #[error("opcode {code:#04x} ({what}) requires {field} = 0, found {value}")]
    ReservedField {
        /// The opcode.
        code: u8,
        /// What the opcode is.
        what: &'static str,
        /// The field name.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// A field holds a value the encoding does not define for this opcode.
    #[error("opcode {code:#04x} ({what}): {field} = {value} is not valid ({expected})")]
    BadField {
        /// The opcode.
        code: u8,
        /// What the opcode is.
        what: &'static str,
        /// The field name.
        field: &'static str,
        /// The value found.
        value: i64,
        /// What is allowed.
        expected: &'static str,
    },
    /// An `ld_imm64` is missing its second slot.
    #[error("ld_imm64 needs a second slot, but the input ends")]
    TruncatedLdImm64,
    /// The second slot of an `ld_imm64` has fields other than `imm` set.
    #[error("second slot of ld_imm64 must be zero except its imm, found opcode {code:#04x}, regs {regs:#04x}, off {off}")]
    BadLdImm64Tail {
        /// Opcode byte of the second slot.
        code: u8,
        /// Register byte of the second slot.
        regs: u8,
        /// Offset of the second slot.
        off: i16,
    },
}

/// A decoding failure: which slot, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("slot {slot}: {reason}")]
pub struct DecodeError {
    /// Slot index (byte offset / 8) of the offending instruction.
    pub slot: usize,
    /// What is wrong with it.
    pub reason: DecodeReason,
}

/// Decode little-endian bytes into instructions. Total: any input gives instructions or an
/// error naming the slot and the reason, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len() / SLOT_SIZE);
    for r in decode_iter(bytes) {
        out.push(r?.1);
    }
    Ok(out)
}

/// [`decode`] one instruction at a time, without collecting: each item is the slot an
/// instruction starts at and the instruction, or the error [`decode`] would return (the last
/// item then).
///
/// ```
/// use bpfsmith::insn::{decode_iter, encode, Insn, Pseudo, R1};
///
/// let ld = Insn::LdImm64 { dst: R1, pseudo: Pseudo::Imm, imm: 7 };
/// let bytes = encode(&[ld, Insn::Exit]);
/// let slots: Vec<usize> = decode_iter(&bytes).map(|r| r.unwrap().0).collect();
/// assert_eq!(slots, [0, 2]);
/// ```
pub fn decode_iter(bytes: &[u8]) -> Decoder<'_> {
    Decoder {
        bytes,
        slot: 0,
        done: false,
    }
}

/// The iterator of [`decode_iter`].
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
    slot: usize,
    done: bool,
}

impl Iterator for Decoder<'_> {
    type Item = Result<(usize, Insn), DecodeError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let whole = self.bytes.len() / SLOT_SIZE;
        if self.slot < whole {
            let slot = self.slot;
            return Some(match decode_at(self.bytes, slot) {
                Ok(insn) => {
                    self.slot += insn.slots();
                    Ok((slot, insn))
                }
                Err(e) => {
                    self.done = true;
                    Err(e)
                }
            });
        }
        self.done = true;
        (self.bytes.len() % SLOT_SIZE != 0).then_some(Err(DecodeError {
            slot: whole,
            reason: DecodeReason::TrailingBytes(self.bytes.len() % SLOT_SIZE),
        }))
    }
}

impl std::iter::FusedIterator for Decoder<'_> {}

/// Decode the one instruction that starts at `slot`. Total, like [`decode`].
// Inlined into the reader's and the listing's loops: called there, its result went through
// memory; `dis` of a 1M-instruction object ran 97M fewer instructions inlined (cachegrind).
#[inline]
pub fn decode_at(bytes: &[u8], slot: usize) -> Result<Insn, DecodeError> {
    let err = |reason| DecodeError { slot, reason };
    let s = read_slot(bytes, slot).ok_or_else(|| {
        err(DecodeReason::TrailingBytes(
            bytes.len().saturating_sub(slot.saturating_mul(SLOT_SIZE)),
        ))
    })?;
    // Only `ld_imm64` (class LD) has a second slot: reading it for every instruction cost
    // `dis` of a 1M-instruction object 30M instructions (cachegrind).
    let next = if s.code & 0x07 == LD {
        read_slot(bytes, slot + 1)
    } else {
        None
    };
    decode_slot(s, next).map_err(err)
}

#[derive(Clone, Copy)]
struct RawSlot {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

#[inline]
fn read_slot(bytes: &[u8], slot: usize) -> Option<RawSlot> {
    let start = slot.checked_mul(SLOT_SIZE)?;
    let b: &[u8; 8] = bytes
        .get(start..start.checked_add(SLOT_SIZE)?)?
        .try_into()
        .ok()?;
    Some(RawSlot {
        code: b[0],
        dst: b[1] & 0x0f,
        src: b[1] >> 4,
        off: i16::from_le_bytes([b[2], b[3]]),
        imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    })
}

struct Check {
    code: u8,
    what: &'static str,
}

impl Check {
    fn zero(&self, field: &'static str, value: i64) -> Result<(), DecodeReason> {
        if value == 0 {
            Ok(())
        } else {
            Err(DecodeReason::ReservedField {
                code: self.code,
                what: self.what,
                field,
                value,
            })
        }
    }

    fn bad(&self, field: &'static str, value: i64, expected: &'static str) -> DecodeReason {
        DecodeReason::BadField {
            code: self.code,
            what: self.what,
            field,
            value,
            expected,
        }
    }
}

fn reg(field: &'static str, value: u8) -> Result<Reg, DecodeReason> {
    Reg::from_num(value).ok_or(DecodeReason::BadRegister { field, value })
}

fn decode_slot(s: RawSlot, next: Option<RawSlot>) -> Result<Insn, DecodeReason> {
    let class = s.code & 0x07;
    match class {
        ALU | ALU64 => decode_alu(s),
        JMP | JMP32 => decode_jmp(s),
        LDX => {
            let mode = s.code & 0xe0;
            let size = Size::from_code(s.code);
            let sign = match mode {
                MODE_MEM => false,
                MODE_MEMSX if size != Size::U64 => true,
                _ => return Err(DecodeReason::UnknownOpcode(s.code)),
            };
            let c = Check {
                code: s.code,
                what: "load",
            };
            c.zero("imm", s.imm as i64)?;
            Ok(Insn::Load {
                size,
                sign,
                dst: reg("dst", s.dst)?,
                src: reg("src", s.src)?,
                off: s.off,
            })
        }
        ST => {
            if s.code & 0xe0 != MODE_MEM {
                return Err(DecodeReason::UnknownOpcode(s.code));
            }
            let c = Check {
                code: s.code,
                what: "store immediate",
            };
            c.zero("src", s.src as i64)?;
            Ok(Insn::StoreImm {
                size: Size::from_code(s.code),
                dst: reg("dst", s.dst)?,
                off: s.off,
                imm: s.imm,
            })
        }
        STX => {
            let size = Size::from_code(s.code);
            match s.code & 0xe0 {
                MODE_MEM => {
                    let c = Check {
                        code: s.code,
                        what: "store",
                    };
                    c.zero("imm", s.imm as i64)?;
                    Ok(Insn::Store {
                        size,
                        dst: reg("dst", s.dst)?,
                        off: s.off,
                        src: reg("src", s.src)?,
                    })
                }
                MODE_ATOMIC => {
                    let c = Check {
                        code: s.code,
                        what: "atomic",
                    };
                    let op = AtomicOp::from_imm(s.imm).ok_or_else(|| {
                        c.bad("imm", s.imm as i64, "an atomic operation: 0x00/0x40/0x50/0xa0 (+0x01 fetch), 0xe1 xchg, 0xf1 cmpxchg, 0x100 load_acquire, 0x110 store_release")
                    })?;
                    if !op.allows(size) {
                        return Err(c.bad(
                            "size",
                            size.bytes() as i64,
                            "read-modify-write atomics are 4 or 8 bytes",
                        ));
                    }
                    Ok(Insn::Atomic {
                        size,
                        op,
                        dst: reg("dst", s.dst)?,
                        src: reg("src", s.src)?,
                        off: s.off,
                    })
                }
                _ => Err(DecodeReason::UnknownOpcode(s.code)),
            }
        }
        _ => decode_ld(s, next),
    }
}

fn decode_ld(s: RawSlot, next: Option<RawSlot>) -> Result<Insn, DecodeReason> {
    let size = Size::from_code(s.code);
    match s.code & 0xe0 {
        MODE_IMM if size == Size::U64 => {
            let c = Check {
                code: s.code,
                what: "ld_imm64",
            };
            c.zero("off", s.off as i64)?;
            let pseudo = Pseudo::from_src(s.src)
                .ok_or_else(|| c.bad("src", s.src as i64, "a pseudo source 0-6"))?;
            let dst = reg("dst", s.dst)?;
            let n = next.ok_or(DecodeReason::TruncatedLdImm64)?;
            if n.code != 0 || n.dst != 0 || n.src != 0 || n.off != 0 {
                return Err(DecodeReason::BadLdImm64Tail {
                    code: n.code,
                    regs: n.src << 4 | n.dst,
                    off: n.off,
                });
            }
            let imm = ((n.imm as u32 as u64) << 32 | s.imm as u32 as u64) as i64;
            Ok(Insn::LdImm64 { dst, pseudo, imm })
        }
        mode @ (MODE_ABS | MODE_IND) if size != Size::U64 => {
            let c = Check {
                code: s.code,
                what: if mode == MODE_ABS { "ld_abs" } else { "ld_ind" },
            };
            c.zero("dst", s.dst as i64)?;
            c.zero("off", s.off as i64)?;
            if mode == MODE_ABS {
                c.zero("src", s.src as i64)?;
                Ok(Insn::LdAbs { size, imm: s.imm })
            } else {
                Ok(Insn::LdInd {
                    size,
                    src: reg("src", s.src)?,
                    imm: s.imm,
                })
            }
        }
        _ => Err(DecodeReason::UnknownOpcode(s.code)),
    }
}

fn decode_alu(s: RawSlot) -> Result<Insn, DecodeReason> {
    let width = if s.code & 0x07 == ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let op = s.code & 0xf0;
    let x = s.code & X != 0;
    let dst = reg("dst", s.dst)?;
    let c = Check {
        code: s.code,
        what: "alu",
    };
    match op {
        NEG => {
            if x {
                return Err(DecodeReason::UnknownOpcode(s.code));
            }
            c.zero("src", s.src as i64)?;
            c.zero("off", s.off as i64)?;
            c.zero("imm", s.imm as i64)?;
            Ok(Insn::Neg { width, dst })
        }
        END => {
            let kind = match (width, x) {
                (Width::W32, false) => Endian::ToLe,
                (Width::W32, true) => Endian::ToBe,
                (Width::W64, false) => Endian::Swap,
                (Width::W64, true) => return Err(DecodeReason::UnknownOpcode(s.code)),
            };
            c.zero("src", s.src as i64)?;
            c.zero("off", s.off as i64)?;
            if !matches!(s.imm, 16 | 32 | 64) {
                return Err(c.bad("imm", s.imm as i64, "16, 32 or 64"));
            }
            Ok(Insn::Endian {
                kind,
                bits: s.imm as u8,
                dst,
            })
        }
        0xe0 | 0xf0 => Err(DecodeReason::UnknownOpcode(s.code)),
        _ => {
            let op = match (op, s.off) {
                (0x30, 1) => AluOp::SDiv,
                (0x90, 1) => AluOp::SMod,
                (MOV, off) if x && off != 0 => {
                    let src = reg("src", s.src)?;
                    return match (width, off) {
                        (Width::W64, 1) => Ok(Insn::AddrSpaceCast {
                            dst,
                            src,
                            dst_as: (s.imm as u32 >> 16) as u16,
                            src_as: s.imm as u32 as u16,
                        }),
                        (Width::W64, 8 | 16 | 32) | (Width::W32, 8 | 16) => {
                            c.zero("imm", s.imm as i64)?;
                            Ok(Insn::MovSx {
                                width,
                                bits: off as u8,
                                dst,
                                src,
                            })
                        }
                        _ => Err(c.bad(
                            "off",
                            off as i64,
                            "0, or 8/16/32 for movsx (8/16 in 32 bits), or 1 for addr_space_cast",
                        )),
                    };
                }
                (_, 0) => match op {
                    0x00 => AluOp::Add,
                    0x10 => AluOp::Sub,
                    0x20 => AluOp::Mul,
                    0x30 => AluOp::Div,
                    0x40 => AluOp::Or,
                    0x50 => AluOp::And,
                    0x60 => AluOp::Lsh,
                    0x70 => AluOp::Rsh,
                    0x90 => AluOp::Mod,
                    0xa0 => AluOp::Xor,
                    0xb0 => AluOp::Mov,
                    _ => AluOp::Arsh,
                },
                (0x30 | 0x90, off) => {
                    return Err(c.bad("off", off as i64, "0 (unsigned) or 1 (signed)"))
                }
                (_, off) => return Err(c.zero("off", off as i64).unwrap_err()),
            };
            let src = if x {
                c.zero("imm", s.imm as i64)?;
                Operand::Reg(reg("src", s.src)?)
            } else {
                c.zero("src", s.src as i64)?;
                Operand::Imm(s.imm)
            };
            Ok(Insn::Alu {
                width,
                op,
                dst,
                src,
            })
        }
    }
}

fn decode_jmp(s: RawSlot) -> Result<Insn, DecodeReason> {
    let width = if s.code & 0x07 == JMP {
        Width::W64
    } else {
        Width::W32
    };
    let op = s.code & 0xf0;
    let x = s.code & X != 0;
    let c = Check {
        code: s.code,
        what: "jump",
    };
    match (op, width, x) {
        (JA, Width::W64, false) => {
            let c = Check { what: "goto", ..c };
            c.zero("dst", s.dst as i64)?;
            c.zero("src", s.src as i64)?;
            c.zero("imm", s.imm as i64)?;
            Ok(Insn::Ja { off: s.off })
        }
        (JA, Width::W32, false) => {
            let c = Check { what: "gotol", ..c };
            c.zero("dst", s.dst as i64)?;
            c.zero("src", s.src as i64)?;
            c.zero("off", s.off as i64)?;
            Ok(Insn::JaLong { imm: s.imm })
        }
        (JCOND, Width::W64, false) => {
            let c = Check {
                what: "may_goto",
                ..c
            };
            c.zero("dst", s.dst as i64)?;
            c.zero("src", s.src as i64)?;
            c.zero("imm", s.imm as i64)?;
            Ok(Insn::MayGoto { off: s.off })
        }
        (CALL, Width::W64, false) => {
            let c = Check { what: "call", ..c };
            c.zero("dst", s.dst as i64)?;
            let callee = match s.src {
                0 => {
                    c.zero("off", s.off as i64)?;
                    Callee::Helper(s.imm)
                }
                1 => {
                    c.zero("off", s.off as i64)?;
                    Callee::Local(s.imm)
                }
                2 => Callee::Kfunc {
                    btf_id: s.imm,
                    off: s.off,
                },
                v => {
                    return Err(c.bad(
                        "src",
                        v as i64,
                        "0 (helper), 1 (local function) or 2 (kfunc)",
                    ))
                }
            };
            Ok(Insn::Call(callee))
        }
        (CALL, Width::W64, true) => {
            let c = Check { what: "callx", ..c };
            c.zero("src", s.src as i64)?;
            c.zero("off", s.off as i64)?;
            c.zero("imm", s.imm as i64)?;
            Ok(Insn::CallX {
                dst: reg("dst", s.dst)?,
            })
        }
        (EXIT, Width::W64, false) => {
            let c = Check { what: "exit", ..c };
            c.zero("dst", s.dst as i64)?;
            c.zero("src", s.src as i64)?;
            c.zero("off", s.off as i64)?;
            c.zero("imm", s.imm as i64)?;
            Ok(Insn::Exit)
        }
        _ => {
            let cond = Cond::from_code(op).ok_or(DecodeReason::UnknownOpcode(s.code))?;
            let dst = reg("dst", s.dst)?;
            let src = if x {
                c.zero("imm", s.imm as i64)?;
                Operand::Reg(reg("src", s.src)?)
            } else {
                c.zero("src", s.src as i64)?;
                Operand::Imm(s.imm)
            };
            Ok(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: s.off,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape of instruction the type can hold (each variant over every enum field and
    /// edge values of the numeric ones): `validate` says exactly what decoding its own bytes
    /// says, the fast path included.
    #[test]
    fn validate_matches_the_round_trip() {
        let reference = |i: &Insn| match decode_at(&i.to_bytes(), 0) {
            Ok(back) if back == *i => Ok(()),
            Ok(_) => Err(DecodeReason::UnknownOpcode(i.to_bytes()[0])),
            Err(e) => Err(e.reason),
        };
        let imms = [0, 1, -1, 16, 32, 64, i32::MIN, i32::MAX];
        let offs = [0, 1, -1, 8, 16, 32, i16::MIN, i16::MAX];
        let bits: Vec<u8> = (0..=255).collect();
        let widths = [Width::W32, Width::W64];
        let (r, s) = (Reg::ALL[1], Reg::ALL[10]);
        let mut all = vec![Insn::Exit, Insn::CallX { dst: r }];
        for &w in &widths {
            all.push(Insn::Neg { width: w, dst: r });
            for op in AluOp::ALL {
                all.push(Insn::Alu {
                    width: w,
                    op,
                    dst: r,
                    src: Operand::Reg(s),
                });
                all.extend(imms.map(|i| Insn::Alu {
                    width: w,
                    op,
                    dst: r,
                    src: Operand::Imm(i),
                }));
            }
            for cond in Cond::ALL {
                for off in offs {
                    all.push(Insn::Jump {
                        width: w,
                        cond,
                        dst: r,
                        src: Operand::Reg(s),
                        off,
                    });
                    all.extend(imms.map(|i| Insn::Jump {
                        width: w,
                        cond,
                        dst: r,
                        src: Operand::Imm(i),
                        off,
                    }));
                }
            }
            all.extend(bits.iter().map(|&b| Insn::MovSx {
                width: w,
                bits: b,
                dst: r,
                src: s,
            }));
        }
        for kind in [Endian::ToLe, Endian::ToBe, Endian::Swap] {
            all.extend(bits.iter().map(|&b| Insn::Endian {
                kind,
                bits: b,
                dst: r,
            }));
        }
        for size in Size::ALL {
            for off in offs {
                all.push(Insn::Load {
                    size,
                    sign: false,
                    dst: r,
                    src: s,
                    off,
                });
                all.push(Insn::Load {
                    size,
                    sign: true,
                    dst: r,
                    src: s,
                    off,
                });
                all.push(Insn::Store {
                    size,
                    dst: r,
                    off,
                    src: s,
                });
                all.extend(imms.map(|imm| Insn::StoreImm {
                    size,
                    dst: r,
                    off,
                    imm,
                }));
                all.extend(AtomicOp::ALL.map(|op| Insn::Atomic {
                    size,
                    op,
                    dst: r,
                    src: s,
                    off,
                }));
            }
            all.extend(imms.map(|imm| Insn::LdAbs { size, imm }));
            all.extend(imms.map(|imm| Insn::LdInd { size, src: s, imm }));
        }
        for pseudo in Pseudo::ALL {
            for imm in [0, 1, -1, i64::MIN, i64::MAX, 0x1_2345_6789] {
                all.push(Insn::LdImm64 {
                    dst: r,
                    pseudo,
                    imm,
                });
            }
        }
        for (dst_as, src_as) in [(0, 0), (1, 0), (0, 1), (u16::MAX, u16::MAX)] {
            all.push(Insn::AddrSpaceCast {
                dst: r,
                src: s,
                dst_as,
                src_as,
            });
        }
        for off in offs {
            all.push(Insn::Ja { off });
            all.push(Insn::MayGoto { off });
        }
        for imm in imms {
            all.push(Insn::JaLong { imm });
            all.push(Insn::Call(Callee::Helper(imm)));
            all.push(Insn::Call(Callee::Local(imm)));
            all.extend(offs.map(|off| Insn::Call(Callee::Kfunc { btf_id: imm, off })));
        }
        let mut invalid = 0;
        for i in &all {
            assert_eq!(i.validate(), reference(i), "{i:?}");
            invalid += usize::from(i.validate().is_err());
        }
        // The enumeration reaches the invalid shapes, not only the valid ones.
        assert!(invalid > 1000, "{invalid} invalid of {}", all.len());
    }

    #[test]
    fn ld_imm64_takes_two_slots_and_splits_its_immediate() {
        let i = Insn::LdImm64 {
            dst: R0,
            pseudo: Pseudo::Imm,
            imm: 0x1_2345_6789,
        };
        let b = i.to_bytes();
        // Bytes as llvm-mc-22 assembles `r0 = 0x123456789 ll`.
        assert_eq!(
            b,
            [0x18, 0, 0, 0, 0x89, 0x67, 0x45, 0x23, 0, 0, 0, 0, 1, 0, 0, 0]
        );
        assert_eq!(decode(&b).unwrap(), vec![i]);
    }

    #[test]
    fn decode_names_the_slot() {
        let mov = Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: R0,
            src: Operand::Imm(1),
        };
        let mut b = encode(&[Insn::Exit, mov]);
        b[9] = 0x0b; // dst = r11 in slot 1
        let e = decode(&b).unwrap_err();
        assert_eq!(e.slot, 1);
        assert_eq!(
            e.reason,
            DecodeReason::BadRegister {
                field: "dst",
                value: 11
            }
        );
        assert_eq!(
            e.to_string(),
            "slot 1: dst register field holds 11, registers are r0-r10"
        );
    }

    /// Every instruction form, one of each kind, with the cpu version LLVM's BPF backend and
    /// the kernel's clang notes give it.
    fn cpu_versions() -> Vec<(Insn, u8)> {
        let alu = |width, op| Insn::Alu {
            width,
            op,
            dst: R1,
            src: Operand::Reg(R2),
        };
        let jump = |width, cond| Insn::Jump {
            width,
            cond,
            dst: R1,
            src: Operand::Imm(0),
            off: 0,
        };
        let atomic = |size, op| Insn::Atomic {
            size,
            op,
            dst: R1,
            src: R2,
            off: 0,
        };
        let mut v = Vec::new();
        for width in [Width::W32, Width::W64] {
            for op in AluOp::ALL {
                let want = if matches!(op, AluOp::SDiv | AluOp::SMod) {
                    4
                } else {
                    1
                };
                v.push((alu(width, op), want));
            }
            v.push((Insn::Neg { width, dst: R1 }, 1));
            for bits in [8, 16] {
                v.push((
                    Insn::MovSx {
                        width,
                        bits,
                        dst: R1,
                        src: R2,
                    },
                    4,
                ));
            }
        }
        for kind in [Endian::ToLe, Endian::ToBe] {
            v.push((
                Insn::Endian {
                    kind,
                    bits: 16,
                    dst: R1,
                },
                1,
            ));
        }
        for bits in [16, 32, 64] {
            v.push((
                Insn::Endian {
                    kind: Endian::Swap,
                    bits,
                    dst: R1,
                },
                4,
            ));
        }
        for size in Size::ALL {
            v.push((
                Insn::Load {
                    size,
                    sign: false,
                    dst: R1,
                    src: R2,
                    off: 0,
                },
                1,
            ));
            v.push((
                Insn::StoreImm {
                    size,
                    dst: R1,
                    off: 0,
                    imm: 0,
                },
                1,
            ));
            v.push((
                Insn::Store {
                    size,
                    dst: R1,
                    off: 0,
                    src: R2,
                },
                1,
            ));
            v.push((atomic(size, AtomicOp::LoadAcquire), 4));
            v.push((atomic(size, AtomicOp::StoreRelease), 4));
        }
        for size in [Size::U8, Size::U16, Size::U32] {
            v.push((
                Insn::Load {
                    size,
                    sign: true,
                    dst: R1,
                    src: R2,
                    off: 0,
                },
                4,
            ));
        }
        for size in [Size::U32, Size::U64] {
            for op in AtomicOp::ALL {
                let want = match op {
                    AtomicOp::Add { fetch: false } => 1,
                    AtomicOp::LoadAcquire | AtomicOp::StoreRelease => 4,
                    _ => 3,
                };
                v.push((atomic(size, op), want));
            }
        }
        for cond in Cond::ALL {
            let v2 = matches!(cond, Cond::Lt | Cond::Le | Cond::Slt | Cond::Sle);
            v.push((jump(Width::W64, cond), if v2 { 2 } else { 1 }));
            v.push((jump(Width::W32, cond), 3));
        }
        v.push((Insn::Ja { off: 0 }, 1));
        v.push((Insn::JaLong { imm: 0 }, 4));
        v.push((Insn::MayGoto { off: 0 }, 1));
        v.push((
            Insn::LdImm64 {
                dst: R1,
                pseudo: Pseudo::MapFd,
                imm: 3,
            },
            1,
        ));
        v.push((
            Insn::LdAbs {
                size: Size::U8,
                imm: 0,
            },
            1,
        ));
        v.push((
            Insn::LdInd {
                size: Size::U8,
                src: R2,
                imm: 0,
            },
            1,
        ));
        v.push((Insn::Call(Callee::Helper(87)), 1));
        v.push((Insn::Call(Callee::Local(1)), 1));
        v.push((
            Insn::AddrSpaceCast {
                dst: R1,
                src: R2,
                dst_as: 0,
                src_as: 1,
            },
            1,
        ));
        v.push((Insn::CallX { dst: R1 }, 1));
        v.push((Insn::Exit, 1));
        v
    }

    #[test]
    fn cpu_versions_follow_llvm_and_the_kernel() {
        for (insn, want) in cpu_versions() {
            assert_eq!(insn.cpu_version(), want, "{insn:?}");
        }
    }

    #[test]
    fn cpu_v4_is_exactly_the_opcodes_linux_6_1_does_not_know() {
        // What Linux 6.1 refuses of the conformance suite, by the fields that make the
        // instruction v4: an `off` of 1 on div/mod, an `off` on mov, mode MEMSX, BPF_END in
        // ALU64, JA in JMP32, and the atomic immediates 0x100 / 0x110.
        for (insn, want) in cpu_versions() {
            let (code, _, _, off, imm) = insn.fields();
            let class = code & 0x07;
            let op = code & 0xf0;
            let v4 = (matches!(class, ALU | ALU64) && matches!(op, 0x30 | 0x90) && off == 1)
                || (matches!(class, ALU | ALU64) && op == MOV && off != 0 && imm == 0)
                || (class == LDX && code & 0xe0 == MODE_MEMSX)
                || (class == ALU64 && op == END)
                || (class == JMP32 && op == JA)
                || (class == STX && code & 0xe0 == MODE_ATOMIC && imm >= 0x100);
            assert_eq!(v4, want == 4, "{insn:?}");
        }
    }

    #[test]
    fn kernel_releases_follow_the_versions() {
        for (insn, version) in cpu_versions() {
            let since = insn.since_linux();
            match insn {
                Insn::CallX { .. } => assert_eq!(since, None),
                Insn::MayGoto { .. } | Insn::AddrSpaceCast { .. } => {
                    assert_eq!(since, Some((6, 9)))
                }
                Insn::Call(Callee::Local(_)) => assert_eq!(since, Some((4, 16))),
                Insn::Atomic {
                    op: AtomicOp::LoadAcquire | AtomicOp::StoreRelease,
                    ..
                } => assert_eq!(since, Some((6, 15))),
                Insn::Atomic { .. } if version == 3 => assert_eq!(since, Some((5, 12))),
                _ => {
                    let want = [(3, 18), (4, 14), (5, 1), (6, 6)][version as usize - 1];
                    assert_eq!(since, Some(want), "{insn:?}");
                }
            }
        }
        let ld = |pseudo| {
            Insn::LdImm64 {
                dst: R1,
                pseudo,
                imm: 0,
            }
            .since_linux()
        };
        assert_eq!(ld(Pseudo::Imm), Some((3, 18)));
        assert_eq!(ld(Pseudo::MapValue), Some((5, 2)));
        assert_eq!(ld(Pseudo::BtfId), Some((5, 10)));
        assert_eq!(ld(Pseudo::Func), Some((5, 13)));
        assert_eq!(ld(Pseudo::MapIdx), Some((5, 14)));
        let kfunc = Insn::Call(Callee::Kfunc { btf_id: 1, off: 0 });
        assert_eq!(
            (kfunc.cpu_version(), kfunc.since_linux()),
            (1, Some((5, 13)))
        );
    }

    #[test]
    fn truncated_inputs_are_errors() {
        let b = Insn::LdImm64 {
            dst: R1,
            pseudo: Pseudo::MapFd,
            imm: 3,
        }
        .to_bytes();
        assert_eq!(
            decode(&b[..8]).unwrap_err().reason,
            DecodeReason::TruncatedLdImm64
        );
        assert_eq!(
            decode(&b[..12]).unwrap_err().reason,
            DecodeReason::TruncatedLdImm64
        );
        assert_eq!(
            decode(&b[..3]).unwrap_err(),
            DecodeError {
                slot: 0,
                reason: DecodeReason::TrailingBytes(3)
            }
        );
    }
}
