/* The kernel side of a CPL3 kmem excursion (kmem.c) and the routine that runs there. */
#include "percpu.h"
#include "x86.h"

	.text
/* void kmem_user_call(uint64_t jobs_pa, uint64_t n, uint64_t cr3): saves the callee-
 * saved registers, switches to the physical-memory map and irets to the routine at its
 * physical address (that map is an identity map), interrupts off. The routine's divide
 * error enters the kernel on the stack TSS.RSP0 names (kmem.c points it at a spare
 * stack), and kmem_user_return resumes here. */
	.globl kmem_user_call
kmem_user_call:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %gs:CPU_HELPER_RSP
	mov	%rdx, %cr3
	pushq	$SEL_UDATA
	pushq	$0			/* the routine uses no stack */
	pushq	$2			/* RFLAGS: reserved bit 1 only, IF = 0 */
	pushq	$SEL_UCODE
	movabs	$kmem_user_routine, %rax
	movabs	$KERNBASE, %rdx
	sub	%rdx, %rax
	push	%rax
	swapgs
	iretq

	.globl kmem_user_return
kmem_user_return:
	mov	%gs:CPU_HELPER_RSP, %rsp
	movq	$0, %gs:CPU_HELPER_RSP
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret

/* Runs at CPL3 at its physical address: rdi = physical address of the jobs
 * {dst, src, len}, rsi = their number; src 0 means zero-fill. Quadwords when dst,
 * src and len allow (a write the host must emulate, e.g. to a page it still tracks as
 * a page table, then costs one emulated iteration per 8 bytes, not per byte). */
	.balign 64
	.globl kmem_user_routine
kmem_user_routine:
	mov	%rdi, %r8
	mov	%rsi, %r9
1:	test	%r9, %r9
	jz	6f
	mov	(%r8), %rdi
	mov	8(%r8), %rsi
	mov	16(%r8), %rcx
	mov	%rdi, %rax
	or	%rsi, %rax
	or	%rcx, %rax
	test	$7, %al
	jnz	4f
	shr	$3, %rcx
	test	%rsi, %rsi
	jz	2f
	rep movsq
	jmp	5f
2:	xor	%eax, %eax
	rep stosq
	jmp	5f
4:	test	%rsi, %rsi
	jz	3f
	rep movsb
	jmp	5f
3:	xor	%eax, %eax
	rep stosb
5:	add	$24, %r8
	dec	%r9
	jmp	1b
6:	xor	%ecx, %ecx
	div	%ecx			/* #DE: back to the kernel */
	ud2
