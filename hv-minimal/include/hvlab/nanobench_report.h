/* The nanobenchmark table: the guest's figures per operation, the native baseline of
 * the same operations measured in the same run, and their ratio. */
#ifndef HVLAB_NANOBENCH_REPORT_H
#define HVLAB_NANOBENCH_REPORT_H
#include <stdint.h>
#include <stdio.h>

#include "hvlab/abi.h"

#define HV_NB_MAX_OPS 32

struct hv_nb_op {
	char name[HV_NAME_MAX];
	unsigned n, cap;
	double *cycles;              /* cycles per op, one per repetition */
	double *ns;
	uint64_t iters_min, iters_max;
};

struct hv_nb_table {
	struct hv_nb_op op[HV_NB_MAX_OPS];
	unsigned nops;
};

struct hv_run;
struct hv_mode;

/* 1 when t has an operation of that name. */
int hv_nb_known(const struct hv_nb_table *t, const char *name);
/* Adds one repetition of op name. Returns 0, or -1 with hv_err_msg() set. */
int hv_nb_add(struct hv_nb_table *t, const char *name, uint64_t iters, double cycles_per_op,
	      double ns_per_op);
/* Measures the native counterpart of every operation in t (reps repetitions, each at
 * least min_cycles long; reps 0: as many as the guest made, at least 3), writes those samples to run (native_mode) with each guest
 * median's ratio to native (guest_mode, metric ratio_to_native), and prints the table
 * to out. host_hz converts native cycles to ns. */
int hv_nb_report(const struct hv_nb_table *t, struct hv_run *run,
		 const struct hv_mode *guest_mode, const struct hv_mode *native_mode,
		 const char *experiment, unsigned reps, uint64_t min_cycles, double host_hz,
		 FILE *out);
void hv_nb_free(struct hv_nb_table *t);

#endif
