//! Queue and stack maps in the VM, one test per rule of the kernel's `queue_stack_maps.c` (as
//! `../shared/seed/README.md` sums it up): push with BPF_ANY / BPF_EXIST, E2BIG when full,
//! EINVAL for other flags, pop and peek with ENOENT and the buffer zeroed, FIFO and LIFO
//! order, user space's side, and the definitions the kernel refuses.

use bpfsmith::helpers::Helper;
use bpfsmith::insn::{Insn, Pseudo, Size, R0, R1, R10, R2, R3, R6};
use bpfsmith::maps::{MapDef, MapType};
use bpfsmith::prelude::*;
use bpfsmith::vm::{MapError, Vm, VmErrorKind, VmMap};

const E2BIG: i64 = 7;
const EINVAL: i64 = 22;
const ENOENT: i64 = 2;

/// `r6 = r1; *(u64 *)(r10 - 8) = fill; call helper(map fd 0, r10 - 8, flags);
/// *(u64 *)(r6 + 0) = r0; r0 = *(u64 *)(r10 - 8)`: the helper's result lands in the memory,
/// the buffer's contents in r0.
fn call(helper: Helper, fill: i32, flags: i64) -> Vec<Insn> {
    vec![
        Insn::mov(R6, R1),
        Insn::store(Size::U64, R10, -8, fill),
        Insn::LdImm64 {
            dst: R1,
            pseudo: Pseudo::MapFd,
            imm: 0,
        },
        Insn::mov(R2, R10),
        Insn::add(R2, -8),
        Insn::ld_imm64(R3, flags),
        Insn::call(helper),
        Insn::store(Size::U64, R6, 0, R0),
        Insn::load(Size::U64, R0, R10, -8),
        Insn::exit(),
    ]
}

/// A map of `kind` with u64 values and `max` entries, holding `values` (pushed from user space).
fn map(kind: MapType, max: u32, values: &[u64]) -> VmMap {
    let mut m = VmMap::new("m", &MapDef::new(kind, 0, 8, max)).unwrap();
    for v in values {
        m.push(&v.to_le_bytes(), 0).unwrap();
    }
    m
}

/// Run `helper` once on `m`: (helper's r0, the buffer after, the map after, popped in order).
fn once(m: VmMap, helper: Helper, fill: i32, flags: i64) -> (i64, u64, Vec<u64>) {
    let mut vm = Vm::new(&call(helper, fill, flags));
    let i = vm.add_map(m);
    vm.bind_fd(0, i);
    let mut mem = [0u8; 8];
    let buf = vm.run(&mut mem).unwrap().r0;
    let left = vm.maps()[i]
        .contents()
        .iter()
        .map(|v| u64::from_le_bytes(v[..8].try_into().unwrap()))
        .collect();
    (i64::from_le_bytes(mem), buf, left)
}

#[test]
fn push_with_bpf_any_adds_until_full_then_gives_e2big() {
    for kind in [MapType::Queue, MapType::Stack] {
        let (r0, _, left) = once(map(kind, 2, &[1]), Helper::MapPushElem, 5, 0);
        assert_eq!(r0, 0);
        let want = if kind == MapType::Queue {
            [1, 5]
        } else {
            [5, 1]
        };
        assert_eq!(left, want);
        let (r0, _, left) = once(map(kind, 2, &[1, 2]), Helper::MapPushElem, 5, 0);
        assert_eq!(r0, -E2BIG, "{kind:?}: sign-extended -E2BIG in r0");
        assert_eq!(left.len(), 2);
    }
}

#[test]
fn push_with_bpf_exist_on_a_full_map_drops_the_oldest() {
    // Queue: 1 2 3 full, push 4 -> 2 3 4 (pop order). Stack: the oldest (1) goes as well,
    // and pops give 4 3 2.
    let (r0, _, left) = once(
        map(MapType::Queue, 3, &[1, 2, 3]),
        Helper::MapPushElem,
        4,
        2,
    );
    assert_eq!((r0, left), (0, vec![2, 3, 4]));
    let (r0, _, left) = once(
        map(MapType::Stack, 3, &[1, 2, 3]),
        Helper::MapPushElem,
        4,
        2,
    );
    assert_eq!((r0, left), (0, vec![4, 3, 2]));
    // Not full: BPF_EXIST simply pushes.
    let (r0, _, left) = once(map(MapType::Queue, 3, &[1]), Helper::MapPushElem, 4, 2);
    assert_eq!((r0, left), (0, vec![1, 4]));
}

#[test]
fn push_with_other_flags_is_einval_and_changes_nothing() {
    for flags in [1, 3, 4, 1 << 32, -1] {
        let (r0, _, left) = once(map(MapType::Queue, 3, &[1]), Helper::MapPushElem, 4, flags);
        assert_eq!((r0, left), (-EINVAL, vec![1]), "flags {flags:#x}");
    }
}

