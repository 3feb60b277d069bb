//! How fast the VM runs straight-line ALU code: a timing, not an assertion. Run it with
//! `cargo test --release --test vm_speed -- --ignored --nocapture`.

use std::time::Instant;

use bpfsmith::insn::{Cond, Insn, Operand, Width, R0, R1, R2, R3};
use bpfsmith::vm::Vm;

/// The repeated ALU instructions: dependent adds, xors, shifts and subtractions.
fn body() -> [Insn; 4] {
    [
        Insn::add(R0, R2),
        Insn::xor(R3, R0),
        Insn::lsh(R3, 1),
        Insn::sub(R0, 1),
    ]
}

#[test]
#[ignore = "a timing: run with --release --ignored --nocapture"]
fn alu_instructions_per_second() {
    // r1 counts down from N; each iteration runs 100 ALU instructions and one jump.
    const N: i32 = 200_000;
    let mut prog = vec![Insn::mov(R0, 0), Insn::mov(R1, N), Insn::mov(R2, 3)];
    let body = body();
    for i in 0..99 {
        prog.push(body[i % body.len()]);
    }
    prog.push(Insn::sub(R1, 1));
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

/// The same straight-line program (4,000 ALU instructions) in the VM and in the kernel's
/// `BPF_PROG_TEST_RUN` with `repeat` (JIT as configured): time per run, and the ratio.
#[cfg(bpfsmith_kernel)]
#[test]
#[ignore = "a timing: run with --release --ignored --nocapture"]
fn straight_line_in_the_vm_and_in_the_kernel() {
    use bpfsmith::load::TestRun;
    use bpfsmith::object::Object;
    use bpfsmith::program::{Program, Section};

    const N: usize = 4000;
    const RUNS: u32 = 2000;
    let mut insns = vec![Insn::mov(R0, 1), Insn::mov(R2, 3), Insn::mov(R3, 5)];
    let body = body();
    insns.extend((0..N).map(|i| body[i % body.len()]));
    insns.push(Insn::Exit);
    let mut vm = Vm::new(&insns);
    let mut mem = [0u8; 64];
    let want = vm.run(&mut mem).unwrap().r0;
    let t = Instant::now();
    for _ in 0..RUNS {
        vm.run(&mut mem).unwrap();
    }
    let vm_ns = t.elapsed().as_nanos() as f64 / f64::from(RUNS);
    // rbpf's interpreter on the same bytes.
    let bytes = bpfsmith::insn::encode(&insns);
    let rbpf_vm = rbpf::EbpfVmNoData::new(Some(&bytes)).unwrap();
    assert_eq!(rbpf_vm.execute_program().unwrap(), want, "rbpf's result");
    let t = Instant::now();
    for _ in 0..RUNS {
        rbpf_vm.execute_program().unwrap();
    }
    let rbpf_ns = t.elapsed().as_nanos() as f64 / f64::from(RUNS);
    println!(
        "{} instructions per run: VM {vm_ns:.0} ns, rbpf 0.3 (interpreter) {rbpf_ns:.0} ns; VM / rbpf time = {:.2}",
        N + 4,
        vm_ns / rbpf_ns
    );

    let mut obj = Object::new("GPL");
    obj.add_program(Program::from_insns("straight", Section::SOCKET, insns))
        .unwrap();
    let loaded = match obj.load() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("notice: no kernel run ({e}); the VM: {vm_ns:.0} ns per run");
            return;
        }
    };
    let run = loaded
        .program("straight")
        .unwrap()
        .test_run(&TestRun {
            data: &[0; 64],
            repeat: RUNS,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(run.retval, want as u32, "the same result");
    let kernel_ns = f64::from(run.duration_ns);
    println!(
        "{} instructions per run: VM {vm_ns:.0} ns ({:.0} M/s), kernel {kernel_ns:.0} ns ({:.0} M/s); VM / kernel time = {:.1}",
        N + 4,
        (N + 4) as f64 / vm_ns * 1e3,
        (N + 4) as f64 / kernel_ns.max(1.0) * 1e3,
        vm_ns / kernel_ns.max(1.0)
    );
}
