/* The ticket spinlock and its three ways to wait (spinlock.h). The fast paths are
 * inline in spinlock.h; here are the spinning and the slow paths.
 *
 * pv-halt follows the paravirtual ticket locks of Linux 3.12 for KVM: a waiter past
 * the threshold records which lock and ticket it waits for, counts itself in the
 * lock's waiters, looks at the lock once more and sleeps in the VMM; a releaser that
 * sees waiters kicks the CPU whose ticket is now served. The VMM keeps a kick that
 * arrives before the sleep, and refuses to sleep when the lock word has moved on, so
 * no wake-up is lost; a sleep also ends after HV_SPIN_WAIT_MAX_US, and the waiter
 * simply looks again. */
#include "guest/string.h"
#include "hv.h"
#include "kernel.h"
#include "percpu.h"
#include "pv.h"
#include "spinlock.h"
#include "tlb.h"
#include "x86.h"

uint32_t spin_threshold = HV_SPIN_THRESHOLD_DEFAULT;
int spin_kicks_on;

/* pv-halt: what each CPU sleeps for (lock NULL: nothing). */
static struct {
	struct guest_spinlock *volatile lock;
	volatile uint32_t want;
} waiting[HV_MAX_VCPUS];

static void plain_slow(struct guest_spinlock *l, uint32_t t)
{
	(void)l;
	(void)t;
}

static void plain_kick(struct guest_spinlock *l)
{
	(void)l;
}

static void yield_slow(struct guest_spinlock *l, uint32_t t)
{
	(void)l;
	(void)t;
	mycpu()->st.spin_notifies++;
	hv_hypercall(HV_HC_SPIN_NOTIFY, spin_threshold, 0);
}

static void halt_slow(struct guest_spinlock *l, uint32_t t)
{
	/* LAB 5 BEGIN: halt-slow */
	struct cpu *c = mycpu();
	uint32_t seen;

	waiting[c->id].want = t;
	__atomic_store_n(&waiting[c->id].lock, l, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&l->waiters, 1, __ATOMIC_SEQ_CST);
	seen = __atomic_load_n(&l->owner, __ATOMIC_SEQ_CST);
	if (seen != t) {
		tlb_poll();
		c->st.spin_waits++;
		hv_hypercall(HV_HC_SPIN_WAIT, V2P(&l->owner), seen);
	}
	__atomic_sub_fetch(&l->waiters, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&waiting[c->id].lock, NULL, __ATOMIC_RELEASE);
	/* LAB 5 END: halt-slow */
}

static void halt_kick(struct guest_spinlock *l)
{
	/* LAB 5 BEGIN: halt-kick */
	uint32_t served = __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE), me = mycpu()->id;

	for (uint32_t i = 0; i < ncpus; i++) {
		if (i == me || __atomic_load_n(&waiting[i].lock, __ATOMIC_ACQUIRE) != l ||
		    waiting[i].want != served)
			continue;
		mycpu()->st.spin_kicks++;
		hv_hypercall(HV_HC_SPIN_KICK, i, 0);
		return;
	}
	/* LAB 5 END: halt-kick */
}

static const struct lock_ops plain_ops = { "plain", plain_slow, plain_kick };
static const struct lock_ops yield_ops = { "pv-yield", yield_slow, plain_kick };
static const struct lock_ops halt_ops = { "pv-halt", halt_slow, halt_kick };

static const struct lock_ops *const all_ops[] = { &plain_ops, &yield_ops, &halt_ops };

const struct lock_ops *lock_ops = &plain_ops;

int lock_ops_select(const char *name)
{
	for (unsigned i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
		if (!strcmp(all_ops[i]->name, name)) {
			lock_ops = all_ops[i];
			return 0;
		}
	}
	return -1;
}

void spin_init(void)
{
	uint32_t a, b, c, d;
	char sig[13];

	cpuid(HV_CPUID_BASE, &a, &b, &c, &d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	if (!kcfg.spin_threshold && !strcmp(sig, HV_CPUID_SIG) && a >= HV_CPUID_SPIN) {
		cpuid(HV_CPUID_SPIN, &a, &b, &c, &d);
		if (b)
			spin_threshold = b;
	} else if (kcfg.spin_threshold) {
		spin_threshold = kcfg.spin_threshold;
	}
	int64_t f = lock_ops != &plain_ops ? hv_hypercall(HV_HC_FEATURES, 0, 0) : 0;

	if (lock_ops != &plain_ops && (f < 0 || !(f & HV_PV_SPIN))) {
		kprintf("spinlock: %s needs the VMM's spin hypercalls (HV_PV_SPIN), which this "
			"VMM does not offer: using plain\n", lock_ops->name);
		lock_ops = &plain_ops;
	}
	spin_kicks_on = lock_ops == &halt_ops;
}

void spin_wait(struct guest_spinlock *l, uint32_t t)
{
	for (;;) {
		for (uint32_t n = 0; n < spin_threshold; n++) {
			if (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) == t)
				return;
			pause();
			tlb_poll();
		}
		if (lock_ops != &plain_ops) {
			mycpu()->st.spin_slow++;
			lock_ops->slow(l, t);
		}
	}
}

void spin_slow_path(struct guest_spinlock *l, uint32_t t)
{
	mycpu()->st.spin_slow++;
	lock_ops->slow(l, t);
	tlb_poll();
}

void spin_kick_waiter(struct guest_spinlock *l)
{
	lock_ops->kick(l);
}

void spin_nudge(uint32_t cpu)
{
	if (spin_kicks_on && cpu < ncpus && __atomic_load_n(&waiting[cpu].lock, __ATOMIC_ACQUIRE)) {
		mycpu()->st.spin_kicks++;
		hv_hypercall(HV_HC_SPIN_KICK, cpu, 0);
	}
}
