//! The assembler's warning for a map helper on a map type it does not take says what the
//! kernel says: each warned pair is refused by the verifier with the words the warning
//! quotes, and each pair it accepts silently loads.
//!
//! Needs root (or CAP_BPF): skips with a notice without it, unless
//! `BPFSMITH_REQUIRE_KERNEL=1`.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::load::{LoadError, LoadOptions};

/// `.map` lines for one map of each kind.
const MAPS: &str = "\
.license \"GPL\"
.map h, type=hash, key_size=4, value_size=4, max_entries=8
.map a, type=array, key_size=4, value_size=4, max_entries=8
.map q, type=queue, value_size=4, max_entries=8
.map s, type=stack, value_size=4, max_entries=8
";

/// A program calling `helper` with r1 = `map`, r2 and r3 pointing at stack slots, r4 = 0.
fn program(map: &str, helper: &str) -> String {
    format!(
        "{MAPS}.section socket\n.globl p\np:\n\t*(u64 *)(r10 - 8) = 0\n\t*(u64 *)(r10 - 16) = 0\n\
         \tr1 = {map} ll\n\tr2 = r10\n\tr2 += -8\n\tr3 = r10\n\tr3 += -16\n\tr4 = 0\n\
         \tcall {helper}\n\tr0 = 0\n\texit\n"
    )
}

#[test]
fn warned_pairs_are_what_the_verifier_refuses() {
    require_kernel!("warned_pairs_are_what_the_verifier_refuses");
    let helpers = [
        "bpf_map_lookup_elem",
        "bpf_map_update_elem",
        "bpf_map_delete_elem",
        "bpf_map_push_elem",
        "bpf_map_pop_elem",
        "bpf_map_peek_elem",
    ];
    let (mut warned, mut clean) = (0, 0);
    for map in ["h", "a", "q", "s"] {
        for helper in helpers {
            let src = program(map, helper);
            let a = bpfsmith::text::assemble_with_warnings("m.s", &src, &Default::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let result = a.object.load_with(&LoadOptions {
                log_level: 1,
                ..Default::default()
            });
            match a.warnings.as_slice() {
                [] => {
                    clean += 1;
                    if let Err(e) = result {
                        // Array maps refuse delete at run time, not at load: any refusal
                        // here would be one the warning should have named.
                        panic!("{helper} on `{map}`: no warning, but the kernel refused: {e}");
                    }
                }
                [w] => {
                    warned += 1;
                    let text = w.to_string();
                    let quoted = text
                        .split('`')
                        .find(|s| {
                            s.starts_with("cannot pass map_type") || *s == "invalid zero-sized read"
                        })
                        .unwrap_or_else(|| panic!("{text}"));
                    let Err(LoadError::Verifier { log, .. }) = result else {
                        panic!("{helper} on `{map}`: warned, but the kernel took it:\n{text}");
                    };
                    assert!(
                        log.contains(quoted),
                        "{helper} on `{map}`: {quoted:?} not in\n{log}"
                    );
                }
                more => panic!("{helper} on `{map}`: {more:?}"),
            }
        }
    }
    // Lookup, update and delete on queue and stack; push, pop, peek on hash and array.
    assert_eq!((warned, clean), (12, 12));
}
