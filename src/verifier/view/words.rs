//! Values, stack slots, paths and statistics in plain words, for every renderer.

use crate::helpers::ArgKind;
use crate::insn::{Callee, Insn};
use crate::verifier::{Kind, PtrKind, SlotContents, Stats, Value, VerifierLog};

/// The value in plain words.
pub fn describe_value(v: &Value<'_>) -> String {
    match v {
        Value::Const(n) => format!("the number {n}"),
        Value::Scalar(s) => match (s.as_const(), s.smin, s.smax, s.umin, s.umax) {
            (Some(c), ..) => format!("the number {c}"),
            (None, Some(a), Some(b), ..) => format!("a number in [{a}, {b}]"),
            (None, _, _, Some(a), Some(b)) => format!("a number in [{a}, {b}]"),
            (None, _, _, _, Some(b)) => format!("a number up to {b}"),
            _ => "a number (unknown)".to_owned(),
        },
        Value::Pointer(p) => match p.kind {
            PtrKind::Ctx => "the context pointer".to_owned(),
            PtrKind::Stack => match (p.stack_frame, p.off()) {
                (Some(f), Some(o)) => format!("a pointer to frame {f}'s stack at fp{o:+}"),
                (None, Some(0)) => "the frame pointer (top of the stack)".to_owned(),
                (None, Some(o)) => format!("a pointer to the stack at fp{o:+}"),
                _ => "a pointer to the stack".to_owned(),
            },
            PtrKind::MapPtr => match p.map_name() {
                Some(m) => format!("the map `{m}`"),
                None => "a map".to_owned(),
            },
            PtrKind::MapValue => match p.map_name() {
                Some(m) => format!("a pointer into a value of map `{m}`"),
                None => "a pointer into a map value".to_owned(),
            },
            PtrKind::MapValueOrNull => {
                "a map value pointer that may be NULL (not compared with 0 yet)".to_owned()
            }
            PtrKind::MapKey => "a pointer to a map key".to_owned(),
            PtrKind::Packet => "a packet pointer".to_owned(),
            PtrKind::PacketEnd => "the end of the packet (data_end)".to_owned(),
            PtrKind::PacketMeta => "a packet metadata pointer".to_owned(),
            PtrKind::Socket => format!("a socket pointer ({})", p.name),
            PtrKind::Mem => format!("a memory pointer ({})", p.name),
            PtrKind::Btf => format!("a kernel object pointer ({})", p.name),
            PtrKind::Other => format!("a pointer ({})", p.name),
        },
        Value::Unknown(s) => (*s).to_owned(),
    }
}

