//! An object described in BTF: the types of its maps and functions and its `.BTF.ext`
//! records, encoded with [`BtfBuilder`] for the ELF writer and the loader. It sits above the
//! BTF format ([`super::btf`]) and the layout ([`super::layout`]), whose offsets the records
//! carry.

use super::btf::{
    push_u32, BtfBuilder, FuncInfo, LineInfo, MapBtf, ProgBtfInfo, BTF_MAGIC, FUNC_GLOBAL,
    FUNC_STATIC, VAR_GLOBAL_ALLOCATED,
};
use super::layout::Layout;
use super::{ElfError, Object};
use crate::maps::{BtfMember, TypeDesc};
use crate::program::{Program, SourceLoc};

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
            for (k, (name, member)) in m.btf_members().into_iter().enumerate() {
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

#[cfg(test)]
mod tests {
    use super::*;

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
