//! Register and stack-slot states as the verifier prints them, parsed into typed values.
//!
//! A state is a run of space-separated entries: `R0_w=scalar(smin=0,smax=7,var_off=(0x0; 0x7))
//! R1=ctx() R10=fp0 fp-8=mmmmmmmm refs=2`, optionally led by `frameN:`. Entries are split at
//! spaces outside parentheses. Everything is borrowed from the log text; nothing here fails:
//! what is not understood is kept as [`Value::Unknown`] or in [`State::other`].

use std::fmt;

/// A state as printed, not parsed yet: a slice of the log. Parse it with [`StateText::parse`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateText<'a>(pub &'a str);

impl<'a> StateText<'a> {
    /// The text as printed.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether there is no state text at all.
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Parse the entries. Allocates the result's vectors; never fails.
    pub fn parse(&self) -> State<'a> {
        State::parse(self.0)
    }
}

impl fmt::Display for StateText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A parsed state: the registers and stack slots one line shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State<'a> {
    /// The call frame, from a leading `frameN:` (`None` when absent, which means the current
    /// frame, frame 0 in a program without bpf-to-bpf calls).
    pub frame: Option<u8>,
    /// Registers, in the order printed.
    pub regs: Vec<RegState<'a>>,
    /// Stack slots, in the order printed.
    pub slots: Vec<StackSlotState<'a>>,
    /// Acquired references (`refs=1,2`), the text after `refs=`.
    pub refs: Option<&'a str>,
    /// Entries that are neither registers, slots nor `refs=` (kept as printed).
    pub other: Vec<&'a str>,
}

impl<'a> State<'a> {
    /// Parse a state's text. Never fails.
    pub fn parse(text: &'a str) -> State<'a> {
        let mut st = State::default();
        for (i, tok) in Tokens::new(text).enumerate() {
            if i == 0 {
                if let Some(n) = tok.strip_prefix("frame").and_then(|r| r.strip_suffix(':')) {
                    if let Ok(n) = n.parse() {
                        st.frame = Some(n);
                        continue;
                    }
                }
            }
            if let Some(r) = RegState::parse(tok) {
                st.regs.push(r);
            } else if let Some(s) = StackSlotState::parse(tok) {
                st.slots.push(s);
            } else if let Some(r) = tok.strip_prefix("refs=") {
                st.refs = Some(r);
            } else {
                st.other.push(tok);
            }
        }
        st
    }

    /// The state of register `n` (0..=10), if this line shows it.
    pub fn reg(&self, n: u8) -> Option<&RegState<'a>> {
        self.regs.iter().find(|r| r.reg == n)
    }

    /// The state of the stack slot at `fp + off` (`off` < 0), if this line shows it.
    pub fn slot(&self, off: i32) -> Option<&StackSlotState<'a>> {
        self.slots.iter().find(|s| s.off == off)
    }
}

/// Iterator over the space-separated entries of a state, at parenthesis depth 0.
#[derive(Clone, Debug)]
pub struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Tokens<'a> {
    /// Entries of `text`.
    pub fn new(text: &'a str) -> Tokens<'a> {
        Tokens { rest: text }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches([' ', '\t', '\r']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let mut depth = 0i32;
        let mut end = s.len();
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b' ' | b'\t' | b'\r' if depth <= 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        self.rest = &s[end..];
        Some(&s[..end])
    }
}

/// Marks printed after a register or slot name: `R0_w`, `R0_rw`, `fp-8_w`.
fn split_marks(name: &str) -> (&str, &str) {
    match name.find('_') {
        Some(i) => (&name[..i], &name[i + 1..]),
        None => (name, ""),
    }
}

/// One register's state: `R0_w=P0` is register 0, written, precise, the constant 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegState<'a> {
    /// Register number, 0..=10.
    pub reg: u8,
    /// `_w`: written on this path since the last checkpoint.
    pub written: bool,
    /// `_r` (older kernels): read on this path.
    pub read: bool,
    /// `P`: the value is precise (it mattered to a safety decision).
    pub precise: bool,
    /// The value.
    pub value: Value<'a>,
    /// The entry as printed.
    pub raw: &'a str,
}

