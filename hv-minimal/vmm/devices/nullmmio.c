/* A page of MMIO with nothing behind it (HV_MMIO_UNBACKED): writes vanish, reads give
 * all ones, like a bus with no device answering. The `mmio` nanobenchmark target. */
#include <string.h>

#include "hvlab/vm.h"

#define NULLMMIO_LEN 0x1000

static int nullmmio_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		       uint32_t len, int is_write)
{
	struct hv_nullmmio *n = dev;

	(void)vcpu;
	(void)offset;
	if (is_write) {
		n->writes++;
	} else {
		memset(data, 0xff, len);
		n->reads++;
	}
	return 0;
}

int hv_nullmmio_register(struct hv_vm *vm)
{
	return hv_bus_register(&vm->bus, HV_BUS_MMIO, HV_MMIO_UNBACKED, NULLMMIO_LEN,
			       "null-mmio", &vm->dev.nullmmio, nullmmio_io);
}
