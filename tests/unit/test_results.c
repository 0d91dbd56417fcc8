/* Run directories: every sample reads back exactly from samples.csv, summary.json is
 * well-formed and agrees with hv_summarize, a killed run leaves only whole rows, and
 * an unusable directory gives an error that names it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/results.h"
#include "hvlab/stats.h"

static char *test_argv[] = { "test_results", "--seed", "7", NULL };

/* ---- a small validating JSON reader (a tree of values) ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype type;
	double num;              /* J_NUM, J_BOOL */
	char *str;               /* J_STR */
	size_t n;                /* J_ARR, J_OBJ: items */
	char **keys;             /* J_OBJ */
	struct jv *items;
};

static void jv_free(struct jv *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		jv_free(&v->items[i]);
	}
	free(v->keys);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

static void ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static int parse_value(const char **p, struct jv *v, int depth);

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int parse_string(const char **p, char **out)
{
	const char *s = *p;
	size_t cap = 16, len = 0;
	char *b;

	if (*s++ != '"')
		return -1;
	b = malloc(cap);
	for (;;) {
		unsigned c = (unsigned char)*s++;
		char tmp[4];
		size_t tn = 1;

		if (c == '"')
			break;
		if (c < 0x20) {                  /* unescaped control char or end of text */
			free(b);
			return -1;
		}
		tmp[0] = (char)c;
		if (c == '\\') {
			c = (unsigned char)*s++;
			switch (c) {
			case '"': case '\\': case '/': tmp[0] = (char)c; break;
			case 'b': tmp[0] = '\b'; break;
			case 'f': tmp[0] = '\f'; break;
			case 'n': tmp[0] = '\n'; break;
			case 'r': tmp[0] = '\r'; break;
			case 't': tmp[0] = '\t'; break;
			case 'u': {
				unsigned cp = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(*s++);
					if (h < 0) {
						free(b);
						return -1;
					}
					cp = cp * 16 + (unsigned)h;
				}
				/* BMP only: enough for what the writer emits. */
				if (cp < 0x80) {
					tmp[0] = (char)cp;
				} else if (cp < 0x800) {
					tmp[0] = (char)(0xc0 | cp >> 6);
					tmp[1] = (char)(0x80 | (cp & 0x3f));
					tn = 2;
				} else {
					tmp[0] = (char)(0xe0 | cp >> 12);
					tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					tmp[2] = (char)(0x80 | (cp & 0x3f));
					tn = 3;
				}
				break;
			}
			default:
				free(b);
				return -1;
			}
		}
		if (len + tn + 1 > cap)
			b = realloc(b, cap *= 2);
		memcpy(b + len, tmp, tn);
		len += tn;
	}
	b[len] = 0;
	*out = b;
	*p = s;
	return 0;
}

/* JSON's number grammar exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(const char **p, double *out)
{
	const char *s = *p;
	char *end;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return -1;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	*out = strtod(*p, &end);
	if (end != s)
		return -1;
	*p = s;
	return 0;
}

static int parse_items(const char **p, struct jv *v, int depth, int is_obj)
{
	char close = is_obj ? '}' : ']';
	size_t cap = 0;

	(*p)++;
	ws(p);
	if (**p == close) {
		(*p)++;
		return 0;
	}
	for (;;) {
		if (v->n == cap) {
			cap = cap ? 2 * cap : 4;
			v->items = realloc(v->items, cap * sizeof(*v->items));
			if (is_obj)
				v->keys = realloc(v->keys, cap * sizeof(*v->keys));
		}
		memset(&v->items[v->n], 0, sizeof(v->items[0]));
		ws(p);
		if (is_obj) {
			if (parse_string(p, &v->keys[v->n]))
				return -1;
			/* Counted now so that jv_free releases the key on failure. */
			v->n++;
			ws(p);
			if (*(*p)++ != ':')
				return -1;
			if (parse_value(p, &v->items[v->n - 1], depth + 1))
				return -1;
		} else {
			v->n++;
			if (parse_value(p, &v->items[v->n - 1], depth + 1))
				return -1;
		}
		ws(p);
		if (**p == ',') {
			(*p)++;
			continue;
		}
		if (**p == close) {
			(*p)++;
			return 0;
		}
		return -1;
	}
}

