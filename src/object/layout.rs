//! Where every function and map of an object goes in an ELF file: the placement the writer
//! ([`super::write`]) emits and the BTF encoder ([`super::btf`]) describes, checked once so that
//! both work from the same answer.

use std::ops::Range;

use super::error::{ElfError, LayoutError};
use super::Object;
use crate::insn::{Callee, Insn, Pseudo};
use crate::program::{RelocKind, Section};
use crate::slots::SlotMap;

/// A function of a program placed in an ELF section.
#[derive(Clone, Debug)]
pub(crate) struct Piece {
    /// Index of the program in `Object::programs`.
    pub prog: usize,
    /// Index of the function in `Program::functions`.
    pub func: usize,
    /// The function's instructions.
    pub insns: Range<usize>,
    /// Index of the section in `Layout::sections`.
    pub section: usize,
    /// Byte offset in the section.
    pub offset: u64,
}

/// An executable section of the layout.
#[derive(Clone, Debug)]
pub(crate) struct SectionLayout {
    /// The section name.
    pub name: String,
    /// Whether this is `.text` (subprograms).
    pub is_text: bool,
    /// Size in bytes.
    pub size: u64,
}

/// Where every function and map of an object goes in the ELF file.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    /// Executable sections, program sections in order of first use, then `.text`.
    pub sections: Vec<SectionLayout>,
    /// Functions, grouped by section, in section order.
    pub pieces: Vec<Piece>,
    /// Offset of each map in `.maps`.
    pub map_offsets: Vec<u64>,
    /// Size of `.maps`.
    pub maps_size: u64,
    /// Per program: the slot of each instruction.
    pub slots: Vec<SlotMap>,
    /// Per program: the slot of each function's first instruction.
    pub fn_slots: Vec<Vec<usize>>,
}

impl Layout {
    /// Lay out `obj`, checking that every function can be moved on its own: no jump lands in
    /// another function of its program, calls target a function start, relocations sit on the right
    /// instructions and name something the object defines.
    pub(crate) fn new(obj: &Object) -> Result<Layout, ElfError> {
        Layout::with(obj, false)
    }

