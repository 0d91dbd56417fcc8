/* Per-CPU data. In the kernel GS_BASE points at this CPU's struct cpu and
 * KERNEL_GS_BASE holds the user's GS base; swapgs exchanges them on each crossing. */
#include "percpu.h"
#include "x86.h"

struct cpu cpus[HV_MAX_VCPUS];
uint32_t ncpus = 1;

void percpu_init(uint32_t id)
{
	struct cpu *c = &cpus[id];

	c->self = c;
	c->id = id;
	gdt_init(c);           /* reloads the segment registers: before the GS base */
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

void percpu_set_kstack(uint64_t top)
{
	struct cpu *c = mycpu();

	c->task.tss.rsp[0] = top;
	c->kstack_top = top;
}