static int parse_value(const char **p, struct jv *v, int depth)
{
	memset(v, 0, sizeof(*v));
	if (depth > 64)
		return -1;
	ws(p);
	switch (**p) {
	case '{':
		v->type = J_OBJ;
		return parse_items(p, v, depth, 1);
	case '[':
		v->type = J_ARR;
		return parse_items(p, v, depth, 0);
	case '"':
		v->type = J_STR;
		return parse_string(p, &v->str);
	case 't':
		v->type = J_BOOL;
		v->num = 1;
		return strncmp(*p, "true", 4) ? -1 : (*p += 4, 0);
	case 'f':
		v->type = J_BOOL;
		return strncmp(*p, "false", 5) ? -1 : (*p += 5, 0);
	case 'n':
		v->type = J_NULL;
		return strncmp(*p, "null", 4) ? -1 : (*p += 4, 0);
	default:
		v->type = J_NUM;
		return parse_number(p, &v->num);
	}
}

/* Parses a whole document: one value, then only white space. */
static int parse_json(const char *text, struct jv *v)
{
	const char *p = text;

	if (parse_value(&p, v, 0)) {
		jv_free(v);
		return -1;
	}
	ws(&p);
	if (*p) {
		jv_free(v);
		return -1;
	}
	return 0;
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	if (!o || o->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return &o->items[i];
	return NULL;
}

static const char *jstr(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	return v && v->type == J_STR ? v->str : NULL;
}

static double jnum(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	return v && v->type == J_NUM ? v->num : NAN;
}

static void json_reader_self_check(void **state)
{
	static const char *const bad[] = { "", "{", "[1,]", "{\"a\"1}", "01", "1.", ".5",
					   "\"a\nb\"", "[1] x", "nul", "{\"a\":}", "+1",
					   "\"\\x\"", "[1 2]" };
	struct jv v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_json(bad[i], &v), -1);
	assert_int_equal(parse_json(" {\"a\":[1,-2.5e3,true,null,\"\\u00e9\\n\"],\"b\":{}} ", &v), 0);
	assert_true(jget(&v, "a")->items[1].num == -2500);
	assert_string_equal(jget(&v, "a")->items[4].str, "\xc3\xa9\n");
	jv_free(&v);
}

/* ---- files ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		fclose(f);
		return NULL;
	}
	b[n] = 0;
	fclose(f);
	if (len)
		*len = (size_t)n;
	return b;
}

static char *path_join(const char *a, const char *b)
{
	char *s;

	assert_true(asprintf(&s, "%s/%s", a, b) > 0);
	return s;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			char *sub;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			sub = path_join(path, e->d_name);
			rm_rf(sub);
			free(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Splits CSV text into rows of fields (RFC 4180 quoting). Returns the number of rows,
 * or -1 if the text does not end with a newline or a quote is unbalanced. */
#define MAX_ROWS 200000
#define NCOLS 15
struct csv {
	size_t nrows;
	size_t nfields[MAX_ROWS];
	char *field[MAX_ROWS][NCOLS];
};

static void csv_free(struct csv *c)
{
	for (size_t r = 0; r < c->nrows; r++)
		for (size_t f = 0; f < c->nfields[r] && f < NCOLS; f++)
			free(c->field[r][f]);
	c->nrows = 0;
}

