//! The BTF encoder: a deduplicating type builder, and the types and records of an object.

use std::collections::HashMap;

use super::{
    FuncInfo, Kind, LineInfo, MapBtf, ProgBtfInfo, BTF_MAGIC, FUNC_GLOBAL, FUNC_STATIC, INT_SIGNED,
    VAR_GLOBAL_ALLOCATED,
};
use crate::maps::{BtfMember, MapDef, TypeDesc};
use crate::object::write::Layout;
use crate::object::{ElfError, Object};
use crate::program::{Program, SourceLoc};

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
    string_index: StringIndex,
    dedup: HashMap<Vec<u8>, u32>,
}

/// An open-addressing set of the strings of a string section, by offset: each slot holds the
/// offset of a string in its low half (0 for an empty slot: offset 0 is the empty string,
/// which is never stored) and the string's hash in its high half; the bytes are compared in
/// the section itself, so a string is kept once.
///
/// Kept instead of `std::collections::HashMap<Box<[u8]>, u32>` because it is much faster
/// where it matters: `asm` of a 1M-line file of distinct lines (every line a BTF string) took
/// 0.31 s user and 106 MB with this table, 0.90-1.15 s and 169 MB with the HashMap (SipHash,
/// one allocation per string); the bench/asm file of repeated lines 0.21 s against 0.26 s.
/// Same object bytes either way (measured 2026-12-04, min of 10 runs).
#[derive(Clone, Debug, Default)]
struct StringIndex {
    slots: Vec<u64>,
    len: usize,
}

/// A multiplicative hash of a string, eight bytes at a time (the strings are file names,
/// identifiers and source lines: short, and hashed once per line record), folded to 32 bits;
/// and where the string's first NUL is, if it has one (the hash is then of the string before
/// it).
fn hash_bytes(b: &[u8]) -> (u32, Option<usize>) {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut h = (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        if w.wrapping_sub(ONES) & !w & HIGHS != 0 {
            return nul_hash(b);
        }
        h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Padded with 0xff, so that the padding is no NUL.
        let mut w = [0xffu8; 8];
        w[..rest.len()].copy_from_slice(rest);
        let w = u64::from_le_bytes(w);
        if w.wrapping_sub(ONES) & !w & HIGHS != 0 {
            return nul_hash(b);
        }
        h = (h.rotate_left(23) ^ w).wrapping_mul(K);
    }
    ((h >> 32) as u32 ^ (h >> 7) as u32, None)
}

/// [`hash_bytes`] of a string with a NUL: the hash of what comes before it.
#[cold]
fn nul_hash(b: &[u8]) -> (u32, Option<usize>) {
    let nul = memchr::memchr(0, b).unwrap_or(b.len());
    (hash_bytes(&b[..nul]).0, Some(nul))
}

/// `a == b` for strings of the same length, a word at a time (the strings are short).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in (&mut x).zip(&mut y) {
        if p != q {
            return false;
        }
    }
    x.remainder() == y.remainder()
}

