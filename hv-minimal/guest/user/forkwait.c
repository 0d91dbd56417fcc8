/* forkwait: n fork+wait pairs, as in Adams & Agesen (2006): each child exits at once;
 * the parent waits for it before the next fork. Process creation is all kernel work
 * (copying or sharing the address space, page faults, two context switches, exit),
 * so this is where virtualization techniques differ most. With exec=1 each child
 * first replaces itself with the program `true` (fork+exec+wait); the exit statuses,
 * hence the checksum, are the same.
 * wargs: n=N (pairs per repetition),exec=0|1,reps=R */
#include "guest/work.h"
#include "ulib.h"

#define FORKWAIT_DEFAULT_N 200

int main(const char *args)
{
	uint64_t n = FORKWAIT_DEFAULT_N, reps = 3, ex = 0;
	const struct warg w[] = { { "n", &n }, { "exec", &ex }, { "reps", &reps } };
	const char *bad = args;
	uint32_t first = 0;

	if (wargs_parse(args, w, 3, &bad) < 0 || !n || ex > 1 || !reps || reps > 64) {
		printf("forkwait: bad argument at '%s' (n=N,exec=0|1,reps=R; reps 1..64)\n", bad);
		return 1;
	}
	printf("forkwait: %lu fork+%swait pairs, %lu reps\n", n, ex ? "exec+" : "", reps);
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
					printf("forkwait: FAIL: exec returned %ld\n", r);
					exit(126);
				}
				exit((int)(i & 0x7f));
			}
			if (pid < 0) {
				printf("forkwait: FAIL: fork returned %ld at %lu\n", pid, i);
				return 1;
			}
			int st;
			long got = wait(&st);
			if (got != pid) {
				printf("forkwait: FAIL: wait returned %ld, expected %ld\n", got, pid);
				return 1;
			}
			sum = sum * 33 + (uint32_t)st;
		}
		uint64_t t = tsc_read() - t0;
		report_work("forkwait", r, t, n, sum);
		if (r == 0)
			first = sum;
		else if (sum != first) {
			printf("forkwait: FAIL: checksum %#x, first repetition %#x\n", sum, first);
			return 1;
		}
	}
	return 0;
}
