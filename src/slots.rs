//! Instruction indexes and slots: the one place that turns one into the other.
//!
//! An instruction takes one 8-byte slot, `ld_imm64` two; jump and call offsets count slots,
//! while programs are vectors of instructions. Everything that needs the correspondence (the
//! builder and the assembler resolving labels, the ELF reader, writer and layout, the loader,
//! the listing, the lints, the verifier view) asks [`with_slots`] (each instruction with its
//! index and slot, in order) or a [`SlotMap`] (lookups both ways, and slots where no
//! instruction starts: the second half of an `ld_imm64`, bytes that do not decode). The
//! builder and the assembler point a branch at its target with [`set_offset`], so that both
//! refuse an offset that does not fit with the same message and the same advice.

use crate::insn::Insn;

/// Each instruction of `insns` with its index and its slot, in order.
///
/// ```
/// use bpfsmith::insn::{Insn, R0};
/// use bpfsmith::program::with_slots;
///
/// // `r0 = 1 ll` takes two slots: `exit` is instruction 1 at slot 2.
/// let insns = [Insn::ld_imm64(R0, 1), Insn::exit()];
/// let v: Vec<(usize, usize)> = with_slots(&insns).map(|(i, s, _)| (i, s)).collect();
/// assert_eq!(v, [(0, 0), (1, 2)]);
/// ```
pub fn with_slots(insns: &[Insn]) -> WithSlots<'_> {
    WithSlots {
        insns: insns.iter().enumerate(),
        slot: 0,
    }
}

/// The iterator of [`with_slots`]: `(index, slot, instruction)`.
#[derive(Clone, Debug)]
pub struct WithSlots<'a> {
    insns: std::iter::Enumerate<std::slice::Iter<'a, Insn>>,
    slot: usize,
}

impl<'a> Iterator for WithSlots<'a> {
    type Item = (usize, usize, &'a Insn);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (i, insn) = self.insns.next()?;
        let slot = self.slot;
        self.slot += insn.slots();
        Some((i, slot, insn))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.insns.size_hint()
    }
}

impl ExactSizeIterator for WithSlots<'_> {}

/// Where the instructions of a run of slots start: a bit per slot, with the count of
/// instructions before each 64-slot word, so that a slot gives its instruction's index at
/// once ([`SlotMap::index`]) and an index its slot by a search over the words
/// ([`SlotMap::slot`]; [`SlotMap::cursor`] for lookups that move little). About a third of a
/// byte per slot.
///
/// Built from instructions ([`SlotMap::new`]) or one instruction at a time as they are
/// decoded or assembled ([`SlotMap::push`], with [`SlotMap::skip`] for slots that start
/// nothing, such as bytes that do not decode).
///
/// ```
/// use bpfsmith::insn::{Insn, R0};
/// use bpfsmith::program::SlotMap;
///
/// let map = SlotMap::new(&[Insn::ld_imm64(R0, 1), Insn::exit()]);
/// assert_eq!((map.len(), map.slot_count()), (2, 3));
/// assert_eq!(map.slot(1), 2);
/// assert_eq!(map.index(2), Some(1));
/// assert_eq!(map.index(1), None); // the second half of the ld_imm64
/// assert_eq!(map.slot(2), 3); // the end
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotMap {
    bits: Vec<u64>,
    /// Instructions that start in the words before each word of `bits`.
    before: Vec<usize>,
    /// Slots covered (`bits` has `slots.div_ceil(64)` words).
    slots: usize,
    /// Instructions.
    count: usize,
}

impl SlotMap {
    /// The map of `insns`.
    pub fn new(insns: &[Insn]) -> SlotMap {
        // One pass to set the bits, one over the words to count: no per-instruction growth.
        let mut bits = vec![0u64; (2 * insns.len()).div_ceil(64)];
        let mut slot = 0;
        for insn in insns {
            bits[slot / 64] |= 1 << (slot % 64);
            slot += insn.slots();
        }
        bits.truncate(slot.div_ceil(64));
        let mut before = Vec::with_capacity(bits.len());
        let mut n = 0;
        for w in &bits {
            before.push(n);
            n += w.count_ones() as usize;
        }
        SlotMap {
            bits,
            before,
            slots: slot,
            count: insns.len(),
        }
    }

