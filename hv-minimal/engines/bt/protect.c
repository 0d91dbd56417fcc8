/* Guest pages the engine must see written: pages holding translated code (a write
 * invalidates their translations) and page-table pages (a write is trapped, emulated,
 * and drops the window pages the entry mapped). Both are mapped read-only in every
 * window; a reverse map from guest page to the window pages that map it writable lets
 * the engine take the write permission away when a page becomes protected.
 *
 * The reverse map may lose entries (a full table, a page with many aliases): the
 * engine then falls back to dropping whole windows, which is always correct. */
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "emit.h"
#include "hvlab/err.h"

#define RMAP_SLOTS  (1u << 16)
#define RMAP_WAYS   6          /* a page mapped in several cached pairs */

struct bt_rmap_slot {
	uint32_t page;           /* guest-physical page number + 1 (0: empty) */
	uint8_t n;               /* entries, or RMAP_WAYS + 1: more than it holds */
	uint8_t win[RMAP_WAYS];  /* index in v->wins */
	uint32_t off[RMAP_WAYS]; /* window page numbers */
};

int bt_protect_init(struct bt_vm *vm, uint64_t mem_end)
{
	uint64_t pages = (mem_end + BT_PAGE - 1) / BT_PAGE;

	if (pages <= vm->npages)
		return 0;
	void *f = realloc(vm->pinfo, pages * sizeof(*vm->pinfo));

	if (!f)
		return hv_err_errno("allocating page information for %llu guest pages",
				    (unsigned long long)pages);
	vm->pinfo = f;
	memset(vm->pinfo + vm->npages, 0, (pages - vm->npages) * sizeof(*vm->pinfo));
	vm->npages = pages;
	return 0;
}

struct bt_pinfo *bt_pinfo(struct bt_vm *vm, uint64_t gpa)
{
	uint64_t p = gpa / BT_PAGE;

	return p < vm->npages ? &vm->pinfo[p] : NULL;
}

int bt_rmap_init(struct bt_vcpu *v)
{
	v->rmap = calloc(RMAP_SLOTS, sizeof(struct bt_rmap_slot));
	if (!v->rmap)
		return hv_err_errno("allocating the reverse map of vCPU %u", v->index);
	return 0;
}

void bt_rmap_destroy(struct bt_vcpu *v)
{
	free(v->rmap);
	v->rmap = NULL;
}

/* Everything unmapped: the map starts again, complete. */
void bt_rmap_clear(struct bt_vcpu *v)
{
	memset(v->rmap, 0, RMAP_SLOTS * sizeof(struct bt_rmap_slot));
	v->rmap_lost = 0;
	v->rmap_used = 0;
}

static struct bt_rmap_slot *rmap_find(struct bt_vcpu *v, uint32_t page, int create)
{
	struct bt_rmap_slot *t = v->rmap;
	uint32_t h = (page * 0x9e3779b1u) >> 16;

	for (unsigned i = 0; i < 32; i++) {
		struct bt_rmap_slot *s = &t[(h + i) & (RMAP_SLOTS - 1)];

		if (s->page == page + 1)
			return s;
		if (!s->page) {
			if (!create || v->rmap_used >= RMAP_SLOTS * 3 / 4)
				break;
			s->page = page + 1;
			v->rmap_used++;
			return s;
		}
	}
	if (create)
		v->rmap_lost = 1;
	return NULL;
}

void bt_rmap_add(struct bt_vcpu *v, uint64_t gpa, int win, uint64_t off)
{
	struct bt_rmap_slot *s = rmap_find(v, (uint32_t)(gpa / BT_PAGE), 1);
	uint32_t o = (uint32_t)(off / BT_PAGE);

	if (!s || s->n > RMAP_WAYS)
		return;
	for (unsigned i = 0; i < s->n; i++)
		if (s->win[i] == win && s->off[i] == o)
			return;
	if (s->n == RMAP_WAYS) {
		s->n = RMAP_WAYS + 1;
		return;
	}
	s->win[s->n] = (uint8_t)win;
	s->off[s->n] = o;
	s->n++;
}

/* Takes write permission away from every window page mapping gpa's page (they are
 * dropped; the next access maps them again, read-only). */
void bt_protect_page(struct bt_vcpu *v, uint64_t gpa)
{
	struct bt_rmap_slot *s;

	if (v->rmap_lost) {
		bt_shadow_flush(v, 1);
		return;
	}
	s = rmap_find(v, (uint32_t)(gpa / BT_PAGE), 0);
	if (!s)
		return;
	if (s->n > RMAP_WAYS) {
		bt_shadow_flush(v, 1);
		return;
	}
	for (unsigned i = 0; i < s->n; i++)
		bt_window_unmap(&v->wins[s->win[i]], (uint64_t)s->off[i] * BT_PAGE, BT_PAGE);
	s->n = 0;
}

/* ---- requests between vCPUs ----
 * A page that becomes translated code must lose its writable mappings in every vCPU's
 * windows, and a write to one must take its translations out of every vCPU's cache.
 * The other vCPUs are asked, and serve the request before they run translated code
 * again (their poll page makes them leave it soon). */

void bt_xreq_init(struct bt_vcpu *v)
{
	pthread_mutex_init(&v->xreq.lock, NULL);
}

void bt_xreq_destroy(struct bt_vcpu *v)
{
	pthread_mutex_destroy(&v->xreq.lock);
}

