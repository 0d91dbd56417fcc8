/* The fork+wait loop of forkwait and forkexec (ulib.h: fork_loop). With procs=P, P
 * processes, one per CPU in turn, run the loop at once (an SMP forkwait: the kernel's
 * own locks are contended); one op is one fork+wait of any of them. With ms=M each
 * repetition forks until M milliseconds have passed instead of n times, so that a
 * kernel whose locks collapse under overcommit still ends in time; ops is then what got
 * done and the checksum the number of processes. */
#include "guest/fmt.h"
#include "guest/work.h"
#include "ulib.h"

#define FORKWAIT_DEFAULT_N 200
#define PROCS_MAX 64

/* procs > 1: the processes' meeting place. */
struct forkers {
	volatile uint32_t ready, go, done, release;
	volatile uint64_t deadline;      /* ms=: TSC at which the loops stop, or 0 */
	volatile uint64_t ops[PROCS_MAX];
	volatile uint32_t sums[PROCS_MAX];
	volatile int32_t failed;
};

/* n fork+wait pairs, or as many as fit before deadline (a TSC value, 0: none), their
 * count in *done; returns the checksum of the exit statuses, or -1 (said why). */
static int64_t pairs(const char *name, uint64_t n, uint64_t ex, const uint64_t *mem,
		     uint64_t pages, uint64_t deadline, volatile uint64_t *done)
{
	uint32_t sum = 0;
	uint64_t i;

	for (i = 0; deadline ? tsc_read() < deadline : i < n; i++) {
		long pid = fork();
		if (pid == 0) {
			if (ex) {
				char num[24];
				fmt_snprintf(num, sizeof(num), "%lu", i & 0x7f);
				long r = exec("true", num);
				printf("%s: FAIL: exec returned %ld\n", name, r);
				exit(126);
			}
			uint64_t k = pages ? (i * 7919) % pages : 0;
			exit((int)((i + (pages ? mem[k * 512] - k : 0)) & 0x7f));
		}
		if (pid < 0) {
			printf("%s: FAIL: fork returned %ld at %lu\n", name, pid, i);
			return -1;
		}
		int st;
		long got = wait(&st);
		if (got != pid) {
			printf("%s: FAIL: wait returned %ld, expected %ld\n", name, got, pid);
			return -1;
		}
		sum = sum * 33 + (uint32_t)st;
	}
	*done = i;
	return sum;
}

/* Starts procs - 1 more processes that run pairs() when f->go is set and exit when
 * f->release is; 0 or -1. */
static int start_forkers(const char *name, struct forkers *f, uint64_t procs, unsigned ncpus,
			 uint64_t n, uint64_t ex, const uint64_t *mem, uint64_t pages)
{
	memset((void *)f, 0, sizeof(*f));
	for (unsigned i = 1; i < procs; i++) {
		long pid = fork();
		if (pid == 0) {
			if (setcpu(i % ncpus) < 0)
				exit(2);
			__atomic_add_fetch(&f->ready, 1, __ATOMIC_SEQ_CST);
			while (!f->go)
				yield();
			int64_t sum = pairs(name, n, ex, mem, pages, f->deadline, &f->ops[i]);
			if (sum < 0)
				f->failed = 1;
			f->sums[i] = (uint32_t)sum;
			__atomic_add_fetch(&f->done, 1, __ATOMIC_SEQ_CST);
			/* until the parent's own loop has reaped its children: wait() takes
			 * any child */
			while (!f->release)
				yield();
			exit(0);
		}
		if (pid < 0) {
			printf("%s: FAIL: fork returned %ld starting process %u\n", name, pid, i);
			return -1;
		}
	}
	while (f->ready != procs - 1)
		yield();
	return 0;
}

/* Reaps the procs - 1 processes of start_forkers; 0 or -1. */
static int end_forkers(const char *name, struct forkers *f, uint64_t procs)
{
	f->release = 1;
	for (unsigned i = 1; i < procs; i++) {
		int st;
		if (wait(&st) < 0 || st != 0) {
			printf("%s: FAIL: a forking process ended with status %d\n", name, st);
			return -1;
		}
	}
	return f->failed ? -1 : 0;
}

