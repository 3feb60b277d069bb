//! An object read from ELF without decoding its programs up front: [`ObjectView`].
//!
//! [`ObjectView::parse`] reads and checks everything [`ElfObject::parse`](super::ElfObject::parse)
//! does, with the same errors (except for slots that do not decode: kept as unknown slots for
//! the listing, [`ProgramView::unknown_slots`]), and plans each program the same way (its functions, where each
//! goes, the calls to rewrite, its relocations, labels and source files), but leaves the
//! instructions and the `.BTF.ext` line records where they are in the file's bytes. Walking a
//! [`ProgramView`] decodes them again, as they come: [`ProgramView::insns`] and
//! [`ProgramView::locs`] yield exactly the `insns` and `locs` of the [`Program`] that
//! `ElfObject::parse` builds, and [`ProgramView::to_program`] is that program. This is for
//! walking a large object once, a listing, with memory for the file and the plan only (a
//! million instructions take 16 MB decoded, and as much again for their source locations).
//!
//! ```
//! use bpfsmith::object::ObjectView;
//! use bpfsmith::prelude::*;
//!
//! let mut obj = Object::new("GPL");
//! let mut p = ProgramBuilder::new("answer", Section::SOCKET);
//! p.mov(R0, 42).exit();
//! obj.add_program(p.finish().unwrap()).unwrap();
//! let bytes = obj.to_elf().unwrap();
//!
//! let view = ObjectView::parse(&bytes).unwrap();
//! let prog = view.programs().next().unwrap();
//! assert_eq!(prog.name(), "answer");
//! assert_eq!(prog.insns().collect::<Vec<_>>(), obj.programs[0].insns);
//! assert_eq!(prog.to_program().insns, obj.programs[0].insns);
//! ```

use std::fmt;

use super::btf::{FuncInfo, LineInfo, ProgBtfInfo};
use super::code::{LineIndex, PathEntry, Piece, Sources};
use super::{Map, Object};
use crate::insn::{Insn, SLOT_SIZE};
use crate::program::{Function, Program, Reloc, RelocKind, Section, SourceFile, SourceLoc};

/// An ELF object's license, maps and programs, with the programs' instructions and source
/// locations decoded from the borrowed bytes as they are walked (see the [module
/// documentation](self)).
pub struct ObjectView<'a> {
    pub(super) license: String,
    pub(super) maps: Vec<Map>,
    /// Extern maps: the undefined symbols map relocations name (indexes from `maps.len()`).
    pub(super) externs: Vec<String>,
    pub(super) pieces: Vec<Piece<'a>>,
    pub(super) lines: LineIndex<'a>,
    pub(super) programs: Vec<Plan<'a>>,
}

/// A function of the file placed in a program: its piece and where it starts.
pub(super) struct Placed {
    pub(super) piece: usize,
    /// Its first slot in the program.
    pub(super) slot: usize,
    /// Its first instruction index in the program.
    pub(super) insn: usize,
}

/// A program, planned: everything but the instructions and their locations.
pub(super) struct Plan<'a> {
    pub(super) name: String,
    pub(super) section: Section,
    /// Its functions, entry first.
    pub(super) placed: Vec<Placed>,
    pub(super) insns: usize,
    pub(super) slots: usize,
    /// Calls and function addresses whose immediate the linking rewrote, by instruction.
    pub(super) fixups: Vec<(usize, Insn)>,
    /// Map relocations: instruction and map index.
    pub(super) relocs: Vec<(usize, usize)>,
    /// Labels: instruction, slot and name, sorted.
    pub(super) labels: Vec<(usize, usize, &'a str)>,
    pub(super) functions: Vec<Function>,
    pub(super) sources: Sources,
    pub(super) func_info: Vec<FuncInfo>,
}

impl<'a> ObjectView<'a> {
    /// The license string.
    pub fn license(&self) -> &str {
        &self.license
    }

    /// The maps, in `.maps` order.
    pub fn maps(&self) -> &[Map] {
        &self.maps
    }

    /// The programs, in the order of [`Object::programs`].
    pub fn programs(&self) -> impl ExactSizeIterator<Item = ProgramView<'_>> + '_ {
        self.programs
            .iter()
            .map(move |plan| ProgramView { view: self, plan })
    }

    /// The object [`ElfObject::parse`](super::ElfObject::parse) gives, with the loader's
    /// per-program BTF records.
    pub(super) fn into_object(self) -> (Object, Vec<ProgBtfInfo>) {
        let (programs, infos) = self
            .programs()
            .map(|p| (p.to_program(), p.btf_info()))
            .unzip();
        let object = Object {
            license: self.license,
            maps: self.maps,
            programs,
        };
        (object, infos)
    }
}

impl fmt::Debug for ObjectView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectView")
            .field("license", &self.license)
            .field("maps", &self.maps)
            .field("programs", &self.programs().collect::<Vec<_>>())
            .finish()
    }
}

/// One program of an [`ObjectView`].
#[derive(Clone, Copy)]
pub struct ProgramView<'v> {
    view: &'v ObjectView<'v>,
    plan: &'v Plan<'v>,
}

impl fmt::Debug for ProgramView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProgramView")
            .field("name", &self.name())
            .field("section", self.section())
            .field("insns", &self.insn_count())
            .field("slots", &self.slot_count())
            .finish_non_exhaustive()
    }
}

