/* The nanobenchmark table: guest figures per operation beside the native baseline of
 * microbench/native_ops.h, measured in the same run after the guest has finished (so
 * the two never compete for a CPU). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/nanobench_report.h"
#include "hvlab/results.h"
#include "hvlab/stats.h"
#include "native_ops.h"

#define NB_AUTO_REPS_MIN 3
#define NB_REPS_MAX 1000

int hv_nb_known(const struct hv_nb_table *t, const char *name)
{
	for (unsigned i = 0; i < t->nops; i++)
		if (!strcmp(t->op[i].name, name))
			return 1;
	return 0;
}

int hv_nb_add(struct hv_nb_table *t, const char *name, uint64_t iters, double cycles_per_op,
	      double ns_per_op)
{
	struct hv_nb_op *op = NULL;

	for (unsigned i = 0; i < t->nops && !op; i++)
		if (!strcmp(t->op[i].name, name))
			op = &t->op[i];
	if (!op) {
		if (t->nops >= HV_NB_MAX_OPS)
			return hv_err_set("more than %d nanobenchmark operations (at %s)",
					  HV_NB_MAX_OPS, name);
		op = &t->op[t->nops++];
		memset(op, 0, sizeof(*op));
		snprintf(op->name, sizeof(op->name), "%s", name);
		op->iters_min = UINT64_MAX;
	}
	if (op->n == op->cap) {
		unsigned cap = op->cap ? op->cap * 2 : 8;
		double *c = realloc(op->cycles, cap * sizeof(*c));

		if (!c)
			return hv_err_errno("growing the samples of %s", name);
		op->cycles = c;
		c = realloc(op->ns, cap * sizeof(*c));
		if (!c)
			return hv_err_errno("growing the samples of %s", name);
		op->ns = c;
		op->cap = cap;
	}
	op->cycles[op->n] = cycles_per_op;
	op->ns[op->n] = ns_per_op;
	op->n++;
	if (iters < op->iters_min)
		op->iters_min = iters;
	if (iters > op->iters_max)
		op->iters_max = iters;
	return 0;
}

void hv_nb_free(struct hv_nb_table *t)
{
	for (unsigned i = 0; i < t->nops; i++) {
		free(t->op[i].cycles);
		free(t->op[i].ns);
	}
	t->nops = 0;
}

struct native_fig {
	int have;
	double median;
	char why[160];
};

static int add_sample(struct hv_run *run, const char *experiment, const char *workload,
		      const char *params, const struct hv_mode *mode, const char *metric,
		      double value, const char *unit, int rep)
{
	struct hv_sample s = {
		.experiment = experiment, .workload = workload, .params = params, .mode = mode,
		.metric = metric, .value = value, .unit = unit, .rep = rep,
	};

	return run ? hv_run_add(run, &s) : 0;
}

/* The native baseline of one operation, written to run as it is measured. */
static void measure_native(const char *name, struct hv_run *run, const struct hv_mode *mode,
			   const char *experiment, unsigned reps, uint64_t min_cycles,
			   double host_hz, struct native_fig *f)
{
	const struct hv_native_op *op = hv_native_op_find(name);
	double *cpo;
	uint64_t iters = 0;
	struct hv_summary sum;
	char params[48];

	memset(f, 0, sizeof(*f));
	if (!op) {
		const char *why = hv_native_absent_reason(name);

		snprintf(f->why, sizeof(f->why), "%s",
			 why ? why : "no native counterpart in microbench/native_ops");
		return;
	}
	cpo = calloc(reps, sizeof(*cpo));
	if (!cpo) {
		snprintf(f->why, sizeof(f->why), "out of memory");
		return;
	}
	if (hv_native_measure(op, (int)reps, min_cycles, cpo, &iters, f->why, sizeof(f->why)) ||
	    hv_summarize(cpo, reps, &sum)) {
		if (!f->why[0])
			snprintf(f->why, sizeof(f->why), "%s", hv_err_msg());
		free(cpo);
		return;
	}
	snprintf(params, sizeof(params), "iters=%" PRIu64, iters);
	for (unsigned i = 0; i < reps; i++) {
		add_sample(run, experiment, name, params, mode, "cycles_per_op", cpo[i], "cycles",
			   (int)i);
		add_sample(run, experiment, name, params, mode, "ns_per_op",
			   cpo[i] * 1e9 / host_hz, "ns", (int)i);
	}
	f->have = 1;
	f->median = sum.median;
	free(cpo);
}

