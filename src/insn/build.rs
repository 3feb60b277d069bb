//! Instructions as values: `Insn::mov(R0, 0)`, `Insn::add(W1, W2)`, `Insn::call(87)`.
//!
//! The first register decides the width, as in the kernel's and LLVM's syntax: `rN`
//! ([`Reg`]) is a 64-bit operation (`ALU64`, `JMP`), `wN` ([`WReg`]) a 32-bit one (`ALU`,
//! `JMP32`). The second operand is a register of the same view or a 32-bit immediate
//! ([`Src`]). The [`crate::program::ProgramBuilder`] methods of the same names emit these
//! values (with a source location, and labels instead of offsets).
//!
//! ```
//! use bpfsmith::insn::{encode, AluOp, Cond, Insn, Operand, Size, Width, R0, R1, R10, W0};
//!
//! assert_eq!(
//!     Insn::add(W0, 3),
//!     Insn::Alu { width: Width::W32, op: AluOp::Add, dst: R0, src: Operand::Imm(3) }
//! );
//! let prog = [
//!     Insn::mov(R0, 0),                        // r0 = 0
//!     Insn::load(Size::U32, R1, R10, -4),      // r1 = *(u32 *)(r10 - 4)
//!     Insn::jump(Cond::Eq, R1, 0, 1),          // if r1 == 0 goto +1
//!     Insn::mov(R0, 1),                        // r0 = 1
//!     Insn::exit(),                            // return r0
//! ];
//! assert_eq!(encode(&prog).len(), 5 * 8);
//! ```

use super::{AluOp, AtomicOp, Callee, Cond, Insn, Operand, Pseudo, Reg, Size, WReg, Width};
use crate::helpers::Helper;

/// A register view that selects the operand width: [`Reg`] (`rN`, 64-bit) or [`WReg`]
/// (`wN`, 32-bit).
pub trait View: Copy {
    /// The width of operations on this view.
    const WIDTH: Width;
    /// The underlying register.
    fn reg(self) -> Reg;
}

impl View for Reg {
    const WIDTH: Width = Width::W64;
    fn reg(self) -> Reg {
        self
    }
}

impl View for WReg {
    const WIDTH: Width = Width::W32;
    fn reg(self) -> Reg {
        self.0
    }
}

/// The second operand of an ALU operation or a jump, of the same width as the first: a register
/// view or an immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src<V> {
    /// A register of the same view.
    Reg(V),
    /// A 32-bit immediate.
    Imm(i32),
}

impl<V: View> From<i32> for Src<V> {
    fn from(i: i32) -> Self {
        Src::Imm(i)
    }
}

impl From<Reg> for Src<Reg> {
    fn from(r: Reg) -> Self {
        Src::Reg(r)
    }
}

impl From<WReg> for Src<WReg> {
    fn from(r: WReg) -> Self {
        Src::Reg(r)
    }
}

impl<V: View> Src<V> {
    /// The operand as the instruction encodes it.
    pub fn operand(self) -> Operand {
        match self {
            Src::Reg(v) => Operand::Reg(v.reg()),
            Src::Imm(i) => Operand::Imm(i),
        }
    }
}

/// What `call` calls: a helper by [`Helper`] or by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperId(pub i32);

impl From<Helper> for HelperId {
    fn from(h: Helper) -> Self {
        HelperId(h.id() as i32)
    }
}

impl From<i32> for HelperId {
    fn from(n: i32) -> Self {
        HelperId(n)
    }
}

impl From<u32> for HelperId {
    fn from(n: u32) -> Self {
        HelperId(n as i32)
    }
}

/// A stored value: a register (`STX`) or a 32-bit immediate (`ST`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// `*(size *)(base + off) = src`.
    Reg(Reg),
    /// `*(size *)(base + off) = imm`.
    Imm(i32),
}

impl From<Reg> for Stored {
    fn from(r: Reg) -> Self {
        Stored::Reg(r)
    }
}

impl From<i32> for Stored {
    fn from(i: i32) -> Self {
        Stored::Imm(i)
    }
}

