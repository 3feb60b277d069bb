//! `explain`: what a verifier message means, what usually causes it in hand-written code, and
//! the fix; the ABI of a helper; the role of a register.
//!
//! The message catalogue is keyed by the kernel's own format strings (from
//! `kernel/bpf/verifier.c`), so a message matches its entry whatever numbers and names the
//! kernel filled in.
//!
//! ```
//! use bpfsmith::explain::{explain, Topic};
//!
//! // A verifier line, as the kernel prints it.
//! let Topic::Messages(hits) = explain("cannot pass map_type 22 into func bpf_map_lookup_elem#1")
//! else { panic!() };
//! assert_eq!(hits[0].template, "cannot pass map_type %d into func %s#%d");
//!
//! // A helper, by name or number.
//! assert!(matches!(explain("88"), Topic::Helper(bpfsmith::helpers::Helper::MapPopElem)));
//! assert!(matches!(explain("bpf_map_push_elem"), Topic::Helper(_)));
//!
//! // A register.
//! assert!(explain("r10").render().contains("read-only frame pointer"));
//! ```

use std::fmt::Write;

use crate::helpers::{Helper, Ret};
use crate::insn::Reg;

/// One verifier message: its kernel format string and what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// The kernel's format string (`%d`, `%s` ... stand for what the kernel fills in).
    pub template: &'static str,
    /// The errno the load fails with.
    pub errno: &'static str,
    /// What it means, in plain words.
    pub meaning: &'static str,
    /// The usual cause in hand-written eBPF.
    pub cause: &'static str,
    /// The fix.
    pub fix: &'static str,
}

macro_rules! messages {
    ($({ $t:literal, $e:literal, $m:literal, $c:literal, $f:literal $(,)? }),* $(,)?) => {
        /// The catalogue of verifier messages.
        pub const MESSAGES: &[Message] = &[$(Message { template: $t, errno: $e, meaning: $m, cause: $c, fix: $f }),*];
    };
}

