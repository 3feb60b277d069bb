//! The two per-instruction printers and objdump's branch-target annotation.
//!
//! Everything is written through a [`fmt::Write`] with hand-rolled number formatting, so a
//! call costs a handful of `write_str`s and no allocation.

use std::fmt::{self, Write};

use crate::helpers::Helper;
use crate::insn::{AtomicOp, Callee, Endian, Insn, Operand, Pseudo, Reg, Size, Width, SLOT_SIZE};

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// Append the LLVM text of `insn`: what `llvm-objdump-22 -d --no-show-raw-insn` prints for it
/// after the `N:\t` column, without the ` <sym+0x..>` branch annotation (see
/// [`write_llvm_target_annotation`]).
///
/// Immediates and offsets are hexadecimal and signed (`-0x4`), memory operands read
/// `(r2 - 0x4)`, branch offsets `+0xd` / `-0x3` in slots. Sub-64-bit loads, stores and atomics
/// name the 32-bit view of the value register (`w1 = *(u8 *)(r2 + 0x0)`), as objdump does.
/// Two objdump quirks are reproduced on purpose: an `ld_imm64` whose pseudo source is not
/// [`Pseudo::Imm`] prints as `ld_pseudo\tr1, 0x1, 0x5` (a tab, the pseudo kind, and only the
/// low 32 bits of the immediate, unsigned), and `ld_ind` drops its immediate
/// (`r0 = *(u16 *)skb[r3]`). Calls of every kind print their raw immediate (`call 0x1`,
/// `call -0x3`).
///
/// ```
/// use bpfsmith::insn::{Insn, Cond, Operand, Width, R1, R2};
/// let j = Insn::Jump { width: Width::W64, cond: Cond::Gt, dst: R1, src: Operand::Reg(R2), off: 13 };
/// let mut s = String::new();
/// bpfsmith::text::write_llvm(&mut s, &j);
/// assert_eq!(s, "if r1 > r2 goto +0xd");
/// ```
pub fn write_llvm(out: &mut String, insn: &Insn) {
    // Writing into a String cannot fail.
    let _ = llvm(out, insn);
}

/// Append the ` <sym>` / ` <sym+0x..>` annotation that `llvm-objdump` prints after a branch
/// whose target is slot `target_slot` (the branch's slot + 1 + its offset; may be negative or
/// past the end), given the symbols of the section as `(slot, name)` pairs sorted by slot.
///
/// objdump's rule, reproduced here: the target byte offset `target_slot * 8` is taken as an
/// unsigned 64-bit address (so a target before the section start wraps to a huge address);
/// the symbol is the one with the greatest address at or below it, and among several symbols
/// at that address the greatest name (byte-wise). The annotation is `<name>` when the target
/// is that address, `<name+0x..>` with the byte distance otherwise, and nothing at all when no
/// symbol lies at or below the target. A target before the first symbol therefore names the
/// *last* symbol with a displacement near 2^64, as objdump does.
///
/// objdump annotates conditional jumps, `goto`, `gotol` and `may_goto`, but not calls (not even
/// local calls). When a section has no symbol at offset 0, objdump invents one named after the
/// section (`.text`): pass `(0, ".text")` in `symbols` to get the same text.
///
/// ```
/// let mut s = String::new();
/// let syms = [(0, "prog"), (4, "loop")];
/// bpfsmith::text::write_llvm_target_annotation(&mut s, 5, &syms);
/// bpfsmith::text::write_llvm_target_annotation(&mut s, 2, &syms);
/// bpfsmith::text::write_llvm_target_annotation(&mut s, -1, &syms);
/// assert_eq!(s, " <loop+0x8> <prog+0x10> <loop+0xffffffffffffffd8>");
/// ```
pub fn write_llvm_target_annotation(out: &mut String, target_slot: i64, symbols: &[(usize, &str)]) {
    let target = (target_slot as u64).wrapping_mul(SLOT_SIZE as u64);
    let addr = |slot: usize| (slot as u64).wrapping_mul(SLOT_SIZE as u64);
    // Symbols are sorted by slot, hence by address (slots below 2^61).
    let end = symbols.partition_point(|&(slot, _)| addr(slot) <= target);
    let Some(&(last_slot, first_name)) = end.checked_sub(1).map(|i| &symbols[i]) else {
        return;
    };
    let mut name = first_name;
    for &(slot, n) in symbols[..end].iter().rev().skip(1) {
        if slot != last_slot {
            break;
        }
        if n.as_bytes() > name.as_bytes() {
            name = n;
        }
    }
    out.push_str(" <");
    out.push_str(name);
    let disp = target.wrapping_sub(addr(last_slot));
    if disp != 0 {
        out.push_str("+0x");
        let _ = hex_u64(out, disp);
    }
    out.push('>');
}

/// Append the kernel text of `insn`: what the verifier log shows after `N: `, as printed by the
/// kernel's `print_bpf_insn` (`kernel/bpf/disasm.c`, Linux 6.15+) with the callbacks the
/// verifier installs. Kfunc calls print the placeholder `kernel-function` the kernel prints
/// when it cannot name the function; use [`write_kernel_with`] to supply the BTF name.
///
/// The format is the opcode in hex, then the instruction in decimal C-like syntax:
/// `(07) r2 += -4`, `(63) *(u32 *)(r10 -4) = r1`, `(55) if r0 != 0x0 goto pc+3` (jump
/// immediates are hex of the unsigned 32 bits), `(85) call bpf_map_push_elem#87`
/// (`unknown#N` for helper ids the table does not name), `(85) call pc+3` for local calls,
/// `(18) r1 = 0x123456789` for every `ld_imm64` (the raw immediate, whatever its pseudo
/// source: the verifier prints the map address it patched in, as seen by a privileged user).
///
/// The kernel has no `callx`; its printer takes opcode `0x8d` for a helper call with the
/// instruction's immediate, so [`Insn::CallX`] prints `(8d) call bpf_unspec#0`.
///
/// ```
/// use bpfsmith::insn::{Insn, Size, R1, R10};
/// let st = Insn::Store { size: Size::U32, dst: R10, off: -4, src: R1 };
/// let mut s = String::new();
/// bpfsmith::text::write_kernel(&mut s, &st);
/// assert_eq!(s, "(63) *(u32 *)(r10 -4) = r1");
/// ```
pub fn write_kernel(out: &mut String, insn: &Insn) {
    let _ = kernel(out, insn, None);
}

