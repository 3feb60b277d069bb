//! Helper 6, `bpf_trace_printk(fmt, fmt_size, arg1, arg2, arg3)`, as the kernel formats it
//! (`kernel/trace/bpf_trace.c` and `bpf_bprintf_prepare` in `kernel/bpf/helpers.c`, 5.13 and
//! later): the format is checked first and refused with `-EINVAL` (no NUL within `fmt_size`, an
//! ASCII byte that is neither printable nor space, more than three conversions, a conversion the
//! kernel does not take); `%[flags][width]` then `d i u x X` with `l`/`ll`, `c`, `s`, `%%`,
//! `p`, `pK`, `px`, `ps`, `pS`, `pB`, `pi4`, `pI4`, `pi6`, `pI6`; the arguments' copies share a
//! 512-byte buffer (`-ENOSPC` past it); the message is cut at 1023 bytes and the helper returns
//! the length it would have had. The message is what the kernel writes to the trace buffer as
//! the `bpf_trace_printk` event, which the VM keeps ([`super::Vm::trace`]).
//!
//! One difference is unavoidable: a pointer printed with `%p`, `%pK`, `%ps`, `%pS` or `%pB` is
//! a kernel address (hashed, or a symbol) in the kernel; the VM prints its own address of the
//! object in 16 hex digits, as `%px` prints.

use super::mem::Memory;

const EINVAL: i64 = 22;
const ENOSPC: i64 = 28;
/// `MAX_TRACE_PRINTK_VARARGS`.
const MAX_ARGS: usize = 3;
/// `MAX_BPRINTF_BUF_LEN`: the per-call buffer the arguments' copies share.
const ARG_BUF: usize = 512;
/// vsnprintf's `FIELD_WIDTH_MAX`.
const FIELD_WIDTH_MAX: usize = (1 << 23) - 1;
/// `MAX_BPRINTF_BUF`: the formatted message, NUL included.
const MESSAGE_BUF: usize = 1024;

/// What one call gives: `r0`, and the message written to the trace buffer (none when the
/// format was refused).
pub(crate) struct Printed {
    pub r0: u64,
    pub message: Option<String>,
}

/// One conversion, checked and with its argument prepared.
enum Arg {
    /// `d`/`i` (signed) or `u`/`x`/`X`, at 4 or 8 bytes.
    Int {
        value: u64,
        wide: bool,
    },
    Char(u8),
    /// `%s`: the bytes read, without the NUL (padded to the width).
    Str(Vec<u8>),
    /// Copied into the argument buffer ready-made, and printed as it is, without padding:
    /// IP addresses (formatted before `bstr_printf`), `%pks` and `%pus` strings.
    Ready(Vec<u8>),
    /// A pointer printed as an address.
    Pointer(u64),
}

struct Spec {
    /// Where the conversion stands in the format: from its `%` to just past it, as vsnprintf
    /// reads it (a pointer's extension is every letter and digit after `p`).
    start: usize,
    end: usize,
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    width: usize,
    conv: u8,
    arg: Arg,
}

/// Run helper 6 with `r1`-`r5` on the VM's memory.
pub(crate) fn trace_printk(mem: &Memory, args: [u64; 5]) -> Result<Printed, super::VmErrorKind> {
    // The verifier has checked that `fmt_size` bytes are readable (ARG_CONST_SIZE): so does
    // the VM, as for any other helper's memory argument.
    let fmt = mem.get(args[0], args[1] as u32 as usize)?;
    let Some(nul) = fmt.iter().position(|&b| b == 0) else {
        return Ok(refused(EINVAL));
    };
    let fmt = &fmt[..nul];
    let raw = [args[2], args[3], args[4]];
    let specs = match prepare(mem, fmt, &raw) {
        Ok(s) => s,
        Err(errno) => return Ok(refused(errno)),
    };
    let out = render(fmt, specs);
    let len = out.len as u64;
    let mut kept = out.kept;
    // The trace event copies the message as a C string: a `%c` of 0 ends it there.
    if let Some(end) = kept.iter().position(|&b| b == 0) {
        kept.truncate(end);
    }
    Ok(Printed {
        r0: len,
        message: Some(String::from_utf8_lossy(&kept).into_owned()),
    })
}

fn refused(errno: i64) -> Printed {
    Printed {
        r0: (-errno) as u64,
        message: None,
    }
}

/// The bytes a format may hold: printable or space, or any byte above 0x7f (UTF-8 text). The
/// last is the newest kernels' rule (6.18 here prints them); older ones, 6.1 among them,
/// refuse every byte that is not ASCII.
fn allowed(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' ' || (0x09..=0x0d).contains(&b) || b >= 0x80
}

