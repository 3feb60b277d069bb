//! The VM's rules the conformance suite does not exercise, each against the kernel's
//! documented semantics (RFC 9669, `instruction-set.rst`; `MAX_CALL_FRAMES`, `BPF_MAX_LOOPS`
//! and the verifier's "div by zero" from the kernel sources).

use bpfsmith::insn::{
    AluOp, AtomicOp, Callee, Insn, Operand, Size, Width, R0, R1, R10, R2, R6, R7, R8, R9,
};
use bpfsmith::vm::{Vm, VmErrorKind, MAX_FRAMES};

fn run(insns: &[Insn]) -> Result<u64, VmErrorKind> {
    Vm::new(insns)
        .run(&mut [])
        .map(|o| o.r0)
        .map_err(|e| e.kind)
}

#[test]
fn division_by_an_immediate_zero_is_refused_as_the_verifier_does() {
    for op in [AluOp::Div, AluOp::SDiv, AluOp::Mod, AluOp::SMod] {
        let alu = Insn::Alu {
            width: Width::W32,
            op,
            dst: R0,
            src: Operand::Imm(0),
        };
        let err = Vm::new(&[Insn::mov(R0, 1), alu, Insn::Exit])
            .run(&mut [])
            .unwrap_err();
        assert_eq!(err.kind, VmErrorKind::DivisionByZeroImm);
        assert_eq!((err.index, err.slot), (1, 1));
    }
}

#[test]
fn mod32_by_a_zero_register_truncates_dst() {
    // RFC 9669: for ALU, "dst = (u32)dst" when the divisor is 0.
    let prog = [
        Insn::ld_imm64(R0, 0x1_0000_0005),
        Insn::mov(R1, 0),
        Insn::Alu {
            width: Width::W32,
            op: AluOp::Mod,
            dst: R0,
            src: Operand::Reg(R1),
        },
        Insn::Exit,
    ];
    assert_eq!(run(&prog), Ok(5));
}

#[test]
fn movsx_32_bit_zero_extends_its_result() {
    let prog = [
        Insn::mov(R1, 0x80),
        Insn::MovSx {
            width: Width::W32,
            bits: 8,
            dst: R0,
            src: R1,
        },
        Insn::Exit,
    ];
    assert_eq!(run(&prog), Ok(0xffff_ff80));
}

#[test]
fn load_acquire_and_store_release_move_values_of_every_size() {
    let prog = [
        Insn::ld_imm64(R1, 0x1122_3344_5566_7788),
        Insn::Atomic {
            size: Size::U16,
            op: AtomicOp::StoreRelease,
            dst: R10,
            src: R1,
            off: -8,
        },
        Insn::Atomic {
            size: Size::U64,
            op: AtomicOp::LoadAcquire,
            dst: R0,
            src: R10,
            off: -8,
        },
        Insn::Exit,
    ];
    assert_eq!(run(&prog), Ok(0x7788));
}

#[test]
fn may_goto_falls_through_its_budget_then_jumps() {
    // r0 counts the iterations of `loop: may_goto +2; r0 += 1; goto loop`.
    let prog = [
        Insn::mov(R0, 0),
        Insn::MayGoto { off: 2 },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: R0,
            src: Operand::Imm(1),
        },
        Insn::Ja { off: -3 },
        Insn::Exit,
    ];
    let mut vm = Vm::new(&prog);
    vm.may_goto_limit = 1000;
    assert_eq!(vm.run(&mut []).unwrap().r0, 1000);
    assert_eq!(
        Vm::new(&prog).run(&mut []).unwrap().r0,
        bpfsmith::vm::MAY_GOTO_LIMIT
    );
}

#[test]
fn an_endless_loop_uses_up_the_budget() {
    let mut vm = Vm::new(&[Insn::Ja { off: -1 }]);
    vm.budget = 100;
    let err = vm.run(&mut []).unwrap_err();
    assert_eq!(err.kind, VmErrorKind::Budget { limit: 100 });
}

#[test]
fn a_jump_outside_the_program_names_its_target() {
    let err = Vm::new(&[Insn::Ja { off: 5 }, Insn::Exit])
        .run(&mut [])
        .unwrap_err();
    assert_eq!(
        err.kind,
        VmErrorKind::JumpOutside {
            target: 6,
            slots: 2
        }
    );
    assert_eq!(err.text, "goto +0x5");
    // Into the middle of an ld_imm64 is outside too.
    let err = Vm::new(&[Insn::Ja { off: 1 }, Insn::ld_imm64(R0, 1), Insn::Exit])
        .run(&mut [])
        .unwrap_err();
    assert!(matches!(
        err.kind,
        VmErrorKind::JumpOutside { target: 2, .. }
    ));
    assert_eq!(run(&[Insn::mov(R0, 0)]), Err(VmErrorKind::FellOffEnd));
}

#[test]
fn calls_get_their_own_frame_and_keep_r6_to_r9() {
    // main: r6..r9 = 6..9, *(r10-8) = 1, call f, r0 += *(r10-8) + r6 + r7 + r8 + r9
    // f: writes its own r10-8 and clobbers r6..r9, returns 100.
    let prog = [
        Insn::mov(R6, 6),
        Insn::mov(R7, 7),
        Insn::mov(R8, 8),
        Insn::mov(R9, 9),
        Insn::StoreImm {
            size: Size::U64,
            dst: R10,
            off: -8,
            imm: 1,
        },
        Insn::Call(Callee::Local(7)),
        Insn::Load {
            size: Size::U64,
            sign: false,
            dst: R1,
            src: R10,
            off: -8,
        },
        Insn::add(R0, R1),
        Insn::add(R0, R6),
        Insn::add(R0, R7),
        Insn::add(R0, R8),
        Insn::add(R0, R9),
        Insn::Exit,
        // f
        Insn::StoreImm {
            size: Size::U64,
            dst: R10,
            off: -8,
            imm: 50,
        },
        Insn::mov(R6, 0),
        Insn::mov(R7, 0),
        Insn::mov(R8, 0),
        Insn::mov(R9, 0),
        Insn::mov(R0, 100),
        Insn::Exit,
    ];
    assert_eq!(run(&prog), Ok(100 + 1 + 6 + 7 + 8 + 9));
}

