//! Queue and stack maps from user space, against the running kernel: the kernel's own
//! test_queuemap / test_stackmap scenario (tools/testing/selftests/bpf/test_maps.c), creation
//! failures, and the typed handles. Needs root or CAP_BPF (see tests/common/kernel.rs).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::load::{flags, Map, MapError, Queue, Stack};
use bpfsmith::maps::{flags as map_flags, MapDef, MapDefError, MapType};
use bpfsmith::program::PushFlags;
use bpfsmith::sys::{self, MapCreate};

const MAP_SIZE: u32 = 32;

/// The errno of a failed operation.
fn errno<T: std::fmt::Debug>(r: Result<T, MapError>) -> Option<i32> {
    r.unwrap_err().errno()
}

fn u32_of(bytes: Vec<u8>) -> u32 {
    u32::from_ne_bytes(bytes.try_into().expect("4-byte value"))
}

/// test_queuemap / test_stackmap, on the raw byte-level handle, asserting the errnos.
fn raw_scenario(map_type: MapType) {
    // Values 0..48 (the kernel's test uses random ones; these make the order visible).
    let vals: Vec<u32> = (0..MAP_SIZE + MAP_SIZE / 2).collect();
    let def = MapDef::new(map_type, 0, 4, MAP_SIZE);
    let m = Map::create_named("scenario", &def).unwrap();

    // Push MAP_SIZE elements.
    for v in &vals[..MAP_SIZE as usize] {
        m.update(&[], &v.to_ne_bytes(), flags::ANY).unwrap();
    }
    // The next one does not fit.
    assert_eq!(
        errno(m.update(&[], &12345u32.to_ne_bytes(), flags::ANY)),
        Some(libc::E2BIG)
    );
    // Peek: the first (queue) or the last (stack) value.
    let peeked = u32_of(m.lookup(&[], 0).unwrap());
    match map_type {
        MapType::Queue => assert_eq!(peeked, vals[0]),
        _ => assert_eq!(peeked, vals[MAP_SIZE as usize - 1]),
    }
    // Push MAP_SIZE/2 more with BPF_EXIST: the oldest are dropped to make room.
    for v in &vals[MAP_SIZE as usize..] {
        m.update(&[], &v.to_ne_bytes(), flags::EXIST).unwrap();
    }
    // Pop MAP_SIZE elements.
    let popped: Vec<u32> = (0..MAP_SIZE)
        .map(|_| u32_of(m.lookup_and_delete(&[], 0).unwrap()))
        .collect();
    let expected: Vec<u32> = match map_type {
        MapType::Queue => (16..48).collect(),
        _ => (16..48).rev().collect(),
    };
    assert_eq!(popped, expected);
    // Empty now.
    assert_eq!(errno(m.lookup_and_delete(&[], 0)), Some(libc::ENOENT));
    assert_eq!(errno(m.lookup(&[], 0)), Some(libc::ENOENT));

    // Commands these maps do not support.
    assert_eq!(errno(m.delete(&[])), Some(libc::EINVAL));
    assert_eq!(errno(m.get_next_key(None)), Some(libc::EINVAL));
    // Pop takes no flags, not even BPF_F_LOCK (which passes the generic check and is refused
    // by the queue/stack one).
    m.update(&[], &1u32.to_ne_bytes(), flags::ANY).unwrap();
    assert_eq!(errno(m.lookup_and_delete(&[], 1)), Some(libc::EINVAL));
    assert_eq!(
        errno(m.lookup_and_delete(&[], flags::F_LOCK)),
        Some(libc::EINVAL)
    );
    // Push takes BPF_ANY or BPF_EXIST only.
    assert_eq!(
        errno(m.update(&[], &2u32.to_ne_bytes(), flags::NOEXIST)),
        Some(libc::EINVAL)
    );
    assert_eq!(
        errno(m.update(&[], &2u32.to_ne_bytes(), 3)),
        Some(libc::EINVAL)
    );
    // The failed pops and pushes changed nothing.
    assert_eq!(u32_of(m.lookup_and_delete(&[], 0).unwrap()), 1);
    assert_eq!(errno(m.lookup_and_delete(&[], 0)), Some(libc::ENOENT));
}

#[test]
fn queue_scenario_of_the_kernel_selftest() {
    require_kernel!("queue_scenario_of_the_kernel_selftest");
    raw_scenario(MapType::Queue);
}

#[test]
fn stack_scenario_of_the_kernel_selftest() {
    require_kernel!("stack_scenario_of_the_kernel_selftest");
    raw_scenario(MapType::Stack);
}

#[test]
fn failed_peek_from_user_space_leaves_the_buffer_alone() {
    require_kernel!("failed_peek_from_user_space_leaves_the_buffer_alone");
    // The map zeroes its kernel-side copy on ENOENT, but the syscall copies nothing back.
    let m = Map::create(&MapDef::queue::<u32>(4)).unwrap();
    let mut buf = [0xaau8; 4];
    let e = m.lookup_into(&[], &mut buf, 0).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
    assert_eq!(buf, [0xaa; 4]);
}

