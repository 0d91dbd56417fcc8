/* Statistics on data sets whose answers are known by hand, and the repeat driver
 * with a fake benchmark body. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/stats.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void median_odd_even(void **state)
{
	double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 }, one[] = { 7 };
	struct hv_summary s;

	(void)state;
	assert_int_equal(hv_summarize(odd, N(odd), &s), 0);
	assert_true(s.median == 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(hv_summarize(even, N(even), &s), 0);
	assert_true(s.median == 2.5);
	assert_true(s.min == 1 && s.max == 4 && s.mean == 2.5);
	assert_int_equal(hv_summarize(one, 1, &s), 0);
	assert_true(s.median == 7 && s.stddev == 0 && s.mad == 0);
	assert_true(s.ci_lo == 7 && s.ci_hi == 7);
	assert_int_equal(s.outliers, 0);
}

/* {1,2,3,4,100}: median 3, |x-3| = {2,1,0,1,97} -> MAD 1; limit 3*1.4826 = 4.45 so
 * 100 alone is an outlier; mean 22, sample variance 7610/4. */
static void mad_outliers_mean_sd(void **state)
{
	double x[] = { 100, 2, 4, 1, 3 }, copy[N(x)];
	struct hv_summary s;

	(void)state;
	memcpy(copy, x, sizeof(x));
	assert_int_equal(hv_summarize(x, N(x), &s), 0);
	assert_memory_equal(x, copy, sizeof(x));   /* input left alone */
	assert_true(s.median == 3);
	assert_true(s.mad == 1);
	assert_int_equal(s.outliers, 1);
	assert_true(s.min == 1 && s.max == 100);
	assert_true(s.mean == 22);
	assert_true(fabs(s.stddev - sqrt(7610.0 / 4)) < 1e-12);
}

/* Just inside and just outside the 3 * 1.4826 * MAD limit. */
static void outlier_limit(void **state)
{
	/* median 10, |dev| = {0,1,1,1,1,...}: MAD 1, limit 4.4478 */
	double x[] = { 10, 9, 11, 9, 11, 14.44, 5.55 };
	double y[] = { 10, 9, 11, 9, 11, 14.45, 5.55 };
	struct hv_summary s;

	(void)state;
	assert_int_equal(hv_summarize(x, N(x), &s), 0);
	assert_true(s.mad == 1);
	assert_int_equal(s.outliers, 1);           /* 5.55 is 4.45 away */
	assert_int_equal(hv_summarize(y, N(y), &s), 0);
	assert_int_equal(s.outliers, 2);
}

/* MAD 0: a value one tick off a tied majority is not an outlier, a far one is, and
 * identical samples have none. */
static void mad_zero(void **state)
{
	double ticks[] = { 10, 10, 10, 11, 11 };
	double spike[] = { 10, 10, 10, 10, 10, 10, 1000 };
	double same[] = { 4, 4, 4, 4 };
	struct hv_summary s;

	(void)state;
	assert_int_equal(hv_summarize(ticks, N(ticks), &s), 0);
	assert_true(s.mad == 0);
	assert_int_equal(s.outliers, 0);
	assert_int_equal(hv_summarize(spike, N(spike), &s), 0);
	assert_true(s.mad == 0);
	assert_int_equal(s.outliers, 1);
	assert_int_equal(hv_summarize(same, N(same), &s), 0);
	assert_int_equal(s.outliers, 0);
	assert_true(s.stddev == 0 && s.ci_lo == 4 && s.ci_hi == 4);
}

/* Order-statistic ranks: n = 100 gives x(40)..x(61) (P(B <= 39) = 0.018 <= 0.025 <
 * P(B <= 40) = 0.028); n < 6 gives [min, max]; n = 6 gives [min, max] (coverage 96.9%),
 * n = 9 gives x(2)..x(8). */
static void ci_ranks(void **state)
{
	double x[100];
	struct hv_summary s;

	(void)state;
	for (int i = 0; i < 100; i++)
		x[i] = 100 - i;                  /* reversed: 100..1 */
	assert_int_equal(hv_summarize(x, 100, &s), 0);
	assert_true(s.ci_lo == 40 && s.ci_hi == 61);
	assert_true(s.median == 50.5);
	for (int i = 0; i < 9; i++)
		x[i] = i + 1;
	assert_int_equal(hv_summarize(x, 9, &s), 0);
	assert_true(s.ci_lo == 2 && s.ci_hi == 8);
	for (size_t n = 2; n <= 6; n++) {
		assert_int_equal(hv_summarize(x, n, &s), 0);
		assert_true(s.ci_lo == 1 && s.ci_hi == (double)n);
	}
}

