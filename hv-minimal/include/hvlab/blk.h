/* The block device in the VMM (devices/blk.c): the emul registers, the virtio-mmio
 * transport and the backends of the ring paths (blk_abi.h). */
#ifndef HVLAB_BLK_H
#define HVLAB_BLK_H
#include <stdint.h>

struct hv_vm;

/* What hvm was asked for (--disk, --disk-size, --disk-direct) and the guest's I/O
 * path, as its command line says (iopath= or io=; the last word wins). */
struct hv_blk_config {
	const char *path;        /* NULL: a sparse temporary file in the run directory */
	uint64_t size;           /* 0: the file's size, or HV_BLK_DEFAULT_SIZE */
	int direct;
	const char *cmdline;     /* the guest command line */
};

enum hv_blk_path { HV_BLK_EMUL, HV_BLK_VIRTIO, HV_BLK_IOEVENTFD, HV_BLK_POLL, HV_BLK_SPLIT,
		   HV_BLK_NPATHS };

/* The path a guest command line selects: 0 with *path set, -1 with hv_err_msg() when
 * the value names no path. */
int hv_blk_path_of_cmdline(const char *cmdline, enum hv_blk_path *path);
const char *hv_blk_path_name(enum hv_blk_path p);

/* Registers the device's ports and MMIO page; -1 with hv_err_msg() on a host error. */
int hv_blk_register(struct hv_vm *vm, const struct hv_blk_config *cfg);
/* How completions reach the guest: "irqfd", "vmm-inject" (the serving thread asks the
 * engine), "relay-thread-inject" (split: a VMM thread reads the driver's eventfd),
 * "none" (emul, poll). For the run's notes. */
const char *hv_blk_irq_route(struct hv_vm *vm);
/* How the ring paths' doorbell reaches the backend: "mmio-exit" (virtio),
 * "ioeventfd" (the engine signals an eventfd: KVM's ioeventfd, or bt's port call-out),
 * "port-exit" (no ioeventfd here), "none" (emul, poll). */
const char *hv_blk_notify_route(struct hv_vm *vm);
/* The disk file's path (for the run's notes). */
const char *hv_blk_file_path(struct hv_vm *vm);
/* Stops its threads and driver process, closes the file. */
void hv_blk_close(struct hv_vm *vm);

/* `hvm blkd ...`: the split driver process (started by the device, not by users). */
int hv_blkd_main(int argc, char **argv);

#endif
