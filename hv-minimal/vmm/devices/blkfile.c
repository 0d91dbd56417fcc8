/* The host file behind the block device, and the serving of one virtio-blk request
 * (blkdev.h). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvlab/blkdev.h"
#include "hvlab/err.h"

int hv_blkfile_open(struct hv_blkfile *f, const char *path, const char *dir, uint64_t size,
		    int direct)
{
	struct stat st;
	int flags = O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0);

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->direct = direct;
	if (size % HV_BLK_SECTOR)
		return hv_err_set("disk size %" PRIu64 " is not a multiple of %u bytes", size,
				  HV_BLK_SECTOR);
	if (!path) {
		snprintf(f->path, sizeof(f->path), "%s/disk-XXXXXX", dir ? dir : "/tmp");
		int fd = mkostemp(f->path, O_CLOEXEC);
		if (fd < 0)
			return hv_err_errno("creating the disk file %s", f->path);
		close(fd);
		f->temp = 1;
	} else {
		snprintf(f->path, sizeof(f->path), "%s", path);
		flags |= O_CREAT;
	}
	f->fd = open(f->path, flags, 0600);
	if (f->fd < 0) {
		int e = errno;

		if (f->temp)
			unlink(f->path);
		errno = e;
		return hv_err_errno("opening the disk file %s%s (--disk FILE)", f->path,
				    direct ? " with O_DIRECT (the file system may refuse it: "
				    "drop --disk-direct)" : "");
	}
	if (fstat(f->fd, &st) < 0)
		return hv_err_errno("fstat of the disk file %s", f->path);
	if (S_ISREG(st.st_mode)) {
		if (size == 0)
			size = st.st_size ? (uint64_t)st.st_size : HV_BLK_DEFAULT_SIZE;
		/* sparse: no data blocks until the guest writes */
		if ((uint64_t)st.st_size < size && ftruncate(f->fd, (off_t)size) < 0)
			return hv_err_errno("extending the disk file %s to %" PRIu64 " bytes",
					    f->path, size);
	} else if (size == 0) {
		size = HV_BLK_DEFAULT_SIZE;  /* a device (e.g. /dev/full) has no size of its own here */
	}
	f->size = size - size % HV_BLK_SECTOR;
	if (f->size == 0)
		return hv_err_set("disk file %s is smaller than one sector", f->path);
	return 0;
}

void hv_blkfile_close(struct hv_blkfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->temp)
		unlink(f->path);
	f->fd = -1;
	f->temp = 0;
}

uint64_t hv_blkfile_sectors(const struct hv_blkfile *f)
{
	return f->size / HV_BLK_SECTOR;
}

int hv_blkfile_rw(struct hv_blkfile *f, int write, uint64_t sector, void *buf, uint32_t len)
{
	uint64_t nsec = hv_blkfile_sectors(f);
	uint32_t done = 0;

	if (len == 0 || len % HV_BLK_SECTOR || len > HV_BLK_MAX_XFER || sector > nsec ||
	    len / HV_BLK_SECTOR > nsec - sector)
		return HV_BLK_ST_BADREQ;
	while (done < len) {
		off_t off = (off_t)(sector * HV_BLK_SECTOR + done);
		ssize_t r = write ? pwrite(f->fd, (uint8_t *)buf + done, len - done, off)
				  : pread(f->fd, (uint8_t *)buf + done, len - done, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return HV_BLK_ST_IOERR;
		if (r == 0) {
			if (write)
				return HV_BLK_ST_IOERR;
			/* past the end of a shorter device: zeros, as a sparse file reads */
			memset((uint8_t *)buf + done, 0, len - done);
			break;
		}
		done += (uint32_t)r;
	}
	return HV_BLK_ST_OK;
}

static int shape(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int shape(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

int hv_blk_serve(struct hv_blkfile *f, const struct hv_memview *m, const struct hv_vq_chain *c,
		 uint32_t *used_len, char *why, size_t whylen)
{
	struct virtio_blk_outhdr h;
	const struct hv_vq_seg *st;
	uint32_t total = 0;
	uint8_t status = VIRTIO_BLK_S_OK;
	int write;

	*used_len = 0;
	if (c->n < 2)
		return shape(why, whylen, "request at descriptor %u has %u descriptor(s), needs a "
			     "header and a status", c->head, c->n);
	if (c->seg[0].write || c->seg[0].len != sizeof(h))
		return shape(why, whylen, "request at descriptor %u: the header is not one "
			     "device-readable %zu-byte buffer", c->head, sizeof(h));
	st = &c->seg[c->n - 1];
	if (!st->write || st->len != 1)
		return shape(why, whylen, "request at descriptor %u: the status is not one "
			     "device-writable byte", c->head);
	memcpy(&h, m->host + c->seg[0].gpa, sizeof(h));
	if (h.type != VIRTIO_BLK_T_IN && h.type != VIRTIO_BLK_T_OUT) {
		status = VIRTIO_BLK_S_UNSUPP;
		goto out;
	}
	write = h.type == VIRTIO_BLK_T_OUT;
	for (unsigned i = 1; i + 1 < c->n; i++) {
		if (c->seg[i].write == write)
			return shape(why, whylen, "request at descriptor %u: a %s buffer in a %s "
				     "request", c->head, c->seg[i].write ? "device-writable" :
				     "device-readable", write ? "write" : "read");
		total += c->seg[i].len;   /* each <= the pop limit, at most 17: no overflow */
	}
	if (total == 0 || total % HV_BLK_SECTOR || total > HV_BLK_MAX_XFER) {
		status = VIRTIO_BLK_S_IOERR;
		goto out;
	}
	{
		uint64_t sector = h.sector;

		for (unsigned i = 1; i + 1 < c->n && status == VIRTIO_BLK_S_OK; i++) {
			const struct hv_vq_seg *s = &c->seg[i];
			int r;

			/* a segment that is not whole sectors: the next one would start mid-sector */
			if (s->len % HV_BLK_SECTOR) {
				status = VIRTIO_BLK_S_IOERR;
				break;
			}
			r = hv_blkfile_rw(f, write, sector, m->host + s->gpa, s->len);
			if (r != HV_BLK_ST_OK)
				status = VIRTIO_BLK_S_IOERR;
			else if (!write)
				*used_len += s->len;
			sector += s->len / HV_BLK_SECTOR;
		}
	}
out:
	__atomic_store_n(m->host + st->gpa, status, __ATOMIC_RELAXED);
	*used_len += 1;
	return 0;
}
