//! A user-space interpreter of eBPF: run a program anywhere, without the kernel and without
//! root, with the semantics of RFC 9669 (the kernel's `instruction-set.rst`).
//!
//! Memory is modelled, not trusted: each call frame's 512-byte stack, the memory the caller
//! gives (context or packet) and map values are separate regions, a pointer is a region plus an
//! offset, and every access is checked. Whatever a program does (a wild pointer, a jump
//! outside the program, an endless loop, a helper the VM lacks), the run ends with a typed
//! [`VmError`] naming the instruction, never with a panic. The VM verifies nothing: a program
//! the verifier would refuse may run here.
//!
//! ```
//! use bpfsmith::insn::{AluOp, Insn, Operand, Width, R0, R1};
//! use bpfsmith::vm::Vm;
//!
//! // r0 = the first byte of the memory, times 3
//! let prog = [
//!     Insn::Load { size: bpfsmith::insn::Size::U8, sign: false, dst: R0, src: R1, off: 0 },
//!     Insn::Alu { width: Width::W64, op: AluOp::Mul, dst: R0, src: Operand::Imm(3) },
//!     Insn::Exit,
//! ];
//! let mut vm = Vm::new(&prog);
//! assert_eq!(vm.run(&mut [14]).unwrap().r0, 42);
//!
//! // One byte further is outside the memory: an error naming the instruction.
//! let load = Insn::Load { size: bpfsmith::insn::Size::U8, sign: false, dst: R0, src: R1, off: 1 };
//! let prog = [load, Insn::Exit];
//! let err = Vm::new(&prog).run(&mut [14]).unwrap_err();
//! assert_eq!((err.index, err.slot), (0, 0));
//! assert!(err.to_string().contains("*(u8 *)(r1 + 0x1)`): read of 1 bytes"), "{err}");
//! ```
//!
//! Conventions where the kernel has none: `r1` is the address of the memory given to
//! [`Vm::run`] and `r2` its length (the conformance suite's convention; a kernel program reads
//! only `r1`); `callx rN` calls the helper whose number `rN` holds (the suite's meaning, the
//! kernel has no such instruction for programs); the legacy packet loads (`ld_abs`, `ld_ind`)
//! read the memory big-endian and end the run with `r0 = 0` when out of range, as the kernel
//! does. Division or modulo by an immediate zero is refused ([`VmErrorKind::DivisionByZeroImm`],
//! the verifier's "div by zero"); by a register holding zero it is defined by the RFC.
//!
//! Maps and helpers: [`Vm::from_object`] runs a program of an [`crate::object::Object`] with
//! its maps (queue, stack, array, hash) made from their definitions, linked as the loader
//! links it; user space pushes, pops, looks up and updates them through [`VmMap`] between
//! runs. Helpers 1-3 (array, hash) and 87-89 (queue, stack) follow the kernel's
//! `arraymap.c`, `hashtab.c` and `queue_stack_maps.c` (checked against the kernel by the
//! `vm_*` tests); 5 `bpf_ktime_get_ns` and 7 `bpf_get_prandom_u32` read [`Vm::clock`] and
//! [`Vm::prandom_seed`]; 6 `bpf_trace_printk` formats as the kernel does and keeps each message
//! ([`Vm::trace`]) where the kernel writes it to the trace buffer; any other is [`VmErrorKind::UnknownHelper`] unless registered with
//! [`Vm::helper`]. A socket filter's memory is its packet after the Ethernet header (what its
//! `BPF_PROG_TEST_RUN` shows it).

mod error;
mod maps;
mod mem;
mod printk;
mod run;
mod setup;

pub use error::{VmError, VmErrorKind};
pub use maps::{MapError, VmMap};
pub use mem::{RegionKind, MAX_FRAMES, STACK_SIZE};
pub use run::{run, run_with, VmRunError};
pub use setup::SetupError;

use std::collections::HashMap;

use crate::helpers::Helper;
use crate::insn::{AluOp, AtomicOp, Callee, Cond, Endian, Insn, Operand, Pseudo, Size, Width};
use crate::program::{with_slots, SlotMap};
use crate::text::Llvm;
use mem::{address, Memory, MEM_REGION};

