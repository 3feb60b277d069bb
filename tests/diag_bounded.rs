//! Diagnostics stay bounded (issue 11): 100,000 copies of one mistake print the first
//! [`MAX_SHOWN`] and a count of the rest; a 10 MB line is shown as a window around the caret,
//! not echoed. Each case runs the real command on the reproducer's input.

#[path = "common/tools.rs"]
mod tools;

use std::process::Command;

use bpfsmith::text::{assemble, AsmErrorKind, MAX_SHOWN};

/// `bpfsmith asm NAME -o NAME.o` on `text` written to `NAME` in a fresh folder (messages name
/// the file as given): exit code and stderr.
fn asm(name: &str, text: &str) -> (Option<i32>, String) {
    let dir = tools::TempDir::new("diag");
    std::fs::write(dir.path().join(name), text).expect("write input");
    let out = Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .current_dir(dir.path())
        .arg("asm")
        .arg(name)
        .arg("-o")
        .arg(format!("{name}.o"))
        .output()
        .expect("run bpfsmith");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_hundred_thousand_duplicate_labels_print_a_bounded_report() {
    let mut text = String::from("\t.text\nprog:\n");
    for _ in 0..100_000 {
        text.push_str("l:\n");
    }
    text.push_str("\tr0 = 0\n\texit\n");
    // The library keeps every error: nothing is lost for tools.
    let errors = assemble("dup.s", &text).unwrap_err();
    assert_eq!(errors.len(), 99_999);
    assert!(errors
        .iter()
        .all(|e| e.kind == AsmErrorKind::DuplicateLabel));

    let (code, stderr) = asm("dup.s", &text);
    assert_eq!(code, Some(1), "{stderr}");
    // 12.5 MB before the cap.
    assert!(stderr.len() < 16 * 1024, "{} bytes of stderr", stderr.len());
    assert_eq!(
        stderr.matches("error: label `l` is defined twice").count(),
        MAX_SHOWN
    );
    // The first shown is the second `l:` (line 4), the last shown the 51st.
    assert!(stderr.starts_with("dup.s:4:1: error: label `l` is defined twice\n"));
    assert!(stderr.contains(&format!("dup.s:{}:1: error", 3 + MAX_SHOWN)));
    assert!(!stderr.contains(&format!("dup.s:{}:1: error", 4 + MAX_SHOWN)));
    let rest = 99_999 - MAX_SHOWN;
    assert!(
        stderr.contains(&format!("... and {rest} more errors")),
        "{stderr}"
    );
    assert!(stderr
        .trim_end()
        .ends_with("error: aborting due to 99999 errors"));
}

#[test]
fn a_ten_megabyte_line_is_shown_around_the_caret() {
    // The mistake (an unknown register) in the middle of 10 MB of blanks.
    let pad = " ".repeat(5_000_000);
    let text = format!("\t.text\nprog:\n\t{pad}r11 = 5{pad}\n\tr0 = 0\n\texit\n");
    let (code, stderr) = asm("long.s", &text);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.len() < 2048, "{} bytes of stderr", stderr.len());
    // The column counts characters from 1: the tab, then the blanks.
    let column = 1 + 1 + pad.len();
    assert!(
        stderr.starts_with(&format!("long.s:3:{column}: error: unknown register `r11`")),
        "{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    let shown = lines
        .iter()
        .position(|l| l.starts_with("3 | "))
        .expect("the source line is shown");
    let source = lines[shown];
    assert!(source.starts_with("3 | ..."), "{source}");
    assert!(source.ends_with("..."), "{source}");
    // The caret stands under `r11` in the window.
    let at = source.find("r11").expect("the token is in the window");
    let caret = lines[shown + 1];
    assert_eq!(caret.find('^'), Some(at), "{source}\n{caret}");
    assert_eq!(caret.trim_end().len() - at, 3, "{caret}");
}

#[test]
fn a_long_token_in_a_message_is_cut() {
    let token = "x".repeat(10_000_000);
    let text = format!("\t.text\nprog:\n\tr0 = 0 {token}\n\texit\n");
    let (code, stderr) = asm("token.s", &text);
    assert_eq!(code, Some(1));
    // 30 MB before: the token in the message, the line and the underline.
    assert!(stderr.len() < 2048, "{} bytes of stderr", stderr.len());
    assert!(stderr.contains("found `xxxx"), "{stderr}");
    assert!(stderr.contains("...`"), "{stderr}");
}

#[test]
fn warnings_are_capped_too() {
    // Each `rN = NAME ll` of an undeclared map is a warning; the object is still written.
    let mut text = String::from("\t.text\nprog:\n");
    for i in 0..200 {
        text.push_str(&format!("\tr1 = nomap{i} ll\n"));
    }
    text.push_str("\tr0 = 0\n\texit\n");
    let (code, stderr) = asm("warn.s", &text);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches(": warning: ").count(), MAX_SHOWN);
    assert!(
        stderr.contains(&format!("... and {} more warnings", 200 - MAX_SHOWN)),
        "{stderr}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

    /// Rendering never panics, whatever the line holds (tabs, wide and combining characters,
    /// control characters, `\r`) and wherever the span falls, and a long line stays bounded.
    #[test]
    fn any_span_of_any_line_renders(
        source in proptest::string::string_regex("(?s).{0,300}").unwrap(),
        long in 0usize..3,
        start in 0usize..2000,
        len in 0usize..400,
    ) {
        let source = source.repeat(1 + long * 5);
        let e = bpfsmith::text::AsmError::at(
            "p.s",
            &source,
            start,
            start + len,
            AsmErrorKind::Syntax,
            format!("found `{}`", source.lines().next().unwrap_or("")),
        )
        .help("h");
        let shown = e.to_string();
        proptest::prop_assert!(shown.starts_with("p.s:"));
        proptest::prop_assert!(shown.len() < 8 * 1024, "{} bytes", shown.len());
    }
}
