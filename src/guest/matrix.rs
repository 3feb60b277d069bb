//! One program on several kernels and JIT modes, side by side: what `bpfsmith matrix` prints.
//!
//! Each row loads and runs the program once (through `bpfsmith run --json` inside a guest, or
//! in this process on the running kernel), with the pushes and the program its header names
//! (`# push-before:`, `# run:`). Rows whose result differs from the first row are marked, and
//! a difference that a known kernel change explains is explained.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{release_version, Guest, GuestError, Jit, KernelImage};
use crate::text::asm::expect::{Expectations, KernelFacts};

/// Where a row runs.
#[derive(Clone, Debug)]
pub enum Target {
    /// The running kernel, in this process.
    Host,
    /// A kernel image booted under qemu.
    Image(KernelImage),
}

impl Target {
    /// `host`, or the path of a kernel image.
    pub fn parse(spec: &str) -> Result<Target, GuestError> {
        if spec == "host" {
            Ok(Target::Host)
        } else {
            KernelImage::open(Path::new(spec)).map(Target::Image)
        }
    }
}

/// What one row saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded and ran.
    Ran {
        /// The program.
        program: String,
        /// Its return value.
        retval: u32,
        /// Every queue/stack map drained, as `(name, "[a, b]")`.
        maps: Vec<(String, String)>,
    },
    /// The verifier refused it.
    Refused {
        /// The program.
        program: String,
        /// The errno's name.
        errno: String,
        /// The verifier's message (its first line).
        message: String,
    },
    /// Something else went wrong (the message).
    Error(String),
    /// Not run (why).
    Skipped(String),
}

impl Outcome {
    /// What a run gave (either engine's report).
    pub fn ran(r: crate::run::RunReport) -> Outcome {
        Outcome::Ran {
            program: r.program,
            retval: r.retval,
            maps: r
                .maps
                .iter()
                .map(|(n, vs)| (n.clone(), crate::run::values_text(vs)))
                .collect(),
        }
    }

    fn text(&self) -> String {
        match self {
            Outcome::Ran { retval, maps, .. } => {
                let mut s = format!("loaded, r0 = {retval}");
                if *retval > 0xffff {
                    s = format!("{s} ({retval:#x})");
                }
                for (n, v) in maps {
                    s = format!("{s}, {n} = {v}");
                }
                s
            }
            Outcome::Refused { errno, message, .. } => format!("refused ({errno}): {message}"),
            Outcome::Error(e) => format!("error: {e}"),
            Outcome::Skipped(why) => format!("skipped: {why}"),
        }
    }