/// test_queuemap / test_stackmap again, through the typed handles and their errors.
fn typed_scenario<H>(
    push: impl Fn(&H, u32, PushFlags) -> Result<(), MapError>,
    pop: impl Fn(&H) -> Result<u32, MapError>,
    peek: impl Fn(&H) -> Result<u32, MapError>,
    drain: impl Fn(&H) -> Result<Vec<u32>, MapError>,
    h: &H,
    is_queue: bool,
) {
    for v in 0..MAP_SIZE {
        push(h, v, PushFlags::ANY).unwrap();
    }
    assert_eq!(push(h, 99, PushFlags::ANY), Err(MapError::Full));
    assert_eq!(peek(h), Ok(if is_queue { 0 } else { MAP_SIZE - 1 }));
    for v in MAP_SIZE..MAP_SIZE + MAP_SIZE / 2 {
        push(h, v, PushFlags::EXIST).unwrap();
    }
    let first = pop(h).unwrap();
    let mut all = vec![first];
    all.extend(drain(h).unwrap());
    let expected: Vec<u32> = if is_queue {
        (16..48).collect()
    } else {
        (16..48).rev().collect()
    };
    assert_eq!(all, expected);
    assert_eq!(pop(h), Err(MapError::Empty));
    assert_eq!(peek(h), Err(MapError::Empty));
    assert_eq!(drain(h), Ok(vec![]));
    assert_eq!(
        push(h, 1, PushFlags(1)),
        Err(MapError::InvalidFlags { flags: 1 })
    );
}

#[test]
fn typed_queue_and_stack() {
    require_kernel!("typed_queue_and_stack");
    let q = Queue::<u32>::create("typed_queue", MAP_SIZE).unwrap();
    assert_eq!(q.capacity(), MAP_SIZE);
    typed_scenario(
        |h: &Queue<u32>, v, f| h.push(v, f),
        |h| h.pop(),
        |h| h.peek(),
        |h| h.drain(),
        &q,
        true,
    );
    q.push(5, PushFlags::ANY).unwrap();
    assert_eq!(
        q.pop_with_flags(flags::F_LOCK),
        Err(MapError::InvalidFlags {
            flags: flags::F_LOCK
        })
    );
    assert_eq!(q.pop(), Ok(5));

    let s = Stack::<u32>::create("typed_stack", MAP_SIZE).unwrap();
    typed_scenario(
        |h: &Stack<u32>, v, f| h.push(v, f),
        |h| h.pop(),
        |h| h.peek(),
        |h| h.drain(),
        &s,
        false,
    );
}

#[test]
fn typed_handles_check_type_and_value_size() {
    require_kernel!("typed_handles_check_type_and_value_size");
    let q = Map::create_named("q", &MapDef::queue::<u32>(4)).unwrap();
    assert!(matches!(
        Stack::<u32, _>::try_from_map(&q),
        Err(MapError::WrongType {
            expected: MapType::Stack,
            actual: MapType::Queue,
            ..
        })
    ));
    assert!(matches!(
        Queue::<u64, _>::try_from_map(&q),
        Err(MapError::ValueSize {
            expected: 4,
            got: 8,
            ..
        })
    ));
    let typed = Queue::<u32, _>::try_from_map(&q).unwrap();
    typed.push(7, PushFlags::ANY).unwrap();
    // 64-bit values and byte-array values.
    let wide = Stack::<u64>::create("wide", 2).unwrap();
    wide.push(u64::MAX - 1, PushFlags::ANY).unwrap();
    assert_eq!(wide.pop(), Ok(u64::MAX - 1));
    let blobs = Queue::<[u8; 12]>::create("blobs", 2).unwrap();
    blobs.push(*b"hello, queue", PushFlags::ANY).unwrap();
    assert_eq!(blobs.peek(), Ok(*b"hello, queue"));
    // The raw handle checks buffer sizes before the kernel sees them.
    assert!(matches!(
        q.update(&[0; 4], &[0; 4], 0),
        Err(MapError::KeySize {
            expected: 0,
            got: 4,
            ..
        })
    ));
    assert!(matches!(
        q.update(&[], &[0; 8], 0),
        Err(MapError::ValueSize {
            expected: 4,
            got: 8,
            ..
        })
    ));
}

/// The four definitions both the kernel and `MapDef::check` refuse, for queue and stack.
fn bad_defs(map_type: MapType) -> Vec<(&'static str, MapDef)> {
    let ok = MapDef::new(map_type, 0, 4, MAP_SIZE);
    let mut key = ok.clone();
    key.key_size = 4;
    let prealloc = ok.clone().with_flags(map_flags::NO_PREALLOC);
    let mut value = ok.clone();
    value.value_size = 0;
    let mut entries = ok.clone();
    entries.max_entries = 0;
    vec![
        ("key_size 4", key),
        ("BPF_F_NO_PREALLOC", prealloc),
        ("value_size 0", value),
        ("max_entries 0", entries),
    ]
}

