//! Each example of `examples/` run as a test, its outcome checked against the kernel's
//! documented queue/stack semantics. The runs need the kernel build; the listings, the
//! reassembly and the lint checks run in the portable build too.

#[cfg(bpfsmith_kernel)]
#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

#[path = "../examples/queue.rs"]
mod queue;
#[path = "../examples/stack.rs"]
mod stack;

#[cfg(bpfsmith_kernel)]
#[test]
fn queue_example_is_fifo() {
    require_kernel!("queue_example_is_fifo");
    // Pushed 1 2 3; the program pops the oldest (1) and pushes 10 at the back.
    assert_eq!(queue::run().unwrap(), (1, vec![2, 3, 10]));
}

#[cfg(bpfsmith_kernel)]
#[test]
fn stack_example_is_lifo_and_exist_drops_the_bottom() {
    require_kernel!("stack_example_is_lifo_and_exist_drops_the_bottom");
    // Pushed 1 2 3 into 3 slots; peek sees 3, BPF_EXIST push of 4 drops 1, pop takes 4.
    assert_eq!(stack::run().unwrap(), (34, vec![3, 2]));
}

// `main` is the example's own; here only `run` is called.
#[cfg(bpfsmith_kernel)]
#[allow(dead_code)]
#[path = "../examples/first_program.rs"]
mod first_program;

/// The README's first program, as the README quotes it: it builds, writes, loads, runs and
/// reads back (21 and 5 pushed; the oldest, 21, popped and doubled).
#[cfg(bpfsmith_kernel)]
#[test]
fn the_readme_first_program_runs_as_quoted() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/first_program.rs"
    ))
    .unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let quoted = example
        .split("// README:begin\n")
        .nth(1)
        .and_then(|rest| rest.split("// README:end").next())
        .unwrap();
    assert!(
        readme.contains(&format!("```rust\n{quoted}```")),
        "README.md must quote examples/first_program.rs between its README markers, as it is"
    );
    require_kernel!("the_readme_first_program_runs_as_quoted");
    assert_eq!(first_program::run().unwrap(), (42, vec![5]));
}

// The snapshot example's own test runs here too (its `#[cfg(test)]` module).
#[path = "../examples/snapshot.rs"]
mod snapshot;

#[test]
fn snapshot_example_prints_its_listing() {
    let text = bpfsmith::snapshot::program_listing(&snapshot::counter_program(3));
    assert!(text.contains("if r1 s<= 0x0 goto"), "{text}");
}

#[path = "../examples/generate.rs"]
mod generate;

/// Every generated object is read back from its file, loaded, and run; its return value must
/// be what the model of the kernel's documented queue/stack semantics predicts.
#[cfg(bpfsmith_kernel)]
#[test]
fn generated_programs_all_load_and_match_the_model() {
    require_kernel!("generated_programs_all_load_and_match_the_model");
    use bpfsmith::load::TestRun;
    let dir = std::env::temp_dir().join(format!("bpfsmith-generate-{}", std::process::id()));
    let files = generate::generate(&dir, 5, 2).unwrap();
    assert_eq!(files.len(), 2 * (2 + 4 + 8 + 16 + 32));
    for (file, expected) in &files {
        let obj = bpfsmith::object::Object::read_elf(dir.join(file)).unwrap();
        let loaded = obj.load().unwrap_or_else(|e| panic!("{file}: {e}"));
        let prog = &loaded.programs()[0];
        let run = prog
            .test_run(&TestRun {
                data: &[0; 64],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(run.retval, *expected, "{file}");
    }
    // The sources it wrote beside the objects state the same results in their headers (and
    // the map's contents afterwards): `bpfsmith check` assembles, runs and compares each.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .arg("check")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with(&format!("{} passed, 0 failed, 0 skipped\n", files.len())),
        "{stdout}"
    );
    // The same in the VM: every generated program gives the kernel's line (r0 and the map).
    let vm = std::process::Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .args(["check", "--engine", "vm"])
        .arg(&dir)
        .output()
        .unwrap();
    let vm_out = String::from_utf8_lossy(&vm.stdout);
    assert!(vm.status.success(), "{vm_out}");
    let kernel_lines: Vec<&str> = stdout.lines().collect();
    let vm_lines: Vec<&str> = vm_out.lines().skip(1).collect(); // after the engine line
    assert_eq!(
        vm_lines, kernel_lines,
        "the VM (left) and the kernel (right)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every `asm/` example, assembled, written back as source by `object_source` and assembled
/// again, gives the same maps and the same instructions in the same sections.
#[test]
fn object_source_reassembles_every_example() {
    let mut n = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/asm")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() != Some(std::ffi::OsStr::new("s")) {
            continue;
        }
        let Ok(first) = bpfsmith::text::assemble_file(&path) else {
            continue; // the examples of mistakes the assembler refuses
        };
        let text = bpfsmith::text::object_source(&first);
        let again = bpfsmith::text::assemble("again.s", &text)
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
        assert_eq!(again.maps.len(), first.maps.len(), "{}", path.display());
        for (a, b) in again.maps.iter().zip(&first.maps) {
            assert_eq!(
                (&a.name, a.def.map_type, a.def.value_size, a.def.max_entries),
                (&b.name, b.def.map_type, b.def.value_size, b.def.max_entries)
            );
        }
        assert_eq!(
            again.programs.len(),
            first.programs.len(),
            "{}",
            path.display()
        );
        for (a, b) in again.programs.iter().zip(&first.programs) {
            assert_eq!(
                (&a.name, &a.section, &a.insns),
                (&b.name, &b.section, &b.insns),
                "{}",
                path.display()
            );
        }
        n += 1;
    }
    assert!(n >= 8, "only {n} examples assembled");
}

/// The examples teach the portable check of a helper's result: no warnings.
#[test]
fn examples_have_no_warnings() {
    use bpfsmith::prelude::{MapDef, MapRef};
    for obj in [queue::object(), stack::object()] {
        for p in &obj.programs {
            assert_eq!(p.warnings(), vec![], "{}", p.name);
        }
    }
    let map = MapRef::new("q", MapDef::queue::<u32>(2));
    let ops = [generate::Op::Push, generate::Op::Pop, generate::Op::Pop];
    assert_eq!(generate::program("g", &map, &ops).warnings(), vec![]);
}
