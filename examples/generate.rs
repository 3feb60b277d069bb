//! Generate a family of test programs from parameters: every sequence of pushes and pops up to
//! a length, on a small queue and on a small stack, each written as its own ELF object and as
//! assembler source, with the results a model of the kernel's documented semantics predicts.
//!
//! `cargo run --example generate -- OUTDIR [MAX_LEN] [CAPACITY]`
//!
//! * `MAX_LEN` (default 4): the longest sequence; every sequence of 1 to `MAX_LEN` steps is
//!   generated, 2 + 4 + ... + 2^MAX_LEN programs per map type.
//! * `CAPACITY` (default 2): the maps' `max_entries`, so that longer sequences hit a full map
//!   (push: -E2BIG) and an empty one (pop: -ENOENT).
//!
//! Names spell the sequence, one letter a step: `u` a push (of 1, 2, 3 ... by position),
//! `o` a pop. `queue_uuo` pushes 1, pushes 2 and pops (the queue's oldest, 1) on the queue.
//! For each, `OUTDIR/NAME.o` is the object and `OUTDIR/NAME.s` its source with the expected
//! results as a header (`# expect-retval:` and `# expect-map:`); `bpfsmith check OUTDIR`
//! runs every `.s` file and compares. `OUTDIR/expected.txt` lists `NAME.o RETVAL`, one a line.
//! Each program returns a 32-bit digest of every helper result and popped value along its
//! sequence, so one wrong result anywhere changes the return value.

use std::collections::VecDeque;
use std::path::Path;

use bpfsmith::prelude::*;
use bpfsmith::text::object_source;

/// One step of a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Push the next value (1, 2, 3 ... by position) with BPF_ANY.
    Push,
    /// Pop into the buffer.
    Pop,
}

/// The digest multiplier (a prime; arithmetic wraps at 64 bits, as in the program).
const K: u64 = 1_000_003;
const E2BIG: i64 = -7;
const ENOENT: i64 = -2;

/// Every sequence of `len` steps.
pub fn sequences(len: usize) -> Vec<Vec<Op>> {
    (0..1u32 << len)
        .map(|bits| {
            (0..len)
                .map(|i| {
                    if bits >> i & 1 == 1 {
                        Op::Pop
                    } else {
                        Op::Push
                    }
                })
                .collect()
        })
        .collect()
}

/// What the kernel's documented semantics predict the program returns: push gives 0 or
/// -E2BIG when full; pop gives 0 and the oldest (queue) or newest (stack) value, or -ENOENT
/// and a zeroed buffer when empty.
/// Returns the program's return value and the values left in the map afterwards, in the order
/// pops would return them (oldest first for a queue, newest first for a stack).
pub fn model(kind: MapType, capacity: usize, ops: &[Op]) -> (u32, Vec<u64>) {
    let mut items: VecDeque<u64> = VecDeque::new();
    let mut acc: u64 = 0;
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Push => {
                let r0 = if items.len() < capacity {
                    items.push_back(i as u64 + 1);
                    0
                } else {
                    E2BIG
                };
                acc = acc.wrapping_mul(K).wrapping_add(r0 as u64);
            }
            Op::Pop => {
                let got = if kind == MapType::Queue {
                    items.pop_front()
                } else {
                    items.pop_back()
                };
                let (r0, value) = match got {
                    Some(v) => (0, v),
                    None => (ENOENT, 0),
                };
                acc = acc.wrapping_mul(K).wrapping_add(r0 as u64);
                acc = acc.wrapping_mul(K).wrapping_add(value);
            }
        }
    }
    let left = if kind == MapType::Queue {
        items.into_iter().collect()
    } else {
        items.into_iter().rev().collect()
    };
    ((acc ^ (acc >> 32)) as u32, left)
}

