//! A stack (LIFO): peek sees the newest element, pop takes it, and BPF_EXIST on a full stack
//! drops the oldest one (the bottom), not the top.
//!
//! User space fills a 3-slot stack with 1, 2, 3. The program peeks (3), pushes 4 with
//! BPF_EXIST (dropping 1), pops (4) and returns peeked * 10 + popped = 34. The stack then drains
//! as 3, 2.
//!
//! `cargo run --example stack` (needs root or CAP_BPF to load; prints the listing either way).

use bpfsmith::prelude::*;

/// The object: one 3-slot stack of `u32` and the program `peek_push_pop`.
pub fn object() -> Object {
    let mut obj = Object::new("GPL");
    let stack = obj
        .map("lifo", MapDef::stack::<u32>(3))
        .expect("a valid stack");
    let mut p = ProgramBuilder::new("peek_push_pop", Section::SOCKET);
    let slot = p.reserve::<u32>();
    let fail = p.label("fail");
    p.peek(&stack, slot); //                         r0 = bpf_map_peek_elem(lifo, r10 - 4)
    p.jump_if(W0, Cond::Ne, 0, fail); //             the low 32 bits: the same on every kernel
    p.load(Size::U32, R6, R10, slot.off); //         r6 = the newest element
    p.store(Size::U32, R10, slot.off, 4);
    p.push(&stack, slot, PushFlags::EXIST); //       full: the oldest element goes
    p.jump_if(W0, Cond::Ne, 0, fail);
    p.pop(&stack, slot); //                          the newest: 4
    p.jump_if(W0, Cond::Ne, 0, fail);
    p.load(Size::U32, R0, R10, slot.off);
    p.alu(AluOp::Mul, R6, 10).add(R0, R6); //        peeked * 10 + popped
    p.exit();
    p.bind(fail).mov(R0, 0).exit();
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
    let lifo = loaded.stack::<u32>("lifo")?;
    for v in [1, 2, 3] {
        lifo.push(v, PushFlags::ANY)?;
    }
    let prog = loaded.program("peek_push_pop")?;
    let out = prog.test_run(&TestRun {
        data: &[0; 64],
        ..Default::default()
    })?;
    Ok((out.retval, lifo.drain()?))
}

#[allow(dead_code)]
fn main() {
    let obj = object();
    print!("{}", bpfsmith::snapshot::object_listing(&obj));
    #[cfg(bpfsmith_kernel)]
    match run() {
        Ok((ret, left)) => println!("\nreturned {ret}; the stack drains as {left:?}"),
        Err(e) => println!("\nnot run in the kernel: {e}"),
    }
}
