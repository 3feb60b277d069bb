//! The code of an ELF file as the reader finds it and the view walks it: each function's bytes
//! with where its instructions start ([`Piece`], [`Starts`]), and the `.BTF.ext` records and
//! source files that locate them ([`LineIndex`], [`Sources`]). The reader ([`super::read`])
//! builds these; the view ([`super::view`]) decodes from them on demand.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use super::btf::{Btf, BtfExt, ExtFunc, ExtLine, ExtRecord, ExtRecords};
use crate::insn::{decode_at, decode_iter, Callee, Insn, Pseudo, SLOT_SIZE};
use crate::program::{FileId, SourceFile, SourceLoc};
use crate::slots::SlotMap;

/// A function of an executable section: its bytes, checked by decoding them once, and where
/// its instructions start.
pub(super) struct Piece<'a> {
    pub(super) section: usize,
    pub(super) name: String,
    /// Its byte range in the section.
    pub(super) bytes: Range<u64>,
    pub(super) global: bool,
    /// Symbol index of its FUNC symbol (usize::MAX when synthesized from a section).
    pub(super) sym: usize,
    /// Its bytes.
    pub(super) data: &'a [u8],
    pub(super) starts: Starts,
    pub(super) flow: Flow,
    /// The first slot that does not decode, if any (the slots are in `starts.unknown`).
    pub(super) error: Option<crate::insn::DecodeError>,
}

/// What linking needs to know of a piece's instructions, noted as they are decoded.
#[derive(Default)]
pub(super) struct Flow {
    /// Local calls and `ld_imm64` function addresses: slot and immediate.
    pub(super) calls: Vec<(usize, i64)>,
}

impl Flow {
    /// Note the instruction at `slot` of a piece.
    pub(super) fn note(&mut self, slot: usize, insn: &Insn) {
        match *insn {
            Insn::Call(Callee::Local(imm)) => self.calls.push((slot, imm as i64)),
            Insn::LdImm64 {
                pseudo: Pseudo::Func,
                imm,
                ..
            } => self.calls.push((slot, imm)),
            _ => {}
        }
    }
}

impl Piece<'_> {
    /// How many instructions it has.
    pub(super) fn insn_count(&self) -> usize {
        self.starts.count()
    }

    /// How many slots it has.
    pub(super) fn slot_count(&self) -> usize {
        self.data.len() / SLOT_SIZE
    }

    /// The slot (in the piece) of the instruction at byte `off` of the section, if one starts
    /// there.
    pub(super) fn slot_at(&self, off: u64) -> Option<usize> {
        let rel = off.checked_sub(self.bytes.start)?;
        let slot = usize::try_from(rel / SLOT_SIZE as u64).ok()?;
        (rel % SLOT_SIZE as u64 == 0 && self.starts.is_start(slot)).then_some(slot)
    }

    /// Byte offset (in the section) of the last instruction.
    pub(super) fn last_insn_offset(&self) -> u64 {
        self.bytes.start + self.starts.last as u64 * SLOT_SIZE as u64
    }

    /// The instruction at `slot`.
    pub(super) fn decode(&self, slot: usize) -> Option<Insn> {
        decode_at(self.data, slot).ok()
    }

    /// The instructions with their slots. The bytes were decoded when the piece was read, so
    /// this yields every instruction (the undecodable slots, `starts.unknown`, are skipped).
    pub(super) fn insns(&self) -> impl Iterator<Item = (usize, Insn)> + '_ {
        let whole = self.starts.unknown.is_empty();
        let fast = whole.then(|| decode_iter(self.data).map_while(Result::ok));
        let slow = (!whole).then(|| {
            self.starts
                .slots()
                .filter_map(|slot| decode_at(self.data, slot).ok().map(|insn| (slot, insn)))
        });
        fast.into_iter().flatten().chain(slow.into_iter().flatten())
    }

    /// The undecodable slots: slot in the piece and its 8 bytes.
    pub(super) fn unknown(&self) -> impl Iterator<Item = (usize, [u8; 8])> + '_ {
        self.starts.unknown.iter().map(|&slot| {
            let mut b = [0u8; 8];
            if let Some(s) = self
                .data
                .get(slot * SLOT_SIZE..slot * SLOT_SIZE + SLOT_SIZE)
            {
                b.copy_from_slice(s);
            }
            (slot, b)
        })
    }
}

