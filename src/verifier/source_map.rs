//! From a log's instruction index (a slot index) to the program's instruction, its listing
//! text and the source line that produced it.
//!
//! A [`SourceMap`] is built from the [`Program`] that was loaded ([`SourceMap::from_program`]),
//! from the log alone ([`SourceMap::from_log_only`]: the kernel's own `; text @ file:line`
//! annotations, which is how clang objects with BTF line info and logs saved elsewhere map
//! back), or from both ([`SourceMap::new`]: the program first, the log's annotations for what
//! the program does not say). It owns what it holds, so it outlives both.
//!
//! ```
//! use bpfsmith::prelude::*;
//! use bpfsmith::verifier::{SourceMap, VerifierLog};
//!
//! let mut p = ProgramBuilder::new("p", Section::SOCKET);
//! p.ld_imm64(R1, 1 << 40);    // two slots: 0 and 1
//! p.mov(R0, 0);               // slot 2
//! p.exit();                   // slot 3
//! let prog = p.finish().unwrap();
//! let map = SourceMap::from_program(&prog);
//! assert_eq!(map.get(2).unwrap().text, "(b7) r0 = 0");
//! assert_eq!(map.get(2).unwrap().index, Some(1));
//! assert!(map.get(1).is_none()); // the second slot of the ld_imm64
//! let src = map.source(3).unwrap();
//! assert!(src.file.ends_with(".rs"));
//!
//! // A log with the kernel's own source annotations, and no program.
//! let log = VerifierLog::parse("; r0 = 0 @ prog.s:4\n0: (b7) r0 = 0\n1: (95) exit\n");
//! let map = SourceMap::from_log_only(&log);
//! let src = map.source(1).unwrap();
//! assert_eq!((src.file.as_str(), src.line, src.text.as_deref()), ("prog.s", Some(4), Some("r0 = 0")));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::insn::Insn;
use crate::program::{Program, Reference};

use super::{Kind, VerifierLog};

/// Where an instruction came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// The file, as recorded (`tests/viewer.rs`, `queue.s`); empty when the kernel printed a
    /// source line without ` @ file:line` (kernels before 6.1).
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<u32>,
    /// The 1-based column, when known (programs built with the DSL record it).
    pub column: Option<u32>,
    /// The line's text (trimmed), when known: read from the program's file, or as the kernel
    /// printed it.
    pub text: Option<String>,
}

impl SourceInfo {
    /// `file:line`, or just the file (or `?`) when the line is unknown.
    pub fn location(&self) -> String {
        let file = if self.file.is_empty() {
            "?"
        } else {
            &self.file
        };
        match self.line {
            Some(l) => format!("{file}:{l}"),
            None => file.to_owned(),
        }
    }

    /// The file name without its directories, and the line: `viewer.rs:42`.
    pub fn short_location(&self) -> String {
        let file = self.file.rsplit('/').next().unwrap_or(&self.file);
        let file = if file.is_empty() { "?" } else { file };
        match self.line {
            Some(l) => format!("{file}:{l}"),
            None => file.to_owned(),
        }
    }

    /// The line as the kernel annotates a log: `; text @ file:line`, or `; text` when the
    /// file is unknown (`short` keeps only the file's name).
    pub fn comment(&self, short: bool) -> String {
        let text = self.text.as_deref().unwrap_or("");
        if self.file.is_empty() && self.line.is_none() {
            return format!("; {text}");
        }
        let at = if short {
            self.short_location()
        } else {
            self.location()
        };
        format!("; {text} @ {at}")
    }

    /// Whether two infos name the same source line.
    pub fn same_line(&self, other: &SourceInfo) -> bool {
        self.file == other.file && self.line == other.line && self.text == other.text
    }
}

impl fmt::Display for SourceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.location())
    }
}

/// One instruction of the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappedInsn {
    /// Its slot index (what the log prints).
    pub slot: u32,
    /// Its index in [`Program::insns`], when the map was built from a program that has it.
    pub index: Option<usize>,
    /// The instruction, when built from a program.
    pub insn: Option<Insn>,
    /// The kernel-style listing text, `(bf) r2 = r10`: from the program (map references
    /// followed by ` ; <map name>`), or as the log printed it.
    pub text: String,
    /// Where it came from.
    pub source: Option<SourceInfo>,
}

impl MappedInsn {
    /// The opcode byte, from the start of [`MappedInsn::text`] (`(bf)`).
    pub fn opcode(&self) -> Option<u8> {
        let hex = self.text.strip_prefix('(')?.get(..2)?;
        u8::from_str_radix(hex, 16).ok()
    }

    /// The text without the opcode: `r2 = r10`.
    pub fn text_without_opcode(&self) -> &str {
        match self.text.strip_prefix('(') {
            Some(rest) if rest.get(2..4) == Some(") ") => &rest[4..],
            _ => &self.text,
        }
    }
}

