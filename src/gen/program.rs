//! Building one random program that the verifier accepts by construction.
//!
//! The builder tracks what the verifier tracks, in the simplest form that keeps every program
//! valid: which registers hold an initialised scalar (never a pointer: pointers live only in
//! `r1`-`r2` just before a helper call and in `r0` inside a null-checked lookup block), and
//! which bytes of the frame have been written. Every read picks from those sets; a read that
//! finds nothing initialised writes first. Where two paths join (after a skipped block, an
//! if/else, a lookup's null check), what one path wrote and the other did not is also written
//! before the branch, so that it stays readable after the join and the final fold sees it.

use super::rng::Rng;
use super::{Isa, MapKind};
use crate::helpers::Helper;
use crate::insn::{AluOp, AtomicOp, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width};

/// One line of the program body.
#[derive(Clone, Debug)]
enum Line {
    /// An instruction printed as LLVM prints it.
    I(Insn),
    /// `if dst cond src goto L<n>`.
    If {
        width: Width,
        cond: Cond,
        dst: Reg,
        src: Operand,
        to: u32,
    },
    /// `goto L<n>` or `gotol L<n>`.
    Goto { to: u32, long: bool },
    /// `L<n>:`.
    Label(u32),
    /// `rN = MAP ll`.
    LdMap { dst: Reg, map: usize },
    /// `call bpf_...`.
    Helper(Helper),
    /// `call fn<n>`.
    CallFn(usize),
    /// `# text` (not an instruction).
    Comment(String),
}

/// A map of the program.
#[derive(Clone, Debug)]
pub(crate) struct MapSpec {
    pub(crate) name: String,
    pub(crate) kind: MapKind,
    pub(crate) key_size: u32,
    pub(crate) value_size: u32,
    pub(crate) max_entries: u32,
}

impl MapSpec {
    fn directive(&self) -> String {
        match self.kind {
            MapKind::Queue | MapKind::Stack => format!(
                ".map {}, type={}, value_size={}, max_entries={}",
                self.name,
                self.kind.name(),
                self.value_size,
                self.max_entries
            ),
            MapKind::Array | MapKind::Hash => format!(
                ".map {}, type={}, key_size={}, value_size={}, max_entries={}",
                self.name,
                self.kind.name(),
                self.key_size,
                self.value_size,
                self.max_entries
            ),
        }
    }

    fn fifo(&self) -> bool {
        self.kind.fifo()
    }
}

/// What the verifier knows about one frame, as far as validity needs: initialised scalar
/// registers (bit n = rn) and initialised stack bytes (`stack[k]`: the byte at `r10 - k`).
#[derive(Clone, Debug)]
struct Frame {
    init: u16,
    stack: Vec<bool>,
}

impl Frame {
    fn new(args: u16, limit: usize) -> Frame {
        Frame {
            init: args,
            stack: vec![false; limit + 1],
        }
    }

    fn limit(&self) -> usize {
        self.stack.len() - 1
    }

    fn is_init(&self, r: Reg) -> bool {
        self.init & (1 << r.num()) != 0
    }

    /// Whether the `size` bytes at `r10 - off` are all written.
    fn bytes_init(&self, off: usize, size: usize) -> bool {
        (off + 1 - size..=off).all(|k| self.stack[k])
    }

    fn write_bytes(&mut self, off: usize, size: usize) {
        for k in off + 1 - size..=off {
            self.stack[k] = true;
        }
    }

    /// Keep only what both paths initialised.
    /// Registers `regs` and the 8-byte words at `words` written too.
    fn add(&mut self, regs: u16, words: &[usize]) {
        self.init |= regs;
        for &w in words {
            self.write_bytes(w, 8);
        }
    }

    fn meet(&mut self, other: &Frame) {
        self.init &= other.init;
        for (a, b) in self.stack.iter_mut().zip(&other.stack) {
            *a = *a && *b;
        }
    }
}

/// The state where a branch leaves: the index of its `if` line, the frame, the calls so far.
struct Fork {
    at: usize,
    frame: Frame,
    calls: u32,
    r0_result: bool,
}

/// A generated bpf-to-bpf function.
struct Func {
    nargs: u8,
    lines: Vec<Line>,
}

/// Registers r0-r9 as a mask.
const ALL_REGS: u16 = 0x3ff;
/// r0-r5: what a call leaves uninitialised (r0 then holds the result).
const CALLER_SAVED: u16 = 0x3f;
/// The fold's accumulator in the main program's epilogue.
const ACC: Reg = Reg::R6;
/// The fold's multiplier: odd, so that multiplying loses nothing.
const MIX: i32 = 0x0100_0193;

