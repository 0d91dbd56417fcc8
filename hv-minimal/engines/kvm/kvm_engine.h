/* The KVM engine's own types, shared by its files and nowhere else: the VMM core sees
 * only struct hv_engine_vm/hv_engine_vcpu through hvlab/engine.h. */
#ifndef HVLAB_KVM_ENGINE_H
#define HVLAB_KVM_ENGINE_H
#include <linux/kvm.h>
#include <stdint.h>

#include "hvlab/engine.h"
#include "hvlab/kvminfo.h"

struct hv_engine_vm {
	int kvm_fd;                  /* /dev/kvm */
	int vm_fd;
	int vcpu_mmap_size;
	struct hv_kvm_info info;     /* flavour and paging, for labels and quirks */
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID, fetched once */
	uint64_t tsc_khz;
	unsigned nr_vcpus;
	int tsc_deadline;            /* KVM_CAP_TSC_DEADLINE_TIMER */
};

struct hv_engine_vcpu {
	struct hv_engine_vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;         /* shared with the kernel, vcpu_mmap_size bytes */
};

extern const struct hv_engine_ops hv_kvm_engine_ops;

/* vcpu.c */
int kvm_vcpu_create(struct hv_engine_vm *vm, unsigned index, struct hv_engine_vcpu **out);
int kvm_vcpu_run(struct hv_engine_vcpu *c, struct hv_exit *exit);
void kvm_vcpu_request_exit(struct hv_engine_vcpu *c);
int kvm_vcpu_inject_irq(struct hv_engine_vcpu *c, uint8_t vector);
void kvm_vcpu_destroy(struct hv_engine_vcpu *c);

/* stats.c: KVM's binary statistics of the vCPU (and of the VM, with vCPU 0's) */
void kvm_stats(struct hv_engine_vcpu *c, void (*emit)(void *arg, const char *name,
						      uint64_t value), void *arg);

/* regs.c */
int kvm_get_regs(struct hv_engine_vcpu *c, struct hv_regs *r);
int kvm_set_regs(struct hv_engine_vcpu *c, const struct hv_regs *r);
int kvm_get_sregs(struct hv_engine_vcpu *c, struct hv_sregs *s);
int kvm_set_sregs(struct hv_engine_vcpu *c, const struct hv_sregs *s);

#endif
