# A bpf-to-bpf call: `push_u32` is a function in `.text` (where clang puts functions and
# where libbpf, cilium/ebpf and aya look for them), with its own stack frame; `call push_u32`
# from the `socket` program is a call across sections, written with an R_BPF_64_32
# relocation that the loader resolves by appending `push_u32` to the program. It takes the
# value in r1 and returns the helper's result in r0; r6-r9 survive the call, r1-r5 do not.
# The program pushes 5 and 6 through it and returns what pop gives: 5.
#
# expect-load: ok
# expect-retval: 5
# expect-map: queue = 6

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=4

.section socket
.globl bpf2bpf
bpf2bpf:
	r1 = 5
	call push_u32
	if w0 != 0 goto fail
	r1 = 6
	call push_u32
	if w0 != 0 goto fail
	r1 = queue ll
	r2 = r10
	r2 += -4
	call bpf_map_pop_elem
	if w0 != 0 goto fail
	w0 = *(u32 *)(r10 - 4)
	exit
fail:
	r0 = 1000
	exit

# push_u32(r1 = value) -> r0: bpf_map_push_elem(queue, &value, BPF_ANY)
.text
.globl push_u32
push_u32:
	*(u32 *)(r10 - 4) = w1          # this function's own frame
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0
	call bpf_map_push_elem
	exit
