//! The HTML page in a real browser: headless Chromium (Debian's `chromium`) renders it, runs
//! its script without a console message, shows the error and the state panel, and takes a
//! screenshot. Skips with a notice when `chromium` is missing, unless
//! `BPFSMITH_REQUIRE_INTEROP=1`. Screenshots and pages go to the target directory, not the repo.

#[path = "common/tools.rs"]
mod tools;

#[path = "fixtures/viewer/progs.rs"]
mod progs;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bpfsmith::verifier::*;

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("viewer_html");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn browser() -> Option<PathBuf> {
    for alt in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = tools::find_tool(alt) {
            return Some(p);
        }
    }
    tools::require_tool("chromium")
}

/// Run headless Chromium on `url` with `extra` arguments; (stdout, stderr). Killed after two
/// minutes.
fn chromium(bin: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let profile = tools::TempDir::new("viewer-chromium");
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin:?}: {e}"));
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish in two minutes: {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The page's DOM after its script ran, and the console lines Chromium logged.
fn dom(bin: &Path, url: &str) -> (String, Vec<String>) {
    let (stdout, stderr) = chromium(
        bin,
        url,
        &[
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ],
    );
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    (stdout, console)
}

/// The text of the element `<tag id="id" ...>...</tag>` in `html` (first match, no nesting of
/// the same tag).
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let open = format!("<{tag} id=\"{id}\"");
    let start = html
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in the DOM"));
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .unwrap_or_else(|| panic!("{open} is not closed"));
    &html[start..start + end]
}

fn write_page(name: &str, page: &str) -> (PathBuf, String) {
    let path = out_dir().join(format!("{name}.html"));
    std::fs::write(&path, page).unwrap();
    let url = format!("file://{}", path.display());
    (path, url)
}

fn refused_page() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/verifier/linux-6.18/branch_refused.level2.log"
    ))
    .unwrap();
    let log = VerifierLog::parse(&text);
    render_html(
        &log,
        &SourceMap::from_log_only(&log),
        "branch_refused (Linux 6.18)",
    )
}

#[test]
fn the_page_runs_in_chromium_shows_the_error_and_the_state() {
    let Some(bin) = browser() else { return };
    let (_, url) = write_page("branch_refused", &refused_page());
    let (dom, console) = dom(&bin, &url);
    assert!(console.is_empty(), "console output: {console:#?}");
    assert!(
        dom.contains("data-ready=\"1\""),
        "the script did not finish:\n{dom}"
    );
    let errors = element(&dom, "pre", "js-errors");
    assert!(errors.contains("hidden"), "{errors}");
    assert!(!errors.contains("script error"), "{errors}");
    // The error, its explanation and source line.
    let error = element(&dom, "section", "error");
    assert!(error.contains("R0 invalid mem access"), "{error}");
    assert!(error.contains("map_value_or_null"), "{error}");
    assert!(error.contains("what it means"), "{error}");
    assert!(error.contains("branch_refused.s:19"), "{error}");
    // The failing instruction is selected and the panel shows the state before it.
    let title = element(&dom, "h2", "state-title");
    assert!(
        title.contains("State before 14: (79) r0 = *(u64 *)(r0 +0)"),
        "{title}"
    );
    let panel = &dom[dom.find("id=\"state-body\"").unwrap()..];
    assert!(
        panel.contains("map_value_or_null(id=1,map=hash,ks=4,vs=8)"),
        "{panel}"
    );
    assert!(panel.contains("narrowed by"), "{panel}");
    assert!(
        dom.contains("class=\"insn onpath failing selected\""),
        "{dom}"
    );
    assert!(element(&dom, "div", "path").contains("0 → 3 (taken) → 9 → 14 ✗"));
}

#[test]
fn links_select_a_line_and_the_path_only_view() {
    let Some(bin) = browser() else { return };
    let page = refused_page();
    let (_, url) = write_page("branch_refused_links", &page);
    // Record 23 is `4: (a5) if r7 < 0x40 goto pc+2`, off the failing path.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/verifier/linux-6.18/branch_refused.level2.log"
    ))
    .unwrap();
    let rec = text.lines().position(|l| l.starts_with("4: (a5)")).unwrap();
    let (dom, console) = dom(&bin, &format!("{url}?pathonly#r{rec}"));
    assert!(console.is_empty(), "{console:#?}");
    let title = element(&dom, "h2", "state-title");
    assert!(
        title.contains("State after 4: (a5) if r7 &lt; 0x40 goto pc+2"),
        "{title}"
    );
    assert!(
        dom.contains("<body class=\"pathonly\""),
        "the path-only view is on"
    );
    let panel = &dom[dom.find("id=\"state-body\"").unwrap()..];
    // The jump narrowed r7 (not taken): set here.
    assert!(
        panel.contains("class=\"entry set\"><span class=\"name\">r7</span>"),
        "{panel}"
    );
}

#[test]
fn a_screenshot_of_a_kernel_refusal_joined_to_its_rust_program() {
    let Some(bin) = browser() else { return };
    let case = progs::read_after_call();
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/viewer/read_after_call.level2.log"
    ))
    .unwrap();
    let log = VerifierLog::parse(&text);
    let map = SourceMap::new(&log, Some(case.program()));
    let page = render_html(&log, &map, "read_after_call");
    let (_, url) = write_page("read_after_call", &page);

    let (dom, console) = dom(&bin, &url);
    assert!(console.is_empty(), "{console:#?}");
    let error = element(&dom, "section", "error");
    assert!(error.contains("R1 !read_ok"), "{error}");
    assert!(
        error.contains(&format!(
            "tests/fixtures/viewer/progs.rs:{}",
            case.failing_line
        )),
        "{error}"
    );
    assert!(error.contains("clobbered by"), "{error}");

    let png = out_dir().join("read_after_call.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    chromium(
        &bin,
        &url,
        &[&shot, "--window-size=1280,900", "--hide-scrollbars"],
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {png:?}: {e}"));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900));
    // A blank page of this size compresses to a few kilobytes; text and colour do not.
    assert!(bytes.len() > 30_000, "{} bytes: a blank page?", bytes.len());
    tools::notice(&format!("viewer screenshot: {}", png.display()));
}
