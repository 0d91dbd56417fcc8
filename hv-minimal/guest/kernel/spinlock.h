/* Spinlocks behind one interface. Kernel code runs with interrupts off, so a lock
 * never needs to mask them; a CPU waiting for a lock keeps answering TLB shootdown
 * requests (tlb.h), so a lock holder waiting for this CPU's acknowledgement cannot
 * deadlock with it. The implementation is chosen at boot (spinlock=): the plain
 * ticket lock now; a paravirtual one (spin, then ask the hypervisor to run the holder)
 * plugs in as another ops table. */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H
#include <stdint.h>

struct spinlock {
	volatile uint32_t next;      /* next ticket to hand out */
	volatile uint32_t owner;     /* ticket being served */
};

struct lock_ops {
	const char *name;            /* the spinlock= value, and the results' mode column */
	void (*acquire)(struct spinlock *l);
	void (*release)(struct spinlock *l);
};

/* The implementation in use; set once at boot, before a second CPU runs. */
extern const struct lock_ops *lock_ops;

/* Selects the implementation named name; -1 when there is none of that name. */
int lock_ops_select(const char *name);

static inline void spin_lock(struct spinlock *l)
{
	lock_ops->acquire(l);
}

static inline void spin_unlock(struct spinlock *l)
{
	lock_ops->release(l);
}

#endif