/// The builder of one program.
pub(crate) struct Builder<'a> {
    rng: &'a mut Rng,
    isa: Isa,
    pub(crate) maps: Vec<MapSpec>,
    funcs: Vec<Func>,
    lines: Vec<Line>,
    frame: Frame,
    /// Registers nothing may write (a loop counter, the lookup pointer in r0).
    reserved: u16,
    next_label: u32,
    /// Whether this is the main program (it may call functions and loop).
    main: bool,
    /// Remaining conditional blocks allowed, to keep the verifier's paths few.
    branches: u32,
    loops: u32,
    /// The functions called so far (bit n: fn<n>); every one is called before the end.
    called: u32,
    /// Calls emitted so far (helpers and functions), to tell whether a branch has one.
    calls: u32,
    /// Whether r0 may still hold a call's result, on some path: a branch on it then
    /// compares its low 32 bits, the portable check of a helper's result.
    r0_result: bool,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(rng: &'a mut Rng, isa: Isa, maps: Vec<MapSpec>) -> Builder<'a> {
        Builder {
            rng,
            isa,
            maps,
            funcs: Vec::new(),
            lines: Vec::new(),
            frame: Frame::new(0, 0),
            reserved: 0,
            next_label: 0,
            main: true,
            branches: 0,
            loops: 0,
            called: 0,
            calls: 0,
            r0_result: false,
        }
    }

    fn v4(&self) -> bool {
        self.isa == Isa::V4
    }

    fn emit(&mut self, i: Insn) {
        if i.defs().contains(Reg::R0) {
            self.r0_result = false;
        }
        self.lines.push(Line::I(i));
    }

    /// `dst op= src`, 64 bits.
    fn alu64(&mut self, op: AluOp, dst: Reg, src: Operand) {
        self.emit(Insn::Alu {
            width: Width::W64,
            op,
            dst,
            src,
        });
    }

    fn label(&mut self) -> u32 {
        self.next_label += 1;
        self.next_label
    }

    /// Instructions in the current function so far.
    fn count(&self) -> usize {
        count_insns(&self.lines)
    }

    fn reg(n: u8) -> Reg {
        // n is always 0..=9 here.
        Reg::from_num(n).unwrap_or(Reg::R0)
    }

    fn regs_in(mask: u16) -> Vec<Reg> {
        (0..10u8)
            .filter(|n| mask & (1 << n) != 0)
            .map(Self::reg)
            .collect()
    }

    fn set_init(&mut self, r: Reg) {
        self.frame.init |= 1 << r.num();
    }

    /// An initialised scalar register to read (writing one first if there is none).
    fn src(&mut self) -> Reg {
        self.initialised(self.frame.init, 12)
    }

    /// An initialised scalar register that may also be written.
    fn src_dst(&mut self) -> Reg {
        self.initialised(self.frame.init & !self.reserved, 16)
    }

    /// One of the registers of `mask`; a fresh one given a value when there is none, and
    /// once in `fresh` times anyway, so that constants keep flowing in.
    fn initialised(&mut self, mask: u16, fresh: u64) -> Reg {
        let ready = Self::regs_in(mask);
        if ready.is_empty() || self.rng.chance(1, fresh) {
            let r = self.dst();
            self.init_reg(r);
            return r;
        }
        self.rng.pick(&ready)
    }

    /// A register the instruction reads, writes, or both.
    fn operand(&mut self, reads: bool, writes: bool) -> Reg {
        match (reads, writes) {
            (true, true) => self.src_dst(),
            (true, false) => self.src(),
            _ => self.dst(),
        }
    }

    /// Any register that may be written.
    fn dst(&mut self) -> Reg {
        let free = Self::regs_in(ALL_REGS & !self.reserved);
        self.rng.pick(&free)
    }

    /// Give `r` a value: a 32-bit or 64-bit immediate, or a copy.
    fn init_reg(&mut self, r: Reg) {
        match self.rng.below(4) {
            0 => {
                let imm = self.rng.imm64();
                self.emit(Insn::LdImm64 {
                    dst: r,
                    pseudo: Pseudo::Imm,
                    imm,
                })
            }
            1 => {
                let imm = self.rng.imm32();
                self.emit(Insn::Alu {
                    width: Width::W32,
                    op: AluOp::Mov,
                    dst: r,
                    src: Operand::Imm(imm),
                })
            }
            _ => {
                let imm = self.rng.imm32();
                self.alu64(AluOp::Mov, r, Operand::Imm(imm))
            }
        }
        self.set_init(r);
    }

    fn width(&mut self) -> Width {
        if self.rng.chance(1, 2) {
            Width::W64
        } else {
            Width::W32
        }
    }

    // ---------------------------------------------------------------------------------------
    // Straight-line blocks
    // ---------------------------------------------------------------------------------------

    /// One ALU operation, either width, immediate or register source.
    fn alu(&mut self) {
        let mut ops = vec![
            AluOp::Add,
            AluOp::Sub,
            AluOp::Mul,
            AluOp::Div,
            AluOp::Mod,
            AluOp::Or,
            AluOp::And,
            AluOp::Xor,
            AluOp::Lsh,
            AluOp::Rsh,
            AluOp::Arsh,
            AluOp::Mov,
        ];
        if self.v4() {
            ops.extend([AluOp::SDiv, AluOp::SMod]);
        }
        let op = self.rng.pick(&ops);
        let width = self.width();
        let bits: i64 = match width {
            Width::W64 => 64,
            Width::W32 => 32,
        };
        let shift = matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh);
        let src = if self.rng.chance(1, 2) {
            // A register: shift amounts are masked to the width first.
            let s = if shift { self.src_dst() } else { self.src() };
            if shift {
                self.emit(Insn::Alu {
                    width,
                    op: AluOp::And,
                    dst: s,
                    src: Operand::Imm(bits as i32 - 1),
                });
            }
            Operand::Reg(s)
        } else if shift {
            Operand::Imm(self.rng.range(0, bits - 1) as i32)
        } else if matches!(op, AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod) {
            // Division by an immediate 0 is refused; by a register holding 0 it is defined.
            let v = self.rng.imm32();
            Operand::Imm(if v == 0 { 3 } else { v })
        } else {
            Operand::Imm(self.rng.imm32())
        };
        let dst = self.operand(op != AluOp::Mov, true);
        self.emit(Insn::Alu {
            width,
            op,
            dst,
            src,
        });
        self.set_init(dst);
    }

    /// `neg`, a byte-order conversion, or (v4) a sign-extending move or `bswap`.
    fn unary(&mut self) {
        let kinds = if self.v4() { 4 } else { 2 };
        match self.rng.below(kinds) {
            0 => {
                let width = self.width();
                let dst = self.src_dst();
                self.emit(Insn::Neg { width, dst });
            }
            1 => {
                let dst = self.src_dst();
                let kind = if self.rng.chance(1, 2) {
                    Endian::ToLe
                } else {
                    Endian::ToBe
                };
                let bits = self.rng.pick(&[16u8, 32, 64]);
                self.emit(Insn::Endian { kind, bits, dst });
            }
            2 => {
                let dst = self.src_dst();
                let bits = self.rng.pick(&[16u8, 32, 64]);
                self.emit(Insn::Endian {
                    kind: Endian::Swap,
                    bits,
                    dst,
                });
            }
            _ => {
                let width = self.width();
                let bits = match width {
                    Width::W64 => self.rng.pick(&[8u8, 16, 32]),
                    Width::W32 => self.rng.pick(&[8u8, 16]),
                };
                let src = self.src();
                let dst = self.dst();
                self.emit(Insn::MovSx {
                    width,
                    bits,
                    dst,
                    src,
                });
                self.set_init(dst);
            }
        }
    }

    /// A 64-bit constant.
    fn ld_imm64(&mut self) {
        let dst = self.dst();
        let imm = self.rng.imm64();
        self.emit(Insn::LdImm64 {
            dst,
            pseudo: Pseudo::Imm,
            imm,
        });
        self.set_init(dst);
    }

    fn size(&mut self) -> Size {
        self.rng.pick(&Size::ALL)
    }

    /// An offset below `r10` aligned for `size` (bytes `r10 - off .. r10 - off + size`).
    fn slot(&mut self, size: usize) -> usize {
        let slots = self.frame.limit() / size;
        size * (1 + self.rng.below(slots as u64) as usize)
    }

    /// An aligned offset whose `size` bytes are all written, writing them first if none is.
    fn init_slot(&mut self, size: usize) -> usize {
        let ready: Vec<usize> = (1..=self.frame.limit() / size)
            .map(|k| k * size)
            .filter(|&off| self.frame.bytes_init(off, size))
            .collect();
        if !ready.is_empty() && !self.rng.chance(1, 10) {
            return self.rng.pick(&ready);
        }
        let off = self.slot(size);
        self.store_at(size, off);
        off
    }

    fn size_of(bytes: usize) -> Size {
        match bytes {
            1 => Size::U8,
            2 => Size::U16,
            4 => Size::U32,
            _ => Size::U64,
        }
    }

    fn off16(off: usize) -> i16 {
        -(off as i16)
    }

    /// Write `size` bytes at `r10 - off`, from a register or an immediate.
    fn store_at(&mut self, size: usize, off: usize) {
        let sz = Self::size_of(size);
        if self.rng.chance(1, 2) {
            let src = self.src();
            self.emit(Insn::Store {
                size: sz,
                dst: Reg::R10,
                off: Self::off16(off),
                src,
            });
        } else {
            let imm = self.rng.imm32();
            self.emit(Insn::StoreImm {
                size: sz,
                dst: Reg::R10,
                off: Self::off16(off),
                imm,
            });
        }
        self.frame.write_bytes(off, size);
    }

    /// A store, a load (sign-extending on v4) or an atomic operation on the stack.
    fn stack_op(&mut self) {
        match self.rng.below(5) {
            0 | 1 => {
                let size = self.size().bytes() as usize;
                let off = self.slot(size);
                self.store_at(size, off);
            }
            2 | 3 => {
                let size = self.size();
                let off = self.init_slot(size.bytes() as usize);
                let sign = self.v4() && size != Size::U64 && self.rng.chance(1, 3);
                let dst = self.dst();
                self.emit(Insn::Load {
                    size,
                    sign,
                    dst,
                    src: Reg::R10,
                    off: Self::off16(off),
                });
                self.set_init(dst);
            }
            _ => {
                let size = if self.rng.chance(1, 2) {
                    Size::U32
                } else {
                    Size::U64
                };
                let off = self.init_slot(size.bytes() as usize);
                self.atomic(size, Reg::R10, Self::off16(off));
            }
        }
    }

    /// An atomic operation on `*(size *)(base + off)`, initialised memory.
    fn atomic(&mut self, size: Size, base: Reg, off: i16) {
        let fetch = self.rng.chance(1, 2);
        let op = self.rng.pick(&[
            AtomicOp::Add { fetch },
            AtomicOp::Or { fetch },
            AtomicOp::And { fetch },
            AtomicOp::Xor { fetch },
            AtomicOp::Xchg,
            AtomicOp::CmpXchg,
        ]);
        let writes_src = fetch || op == AtomicOp::Xchg;
        if op == AtomicOp::CmpXchg {
            // cmpxchg compares with r0 and writes the old value there.
            if self.reserved & 1 != 0 {
                return;
            }
            if !self.frame.is_init(Reg::R0) || self.rng.chance(1, 3) {
                self.init_reg(Reg::R0);
            }
        }
        let src = self.operand(true, writes_src);
        self.emit(Insn::Atomic {
            size,
            op,
            dst: base,
            src,
            off,
        });
        if op == AtomicOp::CmpXchg {
            self.set_init(Reg::R0);
        }
    }

    /// One straight-line block.
    fn simple(&mut self) {
        match self.rng.below(10) {
            0..=3 => self.alu(),
            4 => self.unary(),
            5 => self.ld_imm64(),
            _ => self.stack_op(),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Control flow
    // ---------------------------------------------------------------------------------------

    fn any_cond(&mut self) -> Cond {
        self.rng.pick(&Cond::ALL)
    }

    /// `if <random condition> goto to`.
    fn branch_to(&mut self, to: u32) {
        let mut width = self.width();
        let cond = self.any_cond();
        let dst = self.src();
        let src = if self.rng.chance(1, 2) {
            Operand::Reg(self.src())
        } else {
            Operand::Imm(self.rng.imm32())
        };
        if self.r0_result && (dst == Reg::R0 || src == Operand::Reg(Reg::R0)) {
            width = Width::W32;
        }
        self.lines.push(Line::If {
            width,
            cond,
            dst,
            src,
            to,
        });
    }

    /// Some blocks inside a branch.
    fn inner(&mut self, depth: u32) {
        for _ in 0..self.rng.range(1, 3) {
            self.block(depth + 1);
        }
    }

    /// The state at a branch just emitted (its `if` is the last line).
    fn fork(&self) -> Fork {
        Fork {
            at: self.lines.len() - 1,
            frame: self.frame.clone(),
            calls: self.calls,
            r0_result: self.r0_result,
        }
    }

    /// Write before the branch at `fork` what the paths `ends` initialised that the fork had
    /// not, so that it stays initialised where the paths join (and the final fold sees it):
    /// registers get an immediate, stack words a 64-bit store. Returns what was written.
    fn hoist(&mut self, fork: &Fork, ends: &[&Frame]) -> (u16, Vec<usize>) {
        let mut regs = 0;
        for e in ends {
            regs |= e.init;
        }
        regs &= !fork.frame.init & !self.reserved & ALL_REGS;
        let words: Vec<usize> = (1..=fork.frame.limit() / 8)
            .map(|k| 8 * k)
            .filter(|&w| {
                (w - 7..=w).any(|k| !fork.frame.stack[k] && ends.iter().any(|e| e.stack[k]))
            })
            .collect();
        let mut lines = Vec::new();
        for r in Self::regs_in(regs) {
            let imm = self.rng.imm32();
            lines.push(Line::I(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: r,
                src: Operand::Imm(imm),
            }));
        }
        for &w in &words {
            let imm = self.rng.imm32();
            lines.push(Line::I(Insn::StoreImm {
                size: Size::U64,
                dst: Reg::R10,
                off: Self::off16(w),
                imm,
            }));
        }
        self.lines.splice(fork.at..fork.at, lines);
        (regs, words)
    }

    /// Join the path that skipped a block (from `fork`) with the one that ran it (the
    /// current state).
    fn join_skip(&mut self, fork: Fork) {
        let end = self.frame.clone();
        let (regs, words) = self.hoist(&fork, &[&end]);
        let mut skipped = fork.frame;
        skipped.add(regs, &words);
        self.frame.meet(&skipped);
        self.r0_result |= fork.r0_result;
    }

    /// `if cond goto L; blocks; L:`.
    fn skip(&mut self, depth: u32) {
        let l = self.label();
        self.branch_to(l);
        let fork = self.fork();
        self.inner(depth);
        self.lines.push(Line::Label(l));
        self.join_skip(fork);
    }

    /// `if cond goto ELSE; then; goto END; ELSE: else; END:` (`gotol` on v4 sometimes).
    fn if_else(&mut self, depth: u32) {
        let l_else = self.label();
        let l_end = self.label();
        self.branch_to(l_else);
        let fork = self.fork();
        self.inner(depth);
        let then_calls = self.calls != fork.calls;
        let long = self.v4() && self.rng.chance(1, 2);
        self.lines.push(Line::Goto { to: l_end, long });
        let mut then = std::mem::replace(&mut self.frame, fork.frame.clone());
        let then_result = std::mem::replace(&mut self.r0_result, fork.r0_result);
        let else_calls = self.calls;
        self.lines.push(Line::Label(l_else));
        self.inner(depth);
        self.lines.push(Line::Label(l_end));
        let else_calls = self.calls != else_calls;
        let end = self.frame.clone();
        let (regs, words) = self.hoist(&fork, &[&then, &end]);
        // A call in a branch scratched what was hoisted into r0-r5 before it.
        let scratched = |calls: bool| if calls { CALLER_SAVED } else { 0 };
        then.add(regs & !scratched(then_calls), &words);
        self.frame.add(regs & !scratched(else_calls), &words);
        self.frame.meet(&then);
        self.r0_result |= then_result;
    }

    /// A bounded loop: a counter in r6-r9, reserved for the loop, up or down to a small
    /// bound; the body runs at least once.
    fn bounded_loop(&mut self, depth: u32) {
        let free: Vec<Reg> = Self::regs_in(0x3c0 & !self.reserved);
        if free.is_empty() {
            return self.alu();
        }
        let c = self.rng.pick(&free);
        let n = self.rng.range(2, 5) as i32;
        let width = self.width();
        let up = self.rng.chance(1, 2);
        self.emit(Insn::Alu {
            width,
            op: AluOp::Mov,
            dst: c,
            src: Operand::Imm(if up { 0 } else { n }),
        });
        let top = self.label();
        self.lines.push(Line::Label(top));
        // The top is reached again after the body, where a call may have scratched r0-r5:
        // the body reads only what is initialised on both edges.
        self.frame.init &= !CALLER_SAVED;
        self.set_init(c);
        self.reserved |= 1 << c.num();
        for _ in 0..self.rng.range(1, 3) {
            self.block(depth + 1);
        }
        self.reserved &= !(1 << c.num());
        self.emit(Insn::Alu {
            width,
            op: AluOp::Add,
            dst: c,
            src: Operand::Imm(if up { 1 } else { -1 }),
        });
        let (cond, bound) = if up {
            self.rng
                .pick(&[(Cond::Lt, n), (Cond::Le, n - 1), (Cond::Ne, n)])
        } else {
            self.rng
                .pick(&[(Cond::Ne, 0), (Cond::Sgt, 0), (Cond::Gt, 0)])
        };
        self.lines.push(Line::If {
            width,
            cond,
            dst: c,
            src: Operand::Imm(bound),
            to: top,
        });
    }

    // ---------------------------------------------------------------------------------------
    // Maps and calls
    // ---------------------------------------------------------------------------------------

    fn maps_of(&self, fifo: bool) -> Vec<usize> {
        (0..self.maps.len())
            .filter(|&i| self.maps[i].fifo() == fifo)
            .collect()
    }

    /// `r1 = map ll; r2 = r10 - off`, the arguments every map helper starts with.
    fn map_args(&mut self, map: usize, off: usize) {
        self.lines.push(Line::LdMap { dst: Reg::R1, map });
        self.ptr_arg(Reg::R2, off);
    }

    fn ptr_arg(&mut self, r: Reg, off: usize) {
        self.alu64(AluOp::Mov, r, Operand::Reg(Reg::R10));
        self.alu64(AluOp::Add, r, Operand::Imm(-(off as i32)));
    }

    fn call_helper(&mut self, h: Helper) {
        self.lines.push(Line::Helper(h));
        self.calls += 1;
        self.r0_result = true;
        self.frame.init &= !CALLER_SAVED;
    }

    /// A buffer of `size` bytes at an 8-aligned offset.
    fn buffer(&mut self, size: usize) -> usize {
        let slots = (self.frame.limit() / 8).saturating_sub(size.div_ceil(8) - 1);
        8 * (size.div_ceil(8) - 1 + 1 + self.rng.below(slots.max(1) as u64) as usize)
    }

    /// What a program does with a helper's integer result: test it in its low 32 bits
    /// (portable), fold it into a data register as the 64-bit value it is, or leave it in r0.
    fn use_result(&mut self, depth: u32) {
        self.set_init(Reg::R0);
        match self.rng.below(4) {
            0 if self.branches > 0 && depth < 2 => {
                self.branches -= 1;
                let l = self.label();
                let (cond, imm) = self.rng.pick(&[
                    (Cond::Ne, 0),
                    (Cond::Eq, 0),
                    (Cond::Eq, -7),
                    (Cond::Ne, -2),
                    (Cond::Slt, 0),
                    (Cond::Sge, 0),
                    (Cond::Ne, -17),
                ]);
                self.lines.push(Line::If {
                    width: Width::W32,
                    cond,
                    dst: Reg::R0,
                    src: Operand::Imm(imm),
                    to: l,
                });
                let fork = self.fork();
                self.inner(depth);
                self.lines.push(Line::Label(l));
                self.join_skip(fork);
            }
            1 => {
                let op = self
                    .rng
                    .pick(&[AluOp::Add, AluOp::Xor, AluOp::Mov, AluOp::Sub]);
                let dst = self.operand(op != AluOp::Mov, true);
                self.emit(Insn::Alu {
                    width: Width::W64,
                    op,
                    dst,
                    src: Operand::Reg(Reg::R0),
                });
                self.set_init(dst);
            }
            _ => {}
        }
    }

    /// A queue or stack map (`fifo`), or an array or hash map, and its value size; `None`
    /// when there is none, or when a helper call would scratch a reserved register.
    fn pick_map(&mut self, fifo: bool) -> Option<(usize, usize)> {
        let maps = self.maps_of(fifo);
        if maps.is_empty() || self.reserved & CALLER_SAVED != 0 {
            return None;
        }
        let map = self.rng.pick(&maps);
        Some((map, self.maps[map].value_size as usize))
    }

    /// A push, pop or peek on a queue or stack map.
    fn fifo_op(&mut self, depth: u32) {
        let Some((map, vs)) = self.pick_map(true) else {
            return self.alu();
        };
        let off = self.buffer(vs);
        let h = match self.rng.below(5) {
            0 | 1 => Helper::MapPushElem,
            2 | 3 => Helper::MapPopElem,
            _ => Helper::MapPeekElem,
        };
        if h == Helper::MapPushElem {
            self.store_at(vs, off);
        }
        self.map_args(map, off);
        if h == Helper::MapPushElem {
            let flags = if self.rng.chance(1, 3) { 2 } else { 0 };
            self.alu64(AluOp::Mov, Reg::R3, Operand::Imm(flags));
        }
        self.call_helper(h);
        self.set_init(Reg::R0);
        if h != Helper::MapPushElem {
            // Pop and peek write the buffer, zeroed when the map is empty.
            self.frame.write_bytes(off, vs);
            if self.rng.chance(1, 2) {
                let dst = self.dst();
                self.emit(Insn::Load {
                    size: Self::size_of(vs),
                    sign: false,
                    dst,
                    src: Reg::R10,
                    off: Self::off16(off),
                });
                self.set_init(dst);
            }
        }
        self.use_result(depth);
    }

    /// The key of a keyed map written at an 8-aligned offset: keys from a small set, so
    /// that lookups find what updates stored (and array keys sometimes past the end).
    fn key(&mut self, map: usize) -> usize {
        let ks = self.maps[map].key_size as usize;
        let off = self.buffer(ks);
        let k = self.rng.range(0, i64::from(self.maps[map].max_entries)) as i32;
        self.emit(Insn::StoreImm {
            size: Self::size_of(ks),
            dst: Reg::R10,
            off: Self::off16(off),
            imm: k,
        });
        self.frame.write_bytes(off, ks);
        off
    }

    /// A lookup, update or delete on an array or hash map.
    fn keyed_op(&mut self, depth: u32) {
        let Some((map, vs)) = self.pick_map(false) else {
            return self.alu();
        };
        match self.rng.below(6) {
            0..=2 => {
                let l = self.lookup(map);
                self.lookup_block(vs, l);
            }
            3 | 4 => {
                let koff = self.key(map);
                // The value's 8-byte words may not overlap the key's.
                let apart: Vec<usize> = (vs / 8..=self.frame.limit() / 8)
                    .map(|k| 8 * k)
                    .filter(|&v| koff > v || koff + vs <= v)
                    .collect();
                let Some(&voff) = apart.get(self.rng.below(apart.len() as u64) as usize) else {
                    return self.alu();
                };
                for w in 0..vs / 8 {
                    self.store_at(8, voff - 8 * w);
                }
                self.map_args(map, koff);
                self.ptr_arg(Reg::R3, voff);
                let flags = self.rng.pick(&[0, 0, 1, 2]);
                self.alu64(AluOp::Mov, Reg::R4, Operand::Imm(flags));
                self.call_helper(Helper::MapUpdateElem);
                self.use_result(depth);
            }
            _ => {
                let koff = self.key(map);
                self.map_args(map, koff);
                self.call_helper(Helper::MapDeleteElem);
                self.use_result(depth);
            }
        }
    }

    /// `bpf_map_lookup_elem(map, &key)` and `if r0 == 0 goto L`: L, to be bound after the
    /// accesses to the value.
    fn lookup(&mut self, map: usize) -> u32 {
        let koff = self.key(map);
        self.map_args(map, koff);
        self.call_helper(Helper::MapLookupElem);
        let l = self.label();
        self.lines.push(Line::If {
            width: Width::W64,
            cond: Cond::Eq,
            dst: Reg::R0,
            src: Operand::Imm(0),
            to: l,
        });
        l
    }

    /// After [`Self::lookup`]: loads, stores and atomics inside the value, then `l:`.
    fn lookup_block(&mut self, vs: usize, l: u32) {
        let fork = self.fork();
        let reserved = self.reserved;
        self.reserved |= 1;
        for _ in 0..self.rng.range(1, 4) {
            let size = self.size();
            let sb = size.bytes() as usize;
            let off = (sb * self.rng.below((vs / sb) as u64) as usize) as i16;
            match self.rng.below(4) {
                0 => {
                    let dst = self.dst();
                    self.emit(Insn::Load {
                        size,
                        sign: false,
                        dst,
                        src: Reg::R0,
                        off,
                    });
                    self.set_init(dst);
                }
                1 => {
                    let src = self.src();
                    self.emit(Insn::Store {
                        size,
                        dst: Reg::R0,
                        off,
                        src,
                    });
                }
                2 => {
                    let imm = self.rng.imm32();
                    self.emit(Insn::StoreImm {
                        size,
                        dst: Reg::R0,
                        off,
                        imm,
                    });
                }
                _ => {
                    let size = if self.rng.chance(1, 2) {
                        Size::U32
                    } else {
                        Size::U64
                    };
                    let sb = size.bytes() as usize;
                    let off = (sb * self.rng.below((vs / sb) as u64) as usize) as i16;
                    self.atomic(size, Reg::R0, off);
                }
            }
        }
        self.lines.push(Line::Label(l));
        self.join_skip(fork);
        self.reserved = reserved;
        // r0 is a pointer or NULL here: not a scalar to read.
        self.frame.init &= !1;
    }

    /// A call of a generated function, arguments in r1-r5.
    fn call_fn(&mut self, depth: u32) {
        if self.funcs.is_empty() || self.reserved & CALLER_SAVED != 0 {
            return self.fifo_op(depth);
        }
        let uncalled = self.uncalled();
        let f = if !uncalled.is_empty() && self.rng.chance(2, 3) {
            self.rng.pick(&uncalled)
        } else {
            self.rng.below(self.funcs.len() as u64) as usize
        };
        self.call_fn_index(f, true);
        if self.rng.chance(1, 2) {
            self.use_result(depth);
        }
    }

    /// The functions not called yet.
    fn uncalled(&self) -> Vec<usize> {
        (0..self.funcs.len())
            .filter(|&f| self.called & (1 << f) == 0)
            .collect()
    }

    /// Call function `f`: its arguments from immediates, or also from registers.
    fn call_fn_index(&mut self, f: usize, from_regs: bool) {
        for a in 1..=self.funcs[f].nargs {
            let r = Self::reg(a);
            if !from_regs || self.rng.chance(1, 3) {
                let imm = self.rng.imm32();
                self.alu64(AluOp::Mov, r, Operand::Imm(imm));
            } else {
                let s = self.src();
                self.alu64(AluOp::Mov, r, Operand::Reg(s));
            }
            self.set_init(r);
        }
        self.lines.push(Line::CallFn(f));
        self.calls += 1;
        // A function may return a helper's result as it is.
        self.r0_result = true;
        self.called |= 1 << f;
        self.frame.init &= !CALLER_SAVED;
        self.set_init(Reg::R0);
    }

    /// One block of any kind allowed here.
    fn block(&mut self, depth: u32) {
        let maps = !self.maps.is_empty();
        let r = self.rng.below(100);
        match r {
            0..=39 => self.simple(),
            40..=49 if depth < 2 && self.branches > 0 => {
                self.branches -= 1;
                self.skip(depth)
            }
            50..=54 if depth < 2 && self.branches > 0 => {
                self.branches -= 1;
                self.if_else(depth)
            }
            55..=57 if self.main && depth == 0 && self.loops > 0 => {
                self.loops -= 1;
                self.bounded_loop(depth)
            }
            58..=73 if maps => self.fifo_op(depth),
            74..=83 if maps => self.keyed_op(depth),
            84..=89 if self.main => self.call_fn(depth),
            _ => self.simple(),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Whole functions
    // ---------------------------------------------------------------------------------------

    /// How many functions a program of about `size` instructions gets.
    pub(crate) fn funcs_wanted(&mut self, size: usize) -> u64 {
        if size < 80 {
            0
        } else {
            self.rng.below(3)
        }
    }

    /// A function's size, at most `left` instructions (0 when too little is left).
    pub(crate) fn fn_size(&mut self, left: usize) -> usize {
        if left < 8 {
            0
        } else {
            self.rng.range(8, left.min(24) as i64) as usize
        }
    }

    /// A function's argument count.
    pub(crate) fn fn_args(&mut self) -> u8 {
        self.rng.pick(&[0u8, 1, 1, 2, 2, 3, 5])
    }

    /// Add a `.text` function of about `size` instructions taking `nargs` arguments; it
    /// returns a value computed from them.
    pub(crate) fn function(&mut self, size: usize, nargs: u8) {
        self.main = false;
        self.lines.clear();
        let args = (1u16 << (nargs + 1)) - 2;
        let limit = self.rng.pick(&[32usize, 64, 128]);
        self.frame = Frame::new(args, limit);
        self.reserved = 0;
        self.branches = 2;
        // The return takes at most 4 instructions.
        while self.count() + 4 < size && self.fitting(size, Some(4), |b| b.block(0)) {}
        // Return something computed: r0 from the initialised registers.
        let ready = Self::regs_in(self.frame.init & !1);
        if !self.frame.is_init(Reg::R0) {
            match ready.first() {
                Some(&r) if self.rng.chance(3, 4) => {
                    self.alu64(AluOp::Mov, Reg::R0, Operand::Reg(r))
                }
                _ => self.init_reg(Reg::R0),
            }
        }
        for &r in ready.iter().skip(1).take(2) {
            self.alu64(AluOp::Xor, Reg::R0, Operand::Reg(r));
        }
        self.emit(Insn::Exit);
        let lines = std::mem::take(&mut self.lines);
        self.funcs.push(Func { nargs, lines });
    }

    /// Run `f`, and undo what it emitted unless the function still fits in `limit`
    /// instructions with its ending (`reserve` instructions, or the main program's
    /// epilogue for `None`). Whether it was kept.
    fn fitting(&mut self, limit: usize, reserve: Option<usize>, f: impl FnOnce(&mut Self)) -> bool {
        let mark = (self.lines.len(), self.frame.clone(), self.next_label);
        let budget = (self.branches, self.loops, self.called, self.r0_result);
        f(self);
        let end = reserve.unwrap_or_else(|| self.epilogue_len());
        if self.count() + end <= limit {
            return true;
        }
        self.lines.truncate(mark.0);
        self.frame = mark.1;
        self.next_label = mark.2;
        (self.branches, self.loops, self.called, self.r0_result) = budget;
        false
    }

    /// The instructions every main program ends with whatever it did: the array and hash
    /// values read back, the halves folded, `exit`.
    pub(crate) fn fixed_cost(&self) -> usize {
        let keyed: usize = self
            .maps
            .iter()
            .filter(|m| !m.fifo())
            .map(|m| 6 + 3 * (m.value_size as usize / 8))
            .sum();
        keyed + 6
    }

    /// Instructions the epilogue of the current state takes.
    fn epilogue_len(&self) -> usize {
        // The functions not called yet are called first, with immediate arguments.
        let pending = self.uncalled();
        let calls: usize = pending
            .iter()
            .map(|&f| usize::from(self.funcs[f].nargs) + 1)
            .sum();
        let init = if pending.is_empty() {
            self.frame.init
        } else {
            self.frame.init & !CALLER_SAVED | 1
        };
        let regs = (init & !(1 << ACC.num())).count_ones() as usize;
        let acc = usize::from(init & (1 << ACC.num()) == 0);
        let words = self.readable().len().min(3);
        calls + acc + 2 * regs + 3 * words + self.fixed_cost() - 1
    }

    /// For each 8-byte word of the frame with something written, the widest aligned load
    /// inside it that reads only written bytes: `(offset, size)`.
    fn readable(&self) -> Vec<(usize, Size)> {
        let mut out = Vec::new();
        for w in (1..=self.frame.limit() / 8).map(|k| 8 * k) {
            let found = [8usize, 4, 2, 1].into_iter().find_map(|size| {
                (0..8 / size)
                    .map(|i| w - i * size)
                    .find(|&off| self.frame.bytes_init(off, size))
                    .map(|off| (off, Self::size_of(size)))
            });
            out.extend(found);
        }
        out
    }

    /// `ACC = ACC * MIX ^ r`.
    fn fold(&mut self, r: Reg) {
        self.alu64(AluOp::Mul, ACC, Operand::Imm(MIX));
        self.alu64(AluOp::Xor, ACC, Operand::Reg(r));
    }

    /// The main program: blocks until `target` instructions (at least `min`, functions
    /// included), then the epilogue, which
    /// folds every initialised register, a few stack words and the array and hash values
    /// into r0, high half xored into the low, so that the 32-bit return value sees every bit.
    pub(crate) fn main_program(&mut self, min: usize, target: usize) {
        self.main = true;
        self.lines.clear();
        // The frames of a call chain share 512 bytes: the whole of it only without functions.
        let limit = if self.funcs.is_empty() {
            self.rng.pick(&[64usize, 128, 256, 512])
        } else {
            self.rng.pick(&[64usize, 128, 256])
        };
        self.frame = Frame::new(0, limit);
        self.reserved = 0;
        // Branches and loops grow with the size: a large program is not one long straight line.
        self.branches = self.rng.range(2, 8 + (target as i64 / 25).min(100)) as u32;
        self.loops = self.rng.range(0, 2 + (target as i64 / 200).min(10)) as u32;
        let fn_insns: usize = self.funcs.iter().map(|f| count_insns(&f.lines)).sum();
        let target = target.saturating_sub(fn_insns);
        // Most programs start with a queue or stack operation.
        if !self.maps_of(true).is_empty() && self.rng.chance(9, 10) {
            self.fitting(target, None, |b| b.fifo_op(0));
        }
        let mut misses = 0;
        while misses < 4 {
            if !self.fitting(target, None, |b| b.block(0)) {
                misses += 1;
            }
        }
        // Pad up to the smallest size with operations on registers already folded.
        while self.count() + self.epilogue_len() < min.saturating_sub(fn_insns) {
            let r = Self::regs_in(self.frame.init).first().copied();
            match r {
                Some(r) => {
                    let imm = self.rng.imm32();
                    self.alu64(AluOp::Add, r, Operand::Imm(imm))
                }
                None => self.init_reg(ACC),
            }
        }
        self.epilogue();
    }

    fn epilogue(&mut self) {
        for f in self.uncalled() {
            self.call_fn_index(f, false);
        }
        self.lines.push(Line::Comment(
            "fold every register, some stack words and the map values into r0".into(),
        ));
        if !self.frame.is_init(ACC) {
            self.alu64(AluOp::Mov, ACC, Operand::Imm(0x2545_f491));
        }
        for r in Self::regs_in(self.frame.init & !(1 << ACC.num())) {
            self.fold(r);
        }
        let words = self.readable();
        let n = words.len().min(3);
        for k in 0..n {
            // Spread over the frame.
            let (off, size) = words[k * words.len() / n];
            self.emit(Insn::Load {
                size,
                sign: false,
                dst: Reg::R1,
                src: Reg::R10,
                off: Self::off16(off),
            });
            self.fold(Reg::R1);
        }
        for map in self.maps_of(false) {
            let vs = self.maps[map].value_size as usize;
            let l = self.lookup(map);
            for w in 0..vs / 8 {
                self.emit(Insn::Load {
                    size: Size::U64,
                    sign: false,
                    dst: Reg::R1,
                    src: Reg::R0,
                    off: (8 * w) as i16,
                });
                self.fold(Reg::R1);
            }
            self.lines.push(Line::Label(l));
        }
        self.alu64(AluOp::Mov, Reg::R0, Operand::Reg(ACC));
        self.alu64(AluOp::Mov, Reg::R1, Operand::Reg(Reg::R0));
        self.alu64(AluOp::Rsh, Reg::R1, Operand::Imm(32));
        self.alu64(AluOp::Xor, Reg::R0, Operand::Reg(Reg::R1));
        self.emit(Insn::Exit);
    }

    /// The program's source: maps, the main program `name` in `socket`, the functions in
    /// `.text`; and its instruction count.
    pub(crate) fn render(&self, name: &str) -> (String, usize) {
        let mut s = String::from(".license \"GPL\"\n");
        for m in &self.maps {
            s.push_str(&m.directive());
            s.push('\n');
        }
        s.push_str(&format!("\n.section socket\n.globl {name}\n{name}:\n"));
        self.render_lines(&mut s, &self.lines);
        let mut n = count_insns(&self.lines);
        for (i, f) in self.funcs.iter().enumerate() {
            s.push_str(&format!(
                "\n# fn{i}({}): a function with its own stack frame\n.text\n.globl fn{i}\nfn{i}:\n",
                (1..=f.nargs)
                    .map(|a| format!("r{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            self.render_lines(&mut s, &f.lines);
            n += count_insns(&f.lines);
        }
        (s, n)
    }

    fn render_lines(&self, s: &mut String, lines: &[Line]) {
        for l in lines {
            match l {
                Line::I(i) => {
                    s.push('\t');
                    crate::text::write_llvm(s, i);
                }
                Line::If {
                    width,
                    cond,
                    dst,
                    src,
                    to,
                } => {
                    let name = |r: &Reg| match width {
                        Width::W64 => format!("r{}", r.num()),
                        Width::W32 => format!("w{}", r.num()),
                    };
                    let src = match src {
                        Operand::Reg(r) => name(r),
                        Operand::Imm(i) => i.to_string(),
                    };
                    s.push_str(&format!(
                        "\tif {} {} {src} goto L{to}",
                        name(dst),
                        cond.symbol()
                    ));
                }
                Line::Goto { to, long } => {
                    s.push_str(&format!("\t{} L{to}", if *long { "gotol" } else { "goto" }))
                }
                Line::Label(n) => s.push_str(&format!("L{n}:")),
                Line::LdMap { dst, map } => {
                    s.push_str(&format!("\tr{} = {} ll", dst.num(), self.maps[*map].name))
                }
                Line::Helper(h) => s.push_str(&format!("\tcall {}", h.name())),
                Line::CallFn(f) => s.push_str(&format!("\tcall fn{f}")),
                Line::Comment(c) => s.push_str(&format!("\t# {c}")),
            }
            s.push('\n');
        }
    }
}

fn count_insns(lines: &[Line]) -> usize {
    lines
        .iter()
        .filter(|l| !matches!(l, Line::Label(_) | Line::Comment(_)))
        .count()
}
