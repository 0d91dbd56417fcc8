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

static uint64_t frame_init(uint64_t pa)
{
	struct pageinfo *pi = pinfo(pa);

	pi->ref = 1;
	pi->lo = 512;
	pi->hi = 0;
	return pa;
}

/* The 2 MiB-page pool (pagesize=2m): [start, end) at the bottom of the frame area,
 * below the 4 KiB allocator's bump pointer, so frame_free's range check also accepts
 * the 4 KiB pieces of a split 2 MiB page. Guarded by mem.lock. */
static struct {
	uint64_t start, next, end;
	uint64_t free;             /* free 2 MiB frames: frame number + 1, linked through
	                            * pageinfo.ref of their first 4 KiB frame */
	uint64_t used;
} huge;

/* The 4 KiB allocator keeps at least this much when hugemem= asks for more. */
#define SMALL_MIN (16ull << 20)

void kalloc_init(uint64_t start_pa, uint64_t end_pa)
{
	mem.start = (start_pa + PAGE_SIZE - 1) & PAGE_MASK;
	mem.next = mem.start;
	mem.end = end_pa & PAGE_MASK;
	mem.free = NULL;
	mem.used = 0;
	if (!kcfg.pagesize_2m)
		return;
	/* The alignment slack below the pool (under 2 MiB) is left unused: handing it to
	 * the free list would touch each frame at boot. */
	uint64_t lo = (mem.start + HUGE_SIZE - 1) & ~(uint64_t)(HUGE_SIZE - 1);
	uint64_t room = mem.end > lo + SMALL_MIN ? (mem.end - lo - SMALL_MIN) : 0;
	uint64_t want = kcfg.hugemem_mib ? (uint64_t)kcfg.hugemem_mib << 20 : (mem.end - lo) / 2;

	want &= ~(uint64_t)(HUGE_SIZE - 1);
	if (want > (room & ~(uint64_t)(HUGE_SIZE - 1)))
		panic("hugemem: %lu MiB of 2 MiB pages leave under %lu MiB of 4 KiB frames "
		      "(guest memory %lu MiB): ask for less, or give the guest more memory",
		      want >> 20, (uint64_t)(SMALL_MIN >> 20), kcfg.mem_bytes >> 20);
	huge.start = huge.next = lo;
	huge.end = lo + want;
	huge.free = 0;
	huge.used = 0;
	mem.next = huge.end;
}

uint64_t huge_alloc(void)
{
	uint64_t pa = 0;

	spin_lock(&mem.lock);
	if (huge.free) {
		pa = (huge.free - 1) * PAGE_SIZE;
		huge.free = pinfo(pa)->ref;
	} else if (huge.next < huge.end) {
		pa = huge.next;
		huge.next += HUGE_SIZE;
	}
	if (pa)
		huge.used++;
	spin_unlock(&mem.lock);
	if (pa)
		pinfo(pa)->ref = 1;
	return pa;
}

void huge_free(uint64_t pa)
{
	if (pa % HUGE_SIZE || pa < huge.start || pa >= huge.next)
		panic("huge_free: %#lx is no 2 MiB page of the pool", pa);
	spin_lock(&mem.lock);
	pinfo(pa)->ref = (uint32_t)huge.free;
	huge.free = pa / PAGE_SIZE + 1;
	huge.used--;
	spin_unlock(&mem.lock);
}

void huge_split_frames(uint64_t pa)
{
	for (unsigned i = 0; i < HUGE_SIZE / PAGE_SIZE; i++)
		frame_init(pa + (uint64_t)i * PAGE_SIZE);
	spin_lock(&mem.lock);
	huge.used--;
	mem.used += HUGE_SIZE / PAGE_SIZE;
	spin_unlock(&mem.lock);
}

uint64_t huge_pool_bytes(void)
{
	return huge.end - huge.start;
}

uint64_t huge_pages_used(void)
{
	return huge.used;
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
