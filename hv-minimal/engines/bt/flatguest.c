/* The flat test guest (flatguest.h). */
#include <string.h>

#include "flatguest.h"
#include "hvlab/abi.h"
#include "hvlab/err.h"

#define P  0x1ull
#define W  0x2ull
#define U  0x4ull
#define PS 0x80ull

static void put64(struct flat_guest *g, uint64_t gpa, uint64_t v)
{
	memcpy(g->mem.host + gpa, &v, 8);
}

void *flat_ptr(struct flat_guest *g, uint64_t gpa)
{
	return hv_gpa_ptr(&g->mem, gpa, 1);
}

int flat_load(struct flat_guest *g, uint64_t gpa, const void *src, size_t len)
{
	return hv_gpa_write(&g->mem, gpa, src, len);
}

void flat_set_pte(struct flat_guest *g, uint64_t va, uint64_t flags)
{
	uint64_t page = va & ~0xfffull;

	put64(g, FLAT_PT + 8 * (page >> 12), flags ? (page | flags) : 0);
}

static void tables(struct flat_guest *g)
{
	static const uint64_t gdt[] = {
		0, 0,
		0x00af9b000000ffffull,     /* 0x10 kernel code, 64-bit */
		0x00cf93000000ffffull,     /* 0x18 kernel data */
		0x00cffb000000ffffull,     /* 0x20 user code, 32-bit */
		0x00cff3000000ffffull,     /* 0x28 user data */
		0x00affb000000ffffull,     /* 0x30 user code, 64-bit */
		0,
	};
	uint64_t tss = HV_KERNBASE + FLAT_TSS;

	put64(g, FLAT_PML4, FLAT_PDPT_LO | P | W | U);
	put64(g, FLAT_PML4 + 8 * 511, FLAT_PDPT_HI | P | W);
	put64(g, FLAT_PDPT_LO, FLAT_PD | P | W | U);
	put64(g, FLAT_PDPT_HI + 8 * 510, FLAT_PD | P | W | U);
	put64(g, FLAT_PD, FLAT_PT | P | W | U);
	for (uint64_t i = 1; i < FLAT_MEM >> 21; i++)
		put64(g, FLAT_PD + 8 * i, (i << 21) | P | W | PS |
		      ((i << 21) == FLAT_USER ? U : 0));
	for (uint64_t a = 0; a < (2u << 20); a += 4096)
		flat_set_pte(g, a, a ? P | W : 0);   /* page 0 stays unmapped */
	/* the 4th GiB: the LAPIC's and the unbacked MMIO's 2 MiB pages, uncached */
	put64(g, FLAT_PDPT_LO + 8 * 3, FLAT_PD_DEV | P | W);
	put64(g, FLAT_PD_DEV + 8 * ((FLAT_LAPIC >> 21) & 511), FLAT_LAPIC | P | W | PS | 0x18);
	put64(g, FLAT_PD_DEV + 8 * ((FLAT_MMIO >> 21) & 511), FLAT_MMIO | P | W | PS | 0x18);

	memcpy(g->mem.host + FLAT_GDT, gdt, sizeof(gdt));
	/* 0x40: the 64-bit TSS, 16 bytes */
	put64(g, FLAT_GDT + 0x40, 0x67 | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
	      (((tss >> 24) & 0xff) << 56));
	put64(g, FLAT_GDT + 0x48, tss >> 32);
	put64(g, FLAT_TSS + 4, HV_KERNBASE + FLAT_STACK0);
	put64(g, FLAT_TSS + 0x24, HV_KERNBASE + FLAT_STACK_IST);

	for (uint64_t v = 0; v < 256; v++) {
		uint64_t h = HV_KERNBASE + FLAT_STUBS + 16 * v;
		uint8_t stub[16] = { 0x41, 0xbf, (uint8_t)v, 0, 0, 0,      /* mov $v, %r15d */
				     0xe6, FLAT_PORT_TRAP,                /* out %al, $0x98 */
				     0xeb, 0xfe };                        /* jmp . */
		uint64_t lo = (h & 0xffff) | ((uint64_t)FLAT_SEL_KCODE << 16) |
			      ((v == 8 ? 1ull : 0) << 32) | (0xeeull << 40) |
			      ((h >> 16) & 0xffff) << 48;

		memcpy(g->mem.host + FLAT_STUBS + 16 * v, stub, sizeof(stub));
		put64(g, FLAT_IDT + 16 * v, lo);
		put64(g, FLAT_IDT + 16 * v + 8, h >> 32);
	}
}

