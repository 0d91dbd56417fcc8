/* What the host's KVM is: flavour and paging mode, read from /sys/module, never assumed. */
#ifndef HVLAB_KVMINFO_H
#define HVLAB_KVMINFO_H

struct hv_kvm_info {
	int present;             /* /dev/kvm opens read-write */
	char flavour[32];        /* "kvm_intel", "kvm_amd", "kvm_pvm", "none", "unknown" */
	char paging[32];         /* DESIGN.md memvirt names: "ept", "npt", "shadow-kvm", "shadow-pvm", "none" */
	char why[160];           /* when !present or paging unknown: the reason */
};

/* Fills info; sysfs_root is "/sys" normally (tests point it at a fixture tree) and
 * dev_kvm is "/dev/kvm". Always returns 0. */
int hv_kvm_detect(struct hv_kvm_info *info, const char *sysfs_root, const char *dev_kvm);

#endif
