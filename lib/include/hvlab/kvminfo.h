/* What the host's KVM is: flavour and paging mode, read from /sys/module, never assumed. */
#ifndef HVLAB_KVMINFO_H
#define HVLAB_KVMINFO_H
#include <stddef.h>

/* Whether the host is itself a virtual machine. Its KVM then runs nested: what it calls
 * ept or npt is nested paging emulated for it by the outer hypervisor, which is not
 * what a bare-metal host's ept or npt measures. */
struct hv_host_vm {
	int is_vm;               /* 1 a VM, 0 no sign of one, -1 not known */
	int cpuid_bit;           /* CPUID.1:ECX[31], "hypervisor present": 1, 0; -1 no CPUID */
	char cpuid_vendor[96];   /* leaf 0x40000000's signature ("KVMKVMKVM") or "unavailable: ..." */
	char dmi[256];           /* sys_vendor, product_name, bios_vendor, or "unavailable: ..." */
	char how[256];           /* what decided is_vm */
};

/* Reads CPUID and <sysfs_root>/class/dmi/id, then decides (hv_host_vm_judge). */
void hv_host_vm_detect(struct hv_host_vm *vm, const char *sysfs_root);
/* Decides is_vm and how from cpuid_bit, cpuid_vendor and dmi: the CPUID bit when set;
 * else DMI naming a virtual platform (QEMU, VMware, ...); else no VM when the bit is
 * known, unknown when it is not. */
void hv_host_vm_judge(struct hv_host_vm *vm);

struct hv_kvm_info {
	int present;             /* /dev/kvm opens read-write */
	int usable;              /* ... and answers KVM_GET_API_VERSION with 12 (a KVM) */
	int nested;              /* the host is itself a VM: its KVM runs nested */
	char flavour[32];        /* "kvm_intel", "kvm_amd", "kvm_pvm", "none", "unknown" */
	char paging[32];         /* DESIGN.md memvirt names: "ept", "npt", "shadow-kvm",
	                          * "shadow-pvm", "none"; ept, npt and shadow-kvm end in
	                          * "-nested" where the host is a VM (nested) */
	char why[160];           /* when !present or paging unknown: the reason */
};

/* Fills info; sysfs_root is "/sys" normally (tests point it at a fixture tree) and
 * dev_kvm is "/dev/kvm". Whether the host is a VM is detected here (hv_host_vm_detect).
 * Always returns 0. */
int hv_kvm_detect(struct hv_kvm_info *info, const char *sysfs_root, const char *dev_kvm);
/* The same for a host already judged (host: hv_host_vm_detect's answer, or a test's). */
int hv_kvm_detect_on(struct hv_kvm_info *info, const char *sysfs_root, const char *dev_kvm,
		     const struct hv_host_vm *host);

/* 1 when user code may run rdfsbase/wrfsbase/rdgsbase/wrgsbase (AT_HWCAP2 bit 1: a CPU
 * with fsgsbase and Linux 5.9 or later). */
int hv_host_user_fsgsbase(void);

/* /sys/module/MOD/parameters/PARAM's first word into buf (e.g. kvm_amd's npt: "Y"),
 * or "absent"; returns buf. */
const char *hv_kvm_module_param(const char *mod, const char *param, char *buf, size_t len);

/* The hypervisor this host itself runs under, by CPUID leaf 0x40000000's signature
 * (e.g. "TCGTCGTCGTCG" for QEMU's TCG, "KVMKVMKVM" for KVM), into sig; "" when the
 * CPUID hypervisor bit is clear (bare metal, or a hypervisor that hides itself). */
void hv_host_hypervisor(char sig[13]);
/* 1 when that hypervisor is QEMU's TCG: every instruction of this host is emulated, so
 * times measured here are not performance figures (the nested test bed). */
int hv_host_under_tcg(void);

/* The host kind in one line, for test logs and `hvm host`: /dev/kvm (flavour, paging, or
 * why it is unusable), whether the host is a VM, and user-mode FSGSBASE. */
void hv_host_kind_line(char *buf, size_t len);

#endif
