//! The one diagnostic renderer of the crate (annotate-snippets, what rustc renders with): the
//! assembler's errors, warnings and notes ([`crate::text::AsmError`]) and the DSL's build
//! errors and warnings ([`crate::program::BuildErrors`], [`crate::program::Warning`]) all come
//! out in rustc's form:
//!
//! ```text
//! src/main.rs:12:7: warning: in program `pop`: ...
//!    |
//! 12 |     p.jump_if(R0, Cond::Slt, 0, empty);
//!    |       ^^^^^^^
//!    |
//!    = help: ...
//! ```
//!
//! A leaf module (no crate imports), below `program` and `text`, so both render through it and
//! the layers still run one way.

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

pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
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

/// A source file larger than this is not read to show a line of it (a location is only
/// rendered plain then).
const MAX_SOURCE_FILE: u64 = 64 << 20;

/// How many diagnostics a list shows before `... and N more errors` (bounded output for
/// inputs that repeat one mistake 100,000 times).
pub const MAX_SHOWN: usize = 50;

/// A diagnostic with its source line: `LOCATION: LEVEL: message`, the line (numbered `line`),
/// carets under `width` characters from `column` (1-based, in characters), then the notes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render_line(
    severity: Severity,
    location: &str,
    line: u32,
    text: &str,
    column: u32,
    width: u32,
    message: &str,
    notes: &[String],
    color: bool,
) -> String {
    let (text, span) = shown_line(text, column, width);
    let group = title(severity, Some(location), message).element(
        Snippet::source(text)
            .line_start(line as usize)
            .annotation(AnnotationKind::Primary.span(span)),
    );
    renderer(color).render(&[with_notes(group, notes)])
}

fn renderer(color: bool) -> Renderer {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    // The window is ours (see `shown_line`): the renderer never cuts it again.
    renderer.term_width(4 * MAX_LINE_CHARS)
}

/// The source line as shown, and the byte range of the caret in it: the whole line, or for a
/// long one a window around the caret with `...` where text is left out (a 10 MB line is not
/// echoed).
fn shown_line(text: &str, column: u32, width: u32) -> (Cow<'_, str>, Range<usize>) {
    let col = (column as usize).saturating_sub(1);
    let width = (width as usize).max(1);
    let byte_at = |s: &str, chars: usize| s.char_indices().nth(chars).map_or(s.len(), |(i, _)| i);
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
    renderer(false).render(&[group])
}

/// A diagnostic at `path:line:column` (1-based; the column in characters), rendered with the
/// source line and a caret under the token there when the file can be read (a regular file of
/// at most 64 MB, as the Rust file of a DSL call is from the crate's directory), and as
/// [`render_message`] does when it cannot or the position is unknown (0). Each of `notes` is
/// given with its prefix (`"help: ..."`).
///
/// ```
/// use bpfsmith::diag::{render_at, Severity};
/// let here = line!() + 1;
/// let text = render_at(Severity::Warning, file!(), here, 9, "a warning", &[]);
/// assert!(text.starts_with(&format!("{}:{here}:9: warning: a warning", file!())));
/// assert!(text.contains("^^^^"), "{text}"); // under `render_at`, read from this file
/// let plain = render_at(Severity::Error, "no/such/file.rs", 3, 1, "oops", &[]);
/// assert_eq!(plain, "no/such/file.rs:3:1: error: oops");
/// ```
pub fn render_at(
    severity: Severity,
    path: &str,
    line: u32,
    column: u32,
    message: &str,
    notes: &[String],
) -> String {
    let location = format!("{path}:{line}:{column}");
    if line > 0 && column > 0 {
        if let Some(text) = file_line(path, line) {
            let col = (column as usize - 1).min(text.chars().count());
            let token = text
                .chars()
                .skip(col)
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .count();
            return render_line(
                severity,
                &location,
                line,
                &text,
                col as u32 + 1,
                token.max(1) as u32,
                message,
                notes,
                false,
            );
        }
    }
    render_message(severity, Some(&location), message, notes)
}

/// A file [`file_line`] was asked about: its path, length and modification time (to know it is
/// still the same) and, from the second request on, its text.
struct ReadFile {
    path: String,
    len: u64,
    modified: Option<std::time::SystemTime>,
    text: Option<std::sync::Arc<str>>,
}

thread_local! {
    /// The last file read for [`file_line`]: a list of diagnostics in one file reads it once.
    static LAST_FILE: std::cell::RefCell<Option<ReadFile>> = const { std::cell::RefCell::new(None) };
}

