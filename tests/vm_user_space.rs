//! User space's side of the VM's maps against the kernel's syscalls: random sequences of
//! `BPF_MAP_UPDATE_ELEM` (every flag from 0 to 4), `LOOKUP_ELEM`, `DELETE_ELEM` and
//! `LOOKUP_AND_DELETE_ELEM` on a queue, a stack, an array and a hash give the same errno and
//! the same values through [`VmMap`] as through `bpfsmith::load::Map`. Needs root or CAP_BPF;
//! otherwise skips with a notice (a failure with BPFSMITH_REQUIRE_KERNEL=1).
//! `BPFSMITH_VM_DIFF_CASES` sets the number of sequences (default 300).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::load::Map;
use bpfsmith::maps::{MapDef, MapType};
use bpfsmith::vm::VmMap;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Clone, Copy, Debug)]
enum Op {
    Update(u32, u8, u64),
    Lookup(u32),
    Delete(u32),
    LookupAndDelete(u32, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u32..4;
    prop_oneof![
        3 => (key.clone(), any::<u8>(), 0u64..5).prop_map(|(k, v, f)| Op::Update(k, v, f)),
        1 => key.clone().prop_map(Op::Lookup),
        1 => key.clone().prop_map(Op::Delete),
        1 => (key, prop_oneof![3 => Just(0u64), 1 => 0u64..5]).prop_map(|(k, f)| Op::LookupAndDelete(k, f)),
    ]
}

/// An operation's result: the value it gave, or the errno.
type Result_ = Result<Option<Vec<u8>>, i32>;

fn def(kind: MapType) -> MapDef {
    match kind {
        MapType::Queue => MapDef::queue::<u64>(3),
        MapType::Stack => MapDef::stack::<u64>(3),
        MapType::Array => MapDef::array::<u64>(3),
        _ => MapDef::hash::<u32, u64>(3),
    }
}

fn key(kind: MapType, k: u32) -> Vec<u8> {
    if matches!(kind, MapType::Queue | MapType::Stack) {
        Vec::new()
    } else {
        k.to_le_bytes().to_vec()
    }
}

fn in_vm(m: &mut VmMap, kind: MapType, op: Op) -> Result_ {
    let errno = |e: bpfsmith::vm::MapError| e.errno();
    match op {
        Op::Update(k, v, f) => m
            .update(&key(kind, k), &u64::from(v).to_le_bytes(), f)
            .map(|()| None)
            .map_err(errno),
        Op::Lookup(k) => m.lookup(&key(kind, k)).map(Some).map_err(errno),
        Op::Delete(k) => m.delete(&key(kind, k)).map(|()| None).map_err(errno),
        Op::LookupAndDelete(k, f) => m
            .lookup_and_delete(&key(kind, k), f)
            .map(Some)
            .map_err(errno),
    }
}

fn in_kernel(m: &Map, kind: MapType, op: Op) -> Result_ {
    let errno = |e: bpfsmith::load::MapError| e.errno().unwrap_or(-1);
    match op {
        Op::Update(k, v, f) => m
            .update(&key(kind, k), &u64::from(v).to_le_bytes(), f)
            .map(|()| None)
            .map_err(errno),
        Op::Lookup(k) => m.lookup(&key(kind, k), 0).map(Some).map_err(errno),
        Op::Delete(k) => m.delete(&key(kind, k)).map(|()| None).map_err(errno),
        Op::LookupAndDelete(k, f) => m
            .lookup_and_delete(&key(kind, k), f)
            .map(Some)
            .map_err(errno),
    }
}

#[test]
fn user_space_operations_give_what_the_syscalls_give() {
    require_kernel!("user_space_operations_give_what_the_syscalls_give");
    let mut runner = TestRunner::new(Config {
        cases: std::env::var("BPFSMITH_VM_DIFF_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300),
        failure_persistence: None,
        ..Config::default()
    });
    let kinds = prop::sample::select(vec![
        MapType::Queue,
        MapType::Stack,
        MapType::Array,
        MapType::Hash,
    ]);
    let strategy = (kinds, proptest::collection::vec(op(), 1..24));
    let compared = std::cell::Cell::new(0usize);
    runner
        .run(&strategy, |(kind, ops)| {
            let mut vm = VmMap::new("m", &def(kind)).unwrap();
            let k = Map::create(&def(kind)).unwrap();
            for (i, &op) in ops.iter().enumerate() {
                let (a, b) = (in_vm(&mut vm, kind, op), in_kernel(&k, kind, op));
                prop_assert_eq!(
                    a,
                    b,
                    "{:?} step {} {:?}: VM (left), kernel (right)",
                    kind,
                    i,
                    op
                );
                compared.set(compared.get() + 1);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{} operations: the same errno and values", compared.get());
}
