//! The ELF writer: an [`Object`] as a relocatable ELF64 eBPF object that libbpf, bpftool and
//! aya load (tested). cilium/ebpf 0.9.1 loads it too when it has no labels: it takes local
//! label symbols for function starts (see the README).
//!
//! Layout (what loaders rely on; where the writer sits: the README, "The pipeline"):
//! - one executable `PROGBITS` section per program section name; programs that share a name
//!   are placed one after another, each with a GLOBAL FUNC symbol (value = byte offset,
//!   size = bytes);
//! - bpf-to-bpf callees (`Program::functions[1..]`) and programs of [`Section::TEXT`] go to
//!   `.text`, each with a LOCAL FUNC symbol and a static `FUNC` in BTF. They cannot stay in
//!   the program's section: libbpf refuses a static function outside `.text` ("program 'f'
//!   is static and not supported"), treats a global one as a program of its own, and resolves
//!   every subprogram call into `.text` only. So a call from a program section to its callee
//!   carries an `R_BPF_64_32` relocation against the `.text` section symbol with the callee's
//!   slot minus one in `imm`, as clang writes a call to a static function (libbpf computes the
//!   target as `symbol / 8 + imm + 1`; cilium/ebpf accepts only this form); a call between two functions of `.text`
//!   is pc-relative with no relocation, as clang writes calls between static functions of one
//!   section. With [`ElfOptions::functions_in_place`] (what `bpfsmith asm` writes, as
//!   llvm-mc does) a program's functions stay in its section instead, each a LOCAL FUNC
//!   symbol, the calls between them pc-relative without a relocation; a program of `.text`
//!   (what a global label starts there; not one whose first label has its name, which a
//!   local label started) gets a GLOBAL FUNC symbol, and a
//!   [`RelocKind::Function`] call to it is `call -1` with `R_BPF_64_32` against that symbol
//!   (an address: `ld_imm64` of 0 with `R_BPF_64_64`), as llvm-mc writes a call to a global
//!   function; to another function of `.text` it is against the section symbol, as above. A function address (`ld_imm64` with `BPF_PSEUDO_FUNC`, a callback) always gets
//!   an `R_BPF_64_64` relocation against the `.text` section symbol with the function's byte
//!   offset in the immediate, as clang writes it: libbpf accepts an address relocation only
//!   against that symbol or a GLOBAL function ("bad map relo against 'f' in section '.text'"
//!   otherwise);
//! - the symbol table holds what clang writes: no label symbols. cilium/ebpf 0.9.1 takes a
//!   LOCAL NOTYPE symbol in a code section for the start of a function, and refuses a jump
//!   across it (`jump out of range`). A program's labels go to `.bpfsmith.labels` instead, a
//!   section without flags that loaders skip (libbpf as an "unrecognized data section",
//!   cilium/ebpf and aya do not look at it), from which the reader and `bpfsmith dis` get
//!   them back: records of `SECTION\0BYTE_OFFSET\0LABEL\0`, offset in decimal. With
//!   [`ElfOptions::label_symbols`] they are LOCAL NOTYPE symbols as well, which
//!   `llvm-objdump` shows (libbpf and aya ignore them);
//! - `license`: the string and one NUL; `.maps`: zero-filled, one GLOBAL OBJECT symbol per map,
//!   8 bytes per member of its BTF struct; `.rel<section>`: `R_BPF_64_64` against the map's
//!   symbol on each map `ld_imm64`;
//! - `.BTF` and `.BTF.ext` from [`super::btf`].

use std::collections::HashMap;
use std::path::Path;

use ::object::elf;
use ::object::write::elf::{FileHeader, Rel, SectionHeader, Sym, Writer};
use ::object::write::{StreamingBuffer, WritableBuffer};
use ::object::Endianness;

use super::btf::{BtfBuilder, ObjectBtf};
use super::describe::{encode_object, ExtOut, Records};
use super::error::ElfError;
use super::layout::Layout;
use super::Object;
use crate::insn::{Callee, Insn, Pseudo};
use crate::program::{RelocKind, Section};

// Relocation types: `R_BPF_64_64` patches the 64-bit immediate of an `ld_imm64` (maps,
// function addresses), `R_BPF_64_32` the 32-bit immediate of a `call` (bpf-to-bpf calls across
// sections).
use ::object::elf::{R_BPF_64_32, R_BPF_64_64};

