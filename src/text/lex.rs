//! The assembler's lexer: one line at a time, byte by byte, into tokens that are spans of the
//! source (no allocation per token).
//!
//! Comments are dropped here: `#` (except in the kernel's `name#id` spelling of a call),
//! `//` and `/* ... */` (which may span lines: the lexer keeps that state between lines).
//! `;` is a token of its own, since it separates statements in LLVM's syntax and starts the
//! register state in a verifier log line; the assembler decides which.

/// What a token is. Operators are single tokens, longest match first (`<<=` before `<<`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum T {
    /// `[A-Za-z_.$][A-Za-z0-9_.$]*`: names, registers, mnemonics, directives.
    Ident,
    /// A number: `0x1f`, `017` (octal), `0b101` or decimal digits; no sign.
    Num,
    /// A double-quoted string, quotes included.
    Str,
    /// A string that does not end on its line.
    OpenStr,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Comma,
    Colon,
    Semi,
    /// `#` between a name and a number, as in the kernel's `call bpf_map_push_elem#87`.
    Hash,
    Star,
    Plus,
    Minus,
    Lt,
    Gt,
    Assign,
    EqEq,
    Ne,
    Ge,
    Le,
    Amp,
    Pipe,
    Caret,
    Percent,
    Slash,
    Bang,
    Shl,
    Shr,
    AddEq,
    SubEq,
    MulEq,
    DivEq,
    ModEq,
    OrEq,
    AndEq,
    XorEq,
    ShlEq,
    ShrEq,
    At,
    /// A byte that starts no token (the whole UTF-8 character).
    Unknown,
}

/// A token: its kind and its byte range in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: T,
    pub start: u32,
    pub end: u32,
}

/// Lexes a source line by line. Positions are byte offsets into the whole source.
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    /// Where the `/*` of a comment that has not ended yet starts.
    pub open_comment: Option<usize>,
}

#[inline]
pub(crate) fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'$'
}

