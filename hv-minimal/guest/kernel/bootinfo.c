/* Reads the boot info block and the command line the VMM left in low memory. The
 * block is checked like any input: a kernel for real machines cannot trust its loader
 * to have filled it in right. */
#include "guest/string.h"
#include "guest/uapi.h"
#include "kernel.h"

struct kconfig kcfg;

extern char _end[];   /* linker: end of the kernel image */

void bootinfo_read(uint64_t boot_gpa)
{
	if (boot_gpa >= HV_BOOT_RESERVED_END || boot_gpa % 8)
		panic("boot info address %#lx is not in low memory", boot_gpa);
	const struct hv_boot_info *bi = P2V(boot_gpa);

	if (bi->magic != HV_BOOT_MAGIC)
		panic("boot info magic %#lx, expected %#llx", bi->magic, HV_BOOT_MAGIC);
	if (bi->abi_version != HV_ABI_VERSION)
		panic("boot info ABI version %u, this kernel speaks %u", bi->abi_version,
		      HV_ABI_VERSION);

	uint64_t mem = bi->mem_bytes;
	if (mem > HV_MAX_GUEST_MEM)
		panic("memory size %#lx exceeds %#llx", mem, HV_MAX_GUEST_MEM);
	/* The direct map uses 2 MiB pages: memory is used in whole 2 MiB units. */
	mem &= ~(uint64_t)(HUGE_SIZE - 1);
	uint64_t image_end = (V2P(_end) + PAGE_SIZE - 1) & PAGE_MASK;
	if (mem < image_end + HUGE_SIZE)
		panic("memory size %#lx leaves no room after the kernel (ends at %#lx)",
		      bi->mem_bytes, image_end);
	kcfg.mem_bytes = mem;

	uint64_t kend = (bi->kernel_end_gpa + PAGE_SIZE - 1) & PAGE_MASK;
	kcfg.kernel_end_gpa = kend > image_end && kend < mem ? kend : image_end;

	if (bi->nr_vcpus < 1 || bi->nr_vcpus > HV_MAX_VCPUS)
		panic("boot info says %u vCPUs (1..%d)", bi->nr_vcpus, HV_MAX_VCPUS);
	kcfg.nr_vcpus = bi->nr_vcpus;
	if (bi->hcall_gpa % PAGE_SIZE ||
	    bi->hcall_gpa + (uint64_t)bi->nr_vcpus * PAGE_SIZE > HV_BOOT_RESERVED_END)
		panic("hypercall pages at %#lx are not page aligned in low memory", bi->hcall_gpa);
	kcfg.hcall_gpa = bi->hcall_gpa;
	kcfg.tsc_khz = bi->tsc_khz;
	kcfg.devices = bi->devices;
	memcpy(kcfg.engine, bi->engine, sizeof(kcfg.engine));
	kcfg.engine[sizeof(kcfg.engine) - 1] = 0;

	if (bi->cmdline_gpa >= HV_BOOT_RESERVED_END)
		panic("command line at %#lx is not in low memory", bi->cmdline_gpa);
	const char *cmd = P2V(bi->cmdline_gpa);
	size_t room = HV_BOOT_RESERVED_END - bi->cmdline_gpa;
	size_t len = strnlen(cmd, room < HV_CMDLINE_MAX ? room : HV_CMDLINE_MAX);
	if (len >= sizeof(kcfg.cmdline))
		panic("command line is not terminated within %d bytes", HV_CMDLINE_MAX);
	memcpy(kcfg.cmdline, cmd, len);
	kcfg.cmdline[len] = 0;
}
