/* The text trace format (README.md: "Trace format"): a first line "ptwalk-trace 1",
 * then one event per line, '#' to the end of a line is a comment:
 *
 *   c ASID            CR3 write: switch to address space ASID (0..65535), made if new
 *   r VA | w VA       a data read or write
 *   m VA GPA SIZE     the guest writes a present PTE: VA -> GPA, SIZE 4k, 2m or 1g
 *   p VA              the guest write-protects VA's PTE
 *   u VA              the guest clears VA's PTE
 *   i VA              invlpg VA
 *   f VA              a guest page fault at VA (its handler's PTE writes follow)
 *   k ASID            address space ASID is destroyed (its tables freed)
 *   b                 the timed part begins: setup above, measured work below
 *
 * Addresses are hexadecimal, with or without 0x. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "ptwalk.h"

#define MAX_GPA (1ull << 46)         /* page-table pages live above (ptwalk.c) */
#define LINE_MAX_LEN 256

int pw_trace_push(struct pw_trace *t, const struct pw_event *e)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		struct pw_event *n = realloc(t->ev, cap * sizeof(*n));

		if (!n)
			return hv_err_set("ptwalk-sim: out of memory for a trace of %zu events", t->n);
		t->ev = n;
		t->cap = cap;
	}
	t->ev[t->n++] = *e;
	return 0;
}

void pw_trace_free(struct pw_trace *t)
{
	free(t->ev);
	memset(t, 0, sizeof(*t));
}

