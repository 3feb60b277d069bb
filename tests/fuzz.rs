//! Fuzz targets that stay (issue 11, item 7): proptest-driven targets, one per kind of input
//! a user hands bpfsmith, each checking that nothing panics and that what is accepted is
//! consistent.
//!
//! - `asm_text`: assembly text, random and mutated from every `asm/*.s` file (lines spliced,
//!   bytes flipped, tokens swapped), through the assembler and its diagnostics, and raw bytes
//!   through the UTF-8 reader (`input::utf8_text`).
//! - `elf_objects`: ELF objects written by bpfsmith, mutated (bytes, words, truncation,
//!   insertion), through the full reader and the streaming view and its listing.
//! - `verifier_logs`: real verifier logs (Linux 6.18, 6.1, 4.x-5.x fixtures), cut and
//!   mutated, through the parser, the verdict, the terminal report and the HTML page.
//! - `cli_values`, the values of command-line arguments (`--data`, `--push`), is a unit test
//!   of the binary (`src/cli/values.rs`, `cargo test --bin bpfsmith`), where their parsers
//!   live; the same `BPFSMITH_FUZZ_CASES` sets its count.
//!
//! `cargo test` runs a short smoke of each (2,000 cases); `BPFSMITH_FUZZ_CASES=1000000
//! cargo test --release --test fuzz -- --nocapture` is the long run the README reports.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn cases() -> u32 {
    std::env::var("BPFSMITH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Run `test` on `cases()` values of `strategy`, and report the count and the time.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value))
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let mut runner = TestRunner::new(Config {
        cases: n,
        failure_persistence: None,
        // A failing case is reported as found; shrinking a million-case run costs too long.
        max_shrink_iters: 256,
        ..Config::default()
    });
    let t = std::time::Instant::now();
    let result = runner.run(&strategy, |v| {
        test(v);
        Ok(())
    });
    eprintln!("fuzz {name}: {n} inputs in {:.2?}", t.elapsed());
    if let Err(e) = result {
        panic!("fuzz {name}: {e}");
    }
}

fn files(dir: &str, ext: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(format!("{ROOT}/{dir}"))];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                if let Ok(t) = std::fs::read_to_string(&p) {
                    out.push(t);
                }
            }
        }
    }
    out.sort();
    out
}

/// How to damage a text or a byte string.
#[derive(Clone, Debug)]
enum Edit {
    /// Replace a byte.
    Flip(usize, u8),
    /// Insert bytes.
    Insert(usize, Vec<u8>),
    /// Delete a range.
    Delete(usize, usize),
    /// Cut the end off.
    Truncate(usize),
    /// Copy a range elsewhere (a line repeated, a token moved).
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        2 => (any::<usize>(), 1usize..80, any::<usize>()).prop_map(|(a, n, b)| Edit::Splice(a, n, b)),
    ]
}

fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = base.to_vec();
    for e in edits {
        let len = b.len();
        if len == 0 {
            break;
        }
        match e {
            Edit::Flip(i, v) => b[i % len] = *v,
            Edit::Insert(i, v) => {
                let at = i % (len + 1);
                b.splice(at..at, v.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(len);
                b.drain(at..end);
            }
            Edit::Truncate(i) => b.truncate(i % len),
            Edit::Splice(a, n, to) => {
                let from = a % len;
                let end = (from + n).min(len);
                let piece: Vec<u8> = b[from..end].to_vec();
                let at = to % (len + 1);
                b.splice(at..at, piece);
            }
        }
    }
    b
}

/// One of `corpus`, damaged by a few edits.
fn mutated(corpus: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = corpus.len();
    (0..n, proptest::collection::vec(edit(), 0..6))
        .prop_map(move |(i, edits)| apply(&corpus[i], &edits))
}

