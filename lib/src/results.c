/* Run directories: samples.csv is appended one whole row per write(2), so a crash
 * leaves whole rows, except that SIGKILL can stop a write at a page boundary and
 * leave the last line torn, without its newline (readers drop it); summary.json is written to a temporary file in the same
 * directory, fsynced and renamed over the old one, so it is whole or absent. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/json.h"
#include "hvlab/results.h"

#define DEFAULT_ROOT "results/runs"   /* ignored by git */

/* The columns a group is keyed on, in CSV order. */
enum { K_EXPERIMENT, K_WORKLOAD, K_PARAMS, K_ENGINE, K_MEMVIRT, K_FLAVOUR, K_SPINLOCK,
       K_IOPATH, K_SEGBASE, K_METRIC, K_UNIT, K_NSTR };

static const char *const key_names[K_NSTR] = {
	"experiment", "workload", "params", "engine", "memvirt", "flavour", "spinlock",
	"iopath", "segbase", "metric", "unit",
};

struct group {
	char *str[K_NSTR];
	int vcpus, pcpus;
	double *values;
	size_t n, cap;
};

struct note {
	char *key;
	char *str;               /* NULL for a number */
	double num;
};

struct hv_run {
	pthread_mutex_t lock;    /* samples may come from several benchmark threads */
	char *dir;
	int csv_fd;
	int ctx_done;            /* hv_context_finish has run */
	struct hv_context ctx;
	struct group *groups;
	size_t ngroups, groups_cap;
	struct note *notes;
	size_t nnotes, notes_cap;
	struct note *guest_notes;    /* the guest's own: notes.guest in summary.json */
	size_t nguest, guest_cap;
};

/* Creates path and its missing parents, like mkdir -p. */
static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	struct stat st;

	if (!p)
		return hv_err_set("creating directory %s: out of memory", path);
	for (char *s = p + 1; ; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST) {
			if (strcmp(p, path))
				hv_err_set("cannot create directory %s (for %s): %s; create it or "
					   "choose another results directory", p, path,
					   strerror(errno));
			else
				hv_err_set("cannot create directory %s: %s; create it or choose "
					   "another results directory", p, strerror(errno));
			free(p);
			return -1;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	if (stat(path, &st))
		return hv_err_set("cannot use results directory %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return hv_err_set("results directory %s exists but is not a directory; "
				  "remove it or choose another", path);
	return 0;
}

/* Makes <root>/<experiment>-<UTC date>-<pid>, with a suffix if it exists already
 * (several runs of one process within a second). */
static char *make_default_dir(const char *root, const char *experiment)
{
	char stamp[32], *dir;
	time_t now = time(NULL);
	struct tm tm;

	if (mkdir_p(root))
		return NULL;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 1; i < 1000; i++) {
		int n = i == 1 ? asprintf(&dir, "%s/%s-%s-%ld", root, experiment, stamp,
					  (long)getpid())
			       : asprintf(&dir, "%s/%s-%s-%ld-%d", root, experiment, stamp,
					  (long)getpid(), i);
		if (n < 0) {
			hv_err_set("run directory name under %s: out of memory", root);
			return NULL;
		}
		if (!mkdir(dir, 0777))
			return dir;
		if (errno != EEXIST) {
			hv_err_set("cannot create run directory %s: %s; check that %s is "
				   "writable or choose another results directory", dir,
				   strerror(errno), root);
			free(dir);
			return NULL;
		}
		free(dir);
	}
	hv_err_set("cannot find a free run directory name under %s", root);
	return NULL;
}

