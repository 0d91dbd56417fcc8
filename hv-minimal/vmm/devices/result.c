/* The result channel: out32 of a record's guest-physical address to HV_PORT_RESULT
 * (or HV_HC_RESULT). The record is copied out of guest memory first and only the copy
 * is checked and used, so the guest cannot change it between check and use. */
#include <math.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/vm.h"

#define HV_RESULT_REP_MAX 1000000u

/* NUL inside the field, every byte before it printable ASCII. */
static int field_ok(const char *what, const char *s, size_t cap, int may_be_empty)
{
	const char *nul = memchr(s, '\0', cap);

	if (!nul)
		return hv_err_set("result record: %s is not NUL-terminated within %zu bytes", what,
				  cap);
	if (nul == s && !may_be_empty)
		return hv_err_set("result record: %s is empty", what);
	for (const char *p = s; p < nul; p++)
		if (*p < 0x20 || *p > 0x7e)
			return hv_err_set("result record: %s holds a non-printable byte %#x at %zu",
					  what, (unsigned char)*p, (size_t)(p - s));
	return 0;
}

int hv_result_validate(const struct hv_result *r, unsigned nr_vcpus)
{
	if (r->magic != HV_RESULT_MAGIC)
		return hv_err_set("result record: bad magic %#x (expected %#x)", r->magic,
				  HV_RESULT_MAGIC);
	if (r->kind != HV_RES_NANOBENCH && r->kind != HV_RES_VALUE && r->kind != HV_RES_INFO)
		return hv_err_set("result record: unknown kind %u", r->kind);
	if (field_ok("workload", r->workload, sizeof(r->workload), 1) ||
	    field_ok("name", r->name, sizeof(r->name), 0) ||
	    field_ok("unit", r->unit, sizeof(r->unit), 1))
		return -1;
	if (r->kind == HV_RES_NANOBENCH && r->iters == 0)
		return hv_err_set("result record %s: nanobenchmark with 0 iterations", r->name);
	if (r->kind == HV_RES_VALUE && !isfinite(r->value))
		return hv_err_set("result record %s: value is not a finite number", r->name);
	if (r->rep > HV_RESULT_REP_MAX)
		return hv_err_set("result record %s: repetition %u is beyond %u", r->name, r->rep,
				  HV_RESULT_REP_MAX);
	if (r->vcpu >= nr_vcpus)
		return hv_err_set("result record %s: vCPU %u, but the VM has %u", r->name, r->vcpu,
				  nr_vcpus);
	return 0;
}

int hv_result_submit(struct hv_vcpu *vcpu, uint64_t gpa)
{
	struct hv_vm *vm = vcpu->vm;
	struct hv_result r;

	if (hv_gpa_read(&vm->mem, gpa, &r, sizeof(r)))
		return hv_err_set("result record at %#llx: %s", (unsigned long long)gpa,
				  hv_err_msg());
	if (hv_result_validate(&r, vm->nr_vcpus))
		return -1;
	switch (hv_recorder_add(&vm->rec, &r)) {
	case HV_RECORD_OK:
		break;
	case HV_RECORD_GUEST_FAULT:     /* past its budget, a table full, a bad mode report */
		return -1;
	case HV_RECORD_HOST_ERROR:      /* the run cannot be written: not the guest's doing */
		hv_vm_stop(vm, HV_STOP_HOST_ERROR, 0, (int)vcpu->index, "recording %s: %s",
			   r.name, hv_err_msg());
		break;
	}
	return 0;
}

static int result_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		     uint32_t len, int is_write)
{
	uint32_t gpa;

	(void)dev;
	(void)offset;
	if (!is_write || len != 4)
		return hv_err_set("the result port takes a 4-byte write (out32 of the record's "
				  "guest-physical address), not a %u-byte %s", len,
				  is_write ? "write" : "read");
	memcpy(&gpa, data, sizeof(gpa));
	return hv_result_submit(vcpu, gpa);
}

int hv_result_register(struct hv_vm *vm)
{
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_RESULT, 4, "result", NULL,
			       result_io);
}
