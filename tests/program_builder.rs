//! The program builder: the helper ABI it emits, label resolution, and every build-time check,
//! each error naming the Rust line that caused it.

use bpfsmith::insn::{AluOp, Callee, Insn, Operand, Pseudo};
use bpfsmith::prelude::*;
use bpfsmith::program::{BuildErrorKind, BuildErrors, RelocKind};

fn mov64(dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    }
}

fn queue_object() -> (Object, MapRef, MapRef) {
    let mut obj = Object::new("GPL");
    let q = obj.map("queue", MapDef::queue::<u32>(10)).unwrap();
    let s = obj.map("stack", MapDef::stack::<u64>(10)).unwrap();
    (obj, q, s)
}

fn errors(r: Result<Program, BuildErrors>) -> Vec<bpfsmith::program::BuildError> {
    r.expect_err("the build should fail").0
}

/// The sequence the helper ABI prescribes (and clang emits for
/// `bpf_map_push_elem(&queue, &v, flags)` with `v` at r10-4): r1 = map, r2 = r10 + off,
/// r3 = flags, call 87.
#[test]
fn push_pop_peek_emit_the_helper_abi() {
    let (_obj, q, _) = queue_object();
    let mut p = ProgramBuilder::new("abi", Section::SOCKET);
    p.push(&q, StackSlot::of::<u32>(-4), PushFlags::EXIST);
    p.pop(&q, StackSlot::at(-8));
    p.peek(&q, StackSlot::at(-12));
    p.exit();
    let prog = p.finish().unwrap();
    let map = Insn::LdImm64 {
        dst: R1,
        pseudo: Pseudo::Imm,
        imm: 0,
    };
    let fp = mov64(R2, Operand::Reg(R10));
    let add = |off| Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: R2,
        src: Operand::Imm(off),
    };
    let expected = vec![
        map,
        fp,
        add(-4),
        mov64(R3, Operand::Imm(2)),
        Insn::Call(Callee::Helper(87)),
        map,
        fp,
        add(-8),
        Insn::Call(Callee::Helper(88)),
        map,
        fp,
        add(-12),
        Insn::Call(Callee::Helper(89)),
        Insn::Exit,
    ];
    assert_eq!(prog.insns, expected);
    // Each map load carries a relocation against the map's symbol.
    let relocs: Vec<_> = prog
        .relocs
        .iter()
        .map(|r| (r.insn, r.symbol.as_str(), r.kind))
        .collect();
    assert_eq!(
        relocs,
        vec![
            (0, "queue", RelocKind::Map),
            (5, "queue", RelocKind::Map),
            (9, "queue", RelocKind::Map)
        ]
    );
    // The push encodes exactly as the kernel's headers define it.
    assert_eq!(
        &prog.bytes()[24..32],
        &[0x07, 0x02, 0, 0, 0xfc, 0xff, 0xff, 0xff]
    );
}

#[test]
fn call_by_name_and_by_number_are_the_same_instruction() {
    let mut a = ProgramBuilder::new("a", Section::SOCKET);
    a.call(Helper::MapPushElem).call(87).call(87u32).exit();
    let a = a.finish().unwrap();
    assert_eq!(a.insns[0], a.insns[1]);
    assert_eq!(a.insns[1], a.insns[2]);
    assert_eq!(a.bytes()[..8], [0x85, 0, 0, 0, 87, 0, 0, 0]);
}

#[test]
fn every_instruction_remembers_the_rust_line_that_emitted_it() {
    let mut p = ProgramBuilder::new("lines", Section::SOCKET);
    let first = line!() + 1;
    p.mov(R0, 0);
    p.exit();
    let prog = p.finish().unwrap();
    let a = prog.source(0).unwrap();
    let b = prog.source(1).unwrap();
    assert_eq!(a.file, file!());
    assert_eq!((a.line, b.line), (first, first + 1));
    assert_eq!(a.column, 7);
    // The text of that line is found for the BTF line info.
    let loc = prog.locs[0].unwrap();
    assert_eq!(
        prog.line_text(loc.file, loc.line).unwrap().trim(),
        "p.mov(R0, 0);"
    );
}

