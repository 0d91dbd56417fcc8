/* KVM flavour and paging mode, read from sysfs module parameters; whether the host is
 * itself a VM, from CPUID and DMI. */
#include <cpuid.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvlab/kvminfo.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif
#define KVM_GET_API_VERSION_IOCTL 0xAE00   /* _IO(KVMIO, 0x00) */
#define KVM_API_VERSION_12 12

/* The first line of path into out, cut at the first of stop; -1 when unreadable. */
static int read_first_line(const char *path, char *out, size_t size, const char *stop)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (!fgets(out, (int)size, f))
		out[0] = 0;
	fclose(f);
	out[strcspn(out, stop)] = 0;
	return 0;
}

static int module_loaded(const char *sysfs, const char *mod)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/module/%s", sysfs, mod);
	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

/* Reads the first word of <sysfs>/module/<mod>/parameters/<param>; -1 if absent. */
static int read_param(const char *sysfs, const char *mod, const char *param,
		      char *val, size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/module/%s/parameters/%s", sysfs, mod, param);
	return read_first_line(path, val, size, " \t\r\n");
}

static int truthy(const char *v)
{
	return !strcmp(v, "Y") || !strcmp(v, "y") || !strcmp(v, "1");
}

/* ---- Is the host a VM? ---- */

#define CPUID_HYPERVISOR_BIT (1u << 31)   /* CPUID.1:ECX */
#define CPUID_HYPERVISOR_LEAF 0x40000000u

static void read_cpuid(struct hv_host_vm *vm)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d)) {
		vm->cpuid_bit = -1;
		snprintf(vm->cpuid_vendor, sizeof(vm->cpuid_vendor), "unavailable: no CPUID leaf 1");
		return;
	}
	vm->cpuid_bit = (c & CPUID_HYPERVISOR_BIT) != 0;
	if (!vm->cpuid_bit) {
		snprintf(vm->cpuid_vendor, sizeof(vm->cpuid_vendor),
			 "unavailable: no hypervisor leaf (the hypervisor bit is clear)");
		return;
	}
	char sig[13];
	size_t n = 0;

	hv_host_hypervisor(sig);
	for (size_t i = 0; i < 12 && sig[i]; i++)
		n += isprint((unsigned char)sig[i]) != 0;
	if (n == 0)
		snprintf(vm->cpuid_vendor, sizeof(vm->cpuid_vendor),
			 "unavailable: leaf %#x names no hypervisor", CPUID_HYPERVISOR_LEAF);
	else
		for (size_t i = 0, o = 0; i <= 12; i++)
			if (!sig[i] || isprint((unsigned char)sig[i]))
				vm->cpuid_vendor[o++] = sig[i];
#else
	vm->cpuid_bit = -1;
	snprintf(vm->cpuid_vendor, sizeof(vm->cpuid_vendor), "unavailable: not an x86 CPU");
#endif
}

/* The first line of <sysfs>/class/dmi/id/<name> into out; -1 with errno when unreadable. */
static int read_dmi(const char *sysfs, const char *name, char *out, size_t size)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/class/dmi/id/%s", sysfs, name);
	return read_first_line(path, out, size, "\r\n");
}

static void read_dmi_all(struct hv_host_vm *vm, const char *sysfs)
{
	static const char *const names[] = { "sys_vendor", "product_name", "bios_vendor" };
	size_t len = 0;
	int err = 0;

	vm->dmi[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char v[96];

		if (read_dmi(sysfs, names[i], v, sizeof(v))) {
			err = errno;
			continue;
		}
		len += (size_t)snprintf(vm->dmi + len, len < sizeof(vm->dmi) ? sizeof(vm->dmi) - len
					: 0, "%s%s '%s'", len ? ", " : "", names[i], v);
		if (len >= sizeof(vm->dmi))
			break;
	}
	if (!vm->dmi[0])
		snprintf(vm->dmi, sizeof(vm->dmi), "unavailable: %s/class/dmi/id: %s", sysfs,
			 strerror(err ? err : ENOENT));
}

/* Names that only virtual platforms put in DMI (matched without regard to case). A
 * cloud vendor's name alone is not one: its bare-metal machines carry it too. */
