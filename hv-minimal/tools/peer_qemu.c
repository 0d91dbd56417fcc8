/* One QEMU run (peer_qemu.h). The console is QEMU's serial port on its standard
 * output, a pipe read with ppoll() so that the timeout and SIGINT/SIGTERM are seen
 * without a race; QEMU's own messages go to a file. QEMU stays in the peer's process
 * group (a terminal's ^C and the matrix runner's kill reach it too) and dies with the
 * peer (PR_SET_PDEATHSIG). */
#include "peer_qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvlab/abi.h"
#include "hvlab/err.h"
#include "hvlab/pin.h"

/* After SIGTERM, QEMU has this long to go before SIGKILL. */
#define STOP_GRACE_S 2.0

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int peer_qemu_find(const char *name_or_path, char *path, size_t len)
{
	const char *env = getenv("PATH");
	char dirs[4096];

	if (strchr(name_or_path, '/')) {
		if (access(name_or_path, X_OK))
			return hv_err_errno("QEMU %s cannot be run", name_or_path);
		snprintf(path, len, "%s", name_or_path);
		return 0;
	}
	snprintf(dirs, sizeof(dirs), "%s", env ? env : "/usr/local/bin:/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if ((size_t)snprintf(path, len, "%s/%s", *d ? d : ".", name_or_path) >= len)
			continue;
		if (!stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK))
			return 0;
	}
	return hv_err_set("%s is not installed (not found in PATH; Debian package "
			  "qemu-system-x86), or give its path with --qemu", name_or_path);
}

/* Runs argv with stdout into buf (first line), stderr and stdin to /dev/null. */
static int first_line_of(char *const argv[], char *buf, size_t len)
{
	int fd[2], status = 0;
	ssize_t n;
	size_t got = 0;
	pid_t pid, w;

	if (pipe2(fd, O_CLOEXEC))
		return hv_err_errno("pipe");
	pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return hv_err_errno("fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(fd[1], 1) < 0 || dup2(null, 0) < 0 || dup2(null, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	while (got + 1 < len && (n = read(fd[0], buf + got, len - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += (size_t)n;
	}
	close(fd[0]);
	buf[got] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (w != pid || !WIFEXITED(status) || WEXITSTATUS(status) || !buf[0])
		return hv_err_set("%s -version failed", argv[0]);
	return 0;
}

void peer_qemu_version(const char *qemu, char *buf, size_t len)
{
	char *argv[] = { (char *)qemu, (char *)"-version", NULL };

	if (first_line_of(argv, buf, len))
		snprintf(buf, len, "unavailable: %s", hv_err_msg());
}

int peer_qemu_qboot(const char *qemu, char *path, size_t len)
{
	char real[PATH_MAX], *slash;

	if (!realpath(qemu, real))
		return 0;
	slash = strrchr(real, '/');
	if (!slash)
		return 0;
	*slash = '\0';                           /* <prefix>/bin */
	slash = strrchr(real, '/');
	if (!slash)
		return 0;
	*slash = '\0';                           /* <prefix> */
	if ((size_t)snprintf(path, len, "%s/share/qemu/qboot.rom", real) >= len)
		return 0;
	return access(path, R_OK) == 0;
}

/* Appends s to the shell-quoted form. */
static void show_word(char *out, size_t cap, const char *s)
{
	size_t o = strlen(out);
	int plain = *s != '\0';

	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_-+=/.,:@%", *p))
			plain = 0;
	if (o && o + 1 < cap)
		out[o++] = ' ';
	if (plain) {
		snprintf(out + o, cap - o, "%s", s);
		return;
	}
	if (o + 1 < cap)
		out[o++] = '\'';
	for (; *s && o + 5 < cap; s++) {
		if (*s == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *s;
		}
	}
	if (o + 1 < cap)
		out[o++] = '\'';
	out[o < cap ? o : cap - 1] = '\0';
}

