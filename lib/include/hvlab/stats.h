/* Statistics over samples, and the repeat-until-enough-cycles driver. */
#ifndef HVLAB_STATS_H
#define HVLAB_STATS_H
#include <stddef.h>
#include <stdint.h>

struct hv_summary {
	size_t n;
	double median, min, max, mean, stddev;
	double mad;              /* median absolute deviation (unscaled) */
	size_t outliers;         /* samples with |x - median| > 3 * 1.4826 * MAD; when MAD
				  * is 0, 1.2533 * mean |x - median| stands in for
				  * 1.4826 * MAD (so one tick off a tied majority is not an
				  * outlier); all samples equal: 0 */
	double ci_lo, ci_hi;     /* 95% confidence interval of the median: order statistics
				  * x(j), x(n+1-j) with binomial ranks; n < 6: [min, max],
				  * which then covers less than 95% */
};

/* Summarizes n >= 1 samples (the array is not changed). Returns 0, or -1 when n == 0
 * or a sample is not finite. */
int hv_summarize(const double *samples, size_t n, struct hv_summary *out);

/* A benchmark body: runs the operation iters times and returns the TSC cycles it took
 * (the body does its own timing so that setup stays outside the timed region). */
typedef uint64_t (*hv_bench_fn)(void *arg, uint64_t iters);

/* kvm-unit-tests style driver: doubles iters from start_iters until one call takes at
 * least min_cycles, then returns that call's iters and cycles. Stops at max_iters.
 * Returns 0, or -1 if the body returned 0 cycles for max_iters iterations. */
int hv_repeat_until(hv_bench_fn fn, void *arg, uint64_t start_iters, uint64_t max_iters,
		    uint64_t min_cycles, uint64_t *iters_out, uint64_t *cycles_out);

#endif
