/* Out-of-sync leaf page tables, as KVM's shadow MMU keeps them (its "unsync" pages).
 *
 * A page table met by a walk is write-protected, so that every change to it is seen
 * (protect.c). A user-half leaf table that the guest keeps writing (a process's PTEs:
 * copy-on-write marking at fork, mprotect, munmap, ptemod) stops trapping instead: its
 * page becomes writable in the windows, a snapshot of its 512 entries is kept, and its
 * changes are found by comparing it with the snapshot when the guest flushes its TLB,
 * as the architecture lets a TLB keep a stale entry until then:
 *   - a CR3 load compares every out-of-sync table of the address space it loads (after
 *     the window cache has made that address space's pair current, so that only the
 *     ranges that changed are dropped);
 *   - an invlpg of a user address compares the table that maps it.
 * What a change mapped goes from every vCPU's windows (bt_pt_entries_changed), the
 * entries that changed in one run at once. Accessed and dirty bits that the engine's
 * own walks set are no change. A page the windows do not map, or map with less right
 * than the entry gives, needs nothing: the next access walks the tables again.
 *
 * Part of adaptive translation (--bt-adaptive off keeps every table in sync) and off
 * under --bt-trace, whose trace records every write as it happens. At most
 * BT_UNSYNC_MAX tables are out of sync; the least recently used goes back in sync
 * (compared, then write-protected again) to make room. */
#include <stdlib.h>
#include <string.h>

#include "bt.h"

#define LEAF_SPAN (2ull << 20)    /* what one leaf table maps */
#define AD (PTE_A | PTE_D)

void bt_unsync_init(struct bt_vm *vm)
{
	pthread_mutex_init(&vm->unsync_lock, NULL);
}

void bt_unsync_destroy(struct bt_vm *vm)
{
	free(vm->unsync);
	vm->unsync = NULL;
	pthread_mutex_destroy(&vm->unsync_lock);
}

/* Compares slot u's table with its snapshot; runs of changed entries, one of which was
 * present, are dropped from the windows. The snapshot becomes the table. Lock held. */
static void resync(struct bt_vcpu *v, struct bt_unsync *u)
{
	uint64_t *cur = bt_gpa_ptr(v->vm, u->gpa, BT_PAGE);

	if (!cur || !memcmp(cur, u->snap, BT_PAGE))
		return;
	v->stats.resyncs++;
	for (unsigned i = 0; i < 512;) {
		unsigned j = i;
		int present = 0;

		for (; j < 512; j++) {
			uint64_t now = __atomic_load_n(&cur[j], __ATOMIC_RELAXED), was = u->snap[j];

			if (now == was)
				break;
			u->snap[j] = now;
			/* accessed and dirty bits set (by a walk): nothing to drop */
			if ((now & ~AD) == (was & ~AD) && (now & was) == was)
				break;
			present |= (was & PTE_P) != 0;
			v->stats.resync_entries++;
		}
		if (present)
			bt_pt_entries_changed(v, u->gpa, i, j - i);
		i = j + 1;
	}
}

/* Slot u goes: the table is watched (write-protected) again, or forgotten. Lock held. */
static void release(struct bt_vm *vm, struct bt_unsync *u)
{
	struct bt_pinfo *pi = bt_pinfo(vm, u->gpa);

	if (pi)
		pi->flags &= (uint8_t)~BT_PG_UNSYNC;
	u->gpa = 0;
	__atomic_fetch_sub(&vm->nunsync, 1, __ATOMIC_RELAXED);
}

static int eligible(const struct bt_vm *vm, const struct bt_pinfo *pi)
{
	return vm->adaptive && !vm->trace && pi && (pi->flags & BT_PG_PT) &&
	       !(pi->flags & (BT_PG_UNSYNC | BT_PG_CODE)) && pi->level == 1 && !pi->multi &&
	       pi->root != BT_ROOT_SHARED && (int64_t)pi->va_base >= 0;
}

