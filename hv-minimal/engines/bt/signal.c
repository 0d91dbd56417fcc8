/* Host signals while translated code runs. Translated code runs on the guest's stack
 * pointer: every synchronous signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP) is taken
 * on an alternate stack, and bt_sig_entry (trampoline.c) passes the context block of
 * the translated code the thread was running, if any. Asynchronous signals are blocked
 * for as long as translated code runs (bt_vcpu_run).
 *
 * A fault in translated code is either a window page not mapped yet (a shadow fill,
 * then the instruction runs again), the poll page (an exit was asked for), or a guest
 * exception: the guest's state is rebuilt from the host registers and the block's
 * instruction map, and execution leaves through bt_exit_common. Any other fault is
 * not the translator's: it goes to the handler that was there before. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "bt.h"
#include "hvlab/err.h"

#define ALTSTACK_SIZE (256u << 10)

static const int sync_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
#define NSYNC (int)(sizeof(sync_signals) / sizeof(sync_signals[0]))
static struct sigaction previous[NSYNC];
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

/* gregs index of each GPR in x86 encoding order */
static const int greg_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void chain(int sig, siginfo_t *si, void *uc)
{
	for (int i = 0; i < NSYNC; i++) {
		struct sigaction *p = &previous[i];

		if (sync_signals[i] != sig)
			continue;
		if ((p->sa_flags & SA_SIGINFO) && p->sa_sigaction) {
			p->sa_sigaction(sig, si, uc);
			return;
		}
		if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
			p->sa_handler(sig);
			return;
		}
	}
	/* Nobody else wants it: the default action, when the fault repeats. */
	signal(sig, SIG_DFL);
}

/* The guest's registers and RIP at the faulting instruction, into the context block
 * (which translated code does not use while it runs). */
static void recover_state(struct bt_vcpu *v, ucontext_t *uc, const struct bt_tb *tb,
			  const struct bt_imap *im)
{
	struct bt_ctx *ctx = v->ctx;
	greg_t *g = uc->uc_mcontext.gregs;

	for (int r = 0; r < 16; r++)
		ctx->regs[r] = (uint64_t)g[greg_of[r]];
	if (im) {
		for (int r = 0; r < 16; r++) {
			if (im->spill & (1u << r))
				ctx->regs[r] = ctx->spill[r];
			if (im->delta & (1u << r))
				ctx->regs[r] += ctx->delta[r];
		}
		ctx->regs[BT_RSP] += (uint64_t)(int64_t)im->rsp_adj;
	}
	ctx->rflags = (uint64_t)g[REG_EFL];
	v->cpu.rip = tb->rip + (im ? im->guest_off : 0);
}

/* Makes the signal return into bt_exit_common (on the host stack of bt_enter) with the
 * guest's state as at the faulting instruction. */
static void leave_translated(struct bt_vcpu *v, ucontext_t *uc, const struct bt_tb *tb,
			     const struct bt_imap *im)
{
	greg_t *g = uc->uc_mcontext.gregs;

	recover_state(v, uc, tb, im);
	/* counting mode: the block is left at this instruction, which runs again later
	 * (a guest fault) or is completed in C (device memory, a protected page); the poll
	 * (im NULL) comes before the block's count */
	if (im)
		bt_icount_unrun(v, tb, v->cpu.rip, v->mmio.pending);
	v->ctx->exit_info = NULL;
	g[REG_RIP] = (greg_t)(uintptr_t)bt_exit_common;
	g[REG_RSP] = (greg_t)v->ctx->host_rsp;
}

/* The guest's own address for a fault at window offset off, when the instruction
 * names it in an explicit operand whose low 32 bits are off; 0 when it cannot tell
 * (implicit operands: the stack, string instructions). */
static int guest_address(struct bt_vcpu *v, ucontext_t *uc, const struct bt_tb *tb,
			 const struct bt_imap *im, uint64_t off, uint64_t *va)
{
	struct bt_decoded d;
	int r;

	recover_state(v, uc, tb, im);
	r = bt_decode_at(v, v->cpu.rip, 0, &d);
	v->fault.pending = 0;
	if (r)
		return 0;
	for (unsigned i = 0; i < d.in.operand_count_visible; i++) {
		uint64_t a;

		if (d.op[i].type != ZYDIS_OPERAND_TYPE_MEMORY ||
		    d.op[i].mem.type == ZYDIS_MEMOP_TYPE_AGEN)
			continue;
		a = bt_effective_address(v, &d, &d.op[i]);
		/* an access may start below the page it faults on */
		if (((uint32_t)a & ~(BT_PAGE - 1)) == (off & ~(BT_PAGE - 1)) ||
		    (((uint32_t)a + d.op[i].size / 8 - 1) & ~(BT_PAGE - 1)) == (off & ~(BT_PAGE - 1))) {
			*va = a + ((off - (uint32_t)a) & 0xffffffffu);
			return 1;
		}
	}
	return 0;
}

