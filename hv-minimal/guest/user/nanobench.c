/* The nanobenchmarks: Adams & Agesen's set (syscall, in, cr8wr, callret, pgfault,
 * divzero, ptemod) and kvm-unit-tests-style exits (cpuid, hypercall, mmio, rdtsc,
 * ioeventfd), and the kernel-mode forms of in, mmio and ioeventfd (NAME.cpl0). Each
 * is timed from user mode where the operation allows; kernel-mode operations are timed
 * as one system call doing n of them minus the same call doing n empty loop turns.
 * Every sample goes to the VMM as an HV_RES_NANOBENCH record.
 *
 * harness=marginal times instead every loop with each body twice against the same loop
 * with it once: the difference is n operations beside n others, with no empty loop to
 * subtract. Where the loop's own cost overlaps the operation's (QEMU's translated code
 * on an out-of-order host), subtracting an empty loop takes away more than the loop
 * costs beside the operation; this mode measures by how much (tools/README.md). It
 * does not apply to pgfault (each body needs its own page) and divzero (the fault
 * resumes at a fixed address), which are then skipped.
 *
 * icount=1 counts instead of timing: each operation's guest instructions, in the guest
 * kernel and in user mode, read from the instruction counters an engine may offer
 * (rdpmc HV_PMC_GUEST_INSNS_KERNEL and _USER, abi.h: the bt engine's counting mode).
 * The loops are the same, with the counter read where the TSC is read otherwise, and
 * the harness subtracted as for the cycles; the count of a loop does not depend on the
 * repeat count, which is fixed (ICOUNT_ITERS, or the operation's maximum). Each
 * repetition becomes the records guest_kernel_insns_per_op and guest_user_insns_per_op
 * of workload OP; no cycles are reported (the counting code slows translated blocks).
 * Under an engine without the counters the first read faults, and nanobench skips
 * (exit 77) saying so.
 *
 * wargs: reps=N (default 5), mincycles=C (default 2^24), only=op+op+...,
 * harness=empty|marginal (default empty), icount=0|1 (default 0) */
#include <stdint.h>
static inline uint64_t nb_clock(void);
#define BENCH_CLOCK() nb_clock()
#include "bench.h"
#include "ulib.h"

#define DEFAULT_REPS 5
#define ICOUNT_ITERS 1024        /* operations per counted loop (icount=1) */
#define DEFAULT_MIN_CYCLES (1ull << 24)
#define DEMAND_PAGES ((GUEST_USER_DEMAND_END - GUEST_USER_DEMAND_BASE) / 4096)

void nb_ret(void);
void nb_divzero(uint64_t n, uint32_t divisor);
extern const char nb_divzero_resume[];

/* How port I/O runs: "iopl" or "ioperm" (at CPL3), or "kernel". */
static const char *port_io = "kernel";
static int marginal;             /* harness=marginal */
static uint32_t clock_pmc;       /* icount=1: the counter the loops read; 0: the TSC */