/// Where the instructions of a piece start ([`SlotMap`]), with the slots that do not decode.
pub(super) struct Starts {
    map: SlotMap,
    /// Slot of the last instruction.
    pub(super) last: usize,
    /// Slots that do not decode, in order (8 bytes each, listed as `<unknown>`).
    pub(super) unknown: Vec<usize>,
}

impl Starts {
    /// Decode `data` (a function's bytes) and note where each instruction starts, handing
    /// each instruction to `each` too.
    /// A slot that does not decode is noted in `unknown` and skipped (decoding goes on at the
    /// next slot, as llvm-objdump does); the first such error is returned with the starts.
    /// Trailing bytes that make no whole slot end the decoding with their error.
    pub(super) fn decode(
        data: &[u8],
        mut each: impl FnMut(usize, &Insn),
    ) -> (Starts, Option<crate::insn::DecodeError>) {
        let whole = data.len() / SLOT_SIZE;
        let mut map = SlotMap::with_capacity(whole);
        let mut last = 0;
        let mut unknown = Vec::new();
        let mut first = None;
        let mut slot = 0;
        while slot < whole {
            match decode_at(data, slot) {
                Ok(insn) => {
                    each(slot, &insn);
                    last = slot;
                    map.push(insn.slots());
                    slot += insn.slots();
                }
                Err(e) => {
                    unknown.push(slot);
                    first.get_or_insert(e);
                    map.skip(1);
                    slot += 1;
                }
            }
        }
        if data.len() % SLOT_SIZE != 0 && first.is_none() {
            first = Some(crate::insn::DecodeError {
                slot: whole,
                reason: crate::insn::DecodeReason::TrailingBytes(data.len() % SLOT_SIZE),
            });
        }
        (Starts { map, last, unknown }, first)
    }

    /// How many instructions.
    pub(super) fn count(&self) -> usize {
        self.map.len()
    }

    /// Whether an instruction starts at `slot`.
    pub(super) fn is_start(&self, slot: usize) -> bool {
        self.map.is_start(slot)
    }

    /// The index of the instruction that starts at `slot`, if one does.
    pub(super) fn index(&self, slot: usize) -> Option<usize> {
        self.map.index(slot)
    }

    /// The slots where instructions start, in order.
    pub(super) fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.map.starts()
    }
}

/// `.BTF.ext` records by section, sorted by offset: read in place when the file has them
/// sorted (compilers write them so), a sorted copy otherwise.
pub(super) struct LineIndex<'a> {
    funcs: HashMap<usize, SortedRecords<'a, ExtFunc>>,
    lines: HashMap<usize, SortedRecords<'a, ExtLine>>,
}

impl<'a> LineIndex<'a> {
    /// Index the records of `ext`; `section_named` gives a section's index by name.
    pub(super) fn new(
        section_named: impl Fn(&str) -> Option<usize>,
        ext: Option<&BtfExt<'a>>,
    ) -> LineIndex<'a> {
        let mut funcs = HashMap::new();
        let mut lines = HashMap::new();
        if let Some(ext) = ext {
            for s in &ext.func_info {
                if let Some(i) = section_named(&s.name) {
                    funcs.insert(i, SortedRecords::new(s.records));
                }
            }
            for s in &ext.line_info {
                if let Some(i) = section_named(&s.name) {
                    lines.insert(i, SortedRecords::new(s.records));
                }
            }
        }
        LineIndex { funcs, lines }
    }

    /// The line records of a piece, by offset.
    pub(super) fn lines_in(&self, p: &Piece) -> impl Iterator<Item = ExtLine> + '_ {
        let recs = self.lines.get(&p.section);
        let range = recs.map_or(0..0, |v| v.range(&p.bytes));
        range.filter_map(move |i| recs.and_then(|v| v.get(i)))
    }

    /// The function records of a piece, by offset.
    pub(super) fn funcs_in(&self, p: &Piece) -> impl Iterator<Item = ExtFunc> + '_ {
        let recs = self.funcs.get(&p.section);
        let range = recs.map_or(0..0, |v| v.range(&p.bytes));
        range.filter_map(move |i| recs.and_then(|v| v.get(i)))
    }
}

/// The records of one section in offset order (ties in file order).
enum SortedRecords<'a, T> {
    InPlace(ExtRecords<'a, T>),
    Copied(Vec<T>),
}

