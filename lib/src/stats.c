/* Summary statistics with robust spread (median, MAD) and a distribution-free
 * confidence interval for the median, plus the repeat-until-enough-cycles driver. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/stats.h"

/* Consistency constants: MAD * 1.4826 and mean absolute deviation * 1.2533 both
 * estimate the standard deviation of normal data. */
#define MAD_TO_SD     1.4826
#define MEANAD_TO_SD  1.2533
#define OUTLIER_SDS   3.0

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of a sorted array. */
static double sorted_median(const double *s, size_t n)
{
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* 1-based rank j of the lower bound of the 95% order-statistic interval
 * [x(j), x(n-j+1)]: the largest j with P(B <= j-1) <= 0.025 for B ~ Bin(n, 1/2), so
 * that the interval covers the median with probability >= 95%. When even [min, max]
 * covers less (n < 6), j = 1: the widest interval the data allow. */
static size_t ci_rank(size_t n)
{
	double cdf = 0, log_half_n = (double)n * log(0.5);

	for (size_t i = 0; i <= n / 2; i++) {
		double lpmf = lgamma((double)n + 1) - lgamma((double)i + 1) -
			      lgamma((double)(n - i) + 1) + log_half_n;
		cdf += exp(lpmf);
		if (cdf > 0.025)
			return i ? i : 1;
	}
	return 1;
}

int hv_summarize(const double *samples, size_t n, struct hv_summary *out)
{
	double *s, *dev, sum = 0, sq = 0, scale, limit;
	size_t j;

	if (n == 0)
		return hv_err_set("summary of no samples: run the benchmark at least once");
	for (size_t i = 0; i < n; i++)
		if (!isfinite(samples[i]))
			return hv_err_set("summary: sample %zu of %zu is not finite (%g); "
					  "check the measurement that produced it", i, n, samples[i]);

	s = malloc(n * sizeof(*s));
	dev = malloc(n * sizeof(*dev));
	if (!s || !dev) {
		free(s);
		free(dev);
		return hv_err_set("summary of %zu samples: out of memory", n);
	}
	memcpy(s, samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);

	memset(out, 0, sizeof(*out));
	out->n = n;
	out->min = s[0];
	out->max = s[n - 1];
	out->median = sorted_median(s, n);

	for (size_t i = 0; i < n; i++)
		sum += s[i];
	out->mean = sum / (double)n;
	for (size_t i = 0; i < n; i++)
		sq += (s[i] - out->mean) * (s[i] - out->mean);
	out->stddev = n > 1 ? sqrt(sq / (double)(n - 1)) : 0;

	sum = 0;
	for (size_t i = 0; i < n; i++) {
		dev[i] = fabs(s[i] - out->median);
		sum += dev[i];
	}
	qsort(dev, n, sizeof(*dev), cmp_double);
	out->mad = sorted_median(dev, n);

	/* Outliers: |x - median| > 3 robust SDs. When MAD is 0 (more than half the
	 * samples equal the median, common with quantized cycle counts) the robust SD
	 * falls back to the scaled mean absolute deviation, so that a value one tick
	 * away from a large identical majority is not called an outlier; when that is 0
	 * too, all samples are equal and none is an outlier. */
	scale = out->mad > 0 ? MAD_TO_SD * out->mad : MEANAD_TO_SD * sum / (double)n;
	limit = OUTLIER_SDS * scale;
	if (scale > 0)
		for (size_t i = 0; i < n; i++)
			if (fabs(samples[i] - out->median) > limit)
				out->outliers++;

	j = ci_rank(n);
	out->ci_lo = s[j - 1];
	out->ci_hi = s[n - j];

	free(s);
	free(dev);
	return 0;
}

int hv_repeat_until(hv_bench_fn fn, void *arg, uint64_t start_iters, uint64_t max_iters,
		    uint64_t min_cycles, uint64_t *iters_out, uint64_t *cycles_out)
{
	uint64_t iters = start_iters ? start_iters : 1;
	uint64_t cycles;

	if (max_iters < iters)
		max_iters = iters;
	for (;;) {
		cycles = fn(arg, iters);
		if (cycles >= min_cycles || iters >= max_iters)
			break;
		iters = iters > max_iters / 2 ? max_iters : iters * 2;
	}
	if (cycles == 0)
		return hv_err_set("benchmark body reported 0 cycles for %llu iterations: "
				  "its timing is broken (is it timing the loop at all?)",
				  (unsigned long long)iters);
	*iters_out = iters;
	*cycles_out = cycles;
	return 0;
}