/// Index of the `.text` section symbol, the first local (written when `.text` exists, which
/// it does whenever a function is placed there).
const TEXT_SYM: u32 = 1;

/// A symbol to write.
/// [`SymDef::section`] of an undefined symbol (an extern map).
const UNDEFINED: usize = usize::MAX;

struct SymDef<'a> {
    name: &'a str,
    /// Index into the output sections.
    section: usize,
    value: u64,
    size: u64,
    info: u8,
}

/// What a section to write holds.
enum Data {
    /// These bytes.
    Bytes(Vec<u8>),
    /// This many zero bytes.
    Zeros(usize),
    /// The object's `.BTF`.
    Btf,
    /// The object's `.BTF.ext`.
    BtfExt,
    /// The instructions of the layout's executable section with this index (its pieces in
    /// order, with the patches of the ELF file applied), and its size in bytes.
    Code(usize, usize),
}

/// A section to write.
struct OutSection {
    name: Vec<u8>,
    sh_type: u32,
    flags: u64,
    align: usize,
    data: Data,
    relocs: Vec<Rel>,
}

/// An instruction the ELF file holds changed: a call or function address whose target is
/// set for the ELF layout.
struct Patch {
    /// Index in `Layout::pieces`.
    piece: usize,
    /// Index in the program's instructions.
    insn: usize,
    /// What to write instead.
    insn_value: Insn,
}

/// Everything of an object's ELF file but the instruction bytes, which are encoded while
/// the file is written.
struct ElfFile<'a> {
    obj: &'a Object,
    layout: Layout,
    btf: BtfBuilder,
    ext: Option<ExtOut>,
    /// Per executable section of the layout, its patches in write order.
    patches: Vec<Vec<Patch>>,
    sections: Vec<OutSection>,
    rel_names: Vec<Vec<u8>>,
    symbols: Vec<SymDef<'a>>,
    n_locals: u32,
}

impl Object {
    /// The object's BTF for a loader: the `.BTF` bytes this object's ELF file holds, and
    /// per program the `func_info` and `line_info` records for `BPF_PROG_LOAD` (offsets in
    /// slots of the program as it is, entry function first).
    pub fn btf(&self) -> Result<ObjectBtf, ElfError> {
        let layout = Layout::new(self)?;
        let e = encode_object(self, &layout, Records::Loader)?;
        Ok(ObjectBtf {
            btf: e.btf.finish(),
            programs: e.programs,
            maps: e.maps,
        })
    }

    /// Write the object to `path` as an ELF file (see [`Object::to_elf`]). The file is
    /// written as it is encoded, without holding its bytes in memory; nothing is written when
    /// the object cannot be laid out.
    pub fn write_elf(&self, path: impl AsRef<Path>) -> Result<(), ElfError> {
        self.write_elf_with(path, &ElfOptions::default())
    }

    /// [`Object::write_elf`] with options.
    pub fn write_elf_with(
        &self,
        path: impl AsRef<Path>,
        opts: &ElfOptions,
    ) -> Result<(), ElfError> {
        let path = path.as_ref();
        let elf = ElfFile::new(self, opts)?;
        let io = |source| ElfError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut buf = StreamingBuffer::new(std::io::BufWriter::with_capacity(1 << 16, file));
        elf.write(&mut buf)?;
        buf.result().map_err(io)?;
        buf.into_inner()
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        Ok(())
    }

    /// The object as a relocatable ELF64 little-endian eBPF file (ET_REL, EM_BPF): program
    /// sections, `.text` for subprograms, `license`, `.maps`, `.rel*`, `.BTF`, `.BTF.ext`,
    /// `.symtab`, `.strtab`. See the [module documentation](self) for the layout.
    ///
    /// ```
    /// use bpfsmith::prelude::*;
    ///
    /// let mut obj = Object::new("GPL");
    /// let q = obj.map("queue", MapDef::queue::<u32>(10)).unwrap();
    /// let mut p = ProgramBuilder::new("pop", Section::SOCKET);
    /// let v = p.reserve::<u32>();
    /// p.pop(&q, v).exit();
    /// obj.add_program(p.finish().unwrap()).unwrap();
    /// let elf = obj.to_elf().unwrap();
    /// let back = Object::from_elf(&elf).unwrap();
    /// assert_eq!(back.maps, obj.maps);
    /// assert_eq!(back.programs[0].insns, obj.programs[0].insns);
    /// ```
    pub fn to_elf(&self) -> Result<Vec<u8>, ElfError> {
        self.to_elf_with(&ElfOptions::default())
    }

