/* memwalk: a random pointer chase over a working set (the TLB-miss workload), the same
 * core as native-memwalk (work.h). The working set is mapped up front (SYS_populate)
 * and linked into one random cycle; only the chase is timed.
 * wargs: ws=BYTES,steps=N,seed=S,reps=R */
#include "guest/work.h"
#include "ulib.h"

int main(const char *args)
{
	struct memwalk_params p;
	const char *bad;
	uint32_t first = 0;

	if (memwalk_parse(args, &p, &bad) < 0) {
		printf("memwalk: bad argument at '%s' (%s)\n", bad, MEMWALK_ARGS);
		return 1;
	}
	uint8_t *raw = malloc(p.ws + 4096);
	if (!raw) {
		printf("memwalk: no memory for a %lu-byte working set\n", p.ws);
		return 1;
	}
	uint64_t *buf = (uint64_t *)(((uint64_t)raw + 4095) & ~4095ull);
	long r = populate(buf, p.ws);
	if (r < 0) {
		printf("memwalk: mapping the working set failed (%ld)\n", r);
		return 1;
	}
	memwalk_build(buf, p.ws, p.seed);
	printf("memwalk: %lu KiB working set, %lu steps, seed %lu, %lu reps\n", p.ws >> 10,
	       p.steps, p.seed, p.reps);
	for (unsigned i = 0; i < p.reps; i++) {
		uint64_t t0 = tsc_read();
		uint32_t sum = memwalk_run(buf, p.steps);
		uint64_t t = tsc_read() - t0;
		report_work("memwalk", i, t, p.steps, sum);
		if (i == 0)
			first = sum;
		else if (sum != first) {
			printf("memwalk: FAIL: checksum %#x differs from the first repetition's %#x\n",
			       sum, first);
			return 1;
		}
	}
	return 0;
}