static void fmt_iters(const struct hv_nb_op *op, char *buf, size_t len)
{
	if (op->iters_min == op->iters_max)
		snprintf(buf, len, "%" PRIu64, op->iters_max);
	else
		snprintf(buf, len, "%" PRIu64 "-%" PRIu64, op->iters_min, op->iters_max);
}

int hv_nb_report(const struct hv_nb_table *t, struct hv_run *run,
		 const struct hv_mode *guest_mode, const struct hv_mode *native_mode,
		 const char *experiment, unsigned reps, uint64_t min_cycles, double host_hz,
		 FILE *out)
{
	struct native_fig *nat;
	int missing = 0;

	if (t->nops == 0)
		return 0;
	nat = calloc(t->nops, sizeof(*nat));
	if (!nat)
		return hv_err_errno("allocating the native baseline table");
	if (out && reps)
		fprintf(out, "measuring the native baseline (%u repetitions per operation)\n",
			reps);
	else if (out)
		fprintf(out, "measuring the native baseline (as many repetitions as the guest "
			     "made, at least %d)\n", NB_AUTO_REPS_MIN);
	for (unsigned i = 0; i < t->nops; i++) {
		unsigned r = reps ? reps : t->op[i].n;

		if (r < NB_AUTO_REPS_MIN)
			r = NB_AUTO_REPS_MIN;
		if (r > NB_REPS_MAX)
			r = NB_REPS_MAX;
		measure_native(t->op[i].name, run, native_mode, experiment, r, min_cycles,
			       host_hz, &nat[i]);
	}

	if (out)
		fprintf(out, "\n%-10s %14s %12s %25s %16s %12s %9s\n", "op", "cycles/op",
			"ns/op", "min-max cycles/op", "iters", "native cyc", "ratio");
	for (unsigned i = 0; i < t->nops; i++) {
		const struct hv_nb_op *op = &t->op[i];
		struct hv_summary c, ns;
		char range[64], iters[48], nc[24] = "-", ratio[24] = "-";

		if (hv_summarize(op->cycles, op->n, &c) || hv_summarize(op->ns, op->n, &ns))
			continue;
		snprintf(range, sizeof(range), "%.1f-%.1f", c.min, c.max);
		fmt_iters(op, iters, sizeof(iters));
		if (nat[i].have) {
			snprintf(nc, sizeof(nc), "%.1f", nat[i].median);
			if (nat[i].median > 0) {
				snprintf(ratio, sizeof(ratio), "%.1fx", c.median / nat[i].median);
				add_sample(run, experiment, op->name, NULL, guest_mode,
					   "ratio_to_native", c.median / nat[i].median, "ratio", 0);
			}
		} else {
			missing = 1;
		}
		if (out)
			fprintf(out, "%-10s %14.1f %12.1f %25s %16s %12s %9s\n", op->name, c.median,
				ns.median, range, iters, nc, ratio);
	}
	if (out) {
		fprintf(out, "(medians over the guest's repetitions; cycles are TSC cycles, "
			     "harness subtracted)\n");
		for (unsigned i = 0; missing && i < t->nops; i++)
			if (!nat[i].have)
				fprintf(out, "  native %s: %s\n", t->op[i].name, nat[i].why);
		fprintf(out, "\n");
	}
	free(nat);
	return 0;
}
