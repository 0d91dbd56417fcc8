/* @hvr console lines -> struct hv_result -> the recorder (hvr.h). The line format is
 * the guest's (guest/kernel/hv.c, result_line): words key=value separated by single
 * spaces; ' ', '%', '=' and bytes outside printable ASCII in a value are written %XX;
 * numbers are decimal, a value record's double exact when integral, else with six
 * decimals, C99 hexadecimal from 2^64 up. Every line is parsed strictly: a missing,
 * repeated, unknown or misplaced field, a bad escape or number, or a string too long
 * for its record field makes the line malformed, and nothing of it is recorded. */
#include "hvlab/hvr.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/devices.h"
#include "hvlab/err.h"
#include "hvlab/log.h"

enum hvr_key {
	K_KIND, K_WORKLOAD, K_NAME, K_UNIT, K_VALUE, K_ITERS, K_CYCLES, K_BASELINE, K_REP,
	K_VCPU, K_NR
};

static const char *const key_names[K_NR] = {
	[K_KIND] = "kind", [K_WORKLOAD] = "workload", [K_NAME] = "name", [K_UNIT] = "unit",
	[K_VALUE] = "value", [K_ITERS] = "iters", [K_CYCLES] = "cycles",
	[K_BASELINE] = "baseline", [K_REP] = "rep", [K_VCPU] = "vcpu",
};

#define BIT(k) (1u << (k))
/* The fields each kind of record has, exactly (what the guest prints). */
static const struct {
	const char *name;
	uint32_t kind;
	unsigned fields;
} kinds[] = {
	{ "nanobench", HV_RES_NANOBENCH,
	  BIT(K_KIND) | BIT(K_WORKLOAD) | BIT(K_NAME) | BIT(K_ITERS) | BIT(K_CYCLES) |
	  BIT(K_BASELINE) | BIT(K_UNIT) | BIT(K_REP) | BIT(K_VCPU) },
	{ "value", HV_RES_VALUE,
	  BIT(K_KIND) | BIT(K_WORKLOAD) | BIT(K_NAME) | BIT(K_VALUE) | BIT(K_UNIT) | BIT(K_REP) |
	  BIT(K_VCPU) },
	{ "info", HV_RES_INFO, BIT(K_KIND) | BIT(K_WORKLOAD) | BIT(K_NAME) | BIT(K_VALUE) },
};

#define VALUE_MAX 64     /* longest raw value kept: numbers and escaped names fit */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The %XX-escaped text raw into out (at most cap - 1 bytes and a NUL). */
static int unescape(const char *key, const char *raw, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = raw; *p; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				return hv_err_set("field %s: '%%' not followed by two hex digits", key);
			c = hi * 16 + lo;
			p += 2;
		}
		if (o + 1 >= cap)
			return hv_err_set("field %s is longer than %zu bytes", key, cap - 1);
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

static int parse_u64(const char *key, const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return hv_err_set("field %s: '%s' is not a whole number", key, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno == ERANGE || v > max)
		return hv_err_set("field %s: '%s' is not a whole number up to %" PRIu64, key, s,
				  max);
	*out = v;
	return 0;
}

static int parse_double(const char *key, const char *s, double *out)
{
	char *end;

	if (!*s)
		return hv_err_set("field %s is empty", key);
	errno = 0;
	*out = strtod(s, &end);
	if (*end || errno == ERANGE)
		return hv_err_set("field %s: '%s' is not a number", key, s);
	return 0;
}

/* One key=value word into vals[] (raw, unescaped later). */
static int take_word(const char *word, size_t len, char vals[K_NR][VALUE_MAX],
		     unsigned *seen)
{
	const char *eq = memchr(word, '=', len);
	size_t klen = eq ? (size_t)(eq - word) : len, vlen;
	int k;

	if (!eq)
		return hv_err_set("word '%.*s' is not key=value", (int)(len > 40 ? 40 : len), word);
	for (k = 0; k < K_NR; k++)
		if (strlen(key_names[k]) == klen && !memcmp(key_names[k], word, klen))
			break;
	if (k == K_NR)
		return hv_err_set("unknown field '%.*s'", (int)(klen > 40 ? 40 : klen), word);
	if (*seen & BIT(k))
		return hv_err_set("field %s appears twice", key_names[k]);
	vlen = len - klen - 1;
	if (vlen >= VALUE_MAX)
		return hv_err_set("field %s is longer than %d bytes", key_names[k], VALUE_MAX - 1);
	memcpy(vals[k], eq + 1, vlen);
	vals[k][vlen] = '\0';
	*seen |= BIT(k);
	return 0;
}

static int fill_strings(const char vals[K_NR][VALUE_MAX], struct hv_result *r)
{
	if (unescape("workload", vals[K_WORKLOAD], r->workload, sizeof(r->workload)) ||
	    unescape("name", vals[K_NAME], r->name, sizeof(r->name)))
		return -1;
	if (r->kind == HV_RES_INFO)     /* an info record's value travels in unit */
		return unescape("value", vals[K_VALUE], r->unit, sizeof(r->unit));
	if (unescape("unit", vals[K_UNIT], r->unit, sizeof(r->unit)))
		return -1;
	if (!strcmp(r->unit, "-"))      /* the guest prints an empty unit as "-" */
		r->unit[0] = '\0';
	return 0;
}

