//! Build and encode a program of one million instructions with the DSL.
//!
//! `cargo bench --bench encode` reports the time per million instructions; the README quotes
//! the throughput (instructions per second).

use bpfsmith::insn::encode;
use bpfsmith::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const N: usize = 1_000_000;

/// A program that mixes the common instruction kinds: ALU, stores, loads, jumps, calls and
/// map references (two slots each), with a label every 8 instructions.
fn build(obj: &Object) -> Program {
    let q = obj.map_ref("queue").expect("the map exists");
    let mut p = ProgramBuilder::new("bench", Section::SOCKET);
    p.reserve_insns(N + 16);
    while p.len() < N - 16 {
        let skip = p.new_label();
        p.mov(R0, 1)
            .add(W1, W2)
            .store(Size::U32, R10, -4, 7)
            .load(Size::U32, R3, R10, -4)
            .jump_if(R3, Cond::Ne, 7, skip)
            .ld_map(R1, &q)
            .call(Helper::MapPeekElem)
            .bind(skip);
    }
    p.mov(R0, 0).exit();
    p.finish().expect("the benchmark program builds")
}

fn bench(c: &mut Criterion) {
    let mut obj = Object::new("GPL");
    obj.map("queue", MapDef::queue::<u32>(16))
        .expect("valid map");
    let mut g = c.benchmark_group("dsl");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(20);
    g.bench_function("build_and_encode_1M", |b| {
        b.iter(|| {
            let prog = build(&obj);
            encode(&prog.insns).len()
        })
    });
    let prog = build(&obj);
    g.bench_function("encode_1M", |b| b.iter(|| encode(&prog.insns).len()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
