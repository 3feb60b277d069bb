//! Program listings: every instruction with its slot, function and label headers, map
//! references, and, on request, the source line each instruction came from.

use std::fmt::Write;
use std::ops::ControlFlow;

use crate::helpers::Helper;
use crate::insn::{Callee, Insn, SLOT_SIZE};
use crate::object::{Map, Object, ObjectView, ProgramView};
use crate::program::{Function, Program, RelocKind, Section, SourceFile, SourceLoc};

use super::print::{dec_padded, hex_padded};
use super::{write_kernel, write_llvm, write_llvm_target_annotation};

/// Which instruction printer a listing uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// LLVM's syntax, as `llvm-objdump-22 -d` prints it (and the assembler reads it).
    #[default]
    Llvm,
    /// The kernel's syntax, as the verifier log prints it: `N: (op) text`.
    Kernel,
}

/// What a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingOptions {
    /// The instruction printer.
    pub style: Style,
    /// Print `; <line text> @ <file>:<line>` above the first instruction of each source line,
    /// as the verifier log does.
    pub source: bool,
    /// Map references by name (`r1 = queue ll`, which the assembler reads back) and helper
    /// calls with the helper's name in a comment (`call 0x57 # bpf_map_push_elem`), rather
    /// than as `llvm-objdump -dr` shows them (`r1 = 0x0 ll` and a relocation line below).
    pub symbolic: bool,
    /// With `symbolic`, also the helper's register convention beside each call
    /// (`# bpf_map_push_elem: r1 = map, r2 = value, r3 = flags -> r0`).
    pub abi: bool,
}

impl ListingOptions {
    /// What `bpfsmith dis` shows by default: source lines, and maps and calls as
    /// `llvm-objdump -dr` shows them (relocation lines).
    pub fn objdump(style: Style) -> ListingOptions {
        ListingOptions {
            style,
            source: true,
            symbolic: false,
            abi: false,
        }
    }
}

impl Default for ListingOptions {
    fn default() -> Self {
        ListingOptions {
            style: Style::Llvm,
            source: false,
            symbolic: true,
            abi: false,
        }
    }
}

/// The listing of `prog`.
///
/// In LLVM style the text is what `llvm-objdump-22 -dr --no-show-raw-insn` prints for the
/// program's section when the object carries the program's labels as symbols (with
/// `symbolic: false`): a `<name>:` header for each function and label, then `slot:\ttext`.
///
/// ```
/// use bpfsmith::prelude::*;
/// use bpfsmith::text::{listing, ListingOptions};
///
/// let mut p = ProgramBuilder::new("answer", Section::SOCKET);
/// let done = p.label("done");
/// p.mov(R0, 42).jump_if(R1, Cond::Eq, 0, done).mov(R0, 0).bind(done).exit();
/// let text = listing(&p.finish().unwrap(), &ListingOptions::default());
/// assert_eq!(text, "\
/// 0000000000000000 <answer>:
///        0:\tr0 = 0x2a
///        1:\tif r1 == 0x0 goto +0x1 <done>
///        2:\tr0 = 0x0
///
/// 0000000000000018 <done>:
///        3:\texit
/// ");
/// ```
pub fn listing(prog: &Program, opts: &ListingOptions) -> String {
    let mut out = String::with_capacity(prog.insns.len() * 40);
    write_listing(&mut out, prog, opts);
    out
}

/// Append the listing of `prog` to `out` (see [`listing`]).
pub fn write_listing(out: &mut String, prog: &Program, opts: &ListingOptions) {
    write_listing_chunked(out, prog, opts, &mut |_| {});
}

/// As [`write_listing`], handing `out` to `flush` whenever it holds 64 KiB or more, so that a
/// long listing can stream out without being held in memory whole (`flush` is expected to
/// empty it).
pub fn write_listing_chunked(
    out: &mut String,
    prog: &Program,
    opts: &ListingOptions,
    flush: &mut dyn FnMut(&mut String),
) {
    write_body(out, prog, opts, &mut |buf: &mut String| {
        flush(buf);
        ControlFlow::Continue(())
    });
}

/// What a listing reads of a program: a [`Program`], or a [`ProgramView`], which decodes its
/// instructions from an ELF file's bytes as the listing walks them. Both give the same text.
trait Listable {
    fn name(&self) -> &str;
    fn section(&self) -> &Section;
    fn insn_count(&self) -> usize;
    fn slot_count(&self) -> usize;
    fn functions(&self) -> &[Function];
    /// Labels: instruction index and name, in index order.
    fn labels(&self) -> impl Iterator<Item = (usize, &str)>;
    /// The slot of each instruction.
    fn insn_slots(&self) -> impl Iterator<Item = usize>;
    /// Relocations in instruction order.
    fn relocs(&self) -> impl Iterator<Item = (usize, &str, RelocKind)>;
    fn files(&self) -> &[SourceFile];
    /// Each instruction with its source location.
    fn body(&self) -> impl Iterator<Item = (Insn, Option<SourceLoc>)>;
    /// Slots that do not decode (a file's), with their bytes, in order.
    fn unknown_slots(&self) -> impl Iterator<Item = (usize, [u8; 8])> {
        std::iter::empty()
    }
}

