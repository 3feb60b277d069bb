//! The ELF reader: an eBPF object file (bpfsmith's or clang's) as an [`Object`].
//!
//! What it reads and how it represents it:
//! - **Programs**: every GLOBAL (or WEAK) FUNC symbol of an executable section other than
//!   `.text` is a program, in symbol-table order, named after the symbol. A section without
//!   any FUNC symbol is one program named after the section.
//! - **Subprograms**: a function reached by a bpf-to-bpf call (an `R_BPF_64_32` relocation on a
//!   `call` with `src = 1`, or a pc-relative call into another function of the same section)
//!   or by a function address (`R_BPF_64_64` on an `ld_imm64` against a function) is appended
//!   to each program that reaches it, directly or through other subprograms, as libbpf does
//!   when it loads: the resulting [`Program`] is self-contained, its call immediates are
//!   pc-relative within it, [`Program::functions`] lists the entry and every appended
//!   function, and no `RelocKind::Function` remains. Appended functions follow the entry in
//!   file order (section, then offset), so an object bpfsmith wrote reads back as it was
//!   built. A function nobody calls that is not a program (a `.text` function, a static one)
//!   is kept as a program of its own section, so nothing is lost.
//! - **Maps** from `.maps` and its BTF (`DATASEC .maps`, one `VAR` per map, a struct of
//!   `__uint` / `__type` members): type, key and value (sizes through typedefs and
//!   modifiers), max_entries, map_flags. `key_size` / `value_size` members are read too;
//!   `pinning` (0 or 1, `LIBBPF_PIN_BY_NAME`, as libbpf takes it; the loader honours it) too;
//!   `numa_node` and `map_extra` are accepted and ignored; anything else
//!   (`values`, inner maps) is an error.
//! - **Relocations**: `R_BPF_64_64` on an `ld_imm64` against a map symbol becomes a
//!   [`RelocKind::Map`]. Against global data (`.rodata`, `.data`, `.bss`, `.kconfig`) or an
//!   extern symbol it is an [`ElfErrorKind::Unsupported`](super::ElfErrorKind::Unsupported) error: global data is not supported
//!   yet. Relocations of non-program sections (`.rel.BTF`, debug info) are not read.
//! - **Source locations** from `.BTF.ext` line_info: each record gives the file, line and
//!   column of the instructions from its offset to the next record; [`Program::files`] get the
//!   file paths, and each file's text holds the line texts that BTF carries, at their line
//!   numbers (other lines are empty), so [`Program::line_text`] gives what the kernel prints.
//!   A record with an empty file name and line 0 means "unknown".
//! - **BTF for loading**: [`ElfObject::btf`] has the `.BTF` bytes with every `DATASEC`
//!   size and variable offset filled in from the ELF section sizes and symbols (what libbpf
//!   does before `BPF_BTF_LOAD`; clang leaves them 0), and per program the `func_info` and
//!   `line_info` records in slots of the linked program. CO-RE relocations are not read.
//!
//! Reading is total: any bytes give an object or an [`ElfError`] naming the section and the
//! offset; nothing panics.
//!
//! [`ObjectView::parse`] reads the same way but leaves the instructions and line records in
//! the bytes, decoding them as its programs are walked ([`super::view`]).
//!
//! [`Program`]: crate::program::Program
//! [`Program::functions`]: crate::program::Program::functions
//! [`Program::files`]: crate::program::Program::files
//! [`Program::line_text`]: crate::program::Program::line_text
//! [`RelocKind::Map`]: crate::program::RelocKind::Map

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::{Elf, SectionHeader, Symtab};
// ELF numbers from the `object` crate, the one table the writer uses too.
use ::object::elf::{
    R_BPF_64_32, R_BPF_64_64, SHF_EXECINSTR, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS,
    SHT_REL, SHT_RELA, SHT_SYMTAB, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
};

use super::btf::{Btf, BtfExt, FuncInfo, Kind, MapBtf, ObjectBtf, TypeData};
use super::code::{Flow, LineIndex, Piece, Sources, Starts};
use super::error::{ElfError, ElfErrorKind as K};
use super::link::{self, LinkError, Ref, RefKind};
use super::view::{ObjectView, Placed, Plan};
use super::{Map, Object, Pinning};
use crate::insn::{Callee, Insn};
use crate::maps::{MapDef, MapType, TypeDesc};
use crate::program::{Function, Section};

/// An object read from ELF, with what a loader needs beyond the [`Object`]: the BTF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfObject {
    /// Programs, maps and license.
    pub object: Object,
    /// The BTF, ready to load, with per-program records (when the file has `.BTF`).
    pub btf: Option<ObjectBtf>,
}

impl Object {
    /// Read an object from ELF bytes (see [`ElfObject::parse`]; this keeps only the object).
    pub fn from_elf(bytes: &[u8]) -> Result<Object, ElfError> {
        ElfObject::parse(bytes).map(|e| e.object)
    }

    /// Read an object from an ELF file.
    pub fn read_elf(path: impl AsRef<Path>) -> Result<Object, ElfError> {
        ElfObject::read(path).map(|e| e.object)
    }
}

fn at(section: &str, offset: u64, kind: K) -> ElfError {
    ElfError::At {
        section: section.to_owned(),
        offset,
        kind,
    }
}

/// A section of the file.
struct Sec<'a> {
    name: String,
    hdr: SectionHeader,
    data: &'a [u8],
}

/// A symbol of the file, with its name resolved.
#[derive(Clone, Debug)]
struct Symbol<'a> {
    name: &'a str,
    kind: u8,
    bind: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// What a relocation in a program section resolves to.
#[derive(Clone, Debug)]
enum Target {
    /// A map, by index in the object's maps.
    Map(usize),
    /// A function: section and byte offset.
    Func(usize, u64),
}

/// Relocation targets by (piece, slot in the piece), sorted.
type Targets = Vec<((usize, usize), Target)>;

/// Calls and function addresses between pieces: (piece, slot in the piece) -> callee piece and
/// what the referring instruction is.
type Edges = BTreeMap<(usize, usize), (usize, RefKind)>;

/// The targets of piece `k`.
fn targets_of(targets: &Targets, k: usize) -> &[((usize, usize), Target)] {
    let a = targets.partition_point(|&((p, _), _)| p < k);
    let b = targets.partition_point(|&((p, _), _)| p <= k);
    &targets[a..b]
}

/// The edges of piece `k`, as the linker takes them: every call lands on a piece's start.
fn edges_of(edges: &Edges, k: usize) -> impl Iterator<Item = Ref> + '_ {
    edges
        .range((k, 0)..=(k, usize::MAX))
        .map(|(&(_, slot), &(to, kind))| Ref {
            slot,
            kind,
            to,
            to_slot: 0,
        })
}

