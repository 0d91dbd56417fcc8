/* Exit accounting with bounded memory: counts and sums are exact; medians come from a
 * uniform reservoir sample (Vitter's algorithm R) of {run, handle} pairs per key. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/exitstats.h"
#include "hvlab/results.h"
#include "hvlab/stats.h"

#define XS_PRINT_MAX 12      /* rows on the terminal; the run keeps every key */

void hv_exitstats_init(struct hv_exitstats *xs, uint64_t seed)
{
	memset(xs, 0, sizeof(*xs));
	xs->rng = seed ? seed : 0x2545f4914f6cdd1dull;
}

static uint64_t xs_rand(struct hv_exitstats *xs)
{
	/* xorshift64: enough for choosing reservoir slots. */
	xs->rng ^= xs->rng << 13;
	xs->rng ^= xs->rng >> 7;
	xs->rng ^= xs->rng << 17;
	return xs->rng;
}

static struct hv_xs_key key_of(const struct hv_exit *e)
{
	struct hv_xs_key k = { .kind = (uint8_t)e->kind };

	if (e->kind == HV_VMEXIT_IO) {
		k.dir = e->u.io.dir;
		k.addr = e->u.io.port;
	} else if (e->kind == HV_VMEXIT_MMIO) {
		k.dir = e->u.mmio.is_write;
		k.addr = e->u.mmio.addr;
	}
	return k;
}

static int key_eq(const struct hv_xs_key *a, const struct hv_xs_key *b)
{
	return a->kind == b->kind && a->dir == b->dir && a->addr == b->addr;
}

const struct hv_xs_entry *hv_exitstats_find(const struct hv_exitstats *xs,
					    const struct hv_xs_key *k)
{
	for (unsigned i = 0; i < xs->n; i++)
		if (key_eq(&xs->e[i].key, k))
			return &xs->e[i];
	return NULL;
}

static struct hv_xs_entry *entry_get(struct hv_exitstats *xs, const struct hv_xs_key *k)
{
	struct hv_xs_entry *e;

	/* exits come in runs of one kind: the last one's entry first */
	if (xs->last < xs->n && key_eq(&xs->e[xs->last].key, k))
		return &xs->e[xs->last];
	e = (struct hv_xs_entry *)hv_exitstats_find(xs, k);
	if (e) {
		xs->last = (unsigned)(e - xs->e);
		return e;
	}
	if (xs->n >= HV_XS_MAX_KEYS)
		return NULL;
	e = &xs->e[xs->n];
	memset(e, 0, sizeof(*e));
	e->res = malloc(sizeof(*e->res) * HV_XS_RESERVOIR);
	if (!e->res)
		return NULL;
	e->key = *k;
	xs->n++;
	return e;
}

static void entry_sample(struct hv_exitstats *xs, struct hv_xs_entry *e, uint64_t run,
			 uint64_t handle)
{
	uint64_t slot;

	/* e->timed already includes this exit. */
	if (e->nres < HV_XS_RESERVOIR) {
		slot = e->nres++;
	} else {
		slot = xs_rand(xs) % e->timed;
		if (slot >= HV_XS_RESERVOIR)
			return;
	}
	e->res[slot][0] = run;
	e->res[slot][1] = handle;
}

/* The exit counted in its entry, which is returned (NULL: counted only as dropped). */
static struct hv_xs_entry *count_exit(struct hv_exitstats *xs, const struct hv_exit *exit)
{
	struct hv_xs_key k = key_of(exit);
	struct hv_xs_entry *e = entry_get(xs, &k);

	if (!e) {
		xs->dropped++;
		return NULL;
	}
	e->count++;
	return e;
}

void hv_exitstats_add(struct hv_exitstats *xs, const struct hv_exit *exit, uint64_t run_cycles,
		      uint64_t handle_cycles)
{
	struct hv_xs_entry *e = count_exit(xs, exit);

	if (!e)
		return;
	e->timed++;
	e->run_sum += run_cycles;
	e->handle_sum += handle_cycles;
	entry_sample(xs, e, run_cycles, handle_cycles);
}

void hv_exitstats_count(struct hv_exitstats *xs, const struct hv_exit *exit)
{
	count_exit(xs, exit);
}

void hv_exitstats_merge(struct hv_exitstats *dst, const struct hv_exitstats *src)
{
	dst->dropped += src->dropped;
	for (unsigned i = 0; i < src->n; i++) {
		const struct hv_xs_entry *s = &src->e[i];
		struct hv_xs_entry *d = entry_get(dst, &s->key);

		if (!d) {
			dst->dropped += s->count;
			continue;
		}
		/* Samples enter as if their exits happened now: an approximation that keeps
		 * each vCPU's share of the reservoir close to its share of the exits. */
		for (uint32_t j = 0; j < s->nres; j++) {
			d->count++;
			d->timed++;
			entry_sample(dst, d, s->res[j][0], s->res[j][1]);
		}
		d->count += s->count - s->nres;
		d->timed += s->timed - s->nres;
		d->run_sum += s->run_sum;
		d->handle_sum += s->handle_sum;
	}
}

