/* forktest: checks the process layer. The stack, the heap and the shared area are
 * filled with patterns, then children are forked (copy, or copy-on-write with cow=1):
 * each checks that it sees the parent's memory, overwrites its own copy, and bumps a
 * counter in the shared area; the parent checks that its memory is unchanged and the
 * counter moved. Many forks in a row recycle page-table pages, so a table left with a
 * stale entry shows up as wrong data. Then exec, wait without children, a thread, heap
 * shrink and regrowth, and moving between CPUs.
 * wargs: forks=N */
#include "guest/work.h"
#include "ulib.h"

#define STACK_WORDS (64 * 1024 / 8)  /* 16 pages below the top stack page */
#define HEAP_BYTES  (256 * 1024)

static volatile uint64_t *shared = (volatile uint64_t *)GUEST_USER_SHARED_BASE;
static volatile uint64_t thread_saw;

static uint64_t pattern(uint64_t i, uint64_t salt)
{
	return (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
}

static int check(const volatile uint64_t *p, uint64_t n, uint64_t salt)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] != pattern(i, salt))
			return 0;
	return 1;
}

static void fill(volatile uint64_t *p, uint64_t n, uint64_t salt)
{
	for (uint64_t i = 0; i < n; i++)
		p[i] = pattern(i, salt);
}

static void thread_fn(void *arg)
{
	thread_saw = (uint64_t)arg + shared[0];
}

#define CHECK(cond, what)                                                                \
	do {                                                                             \
		if (!(cond)) {                                                           \
			printf("forktest: FAIL: %s\n", what);                            \
			return 1;                                                        \
		}                                                                        \
	} while (0)

int main(const char *args)
{
	uint64_t forks = 16;
	const struct warg w[] = { { "forks", &forks } };
	const char *bad = args;
	volatile uint64_t stack[STACK_WORDS];
	struct guest_sysinfo si;
	int st;

	if (wargs_parse(args, w, 1, &bad) < 0 || !forks) {
		printf("forktest: bad argument at '%s' (forks=N)\n", bad);
		return 1;
	}
	sysinfo(&si);
	volatile uint64_t *heap = malloc(HEAP_BYTES);
	CHECK(heap, "malloc");
	fill(stack, STACK_WORDS, 1);
	fill(heap, HEAP_BYTES / 8, 2);
	shared[0] = 0;

	for (uint64_t k = 0; k < forks; k++) {
		long pid = fork();
		if (pid == 0) {
			if (!check(stack, STACK_WORDS, 1))
				exit(10);
			if (!check(heap, HEAP_BYTES / 8, 2))
				exit(11);
			fill(stack, STACK_WORDS, 3);     /* the child's copies only */
			fill(heap, HEAP_BYTES / 8, 4);
			shared[0]++;                     /* the shared area is one page for all */
			exit(0);
		}
		CHECK(pid > 0, "fork");
		CHECK(wait(&st) == pid, "wait returns the child");
		if (st) {
			printf("forktest: FAIL: child %lu exited %d (10: stack, 11: heap differ)\n", k,
			       st);
			return 1;
		}
		CHECK(check(stack, STACK_WORDS, 1), "the parent's stack changed after a fork");
		CHECK(check(heap, HEAP_BYTES / 8, 2), "the parent's heap changed after a fork");
		CHECK(shared[0] == k + 1, "the child's write to the shared area is not seen");
	}

	long pid = fork();
	if (pid == 0) {
		exec("true", "42");
		exit(99);
	}
	CHECK(pid > 0 && wait(&st) == pid && st == 42, "exec: the exec'd program's status");
	CHECK(wait(&st) == -GUEST_ECHILD, "wait without children returns -ECHILD");
	CHECK(exec("no-such-program", "") == -GUEST_ENOENT, "exec of an unknown program");

	long tid = thread_create(thread_fn, (void *)1000, 16384);
	CHECK(tid > 0 && wait(&st) == tid && st == 0, "thread: created and waited for");
	CHECK(thread_saw == 1000 + forks, "thread: shares the address space");

	char *top = sbrk(0);
	CHECK(sbrk(8192) == top, "sbrk grows");
	top[4096] = 7;
	CHECK(sbrk(-8192) == top + 8192, "sbrk shrinks");
	CHECK(sbrk(8192) == top && top[4096] == 0, "heap pages come back zeroed");

	if (si.ncpus > 1) {
		CHECK(setcpu(si.ncpus - 1) == 0 && getcpu() == si.ncpus - 1, "setcpu moves");
		CHECK(check(stack, STACK_WORDS, 1), "memory after moving to another CPU");
		CHECK(setcpu(0) == 0 && getcpu() == 0, "setcpu moves back");
	}
	CHECK(setcpu(si.ncpus) == -GUEST_EINVAL, "setcpu to a CPU that is not online");
	printf("forktest: PASS: %lu forks (%s), exec, wait, thread, sbrk, %u CPU(s)\n", forks,
	       si.cow ? "copy-on-write" : "copied", si.ncpus);
	return 0;
}
