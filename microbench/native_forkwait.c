/* forkwait on the host (native_forkwait.h). The child leaves with _exit: nothing of
 * the parent's (atexit handlers, stdio buffers) runs twice. */
#include "native_forkwait.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/tsc.h"

int hv_native_forkwait(uint64_t n, uint64_t heap, uint64_t *cycles, uint32_t *checksum)
{
	uint64_t pages = (heap + 4095) / 4096, *mem = NULL;
	uint32_t sum = 0;

	if (heap > HV_FORKWAIT_MAX_HEAP)
		return hv_err_set("forkwait: heap=%" PRIu64 " is over %llu bytes", heap,
				  (unsigned long long)HV_FORKWAIT_MAX_HEAP);
	if (pages && !(mem = malloc(pages * 4096)))
		return hv_err_errno("forkwait: a %" PRIu64 "-byte heap", heap);
	for (uint64_t k = 0; k < pages; k++)
		mem[k * 512] = k;

	uint64_t t0 = hv_tsc_begin();

	for (uint64_t i = 0; i < n; i++) {
		int status;
		pid_t pid = fork(), got;

		if (pid == 0) {
			uint64_t k = pages ? (i * 7919) % pages : 0;

			_exit((int)((i + (pages ? mem[k * 512] - k : 0)) & 0x7f));
		}
		if (pid < 0) {
			free(mem);
			return hv_err_errno("forkwait: fork %" PRIu64 " of %" PRIu64, i, n);
		}
		while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != (int)(i & 0x7f)) {
			free(mem);
			if (got != pid)
				return hv_err_errno("forkwait: waiting for child %d", (int)pid);
			return hv_err_set("forkwait: child %d ended with wait status %#x, not "
					  "exit status %d", (int)pid, (unsigned)status,
					  (int)(i & 0x7f));
		}
		sum = sum * 33 + (uint32_t)WEXITSTATUS(status);
	}
	*cycles = hv_tsc_end() - t0;
	free(mem);
	*checksum = sum;
	return 0;
}

static int helper_path(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return hv_err_errno("reading /proc/self/exe to find %s", HV_FORKWAIT_HELPER);
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash || (size_t)snprintf(buf, len, "%.*s/%s", (int)(slash - exe), exe,
				       HV_FORKWAIT_HELPER) >= len)
		return hv_err_set("the path of %s is too long", HV_FORKWAIT_HELPER);
	if (access(buf, X_OK))
		return hv_err_errno("%s (the native forkwait program, built by make next to this "
				    "one)", buf);
	return 0;
}

/* The helper's lines "forkwait: rep R: C cycles, N ops, X cycles/op, checksum 0xS". */
static int read_reps(FILE *f, const char *path, uint64_t n, unsigned reps, uint64_t *cycles,
		     uint32_t *checksum)
{
	char line[256];
	unsigned got = 0;

	while (fgets(line, sizeof(line), f)) {
		unsigned rep, sum;
		uint64_t c, ops;

		if (sscanf(line, "forkwait: rep %u: %" SCNu64 " cycles, %" SCNu64
			   " ops, %*f cycles/op, checksum %x", &rep, &c, &ops, &sum) != 4)
			continue;
		if (rep != got || rep >= reps || ops != n)
			return hv_err_set("%s: unexpected line '%.80s'", path, line);
		cycles[got] = c;
		checksum[got++] = sum;
	}
	if (got != reps)
		return hv_err_set("%s gave %u of %u repetitions", path, got, reps);
	return 0;
}

int hv_native_forkwait_fresh(uint64_t n, uint64_t heap, unsigned reps, uint64_t *cycles,
			     uint32_t *checksum)
{
	char path[PATH_MAX], args[96];
	int fd[2], status = 0, rc;
	FILE *f;
	pid_t pid, w;

	if (helper_path(path, sizeof(path)))
		return -1;
	snprintf(args, sizeof(args), "n=%" PRIu64 ",reps=%u,heap=%" PRIu64, n, reps, heap);
	if (pipe2(fd, O_CLOEXEC))
		return hv_err_errno("pipe for %s", path);
	fflush(NULL);           /* nothing buffered is written twice by the child */
	pid = fork();
	if (pid == 0) {
		if (dup2(fd[1], 1) >= 0)
			execl(path, path, args, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	if (pid < 0) {
		close(fd[0]);
		return hv_err_errno("fork for %s", path);
	}
	f = fdopen(fd[0], "r");
	if (!f) {
		close(fd[0]);
		rc = hv_err_errno("reading %s", path);
	} else {
		rc = read_reps(f, path, n, reps, cycles, checksum);
		fclose(f);
	}
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (!rc && w != pid)
		rc = hv_err_errno("waiting for %s", path);
	else if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status)))
		rc = hv_err_set("%s %s ended with wait status %#x", path, args, (unsigned)status);
	return rc;
}
