#!/bin/sh
# Instructions executed (cachegrind, deterministic) by `bpfsmith asm` of the 1M-line file of
# bench/asm/gen.sh and by `bpfsmith dis` of examples/big_object's 1M-instruction object: the
# figures to compare builds by on a shared machine, where wall-clock times vary by 10-30%.
# With BASE=path/to/another/bpfsmith, the same for that binary and the ratio.
#
# Needs: cargo, valgrind.
# Usage: bench/instructions.sh [N]        (N lines / instructions, default 1,000,000)
set -eu
cd "$(dirname "$0")/.."
n=${1:-1000000}
target=${CARGO_TARGET_DIR:-target}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
cargo build --quiet --release --bin bpfsmith --example big_object
bench/asm/gen.sh "$n" > "$work/in.s"
"$target/release/examples/big_object" "$n" "$work/big.o" >/dev/null 2>&1

# Instructions executed by one command, its output discarded.
count() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        sed -n 's/.*I *refs: *//p' | tr -d ,
}
for bin in "$target/release/bpfsmith" ${BASE:+"$BASE"}; do
    a=$(count "$bin" asm "$work/in.s" -o "$work/out.o")
    d=$(count "$bin" dis "$work/big.o")
    echo "$bin: asm $a, dis $d instructions"
    echo "$a $d" >> "$work/counts"
done
if [ -n "${BASE:-}" ]; then
    awk 'NR == 1 { a = $1; d = $2 } NR == 2 {
        printf "ratio to BASE: asm %.3f, dis %.3f\n", a / $1, d / $2 }' "$work/counts"
fi
