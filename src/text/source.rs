//! An object as assembler source: the text `bpfsmith asm` turns back into the same programs.
//!
//! A generated program is easier to read, diff and re-run as a `.s` file than as an ELF
//! object; with a header of `# expect-...` lines it becomes a test `bpfsmith check` runs.

use std::fmt::Write;

use crate::helpers::Helper;
use crate::insn::{Callee, Insn};
use crate::object::{Object, Pinning};
use crate::program::{Program, Reference};

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
        let _ = write!(
            out,
            ".map {}, type={}, key_size={}, value_size={}, max_entries={}, flags={:#x}",
            m.name, d.map_type, d.key_size, d.value_size, d.max_entries, d.map_flags
        );
        if m.pinning != Pinning::None {
            let _ = write!(out, ", pinning={}", m.pinning.name());
        }
        out.push('\n');
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
    let mut items = prog.items();
    let at_end = items.name_at_end();
    for item in &mut items {
        let insn = item.insn;
        if item.function_start && item.index > 0 {
            out.push('\n');
        }
        if let Some(name) = item.name {
            let _ = writeln!(out, "{name}:");
        }
        out.push('\t');
        match (insn, item.reference) {
            (Insn::LdImm64 { dst, .. }, Some(Reference::Map(map))) => {
                let _ = write!(out, "{dst} = {map} ll");
            }
            (Insn::Call(_), Some(Reference::Function(f))) => {
                let _ = write!(out, "call {f}");
            }
            (Insn::Call(Callee::Helper(id)), None) => {
                match u32::try_from(*id).ok().and_then(Helper::from_id) {
                    Some(h) => {
                        let _ = write!(out, "call {}", h.name());
                    }
                    None => write_llvm(out, insn),
                }
            }
            // A jump or local call to a named place: by name.
            (
                _,
                Some(Reference::Local {
                    name: Some(label), ..
                }),
            ) if insn.branch_offset().is_some() => {
                if let Insn::Call(Callee::Local(_)) = insn {
                    let _ = write!(out, "call {label}");
                } else {
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
            }
            _ => write_llvm(out, insn),
        }
        out.push('\n');
    }
    if let Some(name) = at_end {
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
