//! The linker: which units make up a program, where each goes, and the immediates of the calls
//! and function addresses between them.
//!
//! A *unit* is a run of instructions that is placed whole: a function of an ELF file (the
//! reader's pieces) or a program of an [`Object`](super::Object) (the loader's callees). The
//! caller numbers its units in the object's (the file's) order and says, for each unit, how
//! big it is ([`Size`]) and what it refers to ([`Ref`]: a `call` or an `ld_imm64` function
//! address, the slot it is at, the unit and slot it points to). [`link`] then gives the
//! program that starts with an entry unit ([`Linked`]):
//!
//! - the **closure**: every unit reached from the entry through references, each once, however
//!   often and through whatever cycles (recursion) it is reached;
//! - the **order**: the entry first, then the reached units in ascending unit number (the
//!   object's order), which is how libbpf and bpfsmith's writer lay out a program, so that an
//!   object read back or loaded has its functions where they were written;
//! - each unit's **base**: its first instruction index and first slot in the program;
//! - and, from [`Linked::fixups`], each reference's new **immediate**
//!   (`target base slot + target slot - (referring slot + 1)`, counted in the program): an
//!   `i32` for a `call`, an `i64` for an `ld_imm64` that becomes [`Pseudo::Func`].
//!
//! Plain data in and out: no ELF, no syscalls. The ELF reader, the loader (and the VM) link
//! with it.

use std::collections::BTreeMap;

use crate::insn::{Callee, Insn, Pseudo};

/// What a referring instruction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefKind {
    /// A bpf-to-bpf `call` (`src = 1`): its 32-bit immediate is the offset.
    Call,
    /// A function address: an `ld_imm64` whose 64-bit immediate is the offset, with
    /// [`Pseudo::Func`].
    FuncAddr,
}

/// A reference of a unit to a function: a call or a function address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ref {
    /// The referring instruction's slot in its unit.
    pub(crate) slot: usize,
    /// What the referring instruction is.
    pub(crate) kind: RefKind,
    /// The unit it points into.
    pub(crate) to: usize,
    /// The slot in that unit it points at (where the function starts).
    pub(crate) to_slot: usize,
}

/// How big a unit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Size {
    /// Instructions.
    pub(crate) insns: usize,
    /// Slots (an `ld_imm64` takes two).
    pub(crate) slots: usize,
}

/// A unit placed in the linked program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placed {
    /// The unit.
    pub(crate) unit: usize,
    /// Its first instruction's index in the program.
    pub(crate) insn: usize,
    /// Its first slot in the program.
    pub(crate) slot: usize,
}

/// A reference's immediate in the linked program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Imm {
    /// A `call`'s offset.
    Call(i32),
    /// An `ld_imm64`'s offset (with [`Pseudo::Func`]).
    Func(i64),
}

impl Imm {
    /// Write the immediate into the referring instruction: a call becomes a local call of
    /// that offset, an `ld_imm64` a [`Pseudo::Func`] of it. Another instruction (one the
    /// reference's kind does not describe) is left as it is.
    pub(crate) fn apply(self, insn: &mut Insn) {
        match (self, insn) {
            (Imm::Call(off), Insn::Call(callee)) => *callee = Callee::Local(off),
            (Imm::Func(off), Insn::LdImm64 { pseudo, imm, .. }) => {
                *pseudo = Pseudo::Func;
                *imm = off;
            }
            _ => {}
        }
    }
}

/// A reference to rewrite: where it is and its new immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fixup {
    /// The position of its unit in [`Linked::placed`].
    pub(crate) placed: usize,
    /// Its slot in its unit.
    pub(crate) slot: usize,
    /// The new immediate.
    pub(crate) imm: Imm,
}

