# BPF_EXIST on a full queue: the push succeeds and drops the oldest element to make room.
# Push 1, 2, 3 into a queue of three slots, then push 4 with BPF_EXIST (flags = 2): r0 = 0,
# and 1 is gone. The program returns what pop gives next: 2.
#
# expect-load: ok
# expect-retval: 2
# expect-map: queue = 3 4

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=3

.section socket
.globl exist
exist:
	r6 = 1
fill:
	*(u32 *)(r10 - 4) = r6          # the value buffer: 1, 2, 3
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY
	call bpf_map_push_elem
	if w0 != 0 goto fail
	r6 += 1
	if r6 <= 3 goto fill
	*(u32 *)(r10 - 4) = 4
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 2                          # BPF_EXIST: full is fine, the oldest goes
	call bpf_map_push_elem
	if w0 != 0 goto fail
	r1 = queue ll
	r2 = r10
	r2 += -8
	call bpf_map_pop_elem
	if w0 != 0 goto fail
	w0 = *(u32 *)(r10 - 8)          # 2: the oldest left
	exit
fail:
	r0 = 1000
	exit
