/* Kernel-mode nanobenchmark operations. The program times a system call that runs n
 * of one operation and subtracts the same call running GUEST_KOP_NONE: every loop
 * below is LOOP with a different body, so the difference is n bodies. The kernel
 * never reads the TSC itself: under instruction emulation a timer read costs more
 * than most of the operations. */
#include "guest/uapi.h"
#include "kernel.h"
#include "kop.h"
#include "percpu.h"
#include "proc.h"
#include "pv.h"
#include "vm.h"

/* n bodies: n / 8 turns of a loop holding 8 copies, then n % 8 turns of one copy.
 * Unrolled because under emulation the loop's own two instructions cost as much as
 * the operations measured, and the harness's noise grows with its share. Operands:
 * %0 and %1 are the counters, %2 is rax (holding ax, and free for the body to
 * overwrite: in and out need it), the caller's inputs start at %3. */
#define LOOP(body, ax, ...)                                                              \
	do {                                                                             \
		uint64_t q_ = n / 8, r_ = n % 8, ax_ = (ax);                             \
		__asm__ volatile("test %0, %0\n\t"                                       \
				 "jz 2f\n"                                               \
				 "1:\n\t"                                                \
				 ".rept 8\n\t" body "\n\t.endr\n\t"                      \
				 "dec %0\n\t"                                            \
				 "jnz 1b\n"                                              \
				 "2:\n\t"                                                \
				 "test %1, %1\n\t"                                       \
				 "jz 4f\n"                                               \
				 "3:\n\t" body "\n\t"                                    \
				 "dec %1\n\t"                                            \
				 "jnz 3b\n"                                              \
				 "4:"                                                    \
				 : "+r"(q_), "+r"(r_), "+a"(ax_)                         \
				 : __VA_ARGS__                                           \
				 : "memory");                                            \
	} while (0)

/* LOOP with each body once, or twice under GUEST_KOP_TWICE. */
#define KLOOP(body, ax, ...)                                                             \
	do {                                                                             \
		if (twice)                                                               \
			LOOP(body "\n\t" body, ax, __VA_ARGS__);                          \
		else                                                                     \
			LOOP(body, ax, __VA_ARGS__);                                     \
	} while (0)

long kop_run(struct proc *p, uint64_t op, uint64_t n)
{
	int twice = (op & GUEST_KOP_TWICE) != 0;

	op &= ~(uint64_t)GUEST_KOP_TWICE;
	if (n > GUEST_KOP_MAX_N)
		return -GUEST_EINVAL;

	switch (op) {
	case GUEST_KOP_NONE:
		KLOOP("", 0, "i"(0));
		return 0;
	case GUEST_KOP_CR8WR: {
		uint64_t tpr;

		if (kcfg.cr8wr_off)
			return -GUEST_ENOSYS;
		__asm__ volatile("mov %%cr8, %0" : "=r"(tpr));
		KLOOP("mov %3, %%cr8", 0, "r"(tpr));
		return 0;
	}
	case GUEST_KOP_PTEMOD: {
		/* The PTE of the program's top stack page: live, and in use by the program. */
		pte_t *pte = uvm_walk(p->vs->pml4, GUEST_USER_STACK_TOP - PAGE_SIZE, 0);
		if (!pte)
			return -GUEST_EINVAL;
		pte_t v = *pte;
		if (pv_mmu_on) {
			/* one HV_HC_MMU_UPDATE per write: the pv flavour's cost of an entry */
			for (uint64_t i = 0; i < (twice ? 2 * n : n); i++)
				pte_set(p->vs->root, pte, v);
			return 0;
		}
		KLOOP("mov %3, (%4)", 0, "r"(v), "r"(pte));
		return 0;
	}
	case GUEST_KOP_HCALL: {
		uint32_t id = mycpu()->id;
		volatile struct hv_hcall_page *page = P2V(kcfg.hcall_gpa + (uint64_t)id * PAGE_SIZE);
		/* Each call writes the number and rings the doorbell. */
		KLOOP("movq %3, (%4)\n\t"
		      "outl %%eax, %%dx",
		      id, "i"((uint64_t)HV_HC_NOP), "r"(&page->nr), "d"(HV_PORT_HCALL));
		mycpu()->st.hypercalls += twice ? 2 * n : n;
		return 0;
	}
	case GUEST_KOP_IN:
		KLOOP("inb %%dx, %%al", 0, "d"(HV_PORT_POST));
		return 0;
	case GUEST_KOP_IOEVENTFD:
		KLOOP("outl %%eax, %%dx", 0, "d"(HV_PORT_IOEVENTFD));
		return 0;
	case GUEST_KOP_MMIO: {
		static volatile uint32_t *reg;
		if (!reg && !(reg = vm_map_device(HV_MMIO_UNBACKED)))
			return -GUEST_EINVAL;
		KLOOP("movl %%eax, (%3)", 0, "r"(reg));
		return 0;
	}
	default:
		return -GUEST_EINVAL;
	}
}
