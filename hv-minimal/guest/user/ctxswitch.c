/* ctxswitch: two processes pass a token back and forth through a page of the shared
 * area, each yielding until the token is its own. On one CPU (the default) every pass
 * is a context switch between two address spaces; cpus=2 puts the child on CPU 1,
 * where the token crosses between CPUs instead. One op is one pass.
 * wargs: n=N (round trips),cpus=1|2,reps=R */
#include "guest/work.h"
#include "ulib.h"

struct token {
	volatile uint64_t turn;      /* 1: the child's, 0: the parent's */
	volatile uint64_t ready;
	volatile uint64_t passes;
};

static void child(struct token *t, uint64_t n, uint64_t cpus)
{
	if (cpus > 1 && setcpu(1) < 0)
		exit(2);
	t->ready = 1;
	for (uint64_t i = 0; i < n; i++) {
		while (t->turn != 1)
			yield();
		t->passes = t->passes * 7 + i;
		t->turn = 0;
	}
	exit(0);
}

int main(const char *args)
{
	uint64_t n = 500, cpus = 1, reps = 3;
	const struct warg w[] = { { "n", &n }, { "cpus", &cpus }, { "reps", &reps } };
	struct guest_sysinfo si;
	const char *bad = args;
	uint32_t first = 0;
	struct token *t = (struct token *)GUEST_USER_SHARED_BASE;

	if (wargs_parse(args, w, 3, &bad) < 0 || !n || cpus < 1 || cpus > 2 || !reps ||
	    reps > 64) {
		printf("ctxswitch: bad argument at '%s' (n=N,cpus=1|2,reps=R)\n", bad);
		return 1;
	}
	sysinfo(&si);
	if (cpus > si.ncpus) {
		printf("ctxswitch: cpus=%lu, but %u CPU(s) are online\n", cpus, si.ncpus);
		return 77;
	}
	printf("ctxswitch: %lu round trips on %lu CPU(s), %lu reps\n", n, cpus, reps);
	for (unsigned r = 0; r < reps; r++) {
		t->turn = 0;             /* maps the shared page before fork: both see it */
		t->ready = 0;
		t->passes = 0;
		long pid = fork();
		if (pid == 0)
			child(t, n, cpus);
		if (pid < 0) {
			printf("ctxswitch: FAIL: fork returned %ld\n", pid);
			return 1;
		}
		while (!t->ready)
			yield();
		work_begin();
		uint64_t t0 = tsc_read();
		for (uint64_t i = 0; i < n; i++) {
			t->turn = 1;
			while (t->turn != 0)
				yield();
		}
		uint64_t el = tsc_read() - t0;
		int st;
		if (wait(&st) != pid || st != 0) {
			printf("ctxswitch: FAIL: the child ended with status %d\n", st);
			return 1;
		}
		uint32_t ck = (uint32_t)(t->passes ^ (t->passes >> 32));
		report_work("ctxswitch", r, el, 2 * n, ck);
		if (r == 0)
			first = ck;
		else if (ck != first) {
			printf("ctxswitch: FAIL: checksum %#x, first repetition %#x\n", ck, first);
			return 1;
		}
	}
	return 0;
}