#[test]
fn jumps_resolve_in_slots_across_ld_imm64() {
    let mut p = ProgramBuilder::new("jumps", Section::SOCKET);
    let out = p.label("out");
    let back = p.label("back");
    p.bind(back);
    p.jump_if(R1, Cond::Eq, 0, out); // slot 0
    p.ld_imm64(R2, 1 << 40); // slots 1-2
    p.jump_if(W1, Cond::Sgt, W2, back); // slot 3, back to slot 0: -4
    p.bind(out).mov(R0, 0).exit(); // slot 4
    let prog = p.finish().unwrap();
    assert_eq!(
        prog.insns[0],
        Insn::Jump {
            width: Width::W64,
            cond: Cond::Eq,
            dst: R1,
            src: Operand::Imm(0),
            off: 3
        }
    );
    assert_eq!(
        prog.insns[2],
        Insn::Jump {
            width: Width::W32,
            cond: Cond::Sgt,
            dst: R1,
            src: Operand::Reg(R2),
            off: -4
        }
    );
    assert_eq!(
        prog.labels,
        vec![(0, "back".to_string()), (3, "out".to_string())]
    );
}

#[test]
fn bpf_to_bpf_calls_use_pc_relative_offsets() {
    let mut p = ProgramBuilder::new("main_prog", Section::SOCKET);
    let f = p.function("add_one");
    p.mov(R1, 41).call_fn(f).exit();
    p.bind(f).mov(R0, R1).add(R0, 1).exit();
    let prog = p.finish().unwrap();
    assert_eq!(prog.insns[1], Insn::Call(Callee::Local(1)));
    let names: Vec<_> = prog
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.insn))
        .collect();
    assert_eq!(names, vec![("main_prog", 0), ("add_one", 3)]);
}

#[test]
fn unbound_and_twice_bound_labels_name_the_label_and_the_line() {
    let mut p = ProgramBuilder::new("labels", Section::SOCKET);
    let nowhere = p.label("nowhere");
    let twice = p.label("twice");
    let jump_line = line!() + 1;
    p.jump(nowhere);
    p.bind(twice).exit();
    let bind_line = line!() + 1;
    p.bind(twice).exit();
    let errs = errors(p.finish());
    assert_eq!(errs.len(), 2, "{errs:?}");
    let unbound = errs
        .iter()
        .find(|e| matches!(e.kind, BuildErrorKind::UnboundLabel { .. }))
        .unwrap();
    assert_eq!(unbound.location.line, jump_line);
    assert!(
        unbound
            .to_string()
            .contains("label `nowhere` is used but never bound"),
        "{unbound}"
    );
    let twice = errs
        .iter()
        .find(|e| matches!(e.kind, BuildErrorKind::LabelBoundTwice { .. }))
        .unwrap();
    assert_eq!(twice.location.line, bind_line);
    assert!(
        twice
            .to_string()
            .contains(&format!("first at {}:{}", file!(), bind_line - 2)),
        "{twice}"
    );
}

