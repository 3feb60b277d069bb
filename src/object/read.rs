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
//!   `pinning`, `numa_node` and `map_extra` are accepted and ignored; anything else
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

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::{Elf, SectionHeader, Symtab};

use super::btf::{
    Btf, BtfExt, ExtFunc, ExtLine, FuncInfo, Kind, LineInfo, MapBtf, ObjectBtf, ProgBtfInfo,
    TypeData,
};
use super::error::{ElfError, ElfErrorKind as K};
use super::write::{R_BPF_64_32, R_BPF_64_64};
use super::{Map, Object};
use crate::insn::{decode, Callee, Insn, Pseudo};
use crate::maps::{MapDef, MapType, TypeDesc};
use crate::program::{FileId, Function, Program, Reloc, RelocKind, Section, SourceFile, SourceLoc};

const SHT_PROGBITS: u32 = 1;
const SHT_SYMTAB: u32 = 2;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHF_EXECINSTR: u64 = 4;
const STT_NOTYPE: u8 = 0;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
const STB_LOCAL: u8 = 0;
const SHN_UNDEF: u16 = 0;
const SHN_LORESERVE: u16 = 0xff00;

/// An object read from ELF, with what a loader needs beyond the [`Object`]: the BTF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfObject {
    /// Programs, maps and license.
    pub object: Object,
    /// The BTF, ready to load, with per-program records (when the file has `.BTF`).
    pub btf: Option<ObjectBtf>,
    /// The `.BTF` section as found in the file.
    pub raw_btf: Option<Vec<u8>>,
    /// The `.BTF.ext` section as found in the file.
    pub raw_btf_ext: Option<Vec<u8>>,
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
struct Symbol {
    name: String,
    kind: u8,
    bind: u8,
    shndx: u16,
    value: u64,
    size: u64,
}

/// A function of an executable section.
struct Piece {
    section: usize,
    name: String,
    bytes: Range<u64>,
    global: bool,
    /// Symbol index of its FUNC symbol (usize::MAX when synthesized from a section).
    sym: usize,
    insns: Vec<Insn>,
    /// Byte offset (in the section) of each instruction, plus the end.
    offs: Vec<u64>,
}

/// What a relocation in a program section resolves to.
#[derive(Clone, Debug)]
enum Target {
    /// A map, by name.
    Map(String),
    /// A function: section and byte offset.
    Func(usize, u64),
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
        let reader = Reader::new(bytes, sections, ctx)?;
        reader.read()
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
    symbols: Vec<Symbol>,
    symtab: usize,
    ctx: Ctx,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
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

