/* Exit port, hypercall doorbell and result channel. */
#include "guest/string.h"
#include "hv.h"
#include "percpu.h"

void hv_exit(uint32_t status)
{
	outl(HV_PORT_EXIT, status);
	halt_forever();
}

int64_t hv_hypercall(uint64_t nr, uint64_t a0, uint64_t a1)
{
	uint32_t id = mycpu()->id;
	volatile struct hv_hcall_page *page = P2V(kcfg.hcall_gpa + (uint64_t)id * PAGE_SIZE);

	page->nr = nr;
	page->args[0] = a0;
	page->args[1] = a1;
	outl(HV_PORT_HCALL, id);    /* the VMM has run the call when the out completes */
	return page->ret;
}

/* The record the VMM reads: in the kernel image, so its guest-physical address fits the
 * 32-bit port write. One CPU reports at a time. */
static struct hv_result result_buf;

void hv_result_send(const struct hv_result *r)
{
	memcpy(&result_buf, r, sizeof(result_buf));
	result_buf.vcpu = mycpu()->id;
	outl(HV_PORT_RESULT, (uint32_t)V2P(&result_buf));
}

void hv_result_init(struct hv_result *r, uint32_t kind, const char *workload, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->magic = HV_RESULT_MAGIC;
	r->kind = kind;
	strlcpy(r->workload, workload, sizeof(r->workload));
	strlcpy(r->name, name, sizeof(r->name));
}

void hv_result_info(const char *workload, const char *key, const char *value)
{
	struct hv_result r;

	hv_result_init(&r, HV_RES_INFO, workload, key);
	strlcpy(r.unit, value, sizeof(r.unit));
	hv_result_send(&r);
}
