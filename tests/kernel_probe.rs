//! The kernel probe on this machine's kernel (Linux 6.18 here), and the loader's naming of a
//! missing feature.
//!
//! `BPFSMITH_PRINT_PROBE=1` prints the probe (text and JSON), which is how its output on other
//! kernels is seen until the CLI has a `probe` command.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::helpers::Helper;
use bpfsmith::insn::{AluOp, Insn, Operand, Width};
use bpfsmith::load::{LoadError, MissingFeature};
use bpfsmith::prelude::*;
use bpfsmith::probe::{isa, probe, Feature, Support};

/// `(major, minor)` of the running kernel.
fn running() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    bpfsmith::guest::release_version(release.trim()).unwrap()
}

#[test]
fn the_probe_finds_what_this_kernel_has() {
    require_kernel!("the_probe_finds_what_this_kernel_has");
    let p = probe();
    if std::env::var("BPFSMITH_PRINT_PROBE").is_ok_and(|v| v == "1") {
        eprintln!("{p}\n{}", p.to_json());
    }
    let version = running();
    assert_eq!(
        p.isa.release,
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap()
            .trim()
    );
    // Every feature as old as the running kernel is there; the newer ones may be too (Debian's
    // 6.1 has gotol), and when not, the refusal says why.
    for (f, s) in &p.isa.features {
        if f.since_linux() <= version {
            assert_eq!(*s, Support::Yes, "{f}: {s}");
        } else {
            assert!(s.is_known(), "{f}: {s}");
        }
    }
    if version >= (6, 6) {
        assert_eq!(p.isa.cpu_version(), 4, "{p}");
        for f in Feature::CPU_V4 {
            assert!(p.isa.support(f).is_yes(), "{f}");
        }
    }
    assert_eq!(p.queue_map, Support::Yes);
    assert_eq!(p.stack_map, Support::Yes);
    let helpers: Vec<(u32, bool)> = p
        .helpers
        .iter()
        .map(|(h, s)| (h.id(), s.is_yes()))
        .collect();
    assert_eq!(helpers, vec![(87, true), (88, true), (89, true)]);
    assert_eq!(p.helpers[1].0, Helper::MapPopElem);
    assert_eq!(p.btf, Support::Yes);
    assert_eq!(p.func_info, Support::Yes);
    assert_eq!(p.line_info, Support::Yes);
    assert_eq!(
        p.log_true_size.is_yes(),
        version >= (6, 4),
        "{}",
        p.log_true_size
    );
    assert!(p.jit_enable.is_some());
    assert!(p.unprivileged_bpf_disabled.is_some());

    // The text has one line per feature, the JSON one key per feature.
    let text = p.to_string();
    assert!(text.contains("v4 sdiv/smod (Linux 6.6)"), "{text}");
    assert!(text.contains("helper 88 bpf_map_pop_elem"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
    assert_eq!(json["isa"]["sdiv_smod"]["cpu"], 4);
    assert_eq!(json["isa"]["sdiv_smod"]["since"], "6.6");
    assert_eq!(json["helpers"]["87"]["name"], "bpf_map_push_elem");
    assert_eq!(json["maps"]["queue"]["supported"], true);
    assert_eq!(json["cpu_version"], p.isa.cpu_version());
}

#[test]
fn probing_leaves_no_descriptor_open() {
    require_kernel!("probing_leaves_no_descriptor_open");
    // Other tests of this binary run at the same time and hold a few descriptors for a
    // moment; a leak would keep at least one per probed object (more than 15 per probe).
    let open = || std::fs::read_dir("/proc/self/fd").unwrap().count();
    let _ = probe();
    let before = open();
    for _ in 0..3 {
        let _ = probe();
    }
    let after = open();
    assert!(
        after < before + 5,
        "{before} descriptors before, {after} after"
    );
}

#[test]
fn the_cached_probe_agrees_with_a_fresh_one() {
    require_kernel!("the_cached_probe_agrees_with_a_fresh_one");
    assert_eq!(*isa(), bpfsmith::probe::Isa::probe());
}

/// A program using `s/=` on line `here` of this file.
fn sdiv_program() -> (Object, u32) {
    let mut obj = Object::new("GPL");
    let mut p = ProgramBuilder::new("signed", Section::SOCKET);
    p.ld_imm64(R1, 7);
    let line = line!() + 1;
    p.alu(AluOp::SDiv, R1, 3);
    p.mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    (obj, line)
}

#[test]
fn a_program_this_kernel_is_too_old_for_names_the_feature() {
    require_kernel!("a_program_this_kernel_is_too_old_for_names_the_feature");
    let (obj, line) = sdiv_program();
    match obj.load() {
        // Linux 6.6 and later: the program is fine.
        Ok(_) => assert!(!isa().lacks(Feature::SdivSmod)),
        Err(LoadError::MissingFeature(m)) => {
            assert_eq!(m.program, "signed");
            assert_eq!(m.feature, Feature::SdivSmod);
            assert_eq!(m.insn, 2, "after the two slots of ld_imm64");
            assert_eq!(m.text, "r1 s/= 0x3");
            assert_eq!(
                m.location.as_deref(),
                Some(format!("tests/kernel_probe.rs:{line}").as_str())
            );
            assert!(!m.log.is_empty());
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn other_refusals_stay_verifier_errors() {
    require_kernel!("other_refusals_stay_verifier_errors");
    // A cpu v4 instruction that the kernel knows, in a program refused for another reason
    // (r2 is read before it is written).
    let mut obj = Object::new("GPL");
    let body = vec![
        Insn::Alu {
            width: Width::W64,
            op: if isa().lacks(Feature::SdivSmod) {
                AluOp::Div
            } else {
                AluOp::SDiv
            },
            dst: R0,
            src: Operand::Reg(R2),
        },
        Insn::Exit,
    ];
    obj.add_program(Program::from_insns("uninit", Section::SOCKET, body))
        .unwrap();
    match obj.load() {
        Err(LoadError::Verifier { program, log, .. }) => {
            assert_eq!(program, "uninit");
            assert!(log.contains("!read_ok"), "{log}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_missing_feature_message_reads_as_one_sentence() {
    let e = LoadError::MissingFeature(Box::new(MissingFeature {
        program: "signed".into(),
        release: "6.1.0-57-cloud-amd64".into(),
        feature: Feature::SdivSmod,
        insn: 5,
        text: "r1 s/= 0x3".into(),
        location: Some("file.s:12".into()),
        errno: libc::EINVAL,
        log: "BPF_ALU uses reserved fields\n".into(),
    }));
    assert_eq!(
        e.to_string(),
        "this kernel (6.1.0-57-cloud-amd64) lacks cpu v4 (sdiv/smod): `r1 s/= 0x3` at insn 5 \
         of `signed` (file.s:12) needs Linux 6.6"
    );
    assert_eq!(
        e.refusal(),
        Some(("signed", libc::EINVAL, "BPF_ALU uses reserved fields\n"))
    );
    assert_eq!(e.errno(), Some(libc::EINVAL));
}
