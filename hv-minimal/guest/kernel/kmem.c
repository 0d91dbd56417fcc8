/* Batched page zeroing and copying (kmem.h). */
#include "guest/string.h"
#include "guest/uapi.h"
#include "kmem.h"
#include "percpu.h"
#include "pv.h"
#include "vm.h"
#include "x86.h"

#define HELPER_STACK 4096

/* The physical-memory map for the CPL3 routine: PML4 slot 0 maps [0, 512 GiB) at
 * identity with 2 MiB user pages (only [0, memory) is filled in); the kernel half is
 * the kernel's, so the trap back finds the kernel mapped. */
static uint64_t pm_pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pm_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pm_pd[HV_MAX_GUEST_MEM >> 30][512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pm_root;

/* The stack the routine's trap lands on, per CPU: not the process's kernel stack, on
 * which the caller of kmem_flush is still running. */
static uint8_t helper_stacks[HV_MAX_VCPUS][HELPER_STACK] __attribute__((aligned(16)));

void kmem_init(void)
{
	uint64_t n = kcfg.mem_bytes / HUGE_SIZE;
	uint64_t *pd = &pm_pd[0][0];

	for (uint64_t i = 0; i < n; i++)
		pd[i] = (i * HUGE_SIZE) | PTE_P | PTE_W | PTE_U | PTE_PS;
	for (uint64_t g = 0; g * 512 < n; g++)
		pm_pdpt[g] = V2P(pm_pd[g]) | PTE_P | PTE_W | PTE_U;
	pm_pml4[0] = V2P(pm_pdpt) | PTE_P | PTE_W | PTE_U;
	pm_pml4[511] = ((uint64_t *)P2V(vm_kernel_root()))[511];
	pm_root = V2P(pm_pml4);
}

static void kmem_queue(uint64_t dst, uint64_t src, uint64_t len)
{
	struct cpu *c = mycpu();

	if (c->nkjobs == KMEM_BATCH)
		kmem_flush();
	c->kjobs[c->nkjobs++] = (struct kmem_job){ dst, src, len };
}

void kmem_zero(uint64_t pa, uint64_t len)
{
	struct cpu *c = mycpu();
	struct kmem_job *last = c->nkjobs ? &c->kjobs[c->nkjobs - 1] : NULL;

	/* Frames from the bump allocator come in a row: one job for all of them. */
	if (last && !last->src && last->dst + last->len == pa)
		last->len += len;
	else
		kmem_queue(pa, 0, len);
}

void kmem_copy(uint64_t dst, uint64_t src, uint64_t len)
{
	kmem_queue(dst, src, len);
}

static void run_in_kernel(struct cpu *c)
{
	for (uint32_t i = 0; i < c->nkjobs; i++) {
		const struct kmem_job *j = &c->kjobs[i];
		if (j->src)
			memcpy(P2V(j->dst), P2V(j->src), j->len);
		else
			memset(P2V(j->dst), 0, j->len);
	}
}

void kmem_flush(void)
{
	struct cpu *c = mycpu();

	if (!c->nkjobs)
		return;
	c->st.kmem_calls++;
	if (kcfg.kmem != GUEST_KMEM_USER) {
		run_in_kernel(c);
		c->nkjobs = 0;
		return;
	}
	uint64_t rsp0 = c->task.tss.rsp[0];
	c->task.tss.rsp[0] = (uint64_t)helper_stacks[c->id] + HELPER_STACK;
	kmem_user_call(V2P(c->kjobs), c->nkjobs, pm_root);
	/* Back at CPL0, still in the physical-memory map. */
	pv->load_cr3(c->vs ? vs_root(c->vs) : vm_kernel_root());
	c->task.tss.rsp[0] = rsp0;
	c->nkjobs = 0;
}

void kmem_user_trap(uint64_t vector)
{
	if (vector != T_DE)
		panic("kmem: the CPL3 copy routine took vector %lu", vector);
	kmem_user_return();
}
