//! The BTF encoder: a deduplicating type builder, and the types and records of an object.

use std::collections::HashMap;

use super::{
    FuncInfo, Kind, LineInfo, MapBtf, ObjectBtf, ProgBtfInfo, BTF_MAGIC, FUNC_GLOBAL, FUNC_STATIC,
    INT_SIGNED, VAR_GLOBAL_ALLOCATED,
};
use crate::maps::{MapDef, TypeDesc};
use crate::object::write::Layout;
use crate::object::{ElfError, Object};
use crate::program::SourceLines;

/// Builds a `.BTF` blob: types are added one by one (identical types are added once) and
/// [`BtfBuilder::finish`] gives the bytes.
///
/// ```
/// use bpfsmith::object::btf::{Btf, BtfBuilder};
///
/// let mut b = BtfBuilder::new();
/// let int = b.int("int", 4, true);
/// assert_eq!(b.int("int", 4, true), int); // deduplicated
/// let ptr = b.ptr(int);
/// let btf = Btf::parse(&b.finish()).unwrap();
/// assert_eq!(btf.resolve_size(ptr).unwrap(), 8);
/// ```
#[derive(Clone, Debug)]
pub struct BtfBuilder {
    types: Vec<u8>,
    count: u32,
    strings: Vec<u8>,
    string_offs: HashMap<String, u32>,
    dedup: HashMap<Vec<u8>, u32>,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn push_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

impl BtfBuilder {
    /// An empty builder (only `void`, id 0, and the empty string at offset 0).
    pub fn new() -> BtfBuilder {
        BtfBuilder {
            types: Vec::new(),
            count: 0,
            strings: vec![0],
            string_offs: HashMap::new(),
            dedup: HashMap::new(),
        }
    }

    /// The offset of `s` in the string section, adding it if needed. BTF strings end at their
    /// first NUL, so anything after a NUL in `s` is dropped.
    pub fn string(&mut self, s: &str) -> u32 {
        let s = s.split('\0').next().unwrap_or("");
        if s.is_empty() {
            return 0;
        }
        if let Some(&off) = self.string_offs.get(s) {
            return off;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.string_offs.insert(s.to_owned(), off);
        off
    }

    fn add(&mut self, name: &str, kind: Kind, vlen: u16, size_or_type: u32, extra: &[u8]) -> u32 {
        let name_off = self.string(name);
        let mut t = Vec::with_capacity(12 + extra.len());
        push_u32(&mut t, name_off);
        push_u32(&mut t, (kind as u32) << 24 | vlen as u32);
        push_u32(&mut t, size_or_type);
        t.extend_from_slice(extra);
        if let Some(&id) = self.dedup.get(&t) {
            return id;
        }
        self.types.extend_from_slice(&t);
        self.count += 1;
        self.dedup.insert(t, self.count);
        self.count
    }

    /// The number of types added (the last id).
    pub fn len(&self) -> u32 {
        self.count
    }

    /// Whether no type was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// An `INT` of `size` bytes using all its bits (the kernel takes sizes 1, 2, 4, 8, 16).
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let enc = if signed { INT_SIGNED } else { 0 };
        let bits = size.saturating_mul(8).min(128);
        self.add(name, Kind::Int, 0, size, &(enc << 24 | bits).to_le_bytes())
    }

    /// An anonymous `PTR` to `target`.
    pub fn ptr(&mut self, target: u32) -> u32 {
        self.add("", Kind::Ptr, 0, target, &[])
    }

    /// An anonymous `ARRAY` of `nelems` elements of type `elem`, indexed by `index`.
    pub fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
        let mut extra = Vec::with_capacity(12);
        push_u32(&mut extra, elem);
        push_u32(&mut extra, index);
        push_u32(&mut extra, nelems);
        self.add("", Kind::Array, 0, 0, &extra)
    }