/// Why units cannot be linked. Each names the referring instruction: its unit and its slot
/// there (for the entry itself, slot 0).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    /// The entry, or a reference's target unit, does not exist.
    #[error("the reference at slot {slot} of unit {unit} names unit {to}, which does not exist")]
    NoUnit {
        /// The referring unit (the entry when it is the entry that is missing).
        unit: usize,
        /// The referring slot.
        slot: usize,
        /// The missing unit.
        to: usize,
    },
    /// A reference's slot, or the slot it points at, is past the end of its unit.
    #[error(
        "the reference at slot {slot} of unit {unit} to slot {to_slot} of unit {to} is past \
         the end of a unit"
    )]
    PastEnd {
        /// The referring unit.
        unit: usize,
        /// The referring slot.
        slot: usize,
        /// The target unit.
        to: usize,
        /// The target slot.
        to_slot: usize,
    },
    /// The offset does not fit the immediate: 32 bits for a call, 64 for an `ld_imm64`.
    #[error("the reference at slot {slot} of unit {unit} needs offset {offset}, which does not fit its immediate")]
    Offset {
        /// The referring unit.
        unit: usize,
        /// The referring slot.
        slot: usize,
        /// The offset.
        offset: i128,
    },
}

/// A linked program: the units it is made of, where each goes, and their references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Linked {
    /// The units: the entry first, then every unit it reaches, in ascending unit number.
    pub(crate) placed: Vec<Placed>,
    /// Instructions in all.
    pub(crate) insns: usize,
    /// Slots in all.
    pub(crate) slots: usize,
    /// Each placed unit's references, sorted by slot (stable: two at one slot keep their
    /// order).
    refs: Vec<Vec<Ref>>,
}

/// Link the program that starts with unit `entry`: `refs` lists a unit's references (asked
/// once per reached unit), `size` a unit's size (`None`: no such unit). See the [module
/// documentation](self).
pub(crate) fn link<I>(
    entry: usize,
    mut refs: impl FnMut(usize) -> I,
    size: impl Fn(usize) -> Option<Size>,
) -> Result<Linked, LinkError>
where
    I: IntoIterator<Item = Ref>,
{
    let no_entry = LinkError::NoUnit {
        unit: entry,
        slot: 0,
        to: entry,
    };
    // Reached units: unit -> (size, references). A BTreeMap gives the order at the end.
    let mut reached: BTreeMap<usize, (Size, Vec<Ref>)> = BTreeMap::new();
    let mut stack = vec![(entry, size(entry).ok_or(no_entry)?)];
    reached.insert(entry, (stack[0].1, Vec::new()));
    while let Some((unit, unit_size)) = stack.pop() {
        let mut list: Vec<Ref> = refs(unit).into_iter().collect();
        list.sort_by_key(|r| r.slot);
        for r in &list {
            let target = match reached.get(&r.to) {
                Some(&(s, _)) => s,
                None => {
                    let s = size(r.to).ok_or(LinkError::NoUnit {
                        unit,
                        slot: r.slot,
                        to: r.to,
                    })?;
                    reached.insert(r.to, (s, Vec::new()));
                    stack.push((r.to, s));
                    s
                }
            };
            if r.slot >= unit_size.slots || r.to_slot >= target.slots {
                return Err(LinkError::PastEnd {
                    unit,
                    slot: r.slot,
                    to: r.to,
                    to_slot: r.to_slot,
                });
            }
        }
        if let Some(e) = reached.get_mut(&unit) {
            e.1 = list;
        }
    }
    let mut linked = Linked {
        placed: Vec::with_capacity(reached.len()),
        insns: 0,
        slots: 0,
        refs: Vec::with_capacity(reached.len()),
    };
    let first = reached.remove(&entry).map(|e| (entry, e));
    for (unit, (s, list)) in first.into_iter().chain(reached) {
        linked.placed.push(Placed {
            unit,
            insn: linked.insns,
            slot: linked.slots,
        });
        linked.refs.push(list);
        linked.insns += s.insns;
        linked.slots += s.slots;
    }
    Ok(linked)
}

impl LinkError {
    /// The referring instruction: its unit and its slot there.
    pub(crate) fn at(&self) -> (usize, usize) {
        match *self {
            LinkError::NoUnit { unit, slot, .. }
            | LinkError::PastEnd { unit, slot, .. }
            | LinkError::Offset { unit, slot, .. } => (unit, slot),
        }
    }
}

