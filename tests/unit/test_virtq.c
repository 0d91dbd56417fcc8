/* The device side of the split virtqueue (virtq.c) and the virtio-blk request server
 * (blkfile.c): a well-formed chain is taken and served; every malformed ring is refused
 * with its reason and the queue stays broken; requests against a real file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvlab/blkdev.h"
#include "hvlab/virtq.h"

#define MEM (1u << 20)
#define DESC 0x1000u
#define AVAIL 0x2000u
#define USED 0x3000u
#define HDR 0x4000u
#define DATA 0x5000u
#define STAT 0x7000u

struct fx {
	struct hv_memview m;
	struct hv_vq vq;
	struct virtq_desc *d;
	struct virtq_avail *a;
	struct virtq_used *u;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->m.host = calloc(1, MEM);
	f->m.size = MEM;
	f->d = (struct virtq_desc *)(f->m.host + DESC);
	f->a = (struct virtq_avail *)(f->m.host + AVAIL);
	f->u = (struct virtq_used *)(f->m.host + USED);
	f->vq = (struct hv_vq){ .num = 16, .desc = DESC, .avail = AVAIL, .used = USED };
	assert_int_equal(hv_vq_setup(&f->m, &f->vq), 0);
	/* a read of one 4 KiB page: header, data (writable), status */
	f->d[0] = (struct virtq_desc){ HDR, 16, VIRTQ_DESC_F_NEXT, 1 };
	f->d[1] = (struct virtq_desc){ DATA, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
	f->d[2] = (struct virtq_desc){ STAT, 1, VIRTQ_DESC_F_WRITE, 0 };
	f->a->ring[0] = 0;
	f->a->idx = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->m.host);
	free(f);
	return 0;
}

static void pop_fails(struct fx *f, const char *why)
{
	struct hv_vq_chain c;

	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), -1);
	assert_true(f->vq.broken);
	if (!strstr(f->vq.why, why))
		fail_msg("reason '%s' does not say '%s'", f->vq.why, why);
	/* broken stays broken, even once the ring is right again */
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), -1);
}

static void good_chain(void **state)
{
	struct fx *f = *state;
	struct hv_vq_chain c;

	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 1);
	assert_int_equal(c.head, 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.seg[1].gpa, DATA);
	assert_true(c.seg[1].write);
	assert_false(c.seg[0].write);
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 0);
	hv_vq_push(&f->m, &f->vq, 0, 4097);
	assert_int_equal(f->u->idx, 1);
	assert_int_equal(f->u->ring[0].id, 0);
	assert_int_equal(f->u->ring[0].len, 4097);
}

static void loop(void **state)
{
	struct fx *f = *state;

	f->d[2].flags |= VIRTQ_DESC_F_NEXT;
	f->d[2].next = 1;
	pop_fails(f, "loops");
}

static void self_loop(void **state)
{
	struct fx *f = *state;

	f->d[0].next = 0;
	pop_fails(f, "loops");
}

static void out_of_memory(void **state)
{
	struct fx *f = *state;

	f->d[1].addr = MEM - 100;
	pop_fails(f, "outside guest memory");
}

static void wrapping_address(void **state)
{
	struct fx *f = *state;

	f->d[1].addr = ~0ull - 10;
	pop_fails(f, "outside guest memory");
}

static void oversized(void **state)
{
	struct fx *f = *state;

	f->d[1].len = HV_BLK_MAX_XFER + 1;
	pop_fails(f, "length");
}

static void zero_length(void **state)
{
	struct fx *f = *state;

	f->d[1].len = 0;
	pop_fails(f, "length 0");
}

static void head_out_of_range(void **state)
{
	struct fx *f = *state;

	f->a->ring[0] = 16;
	pop_fails(f, "beyond the queue size");
}

static void next_out_of_range(void **state)
{
	struct fx *f = *state;

	f->d[1].next = 200;
	pop_fails(f, "links to 200");
}

static void avail_too_far(void **state)
{
	struct fx *f = *state;

	f->a->idx = 17;
	pop_fails(f, "ahead");
}

static void indirect(void **state)
{
	struct fx *f = *state;

	f->d[0].flags |= VIRTQ_DESC_F_INDIRECT;
	pop_fails(f, "indirect");
}

static void readable_after_writable(void **state)
{
	struct fx *f = *state;

	f->d[0].flags |= VIRTQ_DESC_F_WRITE;
	f->d[1].flags &= (uint16_t)~VIRTQ_DESC_F_WRITE;
	pop_fails(f, "readable after a writable");
}

static void too_long(void **state)
{
	struct fx *f = *state;

	/* a queue of 32 holds a loop-free chain longer than any request (HV_VQ_MAX_SEGS) */
	f->vq = (struct hv_vq){ .num = 32, .desc = DESC, .avail = AVAIL, .used = USED };
	assert_int_equal(hv_vq_setup(&f->m, &f->vq), 0);
	for (unsigned i = 0; i < 32; i++)
		f->d[i] = (struct virtq_desc){ DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
					       (uint16_t)(i + 1) };
	f->d[31].flags = VIRTQ_DESC_F_WRITE;
	f->a->ring[0] = 0;
	f->a->idx = 1;
	pop_fails(f, "longer than");
}

