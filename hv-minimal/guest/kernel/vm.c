/* Page tables: the kernel's direct map, user address spaces, demand paging, fork. */
#include "guest/fmt.h"
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "kalloc.h"
#include "kernel.h"
#include "kmem.h"
#include "percpu.h"
#include "pv.h"
#include "tlb.h"
#include "vm.h"
#include "x86.h"

#define PT_ENTRIES 512
#define PML4_KERNEL_SLOT 511
#define PML4_USER_SLOTS 256
#define PDPT_DIRECT_SLOT 510   /* KERNBASE = PML4 511, PDPT 510 */
#define PDPT_DEVICE_SLOT 509   /* device window: the GiB below KERNBASE */
#define KDEV_BASE (KERNBASE - (1ull << 30))
#define KDEV_PAGES 512         /* one page table's worth */
#define NVMSPACE 64

/* The kernel's tables live in .bss, which the loader zeroes (ELF semantics). */
static pte_t kpml4[PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static pte_t kpdpt[PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static pte_t kpd[HV_MAX_GUEST_MEM >> 30][PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));

/* The shared frame behind read faults in demand-zero areas; allocated on first use. */
static uint64_t zero_frame;
static struct spinlock zero_lock;

static struct {
	struct spinlock lock;
	struct vmspace all[NVMSPACE];
	struct vmspace *free;
	int init;
} vspool;

void vm_init_cpu(void)
{
	lcr0(rcr0() | CR0_WP);   /* the kernel honours read-only user pages too */
	/* No SMAP: the #UD system-call gate reads the faulting instruction in place. */
	lcr4((rcr4() | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT) & ~CR4_SMAP);
	lcr3(V2P(kpml4));
}

void vm_init(void)
{
	uint64_t n = kcfg.mem_bytes / HUGE_SIZE;
	pte_t *pd = &kpd[0][0];  /* the PDs are contiguous: one flat array of 2 MiB slots */
	pte_t e = PTE_P | PTE_W | PTE_PS | PTE_G;

	for (uint64_t i = 0; i < n; i++, e += HUGE_SIZE)
		pd[i] = e;
	for (uint64_t g = 0; g * PT_ENTRIES < n; g++)
		kpdpt[PDPT_DIRECT_SLOT + g] = V2P(kpd[g]) | PTE_P | PTE_W;
	kpml4[PML4_KERNEL_SLOT] = V2P(kpdpt) | PTE_P | PTE_W;
	vm_init_cpu();
}

void *vm_map_device(uint64_t pa)
{
	static unsigned used;

	if (used == KDEV_PAGES)
		return NULL;
	pte_t *pdpte = &kpdpt[PDPT_DEVICE_SLOT];
	if (!(*pdpte & PTE_P)) {
		uint64_t pd = frame_alloc_zeroed(), pt = frame_alloc_zeroed();
		if (!pd || !pt)
			return NULL;
		((pte_t *)P2V(pd))[0] = pt | PTE_P | PTE_W;
		*pdpte = pd | PTE_P | PTE_W;
	}
	pte_t *pd = P2V(PTE_ADDR(*pdpte));
	pte_t *pt = P2V(PTE_ADDR(pd[0]));
	uint64_t va = KDEV_BASE + (uint64_t)used * PAGE_SIZE;
	pt[used++] = (pa & PAGE_MASK) | PTE_P | PTE_W | PTE_PCD | PTE_PWT | PTE_G | PTE_NX;
	return (void *)(va + (pa & (PAGE_SIZE - 1)));
}

uint64_t vm_kernel_root(void)
{
	return V2P(kpml4);
}

/* ---- entry ranges of page-table pages ---- */

static inline void ext_note(pte_t *table, unsigned idx)
{
	struct pageinfo *pi = pinfo(V2P(table));

	if (idx < pi->lo)
		pi->lo = (uint16_t)idx;
	if (idx >= pi->hi)
		pi->hi = (uint16_t)(idx + 1);
}

/* The same for the table holding entry e. */
static inline void ext_note_pte(pte_t *e)
{
	ext_note((pte_t *)((uint64_t)e & PAGE_MASK), (unsigned)(((uint64_t)e & (PAGE_SIZE - 1)) / 8));
}

/* ---- address spaces ---- */

struct vmspace *vs_create(void)
{
	struct vmspace *vs;
	uint64_t f = pt_alloc();

	if (!f)
		return NULL;
	spin_lock(&vspool.lock);
	if (!vspool.init) {
		for (int i = NVMSPACE - 1; i >= 0; i--) {
			vspool.all[i].next_free = vspool.free;
			vspool.free = &vspool.all[i];
		}
		vspool.init = 1;
	}
	vs = vspool.free;
	if (vs)
		vspool.free = vs->next_free;
	spin_unlock(&vspool.lock);
	if (!vs) {
		pt_free(f);
		return NULL;
	}
	vs->pml4 = P2V(f);
	vs->root = f;
	vs->cpumask = 0;
	vs->refs = 1;
	vs->brk = GUEST_USER_HEAP_BASE;
	vs->pml4[PML4_KERNEL_SLOT] = kpml4[PML4_KERNEL_SLOT];
	pv->vs_created(vs);
	return vs;
}

void vs_get(struct vmspace *vs)
{
	__atomic_add_fetch(&vs->refs, 1, __ATOMIC_RELAXED);
}

/* Frees the user half of a table tree: frames at the leaves, then the tables, each
 * emptied for reuse as a table (kalloc.h). Only the entries in each table's range
 * are looked at. */
static void free_leaves(pte_t *t)
{
	const struct pageinfo *pi = pinfo(V2P(t));

	for (unsigned i = pi->lo, hi = pi->hi; i < hi; i++) {
		pte_t e = t[i];
		if (!e)
			continue;
		t[i] = 0;
		if (e & PTE_OWNED)
			frame_put(PTE_ADDR(e));
	}
	pt_free(V2P(t));
}

static void free_dir(pte_t *t, int level)
{
	const struct pageinfo *pi = pinfo(V2P(t));
	unsigned hi = level == 4 && pi->hi > PML4_USER_SLOTS ? PML4_USER_SLOTS : pi->hi;

	for (unsigned i = pi->lo; i < hi; i++) {
		pte_t e = t[i];
		if (!e)
			continue;
		t[i] = 0;
		if (!(e & PTE_P))
			continue;
		if (level == 2 && (e & PTE_PS))
			huge_free(PTE_ADDR(e));
		else if (level == 2)
			free_leaves(P2V(PTE_ADDR(e)));
		else
			free_dir(P2V(PTE_ADDR(e)), level - 1);
	}
	if (level == 4)
		t[PML4_KERNEL_SLOT] = 0;
	pt_free(V2P(t));
}

void vs_put(struct vmspace *vs)
{
	if (__atomic_sub_fetch(&vs->refs, 1, __ATOMIC_ACQ_REL))
		return;
	pv->vs_destroying(vs);   /* its tables are plain memory again: freed natively */
	free_dir(vs->pml4, 4);
	spin_lock(&vspool.lock);
	vs->next_free = vspool.free;
	vspool.free = vs;
	spin_unlock(&vspool.lock);
}

void vs_switch(struct cpu *c, struct vmspace *vs)
{
	struct vmspace *old = c->vs;
	uint32_t bit = 1u << c->id;

	if (old == vs)
		return;
	/* Into the mask before CR3 holds it, out of it after CR3 stops: a CPU changing
	 * vs's page tables then sees every CPU whose TLB may hold them (tlb.c). */
	if (vs) {
		__atomic_or_fetch(&vs->cpumask, bit, __ATOMIC_SEQ_CST);
		pv->load_cr3(vs->root);
	} else {
		pv->load_cr3(V2P(kpml4));
	}
	if (old)
		__atomic_and_fetch(&old->cpumask, ~bit, __ATOMIC_SEQ_CST);
	c->vs = vs;
}

pte_t *uvm_walk(pte_t *pml4, uint64_t va, int alloc)
{
	pte_t *t = pml4;

	if (va >= HV_USER_TOP)
		return NULL;
	for (int shift = 39; shift > 12; shift -= 9) {
		unsigned idx = (va >> shift) & (PT_ENTRIES - 1);
		pte_t *e = &t[idx];
		/* One compare for both: absent, or a 2 MiB leaf (pagesize=2m), which has no
		 * 4 KiB entry to return. */
		if ((*e & (PTE_P | PTE_PS)) != PTE_P) {
			if (!alloc || (*e & PTE_PS))
				return NULL;
			uint64_t f = pt_alloc();
			if (!f)
				return NULL;
			/* Permissions are decided at the leaf; the upper levels allow all. */
			pte_set(V2P(pml4), e, f | PTE_P | PTE_W | PTE_U);
			pv_flush();      /* read back below */
			ext_note(t, idx);
		}
		t = P2V(PTE_ADDR(*e));
	}
	unsigned idx = (va >> 12) & (PT_ENTRIES - 1);
	if (alloc)
		ext_note(t, idx);
	return &t[idx];
}

/* The page-directory entry for user address va (the level of 2 MiB leaves),
 * allocating the tables above it when alloc; NULL if absent or out of memory. */
static pte_t *uvm_walk_pd(pte_t *pml4, uint64_t va, int alloc)
{
	pte_t *t = pml4;

	for (int shift = 39; shift > 21; shift -= 9) {
		unsigned idx = (va >> shift) & (PT_ENTRIES - 1);
		pte_t *e = &t[idx];
		if (!(*e & PTE_P)) {
			if (!alloc)
				return NULL;
			uint64_t f = pt_alloc();
			if (!f)
				return NULL;
			pte_set(V2P(pml4), e, f | PTE_P | PTE_W | PTE_U);
			pv_flush();
			ext_note(t, idx);
		}
		t = P2V(PTE_ADDR(*e));
	}
	unsigned idx = (va >> 21) & (PT_ENTRIES - 1);
	if (alloc)
		ext_note(t, idx);
	return &t[idx];
}

/* The leaf entry mapping user page va as a 4 KiB entry would (a 2 MiB leaf gives the
 * address of va's 4 KiB piece and its own permissions); 0 when nothing maps it. */
static pte_t uvm_leaf(pte_t *pml4, uint64_t va)
{
	pte_t *pde = uvm_walk_pd(pml4, va, 0);

	if (!pde || !(*pde & PTE_P))
		return 0;
	if (*pde & PTE_PS)
		return (*pde & ~PTE_PS) + (va & (HUGE_SIZE - 1) & PAGE_MASK);
	return ((pte_t *)P2V(PTE_ADDR(*pde)))[(va >> 12) & (PT_ENTRIES - 1)];
}

/* pagesize=2m: 2 MiB pages go where the whole aligned region lies in the heap or in
 * the demand area (the shared area and the stack keep 4 KiB pages: shared frames are
 * counted per 4 KiB frame, and the stack is smaller than one). */
static int huge_region_ok(const struct vmspace *vs, uint64_t base)
{
	uint64_t end = base + HUGE_SIZE;

	return (base >= GUEST_USER_DEMAND_BASE && end <= GUEST_USER_DEMAND_END) ||
	       (base >= GUEST_USER_HEAP_BASE && end <= vs->brk);
}

#define USER_DATA (PTE_P | PTE_W | PTE_U | PTE_NX | PTE_OWNED)

/* Maps a fresh 2 MiB page, zero-filled, at the empty PD entry pde; -1 when the pool
 * is empty (the caller maps 4 KiB pages instead). The zeroing is queued: the caller
 * runs kmem_flush before user code can see the page. */
static int huge_map(struct vmspace *vs, pte_t *pde)
{
	uint64_t pa = huge_alloc();

	if (!pa) {
		mycpu()->st.huge_fallbacks++;
		return -1;
	}
	kmem_zero(pa, HUGE_SIZE);
	pte_set(vs->root, pde, pa | USER_DATA | PTE_PS);
	mycpu()->st.huge_maps++;
	return 0;
}

/* Replaces the 2 MiB leaf at pde (user address base) by a page table of 512 4 KiB
 * entries for the same frames, which become ordinary 4 KiB frames (kalloc.h), so that
 * part of it can be unmapped. The translations do not change: the old 2 MiB TLB entry
 * goes with the first invlpg in the region (the unmap's). */
static void huge_split(struct vmspace *vs, pte_t *pde, uint64_t base)
{
	pte_t old = *pde;
	uint64_t pa = PTE_ADDR(old), pt = pt_alloc();
	pte_t flags = old & (PTE_P | PTE_W | PTE_U | PTE_NX | PTE_OWNED);

	if (!pt)
		panic("vm: no page-table frame to split the 2 MiB page at %#lx", base);
	pte_t *t = P2V(pt);
	huge_split_frames(pa);
	for (unsigned i = 0; i < PT_ENTRIES; i++)
		pte_set(vs->root, &t[i], (pa + (uint64_t)i * PAGE_SIZE) | flags);
	ext_note(t, 0);
	ext_note(t, PT_ENTRIES - 1);
	pte_set(vs->root, pde, pt | PTE_P | PTE_W | PTE_U);
	mycpu()->st.huge_splits++;
}

void vm_report_huge(const char *name)
{
	uint64_t maps = 0, splits = 0, fallbacks = 0;
	char num[24];

	for (uint32_t i = 0; i < ncpus; i++) {
		maps += cpus[i].st.huge_maps;
		splits += cpus[i].st.huge_splits;
		fallbacks += cpus[i].st.huge_fallbacks;
	}
	fmt_snprintf(num, sizeof(num), "%lu", maps);
	hv_result_info(name, "huge_maps", num);
	fmt_snprintf(num, sizeof(num), "%lu", splits);
	hv_result_info(name, "huge_splits", num);
	fmt_snprintf(num, sizeof(num), "%lu", fallbacks);
	hv_result_info(name, "huge_fallbacks", num);
}

int uvm_map(struct vmspace *vs, uint64_t va, uint64_t pa, uint64_t flags)
{
	pte_t *e = uvm_walk(vs->pml4, va, 1);

	if (!e || (*e & PTE_P))
		return -1;
	pte_set(vs->root, e, pa | flags | PTE_P);
	return 0;
}

void uvm_unmap(struct vmspace *vs, uint64_t va, uint64_t len)
{
	int dropped = 0, here = mycpu()->vs == vs;
	uint64_t end = va + len;
	int locked = vs_lock(vs);
	/* 2 MiB frames go back to the pool only after every TLB has dropped them */
	uint64_t huge_freed[16];
	unsigned nhuge = 0;

	pv_lazy_begin();
	for (uint64_t a = va; a < end;) {
		/* One walk per page table, then its entries in a row. */
		uint64_t chunk_end = (a | (HUGE_SIZE - 1)) + 1;
		uint64_t stop = chunk_end < end ? chunk_end : end;
		pte_t *pde = kcfg.pagesize_2m ? uvm_walk_pd(vs->pml4, a, 0) : NULL;
		if (pde && (*pde & PTE_PS)) {
			if (stop - a < HUGE_SIZE) {
				huge_split(vs, pde, a & ~(uint64_t)(HUGE_SIZE - 1));
			} else {
				if (nhuge == ARRAY_SIZE(huge_freed)) {
					tlb_flush_others(vs);
					while (nhuge)
						huge_free(huge_freed[--nhuge]);
				}
				huge_freed[nhuge++] = PTE_ADDR(*pde);
				pte_set(vs->root, pde, 0);
				if (here)
					tlb_flush_local(a);
				dropped = 1;
				a = stop;
				continue;
			}
		}
		pte_t *e = uvm_walk(vs->pml4, a, 0);
		if (!e) {
			a = stop;
			continue;
		}
		for (; a < stop; a += PAGE_SIZE, e++) {
			pte_t old = *e;
			if (!(old & PTE_P))
				continue;
			pte_set(vs->root, e, 0);
			if (old & PTE_OWNED)
				frame_put(PTE_ADDR(old));
			if (here)
				tlb_flush_local(a);
			dropped = 1;
		}
	}
	/* Other CPUs running this address space (threads) flush before the frames can be
	 * reused by anyone: they are on this CPU's free list until this returns. */
	if (dropped)
		tlb_flush_others(vs);
	while (nhuge)
		huge_free(huge_freed[--nhuge]);
	pv_lazy_end();
	vs_unlock(vs, locked);
}

/* ---- page faults ---- */

static int in_shared_area(uint64_t va)
{
	return va >= GUEST_USER_SHARED_BASE && va < GUEST_USER_SHARED_END;
}

uint64_t uvm_hold_shared(struct vmspace *vs, uint64_t uva, size_t n)
{
	uint64_t pa = 0;
	pte_t v;

	if (!in_shared_area(uva) || n > PAGE_SIZE - (uva & (PAGE_SIZE - 1)))
		return 0;
	int locked = vs_lock(vs);
	v = uvm_leaf(vs->pml4, uva);
	if ((v & (PTE_P | PTE_U | PTE_W)) == (PTE_P | PTE_U | PTE_W)) {
		pa = PTE_ADDR(v) + (uva & (PAGE_SIZE - 1));
		frame_get(PTE_ADDR(v));
	}
	vs_unlock(vs, locked);
	return pa;
}

static int in_demand_area(const struct vmspace *vs, uint64_t va)
{
	return (va >= GUEST_USER_DEMAND_BASE && va < GUEST_USER_DEMAND_END) ||
	       (va >= GUEST_USER_HEAP_BASE && va < vs->brk) || in_shared_area(va) ||
	       (va >= GUEST_USER_STACK_TOP - GUEST_USER_STACK_MAX && va < GUEST_USER_STACK_TOP);
}

static uint64_t get_zero_frame(void)
{
	uint64_t z = __atomic_load_n(&zero_frame, __ATOMIC_ACQUIRE);

	if (z)
		return z;
	spin_lock(&zero_lock);
	if (!zero_frame)
		__atomic_store_n(&zero_frame, frame_alloc_zeroed(), __ATOMIC_RELEASE);
	spin_unlock(&zero_lock);
	return zero_frame;
}

/* A write to a copy-on-write page: the last sharer takes the frame back writable,
 * the others get a copy. */
static int cow_break(struct vmspace *vs, pte_t *e, uint64_t va)
{
	pte_t old = *e;
	uint64_t pa = PTE_ADDR(old);

	if (__atomic_load_n(&pinfo(pa)->ref, __ATOMIC_ACQUIRE) == 1) {
		pte_set(vs->root, e, (old | PTE_W) & ~PTE_COW);
	} else {
		uint64_t f = frame_alloc();
		if (!f)
			return -1;
		kmem_copy(f, pa, PAGE_SIZE);
		kmem_flush();
		pte_set(vs->root, e, f | (old & PTE_NX) | USER_DATA);
		frame_put(pa);
		mycpu()->st.cow_copies++;
	}
	tlb_flush_local(va);
	tlb_flush_others(vs);
	return 0;
}

/* pagesize=2m, under vs->lock: a fault in a 2 MiB leaf, or in an empty 2 MiB region
 * that may have one. Returns 0 or -1 as fault_locked does, 1 when the 4 KiB path
 * decides (a page table is there, the region does not qualify, the pool is empty). */
static int fault_huge(struct vmspace *vs, uint64_t va, uint64_t err)
{
	pte_t *pde = uvm_walk_pd(vs->pml4, va, 0);

	if (pde && (*pde & PTE_PS))   /* already there: another thread, or a stale TLB */
		return (err & PF_FETCH) ? -1 : 0;
	if ((pde && (*pde & PTE_P)) || !huge_region_ok(vs, va & ~(uint64_t)(HUGE_SIZE - 1)))
		return 1;
	if (!(pde = uvm_walk_pd(vs->pml4, va, 1)))
		return -1;
	if (huge_map(vs, pde) < 0)
		return 1;
	kmem_flush();
	return 0;
}

/* Under vs->lock. */
static int fault_locked(struct vmspace *vs, uint64_t va, uint64_t err)
{
	if (kcfg.pagesize_2m) {
		int r = fault_huge(vs, va, err);
		if (r <= 0)
			return r;
	}
	pte_t *e = uvm_walk(vs->pml4, va, 0);

	if (e && (*e & PTE_P)) {
		pte_t v = *e;
		/* Another thread resolved it first, or a stale TLB entry faulted. */
		if ((v & PTE_U) && (!(err & PF_WRITE) || (v & PTE_W)) && !(err & PF_FETCH))
			return 0;
		if ((err & PF_WRITE) && (v & PTE_COW))
			return cow_break(vs, e, va);
		/* A write to the zero frame of a demand area: a private frame instead. */
		if (!(err & PF_WRITE) || (v & PTE_W) || PTE_ADDR(v) != zero_frame ||
		    !in_demand_area(vs, va))
			return -1;
	} else if (!in_demand_area(vs, va)) {
		return -1;
	}
	if (!e && !(e = uvm_walk(vs->pml4, va, 1)))
		return -1;
	ext_note_pte(e);         /* the table may exist with this entry outside its range */
	int was_present = (*e & PTE_P) != 0;
	if (!(err & PF_WRITE) && !in_shared_area(va)) {
		/* A read of an untouched page: share the zero frame, read-only. */
		uint64_t z = get_zero_frame();
		if (!z)
			return -1;
		pte_set(vs->root, e, z | PTE_P | PTE_U | PTE_NX);
		return 0;
	}
	uint64_t f = frame_alloc_zeroed();
	if (!f)
		return -1;
	pte_set(vs->root, e, f | USER_DATA);
	if (was_present) {
		tlb_flush_local(va);
		tlb_flush_others(vs);
	}
	return 0;
}

int uvm_fault(struct vmspace *vs, uint64_t va, uint64_t err)
{
	if (err & PF_RSVD)
		return -1;
	int locked = vs_lock(vs);
	int r = fault_locked(vs, va & PAGE_MASK, err);
	vs_unlock(vs, locked);
	if (r == 0)
		mycpu()->st.page_faults++;
	return r;
}

long uvm_populate(struct vmspace *vs, uint64_t va, uint64_t len)
{
	long r = 0;

	if (va % PAGE_SIZE || len % PAGE_SIZE || va >= HV_USER_TOP || len > HV_USER_TOP - va)
		return -1;
	int locked = vs_lock(vs);
	/* Demand areas are contiguous ranges: both ends in one means all of it is. */
	if (len && (!in_demand_area(vs, va) || !in_demand_area(vs, va + len - PAGE_SIZE)))
		r = -1;
	pv_lazy_begin();
	for (uint64_t a = va; a < va + len && r == 0;) {
		if (kcfg.pagesize_2m) {
			uint64_t chunk_end = (a | (HUGE_SIZE - 1)) + 1;
			pte_t *pde = uvm_walk_pd(vs->pml4, a, 1);
			if (!pde) {
				r = -GUEST_ENOMEM;
				break;
			}
			/* a 2 MiB page there already, or a new one over the whole region */
			if ((*pde & PTE_PS) ||
			    (!(*pde & PTE_P) && !(a % HUGE_SIZE) && va + len - a >= HUGE_SIZE &&
			     huge_region_ok(vs, a) && huge_map(vs, pde) == 0)) {
				a = chunk_end;
				continue;
			}
		}
		/* One walk per page table, then its entries in a row. */
		pte_t *e = uvm_walk(vs->pml4, a, 1);
		if (!e) {
			r = -GUEST_ENOMEM;
			break;
		}
		pte_t *pt = (pte_t *)((uint64_t)e & PAGE_MASK);
		unsigned i = (a >> 12) & (PT_ENTRIES - 1);
		unsigned n = PT_ENTRIES - i;
		if (n > (va + len - a) / PAGE_SIZE)
			n = (unsigned)((va + len - a) / PAGE_SIZE);
		ext_note(pt, i);
		ext_note(pt, i + n - 1);
		for (unsigned k = 0; k < n; k++, a += PAGE_SIZE) {
			pte_t v = pt[i + k];
			if ((v & PTE_P) && PTE_ADDR(v) != zero_frame)
				continue;
			uint64_t f = frame_alloc_zeroed();
			if (!f) {
				r = -GUEST_ENOMEM;
				goto out;
			}
			pte_set(vs->root, &pt[i + k], f | USER_DATA);
			if (v & PTE_P)
				tlb_flush_local(a);
		}
	}
out:
	if (kcfg.pagesize_2m)
		kmem_flush();    /* the 2 MiB pages' zeroing, before user code sees them */
	tlb_flush_others(vs);
	pv_lazy_end();
	vs_unlock(vs, locked);
	return r;
}

long uvm_sbrk(struct vmspace *vs, int64_t delta)
{
	int locked = vs_lock(vs);
	uint64_t old = vs->brk, nb = old + (uint64_t)delta;
	if ((delta < 0 && nb > old) || (delta > 0 && nb < old) || nb < GUEST_USER_HEAP_BASE ||
	    nb > GUEST_USER_HEAP_END) {
		vs_unlock(vs, locked);
		return -GUEST_ENOMEM;
	}
	vs->brk = nb;
	vs_unlock(vs, locked);
	if (nb < old) {
		uint64_t from = (nb + PAGE_SIZE - 1) & PAGE_MASK;
		uint64_t to = (old + PAGE_SIZE - 1) & PAGE_MASK;
		if (to > from)
			uvm_unmap(vs, from, to - from);
	}
	return (long)old;
}

/* ---- fork ---- */

/* The two address spaces of a fork: their roots, for the entries written. */
struct fork_roots {
	uint64_t parent, child;
};

/* Copies the leaf table p (at user address va) into the child's c: the parent's
 * entries in p's range, copying owned frames (or sharing them copy-on-write, when the
 * parent's entry loses its write permission and *wp is set), sharing everything else.
 * The child's range is the parent's. Written for few instructions per entry: under
 * instruction emulation each one costs about a microsecond. Under pv the parent's
 * entries are changed in a second pass, so that each batch holds one address space. */
static int fork_leaves(const struct fork_roots *fr, pte_t *p, pte_t *c, uint64_t va, int cow,
		       int *wp)
{
	int wp_later = 0;

	const struct pageinfo *pi = pinfo(V2P(p));
	struct pageinfo *ci = pinfo(V2P(c));
	unsigned lo = pi->lo, hi = pi->hi;

	ci->lo = (uint16_t)lo;
	ci->hi = (uint16_t)hi;
	for (unsigned i = lo; i < hi; i++) {
		pte_t e = p[i];
		if (!(e & PTE_OWNED)) {
			if (e)            /* image pages, the zero frame, device pages */
				pte_set(fr->child, &c[i], e);
			continue;
		}
		uint64_t pa = PTE_ADDR(e);
		if (cow || in_shared_area(va + ((uint64_t)i << 12))) {
			if (cow && (e & PTE_W) && !in_shared_area(va + ((uint64_t)i << 12))) {
				e = (e & ~PTE_W) | PTE_COW;
				if (pv_mmu_on)
					wp_later = 1;
				else
					p[i] = e;
				*wp = 1;
			}
			frame_get(pa);
			pte_set(fr->child, &c[i], e);
			continue;
		}
		uint64_t f = frame_alloc();
		if (!f)
			return -1;
		kmem_copy(f, pa, PAGE_SIZE);
		pte_set(fr->child, &c[i], f | (e & PTE_NX) | USER_DATA);
	}
	for (unsigned i = lo; wp_later && i < hi; i++) {
		pte_t e = p[i];
		if ((e & PTE_OWNED) && (e & PTE_W) && !in_shared_area(va + ((uint64_t)i << 12)))
			pte_set(fr->parent, &p[i], (e & ~PTE_W) | PTE_COW);
	}
	return 0;
}

/* Copies the 2 MiB leaf e into the child's entry ce: into a 2 MiB page of the pool,
 * or, when the pool is empty, into a page table of 512 4 KiB copies. */
static int fork_huge(const struct fork_roots *fr, pte_t e, pte_t *ce)
{
	uint64_t pa = PTE_ADDR(e), f = huge_alloc();

	if (f) {
		kmem_copy(f, pa, HUGE_SIZE);
		pte_set(fr->child, ce, f | (e & ~PTE_ADDR(~0ull)));
		return 0;
	}
	mycpu()->st.huge_fallbacks++;
	uint64_t pt = pt_alloc();
	if (!pt)
		return -1;
	pte_set(fr->child, ce, pt | PTE_P | PTE_W | PTE_U);
	pte_t *t = P2V(pt);
	ext_note(t, 0);
	ext_note(t, PT_ENTRIES - 1);
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		uint64_t g = frame_alloc();
		if (!g)
			return -1;
		kmem_copy(g, pa + (uint64_t)i * PAGE_SIZE, PAGE_SIZE);
		pte_set(fr->child, &t[i], g | (e & PTE_NX) | USER_DATA);
	}
	return 0;
}