messages! [
    { "R%d !read_ok", "EACCES",
      "The instruction reads a register that holds no value on this path.",
      "r1-r5 read after a helper call (every call clobbers them; only r0 and r6-r9 survive), a helper called before all its argument registers were set (e.g. r3, the flags of bpf_map_push_elem), or r0 not set before exit.",
      "Set the register on every path before the read. Keep values that must live across a call in r6-r9 or on the stack, and reload map pointers (r1 = map ll) before each call." },
    { "R%d type=%s expected=%s", "EACCES",
      "A helper argument register holds the wrong kind of value.",
      "The registers are off by one or were clobbered by an earlier call: for map helpers r1 must be a map loaded with `r1 = map ll` (map_ptr) and r2 a pointer (usually r10 plus a negative offset), not a scalar.",
      "Load each argument into its register right before the call, in ABI order: r1 = map, r2 = pointer, r3 = flags, ..." },
    { "invalid indirect read from stack R%d off %d+%d size %d", "EACCES",
      "A helper would read stack bytes that were never written on this path.",
      "The value buffer passed to bpf_map_push_elem (or the key of a lookup/update) was not fully stored before the call, or the pointer is off by a few bytes from where the value was written. Privileged loads allow reading uninitialised stack, so this is seen by unprivileged loaders or for slots holding spilled pointers.",
      "Store all value_size bytes of the buffer first (e.g. *(u32 *)(r10 - 4) = 1234) and pass exactly that address (r2 = r10; r2 += -4)." },
    { "invalid read from stack R%d off=%d size=%d", "EACCES",
      "A helper would read stack bytes that were never written on this path (the form Linux 6.x prints).",
      "The value buffer passed to bpf_map_push_elem (or the key of a lookup/update) was not stored before the call, or the pointer is off by a few bytes from where the value was written. Privileged loads (CAP_PERFMON) allow reading uninitialised stack, so this is seen by less privileged loaders.",
      "Store all value_size bytes of the buffer first (e.g. *(u32 *)(r10 - 4) = 1234) and pass exactly that address (r2 = r10; r2 += -4)." },
    { "invalid indirect access to stack R%d off=%d size=%d", "EACCES",
      "A helper's memory argument points outside the 512-byte stack frame.",
      "The offset added to r10 is positive, below -512, or the buffer of value_size bytes starting there runs past r10.",
      "Pass r10 plus a negative offset with the whole buffer inside [r10 - 512, r10)." },
    { "cannot pass map_type %d into func %s#%d", "EINVAL",
      "The helper does not work on this type of map.",
      "A queue (22) or stack (23) passed to bpf_map_lookup_elem/update/delete, or a hash/array map passed to bpf_map_push_elem/pop/peek. Queue and stack maps take only helpers 87, 88 and 89.",
      "Use push/pop/peek (87/88/89) on queue and stack maps, and lookup/update/delete (1/2/3) on the others." },
    { "write into map forbidden, value_size=%d off=%d size=%d", "EACCES",
      "The program writes into a map value, but the map was created read-only for programs.",
      "The map has BPF_F_RDONLY_PROG, or it is a frozen read-only data map.",
      "Drop BPF_F_RDONLY_PROG from the map's flags, or do not store through the pointer." },
    { "read from map forbidden, value_size=%d off=%d size=%d", "EACCES",
      "The program reads a map value, but the map was created write-only for programs.",
      "The map has BPF_F_WRONLY_PROG.",
      "Drop BPF_F_WRONLY_PROG from the map's flags." },
    { "invalid access to map value, value_size=%d off=%d size=%d", "EACCES",
      "A load or store through a map value pointer goes past the value.",
      "The offset plus access size is larger than the map's value_size, or negative.",
      "Keep every access within [0, value_size); check variable offsets against the bound first." },
    { "R%d invalid mem access '%s'", "EACCES",
      "The register is dereferenced, but it is not a pointer the program may use (shown in quotes).",
      "'map_value_or_null': the result of bpf_map_lookup_elem used without a NULL check. 'scalar': a number used as an address, often a register clobbered by a call.",
      "After a lookup, `if r0 == 0 goto out` before using r0; dereference only pointers the verifier knows (ctx, stack, map values, checked packet)." },
    { "Possibly NULL pointer passed to helper arg%d", "EACCES",
      "A pointer that may be NULL is passed where the helper needs a valid one.",
      "The result of a lookup is passed on without a NULL check.",
      "Check the pointer against 0 before passing it." },
    { "invalid%s stack R%d off=%d size=%d", "EACCES",
      "A load or store through the frame pointer falls outside the 512-byte stack.",
      "A positive offset from r10 (the stack grows down), or one below -512.",
      "Use offsets from -512 up to -size." },
    { "invalid read from stack off %d+%d size %d", "EACCES",
      "A load from the stack reads bytes never written on this path.",
      "Reading a buffer before storing to it, in an unprivileged load.",
      "Store to the slot on every path before loading it." },
    { "misaligned %saccess off %s+%d+%d size %d", "EACCES",
      "The access is not aligned to its size; stack accesses are always checked strictly.",
      "An 8-byte load or store at r10 - 12, or a 4-byte one at r10 - 6.",
      "Align each slot to its size (r10 - 8, - 16 for 8-byte values; multiples of 4 for 4-byte ones)." },
    { "frame pointer is read only", "EACCES",
      "The program writes to r10.",
      "r10 used as a scratch register, e.g. `r10 += -4` instead of `r2 = r10; r2 += -4`.",
      "Copy r10 into another register and adjust that one." },
    { "unreachable insn %d", "EINVAL",
      "No path reaches this instruction; the verifier refuses dead code.",
      "Code after an unconditional `goto` or `exit`, or a label nothing jumps to.",
      "Remove the dead instructions or jump to them." },
    { "jump out of range from insn %d to %d", "EINVAL",
      "A jump lands outside the program.",
      "A hand-computed offset (remember offsets count slots from the next instruction, and ld_imm64 takes two slots).",
      "Use labels instead of numeric offsets." },
    { "back-edge from insn %d to %d", "EINVAL",
      "A jump goes backwards, making a loop the verifier could not prove bounded (older kernels refuse every loop).",
      "A loop whose exit condition the verifier cannot see decreasing, or a backward jump in a program for an old kernel.",
      "Bound the loop with a counter compared against a constant, use may_goto, or bpf_loop." },
    { "infinite loop detected at insn %d", "EINVAL",
      "The verifier reached the same state twice inside a loop: it never ends.",
      "The loop counter is not changed on some path, or is compared with the wrong condition.",
      "Change the counter on every iteration and compare it against a constant bound." },
    { "BPF program is too large. Processed %d insn", "E2BIG",
      "Verification explored more than one million instructions across all paths.",
      "Many branches that the verifier cannot merge (states differ by exact scalars), or long unrolled loops.",
      "Fewer branches, fewer distinct constants in registers at join points, loops with may_goto or bpf_loop." },
    { "invalid func %s#%d", "EINVAL",
      "The helper number does not exist in this kernel.",
      "A typo in `call N`, or a helper newer than the running kernel.",
      "Check the number with `bpfsmith explain N`." },
    { "unknown func %s#%d", "EINVAL",
      "The kernel does not offer this helper to this program type.",
      "A tracing helper called from a socket filter, or the like.",
      "Use a program type that may call the helper, or another helper." },
    { "program of this type cannot use helper %s#%d", "EINVAL",
      "The helper exists but is not allowed for this program type.",
      "The program's section (and so its type) does not match what the helper needs.",
      "Change the section (e.g. `socket`, `xdp`, `tc`) or the helper." },
    { "R%d min value is negative, either use unsigned or 'var &= const'", "EACCES",
      "An offset register may be negative where only non-negative values are safe.",
      "A signed value used as an index or size without a lower bound check.",
      "Check `if rX s< 0 goto out` first, or mask it (`rX &= 0xff`)." },
    { "R%d unbounded memory access, make sure to bounds check any such access", "EACCES",
      "An access uses a variable offset with no known upper bound.",
      "An index loaded from a map or packet used without comparing it to a limit.",
      "Compare the index against the buffer size before the access." },
    { "R%d max value is outside of the allowed memory range", "EACCES",
      "A variable offset can exceed the end of the memory region.",
      "The upper bound check is missing or off by one.",
      "Tighten the bound check so offset + size fits." },
    { "invalid access to packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)", "EACCES",
      "A packet access is not covered by a check against data_end.",
      "The comparison with data_end is missing, done on another register, or too short for the access.",
      "Check `if rX + size > data_end goto out` on the same pointer before the access." },
    { "Unreleased reference id=%d alloc_insn=%d", "EINVAL",
      "The program can exit while holding a reference it acquired (a socket, a ring buffer reservation ...).",
      "A path that skips the release helper.",
      "Release (or submit/discard) on every path before exit." },
    { "last insn is not an exit or jmp", "EINVAL",
      "The program can run off its end.",
      "The final `exit` is missing, or the last instruction is a conditional jump.",
      "End every path with `exit`." },
    { "the call stack of %d frames is too deep !", "E2BIG",
      "bpf-to-bpf calls nest deeper than 8 frames.",
      "Recursion or a deep call chain.",
      "Flatten the calls." },
    { "combined stack size of %d calls is %d. Too large", "EACCES",
      "The stack frames of a call chain add up to more than 512 bytes.",
      "Large buffers in several nested functions.",
      "Use smaller buffers, or a per-CPU array map as scratch space." },
    { "div by zero", "EINVAL",
      "A division or modulo by the immediate 0.",
      "`r1 /= 0` written by hand.",
      "Divide by a non-zero constant (division by a register that is 0 at run time gives 0 and is allowed)." },
    { "invalid shift %d", "EINVAL",
      "A shift by an immediate not smaller than the operand width.",
      "`w1 <<= 32` or `r1 >>= 64`.",
      "Shift by less than 32 (32-bit) or 64 (64-bit)." },
    { "R%d pointer arithmetic on %s prohibited", "EACCES",
      "Arithmetic on a pointer kind that must not be moved (a map pointer, a nullable pointer ...).",
      "Adding to the result of a lookup before the NULL check, or to r1 = map.",
      "Check for NULL first; never change map pointers." },
    { "R%d leaks addr into map", "EACCES",
      "An unprivileged program stores a kernel pointer into a map.",
      "Storing a stack or map pointer as a value.",
      "Store numbers, not pointers." },
    { "At program exit the register R%d has %s should have been in %s", "EINVAL",
      "The return value is outside the range this program type allows.",
      "Returning an error code or a large value from a program type whose return means a verdict (e.g. cgroup programs return 0 or 1).",
      "Return a value in the range the program type documents." },
    { "invalid BPF_LD_IMM insn", "EINVAL",
      "An ld_imm64 is malformed: its second slot is missing or not zero outside its immediate.",
      "A hand-encoded 16-byte ld_imm64 with a bad second half, or a jump into its second slot.",
      "Emit ld_imm64 as one instruction of two slots; count it as two slots in jump offsets." },
    { "fd %d is not pointing to valid bpf_map", "EBADF",
      "An ld_imm64 with src=1 carries a number that is not a map file descriptor.",
      "A map reference that the loader did not patch (a missing relocation).",
      "Reference maps by symbol (`r1 = queue ll`) so the loader fills in the fd." },
    { "math between %s pointer and register with unbounded min value is not allowed", "EACCES",
      "A pointer is offset by a register whose lower bound is unknown.",
      "Adding an unchecked index to a map value or packet pointer.",
      "Bound the register (compare, or mask) before the addition." },
    { "processed %d insns (limit %d) max_states_per_insn %d total_states %d peak_states %d mark_read %d", "",
      "The statistics footer: how many instructions the verifier walked over all paths and how many states it kept.",
      "Printed for every load with log level 4, and at the end of every log.",
      "Nothing to fix. A count near the limit (1000000) means the program is close to being refused as too large." },
];

