#!/usr/bin/env bash
# Throughput of generating and checking a corpus: `bpfsmith gen` of COUNT programs, then
# `bpfsmith check` of them in the VM and on the running kernel (root or CAP_BPF), each timed
# by hyperfine over RUNS runs (gen into a fresh folder each run).
#
#   COUNT=10000 RUNS=5 bench/gen_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-10000}
RUNS=${RUNS:-5}
if [ -z "${BPFSMITH:-}" ]; then
    cargo build --release --quiet
    BPFSMITH=target/release/bpfsmith
fi
command -v hyperfine >/dev/null || { echo "gen_check: needs hyperfine" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
B="$BPFSMITH"

hyperfine --runs "$RUNS" --export-markdown "$work/gen.md" \
    --prepare "rm -rf $work/g" \
    "$B gen --seed 1 --count $COUNT --out $work/g"
# The corpus the checks read.
rm -rf "$work/g"
"$B" gen --seed 1 --count "$COUNT" --out "$work/g" >/dev/null
hyperfine --runs "$RUNS" --export-markdown "$work/check.md" \
    -n "check, VM" "$B check $work/g --engine vm" \
    -n "check, kernel" "$B check $work/g --engine kernel"
# Every file must pass for the figures to mean anything.
"$B" check "$work/g" --engine kernel | tail -1
"$B" check "$work/g" --engine vm | tail -1
cat "$work/gen.md" "$work/check.md"