/// The kernel's `ispunct` (ASCII).
fn punct(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// The checking pass: one [`Spec`] per conversion, or the errno the kernel refuses with.
fn prepare(mem: &Memory, fmt: &[u8], raw: &[u64; MAX_ARGS]) -> Result<Vec<Spec>, i64> {
    // Reading past the format's end gives 0, as the kernel's NUL does.
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut specs = Vec::new();
    let mut used = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        if !allowed(fmt[i]) {
            return Err(EINVAL);
        }
        if fmt[i] != b'%' {
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            i += 2;
            continue;
        }
        if specs.len() >= MAX_ARGS {
            return Err(EINVAL);
        }
        let value = raw[specs.len()];
        let start = i;
        i += 1;
        let (mut left, mut plus, mut space, mut zero) = (false, false, false, false);
        loop {
            match at(i) {
                b'-' => left = true,
                b'+' => plus = true,
                b' ' => space = true,
                b'0' => zero = true,
                _ => break,
            }
            i += 1;
        }
        // vsnprintf reads the width into an `int` (`skip_atoi`, which wraps), then clamps it
        // to +-FIELD_WIDTH_MAX (and warns); a negative width pads nothing.
        let mut width = 0i32;
        if (b'1'..=b'9').contains(&at(i)) {
            while at(i).is_ascii_digit() {
                width = width.wrapping_mul(10).wrapping_add(i32::from(at(i) - b'0'));
                i += 1;
            }
        }
        let width = usize::try_from(width).map_or(0, |w| w.min(FIELD_WIDTH_MAX));
        let conv_at = i;
        let spec = |conv: u8, arg: Arg, end: usize| Spec {
            start,
            end,
            left,
            plus,
            space,
            zero,
            width,
            conv,
            arg,
        };
        let (conv, arg) = match at(i) {
            b'p' => {
                let next = at(i + 1);
                if (next == b'k' || next == b'u') && at(i + 2) == b's' {
                    i += 2;
                    let (conv, arg) = string_arg(mem, fmt, i, value, next == b'u', &mut used)?;
                    match arg {
                        Arg::Str(b) => (conv, Arg::Ready(b)),
                        other => (conv, other),
                    }
                } else if next == 0
                    || next.is_ascii_whitespace()
                    || punct(next)
                    || matches!(next, b'K' | b'x' | b's' | b'S' | b'B')
                {
                    if next != 0 && !next.is_ascii_whitespace() && !punct(next) {
                        i += 1;
                    }
                    used = align4(used);
                    used += 8;
                    if used > ARG_BUF {
                        return Err(ENOSPC);
                    }
                    (b'p', Arg::Pointer(value))
                } else if matches!(next, b'i' | b'I') && matches!(at(i + 2), b'4' | b'6') {
                    let v6 = at(i + 2) == b'6';
                    let n = if v6 { 16 } else { 4 };
                    if ARG_BUF.saturating_sub(used) < n {
                        return Err(ENOSPC);
                    }
                    // Unreadable memory prints as zeros, as copy_from_kernel_nofault's
                    // failure does.
                    let mut ip = [0u8; 16];
                    if let Ok(b) = mem.get(value, n) {
                        ip[..n].copy_from_slice(b);
                    }
                    let text = format_ip(&ip[..n], next == b'I');
                    // The kernel checks room for the address's bytes but then writes its text
                    // (up to 40 bytes), which can run past the buffer (6.18 prints a garbled
                    // message then); the VM counts the text and goes on.
                    used += text.len() + 1;
                    i += 2;
                    (b'p', Arg::Ready(text.into_bytes()))
                } else {
                    return Err(EINVAL);
                }
            }
            b's' => string_arg(mem, fmt, i, value, false, &mut used)?,
            b'c' => {
                if used >= ARG_BUF {
                    return Err(ENOSPC);
                }
                used += 1;
                (b'c', Arg::Char(value as u8))
            }
            _ => {
                let mut wide = false;
                if at(i) == b'l' {
                    wide = true;
                    i += 1;
                }
                if at(i) == b'l' {
                    i += 1;
                }
                let conv = at(i);
                if !matches!(conv, b'i' | b'd' | b'u' | b'x' | b'X') {
                    return Err(EINVAL);
                }
                used = align4(used);
                used += if wide { 8 } else { 4 };
                if used > ARG_BUF {
                    return Err(ENOSPC);
                }
                (conv, Arg::Int { value, wide })
            }
        };
        let end = if at(conv_at) == b'p' {
            let mut e = conv_at + 1;
            while at(e).is_ascii_alphanumeric() {
                e += 1;
            }
            e
        } else {
            i + 1
        };
        specs.push(spec(conv, arg, end));
        i += 1;
    }
    Ok(specs)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// `%s` (or `%pks`/`%pus`) at `fmt[i]`: the kernel refuses one followed by a letter or digit;
/// the string is read up to its NUL or the room left in the shared buffer, and an unreadable
/// one prints as empty.
fn string_arg(
    mem: &Memory,
    fmt: &[u8],
    i: usize,
    addr: u64,
    user: bool,
    used: &mut usize,
) -> Result<(u8, Arg), i64> {
    let next = fmt.get(i + 1).copied().unwrap_or(0);
    if next != 0 && !next.is_ascii_whitespace() && !punct(next) {
        return Err(EINVAL);
    }
    let room = ARG_BUF.saturating_sub(*used);
    if room == 0 {
        return Err(ENOSPC);
    }
    let mut s = Vec::new();
    // `%pus` copies from user memory, and no VM address is one (a BPF program's stack is
    // kernel memory): the copy fails and prints as empty, as in the kernel.
    while !user && s.len() + 1 < room {
        match mem.get(addr.wrapping_add(s.len() as u64), 1) {
            Ok(&[0]) => break,
            Ok(b) => s.push(b[0]),
            // A fault anywhere makes the kernel's copy fail: the string prints as empty.
            Err(_) => {
                s.clear();
                break;
            }
        }
    }
    *used += s.len() + 1;
    Ok((b's', Arg::Str(s)))
}

/// `%pI4` "1.2.3.4", `%pi4` "001.002.003.004", `%pI6` eight groups of four hex digits with
/// colons, `%pi6` 32 hex digits.
fn format_ip(b: &[u8], dotted: bool) -> String {
    if b.len() == 4 {
        let parts: Vec<String> = b
            .iter()
            .map(|x| {
                if dotted {
                    x.to_string()
                } else {
                    format!("{x:03}")
                }
            })
            .collect();
        return parts.join(".");
    }
    let groups: Vec<String> = b
        .chunks(2)
        .map(|g| format!("{:02x}{:02x}", g[0], g[1]))
        .collect();
    groups.join(if dotted { ":" } else { "" })
}

/// The message as `bstr_printf` writes it into its 1024-byte buffer: the bytes kept (at most
/// 1023) and the length the whole message has, which the helper returns.
struct Message {
    kept: Vec<u8>,
    len: usize,
}

impl Message {
    fn push(&mut self, b: u8) {
        self.repeat(b, 1);
    }

    fn extend_from_slice(&mut self, b: &[u8]) {
        let room = (MESSAGE_BUF - 1).saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&b[..b.len().min(room)]);
        self.len += b.len();
    }

    fn repeat(&mut self, b: u8, n: usize) {
        let room = (MESSAGE_BUF - 1).saturating_sub(self.kept.len());
        self.kept.extend(std::iter::repeat(b).take(n.min(room)));
        self.len += n;
    }
}