struct hv_run *hv_run_open(const char *results_root, const char *experiment,
			   const char *out_dir, int argc, char **argv, uint64_t seed)
{
	struct hv_run *r = calloc(1, sizeof(*r));
	char *path = NULL;
	ssize_t w;

	if (!r) {
		hv_err_set("opening a run: out of memory");
		return NULL;
	}
	r->csv_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	if (!experiment || !*experiment || strchr(experiment, '/')) {
		hv_err_set("run: experiment name \"%s\" must be non-empty and contain no '/'",
			   experiment ? experiment : "(null)");
		goto fail;
	}
	if (out_dir && *out_dir) {
		if (mkdir_p(out_dir))
			goto fail;
		r->dir = strdup(out_dir);
		if (!r->dir) {
			hv_err_set("run directory %s: out of memory", out_dir);
			goto fail;
		}
	} else {
		r->dir = make_default_dir(results_root && *results_root ? results_root
					  : DEFAULT_ROOT, experiment);
		if (!r->dir)
			goto fail;
	}

	if (asprintf(&path, "%s/samples.csv", r->dir) < 0) {
		path = NULL;
		hv_err_set("run directory %s: out of memory", r->dir);
		goto fail;
	}
	/* O_EXCL: never append to or truncate the samples of an earlier run. */
	r->csv_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
	if (r->csv_fd < 0) {
		if (errno == EEXIST)
			hv_err_set("%s already exists: it holds an earlier run; choose a new "
				   "output directory or move the old one away", path);
		else
			hv_err_set("cannot create %s: %s; check that %s is writable or choose "
				   "another output directory", path, strerror(errno), r->dir);
		goto fail;
	}
	w = write(r->csv_fd, HV_CSV_HEADER "\n", sizeof(HV_CSV_HEADER));
	if (w != (ssize_t)sizeof(HV_CSV_HEADER)) {
		if (w >= 0)
			errno = ENOSPC;
		hv_err_errno("writing the header of %s", path);
		goto fail;
	}
	free(path);
	path = NULL;

	/* The rest of the context is gathered on first use, after the measurements. */
	hv_context_begin(&r->ctx, argc, argv, seed);
	return r;
fail:
	free(path);
	if (r->csv_fd >= 0)
		close(r->csv_fd);
	free(r->dir);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

const char *hv_run_dir(const struct hv_run *r)
{
	return r->dir;
}

/* Finishes the context once; the caller holds r->lock. */
static struct hv_context *context_locked(struct hv_run *r)
{
	if (!r->ctx_done) {
		hv_context_finish(&r->ctx);
		r->ctx_done = 1;
	}
	return &r->ctx;
}

struct hv_context *hv_run_context(struct hv_run *r)
{
	struct hv_context *c;

	pthread_mutex_lock(&r->lock);
	c = context_locked(r);
	pthread_mutex_unlock(&r->lock);
	return c;
}

/* Appends s to a growing buffer as one CSV field, quoted when it has to be. */
static int csv_field(char **buf, size_t *len, size_t *cap, const char *s, int last)
{
	size_t need = 2 * strlen(s) + 4;
	int quote = strpbrk(s, ",\"\r\n") != NULL;

	if (*len + need > *cap) {
		size_t ncap = (*len + need) * 2;
		char *nb = realloc(*buf, ncap);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
	if (quote)
		(*buf)[(*len)++] = '"';
	for (; *s; s++) {
		if (*s == '"')
			(*buf)[(*len)++] = '"';
		(*buf)[(*len)++] = *s;
	}
	if (quote)
		(*buf)[(*len)++] = '"';
	(*buf)[(*len)++] = last ? '\n' : ',';
	return 0;
}

static struct group *find_group(struct hv_run *r, const char *const str[K_NSTR],
				int vcpus, int pcpus)
{
	struct group *g;

	for (size_t i = 0; i < r->ngroups; i++) {
		g = &r->groups[i];
		if (g->vcpus != vcpus || g->pcpus != pcpus)
			continue;
		size_t k = 0;
		while (k < K_NSTR && !strcmp(g->str[k], str[k]))
			k++;
		if (k == K_NSTR)
			return g;
	}
	if (r->ngroups == r->groups_cap) {
		size_t ncap = r->groups_cap ? 2 * r->groups_cap : 8;
		struct group *ng = realloc(r->groups, ncap * sizeof(*ng));
		if (!ng)
			return NULL;
		r->groups = ng;
		r->groups_cap = ncap;
	}
	g = &r->groups[r->ngroups];
	memset(g, 0, sizeof(*g));
	for (size_t k = 0; k < K_NSTR; k++) {
		g->str[k] = strdup(str[k]);
		if (!g->str[k]) {
			while (k--)
				free(g->str[k]);
			return NULL;
		}
	}
	g->vcpus = vcpus;
	g->pcpus = pcpus;
	r->ngroups++;
	return g;
}

static int run_add(struct hv_run *r, const struct hv_sample *s)
{
	static const struct hv_mode no_mode;
	const struct hv_mode *m = s->mode ? s->mode : &no_mode;
	const char *str[K_NSTR] = {
		[K_EXPERIMENT] = s->experiment, [K_WORKLOAD] = s->workload,
		[K_PARAMS] = s->params, [K_ENGINE] = m->engine, [K_MEMVIRT] = m->memvirt,
		[K_FLAVOUR] = m->flavour, [K_SPINLOCK] = m->spinlock, [K_IOPATH] = m->iopath,
		[K_SEGBASE] = m->segbase, [K_METRIC] = s->metric, [K_UNIT] = s->unit,
	};
	char vcpus[16], pcpus[16], value[40], rep[16];
	char *row = NULL;
	size_t len = 0, cap = 0;
	struct group *g;
	ssize_t w;
	int rc = 0;

	for (size_t k = 0; k < K_NSTR; k++)
		if (!str[k] || !*str[k])
			str[k] = "-";
	snprintf(vcpus, sizeof(vcpus), "%d", m->vcpus);
	snprintf(pcpus, sizeof(pcpus), "%d", m->pcpus);
	hv_fmt_double(value, sizeof(value), s->value);
	snprintf(rep, sizeof(rep), "%d", s->rep);

	/* Column order of HV_CSV_HEADER. */
	const char *cols[] = { str[K_EXPERIMENT], str[K_WORKLOAD], str[K_PARAMS],
			       str[K_ENGINE], str[K_MEMVIRT], str[K_FLAVOUR],
			       str[K_SPINLOCK], str[K_IOPATH], str[K_SEGBASE], vcpus, pcpus,
			       str[K_METRIC], value, str[K_UNIT], rep };
	size_t ncols = sizeof(cols) / sizeof(cols[0]);
	for (size_t i = 0; i < ncols; i++)
		if (csv_field(&row, &len, &cap, cols[i], i == ncols - 1)) {
			free(row);
			return hv_err_set("%s/samples.csv: out of memory building a row", r->dir);
		}

	/* One write(2) per row on an O_APPEND descriptor: whole rows only. */
	w = write(r->csv_fd, row, len);
	if (w != (ssize_t)len) {
		if (w >= 0)
			errno = ENOSPC;
		rc = hv_err_errno("appending a row to %s/samples.csv (wrote %zd of %zu bytes)",
				  r->dir, w, len);
	}
	free(row);
	if (rc)
		return rc;

	g = find_group(r, str, m->vcpus, m->pcpus);
	if (!g)
		return hv_err_set("%s: out of memory grouping samples", r->dir);
	if (g->n == g->cap) {
		size_t ncap = g->cap ? 2 * g->cap : 16;
		double *nv = realloc(g->values, ncap * sizeof(*nv));
		if (!nv)
			return hv_err_set("%s: out of memory keeping samples", r->dir);
		g->values = nv;
		g->cap = ncap;
	}
	g->values[g->n++] = s->value;
	return 0;
}

/* The note of that key in a list, emptied for a new value, or a new one at the end
 * (NULL when out of memory, or when the list already holds max keys: *full set). */
static struct note *note_slot(struct note **list, size_t *n, size_t *cap, const char *key,
			      size_t max, int *full)
{
	struct note *e;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i].key, key)) {
			free((*list)[i].str);
			(*list)[i].str = NULL;
			return &(*list)[i];
		}
	if (*n >= max) {
		*full = 1;
		return NULL;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 8;
		struct note *nn = realloc(*list, ncap * sizeof(*nn));
		if (!nn)
			return NULL;
		*list = nn;
		*cap = ncap;
	}
	e = &(*list)[*n];
	e->key = strdup(key);
	if (!e->key)
		return NULL;
	e->str = NULL;
	(*n)++;
	return e;
}