/* Copies directory p (level 4..2, at user address va) into the child's c: a new table
 * for each present entry, filled by the level below. */
static int fork_dir(const struct fork_roots *fr, pte_t *p, pte_t *c, int level, uint64_t va,
		    int cow, int *wp)
{
	const struct pageinfo *pi = pinfo(V2P(p));
	struct pageinfo *ci = pinfo(V2P(c));
	unsigned lo = pi->lo, hi = level == 4 && pi->hi > PML4_USER_SLOTS ? PML4_USER_SLOTS : pi->hi;
	int shift = 12 + 9 * (level - 1);

	ci->lo = (uint16_t)lo;
	ci->hi = (uint16_t)hi;
	for (unsigned i = lo; i < hi; i++) {
		pte_t e = p[i];
		if (!(e & PTE_P))
			continue;
		if (level == 2 && (e & PTE_PS)) {
			if (fork_huge(fr, e, &c[i]))
				return -1;
			continue;
		}
		uint64_t f = pt_alloc(), a = va + ((uint64_t)i << shift);
		if (!f)
			return -1;
		pte_set(fr->child, &c[i], f | (e & (PTE_P | PTE_W | PTE_U)));
		pte_t *pc = P2V(PTE_ADDR(e)), *cc = P2V(f);
		if (level == 2 ? fork_leaves(fr, pc, cc, a, cow, wp)
			       : fork_dir(fr, pc, cc, level - 1, a, cow, wp))
			return -1;
	}
	return 0;
}