/// A slot that the log and the program disagree on: the log was not made from this program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The slot.
    pub slot: u32,
    /// What the log printed there.
    pub log: String,
    /// What the program has there (`None`: nothing, e.g. past its end).
    pub program: Option<String>,
}

/// Slot index → instruction, listing text and source line. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    insns: BTreeMap<u32, MappedInsn>,
    program: Option<String>,
}

impl SourceMap {
    /// The map of `program` alone: every instruction with its kernel-style text and the source
    /// line it was emitted from (the line's text read from the file the program names, once
    /// per file).
    pub fn from_program(program: &Program) -> SourceMap {
        let mut files: HashMap<u32, Option<Vec<String>>> = HashMap::new();
        let mut insns = BTreeMap::new();
        for item in program.items() {
            let (i, slot, insn) = (item.index, item.slot, item.insn);
            let mut text = String::new();
            crate::text::write_kernel(&mut text, insn);
            match item.reference {
                Some(Reference::Map(m)) => text.push_str(&format!(" ; map {m}")),
                Some(Reference::Function(f)) => text.push_str(&format!(" ; function {f}")),
                _ => {}
            }
            let source = item.loc.and_then(|loc| {
                let f = program.files.get(loc.file.0 as usize)?;
                let lines = files.entry(loc.file.0).or_insert_with(|| {
                    let text = match &f.text {
                        Some(t) => Some(t.to_string()),
                        // Bounded, and never a device or pipe a second read would block on.
                        None => crate::diag::read_source(&f.path),
                    };
                    text.map(|t| t.lines().map(str::to_owned).collect())
                });
                let line_text = lines.as_ref().and_then(|l| {
                    l.get(loc.line.checked_sub(1)? as usize)
                        .map(|s| s.trim().to_owned())
                });
                Some(SourceInfo {
                    file: f.path.clone(),
                    line: (loc.line > 0).then_some(loc.line),
                    column: (loc.column > 0).then_some(loc.column),
                    text: line_text,
                })
            });
            let slot = slot as u32;
            insns.insert(
                slot,
                MappedInsn {
                    slot,
                    index: Some(i),
                    insn: Some(*insn),
                    text,
                    source,
                },
            );
        }
        SourceMap {
            insns,
            program: Some(program.name.clone()),
        }
    }

    /// The map a log gives by itself: each instruction the log shows, with the text it printed
    /// and the nearest `; source @ file:line` annotation above it (the kernel prints one only
    /// when the line changes, so an instruction without its own takes the one before it on the
    /// same path piece). Instructions the log never shows are absent.
    pub fn from_log_only(log: &VerifierLog<'_>) -> SourceMap {
        let mut insns: BTreeMap<u32, MappedInsn> = BTreeMap::new();
        let mut current: Option<SourceInfo> = None;
        for r in log.records() {
            match r.kind {
                Kind::Source(s) => {
                    current = Some(SourceInfo {
                        file: s.file.unwrap_or("").to_owned(),
                        line: s.line,
                        column: None,
                        text: Some(s.text.trim().to_owned()),
                    })
                }
                Kind::Branch { .. } | Kind::Func { .. } => current = None,
                Kind::Insn(l) => {
                    let e = insns.entry(l.insn).or_insert_with(|| MappedInsn {
                        slot: l.insn,
                        index: None,
                        insn: None,
                        text: format!("({:02x}) {}", l.opcode, l.text),
                        source: None,
                    });
                    if e.source.is_none() {
                        e.source.clone_from(&current);
                    }
                }
                _ => {}
            }
        }
        SourceMap {
            insns,
            program: None,
        }
    }

    /// The map of `program` (when given) completed by `log`: instructions and source lines
    /// come from the program; slots it does not have (code the loader appended) and
    /// instructions without a source location take what the log says. Without a program this
    /// is [`SourceMap::from_log_only`].
    pub fn new(log: &VerifierLog<'_>, program: Option<&Program>) -> SourceMap {
        let from_log = SourceMap::from_log_only(log);
        let Some(program) = program else {
            return from_log;
        };
        let mut map = SourceMap::from_program(program);
        for (slot, l) in from_log.insns {
            match map.insns.get_mut(&slot) {
                Some(m) => {
                    if m.source.is_none() {
                        m.source = l.source;
                    }
                }
                None => {
                    map.insns.insert(slot, l);
                }
            }
        }
        map
    }

