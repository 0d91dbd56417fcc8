/* swtch(struct context **save, struct context *load): saves the callee-saved registers
 * on the current stack, stores that stack pointer in *save, and resumes the context
 * load points at. A new context "returns" into whatever address was placed at its
 * top (see proc.c). */
	.text
	.globl swtch
swtch:
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, (%rdi)
	mov	%rsi, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret

/* Where a new process's first switch lands, its trap frame right above: release the
 * scheduler lock held across the switch, then leave for user mode. */
	.globl forkret_asm
forkret_asm:
	call	forkret
	jmp	trapret
