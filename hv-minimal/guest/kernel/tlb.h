/* TLB shootdown. A CPU that changed page-table entries of an address space other CPUs
 * may be running (threads) asks each of them to flush, and waits until each has
 * acknowledged. The request and the acknowledgement are counters in the target's
 * struct cpu; the IPI only says "look". On hosts where an IPI to a running vCPU comes
 * milliseconds late or never (PLATFORM.md) the requester sends it again while it
 * waits, and targets also look on every timer interrupt, whenever they spin on a lock
 * or wait for a shootdown of their own, and in the idle loop, so a request completes
 * within a timer period even if every IPI is lost. */
#ifndef KERNEL_TLB_H
#define KERNEL_TLB_H
#include <stdint.h>
#include "percpu.h"

#define TLB_ALL ((uint64_t)-1)

struct vmspace;

/* Flushes va (or TLB_ALL) here if vs is this CPU's address space, and everywhere else
 * vs runs. */
void tlb_shootdown(struct vmspace *vs, uint64_t va);
/* Only the other CPUs running vs (the caller has flushed its own TLB). */
void tlb_shootdown_remote(struct vmspace *vs);
/* Serves this CPU's pending requests. */
void tlb_service(struct cpu *c);
/* Re-send interval, in TSC cycles (set at boot from the TSC rate). */
extern uint64_t tlb_resend_cycles;

static inline void tlb_poll(void)
{
	struct cpu *c = mycpu();

	if (c->tlb_req != c->tlb_done)
		tlb_service(c);
}

#endif
