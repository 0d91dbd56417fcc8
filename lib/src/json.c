/* Streaming JSON writer. Output is always valid JSON text for what was written so far
 * (strings are escaped, invalid UTF-8 becomes U+FFFD, non-finite numbers become null);
 * on allocation failure or nesting deeper than the writer tracks, j->failed is set and
 * further calls do nothing. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/json.h"

#define MAX_DEPTH ((int)(sizeof(((struct hv_json *)0)->need_comma) / sizeof(int)))

void hv_json_init(struct hv_json *j)
{
	memset(j, 0, sizeof(*j));
}

void hv_json_free(struct hv_json *j)
{
	free(j->buf);
	hv_json_init(j);
}

static int reserve(struct hv_json *j, size_t more)
{
	size_t cap;
	char *nb;

	if (j->failed)
		return -1;
	if (j->len + more + 1 <= j->cap)
		return 0;
	cap = j->cap ? j->cap : 256;
	while (cap < j->len + more + 1)
		cap *= 2;
	nb = realloc(j->buf, cap);
	if (!nb) {
		j->failed = 1;
		return -1;
	}
	j->buf = nb;
	j->cap = cap;
	return 0;
}

static void put(struct hv_json *j, const char *s, size_t n)
{
	if (reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = 0;
}

static void put_str(struct hv_json *j, const char *s)
{
	put(j, s, strlen(s));
}

/* Called before every value and key: separates it from the previous one. */
static void sep(struct hv_json *j)
{
	if (j->need_comma[j->depth])
		put(j, ",", 1);
}

static void value_done(struct hv_json *j)
{
	j->need_comma[j->depth] = 1;
}

/* Length of a valid UTF-8 sequence at s (1-4), or 0 if the bytes are not one. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void put_string(struct hv_json *j, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	put(j, "\"", 1);
	while (*s) {
		const unsigned char *run = s;
		size_t n;

		/* Copy the longest run that needs no escaping in one go. */
		while (*s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
			s++;
		put(j, (const char *)run, (size_t)(s - run));
		if (!*s)
			break;
		if (*s >= 0x80) {
			n = utf8_len(s);
			if (n)
				put(j, (const char *)s, n);
			else
				put_str(j, "\\ufffd");
			s += n ? n : 1;
			continue;
		}
		switch (*s) {
		case '"':  put_str(j, "\\\""); break;
		case '\\': put_str(j, "\\\\"); break;
		case '\b': put_str(j, "\\b"); break;
		case '\f': put_str(j, "\\f"); break;
		case '\n': put_str(j, "\\n"); break;
		case '\r': put_str(j, "\\r"); break;
		case '\t': put_str(j, "\\t"); break;
		default: {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", *s);
			put_str(j, esc);
		}
		}
		s++;
	}
	put(j, "\"", 1);
}

static void begin(struct hv_json *j, const char *open)
{
	sep(j);
	if (j->depth + 1 >= MAX_DEPTH) {
		j->failed = 1;
		return;
	}
	put(j, open, 1);
	j->depth++;
	j->need_comma[j->depth] = 0;
}

static void end(struct hv_json *j, const char *close)
{
	if (j->depth == 0) {
		j->failed = 1;
		return;
	}
	put(j, close, 1);
	j->depth--;
	value_done(j);
}

void hv_json_obj_begin(struct hv_json *j) { begin(j, "{"); }
void hv_json_obj_end(struct hv_json *j) { end(j, "}"); }
void hv_json_arr_begin(struct hv_json *j) { begin(j, "["); }
void hv_json_arr_end(struct hv_json *j) { end(j, "]"); }

void hv_json_key(struct hv_json *j, const char *key)
{
	sep(j);
	put_string(j, key ? key : "");
	put(j, ":", 1);
	/* The value that follows belongs to this key: no comma before it. */
	j->need_comma[j->depth] = 0;
}

void hv_json_str(struct hv_json *j, const char *s)
{
	if (!s) {
		hv_json_null(j);
		return;
	}
	sep(j);
	put_string(j, s);
	value_done(j);
}

char *hv_fmt_double(char *buf, size_t size, double v)
{
	if (isnan(v)) {
		snprintf(buf, size, "nan");
		return buf;
	}
	if (isinf(v)) {
		snprintf(buf, size, v > 0 ? "inf" : "-inf");
		return buf;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

void hv_json_num(struct hv_json *j, double v)
{
	char num[40];

	if (!isfinite(v)) {
		hv_json_null(j);
		return;
	}
	hv_fmt_double(num, sizeof(num), v);
	sep(j);
	put_str(j, num);
	value_done(j);
}

void hv_json_int(struct hv_json *j, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	sep(j);
	put_str(j, num);
	value_done(j);
}

void hv_json_bool(struct hv_json *j, int v)
{
	sep(j);
	put_str(j, v ? "true" : "false");
	value_done(j);
}

void hv_json_null(struct hv_json *j)
{
	sep(j);
	put_str(j, "null");
	value_done(j);
}

void hv_json_kv_str(struct hv_json *j, const char *key, const char *s)
{
	hv_json_key(j, key);
	hv_json_str(j, s);
}

void hv_json_kv_num(struct hv_json *j, const char *key, double v)
{
	hv_json_key(j, key);
	hv_json_num(j, v);
}

void hv_json_kv_int(struct hv_json *j, const char *key, int64_t v)
{
	hv_json_key(j, key);
	hv_json_int(j, v);
}
