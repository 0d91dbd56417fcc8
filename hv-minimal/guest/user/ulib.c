/* The user libc: start-up, system-call wrappers, console output, number parsing. */
#include "ulib.h"

const struct guest_start *ustart;

__attribute__((noreturn)) void ulib_start(const struct guest_start *st);

void ulib_start(const struct guest_start *st)
{
	ustart = st;
	exit(main(st->args));
}

void exit(int status)
{
	sys_call(SYS_exit, status, 0, 0);
	for (;;)
		;   /* the kernel does not return from exit */
}

long write(const void *buf, size_t len)
{
	return sys_call(SYS_write, (long)buf, (long)len, 0);
}

long getpid(void)
{
	return sys_call(SYS_getpid, 0, 0, 0);
}

long nb_kernel_op(enum guest_kop op, uint64_t n)
{
	return sys_call(SYS_nb_kernel_op, op, (long)n, 0);
}

long report(const struct hv_result *r)
{
	return sys_call(SYS_result, (long)r, 0, 0);
}

long iopl(int level)
{
	return sys_call(SYS_iopl, level, 0, 0);
}

long ioperm(uint16_t from, uint16_t num, int on)
{
	return sys_call(SYS_ioperm, from, num, on);
}

long fault_resume(const void *addr)
{
	return sys_call(SYS_fault_resume, (long)addr, 0, 0);
}

long unmap(uint64_t addr, uint64_t len)
{
	return sys_call(SYS_unmap, (long)addr, (long)len, 0);
}

long map_device(enum guest_device which)
{
	return sys_call(SYS_map_device, which, 0, 0);
}

/* printf collects output in a buffer and writes it with as few calls as possible: each
 * system call is a trip through the kernel. */
struct outbuf {
	char buf[512];
	size_t len;
};

static void out_sink(void *ctx, const char *s, size_t n)
{
	struct outbuf *o = ctx;

	while (n) {
		if (o->len == sizeof(o->buf)) {
			write(o->buf, o->len);
			o->len = 0;
		}
		size_t k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

int printf(const char *fmt, ...)
{
	struct outbuf o;
	va_list ap;
	int n;

	o.len = 0;
	va_start(ap, fmt);
	n = fmt_vformat(out_sink, &o, fmt, ap);
	va_end(ap);
	if (o.len)
		write(o.buf, o.len);
	return n;
}

int puts(const char *s)
{
	return printf("%s\n", s);
}

uint64_t strtou64(const char *s, const char **end)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		v = v * base + d;
	}
	if (end)
		*end = s;
	return v;
}