/// What a helper argument kind wants, when `v` is not it.
pub(super) fn expectation(kind: ArgKind, v: &Value<'_>) -> Option<&'static str> {
    let ptr = v.as_pointer().map(|p| p.kind);
    let ok = match kind {
        ArgKind::ConstMapPtr => ptr == Some(PtrKind::MapPtr),
        ArgKind::PtrToCtx => ptr == Some(PtrKind::Ctx),
        ArgKind::PtrToMapKey
        | ArgKind::PtrToMapValue
        | ArgKind::PtrToUninitMapValue
        | ArgKind::PtrToMem
        | ArgKind::PtrToUninitMem
        | ArgKind::PtrToStack => ptr.is_some_and(|k| {
            !matches!(
                k,
                PtrKind::MapPtr | PtrKind::MapValueOrNull | PtrKind::Ctx | PtrKind::PacketEnd
            )
        }),
        ArgKind::ConstSize | ArgKind::ConstSizeOrZero => ptr.is_none(),
        ArgKind::Anything | ArgKind::Other(_) => true,
    };
    if ok {
        return None;
    }
    Some(match kind {
        ArgKind::ConstMapPtr => "the helper expects a map here (`r1 = map ll`)",
        ArgKind::PtrToCtx => "the helper expects the context pointer here",
        ArgKind::ConstSize | ArgKind::ConstSizeOrZero => "the helper expects a size here",
        _ => "the helper expects a pointer to memory here (e.g. r10 plus a negative offset)",
    })
}

/// The stack slot contents in plain words: `fp-8=mmmm????` → `fp-4..fp-1 data, fp-8..fp-5
/// never written`.
pub fn describe_slot(off: i32, contents: &SlotContents<'_>) -> String {
    match contents {
        SlotContents::Spilled(v) => format!("a spilled register: {}", describe_value(v)),
        SlotContents::Types(t) => {
            // Character j is the byte at fp + off + 7 - j.
            let mut runs: Vec<(char, i32, i32)> = Vec::new();
            for (j, c) in t.chars().enumerate() {
                let byte = off + 7 - j as i32;
                match runs.last_mut() {
                    Some((rc, lo, _)) if *rc == c => *lo = byte,
                    _ => runs.push((c, byte, byte)),
                }
            }
            runs.reverse();
            let parts: Vec<String> = runs
                .iter()
                .map(|&(c, lo, hi)| {
                    let what = match c {
                        '?' => "never written",
                        'm' => "data",
                        '0' => "zero",
                        'r' => "part of a spilled register",
                        'd' => "dynptr",
                        'i' => "iterator",
                        'f' => "irq flag",
                        _ => "?",
                    };
                    if lo == hi {
                        format!("fp{lo} {what}")
                    } else {
                        format!("fp{lo}..fp{hi} {what}")
                    }
                })
                .collect();
            parts.join(", ")
        }
    }
}

/// `R1_w=map_ptr(...)` → `map_ptr(...)`.
pub(super) fn value_text(raw: &str) -> String {
    stack_pointer_text(raw.split_once('=').map_or(raw, |(_, v)| v))
}

/// A stack pointer as `fp-N`: the kernel prints offsets outside the 16-bit range in hex
/// (`fp0xffffffffffff7ff8`), which reads as `fp-32776`.
pub fn stack_pointer_text(value: &str) -> String {
    if let Some(rest) = value.strip_prefix("fp0x") {
        let digits = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        if let Ok(n) = u64::from_str_radix(&rest[..digits], 16) {
            return format!("fp{}{}", n as i64, &rest[digits..]);
        }
    }
    value.to_owned()
}

/// The instructions along the failing path (or the last path explored), in order: slot,
/// opcode, and the line decoded.
pub(super) fn path_slots(log: &VerifierLog<'_>) -> Vec<(u32, u8, Option<Insn>)> {
    log.path()
        .into_iter()
        .filter_map(|i| match log.records()[i].kind {
            Kind::Insn(l) => Some((l.insn, l.opcode, l.decode())),
            _ => None,
        })
        .collect()
}

/// The path as its branch decisions: `0 → 3 (taken) → 9 → 14`. Conditional jumps show
/// whether they were taken, gotos and calls where they went; a long path keeps its start and
/// end. `end` is appended to the last instruction (`✗` for the failing one).
pub fn path_summary(log: &VerifierLog<'_>, end: &str) -> String {
    let path = path_slots(log);
    let Some(&(first, ..)) = path.first() else {
        return String::new();
    };
    let mut tokens: Vec<String> = vec![first.to_string()];
    let mut last_token_slot = Some(first);
    for w in path.windows(2) {
        let (a, opcode, insn) = w[0];
        let (b, ..) = w[1];
        // `ld_imm64` (opcode 0x18) takes two slots.
        let width = if opcode == 0x18 { 2 } else { 1 };
        let fall = b == a + width;
        let note = match insn {
            Some(Insn::Jump { .. }) => Some(if fall { "(not taken)" } else { "(taken)" }),
            Some(Insn::Ja { .. } | Insn::JaLong { .. }) => Some("(goto)"),
            Some(Insn::Call(Callee::Local(_))) => Some("(call)"),
            Some(Insn::Exit) => Some("(return)"),
            _ if !fall => Some(""),
            _ => None,
        };
        if let Some(note) = note {
            let tok = if note.is_empty() {
                a.to_string()
            } else {
                format!("{a} {note}")
            };
            if last_token_slot == Some(a) {
                *tokens.last_mut().unwrap() = tok;
            } else {
                tokens.push(tok);
            }
            if !fall {
                tokens.push(b.to_string());
                last_token_slot = Some(b);
            } else {
                last_token_slot = Some(a);
            }
        }
    }
    let (last, ..) = *path.last().unwrap();
    let last_tok = if end.is_empty() {
        last.to_string()
    } else {
        format!("{last} {end}")
    };
    if last_token_slot == Some(last) {
        *tokens.last_mut().unwrap() = last_tok;
    } else {
        tokens.push(last_tok);
    }
    const KEEP: usize = 8;
    if tokens.len() > 2 * KEEP + 1 {
        let skipped = tokens.len() - 2 * KEEP;
        let mut t: Vec<String> = tokens[..KEEP].to_vec();
        t.push(format!("… {skipped} more …"));
        t.extend_from_slice(&tokens[tokens.len() - KEEP..]);
        tokens = t;
    }
    tokens.join(" → ")
}

/// Statistics in one line: `processed 7 instructions (limit 1000000) · states 0 (peak 0,
/// max_states_per_insn 0) · stack depth 8 bytes · verified in 21 µs`.
pub fn stats_line(s: &Stats) -> String {
    let mut parts = Vec::new();
    if let Some(p) = s.processed_insns {
        let limit = s
            .insn_limit
            .map(|l| format!(" (limit {l})"))
            .unwrap_or_default();
        parts.push(format!("processed {p} instructions{limit}"));
    }
    if let Some(t) = s.total_states {
        let mut more = Vec::new();
        if let Some(p) = s.peak_states {
            more.push(format!("peak {p}"));
        }
        if let Some(m) = s.max_states_per_insn {
            // The kernel's own name: the most states it compared at one instruction reached again,
            // which is 0 when no instruction was reached twice however many states it stored.
            more.push(format!("max_states_per_insn {m}"));
        }
        let more = if more.is_empty() {
            String::new()
        } else {
            format!(" ({})", more.join(", "))
        };
        parts.push(format!("states {t}{more}"));
    }
    if let Some(d) = s.total_stack_depth() {
        let split = if s.stack_depth.len() > 1 {
            let each: Vec<String> = s.stack_depth.iter().map(u32::to_string).collect();
            format!(" ({})", each.join("+"))
        } else {
            String::new()
        };
        parts.push(format!("stack depth {d} bytes{split}"));
    }
    if let Some(t) = s.verification_time_usec {
        parts.push(format!("verified in {t} µs"));
    }
    if parts.is_empty() {
        "none in this log".to_owned()
    } else {
        parts.join(" · ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_pointers_beyond_16_bits_read_as_fp_minus_n() {
        assert_eq!(stack_pointer_text("fp0xffffffffffff7ff8"), "fp-32776");
        assert_eq!(stack_pointer_text("fp-8"), "fp-8");
        assert_eq!(stack_pointer_text("fp0x10"), "fp16");
        assert_eq!(stack_pointer_text("fp0xzz"), "fp0xzz");
        assert_eq!(value_text("R2=fp0xffffffffffff7ff8"), "fp-32776");
    }

    #[test]
    fn slots_in_words() {
        assert_eq!(
            describe_slot(-8, &SlotContents::Types("mmmm????")),
            "fp-8..fp-5 never written, fp-4..fp-1 data"
        );
    }
}
