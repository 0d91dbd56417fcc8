/* The repeat-until-enough-cycles driver. */
#include "bench.h"

void bench_run(bench_fn fn, uint64_t max_iters, uint64_t min_cycles, unsigned reps,
	       struct bench_sample *out)
{
	uint64_t n = 1, op, base;

	/* Warm-up: first-time costs (page tables, cold caches) stay out of the count. */
	fn(1, &op, &base);
	for (;;) {
		fn(n, &op, &base);
		if (op >= min_cycles || n >= max_iters)
			break;
		n = n * 2 > max_iters ? max_iters : n * 2;
	}
	for (unsigned r = 0; r < reps; r++) {
		fn(n, &op, &base);
		out[r].iters = n;
		out[r].cycles = op > base ? op - base : 0;
		out[r].baseline = base;
	}
}
