//! The `bpfsmith` command: argument parsing and output only; every feature lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod cli;

/// Build, assemble, write, load and debug eBPF programs by hand.
#[derive(Parser)]
#[command(
    name = "bpfsmith",
    version,
    about,
    after_help = "Examples:\n  bpfsmith demo                        # the seed scenario, as a lesson\n  bpfsmith asm prog.s -o prog.o        # assemble (warnings for what the verifier will refuse)\n  bpfsmith run prog.s --json           # assemble, load, run, read the maps back\n  bpfsmith load prog.o --log-level 2   # the verifier's log, every line tied to its source\n  bpfsmith check asm                   # every .s file held to its header\n  bpfsmith explain 87                  # a helper, a verifier message or a register\n\nEach command's --help has its own examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum StyleArg {
    /// LLVM's syntax, as llvm-objdump prints it.
    Llvm,
    /// The kernel's syntax, as the verifier log prints it.
    Kernel,
}

/// Where a command runs: the running kernel, or another kernel image under qemu.
#[derive(clap::Args, Clone, Default)]
struct GuestArgs {
    /// Run inside this kernel instead: a kernel image (`vmlinuz`) booted under qemu with this
    /// binary as its init, or `host` for the running kernel. The output is the same.
    #[arg(long, value_name = "VMLINUZ|host")]
    kernel: Option<String>,
    /// The JIT setting in that kernel (`bpf_jit_enable`): on, or off for the interpreter.
    #[arg(long, value_enum)]
    jit: Option<JitArg>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JitArg {
    On,
    Off,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JitModes {
    On,
    Off,
    Both,
}

/// How to show a verifier log.
#[derive(clap::Args, Clone, Default)]
struct ViewArgs {
    /// Show everything: every register, the whole path, the whole log with source lines.
    #[arg(long)]
    full: bool,
    /// Also write the log as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

/// Whether warnings stop the command.
#[derive(clap::Args, Clone, Default)]
struct DenyArgs {
    /// Treat warnings as errors: the assembler's warnings (a jump out of the program or into
    /// an ld_imm64, code falling off the end or unreachable, a non-portable compare) stop the
    /// command before anything is written or loaded. Also spelled `-D warnings`.
    #[arg(long)]
    deny_warnings: bool,
    #[arg(short = 'D', value_name = "warnings", value_parser = ["warnings"], hide = true)]
    deny: Option<String>,
}

impl DenyArgs {
    fn on(&self) -> bool {
        self.deny_warnings || self.deny.is_some()
    }
}

/// Set from `--deny-warnings` / `-D warnings` before the command runs.
static DENY_WARNINGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Print warnings; with `--deny-warnings`, say that they stop the command and return true.
fn report_warnings(warnings: &[bpfsmith::text::AsmError]) -> bool {
    eprint!("{}", bpfsmith::text::Capped(warnings));
    let deny = DENY_WARNINGS.load(std::sync::atomic::Ordering::Relaxed);
    if deny && !warnings.is_empty() {
        let message = format!(
            "aborting due to {} (--deny-warnings)",
            counted(warnings.len(), "warning")
        );
        let error = bpfsmith::diag::Severity::Error;
        eprintln!(
            "{}",
            bpfsmith::diag::render_message(error, None, &message, &[])
        );
        return true;
    }
    false
}

#[derive(Subcommand)]
enum Command {
    /// Build the seed scenario (push, pop and peek on a queue and a stack) with the DSL, show
    /// what it emits, load it, run it and read the maps back.
    #[command(
        after_help = "Examples:\n  bpfsmith demo                       # build, write, load and run the seed scenario\n  bpfsmith demo --kernel VMLINUZ      # the same inside another kernel under qemu\n\nLoading and running need root or CAP_BPF (without them the demo shows what needs no\nkernel and says what it skipped). The object is written to a fresh directory under the\ntemporary folder; the demo prints its path."
    )]
    Demo {
        /// Write `seed.o` into this directory (created if missing; an existing `seed.o` is
        /// left alone and is an error). Default: a fresh private directory in $TMPDIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Show everything: both listings in full, with the Rust line above each group of
        /// instructions and the helper ABI beside each call, and the verifier's statistics.
        #[arg(long)]
        full: bool,
        /// Where the programs run: `kernel` (loaded and verified; root or CAP_BPF), `vm` (the
        /// built-in interpreter, anywhere; nothing is verified) or `auto` (the kernel when this
        /// process may load programs, else the VM).
        #[arg(long, default_value = "auto", value_name = "kernel|vm|auto")]
        engine: bpfsmith::run::EngineChoice,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Explain a verifier message (or part of one), a helper (name or number) or a register.
    #[command(
        after_help = "Examples:\n  bpfsmith explain 87                 # bpf_map_push_elem: registers, errors, an example\n  bpfsmith explain \"R1 !read_ok\"      # a verifier message, or any part of one\n  bpfsmith explain r10"
    )]
    Explain {
        /// The message, helper or register, e.g. `"R3 !read_ok"`, `87`, `bpf_map_pop_elem`, `r10`
        /// (none: what can be asked).
        #[arg(num_args = 0..)]
        topic: Vec<String>,
    },
    /// Assemble a `.s` file (LLVM's syntax, the kernel's, or the conformance suite's mnemonics)
    /// into an ELF object.
    #[command(
        after_help = "Examples:\n  bpfsmith asm asm/queue.s -o /tmp/queue.o\n  bpfsmith asm asm/r0_width.s -o /tmp/w.o --deny-warnings"
    )]
    Asm {
        /// The assembly file.
        file: PathBuf,
        /// The object to write (default: FILE with `.o` beside it).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Also write labels as LOCAL NOTYPE symbols, for llvm-objdump to name jump targets
        /// by them. cilium/ebpf 0.9 then refuses the object (it takes them for function
        /// starts); `bpfsmith dis` shows the labels either way.
        #[arg(long)]
        label_symbols: bool,
        /// Write bpf-to-bpf functions to `.text`, as clang does (libbpf loads them only
        /// there), instead of where the file puts them, as llvm-mc does.
        #[arg(long)]
        functions_in_text: bool,
        #[command(flatten)]
        deny: DenyArgs,
    },
    /// Run the conformance suite's `.data` files in the kernel (as XDP programs through
    /// BPF_PROG_TEST_RUN) and print one line per file.
    #[command(
        after_help = "Examples:\n  bpfsmith conformance ../shared/bpf_conformance/tests\n  bpfsmith conformance ../shared/bpf_conformance/tests --kernel VMLINUZ --jit off"
    )]
    Conformance {
        /// The folder of `.data` files (e.g. ../shared/bpf_conformance/tests).
        dir: PathBuf,
        /// Where the tests run: `kernel` (root or CAP_BPF), `vm` (the built-in interpreter,
        /// anywhere; it follows the RFC, so the Linux exclusions run too) or `auto` (the
        /// kernel when this process may load programs, else the VM).
        #[arg(long, default_value = "auto", value_name = "kernel|vm|auto")]
        engine: bpfsmith::run::EngineChoice,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Assemble, load and run `.s` files and hold each to the outcome its header states
    /// (`# expect-retval:`, `# expect-map:`, per kernel where it says so); one line per file.
    #[command(
        after_help = "Examples:\n  bpfsmith check asm                  # every asm/ example against its header\n  bpfsmith check asm --kernel VMLINUZ # the same inside another kernel\n\nHeader keys (comment lines at the top of a file):\n  # expect-load: ok|refused           # expect-verifier-error: TEXT\n  # expect-retval: N                  # expect-map: MAP = V1 V2 ...\n  # push-before: MAP = V1 V2 ...      # run: PROGRAM\n  # load-with: CAP_BPF\nexpect-retval, expect-map and expect-verifier-error take a kernel condition:\n  # expect-retval (linux < 6.4, jit on): 32\nA file that states no outcome is skipped, saying so."
    )]
    Check {
        /// Files, or folders of `.s` files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where the files run: `kernel` (loaded and verified; root or CAP_BPF), `vm` (the
        /// built-in interpreter, anywhere; nothing is verified, so files that state a
        /// refusal are skipped) or `auto` (the kernel when this process may load programs,
        /// else the VM).
        #[arg(long, default_value = "auto", value_name = "kernel|vm|auto")]
        engine: bpfsmith::run::EngineChoice,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Generate random programs that the verifier accepts by construction, each with its
    /// expected result computed by the VM in its header, ready for `bpfsmith check`.
    #[command(
        after_help = "Examples:\n  bpfsmith gen --seed 1 --count 1000 --out /tmp/g && bpfsmith check /tmp/g\n  bpfsmith gen --seed 1 --count 100 --out /tmp/g3 --isa v3 --maps queue,stack --size 40..80\n  bpfsmith gen --seed 1 --index 17 --count 1 --out /tmp/one   # program 17 alone\n\nThe same options give the same files, byte for byte. An existing file is never overwritten."
    )]
    Gen {
        /// The corpus seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How many programs.
        #[arg(long, default_value_t = 1)]
        count: u64,
        /// The index of the first program (program k of a corpus is the same alone).
        #[arg(long, default_value_t = 0)]
        index: u64,
        /// The folder to write `gen-SEED-NNNNN.s` into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// The instruction set: v3, or v4 (Linux 6.6+: sdiv/smod, movsx, sign-extending
        /// loads, bswap, gotol).
        #[arg(long, default_value = "v4", value_name = "v3|v4")]
        isa: String,
        /// The kinds of map the programs may use.
        #[arg(long, default_value = "queue,stack,array,hash", value_name = "LIST")]
        maps: String,
        /// Instructions per program, functions included.
        #[arg(long, default_value = "32..160", value_name = "MIN..MAX")]
        size: String,
    },
    /// Run one program on several kernels and JIT modes and show the results side by side,
    /// marking the rows that differ and saying why when a known kernel change explains it.
    /// Given a folder, run every `.s` file of it in the VM and on each kernel and JIT mode
    /// (one guest boot per column) and report, per column, how many files the verifier
    /// accepted and how many gave the VM's result, with each difference and whether a known
    /// kernel difference explains it; `--minimise` cuts differing files down.
    #[command(
        after_help = "Examples:\n  bpfsmith matrix asm/r0_width.s --kernel host --kernel VMLINUZ\n  bpfsmith matrix prog.o --kernel A --kernel B --jit on --json\n  bpfsmith gen --seed 1 --count 300 --isa v3 --out /tmp/g\n  bpfsmith matrix /tmp/g --kernel host --kernel VMLINUZ --minimise /tmp/min"
    )]
    Matrix {
        /// The object file, an assembly file (`.s`; its header's pushes are made first), or a
        /// folder of `.s` files.
        file: PathBuf,
        /// A kernel image (`vmlinuz`) or `host` (repeatable).
        #[arg(long = "kernel", required = true, value_name = "VMLINUZ|host")]
        kernels: Vec<String>,
        /// The JIT modes to run each kernel image in.
        #[arg(long, value_enum, default_value = "both")]
        jit: JitModes,
        /// Print the rows as one JSON array (a folder: one JSON object, every outcome of
        /// every column).
        #[arg(long)]
        json: bool,
        /// With a folder: minimise differing files into this folder (delta debugging, the
        /// kernel as the oracle at every step; `FILE.KERNEL-jit-on-min.s`, never written over): every
        /// unexplained difference, and the first explained one of each column. Refused files
        /// get their whole verifier log there (`FILE.KERNEL-jit-on.refused.log`).
        #[arg(long, value_name = "DIR")]
        minimise: Option<PathBuf>,
    },
    /// List every program of an ELF object, with its section, maps, relocations and source lines.
    #[command(
        after_help = "Examples:\n  bpfsmith dis /tmp/queue.o\n  bpfsmith dis /tmp/queue.o --style kernel   # as the verifier log prints it\n  bpfsmith dis /tmp/queue.o --names          # map and helper names in the instructions"
    )]
    Dis {
        /// The object file.
        file: PathBuf,
        /// Instruction syntax.
        #[arg(long, value_enum, default_value = "llvm")]
        style: StyleArg,
        /// Name maps and helpers in the instructions (`r1 = queue ll`,
        /// `call 0x57 # bpf_map_push_elem`) instead of llvm-objdump's relocation lines.
        #[arg(long)]
        names: bool,
    },
    /// Load every program of an object (or one) into the kernel and show the verifier's verdict.
    #[command(
        after_help = "Examples:\n  bpfsmith load asm/mistake_flags_unset.s           # the verifier's report, explained\n  bpfsmith load asm/queue.s --log-level 2           # every instruction, with its .s line\n  bpfsmith load prog.o --raw-log --kernel VMLINUZ   # the log as another kernel prints it"
    )]
    Load {
        /// The object file, or an assembly file (`.s`).
        file: PathBuf,
        /// Load only this program.
        #[arg(long)]
        prog: Option<String>,
        /// Verifier log level: 1 explains a refusal, 2 shows every instruction.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
        log_level: u32,
        /// Print the kernel's log as it is, instead of the viewer's report (to save it, e.g.
        /// from another kernel with `--kernel`, and read it later with `bpfsmith log`).
        #[arg(long, conflicts_with_all = ["full", "html"])]
        raw_log: bool,
        /// Load with CAP_BPF alone: give up CAP_PERFMON and CAP_SYS_ADMIN first, and the
        /// verifier judges as it does for a service without them.
        #[arg(long)]
        cap_bpf_only: bool,
        #[command(flatten)]
        view: ViewArgs,
        #[command(flatten)]
        deny: DenyArgs,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Load an object, push values into its queue/stack maps, test-run a program, and drain the
    /// maps.
    #[command(
        after_help = "Examples:\n  bpfsmith run asm/queue.s --json\n  bpfsmith run asm/queue.s --engine vm     # in the built-in VM, without root\n  bpfsmith run asm/user_push.s --push queue=7,8,9\n  bpfsmith run prog.o --prog my_prog --data 0011223344556677889900112233"
    )]
    Run {
        /// The object file, or an assembly file (`.s`).
        file: PathBuf,
        /// The program to run (default: the first).
        #[arg(long)]
        prog: Option<String>,
        /// Input data: hex bytes, or @FILE (default: 64 zero bytes).
        #[arg(long)]
        data: Option<String>,
        /// How many runs (the duration is their mean).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Values to push before the run: MAP=V1,V2,... (repeatable).
        #[arg(long)]
        push: Vec<String>,
        /// Print exactly one JSON object on stdout (a refusal too).
        #[arg(long)]
        json: bool,
        /// Where the program runs: `kernel` (loaded and verified; root or CAP_BPF), `vm` (the
        /// built-in interpreter, anywhere; nothing is verified) or `auto` (the kernel when this
        /// process may load programs, else the VM).
        #[arg(long, default_value = "auto", value_name = "kernel|vm|auto")]
        engine: bpfsmith::run::EngineChoice,
        /// Load with CAP_BPF alone: give up CAP_PERFMON and CAP_SYS_ADMIN first, and the
        /// verifier judges as it does for a service without them.
        #[arg(long)]
        cap_bpf_only: bool,
        #[command(flatten)]
        view: ViewArgs,
        #[command(flatten)]
        deny: DenyArgs,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Ask the kernel what it supports: cpu v1-v4 feature by feature (each tried with a tiny
    /// program), queue and stack maps and the helpers 87-89, BTF, func_info and line_info,
    /// log_true_size; the JIT and unprivileged-BPF settings are read, never changed.
    #[command(
        after_help = "Examples:\n  bpfsmith probe\n  bpfsmith probe --json --kernel VMLINUZ"
    )]
    Probe {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        guest: GuestArgs,
    },
    /// Show a verifier log saved elsewhere (bpftool -d, a CI artifact, another loader) in the
    /// viewer, joined to an object's source lines when one is given.
    #[command(
        after_help = "Examples:\n  bpfsmith log saved.log --object prog.s    # joined to the source lines\n  bpfsmith log saved.log --html page.html"
    )]
    Log {
        /// The saved log.
        file: PathBuf,
        /// The object (or `.s` file) the log came from.
        #[arg(long)]
        object: Option<PathBuf>,
        #[command(flatten)]
        view: ViewArgs,
    },
}

