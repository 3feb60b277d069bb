//! Maps pinned by name (`__uint(pinning, LIBBPF_PIN_BY_NAME)` in a clang-compiled object),
//! honoured as libbpf honours them: the first load creates the map and pins it at
//! `<root>/<map name>`, the next one shares it (a value pushed through the first load's map is
//! popped by the second load's program), a pinned map with another definition is refused with
//! the field that differs, a root outside bpffs is a clear error, and an unknown pinning value
//! is refused when the object is read.
//!
//! Needs root (or CAP_BPF) and clang-22; skips without them unless
//! `BPFSMITH_REQUIRE_KERNEL=1` / `BPFSMITH_REQUIRE_INTEROP=1`. Every pin has this process's id
//! in its name and is removed at the end, even when an assertion fails.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use std::path::{Path, PathBuf};

use bpfsmith::load::{BtfSource, LoadError, LoadOptions, TestRun};
use bpfsmith::object::{ElfObject, Pinning};
use bpfsmith::prelude::*;

#[path = "common/interop.rs"]
mod interop;

fn have_clang() -> bool {
    interop::have_tool("clang-22")
}

/// Compile a C source with clang-22 (`-target bpf -g`) and read the object.
fn compile(dir: &Path, name: &str, source: &str) -> Result<ElfObject, String> {
    let c = dir.join(format!("{name}.c"));
    let o = dir.join(format!("{name}.o"));
    std::fs::write(&c, source).unwrap();
    let (c, o) = (c.to_str().unwrap(), o.to_str().unwrap());
    interop::run_ok(
        "clang-22",
        &["-O2", "-g", "-target", "bpf", "-c", c, "-o", o],
    );
    ElfObject::read(o).map_err(|e| e.to_string())
}

/// A queue map `name` pinned with `pinning`, and a socket filter that pops it.
fn source(name: &str, pinning: u32) -> String {
    format!(
        r#"
typedef unsigned int __u32;
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
static long (*bpf_map_pop_elem)(void *map, void *value) = (void *) 88;
struct {{
    __uint(type, 22);
    __uint(max_entries, 4);
    __type(value, __u32);
    __uint(pinning, {pinning});
}} {name} SEC(".maps");
SEC("socket") int pop(void *ctx) {{ __u32 v = 0; if (bpf_map_pop_elem(&{name}, &v)) return 1; return v; }}
char _license[] SEC("license") = "GPL";
"#
    )
}

/// Removes a pin when dropped (also when the test panics).
struct Pin(PathBuf);

impl Drop for Pin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn options(e: &ElfObject) -> LoadOptions {
    LoadOptions {
        btf: BtfSource::Given(e.btf.clone().expect("clang writes .BTF")),
        ..Default::default()
    }
}

#[test]
fn a_map_pinned_by_name_is_shared_between_loads() {
    require_kernel!("a_map_pinned_by_name_is_shared_between_loads");
    if !have_clang() {
        return;
    }
    let root = Path::new(bpfsmith::load::DEFAULT_PIN_ROOT);
    if !bpfsmith::sys::is_bpffs(root).unwrap_or(false) {
        eprintln!("notice: skipping: no bpffs at {}", root.display());
        return;
    }
    let name = format!("pq{}", std::process::id());
    let pin = Pin(root.join(&name));
    let _ = std::fs::remove_file(&pin.0);
    let dir = tempfile::tempdir().unwrap();
    let e = compile(dir.path(), "pinned", &source(&name, 1)).unwrap();
    assert_eq!(e.object.maps[0].pinning, Pinning::ByName);

    let first = e.object.load_with(&options(&e)).unwrap();
    assert!(pin.0.exists(), "the first load pins the map");
    first
        .queue::<u32>(&name)
        .unwrap()
        .push(41, PushFlags::ANY)
        .unwrap();
    let second = e.object.load_with(&options(&e)).unwrap();
    assert_eq!(
        first.map(&name).unwrap().info().unwrap().id,
        second.map(&name).unwrap().info().unwrap().id,
        "one map, not two"
    );
    let run = second
        .program("pop")
        .unwrap()
        .test_run(&TestRun::default())
        .unwrap();
    assert_eq!(
        run.retval, 41,
        "the second load's program pops the first's push"
    );
    assert!(first
        .queue::<u32>(&name)
        .unwrap()
        .drain()
        .unwrap()
        .is_empty());

    // The same name with another capacity: refused, naming the field.
    let mut other = Object::new("GPL");
    other.map(&name, MapDef::queue::<u32>(8)).unwrap();
    other.maps[0].pinning = Pinning::ByName;
    let mut p = ProgramBuilder::new("p", Section::SOCKET);
    p.mov(R0, 0).exit();
    other.add_program(p.finish().unwrap()).unwrap();
    match other.load() {
        Err(LoadError::PinnedMapMismatch {
            field,
            pinned,
            wanted,
            ..
        }) => assert_eq!((field, pinned, wanted), ("max_entries", 4, 8)),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a pinned map of another capacity was shared"),
    }
    drop((first, second));
    assert!(pin.0.exists(), "the pin outlives the loads");
}

