//! The instruction parser: one statement's tokens into an [`Insn`], in either dialect.
//!
//! * LLVM's syntax (what `llvm-mc -triple bpfel` reads and `llvm-objdump` prints), plus the
//!   kernel's spelling of the same instructions as the verifier log prints them
//!   (`*(u32 *)(r10 -4)`, `goto pc+3`, `call bpf_map_push_elem#87`, `atomic64_fetch_add`).
//! * The mnemonic dialect of the eBPF conformance suite (`mov32 %r0, 1`, `ldxdw %r0, [%r1+8]`,
//!   `jne %r1, 0, label`, `lock fetch add [%r10-8], %r1`).
//!
//! The statement's first token decides: a register, `*`, or an LLVM keyword (`if`, `goto`,
//! `lock *` ...) starts LLVM syntax; a known mnemonic starts the other. Symbols (labels, maps,
//! helper and function names) are returned unresolved in [`Sym`]; the assembler resolves them
//! when the program is complete.

use super::diag::AsmErrorKind as K;
use super::lex::{Tok, T};
use crate::helpers::Helper;
use crate::insn::{AluOp, AtomicOp, Callee, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width};

/// A byte range of the source.
pub(crate) type Span = (u32, u32);

/// A parse error: where, what kind, the message and an optional help line.
#[derive(Debug)]
pub(crate) struct PError {
    pub span: Span,
    pub kind: K,
    pub msg: String,
    pub help: Option<String>,
}

/// A parse error, boxed: every parsing step returns a `Result`, which stays small this way.
pub(crate) type PErr = Box<PError>;

impl PError {
    #[cold]
    fn new(span: Span, kind: K, msg: impl Into<String>) -> PErr {
        Box::new(PError {
            span,
            kind,
            msg: msg.into(),
            help: None,
        })
    }

    fn help(mut self: Box<Self>, h: impl Into<String>) -> PErr {
        self.help = Some(h.into());
        self
    }
}

/// The symbol an instruction refers to, resolved once the program is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sym<'a> {
    /// Nothing to resolve.
    None,
    /// A branch (conditional jump, `goto`, `gotol`, `may_goto`, a local call) to a label.
    Label(&'a str, Span),
    /// A branch with a literal offset: the span of the offset, to check that it lands inside
    /// the program.
    Offset(Span),
    /// `call NAME`: a function of the program, else the helper of that name (already encoded
    /// as the helper call when `NAME` is one).
    Call(&'a str, Span),
    /// `rN = NAME ll`: a map of the file, or a function of the program.
    Load(&'a str, Span),
}

impl<'a> Sym<'a> {
    /// The name the symbol refers to, if any.
    pub(crate) fn name(self) -> Option<&'a str> {
        match self {
            Sym::Label(n, _) | Sym::Call(n, _) | Sym::Load(n, _) => Some(n),
            Sym::None | Sym::Offset(_) => None,
        }
    }
}

/// A parsed instruction and the symbol it still needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Parsed<'a> {
    pub insn: Insn,
    pub sym: Sym<'a>,
}

type R<T> = Result<T, PErr>;

/// A number as written: its value (sign applied), whether it was hexadecimal, and its span.
#[derive(Clone, Copy, Debug)]
struct Num {
    v: i128,
    hex: bool,
    span: Span,
}

/// Parse one statement (no labels, no directives): `toks` is non-empty. `kernel_op` is the
/// opcode of a verifier-log line's `(op)` column, which settles what the kernel's text leaves
/// open (`r1 = 0x5` is an `ld_imm64` under `(18)`).
/// `signed_decimal` applies the conformance suite's rule for decimal immediates
/// ([`crate::text::AsmOptions::signed_decimal_imm32`]).
pub(crate) fn parse_insn<'a>(
    src: &'a str,
    toks: &[Tok],
    kernel_op: Option<u8>,
    signed_decimal: bool,
) -> R<Parsed<'a>> {
    parse_insn_with(src, toks, kernel_op, signed_decimal, &|_| None)
}

/// The value of a constant (`.equ` / `.set`) by name, if it is one.
pub(crate) type Consts<'c> = &'c dyn Fn(&str) -> Option<i64>;

/// [`parse_insn`] where `consts` gives the constants of the file: in LLVM syntax, immediates,
/// helper numbers and jump offsets are then expressions of numbers and constants, as llvm-mc
/// takes them (see [`P::value`]).
pub(crate) fn parse_insn_with<'a>(
    src: &'a str,
    toks: &[Tok],
    kernel_op: Option<u8>,
    signed_decimal: bool,
    consts: Consts<'_>,
) -> R<Parsed<'a>> {
    let mut p = P {
        s: src,
        t: toks,
        i: 0,
        kernel_op,
        llvm: true,
        signed_decimal,
        consts,
    };
    let parsed = p.statement()?;
    if let Some(t) = p.peek() {
        return Err(p.unexpected(t, "the end of the instruction"));
    }
    if let Some(op) = kernel_op {
        let got = parsed.insn.fields().0;
        if got != op {
            let end = toks.last().map_or(0, |t| t.end);
            return Err(PError::new(
                (toks[0].start, end),
                K::Syntax,
                format!(
                    "this text encodes as opcode ({got:02x}), but the line's opcode column says ({op:02x})"
                ),
            ));
        }
    }
    Ok(parsed)
}

struct P<'a, 't> {
    s: &'a str,
    t: &'t [Tok],
    i: usize,
    kernel_op: Option<u8>,
    /// LLVM syntax (a leading `0` makes a number octal) or the mnemonic dialect (a leading `0`
    /// is decimal). 32-bit immediates range over -2^31 ..= 2^32-1 in both.
    llvm: bool,
    /// The conformance suite's rule for its own files: in the mnemonic dialect, a decimal
    /// 32-bit immediate is signed (-2^31 ..= 2^31-1); larger bit patterns are written in hex.
    signed_decimal: bool,
    /// The file's constants.
    consts: Consts<'t>,
}

/// Registers as written: `rN` (64-bit view) or `wN` (32-bit view).
#[derive(Clone, Copy, Debug)]
struct RegTok {
    reg: Reg,
    w: bool,
    span: Span,
}

impl RegTok {
    fn width(self) -> Width {
        if self.w {
            Width::W32
        } else {
            Width::W64
        }
    }
}

/// Whether `text` is spelled like a register (`r7`, `W12`), and if so which one (`None` for
/// a number past 10).
fn reg_name(b: &[u8]) -> Option<Option<(Reg, bool)>> {
    let (&first, digits) = b.split_first()?;
    let w = match first {
        b'r' | b'R' => false,
        b'w' | b'W' => true,
        _ => return None,
    };
    // `rN` and `r10` first: every instruction names one to three registers, and the general
    // digit loop cost 20M instructions of asm on a 1M-line file (cachegrind).
    let n = match *digits {
        [d] if d.is_ascii_digit() => d - b'0',
        [b'1', b'0'] => 10,
        _ if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) => return None,
        // `r11`, `r007`: spelled like a register, but none.
        _ => return Some(None),
    };
    Some(Reg::from_num(n).map(|r| (r, w)))
}

/// The instruction of a verifier-log line: its text as the kernel prints it (`r2 += -4`,
/// `call bpf_map_push_elem#87`, `if r1 > 0x5 goto pc+3`) and the opcode of its `(op)` column.
/// `None` when the text does not parse, or encodes to another opcode. For the verifier viewer,
/// which works on decoded instructions.
pub(crate) fn parse_log_insn(text: &str, opcode: u8) -> Option<Insn> {
    thread_local! {
        // One token buffer per thread: a viewer decodes every line of a long log, and an
        // allocation per line cost a third of the decoding.
        static TOKS: std::cell::RefCell<Vec<Tok>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    TOKS.with(|toks| {
        let mut toks = toks.try_borrow_mut().ok()?;
        super::lex::Lexer::new(text.as_bytes()).lex(0, text.len(), &mut toks);
        if toks.is_empty() {
            return None;
        }
        parse_insn(text, &toks, Some(opcode), false)
            .ok()
            .map(|p| p.insn)
    })
}

/// The value of the expression `toks` (the right side of `.equ NAME, EXPR`): numbers and
/// constants of `consts` joined by binary operators, as [`P::value`] reads them. A name that
/// is not a constant is reported as undefined.
pub(crate) fn parse_const_expr(src: &str, toks: &[Tok], consts: Consts<'_>) -> R<i64> {
    let mut p = P {
        s: src,
        t: toks,
        i: 0,
        kernel_op: None,
        llvm: true,
        signed_decimal: false,
        consts,
    };
    if let Some(t) = toks
        .iter()
        .find(|t| t.kind == T::Ident && consts(p.text(**t)).is_none())
    {
        return Err(PError::new(
            (t.start, t.end),
            K::UndefinedLabel,
            format!("undefined constant `{}`", p.text(*t)),
        )
        .help("define it before this line: `.equ NAME, VALUE`"));
    }
    let n = p.value("a number or a constant")?;
    if let Some(t) = p.peek() {
        return Err(p.unexpected(
            t,
            "an operator (+ - * / % << >> & | ^) or the end of the line",
        ));
    }
    Ok(n.v as i64)
}

/// Whether an identifier is spelled like a register.
pub(crate) fn looks_like_register(text: &str) -> bool {
    reg_name(text.as_bytes()).is_some()
}

fn eq_kw(text: &[u8], kw: &str) -> bool {
    text.eq_ignore_ascii_case(kw.as_bytes())
}

/// A short name in lower case: the name itself when it has no upper case letter (most do),
/// else a copy on the stack (names longer than 24 bytes become empty: no keyword is that long).
enum Lower<'a> {
    Same(&'a str),
    Copy { buf: [u8; 24], len: usize },
}

impl<'a> Lower<'a> {
    fn new(text: &'a str) -> Lower<'a> {
        if !text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Lower::Same(if text.len() <= 24 { text } else { "" });
        }
        let mut buf = [0u8; 24];
        let len = if text.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(text.bytes()) {
                *d = s.to_ascii_lowercase();
            }
            text.len()
        } else {
            0
        };
        Lower::Copy { buf, len }
    }

    fn as_str(&self) -> &str {
        match self {
            Lower::Same(s) => s,
            Lower::Copy { buf, len } => std::str::from_utf8(&buf[..*len]).unwrap_or(""),
        }
    }
}

