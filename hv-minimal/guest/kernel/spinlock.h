/* Spinlocks behind one interface. Kernel code runs with interrupts off, so a lock
 * never needs to mask them; a CPU waiting for a lock keeps answering TLB shootdown
 * requests (tlb.h), so a lock holder waiting for this CPU's acknowledgement cannot
 * deadlock with it.
 *
 * One ticket lock, three ways to wait, chosen at boot (spinlock=):
 *   plain     spin until served;
 *   pv-yield  after spin_threshold spins, tell the VMM, which gives the host CPU away
 *             (Hyper-V's long-spin-wait notification), and spin again;
 *   pv-halt   after spin_threshold spins, sleep in the VMM until the releaser whose
 *             turn hands the lock to this CPU kicks it (KVM's pv-spinlock halt/kick,
 *             as the 2012 paravirtual ticket locks did it).
 * The threshold is the VMM's (CPUID leaf HV_CPUID_SPIN, as Hyper-V recommends a count
 * in 0x40000004 EBX) unless spinthreshold= sets it. User programs use the same lock
 * (struct guest_spinlock, ulib.h) and reach the slow path by system call. */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H
#include <stdint.h>
#include "guest/uapi.h"

struct spinlock {
	struct guest_spinlock t;
};

struct lock_ops {
	const char *name;            /* the spinlock= value, and the results' mode column */
	/* The slow path of a waiter for ticket t on l that has spun spin_threshold
	 * times; returns when it should look at the lock again. */
	void (*slow)(struct guest_spinlock *l, uint32_t t);
	/* After a release that found waiters on l: wake the one whose turn it is. */
	void (*kick)(struct guest_spinlock *l);
};

/* The implementation in use; set once at boot, before a second CPU runs. */
extern const struct lock_ops *lock_ops;
/* Spins before the slow path (HV_CPUID_SPIN, or spinthreshold=). */
extern uint32_t spin_threshold;

/* Selects the implementation named name; -1 when there is none of that name. */
int lock_ops_select(const char *name);
/* Boot CPU, after pv_init: reads the VMM's threshold and falls back to plain, saying
 * so, where the VMM offers no HV_PV_SPIN (QEMU). */
void spin_init(void);

/* The lock's slow path and kick for any lock word the kernel can reach (user locks
 * through SYS_spin_wait and SYS_spin_kick). */
void spin_slow_path(struct guest_spinlock *l, uint32_t t);
void spin_kick_waiter(struct guest_spinlock *l);
/* The waiting part of spin_lock: spins, then the mode's slow path, until served. */
void spin_wait(struct guest_spinlock *l, uint32_t t);
/* pv-halt is in use: a release looks for sleeping waiters. */
extern int spin_kicks_on;

static inline void spin_lock(struct spinlock *l)
{
	uint32_t t = __atomic_fetch_add(&l->t.next, 1, __ATOMIC_ACQUIRE);

	if (__atomic_load_n(&l->t.owner, __ATOMIC_ACQUIRE) != t)
		spin_wait(&l->t, t);
}

static inline void spin_unlock(struct spinlock *l)
{
	if (!spin_kicks_on) {
		__atomic_store_n(&l->t.owner, l->t.owner + 1, __ATOMIC_RELEASE);
		return;
	}
	/* the store before the load of waiters (a waiter does the opposite) */
	__atomic_store_n(&l->t.owner, l->t.owner + 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->t.waiters, __ATOMIC_SEQ_CST))
		spin_kick_waiter(&l->t);
}

/* Cuts a pv-halt sleep of CPU cpu short (after an IPI it must answer). */
void spin_nudge(uint32_t cpu);

#endif
