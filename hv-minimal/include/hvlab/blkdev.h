/* The block device's backend: the host file behind it and the serving of one request,
 * shared by every I/O path (the VMM's threads and the split driver process). */
#ifndef HVLAB_BLKDEV_H
#define HVLAB_BLKDEV_H
#include <stddef.h>
#include <stdint.h>

#include "hvlab/virtq.h"

#define HV_BLK_DEFAULT_SIZE (64ull << 20)

/* What the split driver process shares with the VMM besides guest memory (one
 * MAP_SHARED page): its counters and, when it finds the ring malformed, why. */
struct hv_blkd_shared {
	uint64_t requests, notifies, irqs;
	int broken;
	char why[256];
};

struct hv_blkfile {
	int fd;
	uint64_t size;           /* bytes, a multiple of HV_BLK_SECTOR */
	int direct;              /* opened O_DIRECT */
	int temp;                /* created by us: removed on close */
	char path[4096];
};

/* Opens path (NULL: a sparse temporary file in dir, or /tmp when dir is NULL) as the
 * disk; size 0 means the file's own size (HV_BLK_DEFAULT_SIZE for a new file). A
 * regular file is extended, sparsely, to size. Returns 0 or -1 with hv_err_msg(). */
int hv_blkfile_open(struct hv_blkfile *f, const char *path, const char *dir, uint64_t size,
		    int direct);
void hv_blkfile_close(struct hv_blkfile *f);
uint64_t hv_blkfile_sectors(const struct hv_blkfile *f);

/* Reads or writes len bytes at sector between the file and buf. Returns HV_BLK_ST_OK,
 * HV_BLK_ST_BADREQ (range, length) or HV_BLK_ST_IOERR (the host failed, a short
 * transfer included: nothing is acknowledged that was not written). */
int hv_blkfile_rw(struct hv_blkfile *f, int write, uint64_t sector, void *buf, uint32_t len);

/* Serves one virtio-blk request chain: header (readable, 16 bytes), data segments,
 * status byte (writable). Returns 0 with *used_len = bytes written into the guest's
 * buffers; -1 with why filled when the chain's shape is malformed (the queue must be
 * marked broken). A bad sector or type is no malformation: its status says so. */
int hv_blk_serve(struct hv_blkfile *f, const struct hv_memview *m, const struct hv_vq_chain *c,
		 uint32_t *used_len, char *why, size_t whylen);

#endif
