//! `Insn::uses` and `Insn::defs` of calls against the kernel's verifier: a register a call
//! clobbers cannot be read after it (`R1 !read_ok`), one it keeps can; a helper reads exactly
//! the argument registers `uses` names (an unset one of them is refused, an unset one past
//! them is not). Needs root or CAP_BPF (see tests/common/kernel.rs).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::load::{LoadError, LoadOptions};
use bpfsmith::prelude::*;

/// Load the one program of `obj`: `Ok(())`, or the verifier's refusal headline.
fn verdict(obj: &Object) -> Result<(), String> {
    match obj.load_with(&LoadOptions::default()) {
        Ok(_) => Ok(()),
        Err(LoadError::Verifier { log, .. }) => {
            let log = bpfsmith::verifier::VerifierLog::parse(&log);
            Err(log
                .error()
                .map(|e| e.headline().to_owned())
                .unwrap_or(log.text().to_owned()))
        }
        Err(e) => panic!("load failed before the verifier: {e}"),
    }
}

#[test]
fn registers_a_call_defines_are_the_ones_the_verifier_forgets() {
    require_kernel!("registers_a_call_defines_are_the_ones_the_verifier_forgets");
    let call = Insn::call(Helper::KtimeGetNs);
    for r in &Reg::ALL[..10] {
        // Every register set, then a call, then `r0 = rN`.
        let mut p = ProgramBuilder::new("clobber", Section::SOCKET);
        for s in &Reg::ALL[..10] {
            p.mov(*s, 1);
        }
        p.call(Helper::KtimeGetNs).mov(R0, *r).exit();
        let mut obj = Object::new("GPL");
        obj.add_program(p.finish().unwrap()).unwrap();
        let readable = *r == R0 || !call.defs().contains(*r);
        match verdict(&obj) {
            Ok(()) => assert!(readable, "the kernel reads {r} after the call"),
            Err(e) => {
                assert!(
                    !readable,
                    "the kernel refuses to read {r} after the call: {e}"
                );
                assert_eq!(e, format!("R{} !read_ok", r.num()));
            }
        }
    }
}

#[test]
fn a_helper_reads_the_argument_registers_uses_names() {
    require_kernel!("a_helper_reads_the_argument_registers_uses_names");
    let call = Insn::call(Helper::MapPushElem);
    // r1 is the context at entry, so it always holds something: r2-r5 tell.
    for unset in [R2, R3, R4, R5] {
        let mut obj = Object::new("GPL");
        let queue = obj.map("queue", MapDef::queue::<u32>(4)).unwrap();
        let mut p = ProgramBuilder::new("arity", Section::SOCKET);
        p.store(Size::U32, R10, -4, 0);
        p.ld_map(R1, &queue);
        for r in [R2, R3] {
            if r == unset {
                continue;
            }
            if r == R2 {
                p.mov(R2, R10).add(R2, -4);
            } else {
                p.mov(R3, 0);
            }
        }
        p.call(Helper::MapPushElem).mov(R0, 0).exit();
        obj.add_program(p.finish().unwrap()).unwrap();
        match verdict(&obj) {
            Ok(()) => assert!(
                !call.uses().contains(unset),
                "the kernel accepts the call with {unset} unset"
            ),
            Err(e) => {
                assert!(
                    call.uses().contains(unset),
                    "refused with {unset} unset: {e}"
                );
                assert_eq!(e, format!("R{} !read_ok", unset.num()));
            }
        }
    }
}