/// What a topic turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topic {
    /// Verifier messages that match, best first.
    Messages(Vec<&'static Message>),
    /// A helper.
    Helper(Helper),
    /// A register.
    Register(Reg, bool),
    /// Nothing matched.
    Unknown(String),
}

/// Find what `topic` is: a verifier message (or any part of one), a helper by name or number,
/// or a register (`r10`, `w3`).
pub fn explain(topic: &str) -> Topic {
    let t = topic.trim();
    if let Some(reg) = parse_reg(t) {
        return reg;
    }
    // A helper is one word: `87`, `bpf_map_push_elem`, `call bpf_map_push_elem#87`.
    let bare = t.trim_start_matches("call ").trim();
    if !bare.contains(char::is_whitespace) {
        let (name, num) = match bare.split_once('#') {
            Some((n, id)) => (n, id.parse::<u32>().ok()),
            None => (bare, bare.parse::<u32>().ok()),
        };
        if let Some(h) = num
            .and_then(Helper::from_id)
            .or_else(|| Helper::from_name(name))
        {
            return Topic::Helper(h);
        }
    }
    let hits = match_messages(t);
    if hits.is_empty() {
        Topic::Unknown(t.to_owned())
    } else {
        Topic::Messages(hits)
    }
}

/// Topics near an unknown one: for a number outside the helper table, its range; otherwise
/// the helpers whose name contains the word (`pop`: `bpf_map_pop_elem`), else the names
/// closest to it (typos), at most five.
pub fn suggestions(topic: &str) -> Vec<String> {
    let t = topic.trim().to_ascii_lowercase();
    if t.is_empty() {
        return Vec::new();
    }
    let last = Helper::ALL.iter().map(|h| h.id()).max().unwrap_or(0);
    if t.parse::<u64>().is_ok() {
        return vec![format!(
            "a helper number from 1 to {last} (87 bpf_map_push_elem, 88 bpf_map_pop_elem, \
             89 bpf_map_peek_elem)"
        )];
    }
    let word = t.trim_start_matches("bpf_");
    let mut hits: Vec<&Helper> = Helper::ALL
        .iter()
        .filter(|h| h.name().contains(word))
        .collect();
    if hits.is_empty() {
        let mut scored: Vec<(f64, &Helper)> = Helper::ALL
            .iter()
            .map(|h| {
                let name = h.name().trim_start_matches("bpf_");
                (strsim::jaro_winkler(word, name), h)
            })
            .filter(|(score, _)| *score >= 0.85)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        hits = scored.into_iter().map(|(_, h)| h).collect();
    }
    // The queue/stack helpers this tool teaches come first.
    hits.sort_by_key(|h| !(87..=89).contains(&h.id()));
    hits.truncate(5);
    let mut out: Vec<String> = hits
        .iter()
        .map(|h| format!("{} ({})", h.name(), h.id()))
        .collect();
    if out.is_empty() && (t.starts_with('r') || t.starts_with('w')) && t.len() <= 3 {
        out.push("a register: r0 to r10, or w0 to w10 for the 32-bit view".to_owned());
    }
    out
}

