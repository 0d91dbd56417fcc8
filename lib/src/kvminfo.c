/* KVM flavour and paging mode, read from sysfs module parameters. */
#include <cpuid.h>
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
	FILE *f;

	snprintf(path, sizeof(path), "%s/module/%s/parameters/%s", sysfs, mod, param);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(val, (int)size, f))
		val[0] = 0;
	fclose(f);
	val[strcspn(val, " \t\r\n")] = 0;
	return 0;
}

static int truthy(const char *v)
{
	return !strcmp(v, "Y") || !strcmp(v, "y") || !strcmp(v, "1");
}

int hv_kvm_detect(struct hv_kvm_info *info, const char *sysfs_root, const char *dev_kvm)
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
	return 0;
}

int hv_host_user_fsgsbase(void)
{
	return (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
}

void hv_host_kind_line(char *buf, size_t len)
{
	struct hv_kvm_info k;

	hv_kvm_detect(&k, "/sys", "/dev/kvm");
	char sig[13], outer[96] = "";

	hv_host_hypervisor(sig);
	if (sig[0])
		snprintf(outer, sizeof(outer), "; itself under %s%s", sig,
			 hv_host_under_tcg() ? " (QEMU TCG: times are emulated)" : "");
	if (k.usable)
		snprintf(buf, len, "/dev/kvm %s (paging %s); user-mode FSGSBASE %s%s", k.flavour,
			 k.paging, hv_host_user_fsgsbase() ? "yes" : "no", outer);
	else
		snprintf(buf, len, "/dev/kvm unusable (%s; module %s); user-mode FSGSBASE %s%s",
			 k.why, k.flavour, hv_host_user_fsgsbase() ? "yes" : "no", outer);
}

void hv_host_hypervisor(char sig[13])
{
	unsigned a, b, c, d;

	sig[0] = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 31)))
		return;
	__cpuid(0x40000000, a, b, c, d);
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