/// [`write_kernel`], naming a kfunc call `kfunc_name` (the BTF name the verifier looks up, as
/// in `(85) call bpf_rcu_read_lock#65472`) instead of `kernel-function`. `kfunc_name` is used
/// only when `insn` is a kfunc call.
pub fn write_kernel_with(out: &mut String, insn: &Insn, kfunc_name: Option<&str>) {
    let _ = kernel(out, insn, kfunc_name);
}

/// An instruction shown in LLVM style by `{}` (see [`write_llvm`]).
///
/// ```
/// use bpfsmith::{insn::Insn, text::Llvm};
/// assert_eq!(Llvm(&Insn::Exit).to_string(), "exit");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Llvm<'a>(pub &'a Insn);

impl fmt::Display for Llvm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        llvm(f, self.0)
    }
}

/// An instruction shown in kernel style by `{}` (see [`write_kernel`]).
///
/// ```
/// use bpfsmith::{insn::Insn, text::Kernel};
/// assert_eq!(Kernel(&Insn::Exit).to_string(), "(95) exit");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Kernel<'a>(pub &'a Insn);

impl fmt::Display for Kernel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        kernel(f, self.0, None)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

const R_NAMES: [&str; 11] = [
    "r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10",
];
const W_NAMES: [&str; 11] = [
    "w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9", "w10",
];

#[inline]
fn r(reg: Reg) -> &'static str {
    R_NAMES[reg.num() as usize]
}

#[inline]
fn w(reg: Reg) -> &'static str {
    W_NAMES[reg.num() as usize]
}

/// The register as the given operation width names it.
#[inline]
fn wr(width: Width, reg: Reg) -> &'static str {
    match width {
        Width::W32 => w(reg),
        Width::W64 => r(reg),
    }
}

/// The value register of a memory access: LLVM names the 32-bit view below 64 bits.
#[inline]
fn sized(size: Size, reg: Reg) -> &'static str {
    match size {
        Size::U64 => r(reg),
        _ => w(reg),
    }
}

fn utype(size: Size) -> &'static str {
    match size {
        Size::U8 => "u8",
        Size::U16 => "u16",
        Size::U32 => "u32",
        Size::U64 => "u64",
    }
}

fn stype(size: Size) -> &'static str {
    match size {
        Size::U8 => "s8",
        Size::U16 => "s16",
        Size::U32 => "s32",
        Size::U64 => "s64",
    }
}

fn digits<W: Write + ?Sized>(w: &mut W, buf: &[u8]) -> fmt::Result {
    // The buffers hold ASCII digits only.
    w.write_str(std::str::from_utf8(buf).map_err(|_| fmt::Error)?)
}

fn dec_u64<W: Write + ?Sized>(w: &mut W, mut v: u64) -> fmt::Result {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    digits(w, &buf[i..])
}

// `dis` prints a slot number, an address or a line number on nearly every line of a listing,
// so these two stand in for `format!("{v:>width$}")` and `format!("{v:0width$x}")`: with
// `format!` in their place `dis` of a 1M-instruction object ran 14% more instructions
// (2.92 G against 2.57 G, cachegrind, 2026-12-04); the test below holds them to `format!`.

/// `v` in decimal, right-aligned in `width` columns (`format!("{v:>width$}")`, for a width
/// up to 20).
pub(super) fn dec_padded(out: &mut String, v: u64, width: usize) {
    let mut buf = [b' '; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len().saturating_sub(width));
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// `v` in lowercase hex, zero-padded to `width` digits (`format!("{v:0width$x}")`, for a
/// width up to 16).
pub(super) fn hex_padded(out: &mut String, v: u64, width: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'0'; 16];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len().saturating_sub(width));
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or_default());
}

/// C's `%d` / `%lld`.
fn dec<W: Write + ?Sized>(w: &mut W, v: i64) -> fmt::Result {
    if v < 0 {
        w.write_char('-')?;
    }
    dec_u64(w, v.unsigned_abs())
}

/// C's `%+d`.
fn dec_signed<W: Write + ?Sized>(w: &mut W, v: i64) -> fmt::Result {
    if v >= 0 {
        w.write_char('+')?;
    }
    dec(w, v)
}

/// Lowercase hex digits, no prefix (C's `%x` / `%llx`).
fn hex_u64<W: Write + ?Sized>(w: &mut W, mut v: u64) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = HEX[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    digits(w, &buf[i..])
}

// ---------------------------------------------------------------------------------------------
// LLVM style
// ---------------------------------------------------------------------------------------------

/// LLVM's signed hex immediate: `0x1f`, `-0x4`.
fn imm<W: Write + ?Sized>(w: &mut W, v: i64) -> fmt::Result {
    w.write_str(if v < 0 { "-0x" } else { "0x" })?;
    hex_u64(w, v.unsigned_abs())
}

