//! Random programs in both engines, every register compared: the VM is never its own oracle.
//!
//! Each program sets r0-r9 to random 64-bit values, runs random ALU, ALU32, neg, movsx and
//! byte-swap instructions, loads (sign-extending too), stores and every atomic on a stack
//! area, and forward conditional jumps (64- and 32-bit), then stores the ten registers and the
//! stack area into an array map. The kernel (BPF_PROG_TEST_RUN) and the VM must leave the same
//! 208 bytes there. Only programs the verifier accepts are generated: no shift or division by
//! an immediate it refuses, aligned stack accesses, no other pointer. Needs root or CAP_BPF;
//! otherwise skips with a notice (a failure with BPFSMITH_REQUIRE_KERNEL=1).
//! `BPFSMITH_VM_DIFF_CASES` sets the number of programs (default 200).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::insn::{
    AluOp, AtomicOp, Cond, Endian, Insn, Operand, Pseudo, Reg, Size, Width, R0, R1, R10, R2,
};
use bpfsmith::load::TestRun;
use bpfsmith::maps::MapDef;
use bpfsmith::object::Object;
use bpfsmith::program::{Program, Reloc, RelocKind, Section};
use bpfsmith::vm::Vm;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn reg() -> impl Strategy<Value = Reg> {
    select(Reg::ALL[..10].to_vec())
}

fn width() -> impl Strategy<Value = Width> {
    select(vec![Width::W32, Width::W64])
}

fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        any::<i32>(),
        select(vec![0, 1, -1, i32::MIN, i32::MAX, 8, 16, 31, 63])
    ]
}

/// One instruction the verifier accepts on scalars; a jump's offset is fixed up later.
fn op() -> impl Strategy<Value = Insn> {
    let alu = (
        width(),
        select(AluOp::ALL.to_vec()),
        reg(),
        reg(),
        imm(),
        any::<bool>(),
    )
        .prop_map(|(width, op, dst, src, imm, by_reg)| {
            let bits = if width == Width::W64 { 64 } else { 32 };
            let src = if by_reg {
                Operand::Reg(src)
            } else {
                Operand::Imm(match op {
                    AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => imm.rem_euclid(bits),
                    AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod if imm == 0 => 3,
                    _ => imm,
                })
            };
            Insn::Alu {
                width,
                op,
                dst,
                src,
            }
        });
    let movsx = (any::<bool>(), select(vec![8u8, 16, 32]), reg(), reg()).prop_map(
        |(w64, bits, dst, src)| Insn::MovSx {
            width: if w64 || bits == 32 {
                Width::W64
            } else {
                Width::W32
            },
            bits,
            dst,
            src,
        },
    );
    let endian = (
        select(vec![Endian::ToLe, Endian::ToBe, Endian::Swap]),
        select(vec![16u8, 32, 64]),
        reg(),
    )
        .prop_map(|(kind, bits, dst)| Insn::Endian { kind, bits, dst });
    let jump = (
        width(),
        select(Cond::ALL.to_vec()),
        reg(),
        reg(),
        imm(),
        any::<bool>(),
    )
        .prop_map(|(width, cond, dst, src, imm, by_reg)| Insn::Jump {
            width,
            cond,
            dst,
            src: if by_reg {
                Operand::Reg(src)
            } else {
                Operand::Imm(imm)
            },
            off: 0,
        });
    prop_oneof![
        3 => memory(),
        8 => alu,
        1 => (width(), reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        1 => movsx,
        1 => endian,
        2 => jump,
    ]
}

/// The stack area the body's memory instructions use: `r10 - 256` up to `r10 - 128`,
/// initialised before the body (the verifier refuses reads of uninitialised stack).
const AREA: i16 = -256;
const AREA_LEN: i16 = 128;

/// An aligned offset into [`AREA`] for an access of `bytes` (the verifier refuses misaligned
/// stack accesses).
fn slot(bytes: i16, k: u16) -> i16 {
    AREA + (k as i16).rem_euclid(AREA_LEN / bytes) * bytes
}

/// Loads (zero- and sign-extending), stores of registers and immediates, and every atomic on
/// the stack area.
fn memory() -> impl Strategy<Value = Insn> {
    let size = select(Size::ALL.to_vec());
    let atomics: Vec<(Size, AtomicOp)> = Size::ALL
        .iter()
        .flat_map(|&s| AtomicOp::ALL.iter().map(move |&op| (s, op)))
        .filter(|&(s, op)| op.allows(s))
        .collect();
    prop_oneof![
        (size.clone(), any::<bool>(), reg(), any::<u16>()).prop_map(|(size, sign, dst, k)| {
            Insn::Load {
                size,
                sign: sign && size != Size::U64,
                dst,
                src: R10,
                off: slot(size.bytes() as i16, k),
            }
        }),
        (size.clone(), reg(), any::<u16>()).prop_map(|(size, src, k)| Insn::Store {
            size,
            dst: R10,
            off: slot(size.bytes() as i16, k),
            src,
        }),
        (size, imm(), any::<u16>()).prop_map(|(size, imm, k)| Insn::StoreImm {
            size,
            dst: R10,
            off: slot(size.bytes() as i16, k),
            imm,
        }),
        (select(atomics), reg(), any::<u16>()).prop_map(|((size, op), r, k)| {
            let off = slot(size.bytes() as i16, k);
            // load_acquire loads into `dst` from `src + off`; every other one works on
            // `dst + off` with `src`.
            let (dst, src) = if op == AtomicOp::LoadAcquire {
                (r, R10)
            } else {
                (R10, r)
            };
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            }
        }),
    ]
}

