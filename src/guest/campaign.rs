//! A corpus of `.s` files (what `bpfsmith gen` writes) on the VM and on several kernels and
//! JIT modes, file by file: `bpfsmith matrix DIR`. The VM is the reference column; each
//! kernel column says how many files its verifier accepted, how many gave the VM's result, and
//! for each that did not, whether a known kernel difference explains it. A difference is
//! *explained* when the VM, run again with that difference modelled
//! ([`crate::vm::Vm::zero_extend_map_errors`], the JIT of Linux before 6.4), gives exactly the
//! kernel's result. [`super::minimise`] cuts a differing file down to the fewest lines that still
//! differ the same way, for an `asm/` regression or teaching case.
//!
//! A kernel column runs in this process (`host`) or in a guest booted once per column, which
//! runs the same command with `--kernel host` inside and prints its column as JSON.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::matrix::{run_on_host, same, Outcome};
use super::{release_version, Guest, GuestError, Jit, KernelImage};
use crate::text::asm::expect::Expectations;

/// Where a column runs.
#[derive(Clone, Debug)]
pub enum Place {
    /// The running kernel, in this process, in the JIT mode it is in.
    Host,
    /// A kernel image under qemu, in one JIT mode.
    Image {
        /// The image.
        image: KernelImage,
        /// The JIT mode.
        jit: Jit,
    },
}

/// One column: every file's outcome on one kernel and JIT mode (or in the VM).
#[derive(Clone, Debug)]
pub struct Column {
    /// `vm`, `host` or the image's release.
    pub label: String,
    /// The kernel's release (empty for the VM).
    pub release: String,
    /// Whether the JIT was on (`None`: the VM, or unknown).
    pub jit: Option<bool>,
    /// Per file, in [`Campaign::files`] order.
    pub outcomes: Vec<Outcome>,
    /// How long the column took (a guest's boot included).
    pub elapsed: Duration,
}

impl Column {
    /// The column in a file name: `RELEASE-jit-on` (`-off`, `-unknown`).
    pub fn tag(&self) -> String {
        let jit = match self.jit {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        format!("{}-jit-{jit}", self.label)
    }
}

/// A corpus run in the VM and on every place asked for.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// The files, sorted by name.
    pub files: Vec<PathBuf>,
    /// The VM's column first, then one per place.
    pub columns: Vec<Column>,
}

/// Why a campaign or a minimisation could not run.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// The folder could not be read, or holds no `.s` file.
    #[error("{0}")]
    Files(std::io::Error),
    /// A guest could not be booted or run.
    #[error(transparent)]
    Guest(#[from] GuestError),
    /// A guest's output was not the column it should print.
    #[error("the guest ({release}) printed no column: {stderr}")]
    GuestOutput {
        /// The guest's release.
        release: String,
        /// What it printed on its standard error.
        stderr: String,
    },
    /// The file to minimise does not differ on that place.
    #[error("{file}: {why}")]
    NotDiffering {
        /// The file.
        file: PathBuf,
        /// What it gives instead.
        why: String,
    },
    /// Reading the file, or writing the result or a scratch file, failed.
    #[error("{path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
}

/// A file read for running: its header and its object, each made once.
pub(super) struct Case {
    exp: Option<Expectations>,
    obj: Result<crate::object::Object, String>,
}

impl Case {
    /// `text`, named `name` in messages.
    pub(super) fn from_text(name: &str, text: &str) -> Case {
        Case {
            exp: Expectations::parse(text).ok(),
            obj: crate::text::assemble(name, text).map_err(|e| e.to_string()),
        }
    }

    fn read(path: &Path) -> Case {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Case::from_text(&path.display().to_string(), &text)
    }

    /// The object, when the text assembled.
    pub(super) fn object(&self) -> Option<&crate::object::Object> {
        self.obj.as_ref().ok()
    }

    /// The run its header asks for (pushes, program) in the VM set up by `configure`.
    pub(super) fn vm_outcome(&self, configure: impl FnOnce(&mut crate::vm::Vm)) -> Outcome {
        let obj = match &self.obj {
            Ok(o) => o,
            Err(e) => return Outcome::Error(e.clone()),
        };
        let req = match self.exp.as_ref().map(|e| crate::check::run_request(e, obj)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Outcome::Error(e),
            None => crate::run::RunRequest {
                repeat: 1,
                ..Default::default()
            },
        };
        match crate::vm::run_with(obj, &req, configure) {
            Ok(r) => Outcome::ran(r),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

/// The file's run (its header's pushes and program) in the VM; with `old_jit`, modelling the
/// JIT of Linux before 6.4 (map errors zero-extended).
pub fn vm_outcome(path: &Path, old_jit: bool) -> Outcome {
    Case::read(path).vm_outcome(|vm| vm.zero_extend_map_errors = old_jit)
}

/// Run every `.s` file of `dir` in the VM and on each place.
pub fn run(dir: &Path, places: &[Place]) -> Result<Campaign, CampaignError> {
    let files = crate::check::files(&[dir.to_owned()]).map_err(CampaignError::Files)?;
    let started = Instant::now();
    let vm = Column {
        label: "vm".into(),
        release: String::new(),
        jit: None,
        outcomes: files.iter().map(|f| vm_outcome(f, false)).collect(),
        elapsed: started.elapsed(),
    };
    let mut columns = vec![vm];
    for p in places {
        columns.push(column(dir, &files, p)?);
    }
    Ok(Campaign { files, columns })
}

fn column(dir: &Path, files: &[PathBuf], place: &Place) -> Result<Column, CampaignError> {
    let started = Instant::now();
    match place {
        Place::Host => {
            let facts = crate::check::running_kernel();
            let outcomes = files
                .iter()
                .map(|f| {
                    // Only the header: run_on_host assembles the file itself.
                    let exp = std::fs::read_to_string(f)
                        .ok()
                        .and_then(|t| Expectations::parse(&t).ok());
                    run_on_host(f, exp.as_ref())
                })
                .collect();
            Ok(Column {
                label: "host".into(),
                release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default(),
                jit: Some(facts.jit),
                outcomes,
                elapsed: started.elapsed(),
            })
        }
        Place::Image { image, jit } => {
            let mut guest = Guest::new(image.clone());
            guest.jit = *jit;
            let cmd = [
                "matrix".to_owned(),
                dir.display().to_string(),
                "--kernel".into(),
                "host".into(),
                "--json".into(),
            ];
            let out = guest.run(&cmd)?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            let inner = from_json(&stdout).ok_or_else(|| CampaignError::GuestOutput {
                release: out.release.clone(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })?;
            let host = inner
                .columns
                .into_iter()
                .find(|c| c.label == "host")
                .filter(|c| c.outcomes.len() == files.len())
                .ok_or_else(|| CampaignError::GuestOutput {
                    release: out.release.clone(),
                    stderr: "its JSON has no host column for every file".into(),
                })?;
            Ok(Column {
                label: out.release.clone(),
                release: out.release,
                jit: out.jit_enabled.map(|j| j != 0),
                outcomes: host.outcomes,
                elapsed: started.elapsed(),
            })
        }
    }
}

/// The whole verifier log (level 2) of a file `place` refuses: what a refusal of a generated
/// program is kept with, since it is a generator bug to mend. On a kernel image the file is
/// loaded again in a guest (`bpfsmith load FILE --log-level 2 --raw-log`).
pub fn refusal_log(file: &Path, place: &Place) -> Result<String, CampaignError> {
    match place {
        Place::Host => {
            let input = crate::input::open(file).map_err(|e| CampaignError::GuestOutput {
                release: "host".into(),
                stderr: e.to_string(),
            })?;
            let req = crate::run::RunRequest {
                repeat: 1,
                log_level: 2,
                ..Default::default()
            };
            Ok(
                match crate::load::run::run(&input.object, input.btf_source(), &req) {
                    Err(crate::load::run::RunError::Load(e)) => match e.refusal() {
                        Some((_, _, log)) => log.to_owned(),
                        None => e.to_string(),
                    },
                    Err(e) => e.to_string(),
                    Ok(r) => r.log.unwrap_or_else(|| "loaded: no refusal".into()),
                },
            )
        }
        Place::Image { image, jit } => {
            let mut guest = Guest::new(image.clone());
            guest.jit = *jit;
            let cmd = [
                "load".to_owned(),
                file.display().to_string(),
                "--log-level".into(),
                "2".into(),
                "--raw-log".into(),
            ];
            let out = guest.run(&cmd)?;
            Ok(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// Keep the whole verifier log of file `f`, which column `c` of `run` refused (loaded again
/// there, [`refusal_log`]), in `out` as `FILE.KERNEL-jit-on.refused.log`: a refusal of a
/// generated program is a generator bug to mend. Never written over a file.
pub fn keep_refusal_log(
    run: &Campaign,
    f: usize,
    c: usize,
    place: &Place,
    out: &Path,
) -> Result<PathBuf, CampaignError> {
    let file = &run.files[f];
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = out.join(format!("{name}.{}.refused.log", run.columns[c].tag()));
    write_new(&path, &refusal_log(file, place)?)?;
    Ok(path)
}

/// Write `text` to `path`, which must not exist yet (nothing is written over).
pub(super) fn write_new(path: &Path, text: &str) -> Result<(), CampaignError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|error| CampaignError::Write {
            path: path.to_owned(),
            error,
        })?;
    f.write_all(text.as_bytes())
        .map_err(|error| CampaignError::Write {
            path: path.to_owned(),
            error,
        })
}

/// How a kernel column's file compares with the VM's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// The same result.
    Agrees,
    /// The verifier refused it (for a generated corpus: a generator bug).
    Refused(String),
    /// Another result, which the VM with the pre-6.4 JIT modelled gives too.
    ExplainedByOldJit,
    /// Another result, unexplained.
    Differs,
    /// Not comparable (an error in either column, or skipped): why.
    Unrun(String),
}

impl Campaign {
    /// How column `c`'s file `f` compares with the VM's (column 0).
    pub fn compare(&self, c: usize, f: usize) -> Comparison {
        let vm = &self.columns[0].outcomes[f];
        let col = &self.columns[c];
        match (&col.outcomes[f], vm) {
            (Outcome::Refused { message, .. }, _) => Comparison::Refused(message.clone()),
            (Outcome::Error(e), _) => Comparison::Unrun(e.clone()),
            (Outcome::Skipped(w), _) => Comparison::Unrun(w.clone()),
            (_, Outcome::Error(e)) => Comparison::Unrun(format!("the VM: {e}")),
            (k, v) if same(k, v) => Comparison::Agrees,
            (k, _) => {
                let old = col.jit == Some(true)
                    && release_version(&col.release).is_some_and(|v| v < (6, 4));
                if old && same(k, &vm_outcome(&self.files[f], true)) {
                    Comparison::ExplainedByOldJit
                } else {
                    Comparison::Differs
                }
            }
        }
    }

    /// The report for people: a line per column (accepted, agreeing, differing), then every
    /// refusal and every difference with both results.
    pub fn render(&self) -> String {
        let n = self.files.len();
        let mut out = format!("{n} files\n");
        let pct = |k: usize| 100.0 * k as f64 / n.max(1) as f64;
        let mut details = Vec::new();
        out.push_str("column                         jit  accepted             same result as the VM   differ (explained)  not run   time\n");
        for c in 1..self.columns.len() {
            let col = &self.columns[c];
            let (mut refused, mut agree, mut explained, mut differ, mut unrun) = (0, 0, 0, 0, 0);
            for f in 0..n {
                let cmp = self.compare(c, f);
                match &cmp {
                    Comparison::Agrees => agree += 1,
                    Comparison::Refused(_) => refused += 1,
                    Comparison::ExplainedByOldJit => explained += 1,
                    Comparison::Differs => differ += 1,
                    Comparison::Unrun(_) => unrun += 1,
                }
                if cmp != Comparison::Agrees {
                    details.push((c, f, cmp));
                }
            }
            let ran = n - refused - unrun;
            out.push_str(&format!(
                "{:30} {:3}  {:>5}/{n} ({:6.2}%)  {:>5}/{ran} ({:6.2}%)      {:>5} ({})  {:>8}  {:.1} s\n",
                col.label,
                jit_text(col.jit),
                // Accepted: loaded by the verifier; a file that did not run is not counted.
                n - refused - unrun,
                pct(n - refused - unrun),
                agree,
                100.0 * agree as f64 / ran.max(1) as f64,
                differ + explained,
                explained,
                unrun,
                col.elapsed.as_secs_f64()
            ));
        }
        for (c, f, cmp) in details {
            let col = &self.columns[c];
            let file = self.files[f].display();
            let here = format!("{} jit {}", col.label, jit_text(col.jit));
            let line = match cmp {
                Comparison::Refused(m) => format!("refused  {file} on {here}: {m}"),
                Comparison::Unrun(w) => format!("not run  {file} on {here}: {w}"),
                Comparison::ExplainedByOldJit | Comparison::Differs => format!(
                    "differs  {file} on {here}: {}; the VM: {}{}",
                    describe(&col.outcomes[f]),
                    describe(&self.columns[0].outcomes[f]),
                    if matches!(cmp, Comparison::ExplainedByOldJit) {
                        " (explained: the JIT before Linux 6.4 zero-extends map errors; the VM \
                         modelling it gives the kernel's result)"
                    } else {
                        " (UNEXPLAINED)"
                    }
                ),
                Comparison::Agrees => continue,
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The campaign as one JSON object: `{"files": [...], "columns": [{"label", "release",
    /// "jit", "elapsed_ms", "outcomes": [...]}]}`.
    pub fn to_json(&self) -> String {
        use serde_json::json;
        json!({
            "files": self.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "columns": self.columns.iter().map(|c| json!({
                "label": c.label,
                "release": c.release,
                "jit": c.jit,
                "elapsed_ms": c.elapsed.as_millis() as u64,
                "outcomes": c.outcomes.iter().map(outcome_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

fn jit_text(jit: Option<bool>) -> &'static str {
    match jit {
        Some(true) => "on",
        Some(false) => "off",
        None => "-",
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Ran { retval, maps, .. } => {
            let mut s = format!("r0 = {retval:#x}");
            for (n, v) in maps {
                s.push_str(&format!(", {n} = {v}"));
            }
            s
        }
        Outcome::Refused { message, .. } => format!("refused: {message}"),
        Outcome::Error(e) => format!("error: {e}"),
        Outcome::Skipped(w) => format!("skipped: {w}"),
    }
}

fn outcome_json(o: &Outcome) -> serde_json::Value {
    use serde_json::json;
    match o {
        Outcome::Ran {
            program,
            retval,
            maps,
        } => json!({"ran": {"program": program, "retval": retval, "maps": maps}}),
        Outcome::Refused {
            program,
            errno,
            message,
        } => json!({"refused": {"program": program, "errno": errno, "message": message}}),
        Outcome::Error(e) => json!({ "error": e }),
        Outcome::Skipped(w) => json!({ "skipped": w }),
    }
}

fn outcome_from_json(v: &serde_json::Value) -> Option<Outcome> {
    let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    if let Some(r) = v.get("ran") {
        let maps = r["maps"]
            .as_array()?
            .iter()
            .map(|m| Some((s(&m[0])?, s(&m[1])?)))
            .collect::<Option<Vec<_>>>()?;
        return Some(Outcome::Ran {
            program: s(&r["program"])?,
            retval: u32::try_from(r["retval"].as_u64()?).ok()?,
            maps,
        });
    }
    if let Some(r) = v.get("refused") {
        return Some(Outcome::Refused {
            program: s(&r["program"])?,
            errno: s(&r["errno"])?,
            message: s(&r["message"])?,
        });
    }
    if let Some(e) = v.get("error") {
        return Some(Outcome::Error(s(e)?));
    }
    Some(Outcome::Skipped(s(v.get("skipped")?)?))
}

/// A campaign read back from [`Campaign::to_json`] (the last line of `text` that parses).
pub fn from_json(text: &str) -> Option<Campaign> {
    let v: serde_json::Value = text
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l.trim()).ok())?;
    let files = v["files"]
        .as_array()?
        .iter()
        .map(|f| f.as_str().map(PathBuf::from))
        .collect::<Option<Vec<_>>>()?;
    let columns = v["columns"]
        .as_array()?
        .iter()
        .map(|c| {
            Some(Column {
                label: c["label"].as_str()?.to_owned(),
                release: c["release"].as_str()?.to_owned(),
                jit: c["jit"].as_bool(),
                outcomes: c["outcomes"]
                    .as_array()?
                    .iter()
                    .map(outcome_from_json)
                    .collect::<Option<Vec<_>>>()?,
                elapsed: Duration::from_millis(c["elapsed_ms"].as_u64()?),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Campaign { files, columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_back() {
        let c = Campaign {
            files: vec!["a.s".into(), "b.s".into()],
            columns: vec![Column {
                label: "host".into(),
                release: "6.18.0".into(),
                jit: Some(true),
                outcomes: vec![
                    Outcome::Ran {
                        program: "p".into(),
                        retval: 7,
                        maps: vec![("q".into(), "[1, 2]".into())],
                    },
                    Outcome::Refused {
                        program: "p".into(),
                        errno: "EACCES".into(),
                        message: "R1 !read_ok".into(),
                    },
                ],
                elapsed: Duration::from_millis(5),
            }],
        };
        let back = from_json(&format!("noise\n{}\n", c.to_json())).unwrap();
        assert_eq!(back.files, c.files);
        assert_eq!(back.columns[0].outcomes, c.columns[0].outcomes);
        assert_eq!(back.columns[0].jit, Some(true));
    }
}
