# A classic mistake: pushing from a stack slot that was never written. bpf_map_push_elem
# reads value_size bytes from r2; the verifier tracks every byte of the stack frame and
# refuses to let a helper read bytes the program has not initialised.
# The fix: store the value first, e.g. `*(u32 *)(r10 - 4) = 42`.
# The words changed between kernels (measured with `bpfsmith check --kernel`): Linux 6.1 and
# 6.12 say "invalid indirect read from stack R2 off -4+0 size 4", Linux 6.18 "invalid read from
# stack R2 off=-4 size=4". The expectation below holds the part they share.
# The check applies to programs loaded without CAP_PERFMON (and CAP_SYS_ADMIN): a service
# with only CAP_BPF gets this error, while root may read uninitialised stack.
#
# load-with: CAP_BPF
# expect-verifier-error: read from stack R2 off

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=4

.section socket
.globl uninit_value
uninit_value:
	r1 = queue ll
	r2 = r10
	r2 += -4                        # r10-4 .. r10-1 hold nothing yet
	r3 = 0
	call bpf_map_push_elem                 # <- the verifier refuses this line
	r0 = 0
	exit