static int csv_parse(const char *text, struct csv *c)
{
	const char *p = text;
	char buf[4096];

	c->nrows = 0;
	if (!*text || text[strlen(text) - 1] != '\n')
		return -1;
	while (*p && c->nrows < MAX_ROWS) {
		size_t r = c->nrows++, nf = 0;

		c->nfields[r] = 0;
		for (;;) {
			size_t len = 0;
			if (*p == '"') {
				p++;
				for (;;) {
					if (!*p)
						return -1;
					if (*p == '"' && p[1] == '"') {
						buf[len++] = '"';
						p += 2;
					} else if (*p == '"') {
						p++;
						break;
					} else {
						buf[len++] = *p++;
					}
				}
			} else {
				while (*p && *p != ',' && *p != '\n')
					buf[len++] = *p++;
			}
			buf[len] = 0;
			if (nf < NCOLS)
				c->field[r][nf] = strdup(buf);
			nf++;
			c->nfields[r] = nf;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == '\n') {
				p++;
				break;
			}
			return -1;
		}
	}
	return (int)c->nrows;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- tests ---- */

static char *make_tmp(void)
{
	char *t = strdup("/tmp/hvlab-results-XXXXXX");

	assert_non_null(mkdtemp(t));
	return t;
}

static void check_context(const struct jv *ctx)
{
	static const char *const strs[] = { "date", "host", "cpu_model", "caches", "kernel",
					    "tsc_source", "compiler", "cflags", "git_commit",
					    "command", "seed", "papi", "freq_scaling" };

	assert_non_null(ctx);
	assert_int_equal(ctx->type, J_OBJ);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		const char *s = jstr(ctx, strs[i]);
		if (!s || !*s)
			fail_msg("context field %s missing or empty", strs[i]);
	}
	assert_string_equal(jstr(ctx, "seed"), "7");
	assert_string_equal(jstr(ctx, "command"), "test_results --seed 7");
	assert_non_null(jstr(jget(ctx, "kvm"), "flavour"));
	assert_non_null(jstr(jget(ctx, "kvm"), "paging"));
	assert_true(jnum(ctx, "cores") >= 1);
}

