/* nativebench: runs the host-native nanobenchmarks (native_ops.c), prints a table with
 * spread and writes a run directory (samples.csv, summary.json). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/papi.h"
#include "hvlab/pin.h"
#include "hvlab/results.h"
#include "hvlab/stats.h"
#include "hvlab/tsc.h"
#include "native_ops.h"

#define DEFAULT_REPS       10
#define DEFAULT_MIN_CYCLES 20000000ull   /* ~8 ms at 2.5 GHz per repetition */
#define MAX_REPS           100000
#define MAX_SELECTED       32

struct options {
	int reps;
	uint64_t min_cycles;
	const char *only;
	const char *out_dir;
	const char *cpu;
	const char *results_root;
};

/* One row of the report: a table op, or a requested name with no native counterpart. */
struct selected {
	char name[32];
	const struct hv_native_op *op;   /* NULL: absent natively, absent_why says why */
	const char *absent_why;
};

static void usage(FILE *f)
{
	size_t n;
	const struct hv_native_op *ops = hv_native_ops(&n);

	fprintf(f,
		"usage: nativebench [--reps N] [--min-cycles C] [--only NAME,...] [--out DIR]\n"
		"                   [--cpu CPULIST] [--results-root DIR] [--help]\n"
		"Times the host-native nanobenchmarks in TSC cycles per operation.\n"
		"  --reps N          repetitions per operation (default %d)\n"
		"  --min-cycles C    each repetition runs at least C TSC cycles (default %llu)\n"
		"  --only NAME,...   run only these operations\n"
		"  --out DIR         run directory (default <results-root>/nanobench-<date>-<pid>)\n"
		"  --cpu CPULIST     pin to these CPUs, e.g. 0 or 0-1 (default 0)\n"
		"  --results-root D  where run directories go (default results/runs)\n"
		"operations:",
		DEFAULT_REPS, (unsigned long long)DEFAULT_MIN_CYCLES);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %s", ops[i].name);
	fprintf(f, "\n");
}

/* Parses a whole decimal number in [lo, hi]; 0 on success. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Accepts "N", "N-M" and comma lists of those (hv_pin_thread checks the CPUs exist). */
static int cpulist_wellformed(const char *s)
{
	const char *p = s;

	if (!*p)
		return 0;
	for (;;) {
		char *end;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return 0;
		a = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return 0;
			b = strtoul(p, &end, 10);
			p = end;
			if (b < a)
				return 0;
		}
		if (*p == '\0')
			return 1;
		if (*p != ',')
			return 0;
		p++;
	}
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "min-cycles", required_argument, NULL, 'm' },
		{ "only", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'O' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "results-root", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	o->reps = DEFAULT_REPS;
	o->min_cycles = DEFAULT_MIN_CYCLES;
	o->only = NULL;
	o->out_dir = NULL;
	o->cpu = "0";
	o->results_root = "results/runs";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_u64(optarg, 1, MAX_REPS, &v) != 0) {
				fprintf(stderr, "nativebench: malformed --reps '%s': expected a whole "
					"number from 1 to %d\n", optarg, MAX_REPS);
				return -1;
			}
			o->reps = (int)v;
			break;
		case 'm':
			if (parse_u64(optarg, 1000, 1000000000000ull, &o->min_cycles) != 0) {
				fprintf(stderr, "nativebench: malformed --min-cycles '%s': expected a "
					"whole number from 1000 to 10^12\n", optarg);
				return -1;
			}
			break;
		case 'o':
			o->only = optarg;
			break;
		case 'O':
			o->out_dir = optarg;
			break;
		case 'c':
			if (!cpulist_wellformed(optarg)) {
				fprintf(stderr, "nativebench: malformed --cpu '%s': expected a CPU "
					"list such as 0, 0-1 or 0,2\n", optarg);
				return -1;
			}
			o->cpu = optarg;
			break;
		case 'R':
			o->results_root = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "nativebench: option '%s' needs a value\n", argv[optind - 1]);
			return -1;
		default:
			if (optopt)
				fprintf(stderr, "nativebench: unknown option '-%c'\n", optopt);
			else
				fprintf(stderr, "nativebench: unknown option '%s'\n", argv[optind - 1]);
			fprintf(stderr, "try 'nativebench --help'\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nativebench: unexpected argument '%s' (options only; see --help)\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Fills sel from --only (or the whole table); -1 after naming a bad entry. */
static int select_ops(const char *only, struct selected *sel, size_t *nsel)
{
	size_t n;
	const struct hv_native_op *ops = hv_native_ops(&n);
	char *list, *tok, *save = NULL;

	/* The known names, for the "unknown operation" message, come from the table. */
	*nsel = 0;
	if (!only) {
		for (size_t i = 0; i < n && i < MAX_SELECTED; i++) {
			sel[*nsel] = (struct selected){ .op = &ops[i] };
			snprintf(sel[*nsel].name, sizeof(sel[*nsel].name), "%s", ops[i].name);
			(*nsel)++;
		}
		return 0;
	}
	list = strdup(only);
	if (!list) {
		fprintf(stderr, "nativebench: out of memory\n");
		return -1;
	}
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct hv_native_op *op = hv_native_op_find(tok);
		const char *absent = hv_native_absent_reason(tok);
		size_t i;

		if (!op && !absent) {
			fprintf(stderr, "nativebench: unknown operation '%s' in --only; known:", tok);
			for (i = 0; i < n; i++)
				fprintf(stderr, " %s", ops[i].name);
			fprintf(stderr, "; guest-only, reported as absent: cr8wr hypercall mmio "
				"ioeventfd\n");
			free(list);
			return -1;
		}
		for (i = 0; i < *nsel; i++)
			if (strcmp(sel[i].name, tok) == 0)
				break;
		if (i < *nsel || *nsel >= MAX_SELECTED)
			continue;       /* named twice: run once */
		sel[*nsel] = (struct selected){ .op = op, .absent_why = absent };
		snprintf(sel[*nsel].name, sizeof(sel[*nsel].name), "%s", tok);
		(*nsel)++;
	}
	free(list);
	if (*nsel == 0) {
		fprintf(stderr, "nativebench: --only '%s' names no operation\n", only);
		return -1;
	}
	return 0;
}