impl<'a> RegState<'a> {
    /// Parse one `Rn[_marks]=value` entry.
    pub fn parse(tok: &'a str) -> Option<RegState<'a>> {
        let rest = tok.strip_prefix('R')?;
        let (name, value) = rest.split_once('=')?;
        let (num, marks) = split_marks(name);
        let reg: u8 = num.parse().ok()?;
        if reg > 10 {
            return None;
        }
        let (precise, value) = Value::parse_marked(value);
        Some(RegState {
            reg,
            written: marks.contains('w'),
            read: marks.contains('r'),
            precise,
            value,
            raw: tok,
        })
    }
}

/// One stack slot's state: `fp-8=mmmmmmmm`, `fp-8_w=42`, `fp-16=map_value(...)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackSlotState<'a> {
    /// Offset from the frame pointer (negative, a multiple of 8).
    pub off: i32,
    /// `_w`: written on this path.
    pub written: bool,
    /// `_r` (older kernels): read on this path.
    pub read: bool,
    /// `P`: a spilled value that is precise.
    pub precise: bool,
    /// What the slot holds.
    pub contents: SlotContents<'a>,
    /// The entry as printed.
    pub raw: &'a str,
}

impl<'a> StackSlotState<'a> {
    /// Parse one `fp-N[_marks]=...` entry.
    pub fn parse(tok: &'a str) -> Option<StackSlotState<'a>> {
        let rest = tok.strip_prefix("fp")?;
        let (name, value) = rest.split_once('=')?;
        let (num, marks) = split_marks(name);
        if !num.starts_with('-') {
            return None;
        }
        let off: i32 = num.parse().ok()?;
        let (precise, contents) = if is_slot_types(value) {
            (false, SlotContents::Types(value))
        } else {
            let (p, v) = Value::parse_marked(value);
            (p, SlotContents::Spilled(v))
        };
        Some(StackSlotState {
            off,
            written: marks.contains('w'),
            read: marks.contains('r'),
            precise,
            contents,
            raw: tok,
        })
    }
}

/// The slot-type characters the kernel prints, one per byte: `?` invalid, `m` misc, `0` zero,
/// `r` spilled register, `d` dynptr, `i` iterator, `f` irq flag.
pub const SLOT_TYPE_CHARS: &str = "?m0rdif";

fn is_slot_types(v: &str) -> bool {
    v.len() == 8 && v.bytes().all(|b| SLOT_TYPE_CHARS.as_bytes().contains(&b))
}

/// The contents of a stack slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotContents<'a> {
    /// Eight slot-type characters, one per byte, see [`SLOT_TYPE_CHARS`] (`mmmm????`).
    Types(&'a str),
    /// A spilled register's value.
    Spilled(Value<'a>),
}

/// A register's or spilled slot's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A known constant: `R0=0`, `R1=42`, `R2=-1`, older `inv0`, `imm0`.
    Const(i64),
    /// A scalar with bounds: `scalar(smin=...)`, `scalar()`, older `inv(...)`, `inv`.
    Scalar(Scalar),
    /// A pointer: `ctx()`, `fp-8`, `map_value(map=array,ks=4,vs=8)`, `pkt_end()`, ...
    Pointer(Pointer<'a>),
    /// Anything else, as printed.
    Unknown(&'a str),
}

impl<'a> Value<'a> {
    /// Parse a value, returning the precise mark (`P` prefix, or older `invP`) separately.
    pub fn parse_marked(v: &'a str) -> (bool, Value<'a>) {
        if let Some(rest) = v.strip_prefix('P') {
            let b = rest.as_bytes().first().copied();
            if matches!(b, Some(b'0'..=b'9' | b'-')) || rest.starts_with("scalar") {
                return (true, Value::parse(rest));
            }
        }
        if let Some(rest) = v.strip_prefix("invP") {
            let val = Value::parse_inv(rest);
            return (true, val);
        }
        (false, Value::parse(v))
    }

    /// Parse a value without a precise mark.
    pub fn parse(v: &'a str) -> Value<'a> {
        if let Some(n) = parse_int(v) {
            return Value::Const(n);
        }
        if let Some(p) = v.strip_prefix("scalar") {
            if p.is_empty() {
                return Value::Scalar(Scalar::default());
            }
            if let Some(params) = paren_body(p) {
                return Value::Scalar(Scalar::from_params(params));
            }
            return Value::Unknown(v);
        }
        if let Some(rest) = v.strip_prefix("inv") {
            return Value::parse_inv(rest);
        }
        if let Some(rest) = v.strip_prefix("imm") {
            // 4.x kernels: `imm5,min_value=5,max_value=5`.
            let num = rest.split(',').next().unwrap_or("");
            if let Some(n) = parse_int(num) {
                return Value::Const(n);
            }
        }
        match Pointer::parse(v) {
            Some(p) => Value::Pointer(p),
            None => Value::Unknown(v),
        }
    }

    fn parse_inv(rest: &'a str) -> Value<'a> {
        if rest.is_empty() {
            return Value::Scalar(Scalar::default());
        }
        if let Some(n) = parse_int(rest) {
            return Value::Const(n);
        }
        if let Some(params) = paren_body(rest) {
            return Value::Scalar(Scalar::from_params(params));
        }
        Value::Unknown(rest)
    }

    /// The constant, for [`Value::Const`] and for scalars whose bounds pin one value.
    pub fn as_const(&self) -> Option<i64> {
        match self {
            Value::Const(n) => Some(*n),
            Value::Scalar(s) => s.as_const(),
            _ => None,
        }
    }

    /// The pointer, for [`Value::Pointer`].
    pub fn as_pointer(&self) -> Option<&Pointer<'a>> {
        match self {
            Value::Pointer(p) => Some(p),
            _ => None,
        }
    }

    /// The scalar, for [`Value::Scalar`].
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// The body of `(…)` when `s` is exactly one parenthesised group.
fn paren_body(s: &str) -> Option<&str> {
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    Some(inner)
}

/// A decimal (optionally negative) or `0x` hexadecimal integer; hex values above `i64::MAX`
/// wrap to their two's-complement value.
pub fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let n = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u64::from_str_radix(h, 16).ok()? as i64
    } else {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u64>().ok()? as i64
    };
    Some(if neg { n.wrapping_neg() } else { n })
}

/// Iterator over `key=value` parameters at depth 0 of a comma-separated list. A grouped
/// entry `smin=umin=1` yields `("smin", "1")` and `("umin", "1")`; an entry without `=`
/// yields `(entry, "")`.
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a str,
    pending: Option<(&'a str, &'a str)>,
}

impl<'a> Params<'a> {
    /// The parameters of `text` (the body between a value's parentheses).
    pub fn new(text: &'a str) -> Params<'a> {
        Params {
            rest: text,
            pending: None,
        }
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        if let Some((keys, value)) = self.pending.take() {
            return Some(match keys.split_once('=') {
                Some((k, more)) => {
                    self.pending = Some((more, value));
                    (k, value)
                }
                None => (keys, value),
            });
        }
        if self.rest.is_empty() {
            return None;
        }
        let mut depth = 0i32;
        let mut end = self.rest.len();
        for (i, b) in self.rest.bytes().enumerate() {
            match b {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                b',' if depth <= 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let entry = self.rest[..end].trim();
        self.rest = self.rest.get(end + 1..).unwrap_or("");
        // The value is what follows the last '=' at depth 0 (before any parenthesis).
        let cut = entry.find('(').unwrap_or(entry.len());
        match entry[..cut].rfind('=') {
            Some(eq) => {
                let keys = &entry[..eq];
                let value = &entry[eq + 1..];
                self.pending = Some((keys, value));
                self.next()
            }
            None => Some((entry, "")),
        }
    }
}

/// Bounds of a scalar, from `scalar(...)` (or older `inv(...)`). Absent bounds are `None`:
/// the kernel omits those that say nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scalar {
    /// `id=`: scalars with the same id are known to be equal.
    pub id: Option<u32>,
    /// Signed 64-bit minimum.
    pub smin: Option<i64>,
    /// Signed 64-bit maximum.
    pub smax: Option<i64>,
    /// Unsigned 64-bit minimum.
    pub umin: Option<u64>,
    /// Unsigned 64-bit maximum.
    pub umax: Option<u64>,
    /// Signed 32-bit minimum.
    pub smin32: Option<i32>,
    /// Signed 32-bit maximum.
    pub smax32: Option<i32>,
    /// Unsigned 32-bit minimum.
    pub umin32: Option<u32>,
    /// Unsigned 32-bit maximum.
    pub umax32: Option<u32>,
    /// Known bits `(value; mask)`: bits set in `mask` are unknown, others equal `value`'s.
    pub var_off: Option<(u64, u64)>,
}

impl Scalar {
    /// Read the bounds from a parameter list; unknown keys are ignored.
    pub fn from_params(params: &str) -> Scalar {
        let mut s = Scalar::default();
        for (k, v) in Params::new(params) {
            let n = parse_int(v);
            match k {
                "id" => s.id = n.map(|n| n as u32),
                "smin" | "smin_value" | "min_value" => s.smin = n,
                "smax" | "smax_value" | "max_value" => s.smax = n,
                "umin" | "umin_value" => s.umin = n.map(|n| n as u64),
                "umax" | "umax_value" => s.umax = n.map(|n| n as u64),
                "smin32" | "s32_min_value" => s.smin32 = n.map(|n| n as i32),
                "smax32" | "s32_max_value" => s.smax32 = n.map(|n| n as i32),
                "umin32" | "u32_min_value" => s.umin32 = n.map(|n| n as u32),
                "umax32" | "u32_max_value" => s.umax32 = n.map(|n| n as u32),
                "var_off" => s.var_off = parse_var_off(v),
                _ => {}
            }
        }
        s
    }

    /// The single value the bounds allow, when they pin one (`var_off` with no unknown bits).
    pub fn as_const(&self) -> Option<i64> {
        match self.var_off {
            Some((v, 0)) => Some(v as i64),
            _ => None,
        }
    }
}

/// `(0x0; 0xff)` → `(0, 255)`.
pub fn parse_var_off(v: &str) -> Option<(u64, u64)> {
    let inner = paren_body(v.trim())?;
    let (a, b) = inner.split_once(';')?;
    Some((parse_int(a.trim())? as u64, parse_int(b.trim())? as u64))
}

/// What kind of pointer a register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtrKind {
    /// `ctx`: the program's context.
    Ctx,
    /// `fp`: the stack (see [`Pointer::stack_off`]).
    Stack,
    /// `map_ptr`: a map itself (an `ld_imm64` map reference).
    MapPtr,
    /// `map_value`: a map element.
    MapValue,
    /// `map_value_or_null`: a lookup result not yet checked against NULL.
    MapValueOrNull,
    /// `map_key`.
    MapKey,
    /// `pkt`: packet data.
    Packet,
    /// `pkt_end`.
    PacketEnd,
    /// `pkt_meta`.
    PacketMeta,
    /// `sock`, `sock_common`, `tcp_sock`, `xdp_sock` and their `_or_null` forms.
    Socket,
    /// `mem`, `rdonly_mem`, `ringbuf_mem`, `alloc_mem` and their `_or_null` forms.
    Mem,
    /// A BTF-typed kernel pointer: `ptr_task_struct`, `trusted_ptr_...`, `rcu_ptr_...`.
    Btf,
    /// Any other pointer type name.
    Other,
}

/// A pointer value: its type name and its parameters, kept as printed and read on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pointer<'a> {
    /// The classified type.
    pub kind: PtrKind,
    /// The type name as printed (`map_value_or_null`, `trusted_ptr_task_struct`, `fp`).
    pub name: &'a str,
    /// The parameters between the parentheses (`map=queue,ks=0,vs=4`), or `""`.
    pub params: &'a str,
    /// For stack pointers: the offset from the frame pointer (`fp-8` → -8).
    pub stack_off: Option<i64>,
    /// For stack pointers into another frame (`fp[0]-8`): that frame.
    pub stack_frame: Option<u8>,
}

impl<'a> Pointer<'a> {
    /// Parse a pointer value; `None` when `v` does not look like one.
    pub fn parse(v: &'a str) -> Option<Pointer<'a>> {
        if let Some(rest) = v.strip_prefix("fp") {
            return Self::parse_stack(rest);
        }
        let (name, params) = match v.find('(') {
            Some(i) => (&v[..i], paren_body(&v[i..])?),
            None => {
                // Older kernels print some pointers without parentheses and with a trailing
                // parameter list after a comma: `pkt_end`, `map_ptr,...`.
                let name = v.split(',').next().unwrap_or(v);
                (name, v.get(name.len() + 1..).unwrap_or(""))
            }
        };
        if name.is_empty()
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            || name.as_bytes()[0].is_ascii_digit()
        {
            return None;
        }
        let kind = classify_ptr(name)?;
        Some(Pointer {
            kind,
            name,
            params,
            stack_off: None,
            stack_frame: None,
        })
    }

    fn parse_stack(rest: &'a str) -> Option<Pointer<'a>> {
        let mut p = Pointer {
            kind: PtrKind::Stack,
            name: "fp",
            params: "",
            stack_off: None,
            stack_frame: None,
        };
        let mut rest = rest;
        if let Some(r) = rest.strip_prefix('[') {
            let (f, after) = r.split_once(']')?;
            p.stack_frame = Some(f.parse().ok()?);
            rest = after;
        }
        if rest.starts_with('(') {
            p.params = paren_body(rest)?;
            p.stack_off = p.param("off").and_then(parse_int);
            return Some(p);
        }
        // `fp0`, `fp-8`, older `fp` and `fp-8,call_-1`.
        let num = rest.split(',').next().unwrap_or("");
        p.params = rest.get(num.len() + 1..).unwrap_or("");
        p.stack_off = if num.is_empty() {
            Some(0)
        } else {
            Some(parse_int(num)?)
        };
        Some(p)
    }

    /// The parameters, as `(key, value)` pairs.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// The value of parameter `key`, if present.
    pub fn param(&self, key: &str) -> Option<&'a str> {
        self.params().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The map's name (`map=queue`), for map pointers and map values.
    pub fn map_name(&self) -> Option<&'a str> {
        self.param("map")
    }

    /// The map's key size (`ks=`).
    pub fn key_size(&self) -> Option<u32> {
        self.param("ks").and_then(parse_int).map(|n| n as u32)
    }

    /// The map's value size (`vs=`).
    pub fn value_size(&self) -> Option<u32> {
        self.param("vs").and_then(parse_int).map(|n| n as u32)
    }

    /// The fixed offset (`off=`; for stack pointers the offset from `fp`).
    pub fn off(&self) -> Option<i64> {
        if self.kind == PtrKind::Stack {
            return self.stack_off;
        }
        self.param("off").and_then(parse_int)
    }

    /// `id=`: pointers with the same id were checked for NULL together.
    pub fn id(&self) -> Option<u32> {
        self.param("id").and_then(parse_int).map(|n| n as u32)
    }

    /// The range known to be safe to access (`r=` for packet pointers).
    pub fn range(&self) -> Option<i64> {
        self.param("r").and_then(parse_int)
    }
}

fn classify_ptr(name: &str) -> Option<PtrKind> {
    let base = name.strip_suffix("_or_null").unwrap_or(name);
    Some(match base {
        "ctx" => PtrKind::Ctx,
        "map_ptr" => PtrKind::MapPtr,
        "map_value" if name.ends_with("_or_null") => PtrKind::MapValueOrNull,
        "map_value" => PtrKind::MapValue,
        "map_key" => PtrKind::MapKey,
        "pkt" => PtrKind::Packet,
        "pkt_end" => PtrKind::PacketEnd,
        "pkt_meta" => PtrKind::PacketMeta,
        "sock" | "sock_common" | "tcp_sock" | "xdp_sock" => PtrKind::Socket,
        "mem" | "rdonly_mem" | "ringbuf_mem" | "alloc_mem" | "rdonly_buf" | "rdwr_buf" | "buf" => {
            PtrKind::Mem
        }
        _ if base.starts_with("dynptr") => PtrKind::Other,
        _ if base.contains("ptr_") => PtrKind::Btf,
        "flow_keys" | "tp_buffer" | "func" | "map_ptr_or_null" | "dynptr" | "arena" => {
            PtrKind::Other
        }
        _ if base.starts_with("percpu_") || base.contains("mem") => PtrKind::Other,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_bounds() {
        let r = RegState::parse(
            "R7=scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=8,var_off=(0x0; 0xf))",
        )
        .unwrap();
        let s = r.value.as_scalar().unwrap();
        assert_eq!(s.smin, Some(1));
        assert_eq!(s.umin32, Some(1));
        assert_eq!(s.umax, Some(8));
        assert_eq!(s.var_off, Some((0, 0xf)));
    }

    #[test]
    fn marks_and_consts() {
        let r = RegState::parse("R0_rw=P0").unwrap();
        assert!(r.written && r.read && r.precise);
        assert_eq!(r.value, Value::Const(0));
        let r = RegState::parse("R1_w=invP(id=0,umax_value=255,var_off=(0x0; 0xff))").unwrap();
        assert!(r.precise);
        assert_eq!(r.value.as_scalar().unwrap().umax, Some(255));
        assert_eq!(RegState::parse("R2=-1").unwrap().value, Value::Const(-1));
        assert_eq!(
            RegState::parse("R2=0xffffffffffffffff").unwrap().value,
            Value::Const(-1)
        );
    }

    #[test]
    fn pointers() {
        let p = Value::parse("map_value_or_null(id=1,map=hash,ks=4,vs=8)");
        let p = p.as_pointer().unwrap();
        assert_eq!(p.kind, PtrKind::MapValueOrNull);
        assert_eq!(p.map_name(), Some("hash"));
        assert_eq!(
            (p.key_size(), p.value_size(), p.id()),
            (Some(4), Some(8), Some(1))
        );
        let p = Value::parse("fp[0]-8");
        let p = p.as_pointer().unwrap();
        assert_eq!((p.stack_frame, p.off()), (Some(0), Some(-8)));
        assert_eq!(Value::parse("fp").as_pointer().unwrap().off(), Some(0));
        assert_eq!(
            Value::parse("ctx(id=0,off=8,imm=0)")
                .as_pointer()
                .unwrap()
                .off(),
            Some(8)
        );
        assert_eq!(
            Value::parse("pkt_end").as_pointer().unwrap().kind,
            PtrKind::PacketEnd
        );
        assert_eq!(
            Value::parse("trusted_ptr_task_struct()")
                .as_pointer()
                .unwrap()
                .kind,
            PtrKind::Btf
        );
        assert!(matches!(Value::parse("what?"), Value::Unknown("what?")));
        for (v, kind) in [
            ("pkt(id=0,off=0,r=14,imm=0)", PtrKind::Packet),
            ("pkt_end()", PtrKind::PacketEnd),
            ("pkt_meta(id=0,off=0,r=0,imm=0)", PtrKind::PacketMeta),
            ("sock(ref_obj_id=2)", PtrKind::Socket),
            ("sock_or_null(id=2,ref_obj_id=2)", PtrKind::Socket),
            ("mem(id=0,ref_obj_id=0,off=0,imm=0)", PtrKind::Mem),
            ("rdonly_mem(id=3,sz=16)", PtrKind::Mem),
            ("ringbuf_mem_or_null(id=1,ref_obj_id=1,sz=8)", PtrKind::Mem),
            ("ptr_task_struct(off=0,imm=0)", PtrKind::Btf),
            ("trusted_ptr_task_struct()", PtrKind::Btf),
            ("rcu_ptr_or_null_cgroup(id=4)", PtrKind::Btf),
            ("map_ptr(map=queue,ks=0,vs=4)", PtrKind::MapPtr),
            ("map_key(map=h,ks=4,vs=8)", PtrKind::MapKey),
            ("dynptr_ringbuf(ref_id=1)", PtrKind::Other),
        ] {
            assert_eq!(
                Value::parse(v).as_pointer().map(|p| p.kind),
                Some(kind),
                "{v}"
            );
        }
        let p = Value::parse("pkt(id=0,off=0,r=14,imm=0)");
        assert_eq!(p.as_pointer().unwrap().range(), Some(14));
        let p = Value::parse("ctx(off=8)");
        assert_eq!(p.as_pointer().unwrap().off(), Some(8));
        let p = Value::parse("map_value_or_null(id=1,off=0,ks=4,vs=8,imm=0)");
        let p = p.as_pointer().unwrap();
        assert_eq!(
            (p.kind, p.off(), p.id()),
            (PtrKind::MapValueOrNull, Some(0), Some(1))
        );
    }

    #[test]
    fn spilled_slots() {
        let s = StackSlotState::parse("fp-8_w=42").unwrap();
        assert!(s.written);
        assert_eq!(s.contents, SlotContents::Spilled(Value::Const(42)));
        let s = StackSlotState::parse("fp-16=P7").unwrap();
        assert!(s.precise);
        let s = StackSlotState::parse("fp-24=????mmmm").unwrap();
        assert_eq!(s.contents, SlotContents::Types("????mmmm"));
        let s = StackSlotState::parse("fp-32=scalar(umax=3,var_off=(0x0; 0x3))").unwrap();
        let SlotContents::Spilled(Value::Scalar(sc)) = s.contents else {
            panic!()
        };
        assert_eq!(sc.umax, Some(3));
        assert!(StackSlotState::parse("fp0=1").is_none());
    }

    #[test]
    fn state_line() {
        let st = State::parse(
            "frame1: R1=fp[0]-8 R3_w=5 fp-8=mmmm???? fp-16_w=map_value(map=a,ks=4,vs=8) refs=2 x",
        );
        assert_eq!(st.frame, Some(1));
        assert_eq!(st.regs.len(), 2);
        assert_eq!(
            st.slot(-8).unwrap().contents,
            SlotContents::Types("mmmm????")
        );
        let s16 = st.slot(-16).unwrap();
        assert!(s16.written);
        assert!(matches!(
            s16.contents,
            SlotContents::Spilled(Value::Pointer(_))
        ));
        assert_eq!(st.refs, Some("2"));
        assert_eq!(st.other, vec!["x"]);
    }
}
