/* PVH boot, second half: turns the loader's start-info block (Xen's hvm_start_info,
 * version 1) into the boot block and command line hv-minimal's VMM would have written,
 * so everything after _start is the same on both paths. The CPUs come from the ACPI
 * MADT the start info points at. Runs before the console is set up; a start-info
 * block it cannot use leaves a boot block that bootinfo_read() rejects with a
 * message. */
#include "guest/string.h"
#include "kernel.h"
#include "smp.h"

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

/* Only the first GiB is mapped yet: trust no address beyond it. */
#define LOW_LIMIT (1ull << 30)
#define MADT_LAPIC 0
#define MADT_ENABLED 1u

struct acpi_header {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static const void *low_ptr(uint64_t pa, uint64_t len)
{
	return pa && pa < LOW_LIMIT && len <= LOW_LIMIT - pa ? P2V(pa) : NULL;
}

/* The table with signature sig among the RSDT's (4-byte) or XSDT's (8-byte) entries. */
static const struct acpi_header *acpi_find(uint64_t rsdp_pa, const char *sig)
{
	const uint8_t *rsdp = low_ptr(rsdp_pa, 36);

	if (!rsdp || memcmp(rsdp, "RSD PTR ", 8))
		return NULL;
	uint64_t root;
	int wide = rsdp[15] >= 2;
	if (wide)
		memcpy(&root, rsdp + 24, 8);
	else {
		uint32_t r32;
		memcpy(&r32, rsdp + 16, 4);
		root = r32;
	}
	const struct acpi_header *rt = low_ptr(root, sizeof(*rt));
	if (!rt || !low_ptr(root, rt->length) || rt->length < sizeof(*rt))
		return NULL;
	unsigned esz = wide ? 8 : 4, n = (rt->length - (unsigned)sizeof(*rt)) / esz;
	for (unsigned i = 0; i < n; i++) {
		uint64_t pa = 0;
		memcpy(&pa, (const uint8_t *)rt + sizeof(*rt) + i * esz, esz);
		const struct acpi_header *h = low_ptr(pa, sizeof(*h));
		if (h && !memcmp(h->sig, sig, 4) && low_ptr(pa, h->length))
			return h;
	}
	return NULL;
}

/* Enabled local APICs of the MADT into boot_cpus; returns their number. */
static uint32_t madt_cpus(uint64_t rsdp_pa)
{
	const struct acpi_header *madt = acpi_find(rsdp_pa, "APIC");

	boot_cpus.n = 0;
	if (!madt || madt->length < sizeof(*madt) + 8)
		return 0;
	const uint8_t *p = (const uint8_t *)madt + sizeof(*madt) + 8;
	const uint8_t *end = (const uint8_t *)madt + madt->length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == MADT_LAPIC && p[1] >= 8 && boot_cpus.n < HV_MAX_VCPUS) {
			uint32_t flags;
			memcpy(&flags, p + 4, 4);
			if (flags & MADT_ENABLED)
				boot_cpus.apic_id[boot_cpus.n++] = p[3];
		}
		p += p[1];
	}
	return boot_cpus.n;
}

void pvh_boot_info(uint64_t start_info_pa);

void pvh_boot_info(uint64_t start_info_pa)
{
	static char cmd[HV_CMDLINE_MAX];
	struct hv_boot_info bi;
	const struct hvm_start_info *si = P2V(start_info_pa);

	memset(&bi, 0, sizeof(bi));
	if (start_info_pa >= LOW_LIMIT || si->magic != PVH_MAGIC)
		goto out;
	if (si->cmdline_paddr && si->cmdline_paddr < (1ull << 30))
		strlcpy(cmd, P2V(si->cmdline_paddr), sizeof(cmd));
	if (si->version >= 1 && si->memmap_paddr && si->memmap_paddr < (1ull << 30))
		bi.mem_bytes = ram_end(si);
	bi.magic = HV_BOOT_MAGIC;
	bi.abi_version = HV_ABI_VERSION;
	bi.nr_vcpus = si->version >= 1 && madt_cpus(si->rsdp_paddr) ? boot_cpus.n : 1;
	bi.cmdline_gpa = HV_BOOT_CMDLINE_GPA;
	bi.hcall_gpa = HV_BOOT_HCALL_GPA;
	bi.kernel_end_gpa = V2P(_end);
	strlcpy(bi.engine, "pvh", sizeof(bi.engine));
out:
	/* Written last: the loader's data may have been in this low memory. */
	strlcpy(P2V(HV_BOOT_CMDLINE_GPA), cmd, HV_CMDLINE_MAX);
	memcpy(P2V(HV_BOOT_INFO_GPA), &bi, sizeof(bi));
}