impl Listable for Program {
    fn name(&self) -> &str {
        &self.name
    }
    fn section(&self) -> &Section {
        &self.section
    }
    fn insn_count(&self) -> usize {
        self.insns.len()
    }
    fn slot_count(&self) -> usize {
        Program::slot_count(self)
    }
    fn functions(&self) -> &[Function] {
        &self.functions
    }
    fn labels(&self) -> impl Iterator<Item = (usize, &str)> {
        self.labels.iter().map(|(i, n)| (*i, n.as_str()))
    }
    fn insn_slots(&self) -> impl Iterator<Item = usize> {
        self.slots().map(|(_, slot, _)| slot)
    }
    fn relocs(&self) -> impl Iterator<Item = (usize, &str, RelocKind)> {
        self.relocs
            .iter()
            .map(|r| (r.insn, r.symbol.as_str(), r.kind))
    }
    fn files(&self) -> &[SourceFile] {
        &self.files
    }
    fn body(&self) -> impl Iterator<Item = (Insn, Option<SourceLoc>)> {
        // `locs` may be shorter than `insns`: the rest have no location.
        let locs = self.locs.iter().copied().chain(std::iter::repeat(None));
        self.insns.iter().copied().zip(locs)
    }
}

impl Listable for ProgramView<'_> {
    fn name(&self) -> &str {
        ProgramView::name(self)
    }
    fn section(&self) -> &Section {
        ProgramView::section(self)
    }
    fn insn_count(&self) -> usize {
        ProgramView::insn_count(self)
    }
    fn slot_count(&self) -> usize {
        ProgramView::slot_count(self)
    }
    fn functions(&self) -> &[Function] {
        ProgramView::functions(self)
    }
    fn labels(&self) -> impl Iterator<Item = (usize, &str)> {
        ProgramView::labels(self)
    }
    fn insn_slots(&self) -> impl Iterator<Item = usize> {
        ProgramView::insn_slots(self)
    }
    fn relocs(&self) -> impl Iterator<Item = (usize, &str, RelocKind)> {
        ProgramView::relocs(self).map(|(insn, map)| (insn, map, RelocKind::Map))
    }
    fn files(&self) -> &[SourceFile] {
        ProgramView::files(self)
    }
    fn body(&self) -> impl Iterator<Item = (Insn, Option<SourceLoc>)> {
        self.insns().zip(self.locs())
    }
    fn unknown_slots(&self) -> impl Iterator<Item = (usize, [u8; 8])> {
        ProgramView::unknown_slots(self)
    }
}

/// A slot that does not decode, as llvm-objdump lists it (`<unknown>`), with its bytes.
fn write_unknown(out: &mut String, style: Style, slot: usize, bytes: &[u8; 8]) {
    match style {
        Style::Llvm => {
            dec_padded(out, slot as u64, 8);
            out.push_str(":\t<unknown>");
        }
        Style::Kernel => {
            dec_padded(out, slot as u64, 0);
            out.push_str(": <unknown>");
        }
    }
    out.push_str(" #");
    for b in bytes {
        let _ = write!(out, " {b:02x}");
    }
    out.push('\n');
}

