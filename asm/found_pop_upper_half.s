# Found, not written: the differential campaign (`bench/differential.sh`, COUNT=2000 SEED=1)
# ran 2,000 programs from `bpfsmith gen --seed 1 --isa v3` in the VM and on Linux 6.1 and 6.12
# with the JIT on and off. 462 of them gave another result on 6.1 with the JIT on, and only
# there; `bpfsmith matrix --minimise` cut one of them (gen-1-00007.s, 118 lines) down to the
# lines below, the kernel judging every step. The generator knows nothing of this difference:
# its programs use a helper's result as a value, as real programs do.
#
# What it shows: popping an empty stack fails with -ENOENT (-2). Linux 6.4 and later, and
# the interpreter of every release, hand it back sign-extended, r0 = 0xfffffffffffffffe;
# before 6.4 the JIT called the map's `int`-returning pop directly and r0 arrives
# zero-extended, 0x00000000fffffffe. The program folds r0's upper half into its lower half
# (`r0 ^= r0 >> 32`), so the 32-bit return value shows the upper half: 1 where it is all
# ones, 0xfffffffe (4294967294) where it is zero. A result tested as `if w0 != 0` (32 bits)
# is portable; one used as a 64-bit value is not. See also asm/r0_width.s and
# `bpfsmith explain 88`.
#
# What --minimise left, plus the `.license`, `.section` and the label (the campaign loads a
# file without them as a socket filter too).
#
# expect-load: ok
# expect-retval: 1
# expect-map: stack0 =
# expect-retval (linux < 6.4, jit on): 4294967294
# expect-map (linux < 6.4, jit on): stack0 =

.license "GPL"
.map stack0, type=stack, value_size=2, max_entries=4

.section socket
.globl pop_upper_half
pop_upper_half:
	r1 = stack0 ll
	r2 = r10
	r2 += -0x50
	call bpf_map_pop_elem           # the stack is empty: r0 = -ENOENT
	r1 = r0
	r1 >>= 0x20                     # r0's upper half
	r0 ^= r1
	exit
