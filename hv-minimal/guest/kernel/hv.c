/* Exit port, hypercall doorbell and result channel. */
#include "guest/f64.h"
#include "guest/fmt.h"
#include "guest/string.h"
#include "hv.h"
#include "percpu.h"

void hv_exit(uint32_t status)
{
	outl(HV_PORT_EXIT, status);
	halt_forever();
}

int64_t hv_hypercall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *out3)
{
	uint32_t id = mycpu()->id;
	volatile struct hv_hcall_page *page = P2V(kcfg.hcall_gpa + (uint64_t)id * PAGE_SIZE);

	if (!(kcfg.devices & HV_DEV_HCALL))
		return HV_HC_ENOSYS;
	page->nr = nr;
	page->args[0] = a0;
	page->args[1] = a1;
	page->args[2] = a2;
	outl(HV_PORT_HCALL, id);    /* the VMM has run the call when the out completes */
	mycpu()->st.hypercalls++;
	if (out3)
		*out3 = page->args[3];
	return page->ret;
}

int64_t hv_hypercall(uint64_t nr, uint64_t a0, uint64_t a1)
{
	return hv_hypercall3(nr, a0, a1, 0, NULL);
}

/* Appends " key=value" with ' ', '%', '=' and bytes outside printable ASCII written
 * as %XX, so that every field is one word. */
static size_t put_str(char *buf, size_t at, size_t size, const char *key, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	at += (size_t)fmt_snprintf(buf + at, size - at, " %s=", key);
	for (; *v && at + 4 < size; v++) {
		unsigned char ch = (unsigned char)*v;
		if (ch <= ' ' || ch == '%' || ch == '=' || ch > '~') {
			buf[at++] = '%';
			buf[at++] = hex[ch >> 4];
			buf[at++] = hex[ch & 15];
		} else {
			buf[at++] = (char)ch;
		}
	}
	buf[at] = 0;
	return at;
}

/* The record as one console line, for boots without a result port (QEMU's PVH entry):
 * `hvpeer parse` (vmm/hvr.c) turns these lines into the same rows hvm writes. */
static void result_line(const struct hv_result *r)
{
	static const char *const kinds[] = { "?", "nanobench", "value", "info" };
	char line[320], num[48];
	size_t at = 0;

	at = put_str(line, at, sizeof(line) - 2, "kind", kinds[r->kind <= 3 ? r->kind : 0]);
	at = put_str(line, at, sizeof(line) - 2, "workload", r->workload);
	at = put_str(line, at, sizeof(line) - 2, "name", r->name);
	if (r->kind == HV_RES_INFO) {
		at = put_str(line, at, sizeof(line) - 2, "value", r->unit);
	} else {
		if (r->kind == HV_RES_NANOBENCH) {
			at += (size_t)fmt_snprintf(line + at, sizeof(line) - 2 - at,
						   " iters=%lu cycles=%lu baseline=%lu", r->iters,
						   r->cycles, r->baseline);
		} else {
			uint64_t bits;
			memcpy(&bits, &r->value, sizeof(bits));
			f64_format(num, sizeof(num), bits);
			at += (size_t)fmt_snprintf(line + at, sizeof(line) - 2 - at, " value=%s", num);
		}
		at = put_str(line, at, sizeof(line) - 2, "unit", r->unit[0] ? r->unit : "-");
		at += (size_t)fmt_snprintf(line + at, sizeof(line) - 2 - at, " rep=%u vcpu=%u",
					   r->rep, r->vcpu);
	}
	kprintf("@hvr%s\n", line);
}

void hv_result_send(const struct hv_result *r)
{
	struct cpu *c = mycpu();

	/* A copy in this CPU's struct: in the kernel image, so its guest-physical
	 * address fits the 32-bit port write. */
	memcpy(&c->result, r, sizeof(c->result));
	c->result.vcpu = c->id;
	if (kcfg.devices & HV_DEV_RESULT_PORT)
		outl(HV_PORT_RESULT, (uint32_t)V2P(&c->result));
	else    /* each console byte is an exit: only where there is no result port */
		result_line(&c->result);
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

void hv_result_tsc(const char *workload, const char *key)
{
	char num[24];

	fmt_snprintf(num, sizeof(num), "%lu", rdtsc());
	hv_result_info(workload, key, num);
}
