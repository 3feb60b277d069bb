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
    }
}