impl StringIndex {
    /// `s` in `strings`: `Ok` with its offset when `strings` holds it, `Err` with the empty
    /// slot where it goes otherwise. The table must not be full.
    fn find(&self, strings: &[u8], s: &[u8], hash: u32) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return Err(i);
            }
            let at = slot as u32 as usize;
            if (slot >> 32) as u32 == hash
                && strings
                    .get(at..at + s.len())
                    .is_some_and(|t| same_bytes(t, s))
                && strings.get(at + s.len()) == Some(&0)
            {
                return Ok(at as u32);
            }
            i = (i + 1) & mask;
        }
    }

    /// Make room for one more string (at most half the slots used).
    fn grow_for_one(&mut self) {
        if (self.len + 1) * 2 <= self.slots.len() {
            return;
        }
        let size = (self.slots.len() * 2).max(64);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        let mask = size - 1;
        for slot in old.into_iter().filter(|&s| s != 0) {
            let mut i = (slot >> 32) as usize & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }
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
            string_index: StringIndex::default(),
            dedup: HashMap::new(),
        }
    }

    /// The offset of `s` in the string section, adding it if needed. BTF strings end at their
    /// first NUL, so anything after a NUL in `s` is dropped.
    pub fn string(&mut self, s: &str) -> u32 {
        let s = s.as_bytes();
        let (hash, nul) = hash_bytes(s);
        let s = match nul {
            Some(nul) => &s[..nul],
            None => s,
        };
        if s.is_empty() {
            return 0;
        }
        self.string_index.grow_for_one();
        match self.string_index.find(&self.strings, s, hash) {
            Ok(off) => off,
            Err(slot) => {
                let off = self.strings.len() as u32;
                self.strings.extend_from_slice(s);
                self.strings.push(0);
                self.string_index.slots[slot] = (hash as u64) << 32 | off as u64;
                self.string_index.len += 1;
                off
            }
        }
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
        let (header, types, strings) = self.parts();
        let mut out = Vec::with_capacity(header.len() + types.len() + strings.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(types);
        out.extend_from_slice(strings);
        out
    }

    /// The three parts of [`BtfBuilder::finish`]'s bytes, for writing them without a copy:
    /// the header, the types and the strings.
    pub(crate) fn parts(&self) -> ([u8; 24], &[u8], &[u8]) {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        header.push(1); // version
        header.push(0); // flags
        push_u32(&mut header, 24); // hdr_len
        push_u32(&mut header, 0); // type_off
        push_u32(&mut header, self.types.len() as u32);
        push_u32(&mut header, self.types.len() as u32); // str_off
        push_u32(&mut header, self.strings.len() as u32);
        let mut h = [0u8; 24];
        h.copy_from_slice(&header);
        (h, &self.types, &self.strings)
    }

    /// The size of [`BtfBuilder::finish`]'s bytes.
    pub(crate) fn finished_len(&self) -> usize {
        24 + self.types.len() + self.strings.len()
    }
}

/// Whether the kernel accepts `name` as a BTF identifier: `[A-Za-z_.][A-Za-z0-9_.]*` since
/// Linux 6.5 (`__btf_name_char_ok`; before, no `.` outside `VAR` names). That is the object's
/// rule ([`crate::object::valid_name`]) plus a leading `.`, which an `Object` refuses but the
/// encoder may meet all the same (fields set directly, an object read from another tool's
/// ELF): the encoder refuses only what the kernel would.
pub(crate) fn valid_identifier(name: &str) -> bool {
    match name.strip_prefix('.') {
        // What follows the `.` is checked as the rest of a name (a digit may come next).
        Some(rest) => crate::object::valid_name(&format!("_{rest}")),
        None => crate::object::valid_name(name),
    }
}

/// Which records [`encode_object`] builds besides the `.BTF` types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Records {
    /// The `.BTF.ext` bytes of the ELF file (offsets in bytes of the ELF sections).
    Elf,
    /// The loader's per-program records (offsets in slots of each program).
    Loader,
}

/// The BTF of an object: the types and strings, and the records asked for.
pub(crate) struct EncodedBtf {
    /// The `.BTF` types and strings.
    pub btf: BtfBuilder,
    /// The `.BTF.ext` records ([`Records::Elf`]).
    pub ext: Option<ExtOut>,
    /// The per-program records ([`Records::Loader`]; empty for [`Records::Elf`]).
    pub programs: Vec<ProgBtfInfo>,
    /// The map type ids.
    pub maps: Vec<MapBtf>,
}

/// The line records of instructions `insns` of `prog`: the first instruction, then every
/// instruction whose known (file, line) differs from the last record's. Calls `f` with the
/// instruction index and its location.
fn for_each_line_record(
    prog: &Program,
    insns: std::ops::Range<usize>,
    mut f: impl FnMut(usize, Option<SourceLoc>),
) {
    let start = insns.start;
    let locs = prog
        .locs
        .get(start..insns.end.min(prog.locs.len()))
        .unwrap_or(&[]);
    let mut prev = None;
    for i in insns {
        let loc = locs.get(i - start).copied().flatten();
        let key = loc.map(|l| (l.file, l.line));
        if i != start && (key.is_none() || key == prev) {
            continue;
        }
        prev = key;
        f(i, loc);
    }
}

/// The source texts of an object's programs, each split into lines once: the programs of an
/// assembled file share its text.
#[derive(Default)]
struct SourceTexts<'p> {
    /// Per text: the kept text's address and length, or the path read from disk; its lines
    /// (`None`: not on disk).
    texts: Vec<(TextKey<'p>, Option<crate::program::FileLines<'p>>)>,
}

