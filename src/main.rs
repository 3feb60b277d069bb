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
    }
}