/// The kernel's `BPF_MAX_LOOPS`: how many times `may_goto` falls through before it jumps, in
/// the interpreter and the JITs that count. The x86-64 JIT of recent kernels bounds `may_goto`
/// by time instead (Linux 6.18 here: about 300 M iterations of a 2-instruction loop, 250 ms),
/// which no count reproduces.
pub const MAY_GOTO_LIMIT: u64 = 8 * 1024 * 1024;

/// The default instruction budget of a run ([`Vm::budget`]).
pub const DEFAULT_BUDGET: u64 = 1 << 26;

/// How many `bpf_trace_printk` messages a VM keeps ([`Vm::trace`]); a program that prints in
/// a loop, or a run repeated a million times, would otherwise fill memory. (The kernel's trace
/// buffer drops old messages too.)
pub const TRACE_KEPT: usize = 10_000;

/// No target: the instruction does not branch, or its target is not an instruction.
const NO_TARGET: u32 = u32::MAX;

/// Region numbers from here on are map handles (what `ld_imm64` of a map gives): never memory.
const HANDLE_BASE: u64 = 0x8000_0000;

/// A helper registered by the user: `r1`-`r5` in, `r0` out.
type UserHelper = Box<dyn FnMut([u64; 5]) -> u64 + Send>;

/// The result of a run that reached `exit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `r0` at the final `exit`: the program's return value, all 64 bits.
    pub r0: u64,
    /// Every register at the final `exit`.
    pub regs: [u64; 11],
    /// How many instructions ran.
    pub executed: u64,
}

/// A saved caller frame of a bpf-to-bpf call.
#[derive(Clone, Copy, Debug)]
struct Frame {
    ret: usize,
    saved: [u64; 4],
    fp: u64,
}

/// An interpreter for one program, with its maps and helpers; run it as often as needed (the
/// maps keep their contents from one run to the next, as in the kernel).
pub struct Vm {
    insns: Vec<Insn>,
    slots: SlotMap,
    /// Per instruction: the index its jump or local call goes to, or [`NO_TARGET`].
    targets: Vec<u32>,
    /// The instruction budget of a run: past it, [`VmErrorKind::Budget`].
    pub budget: u64,
    /// How many times `may_goto` falls through in a run before it jumps.
    pub may_goto_limit: u64,
    helpers: HashMap<i64, UserHelper>,
    /// `bpf_ktime_get_ns`: `None` for the host's monotonic clock (nanoseconds since the VM was
    /// made); `Some(t)` for a clock that reads `t` and advances 1 ns per call (reproducible).
    pub clock: Option<u64>,
    /// The state of `bpf_get_prandom_u32` (splitmix64): set it to seed the numbers. The
    /// kernel's numbers cannot be reproduced; the VM's are, from the seed.
    pub prandom_seed: u64,
    started: std::time::Instant,
    /// Model the JIT of Linux before 6.4, which called the map operations directly when they
    /// returned `int`: an error of helpers 2, 3 and 87-89 reaches `r0` zero-extended
    /// (`0x00000000fffffff9` for -E2BIG) instead of sign-extended. Off by default (6.4 and
    /// later, and the interpreter of every release).
    pub zero_extend_map_errors: bool,
    /// What every byte of a fresh stack frame holds (0 by default). The kernel's stack holds
    /// whatever was there, which the verifier lets only a privileged program read; a program
    /// whose result changes with this byte reads stack it never wrote.
    pub stack_fill: u8,
    /// The messages of `bpf_trace_printk`, oldest first, across runs (the first
    /// [`TRACE_KEPT`]; the rest are counted in `trace_dropped`).
    trace: Vec<String>,
    trace_dropped: u64,
    /// The source location of each instruction (`file:line`), for errors.
    locations: Vec<Option<String>>,
    /// `ld_imm64` map references (`Pseudo::MapFd`): file descriptor -> map index.
    fds: HashMap<i32, usize>,
    mem: Memory,
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("insns", &self.insns.len())
            .field("budget", &self.budget)
            .field("maps", &self.mem.maps)
            .finish_non_exhaustive()
    }
}

