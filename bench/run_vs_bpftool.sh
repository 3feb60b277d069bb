#!/usr/bin/env bash
# Whole-process comparison: `bpfsmith run` of the seed object against `bpftool prog loadall`
# followed by `bpftool prog run` (and unpinning), with hyperfine. Needs root, bpffs, bpftool,
# hyperfine. The bpftool side needs three steps (load and pin, run, unpin) for what
# `bpfsmith run` does in one process. Usage: bench/run_vs_bpftool.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
for t in bpftool hyperfine; do command -v "$t" >/dev/null || { echo "needs $t" >&2; exit 1; }; done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
cargo build --release --quiet
bin=target/release/bpfsmith
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; rm -rf /sys/fs/bpf/bpfsmith-bench' EXIT
"$bin" demo >/dev/null
cp "${TMPDIR:-/tmp}/bpfsmith-demo/seed.o" "$tmp/seed.o"
head -c 64 /dev/zero >"$tmp/data"
hyperfine --warmup 3 --runs "$runs" --export-json "$tmp/run.json" \
    -n "bpfsmith run" "$bin run $tmp/seed.o --prog queue_prog --data @$tmp/data" \
    -n "bpftool loadall+run" "bpftool prog loadall $tmp/seed.o /sys/fs/bpf/bpfsmith-bench && bpftool prog run pinned /sys/fs/bpf/bpfsmith-bench/queue_prog data_in $tmp/data && rm -rf /sys/fs/bpf/bpfsmith-bench" \
    >"$tmp/hyperfine.log" 2>&1 || { cat "$tmp/hyperfine.log" >&2; exit 1; }
python3 - "$tmp/run.json" <<'PY'
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
a, b = r["bpfsmith run"], r["bpftool loadall+run"]
print(f"whole process, median of hyperfine runs:")
print(f"  bpfsmith run          {a*1e3:8.2f} ms")
print(f"  bpftool loadall+run   {b*1e3:8.2f} ms")
print(f"  ratio bpfsmith/bpftool {a/b:7.3f}")
print(f"RESULT\trun the seed object (whole process)\t{a*1e3:.2f} ms\tbpftool prog loadall + prog run: {b*1e3:.2f} ms\t{a/b:.2f}")
PY
