#!/usr/bin/env bash
# The differential campaign: generated programs in the VM, on this machine's kernel and on
# other kernels under qemu with the JIT on and off, each difference minimised.
#
#   COUNT=2000 SEED=1 OUT=/tmp/differential bench/differential.sh
#
# - cpu v3 programs (what Linux 6.1 has) on the host and on every image of
#   BPFSMITH_KERNEL_IMAGES (`.ci/fetch-kernels` prints Debian's 6.1 and 6.12), JIT on and off;
# - cpu v4 programs on the host and on the images of Linux 6.6 or later (v4 arrived in 6.6).
# Each `bpfsmith matrix DIR` prints, per column, the share the verifier accepted and the share
# that gave the VM's result, then every refusal and difference; `--minimise` writes each
# unexplained difference (and the first explained one per column) cut down to OUT/min-*.
# Needs root (or CAP_BPF) and qemu-system-x86_64. Nothing is written outside OUT, which must
# not exist yet (scratch files too: TMPDIR is OUT/tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-2000}
SEED=${SEED:-1}
OUT=${OUT:-/tmp/bpfsmith-differential}
if [ -e "$OUT" ]; then
    echo "differential: $OUT exists; give another OUT=" >&2
    exit 2
fi
if [ -z "${BPFSMITH:-}" ]; then
    cargo build --release --quiet
    BPFSMITH=target/release/bpfsmith
fi
mkdir -p "$OUT/tmp"
export TMPDIR="$OUT/tmp"
# The guests boot this binary: a private copy, so a rebuild cannot pull it away mid-run.
cp "$BPFSMITH" "$OUT/bpfsmith"
B="$OUT/bpfsmith"

images=()
v4_images=()
IFS=$':\n' read -r -d '' -a listed <<<"${BPFSMITH_KERNEL_IMAGES:-}" || true
for img in "${listed[@]}"; do
    [ -n "$img" ] || continue
    images+=(--kernel "$img")
    # The release from the file name (vmlinuz-6.12.118+deb12-cloud-amd64): 6.6 or later has v4.
    v=$(basename "$img" | sed -n 's/^vmlinuz-\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
    if [ -n "$v" ] && [ "$(echo "$v" | awk '{print ($1 > 6 || ($1 == 6 && $2 >= 6))}')" = 1 ]; then
        v4_images+=(--kernel "$img")
    fi
done

status=0
for isa in v3 v4; do
    corpus="$OUT/$isa"
    start=$(date +%s.%N)
    "$B" gen --seed "$SEED" --count "$COUNT" --isa "$isa" --out "$corpus"
    gen_s=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")
    kernels=("${images[@]}")
    [ "$isa" = v4 ] && kernels=("${v4_images[@]}")
    start=$(date +%s.%N)
    "$B" matrix "$corpus" --kernel host "${kernels[@]}" --minimise "$OUT/min-$isa" \
        >"$OUT/report-$isa.txt" 2>"$OUT/minimise-$isa.txt" || status=1
    matrix_s=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")
    echo "== $isa: $COUNT programs (seed $SEED), gen ${gen_s}s, matrix ${matrix_s}s"
    grep -v '^\(differs\|refused\|not run\) ' "$OUT/report-$isa.txt" || true
    grep -c '^differs .*(explained' "$OUT/report-$isa.txt" | sed 's/^/explained differences: /' || true
    grep -c '^differs .*UNEXPLAINED' "$OUT/report-$isa.txt" | sed 's/^/UNEXPLAINED differences: /' || true
    grep -c '^refused ' "$OUT/report-$isa.txt" | sed 's/^/refusals: /' || true
    cat "$OUT/minimise-$isa.txt"
done
exit $status
