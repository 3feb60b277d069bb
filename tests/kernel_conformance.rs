//! The conformance runner on the real kernel (the suite itself: see `conformance_suite` below
//! once the assembler reads the mnemonic dialect).
#![cfg(target_os = "linux")]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::conformance::run_body;
use bpfsmith::insn::{AluOp, Insn, Operand, Pseudo, Size, Width};
use bpfsmith::prelude::*;

#[test]
fn the_runner_returns_all_64_bits_of_r0_and_gives_the_body_its_memory() {
    require_kernel!("the_runner_returns_all_64_bits_of_r0_and_gives_the_body_its_memory");
    // r0 = 0x1122334455667788: more than test_run's 32-bit retval can carry.
    let wide = [
        Insn::LdImm64 {
            dst: R0,
            pseudo: Pseudo::Imm,
            imm: 0x1122_3344_5566_7788,
        },
        Insn::Exit,
    ];
    assert_eq!(run_body(&wide, &[]).unwrap(), 0x1122_3344_5566_7788);
    // r0 = mem[2] + r2 (the length).
    let mem = [0xaa, 0xbb, 0xcc, 0xdd];
    let body = [
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
    assert_eq!(run_body(&body, &mem).unwrap(), 0xcc + 4);
}
