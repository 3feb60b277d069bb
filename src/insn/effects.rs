//! What an instruction reads and writes: [`Insn::uses`], [`Insn::defs`] and
//! [`Insn::mem_access`], following RFC 9669 and the kernel's verifier.
//!
//! The virtual machine, the lints and the verifier viewer share these answers, so the calling
//! convention lives here once: a call reads its arguments `r1`-`r5` (as many as the helper
//! takes, when the helper table knows its arguments) and clobbers `r0`-`r5`; `r6`-`r9` and
//! `r10` survive it.

use super::{AtomicOp, Callee, Insn, Operand, Reg, Size};
use crate::helpers::Helper;

/// A set of registers that keeps the order in which an instruction names them (operands
/// before implicit registers), without repeats.
///
/// ```
/// use bpfsmith::insn::{Insn, Size, R1, R10};
///
/// // *(u32 *)(r10 - 4) = r1 reads its base first, then the stored register.
/// let store = Insn::store(Size::U32, R10, -4, R1);
/// assert_eq!(store.uses().iter().collect::<Vec<_>>(), [R10, R1]);
/// assert!(store.defs().is_empty());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Regs {
    order: [u8; 11],
    len: u8,
    mask: u16,
}

impl Default for Regs {
    fn default() -> Self {
        Regs::EMPTY
    }
}

impl Regs {
    /// No register.
    pub const EMPTY: Regs = Regs {
        order: [0; 11],
        len: 0,
        mask: 0,
    };

    /// The registers of `regs` in that order, repeats dropped.
    pub fn of(regs: &[Reg]) -> Regs {
        let mut s = Regs::EMPTY;
        for &r in regs {
            s.insert(r);
        }
        s
    }

    /// `r1` to `rN` (`n` at most 5): the arguments of a call that takes `n`.
    fn args(n: usize) -> Regs {
        Regs::of(&Reg::ALL[1..=n.min(5)])
    }

    /// Add `r` at the end, unless it is already there.
    pub fn insert(&mut self, r: Reg) {
        if !self.contains(r) {
            self.order[self.len as usize] = r.num();
            self.len += 1;
            self.mask |= 1 << r.num();
        }
    }

    /// Whether `r` is in the set.
    #[inline]
    pub fn contains(&self, r: Reg) -> bool {
        self.mask & (1 << r.num()) != 0
    }

    /// How many registers.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The registers as a bit mask: bit `n` for `rN`.
    pub fn mask(&self) -> u16 {
        self.mask
    }

    /// The registers in the order the instruction names them.
    pub fn iter(&self) -> impl Iterator<Item = Reg> + '_ {
        self.order[..self.len as usize]
            .iter()
            .filter_map(|&n| Reg::from_num(n))
    }
}

impl std::fmt::Debug for Regs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A memory access through a register: `*(size *)(base + off)`. Only accesses whose address
/// the instruction names are described; the legacy packet loads (`LdAbs`, `LdInd`) read the
/// packet through the context and have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemAccess {
    /// The base register.
    pub base: Reg,
    /// The offset from it.
    pub off: i16,
    /// The access size.
    pub size: Size,
    /// Whether memory is read (loads, atomics but store-release).
    pub read: bool,
    /// Whether memory is written (stores, atomics but load-acquire).
    pub write: bool,
}

/// The registers a call of helper `id` reads: its described arguments, or all five.
fn helper_args(id: i32) -> Regs {
    let args = u32::try_from(id)
        .ok()
        .and_then(Helper::from_id)
        .and_then(|h| h.info().args);
    Regs::args(args.map_or(5, <[_]>::len))
}

/// `r0`-`r5`: what a call (and a legacy packet load, which the kernel runs as one) leaves
/// unreadable or, for `r0`, holding the result.
const CALL_CLOBBERED: Regs = Regs {
    order: [0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0],
    len: 6,
    mask: 0b11_1111,
};

impl Insn {
    /// The registers the instruction reads, in the order it names them.
    ///
    /// - ALU: the source register, and the destination unless the operation is `mov`;
    ///   `neg` and the byte swaps read their register; `movsx` and `addr_space_cast` their
    ///   source.
    /// - Loads read the base, stores the base and the stored register; atomics the base and
    ///   `src`, `cmpxchg` also `r0` (the expected value); `load_acquire` reads only its base
    ///   (`src`).
    /// - `ld_imm64` reads nothing; the legacy packet loads read `r6` (the context, implicitly)
    ///   and, for `LdInd`, the offset register.
    /// - Conditional jumps read their operands; `goto`, `gotol` and `may_goto` nothing.
    /// - A helper call reads `r1`..`rN` for a helper of `N` arguments when the helper table
    ///   describes it, else all of `r1`-`r5`, as do bpf-to-bpf and kfunc calls (whose arity
    ///   the instruction does not carry); `callx` reads its target register too.
    /// - `exit` reads `r0`, the return value.
    ///
    /// ```
    /// use bpfsmith::helpers::Helper;
    /// use bpfsmith::insn::{Insn, Regs, R0, R1, R2, R3};
    ///
    /// // bpf_map_push_elem(map, value, flags): three arguments.
    /// assert_eq!(Insn::call(Helper::MapPushElem).uses(), Regs::of(&[R1, R2, R3]));
    /// assert_eq!(Insn::exit().uses(), Regs::of(&[R0]));
    /// assert_eq!(Insn::add(R1, R2).uses(), Regs::of(&[R1, R2]));
    /// assert_eq!(Insn::mov(R1, R2).uses(), Regs::of(&[R2]));
    /// ```
    pub fn uses(&self) -> Regs {
        let mut u = Regs::EMPTY;
        match *self {
            Insn::Alu { op, dst, src, .. } => {
                if op != super::AluOp::Mov {
                    u.insert(dst);
                }
                if let Operand::Reg(s) = src {
                    u.insert(s);
                }
            }
            Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => u.insert(dst),
            Insn::MovSx { src, .. } | Insn::AddrSpaceCast { src, .. } => u.insert(src),
            Insn::Load { src, .. } => u.insert(src),
            Insn::StoreImm { dst, .. } => u.insert(dst),
            Insn::Store { dst, src, .. } => {
                u.insert(dst);
                u.insert(src);
            }
            Insn::Atomic { op, dst, src, .. } => match op {
                AtomicOp::LoadAcquire => u.insert(src),
                _ => {
                    u.insert(dst);
                    u.insert(src);
                    if op == AtomicOp::CmpXchg {
                        u.insert(Reg::R0);
                    }
                }
            },
            Insn::LdImm64 { .. } => {}
            Insn::LdAbs { .. } => u.insert(Reg::R6),
            Insn::LdInd { src, .. } => {
                u.insert(Reg::R6);
                u.insert(src);
            }
            Insn::Jump { dst, src, .. } => {
                u.insert(dst);
                if let Operand::Reg(s) = src {
                    u.insert(s);
                }
            }
            Insn::Ja { .. } | Insn::JaLong { .. } | Insn::MayGoto { .. } => {}
            Insn::Call(Callee::Helper(id)) => u = helper_args(id),
            Insn::Call(_) => u = Regs::args(5),
            Insn::CallX { dst } => {
                u.insert(dst);
                for r in Regs::args(5).iter() {
                    u.insert(r);
                }
            }
            Insn::Exit => u.insert(Reg::R0),
        }
        u
    }

