//! Write an object with one program of N instructions (default one million) that mixes every
//! common instruction kind, for the listing and loading benchmarks in `bench/`.
//!
//! `cargo run --release --example big_object -- 1000000 /tmp/big.o`

use bpfsmith::prelude::*;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let out = args.next().unwrap_or_else(|| "big.o".to_owned());
    let mut obj = Object::new("GPL");
    let q = obj
        .map("queue", MapDef::queue::<u32>(16))
        .expect("a valid map");
    let mut p = ProgramBuilder::new("big", Section::SOCKET);
    p.reserve_insns(n + 16);
    while p.len() + 12 < n {
        let skip = p.new_label();
        p.mov(R0, 1)
            .add(W1, W2)
            .store(Size::U32, R10, -4, 7)
            .load(Size::U32, R3, R10, -4);
        p.jump_if(R3, Cond::Ne, 7, skip)
            .ld_map(R1, &q)
            .call(Helper::MapPeekElem);
        p.atomic(Size::U64, AtomicOp::Add { fetch: true }, R10, -16, R4)
            .bind(skip);
    }
    p.mov(R0, 0).exit();
    let prog = p.finish().expect("the program builds");
    let count = prog.insns.len();
    obj.add_program(prog).expect("its map is in the object");
    if let Err(e) = obj.write_elf(&out) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    eprintln!("wrote {out}: {count} instructions");
}