/// The formatting pass (`bstr_printf`), on a format [`prepare`] accepted: the text between
/// conversions (`%%` printing `%`), and each conversion padded.
fn render(fmt: &[u8], specs: Vec<Spec>) -> Message {
    let mut out = Message {
        kept: Vec::new(),
        len: 0,
    };
    let literal = |out: &mut Message, text: &[u8]| {
        let mut k = 0;
        while k < text.len() {
            out.push(text[k]);
            // prepare accepted the text: a `%` in it is the first of `%%`.
            k += if text[k] == b'%' { 2 } else { 1 };
        }
    };
    let mut i = 0;
    for spec in specs {
        literal(&mut out, &fmt[i..spec.start]);
        let body = body_of(&spec);
        pad(&mut out, &spec, body);
        i = spec.end;
    }
    literal(&mut out, fmt.get(i..).unwrap_or_default());
    out
}

/// A conversion's text before padding: (sign, digits or text).
fn body_of(spec: &Spec) -> (Vec<u8>, Vec<u8>) {
    match &spec.arg {
        Arg::Int { value, wide } => {
            let v = if *wide { *value } else { *value & 0xffff_ffff };
            match spec.conv {
                b'd' | b'i' => {
                    let s = if *wide {
                        v as i64
                    } else {
                        i64::from(v as u32 as i32)
                    };
                    let sign = if s < 0 {
                        b"-".to_vec()
                    } else if spec.plus {
                        b"+".to_vec()
                    } else if spec.space {
                        b" ".to_vec()
                    } else {
                        Vec::new()
                    };
                    (sign, s.unsigned_abs().to_string().into_bytes())
                }
                b'u' => (Vec::new(), v.to_string().into_bytes()),
                b'x' => (Vec::new(), format!("{v:x}").into_bytes()),
                _ => (Vec::new(), format!("{v:X}").into_bytes()),
            }
        }
        Arg::Char(c) => (Vec::new(), vec![*c]),
        Arg::Str(s) | Arg::Ready(s) => (Vec::new(), s.clone()),
        Arg::Pointer(p) => (Vec::new(), format!("{p:016x}").into_bytes()),
    }
}

/// Pad to the width: left-justified with spaces, or right-justified with spaces or (numbers
/// only) zeros after the sign.
fn pad(out: &mut Message, spec: &Spec, (sign, digits): (Vec<u8>, Vec<u8>)) {
    let len = sign.len() + digits.len();
    let fill = match spec.arg {
        Arg::Ready(_) => 0,
        _ => spec.width.saturating_sub(len),
    };
    let numeric = matches!(spec.arg, Arg::Int { .. });
    if spec.left {
        out.extend_from_slice(&sign);
        out.extend_from_slice(&digits);
        out.repeat(b' ', fill);
    } else if spec.zero && numeric {
        out.extend_from_slice(&sign);
        out.repeat(b'0', fill);
        out.extend_from_slice(&digits);
    } else {
        out.repeat(b' ', fill);
        out.extend_from_slice(&sign);
        out.extend_from_slice(&digits);
    }
}