fn size_name(text: &[u8]) -> Option<(Size, bool)> {
    let [sign, bits @ ..] = text else {
        return None;
    };
    let signed = match sign.to_ascii_lowercase() {
        b'u' => false,
        b's' => true,
        _ => return None,
    };
    let size = match bits {
        b"8" => Size::U8,
        b"16" => Size::U16,
        b"32" => Size::U32,
        b"64" => Size::U64,
        _ => return None,
    };
    Some((size, signed))
}

fn describe(kind: T) -> &'static str {
    match kind {
        T::Ident => "a name",
        T::Num => "a number",
        T::Str | T::OpenStr => "a string",
        T::Unknown => "a character that starts no token",
        _ => "",
    }
}

const MIN_I32: i128 = i32::MIN as i128;
const MAX_I32: i128 = i32::MAX as i128;
const MAX_U32: i128 = u32::MAX as i128;

impl<'a> P<'a, '_> {
    // ---- cursor ----

    fn peek(&self) -> Option<Tok> {
        self.t.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<Tok> {
        self.t.get(self.i + k).copied()
    }

    fn peek_is(&self, kind: T) -> bool {
        self.peek().is_some_and(|t| t.kind == kind)
    }

    fn bump(&mut self) -> Option<Tok> {
        let t = self.peek();
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    /// A token's bytes (no character boundary checks: the lexer cuts tokens at them).
    fn bytes(&self, t: Tok) -> &'a [u8] {
        let s: &'a str = self.s;
        s.as_bytes()
            .get(t.start as usize..t.end as usize)
            .unwrap_or(&[])
    }

    fn text(&self, t: Tok) -> &'a str {
        self.s.get(t.start as usize..t.end as usize).unwrap_or("")
    }

    fn peek_kw(&self, kw: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == T::Ident && eq_kw(self.bytes(t), kw))
    }

    /// Where the statement ends: an error about a missing token points there.
    fn end_span(&self) -> Span {
        let e = self.t.last().map_or(0, |t| t.end);
        (e, e)
    }

    // Cold and out of line: inlined, its formatting made every parsing step that can fail
    // save and restore registers (82M instructions of asm on a 1M-line file, cachegrind).
    #[cold]
    #[inline(never)]
    fn unexpected(&self, t: Tok, expected: &str) -> PErr {
        let what = describe(t.kind);
        let text = self.text(t);
        let found = if what.is_empty() || t.kind == T::Ident || t.kind == T::Num {
            format!("`{text}`")
        } else {
            format!("{what} `{text}`")
        };
        PError::new(
            (t.start, t.end),
            K::Syntax,
            format!("expected {expected}, found {found}"),
        )
    }

    #[cold]
    #[inline(never)]
    fn missing(&self, expected: &str) -> PErr {
        PError::new(
            self.end_span(),
            K::Syntax,
            format!("expected {expected}, found the end of the line"),
        )
    }

    fn expect(&mut self, kind: T, expected: &str) -> R<Tok> {
        match self.peek() {
            Some(t) if t.kind == kind => {
                self.i += 1;
                Ok(t)
            }
            Some(t) => Err(self.unexpected(t, expected)),
            None => Err(self.missing(expected)),
        }
    }

    fn expect_kw(&mut self, kw: &str) -> R<Tok> {
        match self.peek() {
            Some(t) if t.kind == T::Ident && eq_kw(self.bytes(t), kw) => {
                self.i += 1;
                Ok(t)
            }
            Some(t) => Err(self.unexpected(t, &format!("`{kw}`"))),
            None => Err(self.missing(&format!("`{kw}`"))),
        }
    }

    fn expect_ident(&mut self, expected: &str) -> R<Tok> {
        self.expect(T::Ident, expected)
    }

    // ---- operands ----

    /// A register, with an optional `%` before it.
    fn reg(&mut self) -> R<RegTok> {
        let start = self.peek().map(|t| t.start);
        if self.peek_is(T::Percent)
            && self
                .peek_at(1)
                .is_some_and(|n| n.kind == T::Ident && n.start == self.t[self.i].end)
        {
            self.i += 1;
        }
        let t = match self.peek() {
            Some(t) => t,
            None => return Err(self.missing("a register")),
        };
        let span = (start.unwrap_or(t.start), t.end);
        if t.kind != T::Ident {
            return Err(self.unexpected(t, "a register"));
        }
        match reg_name(self.bytes(t)) {
            Some(Some((reg, w))) => {
                self.i += 1;
                Ok(RegTok { reg, w, span })
            }
            Some(None) => Err(PError::new(
                span,
                K::UnknownRegister,
                format!("unknown register `{}`", self.span_text(span)),
            )
            .help("registers are r0 to r10 (w0 to w10 for their 32-bit halves)")),
            None => Err(self.unexpected(t, "a register")),
        }
    }

    fn is_reg_next(&self) -> bool {
        let mut k = 0;
        if self.peek_is(T::Percent) {
            k = 1;
        }
        self.peek_at(k)
            .is_some_and(|t| t.kind == T::Ident && reg_name(self.bytes(t)).is_some())
    }

    /// A 64-bit register view (`rN`) where the instruction requires one.
    fn reg64(&mut self, role: &str) -> R<Reg> {
        let r = self.reg()?;
        if r.w {
            return Err(PError::new(
                r.span,
                K::WrongRegister,
                format!(
                    "{role} must be a 64-bit register, found `{}`",
                    self.span_text(r.span)
                ),
            )
            .help(format!("write r{}", r.reg.num())));
        }
        Ok(r.reg)
    }

    fn span_text(&self, span: Span) -> &'a str {
        self.s.get(span.0 as usize..span.1 as usize).unwrap_or("")
    }

    /// A number with an optional sign: `5`, `-0x10`, `+3`.
    fn num(&mut self, expected: &str) -> R<Num> {
        let mut neg = false;
        let first = self.peek();
        match first.map(|t| t.kind) {
            Some(T::Minus) => {
                neg = true;
                self.i += 1;
            }
            Some(T::Plus) => self.i += 1,
            _ => {}
        }
        let t = match self.peek() {
            Some(t) if t.kind == T::Num => t,
            Some(t) => return Err(self.unexpected(t, expected)),
            None => return Err(self.missing(expected)),
        };
        self.i += 1;
        let span = (first.map_or(t.start, |f| f.start), t.end);
        let (mag, hex) = self.magnitude(t)?;
        Ok(Num {
            v: if neg { -(mag as i128) } else { mag as i128 },
            hex,
            span,
        })
    }

    /// Whether the next token is a name the file defines as a constant.
    fn const_next(&self) -> bool {
        self.llvm
            && self
                .peek()
                .is_some_and(|t| t.kind == T::Ident && (self.consts)(self.text(t)).is_some())
    }

    /// A value where llvm-mc takes an expression (immediates, helper numbers, jump offsets):
    /// a number with an optional sign, or a constant, then binary operators over numbers,
    /// constants and parenthesised expressions, with GNU as precedence (`* / % << >>` over
    /// `| & ^` over `+ -`) in 64-bit arithmetic (`/` signed, `>>` logical, as llvm-mc's BPF
    /// target evaluates them). As llvm-mc, it does not
    /// take a leading `-` or `~` before a constant, or a leading `(`. The mnemonic dialect
    /// takes plain numbers.
    #[inline]
    fn value(&mut self, expected: &str) -> R<Num> {
        if !self.llvm {
            return self.num(expected);
        }
        let first = if self.const_next() {
            self.constant()
        } else {
            self.num(expected)?
        };
        if self.binary_op().is_none() {
            return Ok(first);
        }
        self.binary(first, 0)
    }

    /// The constant at the cursor.
    fn constant(&mut self) -> Num {
        let t = self.t[self.i];
        self.i += 1;
        Num {
            v: (self.consts)(self.text(t)).unwrap_or(0) as i128,
            hex: false,
            span: (t.start, t.end),
        }
    }

    /// The binary operator at the cursor, if an operand follows it: its precedence.
    fn binary_op(&self) -> Option<(T, u8)> {
        let t = self.peek()?;
        let prec = match t.kind {
            T::Star | T::Slash | T::Percent | T::Shl | T::Shr => 5,
            T::Pipe | T::Amp | T::Caret => 4,
            T::Plus | T::Minus => 3,
            _ => return None,
        };
        let next = self.peek_at(1)?;
        let operand = match next.kind {
            T::Num | T::LParen => true,
            T::Ident => (self.consts)(self.text(next)).is_some(),
            _ => false,
        };
        operand.then_some((t.kind, prec))
    }

    /// An operand after a binary operator: a number, a constant or `( expression )`.
    fn operand(&mut self) -> R<Num> {
        match self.peek() {
            Some(t) if t.kind == T::LParen => {
                self.i += 1;
                let first = self.operand()?;
                let v = self.binary(first, 0)?;
                let close = self.expect(T::RParen, "`)` closing the expression")?;
                Ok(Num {
                    span: (t.start, close.end),
                    ..v
                })
            }
            _ if self.const_next() => Ok(self.constant()),
            Some(t) if t.kind == T::Num => {
                self.i += 1;
                let (v, _) = self.magnitude(t)?;
                Ok(Num {
                    v: v as i128,
                    hex: false,
                    span: (t.start, t.end),
                })
            }
            Some(t) => Err(self.unexpected(t, "a number or a constant")),
            None => Err(self.missing("a number or a constant")),
        }
    }

    /// Precedence climbing: `lhs` and the operators of at least `min` precedence that follow.
    fn binary(&mut self, mut lhs: Num, min: u8) -> R<Num> {
        while let Some((op, prec)) = self.binary_op().filter(|&(_, p)| p >= min) {
            self.i += 1;
            let mut rhs = self.operand()?;
            while let Some((_, next)) = self.binary_op().filter(|&(_, p)| p > prec) {
                rhs = self.binary(rhs, next)?;
            }
            let (a, b) = (lhs.v as i64, rhs.v as i64);
            let span = (lhs.span.0, rhs.span.1);
            let v = match op {
                T::Star => a.wrapping_mul(b),
                T::Slash | T::Percent if b == 0 => {
                    return Err(PError::new(
                        span,
                        K::ImmediateRange,
                        "division by zero in a constant expression",
                    ))
                }
                T::Slash => a.wrapping_div(b),
                T::Percent => a.wrapping_rem(b),
                T::Shl => a.wrapping_shl(b as u32),
                // Logical, as llvm-mc's BPF target shifts (`-8 >> 1` is 2^63 - 4).
                T::Shr => ((a as u64).wrapping_shr(b as u32)) as i64,
                T::Pipe => a | b,
                T::Amp => a & b,
                T::Caret => a ^ b,
                T::Plus => a.wrapping_add(b),
                _ => a.wrapping_sub(b),
            };
            lhs = Num {
                v: v as i128,
                hex: false,
                span,
            };
        }
        Ok(lhs)
    }

    fn magnitude(&self, t: Tok) -> R<(u64, bool)> {
        // Most numbers are short decimals without a suffix: read them directly. The general
        // path (suffix trim, `from_str_radix`) cost 80M instructions of asm's 2.5 G on a
        // 1M-line file (cachegrind). 19 digits never overflow a u64; a leading 0 is octal in
        // LLVM syntax, left to the general path.
        let raw = self.bytes(t);
        if !raw.is_empty()
            && raw.len() <= 19
            && raw.iter().all(u8::is_ascii_digit)
            && !(self.llvm && raw.len() >= 2 && raw[0] == b'0')
        {
            let v = raw.iter().fold(0u64, |a, d| a * 10 + u64::from(d - b'0'));
            return Ok((v, false));
        }
        let text = self.text(t).trim_end_matches(['l', 'L', 'u', 'U']);
        let b = text.as_bytes();
        let (digits, radix) = if b.len() >= 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') {
            (&text[2..], 16)
        } else if b.len() >= 2 && b[0] == b'0' && matches!(b[1], b'b' | b'B') {
            (&text[2..], 2)
        } else if self.llvm && b.len() >= 2 && b[0] == b'0' {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
        let span = (t.start, t.end);
        if digits.is_empty() {
            return Err(PError::new(
                span,
                K::Syntax,
                format!("`{text}` has no digits"),
            ));
        }
        match u64::from_str_radix(digits, radix) {
            Ok(v) => Ok((v, radix == 16)),
            Err(_) if radix == 8 => Err(PError::new(
                span,
                K::Syntax,
                format!("`{text}` is not an octal number (a leading 0 means octal)"),
            )),
            Err(_) => Err(PError::new(
                span,
                K::ImmediateRange,
                format!("`{text}` does not fit in 64 bits"),
            )),
        }
    }

    /// A 32-bit immediate: -2^31 ..= 2^32-1 (the bit pattern), in decimal or hex, in both
    /// dialects (as llvm-mc-22 takes them); with `signed_decimal`, a decimal one in the
    /// mnemonic dialect is signed (-2^31 ..= 2^31-1), as the conformance suite requires.
    fn imm32(&self, n: Num) -> R<i32> {
        let signed = self.signed_decimal && !self.llvm && !n.hex;
        let max = if signed { MAX_I32 } else { MAX_U32 };
        if !(MIN_I32..=max).contains(&n.v) {
            let range = if signed {
                "-2147483648 to 2147483647 in decimal (write larger bit patterns in hex)"
            } else {
                "-2147483648 to 4294967295 (0xffffffff)"
            };
            return Err(PError::new(
                n.span,
                K::ImmediateRange,
                format!(
                    "immediate {} does not fit in 32 bits: the range is {range}",
                    n.v
                ),
            )
            .help("a 64-bit constant needs `rN = VALUE ll` (lddw)"));
        }
        Ok(n.v as i64 as i32)
    }

    fn imm64(&self, n: Num) -> R<i64> {
        if !(i64::MIN as i128..=u64::MAX as i128).contains(&n.v) {
            return Err(PError::new(
                n.span,
                K::ImmediateRange,
                format!("immediate {} does not fit in 64 bits", n.v),
            ));
        }
        Ok(n.v as i64)
    }

    fn off16(&self, n: Num, what: &str) -> R<i16> {
        i16::try_from(n.v).map_err(|_| {
            PError::new(
                n.span,
                K::OffsetRange,
                format!(
                    "{what} {} does not fit in 16 bits: the range is -32768 to 32767",
                    n.v
                ),
            )
        })
    }

    /// `(u32 *)`: the size and signedness of a pointer cast.
    fn ptr_type(&mut self) -> R<(Size, bool, Span)> {
        let open = self.expect(T::LParen, "`(` of a pointer type like `(u32 *)`")?;
        let t = self.expect_ident(
            "a type: u8, u16, u32, u64 (or s8, s16, s32 for a sign-extending load)",
        )?;
        let Some((size, signed)) = size_name(self.bytes(t)) else {
            return Err(PError::new(
                (t.start, t.end),
                K::Syntax,
                format!("unknown type `{}`: expected u8, u16, u32 or u64 (s8, s16, s32 for a sign-extending load)", self.text(t)),
            ));
        };
        self.expect(T::Star, "`*` of the pointer type")?;
        let close = self.expect(T::RParen, "`)` closing the pointer type")?;
        if signed && size == Size::U64 {
            return Err(PError::new(
                (t.start, t.end),
                K::Syntax,
                "there is no 64-bit sign-extending load: use u64",
            ));
        }
        Ok((size, signed, (open.start, close.end)))
    }

    /// `base + off` / `base - off` / `base` (no parentheses): an address.
    fn base_off(&mut self) -> R<(Reg, i16)> {
        let base = self.reg64("the address base")?;
        let off = match self.peek().map(|t| t.kind) {
            Some(T::Plus) | Some(T::Minus) => {
                let neg = self.peek_is(T::Minus);
                let sign = self.bump().map_or(0, |t| t.start);
                self.no_constant_offset()?;
                let mut n = self.num("an offset")?;
                if neg {
                    n.v = -n.v;
                }
                n.span.0 = sign;
                self.off16(n, "offset")?
            }
            _ => 0,
        };
        Ok((base, off))
    }

    /// A constant where a memory offset goes: refused, as llvm-mc refuses it ("operand is
    /// not a 16-bit signed integer"), saying why.
    fn no_constant_offset(&self) -> R<()> {
        if !self.const_next() {
            return Ok(());
        }
        let t = self.t[self.i];
        Err(PError::new(
            (t.start, t.end),
            K::OffsetRange,
            format!(
                "an offset is a number: `{}` is a constant, which llvm-mc does not take here",
                self.text(t)
            ),
        )
        .help("write the number; constants go in immediates, helper numbers and jump offsets"))
    }

    /// `(base + off)`.
    fn paren_addr(&mut self) -> R<(Reg, i16)> {
        self.expect(T::LParen, "`(` of an address like `(r10 - 4)`")?;
        let a = self.base_off()?;
        self.expect(T::RParen, "`)` closing the address")?;
        Ok(a)
    }

    /// `[base+off]` (the mnemonic dialect).
    fn bracket_addr(&mut self) -> R<(Reg, i16)> {
        if self.is_reg_next() {
            let r = self.reg()?;
            return Err(PError::new(
                r.span,
                K::Syntax,
                format!(
                    "expected a memory operand like `[%r1+8]`, found the register `{}`",
                    self.span_text(r.span)
                ),
            )
            .help(format!("write `[{}+0]`", self.span_text(r.span))));
        }
        self.expect(T::LBrack, "a memory operand like `[%r1+8]`")?;
        let a = self.base_off()?;
        self.expect(T::RBrack, "`]` closing the memory operand")?;
        Ok(a)
    }

    /// `(u32 *)(base + off)`.
    /// `(u32 *)(r1 + 8)` where only unsigned types make sense (stores): `what` says so.
    fn unsigned_addr(&mut self, what: &'static str) -> R<(Size, Reg, i16)> {
        let (size, signed, ty, base, off) = self.typed_addr()?;
        if signed {
            return Err(PError::new(ty, K::Syntax, what));
        }
        Ok((size, base, off))
    }

    /// The address of an atomic read-modify-write: `u32` or `u64` only. Gives the type's span
    /// for later messages.
    fn rmw_addr(&mut self) -> R<(Size, Span, Reg, i16)> {
        let (size, signed, ty, base, off) = self.typed_addr()?;
        if signed || !matches!(size, Size::U32 | Size::U64) {
            return Err(PError::new(
                ty,
                K::Syntax,
                "atomic read-modify-write operations are u32 or u64",
            ));
        }
        Ok((size, ty, base, off))
    }

    fn typed_addr(&mut self) -> R<(Size, bool, Span, Reg, i16)> {
        let (size, signed, ty) = self.ptr_type()?;
        let (base, off) = self.paren_addr()?;
        Ok((size, signed, ty, base, off))
    }

    /// A branch target: `+3`, `-3`, `3`, `pc+3` (kernel), `label`, then objdump's optional
    /// `<sym+0x..>` annotation, which is ignored.
    fn target(&mut self, long: bool) -> R<(i32, Sym<'a>)> {
        let r = match self.peek() {
            None => return Err(self.missing("a jump target: `+N`, `-N` or a label")),
            Some(t) if t.kind == T::Ident && eq_kw(self.bytes(t), "pc") && self.pc_follows() => {
                self.i += 1;
                self.offset_target(long)?
            }
            // A constant is an offset, as llvm-mc takes it (`goto N + 1`).
            Some(t) if self.const_next() && t.kind == T::Ident => self.offset_target(long)?,
            Some(t) if t.kind == T::Ident && reg_name(self.bytes(t)).is_none() => {
                self.i += 1;
                (0, Sym::Label(self.text(t), (t.start, t.end)))
            }
            Some(t) if matches!(t.kind, T::Plus | T::Minus | T::Num) => self.offset_target(long)?,
            Some(t) => return Err(self.unexpected(t, "a jump target: `+N`, `-N` or a label")),
        };
        self.annotation();
        Ok(r)
    }

    fn pc_follows(&self) -> bool {
        self.peek_at(1)
            .is_some_and(|t| matches!(t.kind, T::Plus | T::Minus))
    }

    fn offset_target(&mut self, long: bool) -> R<(i32, Sym<'a>)> {
        let n = self.value("a jump offset")?;
        let v = if long {
            i32::try_from(n.v).map_err(|_| {
                PError::new(
                    n.span,
                    K::JumpRange,
                    format!("jump offset {} does not fit in 32 bits", n.v),
                )
            })?
        } else {
            i16::try_from(n.v).map_err(|_| {
                PError::new(
                    n.span,
                    K::JumpRange,
                    format!(
                        "jump offset {} does not fit in 16 bits: the range is -32768 to 32767",
                        n.v
                    ),
                )
                .help("`gotol` jumps up to 2^31 slots")
            })? as i32
        };
        Ok((v, Sym::Offset(n.span)))
    }

    /// Skip objdump's ` <sym+0x10>` after a branch target, when it ends the statement.
    fn annotation(&mut self) {
        if self.peek_is(T::Lt) && self.t.last().is_some_and(|t| t.kind == T::Gt) {
            self.i = self.t.len();
        }
    }

    // ---- statements ----

    fn statement(&mut self) -> R<Parsed<'a>> {
        let Some(first) = self.peek() else {
            return Err(self.missing("an instruction"));
        };
        match first.kind {
            T::Star => return self.llvm_store(),
            T::Percent => return self.llvm_reg_statement(),
            T::Ident => {}
            _ => return Err(self.unexpected(first, "an instruction")),
        }
        let text = self.bytes(first);
        if reg_name(text).is_some() {
            return self.llvm_reg_statement();
        }
        let mut lower = [0u8; 16];
        let name = if text.len() <= lower.len() {
            for (d, s) in lower.iter_mut().zip(text) {
                *d = s.to_ascii_lowercase();
            }
            &lower[..text.len()]
        } else {
            &[][..]
        };
        match name {
            b"if" => self.llvm_if(),
            b"goto" => {
                self.i += 1;
                let (off, sym) = self.target(false)?;
                Ok(plain(Insn::Ja { off: off as i16 }, sym))
            }
            b"gotol" => {
                self.i += 1;
                let (imm, sym) = self.target(true)?;
                Ok(plain(Insn::JaLong { imm }, sym))
            }
            b"may_goto" => {
                self.i += 1;
                let (off, sym) = self.target(false)?;
                Ok(plain(Insn::MayGoto { off: off as i16 }, sym))
            }
            b"call" => self.call(),
            b"callx" => {
                self.i += 1;
                let r = self.reg64("the call target")?;
                Ok(plain(Insn::CallX { dst: r }, Sym::None))
            }
            b"exit" => {
                self.i += 1;
                Ok(plain(Insn::Exit, Sym::None))
            }
            b"lock" => {
                if self.peek_at(1).is_some_and(|t| t.kind == T::Star) {
                    self.llvm_lock()
                } else {
                    self.llvm = false;
                    self.mnemonic_lock()
                }
            }
            b"store_release" => self.llvm_store_release(),
            b"ld_pseudo" => self.ld_pseudo(),
            _ => {
                self.llvm = false;
                self.mnemonic(name, first)
            }
        }
    }

    // ---- LLVM syntax ----

    fn llvm_reg_statement(&mut self) -> R<Parsed<'a>> {
        let d = self.reg()?;
        let Some(t) = self.peek() else {
            return Err(self.missing("`=` or an operator like `+=`"));
        };
        let op = match t.kind {
            T::Assign => {
                self.i += 1;
                return self.llvm_rhs(d);
            }
            T::AddEq => AluOp::Add,
            T::SubEq => AluOp::Sub,
            T::MulEq => AluOp::Mul,
            T::DivEq => AluOp::Div,
            T::ModEq => AluOp::Mod,
            T::OrEq => AluOp::Or,
            T::AndEq => AluOp::And,
            T::XorEq => AluOp::Xor,
            T::ShlEq => AluOp::Lsh,
            T::ShrEq => AluOp::Rsh,
            T::Ident if eq_kw(self.bytes(t), "s") => {
                let op = match self.peek_at(1).map(|n| n.kind) {
                    Some(T::DivEq) => AluOp::SDiv,
                    Some(T::ModEq) => AluOp::SMod,
                    Some(T::ShrEq) => AluOp::Arsh,
                    _ => {
                        return Err(self
                            .unexpected(t, "`=` or an operator like `+=`")
                            .help("the signed operators are `s/=`, `s%=` and `s>>=`"))
                    }
                };
                self.i += 1;
                op
            }
            _ => return Err(self.unexpected(t, "`=` or an operator like `+=`")),
        };
        self.i += 1;
        let src = self.operand_like(d, "a register or an immediate")?;
        Ok(plain(
            Insn::Alu {
                width: d.width(),
                op,
                dst: d.reg,
                src,
            },
            Sym::None,
        ))
    }

    /// A register of the same width as `d`, or a 32-bit immediate.
    fn operand_like(&mut self, d: RegTok, expected: &str) -> R<Operand> {
        if self.is_reg_next() {
            let s = self.reg()?;
            self.same_width(d, s)?;
            Ok(Operand::Reg(s.reg))
        } else {
            let n = self.value(expected)?;
            Ok(Operand::Imm(self.imm32(n)?))
        }
    }

    fn same_width(&self, d: RegTok, s: RegTok) -> R<()> {
        if d.w != s.w {
            let (want, have) = if d.w { ("w", "r") } else { ("r", "w") };
            return Err(PError::new(
                s.span,
                K::WrongRegister,
                format!(
                    "`{}` is a {} register but `{}` is {}: both operands have the same width",
                    self.span_text(s.span),
                    if s.w { "32-bit" } else { "64-bit" },
                    self.span_text(d.span),
                    if d.w { "32-bit" } else { "64-bit" },
                ),
            )
            .help(format!(
                "write {want}{} (not {have}{})",
                s.reg.num(),
                s.reg.num()
            )));
        }
        Ok(())
    }

    fn same_reg(&self, want: RegTok, got: RegTok, what: &str) -> R<()> {
        if want.reg != got.reg || want.w != got.w {
            return Err(PError::new(
                got.span,
                K::WrongRegister,
                format!(
                    "{what} must be the destination register `{}`, found `{}`",
                    self.span_text(want.span),
                    self.span_text(got.span)
                ),
            ));
        }
        Ok(())
    }

    fn llvm_rhs(&mut self, d: RegTok) -> R<Parsed<'a>> {
        let Some(t) = self.peek() else {
            return Err(self.missing("a value after `=`"));
        };
        match t.kind {
            T::Minus if self.peek_at(1).is_some_and(|n| n.kind == T::Ident) => {
                self.i += 1;
                let s = self.reg()?;
                self.same_reg(d, s, "the negated register")?;
                Ok(plain(
                    Insn::Neg {
                        width: d.width(),
                        dst: d.reg,
                    },
                    Sym::None,
                ))
            }
            T::Num | T::Minus | T::Plus => self.llvm_rhs_value(d),
            T::Ident if self.const_next() => self.llvm_rhs_value(d),
            T::Star => self.llvm_load(d),
            T::LParen => {
                // (s8)r2: sign-extending move.
                self.i += 1;
                let ty = self.expect_ident("`s8`, `s16` or `s32`")?;
                let bits = match Lower::new(self.text(ty)).as_str() {
                    "s8" => 8u8,
                    "s16" => 16,
                    "s32" => 32,
                    other => {
                        return Err(PError::new(
                            (ty.start, ty.end),
                            K::Syntax,
                            format!("expected `s8`, `s16` or `s32` in a sign-extending move, found `{other}`"),
                        ))
                    }
                };
                self.expect(T::RParen, "`)`")?;
                let s = self.reg()?;
                self.same_width(d, s)?;
                if d.w && bits == 32 {
                    return Err(PError::new(
                        (ty.start, ty.end),
                        K::Syntax,
                        "a 32-bit sign-extending move takes s8 or s16",
                    ));
                }
                Ok(plain(
                    Insn::MovSx {
                        width: d.width(),
                        bits,
                        dst: d.reg,
                        src: s.reg,
                    },
                    Sym::None,
                ))
            }
            T::Percent if self.is_reg_next() => self.llvm_rhs_name(d, t),
            T::Ident => self.llvm_rhs_name(d, t),
            _ => Err(self.unexpected(t, "a value after `=`")),
        }
    }

    /// `rN = VALUE` or `rN = VALUE ll`.
    fn llvm_rhs_value(&mut self, d: RegTok) -> R<Parsed<'a>> {
        let n = self.value("a value")?;
        if self.peek_kw("ll") || self.kernel_op == Some(0x18) {
            if self.peek_kw("ll") {
                self.i += 1;
            }
            self.ld_imm64_dst(d)?;
            let imm = self.imm64(n)?;
            return Ok(plain(
                Insn::LdImm64 {
                    dst: d.reg,
                    pseudo: Pseudo::Imm,
                    imm,
                },
                Sym::None,
            ));
        }
        let imm = self.imm32(n)?;
        Ok(plain(
            Insn::Alu {
                width: d.width(),
                op: AluOp::Mov,
                dst: d.reg,
                src: Operand::Imm(imm),
            },
            Sym::None,
        ))
    }

    fn ld_imm64_dst(&self, d: RegTok) -> R<()> {
        if d.w {
            return Err(PError::new(
                d.span,
                K::WrongRegister,
                "a 64-bit load (`ll`) needs a 64-bit register",
            )
            .help(format!("write r{}", d.reg.num())));
        }
        Ok(())
    }

    fn llvm_rhs_name(&mut self, d: RegTok, t: Tok) -> R<Parsed<'a>> {
        if self.is_reg_next() {
            let s = self.reg()?;
            self.same_width(d, s)?;
            return Ok(plain(
                Insn::Alu {
                    width: d.width(),
                    op: AluOp::Mov,
                    dst: d.reg,
                    src: Operand::Reg(s.reg),
                },
                Sym::None,
            ));
        }
        let lower = Lower::new(self.text(t));
        let name = lower.as_str();
        let endian = match name {
            "be16" => Some((Endian::ToBe, 16)),
            "be32" => Some((Endian::ToBe, 32)),
            "be64" => Some((Endian::ToBe, 64)),
            "le16" => Some((Endian::ToLe, 16)),
            "le32" => Some((Endian::ToLe, 32)),
            "le64" => Some((Endian::ToLe, 64)),
            "bswap16" => Some((Endian::Swap, 16)),
            "bswap32" => Some((Endian::Swap, 32)),
            "bswap64" => Some((Endian::Swap, 64)),
            _ => None,
        };
        if let Some((kind, bits)) = endian {
            self.i += 1;
            let s = self.reg()?;
            if d.w || s.w {
                return Err(PError::new(
                    d.span,
                    K::WrongRegister,
                    "byte-order operations name the 64-bit register (`r1 = be16 r1`)",
                ));
            }
            self.same_reg(d, s, "the converted register")?;
            return Ok(plain(
                Insn::Endian {
                    kind,
                    bits,
                    dst: d.reg,
                },
                Sym::None,
            ));
        }
        let fetch = |n: &str| -> Option<(AtomicOp, Option<bool>)> {
            let (rest, wide) = if let Some(r) = n.strip_prefix("atomic64_") {
                (r, Some(true))
            } else {
                (n.strip_prefix("atomic_")?, None)
            };
            Some((
                match rest {
                    "fetch_add" => AtomicOp::Add { fetch: true },
                    "fetch_and" => AtomicOp::And { fetch: true },
                    "fetch_or" => AtomicOp::Or { fetch: true },
                    "fetch_xor" => AtomicOp::Xor { fetch: true },
                    "xchg" => AtomicOp::Xchg,
                    "cmpxchg" => AtomicOp::CmpXchg,
                    _ => return None,
                },
                wide,
            ))
        };
        match name {
            "addr_space_cast" => {
                self.i += 1;
                self.expect(T::LParen, "`(`")?;
                let s = self.reg()?;
                if d.w || s.w {
                    return Err(PError::new(
                        d.span,
                        K::WrongRegister,
                        "addr_space_cast works on 64-bit registers",
                    ));
                }
                self.expect(T::Comma, "`,`")?;
                let a = self.num("the destination address space")?;
                self.expect(T::Comma, "`,`")?;
                let b = self.num("the source address space")?;
                self.expect(T::RParen, "`)`")?;
                let as16 = |n: Num| {
                    u16::try_from(n.v).map_err(|_| {
                        PError::new(
                            n.span,
                            K::ImmediateRange,
                            format!("address space {} does not fit in 16 bits (0 to 65535)", n.v),
                        )
                    })
                };
                Ok(plain(
                    Insn::AddrSpaceCast {
                        dst: d.reg,
                        src: s.reg,
                        dst_as: as16(a)?,
                        src_as: as16(b)?,
                    },
                    Sym::None,
                ))
            }
            "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => {
                self.i += 1;
                let size = if name.ends_with("_64") {
                    Size::U64
                } else {
                    Size::U32
                };
                let op = if name.starts_with("cmp") {
                    AtomicOp::CmpXchg
                } else {
                    AtomicOp::Xchg
                };
                self.expect(T::LParen, "`(`")?;
                let (base, off) = self.base_off()?;
                self.atomic_tail(d, size, op, base, off)
            }
            "load_acquire" => {
                self.i += 1;
                self.expect(T::LParen, "`(`")?;
                let (size, signed, ty, base, off) = self.typed_addr()?;
                self.expect(T::RParen, "`)`")?;
                if signed {
                    return Err(PError::new(
                        ty,
                        K::Syntax,
                        "load_acquire takes an unsigned type",
                    ));
                }
                if size == Size::U64 && d.w {
                    return Err(self.need_r(d, "a 64-bit load_acquire"));
                }
                Ok(plain(
                    Insn::Atomic {
                        size,
                        op: AtomicOp::LoadAcquire,
                        dst: d.reg,
                        src: base,
                        off,
                    },
                    Sym::None,
                ))
            }
            _ => {
                if let Some((op, wide)) = fetch(name) {
                    self.i += 1;
                    self.expect(T::LParen, "`(`")?;
                    let (size, ty, base, off) = self.rmw_addr()?;
                    if wide == Some(true) && size != Size::U64 {
                        return Err(PError::new(
                            ty,
                            K::Syntax,
                            "`atomic64_` operations are u64 (the 32-bit ones are `atomic_`)",
                        ));
                    }
                    return self.atomic_tail(d, size, op, base, off);
                }
                self.i += 1;
                // `NAME + N ll`: llvm-mc writes a relocation with the offset as its addend,
                // which no object of bpfsmith carries: refused, saying so.
                if self.binary_op().is_some()
                    && self.t.last().is_some_and(|l| eq_kw(self.bytes(*l), "ll"))
                {
                    let end = self.t[self.t.len() - 2].end;
                    return Err(PError::new(
                        (t.start, end),
                        K::Syntax,
                        format!(
                            "`{}` is a symbol with an offset: llvm-mc writes it as a relocation \
                             against `{}` with an addend, which bpfsmith's objects do not carry",
                            self.span_text((t.start, end)),
                            self.text(t)
                        ),
                    )
                    .help(format!(
                        "load `{} ll` and add the offset to the register",
                        self.text(t)
                    )));
                }
                if self.peek_kw("ll") {
                    self.i += 1;
                    self.ld_imm64_dst(d)?;
                    return Ok(plain(
                        Insn::LdImm64 {
                            dst: d.reg,
                            pseudo: Pseudo::Imm,
                            imm: 0,
                        },
                        Sym::Load(self.text(t), (t.start, t.end)),
                    ));
                }
                if t.kind != T::Ident {
                    return Err(self.unexpected(t, "a value after `=`"));
                }
                Err(PError::new(
                    (t.start, t.end),
                    K::Syntax,
                    format!(
                        "expected a register, a number or an operation after `=`, found `{}`",
                        self.text(t)
                    ),
                )
                .help(format!(
                    "to load the address of map `{0}`, write `r{1} = {0} ll`",
                    self.text(t),
                    d.reg.num()
                )))
            }
        }
    }

    fn need_r(&self, d: RegTok, what: &str) -> PErr {
        PError::new(
            d.span,
            K::WrongRegister,
            format!(
                "{what} needs a 64-bit register, found `{}`",
                self.span_text(d.span)
            ),
        )
        .help(format!("write r{}", d.reg.num()))
    }

    /// The rest of a fetch, xchg or cmpxchg after the address: `, src)` or `, r0, src)`.
    fn atomic_tail(
        &mut self,
        d: RegTok,
        size: Size,
        op: AtomicOp,
        base: Reg,
        off: i16,
    ) -> R<Parsed<'a>> {
        self.expect(T::Comma, "`,`")?;
        if op == AtomicOp::CmpXchg {
            let r0 = self.reg()?;
            for r in [d, r0] {
                if r.reg != Reg::R0 {
                    return Err(PError::new(
                        r.span,
                        K::WrongRegister,
                        format!(
                            "cmpxchg compares with and returns in r0, found `{}`",
                            self.span_text(r.span)
                        ),
                    ));
                }
            }
            self.expect(T::Comma, "`,`")?;
        }
        let s = self.reg()?;
        self.expect(T::RParen, "`)`")?;
        if op != AtomicOp::CmpXchg && s.reg != d.reg {
            return Err(PError::new(
                s.span,
                K::WrongRegister,
                format!(
                    "the value register must be the destination `{}`: the old value comes back in it",
                    self.span_text(d.span)
                ),
            ));
        }
        if size == Size::U64 {
            for r in [d, s] {
                if r.w {
                    return Err(self.need_r(r, "a 64-bit atomic"));
                }
            }
        }
        Ok(plain(
            Insn::Atomic {
                size,
                op,
                dst: base,
                src: s.reg,
                off,
            },
            Sym::None,
        ))
    }

    fn llvm_load(&mut self, d: RegTok) -> R<Parsed<'a>> {
        self.expect(T::Star, "`*`")?;
        let (size, signed, ty) = self.ptr_type()?;
        if self.peek_kw("skb") {
            self.i += 1;
            return self.skb(d, size, signed, ty);
        }
        let (base, off) = self.paren_addr()?;
        if d.w && (signed || size == Size::U64) {
            return Err(self.need_r(
                d,
                if signed {
                    "a sign-extending load"
                } else {
                    "a 64-bit load"
                },
            ));
        }
        Ok(plain(
            Insn::Load {
                size,
                sign: signed,
                dst: d.reg,
                src: base,
                off,
            },
            Sym::None,
        ))
    }

    /// `skb[imm]`, `skb[rX]`, `skb[rX + imm]`: the legacy packet loads into r0.
    fn skb(&mut self, d: RegTok, size: Size, signed: bool, ty: Span) -> R<Parsed<'a>> {
        if signed || size == Size::U64 {
            return Err(PError::new(
                ty,
                K::Syntax,
                "packet loads are u8, u16 or u32",
            ));
        }
        if d.reg != Reg::R0 || d.w {
            return Err(PError::new(
                d.span,
                K::WrongRegister,
                "packet loads (`skb[...]`) always load into r0",
            ));
        }
        self.expect(T::LBrack, "`[`")?;
        let insn = if self.is_reg_next() {
            let src = self.reg64("the packet offset register")?;
            let mut imm = 0;
            if matches!(self.peek().map(|t| t.kind), Some(T::Plus) | Some(T::Minus)) {
                let neg = self.peek_is(T::Minus);
                let sign = self.bump().map_or(0, |t| t.start);
                let mut n = self.num("an offset")?;
                if neg {
                    n.v = -n.v;
                }
                n.span.0 = sign;
                imm = self.imm32(n)?;
            }
            Insn::LdInd { size, src, imm }
        } else {
            let n = self.num("a packet offset or a register")?;
            Insn::LdAbs {
                size,
                imm: self.imm32(n)?,
            }
        };
        self.expect(T::RBrack, "`]`")?;
        Ok(plain(insn, Sym::None))
    }

    fn llvm_store(&mut self) -> R<Parsed<'a>> {
        self.expect(T::Star, "`*`")?;
        let (size, base, off) =
            self.unsigned_addr("stores take an unsigned type (u8, u16, u32, u64)")?;
        self.expect(T::Assign, "`=`")?;
        if self.is_reg_next() {
            let s = self.reg()?;
            if s.w && size == Size::U64 {
                return Err(self.need_r(s, "a 64-bit store"));
            }
            Ok(plain(
                Insn::Store {
                    size,
                    dst: base,
                    off,
                    src: s.reg,
                },
                Sym::None,
            ))
        } else {
            let n = self.value("a register or an immediate to store")?;
            Ok(plain(
                Insn::StoreImm {
                    size,
                    dst: base,
                    off,
                    imm: self.imm32(n)?,
                },
                Sym::None,
            ))
        }
    }

    fn llvm_lock(&mut self) -> R<Parsed<'a>> {
        self.i += 1; // lock
        self.expect(T::Star, "`*`")?;
        let (size, _, base, off) = self.rmw_addr()?;
        let Some(t) = self.bump() else {
            return Err(self.missing("`+=`, `|=`, `&=` or `^=`"));
        };
        let op = match t.kind {
            T::AddEq => AtomicOp::Add { fetch: false },
            T::OrEq => AtomicOp::Or { fetch: false },
            T::AndEq => AtomicOp::And { fetch: false },
            T::XorEq => AtomicOp::Xor { fetch: false },
            _ => return Err(self.unexpected(t, "`+=`, `|=`, `&=` or `^=` (the atomic operations)")),
        };
        let s = self.reg()?;
        if s.w && size == Size::U64 {
            return Err(self.need_r(s, "a 64-bit atomic"));
        }
        Ok(plain(
            Insn::Atomic {
                size,
                op,
                dst: base,
                src: s.reg,
                off,
            },
            Sym::None,
        ))
    }

    fn llvm_store_release(&mut self) -> R<Parsed<'a>> {
        self.i += 1;
        self.expect(T::LParen, "`(`")?;
        let (size, base, off) = self.unsigned_addr("store_release takes an unsigned type")?;
        self.expect(T::Comma, "`,`")?;
        let s = self.reg()?;
        self.expect(T::RParen, "`)`")?;
        if s.w && size == Size::U64 {
            return Err(self.need_r(s, "a 64-bit store_release"));
        }
        Ok(plain(
            Insn::Atomic {
                size,
                op: AtomicOp::StoreRelease,
                dst: base,
                src: s.reg,
                off,
            },
            Sym::None,
        ))
    }

    fn ld_pseudo(&mut self) -> R<Parsed<'a>> {
        self.i += 1;
        let d = self.reg()?;
        self.ld_imm64_dst(d)?;
        self.expect(T::Comma, "`,`")?;
        let p = self.num("the pseudo source (0-6)")?;
        let pseudo = usize::try_from(p.v)
            .ok()
            .and_then(|i| Pseudo::ALL.get(i).copied())
            .ok_or_else(|| {
                PError::new(
                    p.span,
                    K::ImmediateRange,
                    format!("pseudo source {} is not one of 0-6 (BPF_PSEUDO_*)", p.v),
                )
            })?;
        self.expect(T::Comma, "`,`")?;
        let n = self.num("the immediate")?;
        let imm = self.imm32(n)? as u32 as i64;
        Ok(plain(
            Insn::LdImm64 {
                dst: d.reg,
                pseudo,
                imm,
            },
            Sym::None,
        ))
    }

    fn cond(&mut self) -> R<Cond> {
        let Some(t) = self.bump() else {
            return Err(self.missing("a comparison like `==`, `>` or `s<`"));
        };
        let signed = t.kind == T::Ident && eq_kw(self.bytes(t), "s");
        let t = if signed {
            match self.bump() {
                Some(n) => n,
                None => return Err(self.missing("`>`, `>=`, `<` or `<=` after `s`")),
            }
        } else {
            t
        };
        let c = match (signed, t.kind) {
            (false, T::EqEq) => Cond::Eq,
            (false, T::Ne) => Cond::Ne,
            (false, T::Gt) => Cond::Gt,
            (false, T::Ge) => Cond::Ge,
            (false, T::Lt) => Cond::Lt,
            (false, T::Le) => Cond::Le,
            (false, T::Amp) => Cond::Set,
            (true, T::Gt) => Cond::Sgt,
            (true, T::Ge) => Cond::Sge,
            (true, T::Lt) => Cond::Slt,
            (true, T::Le) => Cond::Sle,
            _ => {
                return Err(
                    self.unexpected(t, "a comparison: ==, !=, >, >=, <, <=, &, s>, s>=, s<, s<=")
                )
            }
        };
        Ok(c)
    }

    fn llvm_if(&mut self) -> R<Parsed<'a>> {
        self.i += 1;
        let d = self.reg()?;
        let cond = self.cond()?;
        let src = self.operand_like(d, "a register or an immediate to compare with")?;
        self.expect_kw("goto")?;
        let (off, sym) = self.target(false)?;
        Ok(plain(
            Insn::Jump {
                width: d.width(),
                cond,
                dst: d.reg,
                src,
                off: off as i16,
            },
            sym,
        ))
    }

    /// `call` in every spelling: `call 87`, `call bpf_map_push_elem`, `call NAME` (a function
    /// of the program), `call pc+3` and `call bpf_map_push_elem#87` (kernel),
    /// `call local f` / `call helper 5` / `call %r2` (mnemonic dialect).
    fn call(&mut self) -> R<Parsed<'a>> {
        self.i += 1;
        let Some(t) = self.peek() else {
            return Err(self.missing("a helper number, a helper name or a function"));
        };
        match t.kind {
            T::Num | T::Minus | T::Plus => {
                let n = self.value("a helper number")?;
                let id = self.imm32(n)?;
                return Ok(plain(Insn::Call(Callee::Helper(id)), Sym::None));
            }
            T::Ident if self.const_next() => {
                let n = self.value("a helper number")?;
                let id = self.imm32(n)?;
                return Ok(plain(Insn::Call(Callee::Helper(id)), Sym::None));
            }
            T::Percent => {
                let r = self.reg64("the call target")?;
                return Ok(plain(Insn::CallX { dst: r }, Sym::None));
            }
            T::Ident => {}
            _ => return Err(self.unexpected(t, "a helper number, a helper name or a function")),
        }
        let text = self.text(t);
        if looks_like_register(text) {
            let r = self.reg64("the call target")?;
            return Ok(plain(Insn::CallX { dst: r }, Sym::None));
        }
        if eq_kw(text.as_bytes(), "pc") && self.pc_follows() {
            self.i += 1;
            let (imm, sym) = self.offset_target(true)?;
            return Ok(plain(Insn::Call(Callee::Local(imm)), sym));
        }
        let next = self.peek_at(1);
        // Mnemonic dialect: `call local NAME`, `call helper N`, `call runtime N`.
        if let Some(n) = next.filter(|n| n.kind != T::Hash) {
            match text {
                "local" => {
                    self.i += 1;
                    let (imm, sym) = self.target(true)?;
                    return Ok(plain(Insn::Call(Callee::Local(imm)), sym));
                }
                "helper" => {
                    self.i += 1;
                    if n.kind == T::Ident && !looks_like_register(self.text(n)) {
                        return self.call_name();
                    }
                    if self.is_reg_next() {
                        let r = self.reg64("the call target")?;
                        return Ok(plain(Insn::CallX { dst: r }, Sym::None));
                    }
                    let n = self.num("a helper number")?;
                    let id = self.imm32(n)?;
                    return Ok(plain(Insn::Call(Callee::Helper(id)), Sym::None));
                }
                "runtime" => {
                    self.i += 1;
                    let n = self.num("a BTF id")?;
                    let btf_id = self.imm32(n)?;
                    return Ok(plain(
                        Insn::Call(Callee::Kfunc { btf_id, off: 0 }),
                        Sym::None,
                    ));
                }
                _ => {}
            }
        }
        // The kernel's `call kernel-function#N` (an unnamed kfunc).
        if text == "kernel"
            && next.is_some_and(|n| n.kind == T::Minus)
            && self
                .peek_at(2)
                .is_some_and(|n| n.kind == T::Ident && self.text(n) == "function")
            && self.peek_at(3).is_some_and(|n| n.kind == T::Hash)
        {
            self.i += 4;
            let n = self.num("a BTF id")?;
            let btf_id = self.imm32(n)?;
            return Ok(plain(
                Insn::Call(Callee::Kfunc { btf_id, off: 0 }),
                Sym::None,
            ));
        }
        self.call_name()
    }

    /// `call NAME` or the kernel's `call NAME#ID`.
    fn call_name(&mut self) -> R<Parsed<'a>> {
        let t = self.expect_ident("a helper or function name")?;
        let name = self.text(t);
        let span = (t.start, t.end);
        if self.peek_is(T::Hash) {
            if self.kernel_op == Some(0x8d) {
                return Err(PError::new(
                    span,
                    K::Syntax,
                    "the kernel prints `callx` (opcode 8d) as a helper call without its register: write `callx rN`",
                ));
            }
            self.i += 1;
            let n = self.num("the helper number after `#`")?;
            let id = self.imm32(n)?;
            let helper = if name == "unknown" || (name == "bpf_unspec" && id == 0) {
                return Ok(plain(Insn::Call(Callee::Helper(id)), Sym::None));
            } else {
                Helper::from_name(name)
            };
            return match helper {
                Some(h) if h.id() as i32 == id => {
                    Ok(plain(Insn::Call(Callee::Helper(id)), Sym::None))
                }
                Some(h) => Err(PError::new(
                    (t.start, n.span.1),
                    K::UnknownHelper,
                    format!("helper `{name}` is number {}, not {id}", h.id()),
                )),
                // Any other name is a kernel function (kfunc) by BTF id.
                None => Ok(plain(
                    Insn::Call(Callee::Kfunc { btf_id: id, off: 0 }),
                    Sym::None,
                )),
            };
        }
        let insn = match Helper::from_name(name) {
            Some(h) => Insn::Call(Callee::Helper(h.id() as i32)),
            None => Insn::Call(Callee::Local(0)),
        };
        Ok(plain(insn, Sym::Call(name, span)))
    }

    // ---- the mnemonic dialect ----

    fn mnemonic(&mut self, name: &[u8], first: Tok) -> R<Parsed<'a>> {
        let span = (first.start, first.end);
        let Some(m) = mnemonic_of(name) else {
            let text = self.text(first);
            let mut e = PError::new(
                span,
                K::UnknownMnemonic,
                format!("unknown instruction `{text}`"),
            );
            if let Some(s) =
                super::diag::suggest(&text.to_ascii_lowercase(), MNEMONICS.iter().copied())
            {
                e = e.help(format!("did you mean `{s}`?"));
            } else {
                e = e.help("write LLVM syntax (`r0 = 1`, `if r1 > r2 goto +3`) or a mnemonic (`mov %r0, 1`, `jgt %r1, %r2, +3`)");
            }
            return Err(e);
        };
        self.i += 1;
        match m {
            Mn::Alu(op, width) => {
                let d = self.reg_m()?;
                self.comma()?;
                let src = if self.is_reg_next() {
                    Operand::Reg(self.reg_m()?)
                } else {
                    let n = self.num("a register or an immediate")?;
                    Operand::Imm(self.imm32(n)?)
                };
                Ok(plain(
                    Insn::Alu {
                        width,
                        op,
                        dst: d,
                        src,
                    },
                    Sym::None,
                ))
            }
            Mn::Neg(width) => {
                let d = self.reg_m()?;
                Ok(plain(Insn::Neg { width, dst: d }, Sym::None))
            }
            Mn::End(kind, bits) => {
                let d = self.reg_m()?;
                Ok(plain(Insn::Endian { kind, bits, dst: d }, Sym::None))
            }
            Mn::MovSx(width, bits) => {
                let d = self.reg_m()?;
                self.comma()?;
                let s = self.reg_m()?;
                Ok(plain(
                    Insn::MovSx {
                        width,
                        bits,
                        dst: d,
                        src: s,
                    },
                    Sym::None,
                ))
            }
            Mn::Lddw => {
                let d = self.reg_m()?;
                self.comma()?;
                if let Some(t) = self.peek().filter(|t| t.kind == T::Ident) {
                    self.i += 1;
                    return Ok(plain(
                        Insn::LdImm64 {
                            dst: d,
                            pseudo: Pseudo::Imm,
                            imm: 0,
                        },
                        Sym::Load(self.text(t), (t.start, t.end)),
                    ));
                }
                let n = self.num("a 64-bit immediate")?;
                Ok(plain(
                    Insn::LdImm64 {
                        dst: d,
                        pseudo: Pseudo::Imm,
                        imm: self.imm64(n)?,
                    },
                    Sym::None,
                ))
            }
            Mn::Ldx(size, sign) => {
                let d = self.reg_m()?;
                self.comma()?;
                let (src, off) = self.bracket_addr()?;
                Ok(plain(
                    Insn::Load {
                        size,
                        sign,
                        dst: d,
                        src,
                        off,
                    },
                    Sym::None,
                ))
            }
            Mn::St(size) => {
                let (dst, off) = self.bracket_addr()?;
                self.comma()?;
                let n = self.num("an immediate to store")?;
                Ok(plain(
                    Insn::StoreImm {
                        size,
                        dst,
                        off,
                        imm: self.imm32(n)?,
                    },
                    Sym::None,
                ))
            }
            Mn::Stx(size) => {
                let (dst, off) = self.bracket_addr()?;
                self.comma()?;
                let src = self.reg_m()?;
                Ok(plain(
                    Insn::Store {
                        size,
                        dst,
                        off,
                        src,
                    },
                    Sym::None,
                ))
            }
            Mn::LdAbs(size) => {
                let n = self.num("a packet offset")?;
                Ok(plain(
                    Insn::LdAbs {
                        size,
                        imm: self.imm32(n)?,
                    },
                    Sym::None,
                ))
            }
            Mn::LdInd(size) => {
                let src = self.reg_m()?;
                self.comma()?;
                let n = self.num("a packet offset")?;
                Ok(plain(
                    Insn::LdInd {
                        size,
                        src,
                        imm: self.imm32(n)?,
                    },
                    Sym::None,
                ))
            }
            Mn::Ja => {
                let (off, sym) = self.target(false)?;
                Ok(plain(Insn::Ja { off: off as i16 }, sym))
            }
            Mn::Ja32 => {
                let (imm, sym) = self.target(true)?;
                Ok(plain(Insn::JaLong { imm }, sym))
            }
            Mn::Jump(cond, width) => {
                let d = self.reg_m()?;
                self.comma()?;
                let src = if self.is_reg_next() {
                    Operand::Reg(self.reg_m()?)
                } else {
                    let n = self.num("a register or an immediate to compare with")?;
                    Operand::Imm(self.imm32(n)?)
                };
                self.comma()?;
                let (off, sym) = self.target(false)?;
                Ok(plain(
                    Insn::Jump {
                        width,
                        cond,
                        dst: d,
                        src,
                        off: off as i16,
                    },
                    sym,
                ))
            }
        }
    }

    fn comma(&mut self) -> R<()> {
        self.expect(T::Comma, "`,` between operands").map(|_| ())
    }

    /// A register of the mnemonic dialect: `%rN` or `rN` (the mnemonic gives the width).
    fn reg_m(&mut self) -> R<Reg> {
        let r = self.reg()?;
        if r.w {
            return Err(PError::new(
                r.span,
                K::WrongRegister,
                format!(
                    "the mnemonic dialect names registers `%r{}`: the width comes from the mnemonic (`add32`)",
                    r.reg.num()
                ),
            ));
        }
        Ok(r.reg)
    }

    /// `lock [fetch] add|and|or|xor[32] [dst+off], src`, `lock xchg[32] ...`,
    /// `lock cmpxchg[32] ...`.
    fn mnemonic_lock(&mut self) -> R<Parsed<'a>> {
        let lock = self.bump().map_or((0, 0), |t| (t.start, t.end));
        let fetch = self.peek_kw("fetch");
        if fetch {
            self.i += 1;
        }
        let Some(t) = self.peek().filter(|t| t.kind == T::Ident) else {
            return Err(match self.peek() {
                Some(t) => self.unexpected(t, "an atomic operation (add, and, or, xor, xchg, cmpxchg)"),
                None => PError::new(
                    lock,
                    K::Syntax,
                    "invalid number of operands for lock: expected `lock [fetch] OP [%rD+OFF], %rS`",
                ),
            });
        };
        self.i += 1;
        let name = self.text(t).to_ascii_lowercase();
        let (base, size) = match name.strip_suffix("32") {
            Some(b) => (b, Size::U32),
            None => (name.as_str(), Size::U64),
        };
        let op = match base {
            "add" => AtomicOp::Add { fetch },
            "and" => AtomicOp::And { fetch },
            "or" => AtomicOp::Or { fetch },
            "xor" => AtomicOp::Xor { fetch },
            "xchg" => AtomicOp::Xchg,
            "cmpxchg" => AtomicOp::CmpXchg,
            _ => {
                return Err(PError::new(
                    (t.start, t.end),
                    K::UnknownMnemonic,
                    format!("unknown atomic operation `{}`: expected add, and, or, xor, xchg or cmpxchg (with 32 for 32 bits)", self.text(t)),
                ))
            }
        };
        if self.peek().is_none() {
            return Err(PError::new(
                (lock.0, t.end),
                K::Syntax,
                "invalid number of operands for lock: expected `[%rD+OFF], %rS` after the operation",
            ));
        }
        let (dst, off) = self.bracket_addr()?;
        if self.peek().is_none() {
            return Err(PError::new(
                (lock.0, self.end_span().1),
                K::Syntax,
                "invalid number of operands for lock: expected `, %rS` after the memory operand",
            ));
        }
        self.comma()?;
        let src = self.reg_m()?;
        Ok(plain(
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            },
            Sym::None,
        ))
    }
}