fn main() -> ExitCode {
    #[cfg(bpfsmith_kernel)]
    if bpfsmith::guest::is_guest_init() {
        bpfsmith::guest::guest_init();
    }
    let cli = Cli::parse();
    if let Command::Asm { deny, .. } | Command::Load { deny, .. } | Command::Run { deny, .. } =
        &cli.command
    {
        DENY_WARNINGS.store(deny.on(), std::sync::atomic::Ordering::Relaxed);
    }
    let (guest, html) = match &cli.command {
        Command::Demo { guest, .. }
        | Command::Conformance { guest, .. }
        | Command::Check { guest, .. }
        | Command::Probe { guest, .. } => (guest.clone(), None),
        Command::Load { guest, view, .. } | Command::Run { guest, view, .. } => {
            (guest.clone(), view.html.clone())
        }
        _ => (GuestArgs::default(), None),
    };
    if let Some(code) = elsewhere(&guest, html.as_deref()) {
        return code;
    }
    #[cfg(not(bpfsmith_kernel))]
    if let Some(code) = without_kernel(&cli.command) {
        return code;
    }
    match cli.command {
        Command::Demo {
            out, full, engine, ..
        } => cli::demo::run(out.as_deref(), full, engine.resolve()),
        Command::Check { paths, engine, .. } => check(&paths, engine.resolve()),
        Command::Gen {
            seed,
            count,
            index,
            out,
            isa,
            maps,
            size,
        } => gen(seed, count, index, &out, &isa, &maps, &size),
        Command::Matrix {
            file,
            kernels,
            jit,
            json,
            minimise,
        } if file.is_dir() => campaign(&file, &kernels, jit, json, minimise.as_deref()),
        Command::Matrix {
            file,
            kernels,
            jit,
            json,
            ..
        } => matrix(&file, &kernels, jit, json),
        Command::Explain { topic } if topic.is_empty() => {
            print!("{}", bpfsmith::explain::overview());
            ExitCode::SUCCESS
        }
        Command::Explain { topic } => {
            let topic = bpfsmith::explain::explain(&topic.join(" "));
            print!("{}", topic.render());
            match topic {
                bpfsmith::explain::Topic::Unknown(_) => ExitCode::FAILURE,
                _ => ExitCode::SUCCESS,
            }
        }
        Command::Asm {
            file,
            output,
            label_symbols,
            functions_in_text,
            ..
        } => {
            // Functions stay where the file put them, as llvm-mc writes them.
            let elf_opts = bpfsmith::object::ElfOptions::default()
                .label_symbols(label_symbols)
                .functions_in_place(!functions_in_text);
            let assembled = match bpfsmith::input::assemble_input(&file) {
                Ok(a) => a,
                Err(bpfsmith::input::InputError::Asm(e)) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
                Err(e) => return fail(e),
            };
            for n in &assembled.notes {
                eprintln!("{n}\n");
            }
            if !functions_in_text {
                for n in bpfsmith::text::asm::in_place_notes(&assembled.object) {
                    eprintln!("{n}\n");
                }
            }
            // Warnings (what the verifier will object to) do not stop the object, unless
            // --deny-warnings says so.
            if report_warnings(&assembled.warnings) {
                return ExitCode::FAILURE;
            }
            let obj = assembled.object;
            let out = output.unwrap_or_else(|| file.with_extension("o"));
            // Beside the target, renamed into place; never over the source.
            let written = bpfsmith::output::write_with(&out, &[&file], |_, tmp| {
                obj.write_elf_with(tmp, &elf_opts).map_err(|e| match e {
                    bpfsmith::object::ElfError::Io { source, .. } => source.to_string(),
                    e => e.to_string(),
                })
            });
            let code = match written {
                Ok(()) => {
                    let n: usize = obj.programs.iter().map(|p| p.insns.len()).sum();
                    eprintln!(
                        "wrote {}: {}, {}, {}",
                        out.display(),
                        counted(obj.programs.len(), "program"),
                        counted(obj.maps.len(), "map"),
                        counted(n, "instruction")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            };
            // The process ends here: handing a large object's memory back piece by piece
            // costs more than the exit, which frees it all at once.
            std::mem::forget(obj);
            code
        }
        Command::Conformance { dir, engine, .. } => match engine.resolve() {
            bpfsmith::run::Engine::Kernel => conformance(&dir),
            bpfsmith::run::Engine::Vm => conformance_in_vm(&dir),
        },
        Command::Probe { json, .. } => probe(json),
        Command::Dis { file, style, names } => {
            // An assembly file is listed as the object it assembles to (as `load` and `run`
            // take it), written to a private temporary directory that lives until the end.
            let _assembled: tempfile::TempDir;
            let file = if bpfsmith::input::is_assembly(&file) && !bpfsmith::input::is_elf(&file) {
                let obj = match bpfsmith::input::assemble(&file) {
                    Ok(o) => o,
                    Err(e) => return fail(e),
                };
                let dir = match tempfile::Builder::new().prefix("bpfsmith-dis-").tempdir() {
                    Ok(d) => d,
                    Err(e) => return fail(format!("a temporary directory: {e}")),
                };
                let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                let path = dir.path().join(format!("{stem}.o"));
                // Laid out as `bpfsmith asm` writes it: functions where the file put them.
                let opts = bpfsmith::object::ElfOptions::default().functions_in_place(true);
                if let Err(e) = obj.write_elf_with(&path, &opts) {
                    return fail(e);
                }
                _assembled = dir;
                path
            } else {
                file
            };
            // Listed as decoded from the file's bytes: a program is never held decoded whole.
            let bytes = match bpfsmith::input::FileBytes::read(&file) {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            let view = match bytes.view() {
                Ok(v) => v,
                Err(e) => return fail(e),
            };
            let style = match style {
                StyleArg::Llvm => bpfsmith::text::Style::Llvm,
                StyleArg::Kernel => bpfsmith::text::Style::Kernel,
            };
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
            let opts = bpfsmith::text::ListingOptions {
                symbolic: names,
                ..bpfsmith::text::ListingOptions::objdump(style)
            };
            match bpfsmith::text::write_view_listing_with(&mut w, &view, &opts) {
                Ok(()) => ExitCode::SUCCESS,
                // A closed pipe (`| head`) is not an error worth a message.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Load {
            file,
            prog,
            log_level,
            raw_log,
            cap_bpf_only,
            view,
            ..
        } => {
            if cap_bpf_only {
                #[cfg(bpfsmith_kernel)]
                if let Err(e) = bpfsmith::check::drop_to_cap_bpf() {
                    return fail(e);
                }
            }
            load(&file, prog.as_deref(), log_level, raw_log, &view)
        }
        Command::Run {
            file,
            prog,
            data,
            repeat,
            push,
            json,
            engine,
            cap_bpf_only,
            view,
            ..
        } => {
            let engine = engine.resolve();
            #[cfg(bpfsmith_kernel)]
            if engine == bpfsmith::run::Engine::Vm {
                // CAP_BPF alone is a question for the verifier, and the VM has none.
            } else if cap_bpf_only {
                if let Err(e) = bpfsmith::check::drop_to_cap_bpf() {
                    return fail(e);
                }
            } else if bpfsmith::input::is_assembly(&file)
                && bpfsmith::check::needs_cap_bpf_only(&file)
            {
                eprintln!(
                    "note: {}'s header states its outcome with CAP_BPF alone (`# load-with: \
                     CAP_BPF`): add --cap-bpf-only to load it as such a service would; with \
                     every capability the verifier allows more (e.g. reads of uninitialised stack)",
                    file.display()
                );
            }
            #[cfg(not(bpfsmith_kernel))]
            let _ = cap_bpf_only;
            run(&file, prog, data, repeat, &push, json, &view, engine)
        }
        Command::Log { file, object, view } => {
            if bpfsmith::input::is_elf(&file) {
                eprintln!(
                    "error: {}: an ELF object, not a verifier log: `bpfsmith dis` lists it, \
                     `bpfsmith load FILE --log-level 2` shows the verifier's log of its programs",
                    file.display()
                );
                return ExitCode::from(2);
            }
            let text = match bpfsmith::input::read_text(&file) {
                Ok(t) => t,
                Err(e) => return fail(e),
            };
            let input = match object.as_deref().map(bpfsmith::input::open).transpose() {
                Ok(i) => i,
                Err(e) => return fail(e),
            };
            let programs = input
                .as_ref()
                .map(|i| i.object.programs.as_slice())
                .unwrap_or_default();
            let parsed = bpfsmith::verifier::VerifierLog::parse(&text);
            let program = bpfsmith::verifier::SourceMap::pick_program(&parsed, programs);
            if let (Some(o), None) = (&object, program) {
                let names: Vec<&str> = programs.iter().map(|p| p.name.as_str()).collect();
                eprintln!(
                    "warning: the log matches no program of {} (it has: {}): shown without its \
                     source lines",
                    o.display(),
                    names.join(", ")
                );
            }
            // The report parses the log again: one parse at a time keeps memory under 3x the
            // text.
            let verdict = parsed.verdict();
            drop(parsed);
            if verdict == bpfsmith::verifier::Verdict::NotALog
                && bpfsmith::input::is_assembly(&file)
            {
                eprintln!(
                    "note: {} is an assembly file: `bpfsmith load {}` loads it and shows the \
                     verifier's log",
                    file.display(),
                    file.display()
                );
            }
            let mut inputs = vec![file.as_path()];
            inputs.extend(object.as_deref());
            if let Some(html) = &view.html {
                // Refused before anything is shown or written.
                if let Err(e) = bpfsmith::output::check_not_input(html, &inputs) {
                    return fail(e);
                }
            }
            let written = show_log(
                &text,
                program,
                &file.display().to_string(),
                &view,
                &inputs,
                &mut std::io::stdout(),
            );
            // Accepted 0, refused 1, not a log 2, truncated 3; a page not written: 1.
            match verdict.exit_code() {
                0 if !written => ExitCode::FAILURE,
                code => ExitCode::from(code),
            }
        }
    }
}

/// Run this very command in another kernel when `--kernel` names an image; check the
/// running kernel's JIT mode when it names `host`. `None`: go on here.
#[cfg(bpfsmith_kernel)]
fn elsewhere(g: &GuestArgs, html: Option<&std::path::Path>) -> Option<ExitCode> {
    use bpfsmith::guest::{Guest, Jit, KernelImage};
    let kernel = match g.kernel.as_deref() {
        None | Some("host") => {
            let want = g.jit?;
            let on = bpfsmith::check::running_kernel().jit;
            if on == (want == JitArg::On) {
                return None;
            }
            return Some(fail(format!(
                "the running kernel has the JIT {}; bpfsmith does not change the host's \
                 bpf_jit_enable (give `--kernel VMLINUZ` to run another kernel with --jit)",
                if on { "on" } else { "off" }
            )));
        }
        Some(k) => k,
    };
    if let Some(h) = html {
        return Some(fail(format!(
            "--html {} cannot be combined with --kernel: the page would be written inside the guest",
            h.display()
        )));
    }
    let image = match KernelImage::open(std::path::Path::new(kernel)) {
        Ok(i) => i,
        Err(e) => return Some(fail(e)),
    };
    let mut guest = Guest::new(image);
    guest.jit = match g.jit {
        None => Jit::Default,
        Some(JitArg::On) => Jit::On,
        Some(JitArg::Off) => Jit::Off,
    };
    // The same command line, without the options that chose the kernel.
    let mut args = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--kernel" || a == "--jit" {
            it.next();
        } else if !a.starts_with("--kernel=") && !a.starts_with("--jit=") {
            args.push(a);
        }
    }
    match guest.run(&args) {
        Ok(out) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&out.stdout);
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().write_all(&out.stderr);
            let jit = match out.jit_enabled {
                Some(0) => "off",
                Some(_) => "on",
                None => "?",
            };
            eprintln!(
                "(ran in Linux {} under qemu, JIT {jit}: {:.1} s with boot)",
                out.release,
                out.elapsed.as_secs_f64()
            );
            Some(ExitCode::from(out.status.clamp(0, 255) as u8))
        }
        Err(e) => Some(fail(e)),
    }
}

