/* The KVM engine's VM: /dev/kvm, the VM file descriptor, the in-kernel irqchip, guest
 * memory slots and ioeventfds. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hvlab/abi.h"
#include "hvlab/err.h"
#include "kvm_engine.h"

#define KVM_API_EXPECTED 12
/* Three pages just below the 4 GiB boundary, the customary place for the TSS VMX needs
 * for real-mode emulation; nothing of hv-minimal lives there. */
#define KVM_TSS_GPA 0xfffbd000ul
#define KVM_CPUID_MAX_ENTRIES 1024

static int kvm_require_cap(struct hv_engine_vm *vm, long cap, const char *name)
{
	int r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, cap);

	if (r <= 0)
		return hv_err_set("this host's KVM lacks %s, which hvm needs "
				  "(a newer host kernel provides it)", name);
	return 0;
}

/* KVM's supported CPUID, once, with the core's own leaves (hv-minimal's signature and
 * spin threshold) added as they are. */
static int kvm_fetch_cpuid(struct hv_engine_vm *vm, const struct hv_vm_config *cfg)
{
	for (unsigned n = 64; n <= KVM_CPUID_MAX_ENTRIES; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
					      (n + HV_CPUID_LEAVES_MAX) * sizeof(c->entries[0]));

		if (!c)
			return hv_err_errno("allocating %u CPUID entries", n);
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			for (unsigned i = 0; i < cfg->ncpuid && i < HV_CPUID_LEAVES_MAX; i++) {
				struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

				memset(e, 0, sizeof(*e));
				e->function = cfg->cpuid[i].leaf;
				e->eax = cfg->cpuid[i].r[0];
				e->ebx = cfg->cpuid[i].r[1];
				e->ecx = cfg->cpuid[i].r[2];
				e->edx = cfg->cpuid[i].r[3];
			}
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return hv_err_errno("KVM_GET_SUPPORTED_CPUID");
	}
	return hv_err_set("KVM_GET_SUPPORTED_CPUID wants more than %d entries",
			  KVM_CPUID_MAX_ENTRIES);
}

static void kvm_vm_destroy(struct hv_engine_vm *vm)
{
	if (!vm)
		return;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	free(vm->cpuid);
	free(vm);
}

/* Opens /dev/kvm into *fd and checks that it is a KVM hvm can speak to. */
static int kvm_open_checked(int *fd)
{
	int api;

	*fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return hv_err_errno("cannot open /dev/kvm (is a kvm module loaded, and may this "
				    "user open it, e.g. as a member of group kvm?)");
	api = ioctl(*fd, KVM_GET_API_VERSION, 0);
	if (api < 0)
		return hv_err_errno("/dev/kvm does not answer KVM_GET_API_VERSION (is it KVM?)");
	if (api != KVM_API_EXPECTED)
		return hv_err_set("/dev/kvm speaks KVM API version %d, hvm needs %d", api,
				  KVM_API_EXPECTED);
	return 0;
}

static int kvm_probe(const struct hv_vm_config *cfg)
{
	int fd, r;

	(void)cfg;
	r = kvm_open_checked(&fd);
	if (fd >= 0)
		close(fd);
	return r;
}

static int kvm_vm_setup(struct hv_engine_vm *vm, const struct hv_vm_config *cfg)
{
	if (kvm_open_checked(&vm->kvm_fd))
		return -1;
	if (kvm_require_cap(vm, KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY") ||
	    kvm_require_cap(vm, KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT") ||
	    kvm_require_cap(vm, KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP") ||
	    kvm_require_cap(vm, KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"))
		return -1;
	if ((unsigned)ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS) < cfg->nr_vcpus &&
	    (unsigned)ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS) < cfg->nr_vcpus)
		return hv_err_set("this host's KVM allows fewer than %u vCPUs", cfg->nr_vcpus);

	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size < (int)sizeof(struct kvm_run))
		return hv_err_errno("KVM_GET_VCPU_MMAP_SIZE returned %d", vm->vcpu_mmap_size);

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return hv_err_errno("KVM_CREATE_VM");
	/* VMX needs a TSS region in guest-physical space; other flavours have no use for
	 * it and kvm_pvm does not implement the ioctl. */
	if (!strcmp(vm->info.flavour, "kvm_intel") &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_GPA) < 0)
		return hv_err_errno("KVM_SET_TSS_ADDR at %#lx", KVM_TSS_GPA);
	/* The in-kernel PIC, IOAPIC and LAPICs (the LAPIC timer is the guest's clock).
	 * They claim ports 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1 and the xAPIC/IOAPIC pages,
	 * which therefore never reach the VMM's bus. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return hv_err_errno("KVM_CREATE_IRQCHIP");
	/* A PC guest's PIT (channel 0 on ISA line 0, the speaker gate at port 0x61), in
	 * the kernel beside the PIC it interrupts. */
	if (cfg->pc_platform) {
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

		if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
			return hv_err_errno("KVM_CREATE_PIT2 (the PIT a Linux guest expects)");
	}
	if (kvm_fetch_cpuid(vm, cfg))
		return -1;
	vm->tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) > 0) {
		int khz = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);

		vm->tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	}
	return 0;
}

