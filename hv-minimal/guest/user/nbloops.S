/* Nanobenchmark bodies that need fixed addresses. */
	.text

/* The callee of the call/ret loop: returns at once. */
	.globl nb_ret
nb_ret:
	ret

/* void nb_divzero(uint64_t n, uint32_t divisor): n divisions of 1 by divisor, in the
 * harness shape of BENCH_LOOP. With divisor 0 each raises #DE, and the kernel resumes
 * at nb_divzero_resume (SYS_fault_resume) with rax and rdx overwritten, which the
 * division overwrites anyway; with divisor 1 it is the harness. */
	.globl nb_divzero
	.globl nb_divzero_resume
nb_divzero:
	test	%rdi, %rdi
	jz	2f
1:	mov	$1, %eax
	xor	%edx, %edx
	div	%esi
nb_divzero_resume:
	dec	%rdi
	jnz	1b
2:	ret