fn plain(insn: Insn, sym: Sym<'_>) -> Parsed<'_> {
    Parsed { insn, sym }
}

/// A mnemonic of the conformance suite's dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mn {
    Alu(AluOp, Width),
    Neg(Width),
    End(Endian, u8),
    MovSx(Width, u8),
    Lddw,
    Ldx(Size, bool),
    St(Size),
    Stx(Size),
    LdAbs(Size),
    LdInd(Size),
    Ja,
    Ja32,
    Jump(Cond, Width),
}

/// Every mnemonic of the dialect (for suggestions).
const MNEMONICS: &[&str] = &[
    "add",
    "add32",
    "sub",
    "sub32",
    "mul",
    "mul32",
    "div",
    "div32",
    "sdiv",
    "sdiv32",
    "or",
    "or32",
    "and",
    "and32",
    "lsh",
    "lsh32",
    "rsh",
    "rsh32",
    "mod",
    "mod32",
    "smod",
    "smod32",
    "xor",
    "xor32",
    "mov",
    "mov32",
    "arsh",
    "arsh32",
    "neg",
    "neg32",
    "le16",
    "le32",
    "le64",
    "be16",
    "be32",
    "be64",
    "swap16",
    "swap32",
    "swap64",
    "bswap16",
    "bswap32",
    "bswap64",
    "movsx832",
    "movsx1632",
    "movsx864",
    "movsx1664",
    "movsx3264",
    "lddw",
    "ldxb",
    "ldxh",
    "ldxw",
    "ldxdw",
    "ldxsb",
    "ldxsh",
    "ldxsw",
    "stb",
    "sth",
    "stw",
    "stdw",
    "stxb",
    "stxh",
    "stxw",
    "stxdw",
    "ldabsb",
    "ldabsh",
    "ldabsw",
    "ldindb",
    "ldindh",
    "ldindw",
    "ja",
    "ja32",
    "jeq",
    "jeq32",
    "jgt",
    "jgt32",
    "jge",
    "jge32",
    "jset",
    "jset32",
    "jne",
    "jne32",
    "jsgt",
    "jsgt32",
    "jsge",
    "jsge32",
    "jlt",
    "jlt32",
    "jle",
    "jle32",
    "jslt",
    "jslt32",
    "jsle",
    "jsle32",
    "call",
    "callx",
    "exit",
    "lock",
];

