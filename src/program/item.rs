//! A program's instructions one at a time with everything the program knows of each: index,
//! slot, source location, the name bound there, and what it refers to (a map or function by
//! name, a kernel function by BTF id, or an instruction of the program by offset). The printers
//! and the verifier's source map walk programs through [`Program::items`] rather than keeping
//! their own cursors over `locs`, `relocs`, `labels` and `functions`.

use super::{Program, Reloc, RelocKind, SourceLoc};
use crate::insn::{Callee, Insn, Pseudo};
use crate::slots::{SlotMap, WithSlots};

/// One instruction of a [`Program`] and what the program knows of it ([`Program::items`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item<'p> {
    /// Its index in [`Program::insns`].
    pub index: usize,
    /// Its first 8-byte slot (what jump offsets and the verifier count).
    pub slot: usize,
    /// The instruction.
    pub insn: &'p Insn,
    /// Where it was written, when known.
    pub loc: Option<SourceLoc>,
    /// The name bound at it: the program's own at instruction 0, a function's, or a label's
    /// (a function's name wins over a label at the same place).
    pub name: Option<&'p str>,
    /// Whether a function (the entry, or a bpf-to-bpf callee) starts here.
    pub function_start: bool,
    /// What it refers to, if anything.
    pub reference: Option<Reference<'p>>,
}

/// What an instruction refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference<'p> {
    /// A map, by name: the `ld_imm64` the loader patches with the map's file descriptor.
    Map(&'p str),
    /// A function, by name: a call or function address the linker resolves (a function of
    /// `.text`, or another program's).
    Function(&'p str),
    /// A kernel function, by BTF id (`off`: 0 for vmlinux, else an index into `fd_array`).
    Kfunc {
        /// The function's BTF id.
        btf_id: i32,
        /// The BTF object it is in.
        off: i16,
    },
    /// A place in this program, by offset: a jump's, a local call's or a function address's
    /// target.
    Local {
        /// The target slot (may lie outside the program: the lints say so).
        slot: i64,
        /// The instruction that starts there: `None` outside the program or inside an
        /// `ld_imm64`; the instruction count for the end of the program.
        index: Option<usize>,
        /// The name bound there, if any.
        name: Option<&'p str>,
    },
}

/// The iterator of [`Program::items`].
#[derive(Clone, Debug)]
pub struct Items<'p> {
    prog: &'p Program,
    slots: WithSlots<'p>,
    map: SlotMap,
    /// Per instruction index (and one past the end): the name bound there, and whether it is
    /// a function's.
    names: Vec<Option<(&'p str, bool)>>,
    relocs: std::iter::Peekable<std::slice::Iter<'p, Reloc>>,
}

impl<'p> Items<'p> {
    pub(super) fn new(prog: &'p Program) -> Items<'p> {
        let n = prog.insns.len();
        let mut names: Vec<Option<(&str, bool)>> = vec![None; n + 1];
        // Labels first (the first bound at a place wins), then functions over them.
        for (i, l) in prog.labels.iter().rev() {
            if let Some(slot) = names.get_mut(*i) {
                *slot = Some((l.as_str(), false));
            }
        }
        for f in prog.functions.iter().skip(1) {
            if let Some(slot) = names.get_mut(f.insn) {
                *slot = Some((f.name.as_str(), true));
            }
        }
        names[0] = Some((prog.name.as_str(), true));
        Items {
            prog,
            slots: prog.slots(),
            map: prog.slot_map(),
            names,
            relocs: prog.relocs.iter().peekable(),
        }
    }

    /// The name bound at the end of the program (a label after the last instruction).
    pub fn name_at_end(&self) -> Option<&'p str> {
        self.names.last().copied().flatten().map(|(n, _)| n)
    }

    /// What an instruction at `slot` refers to by offset or by id.
    fn local(&self, slot: usize, insn: &Insn) -> Option<Reference<'p>> {
        let off = match *insn {
            Insn::Call(Callee::Kfunc { btf_id, off }) => {
                return Some(Reference::Kfunc { btf_id, off })
            }
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => imm,
            _ => i64::from(insn.branch_offset()?),
        };
        let target = (slot as i64).saturating_add(1).saturating_add(off);
        let index = usize::try_from(target).ok().and_then(|t| {
            if t == self.map.slot_count() {
                Some(self.map.len())
            } else {
                self.map.index(t)
            }
        });
        let name = index
            .and_then(|i| self.names.get(i).copied().flatten())
            .map(|(n, _)| n);
        Some(Reference::Local {
            slot: target,
            index,
            name,
        })
    }
}

impl<'p> Iterator for Items<'p> {
    type Item = Item<'p>;

    fn next(&mut self) -> Option<Item<'p>> {
        let (index, slot, insn) = self.slots.next()?;
        while self.relocs.next_if(|r| r.insn < index).is_some() {}
        let reloc = self
            .relocs
            .peek()
            .filter(|r| r.insn == index)
            .map(|r| match r.kind {
                RelocKind::Map => Reference::Map(r.symbol.as_str()),
                RelocKind::Function => Reference::Function(r.symbol.as_str()),
            });
        let bound = self.names[index];
        Some(Item {
            index,
            slot,
            insn,
            loc: self.prog.locs.get(index).copied().flatten(),
            name: bound.map(|(n, _)| n),
            function_start: bound.is_some_and(|(_, f)| f),
            reference: reloc.or_else(|| self.local(slot, insn)),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    /// Each item agrees with the program's own tables: slots by the running sum, locations,
    /// relocations, and the names at jump targets.
    #[test]
    fn items_agree_with_the_program_tables() {
        let mut obj = crate::object::Object::new("GPL");
        let q = obj
            .map("q", crate::maps::MapDef::queue::<u32>(4))
            .expect("map");
        let mut p = ProgramBuilder::new("prog", Section::SOCKET);
        let out = p.label("out");
        p.ld_map(R1, &q);
        p.jump_if(R1, Cond::Eq, 0, out);
        p.mov(R0, 1);
        p.bind(out).mov(R0, 0).exit();
        let prog = p.finish().expect("builds");
        let items: Vec<Item> = prog.items().collect();
        assert_eq!(items.len(), prog.insns.len());
        let offsets = prog.slot_offsets();
        for it in &items {
            assert_eq!(it.slot, offsets[it.index]);
            assert_eq!(it.loc, prog.locs[it.index]);
            assert_eq!(*it.insn, prog.insns[it.index]);
        }
        assert_eq!(items[0].reference, Some(Reference::Map("q")));
        assert_eq!(
            (items[0].name, items[0].function_start),
            (Some("prog"), true)
        );
        // The jump (instruction 1, slot 2) lands on `out`: instruction 3, slot 4.
        assert_eq!(
            items[1].reference,
            Some(Reference::Local {
                slot: 4,
                index: Some(3),
                name: Some("out")
            })
        );
        assert_eq!(
            (items[3].name, items[3].function_start),
            (Some("out"), false)
        );
        assert_eq!(items[2].reference, None);
        assert!(items[1].loc.is_some());
    }
}