/// `r0 = (s32)w0`, with two shifts (`movsx` needs Linux 6.6): the helper's result as the same
/// 64-bit number on every kernel. Before Linux 6.4 the x86 JIT hands push's and pop's errors back
/// zero-extended (`0x00000000fffffff9` for -E2BIG); the interpreter, and 6.4 on, sign-extend.
fn sign_extend_w0(p: &mut ProgramBuilder) {
    p.alu(AluOp::Lsh, R0, 32).alu(AluOp::Arsh, R0, 32);
}

/// The program for one sequence on `map`.
pub fn program(name: &str, map: &MapRef, ops: &[Op]) -> Program {
    let mut p = ProgramBuilder::new(name, Section::SOCKET);
    let buf = p.reserve::<u32>();
    p.mov(R6, 0); // the digest lives in r6, which calls preserve
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Push => {
                p.store(Size::U32, R10, buf.off, i as i32 + 1);
                p.push(map, buf, PushFlags::ANY);
                sign_extend_w0(&mut p);
                p.alu(AluOp::Mul, R6, K as i32).add(R6, R0);
            }
            Op::Pop => {
                p.pop(map, buf);
                sign_extend_w0(&mut p);
                p.alu(AluOp::Mul, R6, K as i32).add(R6, R0);
                p.load(Size::U32, R1, R10, buf.off);
                p.alu(AluOp::Mul, R6, K as i32).add(R6, R1);
            }
        }
    }
    // Fold the 64-bit digest into the 32 bits test_run returns.
    p.mov(R0, R6)
        .mov(R1, R6)
        .alu(AluOp::Rsh, R1, 32)
        .alu(AluOp::Xor, R0, R1)
        .exit();
    p.finish().expect("generated programs build")
}

/// The steps in words: `push 1, push 2, pop`.
fn describe(ops: &[Op]) -> String {
    let steps: Vec<String> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| match op {
            Op::Push => format!("push {}", i + 1),
            Op::Pop => "pop".to_owned(),
        })
        .collect();
    steps.join(", ")
}

/// Write every program up to `max_len` steps into `dir`; returns `(file name, expected)`.
pub fn generate(
    dir: &Path,
    max_len: usize,
    capacity: u32,
) -> Result<Vec<(String, u32)>, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut expected = Vec::new();
    for kind in [MapType::Queue, MapType::Stack] {
        for len in 1..=max_len {
            for ops in sequences(len) {
                let tag: String = ops
                    .iter()
                    .map(|o| if *o == Op::Push { 'u' } else { 'o' })
                    .collect();
                let name = format!("{}_{tag}", kind.name());
                let mut obj = Object::new("GPL");
                let def = if kind == MapType::Queue {
                    MapDef::queue::<u32>(capacity)
                } else {
                    MapDef::stack::<u32>(capacity)
                };
                let map = obj.map(kind.name(), def)?;
                obj.add_program(program(&name, &map, &ops))?;
                let file = format!("{name}.o");
                obj.write_elf(dir.join(&file))?;
                let (retval, left) = model(kind, capacity as usize, &ops);
                let left: Vec<String> = left.iter().map(u64::to_string).collect();
                let source = format!(
                    "# {name}: {} on a {} of {capacity}, generated by examples/generate.rs\n\
                     # expect-load: ok\n# expect-retval: {retval}\n# expect-map: {} = {}\n\n{}",
                    describe(&ops),
                    kind.name(),
                    kind.name(),
                    left.join(" "),
                    object_source(&obj)
                );
                std::fs::write(dir.join(format!("{name}.s")), source)?;
                expected.push((file, retval));
            }
        }
    }
    let manifest: String = expected.iter().map(|(f, r)| format!("{f} {r}\n")).collect();
    std::fs::write(dir.join("expected.txt"), manifest)?;
    Ok(expected)
}

#[allow(dead_code)]
fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: generate OUTDIR [MAX_LEN] [CAPACITY]");
        std::process::exit(2);
    };
    let max_len = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let capacity = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    match generate(Path::new(&dir), max_len, capacity) {
        Ok(files) => println!(
            "wrote {n} objects, their {n} sources and expected.txt into {dir}; \
             `bpfsmith check {dir}` runs each source and compares it with its header",
            n = files.len()
        ),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
