/* The kernel's entry point. The VMM starts the boot CPU here in 64-bit mode on its
 * scratch page tables (see abi.h); rdi holds the guest-physical address of the boot
 * info block. The first instruction writes a POST code: the VMM times start-up to it. */
#include "kernel.h"

	.section .text.entry, "ax"
	.globl _start
_start:
	mov	$POST_ENTRY, %al
	out	%al, $POST_PORT
	lea	boot_stack_top(%rip), %rsp
	xor	%ebp, %ebp
	call	kmain		/* rdi: boot info gpa; never returns */
1:	cli
	hlt
	jmp	1b

	.section .bss
	.balign 4096
boot_stack:
	.skip	16384
boot_stack_top:
