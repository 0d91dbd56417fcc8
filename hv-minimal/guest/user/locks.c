/* locks: one process per CPU contends for one ticket spinlock in a shared page: think
 * (a fixed loop outside the lock), take the lock, hold it (a fixed loop inside),
 * release. The lock is the kernel's (ulock.c), waited on as the boot's spinlock= mode
 * says. With more vCPUs than host CPUs a preempted lock holder stalls every waiter:
 * the lock-holder preemption the spinlock experiment measures. Loops are counted in
 * iterations, not cycles, so every engine does the same work. One op is one
 * acquisition. Besides the time per op, per repetition:
 *   ops_per_s            acquisitions per second (the guest's TSC rate);
 *   wait_cycles_per_op   time from asking for the lock to getting it;
 *   spins_per_op         turns of the spin loop while waiting;
 *   wasted_cycles_per_op spins_per_op times the cycles one turn takes, measured at
 *                        the start of the run: CPU time burnt spinning (time asleep
 *                        or yielded in the VMM, or descheduled by the host, is not);
 *   slow_per_op          slow-path system calls (pv-yield, pv-halt) per acquisition;
 *   holder_preemptions   holds that took longer than STALL_US: the holder lost its
 *                        CPU meanwhile (the hold itself is a few hundred cycles);
 *   waiter_preemptions   hand-overs that took longer than STALL_US from one release
 *                        to the next acquisition: a ticket lock serves its waiters in
 *                        order, so the next one's lost CPU stalls the lock although
 *                        nobody holds it (Ouyang and Lange, VEE 2013).
 * With ms=M each repetition runs for M milliseconds instead of a fixed count, so that
 * a lock that collapses under overcommit still ends in time; ops is then what got
 * done, and the checksum (the counter otherwise, the same under every mode) is the
 * number of processes.
 * wargs: iters=N (per process),hold=H,think=T,procs=P (default: one per CPU),reps=R,
 *        ms=M */
#include "guest/work.h"
#include "ulib.h"

#define STALL_US 200

struct shared {
	struct guest_spinlock lock;
	volatile uint64_t counter;         /* incremented under the lock */
	volatile uint64_t sum;             /* checksum material, under the lock */
	volatile uint64_t released_at;     /* TSC at the last release, under the lock */
	volatile uint32_t ready, done, go;
	volatile uint64_t deadline;        /* TSC at which ms= ends the repetition, or 0 */
	struct {
		uint64_t ops, wait_cycles, spins, slow, stalls, handoff_stalls;
	} w[64];
};

static void spin(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" : : : "memory");
}

static void worker(struct shared *s, unsigned id, uint64_t iters, uint64_t hold, uint64_t think,
		   uint64_t stall_cycles)
{
	uint64_t waited = 0, spins = 0, slow = 0, stalls = 0, handoff_stalls = 0;

	__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (!s->go)
		__asm__ volatile("pause");
	uint64_t i;

	for (i = 0; s->deadline ? tsc_read() < s->deadline : i < iters; i++) {
		spin(think);
		uint64_t t0 = tsc_read();
		ulock_acquire(&s->lock, &spins, &slow);
		uint64_t t1 = tsc_read();
		waited += t1 - t0;
		if (stall_cycles && s->released_at && t1 > s->released_at &&
		    t1 - s->released_at > stall_cycles)
			handoff_stalls++;
		s->counter++;
		s->sum = s->sum * 3 + id + 1;  /* order-dependent: only the count is stable */
		spin(hold);
		uint64_t t2 = tsc_read();   /* one read for the stall check and the hand-over */
		if (stall_cycles && t2 - t1 > stall_cycles)
			stalls++;
		s->released_at = t2;
		ulock_release(&s->lock);
	}
	s->w[id].ops = i;
	s->w[id].wait_cycles = waited;
	s->w[id].spins = spins;
	s->w[id].slow = slow;
	s->w[id].stalls = stalls;
	s->w[id].handoff_stalls = handoff_stalls;
	__atomic_add_fetch(&s->done, 1, __ATOMIC_SEQ_CST);
}

