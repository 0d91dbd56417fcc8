/* The guest's host-testable library code: doubles built and printed without floating
 * point (f64.c), workload argument lists (wargs.c) and the workload cores shared with
 * the native builds (work_compute.c, work_memwalk.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "guest/f64.h"
#include "guest/work.h"

/* The guest's formatter and double helpers, compiled here for the host (the workload
 * cores are in libhvm already). */
#include "../../hv-minimal/guest/common/f64.c"
#include "../../hv-minimal/guest/common/fmt.c"

static double as_double(uint64_t bits)
{
	double d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

static uint64_t bits_of(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static void f64_integers(void **state)
{
	const uint64_t v[] = { 0, 1, 2, 3, 1000, 311431997, (1ull << 53) - 1, 1ull << 53,
			       (1ull << 53) + 1, (1ull << 53) + 3, 0x123456789abcdefull,
			       UINT64_MAX };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(f64_from_u64(v[i]) == bits_of((double)v[i]));   /* same rounding */
}

static void f64_ratios(void **state)
{
	const uint64_t num[] = { 1, 2, 1910532, 6866652, UINT64_MAX, 7, 1ull << 40 };
	const uint64_t den[] = { 3, 1, 1000, 262144, 3, 7, 1000000007 };

	(void)state;
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
		double want = (double)num[i] / (double)den[i];
		double got = as_double(f64_from_ratio(num[i], den[i]));
		assert_true(fabs(got - want) <= want * 2.3e-16);   /* one ulp */
	}
	assert_true(f64_from_ratio(5, 0) == 0);
	assert_true(f64_from_ratio(0, 5) == 0);
}

static void f64_text(void **state)
{
	char buf[64];

	(void)state;
	f64_format(buf, sizeof(buf), f64_from_u64(311431997));
	assert_string_equal(buf, "311431997");
	f64_format(buf, sizeof(buf), bits_of(0.0));
	assert_string_equal(buf, "0");
	f64_format(buf, sizeof(buf), bits_of(26.194199));
	assert_string_equal(buf, "26.194199");
	f64_format(buf, sizeof(buf), bits_of(-2.5));
	assert_string_equal(buf, "-2.500000");
	f64_format(buf, sizeof(buf), bits_of(0.9999999));
	assert_string_equal(buf, "1.000000");
	f64_format(buf, sizeof(buf), bits_of(1e30));
	assert_true(strtod(buf, NULL) == 1e30);               /* hexadecimal, exact */
	f64_format(buf, sizeof(buf), bits_of(INFINITY));
	assert_string_equal(buf, "inf");
	f64_format(buf, sizeof(buf), bits_of(NAN));
	assert_string_equal(buf, "nan");
}

static void wargs(void **state)
{
	uint64_t a = 5, b = 6, c = 7;
	const struct warg w[] = { { "a", &a }, { "bee", &b }, { "c", &c } };
	const char *bad = NULL;

	(void)state;
	assert_int_equal(wargs_parse("", w, 3, &bad), 0);
	assert_true(a == 5 && b == 6 && c == 7);              /* defaults stay */
	assert_int_equal(wargs_parse("bee=64K,a=0x10,c=2G", w, 3, &bad), 0);
	assert_true(a == 16 && b == 65536 && c == 2ull << 30);
	const char *refused[] = { "d=1", "a", "a=", "a=1x", "a=1,,b=2", "be=1", "bees=1", "a=M",
				  "a=99999999999999999999", "a=17179869184G", "a=-1" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		bad = NULL;
		assert_int_equal(wargs_parse(refused[i], w, 3, &bad), -1);
		assert_non_null(bad);
	}
	assert_int_equal(wargs_parse("a=1,zz=2", w, 3, &bad), -1);
	assert_string_equal(bad, "zz=2");                     /* points at the culprit */
}

static void compute_core(void **state)
{
	struct compute_params p;
	const char *bad;
	uint8_t *buf = malloc(1 << 16);

	(void)state;
	assert_int_equal(compute_parse("size=65536,rounds=4", &p, &bad), 0);
	assert_int_equal(compute_parse("size=65537", &p, &bad), -1);
	assert_int_equal(compute_parse("reps=0", &p, &bad), -1);
	compute_fill(buf, 1 << 16, 1);
	uint32_t a = compute_run(buf, 1 << 16, 4), b = compute_run(buf, 1 << 16, 4);
	assert_int_equal(a, b);
	/* The guest under KVM and QEMU reports this value for size=65536,rounds=4. */
	assert_int_equal(a, 0x1290133d);
	compute_fill(buf, 1 << 16, 2);
	assert_int_not_equal(compute_run(buf, 1 << 16, 4), a);
	free(buf);
}

static void memwalk_core(void **state)
{
	const uint64_t ws = 1 << 20, n = ws / MEMWALK_SLOT, words = MEMWALK_SLOT / 8;
	uint64_t *buf = aligned_alloc(4096, ws);
	struct memwalk_params p;
	const char *bad;

	(void)state;
	assert_int_equal(memwalk_parse("ws=1M,steps=10", &p, &bad), 0);
	assert_int_equal(memwalk_parse("ws=1000", &p, &bad), -1);
	memwalk_build(buf, ws, 1);
	/* One cycle through every slot: back at slot 0 after exactly n hops, not before. */
	uint64_t i = 0, hops = 0;
	do {
		i = buf[i * words];
		hops++;
	} while (i != 0 && hops <= n);
	assert_true(hops == n);
	assert_int_equal(memwalk_run(buf, 1000), memwalk_run(buf, 1000));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(f64_integers),
		cmocka_unit_test(f64_ratios),
		cmocka_unit_test(f64_text),
		cmocka_unit_test(wargs),
		cmocka_unit_test(compute_core),
		cmocka_unit_test(memwalk_core),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