static const struct hv_mode native_mode = {
	.engine = "native", .memvirt = "native", .flavour = NULL, .spinlock = NULL,
	.iopath = NULL, .vcpus = 0, .pcpus = 1,
};

static int add_sample(struct hv_run *run, const char *op, const char *params,
		      const char *metric, double value, const char *unit, int rep)
{
	struct hv_sample s = {
		.experiment = "nanobench", .workload = op, .params = params, .mode = &native_mode,
		.metric = metric, .value = value, .unit = unit, .rep = rep,
	};

	if (hv_run_add(run, &s) != 0) {
		hv_err("writing a sample of %s: %s", op, hv_err_msg());
		return -1;
	}
	return 0;
}

static void note(struct hv_run *run, const char *prefix, const char *op, const char *value)
{
	char key[96];

	if (snprintf(key, sizeof(key), "%s%s", prefix, op) >= (int)sizeof(key))
		hv_warn("note key %s%s cut to %zu bytes", prefix, op, sizeof(key) - 1);
	if (hv_run_note(run, key, value) != 0)
		hv_warn("recording note %s: %s", key, hv_err_msg());
}

/* Counts PAPI events over reps runs of iters operations; per-op values go to samples.
 * The counts include what the run body does outside its timed loop (pgfault's mmap
 * and munmap) and the loop itself: they are not overhead-corrected. */
static int papi_op(struct hv_run *run, struct hv_papi *papi, const struct hv_native_op *op,
		   uint64_t iters, int reps, const char *params)
{
	char why[256] = "";
	void *state = NULL;
	int rc = 0;

	if (op->setup && op->setup(&state, why, sizeof(why)) != 0) {
		hv_warn("PAPI pass of %s: %s", op->name, why);
		return -1;
	}
	for (int r = 0; rc == 0 && r < reps; r++) {
		long long v[HV_PAPI_MAX];

		if (hv_papi_start(papi) != 0) {
			hv_warn("PAPI start for %s: %s", op->name, hv_err_msg());
			rc = -1;
			break;
		}
		op->run(state, iters);
		if (hv_papi_stop(papi, v) != 0) {
			hv_warn("PAPI stop for %s: %s", op->name, hv_err_msg());
			rc = -1;
			break;
		}
		for (int e = 0; e < papi->nevents && e < HV_PAPI_MAX; e++) {
			char metric[64];

			snprintf(metric, sizeof(metric), "%s_per_op", papi->names[e]);
			if (add_sample(run, op->name, params, metric, (double)v[e] / (double)iters,
				       "events", r) != 0)
				rc = -1;
		}
	}
	if (op->teardown)
		op->teardown(state);
	return rc;
}

