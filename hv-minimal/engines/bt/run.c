/* The run loop of a vCPU: find or translate the block at the guest's RIP, run
 * translated code until it leaves, and act on why it left (chain a branch, fill the
 * indirect table, emulate a call-out, deliver an exception) until something needs the
 * core: port I/O, a halt with nothing to wake it, a shutdown, a stop request. */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bt.h"
#include "hvlab/err.h"

#define RFLAGS_IF (1ull << 9)

static void exit_internal(struct bt_vcpu *v, struct hv_exit *exit, const char *what)
{
	memset(exit, 0, sizeof(*exit));
	exit->kind = HV_VMEXIT_INTERNAL;
	exit->u.internal.ndata = 2;
	exit->u.internal.data[0] = v->cpu.rip;
	exit->u.internal.data[1] = v->cpu.cpl;
	snprintf(exit->u.internal.what, sizeof(exit->u.internal.what), "%s", what);
}

static void exit_shutdown(struct hv_exit *exit, const char *what)
{
	memset(exit, 0, sizeof(*exit));
	exit->kind = HV_VMEXIT_SHUTDOWN;
	snprintf(exit->u.shutdown.what, sizeof(exit->u.shutdown.what), "%s", what);
}

/* The poll page goes back to writable before the events are looked at: one that
 * comes after arms it again. An arm that lands between the exchange and the mprotect
 * finds the flag clear and makes the page read-only, which this mprotect then undoes:
 * the flag would say armed over a writable page, every later arm would skip its
 * mprotect, and translated code would never stop again (a guest spinning with
 * interrupts off, whose timer interrupts keep arming and disarming the page, outlived
 * the watchdog). So the flag is read again, and the page made read-only if it is set. */
static void disarm_poll(struct bt_vcpu *v)
{
	if (__atomic_exchange_n(&v->poll_armed, 0, __ATOMIC_ACQ_REL)) {
		mprotect(v->ctx->poll, sizeof(v->ctx->poll), PROT_READ | PROT_WRITE);
		if (__atomic_load_n(&v->poll_armed, __ATOMIC_ACQUIRE))
			mprotect(v->ctx->poll, sizeof(v->ctx->poll), PROT_READ);
	}
}

static const uint8_t *block_code(struct bt_vcpu *v, const struct bt_tb *tb)
{
	return v->cache.code + tb->host_off;
}

/* Host code to run for the guest's current RIP, or NULL (a fetch fault is pending or
 * a host error is set). */
static const uint8_t *dispatch(struct bt_vcpu *v)
{
	uint64_t rip = v->cpu.rip;
	const uint8_t *known = bt_known_block(v);
	struct bt_tb *tb;

	if (known)
		return known;
	tb = bt_translate(v, rip);

	if (!tb)
		return NULL;
	if (!tb->dead)
		bt_htab_insert(v, rip, tb);
	return block_code(v, tb);
}

static void exit_interrupted(struct hv_exit *exit)
{
	memset(exit, 0, sizeof(*exit));
	exit->kind = HV_VMEXIT_INTERRUPTED;
}

/* Events between two runs of translated code, in priority order: a stop request, a
 * host error, an exception, the end of an access to device memory, an interrupt, a
 * halt.
 * Returns 0 to run translated code, 1 to look again, 2 with *exit filled. */
static int events(struct bt_vcpu *v, struct hv_exit *exit, const uint8_t **resume)
{
	int r, vec;

	disarm_poll(v);
	bt_xreq_serve(v);
	if (__atomic_load_n(&v->exit_request, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&v->exit_request, 0, __ATOMIC_RELEASE);
		exit_interrupted(exit);
		return 2;
	}
	if (v->host_error) {
		v->host_error = 0;
		exit_internal(v, exit, hv_err_msg());
		return 2;
	}
	if (v->fault.pending) {
		*resume = NULL;
		if (v->fault.from_data) {
			v->fault.from_data = 0;
			bt_note_pf_trap(v, v->cpu.rip);
		}
		r = bt_deliver_fault(v);
		if (r < 0) {
			exit_internal(v, exit, hv_err_msg());
			return 2;
		}
		if (r > 0) {
			exit_shutdown(exit, "shutdown (triple fault)");
			return 2;
		}
		return 1;
	}
	/* an access to device memory is the rest of the instruction that faulted */
	if (v->mmio.pending) {
		*resume = NULL;
		r = bt_mmio_emulate(v, exit);
		if (r < 0) {
			exit_internal(v, exit, hv_err_msg());
			return 2;
		}
		return r == 2 ? 2 : 1;
	}
	vec = bt_irq_pending(v);
	if (vec >= 0) {
		*resume = NULL;
		v->cpu.halted = 0;
		bt_irq_ack(v, vec);
		r = bt_deliver(v, (uint8_t)vec, 0, 0, 0);
		if (r < 0) {
			exit_internal(v, exit, hv_err_msg());
			return 2;
		}
		if (r > 0) {
			exit_shutdown(exit, "shutdown (triple fault)");
			return 2;
		}
		return 1;
	}
	if (v->cpu.halted) {
		if (!(v->cpu.vflags & RFLAGS_IF)) {
			/* interrupts off: nothing can wake it (as KVM without an irqchip) */
			v->cpu.halted = 0;
			memset(exit, 0, sizeof(*exit));
			exit->kind = HV_VMEXIT_HLT;
			return 2;
		}
		if (bt_halt_wait(v)) {
			exit_internal(v, exit, hv_err_msg());
			return 2;
		}
		return 1;
	}
	return 0;
}