static struct note *host_note_slot(struct hv_run *r, const char *key)
{
	int full = 0;

	return note_slot(&r->notes, &r->nnotes, &r->notes_cap, key, SIZE_MAX, &full);
}

static int note_key_ok(const char *key)
{
	if (!key || !*key)
		return hv_err_set("run note: the key must be a non-empty string");
	if (!strcmp(key, "guest"))
		return hv_err_set("run note: the key 'guest' holds the guest's own notes");
	return 0;
}

static int run_note(struct hv_run *r, const char *key, const char *value)
{
	struct note *n;

	if (note_key_ok(key))
		return -1;
	n = host_note_slot(r, key);
	if (!n || !(n->str = strdup(value ? value : "")))
		return hv_err_set("run note %s: out of memory", key);
	return 0;
}

static int run_note_num(struct hv_run *r, const char *key, double value)
{
	struct note *n;

	if (note_key_ok(key))
		return -1;
	n = host_note_slot(r, key);
	if (!n)
		return hv_err_set("run note %s: out of memory", key);
	n->num = value;
	return 0;
}

static enum hv_guest_note_status run_guest_note(struct hv_run *r, const char *key,
						 const char *value)
{
	struct note *n;
	int full = 0;

	if (!key || !*key) {
		hv_err_set("guest note: the key must be a non-empty string");
		return HV_GUEST_NOTE_HOST_ERROR;
	}
	n = note_slot(&r->guest_notes, &r->nguest, &r->guest_cap, key, HV_RUN_GUEST_NOTES_MAX,
		      &full);
	if (full) {
		hv_err_set("guest note %s: the guest already reported %d distinct notes, the most "
			   "a run keeps", key, HV_RUN_GUEST_NOTES_MAX);
		return HV_GUEST_NOTE_FULL;
	}
	if (!n || !(n->str = strdup(value ? value : ""))) {
		hv_err_set("guest note %s: out of memory", key);
		return HV_GUEST_NOTE_HOST_ERROR;
	}
	return HV_GUEST_NOTE_OK;
}

