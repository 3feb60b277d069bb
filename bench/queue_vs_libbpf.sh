#!/usr/bin/env bash
# User-space push+pop on a BPF queue map: bpfsmith's Queue<u32> against the same loop in C over
# libbpf (gcc, Debian's libbpf-dev), interleaved runs, medians and their ratio.
# Needs root (or CAP_BPF). Usage: bench/queue_vs_libbpf.sh [RUNS] [PAIRS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
pairs=${2:-200000}
command -v gcc >/dev/null || { echo "needs gcc" >&2; exit 1; }
[ -f /usr/include/bpf/bpf.h ] || { echo "needs libbpf-dev (apt-get install libbpf-dev)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/queue_ops_c" bench/c/queue_ops.c -lbpf
cargo build --release --quiet --bench queue_ops 2>/dev/null || cargo bench --no-run --quiet --bench queue_ops
rust_bin=$(ls -t target/release/deps/queue_ops-* | grep -v '\.d$' | head -1)
: >"$tmp/c"; : >"$tmp/rust"
for _ in $(seq "$runs"); do
    "$tmp/queue_ops_c" "$pairs" >>"$tmp/c"
    "$rust_bin" "$pairs" >>"$tmp/rust"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
c=$(median "$tmp/c"); r=$(median "$tmp/rust")
printf 'push+pop pair, median of %s runs of %s pairs:\n' "$runs" "$pairs"
printf '  C over libbpf      %8.1f ns\n' "$c"
printf '  bpfsmith Queue<T>  %8.1f ns\n' "$r"
awk -v r="$r" -v c="$c" 'BEGIN {printf "  ratio bpfsmith/C   %8.3f\n", r / c}'
awk -v r="$r" -v c="$c" 'BEGIN {printf "RESULT\tuser-space push+pop on a queue\t%.0f ns\tC over libbpf: %.0f ns\t%.2f\n", r, c, r / c}'