impl Vm {
    /// A VM for a linked program (jump and call offsets count slots).
    pub fn new(insns: &[Insn]) -> Vm {
        let slots = SlotMap::new(insns);
        let targets = with_slots(insns)
            .map(|(_, slot, insn)| match insn.branch_offset() {
                Some(off) => usize::try_from(slot as i64 + 1 + i64::from(off))
                    .ok()
                    .and_then(|t| slots.index(t))
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(NO_TARGET),
                None => NO_TARGET,
            })
            .collect();
        Vm {
            insns: insns.to_vec(),
            slots,
            targets,
            budget: DEFAULT_BUDGET,
            may_goto_limit: MAY_GOTO_LIMIT,
            helpers: HashMap::new(),
            zero_extend_map_errors: false,
            locations: Vec::new(),
            clock: None,
            prandom_seed: 0,
            stack_fill: 0,
            trace: Vec::new(),
            trace_dropped: 0,
            started: std::time::Instant::now(),
            fds: HashMap::new(),
            mem: Memory::new(),
        }
    }

    /// The program's instructions.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Register (or replace) helper number `id`: it gets `r1`-`r5` and returns `r0`. Takes
    /// precedence over the VM's own helpers.
    pub fn helper(&mut self, id: i64, f: impl FnMut([u64; 5]) -> u64 + Send + 'static) {
        self.helpers.insert(id, Box::new(f));
    }

    /// What `bpf_trace_printk` printed so far, one message per call in call order (as the
    /// kernel's trace buffer shows them after `bpf_trace_printk: `), at most [`TRACE_KEPT`].
    ///
    /// ```
    /// use bpfsmith::insn::{Insn, Size, R0, R1, R2, R3, R10};
    /// use bpfsmith::helpers::Helper;
    /// use bpfsmith::vm::Vm;
    /// // "n=%d\n\0" on the stack, then bpf_trace_printk(fmt = r1, fmt_size = r2, arg1 = r3).
    /// let fmt = i64::from_le_bytes(*b"n=%d\n\0\0\0");
    /// let prog = [
    ///     Insn::ld_imm64(R1, fmt),
    ///     Insn::store(Size::U64, R10, -8, R1),
    ///     Insn::mov(R1, R10),
    ///     Insn::add(R1, -8),
    ///     Insn::mov(R2, 6), // the size includes the NUL
    ///     Insn::mov(R3, -42),
    ///     Insn::call(Helper::TracePrintk),
    ///     Insn::exit(),
    /// ];
    /// let mut vm = Vm::new(&prog);
    /// let out = vm.run(&mut []).unwrap();
    /// assert_eq!(vm.trace(), ["n=-42\n"]);
    /// assert_eq!(out.r0, 6); // the helper returns the message's length
    /// ```
    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    /// How many `bpf_trace_printk` messages were not kept (past [`TRACE_KEPT`]).
    pub fn trace_dropped(&self) -> u64 {
        self.trace_dropped
    }

