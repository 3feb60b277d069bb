//! The seed scenario on the real kernel: the programs of `bpfsmith::demo` return what the
//! kernel's documented queue/stack semantics predict, the maps hold what is left, and every
//! instruction line of the verifier's level-2 log equals bpfsmith's kernel-style listing.
#![cfg(target_os = "linux")]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::demo::{self, EXPECTED_LEFT, EXPECTED_RETVAL};
use bpfsmith::insn::Insn;
use bpfsmith::load::{LoadOptions, TestRun};
use bpfsmith::text::write_kernel;

#[test]
fn the_seed_programs_return_what_the_kernel_documents() {
    require_kernel!("the_seed_programs_return_what_the_kernel_documents");
    let obj = demo::object();
    let loaded = obj.load().expect("the demo loads");
    for (name, retval) in EXPECTED_RETVAL {
        let run = loaded
            .program(name)
            .unwrap()
            .test_run(&TestRun {
                data: &[0; 64],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(run.retval, retval, "{name}");
    }
    for (map, left) in EXPECTED_LEFT {
        let drained = match map {
            "queue" => loaded.queue::<u32>(map).unwrap().drain().unwrap(),
            _ => loaded.stack::<u32>(map).unwrap().drain().unwrap(),
        };
        assert_eq!(drained, left, "{map}");
    }
}

/// The text of an instruction line of a verifier log: `N: (op) text ; state` gives
/// `(N, "(op) text")`.
fn insn_line(line: &str) -> Option<(usize, &str)> {
    let (idx, rest) = line.split_once(": ")?;
    let idx = idx.parse().ok()?;
    if !rest.starts_with('(') {
        return None;
    }
    let text = rest.split_once(';').map_or(rest, |(t, _)| t);
    Some((idx, text.trim_end()))
}

#[test]
fn every_instruction_line_of_the_log_is_our_kernel_listing() {
    require_kernel!("every_instruction_line_of_the_log_is_our_kernel_listing");
    let obj = demo::object();
    let loaded = obj
        .load_with(&LoadOptions {
            log_level: 2,
            ..Default::default()
        })
        .expect("the demo loads");
    for prog in &obj.programs {
        let log = loaded
            .program(&prog.name)
            .unwrap()
            .log()
            .expect("level 2 keeps the log")
            .to_owned();
        let slots = prog.slot_offsets();
        let mut compared = 0;
        let mut seen = vec![false; prog.insns.len()];
        for line in log.lines() {
            let Some((slot, text)) = insn_line(line) else {
                continue;
            };
            let i = slots.binary_search(&slot).unwrap_or_else(|_| {
                panic!("log line {line:?} names slot {slot}, inside an instruction")
            });
            let mut ours = String::new();
            write_kernel(&mut ours, &prog.insns[i]);
            if let Insn::LdImm64 { .. } = prog.insns[i] {
                // The kernel prints the map's address it patched in; compare up to the value.
                let (ours_head, _) = ours.split_once(" = ").unwrap();
                let (theirs_head, theirs_value) = text.split_once(" = ").unwrap();
                assert_eq!(ours_head, theirs_head, "{line}");
                assert!(theirs_value.starts_with("0x"), "{line}");
            } else {
                assert_eq!(ours, text, "slot {slot} of {}", prog.name);
            }
            compared += 1;
            seen[i] = true;
        }
        // Every instruction appears at least once in a level-2 log.
        let missing: Vec<usize> = (0..seen.len()).filter(|&i| !seen[i]).collect();
        assert!(
            missing.is_empty(),
            "{}: instructions never printed by the kernel: {missing:?}",
            prog.name
        );
        eprintln!(
            "{}: {compared} log lines equal our kernel-style listing",
            prog.name
        );
    }
}