void bt_unsync_table(struct bt_vcpu *v, uint64_t gpa)
{
	struct bt_vm *vm = v->vm;
	struct bt_pinfo *pi = bt_pinfo(vm, gpa);
	const uint64_t *cur = bt_gpa_ptr(vm, gpa & ~(BT_PAGE - 1), BT_PAGE);
	struct bt_unsync *u = NULL;

	if (!eligible(vm, pi) || !cur)
		return;
	pthread_mutex_lock(&vm->unsync_lock);
	if (!vm->unsync)
		vm->unsync = calloc(BT_UNSYNC_MAX, sizeof(*vm->unsync));
	if (!vm->unsync || !eligible(vm, pi)) {
		pthread_mutex_unlock(&vm->unsync_lock);
		return;
	}
	for (unsigned i = 0; i < BT_UNSYNC_MAX; i++) {
		struct bt_unsync *s = &vm->unsync[i];

		if (!s->gpa) {
			u = s;
			break;
		}
		if (!u || s->used < u->used)
			u = s;
	}
	if (u->gpa) {
		/* the least recently used goes back in sync: what changed goes first */
		uint64_t old = u->gpa;

		resync(v, u);
		release(vm, u);
		bt_protect_page(v, old);
		bt_xreq_protect(v, old);
		v->stats.unsync_evictions++;
	}
	u->gpa = gpa & ~(BT_PAGE - 1);
	u->used = ++vm->unsync_clock;
	memcpy(u->snap, cur, BT_PAGE);
	pi->uslot = (uint8_t)(u - vm->unsync);
	pi->flags |= BT_PG_UNSYNC;
	__atomic_fetch_add(&vm->nunsync, 1, __ATOMIC_RELAXED);
	v->stats.unsyncs++;
	pthread_mutex_unlock(&vm->unsync_lock);
}

void bt_unsync_flush(struct bt_vcpu *v, uint64_t root, uint64_t va)
{
	struct bt_vm *vm = v->vm;

	if (!__atomic_load_n(&vm->nunsync, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&vm->unsync_lock);
	for (unsigned i = 0; vm->unsync && i < BT_UNSYNC_MAX; i++) {
		struct bt_unsync *u = &vm->unsync[i];
		const struct bt_pinfo *pi = u->gpa ? bt_pinfo(vm, u->gpa) : NULL;

		if (!pi)
			continue;
		if (!pi->multi && pi->root != root && pi->root != BT_ROOT_SHARED)
			continue;
		if (va != BT_INVAL_ALL && !pi->multi && pi->va_base != (va & ~(LEAF_SPAN - 1)))
			continue;
		u->used = ++vm->unsync_clock;
		resync(v, u);
	}
	pthread_mutex_unlock(&vm->unsync_lock);
}

void bt_unsync_seen(struct bt_vm *vm, uint64_t gpa, uint64_t old, uint64_t new)
{
	const struct bt_pinfo *pi = bt_pinfo(vm, gpa);

	if (!pi || !(pi->flags & BT_PG_UNSYNC))
		return;
	pthread_mutex_lock(&vm->unsync_lock);
	if (vm->unsync && pi->uslot < BT_UNSYNC_MAX) {
		struct bt_unsync *u = &vm->unsync[pi->uslot];
		unsigned i = (unsigned)(gpa & (BT_PAGE - 1)) / 8;

		if (u->gpa == (gpa & ~(BT_PAGE - 1)) && u->snap[i] == old)
			u->snap[i] = new;
	}
	pthread_mutex_unlock(&vm->unsync_lock);
}

void bt_unsync_drop(struct bt_vm *vm, struct bt_pinfo *pi, uint64_t gpa)
{
	if (!pi || !(pi->flags & BT_PG_UNSYNC))
		return;
	pthread_mutex_lock(&vm->unsync_lock);
	if (vm->unsync && pi->uslot < BT_UNSYNC_MAX &&
	    vm->unsync[pi->uslot].gpa == (gpa & ~(BT_PAGE - 1)))
		release(vm, &vm->unsync[pi->uslot]);
	pi->flags &= (uint8_t)~BT_PG_UNSYNC;
	pthread_mutex_unlock(&vm->unsync_lock);
}
