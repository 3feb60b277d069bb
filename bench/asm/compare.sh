#!/bin/sh
# The assembler against llvm-mc-22, side by side on one generated file of N lines (default
# 1,000,000; see gen.sh): the real CLI, `bpfsmith asm in.s -o out.o` (read, assemble, write the
# ELF object with its .BTF and .BTF.ext line info), and `llvm-mc-22 -filetype=obj`.
#
# Prints hyperfine's comparison, the ratio of the median times, and each tool's peak memory
# (maximum resident set size from /usr/bin/time, the median of 5 runs). First checks that both
# produce the same instructions: the .text sections of the two objects, byte for byte.
#
# Needs: cargo, llvm-mc-22, llvm-objcopy-22, hyperfine, GNU time (/usr/bin/time), jq.
# Usage: bench/asm/compare.sh [N]        (RUNS=15 hyperfine runs by default)
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
cargo build --quiet --release --bin bpfsmith
ours="$target/release/bpfsmith"
mc="llvm-mc-22 -triple bpfel -mcpu=v4 -filetype=obj"
echo "input: $(wc -l < "$work/in.s") lines, $(wc -c < "$work/in.s") bytes"

# Same output first.
$mc -o "$work/llvm.o" "$work/in.s"
"$ours" asm "$work/in.s" -o "$work/ours.o" 2>/dev/null
for o in llvm ours; do
    llvm-objcopy-22 -O binary --only-section=.text "$work/$o.o" "$work/$o.text"
done
cmp "$work/ours.text" "$work/llvm.text"
echo "bytes: identical .text ($(wc -c < "$work/ours.text") bytes of instructions)"

hyperfine --warmup 2 --runs "${RUNS:-15}" --export-json "$work/times.json" \
    -n bpfsmith "$ours asm $work/in.s -o $work/ours.o" \
    -n llvm-mc-22 "$mc -o $work/llvm.o $work/in.s"

ours_median=$(jq '.results[0].median' "$work/times.json")
mc_median=$(jq '.results[1].median' "$work/times.json")
# The median of 5 runs' maximum resident set size, in KiB.
peak() {
    for _ in 1 2 3 4 5; do
        /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1
    done | sort -n | sed -n 3p
}
ours_kb=$(peak "$ours" asm "$work/in.s" -o "$work/ours.o")
mc_kb=$(peak $mc -o "$work/llvm.o" "$work/in.s")
echo
awk -v a="$ours_median" -v b="$mc_median" -v ma="$ours_kb" -v mb="$mc_kb" 'BEGIN {
    printf "median time: bpfsmith %.1f ms, llvm-mc-22 %.1f ms: bpfsmith is %.2fx faster\n", a * 1000, b * 1000, b / a
    printf "peak memory: bpfsmith %.1f MiB, llvm-mc-22 %.1f MiB (%.2fx)\n", ma / 1024, mb / 1024, ma / mb
}'
awk -v a="$ours_median" -v b="$mc_median" -v ma="$ours_kb" -v mb="$mc_kb" 'BEGIN {
    printf "RESULT\tassemble a 1M-line file (asm vs llvm-mc-22 -filetype=obj)\t%.0f ms, %.0f MB\tllvm-mc-22: %.0f ms, %.0f MB\t%.2f\n", a * 1000, ma / 1024, b * 1000, mb / 1024, a / b
}'