static void round_trip(void **state)
{
	static const double a_vals[] = { 0.1, 1.0 / 3, 1e-300, 123456.789, -2.5, 1e20, 4.35,
					 2596.128, 0.0, 7, 7, 7, 8, 9, 1000, 3.14159, 2e-9,
					 9007199254740993.0, 12.5, 13 };
	const size_t na = sizeof(a_vals) / sizeof(a_vals[0]);
	const double b_vals[] = { 5, NAN, 6 };
	const struct hv_mode mode = { "hw", "shadow-pvm", "full", "plain", "emul", NULL, 1, 2 };
	const char *b_work = "w,with \"quote\"\nand newline";
	char *root = make_tmp(), *csv_path, *sum_path, *text, base[256];
	static struct csv c;
	struct hv_summary s;
	struct hv_run *r;
	struct jv doc;
	const struct jv *groups, *ga, *gb, *samples;

	(void)state;
	r = hv_run_open(root, "unit", NULL, 3, test_argv, 7);
	if (!r)
		fail_msg("hv_run_open: %s", hv_err_msg());

	/* <root>/unit-YYYYmmddTHHMMSSZ-<pid> */
	assert_int_equal(strncmp(hv_run_dir(r), root, strlen(root)), 0);
	snprintf(base, sizeof(base), "%s", hv_run_dir(r) + strlen(root) + 1);
	assert_int_equal(strncmp(base, "unit-", 5), 0);
	assert_int_equal(strlen(base), 5 + 16 + 1 + (size_t)snprintf(NULL, 0, "%d", getpid()));
	assert_true(base[5 + 8] == 'T' && base[5 + 15] == 'Z' && base[5 + 16] == '-');
	assert_int_equal(atoi(base + 5 + 17), getpid());
	assert_int_equal(hv_run_context(r)->seed, 7);

	for (size_t i = 0; i < na; i++) {
		struct hv_sample smp = { "nanobench", "syscall", "iters=1000", &mode,
					 "cycles_per_op", a_vals[i], "cycles", (int)i };
		assert_int_equal(hv_run_add(r, &smp), 0);
	}
	for (int i = 0; i < 3; i++) {
		struct hv_sample smp = { "nanobench", b_work, NULL, NULL, "ns", b_vals[i], "ns", i };
		assert_int_equal(hv_run_add(r, &smp), 0);
	}
	assert_int_equal(hv_run_note(r, "syscall_gate", "ud2"), 0);
	assert_int_equal(hv_run_note_num(r, "ratio", 1.25), 0);
	assert_int_equal(hv_run_note(r, "syscall_gate", "gp"), 0);     /* replaces */
	assert_int_equal(hv_run_note(r, "", "x"), -1);

	csv_path = path_join(hv_run_dir(r), "samples.csv");
	sum_path = path_join(hv_run_dir(r), "summary.json");
	/* Rows are on disk before close. */
	text = slurp(csv_path, NULL);
	assert_non_null(text);
	assert_int_equal(csv_parse(text, &c), (int)(1 + na + 3));
	csv_free(&c);
	free(text);
	{
		char *dir = strdup(hv_run_dir(r));
		assert_int_equal(hv_run_close(r), 0);
		assert_int_equal(count_entries(dir), 2);   /* no temporary file left */
		free(dir);
	}

	/* samples.csv */
	text = slurp(csv_path, NULL);
	assert_non_null(text);
	assert_int_equal(strncmp(text, HV_CSV_HEADER "\n", strlen(HV_CSV_HEADER) + 1), 0);
	assert_int_equal(csv_parse(text, &c), (int)(1 + na + 3));
	free(text);
	for (size_t row = 1; row < c.nrows; row++) {
		char **f = c.field[row];
		int is_a = row <= na;
		size_t i = is_a ? row - 1 : row - 1 - na;
		double want = is_a ? a_vals[i] : b_vals[i], got;

		assert_int_equal(c.nfields[row], NCOLS);
		assert_string_equal(f[0], "nanobench");
		assert_string_equal(f[1], is_a ? "syscall" : b_work);
		assert_string_equal(f[2], is_a ? "iters=1000" : "-");
		assert_string_equal(f[3], is_a ? "hw" : "-");
		assert_string_equal(f[4], is_a ? "shadow-pvm" : "-");
		assert_string_equal(f[5], is_a ? "full" : "-");
		assert_string_equal(f[6], is_a ? "plain" : "-");
		assert_string_equal(f[7], is_a ? "emul" : "-");
		assert_string_equal(f[8], "-");
		assert_string_equal(f[9], is_a ? "1" : "0");
		assert_string_equal(f[10], is_a ? "2" : "0");
		assert_string_equal(f[11], is_a ? "cycles_per_op" : "ns");
		got = strtod(f[12], NULL);
		if (isnan(want))
			assert_string_equal(f[12], "nan");
		else
			assert_memory_equal(&got, &want, sizeof(double));
		assert_string_equal(f[13], is_a ? "cycles" : "ns");
		assert_int_equal(atoi(f[14]), (int)i);
	}
	csv_free(&c);

	/* summary.json */
	text = slurp(sum_path, NULL);
	assert_non_null(text);
	if (parse_json(text, &doc))
		fail_msg("summary.json is not valid JSON:\n%s", text);
	free(text);
	assert_string_equal(jstr(&doc, "format"), "hvlab-summary-1");
	check_context(jget(&doc, "context"));
	assert_string_equal(jstr(jget(&doc, "notes"), "syscall_gate"), "gp");
	assert_true(jnum(jget(&doc, "notes"), "ratio") == 1.25);
	assert_int_equal(jget(&doc, "notes")->n, 2);
	groups = jget(&doc, "groups");
	assert_non_null(groups);
	assert_int_equal(groups->type, J_ARR);
	assert_int_equal(groups->n, 2);

	ga = &groups->items[0];
	assert_string_equal(jstr(ga, "workload"), "syscall");
	assert_string_equal(jstr(ga, "memvirt"), "shadow-pvm");
	assert_string_equal(jstr(ga, "unit"), "cycles");
	assert_true(jnum(ga, "vcpus") == 1 && jnum(ga, "pcpus") == 2);
	assert_true(jnum(ga, "n") == (double)na);
	assert_int_equal(hv_summarize(a_vals, na, &s), 0);
	assert_true(jnum(ga, "median") == s.median);
	assert_true(jnum(ga, "min") == s.min && jnum(ga, "max") == s.max);
	assert_true(jnum(ga, "mean") == s.mean && jnum(ga, "stddev") == s.stddev);
	assert_true(jnum(ga, "mad") == s.mad && jnum(ga, "outliers") == (double)s.outliers);
	assert_true(jnum(ga, "ci95_lo") == s.ci_lo && jnum(ga, "ci95_hi") == s.ci_hi);
	samples = jget(ga, "samples");
	assert_int_equal(samples->n, na);
	for (size_t i = 0; i < na; i++)
		assert_memory_equal(&samples->items[i].num, &a_vals[i], sizeof(double));

	gb = &groups->items[1];
	assert_string_equal(jstr(gb, "workload"), b_work);
	assert_string_equal(jstr(gb, "engine"), "-");
	assert_true(jnum(gb, "n") == 3 && jnum(gb, "nonfinite") == 1);
	assert_true(jnum(gb, "median") == 5.5);
	samples = jget(gb, "samples");
	assert_int_equal(samples->items[1].type, J_NULL);
	assert_true(samples->items[2].num == 6);
	jv_free(&doc);

	free(csv_path);
	free(sum_path);
	rm_rf(root);
	free(root);
}

