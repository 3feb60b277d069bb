# A classic mistake: using r1 after a call as if it still held the map. Calls clobber r1-r5:
# after `call`, the verifier marks them unreadable, so a second helper call that reuses r1
# is refused.
# The fix: load the map again (`r1 = queue ll`), or keep it in r6-r9, which calls preserve.
#
# expect-verifier-error: R1 !read_ok

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=4

.section socket
.globl r1_after_call
r1_after_call:
	*(u32 *)(r10 - 4) = 42
	r1 = queue ll
	r2 = r10
	r2 += -4
	r3 = 0
	call bpf_map_push_elem
	r2 = r10                        # r2 is set again, but r1 is not
	r2 += -8
	call bpf_map_pop_elem                  # <- the verifier refuses this line
	r0 = 0
	exit
