//! aya loads what we write: the seed scenario and its XDP twin (written with `write_elf`) and
//! every loadable `asm/*.s` example (the file `bpfsmith asm` writes, no option) go through `aya::Ebpf::load` (aya's own ELF, BTF
//! and `.maps` reader and its relocations); every map is created with the type, sizes and
//! flags of its definition; the queue and stack maps push and pop from user space through
//! `aya::maps::Queue` / `Stack`; every program loads through the verifier as aya's
//! `SocketFilter` or `Xdp`, and, test-run on aya's program fd, returns what its header (or the
//! seed scenario) says and leaves the maps as expected.
//!
//! Needs root (or CAP_BPF): each test skips with a notice without it, or fails when
//! `BPFSMITH_REQUIRE_KERNEL=1`.
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;
#[path = "common/objects.rs"]
mod objects;
#[path = "common/tools.rs"]
mod tools;

use std::fmt::Debug;
use std::os::fd::AsFd;

use aya::maps::{Map, MapData, MapError, Queue, Stack};
use aya::programs::Program;
use aya::{Ebpf, Pod};
use bpfsmith::maps::{flags, MapDef, MapType};
use bpfsmith::program::ProgType;
use bpfsmith::sys::{map_info, prog_info, prog_test_run, TestRunAttrs};
use objects::{cases, is_queue_or_stack, Case};

/// `BPF_EXIST`: push into a full queue or stack by dropping its oldest element.
const BPF_EXIST: u64 = 2;

/// Write the case into `dir` ([`Case::write`]) and load the file's bytes with aya.
fn aya_load(case: &Case, dir: &tools::TempDir) -> Ebpf {
    let path = case.write(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    Ebpf::load(&bytes).unwrap_or_else(|e| panic!("{}: aya::Ebpf::load: {e:?}", case.name))
}

/// The kernel-side map behind an aya map, checking that aya picked the variant of its type.
fn map_data<'a>(case: &str, name: &str, map: &'a Map, want: MapType) -> &'a MapData {
    match (want, map) {
        (MapType::Queue, Map::Queue(d))
        | (MapType::Stack, Map::Stack(d))
        | (MapType::Hash, Map::HashMap(d))
        | (MapType::Array, Map::Array(d)) => d,
        _ => panic!("{case}: map {name}: aya made {map:?} of a {want:?} map"),
    }
}

/// Every map of the object is in aya's list with the right variant, and the kernel created it
/// as defined.
fn check_maps(case: &Case, ebpf: &Ebpf) {
    let mut names: Vec<&str> = ebpf.maps().map(|(n, _)| n).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = case.obj.maps.iter().map(|m| m.name.as_str()).collect();
    want.sort_unstable();
    assert_eq!(names, want, "{}: maps", case.name);
    for m in &case.obj.maps {
        let def: &MapDef = &m.def;
        let map = ebpf.map(&m.name).unwrap();
        let info = map_data(&case.name, &m.name, map, def.map_type)
            .info()
            .unwrap_or_else(|e| panic!("{}: map {}: info: {e}", case.name, m.name));
        let got = (
            info.key_size(),
            info.value_size(),
            info.max_entries(),
            info.map_flags(),
        );
        let expected = (def.key_size, def.value_size, def.max_entries, def.map_flags);
        assert_eq!(
            got, expected,
            "{}: map {} (key size, value size, max entries, flags)",
            case.name, m.name
        );
        assert_eq!(info.name_as_str(), Some(m.name.as_str()), "{}", case.name);
        // aya creates keyed maps with the object's BTF (key and value types from `.maps`);
        // queue and stack maps it creates without BTF, by its own choice (aya's
        // `bpf_create_map` clears their BTF ids), so there is nothing to check for those.
        if !is_queue_or_stack(def.map_type) {
            let data = map_data(&case.name, &m.name, map, def.map_type);
            let kinfo = map_info(data.fd().as_fd()).unwrap();
            assert_ne!(kinfo.btf_id, 0, "{}: map {} has no BTF", case.name, m.name);
        }
    }
}