#[test]
fn a_jump_that_does_not_fit_16_bits_is_an_error() {
    let mut p = ProgramBuilder::new("far", Section::SOCKET);
    let far = p.label("far");
    p.jump_if(R0, Cond::Eq, 0, far);
    for _ in 0..40_000 {
        p.mov(R0, 0);
    }
    p.bind(far).exit();
    let errs = errors(p.finish());
    let BuildErrorKind::JumpOutOfRange { label, reach } = &errs[0].kind else {
        panic!("{errs:?}");
    };
    assert_eq!(
        (label.as_str(), reach.offset, reach.bits),
        ("far", 40_000, 16)
    );
    // The assembler refuses the same jump with the same words and the same advice: one rule
    // (`program::set_offset`) for both.
    let mut src = String::from("if r0 == 0 goto far\n");
    for _ in 0..40_000 {
        src.push_str("r0 = 0\n");
    }
    src.push_str("far:\nexit\n");
    let asm = bpfsmith::text::assemble("far.s", &src).unwrap_err();
    let e = asm.iter().next().expect("one error");
    assert!(
        e.message.ends_with(&errs[0].kind.to_string()),
        "asm: {}\ndsl: {}",
        e.message,
        errs[0].kind
    );
    let help = format!(
        "help: {}",
        reach.help.expect("a conditional jump has advice")
    );
    assert_eq!(e.notes, std::slice::from_ref(&help));
    assert!(errs[0]
        .render(bpfsmith::text::Severity::Error)
        .contains(&help));
    // gotol has 32 bits and reaches it.
    let mut p = ProgramBuilder::new("far", Section::SOCKET);
    let far = p.label("far");
    p.jump_long(far);
    for _ in 0..40_000 {
        p.mov(R0, 0);
    }
    p.bind(far).exit();
    assert_eq!(p.finish().unwrap().insns[0], Insn::JaLong { imm: 40_000 });
}

#[test]
fn push_flags_other_than_any_and_exist_are_refused() {
    let (_obj, q, _) = queue_object();
    let mut p = ProgramBuilder::new("flags", Section::SOCKET);
    p.push(&q, StackSlot::at(-4), PushFlags(1)).exit();
    let errs = errors(p.finish());
    assert_eq!(errs[0].kind, BuildErrorKind::BadPushFlags { flags: 1 });
    assert!(errs[0].to_string().contains("BPF_ANY (0) or BPF_EXIST (2)"));
}

#[test]
fn value_buffers_are_checked_against_the_map_and_the_frame() {
    let (_obj, q, s) = queue_object();
    type Case<'a> = (StackSlot, &'a MapRef, fn(&BuildErrorKind) -> bool);
    let cases: Vec<Case> = vec![
        (StackSlot::of::<u64>(-8), &q, |k| {
            matches!(
                k,
                BuildErrorKind::SlotSize {
                    slot_size: 8,
                    value_size: 4,
                    ..
                }
            )
        }),
        (StackSlot::at(-2), &q, |k| {
            matches!(k, BuildErrorKind::SlotOutsideFrame { off: -2, size: 4 })
        }),
        (StackSlot::at(0), &q, |k| {
            matches!(k, BuildErrorKind::SlotOutsideFrame { .. })
        }),
        (StackSlot::at(-516), &q, |k| {
            matches!(k, BuildErrorKind::SlotOutsideFrame { .. })
        }),
        (StackSlot::at(-6), &q, |k| {
            matches!(k, BuildErrorKind::SlotMisaligned { off: -6, align: 4 })
        }),
        (StackSlot::at(-12), &s, |k| {
            matches!(k, BuildErrorKind::SlotMisaligned { off: -12, align: 8 })
        }),
    ];
    for (slot, map, check) in cases {
        let mut p = ProgramBuilder::new("slots", Section::SOCKET);
        p.pop(map, slot).exit();
        let errs = errors(p.finish());
        assert!(check(&errs[0].kind), "{slot:?}: {errs:?}");
    }
    // The edges that are fine: the bottom of the frame, and an 8-byte value at -8.
    let mut p = ProgramBuilder::new("edges", Section::SOCKET);
    p.pop(&q, StackSlot::at(-512))
        .pop(&s, StackSlot::at(-8))
        .exit();
    p.finish().unwrap();
}

#[test]
fn pop_on_a_map_that_is_not_a_queue_or_stack_names_the_kernel_rule() {
    let mut obj = Object::new("GPL");
    let h = obj.map("counts", MapDef::hash::<u32, u32>(16)).unwrap();
    let mut p = ProgramBuilder::new("wrong", Section::SOCKET);
    p.pop(&h, StackSlot::at(-4)).exit();
    let e = &errors(p.finish())[0];
    assert!(
        e.to_string()
            .contains("cannot pass map_type 1 into func bpf_map_pop_elem#88"),
        "{e}"
    );
}