fn mnemonic_of(name: &[u8]) -> Option<Mn> {
    let size = |c: &[u8]| -> Option<Size> {
        Some(match c {
            b"b" => Size::U8,
            b"h" => Size::U16,
            b"w" => Size::U32,
            b"dw" => Size::U64,
            _ => return None,
        })
    };
    // Width suffix: `32` for 32 bits, `64` or nothing for 64 bits.
    let (stem, width) = match name {
        [s @ .., b'3', b'2'] => (s, Width::W32),
        [s @ .., b'6', b'4'] => (s, Width::W64),
        s => (s, Width::W64),
    };
    let alu = match stem {
        b"add" => Some(AluOp::Add),
        b"sub" => Some(AluOp::Sub),
        b"mul" => Some(AluOp::Mul),
        b"div" => Some(AluOp::Div),
        b"sdiv" => Some(AluOp::SDiv),
        b"or" => Some(AluOp::Or),
        b"and" => Some(AluOp::And),
        b"lsh" => Some(AluOp::Lsh),
        b"rsh" => Some(AluOp::Rsh),
        b"mod" => Some(AluOp::Mod),
        b"smod" => Some(AluOp::SMod),
        b"xor" => Some(AluOp::Xor),
        b"mov" => Some(AluOp::Mov),
        b"arsh" => Some(AluOp::Arsh),
        _ => None,
    };
    if let Some(op) = alu {
        return Some(Mn::Alu(op, width));
    }
    if stem == b"neg" {
        return Some(Mn::Neg(width));
    }
    if let Some(bits) = stem.strip_prefix(b"movsx") {
        let b = match bits {
            b"8" => 8,
            b"16" => 16,
            b"32" if width == Width::W64 => 32,
            _ => return None,
        };
        return Some(Mn::MovSx(width, b));
    }
    let end_bits = |rest: &[u8]| -> Option<u8> {
        Some(match rest {
            b"16" => 16,
            b"32" => 32,
            b"64" => 64,
            _ => return None,
        })
    };
    for (prefix, kind) in [
        (&b"le"[..], Endian::ToLe),
        (b"be", Endian::ToBe),
        (b"bswap", Endian::Swap),
        (b"swap", Endian::Swap),
    ] {
        if let Some(bits) = name.strip_prefix(prefix).and_then(end_bits) {
            return Some(Mn::End(kind, bits));
        }
    }
    if let Some(rest) = name.strip_prefix(b"ldxs") {
        return size(rest)
            .filter(|s| *s != Size::U64)
            .map(|s| Mn::Ldx(s, true));
    }
    if let Some(rest) = name.strip_prefix(b"ldx") {
        return size(rest).map(|s| Mn::Ldx(s, false));
    }
    if let Some(rest) = name.strip_prefix(b"stx") {
        return size(rest).map(Mn::Stx);
    }
    if let Some(rest) = name.strip_prefix(b"ldabs") {
        return size(rest).filter(|s| *s != Size::U64).map(Mn::LdAbs);
    }
    if let Some(rest) = name.strip_prefix(b"ldind") {
        return size(rest).filter(|s| *s != Size::U64).map(Mn::LdInd);
    }
    if name == b"lddw" {
        return Some(Mn::Lddw);
    }
    if let Some(rest) = name.strip_prefix(b"st") {
        return size(rest).map(Mn::St);
    }
    match name {
        b"ja" => return Some(Mn::Ja),
        b"ja32" => return Some(Mn::Ja32),
        _ => {}
    }
    let (jstem, jwidth) = match name {
        [s @ .., b'3', b'2'] => (s, Width::W32),
        s => (s, Width::W64),
    };
    let cond = match jstem {
        b"jeq" => Cond::Eq,
        b"jgt" => Cond::Gt,
        b"jge" => Cond::Ge,
        b"jset" => Cond::Set,
        b"jne" => Cond::Ne,
        b"jsgt" => Cond::Sgt,
        b"jsge" => Cond::Sge,
        b"jlt" => Cond::Lt,
        b"jle" => Cond::Le,
        b"jslt" => Cond::Slt,
        b"jsle" => Cond::Sle,
        _ => return None,
    };
    Some(Mn::Jump(cond, jwidth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::lex::Lexer;

    /// `reg_name` against its spelling rule, over every name of up to 4 characters from a
    /// small alphabet: `r`/`w` (either case) and one or more digits is spelled like a
    /// register; it is one when the digits are 0-10 without a leading zero.
    #[test]
    fn reg_name_follows_the_spelling_rule() {
        let alphabet = b"rwRWx01259";
        let mut names: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = names
                .iter()
                .filter(|n| n.len() == names.last().map_or(0, Vec::len))
                .flat_map(|n| alphabet.iter().map(move |&c| [n.as_slice(), &[c]].concat()))
                .collect();
            names.extend(longer);
        }
        for name in names {
            let spelled = name.len() >= 2
                && matches!(name[0], b'r' | b'w' | b'R' | b'W')
                && name[1..].iter().all(u8::is_ascii_digit);
            let digits = std::str::from_utf8(&name[name.len().min(1)..]).unwrap_or("");
            let number = (spelled && (digits.len() == 1 || !digits.starts_with('0')))
                .then(|| digits.parse::<u8>().ok())
                .flatten()
                .filter(|&n| n <= 10);
            let want = spelled
                .then(|| number.map(|n| (Reg::ALL[n as usize], matches!(name[0], b'w' | b'W'))));
            assert_eq!(
                reg_name(&name),
                want,
                "{:?}",
                String::from_utf8_lossy(&name)
            );
        }
    }

    fn parse(line: &str) -> Result<Insn, String> {
        let mut lx = Lexer::new(line.as_bytes());
        let mut toks = Vec::new();
        lx.lex(0, line.len(), &mut toks);
        parse_insn(line, &toks, None, false)
            .map(|p| p.insn)
            .map_err(|e| e.msg)
    }

    #[test]
    fn both_dialects_give_the_same_instruction() {
        let pairs = [
            ("w0 = 1", "mov32 %r0, 1"),
            ("r0 = *(u64 *)(r1 + 8)", "ldxdw %r0, [%r1+8]"),
            ("*(u32 *)(r10 - 4) = r1", "stxw [%r10-4], %r1"),
            ("if r1 != 0 goto +2", "jne %r1, 0, +2"),
            (
                "r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)",
                "lock fetch add [%r10-8], %r1",
            ),
            ("r0 = be16 r0", "be16 %r0"),
            ("w0 = (s8)w1", "movsx832 %r0, %r1"),
            ("r0 = 0x1122334455667788 ll", "lddw %r0, 0x1122334455667788"),
            ("gotol +1", "ja32 +1"),
            ("callx r2", "call %r2"),
            ("r0 s%= r1", "smod %r0, %r1"),
            ("r0 = *(s16 *)(r1 + 0)", "ldxsh %r0, [%r1]"),
            (
                "r0 = cmpxchg_64(r10 - 8, r0, r1)",
                "lock cmpxchg [%r10-8], %r1",
            ),
            ("w1 = xchg32_32(r10 - 8, w1)", "lock xchg32 [%r10-8], %r1"),
        ];
        for (llvm, mn) in pairs {
            assert_eq!(parse(llvm), parse(mn), "{llvm} vs {mn}");
            assert!(parse(llvm).is_ok(), "{llvm}: {:?}", parse(llvm));
        }
    }

    #[test]
    fn kernel_spellings() {
        assert_eq!(
            parse("*(u32 *)(r10 -4) = r1"),
            parse("*(u32 *)(r10 - 4) = r1")
        );
        assert_eq!(parse("goto pc+3"), Ok(Insn::Ja { off: 3 }));
        assert_eq!(
            parse("call bpf_map_push_elem#87"),
            Ok(Insn::Call(Callee::Helper(87)))
        );
        assert_eq!(parse("call pc-2"), Ok(Insn::Call(Callee::Local(-2))));
        assert_eq!(
            parse("call kernel-function#65472"),
            Ok(Insn::Call(Callee::Kfunc {
                btf_id: 65472,
                off: 0
            }))
        );
        assert!(parse("call bpf_map_push_elem#88").is_err());
        assert_eq!(
            parse("r2 = atomic64_fetch_add((u64 *)(r1 +8), r2)"),
            parse("r2 = atomic_fetch_add((u64 *)(r1 + 8), r2)")
        );
        assert_eq!(
            parse("r0 = *(u8 *)skb[r3 + -2]"),
            Ok(Insn::LdInd {
                size: Size::U8,
                src: Reg::R3,
                imm: -2
            })
        );
        assert_eq!(
            parse("if w0 s< 0xfffffffb goto pc+0"),
            parse("if w0 s< -5 goto +0")
        );
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert!(parse("r11 = 5")
            .unwrap_err()
            .contains("unknown register `r11`"));
        assert!(parse("w1 += r2").unwrap_err().contains("same width"));
        assert!(parse("r1 = 4294967296")
            .unwrap_err()
            .contains("does not fit in 32 bits"));
        // The same range as LLVM's dialect; the conformance suite's signed decimal on request.
        assert!(parse("mov32 %r0, 2147483648").is_ok());
        assert!(parse("mov32 %r0, 4294967296")
            .unwrap_err()
            .contains("does not fit"));
        let line = "mov32 %r0, 2147483648";
        let mut lx = Lexer::new(line.as_bytes());
        let mut toks = Vec::new();
        lx.lex(0, line.len(), &mut toks);
        assert!(parse_insn(line, &toks, None, true)
            .map(|_| ())
            .unwrap_err()
            .msg
            .contains("in decimal"));
        assert!(parse("mov32 %r0, 0xffffffff").is_ok());
        assert!(parse("ldxb %r0, [%r1+0x10000]")
            .unwrap_err()
            .contains("16 bits"));
        assert!(parse("lock *(u8 *)(r1 + 0) += r2").is_err());
        assert!(parse("ldxq %r0, %r1")
            .unwrap_err()
            .contains("unknown instruction"));
        assert!(parse("lock").unwrap_err().contains("number of operands"));
        assert!(parse("lock or [%r10-8]")
            .unwrap_err()
            .contains("number of operands"));
    }
}
