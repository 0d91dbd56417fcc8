/* The boot protocols: abi.h's for hvlab's own kernel (the ELF image, boot info and
 * command line) and Linux's 64-bit one for a bzImage (zero page, command line, initrd).
 * Both start the bootstrap vCPU in long mode on the same boot page tables and GDT. */
#include <inttypes.h>
#include <string.h>

#include "hvlab/bzimage.h"
#include "hvlab/err.h"
#include "hvlab/mptable.h"
#include "hvlab/vm.h"

#define PTE_P   0x1ull
#define PTE_RW  0x2ull
#define PTE_PS  0x80ull
#define PAGE_4K 0x1000ull
#define PAGE_2M (2ull << 20)
#define GIB     (1ull << 30)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE        (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define BOOT_CS 0x10
#define BOOT_DS 0x18

/* PML4, a low and a high PDPT, then one PD per GiB of memory. */
#define PT_PML4 (HV_BOOT_PT_GPA)
#define PT_PDPT_LO (HV_BOOT_PT_GPA + PAGE_4K)
#define PT_PDPT_HI (HV_BOOT_PT_GPA + 2 * PAGE_4K)
#define PT_PD(i) (HV_BOOT_PT_GPA + (3 + (i)) * PAGE_4K)

_Static_assert(PT_PD(HV_MAX_GUEST_MEM / GIB) <= HV_BOOT_STACK_TOP - 0x10000,
	       "boot page tables run into the boot stack");
_Static_assert(HV_BOOT_HCALL_GPA + HV_MAX_VCPUS * PAGE_4K <= HV_BOOT_PT_GPA,
	       "hypercall pages run into the boot page tables");

static int put_u64(struct hv_vm *vm, uint64_t gpa, uint64_t v)
{
	return hv_gpa_write(&vm->mem, gpa, &v, sizeof(v));
}

/* Guest-physical [0, mem) mapped twice with 2 MiB pages: identity (so the entry code
 * may run before it switches to the higher half) and at HV_KERNBASE. */
static int boot_page_tables(struct hv_vm *vm)
{
	uint64_t npd = (vm->mem.size + GIB - 1) / GIB;
	uint64_t kern_pml4 = (HV_KERNBASE >> 39) & 511, kern_pdpt = (HV_KERNBASE >> 30) & 511;

	if (put_u64(vm, PT_PML4, PT_PDPT_LO | PTE_P | PTE_RW) ||
	    put_u64(vm, PT_PML4 + 8 * kern_pml4, PT_PDPT_HI | PTE_P | PTE_RW))
		return -1;
	for (uint64_t i = 0; i < npd; i++)
		if (put_u64(vm, PT_PDPT_LO + 8 * i, PT_PD(i) | PTE_P | PTE_RW) ||
		    put_u64(vm, PT_PDPT_HI + 8 * (kern_pdpt + i), PT_PD(i) | PTE_P | PTE_RW))
			return -1;
	for (uint64_t pa = 0; pa < vm->mem.size; pa += PAGE_2M)
		if (put_u64(vm, PT_PD(0) + 8 * (pa / PAGE_2M), pa | PTE_P | PTE_RW | PTE_PS))
			return -1;
	return 0;
}

static int boot_gdt(struct hv_vm *vm)
{
	const uint64_t gdt[4] = {
		0,
		0,
		0x00af9b000000ffffull,   /* 0x10: code, 64-bit (L), DPL 0, present */
		0x00cf93000000ffffull,   /* 0x18: data, writable, DPL 0, present */
	};

	return hv_gpa_write(&vm->mem, HV_BOOT_GDT_GPA, gdt, sizeof(gdt));
}

static int boot_info(struct hv_vm *vm, const char *cmdline)
{
	struct hv_boot_info bi;
	size_t clen = strlen(cmdline);

	if (clen >= HV_CMDLINE_MAX)
		return hv_err_set("the guest command line is %zu bytes; at most %d fit", clen,
				  HV_CMDLINE_MAX - 1);
	memset(&bi, 0, sizeof(bi));
	bi.magic = HV_BOOT_MAGIC;
	bi.abi_version = HV_ABI_VERSION;
	bi.nr_vcpus = vm->nr_vcpus;
	bi.mem_bytes = vm->mem.size;
	bi.cmdline_gpa = HV_BOOT_CMDLINE_GPA;
	bi.hcall_gpa = HV_BOOT_HCALL_GPA;
	bi.tsc_khz = vm->ops->tsc_khz(vm->eng);
	bi.devices = HV_DEV_RESULT_PORT | HV_DEV_HCALL;
	bi.kernel_end_gpa = (vm->image.paddr_end + PAGE_4K - 1) & ~(PAGE_4K - 1);
	strncpy(bi.engine, vm->ops->name, sizeof(bi.engine) - 1);
	if (hv_gpa_write(&vm->mem, HV_BOOT_INFO_GPA, &bi, sizeof(bi)))
		return -1;
	return hv_gpa_write(&vm->mem, HV_BOOT_CMDLINE_GPA, cmdline, clen + 1);
}

static struct hv_segment flat_segment(uint16_t selector, int code)
{
	return (struct hv_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector,
		.type = code ? 0xb : 0x3,      /* execute/read or read/write, accessed */
		.present = 1, .dpl = 0, .s = 1, .g = 1,
		.l = code ? 1 : 0, .db = code ? 0 : 1,
	};
}