static void notes_json(struct hv_json *j, const struct note *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i].str)
			hv_json_kv_str(j, list[i].key, list[i].str);
		else
			hv_json_kv_num(j, list[i].key, list[i].num);
	}
}

static void notes_free(struct note *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].key);
		free(list[i].str);
	}
	free(list);
}

static void group_json(struct hv_json *j, const struct group *g)
{
	double *finite = malloc((g->n ? g->n : 1) * sizeof(double));
	size_t nfinite = 0;
	struct hv_summary s;
	int have_stats;

	for (size_t i = 0; finite && i < g->n; i++)
		if (isfinite(g->values[i]))
			finite[nfinite++] = g->values[i];
	have_stats = finite && nfinite && !hv_summarize(finite, nfinite, &s);
	free(finite);

	hv_json_obj_begin(j);
	for (size_t k = 0; k < K_NSTR; k++) {
		if (k == K_METRIC) {
			/* Mode columns first, as in the CSV. */
			hv_json_kv_int(j, "vcpus", g->vcpus);
			hv_json_kv_int(j, "pcpus", g->pcpus);
		}
		hv_json_kv_str(j, key_names[k], g->str[k]);
	}
	hv_json_kv_int(j, "n", (int64_t)g->n);
	/* Samples that were not finite (failed measurements) are kept in "samples" as
	 * null and left out of the statistics; this says how many. */
	hv_json_kv_int(j, "nonfinite", (int64_t)(g->n - nfinite));
	if (have_stats) {
		hv_json_kv_num(j, "median", s.median);
		hv_json_kv_num(j, "min", s.min);
		hv_json_kv_num(j, "max", s.max);
		hv_json_kv_num(j, "mean", s.mean);
		hv_json_kv_num(j, "stddev", s.stddev);
		hv_json_kv_num(j, "mad", s.mad);
		hv_json_kv_int(j, "outliers", (int64_t)s.outliers);
		hv_json_kv_num(j, "ci95_lo", s.ci_lo);
		hv_json_kv_num(j, "ci95_hi", s.ci_hi);
	} else {
		static const char *const none[] = { "median", "min", "max", "mean", "stddev",
						    "mad", "outliers", "ci95_lo", "ci95_hi" };
		for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
			hv_json_key(j, none[i]);
			hv_json_null(j);
		}
	}
	hv_json_key(j, "samples");
	hv_json_arr_begin(j);
	for (size_t i = 0; i < g->n; i++)
		hv_json_num(j, g->values[i]);
	hv_json_arr_end(j);
	hv_json_obj_end(j);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = ENOSPC;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_summary(struct hv_run *r)
{
	struct hv_json j;
	char *tmp = NULL, *final = NULL;
	int fd = -1, rc = -1, dfd;

	hv_json_init(&j);
	hv_json_obj_begin(&j);
	hv_json_kv_str(&j, "format", "hvlab-summary-1");
	hv_json_key(&j, "context");
	hv_context_json(context_locked(r), &j);
	hv_json_key(&j, "notes");
	hv_json_obj_begin(&j);
	notes_json(&j, r->notes, r->nnotes);
	if (r->nguest) {
		hv_json_key(&j, "guest");
		hv_json_obj_begin(&j);
		notes_json(&j, r->guest_notes, r->nguest);
		hv_json_obj_end(&j);
	}
	hv_json_obj_end(&j);
	hv_json_key(&j, "groups");
	hv_json_arr_begin(&j);
	for (size_t i = 0; i < r->ngroups; i++)
		group_json(&j, &r->groups[i]);
	hv_json_arr_end(&j);
	hv_json_obj_end(&j);
	if (j.failed || !j.buf) {
		hv_err_set("%s/summary.json: out of memory building the summary", r->dir);
		goto out;
	}

	if (asprintf(&tmp, "%s/.summary.json.XXXXXX", r->dir) < 0)
		tmp = NULL;
	if (asprintf(&final, "%s/summary.json", r->dir) < 0)
		final = NULL;
	if (!tmp || !final) {
		hv_err_set("%s/summary.json: out of memory", r->dir);
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		hv_err_set("cannot create a temporary file in %s for summary.json: %s; check "
			   "that the directory is writable", r->dir, strerror(errno));
		goto out;
	}
	fchmod(fd, 0644);
	if (write_all(fd, j.buf, j.len) || write_all(fd, "\n", 1) || fsync(fd)) {
		hv_err_errno("writing %s", tmp);
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		hv_err_errno("writing %s", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, final)) {
		hv_err_errno("renaming %s to %s", tmp, final);
		goto out;
	}
	/* Make the rename itself durable. */
	dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	} else if (rc && tmp) {
		unlink(tmp);
	}
	free(tmp);
	free(final);
	hv_json_free(&j);
	return rc;
}