/// Line `line` (1-based) of the file at `path`, without its line break, when the path names a
/// readable regular file of UTF-8 text (never a device, a pipe or standard input, which a
/// second read would block on or consume).
fn file_line(path: &str, line: u32) -> Option<String> {
    let meta = source_file(path)?;
    let (len, modified) = (meta.len(), meta.modified().ok());
    let same = |f: &ReadFile| f.path == path && f.len == len && f.modified == modified;
    let seen = LAST_FILE.with(|c| {
        c.borrow()
            .as_ref()
            .filter(|f| same(f))
            .map(|f| f.text.clone())
    });
    let text = match seen {
        Some(Some(text)) => text,
        // A second line of the same file: read it whole once for the rest of the list.
        Some(None) => {
            let text: std::sync::Arc<str> = read_source(path)?.into();
            LAST_FILE.with(|c| {
                if let Some(f) = c.borrow_mut().as_mut() {
                    f.text = Some(text.clone());
                }
            });
            text
        }
        // The first line asked of this file (often the only one, e.g. a note at line 1 of a
        // 1M-line file): read up to it, not the whole file.
        None => {
            LAST_FILE.with(|c| {
                *c.borrow_mut() = Some(ReadFile {
                    path: path.to_owned(),
                    len,
                    modified,
                    text: None,
                })
            });
            return nth_line(path, line);
        }
    };
    let text = text.lines().nth(line.checked_sub(1)? as usize)?;
    Some(text.trim_end_matches('\r').to_owned())
}

/// Line `line` (1-based) of the file at `path`, read up to that line only.
fn nth_line(path: &str, line: u32) -> Option<String> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).ok()?;
    let mut lines = std::io::BufReader::new(file).lines();
    let text = lines.nth(line.checked_sub(1)? as usize)?.ok()?;
    Some(text.trim_end_matches('\r').to_owned())
}

/// The metadata of `path` when it names a regular file of at most 64 MB: a source file to show
/// lines of, not a device, a pipe or standard input (which a second read would block on or
/// consume) nor a huge file.
fn source_file(path: &str) -> Option<std::fs::Metadata> {
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_file() && meta.len() <= MAX_SOURCE_FILE).then_some(meta)
}

/// The text of the source file at `path` (a path a program's locations record), when it is a
/// regular file of UTF-8 text of at most 64 MB: what every view of a source line reads.
pub(crate) fn read_source(path: &str) -> Option<String> {
    source_file(path)?;
    std::fs::read_to_string(path).ok()
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

/// Diagnostics one after the other, a blank line between two: the first [`MAX_SHOWN`], then
/// how many more there are of each severity (`... and 99950 more errors (the first 50 are
/// shown)`).
pub(crate) fn write_capped<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    severity: impl Fn(&T) -> Severity,
) -> fmt::Result {
    for (i, e) in items.iter().take(MAX_SHOWN).enumerate() {
        if i > 0 {
            f.write_str("\n\n")?;
        }
        write!(f, "{e}")?;
    }
    let rest = items.get(MAX_SHOWN..).unwrap_or_default();
    if !rest.is_empty() {
        let said: Vec<String> = [Severity::Error, Severity::Warning, Severity::Note]
            .into_iter()
            .filter_map(|s| {
                let n = rest.iter().filter(|e| severity(e) == s).count();
                let plural = if n == 1 { "" } else { "s" };
                (n > 0).then(|| format!("{n} more {}{plural}", s.as_str()))
            })
            .collect();
        let said = said.join(" and ");
        write!(f, "\n\n... and {said} (the first {MAX_SHOWN} are shown)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The first line asked of a file is read up to it, later ones from the whole text kept
    /// for the list; a file rewritten in between is read again; CRLF endings are dropped.
    #[test]
    fn lines_of_one_file_read_once_and_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.s");
        std::fs::write(&path, "one\r\ntwo\nthree\n").unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(file_line(path, 3).as_deref(), Some("three"));
        assert_eq!(file_line(path, 1).as_deref(), Some("one"));
        assert_eq!(file_line(path, 2).as_deref(), Some("two"));
        assert_eq!(file_line(path, 4), None);
        assert_eq!(file_line(path, 0), None);
        std::fs::write(path, "first line, longer\n").unwrap();
        assert_eq!(file_line(path, 1).as_deref(), Some("first line, longer"));
        assert_eq!(file_line(path, 1).as_deref(), Some("first line, longer"));
    }

    /// A location in a readable file shows its line, the caret under the token at the column;
    /// an unknown position, or a file that is not a regular file, is the plain form.
    #[test]
    fn a_location_shows_its_line_when_the_file_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prog.rs");
        std::fs::write(&path, "fn main() {\n    p.jump_if(R0, 1);\n}\n").unwrap();
        let path = path.to_str().unwrap();
        let t = render_at(Severity::Error, path, 2, 7, "bad", &["help: h".to_owned()]);
        assert_eq!(
            t,
            format!(
                "{path}:2:7: error: bad\n  |\n2 |     p.jump_if(R0, 1);\n  |       ^^^^^^^\n  |\n  = help: h"
            )
        );
        assert_eq!(
            render_at(Severity::Error, path, 0, 0, "bad", &[]),
            format!("{path}:0:0: error: bad")
        );
        assert_eq!(
            render_at(Severity::Note, "/dev/null", 1, 1, "n", &[]),
            "/dev/null:1:1: note: n"
        );
        // Past the last line: no line to show.
        assert_eq!(
            render_at(Severity::Error, path, 9, 1, "bad", &[]),
            format!("{path}:9:1: error: bad")
        );
    }
}
