//! The viewer on real logs from Linux 6.18 (`tests/fixtures/verifier/linux-6.18`), mapped by
//! the logs' own source annotations (no program).

use bpfsmith::verifier::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/verifier/linux-6.18"
);

fn fixture(name: &str) -> String {
    let path = format!("{DIR}/{name}.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn dump() {
    for name in [
        "read_after_call.level1",
        "branch_refused.level2",
        "r1_not_map.level1",
        "push_uninit.level1",
        "infinite_loop.level1",
        "bpf2bpf.level2",
        "tail_call_queue.level1",
        "lookup_queue_mapvalue.level2",
    ] {
        let text = fixture(name);
        println!(
            "===== {name}\n{}",
            render_log_text(&text, None, &ReportOptions::default())
        );
        if name.starts_with("branch") {
            println!(
                "{}",
                render_log_text(
                    &text,
                    None,
                    &ReportOptions {
                        full: true,
                        color: false
                    }
                )
            );
        }
    }
}

#[test]
fn dump_html() {
    let text = fixture("branch_refused.level2");
    let log = VerifierLog::parse(&text);
    let page = render_html(&log, &SourceMap::from_log_only(&log), "branch_refused");
    std::fs::write("/tmp/vw/page.html", page).unwrap();
}
