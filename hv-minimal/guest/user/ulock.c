/* The kernel's ticket lock in a program (ulib.h): the fast paths here, in user mode,
 * the slow path in the kernel (SYS_spin_wait, SYS_spin_kick), so that a user lock
 * waits exactly as the kernel's own locks do under the boot's spinlock= mode. */
#include "guest/string.h"
#include "ulib.h"

static uint32_t threshold = HV_SPIN_THRESHOLD_DEFAULT;
static int slow_on, kicks_on;

void ulock_init(void)
{
	struct guest_sysinfo si;

	if (sysinfo(&si) < 0)
		return;
	if (si.spin_threshold)
		threshold = si.spin_threshold;
	slow_on = strcmp(si.spinlock, "plain") != 0;
	kicks_on = !strcmp(si.spinlock, "pv-halt");
}

void ulock_acquire(struct guest_spinlock *l, uint64_t *spins, uint64_t *slow)
{
	uint32_t t = __atomic_fetch_add(&l->next, 1, __ATOMIC_ACQUIRE);
	uint64_t n = 0;

	for (;;) {
		for (uint32_t i = 0; i < threshold; i++, n++) {
			if (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) == t) {
				*spins += n;
				return;
			}
			__asm__ volatile("pause");
		}
		if (slow_on) {
			spin_wait_slow(l, t);
			(*slow)++;
		}
	}
}

void ulock_release(struct guest_spinlock *l)
{
	if (!kicks_on) {
		__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST))
		spin_kick(l);
}

uint64_t ulock_spin_cost_x1000(void)
{
	/* the spin loop of ulock_acquire on a lock never served */
	static struct guest_spinlock never = { 1, 0, 0, 0 };
	enum { N = 20000 };
	uint64_t best = UINT64_MAX;

	for (int round = 0; round < 5; round++) {
		uint64_t t0 = tsc_read();
		for (uint32_t i = 0; i < N; i++) {
			if (__atomic_load_n(&never.owner, __ATOMIC_ACQUIRE) == 1)
				break;
			__asm__ volatile("pause");
		}
		uint64_t c = tsc_read() - t0;
		if (c < best)
			best = c;
	}
	return best * 1000 / N;
}