    /// [`Object::to_elf`] with options.
    pub fn to_elf_with(&self, opts: &ElfOptions) -> Result<Vec<u8>, ElfError> {
        let elf = ElfFile::new(self, opts)?;
        let mut buf = Vec::new();
        elf.write(&mut buf)?;
        Ok(buf)
    }
}

/// The name of the section that keeps a program's labels apart from the symbol table.
pub const LABELS_SECTION: &str = ".bpfsmith.labels";

/// Choices for the ELF file that loaders do not need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ElfOptions {
    /// Also write each label as a LOCAL NOTYPE symbol at its instruction, so that
    /// `llvm-objdump` names jump targets by label. Off by default: cilium/ebpf 0.9.1 takes
    /// such symbols for function starts and refuses the object (labels are kept in
    /// [`LABELS_SECTION`] either way).
    pub label_symbols: bool,
    /// Keep each program's bpf-to-bpf functions in the program's own section, where the
    /// source put them, as `llvm-mc` writes a file that defines them there: calls between
    /// them pc-relative (`src_reg` 1, no relocation), each function a LOCAL FUNC symbol.
    /// `bpfsmith asm` turns it on. Off by default: libbpf resolves subprogram calls only
    /// into `.text` ("no .text section found yet sub-program call exists") and refuses a
    /// static function elsewhere, so functions then go to `.text` as clang writes them.
    /// bpfsmith's reader and loader take either layout.
    pub functions_in_place: bool,
}

impl ElfOptions {
    /// The options with label symbols on or off.
    pub fn label_symbols(mut self, on: bool) -> ElfOptions {
        self.label_symbols = on;
        self
    }

    /// The options with [`ElfOptions::functions_in_place`] on or off.
    pub fn functions_in_place(mut self, on: bool) -> ElfOptions {
        self.functions_in_place = on;
        self
    }
}

