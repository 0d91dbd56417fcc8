/* PVH boot, second half: turns the loader's start-info block (Xen's hvm_start_info,
 * version 1) into the boot block and command line hv-minimal's VMM would have written,
 * so everything after _start is the same on both paths. Runs before the console is set
 * up; a start-info block it cannot use leaves a boot block that bootinfo_read()
 * rejects with a message. */
#include "guest/string.h"
#include "kernel.h"

#define PVH_MAGIC 0x336ec578u
#define E820_RAM 1

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

extern char _end[];

/* Highest end of a RAM range below the largest memory hv-minimal supports. */
static uint64_t ram_end(const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *m = P2V(si->memmap_paddr);
	uint64_t end = 0;

	for (uint32_t i = 0; i < si->memmap_entries && i < 128; i++) {
		if (m[i].type != E820_RAM || m[i].addr >= HV_MAX_GUEST_MEM)
			continue;
		uint64_t e = m[i].addr + m[i].size;
		if (e > HV_MAX_GUEST_MEM)
			e = HV_MAX_GUEST_MEM;
		if (e > end)
			end = e;
	}
	return end;
}

void pvh_boot_info(uint64_t start_info_pa);

void pvh_boot_info(uint64_t start_info_pa)
{
	static char cmd[HV_CMDLINE_MAX];
	struct hv_boot_info bi;
	const struct hvm_start_info *si = P2V(start_info_pa);

	memset(&bi, 0, sizeof(bi));
	/* Only the first GiB is mapped yet: trust no address beyond it. */
	if (start_info_pa >= (1ull << 30) || si->magic != PVH_MAGIC)
		goto out;
	if (si->cmdline_paddr && si->cmdline_paddr < (1ull << 30))
		strlcpy(cmd, P2V(si->cmdline_paddr), sizeof(cmd));
	if (si->version >= 1 && si->memmap_paddr && si->memmap_paddr < (1ull << 30))
		bi.mem_bytes = ram_end(si);
	bi.magic = HV_BOOT_MAGIC;
	bi.abi_version = HV_ABI_VERSION;
	bi.nr_vcpus = 1;
	bi.cmdline_gpa = HV_BOOT_CMDLINE_GPA;
	bi.hcall_gpa = HV_BOOT_HCALL_GPA;
	bi.kernel_end_gpa = V2P(_end);
	strlcpy(bi.engine, "pvh", sizeof(bi.engine));
out:
	/* Written last: the loader's data may have been in this low memory. */
	strlcpy(P2V(HV_BOOT_CMDLINE_GPA), cmd, HV_CMDLINE_MAX);
	memcpy(P2V(HV_BOOT_INFO_GPA), &bi, sizeof(bi));
}
