//! Errors returned with `?` from `main` print with `{:?}` (`Error: ...`): the library's errors
//! read there as their message, and a verifier refusal as the viewer's report, never as a
//! dump of the error's structure.

#[cfg(bpfsmith_kernel)]
#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::prelude::*;

#[test]
fn a_build_error_prints_its_message_from_main() {
    let mut obj = Object::new("GPL");
    let counts = obj.map("counts", MapDef::hash::<u32, u64>(16)).unwrap();
    let mut p = ProgramBuilder::new("wrong", Section::SOCKET);
    p.pop(&counts, StackSlot::at(-8)).exit();
    let e = p.finish().unwrap_err();
    let shown = format!("{e:?}");
    let text = e.to_string();
    assert_eq!(shown, text.strip_prefix("error: ").unwrap_or(&text));
    // What `fn main() -> Result<..>` prints: `Error: ` once, then the message.
    assert!(
        !format!("Error: {shown}").starts_with("Error: error:"),
        "{shown}"
    );
    assert!(
        shown.contains("cannot pass map_type 1 into func bpf_map_pop_elem#88"),
        "{shown}"
    );
    assert!(!shown.contains("BuildError {"), "{shown}");
}

#[test]
fn an_assembler_error_prints_its_message_from_main() {
    let e = bpfsmith::text::assemble("bad.s", "\tr0 = \n").unwrap_err();
    let shown = format!("{e:?}");
    let text = e.to_string();
    assert_eq!(shown, text.strip_prefix("error: ").unwrap_or(&text));
    // What `fn main() -> Result<..>` prints: `Error: ` once, then the message.
    assert!(
        !format!("Error: {shown}").starts_with("Error: error:"),
        "{shown}"
    );
    assert!(shown.contains("bad.s:1:"), "{shown}");
}

#[cfg(bpfsmith_kernel)]
#[test]
fn a_verifier_refusal_prints_the_report_from_main() {
    require_kernel!("a_verifier_refusal_prints_the_report_from_main");
    let src = concat!(
        ".license \"GPL\"\n",
        ".map queue, type=queue, value_size=4, max_entries=4\n",
        ".section socket\n.globl p\np:\n",
        "\t*(u32 *)(r10 - 4) = 1\n\tr1 = queue ll\n\tr2 = r10\n\tr2 += -4\n",
        "\tcall bpf_map_push_elem\n\texit\n",
    );
    let obj = bpfsmith::text::assemble("flags.s", src).unwrap();
    let e = obj.load().unwrap_err();
    let shown = format!("{e:?}");
    assert!(
        shown.starts_with("the verifier refused program `p`"),
        "{shown}"
    );
    assert!(shown.contains("error: R3 !read_ok"), "{shown}");
    assert!(shown.contains("what it means:"), "{shown}");
    assert!(!shown.contains("Verifier {"), "{shown}");
}

/// A refusal of a program built with the DSL points at the Rust line that emitted the refused
/// instruction (path and column, as the builder's own errors do) and names the map, not the
/// address the kernel patched in.
#[cfg(bpfsmith_kernel)]
#[test]
fn a_refusal_of_a_dsl_program_points_at_its_rust_line() {
    require_kernel!("a_refusal_of_a_dsl_program_points_at_its_rust_line");
    let mut obj = Object::new("GPL");
    let counts = obj.map("counts", MapDef::hash::<u32, u64>(16)).unwrap();
    let mut p = ProgramBuilder::new("wrong", Section::SOCKET);
    let line = line!() + 1;
    p.pop(&counts, StackSlot::at(-8));
    p.exit();
    let built = p.finish_lenient().unwrap();
    assert!(
        !built.warnings.is_empty(),
        "the DSL warns about pop on a hash map"
    );
    obj.add_program(built.program).unwrap();
    let e = obj.load().unwrap_err();
    let shown = format!("{e:?}");
    assert!(shown.contains("cannot pass map_type 1"), "{shown}");
    let here = format!("--> tests/errors_readable.rs:{line}:");
    assert!(shown.contains(&here), "{here} missing:\n{shown}");
    assert!(shown.contains("map counts"), "{shown}");
}
