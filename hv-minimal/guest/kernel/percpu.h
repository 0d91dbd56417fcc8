/* Per-CPU data, reached through %gs in the kernel. User code has its own GS base;
 * every user->kernel entry and kernel->user exit swaps the two with swapgs. */
#ifndef KERNEL_PERCPU_H
#define KERNEL_PERCPU_H

/* Offsets used by the assembly entry paths. */
#define CPU_SELF       0
#define CPU_KSTACK_TOP 8
#define CPU_USER_RSP   16
#define CPU_HELPER_RSP 24

#ifndef __ASSEMBLER__
#include <stdint.h>
#include "kernel.h"

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];          /* rsp[0]: kernel stack for entries from user mode */
	uint64_t reserved1;
	uint64_t ist[7];          /* ist[0] is IST1 */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;      /* offset of the I/O permission bitmap */
} __attribute__((packed));

#define GDT_ENTRIES 10

/* Ports a program can be granted with SYS_ioperm: [0, IOPERM_PORTS). The bitmap ends
 * with all-ones bytes (the CPU reads one byte past the last port's). */
#define IOPERM_PORTS 0x600

/* The TSS and its I/O permission bitmap, which must follow it directly. */
struct tss_io {
	struct tss tss;
	uint8_t bitmap[IOPERM_PORTS / 8 + 8];   /* bit set: port denied */
} __attribute__((packed));

struct context;
struct proc;
struct vmspace;

/* One page zeroing or copying job (kmem.h): physical addresses, src 0 = zero-fill. */
struct kmem_job {
	uint64_t dst, src, len;
};
#define KMEM_BATCH 64
#define ZPOOL_MAX  64         /* zeroed frames kept per CPU */
#define FCACHE_MAX 32         /* free frames kept per CPU, of each kind (kalloc.c) */

/* Counters, summed over CPUs by SYS_sysinfo. */
struct cpu_stats {
	uint64_t ticks, ipis, ctxswitches, forks, page_faults, cow_copies;
	uint64_t shootdowns, shootdown_ipis, shootdown_resends, shootdown_max_cycles;
	uint64_t kmem_calls;
	uint64_t hypercalls, pte_updates;   /* pv: calls made, entries sent in them */
	/* spinlocks: slow-path entries, and the HV_HC_SPIN_* calls made (spinlock.c) */
	uint64_t spin_slow, spin_notifies, spin_waits, spin_kicks;
	/* pagesize=2m: 2 MiB pages mapped, split into 4 KiB entries, and 2 MiB regions
	 * that got 4 KiB pages because the pool was empty */
	uint64_t huge_maps, huge_splits, huge_fallbacks;
};

struct cpu {
	struct cpu *self;         /* CPU_SELF */
	uint64_t kstack_top;      /* CPU_KSTACK_TOP: stack for the syscall entry path */
	uint64_t user_rsp;        /* CPU_USER_RSP: user rsp while the syscall path switches */
	uint64_t helper_rsp;      /* CPU_HELPER_RSP: kernel rsp while the CPL3 kmem routine
	                           * runs (kmem.c), 0 otherwise */
	uint32_t id;              /* index in cpus[] */
	uint32_t apic_id;
	volatile uint32_t online;
	struct proc *proc;        /* running process, or NULL (idle) */
	struct context *idle_ctx; /* the idle loop, switched to when nothing is runnable */
	struct vmspace *vs;       /* address space in CR3, NULL for the kernel's own */

	/* Run queue: processes whose home is this CPU, runnable and waiting (sched.c,
	 * under sched_lock). */
	struct proc *rq_head, *rq_tail;
	uint32_t rq_len;
	uint64_t slice_start;     /* TSC when the running process was switched to */

	/* TLB shootdown mailbox (tlb.c): requesters increment tlb_req; this CPU flushes
	 * and publishes the request count it has served in tlb_done. */
	volatile uint64_t tlb_req, tlb_done;

	struct cpu_stats st;
	uint64_t spurious;        /* unexpected interrupts seen */

	/* Page zeroing and copying (kmem.c) and the zeroed frames it keeps; free data and
	 * page-table frames (kalloc.c), so that most allocations take no lock. */
	uint32_t nkjobs, nzpool, nfcache, nptcache;
	struct kmem_job kjobs[KMEM_BATCH];
	uint64_t zpool[ZPOOL_MAX];
	uint64_t fcache[FCACHE_MAX];
	uint64_t ptcache[FCACHE_MAX];

	struct hv_result result;  /* the record this CPU hands to the VMM (hv.c) */
	uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
	struct tss_io task __attribute__((aligned(16)));
};

_Static_assert(__builtin_offsetof(struct cpu, self) == CPU_SELF, "CPU_SELF");
_Static_assert(__builtin_offsetof(struct cpu, kstack_top) == CPU_KSTACK_TOP, "CPU_KSTACK_TOP");
_Static_assert(__builtin_offsetof(struct cpu, user_rsp) == CPU_USER_RSP, "CPU_USER_RSP");
_Static_assert(__builtin_offsetof(struct cpu, helper_rsp) == CPU_HELPER_RSP, "CPU_HELPER_RSP");

extern struct cpu cpus[HV_MAX_VCPUS];
/* CPUs online; cpus[0, ncpus) run. */
extern uint32_t ncpus;

/* Points GS at cpus[id] (the boot CPU is 0). */
void percpu_init(uint32_t id);
/* Sets the kernel stack used on entry from user mode (TSS.RSP0 and the syscall path). */
void percpu_set_kstack(uint64_t top);

/* This CPU. Volatile: a process that sleeps or moves (SYS_setcpu) may resume on
 * another CPU, so the value must not be reused across a context switch. */
static inline struct cpu *mycpu(void)
{
	struct cpu *c;

	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* The process running on this CPU, or NULL. Within one process's kernel path it is
 * always that process, so the compiler may reuse it. */
static inline struct proc *myproc(void)
{
	struct proc *p;

	__asm__("mov %%gs:%c1, %0" : "=r"(p) : "i"(__builtin_offsetof(struct cpu, proc)));
	return p;
}

/* gdt.c: loads this CPU's GDT and TSS. */
void gdt_init(struct cpu *c);
/* Denies user port I/O on this CPU (every port). */
void ioperm_reset(void);
/* Grants (on) or revokes user access to ports [from, from+num); -1 if out of range. */
int ioperm_set(uint64_t from, uint64_t num, int on);
#endif
#endif
