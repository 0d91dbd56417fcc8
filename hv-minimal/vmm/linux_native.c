/* What every runner of a Linux guest (hvm, the QEMU peer) records beside the guest's
 * own lines: its boot time to init, and its baselines.
 *
 * The baselines: the same workload program the guest ran (linuxbench),
 * run on the host in the same run, its @hvr lines recorded as rows of engine "native"
 * through the parser and recorder the guest's lines went through. Linux on Linux: the
 * like-with-like rows issue 20 asks for. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/hvr.h"
#include "hvlab/linux_native.h"
#include "hvlab/log.h"

int hv_linux_native_default(char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return hv_err_errno("reading /proc/self/exe to find linuxbench");
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/../guest/linux/linuxbench", exe) >= len)
		return hv_err_set("the path of linuxbench is too long");
	return 0;
}

int hv_linux_native_run(struct hv_run *run, const struct hv_mode *guest_mode,
			const char *experiment, const char *program, const char *args,
			double host_hz)
{
	/* under QEMU's TCG (the nested test bed) "native" is emulated too: say so, as the
	 * guest's engine column does */
	size_t el = strlen(guest_mode->engine);
	int tcg = el > 4 && !strcmp(guest_mode->engine + el - 4, "-tcg");
	struct hv_mode native = {
		.engine = tcg ? "native-tcg" : "native", .memvirt = "native", .vcpus = 1,
		.pcpus = guest_mode->pcpus,
	};
	struct hv_recorder rec;
	struct hvr_feed feed;
	char buf[4096];
	int fd[2], st, rc = 0;
	pid_t pid;

	if (access(program, X_OK))
		return hv_err_errno("the native baseline program %s (build it with make)", program);
	if (pipe(fd))
		return hv_err_errno("a pipe for %s", program);
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return hv_err_errno("forking %s", program);
	}
	if (pid == 0) {
		char *argv[] = { (char *)program, (char *)args, NULL };

		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		unsetenv("HVLAB_ARGS");
		execv(program, args && *args ? argv : (char *[]){ (char *)program, NULL });
		_exit(127);
	}
	close(fd[1]);
	hv_recorder_init(&rec, run, &native, experiment, host_hz);
	hvr_feed_init(&feed, NULL, &rec, 1, program);
	for (;;) {
		ssize_t n = read(fd[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		hvr_feed_bytes(&feed, buf, (size_t)n);
	}
	hvr_feed_end(&feed);
	close(fd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (feed.record_error || feed.guest_fault)
		rc = hv_err_set("recording %s's lines: %s", program, feed.record_why);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		rc = hv_err_set("%s %s ended with status %d", program, args ? args : "",
				WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	else if (!feed.nrecords)
		rc = hv_err_set("%s printed no result line", program);
	hv_recorder_free(&rec);
	return rc;
}

int hv_linux_boot_record(struct hv_run *run, const struct hv_mode *mode, const char *workload,
			 double seconds)
{
	return hv_run_note_num(run, "linux_boot_to_init_s", seconds) ||
	       hv_run_add(run, &(struct hv_sample){
			.experiment = "boot", .workload = workload, .mode = mode,
			.metric = "boot_to_init", .value = seconds, .unit = "s" });
}
