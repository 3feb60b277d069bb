//! Assembler diagnostics, shown the way rustc shows them (rendered by annotate-snippets, the
//! renderer rustc itself uses, through [`crate::diag`], which renders the DSL's too):
//!
//! ```text
//! asm/bad.s:3:1: error: unknown register `r11`: registers are r0 to r10
//!   |
//! 3 | r11 = 5
//!   | ^^^
//!   |
//!   = help: r10 is the read-only frame pointer; r0-r9 are general purpose
//! ```
//!
//! The first line is `FILE:LINE:COLUMN: error: message` (what llvm-mc prints, and what
//! editors and CI annotators parse), then the source line and carets under the offending
//! token. Columns count characters, from 1; tabs are shown as four spaces and the carets
//! follow them. A line longer than 200 characters is shown as a window around the carets,
//! with `...` where text is left out, and a backquoted token of over 120 bytes in a message is
//! cut: a 10 MB line is never echoed.
//!
//! Warnings ([`Severity::Warning`]) look the same with `warning:`: code that assembles and
//! loads, but behaves differently on some kernels (see [`crate::program::lint`]).
//!
//! A list of diagnostics ([`AsmErrors`], [`Capped`]) shows the first [`MAX_SHOWN`], then how
//! many more there are.

use std::fmt;

use crate::diag::{floor_char_boundary, render_line};
pub use crate::diag::{render_message, Severity, MAX_SHOWN};

/// What kind of mistake an [`AsmError`] reports, for tools and tests that sort errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AsmErrorKind {
    /// The text does not parse: an unexpected token, a missing operand, an unknown character.
    Syntax,
    /// An instruction name that neither dialect knows.
    UnknownMnemonic,
    /// A register other than `r0`-`r10` / `w0`-`w10`.
    UnknownRegister,
    /// A register of the wrong width (`w1 += r2`, `w1 = *(u64 *)...`) or a register where
    /// the instruction needs a specific one (`r0` for `cmpxchg`, the same register twice).
    WrongRegister,
    /// An immediate that does not fit its field.
    ImmediateRange,
    /// A memory offset that does not fit 16 bits.
    OffsetRange,
    /// A jump or call to a label that is not defined in the program.
    UndefinedLabel,
    /// A label defined twice.
    DuplicateLabel,
    /// A jump whose offset does not fit its field, or that lands outside the program or in
    /// the middle of an `ld_imm64`.
    JumpRange,
    /// `rN = NAME ll` where `NAME` is neither a declared map nor a function of the program:
    /// a warning (the load is written as llvm-mc writes it, an `R_BPF_64_64` relocation
    /// against the undefined symbol `NAME`, an extern map the loader must supply).
    UnknownMap,
    /// `call NAME` where `NAME` is neither a helper nor a function of the program.
    UnknownHelper,
    /// A `.map` directive that breaks a rule (unknown key or type, a kernel creation rule).
    BadMap,
    /// A directive that is unknown or malformed.
    BadDirective,
    /// A program or function whose last instruction is not `exit` or `goto`: execution would
    /// run past its end.
    FallsOffEnd,
    /// A program-level problem: no instructions, an instruction outside any program, a name
    /// used twice.
    Program,
    /// Code that no path from the program's entry reaches (a warning: the verifier refuses
    /// it with `unreachable insn N`).
    Unreachable,
    /// A warning: a 64-bit compare of the `int` result of a map helper (2, 3, 87, 88, 89) that
    /// goes the other way on kernels before 6.4 ([`crate::program::lint`]).
    HelperResultWidth,
}

/// One assembly diagnostic, an error or (with [`Severity::Warning`]) a warning: where, what,
/// and the source line it points into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsmError {
    /// An error (the default) or a warning.
    pub severity: Severity,
    /// The file name given to the assembler (for messages only).
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// How many characters the caret underlines (at least 1).
    pub width: u32,
    /// The category.
    pub kind: AsmErrorKind,
    /// What is wrong, and what was expected.
    pub message: String,
    /// The text of the line (without its line break).
    pub line_text: String,
    /// Further `help:` or `note:` lines, each with its prefix.
    pub notes: Vec<String>,
}

