#!/usr/bin/env bash
# Every side-by-side comparison in one go, and a table of medians and ratios (ratio = bpfsmith's
# time / the other tool's: below 1 is faster). The README's benchmark table is this script's
# output. Needs root (the kernel comparisons), llvm-22, bpftool, hyperfine, gcc, libbpf-dev,
# jq and GNU time: `apt-get install -y llvm-22 bpftool hyperfine gcc libbpf-dev jq time`.
# Usage: bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp); trap 'rm -f "$out"' EXIT
section() { echo; echo "== $*"; }

section "assembling a 1M-line file: bpfsmith asm vs llvm-mc-22"
bench/asm/compare.sh | tee -a "$out"
section "listing a 1M-instruction object: bpfsmith dis vs llvm-objdump-22"
bench/dis_vs_objdump.sh | tee -a "$out"
section "running the seed object: bpfsmith run vs bpftool"
bench/run_vs_bpftool.sh | tee -a "$out"
section "user-space queue operations: Queue<u32> vs C over libbpf"
bench/queue_vs_libbpf.sh | tee -a "$out"

section "DSL: build and encode 1M instructions (criterion)"
enc=$(cargo bench --quiet --bench encode -- build_and_encode_1M 2>&1 | tee /dev/stderr | awk '/build_and_encode_1M/ {f=1} f && /thrpt:/ {print $4, $5; exit}')
printf 'RESULT\tDSL build + encode, 1M instructions\t%s\t(target: 20 Melem/s)\t-\n' "$enc" >>"$out"
section "verifier log: parse 1M lines (criterion)"
vp=$(cargo bench --quiet --bench verifier_parse -- parse 2>&1 | tee /dev/stderr | awk '/verifier_log_1M_lines\/parse/ {f=1} f && /time:/ {print $4, $5; exit}')
printf 'RESULT\tparse a 1M-line level-2 verifier log\t%s\t(target: at most 1 s)\t-\n' "$vp" >>"$out"

echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'):"
echo
echo "| comparison | bpfsmith | the other tool | ratio |"
echo "|---|---|---|---|"
grep '^RESULT' "$out" | awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5}'
