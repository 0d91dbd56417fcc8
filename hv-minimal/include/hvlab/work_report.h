/* The workload table: the guest's value records per metric (cycles_per_op, elapsed,
 * ops, checksum, ...) with their spread, and for workloads that have a native build
 * (compute, memwalk) the same core run on the host with the same arguments after the
 * guest has finished: native rows, the ratio, and whether the checksums agree. */
#ifndef HVLAB_WORK_REPORT_H
#define HVLAB_WORK_REPORT_H
#include <stdint.h>
#include <stdio.h>

#include "hvlab/abi.h"

#define HV_WV_MAX_METRICS 32

struct hv_wv_metric {
	char name[HV_NAME_MAX];
	char unit[HV_NAME_MAX];
	unsigned n, cap;
	double *v;                   /* one per record, in arrival order */
};

struct hv_wv_table {
	struct hv_wv_metric m[HV_WV_MAX_METRICS];
	unsigned nm;
};

/* 1 when t has a metric of that name. */
int hv_wv_known(const struct hv_wv_table *t, const char *name);
/* Adds one value record. Returns 0, or -1 with hv_err_msg() set. */
int hv_wv_add(struct hv_wv_table *t, const char *name, const char *unit, double value);
void hv_wv_free(struct hv_wv_table *t);

/* One repetition of a workload's core run natively. */
struct hv_native_sample {
	uint64_t cycles, ops;
	uint32_t checksum;
};

#define HV_NATIVE_MAX_REPS 64

/* Runs workload's native build with args (the guest's wargs): returns the number of
 * samples (its reps), 0 when the workload has no native build, -1 with hv_err_msg()
 * set when the arguments are refused or memory is out. */
int hv_native_work_run(const char *workload, const char *args,
		       struct hv_native_sample *out, unsigned max);

/* main() of native-compute and native-memwalk: `native-NAME [ARGS]` runs the core
 * with the guest workload's argument syntax and prints one line per repetition (the
 * guest's format) and the checksum. Returns the process exit status. */
int hv_native_work_main(const char *workload, int argc, char **argv);

struct hv_run;
struct hv_mode;

/* Prints the table to out and, where there is a native build, measures it and writes
 * its rows (native_mode) and ratio_to_native (guest_mode) to run. Returns 0, or -1
 * with hv_err_msg() set. */
int hv_work_report(const struct hv_wv_table *t, struct hv_run *run,
		   const struct hv_mode *guest_mode, const struct hv_mode *native_mode,
		   const char *workload, const char *wargs, FILE *out);

#endif
