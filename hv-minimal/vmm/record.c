/* Guest result records -> run samples and notes. A nanobenchmark record becomes
 * cycles_per_op = cycles / iters (abi.h: cycles already has the harness subtracted),
 * the same in ns, and harness_cycles_per_op = baseline / iters, with "iters=N" as the
 * parameter; a value record becomes a metric with its unit; an info record a guest note
 * (notes.guest), and the ones named flavour, spinlock and iopath the mode columns.
 *
 * The channel has rules a guest can break: a budget of records, at most HV_NB_MAX_OPS
 * nanobenchmark operations and HV_WV_MAX_METRICS workload metrics, HV_RUN_GUEST_NOTES_MAX
 * notes, and a mode report that comes before the measurements and never changes.
 * Breaking one is the guest's fault (HV_RECORD_GUEST_FAULT: the VMM stops it, exit 3),
 * never a host error. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/linux_native.h"
#include "hvlab/record.h"

void hv_recorder_init(struct hv_recorder *r, struct hv_run *run, const struct hv_mode *mode,
		      const char *experiment, double guest_hz)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->run = run;
	r->mode = *mode;
	/* What the guest runs with is the guest's to say (the mode report below). */
	r->mode.flavour = r->mode.spinlock = r->mode.iopath = NULL;
	r->experiment = experiment;
	r->guest_hz = guest_hz;
	hv_recorder_set_budget(r, HV_RECORD_BUDGET_DEFAULT);
}

void hv_recorder_set_budget(struct hv_recorder *r, uint64_t budget)
{
	r->budget = budget;
	if (r->run)
		hv_run_set_guest_record_budget(r->run, budget);
}

const struct hv_mode *hv_recorder_mode(const struct hv_recorder *r)
{
	return &r->mode;
}

static enum hv_record_status guest_fault(const char *fmt, ...) HV_FMT(1, 2);
static enum hv_record_status guest_fault(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hv_err_set("%s", msg);
	return HV_RECORD_GUEST_FAULT;
}

static enum hv_record_status host_error(void)
{
	return HV_RECORD_HOST_ERROR;    /* hv_err_msg() says what failed */
}

static enum hv_record_status record_nanobench(struct hv_recorder *r, const struct hv_result *res)
{
	double cpo = (double)res->cycles / (double)res->iters;
	double ns = r->guest_hz > 0 ? cpo * 1e9 / r->guest_hz : 0;
	char params[48];
	struct hv_sample s = {
		.experiment = r->experiment, .workload = res->name, .params = params,
		.mode = &r->mode, .rep = (int)res->rep,
	};

	if (!hv_nb_known(&r->nb, res->name) && r->nb.nops >= HV_NB_MAX_OPS)
		return guest_fault("nanobenchmark '%s': the guest already reported %d operations, "
				   "the most a run takes", res->name, HV_NB_MAX_OPS);
	snprintf(params, sizeof(params), "iters=%" PRIu64, res->iters);
	if (hv_nb_add(&r->nb, res->name, res->iters, cpo, ns))
		return host_error();
	if (!r->run)
		return HV_RECORD_OK;
	s.metric = "cycles_per_op";
	s.value = cpo;
	s.unit = "cycles";
	if (hv_run_add(r->run, &s))
		return host_error();
	s.metric = "harness_cycles_per_op";
	s.value = (double)res->baseline / (double)res->iters;
	if (hv_run_add(r->run, &s))
		return host_error();
	if (r->guest_hz <= 0)
		return HV_RECORD_OK;
	s.metric = "ns_per_op";
	s.value = ns;
	s.unit = "ns";
	return hv_run_add(r->run, &s) ? host_error() : HV_RECORD_OK;
}

static enum hv_record_status record_value(struct hv_recorder *r, const struct hv_result *res)
{
	/* The workload's own figures feed the end-of-run table. */
	if (!res->workload[0] || !strcmp(res->workload, r->experiment)) {
		if (!hv_wv_known(&r->wv, res->name) && r->wv.nm >= HV_WV_MAX_METRICS)
			return guest_fault("workload metric '%s': the guest already reported %d "
					   "metrics, the most a run takes", res->name,
					   HV_WV_MAX_METRICS);
		if (hv_wv_add(&r->wv, res->name, res->unit[0] ? res->unit : "-", res->value))
			return host_error();
	}
	struct hv_sample s = {
		.experiment = r->experiment,
		.workload = res->workload[0] ? res->workload : r->experiment,
		.mode = &r->mode, .metric = res->name, .value = res->value,
		.unit = res->unit[0] ? res->unit : "-", .rep = (int)res->rep,
	};

