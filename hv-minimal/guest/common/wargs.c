/* Workload argument lists (work.h). */
#include "guest/work.h"

static int key_is(const char *s, size_t len, const char *key)
{
	size_t i = 0;

	for (; i < len && key[i]; i++)
		if (s[i] != key[i])
			return 0;
	return i == len && !key[i];
}

/* A number with an optional binary suffix ending at ',' or NUL; -1 if malformed. */
static int number(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	unsigned base = 10, digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++, digits++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	if (!digits)
		return -1;
	unsigned shift = *s == 'K' ? 10 : *s == 'M' ? 20 : *s == 'G' ? 30 : 0;
	if (shift) {
		if (v > (UINT64_MAX >> shift))
			return -1;
		v <<= shift;
		s++;
	}
	if (*s && *s != ',')
		return -1;
	*out = v;
	*end = s;
	return 0;
}

int wargs_parse(const char *args, const struct warg *w, unsigned n, const char **bad)
{
	const char *p = args;

	while (*p) {
		const char *eq = p;
		while (*eq && *eq != '=' && *eq != ',')
			eq++;
		unsigned i;
		for (i = 0; i < n && !(*eq == '=' && key_is(p, (size_t)(eq - p), w[i].key)); i++)
			;
		const char *end;
		if (i == n || number(eq + 1, w[i].val, &end) < 0) {
			*bad = p;
			return -1;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}