/* On many random sets the interval is ordered, contains the median, lies within the
 * data, and narrows (in rank terms) as n grows. */
static void ci_contains_median(void **state)
{
	static double x[2001];
	unsigned seed = 12345;
	struct hv_summary s;

	(void)state;
	for (size_t n = 1; n <= 2001; n += 37) {
		for (size_t i = 0; i < n; i++)
			x[i] = (double)(rand_r(&seed) % 1000) + (double)(rand_r(&seed) % 7) / 8;
		assert_int_equal(hv_summarize(x, n, &s), 0);
		assert_true(s.min <= s.ci_lo && s.ci_lo <= s.median);
		assert_true(s.median <= s.ci_hi && s.ci_hi <= s.max);
		assert_true(s.min <= s.mean && s.mean <= s.max);
		assert_true(s.outliers <= n);
	}
}

static void rejects_bad_input(void **state)
{
	double x[] = { 1, NAN, 3 }, y[] = { 1, INFINITY };
	struct hv_summary s;

	(void)state;
	assert_int_equal(hv_summarize(x, 0, &s), -1);
	assert_true(strlen(hv_err_msg()) > 0);
	assert_int_equal(hv_summarize(x, N(x), &s), -1);
	assert_non_null(strstr(hv_err_msg(), "sample 1"));
	assert_int_equal(hv_summarize(y, N(y), &s), -1);
}

/* A fake body: costs 10 cycles per iteration and records what it was asked. */
struct fake {
	uint64_t per_iter;
	uint64_t calls[64];
	int ncalls;
};

static uint64_t fake_body(void *arg, uint64_t iters)
{
	struct fake *f = arg;

	if (f->ncalls < 64)
		f->calls[f->ncalls] = iters;
	f->ncalls++;
	return iters * f->per_iter;
}

static void repeat_doubles_until_enough(void **state)
{
	struct fake f = { .per_iter = 10 };
	uint64_t iters = 0, cycles = 0;

	(void)state;
	/* 1,2,...,64 give < 1000 cycles; 128 gives 1280. */
	assert_int_equal(hv_repeat_until(fake_body, &f, 1, 1 << 20, 1000, &iters, &cycles), 0);
	assert_int_equal(iters, 128);
	assert_int_equal(cycles, 1280);
	assert_int_equal(f.ncalls, 8);
	for (int i = 0; i < f.ncalls; i++)
		assert_int_equal(f.calls[i], 1u << i);

	/* Already enough on the first call. */
	memset(&f, 0, sizeof(f));
	f.per_iter = 10;
	assert_int_equal(hv_repeat_until(fake_body, &f, 500, 1 << 20, 1000, &iters, &cycles), 0);
	assert_int_equal(f.ncalls, 1);
	assert_int_equal(iters, 500);
}

static void repeat_stops_at_max(void **state)
{
	struct fake f = { .per_iter = 10 };
	uint64_t iters = 0, cycles = 0;

	(void)state;
	/* 3, 6, 12, 24, 48, then capped at 50 (500 cycles, still short of 1e6). */
	assert_int_equal(hv_repeat_until(fake_body, &f, 3, 50, 1000000, &iters, &cycles), 0);
	assert_int_equal(iters, 50);
	assert_int_equal(cycles, 500);
	assert_int_equal(f.ncalls, 6);
	assert_int_equal(f.calls[4], 48);
}

static void repeat_zero_cycles_fails(void **state)
{
	struct fake f = { .per_iter = 0 };
	uint64_t iters = 0, cycles = 0;

	(void)state;
	assert_int_equal(hv_repeat_until(fake_body, &f, 1, 64, 1000, &iters, &cycles), -1);
	assert_int_equal(f.calls[f.ncalls - 1], 64);
	assert_non_null(strstr(hv_err_msg(), "0 cycles"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(median_odd_even),
		cmocka_unit_test(mad_outliers_mean_sd),
		cmocka_unit_test(outlier_limit),
		cmocka_unit_test(mad_zero),
		cmocka_unit_test(ci_ranks),
		cmocka_unit_test(ci_contains_median),
		cmocka_unit_test(rejects_bad_input),
		cmocka_unit_test(repeat_doubles_until_enough),
		cmocka_unit_test(repeat_stops_at_max),
		cmocka_unit_test(repeat_zero_cycles_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
