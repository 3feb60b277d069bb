//! Expected outcomes written in an assembly file's header comments, so that a kernel test can
//! load and run each example and check it.
//!
//! The header is the block of comment lines (`#`, `//` or blank) at the top of the file. Lines
//! of the form `# KEY: VALUE` with these keys are read; other comment lines are prose:
//!
//! | key | value | meaning |
//! |---|---|---|
//! | `expect-load` | `ok` or `refused` | whether `BPF_PROG_LOAD` accepts the program (implied `refused` by `expect-verifier-error`, otherwise `ok`) |
//! | `expect-verifier-error` | text | a line of the verifier log contains this text |
//! | `expect-retval` | integer | `BPF_PROG_TEST_RUN` returns it (compared as 32 bits: `-7` is `0xfffffff9`) |
//! | `push-before` | `MAP = V1 V2 ...` | push these values into the map from user space before the run (repeatable) |
//! | `expect-map` | `MAP = V1 V2 ...` | afterwards, popping the map until empty gives exactly these values, in order (repeatable; `MAP =` alone: empty) |
//! | `run` | `PROGRAM` | which program to load and run, when the file has several (default: the first) |
//! | `load-with` | `CAP_BPF` | load with CAP_BPF but without CAP_PERFMON and CAP_SYS_ADMIN (as a non-root service would): the verifier is stricter then, e.g. it refuses reads of uninitialised stack, which it allows root |
//!
//! Integers are decimal or `0x` hexadecimal, with an optional `-`. Map values are stored in
//! the map's value size (little-endian).
//!
//! ```
//! use bpfsmith::text::asm::expect::Expectations;
//! let src = concat!(
//!     "# Push from user space, pop in the program.\n",
//!     "# push-before: queue = 1 2 3\n",
//!     "# expect-retval: 1\n",
//!     "# expect-map: queue = 2 3\n",
//!     ".map queue, type=queue, value_size=4, max_entries=8\n",
//! );
//! let e = Expectations::parse(src).unwrap();
//! assert!(e.load_ok);
//! assert_eq!(e.retval, Some(1));
//! assert_eq!(e.push_before, vec![("queue".to_owned(), vec![1, 2, 3])]);
//! assert_eq!(e.maps_after, vec![("queue".to_owned(), vec![2, 3])]);
//! ```

use std::fmt;

/// What a file's header says should happen when its program is loaded and run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Whether the verifier accepts the program.
    pub load_ok: bool,
    /// Text that the verifier log contains (when the load is refused).
    pub verifier_error: Option<String>,
    /// What the program returns through `BPF_PROG_TEST_RUN`.
    pub retval: Option<i64>,
    /// Values to push into maps before the run: (map, values in push order).
    pub push_before: Vec<(String, Vec<u64>)>,
    /// What each map holds afterwards, in pop order.
    pub maps_after: Vec<(String, Vec<u64>)>,
    /// The program to run, when not the first.
    pub program: Option<String>,
    /// Load with only CAP_BPF (no CAP_PERFMON, no CAP_SYS_ADMIN): `# load-with: CAP_BPF`.
    pub cap_bpf_only: bool,
}

/// A header line that does not follow the format: its 1-based line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ExpectError {}

const KEYS: &[&str] = &[
    "expect-load",
    "expect-verifier-error",
    "expect-retval",
    "push-before",
    "expect-map",
    "run",
    "load-with",
];

fn int(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()? as i64,
        None => body.parse::<u64>().ok()? as i64,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

impl Expectations {
    /// Read the header of `source`.
    pub fn parse(source: &str) -> Result<Expectations, ExpectError> {
        let mut e = Expectations::default();
        let mut load: Option<bool> = None;
        for (i, raw) in source.lines().enumerate() {
            let line = raw.trim();
            let body = if let Some(b) = line.strip_prefix('#') {
                b
            } else if let Some(b) = line.strip_prefix("//") {
                b
            } else if line.is_empty() {
                continue;
            } else {
                break;
            };
            let body = body.trim();
            let Some((key, value)) = body.split_once(':') else {
                continue;
            };
            let key = key.trim();
            let value = value.trim();
            let err = |message: String| ExpectError {
                line: i + 1,
                message,
            };
            if !KEYS.contains(&key) {
                if key.starts_with("expect") || key.starts_with("push") {
                    return Err(err(format!(
                        "unknown key `{key}`: the keys are {}",
                        KEYS.join(", ")
                    )));
                }
                continue;
            }
            match key {
                "expect-load" => {
                    load = Some(match value {
                        "ok" => true,
                        "refused" => false,
                        _ => {
                            return Err(err(format!(
                                "expect-load is `ok` or `refused`, not `{value}`"
                            )))
                        }
                    })
                }
                "expect-verifier-error" => {
                    if value.is_empty() {
                        return Err(err("expect-verifier-error needs the expected text".into()));
                    }
                    e.verifier_error = Some(value.to_owned());
                }
                "expect-retval" => {
                    e.retval = Some(
                        int(value).ok_or_else(|| err(format!("`{value}` is not an integer")))?,
                    );
                }
                "run" => e.program = Some(value.to_owned()),
                "load-with" => {
                    if value != "CAP_BPF" {
                        return Err(err(format!(
                            "load-with takes CAP_BPF (the only reduced privilege set), not `{value}`"
                        )));
                    }
                    e.cap_bpf_only = true;
                }
                _ => {
                    let (map, vals) = value
                        .split_once('=')
                        .ok_or_else(|| err(format!("{key} reads `MAP = V1 V2 ...`")))?;
                    let map = map.trim();
                    if map.is_empty() {
                        return Err(err(format!("{key} needs a map name before `=`")));
                    }
                    let vals = vals
                        .split_whitespace()
                        .map(|v| {
                            int(v)
                                .map(|v| v as u64)
                                .ok_or_else(|| err(format!("`{v}` is not an integer")))
                        })
                        .collect::<Result<Vec<u64>, _>>()?;
                    let list = if key == "push-before" {
                        &mut e.push_before
                    } else {
                        &mut e.maps_after
                    };
                    list.push((map.to_owned(), vals));
                }
            }
        }
        e.load_ok = load.unwrap_or(e.verifier_error.is_none());
        if e.load_ok && e.verifier_error.is_some() {
            return Err(ExpectError {
                line: 1,
                message: "expect-load: ok contradicts expect-verifier-error".into(),
            });
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_programs() {
        let e =
            Expectations::parse("# expect-verifier-error: R3 !read_ok\nexit\n# expect-retval: 1\n")
                .unwrap();
        assert!(!e.load_ok);
        assert_eq!(e.verifier_error.as_deref(), Some("R3 !read_ok"));
        // Only the header counts.
        assert_eq!(e.retval, None);
    }

    #[test]
    fn bad_headers() {
        assert!(Expectations::parse("# expect-retvals: 1").is_err());
        assert!(Expectations::parse("# expect-retval: x").is_err());
        assert!(Expectations::parse("# expect-map: 1 2").is_err());
        assert_eq!(
            Expectations::parse("# expect-retval: -7").unwrap().retval,
            Some(-7)
        );
        assert_eq!(
            Expectations::parse("# expect-map: q =").unwrap().maps_after,
            vec![("q".to_owned(), vec![])]
        );
    }
}
