//! Random eBPF programs that the verifier accepts by construction, each with its expected
//! outcome computed by the VM: what `bpfsmith gen` writes, and `bpfsmith check` holds to.
//!
//! A program is a pure function of ([`GenOptions`], index): [`generate`] gives program `k`
//! of a corpus alone, and [`write_corpus`] writes `gen-SEED-00000.s`, ... into a folder.
//! Each file is the project's assembly text (a socket filter, `.license "GPL"`, `.map` lines,
//! `.text` functions) with a header that says how to regenerate it and what it must give:
//! `# push-before:` values, `# expect-load: ok`, `# expect-retval:` and `# expect-map:` for its
//! queue and stack maps ([`crate::text::asm::expect`]).
//!
//! What a program holds: ALU and ALU64 operations in immediate and register forms (the
//! division and shift rules kept), byte-order operations, `ld_imm64`, loads, stores and
//! atomics on the stack, forward conditional jumps of every condition in both widths, if/else
//! with `goto`/`gotol`, bounded loops, calls of generated `.text` functions, helpers 87-89 on
//! queue and stack maps and 1-3 on array and hash maps; and with [`Isa::V4`] the cpu v4
//! instructions (`sdiv`/`smod`, `movsx`, sign-extending loads, `bswap`, `gotol`). The end
//! folds every initialised register, some stack words and the array and hash values into
//! `r0`, its high half xored into the low, so that the 32-bit return value sees every bit.
//!
//! ```
//! use bpfsmith::gen::{generate, GenOptions};
//!
//! let opts = GenOptions { seed: 7, ..GenOptions::default() };
//! let p = generate(&opts, 3).unwrap();
//! assert_eq!(p.file_name, "gen-7-00003.s");
//! assert!(p.text.contains("# expect-retval: "));
//! assert_eq!(generate(&opts, 3).unwrap().text, p.text); // the same program again
//! ```

mod program;
mod rng;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use program::{Builder, MapSpec};
use rng::Rng;

/// Which instruction set the programs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// cpu v3: everything but the cpu v4 instructions (Linux 5.12 and later, for the atomics).
    V3,
    /// cpu v4: also `sdiv`/`smod`, `movsx`, sign-extending loads, `bswap`, `gotol` (Linux 6.6
    /// and later).
    V4,
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Isa::V3 => "v3",
            Isa::V4 => "v4",
        })
    }
}

impl FromStr for Isa {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Isa, GenError> {
        match s {
            "v3" => Ok(Isa::V3),
            "v4" => Ok(Isa::V4),
            _ => Err(GenError::Option(format!(
                "`{s}` is not an instruction set: use v3 (Linux 5.12+) or v4 (Linux 6.6+)"
            ))),
        }
    }
}

/// A kind of map the programs may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `BPF_MAP_TYPE_QUEUE`, with helpers 87-89.
    Queue,
    /// `BPF_MAP_TYPE_STACK`, with helpers 87-89.
    Stack,
    /// `BPF_MAP_TYPE_ARRAY`, with helpers 1-3.
    Array,
    /// `BPF_MAP_TYPE_HASH`, with helpers 1-3.
    Hash,
}

impl MapKind {
    /// Every kind, in the order `--maps` lists them.
    pub const ALL: [MapKind; 4] = [
        MapKind::Queue,
        MapKind::Stack,
        MapKind::Array,
        MapKind::Hash,
    ];

    /// The name in `--maps` and in `.map ... type=`.
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Queue => "queue",
            MapKind::Stack => "stack",
            MapKind::Array => "array",
            MapKind::Hash => "hash",
        }
    }

    /// A queue or a stack (helpers 87-89), not an array or hash (helpers 1-3).
    pub(crate) fn fifo(self) -> bool {
        matches!(self, MapKind::Queue | MapKind::Stack)
    }

    /// The kinds of a comma-separated list (`queue,stack`); an empty list is no maps.
    pub fn parse_list(s: &str) -> Result<Vec<MapKind>, GenError> {
        let mut out = Vec::new();
        for word in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let kind = MapKind::ALL
                .into_iter()
                .find(|k| k.name() == word)
                .ok_or_else(|| {
                    GenError::Option(format!(
                        "`{word}` is not a map kind: use queue, stack, array or hash"
                    ))
                })?;
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
        Ok(out)
    }
}

