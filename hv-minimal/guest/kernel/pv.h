/* The paravirtual operations: one table, chosen once at boot (pv=on, or flavour=pv).
 * Every page-table entry of a user address space, every CR3 load and TLB flush, EOI,
 * the idle halt and the clock go through it. The full flavour's entries are the native
 * instructions; the pv flavour's make hypercalls (abi.h) for what the VMM offers under
 * its engine (HV_HC_FEATURES) and keep the native instruction for the rest, so one
 * image runs both ways everywhere (Linux's paravirt_ops, Xen's PV MMU). */
#ifndef KERNEL_PV_H
#define KERNEL_PV_H
#include <stdint.h>
#include "tlb.h"
#include "vm.h"
#include "x86.h"

struct pv_ops {
	const char *name;                            /* "full" or "pv" */
	/* Address space vs starts or stops being changed through the table. */
	void (*vs_created)(struct vmspace *vs);
	void (*vs_destroying)(struct vmspace *vs);
	/* Entry e of a table (user half) of the address space at root becomes v. Inside
	 * pv_lazy_begin/end the pv flavour queues it: the caller must not read e back
	 * before pv_flush. Called through pte_set() below. */
	void (*pte_set)(uint64_t root, pte_t *e, pte_t v);
	void (*load_cr3)(uint64_t root);
	/* This CPU's TLB drops va (or TLB_ALL); other CPUs' through tlb_flush_others. */
	void (*tlb_flush_local)(uint64_t va);
	/* Every other CPU running vs drops its TLB entries (the shootdown). */
	void (*tlb_flush_others)(struct vmspace *vs);
	void (*eoi)(void);
	void (*idle_halt)(void);
	uint64_t (*clock_ns)(void);
};

extern const struct pv_ops *pv;
/* HV_PV_* bits in use (0 under full). */
extern uint32_t pv_features;

/* Set once at boot: the pv flavour and the VMM offers HV_PV_MMU (HV_PV_TLB). The
 * wrappers below test them so that the full flavour's entry writes and page flushes
 * stay the bare instruction, with no call (under kvm_pvm each kernel instruction is
 * emulated, and fork and unmap do these per page); the pv flavour goes through the
 * table. */
extern int pv_mmu_on, pv_tlb_on;

/* Entry e of a table of the address space whose PML4 is at physical address root. */
static inline void pte_set(uint64_t root, pte_t *e, pte_t v)
{
	if (pv_mmu_on)
		pv->pte_set(root, e, v);
	else
		*e = v;
}

/* The full flavour's flush of va (or TLB_ALL) from this CPU's TLB. */
static inline void native_tlb_flush_local(uint64_t va)
{
	if (va == TLB_ALL)
		lcr3(rcr3());
	else
		invlpg(va);
}

static inline void tlb_flush_local(uint64_t va)
{
	if (pv_tlb_on)
		pv->tlb_flush_local(va);
	else
		native_tlb_flush_local(va);
}

static inline void tlb_flush_others(struct vmspace *vs)
{
	pv->tlb_flush_others(vs);
}

/* Picks the table for kcfg.flavour (boot CPU, after the hypercall page is known). */
void pv_init(void);
/* Per CPU: the pvclock page and anything else a CPU needs. */
void pv_init_cpu(void);
/* Queue page-table updates on this CPU until pv_lazy_end (Linux's lazy MMU mode). */
void pv_lazy_begin(void);
void pv_lazy_end(void);
/* Applies the updates queued so far (nothing under full). */
void pv_flush(void);

#endif
