//! Delta debugging (Zeller's ddmin) of a file that differs between the VM and a kernel: the
//! fewest lines of its body that still differ the same way (explained by the same known
//! kernel difference, or still unexplained) on the same kernel and JIT mode. The kernel is
//! the oracle at every step: each round writes its candidates (those that assemble) to a
//! scratch folder and runs them all in one [`super::campaign::run`], so a guest boots once per
//! round. The result keeps the file's inputs (`# push-before:`, `# run:`), states the VM's
//! result and, under the kernel's condition, the kernel's, and is never written over a file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::campaign::{self, write_new, CampaignError, Case, Comparison, Place};
use super::matrix::{same, Outcome};
use super::release_version;

/// What [`minimise`] wrote.
#[derive(Clone, Debug)]
pub struct Minimised {
    /// The file written.
    pub path: PathBuf,
    /// Instruction and directive lines before and after.
    pub lines_before: usize,
    /// See `lines_before`.
    pub lines_after: usize,
    /// Rounds run.
    pub rounds: usize,
    /// Candidates tried in all.
    pub candidates: usize,
    /// Candidates run on the kernel (the others did not assemble, or cannot show the
    /// difference: for the old JIT's, the VM gives the same result with it modelled).
    pub on_kernel: usize,
    /// How long it took.
    pub elapsed: Duration,
    /// How the result compares with the VM on that kernel.
    pub comparison: Comparison,
}

/// A file cut into what stays (the inputs of its header) and what may go (its body lines).
struct Parts {
    inputs: Vec<String>,
    units: Vec<String>,
}

fn parts(text: &str) -> Parts {
    let mut inputs = Vec::new();
    let mut units = Vec::new();
    let mut in_header = true;
    for line in text.lines() {
        let t = line.trim();
        let comment = t.is_empty() || t.starts_with('#') || t.starts_with("//");
        if in_header && comment {
            let key = t.trim_start_matches(['#', '/']).trim_start();
            if key.starts_with("push-before:") || key.starts_with("run:") {
                inputs.push(line.to_owned());
            }
            continue;
        }
        in_header = false;
        if !comment {
            units.push(line.to_owned());
        }
    }
    Parts { inputs, units }
}

fn text_of(p: &Parts, keep: &[usize]) -> String {
    let mut s = String::new();
    for l in &p.inputs {
        s.push_str(l);
        s.push('\n');
    }
    for &i in keep {
        s.push_str(&p.units[i]);
        s.push('\n');
    }
    s
}

/// A folder for one round's files, removed when dropped.
fn scratch_dir(scratch: &Path) -> Result<tempfile::TempDir, CampaignError> {
    tempfile::Builder::new()
        .prefix("bpfsmith-minimise-")
        .tempdir_in(scratch)
        .map_err(|error| CampaignError::Write {
            path: scratch.to_owned(),
            error,
        })
}

/// Run each candidate (a list of kept body lines) on `place`; the comparison of each with
/// the VM (`None`: it does not assemble, or [`vm_allows`] keeps it from the kernel).
fn judge(
    parts: &Parts,
    cands: &[Vec<usize>],
    class: &Comparison,
    place: &Place,
    scratch: &Path,
) -> Result<(Vec<Option<Comparison>>, usize), CampaignError> {
    let dir = scratch_dir(scratch)?;
    let mut written = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        let text = text_of(parts, c);
        let case = Case::from_text("candidate.s", &text);
        if case.object().is_none() || !vm_allows(&case, *class == Comparison::ExplainedByOldJit) {
            continue;
        }
        let path = dir.path().join(format!("c-{i:05}.s"));
        std::fs::write(&path, text).map_err(|error| CampaignError::Write {
            path: path.clone(),
            error,
        })?;
        written.push((i, path));
    }
    let mut out = vec![None; cands.len()];
    if written.is_empty() {
        return Ok((out, 0));
    }
    let run = campaign::run(dir.path(), std::slice::from_ref(place))?;
    for (f, path) in run.files.iter().enumerate() {
        if let Some((i, _)) = written.iter().find(|(_, p)| p == path) {
            out[*i] = Some(run.compare(1, f));
        }
    }
    Ok((out, written.len()))
}

/// Zeller's ddmin over the kept lines `cur`: each round asks `test` about every chunk and
/// every complement at the current granularity at once (one batch, one guest boot) and keeps
/// the first that is still interesting, preferring a chunk.
fn ddmin(
    mut cur: Vec<usize>,
    mut test: impl FnMut(&[Vec<usize>]) -> Result<Vec<bool>, CampaignError>,
) -> Result<Vec<usize>, CampaignError> {
    let mut n = 2usize;
    while cur.len() >= 2 {
        let size = cur.len().div_ceil(n);
        let chunks: Vec<&[usize]> = cur.chunks(size).collect();
        let mut cands: Vec<Vec<usize>> = chunks.iter().map(|c| c.to_vec()).collect();
        let subsets = cands.len();
        // With two chunks, each one's complement is the other chunk: nothing new to try.
        for k in (0..chunks.len()).filter(|_| chunks.len() > 2) {
            let rest: Vec<usize> = chunks
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != k)
                .flat_map(|(_, c)| c.iter().copied())
                .collect();
            cands.push(rest);
        }
        let verdicts = test(&cands)?;
        match verdicts.iter().position(|&v| v) {
            Some(i) if i < subsets => {
                cur = cands[i].clone();
                n = 2;
            }
            Some(i) => {
                cur = cands[i].clone();
                n = (n - 1).max(2);
            }
            None if n >= cur.len() => break,
            None => n = (2 * n).min(cur.len()),
        }
    }
    Ok(cur)
}