/// The smallest `max` of [`GenOptions::size`]: room for maps, a few blocks and the fold.
pub const MIN_SIZE: usize = 48;

/// The largest `--size` MAX: the kernel takes no larger program (a privileged program's limit,
/// `BPF_COMPLEXITY_LIMIT_INSNS`).
pub const MAX_SIZE: usize = 1_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// The corpus seed: with the index, it fixes every program.
    pub seed: u64,
    /// The instruction set.
    pub isa: Isa,
    /// The kinds of map the programs may use (each program uses some of them).
    pub maps: Vec<MapKind>,
    /// How many instructions a program has, `(min, max)` inclusive (`ld_imm64` counts one),
    /// functions included.
    pub size: (usize, usize),
}

impl Default for GenOptions {
    /// Seed 0, cpu v4, every map kind, 32 to 160 instructions.
    fn default() -> GenOptions {
        GenOptions {
            seed: 0,
            isa: Isa::V4,
            maps: MapKind::ALL.to_vec(),
            size: (32, 160),
        }
    }
}

impl GenOptions {
    /// Parse `--size MIN..MAX` (or a single `N`).
    pub fn parse_size(s: &str) -> Result<(usize, usize), GenError> {
        let bad = || GenError::Option(format!("`{s}` is not a size: write MIN..MAX, e.g. 32..160"));
        let (a, b) = match s.split_once("..") {
            Some((a, b)) => (a, b.strip_prefix('=').unwrap_or(b)),
            None => (s, s),
        };
        let a = a.trim().parse().map_err(|_| bad())?;
        let b = b.trim().parse().map_err(|_| bad())?;
        Ok((a, b))
    }

    /// Whether the options can be met.
    pub fn validate(&self) -> Result<(), GenError> {
        let (min, max) = self.size;
        if min > max {
            return Err(GenError::Option(format!(
                "--size {min}..{max}: MIN must not exceed MAX"
            )));
        }
        if max < MIN_SIZE {
            return Err(GenError::Option(format!(
                "--size {min}..{max}: MAX must be at least {MIN_SIZE} (room for the maps' setup \
                 and the final fold)"
            )));
        }
        if max > MAX_SIZE {
            return Err(GenError::Option(format!(
                "--size {min}..{max}: MAX must be at most {MAX_SIZE}, the kernel's limit on the \
                 instructions of a program (BPF_COMPLEXITY_LIMIT_INSNS)"
            )));
        }
        Ok(())
    }

    /// The options as `bpfsmith gen` arguments (without `--out`, `--count`, `--index`).
    pub fn to_args(&self) -> String {
        let maps: Vec<&str> = self.maps.iter().map(|m| m.name()).collect();
        format!(
            "--seed {} --isa {} --maps {} --size {}..{}",
            self.seed,
            self.isa,
            if maps.is_empty() {
                "''".to_owned()
            } else {
                maps.join(",")
            },
            self.size.0,
            self.size.1
        )
    }
}

/// One generated program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// Its index in the corpus.
    pub index: u64,
    /// `gen-SEED-INDEX.s`.
    pub file_name: String,
    /// The whole file: header and assembly.
    pub text: String,
    /// Its instructions (`ld_imm64` counts one), functions included.
    pub insns: usize,
    /// The return value the VM computed (the header's `expect-retval`).
    pub retval: u32,
}

