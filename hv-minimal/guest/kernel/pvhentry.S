/* A second way in: the PVH boot protocol (Xen's, which QEMU implements for `-kernel`),
 * so the same image also runs under QEMU. The loader starts pvh_start in 32-bit
 * protected mode with paging off and ebx = physical address of its start-info block.
 * This code builds temporary page tables that map the first GiB both identity and at
 * KERNBASE, enters long mode, converts the start info into hv-minimal's boot block
 * (pvh.c), and joins the normal entry path at _start. It runs at physical addresses:
 * every absolute reference is written as symbol - KERNBASE. */
#include "kernel.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PTE_PRESENT_WRITE 0x3
#define PDE_HUGE 0x83
#define CR4_PAE 0x20
#define CR0_PE_WP_PG 0x80010001
#define MSR_EFER 0xc0000080
#define EFER_LME_NXE 0x900
#define BOOT_INFO_GPA 0x1000      /* HV_BOOT_INFO_GPA */

	.section .note.pvh, "a"
	.balign 4
	.long	4			/* name size */
	.long	4			/* descriptor size */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.long	pvh_start - KERNBASE

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	mov	%ebx, %esi		/* start info: kept for pvh_boot_info() */

	/* PML4[0] and PML4[511] -> PDPT; PDPT[0] and PDPT[510] -> PD: 512 x 2 MiB. */
	mov	$(pvh_pdpt - KERNBASE + PTE_PRESENT_WRITE), %eax
	mov	%eax, (pvh_pml4 - KERNBASE)
	mov	%eax, (pvh_pml4 - KERNBASE + 511 * 8)
	mov	$(pvh_pd - KERNBASE + PTE_PRESENT_WRITE), %eax
	mov	%eax, (pvh_pdpt - KERNBASE)
	mov	%eax, (pvh_pdpt - KERNBASE + 510 * 8)
	mov	$(pvh_pd - KERNBASE), %edi
	mov	$PDE_HUGE, %eax
	mov	$512, %ecx
1:	mov	%eax, (%edi)
	add	$HUGE_SIZE, %eax
	add	$8, %edi
	loop	1b

	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$(pvh_pml4 - KERNBASE), %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME_NXE, %eax
	wrmsr
	lgdt	(pvh_gdt_ptr - KERNBASE)
	mov	%cr0, %eax
	or	$CR0_PE_WP_PG, %eax
	mov	%eax, %cr0
	ljmp	$0x10, $(pvh_long - KERNBASE)

	.code64
pvh_long:
	mov	$0x18, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	movabs	$pvh_high, %rax
	jmp	*%rax
pvh_high:
	lea	pvh_stack_top(%rip), %rsp
	mov	%esi, %edi
	call	pvh_boot_info
	mov	$BOOT_INFO_GPA, %edi
	jmp	_start

	.section .rodata
	.balign 8
pvh_gdt:
	.quad	0
	.quad	0
	.quad	0x00af9b000000ffff	/* 0x10: 64-bit code */
	.quad	0x00cf93000000ffff	/* 0x18: data */
pvh_gdt_ptr:
	.word	pvh_gdt_ptr - pvh_gdt - 1
	.long	pvh_gdt - KERNBASE

	.section .bss
	.balign 4096
pvh_pml4:
	.skip	4096
pvh_pdpt:
	.skip	4096
pvh_pd:
	.skip	4096
pvh_stack:
	.skip	4096
pvh_stack_top:
