/* `hvpeer parse`: a guest console log's @hvr result lines into a run directory, through
 * the parser and recorder `hvpeer run` uses (vmm/hvr.c), for a console captured elsewhere. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/abi.h"
#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/pin.h"
#include "hvlab/record.h"
#include "hvlab/results.h"
#include "hvpeer.h"
#include "hvlab/hvr.h"

#define LOG_MAX_BYTES (64u << 20)

void hvpeer_usage_parse(FILE *f)
{
	fprintf(f,
		"usage: hvpeer parse [--engine NAME] [--memvirt M] [--vcpus N] [--pcpus N]\n"
		"                    [--experiment NAME] [--tsc-khz K] [--captured-here]\n"
		"                    [--max-records N] [--out DIR] LOG\n\n"
		"Turns the @hvr result lines of a guest console log into a run directory in hvm's\n"
		"format (samples.csv, summary.json; info records become the guest's notes, and\n"
		"its flavour, spinlock and iopath reports the mode columns), through the same\n"
		"parser and recorder as hvpeer run. A malformed line is reported with its line\n"
		"number and left out. The log may come from another machine: unless\n"
		"--captured-here says otherwise, the context block says the results were\n"
		"measured elsewhere and leaves out this host's facts.\n\n"
		"  --engine NAME       the engine column (qemu-tcg)\n"
		"  --memvirt M         the memvirt column (softmmu for qemu-tcg, else unknown)\n"
		"  --vcpus N           the vcpus column (1)\n"
		"  --pcpus N           the pcpus column (this host's CPUs with --captured-here,\n"
		"                      else 0: not known)\n"
		"  --experiment NAME   (default: the workload of the first record)\n"
		"  --tsc-khz K         the guest's TSC rate: adds ns_per_op (default: no ns)\n"
		"  --captured-here     the log was captured on this host: record its context\n"
		"  --max-records N     result records taken before the log's guest counts as\n"
		"                      misbehaving (100000)\n"
		"  --out DIR           the run directory (default results/runs/<experiment>-...)\n\n"
		"exit status: 0 every result line was recorded, 1 a line was rejected or there\n"
		"was none, 2 usage error, 3 the guest broke the result channel's rules (its\n"
		"record budget, table sizes, its mode report), 4 the run directory could not be\n"
		"written\n");
}

struct parse_opts {
	const char *engine, *memvirt, *experiment, *out, *log;
	unsigned vcpus, pcpus;
	double tsc_khz, max_records;
	int captured_here;           /* --captured-here: the log is this host's */
};

static int parse_num(const char *opt, const char *v, double lo, double hi, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(v, &end);
	if (end == v || *end || errno || *out < lo || *out > hi)
		return hv_err_set("option %s: '%s' is not a number from %g to %g", opt, v, lo, hi);
	return 0;
}

static int parse_args(int argc, char **argv, struct parse_opts *p, int *help)
{
	static const char *const names[] = { "--engine", "--memvirt", "--experiment", "--out",
					     "--vcpus", "--pcpus", "--tsc-khz", "--max-records" };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		size_t k, n = sizeof(names) / sizeof(names[0]);
		double d;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			*help = 1;
			return 0;
		}
		if (!strcmp(a, "--captured-here")) {
			p->captured_here = 1;
			continue;
		}
		if (strncmp(a, "--", 2)) {
			if (p->log)
				return hv_err_set("one console log only ('%s' and '%s')", p->log, a);
			p->log = a;
			continue;
		}
		for (k = 0; k < n; k++) {
			size_t l = strlen(names[k]);

			if (!strncmp(a, names[k], l) && (a[l] == '=' || !a[l])) {
				v = a[l] == '=' ? a + l + 1 : (i + 1 < argc ? argv[++i] : NULL);
				break;
			}
		}
		if (k == n)
			return hv_err_set("unknown option '%s' (see hvpeer parse --help)", a);
		if (!v || !*v)
			return hv_err_set("option %s needs a value", names[k]);
		switch (k) {
		case 0: p->engine = v; break;
		case 1: p->memvirt = v; break;
		case 2: p->experiment = v; break;
		case 3: p->out = v; break;
		case 4:
		case 5:
			if (parse_num(names[k], v, 1, k == 4 ? HV_MAX_VCPUS : 1 << 16, &d))
				return -1;
			*(k == 4 ? &p->vcpus : &p->pcpus) = (unsigned)d;
			break;
		case 6:
			if (parse_num(names[k], v, 0, 1e9, &p->tsc_khz))
				return -1;
			break;
		default:
			if (parse_num(names[k], v, 1, HV_RECORD_BUDGET_MAX, &p->max_records))
				return -1;
			break;
		}
	}
	if (!p->log)
		return hv_err_set("give the console log to parse (see hvpeer parse --help)");
	return 0;
}

static int read_log(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 1 << 16;

	*len = 0;
	if (!f)
		return hv_err_errno("cannot read the console log %s", path);
	*buf = malloc(cap);
	while (*buf) {
		size_t n = fread(*buf + *len, 1, cap - *len, f);

		*len += n;
		if (n == 0)
			break;
		if (*len == cap) {
			char *more = cap >= LOG_MAX_BYTES ? NULL : realloc(*buf, cap * 2);

			if (!more) {
				free(*buf);
				*buf = NULL;
				fclose(f);
				return hv_err_set("%s: larger than %u MiB, or out of memory", path,
						  LOG_MAX_BYTES >> 20);
			}
			*buf = more;
			cap *= 2;
		}
	}
	if (!*buf || ferror(f)) {
		free(*buf);
		*buf = NULL;
		fclose(f);
		return hv_err_errno("reading %s", path);
	}
	fclose(f);
	return 0;
}

/* The workload of the first well-formed record, as hvm names an experiment after its
 * workload. */
static void first_workload(const char *log, size_t len, char *out, size_t cap)
{
	const char *p = log, *end = log + len;

	out[0] = '\0';
	while (p < end && !out[0]) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[HVR_LINE_MAX];
		struct hv_result r;

		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = '\0';
			if (hvr_parse_line(line, &r) == 1 && r.workload[0])
				snprintf(out, cap, "%s", r.workload);
		}
		p += l + 1;
	}
}

int hvpeer_cmd_parse(int argc, char **argv, const struct hvm_invocation *inv)
{
	struct parse_opts p = { .engine = "qemu-tcg", .vcpus = 1 };
	char experiment[HV_NAME_MAX], *log = NULL;
	struct hv_recorder rec;
	struct hvr_feed feed;
	struct hv_mode mode;
	struct hv_run *run;
	size_t len;
	int help = 0, rc = HVM_EXIT_PASS;

	if (parse_args(argc, argv, &p, &help)) {
		fprintf(stderr, "hvpeer parse: %s\n", hv_err_msg());
		return HVM_EXIT_USAGE;
	}
	if (help) {
		hvpeer_usage_parse(stdout);
		return HVM_EXIT_PASS;
	}
	if (read_log(p.log, &log, &len)) {
		hv_err("%s", hv_err_msg());
		return HVM_EXIT_USAGE;
	}
	if (p.experiment)
		snprintf(experiment, sizeof(experiment), "%s", p.experiment);
	else
		first_workload(log, len, experiment, sizeof(experiment));
	if (!experiment[0]) {
		hv_err("%s holds no well-formed @hvr result line naming a workload (did the "
		       "guest run its workload?); give --experiment to write an empty run", p.log);
		free(log);
		return HVM_EXIT_FAIL;
	}
	run = hv_run_open(HVPEER_RESULTS_ROOT, experiment, p.out, inv->argc, inv->argv, 0);
	if (!run) {
		hv_err("opening the run directory: %s", hv_err_msg());
		free(log);
		return HVM_EXIT_HOST;
	}
	if (!p.captured_here) {
		char why[PATH_MAX + 160];

		snprintf(why, sizeof(why), "hvpeer parse read the console log %s, which may have "
			 "been captured on another host (give --captured-here when it was this one)",
			 p.log);
		hv_run_measured_elsewhere(run, why);
	}
	/* flavour, spinlock, iopath: what the log's guest reported it booted with */
	mode = (struct hv_mode){
		.engine = p.engine,
		.memvirt = p.memvirt ? p.memvirt : !strcmp(p.engine, "qemu-tcg") ? "softmmu" : "unknown",
		.vcpus = (int)p.vcpus,
		.pcpus = p.pcpus ? (int)p.pcpus : p.captured_here ? hv_pin_ncpus() : 0,
	};
	hv_recorder_init(&rec, run, &mode, experiment, p.tsc_khz * 1e3);
	if (p.max_records)
		hv_recorder_set_budget(&rec, (uint64_t)p.max_records);
	hvr_feed_init(&feed, NULL, &rec, p.vcpus, p.log);
	hvr_feed_bytes(&feed, log, len);
	hvr_feed_end(&feed);
	hv_run_note(run, "engine", p.engine);
	hv_run_note(run, "source_log", p.log);
	if (!mode.pcpus)
		hv_run_note(run, "pcpus", "not known: the log's host is not known (give --pcpus)");
	hv_run_note_num(run, "guest_records", feed.nrecords);
	hv_run_note_num(run, "records_rejected", feed.nrejected);
	if (feed.nrejected)
		hv_run_note(run, "first_rejected", feed.first_rejected);
	if (feed.guest_fault) {
		hv_err("the guest misbehaved: %s; the records before it are kept",
		       feed.record_why);
		hv_run_note(run, "stop_kind", "guest misbehaved");
		hv_run_note(run, "stop_reason", feed.record_why);
		rc = HVM_EXIT_GUEST;
	} else if (feed.record_error) {
		hv_err("%s", feed.record_why);
		rc = HVM_EXIT_HOST;
	} else if (feed.nrejected || !feed.nrecords) {
		hv_err("%u result line(s) recorded, %u rejected", feed.nrecords, feed.nrejected);
		rc = HVM_EXIT_FAIL;
	} else {
		hv_info("%u result line(s) recorded", feed.nrecords);
	}
	hv_info("results in %s", hv_run_dir(run));
	hv_recorder_free(&rec);
	if (hv_run_close(run)) {
		hv_err("closing the run: %s", hv_err_msg());
		rc = HVM_EXIT_HOST;
	}
	free(log);
	return rc;
}