impl Linked {
    /// The position of `unit` in [`Linked::placed`], if it is placed.
    pub(crate) fn position(&self, unit: usize) -> Option<usize> {
        match self.placed.first() {
            Some(p) if p.unit == unit => Some(0),
            // After the entry the units are ascending.
            _ => {
                let rest = self.placed.get(1..)?;
                rest.binary_search_by_key(&unit, |p| p.unit)
                    .ok()
                    .map(|k| k + 1)
            }
        }
    }

    /// Every reference with its immediate in the linked program, in program order (placed
    /// unit, then slot).
    pub(crate) fn fixups(&self) -> Result<Vec<Fixup>, LinkError> {
        let mut out = Vec::with_capacity(self.refs.iter().map(Vec::len).sum());
        for (k, (from, list)) in self.placed.iter().zip(&self.refs).enumerate() {
            for r in list {
                // Every target was placed by `link`.
                let to = self.position(r.to).map_or(0, |p| self.placed[p].slot);
                let offset =
                    (to as i128 + r.to_slot as i128) - (from.slot as i128 + r.slot as i128 + 1);
                let too_far = LinkError::Offset {
                    unit: from.unit,
                    slot: r.slot,
                    offset,
                };
                let imm = match r.kind {
                    RefKind::Call => Imm::Call(i32::try_from(offset).map_err(|_| too_far)?),
                    RefKind::FuncAddr => Imm::Func(i64::try_from(offset).map_err(|_| too_far)?),
                };
                out.push(Fixup {
                    placed: k,
                    slot: r.slot,
                    imm,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units of the given slot counts (one instruction per slot) and references
    /// (from, slot, to, to_slot), all calls.
    struct Units {
        slots: Vec<usize>,
        refs: Vec<(usize, usize, usize, usize)>,
    }

    impl Units {
        fn link(&self, entry: usize) -> Result<Linked, LinkError> {
            link(
                entry,
                |u| {
                    self.refs
                        .iter()
                        .filter(move |r| r.0 == u)
                        .map(|&(_, slot, to, to_slot)| Ref {
                            slot,
                            kind: RefKind::Call,
                            to,
                            to_slot,
                        })
                },
                |u| self.slots.get(u).map(|&s| Size { insns: s, slots: s }),
            )
        }
    }

    fn units(l: &Linked) -> Vec<usize> {
        l.placed.iter().map(|p| p.unit).collect()
    }

    #[test]
    fn the_closure_is_what_the_entry_reaches_each_once_entry_first_then_in_unit_order() {
        // 3 -> 4 -> 1 -> 4 (a cycle), 3 -> 1 again; 0 and 2 are not reached.
        let u = Units {
            slots: vec![2, 3, 4, 5, 6],
            refs: vec![
                (3, 0, 4, 0),
                (4, 1, 1, 0),
                (1, 0, 4, 0),
                (3, 2, 1, 0),
                (0, 0, 2, 0),
            ],
        };
        let l = u.link(3).unwrap();
        assert_eq!(units(&l), [3, 1, 4]);
        // Bases: 3 at 0, 1 after its 5 slots, 4 after 1's 3.
        let bases: Vec<(usize, usize)> = l.placed.iter().map(|p| (p.insn, p.slot)).collect();
        assert_eq!(bases, [(0, 0), (5, 5), (8, 8)]);
        assert_eq!((l.insns, l.slots), (14, 14));
        assert_eq!(l.position(4), Some(2));
        assert_eq!(l.position(0), None);
    }

    #[test]
    fn recursion_places_the_unit_once_and_calls_itself() {
        // Unit 1 calls itself at slot 2 and is called by 0 from slot 1.
        let u = Units {
            slots: vec![3, 4],
            refs: vec![(1, 2, 1, 0), (0, 1, 1, 0)],
        };
        let l = u.link(0).unwrap();
        assert_eq!(units(&l), [0, 1]);
        let f = l.fixups().unwrap();
        // 0 at slot 1 to 1 at 3: 3 - 2; 1's slot 2 (program slot 5) back to 3: 3 - 6.
        assert_eq!(
            f.iter()
                .map(|f| (f.placed, f.slot, f.imm))
                .collect::<Vec<_>>(),
            [(0, 1, Imm::Call(1)), (1, 2, Imm::Call(-3))]
        );
    }

    #[test]
    fn the_entry_may_be_reached_back_and_stays_first() {
        // 2 -> 0 -> 2: entry 2 stays first, 0 follows.
        let u = Units {
            slots: vec![2, 1, 3],
            refs: vec![(2, 0, 0, 0), (0, 1, 2, 0)],
        };
        let l = u.link(2).unwrap();
        assert_eq!(units(&l), [2, 0]);
        let f = l.fixups().unwrap();
        // 2's slot 0 to 0 at slot 3: 3 - 1; 0's slot 1 (program slot 4) to 0: 0 - 5.
        assert_eq!(f[0].imm, Imm::Call(2));
        assert_eq!(f[1].imm, Imm::Call(-5));
    }

    #[test]
    fn immediates_count_the_target_slot_and_a_function_address_is_64_bit() {
        let refs = |u: usize| {
            (u == 0)
                .then_some([
                    Ref {
                        slot: 3,
                        kind: RefKind::FuncAddr,
                        to: 1,
                        to_slot: 2,
                    },
                    Ref {
                        slot: 0,
                        kind: RefKind::Call,
                        to: 0,
                        to_slot: 2,
                    },
                ])
                .into_iter()
                .flatten()
        };
        let size = |u: usize| (u < 2).then_some(Size { insns: 3, slots: 5 });
        let l = link(0, refs, size).unwrap();
        let f = l.fixups().unwrap();
        // Sorted by slot: the call at 0 to slot 2 of itself: 2 - 1; the address at 3 to
        // slot 2 of unit 1 (base 5): 7 - 4.
        assert_eq!(
            f.iter().map(|f| (f.slot, f.imm)).collect::<Vec<_>>(),
            [(0, Imm::Call(1)), (3, Imm::Func(3))]
        );
        assert_eq!(l.placed[1].insn, 3);
        let mut call = Insn::Call(Callee::Helper(1));
        Imm::Call(1).apply(&mut call);
        assert_eq!(call, Insn::Call(Callee::Local(1)));
        let mut ld = Insn::ld_imm64(crate::insn::R1, 0);
        Imm::Func(3).apply(&mut ld);
        assert!(matches!(
            ld,
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm: 3,
                ..
            }
        ));
    }

    #[test]
    fn an_offset_past_32_bits_is_an_error_for_a_call_not_for_an_address() {
        let far = 1usize << 32;
        let size = |u: usize| {
            (u < 2).then_some(Size {
                insns: far,
                slots: far,
            })
        };
        let refs = |kind| {
            move |u: usize| {
                (u == 0).then_some(Ref {
                    slot: 0,
                    kind,
                    to: 1,
                    to_slot: 0,
                })
            }
        };
        let l = link(0, refs(RefKind::Call), size).unwrap();
        assert_eq!(
            l.fixups(),
            Err(LinkError::Offset {
                unit: 0,
                slot: 0,
                offset: far as i128 - 1
            })
        );
        let l = link(0, refs(RefKind::FuncAddr), size).unwrap();
        assert_eq!(l.fixups().unwrap()[0].imm, Imm::Func(far as i64 - 1));
    }

    #[test]
    fn missing_units_and_slots_past_the_end_are_errors() {
        let u = Units {
            slots: vec![2, 2],
            refs: vec![(0, 1, 5, 0)],
        };
        assert_eq!(
            u.link(0),
            Err(LinkError::NoUnit {
                unit: 0,
                slot: 1,
                to: 5
            })
        );
        assert!(matches!(u.link(9), Err(LinkError::NoUnit { to: 9, .. })));
        let u = Units {
            slots: vec![2, 2],
            refs: vec![(0, 1, 1, 2)],
        };
        assert!(matches!(
            u.link(0),
            Err(LinkError::PastEnd { to_slot: 2, .. })
        ));
        let u = Units {
            slots: vec![2, 2],
            refs: vec![(0, 2, 1, 0)],
        };
        assert!(matches!(u.link(0), Err(LinkError::PastEnd { slot: 2, .. })));
    }
}