    /// Of `programs` (an object's, say), the first the log was made from: every instruction
    /// the log shows has the program's opcode at its slot. For `bpfsmith log FILE --object O`,
    /// where the log does not say which program it is about.
    pub fn pick_program<'p>(
        log: &VerifierLog<'_>,
        programs: impl IntoIterator<Item = &'p Program>,
    ) -> Option<&'p Program> {
        // A log without instructions matches every program: say none.
        log.insns().next()?;
        programs
            .into_iter()
            .find(|p| SourceMap::from_program(p).mismatches(log).is_empty())
    }

    /// The name of the program the map was built from, if any.
    pub fn program_name(&self) -> Option<&str> {
        self.program.as_deref()
    }

    /// Whether the map was built from a program (not only from a log).
    pub fn has_program(&self) -> bool {
        self.program.is_some()
    }

    /// The instruction at `slot` (`None` for the second slot of an `ld_imm64`, or a slot
    /// neither the program nor the log has).
    pub fn get(&self, slot: u32) -> Option<&MappedInsn> {
        self.insns.get(&slot)
    }

    /// The source line of the instruction at `slot`.
    pub fn source(&self, slot: u32) -> Option<&SourceInfo> {
        self.get(slot)?.source.as_ref()
    }

    /// Every instruction, by slot.
    pub fn iter(&self) -> impl Iterator<Item = &MappedInsn> + '_ {
        self.insns.values()
    }

    /// The number of instructions known.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether no instruction is known.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Up to `before` instructions before `slot`, the one at `slot` (when known), and up to
    /// `after` after it, in slot order.
    pub fn around(&self, slot: u32, before: usize, after: usize) -> Vec<&MappedInsn> {
        let mut head: Vec<&MappedInsn> = self
            .insns
            .range(..slot)
            .rev()
            .take(before)
            .map(|(_, m)| m)
            .collect();
        head.reverse();
        head.extend(
            self.insns
                .range(slot..)
                .take(after.saturating_add(1))
                .map(|(_, m)| m),
        );
        head
    }

    /// The slots where `log` shows an instruction with another opcode than the program's (or
    /// one a map built from a program alone does not have). Empty when the log was made from
    /// this program, or when the map was built from the log alone.
    pub fn mismatches(&self, log: &VerifierLog<'_>) -> Vec<Mismatch> {
        let mut out: Vec<Mismatch> = Vec::new();
        for (_, l) in log.insns() {
            if out.iter().any(|m| m.slot == l.insn) {
                continue;
            }
            let differs = match self.get(l.insn) {
                Some(m) if m.index.is_some() => m.opcode() != Some(l.opcode),
                Some(_) => false,
                None => self.has_program(),
            };
            if differs {
                out.push(Mismatch {
                    slot: l.insn,
                    log: format!("({:02x}) {}", l.opcode, l.text),
                    program: self.get(l.insn).map(|m| m.text.clone()),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[test]
    fn slots_and_texts() {
        let mut obj = Object::new("GPL");
        let q = obj.map("queue", MapDef::queue::<u32>(4)).unwrap();
        let mut p = ProgramBuilder::new("p", Section::SOCKET);
        let v = p.reserve::<u32>();
        p.store(Size::U32, R10, v.off, 7);
        p.push(&q, v, PushFlags::ANY);
        p.exit();
        let prog = p.finish().unwrap();
        let map = SourceMap::from_program(&prog);
        assert_eq!(map.get(1).unwrap().text, "(18) r1 = 0x0 ; map queue");
        assert!(map.get(2).is_none());
        assert_eq!(map.get(3).unwrap().text, "(bf) r2 = r10");
        assert_eq!(map.get(3).unwrap().text_without_opcode(), "r2 = r10");
        assert_eq!(map.get(6).unwrap().opcode(), Some(0x85));
        let src = map.source(6).unwrap();
        assert_eq!(src.file, file!());
        assert_eq!(src.text.as_deref(), Some("p.push(&q, v, PushFlags::ANY);"));
        let around: Vec<u32> = map.around(4, 2, 1).iter().map(|m| m.slot).collect();
        assert_eq!(around, vec![1, 3, 4, 5]);
    }

    #[test]
    fn log_fills_gaps_and_mismatches_show() {
        let prog = Program::from_insns(
            "p",
            Section::SOCKET,
            vec![
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: R0,
                    src: crate::insn::Operand::Imm(0),
                },
                Insn::Exit,
            ],
        );
        let text =
            "; r0 = 0 @ a.s:3\n0: (b7) r0 = 0\n; exit @ a.s:4\n1: (95) exit\n2: (07) r1 += 1\n";
        let log = VerifierLog::parse(text);
        let map = SourceMap::new(&log, Some(&prog));
        assert_eq!(map.source(1).unwrap().location(), "a.s:4");
        assert_eq!(map.get(2).unwrap().text, "(07) r1 += 1");
        assert_eq!(map.mismatches(&log), vec![]);
        let other = VerifierLog::parse("0: (bf) r0 = r1\n");
        assert_eq!(map.mismatches(&other).len(), 1);
        let two = [
            prog.clone(),
            Program::from_insns("q", Section::SOCKET, vec![Insn::Exit]),
        ];
        let exit_only = VerifierLog::parse("0: (95) exit\n");
        assert_eq!(
            SourceMap::pick_program(&exit_only, &two).map(|p| p.name.as_str()),
            Some("q")
        );
        assert_eq!(SourceMap::pick_program(&other, &two), None);
    }
}
