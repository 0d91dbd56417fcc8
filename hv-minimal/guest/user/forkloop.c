/* The fork+wait loop of forkwait and forkexec (ulib.h: fork_loop). */
#include "guest/fmt.h"
#include "guest/work.h"
#include "ulib.h"

#define FORKWAIT_DEFAULT_N 200

int fork_loop(const char *name, const char *args, uint64_t ex)
{
	uint64_t n = FORKWAIT_DEFAULT_N, reps = 3;
	const struct warg w[] = { { "n", &n }, { "exec", &ex }, { "reps", &reps } };
	const char *bad = args;
	uint32_t first = 0;

	if (wargs_parse(args, w, 3, &bad) < 0 || !n || ex > 1 || !reps || reps > 64) {
		printf("%s: bad argument at '%s' (n=N,exec=0|1,reps=R; reps 1..64)\n", name, bad);
		return 1;
	}
	printf("%s: %lu fork+%swait pairs, %lu reps\n", name, n, ex ? "exec+" : "", reps);
	for (unsigned r = 0; r < reps; r++) {
		uint32_t sum = 0;
		work_begin();
		uint64_t t0 = tsc_read();
		for (uint64_t i = 0; i < n; i++) {
			long pid = fork();
			if (pid == 0) {
				if (ex) {
					char num[24];
					fmt_snprintf(num, sizeof(num), "%lu", i & 0x7f);
					long r = exec("true", num);
					printf("%s: FAIL: exec returned %ld\n", name, r);
					exit(126);
				}
				exit((int)(i & 0x7f));
			}
			if (pid < 0) {
				printf("%s: FAIL: fork returned %ld at %lu\n", name, pid, i);
				return 1;
			}
			int st;
			long got = wait(&st);
			if (got != pid) {
				printf("%s: FAIL: wait returned %ld, expected %ld\n", name, got, pid);
				return 1;
			}
			sum = sum * 33 + (uint32_t)st;
		}
		uint64_t t = tsc_read() - t0;
		report_work(name, r, t, n, sum);
		if (r == 0)
			first = sum;
		else if (sum != first) {
			printf("%s: FAIL: checksum %#x, first repetition %#x\n", name, sum, first);
			return 1;
		}
	}
	return 0;
}