void hv_exitstats_label(const struct hv_xs_key *k, char *buf, size_t len)
{
	const char *kind = hv_exit_kind_name((enum hv_exit_kind)k->kind);

	if (k->kind == HV_VMEXIT_IO)
		snprintf(buf, len, "io-%s:%#" PRIx64, k->dir == HV_IO_OUT ? "out" : "in", k->addr);
	else if (k->kind == HV_VMEXIT_MMIO)
		snprintf(buf, len, "mmio-%s:%#" PRIx64, k->dir ? "write" : "read", k->addr);
	else
		snprintf(buf, len, "%s", kind);
}

static double median_of(double *v, size_t n)
{
	struct hv_summary s;

	return n && !hv_summarize(v, n, &s) ? s.median : 0;
}

/* Medians of run, handle and their sum (the round trip as the VMM sees it). */
static void entry_medians(const struct hv_xs_entry *e, double m[3])
{
	double *v = malloc(sizeof(*v) * (e->nres ? e->nres : 1) * 3);

	m[0] = m[1] = m[2] = 0;
	if (!v)
		return;
	for (uint32_t i = 0; i < e->nres; i++) {
		v[i] = (double)e->res[i][0];
		v[e->nres + i] = (double)e->res[i][1];
		v[2 * e->nres + i] = (double)(e->res[i][0] + e->res[i][1]);
	}
	m[0] = median_of(v, e->nres);
	m[1] = median_of(v + e->nres, e->nres);
	m[2] = median_of(v + 2 * e->nres, e->nres);
	free(v);
}

void hv_exitstats_medians(const struct hv_xs_entry *e, double *run, double *handle)
{
	double m[3];

	entry_medians(e, m);
	*run = m[0];
	*handle = m[1];
}

static int cmp_count_desc(const void *a, const void *b)
{
	const struct hv_xs_entry *x = *(const struct hv_xs_entry *const *)a;
	const struct hv_xs_entry *y = *(const struct hv_xs_entry *const *)b;

	return (x->count < y->count) - (x->count > y->count);
}

static int report_entry(const struct hv_xs_entry *e, struct hv_run *run,
			const struct hv_mode *mode, const char *experiment,
			const char *workload, double hz, FILE *out)
{
	char label[64], params[80];
	double m[3];
	struct hv_sample s = {
		.experiment = experiment, .workload = workload, .params = params, .mode = mode,
	};
	const struct { const char *metric; double value; const char *unit; } rows[] = {
		{ "exits", 0, "count" },
		{ "exit_run_ns_median", 0, "ns" },
		{ "exit_handle_ns_median", 0, "ns" },
		{ "exit_roundtrip_ns_median", 0, "ns" },
	};
	double values[4];

	hv_exitstats_label(&e->key, label, sizeof(label));
	snprintf(params, sizeof(params), "exit=%s", label);
	entry_medians(e, m);
	values[0] = (double)e->count;
	values[1] = m[0] * 1e9 / hz;
	values[2] = m[1] * 1e9 / hz;
	values[3] = m[2] * 1e9 / hz;
	for (size_t i = 0; run && i < sizeof(rows) / sizeof(rows[0]); i++) {
		s.metric = rows[i].metric;
		s.value = values[i];
		s.unit = rows[i].unit;
		if (hv_run_add(run, &s))
			return -1;
	}
	if (out)
		fprintf(out, "  %-24s %10" PRIu64 " %12.2f %12.2f %12.2f\n", label, e->count,
			values[1] / 1e3, values[2] / 1e3, values[3] / 1e3);
	return 0;
}

int hv_exitstats_report(const struct hv_exitstats *xs, struct hv_run *run,
			const struct hv_mode *mode, const char *experiment,
			const char *workload, double hz, FILE *out)
{
	const struct hv_xs_entry *sorted[HV_XS_MAX_KEYS];
	int rc = 0;

	for (unsigned i = 0; i < xs->n; i++)
		sorted[i] = &xs->e[i];
	qsort(sorted, xs->n, sizeof(sorted[0]), cmp_count_desc);
	if (out && xs->n)
		fprintf(out, "exits (host TSC; medians in us):\n  %-24s %10s %12s %12s %12s\n",
			"reason", "count", "run", "handle", "round trip");
	for (unsigned i = 0; i < xs->n; i++)
		if (report_entry(sorted[i], run, mode, experiment, workload, hz,
				 i < XS_PRINT_MAX ? out : NULL))
			rc = -1;
	if (out && xs->n > XS_PRINT_MAX)
		fprintf(out, "  (%u rarer exit kinds in the run's samples)\n", xs->n - XS_PRINT_MAX);
	if (out && xs->dropped)
		fprintf(out, "  (%" PRIu64 " exits at further addresses counted only in total)\n",
			xs->dropped);
	return rc;
}

void hv_exitstats_free(struct hv_exitstats *xs)
{
	for (unsigned i = 0; i < xs->n; i++)
		free(xs->e[i].res);
	xs->n = 0;
}