struct vmspace *vs_fork(struct vmspace *parent, int cow)
{
	struct vmspace *child = vs_create();
	int wp = 0, r;

	if (!child)
		return NULL;
	int locked = vs_lock(parent);
	struct fork_roots fr = { parent->root, child->root };
	child->brk = parent->brk;
	pv_lazy_begin();
	r = fork_dir(&fr, parent->pml4, child->pml4, 4, 0, cow, &wp);
	pv_flush();
	if (wp)
		tlb_shootdown(parent, TLB_ALL);
	pv_lazy_end();
	vs_unlock(parent, locked);
	kmem_flush();            /* the copies, before the child can run */
	if (r < 0) {
		vs_put(child);
		return NULL;
	}
	return child;
}

/* ---- user memory access ---- */

int uvm_each(pte_t *pml4, uint64_t uva, size_t n, void (*fn)(void *ctx, const void *p, size_t n),
	     void *ctx)
{
	if (uva >= HV_USER_TOP || n > HV_USER_TOP - uva)
		return -1;
	while (n) {
		pte_t v = uvm_leaf(pml4, uva);
		/* Only memory: a device page mapped to the program is not in the direct map. */
		if ((v & (PTE_P | PTE_U)) != (PTE_P | PTE_U) || PTE_ADDR(v) >= kcfg.mem_bytes)
			return -1;
		uint64_t off = uva & (PAGE_SIZE - 1);
		size_t k = PAGE_SIZE - off < n ? PAGE_SIZE - off : n;
		fn(ctx, (const char *)P2V(PTE_ADDR(v)) + off, k);
		uva += k;
		n -= k;
	}
	return 0;
}