impl<'v> ProgramView<'v> {
    /// The program's (entry function's) name.
    pub fn name(&self) -> &'v str {
        &self.plan.name
    }

    /// Its ELF section.
    pub fn section(&self) -> &'v Section {
        &self.plan.section
    }

    /// How many instructions it has.
    pub fn insn_count(&self) -> usize {
        self.plan.insns
    }

    /// How many slots it has (an `ld_imm64` takes two).
    pub fn slot_count(&self) -> usize {
        self.plan.slots
    }

    /// Its functions: the entry first, then the subprograms it reaches.
    pub fn functions(&self) -> &'v [Function] {
        &self.plan.functions
    }

    /// Its labels: instruction index and name, in index order.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (usize, &'v str)> + 'v {
        self.plan.labels.iter().map(|&(insn, _, name)| (insn, name))
    }

    /// Its map relocations, in instruction order: instruction index and map name (a map of
    /// the object, or an extern map: an undefined symbol the object names).
    pub fn relocs(&self) -> impl ExactSizeIterator<Item = (usize, &'v str)> + 'v {
        let (maps, externs) = (&self.view.maps, &self.view.externs);
        self.plan.relocs.iter().map(move |&(insn, m)| {
            let name = match maps.get(m) {
                Some(map) => map.name.as_str(),
                None => externs[m - maps.len()].as_str(),
            };
            (insn, name)
        })
    }

    /// The source files its locations point into.
    pub fn files(&self) -> &'v [SourceFile] {
        &self.plan.sources.files
    }

    /// Its instructions, decoded from the file, with calls pointing into the program.
    pub fn insns(&self) -> impl Iterator<Item = Insn> + 'v {
        let (view, plan) = (self.view, self.plan);
        let mut fixups = plan.fixups.iter().peekable();
        plan.placed
            .iter()
            .flat_map(move |pl| view.pieces[pl.piece].insns().map(|(_, insn)| insn))
            .enumerate()
            .map(move |(i, insn)| match fixups.next_if(|&&(at, _)| at == i) {
                Some(&(_, fixed)) => fixed,
                None => insn,
            })
    }

    /// The slots that do not decode, which the listing shows as `<unknown>` with their bytes
    /// (as llvm-objdump does): slot in the program and the 8 bytes, in order. Empty for every
    /// object [`ElfObject::parse`](super::ElfObject::parse) takes.
    pub fn unknown_slots(&self) -> impl Iterator<Item = (usize, [u8; 8])> + 'v {
        let view = self.view;
        self.plan.placed.iter().flat_map(move |pl| {
            view.pieces[pl.piece]
                .unknown()
                .map(move |(slot, b)| (pl.slot + slot, b))
        })
    }

    /// The slot of each instruction, in order.
    pub fn insn_slots(&self) -> impl Iterator<Item = usize> + 'v {
        let view = self.view;
        self.plan.placed.iter().flat_map(move |pl| {
            view.pieces[pl.piece]
                .starts
                .slots()
                .map(move |slot| pl.slot + slot)
        })
    }

    /// The source location of each instruction, from the file's line records.
    pub fn locs(&self) -> impl Iterator<Item = Option<SourceLoc>> + 'v {
        let (view, plan) = (self.view, self.plan);
        plan.placed.iter().flat_map(move |pl| {
            let p = &view.pieces[pl.piece];
            let mut recs = view.lines.lines_in(p).peekable();
            let mut cur = None;
            // Records of one file follow each other: look its path up once.
            let mut path: Option<(u32, Option<PathEntry>)> = None;
            p.starts.slots().map(move |slot| {
                let off = p.bytes.start + (slot * SLOT_SIZE) as u64;
                while let Some(l) = recs.next_if(|l| l.insn_off as u64 <= off) {
                    let entry = match path {
                        Some((name, entry)) if name == l.file_name_off => entry,
                        _ => {
                            let entry = plan.sources.path(l.file_name_off);
                            path = Some((l.file_name_off, entry));
                            entry
                        }
                    };
                    cur = entry.and_then(|e| e.loc(&l));
                }
                cur
            })
        })
    }

    /// The program, decoded: what [`ElfObject::parse`](super::ElfObject::parse) gives.
    pub fn to_program(&self) -> Program {
        let mut insns = Vec::with_capacity(self.insn_count());
        insns.extend(self.insns());
        let mut locs = Vec::with_capacity(self.insn_count());
        locs.extend(self.locs());
        Program {
            name: self.plan.name.clone(),
            section: self.plan.section.clone(),
            insns,
            locs,
            files: self.plan.sources.files.clone(),
            labels: self
                .labels()
                .map(|(insn, name)| (insn, name.to_owned()))
                .collect(),
            functions: self.plan.functions.clone(),
            relocs: self
                .relocs()
                .map(|(insn, map)| Reloc {
                    insn,
                    symbol: map.to_owned(),
                    kind: RelocKind::Map,
                })
                .collect(),
        }
    }

    /// The `func_info` and `line_info` records for `BPF_PROG_LOAD`.
    fn btf_info(&self) -> ProgBtfInfo {
        let mut line_info = Vec::new();
        for pl in &self.plan.placed {
            let p = &self.view.pieces[pl.piece];
            let last = p.last_insn_offset();
            line_info.extend(
                self.view
                    .lines
                    .lines_in(p)
                    .take_while(|l| l.insn_off as u64 <= last)
                    .map(|l| LineInfo {
                        insn_off: (pl.slot as u64 + (l.insn_off as u64 - p.bytes.start) / 8) as u32,
                        file_name_off: l.file_name_off,
                        line_off: l.line_off,
                        line_col: l.line_col,
                    }),
            );
        }
        ProgBtfInfo {
            func_info: self.plan.func_info.clone(),
            line_info,
        }
    }
}
