//! How fast the VM runs straight-line ALU code: a timing, not an assertion. Run it with
//! `cargo test --release --test vm_speed -- --ignored --nocapture`.

use std::time::Instant;

use bpfsmith::insn::{AluOp, Cond, Insn, Operand, Width, R0, R1, R2, R3};
use bpfsmith::vm::Vm;

#[test]
#[ignore = "a timing: run with --release --ignored --nocapture"]
fn alu_instructions_per_second() {
    // r1 counts down from N; each iteration runs 100 ALU instructions and one jump.
    const N: i32 = 200_000;
    let alu = |op, dst, src| Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    };
    let mut prog = vec![
        alu(AluOp::Mov, R0, Operand::Imm(0)),
        alu(AluOp::Mov, R1, Operand::Imm(N)),
        alu(AluOp::Mov, R2, Operand::Imm(3)),
    ];
    let body = [
        alu(AluOp::Add, R0, Operand::Reg(R2)),
        alu(AluOp::Xor, R3, Operand::Reg(R0)),
        alu(AluOp::Lsh, R3, Operand::Imm(1)),
        alu(AluOp::Sub, R0, Operand::Imm(1)),
    ];
    for i in 0..99 {
        prog.push(body[i % body.len()]);
    }
    prog.push(alu(AluOp::Sub, R1, Operand::Imm(1)));
    prog.push(Insn::Jump {
        width: Width::W64,
        cond: Cond::Ne,
        dst: R1,
        src: Operand::Imm(0),
        off: -101,
    });
    prog.push(Insn::Exit);
    let mut vm = Vm::new(&prog);
    vm.budget = u64::MAX;
    vm.run(&mut []).unwrap(); // warm up
    let t = Instant::now();
    let out = vm.run(&mut []).unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} instructions in {:.3} s: {:.0} M instructions/s",
        out.executed,
        secs,
        out.executed as f64 / secs / 1e6
    );
}