#[test]
fn kernel_and_mapdef_check_refuse_the_same_definitions() {
    require_kernel!("kernel_and_mapdef_check_refuse_the_same_definitions");
    for map_type in [MapType::Queue, MapType::Stack] {
        // The good one passes both.
        let ok = MapDef::new(map_type, 0, 4, MAP_SIZE);
        assert_eq!(ok.check(), Ok(()));
        sys::map_create(&MapCreate {
            map_type: map_type as u32,
            key_size: 0,
            value_size: 4,
            max_entries: MAP_SIZE,
            ..Default::default()
        })
        .unwrap();
        for (what, def) in bad_defs(map_type) {
            // The kernel, through the raw layer that bypasses MapDef::check.
            let err = sys::map_create(&MapCreate {
                map_type: def.map_type as u32,
                key_size: def.key_size,
                value_size: def.value_size,
                max_entries: def.max_entries,
                map_flags: def.map_flags,
                name: "bad",
                ..Default::default()
            })
            .expect_err(what);
            assert_eq!(err.errno, libc::EINVAL, "{map_type} with {what}: {err}");
            assert_eq!(err.cmd, sys::Cmd::MapCreate);
            // The library's rule.
            let rule = def.check().expect_err(what);
            match what {
                "key_size 4" => assert!(matches!(rule, MapDefError::QueueStackKey { .. })),
                "BPF_F_NO_PREALLOC" => {
                    assert!(matches!(rule, MapDefError::QueueStackNoPrealloc { .. }))
                }
                "value_size 0" => assert!(matches!(rule, MapDefError::ZeroValueSize { .. })),
                _ => assert!(matches!(rule, MapDefError::ZeroMaxEntries { .. })),
            }
            // And Map::create stops before the kernel.
            assert!(matches!(
                Map::create_named("bad", &def),
                Err(MapError::BadDef { .. })
            ));
        }
    }
}

#[test]
fn map_names_are_truncated_to_fifteen_bytes() {
    require_kernel!("map_names_are_truncated_to_fifteen_bytes");
    let m = Map::create_named("a_very_long_map_name", &MapDef::stack::<u32>(2)).unwrap();
    assert_eq!(m.name(), "a_very_long_map_name");
    let info = m.info().unwrap();
    assert_eq!(info.name, "a_very_long_map");
    assert_eq!(info.map_type, MapType::Stack as u32);
    assert_eq!(
        (info.key_size, info.value_size, info.max_entries),
        (0, 4, 2)
    );
    assert_ne!(info.id, 0);
}

#[test]
fn pinned_maps_reopen_with_their_definition() {
    require_kernel!("pinned_maps_reopen_with_their_definition");
    let dir = std::path::Path::new("/sys/fs/bpf");
    if !bpfsmith::sys::is_bpffs(dir).unwrap_or(false) {
        eprintln!("notice: skipping the pinning test: no bpffs at /sys/fs/bpf");
        return;
    }
    let path = dir.join(format!("bpfsmith_test_{}", std::process::id()));
    let q = Queue::<u32>::create("pinned", 8).unwrap();
    q.map().pin(&path).unwrap();
    let again = Map::from_pinned(&path);
    std::fs::remove_file(&path).unwrap();
    let again = again.unwrap();
    assert_eq!(again.def().map_type, MapType::Queue);
    assert_eq!(again.def().value_size, 4);
    assert_eq!(again.def().max_entries, 8);
    assert_eq!(again.name(), "pinned");
    let q2 = Queue::<u32>::try_from_map(again).unwrap();
    q.push(11, PushFlags::ANY).unwrap();
    assert_eq!(q2.pop(), Ok(11));
}

/// A definition given by sizes alone (`MapDef::new`) loads with its BTF for every keyed map
/// type: the kernel requires an array map's key to be a 32-bit integer in BTF
/// (`array_map_check_btf`), so a 4-byte key is written as `unsigned int`, not as 4 bytes.
#[test]
fn definitions_by_size_load_with_their_btf() {
    require_kernel!("definitions_by_size_load_with_their_btf");
    use bpfsmith::object::Object;
    use bpfsmith::prelude::*;
    for (map_type, key_size) in [
        (MapType::Array, 4),
        (MapType::PercpuArray, 4),
        (MapType::Hash, 4),
        (MapType::Hash, 12),
        (MapType::LruHash, 8),
    ] {
        let mut obj = Object::new("GPL");
        let m = obj
            .map("m", MapDef::new(map_type, key_size, 80, 1))
            .unwrap();
        let mut p = ProgramBuilder::new("p", Section::SOCKET);
        p.ld_map(R1, &m).mov(R0, 0).exit();
        obj.add_program(p.finish().unwrap()).unwrap();
        if let Err(e) = obj.load() {
            panic!("{map_type:?} with a {key_size}-byte key: {e}");
        }
    }
}