static void copy_piece(void *ctx, const void *p, size_t n)
{
	char **dst = ctx;

	memcpy(*dst, p, n);
	*dst += n;
}

int copyin(struct vmspace *vs, void *dst, uint64_t uva, size_t n)
{
	char *d = dst;

	return uvm_each(vs->pml4, uva, n, copy_piece, &d);
}

int copyinstr(struct vmspace *vs, char *dst, uint64_t uva, size_t max)
{
	for (size_t i = 0; i < max; i++) {
		if (copyin(vs, &dst[i], uva + i, 1) < 0)
			return -1;
		if (!dst[i])
			return 0;
	}
	return -1;
}

int copyout(struct vmspace *vs, uint64_t uva, const void *src, size_t n)
{
	const char *s = src;

	if (uva >= HV_USER_TOP || n > HV_USER_TOP - uva)
		return -1;
	while (n) {
		pte_t v = uvm_leaf(vs->pml4, uva);
		if ((v & (PTE_P | PTE_U | PTE_W)) != (PTE_P | PTE_U | PTE_W)) {
			if (uvm_fault(vs, uva, PF_WRITE | PF_USER | (v & PTE_P ? PF_PRESENT : 0)) < 0)
				return -1;
			continue;
		}
		if (PTE_ADDR(v) >= kcfg.mem_bytes)
			return -1;
		uint64_t off = uva & (PAGE_SIZE - 1);
		size_t k = PAGE_SIZE - off < n ? PAGE_SIZE - off : n;
		memcpy((char *)P2V(PTE_ADDR(v)) + off, s, k);
		s += k;
		uva += k;
		n -= k;
	}
	return 0;
}