int hv_run_add(struct hv_run *r, const struct hv_sample *s)
{
	int rc;

	if (!s)
		return hv_err_set("%s: hv_run_add without a sample", r->dir);
	pthread_mutex_lock(&r->lock);
	rc = run_add(r, s);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int hv_run_note(struct hv_run *r, const char *key, const char *value)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = run_note(r, key, value);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int hv_run_note_num(struct hv_run *r, const char *key, double value)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = run_note_num(r, key, value);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

enum hv_guest_note_status hv_run_guest_note(struct hv_run *r, const char *key,
					    const char *value)
{
	enum hv_guest_note_status rc;

	pthread_mutex_lock(&r->lock);
	rc = run_guest_note(r, key, value);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void hv_run_measured_elsewhere(struct hv_run *r, const char *why)
{
	pthread_mutex_lock(&r->lock);
	hv_context_measured_elsewhere(&r->ctx, why);
	pthread_mutex_unlock(&r->lock);
}

void hv_run_set_guest_record_budget(struct hv_run *r, uint64_t budget)
{
	pthread_mutex_lock(&r->lock);
	r->ctx.guest_record_budget = budget;
	pthread_mutex_unlock(&r->lock);
}

int hv_run_write_summary(struct hv_run *r)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = write_summary(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int hv_run_close(struct hv_run *r)
{
	int rc;

	if (!r)
		return 0;
	rc = hv_run_write_summary(r);
	if (fsync(r->csv_fd) && errno != EINVAL && !rc)
		rc = hv_err_errno("flushing %s/samples.csv", r->dir);
	if (close(r->csv_fd) && !rc)
		rc = hv_err_errno("closing %s/samples.csv", r->dir);
	for (size_t i = 0; i < r->ngroups; i++) {
		for (size_t k = 0; k < K_NSTR; k++)
			free(r->groups[i].str[k]);
		free(r->groups[i].values);
	}
	free(r->groups);
	notes_free(r->notes, r->nnotes);
	notes_free(r->guest_notes, r->nguest);
	free(r->dir);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return rc;
}