impl<'a, T: ExtRecord> SortedRecords<'a, T> {
    pub(super) fn new(records: ExtRecords<'a, T>) -> Self {
        let mut offs = records.iter().map(|r| r.insn_off());
        let mut prev = 0;
        if offs.all(|o| std::mem::replace(&mut prev, o) <= o) {
            SortedRecords::InPlace(records)
        } else {
            let mut v: Vec<T> = records.iter().collect();
            v.sort_by_key(|r| r.insn_off());
            SortedRecords::Copied(v)
        }
    }

    pub(super) fn get(&self, i: usize) -> Option<T> {
        match self {
            SortedRecords::InPlace(r) => r.get(i),
            SortedRecords::Copied(v) => v.get(i).copied(),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            SortedRecords::InPlace(r) => r.len(),
            SortedRecords::Copied(v) => v.len(),
        }
    }

    /// The indexes of the records whose offset is in `bytes`.
    pub(super) fn range(&self, bytes: &Range<u64>) -> Range<usize> {
        let first_at = |off: u64| {
            // The first record at `off` or after (records are sorted).
            let (mut lo, mut hi) = (0, self.len());
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.get(mid).is_some_and(|r| (r.insn_off() as u64) < off) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        first_at(bytes.start)..first_at(bytes.end)
    }
}

/// The source files of a program's line records. A path (by its offset in the BTF strings)
/// gets a [`FileId`] the first time a record names it, and each line the text of the first
/// record for it; the file's text has those lines at their numbers (other lines empty).
#[derive(Default)]
pub(super) struct Sources {
    paths: HashMap<u32, PathEntry>,
    pub(super) files: Vec<SourceFile>,
    lines: Vec<BTreeMap<u32, String>>,
    /// The path of the last record added (records of one file follow each other).
    last_path: Option<(u32, PathEntry)>,
    /// Lines already added, a few of them, by line number modulo their count: a loop's lines
    /// come back again and again.
    seen: [Option<(usize, u32)>; 32],
}

#[derive(Clone, Copy)]
pub(super) struct PathEntry {
    /// The path is empty: with line 0 the record means "unknown".
    empty: bool,
    /// The file, once a record gave a location in it.
    file: Option<FileId>,
}

impl Sources {
    /// Add the file and line text of a record (in program order).
    pub(super) fn add(&mut self, btf: &Btf, l: &ExtLine) {
        let line = l.line_col >> 10;
        let off = l.file_name_off;
        let mut entry = match self.last_path {
            Some((last, entry)) if last == off => entry,
            _ => *self.paths.entry(off).or_insert_with(|| PathEntry {
                empty: btf.name(off).unwrap_or("").is_empty(),
                file: None,
            }),
        };
        self.last_path = Some((off, entry));
        if entry.empty && line == 0 {
            return;
        }
        let f = match entry.file {
            Some(f) => f.0 as usize,
            None => {
                let path = btf.name(off).unwrap_or("");
                let f = match self.files.iter().position(|f| f.path == path) {
                    Some(f) => f,
                    None => {
                        self.files.push(SourceFile {
                            path: path.to_owned(),
                            text: None,
                        });
                        self.lines.push(BTreeMap::new());
                        self.files.len() - 1
                    }
                };
                entry.file = Some(FileId(f as u32));
                self.paths.insert(off, entry);
                self.last_path = Some((off, entry));
                f
            }
        };
        self.add_line(btf, l, f, line);
    }

    /// Give line `line` of file `f` the text of `l` unless it has one.
    pub(super) fn add_line(&mut self, btf: &Btf, l: &ExtLine, f: usize, line: u32) {
        let seen = &mut self.seen[line as usize % 32];
        if line == 0 || *seen == Some((f, line)) {
            return;
        }
        *seen = Some((f, line));
        self.lines[f]
            .entry(line)
            .or_insert_with(|| btf.name(l.line_off).unwrap_or("").replace('\n', " "));
    }

    /// Give each file its text.
    pub(super) fn finish(mut self) -> Sources {
        for (f, l) in self.files.iter_mut().zip(std::mem::take(&mut self.lines)) {
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
        self
    }

    /// The path entry of a record's file name offset.
    pub(super) fn path(&self, file_name_off: u32) -> Option<PathEntry> {
        self.paths.get(&file_name_off).copied()
    }
}

impl PathEntry {
    /// The source location of a line record whose path this is.
    pub(super) fn loc(self, l: &ExtLine) -> Option<SourceLoc> {
        let line = l.line_col >> 10;
        if self.empty && line == 0 {
            return None;
        }
        Some(SourceLoc {
            file: self.file?,
            line,
            column: l.line_col & 0x3ff,
        })
    }
}
