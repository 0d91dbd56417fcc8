/* HV_PORT_IOEVENTFD: a port write the engine turns into an eventfd signal without
 * leaving its kernel (the ioeventfd nanobenchmark). Where the engine cannot, the same
 * port is an ordinary device that counts writes, so the guest runs unchanged. */
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/vm.h"

static int ioev_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		   uint32_t len, int is_write)
{
	struct hv_ioev *io = dev;

	(void)vcpu;
	(void)offset;
	(void)data;
	(void)len;
	if (is_write)
		io->fallback_writes++;
	return 0;
}

int hv_ioev_register(struct hv_vm *vm)
{
	struct hv_ioev *io = &vm->dev.ioev;

	io->fd = -1;
	if (vm->ops->ioeventfd_add) {
		io->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (io->fd < 0)
			return hv_err_errno("creating the eventfd for port %#x", HV_PORT_IOEVENTFD);
		if (vm->ops->ioeventfd_add(vm->eng, HV_PORT_IOEVENTFD, 4, io->fd) == 0) {
			io->in_kernel = 1;
		} else {
			hv_warn("port %#x stays an ordinary device: %s", HV_PORT_IOEVENTFD,
				hv_err_msg());
			close(io->fd);
			io->fd = -1;
		}
	}
	/* Also registered when the engine took 4-byte writes: other sizes still exit. */
	return hv_bus_register(&vm->bus, HV_BUS_PIO, HV_PORT_IOEVENTFD, 4, "ioeventfd", io,
			       ioev_io);
}

/* Reads (and so resets) the eventfd counter: signals since the last call. */
uint64_t hv_ioev_signals(struct hv_vm *vm)
{
	struct hv_ioev *io = &vm->dev.ioev;
	uint64_t v = 0;

	if (io->fd >= 0 && read(io->fd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}
