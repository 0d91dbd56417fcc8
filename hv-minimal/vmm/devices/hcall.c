/* The hypercall doorbell: the guest fills its vCPU's page at HV_BOOT_HCALL_GPA
 * (number, arguments), writes its vCPU index to HV_PORT_HCALL with out32, and finds
 * ret and an incremented seq when the out returns. A port write rather than vmcall:
 * vmcall livelocks this project's hosts (PLATFORM.md). The page is copied once, so a
 * guest changing it mid-call changes nothing; every argument is checked. */
#include <stddef.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/vm.h"

#define HCALL_PAGE 0x1000ull
#define HC_CONSOLE_MAX (64u << 10)

static int64_t hc_console(struct hv_vcpu *vcpu, const struct hv_hcall_page *pg)
{
	struct hv_vm *vm = vcpu->vm;
	uint64_t gpa = pg->args[0], len = pg->args[1];
	const void *p;

	if (len > HC_CONSOLE_MAX)
		return hv_err_set("HV_HC_CONSOLE length %llu exceeds %u bytes",
				  (unsigned long long)len, HC_CONSOLE_MAX);
	p = hv_gpa_ptr(&vm->mem, gpa, len);
	if (!p)
		return hv_err_set("HV_HC_CONSOLE buffer %#llx+%llu lies outside guest memory",
				  (unsigned long long)gpa, (unsigned long long)len);
	hv_console_write(&vm->console, p, (size_t)len);
	return (int64_t)len;
}

/* Returns the call's result, or -1 with hv_err_msg() set when the guest's call is bad
 * (the caller tells both apart by the error flag). */
static int hc_dispatch(struct hv_vcpu *vcpu, const struct hv_hcall_page *pg, int64_t *ret)
{
	int64_t r;

	switch (pg->nr) {
	case HV_HC_NOP:
		*ret = 0;
		return 0;
	case HV_HC_CONSOLE:
		r = hc_console(vcpu, pg);
		if (r < 0)
			return -1;
		*ret = r;
		return 0;
	case HV_HC_RESULT:
		if (hv_result_submit(vcpu, pg->args[0]))
			return hv_err_set("HV_HC_RESULT: %s", hv_err_msg());
		*ret = 0;
		return 0;
	default:
		return hv_err_set("unknown hypercall number %llu (valid: 0-%d)",
				  (unsigned long long)pg->nr, HV_HC_NR - 1);
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
	int64_t ret = HV_HC_EINVAL;
	int bad;

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
	bad = hc_dispatch(vcpu, &pg, &ret);
	if (!bad && pg.nr < HV_HC_NR)
		hc->calls[pg.nr]++;
	pg.seq++;
	if (hv_gpa_write(&vm->mem, gpa + offsetof(struct hv_hcall_page, ret), &ret, sizeof(ret)) ||
	    hv_gpa_write(&vm->mem, gpa + offsetof(struct hv_hcall_page, seq), &pg.seq,
			 sizeof(pg.seq)))
		return -1;
	return bad;
}

int hv_hcall_register(struct hv_vm *vm)
{
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_HCALL, 4, "hypercall",
			       &vm->dev.hcall, hcall_io);
}
