/* Returned errors: one message per thread, overwritten by each failure. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hvlab/err.h"

#define HV_ERR_MAX 1024

static __thread char err_msg[HV_ERR_MAX];

int hv_err_set(const char *fmt, ...)
{
	/* The message may be built from hv_err_msg() itself ("%s: more context"), so
	 * format into a scratch buffer first. */
	char tmp[HV_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	memcpy(err_msg, tmp, sizeof(err_msg));
	return -1;
}

int hv_err_errno(const char *fmt, ...)
{
	int saved = errno;
	char tmp[HV_ERR_MAX];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	len = strlen(tmp);
	snprintf(tmp + len, sizeof(tmp) - len, ": %s", strerror(saved));
	memcpy(err_msg, tmp, sizeof(err_msg));
	errno = saved;
	return -1;
}

const char *hv_err_msg(void)
{
	return err_msg;
}