    /// The outcome of `bpfsmith run --json`'s one object (a report or a refusal).
    pub fn from_run_json(text: &str) -> Option<Outcome> {
        let v: serde_json::Value = serde_json::from_str(text.trim()).ok()?;
        let program = v["program"].as_str()?.to_owned();
        if let Some(r) = v.get("refused") {
            return Some(Outcome::Refused {
                program,
                errno: r["errno"].as_str().unwrap_or("?").to_owned(),
                message: r["message"].as_str().unwrap_or("").to_owned(),
            });
        }
        let retval = v["retval"].as_u64()? as u32;
        let maps = v["maps"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, vs)| {
                        let items: Vec<String> = vs
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .map(|x| match x.as_str() {
                                        Some(s) => s.to_owned(),
                                        None => x.to_string(),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        (k.clone(), format!("[{}]", items.join(", ")))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Outcome::Ran {
            program,
            retval,
            maps,
        })
    }
}

/// One kernel and JIT mode.
#[derive(Clone, Debug)]
pub struct Row {
    /// `host` or the image's path, as given.
    pub target: String,
    /// The kernel's release.
    pub release: String,
    /// Whether the JIT was on (`None` when unknown).
    pub jit: Option<bool>,
    /// What happened.
    pub outcome: Outcome,
    /// How long the row took (a guest's boot included).
    pub elapsed: Duration,
    /// Whether the outcome is what the file's header states for this kernel (`None`: the
    /// header states nothing, or the row did not run).
    pub as_stated: Option<bool>,
}

/// The arguments of `bpfsmith run` that the file's header asks for.
fn run_args(exp: &Expectations) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(p) = &exp.program {
        v.extend(["--prog".to_owned(), p.clone()]);
    }
    for (map, values) in &exp.push_before {
        let vs: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        v.extend(["--push".to_owned(), format!("{map}={}", vs.join(","))]);
    }
    v
}

/// Run `file` on every target in every JIT mode asked for (`modes` holds `Jit::On`,
/// `Jit::Off` or both). The running kernel is shown in the mode it is in: bpfsmith does not
/// change the host's JIT.
pub fn run(file: &Path, targets: &[(String, Target)], modes: &[Jit]) -> Vec<Row> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let is_asm = file.extension().is_some_and(|e| e == "s");
    let exp = if is_asm {
        Expectations::parse(&text).ok()
    } else {
        None
    };
    let args = exp.as_ref().map(run_args).unwrap_or_default();
    let mut rows = Vec::new();
    for (spec, target) in targets {
        match target {
            Target::Host => {
                let facts = crate::check::running_kernel();
                let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default();
                let started = Instant::now();
                let outcome = run_on_host(file, exp.as_ref());
                rows.push(Row {
                    target: spec.clone(),
                    release: release.clone(),
                    jit: Some(facts.jit),
                    as_stated: stated(exp.as_ref(), &facts, &outcome),
                    outcome,
                    elapsed: started.elapsed(),
                });
                // The host's own mode is its row; a mode it is not in is shown skipped only
                // when no mode it is in was asked for.
                let asked_own = modes
                    .iter()
                    .any(|m| *m == Jit::Default || (*m == Jit::On) == facts.jit);
                for m in modes.iter().filter(|_| !asked_own) {
                    if *m != Jit::Default && (*m == Jit::On) != facts.jit {
                        rows.push(Row {
                            target: spec.clone(),
                            release: release.clone(),
                            jit: Some(*m == Jit::On),
                            outcome: Outcome::Skipped(format!(
                                "the running kernel has the JIT {}; bpfsmith does not change \
                                 the host's bpf_jit_enable (give a kernel image instead)",
                                if facts.jit { "on" } else { "off" }
                            )),
                            elapsed: Duration::ZERO,
                            as_stated: None,
                        });
                    }
                }
            }
            Target::Image(image) => {
                for m in modes {
                    let mut guest = Guest::new(image.clone());
                    guest.jit = *m;
                    let mut cmd = vec!["run".to_owned(), file.display().to_string()];
                    cmd.push("--json".into());
                    cmd.extend(args.iter().cloned());
                    let started = Instant::now();
                    let (outcome, jit, release) = match guest.run(&cmd) {
                        Ok(out) => {
                            let stdout = String::from_utf8_lossy(&out.stdout);
                            let outcome = Outcome::from_run_json(&stdout).unwrap_or_else(|| {
                                Outcome::Error(
                                    String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                                )
                            });
                            (outcome, out.jit_enabled.map(|j| j != 0), out.release)
                        }
                        Err(e) => (
                            Outcome::Error(e.to_string()),
                            match m {
                                Jit::On => Some(true),
                                Jit::Off => Some(false),
                                Jit::Default => None,
                            },
                            image.release.clone(),
                        ),
                    };
                    let facts = jit.and_then(|jit| {
                        release_version(&release).map(|version| KernelFacts { version, jit })
                    });
                    rows.push(Row {
                        target: spec.clone(),
                        release,
                        jit,
                        as_stated: facts.and_then(|f| stated(exp.as_ref(), &f, &outcome)),
                        outcome,
                        elapsed: started.elapsed(),
                    });
                }
            }
        }
    }
    rows
}