fn parse_reg(t: &str) -> Option<Topic> {
    let lower = t.to_ascii_lowercase();
    let (wide, n) = if let Some(n) = lower.strip_prefix('r') {
        (true, n)
    } else {
        (false, lower.strip_prefix('w')?)
    };
    let reg = Reg::from_num(n.parse().ok()?)?;
    Some(Topic::Register(reg, wide))
}

/// The literal pieces of a format string, between its conversions.
fn fragments(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('%') {
        out.push(&rest[..i]);
        // Skip the conversion: flags, width, length modifiers, then the letter.
        let conv = rest[i + 1..]
            .find(|c: char| c.is_ascii_alphabetic() && !matches!(c, 'l' | 'h' | 'z'))
            .map_or(rest.len(), |j| i + 1 + j + 1);
        rest = &rest[conv.min(rest.len())..];
    }
    out.push(rest);
    out.into_iter().filter(|f| !f.is_empty()).collect()
}

/// Whether `text` contains the template's literal pieces in order.
fn matches_template(text: &str, template: &str) -> bool {
    let mut pos = 0;
    for f in fragments(template) {
        match text[pos..].find(f) {
            Some(i) => pos += i + f.len(),
            None => return false,
        }
    }
    true
}

/// Catalogue entries whose template matches a whole message, or, for a part of one, whose
/// literal text contains it.
pub fn match_messages(text: &str) -> Vec<&'static Message> {
    let text = text.trim();
    let whole: Vec<_> = MESSAGES
        .iter()
        .filter(|m| matches_template(text, m.template))
        .collect();
    if !whole.is_empty() {
        return whole;
    }
    let needle = text.to_ascii_lowercase();
    if needle.len() < 3 {
        return Vec::new();
    }
    MESSAGES
        .iter()
        .filter(|m| {
            let literal: String = fragments(m.template).concat().to_ascii_lowercase();
            literal.contains(&needle) || m.template.to_ascii_lowercase().contains(&needle)
        })
        .collect()
}