#[derive(PartialEq, Eq)]
enum TextKey<'p> {
    Kept(*const u8, usize),
    Disk(&'p str),
}

impl<'p> SourceTexts<'p> {
    /// The index in `texts` of file `f`'s text.
    fn open(&mut self, f: &'p crate::program::SourceFile) -> usize {
        let key = match &f.text {
            Some(t) => TextKey::Kept(t.as_ptr(), t.len()),
            None => TextKey::Disk(&f.path),
        };
        if let Some(k) = self.texts.iter().position(|(t, _)| *t == key) {
            return k;
        }
        let text = match &f.text {
            Some(t) => Some(std::borrow::Cow::Borrowed(&**t)),
            None => std::fs::read_to_string(&f.path)
                .ok()
                .map(std::borrow::Cow::Owned),
        };
        self.texts
            .push((key, text.map(crate::program::FileLines::new)));
        self.texts.len() - 1
    }
}

/// Per program: its files' paths as BTF strings, and their texts in [`SourceTexts`].
struct ProgSources<'p> {
    prog: &'p Program,
    files: Vec<Option<(u32, usize)>>,
}

impl<'p> ProgSources<'p> {
    fn new(prog: &'p Program) -> Self {
        ProgSources {
            prog,
            files: vec![None; prog.files.len()],
        }
    }

    /// The offset of each file's path (0 for the files no record named).
    fn paths(&self) -> Vec<u32> {
        self.files.iter().map(|f| f.map_or(0, |(p, _)| p)).collect()
    }

    /// The string offsets of the file and the text of a line record.
    fn strings(
        &mut self,
        b: &mut BtfBuilder,
        texts: &mut SourceTexts<'p>,
        l: SourceLoc,
    ) -> (u32, u32) {
        let index = l.file.0 as usize;
        let Some(f) = self.prog.files.get(index) else {
            // An unknown file: no path, no text (strings "" at offset 0).
            return (b.string(""), b.string(""));
        };
        let (path, text) =
            *self.files[index].get_or_insert_with(|| (b.string(&f.path), texts.open(f)));
        let text = match &mut texts.texts[text].1 {
            Some(lines) => b.string(lines.get(l.line)),
            None => 0,
        };
        (path, text)
    }
}

/// The `.BTF.ext` of an ELF file, to be written as it is streamed out: a 32-byte header (with
/// an empty CO-RE relocation part, as clang writes it), then func_info and line_info, each a
/// record size followed by per-section blocks (`name_off`, count, records) for the sections
/// that have records. What can be found again from the object and its layout (offsets, line
/// and column) is not kept: only what the strings came to (a line record's text).
pub(crate) struct ExtOut {
    /// Per ELF section of the layout: its name in the string section, its function and line
    /// record counts.
    sections: Vec<(u32, usize, usize)>,
    /// Per piece of the layout, in order: its func_info record.
    funcs: Vec<[u32; 2]>,
    /// Per line record, in order: the offset of its text.
    line_offs: Vec<u32>,
    /// Per program: the offset of each file's path (0 for a file no record names).
    paths: Vec<Vec<u32>>,
}

impl ExtOut {
    fn part_len(&self, rec: usize, count: impl Fn(&(u32, usize, usize)) -> usize) -> usize {
        let blocks: usize = self
            .sections
            .iter()
            .map(count)
            .filter(|&n| n > 0)
            .map(|n| 8 + n * rec)
            .sum();
        if blocks == 0 {
            0
        } else {
            4 + blocks
        }
    }

    fn funcs_len(&self) -> usize {
        self.part_len(8, |s| s.1)
    }

    fn lines_len(&self) -> usize {
        self.part_len(16, |s| s.2)
    }

    /// The size of `.BTF.ext` (0: there is no record, and no section).
    pub(crate) fn len(&self) -> usize {
        let (f, l) = (self.funcs_len(), self.lines_len());
        if f == 0 && l == 0 {
            0
        } else {
            32 + f + l
        }
    }

