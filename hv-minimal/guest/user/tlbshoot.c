/* tlbshoot: TLB shootdowns to busy CPUs. One thread per other CPU spins in user mode
 * reading a page of the demand area, so this address space is live there; the main
 * thread writes the page and unmaps it, `rounds` times. Each unmap must flush the
 * spinners' TLBs; on hosts where IPIs to a running vCPU arrive late or never, the
 * kernel re-sends and the targets' timer interrupts serve the request, and this
 * program checks that every round completed and counts what it took. One op is one
 * round (map, touch, unmap with shootdown).
 * wargs: rounds=N */
#include "guest/work.h"
#include "ulib.h"

#define PAGE ((volatile uint64_t *)GUEST_USER_DEMAND_BASE)

static volatile uint32_t ready, stop;

static void spinner(void *arg)
{
	unsigned cpu = (unsigned)(uint64_t)arg;
	uint64_t sum = 0;

	if (setcpu(cpu) < 0)
		exit(2);
	__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
	while (!stop)
		sum += *PAGE;          /* a fresh page reads zero: any value is fine */
	(void)sum;
}

int main(const char *args)
{
	struct guest_sysinfo a, b;
	uint64_t rounds = 50;
	const struct warg w[] = { { "rounds", &rounds } };
	const char *bad = args;

	if (wargs_parse(args, w, 1, &bad) < 0 || !rounds) {
		printf("tlbshoot: bad argument at '%s' (rounds=N)\n", bad);
		return 1;
	}
	sysinfo(&a);
	if (a.ncpus < 2) {
		printf("tlbshoot: needs 2 CPUs or more, %u online\n", a.ncpus);
		return 77;
	}
	for (unsigned c = 1; c < a.ncpus; c++)
		if (thread_create(spinner, (void *)(uint64_t)c, 16384) < 0) {
			printf("tlbshoot: FAIL: cannot start a thread\n");
			return 1;
		}
	while (ready != a.ncpus - 1)
		yield();
	sysinfo(&a);
	uint64_t t0 = tsc_read();
	for (uint64_t r = 0; r < rounds; r++) {
		*PAGE = r + 1;
		if (unmap(GUEST_USER_DEMAND_BASE, 4096) < 0) {
			printf("tlbshoot: FAIL: unmap refused\n");
			return 1;
		}
	}
	uint64_t el = tsc_read() - t0;
	sysinfo(&b);
	stop = 1;
	for (unsigned c = 1; c < a.ncpus; c++) {
		int st;
		if (wait(&st) < 0 || st != 0) {
			printf("tlbshoot: FAIL: a spinner ended with status %d\n", st);
			return 1;
		}
	}
	uint64_t sd = b.shootdowns - a.shootdowns;
	uint64_t khz = a.tsc_khz ? a.tsc_khz : 1;
	printf("tlbshoot: %lu rounds on %u CPUs: %lu remote shootdowns, %lu IPIs (%lu re-sent), "
	       "longest wait %lu us\n", rounds, a.ncpus, sd, b.shootdown_ipis - a.shootdown_ipis,
	       b.shootdown_resends - a.shootdown_resends, b.shootdown_max_cycles * 1000 / khz);
	report_work("tlbshoot", 0, el, rounds, (uint32_t)rounds);
	report_u64("tlbshoot", "shootdowns", sd, "count", 0);
	report_u64("tlbshoot", "shootdown_ipis", b.shootdown_ipis - a.shootdown_ipis, "count", 0);
	report_u64("tlbshoot", "shootdown_resends", b.shootdown_resends - a.shootdown_resends,
		   "count", 0);
	report_u64("tlbshoot", "shootdown_max_wait", b.shootdown_max_cycles, "cycles", 0);
	if (sd < rounds * (a.ncpus - 1)) {
		printf("tlbshoot: FAIL: %lu shootdowns for %lu rounds to %u CPUs\n", sd, rounds,
		       a.ncpus - 1);
		return 1;
	}
	printf("tlbshoot: PASS: every shootdown was acknowledged\n");
	return 0;
}
