/* Segmentation: a GDT with Linux's selector layout and a 64-bit TSS per CPU. Only the
 * TSS matters in long mode: RSP0 is the stack for entries from user mode, IST1-3 give
 * #DF, NMI and #MC known-good stacks, and its I/O permission bitmap says which ports
 * user mode may use. */
#include "guest/string.h"
#include "percpu.h"
#include "x86.h"

/* Flat descriptors: base 0, limit 4 GiB, present; code L=1 for 64-bit. */
#define DESC_KCODE32 0x00cf9b000000ffffull
#define DESC_KCODE   0x00af9b000000ffffull
#define DESC_KDATA   0x00cf93000000ffffull
#define DESC_UCODE32 0x00cffb000000ffffull
#define DESC_UDATA   0x00cff3000000ffffull
#define DESC_UCODE   0x00affb000000ffffull
#define TSS_TYPE_AVAIL 0x9ull
#define DESC_PRESENT   (1ull << 47)

#define IST_STACK 4096
enum { IST_DF = 1, IST_NMI = 2, IST_MC = 3 };

static uint8_t ist_stacks[HV_MAX_VCPUS][3][IST_STACK] __attribute__((aligned(16)));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

void gdt_init(struct cpu *c)
{
	uint64_t *g = c->gdt;
	uint64_t base = (uint64_t)&c->task;
	uint64_t limit = sizeof(c->task) - 1;   /* covers the bitmap */

	g[0] = 0;
	g[SEL_KCODE32 >> 3] = DESC_KCODE32;
	g[SEL_KCODE >> 3] = DESC_KCODE;
	g[SEL_KDATA >> 3] = DESC_KDATA;
	g[SEL_UCODE32 >> 3] = DESC_UCODE32;
	g[SEL_UDATA >> 3] = DESC_UDATA;
	g[SEL_UCODE >> 3] = DESC_UCODE;
	g[7] = 0;
	/* A system descriptor takes two slots: base 63:32 goes in the second. */
	g[SEL_TSS >> 3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (TSS_TYPE_AVAIL << 40) |
			  DESC_PRESENT | (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	g[(SEL_TSS >> 3) + 1] = base >> 32;

	c->task.tss.iomap_base = sizeof(c->task.tss);
	memset(c->task.bitmap, 0xff, sizeof(c->task.bitmap));
	c->task.tss.ist[IST_DF - 1] = (uint64_t)ist_stacks[c->id][0] + IST_STACK;
	c->task.tss.ist[IST_NMI - 1] = (uint64_t)ist_stacks[c->id][1] + IST_STACK;
	c->task.tss.ist[IST_MC - 1] = (uint64_t)ist_stacks[c->id][2] + IST_STACK;

	struct desc_ptr p = { sizeof(c->gdt) - 1, (uint64_t)g };
	__asm__ volatile("lgdt %0\n\t"
			 /* Reload CS with a far return, then the data segments. */
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movl %2, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "movl %%eax, %%fs\n\t"
			 "movl %%eax, %%gs\n\t"
			 "ltr %w3"
			 :
			 : "m"(p), "i"(SEL_KCODE), "i"(SEL_KDATA), "r"((uint16_t)SEL_TSS)
			 : "rax", "memory");
}

void ioperm_reset(void)
{
	memset(mycpu()->task.bitmap, 0xff, IOPERM_PORTS / 8);
}

int ioperm_set(uint64_t from, uint64_t num, int on)
{
	uint8_t *map = mycpu()->task.bitmap;

	if (from >= IOPERM_PORTS || num > IOPERM_PORTS - from)
		return -1;
	for (uint64_t p = from; p < from + num; p++) {
		if (on)
			map[p / 8] &= (uint8_t)~(1u << (p % 8));
		else
			map[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	return 0;
}
