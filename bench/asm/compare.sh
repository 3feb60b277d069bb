#!/bin/sh
# The assembler against llvm-mc-22, side by side on one generated file of N lines (default
# 1,000,000; see gen.sh): bpfsmith's library assembler (examples/asm_bench.rs: read, assemble,
# write the program bytes; no ELF writer yet) and `llvm-mc-22 -filetype=obj`.
#
# Prints hyperfine's comparison, the ratio of the median times, and each tool's peak memory
# (maximum resident set size from /usr/bin/time -v). First checks that both produce the same
# bytes: bpfsmith's program bytes against the .text section of llvm-mc's object.
#
# Needs: cargo, llvm-mc-22, llvm-objcopy-22, hyperfine, GNU time (/usr/bin/time), jq.
# Usage: bench/asm/compare.sh [N]
set -eu
cd "$(dirname "$0")/../.."
n=${1:-1000000}
target=${CARGO_TARGET_DIR:-target}
for tool in llvm-mc-22 llvm-objcopy-22 hyperfine jq /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install -y hyperfine jq time llvm-22)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

bench/asm/gen.sh "$n" > "$work/in.s"
cargo build --quiet --release --example asm_bench
ours="$target/release/examples/asm_bench"
mc="llvm-mc-22 -triple bpfel -mcpu=v4 -filetype=obj"
echo "input: $(wc -l < "$work/in.s") lines, $(wc -c < "$work/in.s") bytes"

# Same output first.
$mc -o "$work/llvm.o" "$work/in.s"
"$ours" "$work/in.s" "$work/ours.bin"
llvm-objcopy-22 -O binary --only-section=.text "$work/llvm.o" "$work/llvm.text"
cmp "$work/ours.bin" "$work/llvm.text"
echo "bytes: identical ($(wc -c < "$work/ours.bin") bytes of instructions)"

hyperfine --warmup 2 --runs "${RUNS:-15}" --export-json "$work/times.json" \
    -n bpfsmith "$ours $work/in.s $work/ours.bin" \
    -n llvm-mc-22 "$mc -o $work/llvm.o $work/in.s"

ours_median=$(jq '.results[0].median' "$work/times.json")
mc_median=$(jq '.results[1].median' "$work/times.json")
peak() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }'
}
ours_kb=$(peak "$ours" "$work/in.s" "$work/ours.bin")
mc_kb=$(peak $mc -o "$work/llvm.o" "$work/in.s")
echo
awk -v a="$ours_median" -v b="$mc_median" -v ma="$ours_kb" -v mb="$mc_kb" 'BEGIN {
    printf "median time: bpfsmith %.1f ms, llvm-mc-22 %.1f ms: bpfsmith is %.2fx faster\n", a * 1000, b * 1000, b / a
    printf "peak memory: bpfsmith %.1f MiB, llvm-mc-22 %.1f MiB (%.2fx)\n", ma / 1024, mb / 1024, ma / mb
}'
