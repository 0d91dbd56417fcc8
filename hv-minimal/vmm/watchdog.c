/* The watchdog thread. It waits in sigtimedwait() for the deadline, for SIGINT/SIGTERM
 * from the user, or for the stop signal from hv_watchdog_stop(); all three are blocked
 * in every thread, so only this one receives them. It listens until the run ends: a
 * user's signal after a stop was asked for ends the process. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/vm.h"
#include "hvlab/watchdog.h"

#define WD_SIG_STOP SIGUSR2

static void wd_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, WD_SIG_STOP);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A user's signal after a stop was already asked for (the deadline, or the first
 * signal) means the guest did not stop: the process ends by that signal, as it would
 * without the watchdog; records already written stay in the run directory. */
static void end_by(int sig)
{
	sigset_t one;

	hv_warn("%s while the guest had not stopped yet: ending without the run's summary",
		strsignal(sig));
	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
}

static void *wd_thread(void *arg)
{
	struct hv_watchdog *w = arg;
	double deadline = now_s() + w->timeout_s;
	int stopping = 0;
	sigset_t set;

	wd_signals(&set);
	for (;;) {
		double left = deadline - now_s();
		struct timespec ts;
		int sig;

		if (left <= 0) {
			hv_vm_stop(w->vm, HV_STOP_HANG, 0, -1,
				   "the guest was still running after %g s (--timeout): hung, "
				   "livelocked (e.g. vmcall on this host) or too slow", w->timeout_s);
			/* keep listening: the user may still want out */
			stopping = 1;
			deadline = now_s() + 3600;
			continue;
		}
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == WD_SIG_STOP)
			return NULL;
		if (sig == SIGINT || sig == SIGTERM) {
			if (stopping)
				end_by(sig);
			hv_vm_stop(w->vm, HV_STOP_SIGNAL, 0, -1, "stopped by %s", strsignal(sig));
			stopping = 1;
			deadline = now_s() + 3600;
			continue;
		}
		/* EAGAIN: deadline reached, checked at the top; EINTR: wait again. */
	}
}

int hv_watchdog_start(struct hv_watchdog *w, struct hv_vm *vm, double timeout_s)
{
	sigset_t set;
	int err;

	memset(w, 0, sizeof(*w));
	w->vm = vm;
	w->timeout_s = timeout_s;
	wd_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, &w->old_mask);
	err = pthread_create(&w->thread, NULL, wd_thread, w);
	if (err) {
		pthread_sigmask(SIG_SETMASK, &w->old_mask, NULL);
		errno = err;
		return hv_err_errno("starting the watchdog thread");
	}
	w->started = 1;
	return 0;
}

void hv_watchdog_stop(struct hv_watchdog *w)
{
	if (!w->started)
		return;
	pthread_kill(w->thread, WD_SIG_STOP);
	pthread_join(w->thread, NULL);
	w->started = 0;
	pthread_sigmask(SIG_SETMASK, &w->old_mask, NULL);
}
