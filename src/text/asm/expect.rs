//! Expected outcomes written in an assembly file's header comments: what loading and running
//! the file must give, per kernel. A format of the library, not a test helper: `bpfsmith check`
//! ([`crate::check`]) holds each file to its header on the running kernel, the kernel matrix
//! ([`crate::guest`]) on other kernels under qemu, and the kernel tests read it too.
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
//! | `expect-retval (COND)` | integer | the return value on kernels that meet `COND` (takes precedence over `expect-retval`; the first matching line wins) |
//! | `expect-map (COND)` | `MAP = V1 V2 ...` | a map's contents on kernels that meet `COND` |
//! | `expect-verifier-error (COND)` | text | the verifier's words on kernels that meet `COND` (messages are reworded between versions) |
//! | `load-with` | `CAP_BPF` | load with CAP_BPF but without CAP_PERFMON and CAP_SYS_ADMIN (as a non-root service would): the verifier is stricter then, e.g. it refuses reads of uninitialised stack, which it allows root |
//!
//! A condition `COND` is a comma-separated list of terms that must all hold: `linux < 6.4`,
//! `linux >= 6.4` (the running kernel's major.minor version), `jit on`, `jit off` (its
//! `bpf_jit_enable`). Behaviour that changed between kernels is written down per kernel, e.g.
//! `# expect-retval (linux < 6.4, jit on): 32` beside `# expect-retval: 64`.
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
    /// Return values that hold only on some kernels, in header order.
    pub retval_when: Vec<(KernelCondition, i64)>,
    /// Map contents that hold only on some kernels, in header order.
    pub maps_after_when: Vec<(KernelCondition, String, Vec<u64>)>,
    /// Verifier messages that hold only on some kernels, in header order.
    pub verifier_error_when: Vec<(KernelCondition, String)>,
    /// Whether the header has an `expect-load` line.
    pub load_stated: bool,
}

/// The facts about a kernel that per-kernel expectations depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// `(major, minor)`.
    pub version: (u32, u32),
    /// Whether `bpf_jit_enable` is on.
    pub jit: bool,
}

/// One term of a [`KernelCondition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelTerm {
    /// `linux < X.Y`.
    Before((u32, u32)),
    /// `linux >= X.Y`.
    Since((u32, u32)),
    /// `jit on` / `jit off`.
    Jit(bool),
}

/// When a per-kernel expectation applies: every term holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelCondition(pub Vec<KernelTerm>);

impl KernelCondition {
    /// Whether the kernel meets every term.
    pub fn holds(&self, k: &KernelFacts) -> bool {
        self.0.iter().all(|t| match *t {
            KernelTerm::Before(v) => k.version < v,
            KernelTerm::Since(v) => k.version >= v,
            KernelTerm::Jit(on) => k.jit == on,
        })
    }

    fn parse(text: &str) -> Result<KernelCondition, String> {
        let mut terms = Vec::new();
        for t in text.split(',') {
            let words: Vec<&str> = t.split_whitespace().collect();
            let version = |v: &str| -> Result<(u32, u32), String> {
                let (a, b) = v
                    .split_once('.')
                    .ok_or_else(|| format!("`{v}` is not a version such as 6.4"))?;
                Ok((
                    a.parse()
                        .map_err(|_| format!("`{v}` is not a version such as 6.4"))?,
                    b.parse()
                        .map_err(|_| format!("`{v}` is not a version such as 6.4"))?,
                ))
            };
            terms.push(match words.as_slice() {
                ["linux", "<", v] => KernelTerm::Before(version(v)?),
                ["linux", ">=", v] => KernelTerm::Since(version(v)?),
                ["jit", "on"] => KernelTerm::Jit(true),
                ["jit", "off"] => KernelTerm::Jit(false),
                _ => {
                    return Err(format!(
                        "`{}` is not a condition: use `linux < X.Y`, `linux >= X.Y`, `jit on` or `jit off`",
                        t.trim()
                    ))
                }
            });
        }
        Ok(KernelCondition(terms))
    }
}

