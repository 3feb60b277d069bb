# A classic mistake: reusing the value pointer in r2 after a call. Calls clobber r1-r5, so
# after the push r2 no longer points at the buffer, whatever the code before the call did.
# The fix: `r2 = r10; r2 += -4` again before each call (or keep the pointer in r6-r9).
#
# expect-verifier-error: R2 !read_ok

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=4

.section socket
.globl r2_after_call
r2_after_call:
	*(u32 *)(r10 - 4) = 42
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0
	call bpf_map_push_elem
	r1 = queue ll                   # r1 is set again, but r2 is not
	call bpf_map_pop_elem                  # <- the verifier refuses this line
	r0 = 0
	exit