/* An application processor waits for INIT and SIPI without spinning. */
static int wait_for_sipi(struct bt_vcpu *v, struct hv_exit *exit)
{
	for (;;) {
		disarm_poll(v);
		if (__atomic_load_n(&v->exit_request, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&v->exit_request, 0, __ATOMIC_RELEASE);
			exit_interrupted(exit);
			return 2;
		}
		int vec = __atomic_load_n(&v->lapic.sipi_vector, __ATOMIC_ACQUIRE);

		if (vec >= 0) {
			/* real mode at the vector: its start-up code is interpreted up to
			 * long mode, then translated as usual */
			bt_sipi_reset(v, vec);
			if (bt_boot_to_long_mode(v)) {
				exit_internal(v, exit, hv_err_msg());
				return 2;
			}
			v->wait_sipi = 0;
			return 0;
		}
		if (bt_halt_wait(v)) {
			exit_internal(v, exit, hv_err_msg());
			return 2;
		}
	}
}

static int run_loop(struct bt_vcpu *v, struct hv_exit *exit)
{
	const uint8_t *resume = NULL;

	if (v->wait_sipi && wait_for_sipi(v, exit) == 2)
		return 0;
	if (bt_io_complete(v) < 0 || bt_mmio_complete(v) < 0) {
		exit_internal(v, exit, hv_err_msg());
		return 0;
	}
	for (;;) {
		const struct bt_exit_info *info;
		int r = events(v, exit, &resume);

		if (r == 2)
			return 0;
		if (r == 1)
			continue;
		if (!resume) {
			bt_icount_sync(v);    /* counting turned on by another vCPU */
			resume = dispatch(v);
			if (!resume)
				continue;     /* a fetch fault, or a host error: seen above */
		}
		if (bt_gs_sync(v)) {
			exit_internal(v, exit, hv_err_msg());
			return 0;
		}
		info = bt_enter(v->ctx, resume);
		resume = NULL;
		if (!info)
			continue;             /* a signal: fault, poll, device memory, host error */
		switch (info->kind) {
		case BT_EXIT_BRANCH: {
			uint32_t gen = v->cache.gen, patch = info->patch;
			struct bt_tb *tb;

			v->cpu.rip = info->rip;
			tb = bt_translate(v, v->cpu.rip);
			if (!tb)
				break;
			if (gen == v->cache.gen && patch != UINT32_MAX)
				bt_chain(v, patch, tb);
			resume = block_code(v, tb);
			break;
		}
		case BT_EXIT_FPU:
			/* code that uses the FPU: bt_enter loads the guest's state first */
			v->ctx->fpu_restore = 1;
			v->stats.fpu_loads++;
			resume = (const uint8_t *)(info + 1);
			break;
		case BT_EXIT_LOOKUP:
			v->stats.lookups_missed++;
			v->cpu.rip = v->ctx->target;
			resume = dispatch(v);
			break;
		case BT_EXIT_CALLOUT: {
			/* run already by bt_callout_fast, which left its result */
			uint32_t epoch = v->fast.done ? v->fast.epoch : v->cache.epoch;
			/* counting mode: what the block counted from the call-out on, found
			 * before the call-out may empty the cache */
			const struct bt_tb *ctb = v->icount ?
				bt_cache_find_host(&v->cache, (uintptr_t)info) : NULL;
			uint32_t rest = bt_icount_rest(v, ctb, info->rip);
			uint64_t crip = ctb ? ctb->rip : 0;

			if (v->fast.done) {
				v->fast.done = 0;
				r = v->fast.r;
				if (r == 2)
					*exit = v->fast.exit;
			} else {
				r = bt_callout(v, info, exit);
			}
			/* a block not gone on inline gives back what did not run: the rest
			 * after the call-out, and the call-out itself when it faulted */
			if (rest && r >= 0 && !(r == 0 && epoch == v->cache.epoch))
				bt_icount_give_back(v, crip, rest - (v->fault.pending ? 0 : 1));
			if (r < 0) {
				exit_internal(v, exit, hv_err_msg());
				return 0;
			}
			if (r == 2)
				return 0;
			if (v->shutdown) {
				v->shutdown = 0;
				exit_shutdown(exit, "shutdown (triple fault)");
				return 0;
			}
			/* inline, unless the call-out changed the code cache (the rest of the
			 * block may be gone or stale) */
			if (r == 0 && epoch == v->cache.epoch)
				resume = (const uint8_t *)(info + 1);
			break;
		}
		default:
			hv_err_set("translated code left with an unknown exit record %u at guest %#"
				   PRIx64, info->kind, v->cpu.rip);
			exit_internal(v, exit, hv_err_msg());
			return 0;
		}
	}
}

/* Asynchronous signals must not arrive while the host stack pointer is the guest's. They are blocked on a thread
 * from its first run on, and stay blocked (a mask change costs two system calls per
 * run): request_exit() needs no signal, and process-directed signals go to threads
 * that do not block them. */
static __thread int async_blocked;

static void block_async_signals(void)
{
	sigset_t block;

	if (async_blocked)
		return;
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGTRAP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	async_blocked = 1;
}

int bt_vcpu_run(struct bt_vcpu *v, struct hv_exit *exit)
{
	if (bt_altstack_ensure(v))
		return -1;
	block_async_signals();
	return run_loop(v, exit);
}
