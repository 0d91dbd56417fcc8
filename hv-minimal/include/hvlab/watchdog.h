/* The per-VM watchdog thread: stops a guest that runs past its time, or when the user
 * sends SIGINT/SIGTERM. It breaks vCPUs out of KVM_RUN with immediate_exit and a
 * signal, the only way out of a guest livelocked inside the kernel (vmcall on kvm_pvm,
 * PLATFORM.md). */
#ifndef HVLAB_WATCHDOG_H
#define HVLAB_WATCHDOG_H
#include <pthread.h>
#include <signal.h>

struct hv_vm;

struct hv_watchdog {
	struct hv_vm *vm;
	double timeout_s;
	pthread_t thread;
	int started;
	sigset_t old_mask;       /* the caller's mask, restored by hv_watchdog_stop */
};

/* Blocks SIGINT/SIGTERM in the calling thread (and so in threads it creates next) and
 * starts the watchdog, which takes them. Returns 0 or -1 with hv_err_msg() set. */
int hv_watchdog_start(struct hv_watchdog *w, struct hv_vm *vm, double timeout_s);
/* Stops and joins the watchdog; restores the signal mask. */
void hv_watchdog_stop(struct hv_watchdog *w);

#endif
