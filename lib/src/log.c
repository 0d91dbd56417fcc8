/* Logging to stderr with a fixed prefix; one fprintf per line so that lines from
 * several threads do not interleave mid-line. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "hvlab/log.h"

static void log_line(const char *prefix, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "hvlab: %s%s\n", prefix, msg);
}

void hv_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("error: ", fmt, ap);
	va_end(ap);
}

void hv_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("warning: ", fmt, ap);
	va_end(ap);
}

void hv_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line("", fmt, ap);
	va_end(ap);
}

void hv_debug(const char *fmt, ...)
{
	const char *env = getenv("HVLAB_DEBUG");
	va_list ap;

	if (!env || !*env || (env[0] == '0' && !env[1]))
		return;
	va_start(ap, fmt);
	log_line("debug: ", fmt, ap);
	va_end(ap);
}