/* An explicit output directory is created with its parents; a second run into the
 * same directory is refused rather than mixed with the first. */
static void out_dir_created_and_not_reused(void **state)
{
	char *root = make_tmp(), *out = path_join(root, "a/b/c");
	struct hv_run *r;
	struct stat st;

	(void)state;
	r = hv_run_open(NULL, "unit", out, 0, NULL, 1);
	if (!r)
		fail_msg("hv_run_open: %s", hv_err_msg());
	assert_string_equal(hv_run_dir(r), out);
	assert_string_equal(hv_run_context(r)->command, "unavailable: no command line given");
	assert_int_equal(hv_run_write_summary(r), 0);
	assert_int_equal(hv_run_write_summary(r), 0);    /* replaced atomically */
	assert_int_equal(count_entries(out), 2);
	assert_int_equal(hv_run_close(r), 0);
	assert_int_equal(stat(out, &st), 0);
	assert_true(S_ISDIR(st.st_mode));

	assert_null(hv_run_open(NULL, "unit", out, 0, NULL, 1));
	assert_non_null(strstr(hv_err_msg(), out));
	assert_non_null(strstr(hv_err_msg(), "samples.csv"));
	assert_non_null(strstr(hv_err_msg(), "already exists"));

	free(out);
	rm_rf(root);
	free(root);
}