    /// Write `.BTF.ext` of `obj` laid out as `layout` (what [`encode_object`] was given), in
    /// pieces, to `out`.
    pub(crate) fn write(&self, obj: &Object, layout: &Layout, out: &mut dyn FnMut(&[u8])) {
        const CHUNK: usize = 1 << 16;
        if self.len() == 0 {
            return;
        }
        let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 64);
        let flush = |buf: &mut Vec<u8>, out: &mut dyn FnMut(&[u8])| {
            if buf.len() >= CHUNK {
                out(buf);
                buf.clear();
            }
        };
        let (funcs_len, lines_len) = (self.funcs_len(), self.lines_len());
        buf.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        buf.extend_from_slice(&[1, 0]);
        for x in [
            32,
            0,
            funcs_len as u32,
            funcs_len as u32,
            lines_len as u32,
            (funcs_len + lines_len) as u32,
            0,
        ] {
            push_u32(&mut buf, x);
        }
        // func_info: the pieces are grouped by section, in section order.
        if funcs_len > 0 {
            push_u32(&mut buf, 8);
            let mut funcs = self.funcs.iter();
            for &(name_off, n, _) in &self.sections {
                if n == 0 {
                    continue;
                }
                push_u32(&mut buf, name_off);
                push_u32(&mut buf, n as u32);
                for rec in funcs.by_ref().take(n) {
                    push_u32(&mut buf, rec[0]);
                    push_u32(&mut buf, rec[1]);
                }
            }
        }
        if lines_len > 0 {
            push_u32(&mut buf, 16);
            let mut line_offs = self.line_offs.iter();
            let mut section = None;
            for piece in &layout.pieces {
                let (name_off, _, n) = self.sections[piece.section];
                if n == 0 {
                    continue;
                }
                if section != Some(piece.section) {
                    section = Some(piece.section);
                    push_u32(&mut buf, name_off);
                    push_u32(&mut buf, n as u32);
                }
                let prog = &obj.programs[piece.prog];
                let paths = &self.paths[piece.prog];
                let slots = &layout.slots[piece.prog];
                let base = slots.slot(piece.insns.start);
                let mut cur = slots.cursor();
                for_each_line_record(prog, piece.insns.clone(), |i, loc| {
                    let elf_off = (piece.offset + (cur.slot(i) - base) as u64 * 8) as u32;
                    let line_off = line_offs.next().copied().unwrap_or(0);
                    let (file_name_off, line_col) = match loc {
                        Some(l) => (
                            paths.get(l.file.0 as usize).copied().unwrap_or(0),
                            LineInfo::pack(l.line, l.column),
                        ),
                        None => (0, 0),
                    };
                    let mut rec = [0u8; 16];
                    for (k, x) in [elf_off, file_name_off, line_off, line_col]
                        .into_iter()
                        .enumerate()
                    {
                        rec[k * 4..k * 4 + 4].copy_from_slice(&x.to_le_bytes());
                    }
                    buf.extend_from_slice(&rec);
                    flush(&mut buf, out);
                });
            }
        }
        out(&buf);
    }
}

