# The seed scenario on a queue, instruction for instruction what src/seed.rs builds with the DSL.
# A map of four u32 slots; the program:
#   1. pushes 10, 20, 30, 40 with BPF_ANY (the map is now full);
#   2. pushes 50 with BPF_ANY: refused with -E2BIG (-7);
#   3. pushes 50 with BPF_EXIST: accepted, and the oldest element (10) is dropped;
#   4. peeks into one buffer, pops into another, and returns the popped value if both agree.
# A queue is FIFO: peek and pop give the oldest element, 20, and 30 40 50 stay.
# A step that does not behave as the kernel documents returns 1000 + its number instead.
#
# Every helper result is tested in its low 32 bits, `if w0 ...` (a JMP32 jump), even against 0.
# Before Linux 6.4 the x86 JIT hands a push's, pop's or peek's error back zero-extended: -E2BIG
# arrives as 0x00000000fffffff9, so a 64-bit `if r0 != -7` takes the wrong branch there (the
# interpreter, and 6.4 and later, sign-extend). `if r0 != 0` would be portable, since 0 is 0
# either way, but one rule for every result is easier to keep than a rule with an exception.
# `bpfsmith asm` warns about the 64-bit compares that are not portable.
#
# expect-load: ok
# expect-retval: 20
# expect-map: queue = 30 40 50

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=4

.section socket
.globl queue_prog
queue_prog:
	# step 1: push 10
	*(u32 *)(r10 - 4) = 10
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 1: push 20
	*(u32 *)(r10 - 4) = 20
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 1: push 30
	*(u32 *)(r10 - 4) = 30
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 1: push 40
	*(u32 *)(r10 - 4) = 40
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 2: a fifth push with BPF_ANY finds the map full
	*(u32 *)(r10 - 4) = 50
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem
	r6 = 1002
	if w0 != -7 goto fail           # -E2BIG
	# step 3: with BPF_EXIST the push makes room by dropping the oldest element
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 2                          # BPF_EXIST
	call bpf_map_push_elem
	r6 = 1003
	if w0 != 0 goto fail
	# step 4: peek into r10-8, pop into r10-12
	r1 = queue ll
	r2 = r10
	r2 += -8
	call bpf_map_peek_elem          # r1 = map, r2 = value -> r0
	r6 = 1004
	if w0 != 0 goto fail
	r1 = queue ll
	r2 = r10
	r2 += -12
	call bpf_map_pop_elem           # r1 = map, r2 = value -> r0
	r6 = 1005
	if w0 != 0 goto fail
	w1 = *(u32 *)(r10 - 8)
	w0 = *(u32 *)(r10 - 12)
	r6 = 1006
	if r0 != r1 goto fail
	exit
fail:
	r0 = r6
	exit