int peer_qemu_build_argv(const struct peer_qemu_config *c, struct peer_qemu_argv *a)
{
	char *b = a->buf, *end = a->buf + sizeof(a->buf);
	size_t n = 0;

/* A formatted argument kept in a->buf. */
#define ARGF(...)                                                         \
	do {                                                              \
		int w_ = snprintf(b, (size_t)(end - b), __VA_ARGS__);     \
		if (w_ < 0 || w_ >= end - b)                              \
			return hv_err_set("the QEMU command line is too long"); \
		a->argv[n++] = b;                                         \
		b += w_ + 1;                                              \
	} while (0)
#define ARG(s) (a->argv[n++] = (char *)(s))

	if (c->mem_bytes % (1ull << 20))
		return hv_err_set("guest memory of %llu bytes is not a whole number of MiB",
				  (unsigned long long)c->mem_bytes);
	ARG(c->qemu);
	if (c->disk) {
		ARG("-M");
		ARG("microvm");
	}
	ARG("-accel");
	ARG(c->accel);
	if (c->cpu) {
		ARG("-cpu");
		ARG(c->cpu);
	}
	ARG("-m");
	ARGF("%lluM", (unsigned long long)(c->mem_bytes >> 20));
	ARG("-smp");
	ARGF("%u", c->vcpus);
	/* No default devices (VGA, NIC and their option ROMs): the guest uses none. */
	ARG("-nodefaults");
	ARG("-display");
	ARG("none");
	ARG("-monitor");
	ARG("none");
	ARG("-serial");
	ARG("stdio");
	ARG("-no-reboot");
	ARG("-device");
	ARGF("isa-debug-exit,iobase=%#x,iosize=4", HV_PORT_EXIT);
	if (c->disk) {
		if (strchr(c->disk, ','))
			return hv_err_set("disk image path %s holds a comma, which QEMU's -drive "
					  "cannot take", c->disk);
		ARG("-drive");
		ARGF("file=%s,if=none,id=hvdisk,format=raw", c->disk);
		ARG("-device");
		ARG("virtio-blk-device,drive=hvdisk");
		/* virtio 1.x (version 2 registers), as the guest's driver and hvm's device */
		ARG("-global");
		ARG("virtio-mmio.force-legacy=false");
	}
	if (c->firmware) {
		ARG("-bios");
		ARG(c->firmware);
	}
	ARG("-kernel");
	ARG(c->kernel);
	if (c->initrd) {
		ARG("-initrd");
		ARG(c->initrd);
	}
	ARG("-append");
	ARG(c->cmdline);
	a->argv[n] = NULL;
#undef ARG
#undef ARGF
	a->shown[0] = '\0';
	for (size_t i = 0; i < n; i++)
		show_word(a->shown, sizeof(a->shown), a->argv[i]);
	return 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* The child: console on stdout, messages to the log, no stdin; dies with the peer.
 * Reports an exec failure's errno through err_fd (close-on-exec). */
static void child(const struct peer_qemu_argv *a, int out_fd, int log_fd, int err_fd,
		  const sigset_t *mask)
{
	int null = open("/dev/null", O_RDONLY);
	int e;

	/* The peer's own blocking of SIGINT/SIGTERM must not reach QEMU across exec. */
	sigprocmask(SIG_SETMASK, mask, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		goto fail;
	execv(a->argv[0], a->argv);
fail:
	e = errno;
	if (write(err_fd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int start(const struct peer_qemu_config *c, const struct peer_qemu_argv *a,
		 const sigset_t *mask, pid_t *pid, int *out)
{
	int pipe_out[2], pipe_err[2], log_fd, e = 0;
	cpu_set_t saved;
	int pinned = 0;
	ssize_t n;

	log_fd = open(c->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd < 0)
		return hv_err_errno("creating %s for QEMU's messages", c->stderr_path);
	if (pipe2(pipe_out, O_CLOEXEC)) {
		close(log_fd);
		return hv_err_errno("pipe for QEMU's console");
	}
	if (pipe2(pipe_err, O_CLOEXEC)) {
		close(log_fd);
		close(pipe_out[0]);
		close(pipe_out[1]);
		return hv_err_errno("pipe");
	}
	/* QEMU inherits the binding; the peer itself gets its own back after the fork. */
	if (c->pin) {
		if (sched_getaffinity(0, sizeof(saved), &saved)) {
			hv_err_errno("reading this process's CPU binding");
			goto fail;
		}
		if (hv_pin_thread(c->pin)) {
			hv_err_set("pinning QEMU to CPUs %s: %s", c->pin, hv_err_msg());
			goto fail;
		}
		pinned = 1;
	}
	*pid = fork();
	if (*pid == 0)
		child(a, pipe_out[1], log_fd, pipe_err[1], mask);
	e = errno;
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	if (*pid < 0) {
		errno = e;
		hv_err_errno("fork for QEMU");
		goto fail;
	}
	close(pipe_out[1]);
	close(pipe_err[1]);
	close(log_fd);
	while ((n = read(pipe_err[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(pipe_err[0]);
	if (n == (ssize_t)sizeof(e)) {
		close(pipe_out[0]);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = e;
		return hv_err_errno("running %s", a->argv[0]);
	}
	*out = pipe_out[0];
	return 0;
fail:
	close(log_fd);
	close(pipe_out[0]);
	close(pipe_out[1]);
	close(pipe_err[0]);
	close(pipe_err[1]);
	return -1;
}

/* Reads what is there; 0 at end of file, 1 when more may come, -1 on error. */
static int drain(int fd, int (*on_output)(void *, const char *, size_t), void *arg,
		 int *stop, double t0, double *first)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -1;
	if (n == 0)
		return 0;
	if (*first < 0)
		*first = now_s() - t0;
	if (!*stop && on_output(arg, buf, (size_t)n))
		*stop = 1;
	return 1;
}

/* Waits up to `left` seconds for input on fd (-1: none, just the wait), with SIGINT and
 * SIGTERM let in only here (ppoll's mask), so none is missed between a check and the
 * wait. 1 when fd is readable. */
static int wait_input(int fd, double left, const sigset_t *mask)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct timespec ts;

	if (left < 0)
		left = 0;
	ts.tv_sec = (time_t)left;
	ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
	return ppoll(&pfd, 1, &ts, mask) > 0 && fd >= 0;
}

int peer_qemu_run(const struct peer_qemu_config *c, const struct peer_qemu_argv *a,
		  double timeout_s, int (*on_output)(void *arg, const char *buf, size_t n),
		  void *arg, struct peer_end *end)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	sigset_t block, orig, wait_mask;
	double t0, deadline, kill_at = 0;
	int fd = -1, status = 0, open_fd = 1, stop = 0, termed = 0, rc = 0;
	pid_t pid = -1;

	memset(end, 0, sizeof(*end));
	end->first_output_s = -1;
	got_signal = 0;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	wait_mask = orig;
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	t0 = now_s();
	if (start(c, a, &orig, &pid, &fd)) {
		sigprocmask(SIG_SETMASK, &orig, NULL);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		return -1;
	}
	deadline = t0 + timeout_s;
	end->kind = PEER_END_EXIT;
	for (;;) {
		double t = now_s(), wake;
		pid_t w;

		/* Why QEMU has to go, once: timeout, a signal to the peer, or the caller. */
		if (!termed && (t >= deadline || got_signal || stop)) {
			end->kind = got_signal ? PEER_END_INTERRUPTED :
				    stop ? PEER_END_STOPPED : PEER_END_TIMEOUT;
			end->code = got_signal;
			kill(pid, SIGTERM);
			termed = 1;
			kill_at = t + STOP_GRACE_S;
		}
		if (termed && t >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = t + 3600;
		}
		/* The console is read to its end before QEMU is reaped: nothing is lost. */
		if (!open_fd) {
			w = waitpid(pid, &status, WNOHANG);
			if (w == pid)
				break;
			if (w < 0 && errno != EINTR) {
				rc = hv_err_errno("waiting for QEMU (pid %d)", (int)pid);
				break;
			}
		}
		wake = termed ? kill_at : deadline;
		/* Without the pipe, QEMU is polled for its exit every 10 ms. */
		if (wait_input(open_fd ? fd : -1, open_fd ? wake - t : 0.01, &wait_mask) &&
		    drain(fd, on_output, arg, &stop, t0, &end->first_output_s) <= 0) {
			open_fd = 0;
			close(fd);
		}
	}
	if (open_fd)
		close(fd);
	end->seconds = now_s() - t0;
	/* A signal still pending is taken by on_signal, not by the old disposition. */
	sigprocmask(SIG_SETMASK, &orig, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc)
		return -1;
	if (end->kind == PEER_END_EXIT) {
		if (WIFEXITED(status)) {
			end->code = WEXITSTATUS(status);
		} else {
			end->kind = PEER_END_SIGNALED;
			end->code = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		}
	}
	return 0;
}
