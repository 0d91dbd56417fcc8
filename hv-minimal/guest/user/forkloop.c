/* The fork+wait loop of forkwait and forkexec (ulib.h: fork_loop). */
#include "guest/fmt.h"
#include "guest/work.h"
#include "ulib.h"

#define FORKWAIT_DEFAULT_N 200

int fork_loop(const char *name, const char *args, uint64_t ex)
{
	uint64_t n = FORKWAIT_DEFAULT_N, reps = 3, heap = 0;
	const struct warg w[] = { { "n", &n }, { "exec", &ex }, { "reps", &reps }, { "heap", &heap } };
	const char *bad = args;
	uint32_t first = 0;
	uint64_t *mem = NULL, pages = 0;

	if (wargs_parse(args, w, 4, &bad) < 0 || !n || ex > 1 || !reps || reps > 64 ||
	    heap > (256ull << 20)) {
		printf("%s: bad argument at '%s' (n=N,exec=0|1,reps=R,heap=BYTES; reps 1..64, "
		       "heap at most 256M)\n", name, bad);
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
	printf("%s: %lu fork+%swait pairs, %lu reps, heap %lu KiB\n", name, n, ex ? "exec+" : "",
	       reps, pages * 4);
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
				uint64_t k = pages ? (i * 7919) % pages : 0;
				exit((int)((i + (pages ? mem[k * 512] - k : 0)) & 0x7f));
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
