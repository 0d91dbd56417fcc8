/* The hypercall doorbell: the guest fills its vCPU's page at HV_BOOT_HCALL_GPA
 * (number, arguments), writes its vCPU index to HV_PORT_HCALL with out32, and finds
 * ret and an incremented seq when the out returns. A port write rather than vmcall:
 * vmcall livelocks this project's hosts (PLATFORM.md). The page is copied once, so a
 * guest changing it mid-call changes nothing; every argument is checked. A call the
 * VMM refuses returns its code to the guest and is counted (the first few are logged):
 * a guest's bad call is the guest's problem. A misused doorbell (a wrong index or
 * width) is no call at all, and stops the guest. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/vm.h"
#include "hcall_pv.h"

#define HCALL_PAGE 0x1000ull
#define HC_CONSOLE_MAX (64u << 10)
#define REFUSALS_LOGGED 8

static const char *const hc_names[HV_HC_NR] = {
	[HV_HC_NOP] = "nop", [HV_HC_CONSOLE] = "console", [HV_HC_RESULT] = "result",
	[HV_HC_FEATURES] = "features", [HV_HC_MMU_UPDATE] = "mmu_update",
	[HV_HC_PIN_ROOT] = "pin_root", [HV_HC_UNPIN_ROOT] = "unpin_root",
	[HV_HC_NEW_BASEPTR] = "new_baseptr", [HV_HC_TLB_FLUSH] = "tlb_flush",
	[HV_HC_CLOCK_PAGE] = "clock_page", [HV_HC_SPIN_NOTIFY] = "spin_notify",
	[HV_HC_SPIN_WAIT] = "spin_wait", [HV_HC_SPIN_KICK] = "spin_kick",
};

const char *hv_hcall_name(uint64_t nr)
{
	return nr < HV_HC_NR && hc_names[nr] ? hc_names[nr] : "unknown";
}

static int64_t hc_console(struct hv_vcpu *vcpu, const struct hv_hcall_page *pg)
{
	struct hv_vm *vm = vcpu->vm;
	uint64_t gpa = pg->args[0], len = pg->args[1];
	const void *p;

	if (len > HC_CONSOLE_MAX)
		return HV_HC_EINVAL;
	p = hv_gpa_ptr(&vm->mem, gpa, len);
	if (!p)
		return HV_HC_EFAULT;
	hv_console_write(&vm->console, p, (size_t)len);
	return (int64_t)len;
}

/* The call's result (negative HV_HC_E*: refused), or INT64_MIN with hv_err_msg() set
 * when the host failed. */
static int64_t hc_dispatch(struct hv_vcpu *vcpu, struct hv_hcall_page *pg)
{
	switch (pg->nr) {
	case HV_HC_NOP:
		return 0;
	case HV_HC_CONSOLE:
		return hc_console(vcpu, pg);
	case HV_HC_RESULT:
		if (hv_result_submit(vcpu, pg->args[0])) {
			hv_warn("vCPU %u: HV_HC_RESULT: %s", vcpu->index, hv_err_msg());
			return HV_HC_EINVAL;
		}
		return 0;
	default:
		return hv_pv_call(vcpu, pg);
	}
}

static int hcall_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		    uint32_t len, int is_write)
{
	struct hv_hcall *hc = dev;
	struct hv_vm *vm = vcpu->vm;
	struct hv_hcall_page pg;
	uint32_t idx;
	uint64_t gpa;
	int64_t ret;

	(void)offset;
	if (!is_write || len != 4)
		return hv_err_set("the hypercall doorbell takes a 4-byte write (out32 of the vCPU "
				  "index), not a %u-byte %s", len, is_write ? "write" : "read");
	memcpy(&idx, data, sizeof(idx));
	if (idx >= vm->nr_vcpus)
		return hv_err_set("hypercall for vCPU %u, but the VM has %u", idx, vm->nr_vcpus);
	if (idx != vcpu->index)
		return hv_err_set("vCPU %u rang the doorbell with vCPU %u's index", vcpu->index, idx);
	gpa = HV_BOOT_HCALL_GPA + idx * HCALL_PAGE;
	if (hv_gpa_read(&vm->mem, gpa, &pg, sizeof(pg)))
		return -1;
	ret = hc_dispatch(vcpu, &pg);
	if (ret == INT64_MIN)
		return hv_err_set("hypercall %s: the host failed: %s", hv_hcall_name(pg.nr),
				  hv_err_msg());
	if (pg.nr < HV_HC_NR)
		__atomic_add_fetch(&hc->calls[pg.nr], 1, __ATOMIC_RELAXED);
	if (ret < 0 && ret >= HV_HC_ENOSYS) {
		uint64_t all = __atomic_add_fetch(&hc->refusals, 1, __ATOMIC_RELAXED);

		__atomic_add_fetch(&hc->refused[pg.nr < HV_HC_NR ? pg.nr : HV_HC_NR], 1,
				   __ATOMIC_RELAXED);
		if (all <= REFUSALS_LOGGED)
			hv_warn("vCPU %u: hypercall %llu (%s, args %#llx %#llx %#llx) refused with "
				"%lld%s", vcpu->index, (unsigned long long)pg.nr,
				hv_hcall_name(pg.nr), (unsigned long long)pg.args[0],
				(unsigned long long)pg.args[1], (unsigned long long)pg.args[2],
				(long long)ret, all == REFUSALS_LOGGED ? " (further refusals are "
				"counted, not logged)" : "");
	}
	pg.ret = ret;
	pg.seq++;
	/* ret, seq and the outputs in args: the guest never reads its page mid-call */
	if (hv_gpa_write(&vm->mem, gpa + offsetof(struct hv_hcall_page, args), pg.args,
			 sizeof(pg.args)) ||
	    hv_gpa_write(&vm->mem, gpa + offsetof(struct hv_hcall_page, ret), &pg.ret,
			 sizeof(pg.ret)) ||
	    hv_gpa_write(&vm->mem, gpa + offsetof(struct hv_hcall_page, seq), &pg.seq,
			 sizeof(pg.seq)))
		return -1;
	return 0;
}

int hv_hcall_register(struct hv_vm *vm)
{
	pthread_mutex_init(&vm->dev.hcall.pv.lock, NULL);
	hv_spin_init(&vm->dev.hcall.spin);
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_HCALL, 4, "hypercall",
			       &vm->dev.hcall, hcall_io);
}
