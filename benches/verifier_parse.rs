//! Parse a level-2 verifier log of one million lines.
//!
//! The log repeats the real level-2 logs in `tests/fixtures/verifier/linux-6.18/` (all of them,
//! one after the other) until it has 1,000,000 lines. Side by side in one run:
//!
//! - `lines_only`: splitting the text into lines and nothing else (the floor);
//! - `parse`: [`VerifierLog::parse`] (classify every line, states kept as text);
//! - `parse_and_states`: parse, then parse every instruction's state into registers.
//!
//! Before the timings it prints one measured parse (lines per second) and the memory the
//! parsed log holds, as a multiple of the text's size: the text itself, plus the records'
//! vector (the only allocation `parse` makes), plus the resident-set growth seen in
//! `/proc/self/status` (`VmRSS`, Linux only) as a cross-check.

use std::hint::black_box;
use std::time::Instant;

use bpfsmith::verifier::{Kind, Record, VerifierLog};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const LINES: usize = 1_000_000;

fn level2_log() -> String {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/verifier/linux-6.18"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".level2.log"))
        .collect();
    names.sort();
    let mut block = String::new();
    for n in names {
        block.push_str(&std::fs::read_to_string(n).expect("fixture"));
    }
    let per_block = block.lines().count();
    let mut text = String::with_capacity(block.len() * (LINES / per_block + 1));
    let mut n = 0;
    'outer: loop {
        for line in block.lines() {
            if n == LINES {
                break 'outer;
            }
            text.push_str(line);
            text.push('\n');
            n += 1;
        }
    }
    text
}

/// Resident set size in bytes (`VmRSS`), when `/proc/self/status` is there.
fn rss() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn report(text: &str) {
    let mb = |b: usize| b as f64 / (1024.0 * 1024.0);
    let rss0 = rss();
    let t = Instant::now();
    let log = VerifierLog::parse(text);
    let dt = t.elapsed();
    let rss1 = rss();
    let n = log.records().len();
    let records = std::mem::size_of_val(log.records());
    let insns = log
        .records()
        .iter()
        .filter(|r| matches!(r.kind, Kind::Insn(_)))
        .count();
    eprintln!(
        "verifier_parse: {n} lines, {:.1} MiB of text ({insns} instruction lines)",
        mb(text.len())
    );
    eprintln!(
        "verifier_parse: one parse took {:.1} ms: {:.1} M lines/s, {:.0} MiB/s",
        dt.as_secs_f64() * 1e3,
        n as f64 / dt.as_secs_f64() / 1e6,
        mb(text.len()) / dt.as_secs_f64()
    );
    eprintln!(
        "verifier_parse: records {} B each, {:.1} MiB; text + records = {:.2}x the text",
        std::mem::size_of::<Record<'_>>(),
        mb(records),
        (text.len() + records) as f64 / text.len() as f64
    );
    if let (Some(a), Some(b)) = (rss0, rss1) {
        eprintln!(
            "verifier_parse: resident set grew {:.1} MiB during the parse; text + growth = {:.2}x the text",
            mb(b.saturating_sub(a)),
            (text.len() + b.saturating_sub(a)) as f64 / text.len() as f64
        );
    }
    black_box(log);
}

fn bench(c: &mut Criterion) {
    let text = level2_log();
    report(&text);
    let mut g = c.benchmark_group("verifier_log_1M_lines");
    g.throughput(Throughput::Elements(LINES as u64));
    g.sample_size(10);
    g.bench_function("lines_only", |b| {
        b.iter(|| black_box(text.lines().map(str::len).sum::<usize>()))
    });
    g.bench_function("parse", |b| b.iter(|| black_box(VerifierLog::parse(&text))));
    g.bench_function("parse_and_states", |b| {
        b.iter(|| {
            let log = VerifierLog::parse(&text);
            let regs: usize = log.insns().map(|(_, l)| l.state.parse().regs.len()).sum();
            black_box((log, regs))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
