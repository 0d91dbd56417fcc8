/* ptchurn: page-table churn. Each iteration writes to `pages` fresh pages of the demand
 * area (each write a page fault that maps a zeroed frame) and unmaps them again (page-
 * table writes and TLB invalidations), the pattern where shadow and nested paging
 * differ most. One op is one page mapped, touched and unmapped.
 * wargs: iters=N,pages=K,reps=R */
#include "guest/work.h"
#include "ulib.h"

int main(const char *args)
{
	uint64_t iters = 64, pages = 16, reps = 3;
	const struct warg w[] = { { "iters", &iters }, { "pages", &pages }, { "reps", &reps } };
	const char *bad = args;
	uint32_t first = 0;
	const uint64_t span = GUEST_USER_DEMAND_END - GUEST_USER_DEMAND_BASE;

	if (wargs_parse(args, w, 3, &bad) < 0 || !iters || !pages || pages > span / 4096 ||
	    !reps || reps > 64) {
		printf("ptchurn: bad argument at '%s' (iters=N,pages=K,reps=R)\n", bad);
		return 1;
	}
	printf("ptchurn: %lu iterations of %lu pages, %lu reps\n", iters, pages, reps);
	for (unsigned r = 0; r < reps; r++) {
		uint64_t sum = 0;
		work_begin();
		uint64_t t0 = tsc_read();
		for (uint64_t it = 0; it < iters; it++) {
			for (uint64_t k = 0; k < pages; k++) {
				volatile uint64_t *p =
					(volatile uint64_t *)(GUEST_USER_DEMAND_BASE + k * 4096);
				*p = it * pages + k;          /* the fault maps a zeroed frame */
				sum = sum * 31 + p[1] + *p;   /* p[1] reads zero */
			}
			if (unmap(GUEST_USER_DEMAND_BASE, pages * 4096) < 0) {
				printf("ptchurn: FAIL: unmap refused\n");
				return 1;
			}
		}
		uint64_t t = tsc_read() - t0;
		uint32_t ck = (uint32_t)(sum ^ (sum >> 32));
		report_work("ptchurn", r, t, iters * pages, ck);
		if (r == 0)
			first = ck;
		else if (ck != first) {
			printf("ptchurn: FAIL: checksum %#x, first repetition %#x\n", ck, first);
			return 1;
		}
	}
	return 0;
}