/* Long mode at entry with interrupts off; rsi and rdi carry the boot argument (Linux
 * reads rsi, hvlab's kernel rdi). */
static int boot_vcpu_state(struct hv_vm *vm, uint64_t entry, uint64_t arg, uint64_t rsp)
{
	struct hv_engine_vcpu *c = vm->vcpu[0].eng;
	struct hv_sregs s;
	struct hv_regs r;

	if (vm->ops->get_sregs(c, &s))
		return -1;
	s.cs = flat_segment(BOOT_CS, 1);
	s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(BOOT_DS, 0);
	/* Entry checks want a usable TR (busy 64-bit TSS) even though nothing uses it yet. */
	s.tr = (struct hv_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt = (struct hv_segment){ .type = 0x2, .unusable = 1 };
	s.gdt = (struct hv_dtable){ .base = HV_BOOT_GDT_GPA, .limit = 4 * 8 - 1 };
	s.idt = (struct hv_dtable){ .base = 0, .limit = 0 };
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr2 = 0;
	s.cr3 = PT_PML4;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (vm->ops->set_sregs(c, &s))
		return -1;
	memset(&r, 0, sizeof(r));
	r.rip = entry;
	r.rdi = r.rsi = arg;
	r.rsp = rsp;
	r.rflags = 0x2;
	return vm->ops->set_regs(c, &r);
}

/* The first instruction must be reachable through the boot page tables. */
static int entry_mapped(const struct hv_vm *vm, uint64_t entry)
{
	return entry < vm->mem.size ||
	       (entry >= HV_KERNBASE && entry - HV_KERNBASE < vm->mem.size);
}

int hv_vm_boot(struct hv_vm *vm, const char *name, const void *elf, size_t elf_len,
	       const char *cmdline)
{
	if (hv_elf_parse(name, elf, elf_len, vm->mem.size, HV_BOOT_RESERVED_END, &vm->image))
		return -1;
	if (!entry_mapped(vm, vm->image.entry))
		return hv_err_set("%s: entry point %#" PRIx64 " is neither in guest-physical memory "
				  "nor in its map at %#llx: the boot page tables do not reach it",
				  name, vm->image.entry, HV_KERNBASE);
	/* Booted once, into the fresh memfd of hv_guestmem: it still reads as zeros. */
	if (hv_elf_load(&vm->image, elf, elf_len, vm->mem.host, vm->mem.size, 1) ||
	    boot_page_tables(vm) || boot_gdt(vm) || boot_info(vm, cmdline) ||
	    boot_vcpu_state(vm, vm->image.entry, HV_BOOT_INFO_GPA,
			    HV_KERNBASE + HV_BOOT_STACK_TOP))
		return -1;
	return 0;
}

int hv_vm_boot_linux(struct hv_vm *vm, const char *name, const void *image, size_t len,
		     const char *initrd_name, const void *initrd, size_t initrd_len,
		     const char *cmdline)
{
	struct hv_bzimage bz;
	uint64_t initrd_gpa = 0;
	uint8_t zp[4096];
	size_t clen = strlen(cmdline);

	if (hv_bzimage_parse(name, image, len, vm->mem.size, &bz))
		return -1;
	if (clen >= HV_LINUX_CMDLINE_MAX || clen > bz.cmdline_size)
		return hv_err_set("the command line is %zu bytes; %s takes at most %u (cmdline_size)",
				  clen, name, bz.cmdline_size < HV_LINUX_CMDLINE_MAX - 1 ?
				  bz.cmdline_size : HV_LINUX_CMDLINE_MAX - 1);
	if (initrd) {
		if (hv_initrd_check(initrd_name, initrd, initrd_len) ||
		    hv_initrd_place(&bz, vm->mem.size, initrd_len, &initrd_gpa))
			return -1;
		if (hv_gpa_write(&vm->mem, initrd_gpa, initrd, initrd_len))
			return -1;
	}
	vm->linux_kernel = bz;
	vm->is_linux = 1;
	/* The interrupt controllers the table describes are those of an engine with ISA
	 * lines (KVM's in-kernel irqchip); without them Linux stays with its local APIC. */
	if (vm->ops->irq_line && hv_mptable_write(vm))
		return -1;
	if (hv_gpa_write(&vm->mem, bz.load_gpa, (const uint8_t *)image + bz.setup_bytes,
			 bz.kernel_bytes) ||
	    hv_bzimage_zero_page(&bz, image, vm->mem.size, HV_LINUX_CMDLINE_GPA, initrd_gpa,
				 initrd ? initrd_len : 0, zp) ||
	    hv_gpa_write(&vm->mem, HV_LINUX_ZERO_PAGE_GPA, zp, sizeof(zp)) ||
	    hv_gpa_write(&vm->mem, HV_LINUX_CMDLINE_GPA, cmdline, clen + 1) ||
	    boot_page_tables(vm) || boot_gdt(vm) ||
	    boot_vcpu_state(vm, bz.entry64, HV_LINUX_ZERO_PAGE_GPA, HV_BOOT_STACK_TOP))
		return -1;
	return 0;
}