/// The length of the UTF-8 character that starts with byte `b` (1 for a stray byte).
#[inline]
pub(crate) fn utf8_len(b: u8) -> usize {
    match b {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Lexer<'a> {
        Lexer {
            src,
            open_comment: None,
        }
    }

    /// The end of the line that starts at `from`: the index of its `\n`, or the input length.
    #[inline]
    pub fn line_end(&self, from: usize) -> usize {
        match self.src.get(from..) {
            Some(rest) => memchr::memchr(b'\n', rest).map_or(self.src.len(), |i| from + i),
            None => self.src.len(),
        }
    }

    /// Lex from `from` to the end of its line into `out` (cleared first), and give the end of
    /// the line (as [`Lexer::line_end`]): [`Lexer::lex`] without looking for the line end
    /// first. Names, numbers and operators are lexed here; at anything else (strings,
    /// comments, `#`, `/`, other bytes) the line end is found and [`Lexer::lex`]'s loop takes
    /// over.
    pub fn lex_line(&mut self, from: usize, out: &mut Vec<Tok>) -> usize {
        out.clear();
        if self.open_comment.is_some() {
            let end = self.line_end(from);
            self.lex_into(from, end, out);
            return end;
        }
        let s = self.src;
        let len = s.len();
        let mut i = from;
        while i < len {
            let b = s[i];
            let start = i;
            let kind = match CLASS[b as usize] & !C_IDENT_CONT {
                C_SPACE => {
                    i += 1;
                    continue;
                }
                C_NEWLINE => return i,
                C_IDENT => {
                    i += 1;
                    while i < len && CLASS[s[i] as usize] & C_IDENT_CONT != 0 {
                        i += 1;
                    }
                    T::Ident
                }
                C_DIGIT => {
                    i = number_end(s, i, len);
                    T::Num
                }
                C_PUNCT => {
                    // A `\n` after an operator matches no longer operator, as the end of
                    // the line would not.
                    let (kind, n) = punct(s, i, len);
                    i += n;
                    kind
                }
                _ => {
                    let end = self.line_end(i);
                    self.lex_into(i, end, out);
                    return end;
                }
            };
            out.push(Tok {
                kind,
                start: start as u32,
                end: i as u32,
            });
        }
        len
    }

    /// Lex `[from, end)` (part of one line) into `out` (cleared first). A block comment still
    /// open at `end` stays open for the next line.
    pub fn lex(&mut self, from: usize, end: usize, out: &mut Vec<Tok>) {
        out.clear();
        self.lex_into(from, end, out);
    }

    /// [`Lexer::lex`] without clearing `out`.
    fn lex_into(&mut self, from: usize, end: usize, out: &mut Vec<Tok>) {
        let s = self.src;
        let end = end.min(s.len());
        let mut i = from;
        if self.open_comment.is_some() {
            match find_comment_end(s, i, end) {
                Some(after) => {
                    self.open_comment = None;
                    i = after;
                }
                None => return,
            }
        }
        while i < end {
            let b = s[i];
            let start = i;
            let kind = match b {
                b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => {
                    i += 1;
                    continue;
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'.' | b'$' => {
                    i += 1;
                    while i < end && is_ident_char(s[i]) {
                        i += 1;
                    }
                    T::Ident
                }
                b'0'..=b'9' => {
                    i = number_end(s, i, end);
                    T::Num
                }
                b'"' => {
                    i += 1;
                    let mut closed = false;
                    while i < end {
                        match s[i] {
                            b'\\' => i += 2,
                            b'"' => {
                                i += 1;
                                closed = true;
                                break;
                            }
                            _ => i += 1,
                        }
                    }
                    i = i.min(end);
                    if closed {
                        T::Str
                    } else {
                        T::OpenStr
                    }
                }
                b'#' => {
                    let after_name = out
                        .last()
                        .is_some_and(|t| t.kind == T::Ident && t.end as usize == i);
                    let next = s.get(i + 1).copied().unwrap_or(0);
                    if after_name && i + 1 < end && (next.is_ascii_digit() || next == b'-') {
                        i += 1;
                        T::Hash
                    } else {
                        return;
                    }
                }
                b'/' => match s.get(i + 1).filter(|_| i + 1 < end) {
                    Some(b'/') => return,
                    Some(b'*') => match find_comment_end(s, i + 2, end) {
                        Some(after) => {
                            i = after;
                            continue;
                        }
                        None => {
                            self.open_comment = Some(i);
                            return;
                        }
                    },
                    Some(b'=') => {
                        i += 2;
                        T::DivEq
                    }
                    _ => {
                        i += 1;
                        T::Slash
                    }
                },
                _ => {
                    let (kind, len) = punct(s, i, end);
                    i += len;
                    kind
                }
            };
            out.push(Tok {
                kind,
                start: start as u32,
                end: i.min(end) as u32,
            });
        }
    }
}

// Byte classes for [`Lexer::lex_line`]: what a byte starts (the low bits), and whether it
// continues a name.
const C_OTHER: u8 = 0;
const C_SPACE: u8 = 1;
const C_NEWLINE: u8 = 2;
const C_IDENT: u8 = 3;
const C_DIGIT: u8 = 4;
const C_PUNCT: u8 = 5;
const C_IDENT_CONT: u8 = 0x80;

static CLASS: [u8; 256] = {
    let mut c = [C_OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let ch = b as u8;
        c[b] = match ch {
            b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => C_SPACE,
            b'\n' => C_NEWLINE,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'.' | b'$' => C_IDENT | C_IDENT_CONT,
            b'0'..=b'9' => C_DIGIT | C_IDENT_CONT,
            b'(' | b')' | b'[' | b']' | b',' | b':' | b';' | b'@' | b'*' | b'+' | b'-' | b'%'
            | b'|' | b'&' | b'^' | b'=' | b'!' | b'<' | b'>' => C_PUNCT,
            _ => C_OTHER,
        };
        b += 1;
    }
    c
};

/// After `/*` at `from`: the index after the closing `*/` if it is before `end`.
fn find_comment_end(s: &[u8], from: usize, end: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < end {
        if s[i] == b'*' && s[i + 1] == b'/' {
            return Some(i + 2);
        }
        i += 1;
    }
    None
}

/// The end of a number that starts at `i` (a digit), including C's integer suffixes
/// (`5ll`, `5UL`), which LLVM's lexer reads and ignores: `r1 = 5ll` is `r1 = 5`, not a
/// 64-bit load.
fn number_end(s: &[u8], i: usize, end: usize) -> usize {
    let mut e = digits_end(s, i, end);
    while e < end && matches!(s[e], b'l' | b'L' | b'u' | b'U') {
        e += 1;
    }
    e
}

fn digits_end(s: &[u8], mut i: usize, end: usize) -> usize {
    let next = |k: usize| if k < end { s[k] } else { 0 };
    if s[i] == b'0' && matches!(next(i + 1), b'x' | b'X') {
        i += 2;
        while i < end && s[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    if s[i] == b'0' && matches!(next(i + 1), b'b' | b'B') && matches!(next(i + 2), b'0' | b'1') {
        i += 2;
        while i < end && matches!(s[i], b'0' | b'1') {
            i += 1;
        }
        return i;
    }
    while i < end && s[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Punctuation at `i`: the token kind and its length.
fn punct(s: &[u8], i: usize, end: usize) -> (T, usize) {
    let at = |k: usize| if i + k < end { s[i + k] } else { 0 };
    let b = s[i];
    let eq = at(1) == b'=';
    match b {
        b'(' => (T::LParen, 1),
        b')' => (T::RParen, 1),
        b'[' => (T::LBrack, 1),
        b']' => (T::RBrack, 1),
        b',' => (T::Comma, 1),
        b':' => (T::Colon, 1),
        b';' => (T::Semi, 1),
        b'@' => (T::At, 1),
        b'*' if eq => (T::MulEq, 2),
        b'*' => (T::Star, 1),
        b'+' if eq => (T::AddEq, 2),
        b'+' => (T::Plus, 1),
        b'-' if eq => (T::SubEq, 2),
        b'-' => (T::Minus, 1),
        b'%' if eq => (T::ModEq, 2),
        b'%' => (T::Percent, 1),
        b'|' if eq => (T::OrEq, 2),
        b'|' => (T::Pipe, 1),
        b'&' if eq => (T::AndEq, 2),
        b'&' => (T::Amp, 1),
        b'^' if eq => (T::XorEq, 2),
        b'^' => (T::Caret, 1),
        b'=' if eq => (T::EqEq, 2),
        b'=' => (T::Assign, 1),
        b'!' if eq => (T::Ne, 2),
        b'!' => (T::Bang, 1),
        b'<' if at(1) == b'<' && at(2) == b'=' => (T::ShlEq, 3),
        b'<' if at(1) == b'<' => (T::Shl, 2),
        b'<' if eq => (T::Le, 2),
        b'<' => (T::Lt, 1),
        b'>' if at(1) == b'>' && at(2) == b'=' => (T::ShrEq, 3),
        b'>' if at(1) == b'>' => (T::Shr, 2),
        b'>' if eq => (T::Ge, 2),
        b'>' => (T::Gt, 1),
        _ => (T::Unknown, utf8_len(b).min(end - i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(line: &str) -> Vec<(T, &str)> {
        let mut lx = Lexer::new(line.as_bytes());
        let mut v = Vec::new();
        lx.lex(0, line.len(), &mut v);
        v.iter()
            .map(|t| (t.kind, &line[t.start as usize..t.end as usize]))
            .collect()
    }

    #[test]
    fn operators_take_the_longest_match() {
        assert_eq!(
            kinds("r1 s>>= 3"),
            vec![
                (T::Ident, "r1"),
                (T::Ident, "s"),
                (T::ShrEq, ">>="),
                (T::Num, "3")
            ]
        );
        assert_eq!(
            kinds("*(u32 *)(r10 -4) = r1"),
            vec![
                (T::Star, "*"),
                (T::LParen, "("),
                (T::Ident, "u32"),
                (T::Star, "*"),
                (T::RParen, ")"),
                (T::LParen, "("),
                (T::Ident, "r10"),
                (T::Minus, "-"),
                (T::Num, "4"),
                (T::RParen, ")"),
                (T::Assign, "="),
                (T::Ident, "r1"),
            ]
        );
        assert_eq!(
            kinds("r1 = 5ll"),
            vec![(T::Ident, "r1"), (T::Assign, "="), (T::Num, "5ll")]
        );
    }

    #[test]
    fn comments_and_kernel_hash() {
        assert_eq!(kinds("exit # done").len(), 1);
        assert_eq!(kinds("exit // done").len(), 1);
        assert_eq!(kinds("r1 /* x */ = 2").len(), 3);
        assert_eq!(
            kinds("call bpf_map_push_elem#87 # push"),
            vec![
                (T::Ident, "call"),
                (T::Ident, "bpf_map_push_elem"),
                (T::Hash, "#"),
                (T::Num, "87")
            ]
        );
        let src = "r1 /* open\nstill */ = 2";
        let mut lx = Lexer::new(src.as_bytes());
        let mut v = Vec::new();
        let e = lx.line_end(0);
        lx.lex(0, e, &mut v);
        assert_eq!(v.len(), 1);
        assert!(lx.open_comment.is_some());
        lx.lex(e + 1, src.len(), &mut v);
        assert_eq!(v.len(), 2);
        assert!(lx.open_comment.is_none());
    }

    #[test]
    fn lex_line_is_lex_to_the_line_end() {
        let src = "r1 += r2\n\tw3 = 5 # c\n*(u64 *)(r10 - 8) = r1\nr1 = 0x12ll\r\n\
                   w1 s/= w2 // c\nr1 /* a */ = 2 /* open\n still */ r2 <<= 3\n\
                   call f#12 # x\n.license \"GP\\\"L\"\n\"open\né x\n\
                   if r1 >= r2 goto +1 <f+0x8>\n\n   \nr0 = 1";
        let mut a = Lexer::new(src.as_bytes());
        let mut b = Lexer::new(src.as_bytes());
        let (mut va, mut vb) = (Vec::new(), Vec::new());
        let mut pos = 0;
        loop {
            let end = a.line_end(pos);
            a.lex(pos, end, &mut va);
            assert_eq!(b.lex_line(pos, &mut vb), end, "line at {pos}");
            assert_eq!(va, vb, "line at {pos}");
            assert_eq!(a.open_comment, b.open_comment);
            if end >= src.len() {
                break;
            }
            pos = end + 1;
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds("0x1fzz"), vec![(T::Num, "0x1f"), (T::Ident, "zz")]);
        assert_eq!(kinds("0b101"), vec![(T::Num, "0b101")]);
        assert_eq!(kinds("0x"), vec![(T::Num, "0x")]);
        assert_eq!(kinds("é"), vec![(T::Unknown, "é")]);
    }
}