/// (initial r0-r9, body with jump offsets drawn as fractions of what is left)
fn case() -> impl Strategy<Value = (Vec<i64>, Vec<(Insn, u16)>)> {
    (
        proptest::collection::vec(any::<i64>(), 10),
        proptest::collection::vec((op(), any::<u16>()), 1..40),
    )
}

/// The whole program: init, body, then r0-r9 stored to out[0].
fn program((init, body): &(Vec<i64>, Vec<(Insn, u16)>)) -> Program {
    let mut insns: Vec<Insn> = init
        .iter()
        .enumerate()
        .map(|(i, &v)| Insn::ld_imm64(Reg::ALL[i], v))
        .collect();
    for k in 0..AREA_LEN / 8 {
        insns.push(Insn::StoreImm {
            size: Size::U64,
            dst: R10,
            off: AREA + 8 * k,
            imm: init[k as usize % 10] as i32,
        });
    }
    let n = body.len();
    for (k, &(insn, frac)) in body.iter().enumerate() {
        let mut insn = insn;
        if let Insn::Jump { off, .. } = &mut insn {
            // Forward, at most to the first instruction after the body.
            *off = (frac as usize % (n - k)) as i16;
        }
        insns.push(insn);
    }
    for i in 0..10 {
        insns.push(Insn::Store {
            size: Size::U64,
            dst: R10,
            off: -8 * (i as i16 + 1),
            src: Reg::ALL[i],
        });
    }
    insns.push(Insn::StoreImm {
        size: Size::U32,
        dst: R10,
        off: -84,
        imm: 0,
    });
    let map_at = insns.len();
    insns.push(Insn::LdImm64 {
        dst: R1,
        pseudo: Pseudo::MapFd,
        imm: 0,
    });
    insns.push(Insn::mov(R2, R10));
    insns.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: R2,
        src: Operand::Imm(-84),
    });
    insns.push(Insn::Call(bpfsmith::insn::Callee::Helper(1)));
    // Copy r0-r9 (saved below r10) and then the stack area into the map value.
    let words: Vec<(i16, i16)> = (0..10i16)
        .map(|i| (-8 * (i + 1), 8 * i))
        .chain((0..AREA_LEN / 8).map(|k| (AREA + 8 * k, 80 + 8 * k)))
        .collect();
    insns.push(Insn::Jump {
        width: Width::W64,
        cond: Cond::Eq,
        dst: R0,
        src: Operand::Imm(0),
        off: 2 * words.len() as i16,
    });
    for (from, to) in words {
        insns.push(Insn::Load {
            size: Size::U64,
            sign: false,
            dst: R1,
            src: R10,
            off: from,
        });
        insns.push(Insn::Store {
            size: Size::U64,
            dst: R0,
            off: to,
            src: R1,
        });
    }
    insns.push(Insn::mov(R0, 0));
    insns.push(Insn::Exit);
    let mut p = Program::from_insns("diff", Section::SOCKET, insns);
    p.relocs.push(Reloc {
        insn: map_at,
        symbol: "out".into(),
        kind: RelocKind::Map,
    });
    p
}

fn object(p: Program) -> Object {
    let mut obj = Object::new("GPL");
    obj.map("out", MapDef::array::<[u8; 208]>(1)).unwrap();
    obj.add_program(p).unwrap();
    obj
}

/// Programs compared so far.
static COMPARED: AtomicUsize = AtomicUsize::new(0);

fn run_both(c: &(Vec<i64>, Vec<(Insn, u16)>)) -> Result<(), TestCaseError> {
    let obj = object(program(c));
    let mut vm = Vm::from_object(&obj, "diff").unwrap();
    let run = vm
        .run(&mut [0; 64])
        .map_err(|e| TestCaseError::fail(format!("VM: {e}")))?;
    prop_assert_eq!(run.r0, 0);
    let in_vm = vm.map("out").unwrap().lookup(&0u32.to_le_bytes()).unwrap();
    let loaded = obj
        .load()
        .map_err(|e| TestCaseError::fail(format!("kernel load: {e}")))?;
    let krun = loaded
        .program("diff")
        .unwrap()
        .test_run(&TestRun {
            data: &[0; 64],
            ..Default::default()
        })
        .map_err(|e| TestCaseError::fail(format!("test_run: {e}")))?;
    prop_assert_eq!(krun.retval, 0);
    let in_kernel = loaded
        .map("out")
        .unwrap()
        .lookup(&0u32.to_le_bytes(), 0)
        .unwrap();
    let regs = |b: &[u8]| -> Vec<String> {
        b.chunks(8)
            .map(|c| format!("{:#x}", u64::from_le_bytes(c.try_into().unwrap())))
            .collect()
    };
    prop_assert_eq!(
        regs(&in_vm),
        regs(&in_kernel),
        "r0-r9 then the stack area: VM (left), kernel (right)"
    );
    COMPARED.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[test]
fn random_programs_leave_the_same_registers_in_the_vm_and_the_kernel() {
    require_kernel!("random_programs_leave_the_same_registers_in_the_vm_and_the_kernel");
    let cases = std::env::var("BPFSMITH_VM_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |c| run_both(&c));
    if let Err(e) = result {
        panic!("{e}");
    }
    println!(
        "{} random programs: the same r0-r9 and stack area in the VM and the kernel",
        COMPARED.load(Ordering::Relaxed)
    );
}