int flat_create(struct flat_guest *g, const struct hv_engine_ops *ops)
{
	struct hv_vm_config cfg = { .nr_vcpus = 1, .mem_bytes = FLAT_MEM };

	memset(g, 0, sizeof(*g));
	g->ops = ops;
	g->mem.fd = -1;
	if (hv_guestmem_create(&g->mem, FLAT_MEM))
		return -1;
	if (ops->vm_create(&cfg, &g->vm) ||
	    ops->mem_add(g->vm, 0, 0, g->mem.size, g->mem.host, g->mem.fd, 0) ||
	    ops->vcpu_create(g->vm, 0, &g->vcpu)) {
		flat_destroy(g);
		return -1;
	}
	tables(g);
	return 0;
}

void flat_destroy(struct flat_guest *g)
{
	if (g->vcpu)
		g->ops->vcpu_destroy(g->vcpu);
	if (g->vm)
		g->ops->vm_destroy(g->vm);
	hv_guestmem_destroy(&g->mem);
	memset(g, 0, sizeof(*g));
}

static struct hv_segment seg(uint16_t sel, int code, unsigned dpl)
{
	return (struct hv_segment){
		.selector = sel, .limit = 0xffffffff, .type = code ? 0xb : 0x3, .present = 1,
		.dpl = (uint8_t)dpl, .s = 1, .l = code ? 1 : 0, .db = code ? 0 : 1, .g = 1,
	};
}

int flat_start(struct flat_guest *g, const struct hv_regs *r, unsigned cpl, uint64_t gs_base)
{
	struct hv_sregs s;

	if (g->ops->get_sregs(g->vcpu, &s))
		return -1;
	s.cs = seg(cpl ? FLAT_SEL_UCODE : FLAT_SEL_KCODE, 1, cpl);
	s.ss = seg(cpl ? FLAT_SEL_UDATA : FLAT_SEL_KDATA, 0, cpl);
	s.ds = s.es = s.fs = s.gs = seg(cpl ? FLAT_SEL_UDATA : FLAT_SEL_KDATA, 0, cpl);
	s.gs.base = gs_base;
	s.tr = (struct hv_segment){ .selector = FLAT_SEL_TSS, .base = HV_KERNBASE + FLAT_TSS,
				    .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt = (struct hv_segment){ .type = 2, .unusable = 1 };
	s.gdt = (struct hv_dtable){ .base = HV_KERNBASE + FLAT_GDT, .limit = 0x4f };
	s.idt = (struct hv_dtable){ .base = HV_KERNBASE + FLAT_IDT, .limit = 0xfff };
	s.cr0 = 0x80050033;          /* PE MP ET NE WP AM PG */
	s.cr3 = FLAT_PML4;
	s.cr4 = 0x620;               /* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0xd01;              /* SCE LME LMA NXE */
	if (g->ops->set_sregs(g->vcpu, &s))
		return -1;
	return g->ops->set_regs(g->vcpu, r);
}

unsigned flat_mmio_writes;

int flat_start_kernel(struct flat_guest *g, uint64_t rbx)
{
	struct hv_regs r = { .rip = HV_KERNBASE + FLAT_CODE, .rsp = HV_KERNBASE + FLAT_STACK,
			     .rbx = rbx, .rflags = 2 };

	return flat_start(g, &r, 0, 0);
}

int flat_run(struct flat_guest *g, uint16_t *port)
{
	for (int i = 0; i < 1000; i++) {
		struct hv_exit e;

		if (g->ops->vcpu_run(g->vcpu, &e))
			return -1;
		switch (e.kind) {
		case HV_VMEXIT_IO:
			if (e.u.io.dir == HV_IO_OUT && (e.u.io.port == FLAT_PORT_DONE ||
							e.u.io.port == FLAT_PORT_TRAP)) {
				*port = e.u.io.port;
				return 0;
			}
			if (e.u.io.dir == HV_IO_IN)
				memset(e.u.io.data, 0xab, (size_t)e.u.io.size * e.u.io.count);
			continue;              /* other ports: go on */
		case HV_VMEXIT_MMIO:
			if (e.u.mmio.is_write)
				flat_mmio_writes++;
			else
				memset(e.u.mmio.data, 0xab, e.u.mmio.len);
			continue;
		case HV_VMEXIT_INTERRUPTED:
			continue;
		case HV_VMEXIT_INTERNAL:
			return hv_err_set("internal exit: %s", e.u.internal.what);
		case HV_VMEXIT_SHUTDOWN:
			return hv_err_set("shutdown: %s", e.u.shutdown.what);
		default:
			return hv_err_set("unexpected exit %s", hv_exit_kind_name(e.kind));
		}
	}
	return hv_err_set("the flat guest did not finish in 1000 exits");
}
