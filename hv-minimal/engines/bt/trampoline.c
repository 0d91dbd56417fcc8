/* The trampolines between C and translated code, in file-scope assembly so that no
 * compiler (and no sanitizer) touches them:
 *   bt_enter       C -> translated code: saves the host's callee-saved registers, FS/GS
 *                  bases and FPU state; loads the guest's; jumps to a host address;
 *   bt_exit_stub   translated code -> C: saves the guest's registers and flags, then
 *                  bt_exit_common returns from bt_enter with the exit record;
 *   bt_sig_entry   the signal handler's first instructions: a signal that interrupts
 *                  translated code finds FS pointing at the context block, and glibc's
 *                  FS must be back before any C runs (TLS, stack protector, errno).
 * The context block layout is in ctx.h. */
#include <stddef.h>

#include "bt.h"

#define STR_(x) #x
#define STR(x) STR_(x)

_Static_assert(offsetof(struct bt_ctx, self) == CTX_SELF, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, magic) == CTX_MAGIC, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, host_fs) == CTX_HOST_FS, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, host_gs) == CTX_HOST_GS, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, host_rsp) == CTX_HOST_RSP, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, vcpu) == CTX_VCPU, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, exit_fn) == CTX_EXIT_FN, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, target) == CTX_TARGET, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, jmp) == CTX_JMP, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, winbase) == CTX_WINBASE, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, negwin) == CTX_NEGWIN, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, gfsbase) == CTX_GFSBASE, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, ggsbase) == CTX_GGSBASE, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, rflags) == CTX_RFLAGS, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, exit_info) == CTX_EXIT_INFO, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, fpu_hw) == CTX_FPU_HW, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, fpu_dirty) == CTX_FPU_DIRTY, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, fpu_restore) == CTX_FPU_RESTORE, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, host_mxcsr) == CTX_HOST_MXCSR, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, regs) == CTX_REGS, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, spill) == CTX_SPILL, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, delta) == CTX_DELTA, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, guest_fx) == CTX_GUEST_FX, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, poll) == CTX_POLL, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, htab) == CTX_HTAB, "ctx layout");
_Static_assert(sizeof(struct bt_ctx) == CTX_SIZE, "ctx layout");

/* Guest register i in the context block, addressed through %rdi or through %fs. */
#define GREG(i) STR(CTX_REGS) "+8*" #i