/// The NUL-terminated string at `off` of a string table.
fn cstr(table: &[u8], off: u32) -> Option<&str> {
    let rest = table.get(off as usize..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

impl ElfObject {
    /// Read an ELF file (see [`ElfObject::parse`]).
    pub fn read(path: impl AsRef<Path>) -> Result<ElfObject, ElfError> {
        let bytes = std::fs::read(path.as_ref()).map_err(|source| ElfError::Io {
            path: path.as_ref().to_owned(),
            source,
        })?;
        ElfObject::parse(&bytes)
    }

    /// Read an eBPF object from ELF bytes: ELF64, little-endian, ET_REL, EM_BPF. See the
    /// [module documentation](self) for what is read and how.
    pub fn parse(bytes: &[u8]) -> Result<ElfObject, ElfError> {
        let reader = Reader::open(bytes)?;
        let (view, btf, map_btf) = reader.view()?;
        // A slot that does not decode is listed (`ObjectView`), never loaded.
        if let Some((p, e)) = view
            .pieces
            .iter()
            .find_map(|p| p.error.clone().map(|e| (p, e)))
        {
            let name = &reader.sections[p.section].name;
            return Err(at(name, p.bytes.start + e.slot as u64 * 8, K::Insn(e)));
        }
        let (object, infos) = view.into_object();
        let btf = btf.map(|parsed| ObjectBtf {
            btf: reader.fixup_datasecs(&parsed),
            programs: infos,
            maps: map_btf,
        });
        Ok(ElfObject { object, btf })
    }
}

// The view's constructor lives with the reader that builds it, so that the view (the
// reader's output) needs nothing from the reader.
impl<'a> ObjectView<'a> {
    /// Read an eBPF object from ELF bytes as [`ElfObject::parse`]
    /// does, with the same checks and errors, but keep each program's instructions and source
    /// locations where they are in the bytes: they are decoded each time they are walked
    /// ([`ProgramView::insns`](super::ProgramView::insns), [`ProgramView::locs`](super::ProgramView::locs)). One difference: a slot that does not
    /// decode (an undefined opcode, a bad field) is not an error here but an unknown slot
    /// ([`ProgramView::unknown_slots`](super::ProgramView::unknown_slots), listed as `<unknown>` with its bytes, as llvm-objdump
    /// lists it), skipped by [`ProgramView::insns`](super::ProgramView::insns); `ElfObject::parse` refuses it.
    pub fn parse(bytes: &'a [u8]) -> Result<ObjectView<'a>, ElfError> {
        Reader::open(bytes)?.view().map(|(view, ..)| view)
    }
}

/// Section headers and data, with names.
fn read_sections<'a>(
    bytes: &'a [u8],
    header: &goblin::elf::Header,
    ctx: Ctx,
) -> Result<Vec<Sec<'a>>, ElfError> {
    let file_len = bytes.len() as u64;
    if header.e_shoff == 0 {
        return Ok(Vec::new());
    }
    if header.e_shentsize != 64 {
        return Err(at(
            "ELF header",
            0x3a,
            K::EntrySize {
                found: header.e_shentsize as u64,
                expected: 64,
            },
        ));
    }
    let need = header
        .e_shoff
        .saturating_add(64u64.saturating_mul(header.e_shnum.max(1) as u64));
    if need > file_len {
        return Err(at(
            "section headers",
            header.e_shoff,
            K::Truncated {
                what: "the section header table",
                need,
                have: file_len,
            },
        ));
    }
    let hdrs = SectionHeader::parse(bytes, header.e_shoff as usize, header.e_shnum as usize, ctx)
        .map_err(|e| at("section headers", header.e_shoff, K::Parse(e.to_string())))?;
    let mut shstrndx = header.e_shstrndx as u32;
    if shstrndx == goblin::elf::section_header::SHN_XINDEX {
        shstrndx = hdrs.first().map_or(0, |h| h.sh_link);
    }
    let data_of = |i: usize, h: &SectionHeader| -> Result<&'a [u8], ElfError> {
        if h.sh_type == SHT_NOBITS || h.sh_size == 0 {
            return Ok(&[]);
        }
        h.sh_offset
            .checked_add(h.sh_size)
            .filter(|&e| e <= file_len)
            .map(|e| &bytes[h.sh_offset as usize..e as usize])
            .ok_or_else(|| {
                at(
                    &format!("section [{i}]"),
                    0,
                    K::OutOfBounds {
                        start: h.sh_offset,
                        size: h.sh_size,
                        file_len,
                    },
                )
            })
    };
    let names: &[u8] = match hdrs.get(shstrndx as usize) {
        Some(h) if shstrndx != 0 => data_of(shstrndx as usize, h)?,
        Some(_) => &[],
        None => return Err(at("ELF header", 0x3e, K::BadSectionIndex(shstrndx))),
    };
    let mut out = Vec::with_capacity(hdrs.len());
    for (i, h) in hdrs.into_iter().enumerate() {
        let name = if i == 0 {
            String::new()
        } else {
            cstr(names, h.sh_name as u32)
                .ok_or_else(|| at(&format!("section [{i}]"), 0, K::BadString(h.sh_name as u32)))?
                .to_owned()
        };
        let data = data_of(i, &h).map_err(|e| match e {
            ElfError::At { kind, .. } => at(&name, 0, kind),
            e => e,
        })?;
        out.push(Sec { name, hdr: h, data });
    }
    Ok(out)
}

