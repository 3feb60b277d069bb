//! The values of the command's arguments: `--data` (hex bytes or `@FILE`) and `--push`
//! (`MAP=V1,V2,...`). Parsing what the command line says is the command's job, so it lives in
//! the binary; a value's bytes in a map's value size are the library's
//! ([`bpfsmith::run::parse_value`]).

use std::path::Path;

/// `--data` as hex bytes: whitespace anywhere, an optional `0x` prefix, an even number of hex
/// digits. Any other text is an error naming the first offending character (never a panic).
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = match digits.as_slice() {
        ['0', 'x' | 'X', rest @ ..] => rest,
        all => all,
    };
    if let Some((i, c)) = digits
        .iter()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(format!("`{c}` (hex digit {}) is not a hex digit", i + 1));
    }
    if digits.len() % 2 != 0 {
        return Err(format!(
            "{} hex digits: an even number is needed (two per byte)",
            digits.len()
        ));
    }
    Ok(digits
        .chunks(2)
        .map(|p| (p[0].to_digit(16).unwrap_or(0) * 16 + p[1].to_digit(16).unwrap_or(0)) as u8)
        .collect())
}

/// The most `--data @FILE` reads: 64 MiB (the kernel takes far less).
pub(crate) const DATA_LIMIT: u64 = 64 << 20;

/// `--data`: hex bytes ([`parse_hex`]) or `@FILE` (read bounded by [`DATA_LIMIT`], whatever
/// kind of file it is).
pub(crate) fn parse_data(arg: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = arg.strip_prefix('@') {
        let path = Path::new(path);
        let meta =
            std::fs::metadata(path).map_err(|e| format!("--data @{}: {e}", path.display()))?;
        if meta.is_file() && meta.len() > DATA_LIMIT {
            return Err(format!(
                "--data @{}: {} bytes, more than the {DATA_LIMIT} read for a test run",
                path.display(),
                meta.len()
            ));
        }
        return bpfsmith::input::read_bounded(path, DATA_LIMIT).map_err(|e| format!("--data @{e}"));
    }
    parse_hex(arg).map_err(|e| format!("--data {arg}: {e}"))
}

/// `--push MAP=V1,V2,...`: the map's name (one of `obj`'s maps, else an error listing them)
/// and each value as bytes of the map's value size.
pub(crate) fn parse_push(
    arg: &str,
    obj: &bpfsmith::object::Object,
) -> Result<(String, Vec<Vec<u8>>), String> {
    let Some((map, values)) = arg.split_once('=') else {
        return Err(format!("--push {arg}: expected MAP=V1,V2,..."));
    };
    let Some(m) = obj.maps.iter().find(|m| m.name == map) else {
        let names: Vec<String> = obj.maps.iter().map(|m| format!("`{}`", m.name)).collect();
        return Err(match names.is_empty() {
            true => format!("--push {arg}: the object has no map at all"),
            false => format!(
                "--push {arg}: the object has no map `{map}`; its maps: {}",
                names.join(", ")
            ),
        });
    };
    let mut vs = Vec::new();
    for v in values.split(',').filter(|v| !v.is_empty()) {
        let bytes = bpfsmith::run::parse_value(v, m.def.value_size).map_err(|e| {
            format!(
                "--push {arg}: map `{map}` holds {}-byte values: {e}",
                m.def.value_size
            )
        })?;
        vs.push(bytes);
    }
    Ok((map.to_owned(), vs))
}