static int kvm_vm_create(const struct hv_vm_config *cfg, struct hv_engine_vm **out)
{
	struct hv_engine_vm *vm = calloc(1, sizeof(*vm));

	*out = NULL;
	if (!vm)
		return hv_err_errno("allocating the KVM VM");
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nr_vcpus = cfg->nr_vcpus;
	hv_kvm_detect(&vm->info, "/sys", "/dev/kvm");
	if (kvm_vm_setup(vm, cfg)) {
		kvm_vm_destroy(vm);
		return -1;
	}
	*out = vm;
	return 0;
}

static int kvm_mem_add(struct hv_engine_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		       void *host, int fd, off_t offset)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	(void)fd;      /* KVM maps the host range itself */
	(void)offset;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return hv_err_errno("KVM_SET_USER_MEMORY_REGION slot %u gpa %#llx size %#llx",
				    slot, (unsigned long long)gpa, (unsigned long long)size);
	return 0;
}

static int kvm_ioeventfd_add(struct hv_engine_vm *vm, uint16_t port, uint32_t len, int fd)
{
	struct kvm_ioeventfd io = {
		.addr = port,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_PIO,
	};

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) <= 0)
		return hv_err_set("this host's KVM has no ioeventfd support");
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return hv_err_errno("KVM_IOEVENTFD on port %#x (%u bytes)", port, len);
	return 0;
}

/* An ISA line's level at the in-kernel PIC and IOAPIC (their pins 0-15 are the GSIs). */
static int kvm_irq_line(struct hv_engine_vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level ? 1 : 0 };

	if (irq > 15)
		return hv_err_set("ISA interrupt line %u does not exist", irq);
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return hv_err_errno("KVM_IRQ_LINE %u level %d", irq, l.level);
	return 0;
}

/* One MSI route at a GSI past the IOAPIC's 24 pins, and an irqfd on it. The routing
 * table set here replaces KVM's default (PIC/IOAPIC pins), which this guest does not
 * use: it masks the PICs and takes its timer from the local APIC. */
#define KVM_BLK_GSI 24

static int kvm_irqfd_add(struct hv_engine_vm *vm, int fd, unsigned vcpu, uint8_t vector)
{
	/* the table is a header followed by its entries: room for one */
	union {
		struct kvm_irq_routing r;
		uint8_t room[sizeof(struct kvm_irq_routing) + sizeof(struct kvm_irq_routing_entry)];
	} rt;
	struct kvm_irq_routing_entry *e = (struct kvm_irq_routing_entry *)(&rt.r + 1);
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = KVM_BLK_GSI };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING) <= 0)
		return hv_err_set("this host's KVM has no irqfd or interrupt routing");
	memset(&rt, 0, sizeof(rt));
	rt.r.nr = 1;
	e->gsi = KVM_BLK_GSI;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = 0xfee00000u | (vcpu << 12);
	e->u.msi.data = vector;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, &rt) < 0)
		return hv_err_errno("KVM_SET_GSI_ROUTING (MSI to vector %u)", vector);
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return hv_err_errno("KVM_IRQFD on GSI %d", KVM_BLK_GSI);
	return 0;
}

static uint64_t kvm_tsc_khz(struct hv_engine_vm *vm)
{
	return vm->tsc_khz;
}

/* Under nested paging (EPT/NPT) KVM keeps no copy of the guest's tables, so the VMM
 * may write them; a shadow MMU (shadow-kvm, shadow-pvm) would keep translations of
 * the old entries, as it learns of changes only from the guest's own trapped writes.
 * A guest TLB flush always needs the guest's CPU: no HV_PV_TLB. */
static uint32_t kvm_pv_caps(struct hv_engine_vm *vm)
{
	const char *p = vm->info.paging;

	return !strncmp(p, "ept", 3) || !strncmp(p, "npt", 3) ? HV_PV_MMU : 0;   /* -nested too */
}

static const char *kvm_memvirt(struct hv_engine_vm *vm)
{
	return vm->info.paging[0] ? vm->info.paging : "unknown";
}

/* kvm_pvm runs a plain guest's syscall handler without CPL0 privilege and refuses
 * sysretq (PLATFORM.md); VT-x and AMD-V run both as on bare metal. */
static int kvm_guest_syscall_ok(struct hv_engine_vm *vm)
{
	return strcmp(vm->info.flavour, "kvm_pvm") != 0;
}

const struct hv_engine_ops hv_kvm_engine_ops = {
	.name = "hw",
	.description = "KVM, hardware-assisted (VT-x/AMD-V, or PVM where the host offers only that)",
	.vm_create = kvm_vm_create,
	.mem_add = kvm_mem_add,
	.probe = kvm_probe,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_run = kvm_vcpu_run,
	.request_exit = kvm_vcpu_request_exit,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.inject_irq = kvm_vcpu_inject_irq,
	.irq_line = kvm_irq_line,
	.ioeventfd_add = kvm_ioeventfd_add,
	.irqfd_add = kvm_irqfd_add,
	.tsc_khz = kvm_tsc_khz,
	.memvirt = kvm_memvirt,
	.guest_syscall_ok = kvm_guest_syscall_ok,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vm_destroy = kvm_vm_destroy,
	.stats = kvm_stats,
	.pv_caps = kvm_pv_caps,
};
