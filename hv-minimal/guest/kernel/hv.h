/* The VMM's devices other than the console (abi.h): the exit port, the hypercall
 * doorbell and the result channel. */
#ifndef KERNEL_HV_H
#define KERNEL_HV_H
#include <stdint.h>
#include "kernel.h"
#include "x86.h"

static inline void hv_post(uint8_t code)
{
	outb(HV_PORT_POST, code);
}

/* Reports status (HV_EXIT_*) and stops; never returns even if the VMM lets it run. */
NORETURN void hv_exit(uint32_t status);

/* One hypercall on this CPU's hypercall page; returns the VMM's result. */
int64_t hv_hypercall(uint64_t nr, uint64_t a0, uint64_t a1);
/* The same with a third argument; *out3 (when not NULL) gets args[3] back. Returns
 * HV_HC_ENOSYS without a call where the VMM has no doorbell (QEMU's PVH boot). */
int64_t hv_hypercall3(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t *out3);

/* Hands a result record to the VMM. The record is copied into kernel memory first, so
 * r may be anywhere the kernel can read. */
void hv_result_send(const struct hv_result *r);

/* An HV_RES_INFO record: key = value, for the given workload. */
void hv_result_info(const char *workload, const char *key, const char *value);

/* An HV_RES_INFO record key = the TSC now, in decimal. The kernel sends tsc_start as
 * soon as the result channel is known and tsc_end when the workload ends: a VMM that
 * notes when each arrives can check the guest's TSC against its own clock (hvpeer
 * does, tools/README.md). */
void hv_result_tsc(const char *workload, const char *key);

/* Fills a record's header fields (magic, kind, workload, name); the rest is zero. */
void hv_result_init(struct hv_result *r, uint32_t kind, const char *workload, const char *name);

#endif
