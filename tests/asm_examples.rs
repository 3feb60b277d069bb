//! The `asm/` examples: each assembles, its header states its expected outcome in the format
//! of `bpfsmith::text::asm::expect`, and its listing is snapshotted (`snapshots/asm_<file>`).
//! The seed scenario in `asm/queue.s` and `asm/stack.s` is byte for byte what `src/seed.rs`
//! builds with the DSL.

use std::path::PathBuf;

use bpfsmith::text::asm::expect::Expectations;
use bpfsmith::text::{assemble_file, ListingOptions, Style};

fn examples() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/asm");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("asm/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_example_assembles_and_states_its_outcome() {
    let files = examples();
    assert!(files.len() >= 12, "{files:?}");
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let obj = assemble_file(f).unwrap_or_else(|e| panic!("{e}"));
        let e = Expectations::parse(&src).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        if stem.starts_with("mistake_") {
            assert!(!e.load_ok, "{stem}: a teaching program is refused");
            assert!(e.verifier_error.is_some(), "{stem}");
        } else {
            assert!(e.load_ok, "{stem}");
            assert!(e.retval.is_some(), "{stem}: states its return value");
            assert!(
                !e.maps_after.is_empty(),
                "{stem}: states what its map holds afterwards"
            );
        }
        // Every map the header names exists, with a value size that holds its values.
        for (map, vals) in e.push_before.iter().chain(&e.maps_after) {
            let m = obj
                .maps
                .iter()
                .find(|m| &m.name == map)
                .unwrap_or_else(|| panic!("{stem}: no map `{map}`"));
            for v in vals {
                assert!(
                    m.def.value_size >= 8 || *v < 1 << (8 * m.def.value_size),
                    "{stem}"
                );
            }
        }
        // Every instruction points at its line of the file.
        let prog = &obj.programs[0];
        for i in 0..prog.insns.len() {
            let s = prog.source(i).expect("a source line");
            assert!(s.file.ends_with(&format!("{stem}.s")));
            let line = prog.line_text(prog.locs[i].unwrap().file, s.line).unwrap();
            assert!(
                !line.trim().is_empty() && !line.trim_start().starts_with('#'),
                "{stem}:{}",
                s.line
            );
        }
        let listing = format!(
            "{}\n{}",
            bpfsmith::snapshot::object_listing(&obj),
            bpfsmith::text::listing(
                prog,
                &ListingOptions {
                    style: Style::Kernel,
                    source: true,
                    symbolic: true,
                    abi: false
                }
            )
            .replace(&*f.to_string_lossy(), &format!("asm/{stem}.s"))
        );
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("asm_{stem}"), listing);
        });
    }
}

#[test]
fn the_seed_scenario_is_the_demo() {
    let demo = bpfsmith::seed::object();
    for (file, prog) in [("queue.s", "queue_prog"), ("stack.s", "stack_prog")] {
        let path = format!("{}/asm/{file}", env!("CARGO_MANIFEST_DIR"));
        let obj = assemble_file(&path).unwrap();
        let ours = &obj.programs[0];
        let theirs = demo.program(prog).unwrap();
        assert_eq!(ours.name, theirs.name);
        assert_eq!(ours.section, theirs.section);
        assert_eq!(ours.insns, theirs.insns, "{file}");
        assert_eq!(ours.relocs, theirs.relocs, "{file}");
        assert_eq!(ours.labels, theirs.labels, "{file}");
        let map = &obj.maps[0];
        let dm = demo.maps.iter().find(|m| m.name == map.name).unwrap();
        assert_eq!(map.def, dm.def, "{file}");
    }
}

/// The `asm/` files test a helper's result portably (`w0`) and pair helpers with map types
/// the verifier takes: the assembler warns only where a file says so on the line itself
/// (`bpfsmith warns here`, as a file that shows the difference between kernels, or a mistake
/// on purpose, does).
#[test]
fn the_examples_warn_only_where_they_say_so() {
    for f in examples() {
        let a = bpfsmith::text::assemble_file_with_warnings(&f, &Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let src = std::fs::read_to_string(&f).unwrap();
        let said: Vec<u32> = src
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains("bpfsmith warns here") && !l.trim_start().starts_with('#'))
            .map(|(i, _)| i as u32 + 1)
            .collect();
        // A file that makes a mistake on purpose says what the verifier answers
        // (`expect-verifier-error:`): a warning that quotes that answer is said too.
        let expected = Expectations::parse(&src)
            .ok()
            .and_then(|e| e.verifier_error)
            .filter(|e| !e.is_empty());
        let warned: Vec<u32> = a
            .warnings
            .iter()
            .filter(|w| {
                !expected
                    .as_ref()
                    .is_some_and(|e| w.to_string().contains(e.as_str()))
            })
            .map(|w| w.line)
            .collect();
        assert_eq!(warned, said, "{}: {:#?}", f.display(), a.warnings);
        // Each names its programs and sets its license: nothing left to defaults.
        assert!(a.notes.is_empty(), "{}: {:#?}", f.display(), a.notes);
    }
}
