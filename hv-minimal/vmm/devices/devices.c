/* Every device of a VM, registered in one place. */
#include <unistd.h>

#include "hvlab/blk.h"
#include "hvlab/vm.h"

int hv_devices_init(struct hv_vm *vm)
{
	if (hv_serial_register(vm) || hv_post_register(vm) || hv_debug_exit_register(vm) ||
	    hv_hcall_register(vm) || hv_result_register(vm) || hv_nullmmio_register(vm) ||
	    hv_ioev_register(vm))
		return -1;
	return 0;
}

void hv_devices_close(struct hv_vm *vm)
{
	hv_blk_close(vm);
	if (vm->dev.ioev.fd >= 0)
		close(vm->dev.ioev.fd);
	vm->dev.ioev.fd = -1;
	hv_pv_free(&vm->dev.hcall.pv);
	pthread_mutex_destroy(&vm->dev.serial.lock);
	hv_spin_destroy(&vm->dev.hcall.spin);
}