#[test]
fn pop_and_peek_on_an_empty_map_give_enoent_and_zero_the_buffer() {
    for kind in [MapType::Queue, MapType::Stack] {
        for h in [Helper::MapPopElem, Helper::MapPeekElem] {
            let (r0, buf, _) = once(map(kind, 2, &[]), h, -1, 0);
            assert_eq!((r0, buf), (-ENOENT, 0), "{kind:?} {h}");
        }
    }
}

#[test]
fn a_queue_gives_the_oldest_a_stack_the_newest_and_peek_keeps_it() {
    let (r0, buf, left) = once(
        map(MapType::Queue, 4, &[1, 2, 3]),
        Helper::MapPeekElem,
        0,
        0,
    );
    assert_eq!((r0, buf, left), (0, 1, vec![1, 2, 3]));
    let (r0, buf, left) = once(map(MapType::Queue, 4, &[1, 2, 3]), Helper::MapPopElem, 0, 0);
    assert_eq!((r0, buf, left), (0, 1, vec![2, 3]));
    let (r0, buf, left) = once(
        map(MapType::Stack, 4, &[1, 2, 3]),
        Helper::MapPeekElem,
        0,
        0,
    );
    assert_eq!((r0, buf, left), (0, 3, vec![3, 2, 1]));
    let (r0, buf, left) = once(map(MapType::Stack, 4, &[1, 2, 3]), Helper::MapPopElem, 0, 0);
    assert_eq!((r0, buf, left), (0, 3, vec![2, 1]));
}

#[test]
fn user_space_gets_the_same_errors_as_the_syscalls() {
    // test_maps' test_queuemap in small: fill, E2BIG, overwrite with BPF_EXIST, drain, ENOENT.
    let mut q = map(MapType::Queue, 4, &[0, 1, 2, 3]);
    let e = q.push(&9u64.to_le_bytes(), 0).unwrap_err();
    assert_eq!(e.errno() as i64, E2BIG);
    assert_eq!(
        q.push(&9u64.to_le_bytes(), 1).unwrap_err().errno() as i64,
        EINVAL
    );
    q.push(&4u64.to_le_bytes(), 2).unwrap();
    assert_eq!(q.peek().unwrap(), 1u64.to_le_bytes());
    for want in 1u64..5 {
        assert_eq!(q.pop().unwrap(), want.to_le_bytes());
    }
    assert!(matches!(q.pop(), Err(MapError::Empty(_))));
    assert_eq!(q.peek().unwrap_err().errno() as i64, ENOENT);
    // A value of the wrong size is refused.
    assert_eq!(q.push(&[0; 4], 0).unwrap_err().errno() as i64, EINVAL);
}

#[test]
fn the_definitions_the_kernel_refuses_are_refused() {
    let bad = [
        MapDef::new(MapType::Queue, 4, 8, 4), // key_size must be 0
        MapDef::new(MapType::Queue, 0, 8, 0), // max_entries 0
        MapDef::new(MapType::Stack, 0, 0, 4), // value_size 0
        MapDef::queue::<u32>(4).with_flags(bpfsmith::maps::flags::NO_PREALLOC),
    ];
    for def in bad {
        let e = VmMap::new("bad", &def).unwrap_err();
        assert_eq!(e.errno() as i64, EINVAL, "{def:?}");
    }
}

#[test]
fn a_map_argument_that_is_no_map_is_an_error() {
    let mut insns = call(Helper::MapPushElem, 0, 0);
    insns[2] = Insn::ld_imm64(R1, 0); // a null "map"
    let mut vm = Vm::new(&insns);
    let e = vm.run(&mut [0; 8]).unwrap_err();
    assert!(matches!(e.kind, VmErrorKind::BadMap(_)), "{e}");
    assert!(e.to_string().contains("bpf_map_push_elem"), "{e}");
    // A map fd the VM does not know.
    let e = Vm::new(&call(Helper::MapPushElem, 0, 0))
        .run(&mut [0; 8])
        .unwrap_err();
    assert!(e.to_string().contains("no map of the VM has fd 0"), "{e}");
}

#[test]
fn an_object_program_finds_its_maps_by_relocation() {
    let mut obj = Object::new("GPL");
    let queue = obj.map("queue", MapDef::queue::<u32>(2)).unwrap();
    let mut p = ProgramBuilder::new("q", Section::SOCKET);
    p.store(Size::U32, R10, -4, 42);
    p.push(&queue, StackSlot::of::<u32>(-4), PushFlags::ANY);
    p.exit();
    obj.add_program(p.finish().unwrap()).unwrap();
    let mut vm = Vm::from_object(&obj, "q").unwrap();
    assert_eq!(vm.run(&mut [0; 8]).unwrap().r0, 0);
    assert_eq!(vm.run(&mut [0; 8]).unwrap().r0, 0);
    assert_eq!(vm.run(&mut [0; 8]).unwrap().r0 as i64, -E2BIG);
    assert_eq!(
        vm.map("queue").unwrap().contents(),
        vec![42u32.to_le_bytes().to_vec(); 2]
    );
    assert!(Vm::from_object(&obj, "nope").is_err());
}
