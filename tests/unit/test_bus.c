/* The device bus: registration, refused overlaps and bad ranges, lookups at the edges
 * of a device, accesses that straddle it, and addresses nobody owns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "hvlab/bus.h"
#include "hvlab/err.h"

static int calls;
static uint64_t last_offset;

static int dummy_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		    uint32_t len, int is_write)
{
	(void)dev;
	(void)vcpu;
	(void)is_write;
	calls++;
	last_offset = offset;
	memset(data, 0x42, len);
	return 0;
}

static int uart, post;

static void setup_bus(struct hv_bus *b)
{
	hv_bus_init(b);
	assert_int_equal(hv_bus_register(b, HV_BUS_PIO, 0x3f8, 8, "serial", &uart, dummy_io), 0);
	assert_int_equal(hv_bus_register(b, HV_BUS_PIO, 0x80, 1, "post", &post, dummy_io), 0);
	assert_int_equal(hv_bus_register(b, HV_BUS_MMIO, 0xfe000000, 0x1000, "null-mmio", NULL,
					 dummy_io), 0);
}

static void expect_msg(const char *words)
{
	if (!strstr(hv_err_msg(), words))
		fail_msg("message '%s' does not say '%s'", hv_err_msg(), words);
}

static void register_and_find(void **state)
{
	struct hv_bus b;
	const struct hv_bus_dev *d;
	uint8_t data[4] = { 0 };

	(void)state;
	setup_bus(&b);
	d = hv_bus_find(&b, HV_BUS_PIO, 0x3f8, 1);
	assert_non_null(d);
	assert_string_equal(d->name, "serial");
	assert_ptr_equal(d->dev, &uart);
	calls = 0;
	assert_int_equal(d->handler(d->dev, NULL, 0x3fd - d->base, data, 1, 0), 0);
	assert_int_equal(calls, 1);
	assert_int_equal(last_offset, 5);
	assert_int_equal(data[0], 0x42);
	d = hv_bus_find(&b, HV_BUS_PIO, 0x80, 1);
	assert_non_null(d);
	assert_ptr_equal(d->dev, &post);
}

static void overlap_refused(void **state)
{
	struct hv_bus b;

	(void)state;
	setup_bus(&b);
	/* Inside, across the start, across the end, covering, identical. */
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x3fa, 1, "x", NULL, dummy_io), -1);
	expect_msg("overlaps device serial");
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x3f0, 9, "x", NULL, dummy_io), -1);
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x3ff, 4, "x", NULL, dummy_io), -1);
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x300, 0x200, "x", NULL, dummy_io), -1);
	assert_int_equal(hv_bus_register(&b, HV_BUS_MMIO, 0xfe000000, 0x1000, "y", NULL,
					 dummy_io), -1);
	expect_msg("device y");
	expect_msg("null-mmio");
	/* Adjacent on both sides is fine, and the spaces are separate. */
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x3f0, 8, "below", NULL, dummy_io), 0);
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x400, 1, "above", NULL, dummy_io), 0);
	assert_int_equal(hv_bus_register(&b, HV_BUS_MMIO, 0x3f8, 8, "mmio", NULL, dummy_io), 0);
}

static void bad_ranges_refused(void **state)
{
	struct hv_bus b;

	(void)state;
	setup_bus(&b);
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x1000, 0, "empty", NULL, dummy_io), -1);
	expect_msg("empty");
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0xfffe, 4, "high", NULL, dummy_io), -1);
	expect_msg("0xffff");
	assert_int_equal(hv_bus_register(&b, HV_BUS_MMIO, UINT64_MAX - 1, 4, "wrap", NULL,
					 dummy_io), -1);
	expect_msg("wraps");
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x1000, 1, "nohandler", NULL, NULL), -1);
	assert_int_equal(hv_bus_register(&b, HV_BUS_NSPACES, 0x1000, 1, "space", NULL, dummy_io),
			 -1);
	/* The last port fits exactly. */
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0xffff, 1, "last", NULL, dummy_io), 0);
	assert_non_null(hv_bus_find(&b, HV_BUS_PIO, 0xffff, 1));
}

static void lookup_at_edges(void **state)
{
	struct hv_bus b;

	(void)state;
	setup_bus(&b);
	assert_non_null(hv_bus_find(&b, HV_BUS_PIO, 0x3f8, 1));       /* first byte */
	assert_non_null(hv_bus_find(&b, HV_BUS_PIO, 0x3ff, 1));       /* last byte */
	assert_non_null(hv_bus_find(&b, HV_BUS_PIO, 0x3fc, 4));       /* last 4 bytes */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x3f7, 1));           /* one below */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x400, 1));           /* one above */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x3fe, 4));           /* straddles the end */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x3f6, 4));           /* straddles the start */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x80, 2));            /* wider than the device */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x3f8, 0));           /* empty access */
	assert_non_null(hv_bus_find(&b, HV_BUS_MMIO, 0xfe000ff8, 8));
	assert_null(hv_bus_find(&b, HV_BUS_MMIO, 0xfe000ffc, 8));
	assert_null(hv_bus_find(&b, HV_BUS_MMIO, UINT64_MAX, 8));     /* addr + len wraps */
}

static void unknown_address(void **state)
{
	struct hv_bus b;

	(void)state;
	setup_bus(&b);
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x1234, 1));
	assert_null(hv_bus_find(&b, HV_BUS_MMIO, 0x80, 1));           /* a port, not MMIO */
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0xfe000000, 4));      /* MMIO, not a port */
	hv_bus_init(&b);
	assert_null(hv_bus_find(&b, HV_BUS_PIO, 0x3f8, 1));           /* empty bus */
}

static void bus_full(void **state)
{
	struct hv_bus b;
	int i;

	(void)state;
	hv_bus_init(&b);
	for (i = 0; i < HV_BUS_MAX_DEVS; i++)
		assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x1000 + (unsigned)i, 1, "d", NULL,
						 dummy_io), 0);
	assert_int_equal(hv_bus_register(&b, HV_BUS_PIO, 0x2000, 1, "one-too-many", NULL,
					 dummy_io), -1);
	expect_msg("full");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_and_find),
		cmocka_unit_test(overlap_refused),
		cmocka_unit_test(bad_ranges_refused),
		cmocka_unit_test(lookup_at_edges),
		cmocka_unit_test(unknown_address),
		cmocka_unit_test(bus_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