fn write_body<P: Listable>(
    out: &mut String,
    prog: &P,
    opts: &ListingOptions,
    flush: &mut dyn FnMut(&mut String) -> ControlFlow<()>,
) {
    // Headers: functions and labels, by instruction index. Functions come first at a shared
    // index, as objdump orders symbols of one address by name only when it must pick one.
    let mut headers: Vec<(usize, &str, bool)> = prog
        .functions()
        .iter()
        .map(|f| (f.insn, f.name.as_str(), true))
        .chain(prog.labels().map(|(i, n)| (i, n, false)))
        .collect();
    headers.sort_by_key(|(i, ..)| *i);
    // The same by slot, for branch targets: a header one past the last instruction is at
    // the end; one further out names nothing. Functions apart too, for `call NAME`.
    let mut symbols: Vec<(usize, &str)> = Vec::with_capacity(headers.len());
    let mut functions: Vec<(usize, &str)> = Vec::new();
    let mut slots = prog.insn_slots().enumerate().peekable();
    for &(at, name, is_function) in &headers {
        while slots.next_if(|&(i, _)| i < at).is_some() {}
        let slot = match slots.peek() {
            // The program's start is its first slot, decodable or not.
            Some(&(i, _)) if i == at && at == 0 => 0,
            Some(&(i, slot)) if i == at => slot,
            None if at == prog.insn_count() => prog.slot_count(),
            _ => continue,
        };
        symbols.push((slot, name));
        if is_function {
            functions.push((slot, name));
        }
    }
    let function_at = |target: i64| -> Option<&str> {
        functions
            .iter()
            .find(|(s, _)| *s as i64 == target)
            .map(|(_, n)| *n)
    };
    let mut next_header = 0;
    let mut relocs = prog.relocs().peekable();
    let mut last_line = None;
    let mut lines = crate::program::SourceLines::new(prog.files());
    let mut unknown = prog.unknown_slots().peekable();
    // Slots by counting, unless undecodable slots sit between the instructions.
    let mut slots = unknown.peek().is_some().then(|| prog.insn_slots());
    let mut next_slot = 0;
    for (i, (insn, loc)) in prog.body().enumerate() {
        if out.len() >= 1 << 16 && flush(out).is_break() {
            return;
        }
        let slot = match &mut slots {
            Some(s) => s.next().unwrap_or(next_slot),
            None => next_slot,
        };
        next_slot = slot + insn.slots();
        // Before the instruction's symbols, but after those of the program's start.
        if i > 0 {
            while let Some((at, bytes)) = unknown.next_if(|&(at, _)| at < slot) {
                write_unknown(out, opts.style, at, &bytes);
            }
        }
        while let Some(&(at, name, _)) = headers.get(next_header) {
            if at > i {
                break;
            }
            if i > 0 || next_header > 0 {
                out.push('\n');
            }
            // The program starts at its first slot, decodable or not.
            let at_slot = match unknown.peek() {
                Some(&(u, _)) if i == 0 => u.min(slot),
                _ => slot,
            };
            hex_padded(out, (at_slot * SLOT_SIZE) as u64, 16);
            out.push_str(" <");
            out.push_str(name);
            out.push_str(">:\n");
            next_header += 1;
        }
        if i == 0 {
            while let Some((at, bytes)) = unknown.next_if(|&(at, _)| at < slot) {
                write_unknown(out, opts.style, at, &bytes);
            }
        }
        if opts.source {
            if let Some(loc) = loc {
                if last_line != Some((loc.file, loc.line)) {
                    last_line = Some((loc.file, loc.line));
                    let path = prog
                        .files()
                        .get(loc.file.0 as usize)
                        .map_or("", |f| f.path.as_str());
                    out.push_str("; ");
                    out.push_str(lines.get(loc.file, loc.line).trim());
                    out.push_str(" @ ");
                    out.push_str(path);
                    out.push(':');
                    dec_padded(out, loc.line as u64, 0);
                    out.push('\n');
                }
            }
        }
        while relocs.next_if(|r| r.0 < i).is_some() {}
        let reloc = relocs.peek().filter(|r| r.0 == i).copied();
        let insn = &insn;
        match opts.style {
            Style::Llvm => {
                dec_padded(out, slot as u64, 8);
                out.push_str(":\t");
                match (reloc, insn) {
                    (Some((_, symbol, RelocKind::Map)), Insn::LdImm64 { dst, .. })
                        if opts.symbolic =>
                    {
                        let _ = write!(out, "{dst} = {symbol} ll");
                    }
                    // A bpf-to-bpf call by its callee's name, which the assembler reads back.
                    (_, Insn::Call(Callee::Local(imm)))
                        if opts.symbolic
                            && function_at(slot as i64 + 1 + *imm as i64).is_some() =>
                    {
                        let name = function_at(slot as i64 + 1 + *imm as i64).unwrap_or_default();
                        let _ = write!(out, "call {name}");
                    }
                    _ => write_llvm(out, insn),
                }
                if let Some(off) = llvm_annotated_offset(insn) {
                    write_llvm_target_annotation(out, slot as i64 + 1 + off, &symbols);
                }
                if let (true, Insn::Call(Callee::Helper(id))) = (opts.symbolic, insn) {
                    if let Some(h) = u32::try_from(*id).ok().and_then(Helper::from_id) {
                        let _ = write!(out, " # {h}");
                        if let Some(abi) = opts.abi.then(|| h.info().abi_line()).flatten() {
                            let _ = write!(out, ": {abi}");
                        }
                    }
                }
                out.push('\n');
                if let Some((_, symbol, kind)) = reloc.filter(|_| !opts.symbolic) {
                    let kind = match kind {
                        RelocKind::Map => "R_BPF_64_64",
                        RelocKind::Function => "R_BPF_64_32",
                    };
                    out.push_str("\t\t");
                    hex_padded(out, (slot * SLOT_SIZE) as u64, 16);
                    out.push_str(":  ");
                    out.push_str(kind);
                    out.push('\t');
                    out.push_str(symbol);
                    out.push('\n');
                }
            }
            Style::Kernel => {
                dec_padded(out, slot as u64, 0);
                out.push_str(": ");
                write_kernel(out, insn);
                if let Some((_, symbol, _)) = reloc.filter(|_| opts.symbolic) {
                    let _ = write!(out, " ; {symbol}");
                }
                out.push('\n');
            }
        }
    }
    for (at, bytes) in unknown {
        write_unknown(out, opts.style, at, &bytes);
    }
}