/// A branch offset: `+0xd`, `-0x3`, `+0x0`.
fn branch<W: Write + ?Sized>(w: &mut W, off: i64) -> fmt::Result {
    if off >= 0 {
        w.write_char('+')?;
    }
    imm(w, off)
}

/// `r2 + 0x8` / `r2 - 0x4` (no parentheses).
fn addr<W: Write + ?Sized>(w: &mut W, base: Reg, off: i16) -> fmt::Result {
    w.write_str(r(base))?;
    let off = off as i64;
    if off < 0 {
        w.write_str(" - ")?;
        imm(w, -off)
    } else {
        w.write_str(" + ")?;
        imm(w, off)
    }
}

/// `*(u32 *)(r10 - 0x4)` without the leading `*`: `(u32 *)(r10 - 0x4)`.
fn typed_addr<W: Write + ?Sized>(w: &mut W, ty: &str, base: Reg, off: i16) -> fmt::Result {
    w.write_char('(')?;
    w.write_str(ty)?;
    w.write_str(" *)(")?;
    addr(w, base, off)?;
    w.write_char(')')
}

fn llvm_operand<W: Write + ?Sized>(w: &mut W, width: Width, src: Operand) -> fmt::Result {
    match src {
        Operand::Reg(s) => w.write_str(wr(width, s)),
        Operand::Imm(i) => imm(w, i as i64),
    }
}

fn llvm<W: Write + ?Sized>(w: &mut W, insn: &Insn) -> fmt::Result {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            w.write_str(wr(width, dst))?;
            w.write_char(' ')?;
            w.write_str(op.symbol())?;
            w.write_char(' ')?;
            llvm_operand(w, width, src)
        }
        Insn::Neg { width, dst } => {
            let d = wr(width, dst);
            w.write_str(d)?;
            w.write_str(" = -")?;
            w.write_str(d)
        }
        Insn::MovSx {
            width,
            bits,
            dst,
            src,
        } => {
            w.write_str(wr(width, dst))?;
            w.write_str(" = (s")?;
            dec_u64(w, bits as u64)?;
            w.write_char(')')?;
            w.write_str(wr(width, src))
        }
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => {
            w.write_str(r(dst))?;
            w.write_str(" = addr_space_cast(")?;
            w.write_str(r(src))?;
            w.write_str(", ")?;
            imm(w, dst_as as i64)?;
            w.write_str(", ")?;
            imm(w, src_as as i64)?;
            w.write_char(')')
        }
        Insn::Endian { kind, bits, dst } => endian(w, kind, bits, dst),
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => {
            let (d, ty) = if sign {
                (r(dst), stype(size))
            } else {
                (sized(size, dst), utype(size))
            };
            w.write_str(d)?;
            w.write_str(" = *")?;
            typed_addr(w, ty, src, off)
        }
        Insn::StoreImm {
            size,
            dst,
            off,
            imm: v,
        } => {
            w.write_char('*')?;
            typed_addr(w, utype(size), dst, off)?;
            w.write_str(" = ")?;
            imm(w, v as i64)
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            w.write_char('*')?;
            typed_addr(w, utype(size), dst, off)?;
            w.write_str(" = ")?;
            w.write_str(sized(size, src))
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => llvm_atomic(w, size, op, dst, src, off),
        Insn::LdImm64 {
            dst,
            pseudo,
            imm: v,
        } => {
            if pseudo == Pseudo::Imm {
                w.write_str(r(dst))?;
                w.write_str(" = ")?;
                imm(w, v)?;
                w.write_str(" ll")
            } else {
                w.write_str("ld_pseudo\t")?;
                w.write_str(r(dst))?;
                w.write_str(", ")?;
                imm(w, pseudo.src() as i64)?;
                w.write_str(", 0x")?;
                hex_u64(w, v as u32 as u64)
            }
        }
        Insn::LdAbs { size, imm: v } => {
            w.write_str("r0 = *(")?;
            w.write_str(utype(size))?;
            w.write_str(" *)skb[")?;
            imm(w, v as i64)?;
            w.write_char(']')
        }
        Insn::LdInd { size, src, .. } => {
            w.write_str("r0 = *(")?;
            w.write_str(utype(size))?;
            w.write_str(" *)skb[")?;
            w.write_str(r(src))?;
            w.write_char(']')
        }
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            w.write_str("if ")?;
            w.write_str(wr(width, dst))?;
            w.write_char(' ')?;
            w.write_str(cond.symbol())?;
            w.write_char(' ')?;
            llvm_operand(w, width, src)?;
            w.write_str(" goto ")?;
            branch(w, off as i64)
        }
        Insn::Ja { off } => {
            w.write_str("goto ")?;
            branch(w, off as i64)
        }
        Insn::JaLong { imm } => {
            w.write_str("gotol ")?;
            branch(w, imm as i64)
        }
        Insn::MayGoto { off } => {
            w.write_str("may_goto ")?;
            branch(w, off as i64)
        }
        Insn::Call(callee) => {
            let v = match callee {
                Callee::Helper(id) => id,
                Callee::Local(off) => off,
                Callee::Kfunc { btf_id, .. } => btf_id,
            };
            w.write_str("call ")?;
            imm(w, v as i64)
        }
        Insn::CallX { dst } => {
            w.write_str("callx ")?;
            w.write_str(r(dst))
        }
        Insn::Exit => w.write_str("exit"),
    }
}

/// Both styles print byte-order operations the same way: always the 64-bit register name.
fn endian<W: Write + ?Sized>(w: &mut W, kind: Endian, bits: u8, dst: Reg) -> fmt::Result {
    w.write_str(r(dst))?;
    w.write_str(match kind {
        Endian::ToLe => " = le",
        Endian::ToBe => " = be",
        Endian::Swap => " = bswap",
    })?;
    dec_u64(w, bits as u64)?;
    w.write_char(' ')?;
    w.write_str(r(dst))
}

