/* The host-native nanobenchmark table: every available op runs and gives a positive,
 * finite cost; names are unique and found; `in` explains itself when it cannot run;
 * the signal-based ops put the previous handlers back and do not swallow faults that
 * are not theirs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "native_ops.h"

/* Small enough to keep the test fast, large enough for several loop iterations. */
#define TEST_MIN_CYCLES 200000
#define TEST_REPS 3

static void test_names_unique_and_found(void **unused)
{
	size_t n;
	const struct hv_native_op *ops = hv_native_ops(&n);

	(void)unused;
	assert_true(n >= 9);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(ops[i].name);
		assert_non_null(ops[i].what);
		assert_non_null(ops[i].run);
		assert_true(strlen(ops[i].what) > 0);
		assert_ptr_equal(hv_native_op_find(ops[i].name), &ops[i]);
		assert_null(hv_native_absent_reason(ops[i].name));
		for (size_t k = i + 1; k < n; k++)
			assert_string_not_equal(ops[i].name, ops[k].name);
	}
	assert_null(hv_native_op_find("nosuchop"));
	assert_null(hv_native_op_find(""));
	assert_null(hv_native_op_find(NULL));
}

static void test_guest_only_ops_absent_with_reason(void **unused)
{
	static const char *const guest_only[] = { "cr8wr", "hypercall", "mmio", "ioeventfd" };

	(void)unused;
	for (size_t i = 0; i < sizeof(guest_only) / sizeof(guest_only[0]); i++) {
		assert_null(hv_native_op_find(guest_only[i]));
		assert_non_null(hv_native_absent_reason(guest_only[i]));
	}
	assert_null(hv_native_absent_reason("nosuchop"));
}

/* Direct run with a handful of iterations: setup, run, teardown. */
static void test_each_op_runs_tiny(void **unused)
{
	size_t n;
	const struct hv_native_op *ops = hv_native_ops(&n);

	(void)unused;
	for (size_t i = 0; i < n; i++) {
		char why[256] = "";
		void *state = NULL;
		uint64_t cycles;

		if (ops[i].setup && ops[i].setup(&state, why, sizeof(why)) != 0) {
			/* Only port I/O depends on privilege and kernel configuration. */
			assert_string_equal(ops[i].name, "in");
			assert_true(strlen(why) > 0);
			print_message("  %s unavailable: %s\n", ops[i].name, why);
			continue;
		}
		cycles = ops[i].run(state, 4);
		if (ops[i].teardown)
			ops[i].teardown(state);
		assert_true(cycles > 0);
	}
}

static void test_each_op_measures(void **unused)
{
	size_t n;
	const struct hv_native_op *ops = hv_native_ops(&n);

	(void)unused;
	for (size_t i = 0; i < n; i++) {
		double cyc[TEST_REPS];
		char why[256] = "";
		uint64_t iters = 0;
		int rc;

		rc = hv_native_measure(&ops[i], TEST_REPS, TEST_MIN_CYCLES, cyc, &iters, why,
				       sizeof(why));
		if (rc != 0) {
			assert_string_equal(ops[i].name, "in");
			assert_true(strlen(why) > 0);
			continue;
		}
		assert_true(iters >= 1);
		for (int r = 0; r < TEST_REPS; r++) {
			assert_true(isfinite(cyc[r]));
			assert_true(cyc[r] > 0.0);
		}
		print_message("  %-9s %10.1f cycles/op (iters %llu)\n", ops[i].name, cyc[0],
			      (unsigned long long)iters);
	}
}

/* The step-wise API that nativebench interleaves: two sessions open at once. */
static void test_sessions_interleave(void **unused)
{
	struct hv_native_session a, b;
	char why[256] = "";
	double c;
	uint64_t iters = 0;

	(void)unused;
	assert_int_equal(hv_native_begin(&a, hv_native_op_find("protfault"), TEST_MIN_CYCLES,
					 why, sizeof(why)), 0);
	assert_int_equal(hv_native_begin(&b, hv_native_op_find("syscall"), TEST_MIN_CYCLES,
					 why, sizeof(why)), 0);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(hv_native_rep(&a, &c, &iters, why, sizeof(why)), 0);
		assert_true(isfinite(c) && c > 0.0 && iters >= 1);
		assert_int_equal(hv_native_rep(&b, &c, &iters, why, sizeof(why)), 0);
		assert_true(isfinite(c) && c > 0.0 && iters >= 1);
	}
	assert_true(a.largest_iters >= 1);
	hv_native_end(&a);
	hv_native_end(&b);
	/* An ended session refuses further repetitions instead of touching freed state. */
	assert_int_equal(hv_native_rep(&a, &c, &iters, why, sizeof(why)), -1);
	assert_true(strlen(why) > 0);
}

static void test_measure_rejects_bad_arguments(void **unused)
{
	const struct hv_native_op *op = hv_native_op_find("rdtsc");
	double cyc[1];
	uint64_t iters;
	char why[256] = "";

	(void)unused;
	assert_non_null(op);
	assert_int_equal(hv_native_measure(op, 0, TEST_MIN_CYCLES, cyc, &iters, why,
					   sizeof(why)), -1);
	assert_true(strlen(why) > 0);
	assert_int_equal(hv_native_measure(NULL, 1, TEST_MIN_CYCLES, cyc, &iters, why,
					   sizeof(why)), -1);
}