#[test]
fn a_pin_root_outside_bpffs_is_a_clear_error() {
    require_kernel!("a_pin_root_outside_bpffs_is_a_clear_error");
    let mut obj = Object::new("GPL");
    obj.map("pinned", MapDef::queue::<u32>(4)).unwrap();
    obj.maps[0].pinning = Pinning::ByName;
    let mut p = ProgramBuilder::new("p", Section::SOCKET);
    p.mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let load = |root: PathBuf| {
        obj.load_with(&LoadOptions {
            pin_root: Some(root),
            ..Default::default()
        })
    };
    let e = load(dir.path().to_owned()).unwrap_err();
    assert!(
        matches!(e, LoadError::NotBpffs { missing: false, .. }),
        "{e}"
    );
    let shown = e.to_string();
    assert!(shown.contains("is not in a bpffs mount"), "{shown}");
    assert!(shown.contains("mount -t bpf bpf"), "{shown}");
    let e = load(dir.path().join("nowhere")).unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn an_unknown_pinning_value_is_refused_like_libbpf() {
    if !have_clang() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let e = compile(dir.path(), "bad", &source("q", 2)).unwrap_err();
    assert!(e.contains("unknown pinning value 2"), "{e}");
}

#[test]
fn something_else_pinned_under_the_map_name_is_named() {
    require_kernel!("something_else_pinned_under_the_map_name_is_named");
    let root = Path::new(bpfsmith::load::DEFAULT_PIN_ROOT);
    if !bpfsmith::sys::is_bpffs(root).unwrap_or(false) {
        eprintln!("notice: skipping: no bpffs at {}", root.display());
        return;
    }
    let name = format!("px{}", std::process::id());
    let mut obj = Object::new("GPL");
    obj.map(&name, MapDef::queue::<u32>(4)).unwrap();
    obj.maps[0].pinning = Pinning::ByName;
    let mut p = ProgramBuilder::new("p", Section::SOCKET);
    p.mov(R0, 0).exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    // A program, not a map, pinned where the map would be.
    let mut plain = obj.clone();
    plain.maps[0].pinning = Pinning::None;
    let loaded = plain.load().unwrap();
    let pin = Pin(root.join(&name));
    let _ = std::fs::remove_file(&pin.0);
    loaded.program("p").unwrap().pin(&pin.0).unwrap();
    match obj.load() {
        Err(e @ LoadError::Pin { opening: true, .. }) => {
            let shown = e.to_string();
            assert!(shown.contains("opening the map pinned at"), "{shown}");
            assert!(shown.contains(&name), "{shown}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a pinned program was taken for a map"),
    }
}

/// Nothing lost: a clang object's pinned map is written back pinned (a `pinning` member in its
/// BTF definition, as clang writes it), and `pinning=by_name` in `.map` gives the same; libbpf
/// (bpftool 1.1's `prog load`) then pins the map at `/sys/fs/bpf/<name>` and leaves the
/// unpinned one alone, which is the independent check that the written object says "pinned".
#[test]
fn pinning_is_written_back_and_libbpf_pins_what_we_write() {
    require_kernel!("pinning_is_written_back_and_libbpf_pins_what_we_write");
    if !have_clang() || !interop::have_tool("bpftool") {
        return;
    }
    let root = Path::new(bpfsmith::load::DEFAULT_PIN_ROOT);
    if !bpfsmith::sys::is_bpffs(root).unwrap_or(false) {
        eprintln!("notice: skipping: no bpffs at {}", root.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // clang's object, read and written again: still pinned.
    let name = format!("pw{}", std::process::id());
    let e = compile(dir.path(), "clang_pinned", &source(&name, 1)).unwrap();
    let again = ElfObject::parse(&e.object.to_elf().unwrap()).unwrap();
    assert_eq!(again.object.maps[0].pinning, Pinning::ByName);
    let text = bpfsmith::text::object_source(&again.object);
    assert!(text.contains(", pinning=by_name"), "{text}");

    // Assembled with `pinning=by_name`: bpftool loads it and libbpf pins that map only.
    let (pinned, unpinned) = (
        format!("pa{}", std::process::id()),
        format!("pu{}", std::process::id()),
    );
    let src = format!(
        ".license \"GPL\"\n.map {pinned}, type=queue, value_size=4, max_entries=4, pinning=by_name\n\
         .map {unpinned}, type=queue, value_size=4, max_entries=4\n.section socket\n.globl prog\nprog:\n\
         r1 = {pinned} ll\nr1 = {unpinned} ll\nr0 = 0\nexit\n"
    );
    let obj = bpfsmith::text::assemble("pinned.s", &src).unwrap();
    assert_eq!(
        obj.maps.iter().map(|m| m.pinning).collect::<Vec<_>>(),
        [Pinning::ByName, Pinning::None]
    );
    let path = dir.path().join("pinned.o");
    obj.write_elf(&path).unwrap();
    let map_pin = Pin(root.join(&pinned));
    let other_pin = Pin(root.join(&unpinned));
    let prog_pin = Pin(root.join(format!("bpfsmith_pinprog{}", std::process::id())));
    for p in [&map_pin, &other_pin, &prog_pin] {
        let _ = std::fs::remove_file(&p.0);
    }
    interop::run_ok(
        "bpftool",
        &[
            "prog",
            "load",
            path.to_str().unwrap(),
            prog_pin.0.to_str().unwrap(),
        ],
    );
    assert!(
        map_pin.0.exists(),
        "libbpf pinned the map we wrote as pinned"
    );
    assert!(!other_pin.0.exists(), "and only that one");
    let shown = interop::run_ok(
        "bpftool",
        &["map", "show", "pinned", map_pin.0.to_str().unwrap()],
    );
    assert!(shown.contains("queue"), "{shown}");
}