#[cfg(not(bpfsmith_kernel))]
fn elsewhere(g: &GuestArgs, _: Option<&std::path::Path>) -> Option<ExitCode> {
    (g.kernel.is_some() || g.jit.is_some())
        .then(|| fail(format!("--kernel and --jit: {NO_KERNEL}")))
}

/// Why nothing runs in a kernel here: the build has no kernel parts (`cfg(bpfsmith_kernel)`).
#[cfg(not(bpfsmith_kernel))]
const NO_KERNEL: &str =
    "this build has no kernel engine (that needs Linux and the `kernel` feature)";

/// Without the kernel parts, `--engine kernel` is refused before anything runs, and `auto`
/// (the default) says why it runs the VM.
#[cfg(not(bpfsmith_kernel))]
fn without_kernel(command: &Command) -> Option<ExitCode> {
    use bpfsmith::run::EngineChoice;
    let (Command::Demo { engine, .. }
    | Command::Check { engine, .. }
    | Command::Conformance { engine, .. }
    | Command::Run { engine, .. }) = command
    else {
        return None;
    };
    match engine {
        EngineChoice::Kernel => Some(fail(format!(
            "--engine kernel: {NO_KERNEL}; give --engine vm (or auto) to run in the built-in VM"
        ))),
        EngineChoice::Auto => {
            eprintln!("note: {NO_KERNEL}: running in the built-in VM");
            None
        }
        EngineChoice::Vm => None,
    }
}

