/* Page tables: the kernel's direct map and user address spaces. */
#include "guest/string.h"
#include "guest/uapi.h"
#include "kalloc.h"
#include "kernel.h"
#include "vm.h"
#include "x86.h"

#define PT_ENTRIES 512
#define PML4_KERNEL_SLOT 511
#define PDPT_DIRECT_SLOT 510   /* KERNBASE = PML4 511, PDPT 510 */
#define PDPT_DEVICE_SLOT 509   /* device window: the GiB below KERNBASE */
#define KDEV_BASE (KERNBASE - (1ull << 30))
#define KDEV_PAGES 512         /* one page table's worth */

/* The kernel's tables live in .bss, which the loader zeroes (ELF semantics). */
static pte_t kpml4[PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static pte_t kpdpt[PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));
static pte_t kpd[HV_MAX_GUEST_MEM >> 30][PT_ENTRIES] __attribute__((aligned(PAGE_SIZE)));

/* The shared frame behind read faults in demand-zero areas; allocated on first use. */
static uint64_t zero_frame;

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

	lcr0(rcr0() | CR0_WP);   /* the kernel honours read-only user pages too */
	/* No SMAP: the #UD system-call gate reads the faulting instruction in place. */
	lcr4((rcr4() | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT) & ~CR4_SMAP);
	lcr3(V2P(kpml4));
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

pte_t *uvm_create(void)
{
	uint64_t f = frame_alloc_zeroed();

	if (!f)
		return NULL;
	pte_t *pml4 = P2V(f);
	pml4[PML4_KERNEL_SLOT] = kpml4[PML4_KERNEL_SLOT];
	return pml4;
}

pte_t *uvm_walk(pte_t *pml4, uint64_t va, int alloc)
{
	pte_t *t = pml4;

	if (va >= HV_USER_TOP)
		return NULL;
	for (int shift = 39; shift > 12; shift -= 9) {
		pte_t *e = &t[(va >> shift) & (PT_ENTRIES - 1)];
		if (!(*e & PTE_P)) {
			if (!alloc)
				return NULL;
			uint64_t f = frame_alloc_zeroed();
			if (!f)
				return NULL;
			/* Permissions are decided at the leaf; the upper levels allow all. */
			*e = f | PTE_P | PTE_W | PTE_U;
		}
		t = P2V(PTE_ADDR(*e));
	}
	return &t[(va >> 12) & (PT_ENTRIES - 1)];
}

int uvm_map(pte_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	pte_t *e = uvm_walk(pml4, va, 1);

	if (!e || (*e & PTE_P))
		return -1;
	*e = pa | flags | PTE_P;
	return 0;
}

void uvm_unmap(pte_t *pml4, uint64_t va, uint64_t len)
{
	for (uint64_t a = va; a - va < len; a += PAGE_SIZE) {
		pte_t *e = uvm_walk(pml4, a, 0);
		if (!e || !(*e & PTE_P))
			continue;
		if (*e & PTE_OWNED)
			frame_free(PTE_ADDR(*e));
		*e = 0;
		invlpg(a);
	}
}

static void free_table(pte_t *t, int level)
{
	/* The user half of the root is slots 0-255; lower tables are all user. */
	int n = level == 4 ? PT_ENTRIES / 2 : PT_ENTRIES;

	for (int i = 0; i < n; i++) {
		pte_t e = t[i];
		if (!(e & PTE_P))
			continue;
		if (level > 1)
			free_table(P2V(PTE_ADDR(e)), level - 1);
		else if (e & PTE_OWNED)
			frame_free(PTE_ADDR(e));
	}
	frame_free(V2P(t));
}

void uvm_free(pte_t *pml4)
{
	free_table(pml4, 4);
}

static int in_demand_area(uint64_t va)
{
	return (va >= GUEST_USER_DEMAND_BASE && va < GUEST_USER_DEMAND_END) ||
	       (va >= GUEST_USER_STACK_TOP - GUEST_USER_STACK_MAX && va < GUEST_USER_STACK_TOP);
}

int uvm_fault(pte_t *pml4, uint64_t va, uint64_t err)
{
	if (!in_demand_area(va) || (err & (PF_RSVD | PF_FETCH)))
		return -1;
	va &= PAGE_MASK;
	pte_t *e = uvm_walk(pml4, va, 1);
	if (!e)
		return -1;

	if (!(err & PF_WRITE)) {
		/* A read of an untouched page: share the zero frame, read-only. */
		if (*e & PTE_P)
			return -1;
		if (!zero_frame && !(zero_frame = frame_alloc_zeroed()))
			return -1;
		*e = zero_frame | PTE_P | PTE_U | PTE_NX;
		return 0;
	}
	/* A write: a private zeroed frame, replacing the zero frame if it was there. */
	if ((*e & PTE_P) && ((*e & PTE_W) || PTE_ADDR(*e) != zero_frame))
		return -1;
	uint64_t f = frame_alloc_zeroed();
	if (!f)
		return -1;
	int was_present = (*e & PTE_P) != 0;
	*e = f | PTE_P | PTE_W | PTE_U | PTE_NX | PTE_OWNED;
	if (was_present)
		invlpg(va);
	return 0;
}

int uvm_each(pte_t *pml4, uint64_t uva, size_t n, void (*fn)(void *ctx, const void *p, size_t n),
	     void *ctx)
{
	if (uva >= HV_USER_TOP || n > HV_USER_TOP - uva)
		return -1;
	while (n) {
		pte_t *e = uvm_walk(pml4, uva, 0);
		/* Only memory: a device page mapped to the program is not in the direct map. */
		if (!e || (*e & (PTE_P | PTE_U)) != (PTE_P | PTE_U) ||
		    PTE_ADDR(*e) >= kcfg.mem_bytes)
			return -1;
		uint64_t off = uva & (PAGE_SIZE - 1);
		size_t k = PAGE_SIZE - off < n ? PAGE_SIZE - off : n;
		fn(ctx, (const char *)P2V(PTE_ADDR(*e)) + off, k);
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

int copyin(pte_t *pml4, void *dst, uint64_t uva, size_t n)
{
	char *d = dst;

	return uvm_each(pml4, uva, n, copy_piece, &d);
}