int main(const char *args)
{
	struct guest_sysinfo si;
	uint64_t iters = 2000, hold = 200, think = 2000, procs = 0, reps = 3, ms = 0;
	const struct warg w[] = {
		{ "iters", &iters }, { "hold", &hold }, { "think", &think }, { "procs", &procs },
		{ "reps", &reps }, { "ms", &ms },
	};
	const char *bad = args;
	struct shared *s = (struct shared *)GUEST_USER_SHARED_BASE;

	sysinfo(&si);
	if (wargs_parse(args, w, 6, &bad) < 0 || !iters || procs > 64 || !reps || reps > 64 ||
	    ms > 600000 || (ms && !si.tsc_khz)) {
		printf("locks: bad argument at '%s' (iters=N,hold=H,think=T,procs=P,reps=R,ms=M; "
		       "ms at most 600000 and only with a known TSC rate)\n", bad);
		return 1;
	}
	if (!procs)
		procs = si.ncpus;
	ulock_init();
	uint64_t spin_cost_x1000 = ulock_spin_cost_x1000();
	uint64_t stall_cycles = si.tsc_khz * STALL_US / 1000;

	printf("locks: %lu processes on %u CPU(s), %lu %s each, hold %lu, think %lu, "
	       "%lu reps, %s spinlock, threshold %u, %lu.%03lu cycles per spin\n", procs,
	       si.ncpus, ms ? ms : iters, ms ? "ms" : "acquisitions", hold, think, reps,
	       si.spinlock, si.spin_threshold, spin_cost_x1000 / 1000, spin_cost_x1000 % 1000);
	for (unsigned r = 0; r < reps; r++) {
		memset((void *)s, 0, sizeof(*s));   /* maps the shared page before fork */
		for (unsigned i = 1; i < procs; i++) {
			long pid = fork();
			if (pid == 0) {
				if (setcpu(i % si.ncpus) < 0)
					exit(2);
				worker(s, i, iters, hold, think, stall_cycles);
				exit(0);
			}
			if (pid < 0) {
				printf("locks: FAIL: fork returned %ld\n", pid);
				return 1;
			}
		}
		while (s->ready != procs - 1)
			yield();
		work_begin();
		uint64_t t0 = tsc_read();
		s->deadline = ms ? t0 + ms * si.tsc_khz : 0;
		s->go = 1;
		worker(s, 0, iters, hold, think, stall_cycles);
		while (s->done != procs)
			yield();
		uint64_t el = tsc_read() - t0;
		for (unsigned i = 1; i < procs; i++) {
			int st;
			if (wait(&st) < 0 || st != 0) {
				printf("locks: FAIL: a worker ended with status %d\n", st);
				return 1;
			}
		}
		uint64_t waited = 0, spins = 0, slow = 0, stalls = 0, handoffs = 0, ops = 0;
		for (unsigned i = 0; i < procs; i++) {
			ops += s->w[i].ops;
			waited += s->w[i].wait_cycles;
			spins += s->w[i].spins;
			slow += s->w[i].slow;
			stalls += s->w[i].stalls;
			handoffs += s->w[i].handoff_stalls;
		}
		if (!ops || s->counter != ops) {
			printf("locks: FAIL: counter %lu, expected %lu: mutual exclusion broken\n",
			       s->counter, ops);
			return 1;
		}
		report_work("locks", r, el, ops, ms ? (uint32_t)procs : (uint32_t)s->counter);
		if (si.tsc_khz)
			report_ratio("locks", "ops_per_s", ops * si.tsc_khz * 1000, el, "ops/s", r);
		report_ratio("locks", "wait_cycles_per_op", waited, ops, "cycles", r);
		report_ratio("locks", "spins_per_op", spins, ops, "spins", r);
		report_ratio("locks", "wasted_cycles_per_op", spins * spin_cost_x1000, ops * 1000,
			     "cycles", r);
		report_ratio("locks", "slow_per_op", slow, ops, "calls", r);
		report_u64("locks", "holder_preemptions", stalls, "count", r);
		report_u64("locks", "waiter_preemptions", handoffs, "count", r);
	}
	return 0;
}