static const char *dmi_virtual_platform(const char *dmi)
{
	static const char *const marks[] = {
		"QEMU", "KVM", "VMware", "VirtualBox", "innotek", "Xen", "Bochs", "Parallels",
		"Virtual Machine", "BHYVE", "Google Compute Engine", "Firecracker",
	};

	if (!strncmp(dmi, "unavailable", 11))
		return NULL;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
		if (strcasestr(dmi, marks[i]))
			return marks[i];
	return NULL;
}

void hv_host_vm_judge(struct hv_host_vm *vm)
{
	const char *mark = dmi_virtual_platform(vm->dmi);

	if (vm->cpuid_bit == 1) {
		vm->is_vm = 1;
		snprintf(vm->how, sizeof(vm->how), "the CPUID hypervisor bit (leaf 1, ECX bit 31) "
			 "is set%s%s", strncmp(vm->cpuid_vendor, "unavailable", 11) ?
			 "; hypervisor " : "", strncmp(vm->cpuid_vendor, "unavailable", 11) ?
			 vm->cpuid_vendor : "");
	} else if (mark) {
		vm->is_vm = 1;
		snprintf(vm->how, sizeof(vm->how), "DMI names a virtual platform ('%s')%s", mark,
			 vm->cpuid_bit == 0 ? " though the CPUID hypervisor bit is clear (hidden)"
			 : "");
	} else if (vm->cpuid_bit == 0) {
		vm->is_vm = 0;
		snprintf(vm->how, sizeof(vm->how), "the CPUID hypervisor bit is clear and DMI %s",
			 strncmp(vm->dmi, "unavailable", 11) ? "names no virtual platform"
			 : "cannot be read");
	} else {
		vm->is_vm = -1;
		snprintf(vm->how, sizeof(vm->how), "unavailable: no CPUID hypervisor bit on this "
			 "CPU and DMI %s", strncmp(vm->dmi, "unavailable", 11) ?
			 "names no virtual platform" : "cannot be read");
	}
}

void hv_host_vm_detect(struct hv_host_vm *vm, const char *sysfs_root)
{
	memset(vm, 0, sizeof(*vm));
	read_cpuid(vm);
	read_dmi_all(vm, sysfs_root ? sysfs_root : "/sys");
	hv_host_vm_judge(vm);
}

/* ---- KVM ---- */

/* Paging a KVM does in hardware (or in shadow tables of its own) is, on a host that is
 * itself a VM, emulated for it by the outer hypervisor: say so in the name. */
static void mark_nested(struct hv_kvm_info *info, const struct hv_host_vm *host)
{
	size_t len = strlen(info->paging);

	info->nested = host && host->is_vm == 1;
	if (!info->nested)
		return;
	if (!strcmp(info->paging, "ept") || !strcmp(info->paging, "npt") ||
	    !strcmp(info->paging, "shadow-kvm"))
		snprintf(info->paging + len, sizeof(info->paging) - len, "-nested");
}

int hv_kvm_detect(struct hv_kvm_info *info, const char *sysfs_root, const char *dev_kvm)
{
	struct hv_host_vm host;

	hv_host_vm_detect(&host, sysfs_root);
	return hv_kvm_detect_on(info, sysfs_root, dev_kvm, &host);
}