    fn read_symbols(&self, i: usize) -> Result<Vec<Symbol>, ElfError> {
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
                String::new()
            } else {
                cstr(strtab, sym.st_name as u32)
                    .ok_or_else(|| at(&s.name, k as u64 * 24, K::BadString(sym.st_name as u32)))?
                    .to_owned()
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
                && s.hdr.sh_flags & SHF_EXECINSTR != 0
                && !s.data.is_empty()
        })
    }

    fn read(self) -> Result<ElfObject, ElfError> {
        let raw_btf = self
            .section_named(".BTF")
            .map(|i| self.sections[i].data.to_vec());
        let raw_btf_ext = self
            .section_named(".BTF.ext")
            .map(|i| self.sections[i].data.to_vec());
        let btf = match &raw_btf {
            Some(b) => {
                Some(Btf::parse(b).map_err(|e| at(".BTF", e.offset as u64, K::Btf(e.kind)))?)
            }
            None => None,
        };
        let ext = match (&raw_btf_ext, &btf) {
            (Some(b), Some(btf)) => Some(
                BtfExt::parse(b, btf)
                    .map_err(|e| at(".BTF.ext", e.offset as u64, K::Btf(e.kind)))?,
            ),
            _ => None,
        };
        let license = self
            .section_named("license")
            .map(|i| {
                let d = self.sections[i].data;
                let end = d.iter().position(|&c| c == 0).unwrap_or(d.len());
                String::from_utf8_lossy(&d[..end]).into_owned()
            })
            .unwrap_or_default();
        let (maps, map_btf, map_offsets) = self.read_maps(btf.as_ref())?;
        let pieces = self.read_pieces()?;
        let targets = self.read_relocs(&pieces, &maps, &map_offsets)?;
        let (programs, infos) = self.link(&pieces, &targets, btf.as_ref(), ext.as_ref())?;
        let object = Object {
            license,
            maps,
            programs,
        };
        let btf = match (&raw_btf, &btf) {
            (Some(raw), Some(parsed)) => Some(ObjectBtf {
                btf: self.fixup_datasecs(raw.clone(), parsed),
                programs: infos,
                maps: map_btf,
            }),
            _ => None,
        };
        Ok(ElfObject {
            object,
            raw_btf,
            raw_btf_ext,
            btf,
        })
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
            let missing = || at(".maps", s.value, K::MapNotInBtf(s.name.clone()));
            // The VAR of this name listed in DATASEC .maps.
            let var = datasec
                .and_then(|d| match &btf.get(d).ok()?.data {
                    TypeData::Datasec(v) => v
                        .iter()
                        .map(|v| v.type_id)
                        .find(|&id| btf.type_name(id).ok() == Some(s.name.as_str())),
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
                            map: s.name.clone(),
                            field: String::new(),
                            reason: "the map's VAR is not of a struct type".into(),
                        },
                    ))
                }
            };
            let (def, mb) = self.map_def(btf, &s.name, s.value, &members)?;
            maps.push(Map {
                name: s.name.clone(),
                def,
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
    ) -> Result<(MapDef, MapBtf), ElfError> {
        let mut map_type = None;
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
                "numa_node" | "pinning" | "map_extra" => {
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
        Ok((def, ids))
    }

    /// The functions of every executable section, decoded.
    fn read_pieces(&self) -> Result<Vec<Piece>, ElfError> {
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
            let mut ranges: Vec<(usize, &Symbol, Range<u64>)> = Vec::new();
            for (k, s) in funcs {
                let end = s.value.checked_add(s.size).filter(|&e| e <= size);
                let Some(end) = end.filter(|_| s.value % 8 == 0 && s.size % 8 == 0 && s.size > 0)
                else {
                    return Err(at(
                        &sec.name,
                        s.value,
                        K::BadFunctionSymbol {
                            name: s.name.clone(),
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
                            K::OverlappingFunctions(prev.name.clone(), s.name.clone()),
                        ));
                    }
                }
                ranges.push((k, s, s.value..end));
            }
            let synthesized;
            let list: Vec<(usize, String, bool, Range<u64>)> = if ranges.is_empty() {
                let name: String = sec
                    .name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                synthesized = vec![(usize::MAX, name, sec.name != ".text", 0..size)];
                synthesized
            } else {
                ranges
                    .into_iter()
                    .map(|(k, s, r)| (k, s.name.clone(), s.bind != STB_LOCAL, r))
                    .collect()
            };
            for (sym, name, global, bytes) in list {
                let data = &sec.data[bytes.start as usize..bytes.end as usize];
                let insns = decode(data)
                    .map_err(|e| at(&sec.name, bytes.start + e.slot as u64 * 8, K::Insn(e)))?;
                let mut offs = Vec::with_capacity(insns.len() + 1);
                let mut o = bytes.start;
                for i in &insns {
                    offs.push(o);
                    o += i.slots() as u64 * 8;
                }
                offs.push(o);
                pieces.push(Piece {
                    section: si,
                    name,
                    bytes,
                    global: global && sec.name != ".text",
                    sym,
                    insns,
                    offs,
                });
            }
        }
        Ok(pieces)
    }

    /// The piece and instruction at byte `off` of section `sec`.
    fn insn_at(pieces: &[Piece], sec: usize, off: u64) -> Option<(usize, usize)> {
        let p = pieces
            .iter()
            .position(|p| p.section == sec && p.bytes.contains(&off))?;
        let i = pieces[p].offs.binary_search(&off).ok()?;
        (i < pieces[p].insns.len()).then_some((p, i))
    }

    /// Relocations of the program sections: (piece, insn) -> target.
    fn read_relocs(
        &self,
        pieces: &[Piece],
        maps: &[Map],
        map_offsets: &[u64],
    ) -> Result<HashMap<(usize, usize), Target>, ElfError> {
        let mut out = HashMap::new();
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
                let (p, i) = Self::insn_at(pieces, target, roff)
                    .ok_or_else(|| at(tname, roff, K::RelocOffset(sym.name.clone())))?;
                let insn = pieces[p].insns[i];
                let opcode = insn.fields().0;
                let sec_name = |s: &Symbol| match s.shndx {
                    SHN_UNDEF => "UND".to_owned(),
                    n if n >= SHN_LORESERVE => format!("special {n:#x}"),
                    n => self
                        .sections
                        .get(n as usize)
                        .map_or_else(|| format!("[{n}]"), |s| s.name.clone()),
                };
                let sym_name = if sym.kind == STT_SECTION {
                    sec_name(sym)
                } else {
                    sym.name.clone()
                };
                let unsupported = |what| {
                    at(
                        tname,
                        roff,
                        K::Unsupported {
                            symbol: sym_name.clone(),
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
                            symbol: sym_name.clone(),
                            opcode,
                            expected,
                        },
                    )
                };
                let shndx = sym.shndx as usize;
                let t =
                    match r_type {
                        R_BPF_64_64 => {
                            let Insn::LdImm64 { imm, .. } = insn else {
                                return Err(wrong_insn("R_BPF_64_64", "an ld_imm64 (0x18)"));
                            };
                            if sym.shndx == SHN_UNDEF {
                                return Err(unsupported("an extern symbol (ksym, kconfig)"));
                            }
                            if self.sections.get(shndx).is_some_and(|s| s.name == ".maps") {
                                let name = if sym.kind == STT_SECTION {
                                    let off = sym.value.wrapping_add(imm as i32 as i64 as u64);
                                    map_offsets
                                        .iter()
                                        .position(|&o| o == off)
                                        .map(|m| maps[m].name.clone())
                                } else {
                                    maps.iter()
                                        .find(|m| m.name == sym.name)
                                        .map(|m| m.name.clone())
                                };
                                Target::Map(name.ok_or_else(|| {
                                    at(tname, roff, K::MapNotInBtf(sym_name.clone()))
                                })?)
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
                out.insert((p, i), t);
            }
        }
        Ok(out)
    }

    /// The piece that starts at byte `off` of section `sec`.
    fn piece_at(pieces: &[Piece], sec: usize, off: u64) -> Option<usize> {
        pieces
            .iter()
            .position(|p| p.section == sec && p.bytes.start == off)
    }

    /// Resolve calls and jumps of every piece: (piece, insn) -> callee piece.
    fn edges(
        &self,
        pieces: &[Piece],
        targets: &HashMap<(usize, usize), Target>,
    ) -> Result<HashMap<(usize, usize), usize>, ElfError> {
        let mut edges = HashMap::new();
        for (pi, p) in pieces.iter().enumerate() {
            let sec = &self.sections[p.section].name;
            for (i, insn) in p.insns.iter().enumerate() {
                let here = p.offs[i];
                let call_target = |section: usize, target: i64| {
                    u64::try_from(target)
                        .ok()
                        .and_then(|t| Self::piece_at(pieces, section, t))
                        .ok_or_else(|| {
                            at(
                                sec,
                                here,
                                K::CallTarget {
                                    section: self.sections[section].name.clone(),
                                    target,
                                },
                            )
                        })
                };
                match (targets.get(&(pi, i)), insn) {
                    (Some(Target::Func(s, off)), _) => {
                        edges.insert((pi, i), call_target(*s, *off as i64)?);
                    }
                    (Some(Target::Map(_)), _) => {}
                    (None, Insn::Call(Callee::Local(_)))
                    | (
                        None,
                        Insn::LdImm64 {
                            pseudo: Pseudo::Func,
                            ..
                        },
                    ) => {
                        let imm = match *insn {
                            Insn::Call(Callee::Local(imm)) => imm as i64,
                            Insn::LdImm64 { imm, .. } => imm,
                            _ => 0,
                        };
                        let target = here as i64 + (imm + 1) * 8;
                        if target >= p.bytes.start as i64 && target < p.bytes.end as i64 {
                            continue; // a call inside the function: kept as is
                        }
                        edges.insert((pi, i), call_target(p.section, target)?);
                    }
                    (None, insn) => {
                        if let Some(off) = insn.branch_offset() {
                            let slot = (here - p.bytes.start) as i64 / 8;
                            let target = slot + 1 + off as i64;
                            let len = ((p.bytes.end - p.bytes.start) / 8) as usize;
                            if target < 0 || target >= len as i64 {
                                return Err(at(sec, here, K::JumpOutOfFunction { target, len }));
                            }
                        }
                    }
                }
            }
        }
        Ok(edges)
    }

    /// Build self-contained programs: each entry with the functions it reaches.
    fn link(
        &self,
        pieces: &[Piece],
        targets: &HashMap<(usize, usize), Target>,
        btf: Option<&Btf>,
        ext: Option<&BtfExt>,
    ) -> Result<(Vec<Program>, Vec<ProgBtfInfo>), ElfError> {
        let edges = self.edges(pieces, targets)?;
        let mut referenced = vec![false; pieces.len()];
        for (&(from, _), &to) in &edges {
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
        let mut programs = Vec::with_capacity(roots.len());
        let mut infos = Vec::with_capacity(roots.len());
        let lines = LineIndex::new(self, ext, btf);
        for root in roots {
            // Reachable pieces.
            let mut seen = vec![false; pieces.len()];
            seen[root] = true;
            let mut stack = vec![root];
            let mut order = Vec::new();
            while let Some(k) = stack.pop() {
                if k != root {
                    order.push(k);
                }
                for i in 0..pieces[k].insns.len() {
                    if let Some(&to) = edges.get(&(k, i)) {
                        if !seen[to] {
                            seen[to] = true;
                            stack.push(to);
                        }
                    }
                }
            }
            order.sort_by_key(|&k| (pieces[k].section, pieces[k].bytes.start));
            order.insert(0, root);
            let (prog, info) = self.assemble(pieces, &order, &edges, targets, &lines, btf)?;
            programs.push(prog);
            infos.push(info);
        }
        Ok((programs, infos))
    }

    /// Concatenate `order` (entry first) into one program.
    fn assemble(
        &self,
        pieces: &[Piece],
        order: &[usize],
        edges: &HashMap<(usize, usize), usize>,
        targets: &HashMap<(usize, usize), Target>,
        lines: &LineIndex,
        btf: Option<&Btf>,
    ) -> Result<(Program, ProgBtfInfo), ElfError> {
        let root = &pieces[order[0]];
        let mut base_slot = HashMap::new();
        let mut base_insn = HashMap::new();
        let (mut slots, mut n) = (0u64, 0usize);
        for &k in order {
            base_slot.insert(k, slots);
            base_insn.insert(k, n);
            slots += (pieces[k].bytes.end - pieces[k].bytes.start) / 8;
            n += pieces[k].insns.len();
        }
        let mut insns = Vec::with_capacity(n);
        let mut relocs = Vec::new();
        let mut functions = Vec::with_capacity(order.len());
        let mut labels = Vec::new();
        let mut locs = Vec::with_capacity(n);
        let mut files: Vec<SourceFile> = Vec::new();
        let mut file_lines: Vec<BTreeMap<u32, String>> = Vec::new();
        let mut info = ProgBtfInfo::default();
        for &k in order {
            let p = &pieces[k];
            let b = base_slot[&k];
            let bi = base_insn[&k];
            functions.push(Function {
                name: p.name.clone(),
                insn: bi,
            });
            for (i, insn) in p.insns.iter().enumerate() {
                let mut insn = *insn;
                let slot = b + (p.offs[i] - p.bytes.start) / 8;
                if let Some(&to) = edges.get(&(k, i)) {
                    let rel = base_slot[&to] as i64 - slot as i64 - 1;
                    match &mut insn {
                        Insn::Call(Callee::Local(imm)) => *imm = rel as i32,
                        Insn::LdImm64 { pseudo, imm, .. } => {
                            *pseudo = Pseudo::Func;
                            *imm = rel;
                        }
                        _ => {}
                    }
                }
                if let Some(Target::Map(name)) = targets.get(&(k, i)) {
                    relocs.push(Reloc {
                        insn: bi + i,
                        symbol: name.clone(),
                        kind: RelocKind::Map,
                    });
                }
                insns.push(insn);
            }
            for s in &self.symbols {
                if s.shndx as usize == p.section
                    && s.kind == STT_NOTYPE
                    && s.bind == STB_LOCAL
                    && !s.name.is_empty()
                    && p.bytes.contains(&s.value)
                {
                    if let Ok(i) = p.offs.binary_search(&s.value) {
                        labels.push((bi + i, s.name.clone()));
                    }
                }
            }
            // Source locations and BTF records of this piece.
            let sec = &self.sections[p.section].name;
            let recs = lines.lines_in(p);
            let mut r = recs.iter().peekable();
            let mut cur: Option<SourceLoc> = None;
            for &off in &p.offs[..p.insns.len()] {
                while let Some(l) = r.next_if(|l| l.insn_off as u64 <= off) {
                    if l.insn_off as u64 != off {
                        return Err(at(
                            sec,
                            l.insn_off as u64,
                            K::ExtOffset {
                                what: "line_info",
                                section: sec.clone(),
                                insn_off: l.insn_off,
                            },
                        ));
                    }
                    info.line_info.push(LineInfo {
                        insn_off: (b + (off - p.bytes.start) / 8) as u32,
                        file_name_off: l.file_name_off,
                        line_off: l.line_off,
                        line_col: l.line_col,
                    });
                    cur = lines.loc(l, &mut files, &mut file_lines);
                }
                locs.push(cur);
            }
            for f in lines.funcs_in(p) {
                if p.offs.binary_search(&(f.insn_off as u64)).is_err() {
                    return Err(at(
                        sec,
                        f.insn_off as u64,
                        K::ExtOffset {
                            what: "func_info",
                            section: sec.clone(),
                            insn_off: f.insn_off,
                        },
                    ));
                }
                if let Some(btf) = btf {
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
                info.func_info.push(FuncInfo {
                    insn_off: (b + (f.insn_off as u64 - p.bytes.start) / 8) as u32,
                    type_id: f.type_id,
                });
            }
        }
        for (f, l) in files.iter_mut().zip(file_lines) {
            let last = l.keys().next_back().copied().unwrap_or(0);
            let mut text = String::new();
            for n in 1..=last {
                if let Some(t) = l.get(&n) {
                    text.push_str(t);
                }
                if n < last {
                    text.push('\n');
                }
            }
            f.text = Some(Arc::from(text));
        }
        labels.sort();
        let section = Section::new(self.sections[root.section].name.clone());
        Ok((
            Program {
                name: root.name.clone(),
                section,
                insns,
                locs,
                files,
                labels,
                functions,
                relocs,
            },
            info,
        ))
    }

    /// `.BTF` with DATASEC sizes and variable offsets taken from the ELF (libbpf's fixup).
    fn fixup_datasecs(&self, mut raw: Vec<u8>, btf: &Btf) -> Vec<u8> {
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

/// `.BTF.ext` records by section, with the BTF strings to resolve them.
struct LineIndex<'a> {
    funcs: HashMap<usize, Vec<ExtFunc>>,
    lines: HashMap<usize, Vec<ExtLine>>,
    btf: Option<&'a Btf>,
}

impl<'a> LineIndex<'a> {
    fn new(r: &Reader<'_>, ext: Option<&BtfExt>, btf: Option<&'a Btf>) -> LineIndex<'a> {
        let mut funcs = HashMap::new();
        let mut lines = HashMap::new();
        if let Some(ext) = ext {
            for s in &ext.func_info {
                if let Some(i) = r.section_named(&s.name) {
                    let mut v = s.records.clone();
                    v.sort_by_key(|f| f.insn_off);
                    funcs.insert(i, v);
                }
            }
            for s in &ext.line_info {
                if let Some(i) = r.section_named(&s.name) {
                    let mut v = s.records.clone();
                    v.sort_by_key(|l| l.insn_off);
                    lines.insert(i, v);
                }
            }
        }
        LineIndex { funcs, lines, btf }
    }

    fn lines_in(&self, p: &Piece) -> &[ExtLine] {
        self.lines
            .get(&p.section)
            .map_or(&[], |v| in_range(v, &p.bytes, |l| l.insn_off))
    }

    fn funcs_in(&self, p: &Piece) -> &[ExtFunc] {
        self.funcs
            .get(&p.section)
            .map_or(&[], |v| in_range(v, &p.bytes, |f| f.insn_off))
    }

    /// The source location of a line record, adding its file and line text to the tables.
    fn loc(
        &self,
        l: &ExtLine,
        files: &mut Vec<SourceFile>,
        file_lines: &mut Vec<BTreeMap<u32, String>>,
    ) -> Option<SourceLoc> {
        let btf = self.btf?;
        let path = btf.name(l.file_name_off).unwrap_or("");
        let line = l.line_col >> 10;
        if path.is_empty() && line == 0 {
            return None;
        }
        let text = btf.name(l.line_off).unwrap_or("");
        let f = match files.iter().position(|f| f.path == path) {
            Some(f) => f,
            None => {
                files.push(SourceFile {
                    path: path.to_owned(),
                    text: None,
                });
                file_lines.push(BTreeMap::new());
                files.len() - 1
            }
        };
        if line > 0 {
            // Most records repeat a line already seen: look before allocating.
            file_lines[f]
                .entry(line)
                .or_insert_with(|| text.replace('\n', " "));
        }
        Some(SourceLoc {
            file: FileId(f as u32),
            line,
            column: l.line_col & 0x3ff,
        })
    }
}

/// The records of a sorted list whose offset is in `r`.
fn in_range<'v, T>(v: &'v [T], r: &Range<u64>, off: impl Fn(&T) -> u32) -> &'v [T] {
    let a = v.partition_point(|x| (off(x) as u64) < r.start);
    let b = v.partition_point(|x| (off(x) as u64) < r.end);
    &v[a..b]
}