impl Insn {
    /// `dst op= src` at the width of `dst`.
    pub fn alu<V: View>(op: AluOp, dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::Alu {
            width: V::WIDTH,
            op,
            dst: dst.reg(),
            src: src.into().operand(),
        }
    }

    /// `dst = src`.
    pub fn mov<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Mov, dst, src)
    }

    /// `dst += src`.
    pub fn add<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Add, dst, src)
    }

    /// `dst -= src`.
    pub fn sub<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Sub, dst, src)
    }

    /// `dst *= src`.
    pub fn mul<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Mul, dst, src)
    }

    /// `dst /= src`, unsigned (division by zero gives 0).
    pub fn div<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Div, dst, src)
    }

    /// `dst &= src`.
    pub fn and<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::And, dst, src)
    }

    /// `dst |= src`.
    pub fn or<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Or, dst, src)
    }

    /// `dst ^= src`.
    pub fn xor<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Xor, dst, src)
    }

    /// `dst <<= src`.
    pub fn lsh<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Lsh, dst, src)
    }

    /// `dst >>= src`, logical.
    pub fn rsh<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Rsh, dst, src)
    }

    /// `dst s>>= src`, arithmetic.
    pub fn arsh<V: View>(dst: V, src: impl Into<Src<V>>) -> Insn {
        Insn::alu(AluOp::Arsh, dst, src)
    }

    /// `dst = -dst`.
    pub fn neg<V: View>(dst: V) -> Insn {
        Insn::Neg {
            width: V::WIDTH,
            dst: dst.reg(),
        }
    }

    /// `dst = imm ll`: a 64-bit constant (two slots).
    pub fn ld_imm64(dst: Reg, imm: i64) -> Insn {
        Insn::LdImm64 {
            dst,
            pseudo: Pseudo::Imm,
            imm,
        }
    }

    /// `dst = *(size *)(base + off)`.
    pub fn load(size: Size, dst: Reg, base: Reg, off: i16) -> Insn {
        Insn::Load {
            size,
            sign: false,
            dst,
            src: base,
            off,
        }
    }

    /// `dst = *(s8/s16/s32 *)(base + off)`: a sign-extending load (cpu v4; no 64-bit size).
    pub fn load_sx(size: Size, dst: Reg, base: Reg, off: i16) -> Insn {
        Insn::Load {
            size,
            sign: true,
            dst,
            src: base,
            off,
        }
    }

    /// `*(size *)(base + off) = value`: a register (`STX`) or an immediate (`ST`).
    pub fn store(size: Size, base: Reg, off: i16, value: impl Into<Stored>) -> Insn {
        match value.into() {
            Stored::Reg(src) => Insn::Store {
                size,
                dst: base,
                off,
                src,
            },
            Stored::Imm(imm) => Insn::StoreImm {
                size,
                dst: base,
                off,
                imm,
            },
        }
    }

    /// An atomic operation on `*(size *)(base + off)` with `src`.
    pub fn atomic(size: Size, op: AtomicOp, base: Reg, off: i16, src: Reg) -> Insn {
        Insn::Atomic {
            size,
            op,
            dst: base,
            src,
            off,
        }
    }

    /// `if dst cond src goto +off` at the width of `dst` (`JMP` or `JMP32`); `off` counts
    /// slots from the next instruction.
    pub fn jump<V: View>(cond: Cond, dst: V, src: impl Into<Src<V>>, off: i16) -> Insn {
        Insn::Jump {
            width: V::WIDTH,
            cond,
            dst: dst.reg(),
            src: src.into().operand(),
            off,
        }
    }

    /// `goto +off`.
    pub fn goto(off: i16) -> Insn {
        Insn::Ja { off }
    }

    /// `call` a helper, by [`Helper`] or by number.
    pub fn call(helper: impl Into<HelperId>) -> Insn {
        Insn::Call(Callee::Helper(helper.into().0))
    }

    /// `exit`: return `r0`.
    pub fn exit() -> Insn {
        Insn::Exit
    }
}
