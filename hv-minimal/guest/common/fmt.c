/* A small printf engine: one pass over the format, output handed to a sink in runs so
 * that a console sink can write a whole run at once. */
#include <stdint.h>
#include "guest/fmt.h"
#include "guest/string.h"

struct spec {
	int left;      /* '-' */
	int zero;      /* '0' */
	int alt;       /* '#': 0x before hex */
	int width;
	int len;       /* 0 int, 1 long, 2 long long / size_t */
};

static void pad(fmt_sink sink, void *ctx, char c, int n)
{
	char buf[16];

	memset(buf, c, sizeof(buf));
	while (n > 0) {
		int k = n < (int)sizeof(buf) ? n : (int)sizeof(buf);
		sink(ctx, buf, (size_t)k);
		n -= k;
	}
}

/* Emits s[0..n) padded to the spec's width; returns the characters produced. */
static int emit(fmt_sink sink, void *ctx, const struct spec *sp, const char *s, int n)
{
	int fill = sp->width > n ? sp->width - n : 0;

	if (!sp->left) {
		/* Zero padding goes after a sign. */
		if (sp->zero && n > 0 && s[0] == '-') {
			sink(ctx, s, 1);
			s++;
			n--;
			pad(sink, ctx, '0', fill);
			fill = 0;
			sink(ctx, s, (size_t)n);
			return sp->width > n + 1 ? sp->width : n + 1;
		}
		pad(sink, ctx, sp->zero ? '0' : ' ', fill);
	}
	sink(ctx, s, (size_t)n);
	if (sp->left)
		pad(sink, ctx, ' ', fill);
	return n + fill;
}

/* Digits of v in base, written backwards from end; returns the start. */
static char *utoa(char *end, uint64_t v, unsigned base, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		*--end = digits[v % base];
		v /= base;
	} while (v);
	return end;
}

int fmt_vformat(fmt_sink sink, void *ctx, const char *fmt, va_list ap)
{
	int total = 0;

	while (*fmt) {
		const char *run = fmt;
		while (*fmt && *fmt != '%')
			fmt++;
		if (fmt > run) {
			sink(ctx, run, (size_t)(fmt - run));
			total += (int)(fmt - run);
		}
		if (!*fmt)
			break;
		fmt++; /* '%' */

		struct spec sp = { 0, 0, 0, 0, 0 };
		for (;; fmt++) {
			if (*fmt == '-')
				sp.left = 1;
			else if (*fmt == '0')
				sp.zero = 1;
			else if (*fmt == '#')
				sp.alt = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			sp.width = sp.width * 10 + (*fmt++ - '0');
		if (*fmt == 'l') {
			sp.len = 1;
			if (*++fmt == 'l') {
				sp.len = 2;
				fmt++;
			}
		} else if (*fmt == 'z') {
			sp.len = 2;
			fmt++;
		}

		char buf[24];
		char *end = buf + sizeof(buf), *s;
		uint64_t u;
		int64_t i;

		switch (*fmt) {
		case 'd':
		case 'i':
			i = sp.len ? va_arg(ap, int64_t) : va_arg(ap, int);
			u = i < 0 ? -(uint64_t)i : (uint64_t)i;
			s = utoa(end, u, 10, 0);
			if (i < 0)
				*--s = '-';
			total += emit(sink, ctx, &sp, s, (int)(end - s));
			break;
		case 'u':
		case 'x':
		case 'X':
			u = sp.len ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			s = utoa(end, u, *fmt == 'u' ? 10 : 16, *fmt == 'X');
			if (sp.alt && *fmt != 'u') {
				*--s = 'x';
				*--s = '0';
			}
			total += emit(sink, ctx, &sp, s, (int)(end - s));
			break;
		case 'p':
			u = (uint64_t)(uintptr_t)va_arg(ap, void *);
			s = utoa(end, u, 16, 0);
			*--s = 'x';
			*--s = '0';
			total += emit(sink, ctx, &sp, s, (int)(end - s));
			break;
		case 's':
			s = va_arg(ap, char *);
			if (!s)
				s = "(null)";
			total += emit(sink, ctx, &sp, s, (int)strlen(s));
			break;
		case 'c':
			buf[0] = (char)va_arg(ap, int);
			total += emit(sink, ctx, &sp, buf, 1);
			break;
		case '%':
			sink(ctx, "%", 1);
			total++;
			break;
		default:
			/* Unknown conversion: show it rather than guess an argument. */
			sink(ctx, fmt - 1, *fmt ? 2 : 1);
			total += *fmt ? 2 : 1;
			break;
		}
		if (*fmt)
			fmt++;
	}
	return total;
}

struct sbuf {
	char *p;
	size_t left; /* room, keeping one byte for the NUL */
};

static void sbuf_sink(void *ctx, const char *s, size_t n)
{
	struct sbuf *b = ctx;
	size_t k = n < b->left ? n : b->left;

	memcpy(b->p, s, k);
	b->p += k;
	b->left -= k;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sbuf b = { buf, size ? size - 1 : 0 };
	int n = fmt_vformat(sbuf_sink, &b, fmt, ap);

	if (size)
		*b.p = 0;
	return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