/* `in` in this process: either it works (root, kernel with ioperm) or it says why. */
static void test_in_here_works_or_says_why(void **unused)
{
	const struct hv_native_op *op = hv_native_op_find("in");
	char why[256] = "";
	void *state = NULL;

	(void)unused;
	assert_non_null(op);
	if (op->setup(&state, why, sizeof(why)) == 0) {
		op->teardown(state);
		return;
	}
	assert_non_null(strstr(why, "ioperm"));
}

/* `in` as an unprivileged user: a child drops to uid/gid 65534 (no capabilities left)
 * and must be refused with a reason naming ioperm. */
static void test_in_unprivileged_gives_reason(void **unused)
{
	const struct hv_native_op *op = hv_native_op_find("in");
	char buf[300];
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	(void)unused;
	assert_non_null(op);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char why[256] = "";
		void *state = NULL;
		int rc;

		close(fds[0]);
		if (geteuid() == 0 && (setgroups(0, NULL) != 0 || setresgid(65534, 65534, 65534) != 0 ||
				       setresuid(65534, 65534, 65534) != 0)) {
			(void)!write(fds[1], "S", 1);
			_exit(0);
		}
		rc = op->setup(&state, why, sizeof(why));
		if (rc == 0)
			op->teardown(state);
		(void)!write(fds[1], rc == 0 ? "0" : "F", 1);
		(void)!write(fds[1], why, strlen(why));
		_exit(0);
	}
	close(fds[1]);
	for (got = 0; (size_t)got < sizeof(buf) - 1;) {
		ssize_t r = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got);
		if (r <= 0)
			break;
		got += r;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(got >= 1);
	buf[got] = '\0';
	if (buf[0] == 'S') {
		skip();       /* could not drop root here: the unprivileged path is untested */
		return;
	}
	assert_int_equal(buf[0], 'F');
	print_message("  unprivileged in: %s\n", buf + 1);
	assert_non_null(strstr(buf + 1, "ioperm"));
}

static void assert_same_action(int sig, const struct sigaction *before)
{
	struct sigaction now;

	assert_int_equal(sigaction(sig, NULL, &now), 0);
	assert_ptr_equal((void *)now.sa_sigaction, (void *)before->sa_sigaction);
	assert_int_equal(now.sa_flags & SA_SIGINFO, before->sa_flags & SA_SIGINFO);
}

static void test_signal_ops_restore_handlers(void **unused)
{
	const struct hv_native_op *pf = hv_native_op_find("protfault");
	const struct hv_native_op *dz = hv_native_op_find("divzero");
	struct sigaction segv, fpe;
	char why[256] = "";
	void *s1 = NULL, *s2 = NULL, *s3 = NULL;

	(void)unused;
	assert_int_equal(sigaction(SIGSEGV, NULL, &segv), 0);
	assert_int_equal(sigaction(SIGFPE, NULL, &fpe), 0);
	assert_int_equal(pf->setup(&s1, why, sizeof(why)), 0);
	assert_int_equal(dz->setup(&s2, why, sizeof(why)), 0);
	/* A second instance is refused rather than clobbering the saved handler. */
	assert_int_equal(pf->setup(&s3, why, sizeof(why)), -1);
	assert_true(strlen(why) > 0);
	assert_true(pf->run(s1, 8) > 0);
	assert_true(dz->run(s2, 8) > 0);
	pf->teardown(s1);
	dz->teardown(s2);
	assert_same_action(SIGSEGV, &segv);
	assert_same_action(SIGFPE, &fpe);
}

/* While protfault's handler is installed, a write fault on some other page must still
 * reach the previous disposition (here the default: death by SIGSEGV), not be skipped. */
static void test_foreign_fault_not_swallowed(void **unused)
{
	const struct hv_native_op *pf = hv_native_op_find("protfault");
	int status;
	pid_t pid;

	(void)unused;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char why[256];
		void *state = NULL;
		volatile char *other;
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, 2);
		signal(SIGSEGV, SIG_DFL);   /* not the test runner's (or sanitizer's) handler */
		other = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (other == MAP_FAILED || pf->setup(&state, why, sizeof(why)) != 0)
			_exit(3);
		other[0] = 1;       /* not the benchmark's page: must not return */
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_unique_and_found),
		cmocka_unit_test(test_guest_only_ops_absent_with_reason),
		cmocka_unit_test(test_each_op_runs_tiny),
		cmocka_unit_test(test_each_op_measures),
		cmocka_unit_test(test_sessions_interleave),
		cmocka_unit_test(test_measure_rejects_bad_arguments),
		cmocka_unit_test(test_in_here_works_or_says_why),
		cmocka_unit_test(test_in_unprivileged_gives_reason),
		cmocka_unit_test(test_signal_ops_restore_handlers),
		cmocka_unit_test(test_foreign_fault_not_swallowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