impl Message {
    /// The entry as text: the message, then meaning, cause and fix.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "verifier message: {}", self.template);
        if !self.errno.is_empty() {
            let _ = writeln!(s, "  load fails with: {}", self.errno);
        }
        let _ = writeln!(s, "  meaning: {}", self.meaning);
        let _ = writeln!(s, "  usual cause: {}", self.cause);
        let _ = writeln!(s, "  fix: {}", self.fix);
        s
    }
}

/// A helper's ABI as text: prototype, registers, return value, errors, note and an example.
pub fn render_helper(h: Helper) -> String {
    let info = h.info();
    let mut s = String::new();
    let _ = writeln!(s, "helper {}#{}", h.name(), h.id());
    if !info.proto.is_empty() {
        let _ = writeln!(s, "  {}", info.proto);
    }
    if !info.summary.is_empty() {
        let _ = writeln!(s, "  {}", info.summary);
    }
    match info.args {
        Some(args) => {
            let _ = writeln!(s, "\n  arguments:");
            for (i, a) in args.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "    r{} = {:<6} ({}) {}",
                    i + 1,
                    a.name,
                    a.kind.kernel_name(),
                    a.doc
                );
            }
            let ret = match info.ret {
                Ret::Unknown => String::new(),
                r => r.kernel_name().to_owned(),
            };
            let _ = writeln!(s, "    r0 <- result ({ret})");
            let _ = writeln!(
                s,
                "    r1-r5 are clobbered by the call; r6-r9 and r10 are preserved."
            );
        }
        None => {
            let _ = writeln!(
                s,
                "\n  Arguments are not described here yet: the call takes them in r1-r5 and \
                 returns in r0; r1-r5 are clobbered."
            );
        }
    }
    if !info.errors.is_empty() {
        let _ = writeln!(s, "\n  errors (r0 = -errno):");
        for e in info.errors {
            let _ = writeln!(s, "    -{} ({}): {}", e.errno, -e.value, e.when);
        }
    }
    if crate::program::lint::INT_RESULT_HELPERS.contains(&h) {
        let err = crate::program::lint::example_error(h.id() as i32);
        let _ = writeln!(
            s,
            "\n  r0 before Linux 6.4: the x86 JIT calls the map's operation directly, and it \
             returned int, so an error reaches r0 zero-extended ({err} arrives as {:#018x}); the \
             interpreter, and Linux 6.4 on (long), sign-extend it. Test the low 32 bits, which \
             every kernel agrees on: `if w0 != 0 goto fail`, `if w0 == {err} goto ...` (JMP32; \
             `p.jump_if(W0, ...)` in the DSL). A 64-bit compare of r0 with a negative number, or \
             a signed one (`if r0 s< 0`), goes the other way on those kernels; the assembler \
             warns about them, and `Program::warnings` lists them for DSL programs.",
            err as u32 as u64
        );
    }
    if !info.note.is_empty() {
        let _ = writeln!(s, "\n  how to call it: {}", info.note);
    }
    if let Some(example) = helper_example(h) {
        let _ = writeln!(s, "\n  example (assembly, then the DSL):\n{example}");
    }
    s
}

