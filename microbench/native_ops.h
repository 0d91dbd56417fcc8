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
	/* Upper bound on iters for one run call (0: HV_NATIVE_MAX_ITERS); pgfault maps
	 * iters pages per call, so its bound caps memory. */
	uint64_t max_iters;
};

#define HV_NATIVE_MAX_ITERS (1ull << 30)

/* The table, in A&A order. */
const struct hv_native_op *hv_native_ops(size_t *n);
const struct hv_native_op *hv_native_op_find(const char *name);
/* For a name of the shared guest set with no native counterpart (cr8wr, hypercall,
 * mmio, ioeventfd): why. NULL for any other name. */
const char *hv_native_absent_reason(const char *name);

/* One measurement of op: repeats until min_cycles have passed (hv_repeat_until), reps
 * times; cycles_per_op[i] has the loop overhead (an empty loop of the same iters)
 * subtracted. A discarded warm-up call finds the starting iters, so *iters is normally
 * the same for every repetition; when a repetition had to double, *iters is the largest.
 * Returns 0; or -1 with why filled when the op is unavailable here (setup refused) or
 * failed while running. */
int hv_native_measure(const struct hv_native_op *op, int reps, uint64_t min_cycles,
		      double *cycles_per_op, uint64_t *iters, char *why, size_t whylen);

/* The same measurement in steps, so that a harness can interleave the repetitions of
 * several ops (round-robin) and every op sees the same drift of the host over a run.
 * hv_native_measure is begin, reps x rep, end. */
struct hv_native_session {
	const struct hv_native_op *op;
	void *state;
	uint64_t min_cycles;
	uint64_t start_iters;    /* found by the warm-up */
	uint64_t largest_iters;  /* over the repetitions so far */
};

/* Sets op up and runs the discarded warm-up. Returns 0, or -1 with why (nothing to end). */
int hv_native_begin(struct hv_native_session *s, const struct hv_native_op *op,
		    uint64_t min_cycles, char *why, size_t whylen);
/* One repetition: cycles per op with the empty-loop overhead subtracted, and its iters.
 * Returns 0, or -1 with why (the session must still be ended). */
int hv_native_rep(struct hv_native_session *s, double *cycles_per_op, uint64_t *iters,
		  char *why, size_t whylen);
void hv_native_end(struct hv_native_session *s);

#endif
