/* printf-style formatting shared by the guest kernel and the user libc: integers and
 * strings only (guest code is built without floating point).
 * Conversions: %d %i %u %x %X %p %s %c %%, flags '-' '0' '#', a width, length l, ll, z. */
#ifndef GUEST_FMT_H
#define GUEST_FMT_H
#include <stdarg.h>
#include <stddef.h>

/* Receives formatted output in pieces. */
typedef void (*fmt_sink)(void *ctx, const char *s, size_t n);

/* Formats into sink; returns the number of characters produced. */
int fmt_vformat(fmt_sink sink, void *ctx, const char *fmt, va_list ap);

/* snprintf semantics: always NUL-terminates when size > 0; returns the full length. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
