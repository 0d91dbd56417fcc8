/* A Linux guest's boot time and native baselines (vmm/linux_native.c). */
#ifndef HVLAB_LINUX_NATIVE_H
#define HVLAB_LINUX_NATIVE_H
#include <stddef.h>

#include "hvlab/results.h"

/* linuxbench next to the running binary: <bin>/../guest/linux/linuxbench. */
int hv_linux_native_default(char *buf, size_t len);

/* Runs program with args (its argument string, may be empty) on the host and records
 * its @hvr lines into run as rows of engine "native" beside guest_mode's. Returns 0, or
 * -1 with hv_err_msg() (the program missing or failing, no line, a recording error). */
int hv_linux_native_run(struct hv_run *run, const struct hv_mode *guest_mode,
			const char *experiment, const char *program, const char *args,
			double host_hz);

/* The boot's time to init, host-side seconds from the guest's start to its init's first
 * record: note linux_boot_to_init_s and the sample boot/boot_to_init. 0 or -1. */
int hv_linux_boot_record(struct hv_run *run, const struct hv_mode *mode, const char *workload,
			 double seconds);

#endif
