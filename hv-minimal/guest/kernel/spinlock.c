/* The ticket spinlock: FIFO hand-over, one locked instruction to take a ticket, a
 * plain store to release. */
#include "guest/string.h"
#include "spinlock.h"
#include "tlb.h"
#include "x86.h"

static void ticket_acquire(struct spinlock *l)
{
	uint32_t t = __atomic_fetch_add(&l->next, 1, __ATOMIC_ACQUIRE);

	while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != t) {
		pause();
		tlb_poll();
	}
}

static void ticket_release(struct spinlock *l)
{
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

static const struct lock_ops ticket_ops = { "plain", ticket_acquire, ticket_release };

static const struct lock_ops *const all_ops[] = { &ticket_ops };

const struct lock_ops *lock_ops = &ticket_ops;

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
