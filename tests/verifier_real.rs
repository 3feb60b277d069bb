//! The verifier-log parser against real logs captured from Linux 6.18
//! (`tests/fixtures/verifier/linux-6.18`, see the README there for how they were produced).

use bpfsmith::verifier::*;

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/verifier/linux-6.18"
);

fn fixture(name: &str) -> String {
    let path = format!("{DIR}/{name}.log");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn all_fixtures() -> Vec<(String, String)> {
    let mut v: Vec<_> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    v
}

fn insn(log: &VerifierLog<'_>, record: usize) -> InsnLine<'static> {
    match log.records()[record].kind {
        Kind::Insn(l) => InsnLine {
            insn: l.insn,
            opcode: l.opcode,
            text: leak(l.text),
            state: StateText(leak(l.state.0)),
            glued_target: l.glued_target,
        },
        k => panic!("record {record} is {k:?}, not an instruction"),
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

const REFUSED: &[&str] = &[
    "push_uninit",
    "lookup_queue",
    "lookup_queue_mapvalue",
    "perf_output_queue",
    "tail_call_queue",
    "r1_not_map",
    "read_after_call",
    "branch_refused",
    "infinite_loop",
];

#[test]
fn every_line_is_one_record_and_understood() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 80, "{} fixtures", fixtures.len());
    for (name, text) in &fixtures {
        let log = VerifierLog::parse(text);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(log.records().len(), lines.len(), "{name}");
        for (i, (r, l)) in log.records().iter().zip(&lines).enumerate() {
            assert_eq!(r.raw, *l, "{name}");
            assert_eq!(r.line as usize, i + 1, "{name}");
            assert!(
                !matches!(r.kind, Kind::Unknown),
                "{name}:{}: unknown line {:?}",
                r.line,
                r.raw
            );
            // Every state entry on a real log is a register, a slot or refs=.
            let states = match r.kind {
                Kind::Insn(l) => vec![l.state],
                Kind::State { state, .. } | Kind::FrameState(state) => vec![state],
                Kind::Branch { state, .. } => vec![state],
                _ => vec![],
            };
            for st in states {
                let p = st.parse();
                assert!(p.other.is_empty(), "{name}:{}: {:?}", r.line, p.other);
                for reg in &p.regs {
                    assert!(
                        !matches!(reg.value, Value::Unknown(_)),
                        "{name}:{}: {}",
                        r.line,
                        reg.raw
                    );
                }
            }
        }
        let program = name.split('.').next().unwrap();
        assert_eq!(
            log.error().is_some(),
            REFUSED.contains(&program),
            "{name}: error {:?}",
            log.error()
        );
    }
}

#[test]
fn queue_push_pop_level2() {
    let text = fixture("queue_push_pop.level2");
    let log = VerifierLog::parse(&text);
    let r = log.records();
    assert_eq!(r[0].kind, Kind::Func { func: 0, insn: 0 });
    assert_eq!(r[1].kind, Kind::LiveRegsHeader);
    // `      6: .123...... (85) call bpf_map_push_elem#87`
    let Kind::LiveRegs(l) = r[7].kind else {
        panic!("{:?}", r[7])
    };
    assert_eq!((l.insn, l.live, l.opcode), (6, 0b1110, 0x85));
    assert_eq!(l.text, "call bpf_map_push_elem#87");

    // `0: R1=ctx() R10=fp0`: the state at the start.
    let Kind::State { insn: 0, state } = r[17].kind else {
        panic!("{:?}", r[17])
    };
    let st = state.parse();
    assert_eq!(
        st.reg(1).unwrap().value.as_pointer().unwrap().kind,
        PtrKind::Ctx
    );
    assert_eq!(
        st.reg(10).unwrap().value.as_pointer().unwrap().off(),
        Some(0)
    );

    // Line 20: `0: (62) *(u32 *)(r10 -4) = 1234       ; R10=fp0 fp-8=mmmm????`
    let i = insn(&log, 19);
    assert_eq!(
        (i.insn, i.opcode, i.text),
        (0, 0x62, "*(u32 *)(r10 -4) = 1234")
    );
    assert_eq!(
        i.state.parse().slot(-8).unwrap().contents,
        SlotContents::Types("mmmm????")
    );

    // Line 22: the map reference.
    let i = insn(&log, 21);
    assert_eq!((i.insn, i.opcode), (1, 0x18));
    let st = i.state.parse();
    let map = st.reg(1).unwrap().value.as_pointer().copied().unwrap();
    assert_eq!(map.kind, PtrKind::MapPtr);
    assert_eq!(
        (map.map_name(), map.key_size(), map.value_size()),
        (Some("queue"), Some(0), Some(4))
    );

    // Line 26: `4: (07) r2 += -4                      ; R2=fp-4`
    assert_eq!(r[25].line, 26);
    let i = insn(&log, 25);
    assert_eq!((i.insn, i.opcode, i.text), (4, 0x07, "r2 += -4"));
    let st = i.state.parse();
    let r2 = st.reg(2).unwrap();
    assert!(!r2.written && !r2.precise);
    assert_eq!(r2.value.as_pointer().unwrap().kind, PtrKind::Stack);
    assert_eq!(r2.value.as_pointer().unwrap().off(), Some(-4));
    let src = log.source_for(25).unwrap();
    assert_eq!(
        (src.text, src.file, src.line),
        ("r2 += -4", Some("queue_push_pop.s"), Some(7))
    );

    // The helper calls.
    let calls: Vec<_> = log
        .insns()
        .filter(|(_, l)| l.opcode == 0x85)
        .map(|(_, l)| l.text)
        .collect();
    assert_eq!(
        calls,
        ["call bpf_map_push_elem#87", "call bpf_map_pop_elem#88"]
    );

    // `from 12 to 15: R0=scalar(umin=1) R10=fp0 fp-8=mmmmmmmm`
    let (b, from, to, state) = r
        .iter()
        .enumerate()
        .find_map(|(i, r)| match r.kind {
            Kind::Branch {
                from, to, state, ..
            } => Some((i, from, to, state)),
            _ => None,
        })
        .unwrap();
    assert_eq!((from, to), (12, 15));
    let st = state.parse();
    assert_eq!(st.reg(0).unwrap().value.as_scalar().unwrap().umin, Some(1));
    assert_eq!(
        log.branch_links().get(&b).map(|&i| insn(&log, i).insn),
        Some(12)
    );

    assert!(log.error().is_none());
    assert_eq!(
        log.path_insns(),
        [0, 1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16]
    );
    let s = log.stats();
    assert_eq!(s.processed_insns, Some(15));
    assert_eq!(s.insn_limit, Some(1_000_000));
    assert_eq!((s.total_states, s.peak_states), (Some(1), Some(1)));
    assert_eq!(s.verification_time_usec, None);

    // Before the pop's load (not on the last path, which went to 15): r0 was refined by the
    // branch and fp-8 written by the helper.
    let before = log.state_before(13).unwrap();
    assert_eq!(before.reg(0).unwrap().state.value, Value::Const(0));
    assert_eq!(
        before.slot(-8).unwrap().state.contents,
        SlotContents::Types("mmmmmmmm")
    );
    assert_eq!(log.records()[before.slot(-8).unwrap().record].line, 38);
    assert!(log.state_before(99).is_none());
}

#[test]
fn stats_levels() {
    let log_text = fixture("queue_push_pop.level6");
    let s = VerifierLog::parse(&log_text).stats();
    assert!(s.verification_time_usec.is_some());
    assert_eq!(s.stack_depth, [8]);
    assert_eq!(s.processed_insns, Some(15));

    let text = fixture("queue_push_pop.level4");
    let log = VerifierLog::parse(&text);
    assert_eq!(log.records().len(), 3);
    assert!(matches!(log.records()[0].kind, Kind::VerificationTime(_)));
    assert_eq!(log.records()[1].kind, Kind::StackDepth("8"));
    assert!(matches!(log.records()[2].kind, Kind::Footer(_)));
    assert_eq!(log.stats().max_states_per_insn, Some(0));
    assert_eq!(log.stats().mark_read, Some(0));

    // A level-1 log of an accepted program is the footer alone.
    let text = fixture("queue_push_pop.level1");
    let log = VerifierLog::parse(&text);
    assert_eq!(log.records().len(), 1);
    assert!(log.error().is_none());
    assert!(log.path().is_empty());

    let text = fixture("bpf2bpf.level6");
    let s = VerifierLog::parse(&text).stats();
    assert_eq!(s.stack_depth, [8, 8]);
    assert_eq!(s.total_stack_depth(), Some(16));
}

#[test]
fn refused_errors() {
    let cases: &[(&str, &str, Option<u32>)] = &[
        (
            "push_uninit",
            "invalid read from stack R2 off=-4 size=4",
            Some(5),
        ),
        ("lookup_queue", "invalid zero-sized read", Some(5)),
        (
            "lookup_queue_mapvalue",
            "invalid access to map value, value_size=8 off=0 size=0\n\
             R2 min value is outside of the allowed memory range",
            Some(10),
        ),
        (
            "perf_output_queue",
            "cannot pass map_type 22 into func bpf_perf_event_output#25",
            Some(7),
        ),
        (
            "tail_call_queue",
            "expected prog array map for tail call",
            Some(3),
        ),
        ("r1_not_map", "R1 type=scalar expected=map_ptr", Some(5)),
        ("read_after_call", "R1 !read_ok", Some(7)),
        (
            "branch_refused",
            "R0 invalid mem access 'map_value_or_null'",
            Some(14),
        ),
        (
            "infinite_loop",
            "infinite loop detected at insn 1\ncur state: R0=0 R1=0 R10=fp0\n\
             old state: R0=0 R1=0 R10=fp0",
            Some(2),
        ),
    ];
    for &(name, message, at) in cases {
        for level in [1, 2, 5, 6] {
            let text = fixture(&format!("{name}.level{level}"));
            let log = VerifierLog::parse(&text);
            let e = log
                .error()
                .unwrap_or_else(|| panic!("{name} level {level}: no error"));
            assert_eq!(e.message(), message, "{name} level {level}");
            assert_eq!(e.insn, at, "{name} level {level}");
            assert_eq!(
                e.headline(),
                message.lines().next().unwrap(),
                "{name} level {level}"
            );
            // The failing instruction ends the path.
            assert_eq!(log.path_insns().last().copied(), at, "{name} level {level}");
        }
        // Level 4 alone: the message and the stats, nothing of the path.
        let text = fixture(&format!("{name}.level4"));
        let log = VerifierLog::parse(&text);
        let e = log.error().unwrap();
        assert_eq!(e.message(), message, "{name} level 4");
        assert_eq!(e.insn, None);
        assert!(log.stats().processed_insns.is_some());
    }
}

#[test]
fn glued_error_keeps_stats() {
    let text = fixture("tail_call_queue.level6");
    let log = VerifierLog::parse(&text);
    let Kind::Glued { message, stats } = log.records()[14].kind else {
        panic!("{:?}", log.records()[14])
    };
    assert_eq!(message, "expected prog array map for tail call");
    assert!(stats.starts_with("verification time "));
    let s = log.stats();
    assert!(s.verification_time_usec.is_some());
    assert_eq!(s.stack_depth, [0]);
    assert_eq!(s.processed_insns, Some(3));
}

#[test]
fn state_before_the_failing_instruction() {
    // push_uninit: r2 = fp-4 points at a slot never written.
    let text = fixture("push_uninit.level2");
    let log = VerifierLog::parse(&text);
    let st = log.state_before(5).unwrap();
    let r2 = st.reg(2).unwrap();
    assert_eq!(r2.state.value.as_pointer().unwrap().off(), Some(-4));
    assert_eq!(insn(&log, r2.record).text, "r2 += -4");
    assert_eq!(
        st.reg(1)
            .unwrap()
            .state
            .value
            .as_pointer()
            .unwrap()
            .map_name(),
        Some("queue")
    );
    assert_eq!(st.reg(3).unwrap().state.value, Value::Const(0));
    assert!(st.slot(-8).is_none());

    // r1_not_map: r1 is the constant 0, set by instruction 1.
    let text = fixture("r1_not_map.level1");
    let log = VerifierLog::parse(&text);
    let st = log.state_before(5).unwrap();
    let r1 = st.reg(1).unwrap();
    assert_eq!(r1.state.value, Value::Const(0));
    assert_eq!(insn(&log, r1.record).insn, 1);
    assert_eq!(insn(&log, r1.record).text, "r1 = 0");

    // read_after_call: the helper call clobbered r1.
    let text = fixture("read_after_call.level2");
    let log = VerifierLog::parse(&text);
    let st = log.state_before(7).unwrap();
    assert!(st.reg(1).is_none());
    assert_eq!(
        st.reg(0).unwrap().state.value,
        Value::Scalar(Scalar::default())
    );
    assert!(st.reg(10).is_some());
}

#[test]
fn branch_refused_paths() {
    for level in [1, 2] {
        let text = fixture(&format!("branch_refused.level{level}"));
        let log = VerifierLog::parse(&text);
        assert_eq!(
            log.path_insns(),
            [0, 1, 2, 3, 9, 11, 12, 13, 14],
            "level {level}"
        );
        let st = log.state_before(14).unwrap();
        let r0 = st
            .reg(0)
            .unwrap()
            .state
            .value
            .as_pointer()
            .copied()
            .unwrap();
        assert_eq!(r0.kind, PtrKind::MapValueOrNull);
        assert_eq!((r0.id(), r0.map_name()), (Some(1), Some("hash")));
        let r7 = st.reg(7).unwrap().state.value.as_scalar().copied().unwrap();
        assert_eq!(r7.umin, Some(1501));
        assert_eq!(r7.umax, Some(0xffff_ffff));
        assert_eq!(
            st.slot(-8).unwrap().state.contents,
            SlotContents::Types("0000????")
        );
    }
    // Level 1 glues the branch target to the jump.
    let text = fixture("branch_refused.level1");
    let log = VerifierLog::parse(&text);
    let i = insn(&log, 8);
    assert_eq!(i.text, "if r7 > 0x5dc goto pc+5");
    assert_eq!(i.glued_target, Some(9));
    let st = i.state.parse();
    assert_eq!(
        st.reg(7).unwrap().value.as_scalar().unwrap().umin,
        Some(1501)
    );

    // Level 2 explores the other two branches first.
    let text = fixture("branch_refused.level2");
    let log = VerifierLog::parse(&text);
    let branches: Vec<_> = log
        .records()
        .iter()
        .filter_map(|r| match r.kind {
            Kind::Branch { from, to, .. } => Some((from, to)),
            _ => None,
        })
        .collect();
    assert_eq!(branches, [(4, 7), (3, 9)]);
}

#[test]
fn branches_and_safe() {
    let text = fixture("branches.level2");
    let log = VerifierLog::parse(&text);
    let branches: Vec<_> = log
        .records()
        .iter()
        .filter_map(|r| match r.kind {
            Kind::Branch { from, to, safe, .. } => Some((from, to, safe)),
            _ => None,
        })
        .collect();
    assert_eq!(
        branches,
        [
            (6, 9, false),
            (4, 11, false),
            (12, 15, false),
            (3, 17, false)
        ]
    );
    let safe: Vec<_> = log
        .records()
        .iter()
        .filter_map(|r| match r.kind {
            Kind::Safe { insn } => Some(insn),
            _ => None,
        })
        .collect();
    assert_eq!(safe, [18, 18, 18, 18]);
    // The last path explored: 0..=3, then the jump to 17.
    assert_eq!(log.path_insns(), [0, 1, 2, 3, 17]);
    let st = log.state_before(17).unwrap();
    assert_eq!(
        st.reg(7).unwrap().state.value.as_scalar().unwrap().umin,
        Some(1501)
    );
    assert_eq!(st.reg(0).unwrap().state.value, Value::Const(0));
    // A path through the middle: `from 12 to 15` continues the piece that ran 11 and 12,
    // which itself started at `from 4 to 11`.
    let from12 = log
        .records()
        .iter()
        .position(|r| matches!(r.kind, Kind::Branch { from: 12, .. }))
        .unwrap();
    let path: Vec<u32> = log
        .path_to(from12 + 4)
        .into_iter()
        .filter_map(|i| match log.records()[i].kind {
            Kind::Insn(l) => Some(l.insn),
            _ => None,
        })
        .collect();
    assert_eq!(path, [0, 1, 2, 3, 4, 11, 12, 15]);
}

#[test]
fn bpf_to_bpf_call() {
    let text = fixture("bpf2bpf.level2");
    let log = VerifierLog::parse(&text);
    let r = log.records();
    assert_eq!(r[0].kind, Kind::Func { func: 0, insn: 0 });
    assert_eq!(r[1].kind, Kind::Func { func: 1, insn: 9 });
    let headers: Vec<_> = r
        .iter()
        .filter_map(|r| match r.kind {
            Kind::FrameHeader(h) => Some(h),
            _ => None,
        })
        .collect();
    assert_eq!(
        headers,
        [
            FrameHeader::Caller,
            FrameHeader::Callee,
            FrameHeader::ReturningFromCallee,
            FrameHeader::ToCallerAt(6)
        ]
    );
    // ` frame1: R1=fp[0]-8 R2=5 R10=fp0` under `callee:`.
    let callee = r
        .iter()
        .position(|r| r.kind == Kind::FrameHeader(FrameHeader::Callee))
        .unwrap();
    let Kind::FrameState(st) = r[callee + 1].kind else {
        panic!()
    };
    let st = st.parse();
    assert_eq!(st.frame, Some(1));
    let r1 = st.reg(1).unwrap().value.as_pointer().copied().unwrap();
    assert_eq!((r1.stack_frame, r1.off()), (Some(0), Some(-8)));
    assert_eq!(st.reg(2).unwrap().value, Value::Const(5));

    assert_eq!(
        log.path_insns(),
        [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 6, 7, 8]
    );
    // Inside the callee: frame 1.
    let st = log.state_before(12).unwrap();
    assert_eq!(st.frame, 1);
    assert_eq!(st.reg(2).unwrap().state.value, Value::Const(5));
    assert_eq!(st.reg(3).unwrap().state.value, Value::Const(5));
    assert_eq!(
        st.frames[0].regs[6]
            .as_ref()
            .unwrap()
            .state
            .value
            .as_pointer()
            .unwrap()
            .kind,
        PtrKind::Ctx
    );
    // Back in the caller: r0 = 0 from the callee, fp-8 holds the 5 the callee stored.
    let st = log.state_before(6).unwrap();
    assert_eq!(st.frame, 0);
    assert_eq!(st.frames.len(), 1);
    assert_eq!(st.reg(0).unwrap().state.value, Value::Const(0));
    assert_eq!(
        st.slot(-8).unwrap().state.contents,
        SlotContents::Spilled(Value::Const(5))
    );
}

#[test]
fn mark_precise_lines() {
    let text = fixture("precise.level2");
    let log = VerifierLog::parse(&text);
    let marks: Vec<_> = log
        .records()
        .iter()
        .filter_map(|r| match r.kind {
            Kind::MarkPrecise(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(marks.len(), 9);
    assert_eq!(marks[0].frame, Some(0));
    assert_eq!(
        (marks[0].last_idx(), marks[0].first_idx()),
        (Some(9), Some(0))
    );
    assert_eq!(marks[1].regs(), Some(vec![4]));
    assert_eq!(marks[1].before_insn(), Some(8));
    assert_eq!(marks[2].regs(), Some(vec![7]));
    assert_eq!(marks[8].before_insn(), Some(1));

    // `r4 = r7` shares an id between the two registers.
    let (_, l) = log.insns().find(|(_, l)| l.insn == 8).unwrap();
    let st = l.state.parse();
    let r4 = st.reg(4).unwrap().value.as_scalar().copied().unwrap();
    assert_eq!(r4.id, Some(1));
    assert_eq!(
        (r4.smin, r4.smax, r4.umin32, r4.umax32),
        (Some(1), Some(8), Some(1), Some(8))
    );
    assert_eq!(r4.var_off, Some((0, 0xf)));

    let text = fixture("bounded_loop.level2");
    let log = VerifierLog::parse(&text);
    let parent = log
        .records()
        .iter()
        .find_map(|r| match r.kind {
            Kind::MarkPrecise(m) => m.parent_state(),
            _ => None,
        })
        .unwrap();
    let st = parent.parse();
    let r1 = st.reg(1).unwrap();
    assert!(r1.precise);
    assert_eq!(r1.value, Value::Const(2));
    let scc: Vec<_> = log
        .records()
        .iter()
        .filter_map(|r| match r.kind {
            Kind::Scc(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(scc, ["SCC enter (1)", "SCC exit (1)"]);
    assert_eq!(
        log.path_insns(),
        [0, 1, 2, 3, 4, 2, 3, 4, 2, 3, 4, 2, 3, 4, 5]
    );
}

#[test]
fn array_value_with_variable_offset() {
    let text = fixture("array_lookup.level2");
    let log = VerifierLog::parse(&text);
    let (_, s) = log
        .records()
        .iter()
        .find_map(|r| match r.kind {
            Kind::State { insn: 13, state } => Some((13, state)),
            _ => None,
        })
        .unwrap();
    let st = s.parse();
    let p = st.reg(0).unwrap().value.as_pointer().copied().unwrap();
    assert_eq!(p.kind, PtrKind::MapValue);
    assert_eq!(p.map_name(), Some("array"));
    let bounds = Scalar::from_params(p.params);
    assert_eq!((bounds.smin, bounds.umax), (Some(0), Some(6)));
    assert_eq!(bounds.var_off, Some((0, 6)));
}

#[test]
fn infinite_loop_block() {
    let text = fixture("infinite_loop.level2");
    let log = VerifierLog::parse(&text);
    let live: Vec<_> = log
        .records()
        .iter()
        .filter_map(|r| match r.kind {
            Kind::LiveRegs(l) => Some((l.scc, l.insn)),
            _ => None,
        })
        .collect();
    assert_eq!(live, [(None, 0), (Some(1), 1), (Some(1), 2)]);
    let e = log.error().unwrap();
    assert_eq!(e.records.len(), 3);
    assert!(e
        .records
        .clone()
        .all(|i| matches!(log.records()[i].kind, Kind::Error(_))));
}

#[test]
fn without_line_info() {
    let text = fixture("queue_push_pop-nobtf.level2");
    let log = VerifierLog::parse(&text);
    assert!(!log
        .records()
        .iter()
        .any(|r| matches!(r.kind, Kind::Source(_))));
    assert!(log.source_for(log.records().len()).is_none());
    assert_eq!(
        log.path_insns(),
        [0, 1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 15, 16]
    );
}

#[test]
fn buffer_tail_of_nuls_is_not_an_error() {
    let mut text = fixture("queue_push_pop.level5");
    text.push_str("\0\0\0\0");
    let log = VerifierLog::parse(&text);
    assert!(log.error().is_none());
    assert_eq!(log.stats().mark_read, Some(0));
    let mut text = fixture("queue_push_pop.level5");
    text.pop();
    text.push_str("\0\0");
    let log = VerifierLog::parse(&text);
    assert!(log.error().is_none());
    assert_eq!(log.stats().mark_read, Some(0));
}
