//! The `bpfsmith` command: argument parsing and output only; every feature lives in the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Build, assemble, write, load and debug eBPF programs by hand.
#[derive(Parser)]
#[command(name = "bpfsmith", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the seed scenario (push, pop and peek on a queue and a stack) with the DSL and show
    /// what it emits.
    Demo,
    /// Explain a verifier message (or part of one), a helper (name or number) or a register.
    Explain {
        /// The message, helper or register, e.g. `"R3 !read_ok"`, `87`, `bpf_map_pop_elem`, `r10`.
        #[arg(required = true, num_args = 1..)]
        topic: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            let obj = bpfsmith::demo::object();
            println!("bpfsmith demo: the seed scenario, built with the Rust DSL (src/demo.rs)");
            println!("Each program pushes 10, 20, 30, 40 (BPF_ANY), 50 (BPF_ANY: -E2BIG),");
            println!("50 again (BPF_EXIST: drops the oldest), then peeks and pops.\n");
            print!("{}", bpfsmith::demo::listing_report(&obj));
            demo_in_kernel(&obj)
        }
        Command::Explain { topic } => {
            let topic = bpfsmith::explain::explain(&topic.join(" "));
            print!("{}", topic.render());
            match topic {
                bpfsmith::explain::Topic::Unknown(_) => ExitCode::FAILURE,
                _ => ExitCode::SUCCESS,
            }
        }
    }
}

/// The kernel part of the demo: load, run, read the maps back; explain what was skipped when
/// the kernel is out of reach.
#[cfg(target_os = "linux")]
fn demo_in_kernel(obj: &bpfsmith::object::Object) -> ExitCode {
    use bpfsmith::demo::{run_in_kernel, KernelRunError, EXPECTED_LEFT};
    use bpfsmith::load::LoadError;
    println!("\nkernel: loading both programs (BPF_PROG_LOAD), running them (BPF_PROG_TEST_RUN)");
    match run_in_kernel(obj) {
        Ok(run) => {
            let mut ok = true;
            for p in &run.programs {
                println!("\n{}: verifier accepted it", p.name);
                for l in &p.verifier_stats {
                    println!("  verifier: {l}");
                }
                let verdict = if p.retval == p.expected {
                    "as documented"
                } else {
                    "NOT as documented"
                };
                ok &= p.retval == p.expected;
                println!(
                    "  test_run: r0 = {} (expected {}: {verdict})",
                    p.retval, p.expected
                );
            }
            println!();
            for (name, values) in &run.maps {
                let expected = EXPECTED_LEFT
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.to_vec());
                let verdict = if expected.as_ref() == Some(values) {
                    "as documented"
                } else {
                    "NOT as documented"
                };
                ok &= expected.as_ref() == Some(values);
                println!("map {name}, drained in pop order: {values:?} ({verdict})");
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(KernelRunError::Load(e @ LoadError::Permission { .. })) => {
            println!("skipped: loading and running in the kernel ({e})");
            println!("Everything above needed no kernel; run as root to see the programs run.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn demo_in_kernel(_obj: &bpfsmith::object::Object) -> ExitCode {
    println!("\nskipped: loading and running in the kernel (BPF needs Linux)");
    ExitCode::SUCCESS
}