/// Load every program of the object with aya (the verifier runs) and check what the kernel
/// says it loaded.
fn load_programs(case: &Case, ebpf: &mut Ebpf) {
    let mut names: Vec<&str> = ebpf.programs().map(|(n, _)| n).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = case.obj.programs.iter().map(|p| p.name.as_str()).collect();
    want.sort_unstable();
    assert_eq!(names, want, "{}: programs", case.name);
    let btf = case.obj.btf().unwrap();
    for (pi, p) in case.obj.programs.iter().enumerate() {
        let prog = ebpf.program_mut(&p.name).unwrap();
        let want_type = p.section.kind().map(|k| k.prog_type);
        let loaded = match (want_type, &mut *prog) {
            (Some(ProgType::SocketFilter), Program::SocketFilter(s)) => s.load(),
            (Some(ProgType::Xdp), Program::Xdp(x)) => x.load(),
            (t, other) => panic!(
                "{}: program {} of section {} ({t:?}): aya made {:?}",
                case.name,
                p.name,
                p.section.name(),
                other.prog_type()
            ),
        };
        loaded.unwrap_or_else(|e| panic!("{}: {}: aya load: {e:?}", case.name, p.name));
        let info = prog.info().unwrap();
        assert_eq!(
            info.program_type() as u32,
            want_type.unwrap() as u32,
            "{}: {}: program type in the kernel",
            case.name,
            p.name
        );
        assert_eq!(info.name_as_str(), Some(p.name.as_str()), "{}", case.name);
        // aya read our `.BTF.ext` and passed its records: the kernel holds one func_info per
        // function and every line_info record we wrote.
        let kinfo = prog_info(prog.fd().unwrap().as_fd()).unwrap();
        let ours = &btf.programs[pi];
        assert_ne!(kinfo.btf_id, 0, "{}: {} has no BTF", case.name, p.name);
        assert_eq!(
            (kinfo.nr_func_info, kinfo.nr_line_info),
            (ours.func_info.len() as u32, ours.line_info.len() as u32),
            "{}: {}: func_info and line_info records in the kernel",
            case.name,
            p.name
        );
    }
}

#[test]
fn aya_loads_every_object_its_maps_and_programs() {
    require_kernel!("aya_loads_every_object_its_maps_and_programs");
    let dir = tools::TempDir::new("aya-load");
    let mut loaded = Vec::new();
    for case in cases() {
        let mut ebpf = aya_load(&case, &dir);
        check_maps(&case, &ebpf);
        load_programs(&case, &mut ebpf);
        loaded.push(case.name);
    }
    tools::notice(&format!("aya loaded: {}", loaded.join(", ")));
}

/// Push the values `1..=n` into a full map's worth of slots and pop them back.
fn fill_and_drain<V>(case: &str, name: &str, map: &mut Map, t: MapType)
where
    V: Pod + From<u8> + Into<u64> + Debug + PartialEq,
{
    let v = |x: u8| V::from(x);
    let e2big = |r: Result<(), MapError>| match r {
        Err(MapError::SyscallError(e)) => e.io_error.raw_os_error() == Some(libc::E2BIG),
        _ => false,
    };
    let popped = |pop: &mut dyn FnMut() -> Result<V, MapError>| {
        let mut got = Vec::new();
        loop {
            match pop() {
                Ok(x) => got.push(x.into()),
                Err(MapError::ElementNotFound) => break got,
                Err(e) => panic!("{case}: {name}: pop: {e:?}"),
            }
        }
    };
    match t {
        MapType::Queue => {
            let mut q: Queue<&mut MapData, V> =
                Queue::try_from(&mut *map).unwrap_or_else(|e| panic!("{case}: {name}: {e:?}"));
            let n = q.capacity() as u8;
            for x in 1..=n {
                q.push(v(x), 0).unwrap();
            }
            assert!(e2big(q.push(v(n + 1), 0)), "{case}: {name}: full queue");
            q.push(v(n + 1), BPF_EXIST).unwrap();
            // FIFO: 1 was dropped, 2..=n+1 come out oldest first.
            let want: Vec<u64> = (2..=n + 1).map(u64::from).collect();
            assert_eq!(popped(&mut || q.pop(0)), want, "{case}: {name}");
        }
        MapType::Stack => {
            let mut s: Stack<&mut MapData, V> =
                Stack::try_from(&mut *map).unwrap_or_else(|e| panic!("{case}: {name}: {e:?}"));
            let n = s.capacity() as u8;
            for x in 1..=n {
                s.push(v(x), 0).unwrap();
            }
            assert!(e2big(s.push(v(n + 1), 0)), "{case}: {name}: full stack");
            s.push(v(n + 1), BPF_EXIST).unwrap();
            // LIFO: 1 (the oldest) was dropped, n+1 down to 2 come out newest first.
            let want: Vec<u64> = (2..=n + 1).rev().map(u64::from).collect();
            assert_eq!(popped(&mut || s.pop(0)), want, "{case}: {name}");
        }
        _ => unreachable!(),
    }
}

