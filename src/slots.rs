//! Slot offsets without a table per instruction: an instruction's slot is its index plus the
//! number of `ld_imm64` (two slots each) before it, so a program's sorted list of `ld_imm64`
//! indices gives every slot, by searching it near the last answer.

use crate::insn::Insn;

/// The number of values of `sorted` below `x` (`sorted.partition_point(|v| *v < x)`),
/// searching outwards from index `near` first: the values asked about are mostly close to
/// the last answer.
pub(crate) fn partition_near<T: Ord + Copy>(sorted: &[T], x: T, near: usize) -> usize {
    let near = near.min(sorted.len());
    let (lo, hi) = if near == 0 || sorted[near - 1] < x {
        // The answer is at or after `near`.
        let mut step = 1;
        let mut lo = near;
        while lo + step <= sorted.len() && sorted[lo + step - 1] < x {
            lo += step;
            step *= 2;
        }
        (lo, (lo + step).min(sorted.len()))
    } else {
        // The answer is before `near`.
        let mut step = 1;
        let mut hi = near - 1;
        while hi >= step && sorted[hi - step] >= x {
            hi -= step;
            step *= 2;
        }
        (hi.saturating_sub(step), hi)
    };
    lo + sorted[lo..hi].partition_point(|v| *v < x)
}

/// The slots of a program's instructions ([`crate::program::Program::slot_offsets`]), kept as
/// the indices of its `ld_imm64`.
#[derive(Clone, Debug, Default)]
pub(crate) struct SlotMap {
    wide: Vec<usize>,
}

impl SlotMap {
    pub(crate) fn new(insns: &[Insn]) -> SlotMap {
        let wide = insns
            .iter()
            .enumerate()
            .filter(|(_, i)| i.slots() == 2)
            .map(|(k, _)| k)
            .collect();
        SlotMap { wide }
    }

    /// The slot of instruction `i` (`i` = the instruction count: the slot count).
    pub(crate) fn slot(&self, i: usize) -> usize {
        i + self.wide.partition_point(|&w| w < i)
    }

    /// A cursor for lookups that move little from one to the next.
    pub(crate) fn cursor(&self) -> SlotCursor<'_> {
        SlotCursor {
            wide: &self.wide,
            k: 0,
        }
    }
}

/// [`SlotMap::slot`], searching near the last lookup first.
pub(crate) struct SlotCursor<'a> {
    wide: &'a [usize],
    k: usize,
}

impl SlotCursor<'_> {
    #[inline]
    pub(crate) fn slot(&mut self, i: usize) -> usize {
        if self.k == 0 || self.wide[self.k - 1] < i {
            // Forward, mostly by a step or two.
            let mut steps = 0;
            while self.k < self.wide.len() && self.wide[self.k] < i {
                self.k += 1;
                steps += 1;
                if steps == 8 {
                    self.k = partition_near(self.wide, i, self.k);
                    break;
                }
            }
        } else {
            self.k = partition_near(self.wide, i, self.k);
        }
        i + self.k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::{Insn, Pseudo, R1};

    #[test]
    fn partition_near_is_partition_point() {
        let sorted: Vec<u32> = (0..200).map(|k| k * 5 + (k % 3)).collect();
        for near in [0, 1, 5, 50, 199, 200, 500] {
            for x in 0..1100 {
                assert_eq!(
                    partition_near(&sorted, x, near),
                    sorted.partition_point(|&v| v < x),
                    "x {x} near {near}"
                );
            }
        }
        assert_eq!(partition_near(&[] as &[u32], 3, 0), 0);
    }

    #[test]
    fn slots_are_slot_offsets() {
        let wide = Insn::LdImm64 {
            dst: R1,
            pseudo: Pseudo::Imm,
            imm: 1,
        };
        let insns: Vec<Insn> = (0..50)
            .map(|k| {
                if k % 3 == 1 || k % 7 == 0 {
                    wide
                } else {
                    Insn::Exit
                }
            })
            .collect();
        let prog = crate::program::Program::from_insns("p", crate::program::Section::SOCKET, insns);
        let want = prog.slot_offsets();
        let map = SlotMap::new(&prog.insns);
        let mut cur = map.cursor();
        for (i, &w) in want.iter().enumerate() {
            assert_eq!(map.slot(i), w);
            assert_eq!(cur.slot(i), w);
        }
        for i in (0..want.len()).rev().step_by(3) {
            assert_eq!(cur.slot(i), want[i]);
        }
    }
}