/* pt: a page that became a page table; too many of them only empty the windows. */
static void xreq_send(struct bt_vcpu *v, uint64_t gpa, int invalidate, int pt)
{
	struct bt_vm *vm = v->vm;

	for (unsigned i = 0; i < vm->nr_vcpus && i < 16; i++) {
		struct bt_vcpu *o = vm->vcpus[i];

		if (!o || o == v)
			continue;
		pthread_mutex_lock(&o->xreq.lock);
		if (invalidate && o->xreq.ninval < 32)
			o->xreq.inval[o->xreq.ninval++] = gpa;
		else if (!invalidate && o->xreq.nprot < 32)
			o->xreq.prot[o->xreq.nprot++] = gpa;
		else if (pt)
			o->xreq.pt_overflow = 1;
		else
			o->xreq.overflow = 1;
		__atomic_store_n(&o->xreq.pending, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&o->xreq.lock);
		bt_arm_poll(o);
	}
}

void bt_xreq_serve(struct bt_vcpu *v)
{
	uint64_t prot[32], inval[32];
	struct { uint64_t root, va, len; } pt[32];
	unsigned np, ni, npt;
	int overflow, pt_overflow;

	if (!__atomic_load_n(&v->xreq.pending, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&v->xreq.lock);
	np = v->xreq.nprot;
	ni = v->xreq.ninval;
	overflow = v->xreq.overflow;
	memcpy(prot, v->xreq.prot, np * sizeof(prot[0]));
	memcpy(inval, v->xreq.inval, ni * sizeof(inval[0]));
	npt = v->xreq.npt;
	pt_overflow = v->xreq.pt_overflow;
	memcpy(pt, v->xreq.pt, npt * sizeof(pt[0]));
	v->xreq.nprot = v->xreq.ninval = v->xreq.npt = 0;
	v->xreq.overflow = v->xreq.pt_overflow = 0;
	__atomic_store_n(&v->xreq.pending, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&v->xreq.lock);
	if (overflow) {
		bt_shadow_flush(v, 1);
		bt_cache_flush(v);
		return;
	}
	if (pt_overflow) {
		bt_shadow_flush(v, 1);
		bt_htab_flush_all(v);
	}
	for (unsigned i = 0; i < npt && !pt_overflow; i++) {
		v->stats.xinvals++;
		bt_pt_inval_local(v, pt[i].root, pt[i].va, pt[i].len);
	}
	for (unsigned i = 0; i < np; i++)
		bt_protect_page(v, prot[i]);
	for (unsigned i = 0; i < ni; i++)
		bt_code_invalidate(v, inval[i], 0);
}

void bt_xreq_protect(struct bt_vcpu *v, uint64_t gpa)
{
	if (v->vm->nr_vcpus > 1)
		xreq_send(v, gpa, 0, 1);
}

/* Whether o may hold mappings through root's tables: a pair keyed by it. A pair that
 * takes the key after this read walks the tables after the write that asked. */
static int may_map(struct bt_vcpu *o, uint64_t root)
{
	if (root == BT_ROOT_SHARED)
		return 1;
	for (unsigned i = 0; i < BT_WCACHE; i++)
		if (__atomic_load_n(&o->wkey[i], __ATOMIC_SEQ_CST) == root)
			return 1;
	return 0;
}

void bt_inval_all_vcpus(struct bt_vcpu *v, uint64_t root, uint64_t va, uint64_t len)
{
	struct bt_vm *vm = v->vm;

	bt_pt_inval_local(v, root, va, len);
	/* the page-table write is in memory before the keys are read */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < vm->nr_vcpus && i < 16; i++) {
		struct bt_vcpu *o = vm->vcpus[i];

		if (!o || o == v || !may_map(o, root))
			continue;
		pthread_mutex_lock(&o->xreq.lock);
		if (o->xreq.npt < 32) {
			o->xreq.pt[o->xreq.npt].root = root;
			o->xreq.pt[o->xreq.npt].va = va;
			o->xreq.pt[o->xreq.npt].len = len;
			o->xreq.npt++;
		} else {
			o->xreq.pt_overflow = 1;
		}
		__atomic_store_n(&o->xreq.pending, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&o->xreq.lock);
		bt_arm_poll(o);
	}
}

/* ---- translated code ---- */

/* The page holds code that has just been translated. */
void bt_code_page(struct bt_vcpu *v, uint64_t gpa)
{
	struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);

	if (!pi || (pi->flags & BT_PG_CODE))
		return;
	pi->flags |= BT_PG_CODE;
	bt_protect_page(v, gpa);
	xreq_send(v, gpa, 0, 0);
}

/* A write to a page with translations: they go (each block's entry becomes an exit
 * that translates again), and the page is writable again until code on it is
 * translated anew. Returns 1 when the block at host_pc was one of them. */
int bt_code_invalidate(struct bt_vcpu *v, uint64_t gpa, uintptr_t host_pc)
{
	struct bt_cache *c = &v->cache;
	struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);
	uint64_t page = gpa / BT_PAGE;
	int hit = 0;

	if (pi && (pi->flags & BT_PG_CODE)) {
		pi->flags &= (uint8_t)~BT_PG_CODE;
		xreq_send(v, gpa, 1, 0);
	}
	v->stats.smc_invalidations++;
	for (size_t i = 0; i < c->ntb; i++) {
		struct bt_tb *tb = &c->tbs[i];
		uint8_t *entry = c->code + tb->host_off;

		if (tb->dead || (tb->gpa / BT_PAGE != page && tb->gpa_last / BT_PAGE != page))
			continue;
		if (host_pc >= (uintptr_t)entry && host_pc < (uintptr_t)entry + tb->host_len)
			hit = 1;
		if (bt_cache_kill(v, tb)) {
			/* no room for the exit: everything goes */
			bt_cache_flush(v);
			return 1;
		}
	}
	return hit;
}