    /// An empty map with room for about `slots` slots.
    pub fn with_capacity(slots: usize) -> SlotMap {
        let words = slots.div_ceil(64);
        SlotMap {
            bits: Vec::with_capacity(words),
            before: Vec::with_capacity(words),
            slots: 0,
            count: 0,
        }
    }

    /// Note an instruction of `width` slots (1, or 2 for `ld_imm64`) at the end.
    #[inline]
    pub fn push(&mut self, width: usize) {
        let s = self.slots;
        self.grow_to(s);
        self.bits[s / 64] |= 1 << (s % 64);
        self.count += 1;
        self.slots = s + width;
    }

    /// Note `n` slots at the end where no instruction starts.
    pub fn skip(&mut self, n: usize) {
        self.slots += n;
    }

    /// A word for `slot`, and for every slot before it. A new word starts after every
    /// instruction so far. (The words past the last start are only made when something starts
    /// there: a missing word reads as empty.)
    #[inline]
    fn grow_to(&mut self, slot: usize) {
        while self.bits.len() <= slot / 64 {
            self.bits.push(0);
            self.before.push(self.count);
        }
    }

    /// How many instructions.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no instruction.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many slots.
    pub fn slot_count(&self) -> usize {
        self.slots
    }

    /// Whether an instruction starts at `slot`.
    #[inline]
    pub fn is_start(&self, slot: usize) -> bool {
        self.bits
            .get(slot / 64)
            .is_some_and(|w| w >> (slot % 64) & 1 == 1)
    }

    /// The index of the instruction that starts at `slot`, if one does.
    #[inline]
    pub fn index(&self, slot: usize) -> Option<usize> {
        self.is_start(slot).then(|| self.starts_before(slot))
    }

    /// How many instructions start before `slot` (all of them for a slot past the end).
    #[inline]
    pub fn starts_before(&self, slot: usize) -> usize {
        match self.bits.get(slot / 64) {
            Some(w) => {
                let below = w & ((1u64 << (slot % 64)) - 1);
                self.before[slot / 64] + below.count_ones() as usize
            }
            None => self.count,
        }
    }

    /// The slot of instruction `i`; for `i` = [`SlotMap::len`], the slot count.
    ///
    /// # Panics
    ///
    /// If `i` is more than [`SlotMap::len`].
    pub fn slot(&self, i: usize) -> usize {
        assert!(i <= self.count, "instruction {i} of {}", self.count);
        if i == self.count {
            return self.slots;
        }
        // The last word with fewer than i + 1 starts before it holds the start.
        let k = self.before.partition_point(|&b| b <= i) - 1;
        k * 64 + nth_bit(self.bits[k], i - self.before[k])
    }

    /// A cursor for [`SlotMap::slot`] lookups that move little from one to the next.
    pub fn cursor(&self) -> SlotCursor<'_> {
        // As if just before the first start: the next step finds it.
        SlotCursor {
            map: self,
            index: usize::MAX,
            slot: 0,
            word: 0,
            rest: self.bits.first().copied().unwrap_or(0),
        }
    }

    /// Each instruction's index and slot, in order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.starts().enumerate()
    }

    /// The slots where instructions start, in order.
    pub fn starts(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits.iter().enumerate().flat_map(|(k, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let bit = w.trailing_zeros() as usize;
                    w &= w - 1;
                    k * 64 + bit
                })
            })
        })
    }
}

/// The position of the `n`th set bit of `w` (from 0, counting from the low end); `w` has more
/// than `n` set bits.
#[inline]
fn nth_bit(w: u64, n: usize) -> usize {
    let mut n = n as u32;
    let mut base = 0;
    // Skip whole bytes first, then clear the low bits one by one.
    let mut rest = w;
    loop {
        let ones = (rest & 0xff).count_ones();
        if ones > n {
            break;
        }
        n -= ones;
        rest >>= 8;
        base += 8;
    }
    for _ in 0..n {
        rest &= rest - 1;
    }
    base + rest.trailing_zeros() as usize
}

