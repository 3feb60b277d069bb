//! Assembler diagnostics, shown the way rustc shows them (rendered by annotate-snippets, the
//! renderer rustc itself uses):
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

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// Whether a diagnostic stops the assembly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The file does not assemble.
    #[default]
    Error,
    /// The file assembles, but the code is probably not what was meant.
    Warning,
    /// Something the reader should know: a choice the tool made for the file.
    Note,
}

impl Severity {
    /// `error` or `warning`, as the first line of a diagnostic says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

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

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Lines longer than this many characters are shown as a window around the caret.
const MAX_LINE_CHARS: usize = 200;
/// Characters of context each side of the caret in such a window.
const WINDOW_CONTEXT: usize = 60;
/// The longest caret shown in such a window (a longer span is cut at its start).
const WINDOW_CARET: usize = 60;
/// A backquoted token longer than this many bytes is cut in a message (`xxxx...`).
const MAX_QUOTED: usize = 120;

/// The longest message shown, in bytes, once its quoted tokens are cut (a guard: the
/// assembler's own words are far shorter).
const MAX_MESSAGE: usize = 2048;

/// How many diagnostics a list shows before `... and N more errors` (bounded output for
/// inputs that repeat one mistake 100,000 times).
pub const MAX_SHOWN: usize = 50;

impl AsmError {
    /// The diagnostic as text: plain, or with the terminal colors rustc uses (`color`).
    /// [`Display`](fmt::Display) is the plain form.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        }
        // The window is ours (see `shown_line`): the renderer never cuts it again.
        .term_width(4 * MAX_LINE_CHARS);
        renderer.render(&[self.group()])
    }

    fn group(&self) -> Group<'_> {
        let location = format!("{}:{}:{}", self.path, self.line, self.column);
        let (text, span) = self.shown_line();
        let group = title(self.severity, Some(&location), &self.message).element(
            Snippet::source(text)
                .line_start(self.line as usize)
                .annotation(AnnotationKind::Primary.span(span)),
        );
        with_notes(group, &self.notes)
    }

    /// The source line as shown, and the byte range of the caret in it: the whole line, or
    /// for a long one a window around the caret with `...` where text is left out (a 10 MB
    /// line is not echoed).
    fn shown_line(&self) -> (Cow<'_, str>, Range<usize>) {
        let text = self.line_text.as_str();
        let col = (self.column as usize).saturating_sub(1);
        let width = (self.width as usize).max(1);
        let byte_at =
            |s: &str, chars: usize| s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i);
        if text.len() <= MAX_LINE_CHARS || text.chars().count() <= MAX_LINE_CHARS {
            let start = byte_at(text, col);
            let end = start + byte_at(&text[start..], width);
            return (Cow::Borrowed(text), start..end);
        }
        let first = col.saturating_sub(WINDOW_CONTEXT);
        let from = byte_at(text, first);
        let caret = from + byte_at(&text[from..], col - first);
        let caret_end = caret + byte_at(&text[caret..], width.min(WINDOW_CARET));
        let to = caret_end + byte_at(&text[caret_end..], WINDOW_CONTEXT);
        let mut shown = String::with_capacity(to - from + 6);
        if from > 0 {
            shown.push_str("...");
        }
        let base = shown.len();
        shown.push_str(&text[from..to]);
        if to < text.len() {
            shown.push_str("...");
        }
        (
            Cow::Owned(shown),
            caret - from + base..caret_end - from + base,
        )
    }
}

/// The title of a diagnostic: `LOCATION: error: message` (the location first, as llvm-mc and
/// compilers print it and editors and CI annotators parse it), or `error: message`.
fn title<'a>(severity: Severity, location: Option<&str>, message: &'a str) -> Group<'a> {
    let level = match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Note => Level::NOTE,
    };
    let level = match location {
        Some(l) => level.with_name(format!("{l}: {}", severity.as_str())),
        None => level,
    };
    Group::with_title(level.primary_title(elide_quoted(message)))
}

