//! The seed scenario on the real kernel: the programs of `bpfsmith::seed` return what the
//! kernel's documented queue/stack semantics predict, the maps hold what is left, and every
//! instruction line of the verifier's level-2 log equals bpfsmith's kernel-style listing.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::load::{LoadOptions, TestRun};
use bpfsmith::seed::{self, EXPECTED_LEFT, EXPECTED_RETVAL};

#[test]
fn the_seed_programs_return_what_the_kernel_documents() {
    require_kernel!("the_seed_programs_return_what_the_kernel_documents");
    let obj = seed::object();
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

#[test]
fn every_instruction_line_of_the_log_is_our_kernel_listing() {
    require_kernel!("every_instruction_line_of_the_log_is_our_kernel_listing");
    let obj = seed::object();
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
        let seen = kernel::compare_log_with_listing(prog, &log);
        // Every instruction appears at least once in a level-2 log.
        let missing: Vec<usize> = (0..seen.len()).filter(|&i| !seen[i]).collect();
        assert!(
            missing.is_empty(),
            "{}: instructions never printed by the kernel: {missing:?}",
            prog.name
        );
        eprintln!(
            "{}: all {} instructions printed in the log equal our kernel-style listing",
            prog.name,
            seen.len()
        );
    }
}
