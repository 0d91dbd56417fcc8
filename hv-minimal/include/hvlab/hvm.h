/* hvm's subcommands and its documented exit statuses. */
#ifndef HVLAB_HVM_H
#define HVLAB_HVM_H
#include <stdint.h>

enum hvm_exit {
	HVM_EXIT_PASS = 0,       /* the guest passed */
	HVM_EXIT_FAIL = 1,       /* the guest reported failure (or panicked) */
	HVM_EXIT_USAGE = 2,      /* bad option, unknown engine, unreadable or malformed kernel */
	HVM_EXIT_GUEST = 3,      /* the guest misbehaved, hung or was interrupted: stopped */
	HVM_EXIT_HOST = 4,       /* the host failed: no /dev/kvm, an ioctl, the run directory */
	HVM_EXIT_SKIP = 77,      /* the guest skipped its workload (HV_EXIT_SKIP), or this
				  * host cannot run the engine (its probe says why) */
};

/* The whole command line and the TSC at main(), for the run context and the
 * startup figure. */
struct hvm_invocation {
	int argc;
	char **argv;
	uint64_t tsc_start;
};

/* `hvm run`: argv[0] is "run". Returns an enum hvm_exit value. */
int hvm_cmd_run(int argc, char **argv, const struct hvm_invocation *inv);

#endif