    /// A `STRUCT` (anonymous when `name` is empty) of `size` bytes with members
    /// `(name, type, bit offset)`.
    pub fn structure(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let mut extra = Vec::with_capacity(12 * members.len());
        for &(n, ty, bits) in members {
            push_u32(&mut extra, self.string(n));
            push_u32(&mut extra, ty);
            push_u32(&mut extra, bits);
        }
        self.add(name, Kind::Struct, members.len() as u16, size, &extra)
    }

    /// A `VAR` of type `ty` with this linkage (see [`VAR_GLOBAL_ALLOCATED`]).
    pub fn var(&mut self, name: &str, ty: u32, linkage: u32) -> u32 {
        self.add(name, Kind::Var, 0, ty, &linkage.to_le_bytes())
    }

    /// A `DATASEC` of `size` bytes holding variables `(VAR type id, offset, size)`.
    pub fn datasec(&mut self, name: &str, size: u32, vars: &[(u32, u32, u32)]) -> u32 {
        let mut extra = Vec::with_capacity(12 * vars.len());
        for &(ty, off, sz) in vars {
            push_u32(&mut extra, ty);
            push_u32(&mut extra, off);
            push_u32(&mut extra, sz);
        }
        self.add(name, Kind::Datasec, vars.len() as u16, size, &extra)
    }

    /// An anonymous `FUNC_PROTO` returning `ret` with parameters `(name, type)`.
    pub fn func_proto(&mut self, ret: u32, params: &[(&str, u32)]) -> u32 {
        let mut extra = Vec::with_capacity(8 * params.len());
        for &(n, ty) in params {
            push_u32(&mut extra, self.string(n));
            push_u32(&mut extra, ty);
        }
        self.add("", Kind::FuncProto, params.len() as u16, ret, &extra)
    }

    /// A `FUNC` of prototype `proto` with this linkage ([`FUNC_STATIC`] or [`FUNC_GLOBAL`]).
    pub fn func(&mut self, name: &str, proto: u32, linkage: u16) -> u32 {
        self.add(name, Kind::Func, linkage, proto, &[])
    }

    /// The `.BTF` bytes: header, types, strings.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.types.len() + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.push(1); // version
        out.push(0); // flags
        push_u32(&mut out, 24); // hdr_len
        push_u32(&mut out, 0); // type_off
        push_u32(&mut out, self.types.len() as u32);
        push_u32(&mut out, self.types.len() as u32); // str_off
        push_u32(&mut out, self.strings.len() as u32);
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

/// A member of a map's BTF definition struct.
pub(crate) enum MapField<'a> {
    /// `__uint(name, value)`: a pointer to an array of `value` ints.
    Uint(&'static str, u32),
    /// `__type(name, T)`: a pointer to `T`.
    Type(&'static str, &'a TypeDesc),
}

/// The members of a map's definition struct, in libbpf's order: type, key, value,
/// max_entries, map_flags (only when non-zero). A key or value without a BTF shape is given by
/// its size (`key_size` / `value_size`); queue and stack maps have no key.
pub(crate) fn map_fields(def: &MapDef) -> Vec<MapField<'_>> {
    let mut f = vec![MapField::Uint("type", def.map_type as u32)];
    match &def.key_type {
        Some(t) => f.push(MapField::Type("key", t)),
        None if def.key_size > 0 => f.push(MapField::Uint("key_size", def.key_size)),
        None => {}
    }
    match &def.value_type {
        Some(t) => f.push(MapField::Type("value", t)),
        None if def.value_size > 0 => f.push(MapField::Uint("value_size", def.value_size)),
        None => {}
    }
    f.push(MapField::Uint("max_entries", def.max_entries));
    if def.map_flags != 0 {
        f.push(MapField::Uint("map_flags", def.map_flags));
    }
    f
}