fn helper_example(h: Helper) -> Option<&'static str> {
    Some(match h {
        Helper::MapPushElem => {
            "    *(u32 *)(r10 - 4) = 1234   # the value, on the stack\n    r1 = queue ll              # r1: the map\n    r2 = r10\n    r2 += -4                   # r2: pointer to the value\n    r3 = 0                     # r3: BPF_ANY (2 = BPF_EXIST)\n    call bpf_map_push_elem     # r0: 0, -E2BIG (full) or -EINVAL (flags)\n\n    p.store(Size::U32, R10, -4, 1234);\n    p.push(&queue, StackSlot::at(-4), PushFlags::ANY);"
        }
        Helper::MapPopElem => {
            "    r1 = queue ll              # r1: the map\n    r2 = r10\n    r2 += -8                   # r2: where the element goes\n    call bpf_map_pop_elem      # r0: 0, or -ENOENT when empty\n    if w0 != 0 goto empty      # the low 32 bits: the same on every kernel\n    r0 = *(u32 *)(r10 - 8)     # the element\n\n    p.pop(&queue, StackSlot::at(-8));\n    p.jump_if(W0, Cond::Ne, 0, empty);\n    p.load(Size::U32, R0, R10, -8);"
        }
        Helper::MapPeekElem => {
            "    r1 = stack ll              # r1: the map\n    r2 = r10\n    r2 += -8                   # r2: where the element is copied\n    call bpf_map_peek_elem     # r0: 0, or -ENOENT when empty; the map is unchanged\n\n    p.peek(&stack, StackSlot::at(-8));"
        }
        Helper::MapLookupElem => {
            "    *(u32 *)(r10 - 4) = 0      # the key\n    r1 = counts ll\n    r2 = r10\n    r2 += -4\n    call bpf_map_lookup_elem   # r0: pointer to the value, or NULL\n    if r0 == 0 goto out        # required before using r0"
        }
        _ => return None,
    })
}