int fork_loop(const char *name, const char *args, uint64_t ex)
{
	uint64_t n = FORKWAIT_DEFAULT_N, reps = 3, heap = 0, procs = 1, ms = 0;
	const struct warg w[] = { { "n", &n }, { "exec", &ex }, { "reps", &reps }, { "heap", &heap },
				  { "procs", &procs }, { "ms", &ms } };
	const char *bad = args;
	uint32_t first = 0;
	uint64_t *mem = NULL, pages = 0;
	struct forkers *f = (struct forkers *)GUEST_USER_SHARED_BASE;
	struct guest_sysinfo si;

	if (sysinfo(&si) < 0)
		si.ncpus = 1, si.tsc_khz = 0;
	if (wargs_parse(args, w, 6, &bad) < 0 || !n || ex > 1 || !reps || reps > 64 ||
	    heap > (256ull << 20) || !procs || procs > PROCS_MAX || ms > 600000 ||
	    (ms && !si.tsc_khz)) {
		printf("%s: bad argument at '%s' (n=N,exec=0|1,reps=R,heap=BYTES,procs=P,ms=M; "
		       "reps 1..64, heap at most 256M, procs 1..%d, ms at most 600000 and only "
		       "with a known TSC rate)\n", name, bad, PROCS_MAX);
		return 1;
	}
	/* heap=: a populated heap every fork copies; each page holds its own number,
	 * which the children fold into their exit status (cancelling out when the copy is
	 * right), so the checksum is the one without a heap. */
	if (heap) {
		pages = (heap + 4095) / 4096;
		uint8_t *raw = malloc(pages * 4096 + 4096);
		mem = (uint64_t *)(((uint64_t)raw + 4095) & ~4095ull);
		if (!raw || populate(mem, pages * 4096) < 0) {
			printf("%s: no memory for a %lu-byte heap\n", name, heap);
			return 1;
		}
		for (uint64_t k = 0; k < pages; k++)
			mem[k * 512] = k;
	}
	printf("%s: %lu fork+%swait pairs, %lu reps, heap %lu KiB, %lu process(es)\n", name, n,
	       ex ? "exec+" : "", reps, pages * 4, procs);
	for (unsigned r = 0; r < reps; r++) {
		if (procs > 1 && start_forkers(name, f, procs, si.ncpus, n, ex, mem, pages))
			return 1;
		/* process 0's own count stays off the shared page: a single forkwait forks
		 * exactly the address space it always did */
		volatile uint64_t ops0 = 0;
		work_begin();
		uint64_t t0 = tsc_read(), deadline = ms ? t0 + ms * si.tsc_khz : 0;
		if (procs > 1) {
			f->deadline = deadline;
			f->go = 1;
		}
		int64_t got = pairs(name, n, ex, mem, pages, deadline, &ops0);
		if (got < 0)
			return 1;
		uint32_t sum = (uint32_t)got;
		while (procs > 1 && f->done != procs - 1)
			yield();
		uint64_t t = tsc_read() - t0, ops = ops0;
		for (unsigned i = 1; i < procs; i++)
			ops += f->ops[i];
		if (procs > 1) {
			if (end_forkers(name, f, procs))
				return 1;
			for (unsigned i = 1; i < procs && !ms; i++)
				if (f->sums[i] != sum) {
					printf("%s: FAIL: process %u's checksum %#x, process 0's %#x\n",
					       name, i, f->sums[i], sum);
					return 1;
				}
		}
		if (ms)
			sum = (uint32_t)procs;    /* the count of forks varies; the work is checked */
		if (!ops) {
			printf("%s: FAIL: no fork completed in %lu ms\n", name, ms);
			return 1;
		}
		report_work(name, r, t, ops, sum);
		if (r == 0)
			first = sum;
		else if (sum != first) {
			printf("%s: FAIL: checksum %#x, first repetition %#x\n", name, sum, first);
			return 1;
		}
	}
	return 0;
}
