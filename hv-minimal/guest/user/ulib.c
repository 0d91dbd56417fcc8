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

long fork(void)
{
	return sys_call(SYS_fork, 0, 0, 0);
}

long wait(int *status)
{
	uint64_t st;
	long pid = sys_call_rdx(SYS_wait, 0, &st);

	if (pid >= 0 && status)
		*status = (int)st;
	return pid;
}

long exec(const char *name, const char *args)
{
	return sys_call(SYS_exec, (long)name, (long)args, 0);
}

long yield(void)
{
	return sys_call(SYS_yield, 0, 0, 0);
}

void *sbrk(long delta)
{
	long r = sys_call(SYS_sbrk, delta, 0, 0);

	return r < 0 ? (void *)-1 : (void *)r;
}

struct thread_start {
	void (*fn)(void *);
	void *arg;
};

static __attribute__((noreturn)) void thread_main(struct thread_start *ts)
{
	ts->fn(ts->arg);
	exit(0);
}

long thread_create(void (*fn)(void *), void *arg, uint64_t stack_bytes)
{
	char *stack = malloc(stack_bytes);

	if (!stack || stack_bytes < 256)
		return -GUEST_ENOMEM;
	/* The start record sits at the top; the stack grows down from below it. */
	uint64_t top = ((uint64_t)stack + stack_bytes - sizeof(struct thread_start)) & ~15ull;
	struct thread_start *ts = (struct thread_start *)top;
	ts->fn = fn;
	ts->arg = arg;
	return sys_call(SYS_thread, (long)thread_main, (long)top, (long)ts);
}

long setcpu(unsigned cpu)
{
	return sys_call(SYS_setcpu, cpu, 0, 0);
}

long getcpu(void)
{
	return sys_call(SYS_getcpu, 0, 0, 0);
}

long sysinfo(struct guest_sysinfo *si)
{
	return sys_call(SYS_sysinfo, (long)si, 0, 0);
}

long populate(void *addr, uint64_t len)
{
	return sys_call(SYS_populate, (long)addr, (long)len, 0);
}

long spin_wait_slow(struct guest_spinlock *l, uint32_t ticket)
{
	return sys_call(SYS_spin_wait, (long)l, (long)ticket, 0);
}

long spin_kick(struct guest_spinlock *l)
{
	return sys_call(SYS_spin_kick, (long)l, 0, 0);
}

void *malloc(size_t n)
{
	uint64_t cur = (uint64_t)sbrk(0);
	uint64_t start = (cur + 63) & ~63ull;

	if (cur == (uint64_t)-1 || n > (1ull << 40))
		return NULL;
	if (sbrk((long)(start - cur + n)) == (void *)-1)
		return NULL;
	return (void *)start;
}

static void result_header(struct hv_result *r, uint32_t kind, const char *workload,
			  const char *name)
{
	memset(r, 0, sizeof(*r));
	r->magic = HV_RESULT_MAGIC;
	r->kind = kind;
	strlcpy(r->workload, workload, sizeof(r->workload));
	strlcpy(r->name, name, sizeof(r->name));
}

static void report_bits(const char *workload, const char *name, uint64_t bits,
			const char *unit, unsigned rep)
{
	struct hv_result r;

	result_header(&r, HV_RES_VALUE, workload, name);
	strlcpy(r.unit, unit, sizeof(r.unit));
	memcpy(&r.value, &bits, sizeof(bits));
	r.rep = rep;
	report(&r);
}

void report_u64(const char *workload, const char *name, uint64_t v, const char *unit,
		unsigned rep)
{
	report_bits(workload, name, f64_from_u64(v), unit, rep);
}

void report_ratio(const char *workload, const char *name, uint64_t num, uint64_t den,
		  const char *unit, unsigned rep)
{
	report_bits(workload, name, f64_from_ratio(num, den), unit, rep);
}

void report_signed_ratio(const char *workload, const char *name, int64_t num, uint64_t den,
			 const char *unit, unsigned rep)
{
	uint64_t mag = num < 0 ? (uint64_t)0 - (uint64_t)num : (uint64_t)num;
	uint64_t bits = f64_from_ratio(mag, den);

	if (num < 0 && mag)
		bits |= 1ull << 63;              /* the sign bit of an IEEE double */
	report_bits(workload, name, bits, unit, rep);
}

void report_info(const char *workload, const char *key, const char *value)
{
	struct hv_result r;

	result_header(&r, HV_RES_INFO, workload, key);
	strlcpy(r.unit, value, sizeof(r.unit));
	report(&r);
}

/* The kernel's hypercall count at work_begin, +1 (0: no mark). */
static uint64_t work_hcalls_mark;

void work_begin(void)
{
	struct guest_sysinfo si;

	work_hcalls_mark = sysinfo(&si) < 0 ? 0 : si.hypercalls + 1;
}

void report_work(const char *workload, unsigned rep, uint64_t cycles, uint64_t ops,
		 uint32_t checksum)
{
	uint64_t x10 = ops ? cycles * 10 / ops : 0;
	struct guest_sysinfo si;
	/* read before the records below: each is a system call of its own */
	int hcalls = work_hcalls_mark && ops && sysinfo(&si) == 0;

	report_ratio(workload, "cycles_per_op", cycles, ops, "cycles", rep);
	report_u64(workload, "elapsed", cycles, "cycles", rep);
	report_u64(workload, "ops", ops, "ops", rep);
	report_u64(workload, "checksum", checksum, "-", rep);
	/* after the headline: readers take a workload's first metric as its figure */
	if (hcalls)
		report_ratio(workload, "hypercalls_per_op", si.hypercalls - (work_hcalls_mark - 1),
			     ops, "calls", rep);
	work_hcalls_mark = 0;
	printf("%s: rep %u: %lu cycles, %lu ops, %lu.%lu cycles/op, checksum %#x\n", workload,
	       rep, cycles, ops, x10 / 10, x10 % 10, checksum);
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