	return r->run && hv_run_add(r->run, &s) ? host_error() : HV_RECORD_OK;
}

/* A mode column's value: one lower-case word, as the CSV and the figures expect. */
static int mode_word_ok(const char *v)
{
	if (!*v)
		return 0;
	for (; *v; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9') || *v == '-' ||
		      *v == '_'))
			return 0;
	return 1;
}

/* The mode columns a guest reports, by the names of its info records. */
static const char *const mode_keys[] = { "flavour", "spinlock", "iopath" };
#define NR_MODE_KEYS (sizeof(mode_keys) / sizeof(mode_keys[0]))

/* The index in mode_keys of an info record's name, or -1 when it is no mode column. */
static int mode_column(const char *name)
{
	for (size_t k = 0; k < NR_MODE_KEYS; k++)
		if (!strcmp(name, mode_keys[k]))
			return (int)k;
	return -1;
}

/* An info record that reports mode column k: taken once, before any measurement. */
static enum hv_record_status record_mode(struct hv_recorder *r, int k, const char *value)
{
	char *slot[NR_MODE_KEYS] = { r->flavour, r->spinlock, r->iopath };
	const char **col[NR_MODE_KEYS] = { &r->mode.flavour, &r->mode.spinlock, &r->mode.iopath };

	if (!mode_word_ok(value))
		return guest_fault("mode report %s='%s': not one word of a-z, 0-9, '-' and '_'",
				   mode_keys[k], value);
	if (*col[k] && strcmp(*col[k], value))
		return guest_fault("mode report %s=%s after %s=%s: the guest's configuration "
				   "changed during the run", mode_keys[k], value, mode_keys[k],
				   *col[k]);
	if (!*col[k] && r->nsamples)
		return guest_fault("mode report %s=%s after %u measurement(s) were written "
				   "without it: the guest must report its configuration before "
				   "measuring", mode_keys[k], value, r->nsamples);
	if (!*col[k]) {
		snprintf(slot[k], HV_MODE_WORD_MAX, "%s", value);
		*col[k] = slot[k];
	}
	return HV_RECORD_OK;
}

static enum hv_record_status record_info(struct hv_recorder *r, const struct hv_result *res)
{
	int k = mode_column(res->name);

	if (k >= 0) {
		enum hv_record_status st = record_mode(r, k, res->unit);

		if (st != HV_RECORD_OK)
			return st;
	}
	if (!r->run)
		return HV_RECORD_OK;
	switch (hv_run_guest_note(r->run, res->name, res->unit)) {
	case HV_GUEST_NOTE_OK:
		return HV_RECORD_OK;
	case HV_GUEST_NOTE_FULL:
		return HV_RECORD_GUEST_FAULT;
	case HV_GUEST_NOTE_HOST_ERROR:
		break;
	}
	return host_error();
}

enum hv_record_status hv_recorder_add(struct hv_recorder *r, const struct hv_result *res)
{
	enum hv_record_status st;

	pthread_mutex_lock(&r->lock);
	if (r->nrecords >= r->budget) {
		st = guest_fault("record %s: the guest sent more than %" PRIu64 " result records, "
				 "the run's budget (hvm run --max-records)", res->name, r->budget);
		goto out;
	}
	switch (res->kind) {
	case HV_RES_NANOBENCH:
		st = record_nanobench(r, res);
		break;
	case HV_RES_VALUE:
		st = record_value(r, res);
		break;
	case HV_RES_INFO:
		st = record_info(r, res);
		break;
	default:
		st = guest_fault("result record of unknown kind %u", res->kind);
		break;
	}
	if (st == HV_RECORD_OK) {
		r->nrecords++;
		if (res->kind != HV_RES_INFO)
			r->nsamples++;
	}
out:
	pthread_mutex_unlock(&r->lock);
	return st;
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

		if (end->native_program) {
			if (hv_linux_native_run(r->run, &r->mode, r->experiment, end->native_program,
						wargs, host_hz)) {
				hv_warn("the native baseline: %s", hv_err_msg());
				finish_note(r->run, "native_baseline", hv_err_msg());
			} else {
				finish_note(r->run, "native_baseline", end->native_program);
			}
		} else if (r->nb.nops &&
		    hv_nb_report(&r->nb, r->run, &r->mode, &native, workload, native_reps,
				 (uint64_t)(host_hz * NATIVE_MIN_SECONDS), host_hz, stdout))
			hv_warn("nanobenchmark table: %s", hv_err_msg());
		if (!end->native_program && hv_work_report(&r->wv, r->run, &r->mode, &native, workload, wargs, stdout))
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
