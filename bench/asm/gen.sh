#!/bin/sh
# Write an assembly file of N lines (default 1000000) in LLVM syntax that llvm-mc-22 accepts:
# a mix of ALU, memory, atomic, jump (numeric and to labels), call, ld_imm64 and byte-order
# forms, with a comment line and a label every 16 instructions.
# Usage: gen.sh [N] > file.s
n=${1:-1000000}
awk -v n="$n" 'BEGIN {
    f[0]  = "\tr1 += r2"
    f[1]  = "\tw3 = 5"
    f[2]  = "\tr0 = *(u32 *)(r10 - 4)"
    f[3]  = "\t*(u64 *)(r10 - 8) = r1"
    f[4]  = "\tif r1 > r2 goto +1"
    f[5]  = "\tr2 = r10"
    f[6]  = "\tr1 = 0x123456789 ll"
    f[7]  = "\tlock *(u64 *)(r10 - 16) += r2"
    f[8]  = "\tcall 1"
    f[9]  = "\tw1 s/= w2"
    f[10] = "\tr3 = be16 r3"
    f[11] = "\tif w1 s< 5 goto +0"
    f[12] = "\tr0 = cmpxchg_64(r10 - 8, r0, r2)"
    f[13] = "\t*(u32 *)(r10 - 4) = 42 # store"
    f[14] = "\tr4 <<= 3"
    f[15] = "\tw5 = *(u8 *)(r1 + 7)"
    print "\t.text"
    print "\t.globl bench"
    print "bench:"
    lines = 3
    for (i = 0; lines < n - 1; i++) {
        k = i % 16
        if (k == 0) {
            printf "# block %d\nL%d:\n", i / 16, i / 16
            lines += 2
        }
        if (k == 14 && i > 32) print "\tgoto L" (int(i / 16) - 1)
        else print f[k]
        lines++
    }
    print "\texit"
}'