fn render_register(reg: Reg, wide: bool) -> String {
    let role = match reg {
        Reg::R0 => "the return value: helpers and bpf-to-bpf calls leave their result here, and `exit` returns it. It must be set before exit.",
        Reg::R1 => "the first argument of a call, and the context pointer (ctx) when the program starts. Clobbered by every call.",
        Reg::R2 | Reg::R3 | Reg::R4 | Reg::R5 => "an argument register of calls (r2 is the second argument, r5 the fifth). Clobbered by every call: reading it after a call is `!read_ok`.",
        Reg::R6 | Reg::R7 | Reg::R8 | Reg::R9 => "callee-saved: calls preserve it, so keep values that must survive a call here.",
        Reg::R10 => "the read-only frame pointer: the top of the 512-byte stack. Stack slots are r10 - 1 .. r10 - 512; copy it to another register to build a pointer (`r2 = r10; r2 += -4`). Writing to it is refused (`frame pointer is read only`).",
    };
    let view = if wide {
        format!(
            "`{reg}` names all 64 bits; `w{}` is its low 32-bit half",
            reg.num()
        )
    } else {
        format!("`w{}` is the low 32-bit half of {reg}: ALU32 operations read it and zero the high half", reg.num())
    };
    format!("{reg}: {role}\n{view}.\n")
}

/// What `explain` can be asked, with an example of each kind: printed when no topic is given.
pub fn overview() -> String {
    let mut s = String::from("bpfsmith explain TOPIC, where TOPIC is one of:\n");
    s.push_str(&format!(
        "  a verifier message, or any part of one ({} known), e.g. \"R2 !read_ok\", \"cannot pass map_type\"\n",
        MESSAGES.len()
    ));
    s.push_str(&format!(
        "  a helper, by number (1 to {}) or name, e.g. 87, bpf_map_pop_elem, map_peek_elem\n",
        Helper::ALL.len() - 1
    ));
    s.push_str("  a register, r0 to r10 or its 32-bit half w0 to w10, e.g. r10, w0\n");
    s
}

