/* The KVM engine's vCPU: creation with the host's supported CPUID, KVM_RUN, and the
 * translation of KVM's exit reasons into the core's normalized struct hv_exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "kvm_engine.h"

/* The guest sees the host's supported CPUID, with each vCPU's own APIC ID so that
 * leaf 1 and leaf 0xb agree with the LAPIC KVM created for it, and the hypervisor bit. */
static int kvm_vcpu_set_cpuid(struct hv_engine_vcpu *c)
{
	const struct kvm_cpuid2 *src = c->vm->cpuid;
	size_t bytes = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *cp = malloc(bytes);
	int r;

	if (!cp)
		return hv_err_errno("allocating CPUID for vCPU %u", c->index);
	memcpy(cp, src, bytes);
	for (uint32_t i = 0; i < cp->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cp->entries[i];

		if (e->function == 1) {
			e->ebx = (e->ebx & 0x00ffffffu) | (c->index << 24);
			/* "running under a hypervisor", as QEMU says too: KVM's supported
			 * CPUID leaves it to the VMM, and Linux looks for KVM's leaves (its
			 * clock) only with it set */
			e->ecx |= 1u << 31;
			/* the TSC-deadline timer the in-kernel LAPIC emulates, as QEMU
			 * offers it: Linux then needs no LAPIC timer calibration against
			 * the PIT (which fails where time is itself emulated) */
			if (c->vm->tsc_deadline)
				e->ecx |= 1u << 24;
		}
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = c->index;
	}
	r = ioctl(c->fd, KVM_SET_CPUID2, cp);
	free(cp);
	if (r < 0)
		return hv_err_errno("KVM_SET_CPUID2 on vCPU %u", c->index);
	return 0;
}

