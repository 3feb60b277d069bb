# -E2BIG: pushing into a full queue with BPF_ANY is refused, and the map is unchanged.
# Push 1 and 2 into a queue of two slots, then 3 with BPF_ANY (flags = 0): the helper returns
# -E2BIG (-7), which the program returns.
#
# expect-load: ok
# expect-retval: -7
# expect-map: queue = 1 2

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=2

.section socket
.globl full
full:
	*(u32 *)(r10 - 4) = 1
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0
	call bpf_map_push_elem
	if w0 != 0 goto fail
	*(u32 *)(r10 - 4) = 2
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0
	call bpf_map_push_elem
	if w0 != 0 goto fail
	*(u32 *)(r10 - 4) = 3
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0                          # BPF_ANY: no room, no push
	call bpf_map_push_elem
	exit                            # r0 = -E2BIG
fail:
	r0 = 1000
	exit
