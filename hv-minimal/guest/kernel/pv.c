/* The two tables of pv.h. The pv flavour asks the VMM once what it offers
 * (HV_HC_FEATURES) and takes the hypercall only for those features:
 *   - page-table entries: HV_HC_MMU_UPDATE, one entry at a time, or batched up to
 *     HV_MMU_BATCH_MAX inside pv_lazy_begin/end (fork, unmap, populate);
 *   - address spaces are pinned when created and unpinned before they are freed, so
 *     the VMM knows which tables are whose (and the guest frees them natively);
 *   - CR3 loads: HV_HC_NEW_BASEPTR;
 *   - TLB flushes, local and remote: one HV_HC_TLB_FLUSH naming the vCPUs, no IPI;
 *   - time: the pvclock page instead of the calibrated TSC.
 * EOI and the idle halt stay native in both: neither engine here offers a path
 * cheaper than the instruction (bt emulates both in its own APIC without leaving
 * translated code's call-out; hw keeps both in KVM's in-kernel APIC). */
#include "apic.h"
#include "guest/string.h"
#include "hv.h"
#include "kernel.h"
#include "percpu.h"
#include "pv.h"
#include "tlb.h"
#include "x86.h"

/* Per CPU: the queued updates of one address space. */
struct pv_queue {
	struct hv_mmu_update u[HV_MMU_BATCH_MAX];
	uint32_t n;
	uint32_t lazy;           /* nesting depth of pv_lazy_begin */
	uint64_t root;           /* the address space of the queued updates */
	int flush_local;         /* a local TLB flush waits for the queue */
};
static struct pv_queue queues[HV_MAX_VCPUS];
static volatile struct hv_pvclock clocks[HV_MAX_VCPUS] __attribute__((aligned(64)));


/* ---- full: the native instructions ---- */

static void full_vs_nop(struct vmspace *vs)
{
	(void)vs;
}

static void full_pte_set(uint64_t root, pte_t *e, pte_t v)
{
	(void)root;
	*e = v;
}

static void full_tlb_flush_local(uint64_t va)
{
	native_tlb_flush_local(va);
}

static void full_idle_halt(void)
{
	sti_hlt();
	cli();
}

static uint64_t full_clock_ns(void)
{
	return kcfg.tsc_khz ? rdtsc() * 1000000 / kcfg.tsc_khz : 0;
}

static const struct pv_ops full_ops = {
	.name = "full",
	.vs_created = full_vs_nop,
	.vs_destroying = full_vs_nop,
	.pte_set = full_pte_set,
	.load_cr3 = lcr3,
	.tlb_flush_local = full_tlb_flush_local,
	.tlb_flush_others = tlb_shootdown_remote,
	.eoi = lapic_eoi,
	.idle_halt = full_idle_halt,
	.clock_ns = full_clock_ns,
};

/* the full table until pv_init chooses (code before it, udelay included, needs one) */
const struct pv_ops *pv = &full_ops;
uint32_t pv_features;
int pv_mmu_on, pv_tlb_on;

/* ---- pv: hypercalls where offered ---- */

static void pv_must(int64_t r, const char *what, uint64_t arg)
{
	if (r < 0)
		panic("pv: %s (%#lx) refused by the VMM with %ld", what, arg, r);
}

void pv_flush(void)
{
	/* LAB 4 BEGIN: flush */
	struct pv_queue *q = &queues[mycpu()->id];
	uint64_t done = 0;

	if (!q->n)
		return;
	int64_t r = hv_hypercall3(HV_HC_MMU_UPDATE, V2P(q->u), q->n, q->root, &done);
	mycpu()->st.pte_updates += q->n;
	if (r < 0)
		panic("pv: mmu_update of %u entries (root %#lx) refused at entry %lu "
		      "(ptr %#lx val %#lx) with %ld", q->n, q->root, done,
		      done < q->n ? q->u[done].ptr : 0, done < q->n ? q->u[done].val : 0, r);
	q->n = 0;
	/* LAB 4 END: flush */
}

static void pv_pte_set(uint64_t root, pte_t *e, pte_t v)
{
	/* LAB 4 BEGIN: pte-set */
	struct pv_queue *q = &queues[mycpu()->id];

	if (!(pv_features & HV_PV_MMU)) {
		*e = v;
		return;
	}
	if (q->n && (q->root != root || q->n >= kcfg.pv_batch))
		pv_flush();
	q->root = root;
	q->u[q->n].ptr = V2P(e);
	q->u[q->n].val = v;
	q->n++;
	if (!q->lazy || q->n >= kcfg.pv_batch)
		pv_flush();
	/* LAB 4 END: pte-set */
}

static void pv_vs_created(struct vmspace *vs)
{
	if (pv_features & HV_PV_MMU)
		pv_must(hv_hypercall(HV_HC_PIN_ROOT, vs->root, 0), "pin_root", vs->root);
}

