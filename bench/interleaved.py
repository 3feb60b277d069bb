#!/usr/bin/env python3
"""Wall-clock of `bpfsmith asm` vs llvm-mc-22 and `bpfsmith dis` vs llvm-objdump-22 on the 1M
inputs of bench/asm/compare.sh and bench/dis_vs_objdump.sh, the tools run in turn in each round
(hyperfine runs all of one command, then all of the next, so a change in the load of this shared
machine lands on one tool only). Prints each tool's median, interquartile range, min and max,
and the ratio of the medians with the interquartile range of the per-round ratios.

Usage: bench/interleaved.py [ROUNDS]   (default 15; BASE=path/to/another/bpfsmith adds it)
Needs: cargo, llvm-mc-22, llvm-objdump-22.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
os.chdir(root)
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
target = os.environ.get("CARGO_TARGET_DIR", "target")
subprocess.run(["cargo", "build", "--quiet", "--release", "--bin", "bpfsmith",
                "--example", "big_object"], check=True)
work = tempfile.mkdtemp()
src, obj = os.path.join(work, "in.s"), os.path.join(work, "big.o")
with open(src, "w") as f:
    subprocess.run(["bench/asm/gen.sh", "1000000"], stdout=f, check=True)
subprocess.run([f"{target}/release/examples/big_object", "1000000", obj], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ours = [("bpfsmith", f"{target}/release/bpfsmith")]
if os.environ.get("BASE"):
    ours.append(("BASE", os.environ["BASE"]))
out = os.path.join(work, "out.o")
sets = {
    "asm": [(n, [b, "asm", src, "-o", out]) for n, b in ours]
    + [("llvm-mc-22", ["llvm-mc-22", "-triple", "bpfel", "-mcpu=v4", "-filetype=obj",
                       "-o", out, src])],
    "dis": [(n, [b, "dis", obj]) for n, b in ours]
    + [("llvm-objdump-22", ["llvm-objdump-22", "-d", obj])],
}


def run(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


for name, cmds in sets.items():
    times = {k: [] for k, _ in cmds}
    for _, cmd in cmds:  # warm-up
        run(cmd)
    for _ in range(rounds):
        for k, cmd in cmds:
            times[k].append(run(cmd))
    other = cmds[-1][0]
    for k, _ in cmds:
        t = times[k]
        q = statistics.quantiles(t, n=4)
        line = (f"{name} {k:16s} median {statistics.median(t) * 1000:7.1f} ms, IQR "
                f"{q[0] * 1000:.1f}-{q[2] * 1000:.1f}, min {min(t) * 1000:.1f}, max {max(t) * 1000:.1f}")
        if k != other:
            r = statistics.quantiles([o / x for o, x in zip(times[other], t)], n=4)
            line += (f"; {statistics.median(times[other]) / statistics.median(t):.2f}x faster "
                     f"than {other} (per-round IQR {r[0]:.2f}-{r[2]:.2f}x)")
        print(line)
subprocess.run(["rm", "-rf", work])