#[test]
fn reserve_hands_out_aligned_slots_inside_the_frame() {
    let mut p = ProgramBuilder::new("frame", Section::SOCKET);
    let a = p.reserve::<u8>();
    let b = p.reserve::<u64>();
    let c = p.reserve::<u32>();
    assert_eq!((a.off, b.off, c.off), (-1, -16, -20));
    for _ in 0..62 {
        p.reserve::<u64>();
    }
    p.exit();
    let errs = errors(p.finish());
    assert!(
        matches!(errs[0].kind, BuildErrorKind::FrameFull { size: 8 }),
        "{errs:?}"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let (_obj, q, _) = queue_object();
    let mut p = ProgramBuilder::new("many", Section::SOCKET);
    let l = p.label("l");
    let line = line!() + 1;
    p.push(&q, StackSlot::at(-3), PushFlags(7)).jump(l).exit();
    let errs = errors(p.finish());
    assert_eq!(errs.len(), 3, "{errs:?}");
    let text = BuildErrors(errs).to_string();
    println!("{text}");
    // Each as rustc shows an error: the location first, the Rust line of the call as this
    // file has it, carets under the method's name (where `#[track_caller]` points).
    let source = include_str!("program_builder.rs")
        .lines()
        .nth(line as usize - 1);
    let source = source.unwrap();
    let blocks: Vec<&str> = text.split("\n\n").collect();
    assert_eq!(blocks.len(), 3, "{text}");
    for b in &blocks {
        let head = format!("{}:{line}:", file!());
        assert!(b.starts_with(&head), "{b}");
        assert!(b.contains(": error: in program `many`: "), "{b}");
        assert!(b.contains(&format!("{line} | {source}")), "{b}");
    }
    assert!(
        blocks[0].contains(&format!("{line} | {source}\n    |       ^^^^")),
        "{text}"
    );
}

/// A list of errors shows the first 50 and counts the rest, as the assembler's do.
#[test]
fn a_long_list_of_errors_is_capped() {
    let mut p = ProgramBuilder::new("labels", Section::SOCKET);
    for _ in 0..120 {
        let l = p.label("nowhere");
        p.jump(l);
    }
    p.exit();
    let errs = errors(p.finish());
    assert_eq!(errs.len(), 120);
    let text = BuildErrors(errs).to_string();
    assert_eq!(
        text.matches(": error: in program `labels`").count(),
        50,
        "{text}"
    );
    assert!(
        text.ends_with("\n\n... and 70 more errors (the first 50 are shown)"),
        "{text}"
    );
}

#[test]
fn the_object_refuses_unknown_maps_and_bad_definitions() {
    let mut obj = Object::new("GPL");
    let mut bad = MapDef::queue::<u32>(4);
    bad.key_size = 4;
    let e = obj.map("q", bad).unwrap_err();
    assert!(e.to_string().contains("key_size must be 0"), "{e}");
    let other = MapRef::new("elsewhere", MapDef::queue::<u32>(4));
    let mut p = ProgramBuilder::new("p", Section::SOCKET);
    p.pop(&other, StackSlot::at(-4)).exit();
    let e = obj.add_program(p.finish().unwrap()).unwrap_err();
    assert!(e.to_string().contains("map `elsewhere`"), "{e}");
    assert!(obj.map("9bad", MapDef::queue::<u32>(1)).is_err());
    // One name rule for maps and functions: `[A-Za-z_][A-Za-z0-9_.]*`.
    assert!(obj.map(".hidden", MapDef::queue::<u32>(1)).is_err());
    assert!(obj.map("with.dot", MapDef::queue::<u32>(1)).is_ok());
    let mut p = ProgramBuilder::new(".entry", Section::SOCKET);
    p.mov(R0, 0).exit();
    let e = obj.add_program(p.finish().unwrap()).unwrap_err();
    assert!(e.to_string().contains(".entry"), "{e}");
}

/// A 64-bit compare of a map helper's `int` result is a warning (not an error): the program
/// builds, and `warnings()` names the Rust line and column of the jump, and of the call.
#[test]
fn a_64_bit_compare_of_a_helper_result_is_a_warning_at_the_rust_line() {
    let (_, q, _) = queue_object();
    let mut p = ProgramBuilder::new("warned", Section::SOCKET);
    let slot = StackSlot::of::<u32>(-4);
    let fail = p.label("fail");
    p.store(Size::U32, R10, -4, 1);
    let call_line = line!() + 1;
    p.push(&q, slot, PushFlags::ANY);
    p.mov(R6, 1002); // another register: r0 still holds the result
    let jump_line = line!() + 1;
    p.jump_if(R0, Cond::Ne, -7, fail);
    p.pop(&q, slot);
    p.jump_if(R0, Cond::Slt, 0, fail); // signed 64-bit: a warning too
    p.pop(&q, slot);
    p.jump_if(W0, Cond::Ne, -2, fail); // the 32-bit view: portable
    p.jump_if(R0, Cond::Ne, 0, fail); // 0 by `!=`: portable
    p.mov(R0, 0).exit();
    p.bind(fail).mov(R0, R6).exit();
    let prog = p.finish().expect("warnings do not stop the build");
    let w = prog.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    let loc = w[0].location.as_ref().unwrap();
    assert_eq!(
        (loc.file.as_str(), loc.line, loc.column),
        (file!(), jump_line, 7)
    );
    let call = w[0].call_location.as_ref().unwrap();
    assert_eq!((call.file.as_str(), call.line), (file!(), call_line));
    let (h0, h1) = (
        w[0].kind.helper_result().unwrap(),
        w[1].kind.helper_result().unwrap(),
    );
    assert_eq!((h0.helper, h0.imm), (87, -7));
    assert_eq!((h1.helper, h1.cond), (88, Cond::Slt));
    assert_eq!(w[0].program, "warned");
    let text = w[0].to_string();
    assert!(
        text.starts_with(&format!(
            "{}:{jump_line}:7: warning: in program `warned`: 64-bit compare of r0, \
             `bpf_map_push_elem`'s int result (helper 87), with -7",
            file!()
        )),
        "{text}"
    );
    assert!(
        text.ends_with("compare the low 32 bits: `if w0 != -7 goto ...`"),
        "{text}"
    );
    // The Rust line of the jump as this file has it, carets under `jump_if`.
    let source = include_str!("program_builder.rs")
        .lines()
        .nth(jump_line as usize - 1)
        .unwrap();
    assert!(
        text.contains(&format!("{jump_line} | {source}\n    |       ^^^^^^^\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "= note: r0 holds the result of the call at {}:{call_line}:",
            file!()
        )),
        "{text}"
    );
}

/// No warning after a helper that returns a pointer, or once r0 was written since the call.
#[test]
fn no_warning_after_lookup_or_once_r0_is_overwritten() {
    let (mut obj, q, _) = queue_object();
    let h = obj.map("h", MapDef::hash::<u32, u64>(4)).unwrap();
    let mut p = ProgramBuilder::new("quiet", Section::SOCKET);
    let out = p.label("out");
    p.store(Size::U32, R10, -4, 0);
    p.ld_map(R1, &h).mov(R2, R10).add(R2, -4);
    p.call(Helper::MapLookupElem);
    p.jump_if(R0, Cond::Ne, -7, out); // a pointer, not an int
    p.pop(&q, StackSlot::of::<u32>(-4));
    p.load(Size::U32, R0, R10, -4); // r0 is the popped value now
    p.jump_if(R0, Cond::Slt, 0, out);
    p.mov(R0, 0);
    p.bind(out).exit();
    assert_eq!(p.finish().unwrap().warnings(), vec![]);
}

/// The seed scenario and the examples teach the portable check.
#[test]
fn the_demo_has_no_warnings() {
    for prog in &bpfsmith::seed::object().programs {
        assert_eq!(prog.warnings(), vec![], "{}", prog.name);
    }
}

/// `finish_lenient`: what the verifier would catch is encoded and reported as warnings with
/// the Rust location; what cannot be encoded stays an error.
#[test]
fn lenient_finish_keeps_programs_meant_to_be_refused() {
    let (mut obj, q, s) = queue_object();
    let h = obj.map("h", MapDef::hash::<u32, u32>(4)).unwrap();
    let mut p = ProgramBuilder::new("refused", Section::SOCKET);
    let end = p.label("end");
    let line = line!() + 1;
    p.push(&q, StackSlot::at(-3), PushFlags(1)); // misaligned, bad flags
    p.pop(&s, StackSlot::at(-600)); // outside the frame
    p.pop(&h, StackSlot::at(-4)); // not a queue or stack
    p.jump(end);
    p.exit();
    p.bind(end); // after the last instruction
    let strict = ProgramBuilder::new("x", Section::SOCKET);
    assert!(strict.finish().is_err(), "empty stays an error");
    let built = p.finish_lenient().expect("encodable");
    let kinds: Vec<String> = built.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(built.warnings.len(), 5, "{kinds:#?}");
    assert!(
        kinds[0].starts_with(&format!("{}:{line}:", file!())),
        "{kinds:#?}"
    );
    assert!(kinds
        .iter()
        .all(|k| k.contains(": warning: in program `refused`")));
    // Each with the Rust line of its call, as this file has it.
    let source = include_str!("program_builder.rs")
        .lines()
        .nth(line as usize - 1)
        .unwrap();
    assert!(
        kinds[0].ends_with(&format!("{line} | {source}\n    |       ^^^^")),
        "{kinds:#?}"
    );
    assert!(built
        .warnings
        .iter()
        .any(|w| matches!(w.0.kind, BuildErrorKind::LabelPastEnd { .. })));
    // The jump to `end` is encoded to land just past the end; the program's own warnings
    // say the verifier refuses it.
    let prog = built.program;
    let w = prog.warnings();
    assert!(
        w.iter()
            .any(|w| w.message().contains("outside the program")),
        "{w:?}"
    );
    obj.add_program(prog).unwrap();
    obj.to_elf().expect("the object is written");
    // Unencodable: an unbound label stays an error.
    let mut p = ProgramBuilder::new("unbound", Section::SOCKET);
    let nowhere = p.label("nowhere");
    p.jump(nowhere).exit();
    assert!(matches!(
        p.finish_lenient(),
        Err(BuildErrors(e)) if matches!(e[0].kind, BuildErrorKind::UnboundLabel { .. })
    ));
}

/// An instruction whose fields the encoding does not define (here a sign-extending 8-byte
/// load, which has no opcode: `LDX | MEMSX | DW` is not an instruction) is reported with its
/// Rust line, as an error, or a warning when lenient (the kernel refuses it just the same).
#[test]
fn instructions_without_an_encoding_are_reported_where_emitted() {
    let bad = Insn::load_sx(Size::U64, R0, R10, -8);
    // The independent check: the decoder refuses the bytes this instruction encodes to.
    assert!(bpfsmith::insn::decode(&bad.to_bytes()).is_err());
    let build = || {
        let mut p = ProgramBuilder::new("undefined", Section::SOCKET);
        p.store(Size::U64, R10, -8, 0);
        p.emit(bad); // the line reported
        p.exit();
        p
    };
    let line = line!() - 4;
    let errs = errors(build().finish());
    assert_eq!(errs.len(), 1);
    assert!(matches!(errs[0].kind, BuildErrorKind::Undefined { insn, .. } if insn == bad));
    assert_eq!(errs[0].location.line, line);
    assert!(
        errs[0].to_string().contains("has no encoding"),
        "{}",
        errs[0]
    );
    let built = build().finish_lenient().unwrap();
    assert_eq!(built.warnings.len(), 1);
}

/// Instructions built as values are the ones the builder's methods emit (bpf_ktime_get_ns is
/// helper 5 in the kernel's uapi list).
#[test]
fn insn_values_match_the_builder_methods() {
    let mut p = ProgramBuilder::new("values", Section::SOCKET);
    p.mov(R1, R10)
        .add(R1, -4)
        .mov(W2, 7)
        .store(Size::U32, R10, -4, 1);
    p.store_reg(Size::U64, R10, -16, R1)
        .load(Size::U32, R0, R10, -4);
    p.call(Helper::KtimeGetNs).exit();
    // Spelled as the variants (the encoding's fields), not with the constructors under test.
    let want = [
        mov64(R1, Operand::Reg(R10)),
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: R1,
            src: Operand::Imm(-4),
        },
        Insn::Alu {
            width: Width::W32,
            op: AluOp::Mov,
            dst: R2,
            src: Operand::Imm(7),
        },
        Insn::StoreImm {
            size: Size::U32,
            dst: R10,
            off: -4,
            imm: 1,
        },
        Insn::Store {
            size: Size::U64,
            dst: R10,
            off: -16,
            src: R1,
        },
        Insn::Load {
            size: Size::U32,
            sign: false,
            dst: R0,
            src: R10,
            off: -4,
        },
        Insn::Call(Callee::Helper(5)),
        Insn::Exit,
    ];
    assert_eq!(p.finish().unwrap().insns, want);
    let values = [
        Insn::mov(R1, R10),
        Insn::add(R1, -4),
        Insn::mov(W2, 7),
        Insn::store(Size::U32, R10, -4, 1),
        Insn::store(Size::U64, R10, -16, R1),
        Insn::load(Size::U32, R0, R10, -4),
        Insn::call(Helper::KtimeGetNs),
        Insn::exit(),
    ];
    assert_eq!(values, want);
}

