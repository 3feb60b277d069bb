//! What a newcomer meets on the command line: every command's `--help` shows examples, an
//! unknown `explain` topic gets suggestions, and `conformance` on a path without the suite
//! fails with where to get it instead of reporting "0 passed".

use std::process::Command;

#[cfg(bpfsmith_kernel)]
#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

fn bpfsmith(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfsmith"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_command_shows_examples_in_its_help() {
    for cmd in [
        "demo",
        "explain",
        "asm",
        "conformance",
        "check",
        "matrix",
        "dis",
        "load",
        "run",
        "probe",
        "log",
    ] {
        let (code, out, _) = bpfsmith(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}");
        assert!(
            out.contains("Examples:\n  bpfsmith "),
            "{cmd} --help has no examples:\n{out}"
        );
    }
    let (_, demo, _) = bpfsmith(&["demo", "--help"]);
    assert!(demo.contains("root or CAP_BPF"), "{demo}");
}

#[test]
fn the_top_level_help_shows_examples_and_explain_alone_lists_what_to_ask() {
    let (code, out, _) = bpfsmith(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:\n  bpfsmith demo"), "{out}");
    let (code, out, _) = bpfsmith(&["explain"]);
    assert_eq!(code, 0, "{out}");
    for kind in ["a verifier message", "a helper", "a register"] {
        assert!(out.contains(kind), "{out}");
    }
}

/// `check` is for sources with a stated outcome: an object, a folder with no source, a file
/// that states nothing and a map the object lacks each get a sentence, not a pass or a panic.
#[test]
fn check_says_what_it_was_given_when_it_cannot_check_it() {
    let dir = std::env::temp_dir().join(format!("bpfsmith-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (code, _, err) = bpfsmith(&["check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("no `.s` file in this folder"), "{err}");
    let obj = dir.join("x.o");
    let (code, _, err) = bpfsmith(&["asm", "asm/queue.s", "-o", obj.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = bpfsmith(&["check", obj.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("an ELF object: check runs assembly sources"),
        "{out}"
    );
    let silent = dir.join("silent.s");
    std::fs::write(&silent, "r0 = 1\nexit\n").unwrap();
    let (code, out, _) = bpfsmith(&["check", silent.to_str().unwrap()]);
    assert_eq!(code, 1, "nothing passed");
    assert!(
        out.contains("skip") && out.contains("states no outcome"),
        "{out}"
    );
    assert!(out.ends_with("0 passed, 0 failed, 1 skipped\n"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_topic_gets_the_nearest_ones() {
    let (code, out, _) = bpfsmith(&["explain", "pop"]);
    assert_eq!(code, 1);
    assert!(out.contains("did you mean: bpf_map_pop_elem (88)"), "{out}");
    let (_, out, _) = bpfsmith(&["explain", "999"]);
    assert!(out.contains("a helper number from 1 to"), "{out}");
}

#[test]
fn conformance_without_the_suite_says_where_to_get_it() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = bpfsmith(&["conformance", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no .data files here or below"), "{err}");
    assert!(err.contains("bpf_conformance"), "{err}");
    let note = dir.path().join("notes.txt");
    std::fs::write(&note, "x").unwrap();
    let (code, _, err) = bpfsmith(&["conformance", note.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a .data file"), "{err}");
}

/// Each command says what it was given when it is the wrong kind of file, and which command
/// reads it; `dis` lists an assembly file as the object it assembles to.
#[test]
fn the_wrong_kind_of_file_is_named_with_the_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("q.o");
    let root = env!("CARGO_MANIFEST_DIR");
    let queue = format!("{root}/asm/queue.s");
    let (code, _, err) = bpfsmith(&["asm", &queue, "-o", obj.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let o = obj.to_str().unwrap();

    let (code, _, err) = bpfsmith(&["asm", o, "-o", "/dev/null"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("an ELF object, not assembly: `bpfsmith dis` lists it"),
        "{err}"
    );

    let (code, _, err) = bpfsmith(&["log", o]);
    assert_eq!(code, 2);
    assert!(err.contains("an ELF object, not a verifier log"), "{err}");

    let (code, _, err) = bpfsmith(&["log", &queue]);
    assert_eq!(code, 2);
    assert!(err.contains("is an assembly file: `bpfsmith load"), "{err}");

    let (code, listed, err) = bpfsmith(&["dis", &queue]);
    assert_eq!(code, 0, "{err}");
    let (_, from_object, _) = bpfsmith(&["dis", o]);
    assert_eq!(listed, from_object);

    let log = format!(
        "{root}/tests/fixtures/verifier/teaching/linux-6.18/mistake_flags_unset.level1.log"
    );
    let stack = format!("{root}/asm/stack.s");
    let (code, _, err) = bpfsmith(&["log", &log, "--object", &stack]);
    assert_eq!(code, 1);
    assert!(err.contains("the log matches no program of"), "{err}");
    assert!(err.contains("(it has: stack_prog)"), "{err}");
}

/// `run --push` says what the map is when it is no queue or stack, and what a full map holds.
#[cfg(bpfsmith_kernel)]
#[test]
fn pushes_name_the_map_type_and_the_capacity() {
    require_kernel!("pushes_name_the_map_type_and_the_capacity");
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("maps.s");
    std::fs::write(
        &s,
        concat!(
            ".license \"GPL\"\n",
            ".map counts, type=hash, key_size=4, value_size=8, max_entries=4\n",
            ".map q, type=queue, value_size=4, max_entries=2\n",
            ".section socket\n.globl p\np:\n\tr0 = 0\n\texit\n",
        ),
    )
    .unwrap();
    let s = s.to_str().unwrap();
    let (code, _, err) = bpfsmith(&["run", s, "--push", "counts=1,2"]);
    assert_eq!(code, 1);
    assert!(err.contains("`counts`: it is a hash map"), "{err}");
    assert!(err.contains("(the object's: q)"), "{err}");
    let (code, _, err) = bpfsmith(&["run", s, "--push", "q=1,2,3"]);
    assert_eq!(code, 1);
    assert!(err.contains("map `q` is full: it holds 2 values"), "{err}");
    assert!(err.contains("value 3 of --push"), "{err}");
    assert!(err.contains("BPF_EXIST"), "{err}");
}

/// The demo says where it wrote its object and gives the command for each tool that reads it.
#[test]
fn the_demo_says_where_its_object_is_and_how_to_look_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let (_, out, err) = bpfsmith(&["demo", "--out", out_dir.to_str().unwrap()]);
    let seed = out_dir.join("seed.o");
    assert!(seed.is_file(), "{out}{err}");
    let seed = seed.display().to_string();
    for tool in [
        "bpfsmith dis",
        "llvm-objdump-22 -dr",
        "bpftool btf dump file",
    ] {
        assert!(out.contains(&format!("{tool} {seed}")), "{tool}:\n{out}");
    }
}

/// Too short a packet is refused with the minimum and the reason, not a bare EINVAL.
#[cfg(bpfsmith_kernel)]
#[test]
fn too_short_a_packet_says_the_minimum() {
    require_kernel!("too_short_a_packet_says_the_minimum");
    let queue = concat!(env!("CARGO_MANIFEST_DIR"), "/asm/queue.s");
    let (code, _, err) = bpfsmith(&["run", queue, "--data", "00"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("at least 14 bytes (an Ethernet header)"),
        "{err}"
    );
    let (code, out, err) = bpfsmith(&["run", queue, "--data", &"00".repeat(14)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("r0 = 20"), "{out}");
}

/// The demo as a lesson: under 100 lines, decimal helper ids, the failure codes explained, the
/// second program as its difference from the first, a sentence for each result; `--full` has
/// everything.
#[cfg(bpfsmith_kernel)]
#[test]
fn the_demo_is_a_lesson_on_one_screen() {
    require_kernel!("the_demo_is_a_lesson_on_one_screen");
    let (code, out, err) = bpfsmith(&["demo"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines().count() < 100,
        "{} lines:\n{out}",
        out.lines().count()
    );
    assert!(out.contains("call 87 # bpf_map_push_elem"), "{out}");
    assert!(out.contains("r6 = 1002"), "{out}");
    assert!(!out.contains("0x3e9"), "{out}");
    assert!(out.contains("(else 1002)"), "{out}");
    assert!(
        out.contains("`r1 = stack ll` for `r1 = queue ll` at 1, 10,"),
        "{out}"
    );
    assert!(out.contains("why: a queue is FIFO"), "{out}");
    assert_eq!(out.matches("as documented").count(), 4, "{out}");
    let (code, full, _) = bpfsmith(&["demo", "--full"]);
    assert_eq!(code, 0);
    assert!(full.lines().count() > 200, "{full}");
    assert!(full.contains("<stack_prog>:"), "{full}");
    assert!(full.contains("@ src/seed.rs:"), "{full}");
}

/// A file whose header states its outcome for a service with CAP_BPF alone: `run` says so as
/// root, and `--cap-bpf-only` gives the verifier's judgement for such a service.
#[cfg(bpfsmith_kernel)]
#[test]
fn run_says_when_a_file_states_its_outcome_with_cap_bpf_alone() {
    require_kernel!("run_says_when_a_file_states_its_outcome_with_cap_bpf_alone");
    let (code, _, err) = bpfsmith(&["run", "asm/mistake_uninit_value.s"]);
    assert_eq!(code, 0, "root may read uninitialised stack: {err}");
    assert!(err.contains("add --cap-bpf-only"), "{err}");
    let (code, _, err) = bpfsmith(&["run", "asm/mistake_uninit_value.s", "--cap-bpf-only"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid read from stack"), "{err}");
}

/// `dis --names` reads as the demo does: map and helper names in the instructions; without
/// it, relocation lines as llvm-objdump prints them.
#[test]
fn dis_names_maps_and_helpers_on_request() {
    let dir = std::env::temp_dir().join(format!("bpfsmith-dis-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("q.o");
    let (code, _, err) = bpfsmith(&["asm", "asm/queue.s", "-o", obj.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (_, plain, _) = bpfsmith(&["dis", obj.to_str().unwrap()]);
    assert!(
        plain.contains("R_BPF_64_64\tqueue") && plain.contains("call 0x57\n"),
        "{plain}"
    );
    let (code, named, _) = bpfsmith(&["dis", obj.to_str().unwrap(), "--names"]);
    assert_eq!(code, 0);
    assert!(named.contains("r1 = queue ll\n"), "{named}");
    assert!(named.contains("call 0x57 # bpf_map_push_elem\n"), "{named}");
    assert!(!named.contains("R_BPF_64_64"), "{named}");
    std::fs::remove_dir_all(&dir).unwrap();
}