impl fmt::Display for KernelCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match t {
                KernelTerm::Before((a, b)) => write!(f, "linux < {a}.{b}")?,
                KernelTerm::Since((a, b)) => write!(f, "linux >= {a}.{b}")?,
                KernelTerm::Jit(on) => write!(f, "jit {}", if *on { "on" } else { "off" })?,
            }
        }
        Ok(())
    }
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
    /// Whether the header states any outcome (`expect-load`, `expect-verifier-error`,
    /// `expect-retval` or `expect-map`, with or without a kernel condition): a file that states
    /// none has nothing to be checked against.
    pub fn states_an_outcome(&self) -> bool {
        self.load_stated
            || self.verifier_error.is_some()
            || self.retval.is_some()
            || !self.maps_after.is_empty()
            || !self.retval_when.is_empty()
            || !self.maps_after_when.is_empty()
            || !self.verifier_error_when.is_empty()
    }

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
            let (key, cond) = match key.split_once('(') {
                Some((k, c)) if c.ends_with(')') && KEYS.contains(&k.trim()) => {
                    let k = k.trim();
                    if !matches!(k, "expect-retval" | "expect-map" | "expect-verifier-error") {
                        return Err(err(format!(
                            "`{k}` takes no kernel condition (expect-retval, expect-map and \
                             expect-verifier-error do)"
                        )));
                    }
                    let c = KernelCondition::parse(&c[..c.len() - 1]).map_err(&err)?;
                    (k, Some(c))
                }
                _ => (key, None),
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
                    match cond {
                        Some(c) => e.verifier_error_when.push((c, value.to_owned())),
                        None => e.verifier_error = Some(value.to_owned()),
                    }
                }
                "expect-retval" => {
                    let v =
                        int(value).ok_or_else(|| err(format!("`{value}` is not an integer")))?;
                    match cond {
                        Some(c) => e.retval_when.push((c, v)),
                        None => e.retval = Some(v),
                    }
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
                    match (key, cond) {
                        ("push-before", _) => e.push_before.push((map.to_owned(), vals)),
                        (_, Some(c)) => e.maps_after_when.push((c, map.to_owned(), vals)),
                        (_, None) => e.maps_after.push((map.to_owned(), vals)),
                    }
                }
            }
        }
        e.load_ok = load.unwrap_or(e.verifier_error.is_none());
        e.load_stated = load.is_some();
        if e.load_ok && e.verifier_error.is_some() {
            return Err(ExpectError {
                line: 1,
                message: "expect-load: ok contradicts expect-verifier-error".into(),
            });
        }
        Ok(e)
    }

    /// The return value expected on a kernel with these facts: the first matching per-kernel
    /// line, else `expect-retval`.
    pub fn retval_on(&self, k: &KernelFacts) -> Option<i64> {
        self.retval_when
            .iter()
            .find(|(c, _)| c.holds(k))
            .map(|(_, v)| *v)
            .or(self.retval)
    }

    /// The map contents expected on a kernel with these facts: for each map, the first
    /// matching per-kernel line, else its `expect-map` line.
    pub fn maps_after_on(&self, k: &KernelFacts) -> Vec<(String, Vec<u64>)> {
        let mut out = self.maps_after.clone();
        let mut seen = std::collections::HashSet::new();
        for (c, map, vals) in &self.maps_after_when {
            if c.holds(k) && seen.insert(map.as_str()) {
                match out.iter_mut().find(|(m, _)| m == map) {
                    Some(slot) => slot.1 = vals.clone(),
                    None => out.push((map.clone(), vals.clone())),
                }
            }
        }
        out
    }

    /// The verifier's message expected on a kernel with these facts: the first matching
    /// per-kernel line, else `expect-verifier-error`.
    pub fn verifier_error_on(&self, k: &KernelFacts) -> Option<&str> {
        self.verifier_error_when
            .iter()
            .find(|(c, _)| c.holds(k))
            .map(|(_, v)| v.as_str())
            .or(self.verifier_error.as_deref())
    }

    /// Whether any expectation depends on the kernel.
    pub fn is_per_kernel(&self) -> bool {
        !self.retval_when.is_empty()
            || !self.maps_after_when.is_empty()
            || !self.verifier_error_when.is_empty()
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
    fn per_kernel_expectations() {
        let e = Expectations::parse(concat!(
            "# expect-retval: 64\n",
            "# expect-retval (linux < 6.4, jit on): 32\n",
            "# expect-map: q = 1\n",
            "# expect-map (jit off): q =\n",
        ))
        .unwrap();
        let old_jit = KernelFacts {
            version: (6, 1),
            jit: true,
        };
        let old_interp = KernelFacts {
            version: (6, 1),
            jit: false,
        };
        let new = KernelFacts {
            version: (6, 18),
            jit: true,
        };
        assert_eq!(e.retval_on(&old_jit), Some(32));
        assert_eq!(e.retval_on(&old_interp), Some(64));
        assert_eq!(e.retval_on(&new), Some(64));
        assert_eq!(e.maps_after_on(&new), vec![("q".to_owned(), vec![1])]);
        assert_eq!(e.maps_after_on(&old_interp), vec![("q".to_owned(), vec![])]);
        assert!(e.is_per_kernel());
        assert!(Expectations::parse("# expect-retval (linux < 6): 1").is_err());
        assert!(Expectations::parse("# expect-retval (kernel old): 1").is_err());
        assert!(Expectations::parse("# run (jit on): p").is_err());
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
