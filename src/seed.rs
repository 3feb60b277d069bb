//! The seed scenario: push, pop and peek on a queue and on a stack, built with the DSL, and
//! what the kernel documents it to give. Tests and users read it to learn helpers 87-89; the
//! `bpfsmith demo` command walks through it (its script lives in the binary, `src/cli/`).
//!
//! Two maps of four `u32` slots, `queue` (FIFO) and `stack` (LIFO), and one socket-filter
//! program for each, doing the same thing:
//!
//! 1. push 10, 20, 30, 40 with `BPF_ANY` (the map is now full);
//! 2. push 50 with `BPF_ANY`: refused with `-E2BIG`;
//! 3. push 50 with `BPF_EXIST`: accepted, the oldest element (10) is dropped;
//! 4. peek into one buffer, pop into another, and return the popped value if it equals the
//!    peeked one.
//!
//! The queue program returns 20 and leaves 30, 40, 50; the stack program returns 50 and leaves
//! 40, 30, 20 (in pop order). A step that does not behave as the kernel documents makes the
//! program return `1000 + step` instead.
//!
//! Each helper's result is tested in its low 32 bits (`w0`, a `JMP32` jump): before Linux 6.4
//! the x86 JIT hands a push's, pop's or peek's error back zero-extended (`0x00000000fffffff9`
//! for -E2BIG), so a 64-bit `r0 != -7` would fail step 2 on those kernels.
//!
//! ```
//! let obj = bpfsmith::seed::object();
//! assert_eq!(obj.maps.len(), 2);
//! assert_eq!(obj.programs.len(), 2);
//! assert_eq!(bpfsmith::seed::EXPECTED_RETVAL, [("queue_prog", 20), ("stack_prog", 50)]);
//! ```

use crate::insn::{Cond, Reg, Size, W0};
use crate::maps::MapDef;
use crate::object::Object;
use crate::program::{MapRef, Program, ProgramBuilder, PushFlags, Section};

/// Capacity of both maps.
pub const CAPACITY: u32 = 4;

/// What each program returns when the kernel behaves as documented.
pub const EXPECTED_RETVAL: [(&str, u32); 2] = [("queue_prog", 20), ("stack_prog", 50)];

/// What each map holds afterwards, in pop order.
pub const EXPECTED_LEFT: [(&str, [u32; 3]); 2] = [("queue", [30, 40, 50]), ("stack", [40, 30, 20])];

/// `-E2BIG`, what `bpf_map_push_elem` returns on a full map without `BPF_EXIST`.
const E2BIG: i32 = -7;

/// The seed scenario as an object: the two maps and the two programs.
pub fn object() -> Object {
    let mut obj = Object::new("GPL");
    let def = MapDef::queue::<u32>(CAPACITY);
    let queue = obj
        .map("queue", def)
        .expect("the seed queue is a valid map");
    let stack = obj
        .map("stack", MapDef::stack::<u32>(CAPACITY))
        .expect("the seed stack is a valid map");
    for (name, map) in [("queue_prog", &queue), ("stack_prog", &stack)] {
        obj.add_program(program(name, map))
            .expect("the seed program references its own map");
    }
    obj
}

/// One program of the scenario against `map` (a queue or a stack of `u32`).
pub fn program(name: &str, map: &MapRef) -> Program {
    let mut p = ProgramBuilder::new(name, Section::SOCKET);
    let value = p.reserve::<u32>();
    let peeked = p.reserve::<u32>();
    let popped = p.reserve::<u32>();
    let fail = p.label("fail");

    // Step 1: fill the map. Each push reads the value from the stack buffer.
    for v in [10, 20, 30, 40] {
        p.store(Size::U32, Reg::R10, value.off, v);
        p.push(map, value, PushFlags::ANY);
        p.mov(Reg::R6, 1001);
        p.jump_if(W0, Cond::Ne, 0, fail);
    }
    // Step 2: one more with BPF_ANY is refused with -E2BIG.
    p.store(Size::U32, Reg::R10, value.off, 50);
    p.push(map, value, PushFlags::ANY);
    p.mov(Reg::R6, 1002);
    // w0: portable to kernels before 6.4 (their JIT zero-extends the error into r0).
    p.jump_if(W0, Cond::Ne, E2BIG, fail);
    // Step 3: with BPF_EXIST it goes in, and the oldest element is dropped.
    p.push(map, value, PushFlags::EXIST);
    p.mov(Reg::R6, 1003);
    p.jump_if(W0, Cond::Ne, 0, fail);
    // Step 4: peek, then pop; both must succeed and agree.
    p.peek(map, peeked);
    p.mov(Reg::R6, 1004);
    p.jump_if(W0, Cond::Ne, 0, fail);
    p.pop(map, popped);
    p.mov(Reg::R6, 1005);
    p.jump_if(W0, Cond::Ne, 0, fail);
    p.load(Size::U32, Reg::R1, Reg::R10, peeked.off);
    p.load(Size::U32, Reg::R0, Reg::R10, popped.off);
    p.mov(Reg::R6, 1006);
    p.jump_if(Reg::R0, Cond::Ne, Reg::R1, fail);
    p.exit();
    p.bind(fail);
    p.mov(Reg::R0, Reg::R6);
    p.exit();
    let mut prog = p.finish().expect("the seed program is well formed");
    // Keep this file's text in the program, so that listings and line info show the Rust
    // lines wherever the binary runs.
    for f in &mut prog.files {
        if f.path.ends_with("seed.rs") {
            f.text = Some(include_str!("seed.rs").into());
        }
    }
    prog
}
