/* Program entry: the kernel starts here with rdi = start block, rsp 16-byte aligned. */
	.section .text.start, "ax"
	.globl _start
_start:
	xor	%ebp, %ebp
	call	ulib_start
	ud2