    /// Take the messages kept so far (see [`Vm::trace`]), leaving none.
    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace_dropped = 0;
        std::mem::take(&mut self.trace)
    }

    /// An error at instruction `pc` (or the end of the program).
    fn error(&self, pc: usize, kind: VmErrorKind) -> VmError {
        let pc = pc.min(self.insns.len());
        VmError {
            index: pc,
            slot: self.slots.slot(pc),
            text: match self.insns.get(pc) {
                Some(i) => Llvm(i).to_string(),
                None => "end of program".into(),
            },
            location: self.locations.get(pc).cloned().flatten(),
            kind,
        }
    }

    /// Run the program on `mem` (the context or packet: `r1` = its address, `r2` = its
    /// length). What the program writes to `mem` is copied back.
    pub fn run(&mut self, mem: &mut [u8]) -> Result<Outcome, VmError> {
        self.mem.regions[MEM_REGION].data.clear();
        self.mem.regions[MEM_REGION].data.extend_from_slice(mem);
        let result = self.exec(mem.len() as u64);
        let data = &self.mem.regions[MEM_REGION].data;
        let n = mem.len().min(data.len());
        mem[..n].copy_from_slice(&data[..n]);
        result.map_err(|(pc, kind)| self.error(pc, kind))
    }

    /// The jump target of instruction `pc`, or the error of a jump outside the program.
    #[inline]
    fn target(&self, pc: usize) -> Result<usize, (usize, VmErrorKind)> {
        match self.targets[pc] {
            NO_TARGET => {
                let off = self.insns[pc].branch_offset().unwrap_or(0);
                Err((
                    pc,
                    VmErrorKind::JumpOutside {
                        target: self.slots.slot(pc) as i64 + 1 + i64::from(off),
                        slots: self.slots.slot_count(),
                    },
                ))
            }
            t => Ok(t as usize),
        }
    }

    fn exec(&mut self, mem_len: u64) -> Result<Outcome, (usize, VmErrorKind)> {
        // 16 registers, indexed `& 15`: no bounds check on the hot path (r11-r15 are never named).
        let mut regs = [0u64; 16];
        regs[1] = address(MEM_REGION, 0);
        regs[2] = mem_len;
        regs[10] = Memory::frame_pointer(0);
        self.mem.fill_frame(0, self.stack_fill);
        let mut frames: Vec<Frame> = Vec::new();
        let mut may_goto = self.may_goto_limit;
        let mut executed: u64 = 0;
        let mut pc = 0usize;
        loop {
            let Some(&insn) = self.insns.get(pc) else {
                return Err((pc, VmErrorKind::FellOffEnd));
            };
            if executed >= self.budget {
                return Err((pc, VmErrorKind::Budget { limit: self.budget }));
            }
            executed += 1;
            let at = |k: VmErrorKind| (pc, k);
            match insn {
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src,
                } => {
                    let d = dst.num() as usize & 15;
                    let (s, imm_zero) = match src {
                        Operand::Reg(r) => (regs[r.num() as usize & 15], false),
                        Operand::Imm(i) => (i as i64 as u64, i == 0),
                    };
                    if imm_zero && matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod)
                    {
                        return Err(at(VmErrorKind::DivisionByZeroImm));
                    }
                    regs[d] = match width {
                        Width::W64 => alu64(op, regs[d], s),
                        Width::W32 => u64::from(alu32(op, regs[d] as u32, s as u32)),
                    };
                }
                Insn::Neg { width, dst } => {
                    let d = dst.num() as usize & 15;
                    regs[d] = match width {
                        Width::W64 => regs[d].wrapping_neg(),
                        Width::W32 => u64::from((regs[d] as u32).wrapping_neg()),
                    };
                }
                Insn::MovSx {
                    width,
                    bits,
                    dst,
                    src,
                } => {
                    let s = regs[src.num() as usize & 15];
                    let v = match bits {
                        8 => s as i8 as i64,
                        16 => s as i16 as i64,
                        32 => s as i32 as i64,
                        _ => return Err(at(VmErrorKind::Unsupported("movsx of that width"))),
                    } as u64;
                    regs[dst.num() as usize & 15] = match width {
                        Width::W64 => v,
                        Width::W32 => v & 0xffff_ffff,
                    };
                }
                Insn::Endian { kind, bits, dst } => {
                    let d = dst.num() as usize & 15;
                    let v = regs[d];
                    regs[d] = match (kind, bits) {
                        (Endian::ToLe, 16) => v & 0xffff,
                        (Endian::ToLe, 32) => v & 0xffff_ffff,
                        (Endian::ToLe, 64) => v,
                        (_, 16) => u64::from((v as u16).swap_bytes()),
                        (_, 32) => u64::from((v as u32).swap_bytes()),
                        (_, 64) => v.swap_bytes(),
                        _ => return Err(at(VmErrorKind::Unsupported("a byte swap of that width"))),
                    };
                }
                Insn::Load {
                    size,
                    sign,
                    dst,
                    src,
                    off,
                } => {
                    let addr = regs[src.num() as usize & 15].wrapping_add(off as i64 as u64);
                    let v = self.mem.load(addr, size.bytes() as usize).map_err(at)?;
                    regs[dst.num() as usize & 15] = if sign { sign_extend(v, size) } else { v };
                }
                Insn::StoreImm {
                    size,
                    dst,
                    off,
                    imm,
                } => {
                    let addr = regs[dst.num() as usize & 15].wrapping_add(off as i64 as u64);
                    self.mem
                        .store(addr, size.bytes() as usize, imm as i64 as u64)
                        .map_err(at)?;
                }
                Insn::Store {
                    size,
                    dst,
                    off,
                    src,
                } => {
                    let addr = regs[dst.num() as usize & 15].wrapping_add(off as i64 as u64);
                    self.mem
                        .store(addr, size.bytes() as usize, regs[src.num() as usize & 15])
                        .map_err(at)?;
                }
                Insn::Atomic {
                    size,
                    op,
                    dst,
                    src,
                    off,
                } => {
                    self.atomic(
                        &mut regs,
                        size,
                        op,
                        dst.num() as usize & 15,
                        src.num() as usize & 15,
                        off,
                    )
                    .map_err(at)?;
                }
                Insn::LdImm64 { dst, pseudo, imm } => {
                    regs[dst.num() as usize & 15] = self.ld_imm64(pseudo, imm).map_err(at)?;
                }
                Insn::LdAbs { size, .. } | Insn::LdInd { size, .. } => {
                    let off = match insn {
                        Insn::LdInd { src, imm, .. } => {
                            // The kernel adds in 32 bits (`w2 = src + imm`) and reads the sum
                            // as an `int`.
                            (regs[src.num() as usize & 15] as i32).wrapping_add(imm)
                        }
                        Insn::LdAbs { imm, .. } => imm,
                        _ => 0,
                    };
                    match self.ld_packet(size, i64::from(off)) {
                        Some(v) => regs[0] = v,
                        // Outside the packet: the program ends, returning 0.
                        None => {
                            return Ok(Outcome {
                                r0: 0,
                                regs: first_11(&regs),
                                executed,
                            })
                        }
                    }
                }
                Insn::Jump {
                    width,
                    cond,
                    dst,
                    src,
                    off: _,
                } => {
                    let a = regs[dst.num() as usize & 15];
                    let b = match src {
                        Operand::Reg(r) => regs[r.num() as usize & 15],
                        Operand::Imm(i) => i as i64 as u64,
                    };
                    let taken = match width {
                        Width::W64 => cond64(cond, a, b),
                        Width::W32 => cond32(cond, a as u32, b as u32),
                    };
                    if taken {
                        pc = self.target(pc)?;
                        continue;
                    }
                }
                Insn::Ja { .. } | Insn::JaLong { .. } => {
                    pc = self.target(pc)?;
                    continue;
                }
                Insn::MayGoto { .. } => {
                    if may_goto == 0 {
                        pc = self.target(pc)?;
                        continue;
                    }
                    may_goto -= 1;
                }
                Insn::Call(Callee::Local(_)) => {
                    let target = self.target(pc)?;
                    if frames.len() + 1 >= MAX_FRAMES {
                        return Err(at(VmErrorKind::CallDepth { max: MAX_FRAMES }));
                    }
                    frames.push(Frame {
                        ret: pc + 1,
                        saved: [regs[6], regs[7], regs[8], regs[9]],
                        fp: regs[10],
                    });
                    self.mem.fill_frame(frames.len(), self.stack_fill);
                    regs[10] = Memory::frame_pointer(frames.len());
                    pc = target;
                    continue;
                }
                Insn::Call(Callee::Helper(id)) => {
                    regs[0] = self.call_helper(i64::from(id), &regs).map_err(at)?;
                }
                Insn::CallX { dst } => {
                    let id = regs[dst.num() as usize & 15] as i64;
                    regs[0] = self.call_helper(id, &regs).map_err(at)?;
                }
                Insn::Call(Callee::Kfunc { .. }) => {
                    return Err(at(VmErrorKind::Unsupported("a kfunc call")))
                }
                Insn::AddrSpaceCast { .. } => {
                    return Err(at(VmErrorKind::Unsupported("addr_space_cast (arenas)")))
                }
                Insn::Exit => match frames.pop() {
                    Some(f) => {
                        regs[6..10].copy_from_slice(&f.saved);
                        regs[10] = f.fp;
                        pc = f.ret;
                        continue;
                    }
                    None => {
                        return Ok(Outcome {
                            r0: regs[0],
                            regs: first_11(&regs),
                            executed,
                        })
                    }
                },
            }
            pc += 1;
        }
    }

    fn atomic(
        &mut self,
        regs: &mut [u64; 16],
        size: Size,
        op: AtomicOp,
        dst: usize,
        src: usize,
        off: i16,
    ) -> Result<(), VmErrorKind> {
        let bytes = size.bytes() as usize;
        match op {
            AtomicOp::LoadAcquire => {
                let addr = regs[src].wrapping_add(off as i64 as u64);
                regs[dst] = self.mem.load(addr, bytes)?;
                return Ok(());
            }
            AtomicOp::StoreRelease => {
                let addr = regs[dst].wrapping_add(off as i64 as u64);
                return self.mem.store(addr, bytes, regs[src]);
            }
            _ if !op.allows(size) => {
                return Err(VmErrorKind::Unsupported(
                    "a read-modify-write atomic of 8 or 16 bits",
                ))
            }
            _ => {}
        }
        let addr = regs[dst].wrapping_add(off as i64 as u64);
        let mask = if bytes == 4 { 0xffff_ffff } else { u64::MAX };
        // Load first: a store to the same place cannot fail after it.
        let old = self.mem.load(addr, bytes)?;
        let s = regs[src] & mask;
        let (new, fetch) = match op {
            AtomicOp::Add { fetch } => (old.wrapping_add(s), fetch),
            AtomicOp::Or { fetch } => (old | s, fetch),
            AtomicOp::And { fetch } => (old & s, fetch),
            AtomicOp::Xor { fetch } => (old ^ s, fetch),
            AtomicOp::Xchg => (s, true),
            AtomicOp::CmpXchg => {
                let new = if old == regs[0] & mask { s } else { old };
                self.mem.store(addr, bytes, new)?;
                regs[0] = old;
                return Ok(());
            }
            AtomicOp::LoadAcquire | AtomicOp::StoreRelease => return Ok(()),
        };
        self.mem.store(addr, bytes, new & mask)?;
        if fetch {
            regs[src] = old;
        }
        Ok(())
    }

    /// The value of an `ld_imm64`: the immediate, or a map reference resolved to the VM's map.
    fn ld_imm64(&mut self, pseudo: Pseudo, imm: i64) -> Result<u64, VmErrorKind> {
        match pseudo {
            Pseudo::Imm => Ok(imm as u64),
            Pseudo::MapFd | Pseudo::MapIdx => {
                let map = self.map_of_reference(pseudo, imm as i32)?;
                Ok(address((HANDLE_BASE as usize) + map, 0))
            }
            Pseudo::MapValue | Pseudo::MapIdxValue => {
                let map = self.map_of_reference(pseudo, imm as i32)?;
                let off = (imm >> 32) as u32;
                if self.mem.maps[map].value(0).is_none() {
                    return Err(VmErrorKind::BadMap(format!(
                        "map `{}` has no value to point into (not an array)",
                        self.mem.maps[map].name
                    )));
                }
                Ok(self.mem.value_address(map, 0) + u64::from(off))
            }
            Pseudo::BtfId => Err(VmErrorKind::Unsupported("ld_imm64 of a BTF id")),
            Pseudo::Func => Err(VmErrorKind::Unsupported("ld_imm64 of a function address")),
        }
    }

    fn map_of_reference(&self, pseudo: Pseudo, n: i32) -> Result<usize, VmErrorKind> {
        let found = match pseudo {
            Pseudo::MapFd | Pseudo::MapValue => self
                .fds
                .get(&n)
                .copied()
                .filter(|&i| i < self.mem.maps.len()),
            _ => usize::try_from(n).ok().filter(|&i| i < self.mem.maps.len()),
        };
        found.ok_or_else(|| {
            VmErrorKind::BadMap(match pseudo {
                Pseudo::MapFd | Pseudo::MapValue => format!("no map of the VM has fd {n}"),
                _ => format!("no map of the VM has index {n}"),
            })
        })
    }

    /// A legacy packet load: big-endian from the memory; `None` when out of range.
    fn ld_packet(&self, size: Size, off: i64) -> Option<u64> {
        let bytes = size.bytes() as usize;
        if bytes == 8 {
            return None;
        }
        // An offset past 32 bits would wrap in the address: out of range.
        let off = u32::try_from(off).ok()?;
        let b = self.mem.get(address(MEM_REGION, off.into()), bytes).ok()?;
        Some(b.iter().fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
    }

    /// `bpf_ktime_get_ns`: see [`Vm::clock`].
    fn ktime_ns(&mut self) -> u64 {
        match &mut self.clock {
            Some(t) => {
                let now = *t;
                *t = t.wrapping_add(1);
                now
            }
            None => u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// `bpf_get_prandom_u32`: the next number of splitmix64 from [`Vm::prandom_seed`].
    fn prandom_u32(&mut self) -> u64 {
        self.prandom_seed = self.prandom_seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.prandom_seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) & 0xffff_ffff
    }

    /// Call helper `id` with `r1`-`r5`, giving `r0`.
    fn call_helper(&mut self, id: i64, regs: &[u64; 16]) -> Result<u64, VmErrorKind> {
        let args = [regs[1], regs[2], regs[3], regs[4], regs[5]];
        if let Some(f) = self.helpers.get_mut(&id) {
            return Ok(f(args));
        }
        let helper = u32::try_from(id).ok().and_then(Helper::from_id);
        match helper {
            Some(
                h @ (Helper::MapLookupElem
                | Helper::MapUpdateElem
                | Helper::MapDeleteElem
                | Helper::MapPushElem
                | Helper::MapPopElem
                | Helper::MapPeekElem),
            ) => self.map_helper(h, args),
            Some(Helper::KtimeGetNs) => Ok(self.ktime_ns()),
            Some(Helper::GetPrandomU32) => Ok(self.prandom_u32()),
            Some(Helper::TracePrintk) => {
                let printed = printk::trace_printk(&self.mem, args)?;
                if let Some(m) = printed.message {
                    if self.trace.len() < TRACE_KEPT {
                        self.trace.push(m);
                    } else {
                        self.trace_dropped += 1;
                    }
                }
                Ok(printed.r0)
            }
            _ => Err(VmErrorKind::UnknownHelper {
                id,
                name: helper.map(Helper::name),
            }),
        }
    }
}

/// The eleven registers of an outcome.
fn first_11(regs: &[u64; 16]) -> [u64; 11] {
    let mut out = [0; 11];
    out.copy_from_slice(&regs[..11]);
    out
}

#[inline]
fn sign_extend(v: u64, size: Size) -> u64 {
    (match size {
        Size::U8 => v as i8 as i64,
        Size::U16 => v as i16 as i64,
        Size::U32 => v as i32 as i64,
        Size::U64 => v as i64,
    }) as u64
}

/// The ALU operations at one width (RFC 9669 section 4.1): division by zero gives 0, modulo
/// by zero leaves `d`, the signed ones wrap (`LLONG_MIN / -1` is `LLONG_MIN`, `% -1` is 0),
/// shift amounts are masked to the width. The 32-bit form works on the low halves; the caller
/// zero-extends its result.
macro_rules! alu_at_width {
    ($name:ident, $u:ty, $i:ty, $mask:expr) => {
        #[inline]
        fn $name(op: AluOp, d: $u, s: $u) -> $u {
            match op {
                AluOp::Add => d.wrapping_add(s),
                AluOp::Sub => d.wrapping_sub(s),
                AluOp::Mul => d.wrapping_mul(s),
                AluOp::Div => d.checked_div(s).unwrap_or(0),
                AluOp::SDiv => match s {
                    0 => 0,
                    _ => (d as $i).wrapping_div(s as $i) as $u,
                },
                AluOp::Mod => d.checked_rem(s).unwrap_or(d),
                AluOp::SMod => match s {
                    0 => d,
                    _ => (d as $i).wrapping_rem(s as $i) as $u,
                },
                AluOp::Or => d | s,
                AluOp::And => d & s,
                AluOp::Xor => d ^ s,
                AluOp::Lsh => d << (s & $mask),
                AluOp::Rsh => d >> (s & $mask),
                AluOp::Arsh => ((d as $i) >> (s & $mask)) as $u,
                AluOp::Mov => s,
            }
        }
    };
}

alu_at_width!(alu64, u64, i64, 63);
alu_at_width!(alu32, u32, i32, 31);

/// Whether `cond` holds for `a` and `b`, compared unsigned as given and signed as `sa`, `sb`.
#[inline]
fn holds<U: Ord, S: Ord>(cond: Cond, a: U, b: U, sa: S, sb: S, and_nonzero: bool) -> bool {
    match cond {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::Gt => a > b,
        Cond::Ge => a >= b,
        Cond::Lt => a < b,
        Cond::Le => a <= b,
        Cond::Set => and_nonzero,
        Cond::Sgt => sa > sb,
        Cond::Sge => sa >= sb,
        Cond::Slt => sa < sb,
        Cond::Sle => sa <= sb,
    }
}

#[inline]
fn cond64(cond: Cond, a: u64, b: u64) -> bool {
    holds(cond, a, b, a as i64, b as i64, a & b != 0)
}

#[inline]
fn cond32(cond: Cond, a: u32, b: u32) -> bool {
    holds(cond, a, b, a as i32, b as i32, a & b != 0)
}