impl Topic {
    /// The explanation as text.
    pub fn render(&self) -> String {
        match self {
            Topic::Messages(ms) => ms.iter().map(|m| m.render()).collect::<Vec<_>>().join("\n"),
            Topic::Helper(h) => render_helper(*h),
            Topic::Register(r, wide) => render_register(*r, *wide),
            Topic::Unknown(t) => {
                let mut s = format!(
                    "nothing known about `{t}`: try a verifier message (or part of one), a helper name or number, or a register\n"
                );
                let near = suggestions(t);
                if !near.is_empty() {
                    s.push_str(&format!("did you mean: {}\n", near.join(", ")));
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_topics_get_the_nearest_ones() {
        let pop = suggestions("pop");
        assert!(pop.iter().any(|s| s == "bpf_map_pop_elem (88)"), "{pop:?}");
        let typo = suggestions("bpf_map_pusj_elem");
        assert_eq!(
            typo.first().map(String::as_str),
            Some("bpf_map_push_elem (87)")
        );
        assert!(suggestions("999")[0].contains("from 1 to"));
        assert!(suggestions("r11")[0].contains("r0 to r10"));
        assert!(suggestions("zzzzqqqq").is_empty());
        let text = explain("pop").render();
        assert!(text.contains("did you mean: "), "{text}");
    }

    #[test]
    fn the_catalogue_covers_at_least_25_messages() {
        assert!(MESSAGES.len() >= 25);
        // Templates are unique.
        let mut t: Vec<_> = MESSAGES.iter().map(|m| m.template).collect();
        t.sort();
        t.dedup();
        assert_eq!(t.len(), MESSAGES.len());
    }

    #[test]
    fn real_messages_match_their_templates() {
        // Lines as Linux 6.18 prints them.
        let cases = [
            ("R1 type=scalar expected=map_ptr", "R%d type=%s expected=%s"),
            ("R3 !read_ok", "R%d !read_ok"),
            ("invalid indirect read from stack R2 off -8+0 size 4", "invalid indirect read from stack R%d off %d+%d size %d"),
            ("invalid read from stack R2 off=-4 size=4", "invalid read from stack R%d off=%d size=%d"),
            ("write into map forbidden, value_size=4 off=0 size=4", "write into map forbidden, value_size=%d off=%d size=%d"),
            ("R0 invalid mem access 'map_value_or_null'", "R%d invalid mem access '%s'"),
            ("processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0", "processed %d insns (limit %d) max_states_per_insn %d total_states %d peak_states %d mark_read %d"),
        ];
        for (line, template) in cases {
            let hits = match_messages(line);
            assert_eq!(hits.first().map(|m| m.template), Some(template), "{line}");
        }
    }

    #[test]
    fn part_of_a_message_is_enough() {
        let Topic::Messages(hits) = explain("frame pointer") else {
            panic!()
        };
        assert_eq!(hits[0].template, "frame pointer is read only");
        assert!(matches!(explain("no such thing at all"), Topic::Unknown(_)));
    }

    #[test]
    fn helpers_and_registers() {
        assert_eq!(explain("87"), Topic::Helper(Helper::MapPushElem));
        assert_eq!(
            explain("call bpf_map_push_elem#87"),
            Topic::Helper(Helper::MapPushElem)
        );
        assert_eq!(explain("map_peek_elem"), Topic::Helper(Helper::MapPeekElem));
        let push = explain("87").render();
        assert!(push.contains("r3 = flags"), "{push}");
        assert!(push.contains("-E2BIG (-7)"), "{push}");
        // Helpers whose int result the JIT zero-extended before 6.4 say to test w0.
        for (topic, err) in [
            ("87", "-7 arrives as 0x00000000fffffff9"),
            ("88", "-2 arrives as 0x00000000fffffffe"),
            ("89", "-2 arrives"),
            ("2", "-7 arrives"),
            ("3", "-2 arrives"),
        ] {
            let text = explain(topic).render();
            assert!(text.contains("r0 before Linux 6.4"), "{text}");
            assert!(text.contains(err), "{text}");
            assert!(text.contains("`if w0 != 0 goto fail`"), "{text}");
        }
        let lookup = explain("1").render();
        assert!(!lookup.contains("Linux 6.4"), "{lookup}");
        assert!(explain("w3").render().contains("low 32-bit half of r3"));
        assert!(overview().contains("87, bpf_map_pop_elem"));
        for example in [
            "87",
            "bpf_map_pop_elem",
            "map_peek_elem",
            "r10",
            "w0",
            "R2 !read_ok",
            "cannot pass map_type",
        ] {
            assert!(!matches!(explain(example), Topic::Unknown(_)), "{example}");
        }
        assert!(matches!(
            explain("r11"),
            Topic::Unknown(_) | Topic::Messages(_)
        ));
    }
}
