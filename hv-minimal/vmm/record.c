/* Guest result records -> run samples and notes. A nanobenchmark record becomes
 * cycles_per_op = cycles / iters (abi.h: cycles already has the harness subtracted),
 * the same in ns, and harness_cycles_per_op = baseline / iters, with "iters=N" as the
 * parameter; a value record becomes a metric with its unit; an info record a note. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/record.h"

void hv_recorder_init(struct hv_recorder *r, struct hv_run *run, const struct hv_mode *mode,
		      const char *experiment, double guest_hz)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->run = run;
	r->mode = *mode;
	r->experiment = experiment;
	r->guest_hz = guest_hz;
}

static int record_nanobench(struct hv_recorder *r, const struct hv_result *res)
{
	double cpo = (double)res->cycles / (double)res->iters;
	double ns = r->guest_hz > 0 ? cpo * 1e9 / r->guest_hz : 0;
	char params[48];
	struct hv_sample s = {
		.experiment = r->experiment, .workload = res->name, .params = params,
		.mode = &r->mode, .rep = (int)res->rep,
	};

	snprintf(params, sizeof(params), "iters=%" PRIu64, res->iters);
	if (hv_nb_add(&r->nb, res->name, res->iters, cpo, ns))
		return -1;
	if (!r->run)
		return 0;
	s.metric = "cycles_per_op";
	s.value = cpo;
	s.unit = "cycles";
	if (hv_run_add(r->run, &s))
		return -1;
	s.metric = "harness_cycles_per_op";
	s.value = (double)res->baseline / (double)res->iters;
	if (hv_run_add(r->run, &s))
		return -1;
	if (r->guest_hz <= 0)
		return 0;
	s.metric = "ns_per_op";
	s.value = ns;
	s.unit = "ns";
	return hv_run_add(r->run, &s);
}

static int record_value(struct hv_recorder *r, const struct hv_result *res)
{
	/* The workload's own figures feed the end-of-run table. */
	if ((!res->workload[0] || !strcmp(res->workload, r->experiment)) &&
	    hv_wv_add(&r->wv, res->name, res->unit[0] ? res->unit : "-", res->value))
		return -1;
	struct hv_sample s = {
		.experiment = r->experiment,
		.workload = res->workload[0] ? res->workload : r->experiment,
		.mode = &r->mode, .metric = res->name, .value = res->value,
		.unit = res->unit[0] ? res->unit : "-", .rep = (int)res->rep,
	};

	return r->run ? hv_run_add(r->run, &s) : 0;
}

int hv_recorder_add(struct hv_recorder *r, const struct hv_result *res)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	switch (res->kind) {
	case HV_RES_NANOBENCH:
		rc = record_nanobench(r, res);
		break;
	case HV_RES_VALUE:
		rc = record_value(r, res);
		break;
	case HV_RES_INFO:
		if (r->run)
			rc = hv_run_note(r->run, res->name, res->unit);
		break;
	default:
		rc = hv_err_set("result record of unknown kind %u", res->kind);
		break;
	}
	if (!rc)
		r->nrecords++;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void hv_recorder_free(struct hv_recorder *r)
{
	hv_nb_free(&r->nb);
	hv_wv_free(&r->wv);
	pthread_mutex_destroy(&r->lock);
}

/* Native baselines run until this much host time has passed per repetition. */
#define NATIVE_MIN_SECONDS 0.01

static void finish_note(struct hv_run *run, const char *key, const char *value)
{
	if (run && hv_run_note(run, key, value))
		hv_warn("recording note %s: %s", key, hv_err_msg());
}

void hv_recorder_finish(struct hv_recorder *r, const char *workload, const char *wargs,
			unsigned native_reps, double host_hz, const struct hv_run_end *end)
{
	char num[16];

	if (!end->user_stopped) {
		struct hv_mode native = {
			.engine = "native", .memvirt = "native", .vcpus = 1, .pcpus = r->mode.pcpus,
		};

		if (r->nb.nops &&
		    hv_nb_report(&r->nb, r->run, &r->mode, &native, workload, native_reps,
				 (uint64_t)(host_hz * NATIVE_MIN_SECONDS), host_hz, stdout))
			hv_warn("nanobenchmark table: %s", hv_err_msg());
		if (hv_work_report(&r->wv, r->run, &r->mode, &native, workload, wargs, stdout))
			hv_warn("workload table: %s", hv_err_msg());
	}
	finish_note(r->run, "stop_kind", end->stop_kind);
	finish_note(r->run, "stop_reason", end->stop_why);
	snprintf(num, sizeof(num), "%u", end->guest_status);
	if (end->guest_exited)
		finish_note(r->run, "guest_status", num);
	if (r->run && hv_run_note_num(r->run, "guest_records", r->nrecords))
		hv_warn("recording note guest_records: %s", hv_err_msg());
}