static void unusable_directory(void **state)
{
	char *root = make_tmp(), *file = path_join(root, "file"), *under = path_join(file, "sub");
	FILE *f = fopen(file, "w");

	(void)state;
	assert_non_null(f);
	fclose(f);

	/* A regular file in the way of the results root, and of an output directory. */
	assert_null(hv_run_open(under, "unit", NULL, 0, NULL, 1));
	assert_non_null(strstr(hv_err_msg(), file));
	assert_null(hv_run_open(NULL, "unit", file, 0, NULL, 1));
	assert_non_null(strstr(hv_err_msg(), file));
	assert_non_null(strstr(hv_err_msg(), "not a directory"));
	assert_null(hv_run_open(root, "bad/name", NULL, 0, NULL, 1));

	/* procfs refuses new directories and files even to root. */
	assert_null(hv_run_open("/proc/hvlab-no-such-dir", "unit", NULL, 0, NULL, 1));
	assert_non_null(strstr(hv_err_msg(), "/proc/hvlab-no-such-dir"));
	assert_null(hv_run_open(NULL, "unit", "/proc/self", 0, NULL, 1));
	assert_non_null(strstr(hv_err_msg(), "/proc/self/samples.csv"));
	assert_non_null(strstr(hv_err_msg(), "writable"));

	if (geteuid() != 0) {
		char *ro = path_join(root, "ro");
		assert_int_equal(mkdir(ro, 0500), 0);
		assert_null(hv_run_open(ro, "unit", NULL, 0, NULL, 1));
		assert_non_null(strstr(hv_err_msg(), ro));
		assert_null(hv_run_open(NULL, "unit", ro, 0, NULL, 1));
		assert_non_null(strstr(hv_err_msg(), ro));
		chmod(ro, 0700);
		free(ro);
	} else {
		print_message("      (running as root: a mode-0500 directory is writable, "
			      "so that case is not checked)\n");
	}
	free(under);
	free(file);
	rm_rf(root);
	free(root);
}

/* A run killed while writing leaves samples.csv with whole rows, at most its last
 * line torn (SIGKILL stops a write(2) at a page boundary; readers drop a line with
 * no newline), and summary.json either absent or whole. */
static void killed_run_leaves_whole_rows(void **state)
{
	char *root = make_tmp(), *out = path_join(root, "run");
	char *csv_path = path_join(out, "samples.csv"), *sum_path = path_join(out, "summary.json");
	static struct csv c;
	struct stat st;
	char *text;
	pid_t pid;
	int status, rows;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		const struct hv_mode mode = { "native", "native", "full", "plain", "emul", NULL, 1, 1 };
		struct hv_run *r = hv_run_open(NULL, "crash", out, 0, NULL, 1);

		if (!r)
			_exit(2);
		for (int i = 0;; i++) {
			struct hv_sample smp = { "crash", "loop", "params=with,comma", &mode,
						 "cycles", i * 1.1, "cycles", i };
			if (hv_run_add(r, &smp))
				_exit(3);
			if (i % 500 == 499 && hv_run_write_summary(r))
				_exit(4);
		}
	}
	/* Kill it at an arbitrary moment once it is well under way (a loaded machine's
	 * disk can take most of a minute to get there). */
	for (int waited = 0; waited < 60000; waited++) {
		if (stat(csv_path, &st) == 0 && st.st_size > 300000)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("writer exited early with status %d", status);
		usleep(1000);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	text = slurp(csv_path, NULL);
	assert_non_null(text);
	{
		/* A torn tail holds part of one row: no newline, fewer bytes than a row. */
		char *nl = strrchr(text, '\n');
		assert_non_null(nl);
		assert_true(strlen(nl + 1) < (size_t)(nl - text) / 2);
		nl[1] = 0;
	}
	rows = csv_parse(text, &c);
	free(text);
	if (rows <= 100)
		fail_msg("only %d whole rows before the kill", rows);
	for (int row = 1; row < rows; row++) {
		double v = strtod(c.field[row][12], NULL), want = (row - 1) * 1.1;
		assert_int_equal(c.nfields[row], NCOLS);
		assert_int_equal(atoi(c.field[row][14]), row - 1);
		assert_memory_equal(&v, &want, sizeof(double));
	}
	csv_free(&c);

	text = slurp(sum_path, NULL);
	if (text) {
		struct jv doc;
		if (parse_json(text, &doc))
			fail_msg("summary.json of a killed run is not whole JSON");
		jv_free(&doc);
		free(text);
	}
	free(csv_path);
	free(sum_path);
	free(out);
	rm_rf(root);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_reader_self_check),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(out_dir_created_and_not_reused),
		cmocka_unit_test(unusable_directory),
		cmocka_unit_test(killed_run_leaves_whole_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