__asm__(
	".text\n"
	".globl bt_enter\n"
	".type bt_enter, @function\n"
	"bt_enter:\n"                                  /* rdi = ctx, rsi = host pc */
	"	push %rbp\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	sub $8, %rsp\n"                         /* 16-byte aligned host stack */
	"	mov %rsp, " STR(CTX_HOST_RSP) "(%rdi)\n"
	"	mov %rsi, " STR(CTX_TARGET) "(%rdi)\n"
	"	rdfsbase %rax\n"
	"	mov %rax, " STR(CTX_HOST_FS) "(%rdi)\n"
	"	rdgsbase %rax\n"
	"	mov %rax, " STR(CTX_HOST_GS) "(%rdi)\n"
	/* the host's XMM registers are caller-saved: only its MXCSR is kept */
	"	stmxcsr " STR(CTX_HOST_MXCSR) "(%rdi)\n"
	"	cmpb $0, " STR(CTX_FPU_RESTORE) "(%rdi)\n"
	"	je 1f\n"
	"	fxrstor64 " STR(CTX_GUEST_FX) "(%rdi)\n"
	"	movb $0, " STR(CTX_FPU_RESTORE) "(%rdi)\n"
	"	movb $1, " STR(CTX_FPU_HW) "(%rdi)\n"
	"1:	mov " STR(CTX_WINBASE) "(%rdi), %rax\n"
	"	wrgsbase %rax\n"
	"	wrfsbase %rdi\n"
	"	pushq " STR(CTX_RFLAGS) "(%rdi)\n"
	"	popfq\n"
	"	mov " GREG(0) "(%rdi), %rax\n"
	"	mov " GREG(1) "(%rdi), %rcx\n"
	"	mov " GREG(2) "(%rdi), %rdx\n"
	"	mov " GREG(3) "(%rdi), %rbx\n"
	"	mov " GREG(5) "(%rdi), %rbp\n"
	"	mov " GREG(6) "(%rdi), %rsi\n"
	"	mov " GREG(8) "(%rdi), %r8\n"
	"	mov " GREG(9) "(%rdi), %r9\n"
	"	mov " GREG(10) "(%rdi), %r10\n"
	"	mov " GREG(11) "(%rdi), %r11\n"
	"	mov " GREG(12) "(%rdi), %r12\n"
	"	mov " GREG(13) "(%rdi), %r13\n"
	"	mov " GREG(14) "(%rdi), %r14\n"
	"	mov " GREG(15) "(%rdi), %r15\n"
	"	mov " GREG(4) "(%rdi), %rsp\n"
	"	mov " GREG(7) "(%rdi), %rdi\n"
	"	jmp *%fs:" STR(CTX_TARGET) "\n"
	".size bt_enter, .-bt_enter\n"

	/* Called by translated code with RSP = CTX_HOST_RSP - 8 (the return address is
	 * the exit record) and the guest's RSP already in its slot. */
	".globl bt_exit_stub\n"
	".type bt_exit_stub, @function\n"
	"bt_exit_stub:\n"
	"	mov %rax, %fs:" GREG(0) "\n"
	"	mov %rcx, %fs:" GREG(1) "\n"
	"	mov %rdx, %fs:" GREG(2) "\n"
	"	mov %rbx, %fs:" GREG(3) "\n"
	"	mov %rbp, %fs:" GREG(5) "\n"
	"	mov %rsi, %fs:" GREG(6) "\n"
	"	mov %rdi, %fs:" GREG(7) "\n"
	"	mov %r8, %fs:" GREG(8) "\n"
	"	mov %r9, %fs:" GREG(9) "\n"
	"	mov %r10, %fs:" GREG(10) "\n"
	"	mov %r11, %fs:" GREG(11) "\n"
	"	mov %r12, %fs:" GREG(12) "\n"
	"	mov %r13, %fs:" GREG(13) "\n"
	"	mov %r14, %fs:" GREG(14) "\n"
	"	mov %r15, %fs:" GREG(15) "\n"
	"	popq %fs:" STR(CTX_EXIT_INFO) "\n"
	"	pushfq\n"
	"	popq %fs:" STR(CTX_RFLAGS) "\n"
	/* Entered here (RIP set by the signal handler, RSP = CTX_HOST_RSP) after a fault in
	 * translated code, once the handler has saved the guest's state itself. */
	".globl bt_exit_common\n"
	"bt_exit_common:\n"
	"	mov %fs:" STR(CTX_SELF) ", %rdi\n"
	/* the guest's FPU state, when it is in the registers: kept if changed, then the
	 * registers are made fit for C (empty x87 stack, the host's MXCSR) */
	"	cmpb $0, " STR(CTX_FPU_HW) "(%rdi)\n"
	"	je 2f\n"
	"	cmpb $0, " STR(CTX_FPU_DIRTY) "(%rdi)\n"
	"	je 1f\n"
	"	fxsave64 " STR(CTX_GUEST_FX) "(%rdi)\n"
	"	movb $0, " STR(CTX_FPU_DIRTY) "(%rdi)\n"
	"1:	fninit\n"
	"	ldmxcsr " STR(CTX_HOST_MXCSR) "(%rdi)\n"
	"	movb $0, " STR(CTX_FPU_HW) "(%rdi)\n"
	"2:\n"
	"	mov " STR(CTX_HOST_GS) "(%rdi), %rax\n"
	"	wrgsbase %rax\n"
	"	mov " STR(CTX_HOST_FS) "(%rdi), %rax\n"
	"	wrfsbase %rax\n"
	"	cld\n"
	"	mov " STR(CTX_EXIT_INFO) "(%rdi), %rax\n"
	"	add $8, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	pop %rbp\n"
	"	ret\n"
	".size bt_exit_stub, .-bt_exit_stub\n"

	/* sa_sigaction: rdi = sig, rsi = siginfo, rdx = ucontext. When FS is a context
	 * block (its magic matches; glibc's TCB holds a pointer there), glibc's FS is put
	 * back for the C handler, which gets the block as its fourth argument, and the
	 * block's FS is restored for the return (sigreturn does not restore FS). */
	".globl bt_sig_entry\n"
	".type bt_sig_entry, @function\n"
	"bt_sig_entry:\n"
	"	rdfsbase %rax\n"
	"	movabs $" STR(BT_CTX_MAGIC_VALUE) ", %r10\n"
	"	cmp %r10, " STR(CTX_MAGIC) "(%rax)\n"
	"	jne 1f\n"
	"	mov " STR(CTX_HOST_FS) "(%rax), %r10\n"
	"	wrfsbase %r10\n"
	"	push %rax\n"
	"	mov %rax, %rcx\n"
	"	call bt_signal_handler\n"
	"	pop %rax\n"
	"	wrfsbase %rax\n"
	"	ret\n"
	"1:	sub $8, %rsp\n"
	"	xor %ecx, %ecx\n"
	"	call bt_signal_handler\n"
	"	add $8, %rsp\n"
	"	ret\n"
	".size bt_sig_entry, .-bt_sig_entry\n");