/// Why a program or a corpus could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The options cannot be met.
    #[error("{0}")]
    Option(String),
    /// A generated program does not assemble: a generator bug.
    #[error("{file}: the generated program does not assemble (a generator bug; please report it with the file's regenerate line):\n{message}")]
    Assemble {
        /// The file's name.
        file: String,
        /// The assembler's errors.
        message: String,
    },
    /// The VM stopped a generated program: a generator bug, and no file is written.
    #[error("{file}: the VM stopped the generated program (a generator bug; please report it with the file's regenerate line): {error}")]
    Vm {
        /// The file's name.
        file: String,
        /// What the VM said.
        error: Box<crate::vm::VmRunError>,
    },
    /// The file exists already: gen never overwrites.
    #[error("{}: exists already; bpfsmith gen never overwrites a file (write into another --out folder, or remove it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Creating the folder or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The file name of program `index` of corpus `seed`.
pub fn file_name(seed: u64, index: u64) -> String {
    format!("gen-{seed}-{index:05}.s")
}

/// The maps of one program: each requested kind with some probability, most programs with
/// a queue or stack; small capacities, so that pushes find them full and pops empty.
fn choose_maps(rng: &mut Rng, kinds: &[MapKind]) -> Vec<MapSpec> {
    let mut maps = Vec::new();
    for &kind in kinds {
        let fifo = kind.fifo();
        if !rng.chance(if fifo { 3 } else { 1 }, if fifo { 4 } else { 2 }) {
            continue;
        }
        maps.push(spec(rng, kind));
    }
    let fifos: Vec<MapKind> = kinds.iter().copied().filter(|k| k.fifo()).collect();
    if !fifos.is_empty() && !maps.iter().any(|m| m.kind.fifo()) && rng.chance(9, 10) {
        let kind = rng.pick(&fifos);
        maps.insert(0, spec(rng, kind));
    }
    maps
}

fn spec(rng: &mut Rng, kind: MapKind) -> MapSpec {
    let (key_size, value_size, max_entries) = match kind {
        MapKind::Queue | MapKind::Stack => {
            (0, rng.pick(&[1u32, 2, 4, 4, 8, 8]), rng.range(1, 8) as u32)
        }
        MapKind::Array => (4, rng.pick(&[8u32, 16, 24]), rng.range(1, 4) as u32),
        MapKind::Hash => (
            rng.pick(&[4u32, 8]),
            rng.pick(&[8u32, 16]),
            rng.range(1, 4) as u32,
        ),
    };
    MapSpec {
        name: format!("{}0", kind.name()),
        kind,
        key_size,
        value_size,
        max_entries,
    }
}