/* An address outside the layout (its low 32 bits would alias another address in the
 * window): never mapped; walked, then emulated (device memory, or memory by one
 * instruction) or delivered as the guest's fault. */
static void outside_layout(struct bt_vcpu *v, uint64_t va, int write)
{
	struct bt_walk w;
	unsigned access = (write ? BT_ACC_WRITE : 0) | (v->cpu.cpl == 3 ? BT_ACC_USER : 0);
	int r = bt_walk(v, va, access, &w);

	if (r < 0) {
		v->host_error = 1;
	} else if (r > 0) {
		v->stats.traps[BT_TRAP_PF_GUEST]++;
		if (w.noncanonical)
			bt_raise(v, 13, 1, 0);
		else
			bt_raise_pf(v, va, w.pf_error);
	} else {
		v->stats.traps[BT_TRAP_MMIO]++;
		v->mmio.pending = 1;
		v->mmio.gpa = w.gpa;
	}
}

static void window_fault(struct bt_vcpu *v, ucontext_t *uc, siginfo_t *si,
			 const struct bt_tb *tb, const struct bt_imap *im)
{
	struct bt_window *w = bt_cur_window(v);
	uintptr_t addr = (uintptr_t)si->si_addr, base = (uintptr_t)w->base;
	/* the window's extent: [base, base + 4 GiB), and the kernel half below the base in
	 * the shared layout; the offset is the guest address's low 32 bits either way */
	uintptr_t lo = base - (w->shared ? BT_WIN_SIZE / 2 : 0);
	uint64_t off = (uint32_t)(addr - base);
	int write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
	uint64_t va;
	int r;

	if (addr < lo || addr >= base + BT_WIN_SIZE) {
		/* a string operation ran off the end of the 32-bit space */
		v->stats.traps[BT_TRAP_PF_GUEST]++;
		bt_raise_pf(v, (uint64_t)bt_sext32(off),
			    (write ? BT_PF_W : 0) | (v->cpu.cpl == 3 ? BT_PF_U : 0));
		leave_translated(v, uc, tb, im);
		return;
	}
	if (guest_address(v, uc, tb, im, off, &va) && va != (uint64_t)bt_sext32(off)) {
		outside_layout(v, va, write);
		leave_translated(v, uc, tb, im);
		return;
	}
	r = bt_shadow_fill(v, off, write);
	if (r == 0) {
		v->stats.traps[BT_TRAP_PF_FILL]++;
		return;                  /* mapped: the instruction runs again */
	}
	if (r < 0) {
		v->host_error = 1;
	} else if (r == 2) {
		v->stats.traps[bt_gpa_slot(v->vm, v->mmio.gpa) ? BT_TRAP_PROTECTED : BT_TRAP_MMIO]++;
		v->mmio.pending = 1;
	} else {
		v->stats.traps[BT_TRAP_PF_GUEST]++;
		v->fault.from_data = 1;
	}
	leave_translated(v, uc, tb, im);
}