/// A fragment appended twice: each copy jumps within itself, its labels get their own names,
/// its instructions keep the fragment's source lines, and a problem inside it is reported at
/// its line by the builder's `finish`.
#[test]
fn fragments_append_with_their_own_labels_and_lines() {
    let frag_line = line!() + 3;
    let skip = Fragment::build(|f| {
        let over = f.label("over");
        f.jump(over); // frag_line
        f.mov(R0, 1);
        f.bind(over).mov(R2, 0);
    });
    assert_eq!(skip.len(), 3);
    let mut p = ProgramBuilder::new("twice", Section::SOCKET);
    p.mov(R0, 0);
    p.append(&skip).append(&skip);
    p.exit();
    let prog = p.finish().unwrap();
    // goto +1 skips the `r0 = 1` of its own copy (offsets count from the next slot).
    assert_eq!(prog.insns[1], Insn::Ja { off: 1 });
    assert_eq!(prog.insns[4], Insn::Ja { off: 1 });
    assert_eq!(
        prog.labels,
        vec![(3, "over".to_owned()), (6, "over.1".to_owned())]
    );
    let src = prog.source(4).unwrap();
    assert!(src.file.ends_with("program_builder.rs"), "{}", src.file);
    assert_eq!(src.line, frag_line);

    // An unbound label inside a fragment: reported at the fragment's line, once per copy.
    let broken = Fragment::build(|f| {
        let nowhere = f.label("nowhere");
        f.jump(nowhere);
    });
    let broken_line = line!() - 2;
    let mut p = ProgramBuilder::new("broken", Section::SOCKET);
    p.append(&broken).append(&broken).exit();
    let errs = errors(p.finish());
    assert_eq!(errs.len(), 2);
    for e in &errs {
        assert!(
            matches!(&e.kind, BuildErrorKind::UnboundLabel { label } if label.starts_with("nowhere"))
        );
        assert_eq!(e.location.line, broken_line);
    }
}
