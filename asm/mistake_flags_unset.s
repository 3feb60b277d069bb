# A classic mistake: calling bpf_map_push_elem without setting its third argument. The
# helper takes three arguments (r1 = map, r2 = value, r3 = flags); the verifier refuses to
# pass a register that was never written (`!read_ok`).
# The fix: `r3 = 0` (BPF_ANY) or `r3 = 2` (BPF_EXIST) before the call.
#
# expect-verifier-error: R3 !read_ok

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=4

.section socket
.globl flags_unset
flags_unset:
	*(u32 *)(r10 - 4) = 42
	r1 = queue ll
	r2 = r10
	r2 += -4
	call bpf_map_push_elem          # r3 is missing; <- the verifier refuses this line
	r0 = 0
	exit