static void print_header(void)
{
	printf("%-9s  %-40s  %8s  %10s  %9s  %10s  %10s  %9s  %4s  %s\n", "op", "what",
	       "iters", "cyc/op med", "ns med", "min", "max", "stddev", "outl",
	       "95% CI of median (cyc)");
}

static void print_row(const char *name, const char *what, uint64_t iters,
		      const struct hv_summary *s, const struct hv_tsc *tsc)
{
	char ci[48];

	snprintf(ci, sizeof(ci), "[%.1f, %.1f]", s->ci_lo, s->ci_hi);
	printf("%-9s  %-40.40s  %8llu  %10.1f  %9.1f  %10.1f  %10.1f  %9.2f  %4zu  %s\n", name,
	       what, (unsigned long long)iters, s->median, hv_tsc_ns(tsc, s->median), s->min,
	       s->max, s->stddev, s->outliers, ci);
}

/* Per selected op: its session, its samples, and why it did not run. */
struct op_run {
	const struct selected *sel;
	struct hv_native_session session;
	int active;              /* session open */
	int measured;            /* all reps done */
	int failed;              /* began, then a repetition failed */
	double *cyc;             /* reps samples */
	char why[256];
};

/* Round-robin: repetition r of every op before repetition r+1 of any, so each op's
 * samples span the whole run and slow drifts of the host hit all ops alike. */
static int measure_interleaved(struct hv_run *run, const struct options *o,
			       const struct hv_tsc *tsc, struct op_run *runs, size_t nsel,
			       const char *params)
{
	int failures = 0;

	for (size_t i = 0; i < nsel; i++) {
		if (!runs[i].sel->op) {
			snprintf(runs[i].why, sizeof(runs[i].why), "%s", runs[i].sel->absent_why);
			continue;
		}
		if (hv_native_begin(&runs[i].session, runs[i].sel->op, o->min_cycles, runs[i].why,
				    sizeof(runs[i].why)) == 0)
			runs[i].active = 1;
	}
	for (int r = 0; r < o->reps; r++) {
		for (size_t i = 0; i < nsel; i++) {
			struct op_run *x = &runs[i];
			const char *name = x->sel->name;
			double c;

			if (!x->active)
				continue;
			if (hv_native_rep(&x->session, &c, NULL, x->why, sizeof(x->why)) != 0) {
				hv_native_end(&x->session);
				x->active = 0;
				x->failed = 1;
				failures++;
				continue;
			}
			x->cyc[r] = c;
			if (add_sample(run, name, params, "cycles_per_op", c, "cycles", r) ||
			    add_sample(run, name, params, "ns_per_op", hv_tsc_ns(tsc, c), "ns", r))
				failures++;
		}
	}
	for (size_t i = 0; i < nsel; i++) {
		if (runs[i].active) {
			runs[i].measured = 1;
			hv_native_end(&runs[i].session);
			runs[i].active = 0;
		}
	}
	return failures;
}

static int run_all(struct hv_run *run, const struct options *o, const struct hv_tsc *tsc,
		   struct hv_papi *papi, const struct selected *sel, size_t nsel)
{
	struct op_run runs[MAX_SELECTED];
	char params[64];
	int failures = 0;

	memset(runs, 0, sizeof(runs));
	for (size_t i = 0; i < nsel; i++) {
		runs[i].sel = &sel[i];
		runs[i].cyc = calloc((size_t)o->reps, sizeof(double));
		if (!runs[i].cyc) {
			hv_err("out of memory for %d repetitions", o->reps);
			for (size_t k = 0; k < i; k++)
				free(runs[k].cyc);
			return -1;
		}
	}
	snprintf(params, sizeof(params), "min_cycles=%llu", (unsigned long long)o->min_cycles);
	failures += measure_interleaved(run, o, tsc, runs, nsel, params);

	print_header();
	for (size_t i = 0; i < nsel; i++) {
		const struct hv_native_op *op = sel[i].op;
		struct hv_summary s;
		char buf[64];

		if (!runs[i].measured) {
			const char *how = runs[i].failed ? "failed" : "unavailable";

			printf("%-9s  %s: %s\n", sel[i].name, how, runs[i].why);
			note(run, runs[i].failed ? "failed." : "unavailable.", sel[i].name,
			     runs[i].why);
			continue;
		}
		note(run, "what.", op->name, op->what);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)runs[i].session.largest_iters);
		note(run, "iters.", op->name, buf);
		if (hv_summarize(runs[i].cyc, (size_t)o->reps, &s) != 0) {
			printf("%-9s  no summary: a repetition was not finite\n", op->name);
			failures++;
			continue;
		}
		print_row(op->name, op->what, runs[i].session.largest_iters, &s, tsc);
		fflush(stdout);
		if (papi->available &&
		    papi_op(run, papi, op, runs[i].session.largest_iters, o->reps, params) != 0)
			failures++;
	}
	printf("outl: repetitions more than 3 x 1.4826 x MAD from the median\n");
	for (size_t i = 0; i < nsel; i++)
		free(runs[i].cyc);
	return failures ? -1 : 0;
}

