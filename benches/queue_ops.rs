//! User-space push + pop on a BPF queue map through `Queue<u32>`: the Rust side of
//! `bench/queue_vs_libbpf.sh`. Prints the mean nanoseconds per push+pop pair (needs root or
//! CAP_BPF; prints a notice and exits 0 otherwise).

fn main() {
    #[cfg(bpfsmith_kernel)]
    {
        use bpfsmith::load::Queue;
        use bpfsmith::program::PushFlags;
        let n: u32 = std::env::args()
            .skip(1)
            .find_map(|a| a.parse().ok())
            .unwrap_or(200_000);
        let q = match Queue::<u32>::create("bench_q", 1024) {
            Ok(q) => q,
            Err(e) => {
                eprintln!("notice: cannot create a queue map ({e}); benchmark skipped");
                return;
            }
        };
        let start = std::time::Instant::now();
        for v in 0..n {
            q.push(v, PushFlags::ANY).expect("push");
            let out = q.pop().expect("pop");
            assert_eq!(out, v);
        }
        let ns = start.elapsed().as_nanos() as f64 / n as f64;
        println!("{ns:.1}");
    }
}
