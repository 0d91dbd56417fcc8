/* Per-CPU data, reached through %gs in the kernel. User code has its own GS base;
 * every user->kernel entry and kernel->user exit swaps the two with swapgs. */
#ifndef KERNEL_PERCPU_H
#define KERNEL_PERCPU_H

/* Offsets used by the assembly entry paths. */
#define CPU_SELF       0
#define CPU_KSTACK_TOP 8
#define CPU_USER_RSP   16

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

struct cpu {
	struct cpu *self;         /* CPU_SELF */
	uint64_t kstack_top;      /* CPU_KSTACK_TOP: stack for the syscall entry path */
	uint64_t user_rsp;        /* CPU_USER_RSP: user rsp while the syscall path switches */
	uint32_t id;
	struct proc *proc;        /* running process, or NULL */
	struct context *scheduler;
	uint64_t spurious;        /* unexpected interrupts seen */
	uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
	struct tss_io task __attribute__((aligned(16)));
};

_Static_assert(__builtin_offsetof(struct cpu, self) == CPU_SELF, "CPU_SELF");
_Static_assert(__builtin_offsetof(struct cpu, kstack_top) == CPU_KSTACK_TOP, "CPU_KSTACK_TOP");
_Static_assert(__builtin_offsetof(struct cpu, user_rsp) == CPU_USER_RSP, "CPU_USER_RSP");

/* Points GS at cpus[id] (the boot CPU is 0). */
void percpu_init(uint32_t id);
/* Sets the kernel stack used on entry from user mode (TSS.RSP0 and the syscall path). */
void percpu_set_kstack(uint64_t top);

static inline struct cpu *mycpu(void)
{
	struct cpu *c;

	__asm__("mov %%gs:0, %0" : "=r"(c));
	return c;
}

/* The process running on this CPU, or NULL. */
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
