//! The project's own bytecode snapshots, kept in the top-level `snapshots/` folder: the seed
//! scenario, and one program per instruction class. A change to any of them is a change to
//! emitted bytecode and is reviewed like code.

use bpfsmith::insn::{AluOp, AtomicOp, Endian, Insn, Pseudo};
use bpfsmith::prelude::*;

macro_rules! in_snapshots {
    ($body:block) => {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, $body)
    };
}

#[test]
fn seed_scenario() {
    in_snapshots!({
        bpfsmith::assert_object_snapshot!("seed_scenario", bpfsmith::seed::object());
    });
}

fn finish(p: ProgramBuilder) -> Program {
    p.finish().expect("snapshot programs build")
}

/// Class ALU (0x04): every 32-bit operation with a register and an immediate, negation,
/// byte-order conversions and sign-extending moves.
#[test]
fn class_alu() {
    let mut p = ProgramBuilder::new("alu32", Section::SOCKET);
    for op in AluOp::ALL {
        p.alu(op, W1, W2).alu(op, W3, -7);
    }
    p.neg(W4);
    for kind in [Endian::ToLe, Endian::ToBe] {
        for bits in [16, 32, 64] {
            p.emit(Insn::Endian {
                kind,
                bits,
                dst: R5,
            });
        }
    }
    for bits in [8, 16] {
        p.emit(Insn::MovSx {
            width: Width::W32,
            bits,
            dst: R1,
            src: R2,
        });
    }
    p.mov(W0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_alu", finish(p)) });
}

/// Class ALU64 (0x07): every 64-bit operation, negation, bswap, movsx and addr_space_cast.
#[test]
fn class_alu64() {
    let mut p = ProgramBuilder::new("alu64", Section::SOCKET);
    for op in AluOp::ALL {
        p.alu(op, R1, R2).alu(op, R3, i32::MIN);
    }
    p.neg(R4);
    for bits in [16, 32, 64] {
        p.emit(Insn::Endian {
            kind: Endian::Swap,
            bits,
            dst: R5,
        });
    }
    for bits in [8, 16, 32] {
        p.emit(Insn::MovSx {
            width: Width::W64,
            bits,
            dst: R1,
            src: R2,
        });
    }
    p.emit(Insn::AddrSpaceCast {
        dst: R1,
        src: R2,
        dst_as: 0,
        src_as: 1,
    });
    p.mov(R0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_alu64", finish(p)) });
}

/// Class JMP (0x05): every condition against a register and an immediate, goto, may_goto,
/// helper and local calls, callx, exit.
#[test]
fn class_jmp() {
    let mut p = ProgramBuilder::new("jmp", Section::SOCKET);
    let out = p.label("out");
    let sub = p.function("sub");
    for cond in Cond::ALL {
        p.jump_if(R1, cond, R2, out).jump_if(R1, cond, -1, out);
    }
    p.jump(out)
        .may_goto(out)
        .call(Helper::MapPopElem)
        .call_fn(sub);
    p.emit(Insn::CallX { dst: R3 });
    p.bind(out).mov(R0, 0).exit();
    p.bind(sub).mov(R0, 1).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_jmp", finish(p)) });
}

/// Class JMP32 (0x06): every condition on 32-bit views, and gotol.
#[test]
fn class_jmp32() {
    let mut p = ProgramBuilder::new("jmp32", Section::SOCKET);
    let out = p.label("out");
    for cond in Cond::ALL {
        p.jump_if(W1, cond, W2, out)
            .jump_if(W1, cond, 0x7fff_ffff, out);
    }
    p.jump_long(out);
    p.bind(out).mov(R0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_jmp32", finish(p)) });
}

/// Class LD (0x00): ld_imm64 with every pseudo source, and the legacy packet loads.
#[test]
fn class_ld() {
    let mut p = ProgramBuilder::new("ld", Section::SOCKET);
    p.ld_imm64(R1, i64::MIN).ld_imm64(R2, -1);
    for pseudo in Pseudo::ALL {
        p.emit(Insn::LdImm64 {
            dst: R3,
            pseudo,
            imm: 0x1_0000_0005,
        });
    }
    for size in [Size::U8, Size::U16, Size::U32] {
        p.emit(Insn::LdAbs { size, imm: 14 });
        p.emit(Insn::LdInd {
            size,
            src: R7,
            imm: 2,
        });
    }
    p.mov(R0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_ld", finish(p)) });
}

/// Class LDX (0x01): loads of every size, and sign-extending loads.
#[test]
fn class_ldx() {
    let mut p = ProgramBuilder::new("ldx", Section::SOCKET);
    for size in Size::ALL {
        p.load(size, R1, R10, -8);
    }
    for size in [Size::U8, Size::U16, Size::U32] {
        p.load_sx(size, R2, R1, i16::MAX);
    }
    p.mov(R0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_ldx", finish(p)) });
}

/// Class ST (0x02): stores of immediates of every size.
#[test]
fn class_st() {
    let mut p = ProgramBuilder::new("st", Section::SOCKET);
    for size in Size::ALL {
        p.store(size, R10, -8, -1);
    }
    p.mov(R0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_st", finish(p)) });
}

/// Class STX (0x03): stores of registers of every size and every atomic operation.
#[test]
fn class_stx() {
    let mut p = ProgramBuilder::new("stx", Section::SOCKET);
    for size in Size::ALL {
        p.store_reg(size, R10, -8, R1);
    }
    for op in AtomicOp::ALL {
        for size in Size::ALL {
            if op.allows(size) {
                p.atomic(size, op, R10, -8, R1);
            }
        }
    }
    p.mov(R0, 0).exit();
    in_snapshots!({ bpfsmith::assert_bytecode_snapshot!("class_stx", finish(p)) });
}