static void pv_vs_destroying(struct vmspace *vs)
{
	if (!(pv_features & HV_PV_MMU))
		return;
	pv_flush();
	pv_must(hv_hypercall(HV_HC_UNPIN_ROOT, vs->root, 0), "unpin_root", vs->root);
}

static void pv_load_cr3(uint64_t root)
{
	if (pv_features & HV_PV_CR3)
		pv_must(hv_hypercall(HV_HC_NEW_BASEPTR, root, 0), "new_baseptr", root);
	else
		lcr3(root);
}

static void pv_tlb_flush_local(uint64_t va)
{
	struct pv_queue *q = &queues[mycpu()->id];

	if (!(pv_features & HV_PV_TLB)) {
		full_tlb_flush_local(va);
		return;
	}
	if (q->lazy) {
		q->flush_local = 1;      /* with the queue, in one call */
		return;
	}
	pv_flush();
	pv_must(hv_hypercall(HV_HC_TLB_FLUSH, va, 1ull << mycpu()->id), "tlb_flush", va);
}

static void pv_tlb_flush_others(struct vmspace *vs)
{
	struct cpu *me = mycpu();
	struct pv_queue *q = &queues[me->id];

	if (!(pv_features & HV_PV_TLB)) {
		tlb_shootdown_remote(vs);
		return;
	}
	pv_flush();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint64_t mask = __atomic_load_n(&vs->cpumask, __ATOMIC_SEQ_CST) & ~(1u << me->id);
	if (q->flush_local)
		mask |= 1ull << me->id;
	q->flush_local = 0;
	if (!mask)
		return;
	pv_must(hv_hypercall(HV_HC_TLB_FLUSH, HV_TLB_FLUSH_ALL, mask), "tlb_flush", mask);
	if (mask & ~(1ull << me->id))
		me->st.shootdowns++;
}

static uint64_t pv_clock_ns(void)
{
	volatile struct hv_pvclock *c = &clocks[mycpu()->id];
	uint32_t v;
	uint64_t ns;

	if (!(pv_features & HV_PV_CLOCK) || !c->version)
		return full_clock_ns();     /* no page, or not yet filled for this CPU */
	do {
		v = c->version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint64_t d = rdtsc() - c->tsc_base;
		ns = c->system_ns + (uint64_t)(((unsigned __int128)d * c->mul) >> 32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != c->version);
	return ns;
}

static const struct pv_ops pv_ops_table = {
	.name = "pv",
	.vs_created = pv_vs_created,
	.vs_destroying = pv_vs_destroying,
	.pte_set = pv_pte_set,
	.load_cr3 = pv_load_cr3,
	.tlb_flush_local = pv_tlb_flush_local,
	.tlb_flush_others = pv_tlb_flush_others,
	.eoi = lapic_eoi,
	.idle_halt = full_idle_halt,
	.clock_ns = pv_clock_ns,
};

void pv_lazy_begin(void)
{
	queues[mycpu()->id].lazy++;
}

void pv_lazy_end(void)
{
	struct pv_queue *q = &queues[mycpu()->id];

	if (q->lazy && --q->lazy == 0) {
		pv_flush();
		if (q->flush_local) {
			q->flush_local = 0;
			pv_tlb_flush_local(TLB_ALL);
		}
	}
}

void pv_init(void)
{
	pv = &full_ops;
	pv_features = 0;
	if (strcmp(kcfg.flavour, "pv"))
		return;
	pv = &pv_ops_table;
	int64_t f = hv_hypercall(HV_HC_FEATURES, 0, 0);
	pv_features = f < 0 ? 0 : (uint32_t)f;
	pv_mmu_on = (pv_features & HV_PV_MMU) != 0;
	pv_tlb_on = (pv_features & HV_PV_TLB) != 0;
	kprintf("pv: by hypercall: %s%s%s%s%s; native: EOI, halt%s%s%s%s\n",
		pv_features & HV_PV_MMU ? " page tables" : "",
		pv_features & HV_PV_CR3 ? " CR3" : "",
		pv_features & HV_PV_TLB ? " TLB flushes" : "",
		pv_features & HV_PV_CLOCK ? " clock" : "",
		pv_features ? "" : " nothing (the VMM offers none)",
		pv_features & HV_PV_MMU ? "" : ", page tables",
		pv_features & HV_PV_CR3 ? "" : ", CR3",
		pv_features & HV_PV_TLB ? "" : ", TLB flushes",
		pv_features & HV_PV_CLOCK ? "" : ", clock");
}

void pv_init_cpu(void)
{
	struct cpu *c = mycpu();

	if ((pv_features & HV_PV_CLOCK) &&
	    hv_hypercall(HV_HC_CLOCK_PAGE, V2P((void *)&clocks[c->id]), 0) < 0)
		pv_features &= ~HV_PV_CLOCK;
}
