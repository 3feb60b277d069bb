//! Properties of the verifier-log parser: any text parses, without a panic, into exactly one
//! record per line whose raw text is that line; every query runs on anything.

use bpfsmith::verifier::*;
use proptest::prelude::*;

/// The lines of `text` as the parser defines them: split at `\n`, a final newline ends the
/// last line rather than starting another.
fn expected_lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return Vec::new();
    }
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect()
}

fn check(text: &str) {
    let log = VerifierLog::parse(text);
    let lines = expected_lines(text);
    assert_eq!(log.records().len(), lines.len());
    for (i, (r, l)) in log.records().iter().zip(&lines).enumerate() {
        assert_eq!(r.raw, *l);
        assert_eq!(r.line as usize, i + 1);
    }
    // Every query, on every record.
    let _ = log.error().map(|e| e.message());
    let _ = log.stats();
    let path = log.path();
    assert!(path.windows(2).all(|w| w[0] != w[1]));
    let _ = log.path_insns();
    for (i, r) in log.records().iter().enumerate() {
        let _ = log.source_for(i);
        match r.kind {
            Kind::Insn(l) => {
                let _ = l.state.parse();
                let _ = log.state_before(l.insn);
            }
            Kind::State { state, .. } | Kind::FrameState(state) => {
                let _ = state.parse();
            }
            Kind::Branch { state, .. } => {
                let _ = state.parse();
            }
            Kind::MarkPrecise(m) => {
                let _ = (m.regs(), m.stack(), m.before_insn(), m.parent_state());
                let _ = (m.last_idx(), m.first_idx());
            }
            Kind::Glued { stats, .. } => {
                let _ = classify(stats);
            }
            _ => {}
        }
        if i % 7 == 0 {
            let _ = log.state_before_record(i);
        }
    }
}

/// Lines from the real fixtures, to mutate.
fn corpus() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/verifier");
    let mut lines = Vec::new();
    for sub in ["linux-6.18", "older"] {
        for e in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|e| e == "log") {
                let t = std::fs::read_to_string(p).unwrap();
                lines.extend(t.lines().map(str::to_owned));
            }
        }
    }
    lines.sort();
    lines.dedup();
    lines
}

/// A real line, cut, spliced with another and with random characters.
fn mutated_line() -> impl Strategy<Value = String> {
    let corpus = corpus();
    let n = corpus.len();
    (
        0..n,
        0..n,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        "[ -~();:=@#\\[\\]]{0,6}",
        0u8..6,
    )
        .prop_map(move |(a, b, cut_a, cut_b, noise, how)| {
            let a = &corpus[a];
            let b = &corpus[b];
            let cut = |s: &str, ix: prop::sample::Index| {
                let mut i = ix.index(s.len() + 1);
                while !s.is_char_boundary(i) {
                    i -= 1;
                }
                i
            };
            let ia = cut(a, cut_a);
            let ib = cut(b, cut_b);
            match how {
                0 => a.clone(),
                1 => a[..ia].to_owned(),
                2 => format!("{}{}", &a[..ia], &b[ib..]),
                3 => format!("{}{}{}", &a[..ia], noise, &a[ia..]),
                4 => format!("{}{}", noise, &a[ia..]),
                _ => format!("{}{}", &a[..ia], noise),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_text(s in "(?s).{0,400}") {
        check(&s);
    }

    #[test]
    fn random_bytes(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn log_shaped_text(
        s in "([0-9]{1,3}: \\((b7|85|25)\\) [ -~]{0,30}( ; (R[0-9]{1,2}(_w|_rw)?=[ -~]{0,20} ?){0,3})?\n\
              |from [0-9]{1,3} to [0-9]{1,3}: [ -~]{0,30}\n|[0-9]{1,3}: (safe|R[0-9]=[ -~]{0,10}|frame1: [ -~]{0,10})\n\
              |; [ -~@]{0,30}\n|[ -~]{0,40}\n|processed [0-9]{1,4} insns[ -~]{0,20}\n\
              |mark_precise: frame[0-9]: [ -~]{0,30}\n| {1,6}[0-9]{1,3}: [.0-9]{0,10} \\([0-9a-f]{2}\\)[ -~]{0,9}\n){0,30}"
    ) {
        check(&s);
    }

    #[test]
    fn mutated_real_lines(lines in proptest::collection::vec(mutated_line(), 0..40),
                          crlf in any::<bool>(), trailing in any::<bool>()) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(sep);
        if trailing {
            text.push('\n');
        }
        check(&text);
    }

    #[test]
    fn values_never_panic(v in "[ -~]{0,60}") {
        let _ = Value::parse_marked(&v);
        let _ = State::parse(&v);
        let _ = Scalar::from_params(&v);
        let _ = parse_var_off(&v);
        let _ = Params::new(&v).count();
        if let Some(p) = Pointer::parse(&v) {
            let _ = (p.map_name(), p.off(), p.id(), p.key_size(), p.value_size(), p.range());
        }
    }
}

#[test]
fn edge_cases() {
    for t in [
        "",
        "\n",
        "\n\n",
        "a",
        "a\n",
        "\r\n",
        "0:",
        "0: (",
        "0: (zz) x",
        "0: (b7)",
        "; @ :",
        "; x @ f:",
        "from",
        "from 1 to",
        "from 1 to 2",
        "func#",
        "func#1 @",
        "stack depth ",
        "processed",
        "processed 1 insns",
        "x processed 1 insns",
        "(",
        "()",
        "(1) ",
        "  1   ",
        " 1: .......... (",
        "mark_precise: frame",
        "R0=",
        "fp-8=",
        "0: R0=scalar(",
        "0: R0=scalar(var_off=(0x0;",
        "0: fp-=1",
        "0: R99=1",
        "0: R0=fp[",
        "0: R0=fp[x]-8",
        "0: (b7) r0 = 0 ; R0=P",
        "0: (b7) r0 = 0 9:",
        "0: (b7) r0 = 0 9: R",
        "\u{0}\u{0}",
        "é: (b7) ü",
        "to caller at :",
        "verification time  usec",
        "0: frame99999: R1=0",
    ] {
        check(t);
    }
}
