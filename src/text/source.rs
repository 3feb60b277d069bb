//! An object as assembler source: the text `bpfsmith asm` turns back into the same programs.
//!
//! A generated program is easier to read, diff and re-run as a `.s` file than as an ELF
//! object; with a header of `# expect-...` lines it becomes a test `bpfsmith check` runs.

use std::fmt::Write;

use crate::helpers::Helper;
use crate::insn::{Callee, Insn};
use crate::object::Object;
use crate::program::{Program, RelocKind};

use super::write_llvm;

/// The assembler source of `obj`: its license, one `.map` line per map, then each program in
/// its section, with its labels and functions by name, map loads as `rN = map ll`, helper calls
/// by name (`call bpf_map_push_elem`) and jumps to a named label by that name.
///
/// Map definitions keep their sizes, not their BTF shapes (the assembler describes keys and
/// values as byte arrays), so the programs and maps are the same, the BTF is not.
///
/// ```
/// use bpfsmith::prelude::*;
/// use bpfsmith::text::object_source;
///
/// let mut obj = Object::new("GPL");
/// let queue = obj.map("queue", MapDef::queue::<u32>(2))?;
/// let mut p = ProgramBuilder::new("pop_one", Section::SOCKET);
/// let buf = p.reserve::<u32>();
/// p.pop(&queue, buf); // r1 = the map, r2 = where the value goes; r0 = 0 or -ENOENT
/// p.exit();
/// obj.add_program(p.finish()?)?;
///
/// let text = object_source(&obj);
/// assert!(text.contains(".map queue, type=queue, key_size=0, value_size=4, max_entries=2"));
/// assert!(text.contains("\tr1 = queue ll\n"));
/// assert!(text.contains("\tcall bpf_map_pop_elem\n"));
///
/// // The assembler reads it back into the same instructions.
/// let again = bpfsmith::text::assemble("pop_one.s", &text)?;
/// assert_eq!(again.programs[0].insns, obj.programs[0].insns);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn object_source(obj: &Object) -> String {
    let mut out = String::new();
    let _ = writeln!(out, ".license {}", quoted(&obj.license));
    for m in &obj.maps {
        let d = &m.def;
        let _ = writeln!(
            out,
            ".map {}, type={}, key_size={}, value_size={}, max_entries={}, flags={:#x}",
            m.name, d.map_type, d.key_size, d.value_size, d.max_entries, d.map_flags
        );
    }
    for p in &obj.programs {
        out.push('\n');
        write_program_source(&mut out, p);
    }
    out
}

/// Append the source of one program: `.section`, `.globl` and its instructions.
pub fn write_program_source(out: &mut String, prog: &Program) {
    let _ = writeln!(out, ".section {}", prog.section);
    let _ = writeln!(out, ".globl {}", prog.name);
    let map = prog.slot_map();
    // Names by instruction index: functions, then labels (a function's own name wins).
    let mut names: Vec<Option<&str>> = vec![None; prog.insns.len() + 1];
    let mut function_starts = vec![false; prog.insns.len() + 1];
    for (i, l) in prog.labels.iter().rev() {
        if let Some(n) = names.get_mut(*i) {
            *n = Some(l);
        }
    }
    for f in prog.functions.iter().skip(1) {
        if let Some(n) = names.get_mut(f.insn) {
            *n = Some(&f.name);
            function_starts[f.insn] = true;
        }
    }
    names[0] = Some(&prog.name);
    let mut relocs = prog.relocs.iter().peekable();
    for (i, slot, insn) in prog.slots() {
        if function_starts[i] {
            out.push('\n');
        }
        if let Some(name) = names[i] {
            let _ = writeln!(out, "{name}:");
        }
        while relocs.peek().is_some_and(|r| r.insn < i) {
            relocs.next();
        }
        let reloc = relocs.peek().filter(|r| r.insn == i);
        out.push('\t');
        match (insn, reloc) {
            (Insn::LdImm64 { dst, .. }, Some(r)) if r.kind == RelocKind::Map => {
                let _ = write!(out, "{dst} = {} ll", r.symbol);
            }
            (Insn::Call(_), Some(r)) if r.kind == RelocKind::Function => {
                let _ = write!(out, "call {}", r.symbol);
            }
            (Insn::Call(Callee::Helper(id)), None) => {
                match u32::try_from(*id).ok().and_then(Helper::from_id) {
                    Some(h) => {
                        let _ = write!(out, "call {}", h.name());
                    }
                    None => write_llvm(out, insn),
                }
            }
            _ => {
                let target = insn.branch_offset().and_then(|off| {
                    let to = slot as i64 + 1 + off as i64;
                    let to = usize::try_from(to).ok()?;
                    // The end of the program may carry a label too.
                    let at = if to == map.slot_count() {
                        map.len()
                    } else {
                        map.index(to)?
                    };
                    names.get(at).copied().flatten()
                });
                match (target, insn) {
                    (Some(label), Insn::Call(Callee::Local(_))) => {
                        let _ = write!(out, "call {label}");
                    }
                    (Some(label), _) => {
                        let mut text = String::new();
                        write_llvm(&mut text, insn);
                        // The printer ends a jump with its offset (`goto +0x3`): name it instead.
                        match text.rsplit_once(' ') {
                            Some((head, _)) => {
                                let _ = write!(out, "{head} {label}");
                            }
                            None => out.push_str(&text),
                        }
                    }
                    (None, _) => write_llvm(out, insn),
                }
            }
        }
        out.push('\n');
    }
    if let Some(name) = names[prog.insns.len()] {
        let _ = writeln!(out, "{name}:");
    }
}

/// `s` as an assembler string literal.
fn quoted(s: &str) -> String {
    let mut q = String::from('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            c if c.is_control() => {
                let _ = write!(q, "\\x{:02x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}