static inline uint64_t pmc_read(uint32_t counter)
{
	uint32_t lo, hi;

	__asm__ volatile("rdpmc" : "=a"(lo), "=d"(hi) : "c"(counter) : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* What every loop reads before and after itself. */
static inline uint64_t nb_clock(void)
{
	return clock_pmc ? pmc_read(clock_pmc) : tsc_read();
}
static volatile uint32_t *mmio_page;

static int port_cpl3(void)
{
	return strcmp(port_io, "kernel") != 0;
}

/* ---- kernel-mode operations ---- */

/* Set when the kernel refuses an operation: the op's samples are then not reported. */
static long kop_error;

static uint64_t kop_cycles(enum guest_kop op, uint64_t n)
{
	uint64_t t0 = nb_clock();
	long r = nb_kernel_op(op, n);
	uint64_t t = nb_clock() - t0;

	if (r < 0)
		kop_error = r;
	return t;
}

static void measure_kop(enum guest_kop op, uint64_t n, uint64_t *c, uint64_t *b)
{
	if (marginal) {
		*c = kop_cycles((enum guest_kop)(op | GUEST_KOP_TWICE), n);
		*b = kop_cycles(op, n);
		return;
	}
	*c = kop_cycles(op, n);
	*b = kop_cycles(GUEST_KOP_NONE, n);
}

static void m_cr8wr(uint64_t n, uint64_t *c, uint64_t *b)
{
	measure_kop(GUEST_KOP_CR8WR, n, c, b);
}

static void m_ptemod(uint64_t n, uint64_t *c, uint64_t *b)
{
	measure_kop(GUEST_KOP_PTEMOD, n, c, b);
}

static void m_hypercall(uint64_t n, uint64_t *c, uint64_t *b)
{
	measure_kop(GUEST_KOP_HCALL, n, c, b);
}

/* The kernel-mode forms of operations timed at CPL3: on a host that emulates kernel
 * code the two can differ several-fold. */
static void m_in_cpl0(uint64_t n, uint64_t *c, uint64_t *b)
{
	measure_kop(GUEST_KOP_IN, n, c, b);
}

static void m_ioeventfd_cpl0(uint64_t n, uint64_t *c, uint64_t *b)
{
	measure_kop(GUEST_KOP_IOEVENTFD, n, c, b);
}

static void m_mmio_cpl0(uint64_t n, uint64_t *c, uint64_t *b)
{
	measure_kop(GUEST_KOP_MMIO, n, c, b);
}

/* ---- user-mode operations ---- */

static uint64_t empty(uint64_t n)
{
	return BENCH_LOOP(n, "", : : "memory");
}

/* n bodies into *c and the harness into *b: the empty loop, or under harness=marginal
 * the body once (and *c the body twice). */
#define MEASURE(n, c, b, body, ...)                                                      \
	do {                                                                             \
		if (marginal) {                                                          \
			*(c) = BENCH_LOOP(n, body "\n\t" body, __VA_ARGS__);              \
			*(b) = BENCH_LOOP(n, body, __VA_ARGS__);                           \
		} else {                                                                 \
			*(c) = BENCH_LOOP(n, body, __VA_ARGS__);                           \
			*(b) = empty(n);                                                 \
		}                                                                        \
	} while (0)

static void m_syscall(uint64_t n, uint64_t *c, uint64_t *b)
{
	uint64_t t0 = nb_clock();

	for (uint64_t i = 0; i < n; i++) {
		sys_call(SYS_getpid, 0, 0, 0);
		if (marginal)
			sys_call(SYS_getpid, 0, 0, 0);
	}
	*c = nb_clock() - t0;
	t0 = nb_clock();
	for (uint64_t i = 0; i < n; i++) {
		if (marginal)
			sys_call(SYS_getpid, 0, 0, 0);
		else
			__asm__ volatile("" : : : "memory");
	}
	*b = nb_clock() - t0;
}

static void m_in(uint64_t n, uint64_t *c, uint64_t *b)
{
	if (!port_cpl3()) {
		measure_kop(GUEST_KOP_IN, n, c, b);
		return;
	}
	MEASURE(n, c, b, "inb %%dx, %%al", : "d"(HV_PORT_POST) : "rax", "memory");
}

static void m_ioeventfd(uint64_t n, uint64_t *c, uint64_t *b)
{
	if (!port_cpl3()) {
		measure_kop(GUEST_KOP_IOEVENTFD, n, c, b);
		return;
	}
	MEASURE(n, c, b, "outl %%eax, %%dx", : "a"(0), "d"(HV_PORT_IOEVENTFD) : "memory");
}

static void m_callret(uint64_t n, uint64_t *c, uint64_t *b)
{
	MEASURE(n, c, b, "call nb_ret", : : "memory");
}

static void m_cpuid(uint64_t n, uint64_t *c, uint64_t *b)
{
	MEASURE(n, c, b, "xor %%eax, %%eax\n\txor %%ecx, %%ecx\n\tcpuid", :
		: "rax", "rbx", "rcx", "rdx", "memory");
}

static void m_rdtsc(uint64_t n, uint64_t *c, uint64_t *b)
{
	MEASURE(n, c, b, "rdtsc", : : "rax", "rdx", "memory");
}

static void m_mmio(uint64_t n, uint64_t *c, uint64_t *b)
{
	MEASURE(n, c, b, "movl $0, (%1)", : "r"(mmio_page) : "memory");
}

static void m_divzero(uint64_t n, uint64_t *c, uint64_t *b)
{
	uint64_t t0 = nb_clock();

	nb_divzero(n, 0);
	*c = nb_clock() - t0;
	t0 = nb_clock();
	nb_divzero(n, 1);
	*b = nb_clock() - t0;
}

/* n first touches of fresh demand-zero pages (each a #PF the kernel resolves), then the
 * same n touches again with the pages mapped: the harness. The pages are unmapped
 * before each batch, outside the timed part. */
static void m_pgfault(uint64_t n, uint64_t *c, uint64_t *b)
{
	uint64_t p = GUEST_USER_DEMAND_BASE;

	unmap(GUEST_USER_DEMAND_BASE, n * 4096);
	*c = BENCH_LOOP(n, "movb (%1), %%al\n\tadd $4096, %1", , "+r"(p) : : "rax", "memory");
	p = GUEST_USER_DEMAND_BASE;
	*b = BENCH_LOOP(n, "movb (%1), %%al\n\tadd $4096, %1", , "+r"(p) : : "rax", "memory");
}

/* ---- setup ---- */

/* Finds a way to run port I/O at CPL3 and checks that it really works on this host:
 * IOPL 3 first (the whole port space), then the TSS I/O permission bitmap for the
 * benchmarked ports. Failing both, port I/O is timed in the kernel. */
static void setup_ports(void)
{
	uint64_t err = 0;
	long r = iopl(3);
	int v = r == 0 ? probe_inb(HV_PORT_POST, &err) : -1;

	if (v == 0) {
		port_io = "iopl";
		printf("nanobench: port I/O at CPL3 through IOPL 3\n");
		return;
	}
	if (r == 0)
		printf("nanobench: inb at CPL3 with IOPL 3 raised vector %d (error %#lx)\n", v - 1,
		       err);
	iopl(0);
	if (ioperm(HV_PORT_POST, 1, 1) == 0 && ioperm(HV_PORT_IOEVENTFD, 4, 1) == 0 &&
	    (v = probe_inb(HV_PORT_POST, &err)) == 0) {
		port_io = "ioperm";
		printf("nanobench: port I/O at CPL3 through the TSS I/O bitmap\n");
		return;
	}
	printf("nanobench: inb at CPL3 with the port in the I/O bitmap failed (%d, error %#lx); "
	       "port I/O timed in the kernel\n", v - 1, err);
	ioperm(HV_PORT_POST, 1, 0);
	ioperm(HV_PORT_IOEVENTFD, 4, 0);
	port_io = "kernel";
}

static int setup_mmio(void)
{
	long a = map_device(GUEST_DEV_MMIO_NULL);

	if (a < 0) {
		printf("nanobench: cannot map the MMIO page (%ld)\n", a);
		return -1;
	}
	mmio_page = (volatile uint32_t *)a;
	return 0;
}

static int setup_divzero(void)
{
	return fault_resume(nb_divzero_resume) == 0 ? 0 : -1;
}

static void teardown_divzero(void)
{
	fault_resume(0);
}

struct nb_op {
	const char *name;
	bench_fn fn;
	uint64_t max_iters;
	int (*setup)(void);
	void (*teardown)(void);
	enum { AT_USER, AT_KERNEL, AT_PORT } where; /* AT_PORT: user if port I/O works there */
};

static const struct nb_op ops[] = {
	{ "syscall", m_syscall, 1u << 30, NULL, NULL, AT_USER },
	{ "in", m_in, GUEST_KOP_MAX_N, NULL, NULL, AT_PORT },
	{ "cr8wr", m_cr8wr, GUEST_KOP_MAX_N, NULL, NULL, AT_KERNEL },
	{ "callret", m_callret, 1u << 30, NULL, NULL, AT_USER },
	{ "pgfault", m_pgfault, DEMAND_PAGES, NULL, NULL, AT_USER },
	{ "divzero", m_divzero, 1u << 30, setup_divzero, teardown_divzero, AT_USER },
	{ "ptemod", m_ptemod, GUEST_KOP_MAX_N, NULL, NULL, AT_KERNEL },
	{ "cpuid", m_cpuid, 1u << 30, NULL, NULL, AT_USER },
	{ "hypercall", m_hypercall, GUEST_KOP_MAX_N, NULL, NULL, AT_KERNEL },
	{ "mmio", m_mmio, 1u << 30, setup_mmio, NULL, AT_USER },
	{ "rdtsc", m_rdtsc, 1u << 30, NULL, NULL, AT_USER },
	{ "ioeventfd", m_ioeventfd, GUEST_KOP_MAX_N, NULL, NULL, AT_PORT },
	{ "in.cpl0", m_in_cpl0, GUEST_KOP_MAX_N, NULL, NULL, AT_KERNEL },
	{ "mmio.cpl0", m_mmio_cpl0, GUEST_KOP_MAX_N, NULL, NULL, AT_KERNEL },
	{ "ioeventfd.cpl0", m_ioeventfd_cpl0, GUEST_KOP_MAX_N, NULL, NULL, AT_KERNEL },
};

/* ---- arguments ---- */

struct params {
	unsigned reps;
	uint64_t min_cycles;
	const char *only;        /* '+'-separated names, or NULL for all */
	int marginal;            /* harness=marginal */
	int icount;              /* icount=1 */
};

/* Matches name against the '+'-separated list that starts at list (ends at ',' or NUL). */
static int listed(const char *list, const char *name)
{
	size_t len = strlen(name);

	while (*list && *list != ',') {
		const char *e = list;
		while (*e && *e != ',' && *e != '+')
			e++;
		if ((size_t)(e - list) == len && !strncmp(list, name, len))
			return 1;
		list = *e == '+' ? e + 1 : e;
	}
	return 0;
}

static int parse_args(const char *a, struct params *p)
{
	p->reps = DEFAULT_REPS;
	p->min_cycles = DEFAULT_MIN_CYCLES;
	p->only = NULL;
	p->marginal = 0;
	p->icount = 0;
	while (*a) {
		const char *end = a;
		if (!strncmp(a, "reps=", 5)) {
			p->reps = (unsigned)strtou64(a + 5, &end);
		} else if (!strncmp(a, "mincycles=", 10)) {
			p->min_cycles = strtou64(a + 10, &end);
		} else if (!strncmp(a, "harness=empty", 13)) {
			p->marginal = 0;
			end = a + 13;
		} else if (!strncmp(a, "harness=marginal", 16)) {
			p->marginal = 1;
			end = a + 16;
		} else if (!strncmp(a, "icount=0", 8) || !strncmp(a, "icount=1", 8)) {
			p->icount = a[7] == '1';
			end = a + 8;
		} else if (!strncmp(a, "only=", 5)) {
			p->only = a + 5;
			end = p->only;
			while (*end && *end != ',')
				end++;
		}
		if (end == a || (*end && *end != ',')) {
			printf("nanobench: bad argument at '%s' (reps=N,mincycles=C,only=a+b,"
			       "harness=empty|marginal,icount=0|1)\n", a);
			return -1;
		}
		a = *end ? end + 1 : end;
	}
	if (p->reps < 1 || p->reps > BENCH_MAX_REPS) {
		printf("nanobench: reps must be 1..%d\n", BENCH_MAX_REPS);
		return -1;
	}
	if (p->only) {
		/* Every listed name must exist: a typo should not silently measure nothing. */
		for (const char *s = p->only; *s && *s != ',';) {
			const char *e = s;
			while (*e && *e != ',' && *e != '+')
				e++;
			int found = 0;
			for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
				if (strlen(ops[i].name) == (size_t)(e - s) &&
				    !strncmp(ops[i].name, s, (size_t)(e - s)))
					found = 1;
			if (!found) {
				printf("nanobench: no operation '%.*s' (only=)\n", (int)(e - s), s);
				return -1;
			}
			s = *e == '+' ? e + 1 : e;
		}
	}
	return 0;
}

/* ---- reporting ---- */

static void result_header(struct hv_result *r, uint32_t kind, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->magic = HV_RESULT_MAGIC;
	r->kind = kind;
	strlcpy(r->workload, "nanobench", sizeof(r->workload));
	strlcpy(r->name, name, sizeof(r->name));
}

static void report_samples(const char *name, const struct bench_sample *s, unsigned reps)
{
	struct hv_result r;

	for (unsigned i = 0; i < reps; i++) {
		result_header(&r, HV_RES_NANOBENCH, name);
		strlcpy(r.unit, "cycles", sizeof(r.unit));
		r.iters = s[i].iters;
		r.cycles = s[i].cycles;
		r.baseline = s[i].baseline;
		r.rep = i;
		report(&r);
	}
}

/* Hypercalls the kernel made per operation, over one more pass of HCALL_COUNT_N
 * operations (harness included: pgfault's unmap of its pages counts), so that the pv
 * flavour's cost is seen in calls as well as cycles (0 under the full flavour but for
 * the hypercall operation itself). */
#define HCALL_COUNT_N 64

/* Before the op's teardown (divzero's handler must still be there); returns the calls
 * made + 1, 0 when sysinfo failed. */
static uint64_t count_hypercalls(const struct nb_op *op)
{
	struct guest_sysinfo a, b;
	uint64_t c, base;

	if (sysinfo(&a) < 0)
		return 0;
	op->fn(HCALL_COUNT_N, &c, &base);
	if (sysinfo(&b) < 0)
		return 0;
	return b.hypercalls - a.hypercalls + 1;
}

/* Tenths of a cycle per operation. */
static uint64_t per_op_x10(uint64_t cycles, uint64_t iters)
{
	return iters ? cycles * 10 / iters : 0;
}

static void print_summary(const struct nb_op *op, const struct bench_sample *s, unsigned reps)
{
	uint64_t v[BENCH_MAX_REPS];

	for (unsigned i = 0; i < reps; i++)
		v[i] = per_op_x10(s[i].cycles, s[i].iters);
	for (unsigned i = 1; i < reps; i++)      /* insertion sort: reps is small */
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	uint64_t med = v[reps / 2];
	uint64_t khz = ustart->tsc_khz;
	uint64_t ns_x10 = khz ? med * 1000000 / khz : 0;
	uint64_t base = per_op_x10(s[0].baseline, s[0].iters);
	int user = op->where == AT_USER || (op->where == AT_PORT && port_cpl3());

	printf("nanobench: %-14s %6lu.%lu cycles/op", op->name, med / 10, med % 10);
	if (khz)
		printf(" %6lu.%lu ns", ns_x10 / 10, ns_x10 % 10);
	printf("  (median of %u; min %lu.%lu max %lu.%lu; %lu iters; harness %lu.%lu/op; %s)\n",
	       reps, v[0] / 10, v[0] % 10, v[reps - 1] / 10, v[reps - 1] % 10, s[0].iters,
	       base / 10, base % 10, user ? "CPL3" : "in the kernel");
}

/* ---- icount=1: instructions per operation ---- */

/* Sorts v[0..n) (n is small) and returns its median. */
static int64_t median_i64(int64_t *v, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[n / 2];
}

/* One operation counted with counter pmc: reps loops of n operations, each the loop's
 * count minus its harness's, as records metric of workload op->name; returns the median
 * count per operation, in tenths. A difference may be negative: an instruction that
 * faults does not retire (divzero's division, resumed after, runs one instruction
 * fewer than its harness in user mode). */
static int64_t count_op(const struct nb_op *op, uint32_t pmc, const char *metric,
			uint64_t n, unsigned reps)
{
	uint64_t c, b;
	int64_t x10[BENCH_MAX_REPS];

	clock_pmc = pmc;
	op->fn(1, &c, &b);                       /* first-time costs stay out */
	for (unsigned r = 0; r < reps; r++) {
		op->fn(n, &c, &b);
		int64_t d = (int64_t)(c - b);

		report_signed_ratio(op->name, metric, d, n, "insns", r);
		x10[r] = d * 10 / (int64_t)n;
	}
	clock_pmc = 0;
	return median_i64(x10, reps);
}

/* "-12.3" for tenths -123. */
static void print_x10(int64_t v)
{
	uint64_t m = v < 0 ? (uint64_t)-v : (uint64_t)v;

	printf("%s%lu.%lu", v < 0 ? "-" : "", m / 10, m % 10);
}

static int count_ops(const struct params *p)
{
	uint64_t v, err;
	int r = probe_rdpmc(HV_PMC_GUEST_INSNS_KERNEL, &v, &err);
	int failed = 0;

	if (r) {
		printf("nanobench: icount=1: this engine offers no guest instruction counter "
		       "(rdpmc %#x raised vector %d); skipped\n", HV_PMC_GUEST_INSNS_KERNEL, r - 1);
		report_info("nanobench", "icount", r == 14 ? "unavailable: rdpmc raised #GP" :
			    "unavailable: rdpmc faulted");
		return 77;
	}
	report_info("nanobench", "icount", "rdpmc 0x48560000, 0x48560001");
	printf("nanobench: icount=1: counting guest instructions per operation (kernel and "
	       "user mode), %u reps of up to %u operations; no cycles are reported\n", p->reps,
	       ICOUNT_ITERS);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct nb_op *op = &ops[i];
		uint64_t n = op->max_iters < ICOUNT_ITERS ? op->max_iters : ICOUNT_ITERS;

		if (p->only && !listed(p->only, op->name))
			continue;
		if (marginal && (op->fn == m_pgfault || op->fn == m_divzero))
			continue;
		if (op->setup && op->setup() < 0) {
			printf("nanobench: %s: setup failed, skipped\n", op->name);
			failed = 1;
			continue;
		}
		/* one operation first: a kernel operation may be refused or switched off, and
		 * then nothing of it is reported */
		uint64_t c0, b0;

		kop_error = 0;
		op->fn(1, &c0, &b0);
		if (kop_error) {
			if (op->teardown)
				op->teardown();
			if (kop_error == -GUEST_ENOSYS) {
				printf("nanobench: %s: switched off on this host (the kernel's command "
				       "line), skipped\n", op->name);
				report_info("nanobench", "switched_off", op->name);
			} else {
				printf("nanobench: %s: the kernel refused the operation (%ld), "
				       "skipped\n", op->name, kop_error);
				failed = 1;
			}
			continue;
		}
		int64_t k = count_op(op, HV_PMC_GUEST_INSNS_KERNEL, "guest_kernel_insns_per_op",
				     n, p->reps);
		int64_t u = count_op(op, HV_PMC_GUEST_INSNS_USER, "guest_user_insns_per_op", n,
				     p->reps);
		if (op->teardown)
			op->teardown();
		if (kop_error) {
			printf("nanobench: %s: the kernel refused the operation (%ld)\n", op->name,
			       kop_error);
			failed = 1;
			continue;
		}
		printf("nanobench: %-14s ", op->name);
		print_x10(k);
		printf(" kernel, ");
		print_x10(u);
		printf(" user instructions/op (median of %u; %lu ops per loop)\n", p->reps, n);
	}
	return failed;
}

int main(const char *args)
{
	struct params p;
	struct bench_sample samples[BENCH_MAX_REPS];

	if (parse_args(args, &p) < 0)
		return 1;
	marginal = p.marginal;
	printf("nanobench: %u reps, at least %lu cycles per run, TSC %lu kHz, gate %s, harness %s\n",
	       p.reps, p.min_cycles, ustart->tsc_khz,
	       ustart->gate == GUEST_GATE_UD2 ? "ud2" : "syscall",
	       marginal ? "marginal (each body twice against once)" : "empty loop");
	setup_ports();
	report_info("nanobench", "port_io", port_io);
	report_info("nanobench", "harness", marginal ? "marginal" : "empty");
	if (p.icount)
		return count_ops(&p);

	int failed = 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		const struct nb_op *op = &ops[i];
		if (p.only && !listed(p.only, op->name))
			continue;
		if (marginal && (op->fn == m_pgfault || op->fn == m_divzero)) {
			printf("nanobench: %s: harness=marginal does not apply (%s), skipped\n",
			       op->name, op->fn == m_pgfault ? "each body needs its own page" :
			       "the fault resumes at a fixed address");
			continue;
		}
		if (op->setup && op->setup() < 0) {
			printf("nanobench: %s: setup failed, skipped\n", op->name);
			failed = 1;
			continue;
		}
		kop_error = 0;
		bench_run(op->fn, op->max_iters, p.min_cycles, p.reps, samples);
		uint64_t hcalls = count_hypercalls(op);
		if (op->teardown)
			op->teardown();
		if (kop_error == -GUEST_ENOSYS) {
			/* switched off on the command line for this host (cr8wr=off) */
			printf("nanobench: %s: switched off on this host (the kernel's command line), "
			       "skipped\n", op->name);
			report_info("nanobench", "switched_off", op->name);
			continue;
		}
		if (kop_error) {
			printf("nanobench: %s: the kernel refused the operation (%ld), skipped\n",
			       op->name, kop_error);
			failed = 1;
			continue;
		}
		report_samples(op->name, samples, p.reps);
		if (hcalls)
			report_ratio(op->name, "hypercalls_per_op", hcalls - 1, HCALL_COUNT_N, "calls", 0);
		print_summary(op, samples, p.reps);
	}
	return failed;
}