/// The fuzz target of issue 11 (item 7) for argument values: nothing panics, and what is
/// accepted round-trips against a model. `BPFSMITH_FUZZ_CASES` sets the count (2,000 by
/// default); `BPFSMITH_FUZZ_CASES=1000000 cargo test --release --bin bpfsmith cli_values --
/// --nocapture` is the long run.
#[cfg(all(test, bpfsmith_kernel))]
mod fuzz {
    use super::{parse_data, parse_hex};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    /// Run `test` on `BPFSMITH_FUZZ_CASES` values of `strategy` and report the count and time.
    fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value))
    where
        S::Value: std::fmt::Debug,
    {
        let n = std::env::var("BPFSMITH_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000);
        // No shrinking beyond 256 steps: a million-case run reports the case as found.
        let config = Config {
            cases: n,
            failure_persistence: None,
            max_shrink_iters: 256,
            ..Config::default()
        };
        let t = std::time::Instant::now();
        let result = TestRunner::new(config).run(&strategy, |v| {
            test(v);
            Ok(())
        });
        eprintln!("fuzz {name}: {n} inputs in {:.2?}", t.elapsed());
        if let Err(e) = result {
            panic!("fuzz {name}: {e}");
        }
    }

    /// The model of an integer argument: `Some(bytes)` when `v` fits `size` bytes signed or
    /// unsigned.
    fn model(v: i128, size: u32) -> Option<Vec<u8>> {
        let bits = size * 8;
        let lo = -(1i128 << (bits - 1));
        let hi = (1i128 << bits) - 1;
        (lo..=hi)
            .contains(&v)
            .then(|| v.to_le_bytes()[..size as usize].to_vec())
    }

    #[derive(Clone, Debug)]
    enum CliValue {
        /// A `--push` integer, written in decimal or hex, against a value size.
        Int(i128, bool, u32),
        /// Any text as a `--push` value.
        PushText(String, u32),
        /// Bytes written as `--data` hex, with spaces and an optional prefix.
        Hex(Vec<u8>, bool, bool),
        /// Any text as `--data`.
        DataText(String),
    }

    #[test]
    fn cli_values() {
        let size = prop_oneof![Just(1u32), Just(2), Just(4), Just(8), 1u32..=16];
        let int = prop_oneof![
            any::<i64>().prop_map(i128::from),
            any::<u64>().prop_map(i128::from),
            (-(1i128 << 66))..(1i128 << 66),
            (-300i128..300),
        ];
        let strategy = prop_oneof![
            3 => (int, any::<bool>(), size.clone()).prop_map(|(v, hex, s)| CliValue::Int(v, hex, s)),
            2 => ("(-?(0x)?[0-9a-fA-F]{0,24}|.{0,12}|-0|-)", size).prop_map(|(t, s)| CliValue::PushText(t, s)),
            2 => (proptest::collection::vec(any::<u8>(), 0..64), any::<bool>(), any::<bool>())
                .prop_map(|(b, p, s)| CliValue::Hex(b, p, s)),
            2 => ".{0,24}".prop_map(CliValue::DataText),
        ];
        fuzz("cli_values", strategy, |v| match v {
            CliValue::Int(v, hex, size) => {
                let text = match (hex, v < 0) {
                    (false, _) => v.to_string(),
                    (true, false) => format!("0x{v:x}"),
                    (true, true) => format!("-0x{:x}", v.unsigned_abs()),
                };
                let got = bpfsmith::load::run::parse_value(&text, size);
                if matches!(size, 1 | 2 | 4 | 8) {
                    assert_eq!(got.ok(), model(v, size), "{text} in {size} bytes");
                } else {
                    // Other sizes take 0x and exactly two hex digits a byte.
                    let want = (hex && v >= 0 && text.len() == 2 + 2 * size as usize).then(|| {
                        (0..size as usize)
                            .map(|i| u8::from_str_radix(&text[2 + 2 * i..4 + 2 * i], 16).unwrap())
                            .collect::<Vec<u8>>()
                    });
                    assert_eq!(got.ok(), want, "{text} in {size} bytes");
                }
            }
            CliValue::PushText(t, size) => {
                if let Ok(b) = bpfsmith::load::run::parse_value(&t, size) {
                    assert_eq!(b.len(), size as usize, "{t:?}");
                }
            }
            CliValue::Hex(bytes, prefix, spaced) => {
                let mut text = if prefix {
                    "0x".to_owned()
                } else {
                    String::new()
                };
                for (i, b) in bytes.iter().enumerate() {
                    if spaced && i % 4 == 0 {
                        text.push(' ');
                    }
                    text.push_str(&format!("{b:02x}"));
                }
                assert_eq!(parse_hex(&text).as_ref(), Ok(&bytes), "{text}");
                assert_eq!(parse_data(&text).as_ref(), Ok(&bytes), "{text}");
            }
            CliValue::DataText(t) => {
                if t.starts_with('@') {
                    return;
                }
                let got = parse_hex(&t);
                let digits: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                let digits = digits
                    .strip_prefix("0x")
                    .or(digits.strip_prefix("0X"))
                    .unwrap_or(&digits);
                let ok = digits.len() % 2 == 0 && digits.chars().all(|c| c.is_ascii_hexdigit());
                assert_eq!(got.is_ok(), ok, "{t:?}: {got:?}");
                if let Ok(b) = got {
                    assert_eq!(b.len() * 2, digits.len());
                }
            }
        });
    }
}
