//! Every file descriptor the loader opens is closed again: create maps, load programs (also
//! refused ones, with the log retry), run them, drop everything, and count the entries of
//! /proc/self/fd. One test in its own binary, so no other test opens descriptors meanwhile.
//! Needs root or CAP_BPF (see tests/common/kernel.rs).
#![cfg(bpfsmith_kernel)]

#[macro_use]
#[path = "common/kernel.rs"]
mod kernel;

use bpfsmith::insn::Callee;
use bpfsmith::load::{log_level, LoadOptions, Map, Queue, Stack, TestRun};
use bpfsmith::prelude::*;
use bpfsmith::program::{Reloc, RelocKind};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn work() {
    // An object with a queue, a stack, a program on each, and a cross-section call.
    let mut obj = Object::new("GPL");
    let q = obj.map("queue", MapDef::queue::<u32>(4)).unwrap();
    let s = obj.map("stack", MapDef::stack::<u64>(4)).unwrap();
    for (name, map) in [("pop_q", &q), ("pop_s", &s)] {
        let mut p = ProgramBuilder::new(name, Section::SOCKET);
        let v = if name == "pop_q" {
            p.reserve::<u32>()
        } else {
            p.reserve::<u64>()
        };
        p.pop(map, v);
        p.exit();
        obj.add_program(p.finish().unwrap()).unwrap();
    }
    let mut caller = ProgramBuilder::new("caller", Section::XDP);
    caller.emit(Insn::Call(Callee::Local(-1))).exit();
    let mut caller = caller.finish().unwrap();
    caller.relocs.push(Reloc {
        insn: 0,
        symbol: "two".into(),
        kind: RelocKind::Function,
    });
    obj.add_program(caller).unwrap();
    let mut text = ProgramBuilder::new("two", Section::TEXT);
    text.mov(R0, 2).exit();
    obj.add_program(text.finish().unwrap()).unwrap();

    for level in [0, log_level::EVERY_INSN] {
        let loaded = obj
            .load_with(&LoadOptions {
                log_level: level,
                log_size: 128,
                ..Default::default()
            })
            .unwrap();
        loaded
            .queue::<u32>("queue")
            .unwrap()
            .push(5, PushFlags::ANY)
            .unwrap();
        for p in loaded.programs() {
            p.test_run(&TestRun {
                data: &[0; 64],
                data_out_size: 64,
                ..Default::default()
            })
            .unwrap();
            p.info().unwrap();
        }
        let taken = {
            let mut loaded = loaded;
            loaded.take_map("stack").unwrap()
        };
        // The map outlives its object.
        Stack::<u64>::try_from_map(taken)
            .unwrap()
            .push(1, PushFlags::ANY)
            .unwrap();
    }

    // A refused program: the maps are created, the load fails twice (no log, then a log that
    // must grow), and everything is closed on the way out.
    let mut bad = obj.clone();
    let mut p = ProgramBuilder::new("refused", Section::SOCKET);
    p.exit();
    bad.add_program(p.finish().unwrap()).unwrap();
    assert!(bad
        .load_with(&LoadOptions {
            log_size: 128,
            ..Default::default()
        })
        .is_err());

    // Standalone maps, typed and raw, failing operations included.
    let q = Queue::<u32>::create("standalone", 2).unwrap();
    q.push(1, PushFlags::ANY).unwrap();
    q.drain().unwrap();
    assert!(q.pop().is_err());
    let m = Map::create(&MapDef::hash::<u32, u64>(8)).unwrap();
    m.update(&1u32.to_ne_bytes(), &2u64.to_ne_bytes(), 0)
        .unwrap();
    assert!(m.lookup(&9u32.to_ne_bytes(), 0).is_err());
    let _ = m.get_next_key(None).unwrap();
    let info = m.info().unwrap();
    let again = Map::from_fd(m.sys().try_clone().unwrap().into_fd()).unwrap();
    assert_eq!(again.info().unwrap().id, info.id);
}

#[test]
fn no_descriptor_outlives_its_handle() {
    require_kernel!("no_descriptor_outlives_its_handle");
    // Warm up once: the first calls may open descriptors that stay (none expected, but the
    // count must not depend on it).
    work();
    let before = open_fds();
    for _ in 0..5 {
        work();
    }
    let after = open_fds();
    assert_eq!(before, after, "descriptors leaked");
}