/// Program `index` of the corpus `opts` describes: generated, assembled, run in the VM, and
/// written out with its expectations.
pub fn generate(opts: &GenOptions, index: u64) -> Result<Generated, GenError> {
    opts.validate()?;
    let file = file_name(opts.seed, index);
    let mut rng = Rng::new(opts.seed, index);
    let maps = choose_maps(&mut rng, &opts.maps);
    // Values pushed from user space before the run, into some of the queues and stacks.
    let mut pushes: Vec<(String, Vec<u64>)> = Vec::new();
    for m in maps.iter().filter(|m| m.kind.fifo()) {
        if rng.chance(1, 3) {
            let n = rng.range(1, i64::from(m.max_entries));
            let mask = u64::MAX >> (64 - 8 * m.value_size);
            let values = (0..n)
                .map(|_| {
                    if rng.chance(1, 2) {
                        rng.range(0, 99) as u64
                    } else {
                        rng.bits() & mask
                    }
                })
                .collect();
            pushes.push((m.name.clone(), values));
        }
    }
    let (min, max) = opts.size;
    let target = rng.range(min as i64, max as i64) as usize;
    let mut b = Builder::new(&mut rng, opts.isa, maps);
    // Functions take up to a quarter of a large program, and leave room for the main
    // program's fixed end and some blocks. Each costs its size and a call (arguments, `call`).
    let mut left = (target / 4).min(target.saturating_sub(b.fixed_cost() + 24));
    for _ in 0..b.funcs_wanted(target) {
        let nargs = b.fn_args();
        let size = b.fn_size(left.saturating_sub(usize::from(nargs) + 1));
        if size < 8 {
            break;
        }
        left -= size + usize::from(nargs) + 1;
        b.function(size, nargs);
    }
    b.main_program(min, target);
    let (body, insns) = b.render("gen_prog");

    let obj = crate::text::assemble(&file, &body).map_err(|e| GenError::Assemble {
        file: file.clone(),
        message: e.to_string(),
    })?;
    let inputs: String = pushes
        .iter()
        .map(|(map, values)| format!("# push-before: {map} ={}\n", numbers(values)))
        .collect();
    // The run `check` makes of the file: the header's pushes, each in its map's value size.
    let req = crate::text::asm::expect::Expectations::parse(&inputs)
        .map_err(|e| format!("header {e}"))
        .and_then(|exp| crate::check::run_request(&exp, &obj))
        .map_err(|message| GenError::Assemble {
            file: file.clone(),
            message,
        })?;
    let report = crate::vm::run(&obj, &req).map_err(|e| GenError::Vm {
        file: file.clone(),
        error: Box::new(e),
    })?;

    let mut text = format!(
        "# bpfsmith gen: program {index} of seed {seed}, valid by construction. Its expectations\n\
         # were computed by bpfsmith's VM, which has the semantics of the newest kernels.\n\
         # regenerate: bpfsmith gen {args} --index {index} --count 1 --out DIR\n#\n",
        seed = opts.seed,
        args = opts.to_args(),
    );
    text.push_str(&inputs);
    text.push_str("# expect-load: ok\n");
    text.push_str(&format!("# expect-retval: {}\n", report.retval));
    for (map, values) in &report.maps {
        let values: Vec<u64> = values
            .iter()
            // Queue and stack values here are 1, 2, 4 or 8 bytes: always numbers.
            .map(|v| v.as_u64().unwrap_or(0))
            .collect();
        text.push_str(&format!("# expect-map: {map} ={}\n", numbers(&values)));
    }
    text.push('\n');
    text.push_str(&body);
    Ok(Generated {
        index,
        file_name: file,
        text,
        insns,
        retval: report.retval,
    })
}

/// ` 1 2 3`, or nothing.
fn numbers(values: &[u64]) -> String {
    values.iter().map(|v| format!(" {v}")).collect()
}

/// What [`write_corpus`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusSummary {
    /// The files written, in index order.
    pub files: Vec<PathBuf>,
    /// Their instructions in total.
    pub insns: usize,
}

/// Write programs `0..count` of the corpus into `out_dir` (created if missing) as
/// `gen-SEED-00000.s`, ...; see [`write_range`].
pub fn write_corpus(
    opts: &GenOptions,
    count: u64,
    out_dir: &Path,
) -> Result<CorpusSummary, GenError> {
    write_range(opts, 0, count, out_dir)
}

/// Write programs `first..first + count` into `out_dir` (created if missing). Nothing is
/// lost: if any of the files exists already, [`GenError::Exists`] names the first and nothing
/// is written.
pub fn write_range(
    opts: &GenOptions,
    first: u64,
    count: u64,
    out_dir: &Path,
) -> Result<CorpusSummary, GenError> {
    opts.validate()?;
    let end = first.checked_add(count).ok_or_else(|| {
        GenError::Option(format!(
            "--index {first} --count {count}: the last index would be past 2^64"
        ))
    })?;
    // Lazily: a count may be larger than memory holds paths for (it ends at the first error).
    let paths = || (first..end).map(|index| (index, out_dir.join(file_name(opts.seed, index))));
    if let Some((_, path)) = paths().find(|(_, p)| p.exists()) {
        return Err(GenError::Exists { path });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| GenError::Io {
        path: out_dir.to_owned(),
        source,
    })?;
    let mut summary = CorpusSummary {
        files: Vec::new(),
        insns: 0,
    };
    for (index, path) in paths() {
        let p = generate(opts, index)?;
        // `create_new`: a file that appeared since the check is not overwritten either.
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, p.text.as_bytes()));
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(GenError::Exists { path })
            }
            Err(source) => return Err(GenError::Io { path, source }),
        }
        summary.insns += p.insns;
        summary.files.push(path);
    }
    Ok(summary)
}
