/* Entry and exit paths. Every entry builds a struct trapframe (trap.h) on the kernel
 * stack and calls trap(); every return to user mode goes through swapgs. The paths are
 * short on purpose: on a host that emulates guest kernel code, each instruction here
 * is paid on every system call and fault. */
#include "percpu.h"
#include "trap.h"
#include "x86.h"

/* The general registers of struct trapframe, in its order (trap.h). */
.macro push_gprs
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
.endm

.macro pop_gprs
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
.endm

/* Vectors where the CPU pushes an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP,
 * #VC, #SX. */
.macro vector n
	.balign 16
vector\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq	$0
	.endif
	pushq	$\n
	jmp	alltraps
.endm

.macro vecaddr n
	.quad	vector\n
.endm

	.text
.altmacro
.set i, 0
.rept T_NVEC
	vector %i
	.set i, i + 1
.endr
.noaltmacro

/* Interrupted context's CS is at 24(%rsp) here: vector, error, rip, cs. */
alltraps:
	testb	$3, 24(%rsp)
	jz	kernel_entry
	swapgs
	push_gprs
	cld
	mov	%rsp, %rdi
	call	trap
	jmp	trapret

/* From kernel mode the GS base is the kernel's, except in the few instructions around
 * swapgs on the system-call path, which run with interrupts off. Under nested
 * emulation (kvm_amd inside QEMU's TCG) an interrupt was seen to arrive there all the
 * same, with IF clear in the interrupted RFLAGS; so the base itself decides: the
 * kernel's lies in the upper half. A swap done here is undone on the way out. */
kernel_entry:
	push_gprs
	cld
	mov	$MSR_GS_BASE, %ecx
	rdmsr
	test	%edx, %edx
	js	1f
	swapgs
	mov	%rsp, %rdi
	call	trap
	cli
	pop_gprs
	add	$16, %rsp
	swapgs
	iretq
1:	mov	%rsp, %rdi
	call	trap

/* Interrupts stay off from here to iretq: trap() may have enabled them, and one taken
 * after the swapgs below would find a kernel CS with the user's GS base. iretq puts
 * the interrupted context's IF back. */
	.globl trapret
trapret:
	cli
	pop_gprs
	add	$16, %rsp		/* vector, error */
	testb	$3, 8(%rsp)		/* cs */
	jz	2f
	swapgs
2:	iretq

/* The `syscall` instruction lands here with user rsp, rip in rcx, rflags in r11,
 * interrupts off (FMASK). The frame is the same as an exception's, with the
 * T_SYSCALL pseudo-vector. */
	.globl syscall_entry
syscall_entry:
	swapgs
	mov	%rsp, %gs:CPU_USER_RSP
	mov	%gs:CPU_KSTACK_TOP, %rsp
	pushq	$SEL_UDATA
	pushq	%gs:CPU_USER_RSP
	push	%r11
	pushq	$SEL_UCODE
	push	%rcx
	pushq	$0
	pushq	$T_SYSCALL
	push_gprs
	mov	%rsp, %rdi
	call	trap
	/* Interrupts off until sysretq (which loads IF from r11): one taken after the
	 * swapgs below would run on the user's stack with the user's GS base. */
	cli
	/* sysret reloads rip from rcx and rflags from r11. It is only safe for a plain
	 * return to a canonical user address in 64-bit user mode; anything else the
	 * kernel set up (a changed cs, a resumed fault) goes out through iretq. */
	cmpq	$SEL_UCODE, TF_CS(%rsp)
	jne	trapret
	mov	TF_RIP(%rsp), %rcx
	mov	$0x00007ffffffff000, %r11
	cmp	%r11, %rcx
	jae	trapret
	mov	%rcx, TF_RCX(%rsp)
	mov	TF_RFLAGS(%rsp), %r11
	mov	%r11, TF_R11(%rsp)
	pop_gprs
	mov	TF_RSP - TF_VECTOR(%rsp), %rsp
	swapgs
	sysretq

/* The stub of each IDT vector, for idt_init(). */
	.section .rodata
	.balign 8
	.globl trap_vectors
trap_vectors:
.altmacro
.set i, 0
.rept T_NVEC
	vecaddr %i
	.set i, i + 1
.endr
.noaltmacro