void kvm_vcpu_destroy(struct hv_engine_vcpu *c)
{
	if (!c)
		return;
	if (c->run)
		munmap(c->run, (size_t)c->vm->vcpu_mmap_size);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int kvm_vcpu_create(struct hv_engine_vm *vm, unsigned index, struct hv_engine_vcpu **out)
{
	struct hv_engine_vcpu *c = calloc(1, sizeof(*c));
	void *run;

	*out = NULL;
	if (!c)
		return hv_err_errno("allocating vCPU %u", index);
	c->vm = vm;
	c->index = index;
	c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (c->fd < 0) {
		hv_err_errno("KVM_CREATE_VCPU %u", index);
		goto fail;
	}
	run = mmap(NULL, (size_t)vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   c->fd, 0);
	if (run == MAP_FAILED) {
		hv_err_errno("mapping kvm_run of vCPU %u", index);
		goto fail;
	}
	c->run = run;
	if (kvm_vcpu_set_cpuid(c))
		goto fail;
	*out = c;
	return 0;
fail:
	kvm_vcpu_destroy(c);
	return -1;
}

void kvm_vcpu_request_exit(struct hv_engine_vcpu *c)
{
	__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

/* Delivers a fixed, edge-triggered interrupt to this vCPU's in-kernel LAPIC as an MSI
 * (physical destination = APIC ID = vCPU index). */
int kvm_vcpu_inject_irq(struct hv_engine_vcpu *c, uint8_t vector)
{
	struct kvm_msi msi = {
		.address_lo = 0xfee00000u | (c->index << 12),
		.data = vector,
	};
	int r = ioctl(c->vm->vm_fd, KVM_SIGNAL_MSI, &msi);

	if (r < 0)
		return hv_err_errno("KVM_SIGNAL_MSI vector %u to vCPU %u", vector, c->index);
	if (r == 0)
		return hv_err_set("interrupt vector %u to vCPU %u was blocked by the guest's LAPIC",
				  vector, c->index);
	return 0;
}

static const char *kvm_internal_what(uint32_t suberror)
{
	switch (suberror) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "exit while delivering an event (e.g. #PF on the IDT)";
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected hardware exit reason";
	default:
		return "unknown internal error";
	}
}

static const char *kvm_system_event_what(uint32_t type)
{
	switch (type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return "system event: shutdown";
	case KVM_SYSTEM_EVENT_RESET:
		return "system event: reset";
	case KVM_SYSTEM_EVENT_CRASH:
		return "system event: crash";
	default:
		return "system event";
	}
}

/* Fills exit from kvm_run; the I/O data pointer is checked to lie inside the shared
 * page even though the kernel wrote it. */
static int kvm_exit_normalize(struct hv_engine_vcpu *c, struct hv_exit *e)
{
	struct kvm_run *run = c->run;
	uint64_t end;

	memset(e, 0, sizeof(*e));
	e->raw_reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		end = run->io.data_offset + (uint64_t)run->io.size * run->io.count;
		if (run->io.count == 0 || end > (uint64_t)c->vm->vcpu_mmap_size)
			return hv_err_set("KVM_EXIT_IO data (offset %llu, %u x %u bytes) lies outside "
					  "kvm_run", (unsigned long long)run->io.data_offset,
					  run->io.count, run->io.size);
		e->kind = HV_VMEXIT_IO;
		e->u.io.port = run->io.port;
		e->u.io.size = run->io.size;
		e->u.io.dir = run->io.direction == KVM_EXIT_IO_OUT ? HV_IO_OUT : HV_IO_IN;
		e->u.io.count = run->io.count;
		e->u.io.data = (uint8_t *)run + run->io.data_offset;
		return 0;
	case KVM_EXIT_MMIO:
		e->kind = HV_VMEXIT_MMIO;
		e->u.mmio.addr = run->mmio.phys_addr;
		e->u.mmio.len = run->mmio.len > sizeof(run->mmio.data) ? sizeof(run->mmio.data)
								       : run->mmio.len;
		e->u.mmio.is_write = run->mmio.is_write;
		e->u.mmio.data = run->mmio.data;
		return 0;
	case KVM_EXIT_HLT:
		e->kind = HV_VMEXIT_HLT;
		return 0;
	case KVM_EXIT_SHUTDOWN:
		e->kind = HV_VMEXIT_SHUTDOWN;
		snprintf(e->u.shutdown.what, sizeof(e->u.shutdown.what),
			 "shutdown (triple fault)");
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		e->kind = HV_VMEXIT_SHUTDOWN;
		e->u.shutdown.type = run->system_event.type;
		snprintf(e->u.shutdown.what, sizeof(e->u.shutdown.what), "%s",
			 kvm_system_event_what(run->system_event.type));
		return 0;
	case KVM_EXIT_INTERNAL_ERROR: {
		uint32_t n = run->internal.ndata;

		e->kind = HV_VMEXIT_INTERNAL;
		e->u.internal.suberror = run->internal.suberror;
		if (n > HV_EXIT_DATA_MAX)
			n = HV_EXIT_DATA_MAX;
		if (n > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
			n = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
		e->u.internal.ndata = n;
		memcpy(e->u.internal.data, run->internal.data, n * sizeof(uint64_t));
		snprintf(e->u.internal.what, sizeof(e->u.internal.what), "%s (KVM suberror %u)",
			 kvm_internal_what(run->internal.suberror), run->internal.suberror);
		return 0;
	}
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = HV_VMEXIT_FAIL_ENTRY;
		e->u.fail_entry.hw_reason = run->fail_entry.hardware_entry_failure_reason;
		e->u.fail_entry.cpu = run->fail_entry.cpu;
		return 0;
	case KVM_EXIT_INTR:
		e->kind = HV_VMEXIT_INTERRUPTED;
		return 0;
	case KVM_EXIT_DEBUG:
		e->kind = HV_VMEXIT_DEBUG;
		e->u.debug.pc = run->debug.arch.pc;
		return 0;
	default:
		e->kind = HV_VMEXIT_UNKNOWN;
		return 0;
	}
}

int kvm_vcpu_run(struct hv_engine_vcpu *c, struct hv_exit *exit)
{
	if (ioctl(c->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			/* A signal or request_exit(): report it and arm the next run again;
			 * the core decides whether to go on. */
			__atomic_store_n(&c->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
			memset(exit, 0, sizeof(*exit));
			exit->kind = HV_VMEXIT_INTERRUPTED;
			exit->raw_reason = KVM_EXIT_INTR;
			return 0;
		}
		return hv_err_errno("KVM_RUN on vCPU %u", c->index);
	}
	return kvm_exit_normalize(c, exit);
}