fn rmw_parts(op: AtomicOp) -> Option<(&'static str, &'static str, bool)> {
    Some(match op {
        AtomicOp::Add { fetch } => ("+=", "add", fetch),
        AtomicOp::Or { fetch } => ("|=", "or", fetch),
        AtomicOp::And { fetch } => ("&=", "and", fetch),
        AtomicOp::Xor { fetch } => ("^=", "xor", fetch),
        _ => return None,
    })
}

fn llvm_atomic<W: Write + ?Sized>(
    w: &mut W,
    size: Size,
    op: AtomicOp,
    dst: Reg,
    src: Reg,
    off: i16,
) -> fmt::Result {
    let ty = utype(size);
    let s = sized(size, src);
    if let Some((sym, name, fetch)) = rmw_parts(op) {
        if fetch {
            w.write_str(s)?;
            w.write_str(" = atomic_fetch_")?;
            w.write_str(name)?;
            w.write_char('(')?;
            typed_addr(w, ty, dst, off)?;
            w.write_str(", ")?;
            w.write_str(s)?;
            return w.write_char(')');
        }
        w.write_str("lock *")?;
        typed_addr(w, ty, dst, off)?;
        w.write_char(' ')?;
        w.write_str(sym)?;
        w.write_char(' ')?;
        return w.write_str(s);
    }
    let wide = size == Size::U64;
    match op {
        AtomicOp::Xchg => {
            w.write_str(s)?;
            w.write_str(if wide { " = xchg_64(" } else { " = xchg32_32(" })?;
            addr(w, dst, off)?;
            w.write_str(", ")?;
            w.write_str(s)?;
            w.write_char(')')
        }
        AtomicOp::CmpXchg => {
            let r0 = sized(size, Reg::R0);
            w.write_str(r0)?;
            w.write_str(if wide {
                " = cmpxchg_64("
            } else {
                " = cmpxchg32_32("
            })?;
            addr(w, dst, off)?;
            w.write_str(", ")?;
            w.write_str(r0)?;
            w.write_str(", ")?;
            w.write_str(s)?;
            w.write_char(')')
        }
        AtomicOp::LoadAcquire => {
            w.write_str(sized(size, dst))?;
            w.write_str(" = load_acquire(")?;
            typed_addr(w, ty, src, off)?;
            w.write_char(')')
        }
        AtomicOp::StoreRelease => {
            w.write_str("store_release(")?;
            typed_addr(w, ty, dst, off)?;
            w.write_str(", ")?;
            w.write_str(s)?;
            w.write_char(')')
        }
        // Read-modify-write operations were handled above.
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Kernel style
// ---------------------------------------------------------------------------------------------

/// `(r10 -4)`: the kernel's `(r%d %+d)`.
fn kaddr<W: Write + ?Sized>(w: &mut W, base: Reg, off: i16) -> fmt::Result {
    w.write_char('(')?;
    w.write_str(r(base))?;
    w.write_char(' ')?;
    dec_signed(w, off as i64)?;
    w.write_char(')')
}

/// `(u64 *)(r1 +8)`.
fn ktyped<W: Write + ?Sized>(w: &mut W, ty: &str, base: Reg, off: i16) -> fmt::Result {
    w.write_char('(')?;
    w.write_str(ty)?;
    w.write_str(" *)")?;
    kaddr(w, base, off)
}

fn kernel<W: Write + ?Sized>(w: &mut W, insn: &Insn, kfunc_name: Option<&str>) -> fmt::Result {
    let code = insn.fields().0;
    w.write_char('(')?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    w.write_char(HEX[(code >> 4) as usize] as char)?;
    w.write_char(HEX[(code & 0xf) as usize] as char)?;
    w.write_str(") ")?;
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            w.write_str(wr(width, dst))?;
            w.write_char(' ')?;
            w.write_str(op.symbol())?;
            w.write_char(' ')?;
            match src {
                Operand::Reg(s) => w.write_str(wr(width, s)),
                Operand::Imm(i) => dec(w, i as i64),
            }
        }
        // Negation and sign-extending moves read the same in both syntaxes.
        Insn::Neg { .. } | Insn::MovSx { .. } => llvm(w, insn),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => {
            w.write_str(r(dst))?;
            w.write_str(" = addr_space_cast(")?;
            w.write_str(r(src))?;
            w.write_str(", ")?;
            dec_u64(w, dst_as as u64)?;
            w.write_str(", ")?;
            dec_u64(w, src_as as u64)?;
            w.write_char(')')
        }
        Insn::Endian { kind, bits, dst } => endian(w, kind, bits, dst),
        Insn::Load {
            size,
            sign,
            dst,
            src,
            off,
        } => {
            w.write_str(r(dst))?;
            w.write_str(" = *")?;
            ktyped(w, if sign { stype(size) } else { utype(size) }, src, off)
        }
        Insn::StoreImm {
            size,
            dst,
            off,
            imm,
        } => {
            w.write_char('*')?;
            ktyped(w, utype(size), dst, off)?;
            w.write_str(" = ")?;
            dec(w, imm as i64)
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            w.write_char('*')?;
            ktyped(w, utype(size), dst, off)?;
            w.write_str(" = ")?;
            w.write_str(r(src))
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => kernel_atomic(w, size, op, dst, src, off),
        Insn::LdImm64 { dst, imm, .. } => {
            w.write_str(r(dst))?;
            w.write_str(" = 0x")?;
            hex_u64(w, imm as u64)
        }
        Insn::LdAbs { size, imm } => {
            w.write_str("r0 = *(")?;
            w.write_str(utype(size))?;
            w.write_str(" *)skb[")?;
            dec(w, imm as i64)?;
            w.write_char(']')
        }
        Insn::LdInd { size, src, imm } => {
            w.write_str("r0 = *(")?;
            w.write_str(utype(size))?;
            w.write_str(" *)skb[")?;
            w.write_str(r(src))?;
            w.write_str(" + ")?;
            dec(w, imm as i64)?;
            w.write_char(']')
        }
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            w.write_str("if ")?;
            w.write_str(wr(width, dst))?;
            w.write_char(' ')?;
            w.write_str(cond.symbol())?;
            w.write_char(' ')?;
            match src {
                Operand::Reg(s) => w.write_str(wr(width, s))?,
                Operand::Imm(i) => {
                    w.write_str("0x")?;
                    hex_u64(w, i as u32 as u64)?;
                }
            }
            w.write_str(" goto pc")?;
            dec_signed(w, off as i64)
        }
        Insn::Ja { off } => {
            w.write_str("goto pc")?;
            dec_signed(w, off as i64)
        }
        Insn::JaLong { imm } => {
            w.write_str("gotol pc")?;
            dec_signed(w, imm as i64)
        }
        Insn::MayGoto { off } => {
            w.write_str("may_goto pc")?;
            dec_signed(w, off as i64)
        }
        Insn::Call(Callee::Helper(id)) => helper_call(w, id),
        Insn::Call(Callee::Local(off)) => {
            w.write_str("call pc")?;
            dec_signed(w, off as i64)
        }
        Insn::Call(Callee::Kfunc { btf_id, .. }) => {
            w.write_str("call ")?;
            w.write_str(kfunc_name.unwrap_or("kernel-function"))?;
            w.write_char('#')?;
            dec(w, btf_id as i64)
        }
        // No `callx` in the kernel: opcode 0x8d reads as a helper call with imm 0.
        Insn::CallX { .. } => helper_call(w, 0),
        Insn::Exit => w.write_str("exit"),
    }
}

