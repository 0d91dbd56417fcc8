/* The trampolines between C and translated code, in file-scope assembly so that no
 * compiler (and no sanitizer) touches them:
 *   bt_enter       C -> translated code: saves the host's callee-saved registers and
 *                  MXCSR, loads the guest's state, jumps to a host address;
 *   bt_exit_stub   translated code -> C: saves the guest's registers and flags, then
 *                  bt_exit_common returns from bt_enter with the exit record.
 * No segment base changes here: FS stays glibc's thread pointer, so the trampolines
 * find the context block through thread-local words (local-exec TLS, %fs:sym@tpoff:
 * the engine is linked into executables), and every signal handler runs with a sound
 * FS. GS is the current window, written from C only when the window changes
 * (segbase.c). The context block layout is in ctx.h. */
#include <stddef.h>

#include "bt.h"

#define STR_(x) #x
#define STR(x) STR_(x)

_Static_assert(offsetof(struct bt_ctx, self) == CTX_SELF, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, icount) == CTX_ICOUNT_K, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, icount) + 8 == CTX_ICOUNT_U, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, icount_tmp) == CTX_ICOUNT_TMP, "ctx layout");
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
_Static_assert(offsetof(struct bt_ctx, kgsbase) == CTX_KGSBASE, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, swap_tmp) == CTX_SWAP_TMP, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, poll) == CTX_POLL, "ctx layout");
_Static_assert(offsetof(struct bt_ctx, htab) == CTX_HTAB, "ctx layout");
_Static_assert(sizeof(struct bt_ctx) == CTX_SIZE, "ctx layout");

/* The thread-local words of the trampolines. bt_tls_ctx is the context block whose
 * guest runs on this thread, from just before bt_enter jumps into translated code until
 * bt_exit_common leaves it: a signal that finds it set interrupted translated code
 * (or the trampolines around it). */
__thread struct bt_ctx *bt_tls_ctx;
__thread uint64_t bt_tls_target;         /* host address bt_enter jumps to */
__thread uint64_t bt_tls_scratch;        /* the guest's RDI while the exit stub runs */

#define TLS(sym) "%fs:" #sym "@tpoff"

/* Guest register i in the context block, addressed through %rdi. */
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
	"	mov %rsi, " TLS(bt_tls_target) "\n"
	/* the host's XMM registers are caller-saved: only its MXCSR is kept */
	"	stmxcsr " STR(CTX_HOST_MXCSR) "(%rdi)\n"
	"	cmpb $0, " STR(CTX_FPU_RESTORE) "(%rdi)\n"
	"	je 1f\n"
	"	fxrstor64 " STR(CTX_GUEST_FX) "(%rdi)\n"
	"	movb $0, " STR(CTX_FPU_RESTORE) "(%rdi)\n"
	"	movb $1, " STR(CTX_FPU_HW) "(%rdi)\n"
	"1:\n"
	/* rdi = ctx, bt_tls_target set: the guest's registers and flags, then its code */
	"bt_load_guest:\n"
	"	mov %rdi, " TLS(bt_tls_ctx) "\n"
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
	"	jmp *" TLS(bt_tls_target) "\n"
	".size bt_enter, .-bt_enter\n"

	/* Called by translated code with RSP = CTX_HOST_RSP - 8 (the return address is
	 * the exit record) and the guest's RSP already in its slot. */
	".globl bt_exit_stub\n"
	".type bt_exit_stub, @function\n"
	"bt_exit_stub:\n"
	"	mov %rdi, " TLS(bt_tls_scratch) "\n"
	"	mov " TLS(bt_tls_ctx) ", %rdi\n"
	"	mov %rax, " GREG(0) "(%rdi)\n"
	"	mov %rcx, " GREG(1) "(%rdi)\n"
	"	mov %rdx, " GREG(2) "(%rdi)\n"
	"	mov %rbx, " GREG(3) "(%rdi)\n"
	"	mov %rbp, " GREG(5) "(%rdi)\n"
	"	mov %rsi, " GREG(6) "(%rdi)\n"
	"	mov " TLS(bt_tls_scratch) ", %rax\n"
	"	mov %rax, " GREG(7) "(%rdi)\n"
	"	mov %r8, " GREG(8) "(%rdi)\n"
	"	mov %r9, " GREG(9) "(%rdi)\n"
	"	mov %r10, " GREG(10) "(%rdi)\n"
	"	mov %r11, " GREG(11) "(%rdi)\n"
	"	mov %r12, " GREG(12) "(%rdi)\n"
	"	mov %r13, " GREG(13) "(%rdi)\n"
	"	mov %r14, " GREG(14) "(%rdi)\n"
	"	mov %r15, " GREG(15) "(%rdi)\n"
	"	popq " STR(CTX_EXIT_INFO) "(%rdi)\n"
	"	pushfq\n"
	"	popq " STR(CTX_RFLAGS) "(%rdi)\n"
	/* Entered here (RIP set by the signal handler, RSP = CTX_HOST_RSP) after a fault in
	 * translated code, once the handler has saved the guest's state itself. */
	".globl bt_exit_common\n"
	"bt_exit_common:\n"
	"	mov " TLS(bt_tls_ctx) ", %rdi\n"
	"	movq $0, " TLS(bt_tls_ctx) "\n"
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
	"2:	cld\n"
	/* a call-out finished on the spot goes back into translated code from here, its
	 * host registers still saved below (RSP = CTX_HOST_RSP, 16-byte aligned) */
	"	mov %rdi, %rbx\n"
	"	call bt_callout_fast\n"
	"	mov %rbx, %rdi\n"
	"	test %rax, %rax\n"
	"	jz 3f\n"
	"	mov %rax, " TLS(bt_tls_target) "\n"
	"	jmp bt_load_guest\n"
	"3:	mov " STR(CTX_EXIT_INFO) "(%rdi), %rax\n"
	"	add $8, %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	pop %rbp\n"
	"	ret\n"
	".size bt_exit_stub, .-bt_exit_stub\n");

/* sa_sigaction of the synchronous signals. FS is glibc's even in translated code, so
 * this is plain C; the context block comes from the thread-local word. */
void bt_sig_entry(int sig, siginfo_t *si, void *uc)
{
	bt_signal_handler(sig, si, uc, bt_tls_ctx);
}