struct Reader<'a> {
    sections: Vec<Sec<'a>>,
    symbols: Vec<Symbol<'a>>,
    symtab: usize,
    ctx: Ctx,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Check the ELF header and read the section headers and the symbols.
    fn open(bytes: &'a [u8]) -> Result<Reader<'a>, ElfError> {
        let file_len = bytes.len() as u64;
        if bytes.get(..4) != Some(b"\x7fELF".as_slice()) {
            return Err(ElfError::NotElf);
        }
        let ident = |i: usize| bytes.get(i).copied().unwrap_or(0);
        if ident(4) != 2 {
            return Err(ElfError::Class(ident(4)));
        }
        if ident(5) != 1 {
            return Err(ElfError::Endian(ident(5)));
        }
        if bytes.len() < 64 {
            return Err(at(
                "ELF header",
                0,
                K::Truncated {
                    what: "the ELF64 header",
                    need: 64,
                    have: file_len,
                },
            ));
        }
        let header =
            Elf::parse_header(bytes).map_err(|e| at("ELF header", 0, K::Parse(e.to_string())))?;
        if header.e_machine != goblin::elf::header::EM_BPF {
            return Err(ElfError::Machine(header.e_machine));
        }
        if header.e_type != goblin::elf::header::ET_REL {
            return Err(ElfError::FileType(header.e_type));
        }
        let ctx = Ctx::new(Container::Big, Endian::Little);
        let sections = read_sections(bytes, &header, ctx)?;
        Reader::new(bytes, sections, ctx)
    }

    fn new(bytes: &'a [u8], sections: Vec<Sec<'a>>, ctx: Ctx) -> Result<Reader<'a>, ElfError> {
        let mut r = Reader {
            sections,
            symbols: Vec::new(),
            symtab: 0,
            ctx,
            bytes,
        };
        if let Some(i) = r.sections.iter().position(|s| s.hdr.sh_type == SHT_SYMTAB) {
            r.symtab = i;
            r.symbols = r.read_symbols(i)?;
        }
        Ok(r)
    }

    fn read_symbols(&self, i: usize) -> Result<Vec<Symbol<'a>>, ElfError> {
        let s = &self.sections[i];
        if s.hdr.sh_entsize != 24 {
            return Err(at(
                &s.name,
                0,
                K::EntrySize {
                    found: s.hdr.sh_entsize,
                    expected: 24,
                },
            ));
        }
        let link = s.hdr.sh_link as usize;
        let strtab = match self.sections.get(link) {
            Some(t) => t.data,
            None => return Err(at(&s.name, 0, K::BadSectionIndex(link as u32))),
        };
        let count = s.data.len() / 24;
        if count == 0 {
            return Ok(Vec::new());
        }
        let table = Symtab::parse(self.bytes, s.hdr.sh_offset as usize, count, self.ctx)
            .map_err(|e| at(&s.name, 0, K::Parse(e.to_string())))?;
        let mut out = Vec::with_capacity(count);
        for (k, sym) in table.iter().enumerate() {
            let name = if sym.st_name == 0 {
                ""
            } else {
                cstr(strtab, sym.st_name as u32)
                    .ok_or_else(|| at(&s.name, k as u64 * 24, K::BadString(sym.st_name as u32)))?
            };
            out.push(Symbol {
                name,
                kind: sym.st_info & 0xf,
                bind: sym.st_info >> 4,
                shndx: sym.st_shndx as u16,
                value: sym.st_value,
                size: sym.st_size,
            });
        }
        Ok(out)
    }

    fn section_named(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    fn is_exec(&self, i: usize) -> bool {
        self.sections.get(i).is_some_and(|s| {
            s.hdr.sh_type == SHT_PROGBITS
                && s.hdr.sh_flags & u64::from(SHF_EXECINSTR) != 0
                && !s.data.is_empty()
        })
    }

    /// Everything of the object but the loader's BTF records: the view, the parsed `.BTF`
    /// and the maps' BTF ids.
    #[allow(clippy::type_complexity)]
    fn view(&self) -> Result<(ObjectView<'a>, Option<Btf>, Vec<MapBtf>), ElfError> {
        let data = |name| self.section_named(name).map(|i| self.sections[i].data);
        let btf = match data(".BTF") {
            Some(b) => {
                Some(Btf::parse(b).map_err(|e| at(".BTF", e.offset as u64, K::Btf(e.kind)))?)
            }
            None => None,
        };
        let ext = match (data(".BTF.ext"), &btf) {
            (Some(b), Some(btf)) => Some(
                BtfExt::parse(b, btf)
                    .map_err(|e| at(".BTF.ext", e.offset as u64, K::Btf(e.kind)))?,
            ),
            _ => None,
        };
        let license = data("license")
            .map(|d| {
                let end = d.iter().position(|&c| c == 0).unwrap_or(d.len());
                String::from_utf8_lossy(&d[..end]).into_owned()
            })
            .unwrap_or_default();
        let (maps, map_btf, map_offsets) = self.read_maps(btf.as_ref())?;
        let pieces = self.read_pieces()?;
        let mut externs = Vec::new();
        let targets = self.read_relocs(&pieces, &maps, &map_offsets, &mut externs)?;
        let lines = LineIndex::new(|name| self.section_named(name), ext.as_ref());
        let programs = self.link(&pieces, &targets, &lines, btf.as_ref())?;
        let view = ObjectView {
            license,
            maps,
            externs,
            pieces,
            lines,
            programs,
        };
        Ok((view, btf, map_btf))
    }

    /// Maps of `.maps`, in offset order, with their BTF ids and offsets.
    #[allow(clippy::type_complexity)]
    fn read_maps(&self, btf: Option<&Btf>) -> Result<(Vec<Map>, Vec<MapBtf>, Vec<u64>), ElfError> {
        let Some(mi) = self.section_named(".maps") else {
            return Ok(Default::default());
        };
        let Some(btf) = btf else {
            return Err(at(".maps", 0, K::MissingBtf));
        };
        let berr = |e: super::btf::BtfError| at(".BTF", e.offset as u64, K::Btf(e.kind));
        let mut syms: Vec<&Symbol> = self
            .symbols
            .iter()
            .filter(|s| {
                s.shndx as usize == mi
                    && matches!(s.kind, STT_OBJECT | STT_NOTYPE)
                    && !s.name.is_empty()
            })
            .collect();
        syms.sort_by_key(|s| s.value);
        let datasec = btf.find(Kind::Datasec, ".maps");
        let mut maps = Vec::with_capacity(syms.len());
        let mut ids = Vec::with_capacity(syms.len());
        let mut offsets = Vec::with_capacity(syms.len());
        for s in syms {
            let missing = || at(".maps", s.value, K::MapNotInBtf(s.name.to_owned()));
            // The VAR of this name listed in DATASEC .maps.
            let var = datasec
                .and_then(|d| match &btf.get(d).ok()?.data {
                    TypeData::Datasec(v) => v
                        .iter()
                        .map(|v| v.type_id)
                        .find(|&id| btf.type_name(id).ok() == Some(s.name)),
                    _ => None,
                })
                .ok_or_else(missing)?;
            let var_t = btf.get(var).map_err(berr)?;
            if var_t.kind != Kind::Var {
                return Err(missing());
            }
            let st = btf.skip_modifiers(var_t.size_or_type).map_err(berr)?;
            let members = match btf.get(st).map(|t| &t.data) {
                Ok(TypeData::Members(m)) => m.clone(),
                _ => {
                    return Err(at(
                        ".maps",
                        s.value,
                        K::MapField {
                            map: s.name.to_owned(),
                            field: String::new(),
                            reason: "the map's VAR is not of a struct type".into(),
                        },
                    ))
                }
            };
            let (def, mb, pinning) = self.map_def(btf, s.name, s.value, &members)?;
            maps.push(Map {
                name: s.name.to_owned(),
                def,
                pinning,
            });
            ids.push(MapBtf {
                var_type_id: var,
                ..mb
            });
            offsets.push(s.value);
        }
        Ok((maps, ids, offsets))
    }

    fn map_def(
        &self,
        btf: &Btf,
        map: &str,
        offset: u64,
        members: &[super::btf::Member],
    ) -> Result<(MapDef, MapBtf, Pinning), ElfError> {
        let mut map_type = None;
        let mut pinning = Pinning::None;
        let mut def = MapDef::new(MapType::Unspec, 0, 0, 0);
        def.key_type = None;
        def.value_type = None;
        let mut ids = MapBtf::default();
        for m in members {
            let field = btf.name(m.name_off).unwrap_or("").to_owned();
            let bad = |reason: String| {
                at(
                    ".maps",
                    offset,
                    K::MapField {
                        map: map.to_owned(),
                        field: field.clone(),
                        reason,
                    },
                )
            };
            let ptr = btf
                .skip_modifiers(m.type_id)
                .map_err(|e| bad(e.kind.to_string()))?;
            let pointee = match btf.get(ptr) {
                Ok(t) if t.kind == Kind::Ptr => t.size_or_type,
                _ => return Err(bad("not a pointer (__uint or __type)".into())),
            };
            let uint = || -> Result<u32, ElfError> {
                let arr = btf
                    .skip_modifiers(pointee)
                    .map_err(|e| bad(e.kind.to_string()))?;
                match btf.get(arr).map(|t| &t.data) {
                    Ok(TypeData::Array { nelems, .. }) => Ok(*nelems),
                    _ => Err(bad("not a pointer to an array (__uint)".into())),
                }
            };
            let ty = || -> Result<(u32, TypeDesc), ElfError> {
                let size = btf
                    .resolve_size(pointee)
                    .map_err(|e| bad(e.kind.to_string()))?;
                let base = btf
                    .skip_modifiers(pointee)
                    .map_err(|e| bad(e.kind.to_string()))?;
                let desc = match btf.get(base) {
                    Ok(t) => match (&t.data, btf.name(t.name_off)) {
                        (TypeData::Int { encoding, .. }, Ok(name)) => {
                            int_desc(name, size, encoding & 1 != 0)
                        }
                        _ => TypeDesc::Bytes(size),
                    },
                    Err(_) => TypeDesc::Bytes(size),
                };
                Ok((size, desc))
            };
            match field.as_str() {
                "type" => {
                    let n = uint()?;
                    map_type = Some(
                        MapType::from_u32(n).ok_or_else(|| bad(format!("unknown map type {n}")))?,
                    );
                }
                "max_entries" => def.max_entries = uint()?,
                "map_flags" => def.map_flags = uint()?,
                "key_size" => def.key_size = uint()?,
                "value_size" => def.value_size = uint()?,
                "pinning" => {
                    // libbpf's values: LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME; it refuses others.
                    pinning = match uint()? {
                        0 => Pinning::None,
                        1 => Pinning::ByName,
                        n => {
                            return Err(bad(format!(
                                "unknown pinning value {n}: 0 (LIBBPF_PIN_NONE) or 1 \
                                 (LIBBPF_PIN_BY_NAME)"
                            )))
                        }
                    };
                }
                "numa_node" | "map_extra" => {
                    uint()?;
                }
                "key" => {
                    let (size, desc) = ty()?;
                    def.key_size = size;
                    def.key_type = Some(desc);
                    ids.key_type_id = pointee;
                }
                "value" => {
                    let (size, desc) = ty()?;
                    def.value_size = size;
                    def.value_type = Some(desc);
                    ids.value_type_id = pointee;
                }
                _ => return Err(bad("not a map field bpfsmith supports".into())),
            }
        }
        def.map_type = map_type.ok_or_else(|| {
            at(
                ".maps",
                offset,
                K::MapField {
                    map: map.to_owned(),
                    field: "type".into(),
                    reason: "missing".into(),
                },
            )
        })?;
        Ok((def, ids, pinning))
    }

    /// The functions of every executable section, checked by decoding them once.
    fn read_pieces(&self) -> Result<Vec<Piece<'a>>, ElfError> {
        let mut pieces = Vec::new();
        for (si, sec) in self.sections.iter().enumerate() {
            if !self.is_exec(si) {
                continue;
            }
            let size = sec.data.len() as u64;
            let mut funcs: Vec<(usize, &Symbol)> = self
                .symbols
                .iter()
                .enumerate()
                .filter(|(_, s)| s.shndx as usize == si && s.kind == STT_FUNC)
                .collect();
            funcs.sort_by_key(|(i, s)| (s.value, *i));
            let starts: Vec<u64> = funcs.iter().map(|(_, s)| s.value).collect();
            let mut ranges: Vec<(usize, &Symbol, Range<u64>)> = Vec::new();
            for (k, s) in funcs {
                // A function of no size (llvm-mc's `.type f,@function` without `.size`)
                // runs to the next function or the end of the section.
                let sized = if s.size == 0 && s.value < size {
                    let next = starts.partition_point(|&v| v <= s.value);
                    starts.get(next).copied().unwrap_or(size) - s.value
                } else {
                    s.size
                };
                let end = s.value.checked_add(sized).filter(|&e| e <= size);
                let Some(end) = end.filter(|_| s.value % 8 == 0 && sized % 8 == 0 && sized > 0)
                else {
                    return Err(at(
                        &sec.name,
                        s.value,
                        K::BadFunctionSymbol {
                            name: s.name.to_owned(),
                            value: s.value,
                            size: s.size,
                            section_size: size,
                        },
                    ));
                };
                if let Some((_, prev, r)) = ranges.last() {
                    if r.start == s.value && r.end == end {
                        continue; // an alias
                    }
                    if s.value < r.end {
                        return Err(at(
                            &sec.name,
                            s.value,
                            K::OverlappingFunctions(prev.name.to_owned(), s.name.to_owned()),
                        ));
                    }
                }
                ranges.push((k, s, s.value..end));
            }
            let synthesized;
            let list: Vec<(usize, String, bool, Range<u64>)> = if ranges.is_empty() {
                // Named after the section, as llvm-objdump names it (`<.text+0x20>`), when
                // the kernel takes that as a program name; otherwise with `_` for the rest.
                let name: String = sec
                    .name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                synthesized = vec![(usize::MAX, name, sec.name != ".text", 0..size)];
                synthesized
            } else {
                ranges
                    .into_iter()
                    .map(|(k, s, r)| (k, s.name.to_owned(), s.bind != STB_LOCAL, r))
                    .collect()
            };
            let list = self.split_at_local_calls(si, list);
            for (sym, name, global, bytes) in list {
                let data = &sec.data[bytes.start as usize..bytes.end as usize];
                let mut flow = Flow::default();
                let (starts, bad) = Starts::decode(data, |slot, insn| flow.note(slot, insn));
                // An undecodable slot is kept for the listing (`<unknown>`, as llvm-objdump
                // shows it); reading the object for loading refuses it ([`ElfObject::parse`]).
                if let Some(e) = bad.clone().filter(|_| starts.unknown.is_empty()) {
                    // Trailing bytes: not a whole slot to show.
                    return Err(at(&sec.name, bytes.start + e.slot as u64 * 8, K::Insn(e)));
                }
                let error = bad;
                pieces.push(Piece {
                    error,
                    section: si,
                    name,
                    bytes,
                    global: global && sec.name != ".text",
                    sym,
                    data,
                    starts,
                    flow,
                });
            }
        }
        Ok(pieces)
    }

    /// Each function of section `si` split where a pc-relative call without a relocation
    /// lands inside it: a function that llvm-mc leaves in its program's section (a label
    /// `call` names, no FUNC symbol) is a subprogram of its own, as the kernel counts them.
    /// Named after a local label there, or `NAME_fnSLOT`. A section without FUNC symbols
    /// (llvm-mc's) is also split at its GLOBAL NOTYPE symbols, each a program.
    fn split_at_local_calls(
        &self,
        si: usize,
        list: Vec<(usize, String, bool, Range<u64>)>,
    ) -> Vec<(usize, String, bool, Range<u64>)> {
        let data = self.sections[si].data;
        let relocated: Vec<u64> = self
            .sections
            .iter()
            .filter(|r| matches!(r.hdr.sh_type, SHT_REL | SHT_RELA) && r.hdr.sh_info as usize == si)
            .flat_map(|r| {
                let size = if r.hdr.sh_type == SHT_RELA { 24 } else { 16 };
                r.data
                    .chunks_exact(size)
                    .map(|e| u64::from_le_bytes(e[..8].try_into().unwrap_or_default()))
            })
            .collect();
        let relocated_targets = self.relocated_call_targets(si);
        let mut out = Vec::with_capacity(list.len());
        for (sym, name, global, bytes) in list {
            let piece = &data[bytes.start as usize..bytes.end as usize];
            // Most functions have nothing to cut at: no local call or function address (seen
            // in the raw bytes: a call with src 1, an `ld_imm64` with src 4; an `ld_imm64`'s
            // second slot has opcode 0, so it never looks like one) and no relocated target
            // inside. They keep their bytes without a decode here; the listing decodes them.
            let local_refs = piece
                .chunks_exact(8)
                .any(|s| (s[0] == 0x85 && s[1] >> 4 == 1) || (s[0] == 0x18 && s[1] >> 4 == 4));
            let targeted = relocated_targets
                .iter()
                .any(|&t| t > bytes.start && t < bytes.end);
            if sym != usize::MAX && !local_refs && !targeted {
                out.push((sym, name, global, bytes));
                continue;
            }
            let mut flow = Flow::default();
            let (starts, bad) = Starts::decode(piece, |slot, insn| flow.note(slot, insn));
            let slots = piece.len() as i64 / 8;
            // GLOBAL NOTYPE symbols of a section without FUNC symbols: (slot, name).
            let entries: Vec<(usize, &str)> = if sym == usize::MAX {
                self.symbols
                    .iter()
                    .filter(|s| {
                        s.shndx as usize == si
                            && s.kind == STT_NOTYPE
                            && s.bind != STB_LOCAL
                            && !s.name.is_empty()
                            && s.value % 8 == 0
                            && bytes.contains(&s.value)
                    })
                    .map(|s| (((s.value - bytes.start) / 8) as usize, s.name))
                    .filter(|&(slot, _)| starts.is_start(slot))
                    .collect()
            } else {
                Vec::new()
            };
            let mut cuts: Vec<usize> = flow
                .calls
                .iter()
                .filter(|&&(slot, _)| !relocated.contains(&(bytes.start + slot as u64 * 8)))
                .filter_map(|&(slot, imm)| {
                    let t = (slot as i64).checked_add(imm)?.checked_add(1)?;
                    (t > 0 && t < slots && starts.is_start(t as usize)).then_some(t as usize)
                })
                .chain(entries.iter().map(|&(slot, _)| slot).filter(|&s| s > 0))
                .chain(
                    relocated_targets
                        .iter()
                        .filter(|&&t| t > bytes.start && t < bytes.end && t % 8 == 0)
                        .map(|&t| ((t - bytes.start) / 8) as usize)
                        .filter(|&s| starts.is_start(s)),
                )
                .collect();
            let entry = |slot: usize| entries.iter().find(|e| e.0 == slot).map(|e| e.1);
            if bad.is_some() || cuts.is_empty() {
                let name = entry(0).map_or(name, str::to_owned);
                out.push((sym, name, global, bytes));
                continue;
            }
            cuts.sort_unstable();
            cuts.dedup();
            let label = |off: u64| {
                self.symbols
                    .iter()
                    .find(|s| {
                        s.shndx as usize == si
                            && s.kind == STT_NOTYPE
                            && s.value == off
                            && !s.name.is_empty()
                    })
                    .map(|s| s.name.to_owned())
            };
            let first = entry(0).map_or_else(|| name.clone(), str::to_owned);
            let head = bytes.start..bytes.start + cuts[0] as u64 * 8;
            out.push((sym, first, global, head));
            for (k, &c) in cuts.iter().enumerate() {
                let from = bytes.start + c as u64 * 8;
                let end = cuts
                    .get(k + 1)
                    .map_or(bytes.end, |&n| bytes.start + n as u64 * 8);
                let (fname, g) = match entry(c) {
                    Some(e) => (e.to_owned(), global),
                    None => (
                        label(from).unwrap_or_else(|| format!("{name}_fn{}", from / 8)),
                        false,
                    ),
                };
                out.push((usize::MAX, fname, g, from..end));
            }
        }
        out
    }

    /// The bytes of section `si` that relocated calls and function addresses of any code
    /// section reach through a local symbol of `si` (its section symbol, with the target in
    /// the instruction's immediate, or a label): llvm-mc's calls into `.text` from another
    /// section, which start functions there.
    fn relocated_call_targets(&self, si: usize) -> Vec<u64> {
        let mut out = Vec::new();
        for rs in &self.sections {
            let from = rs.hdr.sh_info as usize;
            if rs.hdr.sh_type != SHT_REL || rs.hdr.sh_entsize != 16 || !self.is_exec(from) {
                continue;
            }
            let code = self.sections[from].data;
            for e in rs.data.chunks_exact(16) {
                let word =
                    |i: usize| u64::from_le_bytes(e[i..i + 8].try_into().unwrap_or_default());
                let (off, info) = (word(0), word(8));
                let (sym, kind) = ((info >> 32) as usize, (info & 0xffff_ffff) as u32);
                let Some(s) = self.symbols.get(sym) else {
                    continue;
                };
                if s.shndx as usize != si || s.bind != STB_LOCAL {
                    continue;
                }
                let Some(insn) = code.get(off as usize..(off as usize).saturating_add(8)) else {
                    continue;
                };
                let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]) as i64;
                let target = match (kind, insn[0], s.kind) {
                    (R_BPF_64_32, 0x85, STT_SECTION) => (imm + 1) * 8,
                    (R_BPF_64_64, 0x18, STT_SECTION) => imm,
                    (R_BPF_64_32 | R_BPF_64_64, 0x85 | 0x18, STT_NOTYPE) => s.value as i64,
                    _ => continue,
                };
                if let Ok(t) = u64::try_from(target) {
                    out.push(t);
                }
            }
        }
        out
    }

    /// The piece and the slot in it of the instruction at byte `off` of section `sec`.
    fn insn_at(pieces: &[Piece], sec: usize, off: u64) -> Option<(usize, usize)> {
        // Pieces are in section order, then offset order.
        let p = pieces.partition_point(|p| (p.section, p.bytes.end) <= (sec, off));
        let slot = pieces.get(p).filter(|p| p.section == sec)?.slot_at(off)?;
        Some((p, slot))
    }

    /// Relocations of the program sections: (piece, slot) -> target, sorted; of two
    /// relocations of one instruction the later one counts.
    fn read_relocs(
        &self,
        pieces: &[Piece],
        maps: &[Map],
        map_offsets: &[u64],
        externs: &mut Vec<String>,
    ) -> Result<Targets, ElfError> {
        let mut out = Vec::new();
        for rs in &self.sections {
            let target = rs.hdr.sh_info as usize;
            if !matches!(rs.hdr.sh_type, SHT_REL | SHT_RELA) || !self.is_exec(target) {
                continue;
            }
            let tname = &self.sections[target].name;
            if rs.hdr.sh_type == SHT_RELA {
                return Err(at(&rs.name, 0, K::RelocType(SHT_RELA)));
            }
            if rs.hdr.sh_entsize != 16 {
                return Err(at(
                    &rs.name,
                    0,
                    K::EntrySize {
                        found: rs.hdr.sh_entsize,
                        expected: 16,
                    },
                ));
            }
            if rs.hdr.sh_link as usize != self.symtab || self.symbols.is_empty() {
                return Err(at(&rs.name, 0, K::BadSectionIndex(rs.hdr.sh_link)));
            }
            for (k, rel) in rs.data.chunks_exact(16).enumerate() {
                let roff = u64::from_le_bytes(rel[..8].try_into().unwrap_or_default());
                let info = u64::from_le_bytes(rel[8..].try_into().unwrap_or_default());
                let (sym_idx, r_type) = ((info >> 32) as u32, info as u32);
                let here = k as u64 * 16;
                let sym = self.symbols.get(sym_idx as usize).ok_or_else(|| {
                    at(
                        &rs.name,
                        here,
                        K::MissingSymbol {
                            index: sym_idx,
                            count: self.symbols.len() as u32,
                        },
                    )
                })?;
                let (p, slot) = Self::insn_at(pieces, target, roff)
                    .ok_or_else(|| at(tname, roff, K::RelocOffset(sym.name.to_owned())))?;
                let insn = pieces[p]
                    .decode(slot)
                    .ok_or_else(|| at(tname, roff, K::RelocOffset(sym.name.to_owned())))?;
                let opcode = insn.fields().0;
                let sec_name = |s: &Symbol| match s.shndx {
                    SHN_UNDEF => "UND".to_owned(),
                    n if n >= SHN_LORESERVE => format!("special {n:#x}"),
                    n => self
                        .sections
                        .get(n as usize)
                        .map_or_else(|| format!("[{n}]"), |s| s.name.clone()),
                };
                let sym_name = || {
                    if sym.kind == STT_SECTION {
                        sec_name(sym)
                    } else {
                        sym.name.to_owned()
                    }
                };
                let unsupported = |what| {
                    at(
                        tname,
                        roff,
                        K::Unsupported {
                            symbol: sym_name(),
                            section: sec_name(sym),
                            what,
                        },
                    )
                };
                let wrong_insn = |reloc, expected| {
                    at(
                        tname,
                        roff,
                        K::RelocInsn {
                            reloc,
                            symbol: sym_name(),
                            opcode,
                            expected,
                        },
                    )
                };
                let shndx = sym.shndx as usize;
                let t = match r_type {
                    R_BPF_64_64 => {
                        let Insn::LdImm64 { imm, .. } = insn else {
                            return Err(wrong_insn("R_BPF_64_64", "an ld_imm64 (0x18)"));
                        };
                        if sym.shndx == SHN_UNDEF && sym.kind == STT_NOTYPE && !sym.name.is_empty()
                        {
                            // An extern map (llvm-mc's `r1 = name ll` of an undeclared
                            // `name`): after the object's maps, by name.
                            let k = match externs.iter().position(|e| e == sym.name) {
                                Some(k) => k,
                                None => {
                                    externs.push(sym.name.to_owned());
                                    externs.len() - 1
                                }
                            };
                            out.push(((p, slot), Target::Map(maps.len() + k)));
                            continue;
                        }
                        if sym.shndx == SHN_UNDEF {
                            return Err(unsupported("an extern symbol (ksym, kconfig)"));
                        }
                        if self.sections.get(shndx).is_some_and(|s| s.name == ".maps") {
                            let name = if sym.kind == STT_SECTION {
                                let off = sym.value.wrapping_add(imm as i32 as i64 as u64);
                                map_offsets.iter().position(|&o| o == off)
                            } else {
                                maps.iter().position(|m| m.name == sym.name)
                            };
                            Target::Map(
                                name.ok_or_else(|| at(tname, roff, K::MapNotInBtf(sym_name())))?,
                            )
                        } else if self.is_exec(shndx) {
                            let off = sym.value.wrapping_add(imm as i32 as i64 as u64);
                            Target::Func(shndx, off)
                        } else if shndx >= SHN_LORESERVE as usize {
                            return Err(unsupported("a special-section symbol"));
                        } else {
                            return Err(unsupported("global data"));
                        }
                    }
                    R_BPF_64_32 => {
                        let Insn::Call(callee) = insn else {
                            return Err(wrong_insn("R_BPF_64_32", "a call (0x85)"));
                        };
                        match callee {
                            Callee::Local(imm) if self.is_exec(shndx) => {
                                let off = (sym.value as i64)
                                    .wrapping_add((imm as i64 + 1).wrapping_mul(8));
                                Target::Func(shndx, off as u64)
                            }
                            Callee::Local(_) if sym.shndx == SHN_UNDEF => {
                                return Err(unsupported("an extern function"))
                            }
                            Callee::Local(_) => return Err(unsupported("a call into data")),
                            _ => return Err(unsupported("a call to an extern kfunc")),
                        }
                    }
                    other => return Err(at(&rs.name, here, K::RelocType(other))),
                };
                out.push(((p, slot), t));
            }
        }
        // Sort by instruction, the later of two relocations of one instruction first, and keep
        // that one.
        out.reverse();
        out.sort_by_key(|&(key, _)| key);
        out.dedup_by_key(|&mut (key, _)| key);
        Ok(out)
    }

    /// The piece that starts at byte `off` of section `sec`.
    fn piece_at(pieces: &[Piece], sec: usize, off: u64) -> Option<usize> {
        pieces
            .iter()
            .position(|p| p.section == sec && p.bytes.start == off)
    }

    /// Resolve the calls and function addresses of every piece: (piece, slot) -> callee piece
    /// and the kind of reference. A jump out of its function is kept as it is (the listing and
    /// the verifier say what is wrong with it).
    fn edges(&self, pieces: &[Piece], targets: &Targets) -> Result<Edges, ElfError> {
        let mut edges = BTreeMap::new();
        for (pi, p) in pieces.iter().enumerate() {
            let sec = &self.sections[p.section].name;
            let relocated = targets_of(targets, pi);
            let here = |slot: usize| p.bytes.start + slot as u64 * 8;
            // (slot, kind, section, byte offset there), in slot order.
            let mut calls: Vec<(usize, RefKind, usize, i64)> = relocated
                .iter()
                .filter_map(|&((_, slot), ref t)| match *t {
                    // A relocation is on an `ld_imm64` or a call (checked when read).
                    Target::Func(s, off) => {
                        let kind = match p.decode(slot) {
                            Some(Insn::LdImm64 { .. }) => RefKind::FuncAddr,
                            _ => RefKind::Call,
                        };
                        Some((slot, kind, s, off as i64))
                    }
                    Target::Map(_) => None,
                })
                .collect();
            for &(slot, imm) in &p.flow.calls {
                if relocated
                    .binary_search_by_key(&slot, |&((_, s), _)| s)
                    .is_ok()
                {
                    continue; // relocated: the relocation says where it goes
                }
                let target = (here(slot) as i64).wrapping_add(imm.wrapping_add(1).wrapping_mul(8));
                if target >= p.bytes.start as i64 && target < p.bytes.end as i64 {
                    continue; // a call inside the function: kept as is
                }
                calls.push((slot, RefKind::Call, p.section, target));
            }
            calls.sort_by_key(|&(slot, ..)| slot);
            for (slot, kind, section, target) in calls {
                let to = u64::try_from(target)
                    .ok()
                    .and_then(|t| Self::piece_at(pieces, section, t))
                    .ok_or_else(|| {
                        at(
                            sec,
                            here(slot),
                            K::CallTarget {
                                section: self.sections[section].name.clone(),
                                target,
                            },
                        )
                    })?;
                edges.insert((pi, slot), (to, kind));
            }
        }
        Ok(edges)
    }

    /// Plan self-contained programs: each entry with the functions it reaches, linked by
    /// [`link::link`] (the pieces are numbered in file order: section, then offset).
    fn link(
        &self,
        pieces: &[Piece<'a>],
        targets: &Targets,
        lines: &LineIndex<'a>,
        btf: Option<&Btf>,
    ) -> Result<Vec<Plan<'a>>, ElfError> {
        let edges = self.edges(pieces, targets)?;
        let mut referenced = vec![false; pieces.len()];
        for (&(from, _), &(to, _)) in &edges {
            if from != to {
                referenced[to] = true;
            }
        }
        // Entries: global functions of program sections, then unreferenced others, in symbol
        // order.
        let mut roots: Vec<usize> = (0..pieces.len())
            .filter(|&k| pieces[k].global || !referenced[k])
            .collect();
        roots.sort_by_key(|&k| {
            (
                !pieces[k].global,
                pieces[k].sym,
                pieces[k].section,
                pieces[k].bytes.start,
            )
        });
        let labels = self.label_symbols();
        let parts = Parts {
            pieces,
            targets,
            lines,
            labels: &labels,
            btf,
        };
        let size = |k: usize| {
            pieces.get(k).map(|p| link::Size {
                insns: p.insn_count(),
                slots: p.slot_count(),
            })
        };
        let mut plans = Vec::with_capacity(roots.len());
        for root in roots {
            let linked = link::link(root, |k| edges_of(&edges, k), size)
                .map_err(|e| self.link_error(pieces, e))?;
            plans.push(self.assemble(&parts, &linked)?);
        }
        Ok(plans)
    }

    /// A linker error as a read error at the referring instruction. Only a call into an
    /// empty function (a code section of no bytes) or an offset past 32 bits (a program of
    /// 16 GiB) gets here: every edge names a piece.
    fn link_error(&self, pieces: &[Piece], e: LinkError) -> ElfError {
        let (unit, slot) = e.at();
        let kind = match e {
            LinkError::PastEnd { to, to_slot, .. } if to < pieces.len() => {
                let p = &pieces[to];
                K::CallTarget {
                    section: self.sections[p.section].name.clone(),
                    target: (p.bytes.start + to_slot as u64 * 8) as i64,
                }
            }
            _ => K::Parse(e.to_string()),
        };
        match pieces.get(unit) {
            Some(p) => at(
                &self.sections[p.section].name,
                p.bytes.start + slot as u64 * 8,
                kind,
            ),
            None => at("", 0, kind),
        }
    }

    /// The labels, by section, sorted by value: the local NOTYPE symbols with a name, and
    /// the records of [`super::LABELS_SECTION`] (`SECTION\0OFFSET\0NAME\0`; a malformed
    /// record ends the reading of that section, and is no error: labels are only names).
    fn label_symbols(&self) -> HashMap<usize, Vec<(u64, &'a str)>> {
        let mut out: HashMap<usize, Vec<(u64, &'a str)>> = HashMap::new();
        for s in &self.symbols {
            if s.kind == STT_NOTYPE && s.bind == STB_LOCAL && !s.name.is_empty() {
                out.entry(s.shndx as usize)
                    .or_default()
                    .push((s.value, s.name));
            }
        }
        if let Some(k) = self.section_named(super::LABELS_SECTION) {
            let mut fields = self.sections[k].data.split(|&b| b == 0);
            while let (Some(sec), Some(off), Some(name)) =
                (fields.next(), fields.next(), fields.next())
            {
                let parsed = std::str::from_utf8(sec).ok().and_then(|sec| {
                    let off: u64 = std::str::from_utf8(off).ok()?.parse().ok()?;
                    let name = std::str::from_utf8(name).ok().filter(|n| !n.is_empty())?;
                    Some((self.section_named(sec)?, off, name))
                });
                let Some((shndx, off, name)) = parsed else {
                    break;
                };
                out.entry(shndx).or_default().push((off, name));
            }
        }
        // A label both a symbol and a record is kept once.
        for v in out.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        out
    }

    /// Plan the linked program: where each piece goes, the call immediates to rewrite,
    /// relocations, labels, functions and source files. Checks the pieces' BTF records on the
    /// way.
    fn assemble(&self, parts: &Parts<'_, 'a>, linked: &link::Linked) -> Result<Plan<'a>, ElfError> {
        let pieces = parts.pieces;
        let root = &pieces[linked.placed[0].unit];
        let placed: Vec<Placed> = linked
            .placed
            .iter()
            .map(|p| Placed {
                piece: p.unit,
                slot: p.slot,
                insn: p.insn,
            })
            .collect();
        let mut fixups = Vec::new();
        for f in linked.fixups().map_err(|e| self.link_error(pieces, e))? {
            let pl = &placed[f.placed];
            let p = &pieces[pl.piece];
            if let (Some(i), Some(mut insn)) = (p.starts.index(f.slot), p.decode(f.slot)) {
                f.imm.apply(&mut insn);
                fixups.push((pl.insn + i, insn));
            }
        }
        let mut relocs = Vec::new();
        let mut functions = Vec::with_capacity(placed.len());
        let mut labels = Vec::new();
        let mut func_info = Vec::new();
        let mut sources = Sources::default();
        for pl in &placed {
            let p = &pieces[pl.piece];
            functions.push(Function {
                name: p.name.clone(),
                insn: pl.insn,
            });
            for &((_, slot), ref t) in targets_of(parts.targets, pl.piece) {
                if let (Target::Map(m), Some(i)) = (t, p.starts.index(slot)) {
                    relocs.push((pl.insn + i, *m));
                }
            }
            if let Some(syms) = parts.labels.get(&p.section) {
                for &(value, name) in in_range(syms, &p.bytes, |&(v, _)| v) {
                    if let Some(slot) = p.slot_at(value) {
                        if let Some(i) = p.starts.index(slot) {
                            labels.push((pl.insn + i, pl.slot + slot, name));
                        }
                    }
                }
            }
            // Source locations and BTF records of this piece.
            let sec = &self.sections[p.section].name;
            let ext_offset = |what, insn_off| {
                at(
                    sec,
                    insn_off as u64,
                    K::ExtOffset {
                        what,
                        section: sec.clone(),
                        insn_off,
                    },
                )
            };
            for l in parts.lines.lines_in(p) {
                if l.insn_off as u64 > p.last_insn_offset() {
                    break; // inside the last instruction: no instruction of its own
                }
                if p.slot_at(l.insn_off as u64).is_none() {
                    return Err(ext_offset("line_info", l.insn_off));
                }
                if let Some(btf) = parts.btf {
                    sources.add(btf, &l);
                }
            }
            for f in parts.lines.funcs_in(p) {
                let Some(slot) = p.slot_at(f.insn_off as u64) else {
                    return Err(ext_offset("func_info", f.insn_off));
                };
                if let Some(btf) = parts.btf {
                    match btf.get(f.type_id) {
                        Ok(t) if t.kind == Kind::Func => {}
                        Ok(t) => {
                            return Err(at(
                                ".BTF.ext",
                                0,
                                K::Btf(super::btf::BtfErrorKind::WrongKind {
                                    id: f.type_id,
                                    found: t.kind.name(),
                                    expected: "FUNC",
                                }),
                            ))
                        }
                        Err(e) => return Err(at(".BTF.ext", 0, K::Btf(e.kind))),
                    }
                }
                func_info.push(FuncInfo {
                    insn_off: (pl.slot + slot) as u32,
                    type_id: f.type_id,
                });
            }
        }
        labels.sort();
        Ok(Plan {
            name: root.name.clone(),
            section: Section::new(self.sections[root.section].name.clone()),
            placed,
            insns: linked.insns,
            slots: linked.slots,
            fixups,
            relocs,
            labels,
            functions,
            sources: sources.finish(),
            func_info,
        })
    }

    /// `.BTF` with DATASEC sizes and variable offsets taken from the ELF (libbpf's fixup).
    fn fixup_datasecs(&self, btf: &Btf) -> Vec<u8> {
        let mut raw = self
            .section_named(".BTF")
            .map_or_else(Vec::new, |i| self.sections[i].data.to_vec());
        let put = |raw: &mut Vec<u8>, at: usize, v: u32| {
            if let Some(b) = raw.get_mut(at..at + 4) {
                b.copy_from_slice(&v.to_le_bytes());
            }
        };
        for (_, t) in btf.types() {
            let TypeData::Datasec(vars) = &t.data else {
                continue;
            };
            let Ok(name) = btf.name(t.name_off) else {
                continue;
            };
            let Some(si) = self.section_named(name) else {
                continue;
            };
            if t.size_or_type == 0 {
                put(&mut raw, t.offset + 8, self.sections[si].hdr.sh_size as u32);
            }
            let mut fixed: Vec<[u32; 3]> = vars
                .iter()
                .map(|v| {
                    let off = btf
                        .type_name(v.type_id)
                        .ok()
                        .and_then(|n| {
                            self.symbols
                                .iter()
                                .find(|s| s.shndx as usize == si && s.name == n && !n.is_empty())
                        })
                        .map_or(v.offset, |s| s.value as u32);
                    [v.type_id, off, v.size]
                })
                .collect();
            fixed.sort_by_key(|v| v[1]);
            for (k, v) in fixed.iter().enumerate() {
                for (w, x) in v.iter().enumerate() {
                    put(&mut raw, t.offset + 12 + 12 * k + 4 * w, *x);
                }
            }
        }
        raw
    }
}

