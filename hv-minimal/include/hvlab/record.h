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

/* The result records a run takes by default before the guest is stopped (hvm run
 * --max-records): nanobench's 15 operations at its most repetitions (64) send about a
 * thousand, its default run under a hundred; a guest sending in a loop stops here, long
 * before it fills a disk (a record writes at most three rows of ~150 bytes). */
#define HV_RECORD_BUDGET_DEFAULT 100000u
#define HV_RECORD_BUDGET_MAX 100000000u

/* The mode columns the guest reports itself (info records of these names). */
#define HV_MODE_WORD_MAX HV_NAME_MAX

struct hv_recorder {
	pthread_mutex_t lock;
	struct hv_run *run;          /* NULL: nothing is written (tests) */
	struct hv_mode mode;         /* flavour, spinlock, iopath: as the guest reported them */
	const char *experiment;
	double guest_hz;             /* guest TSC ticks per second, for ns */
	struct hv_nb_table nb;
	struct hv_wv_table wv;       /* value records of the workload itself */
	unsigned nrecords;
	unsigned nsamples;           /* records that wrote rows (nanobench, value) */
	uint64_t budget;             /* records the guest may send */
	char flavour[HV_MODE_WORD_MAX], spinlock[HV_MODE_WORD_MAX], iopath[HV_MODE_WORD_MAX];
};

/* What became of a record. */
enum hv_record_status {
	HV_RECORD_OK = 0,
	HV_RECORD_HOST_ERROR = -1,   /* the run could not be written: the host's failure */
	HV_RECORD_GUEST_FAULT = -2,  /* the guest broke the channel's rules (budget, table
	                              * sizes, its mode report): stop it as misbehaving */
};

/* The mode's flavour, spinlock and iopath are ignored: they are what the guest reports
 * it booted with ("-" until it does). The budget starts at HV_RECORD_BUDGET_DEFAULT
 * and is recorded in the run's context block. */
void hv_recorder_init(struct hv_recorder *r, struct hv_run *run, const struct hv_mode *mode,
		      const char *experiment, double guest_hz);
void hv_recorder_set_budget(struct hv_recorder *r, uint64_t budget);
/* Records one validated record (see hv_result_validate), with hv_err_msg() set unless
 * HV_RECORD_OK. An info record becomes a guest note (notes.guest in summary.json);
 * one named flavour, spinlock or iopath also sets that mode column, and must come
 * before the first measurement and name one word ([a-z0-9_-]), never changing it. */
enum hv_record_status hv_recorder_add(struct hv_recorder *r, const struct hv_result *res);
/* The mode the rows were written with (for rows written after the guest stopped). */
const struct hv_mode *hv_recorder_mode(const struct hv_recorder *r);
void hv_recorder_free(struct hv_recorder *r);

/* How a run ended, for hv_recorder_finish. */
struct hv_run_end {
	int user_stopped;            /* a signal from the user: no native baselines */
	const char *stop_kind;       /* hv_stop_kind_name() */
	const char *stop_why;
	int guest_exited;            /* the guest wrote its status */
	unsigned guest_status;
	/* a Linux guest's workload program: the native rows are this program run on the
	 * host (linux_native.c), not hvlab's native ops; NULL for hvlab's own kernel */
	const char *native_program;
};

/* The end shared by every runner of the guest (hvm, hvpeer): the native baselines of
 * the nanobenchmarks and workloads the guest measured, measured now in the same run
 * (native_reps 0: as many as the guest made), then notes saying how the run ended. */
void hv_recorder_finish(struct hv_recorder *r, const char *workload, const char *wargs,
			unsigned native_reps, double host_hz, const struct hv_run_end *end);

#endif