/// The branch offset objdump annotates with `<target>`: jumps, `gotol` and `may_goto`, not
/// calls.
fn llvm_annotated_offset(insn: &Insn) -> Option<i64> {
    match *insn {
        Insn::Jump { off, .. } | Insn::Ja { off } | Insn::MayGoto { off } => Some(off as i64),
        Insn::JaLong { imm } => Some(imm as i64),
        _ => None,
    }
}

/// The listing of a whole object, as `bpfsmith dis` prints it: license, maps, then each
/// program with its section, its relocations and, when the object has line info, its source
/// lines.
pub fn object_listing(obj: &Object, style: Style) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_object_listing(&mut out, obj, style);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`object_listing`], streamed to `w`.
pub fn write_object_listing(
    w: &mut dyn std::io::Write,
    obj: &Object,
    style: Style,
) -> std::io::Result<()> {
    let opts = ListingOptions::objdump(style);
    write_programs(w, &obj.license, &obj.maps, &obj.programs, &opts)
}

/// The listing of an object read as an [`ObjectView`]: the same text as [`object_listing`] of
/// the object [`ElfObject::parse`](crate::object::ElfObject::parse) reads from those bytes,
/// made while decoding the programs from the bytes.
pub fn view_listing(view: &ObjectView, style: Style) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_view_listing(&mut out, view, style);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`view_listing`], streamed to `w`: what `bpfsmith dis` prints, with memory for the file's
/// bytes and the programs' plans only.
pub fn write_view_listing(
    w: &mut dyn std::io::Write,
    view: &ObjectView,
    style: Style,
) -> std::io::Result<()> {
    let opts = ListingOptions::objdump(style);
    write_view_listing_with(w, view, &opts)
}

/// [`write_view_listing`] with the listing's options: `symbolic` names maps and helpers in the
/// instructions (`r1 = queue ll`, `call 0x57 # bpf_map_push_elem`) instead of relocation lines,
/// `source` shows the source lines, `abi` the helpers' register conventions.
pub fn write_view_listing_with(
    w: &mut dyn std::io::Write,
    view: &ObjectView,
    opts: &ListingOptions,
) -> std::io::Result<()> {
    let programs: Vec<ProgramView> = view.programs().collect();
    write_programs(w, view.license(), view.maps(), &programs, opts)
}

fn write_programs<P: Listable>(
    w: &mut dyn std::io::Write,
    license: &str,
    maps: &[Map],
    programs: &[P],
    opts: &ListingOptions,
) -> std::io::Result<()> {
    let mut out = String::new();
    let _ = writeln!(out, "license: {license:?}");
    if !maps.is_empty() {
        let _ = writeln!(out, "maps:");
        for m in maps {
            let d = &m.def;
            let _ = write!(
                out,
                "  {}: type={} key_size={} value_size={} max_entries={} flags={:#x}",
                m.name, d.map_type, d.key_size, d.value_size, d.max_entries, d.map_flags
            );
            if m.pinning != crate::object::Pinning::None {
                let _ = write!(out, " pinning={}", m.pinning.name());
            }
            out.push('\n');
        }
    }
    for p in programs {
        let kind = p.section().kind().map_or(
            if p.section() == &crate::program::Section::TEXT {
                "functions; alone in an object, run and loaded as a socket filter"
            } else {
                "no program type"
            },
            |k| k.prog_type.name(),
        );
        let _ = writeln!(
            out,
            "\nprogram {} (section {}, {}): {} instructions, {} slots",
            p.name(),
            p.section(),
            kind,
            p.insn_count(),
            p.slot_count()
        );
        let mut result = Ok(());
        write_body(&mut out, p, opts, &mut |buf: &mut String| {
            result = w.write_all(buf.as_bytes());
            buf.clear();
            match result {
                Ok(()) => ControlFlow::Continue(()),
                // A closed pipe (`| head`) ends the listing.
                Err(_) => ControlFlow::Break(()),
            }
        });
        result?;
    }
    w.write_all(out.as_bytes())
}
