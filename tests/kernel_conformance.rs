//! The conformance suite (`../shared/bpf_conformance`) on the real kernel: every file outside
//! the suite's own Linux exclusions must pass; the excluded ones run too and their outcome is
//! printed.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

#[path = "common/tools.rs"]
mod tools;

use std::path::PathBuf;

use bpfsmith::conformance::{run_body, run_dir, Verdict};
use bpfsmith::insn::{AluOp, Insn, Operand, Pseudo, Size, Width};
use bpfsmith::prelude::*;

#[test]
fn the_runner_returns_all_64_bits_of_r0_and_gives_the_body_its_memory() {
    require_kernel!("the_runner_returns_all_64_bits_of_r0_and_gives_the_body_its_memory");
    // r0 = 0x1122334455667788: more than test_run's 32-bit retval can carry.
    let wide = vec![
        Insn::LdImm64 {
            dst: R0,
            pseudo: Pseudo::Imm,
            imm: 0x1122_3344_5566_7788,
        },
        Insn::Exit,
    ];
    let wide = Program::from_insns("t", Section::XDP, wide);
    assert_eq!(run_body(&wide, &[]).unwrap(), 0x1122_3344_5566_7788);
    // r0 = mem[2] + r2 (the length).
    let mem = [0xaa, 0xbb, 0xcc, 0xdd];
    let body = vec![
        Insn::Load {
            size: Size::U8,
            sign: false,
            dst: R0,
            src: R1,
            off: 2,
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: R0,
            src: Operand::Reg(R2),
        },
        Insn::Exit,
    ];
    assert_eq!(
        run_body(&Program::from_insns("t", Section::XDP, body), &mem).unwrap(),
        0xcc + 4
    );
}

fn suite() -> Option<PathBuf> {
    tools::conformance_suite("it is not run in the kernel").map(|d| d.join("tests"))
}

#[test]
fn conformance_suite_passes_outside_the_linux_exclusions() {
    require_kernel!("conformance_suite_passes_outside_the_linux_exclusions");
    let Some(dir) = suite() else { return };
    let mut failures = Vec::new();
    let mut excluded = Vec::new();
    let summary = run_dir(&dir, &mut |o| {
        if o.excluded {
            excluded.push(o.to_string());
        } else if let Verdict::Failed(_) = o.verdict {
            failures.push(o.to_string());
        }
    })
    .unwrap();
    eprintln!("conformance: {summary}");
    for e in &excluded {
        eprintln!("  {e}");
    }
    assert_eq!(summary.skipped, 29, "28 imm-/intmin- files and callx.data");
    assert!(summary.passed >= 284, "{summary}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
