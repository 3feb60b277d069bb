# How wide is r0 when a map helper fails? The same program, two answers.
#
# The queue holds one value. The first push fills it; the second, with BPF_ANY, fails with
# -E2BIG (-7). The program then asks how that -7 arrived in r0:
#   - a 64-bit compare `if r0 == -7` is true only if r0 holds 0xfffffffffffffff9 (sign-extended);
#   - a 32-bit compare `if w0 == -7` looks at the low half only, and is true either way.
# It returns 64 when the 64-bit compare matched, 32 when only the 32-bit one did.
#
# Before Linux 6.4 the JIT calls the queue's push operation directly, and that returned `int`:
# the error reaches r0 zero-extended (0x00000000fffffff9), so the 64-bit compare misses and the
# program returns 32. The interpreter (bpf_jit_enable = 0), and every kernel since 6.4 (where the
# operation returns `long`), sign-extend it: 64. Portable programs compare w0.
# `bpfsmith matrix asm/r0_width.s --kernel host --kernel VMLINUZ` shows the two answers.
#
# expect-load: ok
# expect-retval: 64
# expect-retval (linux < 6.4, jit on): 32
# expect-map: queue = 1

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=1

.section socket
.globl r0_width
r0_width:
	*(u32 *)(r10 - 4) = 1
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # fills the queue
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # full: -E2BIG
	r6 = 64
	if r0 == -7 goto out            # 64-bit: matches a sign-extended -7 only (bpfsmith warns here)
	r6 = 32
	if w0 == -7 goto out            # 32-bit: matches either way
	r6 = 0
out:
	r0 = r6
	exit
