/* compute: integer work (CRC-32 and a multiply-rotate hash) over a generated buffer,
 * the same core as native-compute (work.h). Only the hashing is timed.
 * wargs: size=BYTES,rounds=N,seed=S,reps=R */
#include "guest/work.h"
#include "ulib.h"

int main(const char *args)
{
	struct compute_params p;
	const char *bad;
	uint32_t first = 0;

	if (compute_parse(args, &p, &bad) < 0) {
		printf("compute: bad argument at '%s' (%s)\n", bad, COMPUTE_ARGS);
		return 1;
	}
	uint8_t *buf = malloc(p.size + 4096);
	if (!buf) {
		printf("compute: no memory for %lu bytes\n", p.size);
		return 1;
	}
	buf = (uint8_t *)(((uint64_t)buf + 4095) & ~4095ull);
	populate(buf, (p.size + 4095) & ~4095ull);
	compute_fill(buf, p.size, p.seed);
	printf("compute: %lu bytes, %lu rounds, seed %lu, %lu reps\n", p.size, p.rounds, p.seed,
	       p.reps);
	for (unsigned r = 0; r < p.reps; r++) {
		uint64_t t0 = tsc_read();
		uint32_t sum = compute_run(buf, p.size, p.rounds);
		uint64_t t = tsc_read() - t0;
		report_work("compute", r, t, p.size * p.rounds, sum);
		if (r == 0)
			first = sum;
		else if (sum != first) {
			printf("compute: FAIL: checksum %#x differs from the first repetition's %#x\n",
			       sum, first);
			return 1;
		}
	}
	return 0;
}