#[test]
fn calls_nest_at_most_max_call_frames_deep() {
    // A function that calls itself: the eighth frame's call is refused.
    let err = Vm::new(&[Insn::Call(Callee::Local(-1))])
        .run(&mut [])
        .unwrap_err();
    assert_eq!(err.kind, VmErrorKind::CallDepth { max: MAX_FRAMES });
}

#[test]
fn memory_outside_the_regions_is_an_error_naming_the_region() {
    let load = |src, off| Insn::Load {
        size: Size::U64,
        sign: false,
        dst: R0,
        src,
        off,
    };
    // Below the 512-byte frame.
    let e = Vm::new(&[load(R10, -520), Insn::Exit])
        .run(&mut [])
        .unwrap_err();
    assert!(e.to_string().contains("outside every region"), "{e}");
    // Across the end of the frame.
    let e = Vm::new(&[load(R10, -4), Insn::Exit])
        .run(&mut [])
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("outside the stack of frame 0 (512 bytes)"),
        "{e}"
    );
    // A null pointer.
    let e = Vm::new(&[Insn::mov(R2, 0), load(R2, 0), Insn::Exit])
        .run(&mut [])
        .unwrap_err();
    assert!(e.to_string().contains("null"), "{e}");
    // The memory given: r2 is its length.
    let prog = [load(R1, 0), Insn::Exit];
    assert!(Vm::new(&prog).run(&mut [0; 7]).is_err());
    assert_eq!(
        Vm::new(&prog)
            .run(&mut [1, 0, 0, 0, 0, 0, 0, 0])
            .unwrap()
            .r0,
        1
    );
}

#[test]
fn an_unknown_helper_is_an_error_naming_it() {
    // bpf_get_current_pid_tgid: no task runs a VM program, so there is nothing to return.
    let e = Vm::new(&[Insn::Call(Callee::Helper(14)), Insn::Exit])
        .run(&mut [])
        .unwrap_err();
    assert_eq!(
        e.kind,
        VmErrorKind::UnknownHelper {
            id: 14,
            name: Some("bpf_get_current_pid_tgid")
        }
    );
    assert!(
        e.to_string()
            .contains("helper 14 (bpf_get_current_pid_tgid)"),
        "{e}"
    );
}

#[test]
fn ktime_and_prandom_are_reproducible_when_asked() {
    use bpfsmith::helpers::Helper;
    let prog = [
        Insn::Call(Callee::Helper(Helper::KtimeGetNs.id() as i32)),
        Insn::Exit,
    ];
    let mut vm = Vm::new(&prog);
    vm.clock = Some(1000);
    assert_eq!(vm.run(&mut []).unwrap().r0, 1000);
    assert_eq!(vm.run(&mut []).unwrap().r0, 1001);
    // The host's monotonic clock never goes back.
    let mut vm = Vm::new(&prog);
    let (a, b) = (vm.run(&mut []).unwrap().r0, vm.run(&mut []).unwrap().r0);
    assert!(b >= a);
    let prog = [
        Insn::Call(Callee::Helper(Helper::GetPrandomU32.id() as i32)),
        Insn::Exit,
    ];
    let numbers = |seed| {
        let mut vm = Vm::new(&prog);
        vm.prandom_seed = seed;
        (0..4)
            .map(|_| vm.run(&mut []).unwrap().r0)
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(7), numbers(7));
    assert_ne!(numbers(7), numbers(8));
    assert!(numbers(7).iter().all(|&n| n <= u64::from(u32::MAX)));
}

#[test]
fn an_error_names_the_source_line_of_an_assembled_program() {
    let src = ".section socket\n.globl p\np:\n\tr0 = 0\n\tr0 = *(u64 *)(r10 + 8)\n\texit\n";
    let obj = bpfsmith::text::assemble("bad.s", src).unwrap();
    let e = Vm::from_object(&obj, "p")
        .unwrap()
        .run(&mut [])
        .unwrap_err();
    assert_eq!(e.location.as_deref(), Some("bad.s:5"));
    assert!(
        e.to_string()
            .starts_with("instruction 1 (slot 1, `r0 = *(u64 *)(r10 + 0x8)`, bad.s:5): read"),
        "{e}"
    );
}

#[test]
fn fresh_stack_holds_the_fill_byte_so_unwritten_reads_show() {
    // r0 = *(u64 *)(r10 - 8), never written: the kernel would give leftovers (and refuse it
    // without CAP_PERFMON); the VM gives the fill byte, so two fills tell such a read apart.
    let prog = [Insn::load(Size::U64, R0, R10, -8), Insn::Exit];
    let mut vm = Vm::new(&prog);
    assert_eq!(vm.run(&mut []).unwrap().r0, 0);
    vm.stack_fill = 0xa5;
    assert_eq!(vm.run(&mut []).unwrap().r0, 0xa5a5_a5a5_a5a5_a5a5);
    // A written slot reads what was written, whatever the fill.
    let prog = [
        Insn::store(Size::U64, R10, -8, 7),
        Insn::load(Size::U64, R0, R10, -8),
        Insn::Exit,
    ];
    let mut vm = Vm::new(&prog);
    vm.stack_fill = 0xa5;
    assert_eq!(vm.run(&mut []).unwrap().r0, 7);
}