    /// [`Layout::new`], with every program's functions kept in its own section, in order,
    /// when `in_place` ([`ElfOptions::functions_in_place`]).
    pub(crate) fn with(obj: &Object, in_place: bool) -> Result<Layout, ElfError> {
        let mut sections: Vec<SectionLayout> = Vec::new();
        let mut placed: Vec<(usize, Piece)> = Vec::new(); // (section, piece) in program order
        let mut text_pieces = Vec::new();
        let mut prog_slots = Vec::with_capacity(obj.programs.len());
        let mut fn_slots = Vec::with_capacity(obj.programs.len());
        for (pi, p) in obj.programs.iter().enumerate() {
            let err = |insn, kind| ElfError::Layout {
                program: p.name.clone(),
                insn,
                kind,
            };
            let name = p.section.name();
            if name.is_empty() || name.contains('\0') {
                return Err(ElfError::BadSectionName(name.to_owned()));
            }
            let f = &p.functions;
            let ordered = f.first().is_some_and(|f| f.insn == 0)
                && f.windows(2).all(|w| w[0].insn < w[1].insn)
                && f.last().is_some_and(|l| l.insn < p.insns.len());
            if !ordered {
                return Err(err(0, LayoutError::Functions));
            }
            let slots = SlotMap::new(&p.insns);
            let starts: Vec<usize> = f.iter().map(|f| slots.slot(f.insn)).collect();
            let total = slots.slot(p.insns.len());
            for (k, func) in f.iter().enumerate() {
                let end = f.get(k + 1).map_or(p.insns.len(), |n| n.insn);
                let piece = Piece {
                    prog: pi,
                    func: k,
                    insns: func.insn..end,
                    section: 0,
                    offset: 0,
                };
                let (s0, s1) = (slots.slot(func.insn), slots.slot(end));
                let mut cur = slots.cursor();
                for i in piece.insns.clone() {
                    let insn = &p.insns[i];
                    let Some(off) = branch_target(insn) else {
                        continue;
                    };
                    let target = cur.slot(i) as i64 + 1 + off as i64;
                    let is_call = matches!(
                        insn,
                        Insn::Call(Callee::Local(_))
                            | Insn::LdImm64 {
                                pseudo: Pseudo::Func,
                                ..
                            }
                    );
                    if is_call {
                        if p.relocs.iter().any(|r| r.insn == i) {
                            continue; // the relocation names the target
                        }
                        // A call to a function start, or inside its own function (kept in
                        // place, pc-relative, as llvm-mc writes it), or out of the program
                        // (written as it is: the verifier refuses it).
                        let inside = (s0 as i64..s1 as i64).contains(&target);
                        let outside = !(0..total as i64).contains(&target);
                        // A program written in one piece keeps any pc-relative target as
                        // llvm-mc does (the verifier judges it).
                        let one_piece = in_place || p.section == Section::TEXT;
                        if !inside
                            && !outside
                            && !one_piece
                            && !starts.iter().any(|&s| s as i64 == target)
                        {
                            return Err(err(i, LayoutError::CallTarget { target }));
                        }
                    } else if (target < s0 as i64 || target >= s1 as i64)
                        && (0..total as i64).contains(&target)
                        && f.len() > 1
                        && p.section != Section::TEXT
                        && !in_place
                    {
                        // A jump into another function of the program would land elsewhere
                        // once the functions are placed in their sections. A jump out of the
                        // program, or within a program of one function, is written as it is
                        // (the verifier refuses it: people write such programs on purpose).
                        // A program of `.text` is written in one piece, its functions in
                        // order, so its jumps keep their targets.
                        return Err(err(
                            i,
                            LayoutError::JumpAcrossFunctions {
                                target,
                                start: s0,
                                end: s1,
                            },
                        ));
                    }
                }
                if (k == 0 || in_place) && p.section != Section::TEXT {
                    let s = match sections.iter().position(|s| s.name == name) {
                        Some(s) => s,
                        None => {
                            sections.push(SectionLayout {
                                name: name.to_owned(),
                                is_text: false,
                                size: 0,
                            });
                            sections.len() - 1
                        }
                    };
                    placed.push((s, piece));
                } else {
                    text_pieces.push(piece);
                }
            }
            for r in &p.relocs {
                let insn = p
                    .insns
                    .get(r.insn)
                    .ok_or_else(|| err(r.insn, LayoutError::RelocPastEnd(r.symbol.clone())))?;
                let (kind, ok, expected, defined) = match r.kind {
                    RelocKind::Map => (
                        "map",
                        matches!(insn, Insn::LdImm64 { .. }),
                        "an ld_imm64",
                        obj.maps.iter().any(|m| m.name == r.symbol),
                    ),
                    RelocKind::Function => (
                        "function",
                        matches!(insn, Insn::LdImm64 { .. } | Insn::Call(Callee::Local(_))),
                        "a local call or an ld_imm64",
                        obj.programs
                            .iter()
                            .any(|q| q.functions.iter().any(|f| f.name == r.symbol)),
                    ),
                };
                if !ok {
                    return Err(err(
                        r.insn,
                        LayoutError::RelocInsn {
                            kind,
                            symbol: r.symbol.clone(),
                            expected,
                        },
                    ));
                }
                // A map the object does not define is an extern map: an undefined symbol.
                if !defined && r.kind == RelocKind::Function {
                    return Err(err(r.insn, LayoutError::UnknownSymbol(r.symbol.clone())));
                }
            }
            prog_slots.push(slots);
            fn_slots.push(starts);
        }
        if !text_pieces.is_empty() {
            sections.push(SectionLayout {
                name: ".text".to_owned(),
                is_text: true,
                size: 0,
            });
            let t = sections.len() - 1;
            placed.extend(text_pieces.into_iter().map(|p| (t, p)));
        }
        // Group by section, keeping program order inside each section.
        placed.sort_by_key(|(s, _)| *s);
        let mut pieces = Vec::with_capacity(placed.len());
        for (s, mut piece) in placed {
            let slots = &prog_slots[piece.prog];
            let slots = slots.slot(piece.insns.end) - slots.slot(piece.insns.start);
            piece.section = s;
            piece.offset = sections[s].size;
            sections[s].size += slots as u64 * 8;
            pieces.push(piece);
        }
        let mut map_offsets = Vec::with_capacity(obj.maps.len());
        let mut maps_size = 0;
        for m in &obj.maps {
            map_offsets.push(maps_size);
            // One 8-byte field per member of the map's definition struct.
            maps_size += m.btf_members().len() as u64 * 8;
        }
        Ok(Layout {
            sections,
            pieces,
            map_offsets,
            maps_size,
            slots: prog_slots,
            fn_slots,
        })
    }
}

/// The slot offset an instruction refers to: a jump's target or a local call's / function
/// address's callee, relative to the next instruction.
fn branch_target(insn: &Insn) -> Option<i32> {
    match *insn {
        Insn::LdImm64 {
            pseudo: Pseudo::Func,
            imm,
            ..
        } => Some(imm as i32),
        _ => insn.branch_offset(),
    }
}
