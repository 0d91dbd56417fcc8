/* Fault probes: one access that may fault, with SYS_fault_resume pointing at a landing
 * pad. The kernel resumes at the pad with rax = vector and rdx = error code and every
 * other register as it was at the fault, so the callee-saved registers still hold the
 * probe's state there. */
	.text

/* Common tail: rax = result, rdx = error code, rbx = where to store the error code. */
probe_finish:
	mov	%rdx, (%rbx)
	mov	%eax, %r12d
	xor	%edi, %edi
	call	fault_resume		/* clear it again */
	mov	%r12d, %eax
	pop	%r13
	pop	%r12
	pop	%rbx
	ret

/* int probe_read64(const void *addr, uint64_t *val, uint64_t *err) */
	.globl probe_read64
probe_read64:
	push	%rbx			/* three pushes: rsp 16-byte aligned for the calls */
	push	%r12
	push	%r13
	mov	%rdi, %r12
	mov	%rsi, %r13
	mov	%rdx, %rbx
	lea	1f(%rip), %rdi
	call	fault_resume
	mov	(%r12), %rcx		/* the access */
	mov	%rcx, (%r13)
	xor	%eax, %eax
	xor	%edx, %edx
	jmp	probe_finish
1:	inc	%eax			/* landing pad: rax = vector */
	jmp	probe_finish

/* int probe_rdpmc(uint32_t counter, uint64_t *val, uint64_t *err) */
	.globl probe_rdpmc
probe_rdpmc:
	push	%rbx
	push	%r12
	push	%r13
	mov	%edi, %r12d
	mov	%rsi, %r13
	mov	%rdx, %rbx
	lea	1f(%rip), %rdi
	call	fault_resume
	mov	%r12d, %ecx
	rdpmc				/* the access */
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, (%r13)
	xor	%eax, %eax
	xor	%edx, %edx
	jmp	probe_finish
1:	inc	%eax
	jmp	probe_finish

/* int probe_inb(uint16_t port, uint64_t *err) */
	.globl probe_inb
probe_inb:
	push	%rbx
	push	%r12
	push	%r13
	mov	%edi, %r12d
	mov	%rsi, %rbx
	lea	1f(%rip), %rdi
	call	fault_resume
	mov	%r12d, %edx
	inb	%dx, %al		/* the access */
	xor	%eax, %eax
	xor	%edx, %edx
	jmp	probe_finish
1:	inc	%eax
	jmp	probe_finish
