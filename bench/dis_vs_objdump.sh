#!/usr/bin/env bash
# `bpfsmith dis` against `llvm-objdump-22 -d` on one large object: examples/big_object with N
# instructions (default one million: a label and a map relocation every 8 instructions, BTF
# line info for every one). Prints the hyperfine medians and their ratio, and the max RSS of
# each (/usr/bin/time -f %M, median of 5 runs).
# Usage: bench/dis_vs_objdump.sh [INSNS]   (installs hyperfine with apt-get when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
objdump=llvm-objdump-22
command -v "$objdump" >/dev/null || { echo "needs $objdump (apt-get install llvm-22)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "needs python3 (to read hyperfine's JSON)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
if ! command -v hyperfine >/dev/null; then
    sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y hyperfine >/dev/null
fi

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin bpfsmith --example big_object
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
obj=$tmp/big.o
"$target/release/examples/big_object" "$n" "$obj"
bpfsmith=$target/release/bpfsmith

hyperfine --style basic --warmup 2 --runs 10 --export-json "$tmp/times.json" \
    -n bpfsmith "$bpfsmith dis $obj > /dev/null" \
    -n "$objdump" "$objdump -d $obj > /dev/null"

# Max RSS in KB, median of 5 runs.
rss() {
    for _ in 1 2 3 4 5; do
        /usr/bin/time -f %M -o "$tmp/rss" "$@" >/dev/null
        cat "$tmp/rss"
    done | sort -n | sed -n 3p
}
rss_b=$(rss "$bpfsmith" dis "$obj")
rss_o=$(rss "$objdump" -d "$obj")

read -r t_b t_o < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["bpfsmith"], r[sys.argv[2]])' "$tmp/times.json" "$objdump")

echo
printf 'dis of an object of %s instructions (%s bytes):\n' "$n" "$(stat -c %s "$obj")"
printf '  %-20s %11s %14s\n' "" "median time" "max RSS"
printf '  %-20s %9.3f s %11s KB\n' "bpfsmith dis" "$t_b" "$rss_b"
printf '  %-20s %9.3f s %11s KB\n' "$objdump -d" "$t_o" "$rss_o"
awk -v b="$t_b" -v o="$t_o" -v rb="$rss_b" -v ro="$rss_o" 'BEGIN {
    printf "  bpfsmith is %.2fx faster (ratio of medians), with %.2fx the memory\n", o / b, rb / ro
}'
awk -v b="$t_b" -v o="$t_o" -v rb="$rss_b" -v ro="$rss_o" 'BEGIN {
    printf "RESULT\tlist a 1M-instruction object (dis vs llvm-objdump-22 -d)\t%.0f ms, %.0f MB\tllvm-objdump-22: %.0f ms, %.0f MB\t%.2f\n", b * 1000, rb / 1024, o * 1000, ro / 1024, b / o
}'
