/* POST port 0x80: the last code written reads back. The `in` nanobenchmark reads it,
 * and the guest kernel's first instruction writes it (the startup figure). */
#include "hvlab/vm.h"

static int post_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		   uint32_t len, int is_write)
{
	struct hv_post *p = dev;

	(void)vcpu;
	(void)offset;
	if (is_write) {
		p->last = data[0];
		p->writes++;
	} else {
		for (uint32_t i = 0; i < len; i++)
			data[i] = p->last;
		p->reads++;
	}
	return 0;
}

int hv_post_register(struct hv_vm *vm)
{
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_POST, 1, "post", &vm->dev.post,
			       post_io);
}