/// One row on the running kernel, in this process: the run the header asks for (the same
/// request `check` makes), or a plain run of an object.
pub(super) fn run_on_host(file: &Path, exp: Option<&Expectations>) -> Outcome {
    use crate::load::run::{run, RunError, RunRequest};
    let input = match crate::input::open(file) {
        Ok(i) => i,
        Err(e) => return Outcome::Error(e.to_string()),
    };
    let req = match exp.map(|e| crate::check::run_request(e, &input.object)) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Outcome::Error(e),
        None => RunRequest {
            program: None,
            data: None,
            repeat: 1,
            push: Vec::new(),
            log_level: 0,
        },
    };
    match run(&input.object, input.btf_source(), &req) {
        Ok(r) => Outcome::ran(r),
        Err(RunError::Load(e)) if e.refusal().is_some() => crate::load::run::load_refusal_json(&e)
            .and_then(|j| Outcome::from_run_json(&j))
            .unwrap_or_else(|| Outcome::Error(e.to_string())),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// Whether an outcome is what the header states for this kernel.
fn stated(exp: Option<&Expectations>, k: &KernelFacts, o: &Outcome) -> Option<bool> {
    let exp = exp?;
    match o {
        Outcome::Ran { retval, maps, .. } => {
            if !exp.load_ok {
                return Some(false);
            }
            let mut ok = exp.retval_on(k).map_or(true, |r| r as u32 == *retval);
            for (map, want) in exp.maps_after_on(k) {
                let want: Vec<String> = want.iter().map(|v| v.to_string()).collect();
                let want = format!("[{}]", want.join(", "));
                ok &= maps.iter().any(|(n, v)| *n == map && *v == want);
            }
            Some(ok)
        }
        Outcome::Refused { .. } => Some(!exp.load_ok),
        _ => None,
    }
}

/// Whether the program calls a helper whose `int` error the JIT zero-extends before 6.4.
fn calls_map_helper(file: &Path) -> bool {
    let Ok(input) = crate::input::open(file) else {
        return false;
    };
    input.object.programs.iter().any(|p| {
        p.insns.iter().any(|i| {
            matches!(
                i,
                crate::insn::Insn::Call(crate::insn::Callee::Helper(2 | 3 | 87..=89))
            )
        })
    })
}

/// The rows as a table, rows that differ from the first marked, and what explains them.
pub fn render(file: &Path, rows: &[Row]) -> String {
    let mut out = String::new();
    let label = |r: &Row| {
        if r.target == "host" {
            format!("host {}", r.release)
        } else {
            r.release.clone()
        }
    };
    let width = rows
        .iter()
        .map(|r| label(r).len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!("{:width$}  jit  result\n", "kernel"));
    let first = rows
        .iter()
        .find(|r| matches!(r.outcome, Outcome::Ran { .. } | Outcome::Refused { .. }))
        .map(|r| r.outcome.clone());
    let mut differing = Vec::new();
    for r in rows {
        let jit = match r.jit {
            Some(true) => "on",
            Some(false) => "off",
            None => "?",
        };
        let differs = matches!(r.outcome, Outcome::Ran { .. } | Outcome::Refused { .. })
            && first.as_ref().is_some_and(|f| !same(f, &r.outcome));
        let mut line = format!("{:width$}  {jit:3}  {}", label(r), r.outcome.text());
        match r.as_stated {
            Some(true) => line.push_str("  (as its header states)"),
            Some(false) => line.push_str("  (NOT as its header states)"),
            None => {}
        }
        if differs {
            line.push_str("  <- differs");
            differing.push(r);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if differing.is_empty() {
        out.push_str("\nEvery row that ran gives the same result.\n");
        return out;
    }
    out.push_str("\nRows marked `<- differs` give another result than the first row.\n");
    let zext = differing
        .iter()
        .chain(rows.first().iter())
        .any(|r| r.jit == Some(true) && release_version(&r.release).is_some_and(|v| v < (6, 4)));
    if zext && calls_map_helper(file) {
        out.push_str(
            "Why: before Linux 6.4 the JIT calls a map's push/pop/peek/update/delete operation \
             directly, and\nthose return `int`: an error reaches r0 zero-extended (-7 arrives \
             as 0x00000000fffffff9).\nThe interpreter and Linux 6.4 and later sign-extend it. A \
             64-bit compare such as\n`if r0 != -7` therefore branches differently; compare the \
             low 32 bits (`if w0 != -7`).\nSee `bpfsmith explain 87`.\n",
        );
    }
    out
}

/// Whether two outcomes are the same result (programs and timings aside).
pub(super) fn same(a: &Outcome, b: &Outcome) -> bool {
    match (a, b) {
        (
            Outcome::Ran {
                retval: r1,
                maps: m1,
                ..
            },
            Outcome::Ran {
                retval: r2,
                maps: m2,
                ..
            },
        ) => r1 == r2 && m1 == m2,
        (Outcome::Refused { message: a, .. }, Outcome::Refused { message: b, .. }) => a == b,
        _ => false,
    }
}

/// The rows as JSON: one object per row.
pub fn to_json(rows: &[Row]) -> String {
    use serde_json::json;
    let v: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut o = json!({
                "target": r.target,
                "release": r.release,
                "jit": r.jit,
                "elapsed_ms": r.elapsed.as_millis() as u64,
                "as_stated": r.as_stated,
            });
            match &r.outcome {
                Outcome::Ran {
                    program,
                    retval,
                    maps,
                } => {
                    o["program"] = json!(program);
                    o["retval"] = json!(retval);
                    o["maps"] = json!(maps
                        .iter()
                        .map(|(n, v)| (n.clone(), json!(v)))
                        .collect::<serde_json::Map<_, _>>());
                }
                Outcome::Refused {
                    program,
                    errno,
                    message,
                } => {
                    o["program"] = json!(program);
                    o["refused"] = json!({ "errno": errno, "message": message });
                }
                Outcome::Error(e) => o["error"] = json!(e),
                Outcome::Skipped(w) => o["skipped"] = json!(w),
            }
            o
        })
        .collect();
    serde_json::Value::Array(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_json_reads_back() {
        let ran = Outcome::from_run_json(
            r#"{"program":"p","retval":32,"duration_ns":1,"data_out":"","maps":{"queue":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(
            ran,
            Outcome::Ran {
                program: "p".into(),
                retval: 32,
                maps: vec![("queue".into(), "[1, 2]".into())]
            }
        );
        let refused = Outcome::from_run_json(
            r#"{"program":"p","refused":{"errno":"EACCES","message":"R3 !read_ok"}}"#,
        )
        .unwrap();
        assert!(
            matches!(refused, Outcome::Refused { ref message, .. } if message == "R3 !read_ok")
        );
        assert_eq!(Outcome::from_run_json("not json"), None);
    }

    #[test]
    fn differing_rows_are_marked() {
        let row = |release: &str, jit, retval| Row {
            target: "x".into(),
            release: release.into(),
            jit: Some(jit),
            outcome: Outcome::Ran {
                program: "p".into(),
                retval,
                maps: vec![],
            },
            elapsed: Duration::ZERO,
            as_stated: None,
        };
        let rows = [
            row("6.18.1", true, 64),
            row("6.1.0", true, 32),
            row("6.1.0", false, 64),
        ];
        let t = render(Path::new("/nonexistent.s"), &rows);
        let lines: Vec<&str> = t.lines().collect();
        assert!(!lines[1].contains("differs"), "{t}");
        assert!(lines[2].contains("<- differs"), "{t}");
        assert!(!lines[3].contains("differs"), "{t}");
    }
}