impl AsmError {
    /// An error at byte range `start..end` of `source` (clamped to the source; an empty range
    /// gets a one-character caret).
    pub fn at(
        path: &str,
        source: &str,
        start: usize,
        end: usize,
        kind: AsmErrorKind,
        message: impl Into<String>,
    ) -> AsmError {
        let start = floor_char_boundary(source, start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line = source.as_bytes()[..line_start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u32
            + 1;
        Self::in_line(path, source, line, line_start, start, end, kind, message)
    }

    /// [`AsmError::at`] when the caller knows the line (1-based) and the byte offset where it
    /// starts, which saves counting lines.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn in_line(
        path: &str,
        source: &str,
        line: u32,
        line_start: usize,
        start: usize,
        end: usize,
        kind: AsmErrorKind,
        message: impl Into<String>,
    ) -> AsmError {
        let line_start = floor_char_boundary(source, line_start.min(source.len()));
        let start = floor_char_boundary(source, start.clamp(line_start, source.len()));
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let end = floor_char_boundary(source, end.clamp(start, line_end));
        let line_text = source[line_start..line_end].trim_end_matches('\r');
        // A position in the line's trailing `\r`s shows just past its text.
        let column =
            (source[line_start..start].chars().count()).min(line_text.chars().count()) as u32 + 1;
        let width = (source[start..end].chars().count() as u32).max(1);
        AsmError {
            severity: Severity::Error,
            path: path.to_owned(),
            line,
            column,
            width,
            kind,
            message: message.into(),
            line_text: line_text.to_owned(),
            notes: Vec::new(),
        }
    }

    /// The same error with a `help:` line.
    pub fn help(mut self, text: impl fmt::Display) -> AsmError {
        self.notes.push(format!("help: {text}"));
        self
    }

    /// The same error with a `note:` line.
    pub fn note(mut self, text: impl fmt::Display) -> AsmError {
        self.notes.push(format!("note: {text}"));
        self
    }

    /// The same diagnostic as a warning.
    pub fn warning(mut self) -> AsmError {
        self.severity = Severity::Warning;
        self
    }
}

impl AsmError {
    /// The diagnostic as text: plain, or with the terminal colors rustc uses (`color`).
    /// [`Display`](fmt::Display) is the plain form.
    pub fn render(&self, color: bool) -> String {
        render_line(
            self.severity,
            &format!("{}:{}:{}", self.path, self.line, self.column),
            self.line,
            &self.line_text,
            self.column,
            self.width,
            &self.message,
            &self.notes,
            color,
        )
    }
}

impl fmt::Display for AsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Diagnostics shown as a compiler shows them, each followed by a blank line: the first
/// [`MAX_SHOWN`], then how many more there are (`... and 99950 more errors`).
#[derive(Clone, Copy, Debug)]
pub struct Capped<'a>(pub &'a [AsmError]);

impl fmt::Display for Capped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::diag::write_capped(f, self.0, |e| e.severity)?;
        if !self.0.is_empty() {
            f.write_str("\n\n")?;
        }
        Ok(())
    }
}

impl std::error::Error for AsmError {}

/// Every error found in one file, in source order. Displays them one after the other, then
/// a count, as compilers do.
#[derive(Clone, PartialEq, Eq)]
pub struct AsmErrors(pub Vec<AsmError>);

impl AsmErrors {
    /// The errors.
    pub fn iter(&self) -> std::slice::Iter<'_, AsmError> {
        self.0.iter()
    }

    /// How many errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never the case for an `Err` of the assembler).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any error is of this kind.
    pub fn has(&self, kind: AsmErrorKind) -> bool {
        self.0.iter().any(|e| e.kind == kind)
    }
}

impl<'a> IntoIterator for &'a AsmErrors {
    type Item = &'a AsmError;
    type IntoIter = std::slice::Iter<'a, AsmError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for AsmErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Capped(&self.0))?;
        match self.0.len() {
            1 => write!(f, "error: aborting due to 1 error"),
            n => write!(f, "error: aborting due to {n} errors"),
        }
    }
}

impl std::error::Error for AsmErrors {}

/// The closest of `candidates` to `word` by edit distance, if it is close enough to be a
/// plausible typo (at most a third of the word's length, and at least 1).
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let d = strsim::levenshtein(word, c);
        if d <= limit && best.map_or(true, |(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_a_compiler() {
        let src = "exit\n\tr11 = 5\n";
        let e = AsmError::at(
            "a.s",
            src,
            6,
            9,
            AsmErrorKind::UnknownRegister,
            "unknown register `r11`",
        )
        .help("registers are r0 to r10");
        assert_eq!((e.line, e.column, e.width), (2, 2, 3));
        assert_eq!(
            e.to_string(),
            "a.s:2:2: error: unknown register `r11`\n  |\n2 |     r11 = 5\n  |     ^^^\n  |\n  = help: registers are r0 to r10"
        );
    }

    #[test]
    fn positions_stay_inside_the_input() {
        let src = "é";
        let e = AsmError::at("a.s", src, 1, 100, AsmErrorKind::Syntax, "x");
        assert_eq!((e.line, e.column, e.width), (1, 1, 1));
        let e = AsmError::at("a.s", "", 5, 9, AsmErrorKind::Syntax, "x");
        assert_eq!((e.line, e.column), (1, 1));
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest(
                "bpf_map_pushelem",
                ["bpf_map_push_elem", "bpf_map_pop_elem"]
            ),
            Some("bpf_map_push_elem")
        );
        assert_eq!(suggest("xyz", ["queue"]), None);
    }
}

debug_as_display!(AsmErrors);
