/* Application processor start-up. smp.c copies ap_tramp_start..ap_tramp_end to
 * AP_TRAMP_PA and sends INIT and SIPI; the AP starts here in real mode with
 * CS = AP_TRAMP_PA >> 4, IP = 0. It goes to protected mode, then long mode on the
 * trampoline's own page tables (identity for these pages, the kernel's half at
 * KERNBASE), and jumps to ap_entry64 in the kernel proper. No stack is used before
 * ap_entry64 loads the one smp.c chose. Absolute addresses are AP_TRAMP_PA +
 * (label - ap_tramp_start): the code runs where it is copied, not where it is linked. */
#include "kernel.h"

#define TR(label) (AP_TRAMP_PA + (label) - ap_tramp_start)
#define CR0_PE_ 0x00000001
#define CR0_PG_WP_ 0x80010000
#define CR4_PAE_ 0x20
#define MSR_EFER_ 0xc0000080
#define EFER_LME_NXE_ 0x900

	.section .rodata
	.balign 16
	.globl ap_tramp_start, ap_tramp_end, ap_tramp_cr3, ap_tramp_entry
	.code16
ap_tramp_start:
	cli
	cld
	mov	%cs, %ax
	mov	%ax, %ds
	lgdtl	ap_gdt_ptr - ap_tramp_start
	mov	%cr0, %eax
	or	$CR0_PE_, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $TR(ap_prot)

	.code32
ap_prot:
	mov	$0x18, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	%cr4, %eax
	or	$CR4_PAE_, %eax
	mov	%eax, %cr4
	mov	TR(ap_tramp_cr3), %eax
	mov	%eax, %cr3
	mov	$MSR_EFER_, %ecx
	rdmsr
	or	$EFER_LME_NXE_, %eax
	wrmsr
	mov	%cr0, %eax
	or	$CR0_PG_WP_, %eax
	mov	%eax, %cr0
	ljmp	$0x10, $TR(ap_long)

	.code64
ap_long:
	mov	$0x18, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	TR(ap_tramp_entry), %rax
	jmp	*%rax

	.balign 8
ap_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad	0x00af9b000000ffff	/* 0x10: 64-bit code */
	.quad	0x00cf93000000ffff	/* 0x18: data */
ap_gdt_ptr:
	.word	ap_gdt_ptr - ap_gdt - 1
	.long	TR(ap_gdt)
	.balign 8
ap_tramp_cr3:
	.quad	0			/* smp.c: the trampoline's PML4 */
ap_tramp_entry:
	.quad	0			/* smp.c: ap_entry64 */
ap_tramp_end:

/* In the kernel at its linked address: the stack smp.c set for this CPU, then C. */
	.text
	.globl ap_entry64
ap_entry64:
	mov	ap_boot_stack(%rip), %rsp
	mov	ap_boot_id(%rip), %edi
	xor	%ebp, %ebp
	call	ap_main
1:	cli
	hlt
	jmp	1b