/// What the VM says of a cut before a kernel sees it: it runs, its result does not change
/// with what fresh stack holds (a cut that reads stack it never wrote gets the kernel's
/// leftovers there, the root verifier allowing it, so a difference it shows is not the
/// file's), and, with `old_jit_differs`, the old JIT's zero-extension modelled gives another
/// result (else it cannot show that difference). The kernel still judges every cut kept.
fn vm_allows(case: &Case, old_jit_differs: bool) -> bool {
    // Cutting a loop's counter makes an endless loop (which the kernel would refuse): a
    // small budget ends it quickly.
    const BUDGET: u64 = 1 << 20;
    let run = |fill: u8, old_jit: bool| {
        case.vm_outcome(|vm| {
            vm.budget = BUDGET;
            vm.stack_fill = fill;
            vm.zero_extend_map_errors = old_jit;
        })
    };
    let new = run(0, false);
    // `same` holds only for outcomes that ran.
    same(&new, &run(0xa5, false)) && !(old_jit_differs && same(&new, &run(0, true)))
}

/// The model's test of a cut: it assembles, sets registers before reading them, and the VM
/// allows it as a cut showing the old JIT's difference ([`vm_allows`]).
fn model_differs(p: &Parts, keep: &[usize]) -> bool {
    let case = Case::from_text("candidate.s", &text_of(p, keep));
    case.object()
        .is_some_and(|o| o.programs.iter().all(registers_set_before_read))
        && vm_allows(&case, true)
}

/// Whether every register an instruction reads was written before it, in program order
/// (each function starting with `r1`-`r5` and `r10`, a call leaving `r1`-`r5` unset): what
/// the verifier checks along every path, approximated along one, since the VM does not check
/// it. The kernel judges what passes.
fn registers_set_before_read(prog: &crate::program::Program) -> bool {
    use crate::insn::{Insn, Reg};
    let bit = |r: Reg| 1u16 << r.num();
    let args: u16 = [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5]
        .into_iter()
        .map(bit)
        .fold(0, |a, b| a | b);
    let entry = bit(Reg::R1) | bit(Reg::R10);
    let mut set = entry;
    for (i, insn) in prog.insns.iter().enumerate() {
        if let Some(f) = prog.functions.iter().find(|f| f.insn == i) {
            set = if f.insn == 0 {
                entry
            } else {
                args | bit(Reg::R10)
            };
        }
        if insn.uses().mask() & !set != 0 {
            return false;
        }
        if matches!(insn, Insn::Call(_) | Insn::CallX { .. }) {
            set = (set & !args) | bit(Reg::R0);
        } else {
            set |= insn.defs().mask();
        }
    }
    true
}

/// Minimise `file`, which differs from the VM on `place`, into `out_dir` as
/// `STEM.KERNEL-jit-on-min.s` (the column's release and JIT mode). `scratch` holds the rounds' candidates (removed after each round).
pub fn minimise(
    file: &Path,
    place: &Place,
    out_dir: &Path,
    scratch: &Path,
) -> Result<Minimised, CampaignError> {
    let started = Instant::now();
    let text = std::fs::read_to_string(file).map_err(|error| CampaignError::Write {
        path: file.to_owned(),
        error,
    })?;
    let p = parts(&text);
    let all: Vec<usize> = (0..p.units.len()).collect();
    let first = judge(
        &p,
        std::slice::from_ref(&all),
        &Comparison::Differs,
        place,
        scratch,
    )?;
    let class = match first.0.into_iter().next().flatten() {
        Some(c @ (Comparison::Differs | Comparison::ExplainedByOldJit)) => c,
        None => {
            return Err(CampaignError::NotDiffering {
                file: file.to_owned(),
                why: "it does not assemble, or its result in the VM changes with what fresh \
                      stack holds (it reads stack it never writes, where the kernel has \
                      leftovers): no cut of it can be trusted"
                    .into(),
            })
        }
        Some(other) => {
            return Err(CampaignError::NotDiffering {
                file: file.to_owned(),
                why: format!("it does not differ from the VM there ({other:?})"),
            })
        }
    };
    let (mut rounds, mut candidates, mut on_kernel) = (1, 1, 1);
    let mut start = all.clone();
    if class == Comparison::ExplainedByOldJit {
        // First cut with the VM as a model of the old JIT (in this process, no boot): keep
        // what still gives another result with the zero-extension modelled. The kernel then
        // judges that cut and every further one; if it does not show the difference, the
        // kernel minimises from the whole file.
        let model = ddmin(all.clone(), |cands| {
            rounds += 1;
            candidates += cands.len();
            Ok(cands.iter().map(|c| model_differs(&p, c)).collect())
        })?;
        let (v, _) = judge(&p, std::slice::from_ref(&model), &class, place, scratch)?;
        on_kernel += 1;
        if v.first().cloned().flatten() == Some(class.clone()) {
            start = model;
        }
    }
    let cur = ddmin(start, |cands| {
        let (verdicts, ran) = judge(&p, cands, &class, place, scratch)?;
        rounds += 1;
        candidates += cands.len();
        on_kernel += ran;
        Ok(verdicts
            .iter()
            .map(|v| v.as_ref() == Some(&class))
            .collect())
    })?;
    // The result's own outcomes, for its header.
    let body = text_of(&p, &cur);
    let dir = scratch_dir(scratch)?;
    let last = dir.path().join("min.s");
    std::fs::write(&last, &body).map_err(|error| CampaignError::Write {
        path: last.clone(),
        error,
    })?;
    let run = campaign::run(dir.path(), std::slice::from_ref(place))?;
    let (vm, col) = (&run.columns[0], &run.columns[1]);
    // The cut was judged in its round; judged again, it must differ the same way.
    let again = run.compare(1, 0);
    if again != class {
        return Err(CampaignError::NotDiffering {
            file: file.to_owned(),
            why: format!(
                "its cut of {} lines differed ({class:?}) in its round but not when run again \
                 ({again:?}): not written",
                cur.len()
            ),
        });
    }
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "case".into());
    // One file per column it differs on.
    let path = out_dir.join(format!("{stem}.{}-min.s", col.tag()));
    let header = header(
        file,
        col,
        &class,
        &p,
        cur.len(),
        &vm.outcomes[0],
        &col.outcomes[0],
    );
    let kept: String = cur.iter().map(|&i| format!("{}\n", p.units[i])).collect();
    write_new(&path, &format!("{header}\n{kept}"))?;
    Ok(Minimised {
        path,
        lines_before: p.units.len(),
        lines_after: cur.len(),
        rounds,
        candidates,
        on_kernel,
        elapsed: started.elapsed(),
        comparison: class,
    })
}

/// `[1, 2, 3]` as `1 2 3`.
fn values(text: &str) -> String {
    text.trim_matches(['[', ']'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The minimised file's header: where it comes from, why it differs, its inputs (those of
/// `p`, the original) and both results.
fn header(
    file: &Path,
    col: &campaign::Column,
    class: &Comparison,
    p: &Parts,
    after: usize,
    vm: &Outcome,
    kernel: &Outcome,
) -> String {
    let (release, before) = (&col.release, p.units.len());
    let jit_word = match col.jit {
        Some(true) => "on",
        Some(false) => "off",
        None => "?",
    };
    let mut h = format!(
        "# Minimised by `bpfsmith matrix --minimise` from {} ({before} lines to {after}): on\n\
         # Linux {release} with the JIT {jit_word} it gives another result than in the VM (the newest\n\
         # kernels' semantics).\n",
        file.display()
    );
    let cond = match class {
        Comparison::ExplainedByOldJit => {
            h.push_str(
                "# Explained: before Linux 6.4 the JIT hands a map helper's error back \
                 zero-extended\n# (the VM modelling that gives the kernel's result).\n",
            );
            "linux < 6.4, jit on".to_owned()
        }
        _ => {
            h.push_str("# Not explained by a known kernel difference.\n");
            let (a, b) = release_version(release).unwrap_or((0, 0));
            format!("linux >= {a}.{b}, linux < {a}.{}, jit {jit_word}", b + 1)
        }
    };
    h.push_str("#\n");
    for l in &p.inputs {
        h.push_str(l);
        h.push('\n');
    }
    h.push_str("# expect-load: ok\n");
    for (o, c) in [(vm, None), (kernel, Some(&cond))] {
        if let Outcome::Ran { retval, maps, .. } = o {
            let when = c.map(|c| format!(" ({c})")).unwrap_or_default();
            h.push_str(&format!("# expect-retval{when}: {retval}\n"));
            for (name, vs) in maps {
                h.push_str(&format!("# expect-map{when}: {name} = {}\n", values(vs)));
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_keeps_inputs_and_the_body_loses_comments() {
        let p = parts(
            "# a program\n# push-before: q = 1 2\n# expect-retval: 3\n\n.license \"GPL\"\n\
             # a comment\n\tr0 = 0\n\n\texit\n",
        );
        assert_eq!(p.inputs, ["# push-before: q = 1 2"]);
        assert_eq!(p.units, [".license \"GPL\"", "\tr0 = 0", "\texit"]);
        assert_eq!(
            text_of(&p, &[0, 2]),
            "# push-before: q = 1 2\n.license \"GPL\"\n\texit\n"
        );
        assert_eq!(values("[1, 2, 30]"), "1 2 30");
        assert_eq!(values("[]"), "");
    }
}
