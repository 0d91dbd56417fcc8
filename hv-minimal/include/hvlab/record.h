/* Turns the guest's result records into run samples and notes, and keeps the
 * nanobenchmark figures for the end-of-run table. Shared by every vCPU (locked). */
#ifndef HVLAB_RECORD_H
#define HVLAB_RECORD_H
#include <pthread.h>
#include <stdint.h>

#include "hvlab/abi.h"
#include "hvlab/nanobench_report.h"
#include "hvlab/results.h"
#include "hvlab/work_report.h"

struct hv_recorder {
	pthread_mutex_t lock;
	struct hv_run *run;          /* NULL: nothing is written (tests) */
	struct hv_mode mode;
	const char *experiment;
	double guest_hz;             /* guest TSC ticks per second, for ns */
	struct hv_nb_table nb;
	struct hv_wv_table wv;       /* value records of the workload itself */
	unsigned nrecords;
};

void hv_recorder_init(struct hv_recorder *r, struct hv_run *run, const struct hv_mode *mode,
		      const char *experiment, double guest_hz);
/* Records one validated record (see hv_result_validate). Returns 0 or -1 with
 * hv_err_msg() set when the run could not be written. */
int hv_recorder_add(struct hv_recorder *r, const struct hv_result *res);
void hv_recorder_free(struct hv_recorder *r);

/* How a run ended, for hv_recorder_finish. */
struct hv_run_end {
	int user_stopped;            /* a signal from the user: no native baselines */
	const char *stop_kind;       /* hv_stop_kind_name() */
	const char *stop_why;
	int guest_exited;            /* the guest wrote its status */
	unsigned guest_status;
};

/* The end shared by every runner of the guest (hvm, hvpeer): the native baselines of
 * the nanobenchmarks and workloads the guest measured, measured now in the same run
 * (native_reps 0: as many as the guest made), then notes saying how the run ended. */
void hv_recorder_finish(struct hv_recorder *r, const char *workload, const char *wargs,
			unsigned native_reps, double host_hz, const struct hv_run_end *end);

#endif