fn check(paths: &[PathBuf], engine: bpfsmith::run::Engine) -> ExitCode {
    let files = match bpfsmith::check::files(paths) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    use bpfsmith::check as chk;
    let mut summary = chk::CheckSummary::default();
    let mut show = |c: chk::FileCheck| {
        println!("{c}");
        summary.add(&c.verdict);
    };
    if engine == bpfsmith::run::Engine::Vm {
        println!(
            "engine: vm (the built-in interpreter: nothing is verified; files that state a \
             refusal are skipped)"
        );
        files.iter().for_each(|f| show(chk::check_file_in_vm(f)));
    } else {
        #[cfg(not(bpfsmith_kernel))]
        return fail(NO_KERNEL);
        #[cfg(bpfsmith_kernel)]
        {
            use bpfsmith::check::Privileges;
            let kernel = chk::running_kernel();
            // Files that state their outcome with CAP_BPF alone run last, after this process
            // has given up CAP_PERFMON and CAP_SYS_ADMIN for good.
            let (reduced, full): (Vec<&PathBuf>, Vec<&PathBuf>) =
                files.iter().partition(|f| chk::needs_cap_bpf_only(f));
            full.iter()
                .for_each(|f| show(chk::check_file(f, &kernel, Privileges::AsIs)));
            if !reduced.is_empty() {
                if let Err(e) = chk::drop_to_cap_bpf() {
                    return fail(e);
                }
                reduced
                    .iter()
                    .for_each(|f| show(chk::check_file(f, &kernel, Privileges::CapBpfOnly)));
            }
        }
    }
    println!("{summary}");
    if summary.failed == 0 && summary.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(bpfsmith_kernel)]