static void record_notes(struct hv_run *run, const struct options *o, const struct hv_tsc *tsc,
			 const struct hv_papi *papi, const char *pin_status)
{
	struct hv_context *ctx = hv_run_context(run);
	char buf[320];

	ctx->tsc_hz = tsc->hz;
	snprintf(ctx->tsc_source, sizeof(ctx->tsc_source), "%s", tsc->source);
	ctx->tsc_overhead = tsc->overhead;
	ctx->tsc_invariant = tsc->invariant;
	hv_run_note_num(run, "tsc_hz", tsc->hz);
	hv_run_note(run, "tsc_source", tsc->source);
	hv_run_note_num(run, "tsc_overhead_cycles", tsc->overhead);
	hv_run_note(run, "tsc_invariant", tsc->invariant ? "yes" : "no");
	hv_run_note_num(run, "reps", o->reps);
	hv_run_note_num(run, "min_cycles", (double)o->min_cycles);
	hv_run_note(run, "cpu_pin", pin_status);
	hv_run_note(run, "loop_overhead",
		    "subtracted: an empty loop of the same iters, minimum of 3 runs, per repetition");
	hv_run_note(run, "warmup", "one discarded hv_repeat_until call per operation");
	hv_run_note(run, "order", "interleaved: repetition r of every operation, then r+1");
	if (papi->available) {
		int len = snprintf(buf, sizeof(buf), "available:");
		for (int e = 0; e < papi->nevents && len > 0 && (size_t)len < sizeof(buf); e++)
			len += snprintf(buf + len, sizeof(buf) - (size_t)len, " %s", papi->names[e]);
		hv_run_note(run, "papi", buf);
	} else {
		snprintf(buf, sizeof(buf), "unavailable: %s", papi->why);
		hv_run_note(run, "papi", buf);
	}
}

int main(int argc, char **argv)
{
	struct selected sel[MAX_SELECTED];
	struct options o;
	struct hv_tsc tsc;
	struct hv_papi papi;
	struct hv_run *run;
	char pin_status[320];
	size_t nsel;
	int rc;

	if (parse_options(argc, argv, &o) != 0 || select_ops(o.only, sel, &nsel) != 0)
		return 2;

	if (hv_pin_thread(o.cpu) != 0) {
		hv_warn("pinning to CPU %s refused (%s); running unpinned, spread may grow",
			o.cpu, hv_err_msg());
		snprintf(pin_status, sizeof(pin_status), "unpinned: %s", hv_err_msg());
	} else {
		snprintf(pin_status, sizeof(pin_status), "%s", o.cpu);
	}
	if (hv_tsc_init(&tsc) != 0) {
		hv_err("TSC calibration: %s", hv_err_msg());
		return 1;
	}
	run = hv_run_open(o.results_root, "nanobench", o.out_dir, argc, argv, 0);
	if (!run) {
		hv_err("creating the run directory: %s", hv_err_msg());
		return 1;
	}
	hv_papi_open(&papi);
	record_notes(run, &o, &tsc, &papi, pin_status);

	printf("nativebench: TSC %.1f MHz (%s, %s), timer overhead %.1f cycles; cpu %s; "
	       "%d reps of >= %llu cycles\n",
	       tsc.hz / 1e6, tsc.source, tsc.invariant ? "invariant" : "NOT invariant",
	       tsc.overhead, pin_status, o.reps, (unsigned long long)o.min_cycles);
	printf("PAPI: %s%s\n", papi.available ? "available" : "unavailable: ",
	       papi.available ? "" : papi.why);
	printf("cycles per operation, loop overhead subtracted; ns at the calibrated TSC rate\n\n");

	rc = run_all(run, &o, &tsc, &papi, sel, nsel);
	printf("\nrun directory: %s\n", hv_run_dir(run));
	hv_papi_close(&papi);
	if (hv_run_close(run) != 0) {
		hv_err("writing the run summary: %s", hv_err_msg());
		rc = -1;
	}
	return rc == 0 ? 0 : 1;
}