/// Text made of lines that look like assembly: every line of the corpus, and tokens.
fn asm_lines(corpus: &[String]) -> impl Strategy<Value = String> {
    let mut lines: Vec<String> = corpus
        .iter()
        .flat_map(|t| t.lines().map(str::to_owned))
        .collect();
    lines.sort();
    lines.dedup();
    let tokens = [
        "r0",
        "r1",
        "r10",
        "w1",
        "=",
        "+=",
        "-=",
        "*",
        "(u32 *)",
        "(u64 *)",
        "(r10 - 4)",
        "ll",
        "goto",
        "if",
        "+3",
        "-1",
        "0x7fffffff",
        "-2147483649",
        "18446744073709551616",
        "call",
        "exit",
        ".map",
        ".license",
        ".section",
        ".globl",
        "label:",
        "lock",
        "%r1",
        "[",
        "]",
        ",",
        "queue",
        "type=queue",
        "value_size=4",
        "max_entries=1073741824",
        "\"",
        "#",
        "é",
        "\t",
    ];
    let line = prop_oneof![
        3 => proptest::sample::select(lines),
        2 => proptest::collection::vec(proptest::sample::select(tokens.to_vec()), 0..8)
            .prop_map(|t| t.join(" ")),
        1 => "[ -~]{0,40}",
        1 => ".{0,20}",
    ];
    proptest::collection::vec(line, 0..30).prop_map(|l| l.join("\n"))
}

#[test]
fn asm_text() {
    let corpus = files("asm", "s");
    assert!(corpus.len() >= 10);
    let bytes: Vec<Vec<u8>> = corpus.iter().map(|t| t.as_bytes().to_vec()).collect();
    let strategy = prop_oneof![
        2 => mutated(bytes),
        2 => asm_lines(&corpus).prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ];
    fuzz("asm_text", strategy, |b| {
        let path = std::path::Path::new("fuzz.s");
        let Ok(text) = bpfsmith::input::utf8_text(path, b) else {
            return;
        };
        match bpfsmith::text::assemble("fuzz.s", &text) {
            Ok(obj) => {
                // What assembles can be written and listed.
                if let Ok(elf) = obj.to_elf() {
                    let back =
                        bpfsmith::object::ElfObject::parse(&elf).expect("our own ELF reads back");
                    // A function of `.text` that code of another section calls is appended
                    // to its callers when read, as loaders link it: count the others.
                    let outside_text = |o: &bpfsmith::object::Object| {
                        o.programs
                            .iter()
                            .filter(|p| p.section != bpfsmith::program::Section::TEXT)
                            .count()
                    };
                    assert_eq!(outside_text(&back.object), outside_text(&obj));
                }
                let _ = bpfsmith::text::asm_warnings(&obj);
            }
            Err(e) => {
                let shown = e.to_string();
                assert!(!shown.is_empty());
            }
        }
    });
}

fn elf_corpus() -> Vec<Vec<u8>> {
    let mut out = vec![bpfsmith::seed::object().to_elf().unwrap()];
    for t in files("asm", "s") {
        if let Ok(obj) = bpfsmith::text::assemble("x.s", &t) {
            if let Ok(elf) = obj.to_elf() {
                out.push(elf);
            }
        }
    }
    out
}

#[test]
fn elf_objects() {
    let corpus = elf_corpus();
    assert!(corpus.len() >= 10);
    fuzz("elf_objects", mutated(corpus), |b| {
        let full = bpfsmith::object::ElfObject::parse(&b);
        if let Ok(view) = bpfsmith::object::ObjectView::parse(&b) {
            let mut out = Vec::new();
            let _ =
                bpfsmith::text::write_view_listing(&mut out, &view, bpfsmith::text::Style::Llvm);
        }
        if let Ok(e) = full {
            let _ = e.object.to_elf();
        }
    });
}

#[test]
fn verifier_logs() {
    let corpus: Vec<Vec<u8>> = files("tests/fixtures/verifier", "log")
        .into_iter()
        // Long logs make slow cases without new shapes: their first 16 KiB.
        .map(|t| t.into_bytes().into_iter().take(16 << 10).collect())
        .collect();
    assert!(corpus.len() >= 80);
    let strategy = prop_oneof![
        4 => mutated(corpus),
        1 => proptest::collection::vec(any::<u8>(), 0..300),
    ];
    fuzz("verifier_logs", strategy, |b| {
        let text = String::from_utf8_lossy(&b);
        let log = bpfsmith::verifier::VerifierLog::parse(&text);
        let verdict = log.verdict();
        use bpfsmith::verifier::Verdict;
        if verdict == Verdict::Accepted {
            assert!(log.error().is_none());
        }
        for full in [false, true] {
            let opts = bpfsmith::verifier::ReportOptions { color: full, full };
            let report = bpfsmith::verifier::render_log_text(&text, None, &opts);
            // The headline never claims more than the log says.
            if verdict != Verdict::Accepted {
                assert!(!report.starts_with("accepted"), "{verdict:?}: {report}");
            }
        }
        let _ = bpfsmith::verifier::render_log_html(&text, None, "fuzz");
    });
}