#[test]
fn aya_pushes_and_pops_every_queue_and_stack() {
    require_kernel!("aya_pushes_and_pops_every_queue_and_stack");
    let dir = tools::TempDir::new("aya-push");
    let mut checked = 0;
    for case in cases() {
        let mut ebpf = aya_load(&case, &dir);
        for m in &case.obj.maps {
            if !is_queue_or_stack(m.def.map_type) {
                continue;
            }
            let map = ebpf.map_mut(&m.name).unwrap();
            match m.def.value_size {
                2 => fill_and_drain::<u16>(&case.name, &m.name, map, m.def.map_type),
                4 => fill_and_drain::<u32>(&case.name, &m.name, map, m.def.map_type),
                8 => fill_and_drain::<u64>(&case.name, &m.name, map, m.def.map_type),
                n => panic!("{}: {}: no test for value size {n}", case.name, m.name),
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} queue/stack maps checked");
}

/// Push `values` into the queue or stack `map` (values stored in the map's value size).
fn push_all(map: &mut Map, def: &MapDef, values: &[u64]) {
    for &x in values {
        match (def.map_type, def.value_size) {
            (MapType::Queue, 2) => Queue::<_, u16>::try_from(&mut *map)
                .unwrap()
                .push(x as u16, 0),
            (MapType::Queue, 4) => Queue::<_, u32>::try_from(&mut *map)
                .unwrap()
                .push(x as u32, 0),
            (MapType::Queue, 8) => Queue::<_, u64>::try_from(&mut *map).unwrap().push(x, 0),
            (MapType::Stack, 2) => Stack::<_, u16>::try_from(&mut *map)
                .unwrap()
                .push(x as u16, 0),
            (MapType::Stack, 4) => Stack::<_, u32>::try_from(&mut *map)
                .unwrap()
                .push(x as u32, 0),
            (MapType::Stack, 8) => Stack::<_, u64>::try_from(&mut *map).unwrap().push(x, 0),
            other => panic!("no push for {other:?}"),
        }
        .unwrap();
    }
}

/// Pop the queue or stack `map` until it is empty.
fn drain(map: &mut Map, def: &MapDef) -> Vec<u64> {
    let mut got = Vec::new();
    loop {
        let r = match (def.map_type, def.value_size) {
            (MapType::Queue, 2) => Queue::<_, u16>::try_from(&mut *map)
                .unwrap()
                .pop(0)
                .map(u64::from),
            (MapType::Queue, 4) => Queue::<_, u32>::try_from(&mut *map)
                .unwrap()
                .pop(0)
                .map(u64::from),
            (MapType::Queue, 8) => Queue::<_, u64>::try_from(&mut *map).unwrap().pop(0),
            (MapType::Stack, 2) => Stack::<_, u16>::try_from(&mut *map)
                .unwrap()
                .pop(0)
                .map(u64::from),
            (MapType::Stack, 4) => Stack::<_, u32>::try_from(&mut *map)
                .unwrap()
                .pop(0)
                .map(u64::from),
            (MapType::Stack, 8) => Stack::<_, u64>::try_from(&mut *map).unwrap().pop(0),
            other => panic!("no pop for {other:?}"),
        };
        match r {
            Ok(x) => got.push(x),
            Err(MapError::ElementNotFound) => return got,
            Err(e) => panic!("pop: {e:?}"),
        }
    }
}

/// The programs, loaded by aya, run with `BPF_PROG_TEST_RUN` on aya's program fd (through
/// bpfsmith's `sys::prog_test_run`): values pushed with aya beforehand reach the program,
/// the program returns the expected value, and aya pops what the program left in the maps.
#[test]
fn aya_loaded_programs_run_as_expected() {
    require_kernel!("aya_loaded_programs_run_as_expected");
    let dir = tools::TempDir::new("aya-run");
    let mut runs = 0;
    for case in cases() {
        let mut ebpf = aya_load(&case, &dir);
        load_programs(&case, &mut ebpf);
        let def = |name: &str| &case.obj.maps.iter().find(|m| m.name == name).unwrap().def;
        for (map, values) in &case.push_before {
            push_all(ebpf.map_mut(map).unwrap(), def(map), values);
        }
        for (prog, want) in &case.runs {
            let fd = ebpf.program(prog).unwrap().fd().unwrap();
            let out = prog_test_run(
                fd.as_fd(),
                TestRunAttrs {
                    data_in: &[0; 64],
                    data_out: &mut [],
                    ctx_in: &[],
                    ctx_out: &mut [],
                    repeat: 1,
                    flags: 0,
                    cpu: 0,
                    batch_size: 0,
                },
            )
            .unwrap_or_else(|e| panic!("{}: {prog}: test run: {e}", case.name));
            assert_eq!(
                out.retval as i32, *want as i32,
                "{}: {prog}: return value",
                case.name
            );
            runs += 1;
        }
        for (map, values) in &case.maps_after {
            let got = drain(ebpf.map_mut(map).unwrap(), def(map));
            assert_eq!(&got, values, "{}: map {map} after the runs", case.name);
        }
    }
    assert!(runs >= 11, "only {runs} programs ran");
}

/// Keyed maps and map flags (the objects above hold only queues and stacks, without flags):
/// aya creates a hash map and an array with the key and value BTF of `.maps` and the flags
/// of their definitions, and reads and writes them from user space.
#[test]
fn aya_creates_keyed_maps_with_btf_and_flags() {
    require_kernel!("aya_creates_keyed_maps_with_btf_and_flags");
    let mut obj = bpfsmith::object::Object::new("GPL");
    obj.map(
        "counts",
        MapDef::hash::<u32, u64>(16).with_flags(flags::NO_PREALLOC),
    )
    .unwrap();
    obj.map("slots", MapDef::array::<u64>(4)).unwrap();
    obj.map(
        "events",
        MapDef::queue::<u64>(8).with_flags(flags::RDONLY_PROG),
    )
    .unwrap();
    let case = Case {
        name: "keyed".into(),
        obj,
        push_before: Vec::new(),
        runs: Vec::new(),
        maps_after: Vec::new(),

        source: None,
    };
    let dir = tools::TempDir::new("aya-keyed");
    let mut ebpf = aya_load(&case, &dir);
    check_maps(&case, &ebpf);

    let mut counts: aya::maps::HashMap<_, u32, u64> =
        aya::maps::HashMap::try_from(ebpf.map_mut("counts").unwrap()).unwrap();
    counts.insert(7, 700, 0).unwrap();
    assert_eq!(counts.get(&7, 0).unwrap(), 700);
    let mut slots: aya::maps::Array<_, u64> =
        aya::maps::Array::try_from(ebpf.map_mut("slots").unwrap()).unwrap();
    slots.set(3, 33, 0).unwrap();
    assert_eq!(slots.get(&3, 0).unwrap(), 33);
    assert_eq!(slots.get(&0, 0).unwrap(), 0);
}
