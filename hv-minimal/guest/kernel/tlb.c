/* TLB shootdown with acknowledgement in shared memory (tlb.h). Targets flush their
 * whole TLB (a CR3 reload; kernel mappings are global and survive it) whatever was
 * changed, so a request carries no addresses and requests from several CPUs merge. */
#include "apic.h"
#include "pv.h"
#include "spinlock.h"
#include "tlb.h"
#include "vm.h"
#include "x86.h"

uint64_t tlb_resend_cycles = 2000000;   /* ~1 ms at 2 GHz until the TSC rate is known */

void tlb_service(struct cpu *c)
{
	uint64_t req = __atomic_load_n(&c->tlb_req, __ATOMIC_ACQUIRE);

	lcr3(rcr3());
	__atomic_store_n(&c->tlb_done, req, __ATOMIC_RELEASE);
}

void tlb_shootdown_remote(struct vmspace *vs)
{
	struct cpu *me = mycpu();
	uint64_t want[HV_MAX_VCPUS];
	uint32_t pending;

	/* The page-table writes before the mask read: a CPU entering vs after this read
	 * loads CR3 after the writes (vs_switch) and needs no flush. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pending = __atomic_load_n(&vs->cpumask, __ATOMIC_SEQ_CST) & ~(1u << me->id);
	if (!pending)
		return;
	for (uint32_t m = pending; m; m &= m - 1) {
		struct cpu *t = &cpus[__builtin_ctz(m)];
		want[t->id] = __atomic_add_fetch(&t->tlb_req, 1, __ATOMIC_SEQ_CST);
		lapic_ipi(t->apic_id, T_IPI);
		spin_nudge(t->id);   /* a CPU asleep on a lock (pv-halt) answers too */
		me->st.shootdowns++;
		me->st.shootdown_ipis++;
	}
	uint64_t start = rdtsc(), last = start;
	while (pending) {
		for (uint32_t m = pending; m; m &= m - 1) {
			struct cpu *t = &cpus[__builtin_ctz(m)];
			if (__atomic_load_n(&t->tlb_done, __ATOMIC_ACQUIRE) >= want[t->id])
				pending &= ~(1u << t->id);
		}
		if (!pending)
			break;
		tlb_poll();          /* another CPU may be waiting for this one */
		pause();
		uint64_t now = rdtsc();
		if (now - last >= tlb_resend_cycles) {
			for (uint32_t m = pending; m; m &= m - 1) {
				lapic_ipi(cpus[__builtin_ctz(m)].apic_id, T_IPI);
				spin_nudge((uint32_t)__builtin_ctz(m));
				me->st.shootdown_ipis++;
				me->st.shootdown_resends++;
			}
			last = now;
		}
	}
	uint64_t waited = rdtsc() - start;
	if (waited > me->st.shootdown_max_cycles)
		me->st.shootdown_max_cycles = waited;
}

void tlb_shootdown(struct vmspace *vs, uint64_t va)
{
	if (mycpu()->vs == vs)
		tlb_flush_local(va);
	tlb_flush_others(vs);
}
