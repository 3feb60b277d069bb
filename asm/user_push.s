# Values pushed from user space (BPF_MAP_UPDATE_ELEM with no key), popped in the program.
# User space pushes 7, 8, 9 first; the program pops twice (7, then 8: a queue is FIFO) and
# returns 100 * first + second = 708; 9 stays.
#
# Written in the conformance suite's mnemonic dialect, which the assembler reads as well as
# LLVM's syntax; the two can be mixed line by line. `jne32` tests the helper's result in its
# low 32 bits, which every kernel agrees on (see asm/queue.s).
#
# push-before: queue = 7 8 9
# expect-load: ok
# expect-retval: 708
# expect-map: queue = 9

.license "GPL"
.map queue, type=queue, value_size=4, max_entries=8

.section socket
.globl user_push
user_push:
	lddw %r1, queue
	mov %r2, %r10
	add %r2, -4
	call bpf_map_pop_elem
	jne32 %r0, 0, fail
	ldxw %r6, [%r10-4]              # 7
	lddw %r1, queue
	mov %r2, %r10
	add %r2, -8
	call bpf_map_pop_elem
	jne32 %r0, 0, fail
	ldxw %r0, [%r10-8]              # 8
	mul %r6, 100
	add %r0, %r6
	exit
fail:
	mov %r0, 1000
	exit