/// `group` with its `note:` / `help:` lines (each given with its prefix; one without a prefix
/// is a note).
fn with_notes<'a>(mut group: Group<'a>, notes: &'a [String]) -> Group<'a> {
    for n in notes {
        let message = match n.split_once(": ") {
            Some(("help", t)) => Level::HELP.message(elide_quoted(t)),
            Some(("note", t)) => Level::NOTE.message(elide_quoted(t)),
            _ => Level::NOTE.message(elide_quoted(n)),
        };
        group = group.element(message);
    }
    group
}

/// A diagnostic without a source line, rendered as the others are: `LOCATION: LEVEL: message`
/// (or `LEVEL: message` without a location), then its `= note:` / `= help:` lines, each of
/// `notes` given with its prefix (`"help: ..."`). For what has no line to show: a note about a
/// whole file, a warning about Rust code built with the DSL.
///
/// ```
/// use bpfsmith::text::{render_message, Severity};
/// let text = render_message(
///     Severity::Note,
///     Some("a.s:1:1"),
///     "no `.license` directive: the license is \"GPL\"",
///     &["help: set it with `.license`".to_owned()],
/// );
/// assert!(text.starts_with("a.s:1:1: note: no `.license` directive"));
/// assert!(text.ends_with("= help: set it with `.license`"));
/// ```
pub fn render_message(
    severity: Severity,
    location: Option<&str>,
    message: &str,
    notes: &[String],
) -> String {
    let group = with_notes(title(severity, location, message), notes);
    Renderer::plain()
        .term_width(4 * MAX_LINE_CHARS)
        .render(&[group])
}

/// `text` with every backquoted token longer than [`MAX_QUOTED`] bytes cut to its start and
/// `...` (a message quoting a 10 MB token stays short), and at most [`MAX_MESSAGE`] bytes in
/// all.
fn elide_quoted(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_QUOTED {
        return Cow::Borrowed(text);
    }
    let cut = cut_quoted(text);
    if cut.len() <= MAX_MESSAGE {
        return cut;
    }
    let end = floor_char_boundary(&cut, MAX_MESSAGE);
    Cow::Owned(format!("{}...", &cut[..end]))
}

fn cut_quoted(text: &str) -> Cow<'_, str> {
    let mut parts = text.split('`');
    let mut out = String::new();
    let mut changed = false;
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        out.push('`');
        // Odd pieces (after an opening backquote) are quoted.
        if i % 2 == 0 && part.len() > MAX_QUOTED {
            let cut = floor_char_boundary(part, MAX_QUOTED / 2);
            out.push_str(&part[..cut]);
            out.push_str("...");
            changed = true;
        } else {
            out.push_str(part);
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
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
        for e in self.0.iter().take(MAX_SHOWN) {
            writeln!(f, "{e}\n")?;
        }
        let rest = self.0.get(MAX_SHOWN..).unwrap_or_default();
        if !rest.is_empty() {
            let said: Vec<String> = [Severity::Error, Severity::Warning, Severity::Note]
                .into_iter()
                .filter_map(|s| {
                    let n = rest.iter().filter(|e| e.severity == s).count();
                    let plural = if n == 1 { "" } else { "s" };
                    (n > 0).then(|| format!("{n} more {}{plural}", s.as_str()))
                })
                .collect();
            let said = said.join(" and ");
            writeln!(f, "... and {said} (the first {MAX_SHOWN} are shown)\n")?;
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
    fn a_message_without_a_line() {
        let t = render_message(
            Severity::Note,
            Some("a.s:1:1"),
            "no `.license` directive",
            &["help: add one".to_owned(), "note: GPL".to_owned()],
        );
        assert_eq!(
            t,
            "a.s:1:1: note: no `.license` directive\n  |\n  = help: add one\n  = note: GPL"
        );
        assert_eq!(
            render_message(Severity::Warning, None, "w", &[]),
            "warning: w"
        );
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
