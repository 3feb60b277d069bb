# -ENOENT: popping from (or peeking at) an empty map fails, and the buffer is left alone.
# The program peeks at and pops from a fresh stack; both return -ENOENT (-2). It returns the
# pop's result.
#
# expect-load: ok
# expect-retval: -2
# expect-map: stack =

.license "GPL"
.map stack, type=stack, value_size=8, max_entries=4

.section socket
.globl empty
empty:
	r1 = stack ll
	r2 = r10
	r2 += -8
	call bpf_map_peek_elem
	if w0 != -2 goto fail           # -ENOENT
	r1 = stack ll
	r2 = r10
	r2 += -8
	call bpf_map_pop_elem
	exit                            # r0 = -ENOENT
fail:
	r0 = 1000
	exit
