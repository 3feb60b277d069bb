# A classic mistake: popping from a map that is not a queue or a stack. Helpers 87-89 (push,
# pop, peek) only take BPF_MAP_TYPE_QUEUE and BPF_MAP_TYPE_STACK (peek and push also a bloom
# filter); the verifier checks the map's type against the helper (map_type 1 is a hash map).
# The fix: declare the map with `type=queue` or `type=stack`, or use bpf_map_lookup_elem and
# bpf_map_delete_elem on a hash map.
#
# expect-verifier-error: cannot pass map_type 1 into func bpf_map_pop_elem#88

.license "GPL"
.map counts, type=hash, key_size=4, value_size=4, max_entries=8

.section socket
.globl wrong_map_type
wrong_map_type:
	r1 = counts ll
	r2 = r10
	r2 += -4
	call bpf_map_pop_elem                  # <- the verifier refuses this line
	r0 = 0
	exit