fn matrix(file: &std::path::Path, kernels: &[String], jit: JitModes, json: bool) -> ExitCode {
    use bpfsmith::guest::matrix::{self, Target};
    use bpfsmith::guest::Jit;
    let mut targets = Vec::new();
    for k in kernels {
        match Target::parse(k) {
            Ok(t) => targets.push((k.clone(), t)),
            Err(e) => return fail(e),
        }
    }
    let modes: &[Jit] = match jit {
        JitModes::On => &[Jit::On],
        JitModes::Off => &[Jit::Off],
        JitModes::Both => &[Jit::On, Jit::Off],
    };
    let rows = matrix::run(file, &targets, modes);
    if json {
        println!("{}", matrix::to_json(&rows));
    } else {
        print!("{}", matrix::render(file, &rows));
    }
    if rows
        .iter()
        .any(|r| matches!(r.outcome, matrix::Outcome::Error(_)) || r.as_stated == Some(false))
    {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(not(bpfsmith_kernel))]
fn matrix(_: &std::path::Path, _: &[String], _: JitModes, _: bool) -> ExitCode {
    fail(format!("matrix: {NO_KERNEL}"))
}

/// `matrix DIR`: the corpus in the VM and on every kernel and JIT mode, then (with
/// `--minimise`) the differing files cut down.
#[cfg(bpfsmith_kernel)]
fn campaign(
    dir: &std::path::Path,
    kernels: &[String],
    jit: JitModes,
    json: bool,
    minimise: Option<&std::path::Path>,
) -> ExitCode {
    use bpfsmith::guest::campaign::{self, Comparison, Place};
    use bpfsmith::guest::{Jit, KernelImage};
    let modes: &[Jit] = match jit {
        JitModes::On => &[Jit::On],
        JitModes::Off => &[Jit::Off],
        JitModes::Both => &[Jit::On, Jit::Off],
    };
    let mut places = Vec::new();
    for k in kernels {
        if k == "host" {
            places.push(Place::Host);
            continue;
        }
        let image = match KernelImage::open(std::path::Path::new(k)) {
            Ok(i) => i,
            Err(e) => return fail(e),
        };
        for &jit in modes {
            places.push(Place::Image {
                image: image.clone(),
                jit,
            });
        }
    }
    let run = match campaign::run(dir, &places) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if json {
        println!("{}", run.to_json());
    } else {
        print!("{}", run.render());
    }
    if let Some(Err(e)) = minimise.map(std::fs::create_dir_all) {
        return fail(format!("{}: {e}", minimise.unwrap_or(dir).display()));
    }
    let mut bad = false;
    for c in 1..run.columns.len() {
        let mut explained_done = false;
        for f in 0..run.files.len() {
            let cmp = run.compare(c, f);
            bad |= matches!(
                cmp,
                Comparison::Refused(_) | Comparison::Differs | Comparison::Unrun(_)
            );
            if let (Comparison::Refused(_), Some(out)) = (&cmp, minimise) {
                match campaign::keep_refusal_log(&run, f, c, &places[c - 1], out) {
                    Ok(path) => eprintln!("kept the verifier's log: {}", path.display()),
                    Err(e) => {
                        eprintln!("error: keeping the log of {}: {e}", run.files[f].display())
                    }
                }
            }
            let wanted = match cmp {
                Comparison::Differs => true,
                Comparison::ExplainedByOldJit => !std::mem::replace(&mut explained_done, true),
                _ => false,
            };
            let Some(out) = minimise.filter(|_| wanted) else {
                continue;
            };
            match bpfsmith::guest::minimise::minimise(
                &run.files[f],
                &places[c - 1],
                out,
                &std::env::temp_dir(),
            ) {
                Ok(m) => eprintln!(
                    "minimised {} on {}: {} lines to {} in {} rounds ({} candidates, {} of them \
                     run on the kernel, {:.1} s): {}",
                    run.files[f].display(),
                    run.columns[c].label,
                    m.lines_before,
                    m.lines_after,
                    m.rounds,
                    m.candidates,
                    m.on_kernel,
                    m.elapsed.as_secs_f64(),
                    m.path.display()
                ),
                Err(e) => {
                    eprintln!("error: minimising {}: {e}", run.files[f].display());
                    bad = true;
                }
            }
        }
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(not(bpfsmith_kernel))]
fn campaign(
    _: &std::path::Path,
    _: &[String],
    _: JitModes,
    _: bool,
    _: Option<&std::path::Path>,
) -> ExitCode {
    fail(format!("matrix: {NO_KERNEL}"))
}

/// The assembler's warnings for a `.s` file given to `load` or `run` (an object read from ELF
/// is taken as it is). True when `--deny-warnings` makes them stop the command.
fn text_notice(file: &std::path::Path, obj: &mut bpfsmith::object::Object) {
    let moved = obj.text_as_socket_filters();
    if !moved.is_empty() {
        eprintln!(
            "note: {}: code only in `.text`: loading {} as a socket filter (put a program in a \
             section named for its type, e.g. `.section xdp`, to choose another)",
            file.display(),
            moved
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

fn warn_if_assembly(file: &std::path::Path, obj: &bpfsmith::object::Object) -> bool {
    file.extension().is_some_and(|e| e == "s" || e == "S")
        && report_warnings(&bpfsmith::text::asm_warnings(obj))
}

/// `bpfsmith gen`: write the programs, then one summary line.
fn gen(
    seed: u64,
    count: u64,
    index: u64,
    out: &std::path::Path,
    isa: &str,
    maps: &str,
    size: &str,
) -> ExitCode {
    use bpfsmith::gen::{self, GenOptions, MapKind};
    let opts = match (
        isa.parse(),
        MapKind::parse_list(maps),
        GenOptions::parse_size(size),
    ) {
        (Ok(isa), Ok(maps), Ok(size)) => GenOptions {
            seed,
            isa,
            maps,
            size,
        },
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return fail(e),
    };
    let started = std::time::Instant::now();
    match gen::write_range(&opts, index, count, out) {
        Ok(s) => {
            println!(
                "{} written to {} ({} instructions in total) in {:.2} s",
                counted(s.files.len(), "program"),
                out.display(),
                s.insns,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}

/// Show a verifier log in the viewer (colours on a terminal), and write the HTML page when
/// asked (never over one of `inputs`). `false` when the page could not be written.
#[must_use]
fn show_log(
    log: &str,
    program: Option<&bpfsmith::program::Program>,
    title: &str,
    view: &ViewArgs,
    inputs: &[&std::path::Path],
    out: &mut dyn std::io::Write,
) -> bool {
    use std::io::IsTerminal;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let opts = bpfsmith::verifier::ReportOptions {
        color,
        full: view.full,
    };
    let _ = write!(
        out,
        "{}",
        bpfsmith::verifier::render_log_text(log, program, &opts)
    );
    if let Some(path) = &view.html {
        let page = bpfsmith::verifier::render_log_html(log, program, title);
        match bpfsmith::output::write(path, page.as_bytes(), inputs) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("error: {e}");
                return false;
            }
        }
    }
    true
}

#[cfg(bpfsmith_kernel)]
fn load(
    file: &std::path::Path,
    prog: Option<&str>,
    log_level: u32,
    raw_log: bool,
    view: &ViewArgs,
) -> ExitCode {
    use bpfsmith::load::{LoadError, LoadOptions};
    let mut input = match bpfsmith::input::open(file) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if warn_if_assembly(file, &input.object) {
        return ExitCode::FAILURE;
    }
    text_notice(file, &mut input.object);
    if let Some(name) = prog {
        if let Err(e) = input.keep_program(name) {
            return fail(e);
        }
    }
    let loadable = bpfsmith::input::loadable_programs(&input.object);
    if loadable.is_empty() {
        return fail(bpfsmith::input::no_program_message(file, &input.object));
    }
    let inputs = [file];
    if let Some(html) = &view.html {
        if let Err(e) = bpfsmith::output::check_not_input(html, &inputs) {
            return fail(e);
        }
        if loadable.len() > 1 {
            return fail(format!(
                "--html {} writes one program's page, and {} has {}: give --prog NAME",
                html.display(),
                file.display(),
                loadable.join(", ")
            ));
        }
    }
    let options = LoadOptions {
        // A page for an accepted program needs its log: level 1 keeps none, 1|4 keeps the
        // stats (level 2 shows every instruction).
        log_level: if view.html.is_some() && log_level == 1 {
            log_level | bpfsmith::load::log_level::STATS
        } else {
            log_level
        },
        btf: input.btf_source(),
        ..Default::default()
    };
    match input.object.load_with(&options) {
        Ok(loaded) => {
            let mut written = true;
            for p in loaded.programs() {
                if raw_log {
                    print!("{}", p.log().unwrap_or_default());
                    continue;
                }
                // With a log, the report's first line says it was accepted.
                if p.log().is_none() {
                    println!("{}: accepted by the verifier ({})", p.name(), p.prog_type());
                }
                if let Some(log) = p.log() {
                    written &= show_log(
                        log,
                        input.object.program(p.name()),
                        p.name(),
                        view,
                        &inputs,
                        &mut std::io::stdout(),
                    );
                }
            }
            if written {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) if e.refusal().is_some() => {
            let (program, errno, log) = e.refusal().expect("a refusal");
            if raw_log {
                print!("{log}");
                return ExitCode::FAILURE;
            }
            match &e {
                // The kernel is too old for one of the instructions: say which, then the log.
                LoadError::MissingFeature(m) => println!("{m}\n"),
                _ => {
                    let name = bpfsmith::sys::errno_name(errno).unwrap_or("error");
                    println!("{program}: refused by the verifier ({name})\n");
                }
            }
            let mut out = std::io::stdout();
            let mut sink = std::io::sink();
            let shown: &mut dyn std::io::Write = if log.trim().is_empty() {
                println!("{}", bpfsmith::load::no_log_note(errno));
                &mut sink
            } else {
                &mut out
            };
            let _ = show_log(
                log,
                input.object.program(program),
                program,
                view,
                &inputs,
                shown,
            );
            ExitCode::FAILURE
        }
        Err(e) => fail(e),
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    file: &std::path::Path,
    prog: Option<String>,
    data: Option<String>,
    repeat: u32,
    push: &[String],
    json: bool,
    view: &ViewArgs,
    engine: bpfsmith::run::Engine,
) -> ExitCode {
    use bpfsmith::run::RunRequest;
    let mut input = match bpfsmith::input::open(file) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    if warn_if_assembly(file, &input.object) {
        return ExitCode::FAILURE;
    }
    text_notice(file, &mut input.object);
    // Only the program that runs is loaded (with the functions it may call): another
    // program's refusal is no reason not to run this one.
    let loadable = bpfsmith::input::loadable_programs(&input.object);
    let Some(name) = prog.clone().or_else(|| loadable.first().cloned()) else {
        return fail(bpfsmith::input::no_program_message(file, &input.object));
    };
    if let Err(e) = input.keep_program(&name) {
        return fail(e);
    }
    let inputs = [file];
    if let Some(html) = &view.html {
        if let Err(e) = bpfsmith::output::check_not_input(html, &inputs) {
            return fail(e);
        }
    }
    let data = match data.map(|d| cli::values::parse_data(&d)).transpose() {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let pushes = match push
        .iter()
        .map(|p| cli::values::parse_push(p, &input.object))
        .collect()
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let req = RunRequest {
        program: Some(name),
        data,
        repeat,
        push: pushes,
        log_level: 0,
    };
    match engine {
        bpfsmith::run::Engine::Vm if view.html.is_some() => fail(
            "--html shows the verifier's log of the run, and the VM verifies nothing: give \
             --engine kernel (root or CAP_BPF)",
        ),
        bpfsmith::run::Engine::Vm => run_vm(&input.object, &req, json),
        bpfsmith::run::Engine::Kernel => run_kernel(file, &input, req, json, view),
    }
}

/// `run` in the VM: the kernel's output, its first line saying that nothing was verified.
fn run_vm(obj: &bpfsmith::object::Object, req: &bpfsmith::run::RunRequest, json: bool) -> ExitCode {
    let report = match bpfsmith::vm::run(obj, req) {
        Ok(r) => r,
        Err(e) => {
            // stdout keeps its one JSON object (as for a kernel refusal); the message goes to
            // stderr either way.
            if json {
                println!("{}", e.to_json());
            }
            return fail(e);
        }
    };
    if json {
        println!("{}", report.to_json_with_engine(bpfsmith::run::Engine::Vm));
    } else {
        println!(
            "engine: vm (the built-in interpreter: nothing was verified, a program the kernel \
             would refuse may run here)"
        );
        print_report(&report);
    }
    ExitCode::SUCCESS
}

/// A run's result, for people: r0, each queue and stack map in pop order, then what
/// `bpf_trace_printk` printed.
fn print_report(report: &bpfsmith::run::RunReport) {
    println!(
        "{}: r0 = {} ({:#x}), {} ns per run",
        report.program, report.retval, report.retval, report.duration_ns
    );
    for (name, values) in &report.maps {
        println!(
            "map {name} (pop order): {}",
            bpfsmith::run::values_text(values)
        );
    }
    for m in &report.trace {
        println!("bpf_trace_printk: {}", bpfsmith::run::trace_line(m));
    }
    if let Some(note) = &report.trace_note {
        println!("note: {note}");
    }
}

/// `run` in the kernel: load (a refusal shown with its log), test-run, drain.
#[cfg(bpfsmith_kernel)]
fn run_kernel(
    file: &std::path::Path,
    input: &bpfsmith::input::Input,
    mut req: bpfsmith::run::RunRequest,
    json: bool,
    view: &ViewArgs,
) -> ExitCode {
    use bpfsmith::load::run::run;
    use bpfsmith::load::LoadError;
    let inputs = [file];
    // A page for a program that runs needs its log: 1|4 keeps the stats.
    if view.html.is_some() {
        req.log_level = bpfsmith::load::log_level::FAILING_PATH | bpfsmith::load::log_level::STATS;
    }
    match run(&input.object, input.btf_source(), &req) {
        Ok(report) => {
            if let Some(log) = &report.log {
                // The page (--html) of the program that ran; the report goes to stderr.
                if view.html.is_some()
                    && !show_log(
                        log,
                        input.object.program(&report.program),
                        &report.program,
                        view,
                        &inputs,
                        &mut std::io::sink(),
                    )
                {
                    return ExitCode::FAILURE;
                }
            }
            if json {
                println!(
                    "{}",
                    report.to_json_with_engine(bpfsmith::run::Engine::Kernel)
                );
            } else {
                println!("engine: kernel (loaded and verified, run with BPF_PROG_TEST_RUN)");
                print_report(&report);
            }
            ExitCode::SUCCESS
        }
        Err(bpfsmith::load::run::RunError::Load(e)) if e.refusal().is_some() => {
            let (program, errno, log) = e.refusal().expect("a refusal");
            // stdout stays for the result (one JSON object with --json): the report goes to
            // stderr.
            if json {
                if let Some(j) = bpfsmith::load::run::load_refusal_json(&e) {
                    println!("{j}");
                }
            }
            match &e {
                LoadError::MissingFeature(m) => eprintln!("{m}\n"),
                _ => {
                    let name = bpfsmith::sys::errno_name(errno).unwrap_or("error");
                    eprintln!("{program}: refused by the verifier ({name})\n");
                }
            }
            let mut err = std::io::stderr();
            let mut sink = std::io::sink();
            let shown: &mut dyn std::io::Write = if log.trim().is_empty() {
                eprintln!("{}", bpfsmith::load::no_log_note(errno));
                &mut sink
            } else {
                &mut err
            };
            let _ = show_log(
                log,
                input.object.program(program),
                program,
                view,
                &inputs,
                shown,
            );
            ExitCode::FAILURE
        }
        Err(e) => fail(e),
    }
}

#[cfg(not(bpfsmith_kernel))]
fn load(_: &std::path::Path, _: Option<&str>, _: u32, _: bool, _: &ViewArgs) -> ExitCode {
    fail(format!("load: {NO_KERNEL}"))
}

#[cfg(not(bpfsmith_kernel))]
fn run_kernel(
    _: &std::path::Path,
    _: &bpfsmith::input::Input,
    _: bpfsmith::run::RunRequest,
    _: bool,
    _: &ViewArgs,
) -> ExitCode {
    fail(format!(
        "{NO_KERNEL}: give --engine vm (or auto) to run in the built-in VM"
    ))
}

#[cfg(bpfsmith_kernel)]
fn probe(json: bool) -> ExitCode {
    let p = bpfsmith::probe::probe();
    if json {
        println!("{}", p.to_json());
    } else {
        println!("{p}");
    }
    // Failure only when not even a two-instruction program loads (no privilege, no BPF).
    if p.isa.support(bpfsmith::probe::Feature::Base).is_yes() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(not(bpfsmith_kernel))]
fn probe(_json: bool) -> ExitCode {
    fail(format!("probe: {NO_KERNEL}"))
}

#[cfg(bpfsmith_kernel)]
fn conformance(dir: &std::path::Path) -> ExitCode {
    match bpfsmith::conformance::run_dir(dir, &mut |o| println!("{o}")) {
        Ok(summary) if summary.passed + summary.failed + summary.skipped == 0 => fail(format!(
            "{}: no .data files here or below: give the suite's `tests` folder \
             (git clone https://github.com/Alan-Jowett/bpf_conformance)",
            dir.display()
        )),
        Ok(summary) => {
            println!("{summary}");
            if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(format!("{}: {e}", dir.display())),
    }
}

#[cfg(not(bpfsmith_kernel))]
fn conformance(_: &std::path::Path) -> ExitCode {
    fail(NO_KERNEL)
}

/// `bpfsmith conformance DIR --engine vm`: every file in the VM, one line each, then the count.
fn conformance_in_vm(dir: &std::path::Path) -> ExitCode {
    println!(
        "engine: vm (the built-in interpreter, following the RFC: the Linux exclusions run too)"
    );
    match bpfsmith::conformance::run_dir_in_vm(dir, &mut |line| println!("{line}")) {
        Ok((0, 0)) => fail(format!(
            "{}: no .data files here or below: give the suite's `tests` folder \
             (git clone https://github.com/Alan-Jowett/bpf_conformance)",
            dir.display()
        )),
        Ok((passed, failed)) => {
            println!("{passed} passed, {failed} failed");
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(format!("{}: {e}", dir.display())),
    }
}

/// `1 program`, `2 programs`.
fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}
