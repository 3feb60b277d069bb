//! The verifier-log parser against the formats of older kernels (hand-written fixtures in
//! `tests/fixtures/verifier/older`, see the README there).

use bpfsmith::verifier::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/verifier/older/{name}.log",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn v5_state_lines_and_inv() {
    let text = fixture("v5-level2-accepted");
    let log = VerifierLog::parse(&text);
    let r = log.records();
    // `0: R1=ctx(id=0,off=0,imm=0) R10=fp0`
    let Kind::State { insn: 0, state } = r[1].kind else {
        panic!("{:?}", r[1])
    };
    let st = state.parse();
    let ctx = st.reg(1).unwrap().value.as_pointer().copied().unwrap();
    assert_eq!(ctx.kind, PtrKind::Ctx);
    assert_eq!((ctx.id(), ctx.off()), (Some(0), Some(0)));
    // `; int x = 0;`: no ` @ file:line` before 6.2.
    let Kind::Source(s) = r[2].kind else { panic!() };
    assert_eq!((s.text, s.file, s.line), ("int x = 0;", None, None));
    // `1: R0_w=inv0 ...`
    let Kind::State { insn: 1, state } = r[4].kind else {
        panic!("{:?}", r[4])
    };
    let r0 = state.parse().regs[0].clone();
    assert!(r0.written);
    assert_eq!(r0.value, Value::Const(0));
    // `R2_w=invP(id=0,umax_value=255,var_off=(0x0; 0xff))`
    let Kind::State { insn: 3, state } = r[9].kind else {
        panic!("{:?}", r[9])
    };
    let st = state.parse();
    let r2 = st.reg(2).unwrap();
    assert!(r2.precise && r2.written);
    let sc = r2.value.as_scalar().unwrap();
    assert_eq!(
        (sc.id, sc.umax, sc.var_off),
        (Some(0), Some(255), Some((0, 0xff)))
    );
    // Backtracking lines without the `mark_precise:` prefix are kept as unknown lines.
    assert_eq!(r[12].kind, Kind::Unknown);
    assert!(log.error().is_none());
    let branch = r
        .iter()
        .find_map(|r| match r.kind {
            Kind::Branch {
                from, to, state, ..
            } => Some((from, to, state)),
            _ => None,
        })
        .unwrap();
    assert_eq!((branch.0, branch.1), (3, 5));
    assert_eq!(
        branch
            .2
            .parse()
            .reg(2)
            .unwrap()
            .value
            .as_scalar()
            .unwrap()
            .umin,
        Some(11)
    );
    assert_eq!(log.path_insns(), [0, 1, 2, 3, 5]);
    let st = log.state_before(5).unwrap();
    assert_eq!(
        st.reg(2).unwrap().state.value.as_scalar().unwrap().umin,
        Some(11)
    );
    assert_eq!(log.stats().processed_insns, Some(7));
}

#[test]
fn v5_errors() {
    let cases = [
        (
            "v5-level1-uninit-stack",
            "invalid indirect read from stack R2 off -4+0 size 4",
            7,
        ),
        (
            "v5-level1-lookup-queue",
            "cannot pass map_type 22 into func bpf_map_lookup_elem#1",
            6,
        ),
        ("v5-level2-not-map", "R1 type=inv expected=map_ptr", 3),
    ];
    for (name, message, insn) in cases {
        let text = fixture(name);
        let log = VerifierLog::parse(&text);
        let e = log.error().unwrap();
        assert_eq!(e.message(), message, "{name}");
        assert_eq!(e.insn, Some(insn), "{name}");
    }
    let text = fixture("v5-level2-not-map");
    let log = VerifierLog::parse(&text);
    let st = log.state_before(3).unwrap();
    assert_eq!(st.reg(1).unwrap().state.value, Value::Const(0));
    assert_eq!(
        st.reg(2).unwrap().state.value.as_pointer().unwrap().off(),
        Some(-4)
    );
}

#[test]
fn v5_bpf_to_bpf() {
    let text = fixture("v5-level2-bpf2bpf");
    let log = VerifierLog::parse(&text);
    assert_eq!(log.path_insns(), [0, 1, 2, 3, 4, 5, 7, 8, 6]);
    let st = log.state_before(8).unwrap();
    assert_eq!(st.frame, 1);
    assert_eq!(st.reg(0).unwrap().state.value, Value::Const(0));
    // `R10=fp0,call_5`: a stack pointer with the older call-site suffix.
    let r10 = st
        .reg(10)
        .unwrap()
        .state
        .value
        .as_pointer()
        .copied()
        .unwrap();
    assert_eq!(
        (r10.kind, r10.off(), r10.params),
        (PtrKind::Stack, Some(0), "call_5")
    );
    let st = log.state_before(6).unwrap();
    assert_eq!(st.frame, 0);
    assert_eq!(
        st.slot(-8).unwrap().state.contents,
        SlotContents::Types("00000000")
    );
    assert!(st.slot(-8).unwrap().state.written);
    assert_eq!(log.stats().stack_depth, [8, 0]);
    assert!(log.error().is_none());
}

#[test]
fn v4_footers_and_cfg_errors() {
    let text = fixture("v4.19-level2-stack-depth");
    let log = VerifierLog::parse(&text);
    let s = log.stats();
    assert_eq!(s.processed_insns, Some(4));
    assert_eq!(s.insn_limit, Some(131_072));
    assert_eq!(s.stack_depth, [8]);
    assert_eq!(s.total_states, None);
    assert!(log.error().is_none());

    let text = fixture("v4.14-level1-back-edge");
    let log = VerifierLog::parse(&text);
    let e = log.error().unwrap();
    assert_eq!(e.message(), "back-edge from insn 2 to 1");
    assert_eq!(e.insn, None);
    assert_eq!(log.stats(), Stats::default());

    let text = fixture("v4.9-level2-imm");
    let log = VerifierLog::parse(&text);
    let e = log.error().unwrap();
    assert_eq!(
        (e.message().as_str(), e.insn),
        ("R9 invalid mem access 'inv'", Some(4))
    );
    let Kind::FrameState(st) = log.records()[4].kind else {
        panic!("{:?}", log.records()[4])
    };
    let st = st.parse();
    assert_eq!(st.reg(1).unwrap().value, Value::Const(2));
    assert_eq!(st.reg(6).unwrap().value, Value::Scalar(Scalar::default()));
    assert_eq!(
        st.reg(10).unwrap().value.as_pointer().unwrap().off(),
        Some(0)
    );
    assert!(matches!(
        st.slot(-16).unwrap().contents,
        SlotContents::Spilled(Value::Unknown("imm"))
    ));
}
