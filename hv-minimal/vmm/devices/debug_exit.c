/* The debug-exit port: the guest writes its status and is done (kvm-unit-tests style:
 * HV_EXIT_PASS, HV_EXIT_FAIL, HV_EXIT_SKIP, HV_EXIT_PANIC). */
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/vm.h"

static int debug_exit_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
			 uint32_t len, int is_write)
{
	uint32_t status = 0;

	(void)dev;
	(void)offset;
	if (!is_write)
		return 0;    /* reads return all ones, as from an empty port */
	memcpy(&status, data, len < sizeof(status) ? len : sizeof(status));
	hv_vm_stop(vcpu->vm, HV_STOP_GUEST_EXIT, status, (int)vcpu->index,
		   "the guest exited with status %u%s", status,
		   status == HV_EXIT_PASS ? " (pass)" : status == HV_EXIT_SKIP ? " (skip)" :
		   status == HV_EXIT_PANIC ? " (kernel panic)" : " (failure)");
	return 0;
}

int hv_debug_exit_register(struct hv_vm *vm)
{
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_EXIT, 4, "debug-exit", NULL,
			       debug_exit_io);
}