/// `call bpf_map_push_elem#87`, `call unknown#2000`.
fn helper_call<W: Write + ?Sized>(w: &mut W, id: i32) -> fmt::Result {
    let name = u32::try_from(id)
        .ok()
        .and_then(Helper::from_id)
        .map(Helper::name)
        .or(if id == 0 { Some("bpf_unspec") } else { None })
        .unwrap_or("unknown");
    w.write_str("call ")?;
    w.write_str(name)?;
    w.write_char('#')?;
    dec(w, id as i64)
}

fn kernel_atomic<W: Write + ?Sized>(
    w: &mut W,
    size: Size,
    op: AtomicOp,
    dst: Reg,
    src: Reg,
    off: i16,
) -> fmt::Result {
    let ty = utype(size);
    let bits = if size == Size::U64 { "64" } else { "" };
    if let Some((sym, name, fetch)) = rmw_parts(op) {
        if fetch {
            w.write_str(r(src))?;
            w.write_str(" = atomic")?;
            w.write_str(bits)?;
            w.write_str("_fetch_")?;
            w.write_str(name)?;
            w.write_char('(')?;
            ktyped(w, ty, dst, off)?;
            w.write_str(", ")?;
            w.write_str(r(src))?;
            return w.write_char(')');
        }
        w.write_str("lock *")?;
        ktyped(w, ty, dst, off)?;
        w.write_char(' ')?;
        w.write_str(sym)?;
        w.write_char(' ')?;
        return w.write_str(r(src));
    }
    match op {
        AtomicOp::Xchg => {
            w.write_str(r(src))?;
            w.write_str(" = atomic")?;
            w.write_str(bits)?;
            w.write_str("_xchg(")?;
            ktyped(w, ty, dst, off)?;
            w.write_str(", ")?;
            w.write_str(r(src))?;
            w.write_char(')')
        }
        AtomicOp::CmpXchg => {
            w.write_str("r0 = atomic")?;
            w.write_str(bits)?;
            w.write_str("_cmpxchg(")?;
            ktyped(w, ty, dst, off)?;
            w.write_str(", r0, ")?;
            w.write_str(r(src))?;
            w.write_char(')')
        }
        AtomicOp::LoadAcquire => {
            w.write_str(r(dst))?;
            w.write_str(" = load_acquire(")?;
            ktyped(w, ty, src, off)?;
            w.write_char(')')
        }
        AtomicOp::StoreRelease => {
            w.write_str("store_release(")?;
            ktyped(w, ty, dst, off)?;
            w.write_str(", ")?;
            w.write_str(r(src))?;
            w.write_char(')')
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{AluOp, Cond, R0, R1, R10, R2, R3, R4};

    fn k(insn: Insn) -> String {
        let mut s = String::new();
        write_kernel(&mut s, &insn);
        s
    }

    fn l(insn: Insn) -> String {
        let mut s = String::new();
        write_llvm(&mut s, &insn);
        s
    }

    fn alu(width: Width, op: AluOp, dst: Reg, src: impl Into<Operand>) -> Insn {
        Insn::Alu {
            width,
            op,
            dst,
            src: src.into(),
        }
    }

    // Expected kernel lines follow the format strings of `print_bpf_insn` (Linux 6.15+), and
    // were checked against the verifier log of Linux 6.18 (log level 2).

    #[test]
    fn padding_is_format_s() {
        for v in [0u64, 7, 0xabc, 12_345_678, 123_456_789, u64::MAX] {
            for width in [0, 1, 8, 16] {
                let mut s = String::new();
                dec_padded(&mut s, v, width);
                assert_eq!(s, format!("{v:>width$}"));
                let mut s = String::new();
                hex_padded(&mut s, v, width);
                assert_eq!(s, format!("{v:0width$x}"));
            }
        }
    }

    #[test]
    fn kernel_alu() {
        assert_eq!(k(alu(Width::W64, AluOp::Mov, R2, R10)), "(bf) r2 = r10");
        assert_eq!(k(alu(Width::W64, AluOp::Add, R2, -4)), "(07) r2 += -4");
        assert_eq!(k(alu(Width::W64, AluOp::Mov, R3, 0)), "(b7) r3 = 0");
        assert_eq!(k(alu(Width::W32, AluOp::Mov, R3, -1)), "(b4) w3 = -1");
        assert_eq!(
            k(alu(Width::W64, AluOp::Mov, R3, i32::MIN)),
            "(b7) r3 = -2147483648"
        );
        assert_eq!(k(alu(Width::W32, AluOp::Lsh, R1, 31)), "(64) w1 <<= 31");
        assert_eq!(k(alu(Width::W32, AluOp::Mov, R1, R2)), "(bc) w1 = w2");
        assert_eq!(k(alu(Width::W64, AluOp::Arsh, R1, 63)), "(c7) r1 s>>= 63");
        assert_eq!(k(alu(Width::W32, AluOp::Xor, R4, R0)), "(ac) w4 ^= w0");
    }

    #[test]
    fn kernel_signed_div_mod() {
        assert_eq!(k(alu(Width::W32, AluOp::SDiv, R3, 3)), "(34) w3 s/= 3");
        assert_eq!(k(alu(Width::W64, AluOp::SMod, R3, R2)), "(9f) r3 s%= r2");
        assert_eq!(k(alu(Width::W64, AluOp::Div, R3, R2)), "(3f) r3 /= r2");
        assert_eq!(k(alu(Width::W32, AluOp::Mod, R3, 7)), "(94) w3 %= 7");
    }

    #[test]
    fn kernel_neg() {
        assert_eq!(
            k(Insn::Neg {
                width: Width::W64,
                dst: R3
            }),
            "(87) r3 = -r3"
        );
        assert_eq!(
            k(Insn::Neg {
                width: Width::W32,
                dst: R3
            }),
            "(84) w3 = -w3"
        );
    }

    #[test]
    fn kernel_movsx() {
        let mov = |width, bits| Insn::MovSx {
            width,
            bits,
            dst: R3,
            src: R2,
        };
        assert_eq!(k(mov(Width::W64, 8)), "(bf) r3 = (s8)r2");
        assert_eq!(k(mov(Width::W64, 32)), "(bf) r3 = (s32)r2");
        assert_eq!(k(mov(Width::W32, 16)), "(bc) w3 = (s16)w2");
    }

    #[test]
    fn kernel_addr_space_cast() {
        let c = Insn::AddrSpaceCast {
            dst: R1,
            src: R2,
            dst_as: 65535,
            src_as: 2,
        };
        assert_eq!(k(c), "(bf) r1 = addr_space_cast(r2, 65535, 2)");
    }

    #[test]
    fn kernel_endian() {
        let e = |kind, bits| Insn::Endian {
            kind,
            bits,
            dst: R1,
        };
        assert_eq!(k(e(Endian::ToBe, 16)), "(dc) r1 = be16 r1");
        assert_eq!(k(e(Endian::ToLe, 64)), "(d4) r1 = le64 r1");
        assert_eq!(k(e(Endian::Swap, 32)), "(d7) r1 = bswap32 r1");
    }

    #[test]
    fn kernel_loads_and_stores() {
        let ld = |size, sign, off| Insn::Load {
            size,
            sign,
            dst: R2,
            src: R10,
            off,
        };
        assert_eq!(k(ld(Size::U32, false, -4)), "(61) r2 = *(u32 *)(r10 -4)");
        assert_eq!(k(ld(Size::U16, true, -8)), "(89) r2 = *(s16 *)(r10 -8)");
        assert_eq!(k(ld(Size::U64, false, 0)), "(79) r2 = *(u64 *)(r10 +0)");
        assert_eq!(
            k(ld(Size::U8, true, 32767)),
            "(91) r2 = *(s8 *)(r10 +32767)"
        );
        let st = Insn::Store {
            size: Size::U32,
            dst: R10,
            off: -4,
            src: R1,
        };
        assert_eq!(k(st), "(63) *(u32 *)(r10 -4) = r1");
        let sti = |size, off, imm| Insn::StoreImm {
            size,
            dst: R10,
            off,
            imm,
        };
        assert_eq!(k(sti(Size::U64, -8, 0)), "(7a) *(u64 *)(r10 -8) = 0");
        assert_eq!(k(sti(Size::U8, -1, -128)), "(72) *(u8 *)(r10 -1) = -128");
        assert_eq!(
            k(sti(Size::U64, i16::MIN, i32::MAX)),
            "(7a) *(u64 *)(r10 -32768) = 2147483647"
        );
    }

    #[test]
    fn kernel_atomics() {
        let a = |size, op| Insn::Atomic {
            size,
            op,
            dst: R1,
            src: R2,
            off: 8,
        };
        assert_eq!(
            k(a(Size::U64, AtomicOp::Add { fetch: false })),
            "(db) lock *(u64 *)(r1 +8) += r2"
        );
        assert_eq!(
            k(a(Size::U32, AtomicOp::Or { fetch: false })),
            "(c3) lock *(u32 *)(r1 +8) |= r2"
        );
        assert_eq!(
            k(a(Size::U64, AtomicOp::And { fetch: false })),
            "(db) lock *(u64 *)(r1 +8) &= r2"
        );
        assert_eq!(
            k(a(Size::U32, AtomicOp::Xor { fetch: false })),
            "(c3) lock *(u32 *)(r1 +8) ^= r2"
        );
        assert_eq!(
            k(a(Size::U64, AtomicOp::Add { fetch: true })),
            "(db) r2 = atomic64_fetch_add((u64 *)(r1 +8), r2)"
        );
        assert_eq!(
            k(a(Size::U32, AtomicOp::Xor { fetch: true })),
            "(c3) r2 = atomic_fetch_xor((u32 *)(r1 +8), r2)"
        );
        assert_eq!(
            k(a(Size::U64, AtomicOp::CmpXchg)),
            "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +8), r0, r2)"
        );
        assert_eq!(
            k(a(Size::U32, AtomicOp::CmpXchg)),
            "(c3) r0 = atomic_cmpxchg((u32 *)(r1 +8), r0, r2)"
        );
        assert_eq!(
            k(a(Size::U64, AtomicOp::Xchg)),
            "(db) r2 = atomic64_xchg((u64 *)(r1 +8), r2)"
        );
        assert_eq!(
            k(a(Size::U32, AtomicOp::Xchg)),
            "(c3) r2 = atomic_xchg((u32 *)(r1 +8), r2)"
        );
        // load_acquire: dst is the loaded register, src the address.
        assert_eq!(
            k(a(Size::U8, AtomicOp::LoadAcquire)),
            "(d3) r1 = load_acquire((u8 *)(r2 +8))"
        );
        assert_eq!(
            k(a(Size::U16, AtomicOp::StoreRelease)),
            "(cb) store_release((u16 *)(r1 +8), r2)"
        );
    }

    #[test]
    fn kernel_ld_imm64_prints_the_raw_immediate() {
        let ld = |pseudo, imm| Insn::LdImm64 {
            dst: R1,
            pseudo,
            imm,
        };
        assert_eq!(k(ld(Pseudo::Imm, 0x1_2345_6789)), "(18) r1 = 0x123456789");
        assert_eq!(k(ld(Pseudo::Imm, -1)), "(18) r1 = 0xffffffffffffffff");
        assert_eq!(k(ld(Pseudo::Imm, 0)), "(18) r1 = 0x0");
        assert_eq!(k(ld(Pseudo::MapFd, 5)), "(18) r1 = 0x5");
        assert_eq!(
            k(ld(Pseudo::MapValue, 8 << 32 | 5)),
            "(18) r1 = 0x800000005"
        );
    }

    #[test]
    fn kernel_packet_loads() {
        assert_eq!(
            k(Insn::LdAbs {
                size: Size::U8,
                imm: 4
            }),
            "(30) r0 = *(u8 *)skb[4]"
        );
        assert_eq!(
            k(Insn::LdAbs {
                size: Size::U32,
                imm: -1
            }),
            "(20) r0 = *(u32 *)skb[-1]"
        );
        assert_eq!(
            k(Insn::LdInd {
                size: Size::U16,
                src: R3,
                imm: 0
            }),
            "(48) r0 = *(u16 *)skb[r3 + 0]"
        );
        assert_eq!(
            k(Insn::LdInd {
                size: Size::U8,
                src: R3,
                imm: -2
            }),
            "(50) r0 = *(u8 *)skb[r3 + -2]"
        );
    }

    #[test]
    fn kernel_jumps() {
        let j = |width, cond, src: Operand, off| Insn::Jump {
            width,
            cond,
            dst: R0,
            src,
            off,
        };
        assert_eq!(
            k(j(Width::W64, Cond::Ne, Operand::Imm(0), 3)),
            "(55) if r0 != 0x0 goto pc+3"
        );
        assert_eq!(
            k(j(Width::W32, Cond::Slt, Operand::Imm(-5), 0)),
            "(c6) if w0 s< 0xfffffffb goto pc+0"
        );
        assert_eq!(
            k(j(Width::W64, Cond::Gt, Operand::Imm(i32::MAX), -1)),
            "(25) if r0 > 0x7fffffff goto pc-1"
        );
        assert_eq!(
            k(j(Width::W32, Cond::Set, Operand::Reg(R2), i16::MIN)),
            "(4e) if w0 & w2 goto pc-32768"
        );
        assert_eq!(
            k(j(Width::W64, Cond::Sle, Operand::Reg(R2), 7)),
            "(dd) if r0 s<= r2 goto pc+7"
        );
        assert_eq!(k(Insn::Ja { off: 0 }), "(05) goto pc+0");
        assert_eq!(k(Insn::Ja { off: -2 }), "(05) goto pc-2");
        assert_eq!(
            k(Insn::JaLong { imm: i32::MIN }),
            "(06) gotol pc-2147483648"
        );
        assert_eq!(k(Insn::MayGoto { off: 1 }), "(e5) may_goto pc+1");
        assert_eq!(k(Insn::Exit), "(95) exit");
    }

    #[test]
    fn kernel_calls() {
        assert_eq!(
            k(Insn::Call(Callee::Helper(87))),
            "(85) call bpf_map_push_elem#87"
        );
        assert_eq!(
            k(Insn::Call(Callee::Helper(5))),
            "(85) call bpf_ktime_get_ns#5"
        );
        assert_eq!(k(Insn::Call(Callee::Helper(0))), "(85) call bpf_unspec#0");
        assert_eq!(
            k(Insn::Call(Callee::Helper(2000))),
            "(85) call unknown#2000"
        );
        assert_eq!(k(Insn::Call(Callee::Helper(-1))), "(85) call unknown#-1");
        assert_eq!(k(Insn::Call(Callee::Local(3))), "(85) call pc+3");
        assert_eq!(k(Insn::Call(Callee::Local(-7))), "(85) call pc-7");
        let kf = Insn::Call(Callee::Kfunc {
            btf_id: 65472,
            off: 0,
        });
        assert_eq!(k(kf), "(85) call kernel-function#65472");
        let mut s = String::new();
        write_kernel_with(&mut s, &kf, Some("bpf_rcu_read_lock"));
        assert_eq!(s, "(85) call bpf_rcu_read_lock#65472");
        // The name is for kfuncs only.
        s.clear();
        write_kernel_with(&mut s, &Insn::Call(Callee::Local(1)), Some("f"));
        assert_eq!(s, "(85) call pc+1");
        assert_eq!(k(Insn::CallX { dst: R3 }), "(8d) call bpf_unspec#0");
    }

    #[test]
    fn llvm_examples_from_objdump() {
        assert_eq!(
            l(Insn::LdImm64 {
                dst: R1,
                pseudo: Pseudo::Imm,
                imm: 0
            }),
            "r1 = 0x0 ll"
        );
        assert_eq!(
            l(Insn::LdImm64 {
                dst: R1,
                pseudo: Pseudo::Imm,
                imm: i64::MIN
            }),
            "r1 = -0x8000000000000000 ll"
        );
        assert_eq!(
            l(Insn::LdImm64 {
                dst: R0,
                pseudo: Pseudo::MapFd,
                imm: -1
            }),
            "ld_pseudo\tr0, 0x1, 0xffffffff"
        );
        assert_eq!(
            l(Insn::Neg {
                width: Width::W32,
                dst: R1
            }),
            "w1 = -w1"
        );
        assert_eq!(l(alu(Width::W64, AluOp::SDiv, R1, 3)), "r1 s/= 0x3");
        assert_eq!(l(alu(Width::W32, AluOp::Mov, R1, -1)), "w1 = -0x1");
        assert_eq!(
            l(Insn::Load {
                size: Size::U8,
                sign: true,
                dst: R1,
                src: R2,
                off: -4
            }),
            "r1 = *(s8 *)(r2 - 0x4)"
        );
        assert_eq!(
            l(Insn::Load {
                size: Size::U16,
                sign: false,
                dst: R1,
                src: R2,
                off: 0
            }),
            "w1 = *(u16 *)(r2 + 0x0)"
        );
        let a = |size, op| Insn::Atomic {
            size,
            op,
            dst: R1,
            src: R2,
            off: 8,
        };
        assert_eq!(
            l(a(Size::U64, AtomicOp::Add { fetch: false })),
            "lock *(u64 *)(r1 + 0x8) += r2"
        );
        assert_eq!(
            l(a(Size::U64, AtomicOp::Add { fetch: true })),
            "r2 = atomic_fetch_add((u64 *)(r1 + 0x8), r2)"
        );
        assert_eq!(
            l(a(Size::U64, AtomicOp::CmpXchg)),
            "r0 = cmpxchg_64(r1 + 0x8, r0, r2)"
        );
        assert_eq!(
            l(a(Size::U32, AtomicOp::CmpXchg)),
            "w0 = cmpxchg32_32(r1 + 0x8, w0, w2)"
        );
        assert_eq!(
            l(a(Size::U8, AtomicOp::LoadAcquire)),
            "w1 = load_acquire((u8 *)(r2 + 0x8))"
        );
        assert_eq!(
            l(a(Size::U64, AtomicOp::StoreRelease)),
            "store_release((u64 *)(r1 + 0x8), r2)"
        );
        assert_eq!(l(Insn::JaLong { imm: 1 }), "gotol +0x1");
        assert_eq!(l(Insn::MayGoto { off: -1 }), "may_goto -0x1");
        assert_eq!(
            l(Insn::LdInd {
                size: Size::U16,
                src: R3,
                imm: 7
            }),
            "r0 = *(u16 *)skb[r3]"
        );
        assert_eq!(l(Insn::Call(Callee::Local(-2))), "call -0x2");
        assert_eq!(l(Insn::CallX { dst: R3 }), "callx r3");
    }

    #[test]
    fn annotation_rule() {
        let mut s = String::new();
        let syms = [(0, "f"), (2, "b"), (2, "a"), (5, "h")];
        let ann = |s: &mut String, t| {
            s.clear();
            write_llvm_target_annotation(s, t, &syms);
            s.clone()
        };
        assert_eq!(ann(&mut s, 0), " <f>");
        assert_eq!(ann(&mut s, 1), " <f+0x8>");
        assert_eq!(ann(&mut s, 2), " <b>");
        assert_eq!(ann(&mut s, 3), " <b+0x8>");
        assert_eq!(ann(&mut s, 5), " <h>");
        assert_eq!(ann(&mut s, 100), " <h+0x2f8>");
        assert_eq!(ann(&mut s, -1), " <h+0xffffffffffffffd0>");
        assert_eq!(ann(&mut s, 0), " <f>");
        s.clear();
        write_llvm_target_annotation(&mut s, 3, &[(4, "late")]);
        assert_eq!(s, "");
        write_llvm_target_annotation(&mut s, 3, &[]);
        assert_eq!(s, "");
    }

    #[test]
    fn display_wrappers_match_the_writers() {
        let i = alu(Width::W64, AluOp::Add, R1, -4);
        assert_eq!(Llvm(&i).to_string(), l(i));
        assert_eq!(Kernel(&i).to_string(), k(i));
    }
}
