/* Kernel printf and panic, on the serial console. */
#include <stdarg.h>
#include "guest/fmt.h"
#include "hv.h"

static void console_sink(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	console_write(s, n);
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	console_lock();
	va_start(ap, fmt);
	n = fmt_vformat(console_sink, NULL, fmt, ap);
	va_end(ap);
	console_unlock();
	return n;
}

int kprintf_raw(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = fmt_vformat(console_sink, NULL, fmt, ap);
	va_end(ap);
	return n;
}

/* Without the console lock: the panicking CPU may hold it. */
void panic(const char *fmt, ...)
{
	va_list ap;

	cli();
	console_write("panic: ", 7);
	va_start(ap, fmt);
	fmt_vformat(console_sink, NULL, fmt, ap);
	va_end(ap);
	console_write("\n", 1);
	hv_exit(HV_EXIT_PANIC);
}