static int parse_hex(const char *tok, uint64_t *out)
{
	char *end;

	if (!tok || !*tok)
		return -1;
	if (tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X'))
		tok += 2;
	if (!isxdigit((unsigned char)*tok))
		return -1;
	errno = 0;
	*out = strtoull(tok, &end, 16);
	return errno || *end ? -1 : 0;
}

static int parse_asid(const char *tok, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (!tok || !isdigit((unsigned char)*tok))
		return -1;
	errno = 0;
	v = strtoul(tok, &end, 10);
	if (errno || *end || v > PW_MAX_ASID)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* One event line (comments already cut) into e; the message says what is wrong. */
static int parse_event(char *line, struct pw_event *e)
{
	char *tok[5];
	int n = 0;

	for (char *p = strtok(line, " \t\r"); p; p = strtok(NULL, " \t\r")) {
		if (n == 5)
			return hv_err_set("too many fields (an event has at most 4)");
		tok[n++] = p;
	}
	if (strlen(tok[0]) != 1)
		return hv_err_set("'%s' is not an event (one of c r w m p u i f k b)", tok[0]);
	memset(e, 0, sizeof(*e));
	e->kind = (uint8_t)tok[0][0];
	switch (e->kind) {
	case PW_EV_BEGIN:
		if (n != 1)
			return hv_err_set("'b' takes no fields");
		return 0;
	case PW_EV_SWITCH:
	case PW_EV_DROP:
		if (n != 2 || parse_asid(tok[1], &e->asid))
			return hv_err_set("'%c' takes one address-space number, 0 to %u",
					  e->kind, PW_MAX_ASID);
		return 0;
	case PW_EV_READ:
	case PW_EV_WRITE:
	case PW_EV_PROTECT:
	case PW_EV_UNMAP:
	case PW_EV_INVLPG:
	case PW_EV_FAULT:
		if (n != 2 || parse_hex(tok[1], &e->va))
			return hv_err_set("'%c' takes one hexadecimal virtual address", e->kind);
		return 0;
	case PW_EV_MAP: {
		enum pw_page page;

		if (n != 4 || parse_hex(tok[1], &e->va) || parse_hex(tok[2], &e->gpa))
			return hv_err_set("'m' takes VA GPA SIZE (hexadecimal addresses, SIZE 4k, "
					  "2m or 1g)");
		if (pw_page_parse(tok[3], &page))
			return hv_err_set("page size '%s' is none of 4k, 2m, 1g", tok[3]);
		if (e->gpa >= MAX_GPA)
			return hv_err_set("guest-physical address %#" PRIx64 " is at or above "
					  "2^46, which the simulator keeps for page-table pages",
					  e->gpa);
		e->page = (uint8_t)page;
		return 0;
	}
	}
	return hv_err_set("'%s' is not an event (one of c r w m p u i f k b)", tok[0]);
}

int pw_trace_read(struct pw_trace *t, FILE *in, const char *name)
{
	char line[LINE_MAX_LEN + 2];
	unsigned lineno = 0;
	int seen_magic = 0;

	memset(t, 0, sizeof(*t));
	while (fgets(line, sizeof(line), in)) {
		size_t len = strlen(line);
		struct pw_event e;
		char *p;

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(in)) {
			pw_trace_free(t);
			return hv_err_set("%s:%u: line longer than %d characters; is this a "
					  "ptwalk trace?", name, lineno, LINE_MAX_LEN);
		}
		line[strcspn(line, "#\n")] = 0;
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
			;
		if (!*p)
			continue;
		if (!seen_magic) {
			char *end = p + strlen(p);

			while (end > p && isspace((unsigned char)end[-1]))
				*--end = 0;
			if (strcmp(p, PW_TRACE_MAGIC)) {
				pw_trace_free(t);
				return hv_err_set("%s:%u: the first line must be '%s' (got '%.40s'); "
						  "write traces with 'ptwalk-sim gen' or see "
						  "experiments/shadow-vs-ept/sim/README.md", name,
						  lineno, PW_TRACE_MAGIC, p);
			}
			seen_magic = 1;
			continue;
		}
		for (char *q = p; *q; q++)
			if (!isprint((unsigned char)*q) && *q != '\t' && *q != '\r')
				goto binary;
		if (parse_event(p, &e)) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s", hv_err_msg());
			pw_trace_free(t);
			return hv_err_set("%s:%u: %s; fix the line or regenerate the trace", name,
					  lineno, msg);
		}
		e.line = lineno;
		if (pw_trace_push(t, &e)) {
			pw_trace_free(t);
			return -1;
		}
	}
	if (ferror(in)) {
		pw_trace_free(t);
		return hv_err_errno("%s: read error after line %u", name, lineno);
	}
	if (!seen_magic) {
		pw_trace_free(t);
		return hv_err_set("%s: empty: a trace starts with the line '%s'", name,
				  PW_TRACE_MAGIC);
	}
	return 0;
binary:
	pw_trace_free(t);
	return hv_err_set("%s:%u: not text (binary bytes); traces are text, see "
			  "experiments/shadow-vs-ept/sim/README.md", name, lineno);
}

int pw_trace_read_file(struct pw_trace *t, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	int r;

	if (!f)
		return hv_err_errno("%s: cannot open the trace", path);
	r = pw_trace_read(t, f, strcmp(path, "-") ? path : "<stdin>");
	if (f != stdin)
		fclose(f);
	return r;
}

int pw_trace_write(const struct pw_trace *t, FILE *out)
{
	fprintf(out, "%s\n", PW_TRACE_MAGIC);
	for (size_t i = 0; i < t->n; i++) {
		const struct pw_event *e = &t->ev[i];

		switch (e->kind) {
		case PW_EV_SWITCH:
		case PW_EV_DROP:
			fprintf(out, "%c %u\n", e->kind, e->asid);
			break;
		case PW_EV_BEGIN:
			fprintf(out, "b\n");
			break;
		case PW_EV_MAP:
			fprintf(out, "m %" PRIx64 " %" PRIx64 " %s\n", e->va, e->gpa,
				pw_page_name((enum pw_page)e->page));
			break;
		default:
			fprintf(out, "%c %" PRIx64 "\n", e->kind, e->va);
		}
	}
	return fflush(out) || ferror(out) ? hv_err_errno("writing the trace") : 0;
}
