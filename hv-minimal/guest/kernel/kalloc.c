/* Frame allocator: bump pointer plus a free list threaded through the free frames
 * (reached through the direct map), under one lock; per-CPU caches of free frames,
 * zeroed frames and page-table frames in front of it, each refilled or drained half
 * at a time, so that most allocations and frees take no lock (every instruction
 * counts where the host emulates guest kernel code). */
#include "guest/string.h"
#include "kalloc.h"
#include "kmem.h"
#include "percpu.h"
#include "spinlock.h"

struct free_frame {
	struct free_frame *next;
};

struct pageinfo pageinfo[HV_MAX_GUEST_MEM / PAGE_SIZE];

static struct {
	struct spinlock lock;
	uint64_t pt_free;          /* free page-table frames: frame number + 1, linked
	                            * through pageinfo.ref (the frames stay all zero) */
	uint64_t next;             /* first never-allocated frame */
	uint64_t end;
	uint64_t start;
	uint64_t used;
	struct free_frame *free;
} mem;

void kalloc_init(uint64_t start_pa, uint64_t end_pa)
{
	mem.start = (start_pa + PAGE_SIZE - 1) & PAGE_MASK;
	mem.next = mem.start;
	mem.end = end_pa & PAGE_MASK;
	mem.free = NULL;
	mem.used = 0;
}

/* Up to n frames into out; returns how many there were. */
static unsigned frames_take(uint64_t *out, unsigned n)
{
	unsigned got = 0;

	spin_lock(&mem.lock);
	while (got < n) {
		uint64_t pa;
		if (mem.free) {
			pa = V2P(mem.free);
			mem.free = mem.free->next;
		} else if (mem.next < mem.end) {
			pa = mem.next;
			mem.next += PAGE_SIZE;
		} else {
			break;
		}
		out[got++] = pa;
	}
	mem.used += got;
	spin_unlock(&mem.lock);
	return got;
}

static uint64_t frame_init(uint64_t pa)
{
	struct pageinfo *pi = pinfo(pa);

	pi->ref = 1;
	pi->lo = 512;
	pi->hi = 0;
	return pa;
}

/* Returns n frames to the global free list under one lock. */
static void frames_give(const uint64_t *pa, unsigned n)
{
	spin_lock(&mem.lock);
	for (unsigned i = 0; i < n; i++) {
		struct free_frame *f = P2V(pa[i]);
		f->next = mem.free;
		mem.free = f;
	}
	mem.used -= n;
	spin_unlock(&mem.lock);
}

uint64_t frame_alloc(void)
{
	struct cpu *c = mycpu();

	if (!c->nfcache)
		c->nfcache = frames_take(c->fcache, FCACHE_MAX / 2);
	return c->nfcache ? frame_init(c->fcache[--c->nfcache]) : 0;
}

/* Refills this CPU's pool: the free frames this CPU keeps, then the global list in
 * one lock round trip, all zeroed in one batch. */
static void zpool_refill(struct cpu *c)
{
	unsigned n = 0;

	while (c->nfcache && n < ZPOOL_MAX)
		c->zpool[n++] = c->fcache[--c->nfcache];
	n += frames_take(c->zpool + n, ZPOOL_MAX - n);

	for (unsigned i = 0; i < n; i++)
		kmem_zero(c->zpool[i], PAGE_SIZE);
	kmem_flush();
	c->nzpool = n;
}

uint64_t frame_alloc_zeroed(void)
{
	struct cpu *c = mycpu();

	if (!c->nzpool) {
		zpool_refill(c);
		if (!c->nzpool)
			return 0;
	}
	return frame_init(c->zpool[--c->nzpool]);
}

uint64_t pt_alloc(void)
{
	struct cpu *c = mycpu();

	if (!c->nptcache) {
		spin_lock(&mem.lock);
		while (mem.pt_free && c->nptcache < FCACHE_MAX / 2) {
			uint64_t pa = (mem.pt_free - 1) * PAGE_SIZE;
			mem.pt_free = pinfo(pa)->ref;
			c->ptcache[c->nptcache++] = pa;
		}
		mem.used += c->nptcache;
		spin_unlock(&mem.lock);
		if (!c->nptcache)
			return frame_alloc_zeroed();
	}
	return frame_init(c->ptcache[--c->nptcache]);
}

void pt_free(uint64_t pa)
{
	struct cpu *c = mycpu();

	if (c->nptcache == FCACHE_MAX) {
		spin_lock(&mem.lock);
		for (unsigned i = 0; i < FCACHE_MAX / 2; i++) {
			uint64_t q = c->ptcache[--c->nptcache];
			pinfo(q)->ref = (uint32_t)mem.pt_free;
			mem.pt_free = q / PAGE_SIZE + 1;
		}
		mem.used -= FCACHE_MAX / 2;
		spin_unlock(&mem.lock);
	}
	c->ptcache[c->nptcache++] = pa;
}

void frame_free(uint64_t pa)
{
	struct cpu *c = mycpu();

	if (pa % PAGE_SIZE || pa < mem.start || pa >= mem.next)
		panic("frame_free: %#lx was never allocated", pa);
	if (c->nfcache == FCACHE_MAX) {
		c->nfcache -= FCACHE_MAX / 2;
		frames_give(&c->fcache[c->nfcache], FCACHE_MAX / 2);
	}
	c->fcache[c->nfcache++] = pa;
}

void frame_get(uint64_t pa)
{
	__atomic_add_fetch(&pinfo(pa)->ref, 1, __ATOMIC_RELAXED);
}

void frame_put(uint64_t pa)
{
	if (__atomic_sub_fetch(&pinfo(pa)->ref, 1, __ATOMIC_ACQ_REL) == 0)
		frame_free(pa);
}

uint64_t frames_used(void)
{
	return mem.used;
}
