//! Assemble a `.s` file and write its programs' bytes (the `.text` of each, concatenated):
//! the assembler half of `bpfsmith asm`, without the ELF writer, to time the assembler alone
//! (`bench/asm/compare.sh` times the whole `bpfsmith asm` against `llvm-mc-22`).
//!
//! ```text
//! cargo run --release --example asm_bench -- input.s output.bin
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: asm_bench INPUT.s OUTPUT.bin");
        return ExitCode::from(2);
    };
    let obj = match bpfsmith::text::assemble_file(input) {
        Ok(obj) => obj,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut bytes = Vec::new();
    for p in &obj.programs {
        for i in &p.insns {
            i.encode_into(&mut bytes);
        }
    }
    if let Err(e) = std::fs::write(output, &bytes) {
        eprintln!("cannot write {output}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