/// The program of `ProgramBuilder`'s documentation, run: the value kept in r7 survives the
/// helper call, and the call's result decides the branch (the kernel is the judge).
#[test]
fn the_builder_documentation_program_runs_as_it_says() {
    require_kernel!("the_builder_documentation_program_runs_as_it_says");
    let mut obj = Object::new("GPL");
    let queue = obj.map("queue", MapDef::queue::<u32>(1)).unwrap();
    let mut p = ProgramBuilder::new("push_len", Section::SOCKET);
    p.mov(R6, R1);
    p.load(Size::U32, R7, R6, 0);
    p.store_reg(Size::U32, R10, -4, R7);
    p.ld_map(R1, &queue);
    p.mov(R2, R10).add(R2, -4);
    p.mov(R3, 0);
    p.call(Helper::MapPushElem);
    let full = p.label("full");
    p.jump_if(W0, Cond::Ne, 0, full);
    p.mov(R0, R7).exit();
    p.bind(full).mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let loaded = obj.load().unwrap();
    let run = || {
        loaded
            .program("push_len")
            .unwrap()
            .test_run(&bpfsmith::load::TestRun {
                data: &[0; 64],
                ..Default::default()
            })
            .unwrap()
            .retval
    };
    // skb->len is the packet's length past the Ethernet header, which the kernel's test run
    // pulls (eth_type_trans) for a socket filter: 64 - 14. The second push finds the
    // one-element queue full.
    assert_eq!(run(), 50);
    assert_eq!(run(), 0);
    assert_eq!(loaded.queue::<u32>("queue").unwrap().drain().unwrap(), [50]);
}

/// `Insn::uses` of every kind of instruction against the kernel: with some registers never
/// set, the verifier refuses an instruction exactly when it reads one of them
/// (`R<n> !read_ok`), and the register it names is one `uses` lists.
#[test]
fn the_verifier_refuses_reading_an_unset_register_exactly_where_uses_says() {
    require_kernel!("the_verifier_refuses_reading_an_unset_register_exactly_where_uses_says");
    use bpfsmith::insn::{AtomicOp, Endian, Pseudo};
    // At the instruction: r1 = the context, r7 = 1, r10 = the frame pointer, the stack slot
    // at r10 - 8 written. Every other register is unset.
    let set = [R1, R7, R10];
    let cases = [
        Insn::mov(R2, R7),
        Insn::add(R2, 1),
        Insn::mov(R2, 1),
        Insn::add(R7, R3),
        Insn::neg(R2),
        Insn::Endian {
            kind: Endian::ToBe,
            bits: 16,
            dst: R2,
        },
        Insn::MovSx {
            width: Width::W64,
            bits: 8,
            dst: R7,
            src: R3,
        },
        Insn::load(Size::U32, R2, R1, 0),
        Insn::load(Size::U32, R2, R3, 0),
        Insn::store(Size::U64, R10, -8, R3),
        Insn::store(Size::U64, R10, -8, 1),
        Insn::atomic(Size::U64, AtomicOp::Add { fetch: false }, R10, -8, R7),
        Insn::atomic(Size::U64, AtomicOp::Add { fetch: false }, R10, -8, R3),
        Insn::atomic(Size::U64, AtomicOp::Add { fetch: true }, R10, -8, R3),
        Insn::atomic(Size::U64, AtomicOp::CmpXchg, R10, -8, R7),
        Insn::jump(Cond::Gt, R2, 0, 0),
        Insn::jump(Cond::Gt, R7, R3, 0),
        Insn::LdImm64 {
            dst: R2,
            pseudo: Pseudo::Imm,
            imm: 5,
        },
        Insn::goto(0),
        Insn::LdAbs {
            size: Size::U8,
            imm: 0,
        },
        Insn::exit(),
    ];
    for insn in cases {
        let mut p = ProgramBuilder::new("unset", Section::SOCKET);
        p.mov(R7, 1).store(Size::U64, R10, -8, 0);
        p.emit(insn);
        if insn != Insn::Exit {
            p.mov(R0, 0).exit();
        }
        let mut obj = Object::new("GPL");
        obj.add_program(p.finish().unwrap()).unwrap();
        let unset_read: Vec<Reg> = insn.uses().iter().filter(|r| !set.contains(r)).collect();
        match verdict(&obj) {
            Ok(()) => assert!(unset_read.is_empty(), "{insn:?}: the kernel accepts it"),
            Err(e) => {
                let named = unset_read
                    .iter()
                    .any(|r| e == format!("R{} !read_ok", r.num()));
                assert!(named, "{insn:?} (uses {:?}): {e}", insn.uses());
            }
        }
    }
}