impl<'a> ElfFile<'a> {
    fn new(obj: &'a Object, opts: &ElfOptions) -> Result<ElfFile<'a>, ElfError> {
        let layout = Layout::with(obj, opts.functions_in_place)?;
        let btf = encode_object(obj, &layout, Records::Elf)?;

        // Symbols: null, locals (.text functions, labels), then globals (entries, maps).
        let n_exec = layout.sections.len();
        let maps_sec = n_exec; // output section index of .maps (when there are maps)
        let mut locals = Vec::new();
        let mut globals = Vec::new();
        // The `.text` section symbol: function addresses are relocated against it, with the
        // byte offset in the immediate (libbpf takes an address relocation only against the
        // section symbol of `.text` or a GLOBAL function, as clang writes them).
        let text = layout.sections.iter().position(|s| s.is_text);
        if let Some(t) = text {
            locals.push(SymDef {
                name: "",
                section: t,
                value: 0,
                size: 0,
                info: elf::STB_LOCAL << 4 | elf::STT_SECTION,
            });
        }
        // With functions in place, a function address in a program section is relocated
        // against that section's symbol, its byte offset in the immediate, as llvm-mc
        // writes it: a section symbol for each program section that keeps functions.
        let mut sec_sym: Vec<Option<u32>> = vec![None; layout.sections.len()];
        if opts.functions_in_place {
            for piece in &layout.pieces {
                let s = piece.section;
                if piece.func > 0 && !layout.sections[s].is_text && sec_sym[s].is_none() {
                    sec_sym[s] = Some(locals.len() as u32 + 1);
                    locals.push(SymDef {
                        name: "",
                        section: s,
                        value: 0,
                        size: 0,
                        info: elf::STB_LOCAL << 4 | elf::STT_SECTION,
                    });
                }
            }
        }
        let mut piece_sym = vec![0u32; layout.pieces.len()];
        let mut piece_global = vec![false; layout.pieces.len()];
        let mut local_of = Vec::new(); // (piece, index in locals)
        let mut global_of = Vec::new(); // (piece, index in globals)
                                        // In program order: the reader lists programs in the order of their symbols.
        let mut by_program: Vec<usize> = (0..layout.pieces.len()).collect();
        let mut labels_sorted: Vec<Option<bool>> = vec![None; obj.programs.len()];
        let mut label_records: Vec<u8> = Vec::new();
        by_program.sort_by_key(|&k| layout.pieces[k].prog);
        for k in by_program {
            let piece = &layout.pieces[k];
            let p = &obj.programs[piece.prog];
            let slots = &layout.slots[piece.prog];
            let start = slots.slot(piece.insns.start);
            let def = SymDef {
                name: &p.functions[piece.func].name,
                section: piece.section,
                value: piece.offset,
                size: (slots.slot(piece.insns.end) - start) as u64 * 8,
                info: 0,
            };
            // A function kept in its program's section is local, as a static function. With
            // functions in place, a program of `.text` starts at a global label of the file
            // (`.globl f` then `f:`), written GLOBAL as llvm-mc writes it: a call from another
            // section names it (`call -1` against the symbol).
            // A program named by a label at its first instruction was started by a local
            // label (the assembler's `.text` then `f:`): local.
            let text_global = opts.functions_in_place
                && piece.func == 0
                && p.section == Section::TEXT
                && layout.sections[piece.section].is_text
                && !p.labels.iter().any(|(at, l)| *at == 0 && *l == p.name);
            piece_global[k] = text_global;
            if (layout.sections[piece.section].is_text || piece.func > 0) && !text_global {
                local_of.push((k, locals.len()));
                locals.push(SymDef {
                    info: elf::STB_LOCAL << 4 | elf::STT_FUNC,
                    ..def
                });
            } else {
                global_of.push((k, globals.len()));
                globals.push(SymDef {
                    info: elf::STB_GLOBAL << 4 | elf::STT_FUNC,
                    ..def
                });
            }
            // The labels inside the piece (found by halving when they are in order, as
            // programs keep them).
            let sorted = *labels_sorted[piece.prog]
                .get_or_insert_with(|| p.labels.windows(2).all(|w| w[0].0 <= w[1].0));
            let labels = if sorted {
                let a = p.labels.partition_point(|(at, _)| *at < piece.insns.start);
                let b = p.labels.partition_point(|(at, _)| *at < piece.insns.end);
                &p.labels[a..b]
            } else {
                &p.labels[..]
            };
            let mut cur = slots.cursor();
            for (at, label) in labels {
                if piece.insns.contains(at) {
                    let value = piece.offset + (cur.slot(*at) - start) as u64 * 8;
                    if !label.contains('\0') {
                        let sec = layout.sections[piece.section].name.as_bytes();
                        label_records.extend_from_slice(sec);
                        label_records.push(0);
                        label_records.extend_from_slice(value.to_string().as_bytes());
                        label_records.push(0);
                        label_records.extend_from_slice(label.as_bytes());
                        label_records.push(0);
                    }
                    if opts.label_symbols {
                        locals.push(SymDef {
                            name: label,
                            section: piece.section,
                            value,
                            size: 0,
                            info: elf::STB_LOCAL << 4 | elf::STT_NOTYPE,
                        });
                    }
                }
            }
        }
        let maps_base = globals.len();
        for (m, off) in obj.maps.iter().zip(&layout.map_offsets) {
            globals.push(SymDef {
                name: &m.name,
                section: maps_sec,
                value: *off,
                size: m.btf_members().len() as u64 * 8,
                info: elf::STB_GLOBAL << 4 | elf::STT_OBJECT,
            });
        }
        // Extern maps: GLOBAL NOTYPE symbols of no section, as llvm-mc writes them.
        let externs = obj.extern_maps();
        let externs_base = globals.len();
        for &name in &externs {
            globals.push(SymDef {
                name,
                section: UNDEFINED,
                value: 0,
                size: 0,
                info: elf::STB_GLOBAL << 4 | elf::STT_NOTYPE,
            });
        }
        let n_locals = locals.len() as u32 + 1;
        for (k, i) in local_of {
            piece_sym[k] = 1 + i as u32;
        }
        for (k, i) in global_of {
            piece_sym[k] = n_locals + i as u32;
        }
        let map_sym = |name: &str| {
            obj.maps
                .iter()
                .position(|m| m.name == name)
                .map(|i| n_locals + (maps_base + i) as u32)
                .or_else(|| {
                    externs
                        .iter()
                        .position(|e| *e == name)
                        .map(|i| n_locals + (externs_base + i) as u32)
                })
        };
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for (k, piece) in layout.pieces.iter().enumerate() {
            let f = &obj.programs[piece.prog].functions[piece.func];
            by_name.entry(f.name.as_str()).or_insert(k);
        }
        // (program, function start insn) -> piece
        let mut piece_at: HashMap<(usize, usize), usize> = HashMap::new();
        for (k, piece) in layout.pieces.iter().enumerate() {
            piece_at.insert((piece.prog, piece.insns.start), k);
        }

        // Relocations, and the calls patched for the layout.
        let mut out: Vec<OutSection> = layout
            .sections
            .iter()
            .enumerate()
            .map(|(k, s)| OutSection {
                name: s.name.as_bytes().to_vec(),
                sh_type: elf::SHT_PROGBITS,
                flags: (elf::SHF_ALLOC | elf::SHF_EXECINSTR) as u64,
                align: 8,
                data: Data::Code(k, s.size as usize),
                relocs: Vec::new(),
            })
            .collect();
        let mut patches: Vec<Vec<Patch>> = layout.sections.iter().map(|_| Vec::new()).collect();
        for (k_piece, piece) in layout.pieces.iter().enumerate() {
            let p = &obj.programs[piece.prog];
            let slots = &layout.slots[piece.prog];
            let fn_slots = &layout.fn_slots[piece.prog];
            let start = slots.slot(piece.insns.start);
            let mut cur = slots.cursor();
            let sec = &mut out[piece.section];
            let mut relocs = p
                .relocs
                .iter()
                .filter(|r| piece.insns.contains(&r.insn))
                .peekable();
            for i in piece.insns.clone() {
                let insn = &p.insns[i];
                // What the instruction refers to: a map, or the function (piece) it calls
                // or takes the address of, by name or by pc-relative offset.
                let named = relocs.next_if(|r| r.insn == i);
                if named.is_none()
                    && !matches!(
                        insn,
                        Insn::Call(Callee::Local(_))
                            | Insn::LdImm64 {
                                pseudo: Pseudo::Func,
                                ..
                            }
                    )
                {
                    continue;
                }
                let mut insn = *insn;
                let slot = cur.slot(i);
                let r_offset = piece.offset + (slot - start) as u64 * 8;
                let mut reloc = |sym: u32, r_type: u32| {
                    sec.relocs.push(Rel {
                        r_offset,
                        r_sym: sym,
                        r_type,
                        r_addend: 0,
                    })
                };
                let callee_at = |off: i64| {
                    let target = slot as i64 + 1 + off;
                    p.functions
                        .iter()
                        .zip(fn_slots)
                        .find(|(_, &s)| s as i64 == target)
                        .and_then(|(f, _)| piece_at.get(&(piece.prog, f.insn)).copied())
                };
                let callee = match (named, &insn) {
                    (Some(r), _) if r.kind == RelocKind::Map => {
                        // Checked by the layout: an ld_imm64 against a map of the object or an extern map.
                        reloc(map_sym(&r.symbol).unwrap_or(0), R_BPF_64_64);
                        None
                    }
                    (Some(r), _) => by_name.get(r.symbol.as_str()).copied(),
                    (None, Insn::Call(Callee::Local(imm))) => callee_at(*imm as i64),
                    (
                        None,
                        Insn::LdImm64 {
                            pseudo: Pseudo::Func,
                            imm,
                            ..
                        },
                    ) => callee_at(*imm),
                    _ => None,
                };
                if let Some(k) = callee {
                    let q = &layout.pieces[k];
                    match &mut insn {
                        Insn::Call(Callee::Local(imm)) => {
                            if named.is_none() && q.section == piece.section {
                                *imm = (q.offset / 8) as i32 - (r_offset / 8) as i32 - 1;
                            } else if layout.sections[q.section].is_text && !piece_global[k] {
                                // As clang writes a call to a static function: against the
                                // `.text` section symbol, the callee's slot in the immediate
                                // (libbpf and aya take either form; cilium/ebpf only this one).
                                *imm = (q.offset / 8) as i32 - 1;
                                reloc(TEXT_SYM, R_BPF_64_32);
                            } else {
                                *imm = -1;
                                reloc(piece_sym[k], R_BPF_64_32);
                            }
                        }
                        Insn::LdImm64 { pseudo, imm, .. } => {
                            *pseudo = Pseudo::Imm;
                            if layout.sections[q.section].is_text
                                && !(named.is_some() && piece_global[k])
                            {
                                *imm = q.offset as i64;
                                reloc(TEXT_SYM, R_BPF_64_64);
                            } else if let Some(sym) = sec_sym[q.section] {
                                *imm = q.offset as i64;
                                reloc(sym, R_BPF_64_64);
                            } else {
                                *imm = 0;
                                reloc(piece_sym[k], R_BPF_64_64);
                            }
                        }
                        _ => {}
                    }
                }
                if insn != p.insns[i] {
                    patches[piece.section].push(Patch {
                        piece: k_piece,
                        insn: i,
                        insn_value: insn,
                    });
                }
            }
        }
        if !obj.maps.is_empty() {
            out.push(OutSection {
                name: b".maps".to_vec(),
                sh_type: elf::SHT_PROGBITS,
                flags: (elf::SHF_ALLOC | elf::SHF_WRITE) as u64,
                align: 8,
                data: Data::Zeros(layout.maps_size as usize),
                relocs: Vec::new(),
            });
        }
        let mut license = obj
            .license
            .split('\0')
            .next()
            .unwrap_or("")
            .as_bytes()
            .to_vec();
        license.push(0);
        out.push(OutSection {
            name: b"license".to_vec(),
            sh_type: elf::SHT_PROGBITS,
            flags: (elf::SHF_ALLOC | elf::SHF_WRITE) as u64,
            align: 1,
            data: Data::Bytes(license),
            relocs: Vec::new(),
        });
        out.push(OutSection {
            name: b".BTF".to_vec(),
            sh_type: elf::SHT_PROGBITS,
            flags: 0,
            align: 4,
            data: Data::Btf,
            relocs: Vec::new(),
        });
        if btf.ext.as_ref().is_some_and(|e| e.len() > 0) {
            out.push(OutSection {
                name: b".BTF.ext".to_vec(),
                sh_type: elf::SHT_PROGBITS,
                flags: 0,
                align: 4,
                data: Data::BtfExt,
                relocs: Vec::new(),
            });
        }
        if !label_records.is_empty() {
            out.push(OutSection {
                name: LABELS_SECTION.as_bytes().to_vec(),
                sh_type: elf::SHT_PROGBITS,
                flags: 0,
                align: 1,
                data: Data::Bytes(label_records),
                relocs: Vec::new(),
            });
        }
        let rel_names: Vec<Vec<u8>> = out
            .iter()
            .map(|s| [b".rel".as_slice(), &s.name].concat())
            .collect();
        let symbols: Vec<SymDef> = locals.into_iter().chain(globals).collect();
        Ok(ElfFile {
            obj,
            layout,
            btf: btf.btf,
            ext: btf.ext,
            patches,
            sections: out,
            rel_names,
            symbols,
            n_locals,
        })
    }

    /// The size of a section's data.
    fn data_len(&self, data: &Data) -> usize {
        match data {
            Data::Bytes(b) => b.len(),
            Data::Zeros(n) | Data::Code(_, n) => *n,
            Data::Btf => self.btf.finished_len(),
            Data::BtfExt => self.ext.as_ref().map_or(0, ExtOut::len),
        }
    }

    /// Write a section's data.
    fn write_data(&self, w: &mut Writer, data: &Data) {
        match data {
            Data::Bytes(b) => w.write(b),
            Data::Zeros(n) => w.write(&vec![0; *n]),
            Data::Btf => {
                let (header, types, strings) = self.btf.parts();
                w.write(&header);
                w.write(types);
                w.write(strings);
            }
            Data::BtfExt => {
                if let Some(ext) = &self.ext {
                    ext.write(self.obj, &self.layout, &mut |b| w.write(b));
                }
            }
            Data::Code(sec, _) => {
                const CHUNK: usize = 1 << 16;
                let mut chunk = Vec::with_capacity(CHUNK + 16);
                let mut patches = self.patches[*sec].iter().peekable();
                for (k, piece) in self.layout.pieces.iter().enumerate() {
                    if piece.section != *sec {
                        continue;
                    }
                    let p = &self.obj.programs[piece.prog];
                    for (i, insn) in p.insns[piece.insns.clone()]
                        .iter()
                        .enumerate()
                        .map(|(j, insn)| (piece.insns.start + j, insn))
                    {
                        let insn = match patches.next_if(|pt| pt.piece == k && pt.insn == i) {
                            Some(pt) => &pt.insn_value,
                            None => insn,
                        };
                        insn.encode_into(&mut chunk);
                        if chunk.len() >= CHUNK {
                            w.write(&chunk);
                            chunk.clear();
                        }
                    }
                }
                w.write(&chunk);
            }
        }
    }

    /// Write sections and symbols with the `object` crate's low-level ELF writer.
    fn write(&self, buffer: &mut dyn WritableBuffer) -> Result<(), ElfError> {
        let out = &self.sections;
        let symbols = &self.symbols;
        let mut w = Writer::new(Endianness::Little, true, buffer);
        w.reserve_file_header();
        // Section indices: each section, followed by its relocations.
        let mut index = Vec::with_capacity(out.len());
        let mut names = Vec::with_capacity(out.len());
        let mut rel_name_ids = Vec::with_capacity(out.len());
        for (s, rel_name) in out.iter().zip(&self.rel_names) {
            names.push(w.add_section_name(&s.name));
            index.push(w.reserve_section_index());
            if s.relocs.is_empty() {
                rel_name_ids.push(None);
            } else {
                rel_name_ids.push(Some(w.add_section_name(rel_name)));
                w.reserve_section_index();
            }
        }
        let symtab = w.reserve_symtab_section_index();
        w.reserve_strtab_section_index();
        w.reserve_shstrtab_section_index();
        // Symbols.
        w.reserve_null_symbol_index();
        let mut sym_names = Vec::with_capacity(symbols.len());
        for s in symbols {
            sym_names.push((!s.name.is_empty()).then(|| w.add_string(s.name.as_bytes())));
            w.reserve_symbol_index(index.get(s.section).copied());
        }
        // File ranges.
        let mut offsets = Vec::with_capacity(out.len());
        let mut rel_offsets = Vec::with_capacity(out.len());
        for s in out {
            offsets.push(w.reserve(self.data_len(&s.data), s.align));
            rel_offsets.push(if s.relocs.is_empty() {
                0
            } else {
                w.reserve_relocations(s.relocs.len(), false)
            });
        }
        w.reserve_symtab();
        w.reserve_strtab();
        w.reserve_shstrtab();
        w.reserve_section_headers();

        // Write in the same order.
        w.write_file_header(&FileHeader {
            os_abi: elf::ELFOSABI_NONE,
            abi_version: 0,
            e_type: elf::ET_REL,
            e_machine: elf::EM_BPF,
            e_entry: 0,
            e_flags: 0,
        })
        .map_err(|e| ElfError::Write(e.to_string()))?;
        for s in out {
            w.write_align(s.align);
            self.write_data(&mut w, &s.data);
            if !s.relocs.is_empty() {
                w.write_align_relocation();
                for r in &s.relocs {
                    w.write_relocation(false, r);
                }
            }
        }
        w.write_null_symbol();
        for (s, name) in symbols.iter().zip(&sym_names) {
            w.write_symbol(&Sym {
                name: *name,
                section: index.get(s.section).copied(),
                st_info: s.info,
                st_other: elf::STV_DEFAULT,
                st_shndx: 0,
                st_value: s.value,
                st_size: s.size,
            });
        }
        w.write_strtab();
        w.write_shstrtab();
        w.write_null_section_header();
        for (k, s) in out.iter().enumerate() {
            w.write_section_header(&SectionHeader {
                name: Some(names[k]),
                sh_type: s.sh_type,
                sh_flags: s.flags,
                sh_addr: 0,
                sh_offset: offsets[k] as u64,
                sh_size: self.data_len(&s.data) as u64,
                sh_link: 0,
                sh_info: 0,
                sh_addralign: s.align as u64,
                sh_entsize: 0,
            });
            if let Some(rel_name) = rel_name_ids[k] {
                w.write_relocation_section_header(
                    rel_name,
                    index[k],
                    symtab,
                    rel_offsets[k],
                    s.relocs.len(),
                    false,
                );
            }
        }
        w.write_symtab_section_header(self.n_locals);
        w.write_strtab_section_header();
        w.write_shstrtab_section_header();
        Ok(())
    }
}