    /// The registers the instruction writes (or, for a call, leaves unreadable).
    ///
    /// - ALU, `movsx`, `addr_space_cast`, byte swaps, loads and `ld_imm64`: their
    ///   destination.
    /// - Atomics with `BPF_FETCH` (the fetching add/or/and/xor and `xchg`) write the old
    ///   value to `src`; `cmpxchg` writes it to `r0`; `load_acquire` writes its destination;
    ///   the others and `store_release` write no register.
    /// - Calls of every kind, and the legacy packet loads, write `r0` and clobber `r1`-`r5`.
    /// - Stores, jumps and `exit` write none.
    ///
    /// ```
    /// use bpfsmith::insn::{AtomicOp, Insn, Regs, Size, R0, R1, R2, R3, R4, R5, R10};
    ///
    /// let fetch_add = Insn::atomic(Size::U64, AtomicOp::Add { fetch: true }, R10, -8, R1);
    /// assert_eq!(fetch_add.defs(), Regs::of(&[R1]));
    /// let cmpxchg = Insn::atomic(Size::U64, AtomicOp::CmpXchg, R10, -8, R1);
    /// assert_eq!(cmpxchg.defs(), Regs::of(&[R0]));
    /// assert_eq!(Insn::call(87).defs(), Regs::of(&[R0, R1, R2, R3, R4, R5]));
    /// assert!(Insn::exit().defs().is_empty());
    /// ```
    pub fn defs(&self) -> Regs {
        match *self {
            Insn::Alu { dst, .. }
            | Insn::Neg { dst, .. }
            | Insn::MovSx { dst, .. }
            | Insn::AddrSpaceCast { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::Load { dst, .. }
            | Insn::LdImm64 { dst, .. } => Regs::of(&[dst]),
            Insn::Atomic { op, dst, src, .. } => match op {
                AtomicOp::Add { fetch }
                | AtomicOp::Or { fetch }
                | AtomicOp::And { fetch }
                | AtomicOp::Xor { fetch } => {
                    if fetch {
                        Regs::of(&[src])
                    } else {
                        Regs::EMPTY
                    }
                }
                AtomicOp::Xchg => Regs::of(&[src]),
                AtomicOp::CmpXchg => Regs::of(&[Reg::R0]),
                AtomicOp::LoadAcquire => Regs::of(&[dst]),
                AtomicOp::StoreRelease => Regs::EMPTY,
            },
            Insn::LdAbs { .. } | Insn::LdInd { .. } | Insn::Call(_) | Insn::CallX { .. } => {
                CALL_CLOBBERED
            }
            Insn::StoreImm { .. }
            | Insn::Store { .. }
            | Insn::Jump { .. }
            | Insn::Ja { .. }
            | Insn::JaLong { .. }
            | Insn::MayGoto { .. }
            | Insn::Exit => Regs::EMPTY,
        }
    }

    /// The memory the instruction reads or writes through a register, if any.
    ///
    /// ```
    /// use bpfsmith::insn::{Insn, MemAccess, Size, R0, R1};
    ///
    /// let load = Insn::load(Size::U32, R0, R1, 8);
    /// let m = MemAccess { base: R1, off: 8, size: Size::U32, read: true, write: false };
    /// assert_eq!(load.mem_access(), Some(m));
    /// ```
    pub fn mem_access(&self) -> Option<MemAccess> {
        let (base, off, size, read, write) = match *self {
            Insn::Load { size, src, off, .. } => (src, off, size, true, false),
            Insn::StoreImm { size, dst, off, .. } | Insn::Store { size, dst, off, .. } => {
                (dst, off, size, false, true)
            }
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => match op {
                AtomicOp::LoadAcquire => (src, off, size, true, false),
                AtomicOp::StoreRelease => (dst, off, size, false, true),
                _ => (dst, off, size, true, true),
            },
            _ => return None,
        };
        Some(MemAccess {
            base,
            off,
            size,
            read,
            write,
        })
    }
}