/// Whether the kernel accepts `name` as a BTF identifier: `[A-Za-z_.][A-Za-z0-9_.]*` since
/// Linux 6.5 (before, no `.` outside `VAR` names), which is also what `Object` accepts.
pub(crate) fn valid_identifier(name: &str) -> bool {
    let mut c = name.chars();
    matches!(c.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '.')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The BTF of an object, in both forms: for the ELF and for the loader.
pub(crate) struct EncodedBtf {
    /// The `.BTF.ext` bytes (empty when there is no function).
    pub ext: Vec<u8>,
    /// `.BTF` bytes and the per-program records.
    pub info: ObjectBtf,
}

/// One `.BTF.ext` record list of one ELF section.
struct ExtSec {
    name_off: u32,
    funcs: Vec<[u32; 2]>,
    lines: Vec<[u32; 4]>,
}

/// Encode `.BTF`, `.BTF.ext` and the loader's records for `obj` laid out as `layout`.
pub(crate) fn encode_object(obj: &Object, layout: &Layout) -> Result<EncodedBtf, ElfError> {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let mut maps = Vec::with_capacity(obj.maps.len());
    let mut secinfo = Vec::with_capacity(obj.maps.len());
    if !obj.maps.is_empty() {
        let index = b.int("__ARRAY_SIZE_TYPE__", 4, false);
        for (i, m) in obj.maps.iter().enumerate() {
            if !valid_identifier(&m.name) {
                return Err(ElfError::BadBtfName {
                    what: "map",
                    name: m.name.clone(),
                });
            }
            let mut members = Vec::new();
            let mut ids = MapBtf::default();
            for (k, field) in map_fields(&m.def).iter().enumerate() {
                let (name, ty) = match field {
                    MapField::Uint(name, v) => {
                        let arr = b.array(int, index, *v);
                        (*name, b.ptr(arr))
                    }
                    MapField::Type(name, t) => {
                        let target = type_desc(&mut b, t, index);
                        if *name == "key" {
                            ids.key_type_id = target;
                        } else {
                            ids.value_type_id = target;
                        }
                        (*name, b.ptr(target))
                    }
                };
                members.push((name, ty, k as u32 * 64));
            }
            let size = members.len() as u32 * 8;
            let st = b.structure("", size, &members);
            ids.var_type_id = b.var(&m.name, st, VAR_GLOBAL_ALLOCATED);
            maps.push(ids);
            secinfo.push((ids.var_type_id, layout.map_offsets[i] as u32, size));
        }
        b.datasec(".maps", layout.maps_size as u32, &secinfo);
    }

    let entry_proto = b.func_proto(int, &[]);
    let sub_proto = b.func_proto(int, &[]);

    let mut programs = vec![ProgBtfInfo::default(); obj.programs.len()];
    let mut ext: Vec<ExtSec> = layout
        .sections
        .iter()
        .map(|_| ExtSec {
            name_off: 0,
            funcs: Vec::new(),
            lines: Vec::new(),
        })
        .collect();
    let mut source_lines: Vec<Option<SourceLines>> = obj.programs.iter().map(|_| None).collect();
    let mut slot_offsets: Vec<Option<Vec<usize>>> = vec![None; obj.programs.len()];
    for piece in &layout.pieces {
        let prog = &obj.programs[piece.prog];
        let offs = slot_offsets[piece.prog].get_or_insert_with(|| prog.slot_offsets());
        let lines = source_lines[piece.prog].get_or_insert_with(|| SourceLines::new(&prog.files));
        let func = &prog.functions[piece.func];
        if !valid_identifier(&func.name) {
            return Err(ElfError::BadBtfName {
                what: "function",
                name: func.name.clone(),
            });
        }
        let global = piece.func == 0 && !layout.sections[piece.section].is_text;
        let id = if global {
            b.func(&func.name, entry_proto, FUNC_GLOBAL)
        } else {
            b.func(&func.name, sub_proto, FUNC_STATIC)
        };
        let base = offs[piece.insns.start];
        let sec = &mut ext[piece.section];
        let elf_off = |i: usize| (piece.offset + (offs[i] - base) as u64 * 8) as u32;
        sec.funcs.push([elf_off(piece.insns.start), id]);
        programs[piece.prog].func_info.push(FuncInfo {
            insn_off: base as u32,
            type_id: id,
        });
        let mut prev = None;
        for i in piece.insns.clone() {
            let loc = prog.locs.get(i).copied().flatten();
            let key = loc.map(|l| (l.file, l.line));
            if i != piece.insns.start && (key.is_none() || key == prev) {
                continue;
            }
            prev = key;
            let (file_name_off, line_off, line_col) = match loc {
                Some(l) => {
                    let path = prog
                        .files
                        .get(l.file.0 as usize)
                        .map_or("", |f| f.path.as_str());
                    let text = lines.get(l.file, l.line);
                    (
                        b.string(path),
                        b.string(text),
                        LineInfo::pack(l.line, l.column),
                    )
                }
                None => (0, 0, 0),
            };
            sec.lines
                .push([elf_off(i), file_name_off, line_off, line_col]);
            programs[piece.prog].line_info.push(LineInfo {
                insn_off: offs[i] as u32,
                file_name_off,
                line_off,
                line_col,
            });
        }
    }
    for (sec, l) in ext.iter_mut().zip(&layout.sections) {
        sec.name_off = b.string(&l.name);
    }
    // The loader's records are in program order: sort by offset (subprograms were visited in
    // layout order, which is program order too, but keep the invariant explicit).
    for p in &mut programs {
        p.func_info.sort_by_key(|f| f.insn_off);
        p.line_info.sort_by_key(|l| l.insn_off);
    }
    Ok(EncodedBtf {
        ext: encode_ext(&ext),
        info: ObjectBtf {
            btf: b.finish(),
            programs,
            maps,
        },
    })
}

/// The BTF type of a map key or value.
fn type_desc(b: &mut BtfBuilder, t: &TypeDesc, index: u32) -> u32 {
    match t {
        TypeDesc::Int { name, size, signed } => b.int(name, *size, *signed),
        TypeDesc::Bytes(n) => {
            let uchar = b.int("unsigned char", 1, false);
            b.array(uchar, index, *n)
        }
    }
}

/// `.BTF.ext`: a 32-byte header (with an empty CO-RE relocation part, as clang writes it),
/// then func_info and line_info, each a record size followed by per-section blocks.
fn encode_ext(secs: &[ExtSec]) -> Vec<u8> {
    let block = |rec_size: u32, recs: &dyn Fn(&ExtSec) -> Vec<u32>| {
        let mut v = Vec::new();
        for s in secs {
            let r = recs(s);
            if r.is_empty() {
                continue;
            }
            push_u32(&mut v, s.name_off);
            push_u32(&mut v, r.len() as u32 / (rec_size / 4));
            for x in r {
                push_u32(&mut v, x);
            }
        }
        if !v.is_empty() {
            let mut with_size = rec_size.to_le_bytes().to_vec();
            with_size.extend_from_slice(&v);
            v = with_size;
        }
        v
    };
    let funcs = block(8, &|s| s.funcs.iter().flatten().copied().collect());
    let lines = block(16, &|s| s.lines.iter().flatten().copied().collect());
    if funcs.is_empty() && lines.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(32 + funcs.len() + lines.len());
    out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
    out.push(1);
    out.push(0);
    push_u32(&mut out, 32);
    push_u32(&mut out, 0);
    push_u32(&mut out, funcs.len() as u32);
    push_u32(&mut out, funcs.len() as u32);
    push_u32(&mut out, lines.len() as u32);
    push_u32(&mut out, (funcs.len() + lines.len()) as u32);
    push_u32(&mut out, 0);
    out.extend_from_slice(&funcs);
    out.extend_from_slice(&lines);
    out
}

/// The number of members of a map's definition struct (8 bytes each in `.maps`).
pub(crate) fn map_fields_len(def: &MapDef) -> usize {
    map_fields(def).len()
}
