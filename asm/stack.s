# The seed scenario on a stack, instruction for instruction what src/seed.rs builds with the DSL.
# A map of four u32 slots; the program:
#   1. pushes 10, 20, 30, 40 with BPF_ANY (the map is now full);
#   2. pushes 50 with BPF_ANY: refused with -E2BIG (-7);
#   3. pushes 50 with BPF_EXIST: accepted, and the oldest element (10) is dropped;
#   4. peeks into one buffer, pops into another, and returns the popped value if both agree.
# A stack is LIFO: peek and pop give the newest element, 50, and 40 30 20 stay (in pop order).
# A step that does not behave as the kernel documents returns 1000 + its number instead.
# Helper results are tested in their low 32 bits (`if w0 ...`): see asm/queue.s for why.
#
# expect-load: ok
# expect-retval: 50
# expect-map: stack = 40 30 20

.license "GPL"
.map stack, type=stack, value_size=4, max_entries=4

.section socket
.globl stack_prog
stack_prog:
	# step 1: push 10
	*(u32 *)(r10 - 4) = 10
	r1 = stack ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 1: push 20
	*(u32 *)(r10 - 4) = 20
	r1 = stack ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 1: push 30
	*(u32 *)(r10 - 4) = 30
	r1 = stack ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 1: push 40
	*(u32 *)(r10 - 4) = 40
	r1 = stack ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem          # r1 = map, r2 = value, r3 = flags -> r0
	r6 = 1001
	if w0 != 0 goto fail
	# step 2: a fifth push with BPF_ANY finds the map full
	*(u32 *)(r10 - 4) = 50
	r1 = stack ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem
	r6 = 1002
	if w0 != -7 goto fail           # -E2BIG
	# step 3: with BPF_EXIST the push makes room by dropping the oldest element
	r1 = stack ll
	r2 = r10
	r2 += -4
	r3 = 2                          # BPF_EXIST
	call bpf_map_push_elem
	r6 = 1003
	if w0 != 0 goto fail
	# step 4: peek into r10-8, pop into r10-12
	r1 = stack ll
	r2 = r10
	r2 += -8
	call bpf_map_peek_elem          # r1 = map, r2 = value -> r0
	r6 = 1004
	if w0 != 0 goto fail
	r1 = stack ll
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