/// [`SlotMap::slot`], stepping from the last answer when the next lookup is a little ahead.
#[derive(Clone, Debug)]
pub struct SlotCursor<'a> {
    map: &'a SlotMap,
    /// The last lookup's index (`usize::MAX`: none yet) and slot, its word, and the starts of
    /// that word above it.
    index: usize,
    slot: usize,
    word: usize,
    rest: u64,
}

impl SlotCursor<'_> {
    /// The slot of instruction `i`, as [`SlotMap::slot`].
    #[inline]
    pub fn slot(&mut self, i: usize) -> usize {
        if i == self.index.wrapping_add(1) && i < self.map.count {
            // The next start: the common case (a walk over the instructions).
            while self.rest == 0 {
                self.word += 1;
                self.rest = self.map.bits[self.word];
            }
            self.slot = self.word * 64 + self.rest.trailing_zeros() as usize;
            self.rest &= self.rest - 1;
            self.index = i;
            return self.slot;
        }
        if i == self.index {
            return self.slot;
        }
        self.seek(i)
    }

    /// Any other lookup: a few steps, a gallop over the words ahead, or a search.
    #[inline(never)]
    fn seek(&mut self, i: usize) -> usize {
        let map = self.map;
        if i >= map.count {
            return map.slot(i);
        }
        let j = self.index;
        if j != usize::MAX && j < i && i - j <= 8 {
            while self.index < i {
                self.slot(self.index + 1);
            }
            return self.slot;
        }
        let slot = if j != usize::MAX && j < i {
            let before = &map.before;
            let (mut lo, mut step) = (self.word, 1);
            while lo + step < before.len() && before[lo + step] <= i {
                lo += step;
                step *= 2;
            }
            let hi = (lo + step).min(before.len());
            let w = lo + before[lo..hi].partition_point(|&b| b <= i) - 1;
            w * 64 + nth_bit(map.bits[w], i - before[w])
        } else {
            map.slot(i)
        };
        self.word = slot / 64;
        // The starts of the word above `slot` (`2 << 63` is 0: nothing above bit 63).
        let above = !(2u64 << (slot % 64)).wrapping_sub(1);
        self.rest = map.bits[self.word] & if slot % 64 == 63 { 0 } else { above };
        self.index = i;
        self.slot = slot;
        slot
    }
}

/// A branch whose target lies beyond the reach of its offset field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("needs offset {offset}, which does not fit in {bits} bits")]
pub struct OutOfReach {
    /// The offset needed, in slots.
    pub offset: i64,
    /// The width of the instruction's offset field.
    pub bits: u32,
    /// What reaches that far, when something does (a `help:` line).
    pub help: Option<&'static str>,
}

