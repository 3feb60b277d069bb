//! A queue (FIFO) shared by user space and a program.
//!
//! User space pushes 1, 2, 3. The program pops the oldest element (1), pushes it back times ten
//! (10) and returns it. User space then drains the queue: 2, 3, 10.
//!
//! `cargo run --example queue` (needs root or CAP_BPF to load; prints the listing either way).
//!
//! The pop's result is tested in its low 32 bits (`W0`, a `JMP32` jump): before Linux 6.4 the
//! x86 JIT hands the helper's error back zero-extended, so only the 32-bit view of r0 is the
//! same on every kernel.

use bpfsmith::prelude::*;

/// The queue's capacity.
const CAPACITY: u32 = 8;

/// The object: one queue of `u32` and the program `pop_push`.
pub fn object() -> Object {
    let mut obj = Object::new("GPL");
    let queue = obj
        .map("fifo", MapDef::queue::<u32>(CAPACITY))
        .expect("a valid queue");
    let mut p = ProgramBuilder::new("pop_push", Section::SOCKET);
    let value = p.reserve::<u32>();
    let empty = p.label("empty");
    p.pop(&queue, value); //                          r0 = bpf_map_pop_elem(fifo, r10 - 4)
    p.jump_if(W0, Cond::Ne, 0, empty); //             -ENOENT: nothing to pop (w0: the low 32 bits)
    p.load(Size::U32, R6, R10, value.off); //         r6 survives the next call
    p.mov(R1, R6).alu(AluOp::Mul, R1, 10); //        r1 = value * 10
    p.store_reg(Size::U32, R10, value.off, R1); //    back into the buffer
    p.push(&queue, value, PushFlags::ANY); //         bpf_map_push_elem(fifo, r10 - 4, BPF_ANY)
    p.mov(R0, R6).exit(); //                          return the popped value
    p.bind(empty).mov(R0, 0).exit();
    obj.add_program(p.finish().expect("the program builds"))
        .expect("its map is in the object");
    obj
}

/// Load, push 1 2 3 from user space, run once, drain: `(returned, drained)`.
#[cfg(bpfsmith_kernel)]
pub fn run() -> Result<(u32, Vec<u32>), Box<dyn std::error::Error>> {
    use bpfsmith::load::TestRun;
    let obj = object();
    let loaded = obj.load()?;
    let fifo = loaded.queue::<u32>("fifo")?;
    for v in [1, 2, 3] {
        fifo.push(v, PushFlags::ANY)?;
    }
    let out = loaded.program("pop_push")?.test_run(&TestRun {
        data: &[0; 64],
        ..Default::default()
    })?;
    Ok((out.retval, fifo.drain()?))
}

#[allow(dead_code)]
fn main() {
    let obj = object();
    print!("{}", bpfsmith::snapshot::object_listing(&obj));
    #[cfg(bpfsmith_kernel)]
    match run() {
        Ok((ret, left)) => println!("\nreturned {ret}; the queue drains as {left:?}"),
        Err(e) => println!("\nnot run in the kernel: {e}"),
    }
}
