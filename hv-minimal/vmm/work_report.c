/* The workload table (work_report.h). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/results.h"
#include "hvlab/stats.h"
#include "hvlab/work_report.h"

int hv_wv_known(const struct hv_wv_table *t, const char *name)
{
	for (unsigned i = 0; i < t->nm; i++)
		if (!strcmp(t->m[i].name, name))
			return 1;
	return 0;
}

int hv_wv_add(struct hv_wv_table *t, const char *name, const char *unit, double value)
{
	struct hv_wv_metric *m = NULL;

	for (unsigned i = 0; i < t->nm && !m; i++)
		if (!strcmp(t->m[i].name, name))
			m = &t->m[i];
	if (!m) {
		if (t->nm >= HV_WV_MAX_METRICS)
			return hv_err_set("more than %d workload metrics (at %s)", HV_WV_MAX_METRICS,
					  name);
		m = &t->m[t->nm++];
		memset(m, 0, sizeof(*m));
		snprintf(m->name, sizeof(m->name), "%s", name);
		snprintf(m->unit, sizeof(m->unit), "%s", unit);
	}
	if (m->n == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 8;
		double *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return hv_err_errno("growing the samples of %s", name);
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = value;
	return 0;
}

void hv_wv_free(struct hv_wv_table *t)
{
	for (unsigned i = 0; i < t->nm; i++)
		free(t->m[i].v);
	t->nm = 0;
}

static const struct hv_wv_metric *find(const struct hv_wv_table *t, const char *name)
{
	for (unsigned i = 0; i < t->nm; i++)
		if (!strcmp(t->m[i].name, name))
			return &t->m[i];
	return NULL;
}

/* 1 when every checksum value is the same. */
static int checksums_agree(const struct hv_wv_metric *m)
{
	for (unsigned i = 1; i < m->n; i++)
		if (m->v[i] != m->v[0])
			return 0;
	return m->n > 0;
}

static int add_row(struct hv_run *run, const char *experiment, const char *workload,
		   const struct hv_mode *mode, const char *metric, double v, const char *unit,
		   int rep)
{
	struct hv_sample s = {
		.experiment = experiment, .workload = workload, .mode = mode, .metric = metric,
		.value = v, .unit = unit, .rep = rep,
	};

	return run ? hv_run_add(run, &s) : 0;
}

/* Native rows and the comparison line. */
static int native_part(const struct hv_wv_table *t, struct hv_run *run,
		       const struct hv_mode *guest_mode, const struct hv_mode *native_mode,
		       const char *workload, const char *wargs, FILE *out)
{
	struct hv_native_sample s[HV_NATIVE_MAX_REPS];
	double cpo[HV_NATIVE_MAX_REPS];
	const struct hv_wv_metric *g = find(t, "cycles_per_op"), *gck = find(t, "checksum");
	struct hv_summary gs, ns;
	int n = hv_native_work_run(workload, wargs, s, HV_NATIVE_MAX_REPS);

	if (n <= 0)
		return n;
	fprintf(out, "native (the same core and arguments on this host, %d reps):\n", n);
	for (int i = 0; i < n; i++) {
		cpo[i] = (double)s[i].cycles / (double)s[i].ops;
		if (add_row(run, workload, workload, native_mode, "cycles_per_op", cpo[i], "cycles", i) ||
		    add_row(run, workload, workload, native_mode, "elapsed", (double)s[i].cycles,
			    "cycles", i) ||
		    add_row(run, workload, workload, native_mode, "ops", (double)s[i].ops, "ops", i) ||
		    add_row(run, workload, workload, native_mode, "checksum", (double)s[i].checksum,
			    "-", i))
			return -1;
	}
	if (hv_summarize(cpo, (size_t)n, &ns))
		return hv_err_set("native %s: no usable samples", workload);
	fprintf(out, "  %-18s %14.3f %14.3f %14.3f  cycles\n", "cycles_per_op", ns.median, ns.min,
		ns.max);
	if (g && g->n && !hv_summarize(g->v, g->n, &gs) && ns.median > 0) {
		double ratio = gs.median / ns.median;

		fprintf(out, "  ratio to native    %13.3fx (median guest / median native)\n", ratio);
		if (add_row(run, workload, workload, guest_mode, "ratio_to_native", ratio, "ratio", 0))
			return -1;
	}
	if (gck && gck->n) {
		int same = (double)s[0].checksum == gck->v[0];

		fprintf(out, "  checksum           %#14x  %s\n", s[0].checksum,
			same ? "(equal to the guest's)" : "(DIFFERS from the guest's)");
	}
	return 0;
}

int hv_work_report(const struct hv_wv_table *t, struct hv_run *run,
		   const struct hv_mode *guest_mode, const struct hv_mode *native_mode,
		   const char *workload, const char *wargs, FILE *out)
{
	const struct hv_wv_metric *ck = find(t, "checksum");
	struct hv_summary s;

	if (!t->nm)
		return 0;
	fprintf(out, "\n%s (guest, engine %s):\n", workload, guest_mode->engine);
	fprintf(out, "  %-18s %14s %14s %14s  unit (n)\n", "metric", "median", "min", "max");
	for (unsigned i = 0; i < t->nm; i++) {
		const struct hv_wv_metric *m = &t->m[i];

		if (m == ck || hv_summarize(m->v, m->n, &s))
			continue;
		fprintf(out, "  %-18s %14.3f %14.3f %14.3f  %s (%u)\n", m->name, s.median, s.min,
			s.max, m->unit, m->n);
	}
	if (ck && ck->n)
		fprintf(out, "  %-18s %#14" PRIx64 "  %s\n", "checksum", (uint64_t)ck->v[0],
			checksums_agree(ck) ? "(every repetition agrees)"
					    : "(repetitions DISAGREE)");
	return native_part(t, run, guest_mode, native_mode, workload, wargs, out);
}