static void bad_layout(void **state)
{
	struct fx *f = *state;
	struct hv_vq q = { .num = 16, .desc = DESC + 8, .avail = AVAIL, .used = USED };

	assert_int_equal(hv_vq_setup(&f->m, &q), -1);
	assert_non_null(strstr(q.why, "aligned"));
	q = (struct hv_vq){ .num = 12, .desc = DESC, .avail = AVAIL, .used = USED };
	assert_int_equal(hv_vq_setup(&f->m, &q), -1);
	q = (struct hv_vq){ .num = 16, .desc = DESC, .avail = AVAIL, .used = MEM - 8 };
	assert_int_equal(hv_vq_setup(&f->m, &q), -1);
	assert_non_null(strstr(q.why, "outside"));
}

/* A request served against a real file: written, read back, statuses. */
static void serve_requests(void **state)
{
	struct fx *f = *state;
	struct hv_blkfile file;
	struct hv_vq_chain c;
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 8 };
	uint32_t used;
	char why[200];

	assert_int_equal(hv_blkfile_open(&file, NULL, NULL, 1 << 20, 0), 0);
	memcpy(f->m.host + HDR, &h, sizeof(h));
	memset(f->m.host + DATA, 0x5a, 4096);
	f->d[1].flags = VIRTQ_DESC_F_NEXT;          /* a write: data device-readable */
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 1);
	assert_int_equal(hv_blk_serve(&file, &f->m, &c, &used, why, sizeof(why)), 0);
	assert_int_equal(f->m.host[STAT], VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);

	/* read it back */
	h.type = VIRTIO_BLK_T_IN;
	memcpy(f->m.host + HDR, &h, sizeof(h));
	memset(f->m.host + DATA, 0, 4096);
	f->d[1].flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
	f->a->ring[1] = 0;
	f->a->idx = 2;
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 1);
	assert_int_equal(hv_blk_serve(&file, &f->m, &c, &used, why, sizeof(why)), 0);
	assert_int_equal(f->m.host[STAT], VIRTIO_BLK_S_OK);
	assert_int_equal(used, 4097);
	assert_int_equal(f->m.host[DATA + 100], 0x5a);

	/* past the end of the disk: an I/O error, not a malformed ring */
	h.sector = (1 << 20) / 512 - 1;
	memcpy(f->m.host + HDR, &h, sizeof(h));
	f->a->ring[2] = 0;
	f->a->idx = 3;
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 1);
	assert_int_equal(hv_blk_serve(&file, &f->m, &c, &used, why, sizeof(why)), 0);
	assert_int_equal(f->m.host[STAT], VIRTIO_BLK_S_IOERR);

	/* an unknown type: unsupported */
	h.type = 77;
	memcpy(f->m.host + HDR, &h, sizeof(h));
	f->a->ring[3] = 0;
	f->a->idx = 4;
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 1);
	assert_int_equal(hv_blk_serve(&file, &f->m, &c, &used, why, sizeof(why)), 0);
	assert_int_equal(f->m.host[STAT], VIRTIO_BLK_S_UNSUPP);

	/* a writable buffer in a write request: malformed */
	h.type = VIRTIO_BLK_T_OUT;
	h.sector = 0;
	memcpy(f->m.host + HDR, &h, sizeof(h));
	f->a->ring[4] = 0;
	f->a->idx = 5;
	assert_int_equal(hv_vq_pop(&f->m, &f->vq, &c, HV_BLK_MAX_XFER), 1);
	assert_int_equal(hv_blk_serve(&file, &f->m, &c, &used, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "device-writable buffer in a write"));

	/* no status descriptor */
	c.n = 2;
	c.seg[1].write = 0;
	assert_int_equal(hv_blk_serve(&file, &f->m, &c, &used, why, sizeof(why)), -1);
	hv_blkfile_close(&file);
}

/* A host file that refuses writes: the request's status is an I/O error. */
static void write_error(void **state)
{
	struct fx *f = *state;
	struct hv_blkfile file;
	char buf[512] = { 1 };

	(void)f;
	if (access("/dev/full", W_OK)) {
		skip();
		return;
	}
	assert_int_equal(hv_blkfile_open(&file, "/dev/full", NULL, 1 << 20, 0), 0);
	assert_int_equal(hv_blkfile_rw(&file, 1, 0, buf, 512), HV_BLK_ST_IOERR);
	assert_int_equal(hv_blkfile_rw(&file, 0, 0, buf, 512), HV_BLK_ST_OK);
	assert_int_equal(hv_blkfile_rw(&file, 0, 1 << 20, buf, 512), HV_BLK_ST_BADREQ);
	assert_int_equal(hv_blkfile_rw(&file, 0, 0, buf, 100), HV_BLK_ST_BADREQ);
	hv_blkfile_close(&file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(good_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(loop, setup, teardown),
		cmocka_unit_test_setup_teardown(self_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(out_of_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(wrapping_address, setup, teardown),
		cmocka_unit_test_setup_teardown(oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_length, setup, teardown),
		cmocka_unit_test_setup_teardown(head_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(next_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(avail_too_far, setup, teardown),
		cmocka_unit_test_setup_teardown(indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(readable_after_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(serve_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(write_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