/// The name bpfsmith's [`TypeDesc::Int`] uses for a C integer of this name, size and sign.
fn int_desc(name: &str, size: u32, signed: bool) -> TypeDesc {
    const NAMES: &[&str] = &[
        "char",
        "unsigned char",
        "signed char",
        "short",
        "unsigned short",
        "short int",
        "short unsigned int",
        "int",
        "unsigned int",
        "long",
        "unsigned long",
        "long int",
        "long unsigned int",
        "long long",
        "unsigned long long",
        "long long int",
        "long long unsigned int",
        "_Bool",
        "__int128",
        "unsigned __int128",
        "__int128 unsigned",
    ];
    match NAMES.iter().find(|&&n| n == name) {
        Some(&name) if matches!(size, 1 | 2 | 4 | 8 | 16) => TypeDesc::Int { name, size, signed },
        _ => TypeDesc::Bytes(size),
    }
}

/// What [`Reader::assemble`] plans a program from.
struct Parts<'p, 'a> {
    pieces: &'p [Piece<'a>],
    targets: &'p Targets,
    lines: &'p LineIndex<'a>,
    labels: &'p HashMap<usize, Vec<(u64, &'a str)>>,
    btf: Option<&'p Btf>,
}

/// The items of a sorted list whose offset is in `r`.
fn in_range<'v, T>(v: &'v [T], r: &Range<u64>, off: impl Fn(&T) -> u64) -> &'v [T] {
    let a = v.partition_point(|x| off(x) < r.start);
    let b = v.partition_point(|x| off(x) < r.end);
    &v[a..b]
}