static int fill_numbers(const char vals[K_NR][VALUE_MAX], struct hv_result *r)
{
	uint64_t rep, vcpu;

	if (r->kind == HV_RES_INFO)
		return 0;
	if (parse_u64("rep", vals[K_REP], UINT32_MAX, &rep) ||
	    parse_u64("vcpu", vals[K_VCPU], UINT32_MAX, &vcpu))
		return -1;
	r->rep = (uint32_t)rep;
	r->vcpu = (uint32_t)vcpu;
	if (r->kind == HV_RES_VALUE)
		return parse_double("value", vals[K_VALUE], &r->value);
	return parse_u64("iters", vals[K_ITERS], UINT64_MAX, &r->iters) ||
	       parse_u64("cycles", vals[K_CYCLES], UINT64_MAX, &r->cycles) ||
	       parse_u64("baseline", vals[K_BASELINE], UINT64_MAX, &r->baseline) ? -1 : 0;
}

int hvr_parse_line(const char *line, struct hv_result *r)
{
	char vals[K_NR][VALUE_MAX];
	const char *p = strstr(line, HVR_MARK);
	unsigned seen = 0, i;

	if (!p)
		return 0;
	p += strlen(HVR_MARK);
	if (*p != ' ')
		return hv_err_set("'%s' is not followed by a space and fields", HVR_MARK);
	while (*p == ' ') {
		const char *w = ++p;

		while (*p && *p != ' ')
			p++;
		if (p == w)
			return hv_err_set("two spaces in a row, or a space at the end");
		if (take_word(w, (size_t)(p - w), vals, &seen))
			return -1;
	}
	if (*p)
		return hv_err_set("unexpected byte %#x", (unsigned char)*p);
	if (!(seen & BIT(K_KIND)))
		return hv_err_set("no kind field");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(vals[K_KIND], kinds[i].name))
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return hv_err_set("unknown record kind '%s' (nanobench, value, info)", vals[K_KIND]);
	for (int k = 0; k < K_NR; k++) {
		if ((kinds[i].fields & BIT(k)) && !(seen & BIT(k)))
			return hv_err_set("a %s record without its %s field", kinds[i].name,
					  key_names[k]);
		if (!(kinds[i].fields & BIT(k)) && (seen & BIT(k)))
			return hv_err_set("field %s does not belong in a %s record", key_names[k],
					  kinds[i].name);
	}
	memset(r, 0, sizeof(*r));
	r->magic = HV_RESULT_MAGIC;
	r->kind = kinds[i].kind;
	if (fill_strings(vals, r) || fill_numbers(vals, r))
		return -1;
	return 1;
}

void hvr_feed_init(struct hvr_feed *f, struct hv_console *console, struct hv_recorder *rec,
		   unsigned nr_vcpus, const char *source)
{
	memset(f, 0, sizeof(*f));
	f->console = console;
	f->rec = rec;
	f->nr_vcpus = nr_vcpus;
	f->source = source;
}

/* The line as it may be shown on a terminal: printable ASCII, the rest as '?'. */
static void printable(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 1 < cap; s++)
		out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	out[o] = '\0';
}

static void reject(struct hvr_feed *f, const char *why)
{
	char shown[120];

	printable(shown, sizeof(shown), f->line);
	hv_warn("%s:%lu: result line rejected (%s): %s%s", f->source, f->lineno, why, shown,
		strlen(f->line) >= sizeof(shown) - 1 ? "..." : "");
	if (!f->nrejected++)
		snprintf(f->first_rejected, sizeof(f->first_rejected), "line %lu: %s", f->lineno,
			 why);
}

static void end_line(struct hvr_feed *f)
{
	struct hv_result r;
	int rc;

	f->lineno++;
	f->line[f->len] = '\0';
	if (f->len && f->line[f->len - 1] == '\r')
		f->line[--f->len] = '\0';
	if (f->overlong) {
		if (strstr(f->line, HVR_MARK)) {
			char why[64];

			snprintf(why, sizeof(why), "longer than %d bytes", HVR_LINE_MAX - 1);
			reject(f, why);
		}
	} else if ((rc = hvr_parse_line(f->line, &r)) < 0) {
		reject(f, hv_err_msg());
	} else if (rc == 1 && hv_result_validate(&r, f->nr_vcpus)) {
		reject(f, hv_err_msg());
	} else if (rc == 1 && !f->record_error && !f->guest_fault) {
		switch (hv_recorder_add(f->rec, &r)) {
		case HV_RECORD_OK:
			f->nrecords++;
			if (f->on_record)
				f->on_record(f->on_record_arg, &r);
			break;
		case HV_RECORD_GUEST_FAULT:
			f->guest_fault = 1;
			snprintf(f->record_why, sizeof(f->record_why), "%s:%lu: %s", f->source,
				 f->lineno, hv_err_msg());
			break;
		case HV_RECORD_HOST_ERROR:      /* the host's failure, not the guest's */
			f->record_error = 1;
			snprintf(f->record_why, sizeof(f->record_why), "recording %s: %s", r.name,
				 hv_err_msg());
			break;
		}
	}
	f->len = 0;
	f->overlong = 0;
}

void hvr_feed_bytes(struct hvr_feed *f, const char *buf, size_t n)
{
	if (f->console)
		hv_console_write(f->console, buf, n);
	f->bytes += n;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			end_line(f);
		} else if (f->len + 1 < sizeof(f->line)) {
			f->line[f->len++] = buf[i];
		} else {
			f->overlong = 1;
		}
	}
}

void hvr_feed_end(struct hvr_feed *f)
{
	if (f->len || f->overlong)
		end_line(f);
	if (f->console)
		hv_console_flush(f->console);
}
