//! The loader links the functions a program calls one by one, as libbpf does: a `.text` whose
//! functions call each other pc-relative (no relocation between them, as one assembled file
//! writes them) gives each program the functions it reaches and no others, so a function that
//! nobody calls (which the verifier would refuse as unreachable) stays out. The kernel loads
//! and runs each program; the return values are what the instructions compute.
//!
//! Needs root (or CAP_BPF): skips with a notice without it, unless `BPFSMITH_REQUIRE_KERNEL=1`.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::load::TestRun;

/// Each program's return value when run.
fn run_all(name: &str, src: &str) -> Vec<(String, u32)> {
    let obj = bpfsmith::text::assemble(&format!("{name}.s"), src)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let loaded = obj
        .load()
        .unwrap_or_else(|e| panic!("{name}: the kernel refused it: {e}"));
    loaded
        .programs()
        .iter()
        .map(|p| {
            let r = p
                .test_run(&TestRun {
                    data: &[0; 64],
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (p.name().to_owned(), r.retval)
        })
        .collect()
}

#[test]
fn an_uncalled_text_function_before_the_called_ones_stays_out() {
    require_kernel!("an_uncalled_text_function_before_the_called_ones_stays_out");
    // `unused` comes first in `.text` and nobody calls it; `f` calls `g` pc-relative.
    // prog: f() = g() + 40 = 42.
    let src = "\t.license \"GPL\"\n\t.section socket\n\t.globl prog\nprog:\n\tcall f\n\texit\n\
               \t.text\nunused:\n\tr0 = 99\n\texit\nf:\n\tcall g\n\tr0 += 40\n\texit\n\
               g:\n\tr0 = 2\n\texit\n";
    assert_eq!(run_all("uncalled_first", src), [("prog".to_owned(), 42)]);
}

#[test]
fn each_program_gets_the_text_functions_it_reaches() {
    require_kernel!("each_program_gets_the_text_functions_it_reaches");
    // a calls f, which calls g (in between, h); b calls h only. Were `.text` appended whole,
    // the functions each program does not reach would be unreachable code to the verifier.
    // a: f() = g() * 3 = 21; b: h() = 5.
    let src = "\t.license \"GPL\"\n\t.section socket\n\t.globl a\na:\n\tcall f\n\texit\n\
               \t.globl b\nb:\n\tcall h\n\texit\n\
               \t.text\nf:\n\tcall g\n\tr0 *= 3\n\texit\nh:\n\tr0 = 5\n\texit\n\
               g:\n\tr0 = 7\n\texit\n";
    assert_eq!(
        run_all("two_programs_text", src),
        [("a".to_owned(), 21), ("b".to_owned(), 5)]
    );
}
