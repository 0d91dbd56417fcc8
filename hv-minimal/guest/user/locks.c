/* locks: one process per CPU contends for one ticket spinlock in a shared page: think
 * (a fixed loop outside the lock), take the lock, hold it (a fixed loop inside),
 * release. With more vCPUs than host CPUs a preempted lock holder stalls every waiter:
 * the lock-holder preemption the spinlock experiments measure. Loops are counted in
 * iterations, not cycles, so every engine does the same work. One op is one
 * acquisition; wait_cycles_per_op is the mean time spent waiting for the lock.
 * wargs: iters=N (per process),hold=H,think=T,procs=P (default: one per CPU),reps=R */
#include "guest/work.h"
#include "ulib.h"

struct shared {
	volatile uint32_t next, owner;     /* the ticket lock */
	volatile uint64_t counter;         /* incremented under the lock */
	volatile uint64_t sum;             /* checksum material, under the lock */
	volatile uint32_t ready, done, go;
	volatile uint64_t wait_cycles[64];
};

static void lock(struct shared *s)
{
	uint32_t t = __atomic_fetch_add(&s->next, 1, __ATOMIC_ACQUIRE);

	while (__atomic_load_n(&s->owner, __ATOMIC_ACQUIRE) != t)
		__asm__ volatile("pause");
}

static void unlock(struct shared *s)
{
	__atomic_store_n(&s->owner, s->owner + 1, __ATOMIC_RELEASE);
}

static void spin(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" : : : "memory");
}

static void worker(struct shared *s, unsigned id, uint64_t iters, uint64_t hold, uint64_t think)
{
	uint64_t waited = 0;

	__atomic_add_fetch(&s->ready, 1, __ATOMIC_SEQ_CST);
	while (!s->go)
		__asm__ volatile("pause");
	for (uint64_t i = 0; i < iters; i++) {
		spin(think);
		uint64_t t0 = tsc_read();
		lock(s);
		waited += tsc_read() - t0;
		s->counter++;
		s->sum = s->sum * 3 + id + 1;  /* order-dependent: only the count is stable */
		spin(hold);
		unlock(s);
	}
	s->wait_cycles[id] = waited;
	__atomic_add_fetch(&s->done, 1, __ATOMIC_SEQ_CST);
}

int main(const char *args)
{
	struct guest_sysinfo si;
	uint64_t iters = 2000, hold = 200, think = 2000, procs = 0, reps = 3;
	const struct warg w[] = {
		{ "iters", &iters }, { "hold", &hold }, { "think", &think }, { "procs", &procs },
		{ "reps", &reps },
	};
	const char *bad = args;
	struct shared *s = (struct shared *)GUEST_USER_SHARED_BASE;

	sysinfo(&si);
	if (wargs_parse(args, w, 5, &bad) < 0 || !iters || procs > 64 || !reps || reps > 64) {
		printf("locks: bad argument at '%s' (iters=N,hold=H,think=T,procs=P,reps=R)\n",
		       bad);
		return 1;
	}
	if (!procs)
		procs = si.ncpus;
	printf("locks: %lu processes on %u CPU(s), %lu acquisitions each, hold %lu, think %lu, "
	       "%lu reps, %s kernel spinlock\n", procs, si.ncpus, iters, hold, think, reps,
	       si.spinlock);
	for (unsigned r = 0; r < reps; r++) {
		memset((void *)s, 0, sizeof(*s));   /* maps the shared page before fork */
		for (unsigned i = 1; i < procs; i++) {
			long pid = fork();
			if (pid == 0) {
				if (setcpu(i % si.ncpus) < 0)
					exit(2);
				worker(s, i, iters, hold, think);
				exit(0);
			}
			if (pid < 0) {
				printf("locks: FAIL: fork returned %ld\n", pid);
				return 1;
			}
		}
		while (s->ready != procs - 1)
			yield();
		uint64_t t0 = tsc_read();
		s->go = 1;
		worker(s, 0, iters, hold, think);
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
		uint64_t waited = 0;
		for (unsigned i = 0; i < procs; i++)
			waited += s->wait_cycles[i];
		if (s->counter != procs * iters) {
			printf("locks: FAIL: counter %lu, expected %lu: mutual exclusion broken\n",
			       s->counter, procs * iters);
			return 1;
		}
		report_work("locks", r, el, procs * iters, (uint32_t)s->counter);
		report_ratio("locks", "wait_cycles_per_op", waited, procs * iters, "cycles", r);
	}
	return 0;
}