/// Set the offset of a branch (a jump, `gotol`, `may_goto`, a local call, or an `ld_imm64`
/// of a function address) to `offset` slots, counted from the next slot as the kernel counts
/// them: `to - (from + 1)`. Any other instruction is left as it is.
///
/// ```
/// use bpfsmith::insn::{Cond, Insn, R1};
/// use bpfsmith::program::set_offset;
///
/// let mut jump = Insn::Ja { off: 0 };
/// set_offset(&mut jump, 3).unwrap();
/// assert_eq!(jump, Insn::Ja { off: 3 });
/// // A 16-bit field does not reach 40,000 slots; `gotol` (32 bits) does.
/// let e = set_offset(&mut jump, 40_000).unwrap_err();
/// assert_eq!(e.to_string(), "needs offset 40000, which does not fit in 16 bits");
/// assert!(e.help.unwrap().contains("gotol"));
/// ```
pub fn set_offset(insn: &mut Insn, offset: i64) -> Result<(), OutOfReach> {
    let out = |bits, help| OutOfReach { offset, bits, help };
    match insn {
        Insn::Jump { off, .. } => {
            *off = i16::try_from(offset).map_err(|_| {
                out(
                    16,
                    Some("invert the condition and jump over a `gotol` (`jump_long` in the DSL)"),
                )
            })?;
        }
        Insn::Ja { off } => {
            *off = i16::try_from(offset).map_err(|_| {
                out(
                    16,
                    Some("use `gotol` (`jump_long` in the DSL), whose offset has 32 bits (cpu v4)"),
                )
            })?;
        }
        Insn::MayGoto { off } => {
            *off = i16::try_from(offset).map_err(|_| out(16, None))?;
        }
        Insn::JaLong { imm } | Insn::Call(crate::insn::Callee::Local(imm)) => {
            *imm = i32::try_from(offset).map_err(|_| out(32, None))?;
        }
        Insn::LdImm64 {
            pseudo: crate::insn::Pseudo::Func,
            imm,
            ..
        } => *imm = offset,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Insn, Pseudo, R1};

    fn program(pattern: impl Fn(usize) -> bool, n: usize) -> Vec<Insn> {
        let wide = Insn::LdImm64 {
            dst: R1,
            pseudo: Pseudo::Imm,
            imm: 1,
        };
        (0..n)
            .map(|k| if pattern(k) { wide } else { Insn::Exit })
            .collect()
    }

    /// The map agrees with the running sum of instruction widths, both ways, at every index and
    /// slot, for several mixes of one- and two-slot instructions across word boundaries.
    #[test]
    fn the_map_agrees_with_the_running_sum() {
        let patterns: [&dyn Fn(usize) -> bool; 5] = [
            &|_| false,
            &|_| true,
            &|k| k % 3 == 1 || k % 7 == 0,
            &|k| k % 64 == 63,
            &|k| (k / 100) % 2 == 0,
        ];
        for (p, pattern) in patterns.iter().enumerate() {
            for n in [0, 1, 63, 64, 65, 130, 1000] {
                let insns = program(pattern, n);
                let want: Vec<usize> = insns
                    .iter()
                    .scan(0, |s, i| {
                        let at = *s;
                        *s += i.slots();
                        Some(at)
                    })
                    .collect();
                let total: usize = insns.iter().map(Insn::slots).sum();
                let map = SlotMap::new(&insns);
                assert_eq!((map.len(), map.slot_count()), (n, total));
                let mut cur = map.cursor();
                for (i, &w) in want.iter().enumerate() {
                    assert_eq!(map.slot(i), w, "pattern {p} n {n} i {i}");
                    assert_eq!(cur.slot(i), w, "pattern {p} n {n} i {i}");
                    assert_eq!(map.index(w), Some(i));
                    if insns[i].slots() == 2 {
                        assert_eq!(map.index(w + 1), None);
                        assert_eq!(map.starts_before(w + 1), i + 1);
                    }
                }
                assert_eq!(map.slot(n), total);
                assert_eq!(cur.slot(n), total);
                for i in (0..n).rev().step_by(3) {
                    assert_eq!(cur.slot(i), want[i]);
                }
                for step in [2, 5, 8, 9, 40, 130] {
                    let mut cur = map.cursor();
                    for i in (0..n).step_by(step) {
                        assert_eq!(cur.slot(i), want[i], "step {step} i {i}");
                        assert_eq!(cur.slot(i), want[i], "again {step} i {i}");
                    }
                }
                assert_eq!(map.starts_before(total + 100), n);
                let iter: Vec<(usize, usize)> = map.iter().collect();
                let by_iter: Vec<(usize, usize)> =
                    with_slots(&insns).map(|(i, s, _)| (i, s)).collect();
                assert_eq!(iter, by_iter);
                assert_eq!(iter, want.iter().copied().enumerate().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn skipped_slots_start_nothing() {
        let mut map = SlotMap::default();
        map.push(1);
        map.skip(70);
        map.push(2);
        map.push(1);
        assert_eq!(map.slot_count(), 74);
        assert_eq!(map.len(), 3);
        assert_eq!(map.starts().collect::<Vec<_>>(), [0, 71, 73]);
        assert_eq!(map.index(5), None);
        assert_eq!(map.index(71), Some(1));
        assert_eq!(map.slot(2), 73);
        assert_eq!(map.cursor().slot(2), 73);
    }

    #[test]
    fn nth_bit_is_the_nth_set_bit() {
        for w in [
            1u64,
            0x8000_0000_0000_0000,
            !0,
            0xf0f0_0000_0101_0003,
            0xaaaa_aaaa_aaaa_aaaa,
        ] {
            let bits: Vec<usize> = (0..64).filter(|b| w >> b & 1 == 1).collect();
            for (n, &b) in bits.iter().enumerate() {
                assert_eq!(nth_bit(w, n), b, "{w:#x} {n}");
            }
        }
    }
}
