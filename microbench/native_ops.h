/* Host-native counterparts of the Adams & Agesen nanobenchmarks: the native column of
 * every comparison. Linked into the `nativebench` harness and into `hvm`, so a guest
 * run can measure its native baseline in the same run.
 *
 * Operation names are shared with the guest nanobenchmarks (hv-minimal/guest/user):
 *   syscall  in  cr8wr  callret  pgfault  divzero  ptemod  cpuid  hypercall  mmio
 *   rdtsc  ioeventfd
 * plus native-only: protfault. An operation with no native counterpart (cr8wr,
 * hypercall, mmio, ioeventfd) is simply absent from the table. */
#ifndef HVLAB_NATIVE_OPS_H
#define HVLAB_NATIVE_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "hvlab/tsc.h"

struct hv_native_op {
	const char *name;        /* shared name, see above */
	const char *what;        /* one line: what is timed natively */
	/* Prepares state (may allocate); returns 0, or -1 with a reason in why (e.g.
	 * "ioperm refused: not root") — then the op is reported as unavailable. */
	int (*setup)(void **state, char *why, size_t whylen);
	/* Runs the operation iters times; returns TSC cycles taken (hv_tsc_begin/end). */
	uint64_t (*run)(void *state, uint64_t iters);
	void (*teardown)(void *state);
};

/* The table, in A&A order. */
const struct hv_native_op *hv_native_ops(size_t *n);
const struct hv_native_op *hv_native_op_find(const char *name);

/* One measurement of op: repeats until min_cycles have passed (hv_repeat_until), reps
 * times; cycles_per_op[i] has the loop overhead (an empty loop of the same iters)
 * subtracted. Returns 0; or -1 with why filled when the op is unavailable here. */
int hv_native_measure(const struct hv_native_op *op, int reps, uint64_t min_cycles,
		      double *cycles_per_op, uint64_t *iters, char *why, size_t whylen);

#endif
