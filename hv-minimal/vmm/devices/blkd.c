/* `hvm blkd`: the split driver process (the VSP of Hyper-V's VMBus, a Xen backend).
 * It maps guest memory from the VMM's memfd, waits on the doorbell eventfd, serves
 * the queue against the disk and signals completions on another eventfd, which the
 * VMM turns into the guest's interrupt. Started by the block device with its
 * descriptors at fixed numbers; it dies with the VMM. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "hvlab/blk.h"
#include "hvlab/blkdev.h"

enum { FD_MEM = 3, FD_DISK = 4, FD_NOTIFY = 5, FD_IRQ = 6, FD_SHARED = 7 };


static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end ? -1 : 0;
}

int hv_blkd_main(int argc, char **argv)
{
	uint64_t mem, disk, num, desc, avail, used;
	struct hv_blkd_shared *sh;
	struct hv_blkfile f = { .fd = FD_DISK };
	struct hv_memview m;
	struct hv_vq vq;

	if (argc != 7 || parse_u64(argv[1], &mem) || parse_u64(argv[2], &disk) ||
	    parse_u64(argv[3], &num) || parse_u64(argv[4], &desc) || parse_u64(argv[5], &avail) ||
	    parse_u64(argv[6], &used) || num > HV_BLK_QUEUE_MAX) {
		fprintf(stderr, "hvm blkd: started by hvm's block device only (split I/O path)\n");
		return 2;
	}
	/* the VMM may die without killing us: follow it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 2;
	m.size = mem;
	m.host = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_SHARED, FD_MEM, 0);
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, FD_SHARED, 0);
	if (m.host == MAP_FAILED || sh == MAP_FAILED) {
		fprintf(stderr, "hvm blkd: mapping guest memory: %s\n", strerror(errno));
		return 2;
	}
	f.size = disk;
	vq = (struct hv_vq){ .num = (uint32_t)num, .desc = desc, .avail = avail, .used = used };
	if (hv_vq_setup(&m, &vq))
		goto broken;
	for (;;) {
		struct hv_vq_chain c;
		uint64_t v;
		unsigned n = 0;
		int r;

		if (read(FD_NOTIFY, &v, sizeof(v)) != sizeof(v)) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "hvm blkd: doorbell: %s\n", strerror(errno));
			return 2;
		}
		__atomic_fetch_add(&sh->notifies, v, __ATOMIC_RELAXED);
		while ((r = hv_vq_pop(&m, &vq, &c, HV_BLK_MAX_XFER)) == 1) {
			uint32_t ulen;
			char why[200];

			if (hv_blk_serve(&f, &m, &c, &ulen, why, sizeof(why))) {
				snprintf(vq.why, sizeof(vq.why), "%s", why);
				goto broken;
			}
			hv_vq_push(&m, &vq, c.head, ulen);
			n++;
		}
		if (r < 0)
			goto broken;
		__atomic_fetch_add(&sh->requests, n, __ATOMIC_RELAXED);
		if (n && !hv_vq_no_interrupt(&m, &vq)) {
			v = 1;
			__atomic_fetch_add(&sh->irqs, 1, __ATOMIC_RELAXED);
			if (write(FD_IRQ, &v, sizeof(v)) != sizeof(v))
				return 2;
		}
	}
broken:
	snprintf(sh->why, sizeof(sh->why), "%s", vq.why);
	__atomic_store_n(&sh->broken, 1, __ATOMIC_RELEASE);
	return 3;
}
