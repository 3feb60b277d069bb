//! Program listings: every instruction with its slot, function and label headers, map
//! references, and, on request, the source line each instruction came from.

use std::fmt::Write;

use crate::helpers::Helper;
use crate::insn::{Callee, Insn, SLOT_SIZE};
use crate::program::{Program, RelocKind};

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
    let slots = prog.slot_offsets();
    // Headers: functions and labels, by instruction index. Functions come first at a shared
    // index, as objdump orders symbols of one address by name only when it must pick one.
    let mut headers: Vec<(usize, &str)> = prog
        .functions
        .iter()
        .map(|f| (f.insn, f.name.as_str()))
        .chain(prog.labels.iter().map(|(i, n)| (*i, n.as_str())))
        .collect();
    headers.sort_by_key(|(i, _)| *i);
    let symbols: Vec<(usize, &str)> = headers
        .iter()
        .filter_map(|&(i, n)| slots.get(i).map(|&s| (s, n)))
        .collect();
    let function_at = |target: i64| -> Option<&str> {
        let f = prog
            .functions
            .iter()
            .find(|f| slots.get(f.insn).is_some_and(|&s| s as i64 == target))?;
        Some(f.name.as_str())
    };
    let mut next_header = 0;
    let mut relocs = prog.relocs.iter().peekable();
    let mut last_line = None;
    let mut lines = crate::program::SourceLines::new(prog);
    for (i, insn) in prog.insns.iter().enumerate() {
        if out.len() >= 1 << 16 {
            flush(out);
        }
        let slot = slots[i];
        while let Some(&(at, name)) = headers.get(next_header) {
            if at > i {
                break;
            }
            if i > 0 || next_header > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "{:016x} <{}>:", slot * SLOT_SIZE, name);
            next_header += 1;
        }
        if opts.source {
            if let Some(loc) = prog.locs.get(i).copied().flatten() {
                if last_line != Some((loc.file, loc.line)) {
                    last_line = Some((loc.file, loc.line));
                    let path = prog
                        .files
                        .get(loc.file.0 as usize)
                        .map_or("", |f| f.path.as_str());
                    let text = lines.get(loc.file, loc.line);
                    let _ = writeln!(out, "; {} @ {}:{}", text.trim(), path, loc.line);
                }
            }
        }
        while relocs.peek().is_some_and(|r| r.insn < i) {
            relocs.next();
        }
        let reloc = relocs.peek().filter(|r| r.insn == i).copied();
        match opts.style {
            Style::Llvm => {
                let _ = write!(out, "{slot:>8}:\t");
                match (reloc, insn) {
                    (Some(r), Insn::LdImm64 { dst, .. })
                        if opts.symbolic && r.kind == RelocKind::Map =>
                    {
                        let _ = write!(out, "{dst} = {} ll", r.symbol);
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
                if let Some(r) = reloc.filter(|_| !opts.symbolic) {
                    let kind = match r.kind {
                        RelocKind::Map => "R_BPF_64_64",
                        RelocKind::Function => "R_BPF_64_32",
                    };
                    let _ = writeln!(out, "\t\t{:016x}:  {kind}\t{}", slot * SLOT_SIZE, r.symbol);
                }
            }
            Style::Kernel => {
                let _ = write!(out, "{slot}: ");
                write_kernel(out, insn);
                if let Some(r) = reloc.filter(|_| opts.symbolic) {
                    let _ = write!(out, " ; {}", r.symbol);
                }
                out.push('\n');
            }
        }
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
pub fn object_listing(obj: &crate::object::Object, style: Style) -> String {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_object_listing(&mut out, obj, style);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`object_listing`], streamed to `w`.
pub fn write_object_listing(
    w: &mut dyn std::io::Write,
    obj: &crate::object::Object,
    style: Style,
) -> std::io::Result<()> {
    let mut out = String::new();
    let _ = writeln!(out, "license: {:?}", obj.license);
    if !obj.maps.is_empty() {
        let _ = writeln!(out, "maps:");
        for m in &obj.maps {
            let d = &m.def;
            let _ = writeln!(
                out,
                "  {}: type={} key_size={} value_size={} max_entries={} flags={:#x}",
                m.name, d.map_type, d.key_size, d.value_size, d.max_entries, d.map_flags
            );
        }
    }
    let opts = ListingOptions {
        style,
        source: true,
        symbolic: false,
        abi: false,
    };
    let mut result = Ok(());
    for p in &obj.programs {
        let kind = p
            .section
            .kind()
            .map_or("not loadable on its own", |k| k.prog_type.name());
        let _ = writeln!(
            out,
            "\nprogram {} (section {}, {}): {} instructions, {} slots",
            p.name,
            p.section,
            kind,
            p.insns.len(),
            p.slot_count()
        );
        write_listing_chunked(&mut out, p, &opts, &mut |buf: &mut String| {
            if result.is_ok() {
                result = w.write_all(buf.as_bytes());
            }
            buf.clear();
        });
    }
    result?;
    w.write_all(out.as_bytes())
}