/// Encode `.BTF` and the `records` asked for of `obj` laid out as `layout`.
pub(crate) fn encode_object(
    obj: &Object,
    layout: &Layout,
    records: Records,
) -> Result<EncodedBtf, ElfError> {
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
            for (k, (name, member)) in m.def.btf_members().into_iter().enumerate() {
                let ty = match member {
                    BtfMember::Uint(v) => {
                        let arr = b.array(int, index, v);
                        b.ptr(arr)
                    }
                    BtfMember::Type(t) => {
                        let target = type_desc(&mut b, t, index);
                        if name == "key" {
                            ids.key_type_id = target;
                        } else {
                            ids.value_type_id = target;
                        }
                        b.ptr(target)
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

    let elf = records == Records::Elf;
    let mut programs = if elf {
        Vec::new()
    } else {
        vec![ProgBtfInfo::default(); obj.programs.len()]
    };
    let mut ext = ExtOut {
        sections: vec![(0, 0, 0); layout.sections.len()],
        funcs: Vec::new(),
        line_offs: Vec::new(),
        paths: Vec::new(),
    };
    let mut sources: Vec<Option<ProgSources>> = obj.programs.iter().map(|_| None).collect();
    let mut texts = SourceTexts::default();
    for piece in &layout.pieces {
        let prog = &obj.programs[piece.prog];
        let slots = &layout.slots[piece.prog];
        let src = sources[piece.prog].get_or_insert_with(|| ProgSources::new(prog));
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
        let base = slots.slot(piece.insns.start);
        let counts = &mut ext.sections[piece.section];
        counts.1 += 1;
        if elf {
            ext.funcs.push([piece.offset as u32, id]);
        } else {
            programs[piece.prog].func_info.push(FuncInfo {
                insn_off: base as u32,
                type_id: id,
            });
        }
        let mut cur = slots.cursor();
        let lines = &mut programs;
        let line_offs = &mut ext.line_offs;
        for_each_line_record(prog, piece.insns.clone(), |i, loc| {
            counts.2 += 1;
            let (file_name_off, line_off, line_col) = match loc {
                Some(l) => {
                    let (file, text) = src.strings(&mut b, &mut texts, l);
                    (file, text, LineInfo::pack(l.line, l.column))
                }
                None => (0, 0, 0),
            };
            if elf {
                line_offs.push(line_off);
            } else {
                lines[piece.prog].line_info.push(LineInfo {
                    insn_off: cur.slot(i) as u32,
                    file_name_off,
                    line_off,
                    line_col,
                });
            }
        });
    }
    for (sec, l) in ext.sections.iter_mut().zip(&layout.sections) {
        sec.0 = b.string(&l.name);
    }
    ext.paths = sources
        .into_iter()
        .map(|s| s.map_or(Vec::new(), |s| s.paths()))
        .collect();
    // The loader's records are in program order: sort by offset (subprograms were visited in
    // layout order, which is program order too, but keep the invariant explicit).
    for p in &mut programs {
        p.func_info.sort_by_key(|f| f.insn_off);
        p.line_info.sort_by_key(|l| l.insn_off);
    }
    Ok(EncodedBtf {
        btf: b,
        ext: elf.then_some(ext),
        programs,
        maps,
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

/// The number of members of a map's definition struct (8 bytes each in `.maps`).
pub(crate) fn map_fields_len(def: &MapDef) -> usize {
    def.btf_members().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_kept_once_and_end_at_their_first_nul() {
        let mut b = BtfBuilder::new();
        let texts: Vec<String> = (0..3000).map(|k| format!("line {k} of a text")).collect();
        let offs: Vec<u32> = texts.iter().map(|t| b.string(t)).collect();
        for (t, &off) in texts.iter().zip(&offs) {
            assert_eq!(b.string(t), off);
        }
        assert_eq!(b.string(""), 0);
        assert_eq!(b.string("\0abc"), 0);
        let a = b.string("abcdefgh12345");
        assert_eq!(b.string("abcdefgh12345\0tail"), a);
        assert_eq!(b.string("abcdefgh\0"), b.string("abcdefgh"));
        assert_eq!(b.string("abcdefg\0h"), b.string("abcdefg"));
        let (_, _, strings) = b.parts();
        assert_eq!(&strings[a as usize..a as usize + 14], b"abcdefgh12345\0");
        let total: usize = texts.iter().map(|t| t.len() + 1).sum();
        assert_eq!(
            strings.len(),
            1 + total + "abcdefgh12345\0abcdefgh\0abcdefg\0".len()
        );
    }

    /// The two name rules: the object's (`[A-Za-z_][A-Za-z0-9_.]*`) and the kernel's BTF rule,
    /// which `__btf_name_char_ok` (Linux 6.5+) states as: first character alphabetic, `_` or
    /// `.`; the others alphanumeric, `_` or `.`. They differ only on a leading `.`.
    #[test]
    fn object_names_and_btf_identifiers() {
        use crate::object::valid_name;
        // (name, object takes it, kernel takes it)
        let cases = [
            ("queue", true, true),
            ("_x", true, true),
            ("a.b", true, true),
            ("a9._", true, true),
            ("Z", true, true),
            (".maps", false, true),
            (".", false, true),
            (".9", false, true),
            ("..", false, true),
            ("9lives", false, false),
            ("", false, false),
            ("a-b", false, false),
            ("a b", false, false),
            ("é", false, false),
            ("a\0", false, false),
            (".-", false, false),
        ];
        for (name, object, kernel) in cases {
            assert_eq!(valid_name(name), object, "{name:?}");
            assert_eq!(valid_identifier(name), kernel, "{name:?}");
        }
    }
}