void bt_signal_handler(int sig, siginfo_t *si, void *ucv, struct bt_ctx *ctx)
{
	ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	struct bt_vcpu *v = ctx ? ctx->vcpu : NULL;
	const struct bt_tb *tb = v ? bt_cache_find_host(&v->cache, pc) : NULL;
	const struct bt_imap *im;

	if (!tb) {
		chain(sig, si, ucv);
		return;
	}
	im = bt_cache_imap(&v->cache, tb, pc);
	switch (sig) {
	case SIGSEGV: {
		uintptr_t addr = (uintptr_t)si->si_addr;
		const struct bt_window *w = bt_cur_window(v);
		uintptr_t win = (uintptr_t)w->reserve;

		if (addr >= (uintptr_t)ctx->poll && addr < (uintptr_t)ctx->poll + sizeof(ctx->poll)) {
			/* the poll at a block's entry: the guest state is the block's start */
			v->stats.traps[BT_TRAP_POLL]++;
			leave_translated(v, uc, tb, NULL);
			return;
		}
		if (si->si_code != SI_KERNEL && addr >= win &&
		    addr - win < w->reserve_len) {
			window_fault(v, uc, si, tb, im);
			return;
		}
		/* a general-protection fault of the host (no address): the guest's #GP */
		v->stats.traps[BT_TRAP_GP]++;
		bt_raise(v, 13, 1, 0);
		break;
	}
	case SIGFPE: {
		long trapno = (long)uc->uc_mcontext.gregs[REG_TRAPNO];

		v->stats.traps[trapno == 0 ? BT_TRAP_DE : BT_TRAP_OTHER]++;
		bt_raise(v, trapno == 16 ? 16 : trapno == 19 ? 19 : 0, 0, 0);
		break;
	}
	case SIGILL:
		v->stats.traps[BT_TRAP_UD]++;
		bt_raise(v, 6, 0, 0);
		break;
	case SIGBUS:
		v->stats.traps[BT_TRAP_OTHER]++;
		if (uc->uc_mcontext.gregs[REG_TRAPNO] == 17) {
			bt_raise(v, 17, 1, 0);
		} else {
			hv_err_set("host bus error at %p while running guest code (guest memory "
				   "file truncated?)", si->si_addr);
			v->host_error = 1;
		}
		break;
	default:
		v->stats.traps[BT_TRAP_OTHER]++;
		hv_err_set("unexpected signal %d while running guest code at host %#lx", sig,
			   (unsigned long)pc);
		v->host_error = 1;
		break;
	}
	leave_translated(v, uc, tb, im);
}

/* Installs the handlers where they are not (any more) ours: a test framework or the
 * program may have put its own back since; theirs become the ones chained to. */
int bt_signals_install(void)
{
	struct sigaction sa, cur;
	int r = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bt_sig_entry;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigfillset(&sa.sa_mask);
	pthread_mutex_lock(&install_lock);
	for (int i = 0; i < NSYNC && !r; i++) {
		if (sigaction(sync_signals[i], NULL, &cur)) {
			r = -1;
			break;
		}
		if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == bt_sig_entry)
			continue;
		previous[i] = cur;
		if (sigaction(sync_signals[i], &sa, NULL))
			r = -1;
	}
	pthread_mutex_unlock(&install_lock);
	if (r)
		return hv_err_errno("installing the binary translator's fault handlers");
	return 0;
}

/* The handlers run on this vCPU's alternate stack, installed on the thread that runs
 * it (once per thread). */
int bt_altstack_ensure(struct bt_vcpu *v)
{
	stack_t cur, ss;

	if (v->thread_set && pthread_equal(v->thread, pthread_self()))
		return 0;
	if (!v->altstack) {
		void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return hv_err_errno("allocating the signal stack of vCPU %u", v->index);
		v->altstack = p;
		v->altstack_size = ALTSTACK_SIZE;
	}
	if (sigaltstack(NULL, &cur))
		return hv_err_errno("reading the signal stack of vCPU %u's thread", v->index);
	if (!(cur.ss_flags & SS_DISABLE) && cur.ss_sp == v->altstack) {
		v->thread = pthread_self();
		v->thread_set = 1;
		return 0;
	}
	ss.ss_sp = v->altstack;
	ss.ss_size = v->altstack_size;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL))
		return hv_err_errno("installing the signal stack of vCPU %u", v->index);
	v->thread = pthread_self();
	v->thread_set = 1;
	return 0;
}

/* Called by vcpu_destroy. The stack is freed only where that is certain to be safe:
 * installed on this very thread (it is taken off first) or never installed. Another
 * thread's has outlived that thread (hvm joins the vCPU threads first), and its runtime
 * may already have unmapped it (ASan unmaps a thread's alternate stack at its exit):
 * it is left alone. */
void bt_altstack_release(struct bt_vcpu *v)
{
	stack_t cur, off = { .ss_flags = SS_DISABLE };

	if (!v->altstack)
		return;
	if (v->thread_set && !pthread_equal(v->thread, pthread_self())) {
		v->altstack = NULL;
		return;
	}
	if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == v->altstack &&
	    !(cur.ss_flags & SS_DISABLE))
		sigaltstack(&off, NULL);
	munmap(v->altstack, v->altstack_size);
	v->altstack = NULL;
}