int hv_kvm_detect_on(struct hv_kvm_info *info, const char *sysfs_root, const char *dev_kvm,
		     const struct hv_host_vm *host)
{
	char val[64];
	int fd;

	memset(info, 0, sizeof(*info));
	if (!sysfs_root)
		sysfs_root = "/sys";
	if (!dev_kvm)
		dev_kvm = "/dev/kvm";

	fd = open(dev_kvm, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		info->present = 1;
		/* a stand-in (e.g. /dev/null bound over it in a container) opens too */
		info->usable = ioctl(fd, KVM_GET_API_VERSION_IOCTL, 0) == KVM_API_VERSION_12;
		if (!info->usable)
			snprintf(info->why, sizeof(info->why),
				 "%s opens but does not answer KVM_GET_API_VERSION with 12: not a "
				 "KVM device", dev_kvm);
		close(fd);
	} else {
		snprintf(info->why, sizeof(info->why), "%s: %s%s", dev_kvm, strerror(errno),
			 errno == ENOENT ? " (load kvm_intel or kvm_amd)" :
			 errno == EACCES ? " (add the user to group kvm)" : "");
	}

	if (module_loaded(sysfs_root, "kvm_intel")) {
		snprintf(info->flavour, sizeof(info->flavour), "kvm_intel");
		if (read_param(sysfs_root, "kvm_intel", "ept", val, sizeof(val)) == 0) {
			snprintf(info->paging, sizeof(info->paging), truthy(val) ? "ept" : "shadow-kvm");
		} else {
			snprintf(info->paging, sizeof(info->paging), "unknown");
			if (info->present)
				snprintf(info->why, sizeof(info->why),
					 "%s/module/kvm_intel/parameters/ept is missing", sysfs_root);
		}
	} else if (module_loaded(sysfs_root, "kvm_amd")) {
		snprintf(info->flavour, sizeof(info->flavour), "kvm_amd");
		if (read_param(sysfs_root, "kvm_amd", "npt", val, sizeof(val)) == 0) {
			snprintf(info->paging, sizeof(info->paging), truthy(val) ? "npt" : "shadow-kvm");
		} else {
			snprintf(info->paging, sizeof(info->paging), "unknown");
			if (info->present)
				snprintf(info->why, sizeof(info->why),
					 "%s/module/kvm_amd/parameters/npt is missing", sysfs_root);
		}
	} else if (module_loaded(sysfs_root, "kvm_pvm")) {
		/* PVM runs guests without VT-x/AMD-V: always shadow paging. */
		snprintf(info->flavour, sizeof(info->flavour), "kvm_pvm");
		snprintf(info->paging, sizeof(info->paging), "shadow-pvm");
	} else {
		snprintf(info->flavour, sizeof(info->flavour), info->present ? "unknown" : "none");
		snprintf(info->paging, sizeof(info->paging), info->present ? "unknown" : "none");
		if (info->present)
			snprintf(info->why, sizeof(info->why),
				 "%s opens but none of kvm_intel, kvm_amd, kvm_pvm is in %s/module",
				 dev_kvm, sysfs_root);
		else {
			size_t len = strlen(info->why);
			snprintf(info->why + len, sizeof(info->why) - len,
				 "; no kvm_intel, kvm_amd or kvm_pvm in %s/module", sysfs_root);
		}
	}
	mark_nested(info, host);
	return 0;
}

int hv_host_user_fsgsbase(void)
{
	return (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
}

void hv_host_kind_line(char *buf, size_t len)
{
	struct hv_host_vm host;
	struct hv_kvm_info k;
	char vm[160];

	hv_host_vm_detect(&host, "/sys");
	hv_kvm_detect_on(&k, "/sys", "/dev/kvm", &host);
	if (host.is_vm == 1)
		snprintf(vm, sizeof(vm), "host is a VM%s%s%s%s",
			 strncmp(host.cpuid_vendor, "unavailable", 11) ? " (" : "",
			 strncmp(host.cpuid_vendor, "unavailable", 11) ? host.cpuid_vendor : "",
			 hv_host_under_tcg() ? ": QEMU TCG, times are emulated" : "",
			 strncmp(host.cpuid_vendor, "unavailable", 11) ? ")" : "");
	else
		snprintf(vm, sizeof(vm), "host is %s", host.is_vm == 0 ? "not a VM" :
			 "perhaps a VM (not known)");
	if (k.usable)
		snprintf(buf, len, "/dev/kvm %s (paging %s); %s; user-mode FSGSBASE %s", k.flavour,
			 k.paging, vm, hv_host_user_fsgsbase() ? "yes" : "no");
	else
		snprintf(buf, len, "/dev/kvm unusable (%s; module %s); %s; user-mode FSGSBASE %s",
			 k.why, k.flavour, vm, hv_host_user_fsgsbase() ? "yes" : "no");
}

void hv_host_hypervisor(char sig[13])
{
	unsigned a, b, c, d;

	sig[0] = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & CPUID_HYPERVISOR_BIT))
		return;
	/* Leaf 0x40000000 is defined only when the bit is set: EBX, ECX, EDX spell the
	 * hypervisor's name, e.g. "KVMKVMKVM\0\0\0", "Microsoft Hv", "VMwareVMware". */
	__cpuid(CPUID_HYPERVISOR_LEAF, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
}

int hv_host_under_tcg(void)
{
	char sig[13];

	hv_host_hypervisor(sig);
	return !strcmp(sig, "TCGTCGTCGTCG");
}

const char *hv_kvm_module_param(const char *mod, const char *param, char *buf, size_t len)
{
	if (read_param("/sys", mod, param, buf, len))
		snprintf(buf, len, "absent");
	return buf;
}
