/* Host-native nanobenchmarks: each operation is a loop of iters operations between
 * hv_tsc_begin() and hv_tsc_end(); setup and clean-up (mmap, munmap, signal handlers)
 * stay outside the timed region. The loop overhead is removed by hv_native_measure,
 * which times an empty loop of the same iters. */
#include "native_ops.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/stats.h"

/* Loops are kept rolled, so the empty loop has the same shape as every timed loop
 * (clang unrolls small loops at -O2 otherwise). */
#define HVNAT_LOOP(i, n) _Pragma("GCC unroll 1") for (uint64_t i = 0; i < (n); i++)

/* The empty loop is timed this many times per repetition; the minimum is subtracted. */
#define EMPTY_LOOP_RUNS 3

static void set_why(char *why, size_t whylen, const char *fmt, ...) HV_FMT(3, 4);
static void set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* A run body has no error return (it returns cycles): it records a failure here, and
 * hv_native_measure reports it. */
static __thread char run_error[256];

static void run_fail(const char *fmt, ...) HV_FMT(1, 2);
static void run_fail(const char *fmt, ...)
{
	va_list ap;

	if (run_error[0])
		return;            /* keep the first failure */
	va_start(ap, fmt);
	vsnprintf(run_error, sizeof(run_error), fmt, ap);
	va_end(ap);
}

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (size_t)p : 4096;
}

/* ---- the loop-overhead reference ---- */

static uint64_t run_empty(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters)
		__asm__ volatile("" ::: "memory");
	return hv_tsc_end() - t0;
}

/* ---- syscall: getppid through the raw `syscall` instruction (no libc wrapper) ---- */

static uint64_t run_syscall(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters) {
		long ret = SYS_getppid;
		__asm__ volatile("syscall" : "+a"(ret) : : "rcx", "r11", "memory");
	}
	return hv_tsc_end() - t0;
}

/* ---- in: inb from port 0x80 at CPL3, allowed by the TSS I/O bitmap ---- */

static int setup_in(void **state, char *why, size_t whylen)
{
	*state = NULL;
	if (ioperm(0x80, 1, 1) == 0)
		return 0;
	if (errno == ENOSYS)
		set_why(why, whylen, "ioperm(0x80): not implemented by this kernel "
			"(built without CONFIG_X86_IOPL_IOPERM); no user-mode port I/O here");
	else if (errno == EPERM)
		set_why(why, whylen, "ioperm(0x80) refused: %s; needs root (CAP_SYS_RAWIO) "
			"and no kernel lockdown", strerror(errno));
	else
		set_why(why, whylen, "ioperm(0x80) failed: %s", strerror(errno));
	return -1;
}

static uint64_t run_in(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters) {
		uint8_t v;
		__asm__ volatile("inb $0x80, %0" : "=a"(v) : : "memory");
	}
	return hv_tsc_end() - t0;
}

static void teardown_in(void *state)
{
	(void)state;
	ioperm(0x80, 1, 0);
}

/* ---- callret: a direct call to a function the compiler cannot see into ---- */

/* Defined in assembly so it can be neither inlined nor merged: its whole body is `ret`. */
void hv_native_ret_fn(void) __attribute__((visibility("hidden")));
__asm__(".text\n"
	".p2align 4\n"
	".globl hv_native_ret_fn\n"
	".hidden hv_native_ret_fn\n"
	".type hv_native_ret_fn, @function\n"
	"hv_native_ret_fn:\n"
	"\tret\n"
	".size hv_native_ret_fn, .-hv_native_ret_fn\n");

static uint64_t run_callret(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters)
		hv_native_ret_fn();
	return hv_tsc_end() - t0;
}

/* ---- pgfault: first write to fresh anonymous 4 KiB pages ---- */

struct pgfault_state {
	size_t page;
};

static int setup_pgfault(void **state, char *why, size_t whylen)
{
	struct pgfault_state *s = calloc(1, sizeof(*s));

	if (!s) {
		set_why(why, whylen, "out of memory for pgfault state");
		return -1;
	}
	s->page = page_size();
	*state = s;
	return 0;
}

static uint64_t run_pgfault(void *state, uint64_t iters)
{
	struct pgfault_state *s = state;
	size_t len = (size_t)iters * s->page;
	uint64_t t0, t1;
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		run_fail("mmap of %zu bytes (%llu pages) for pgfault failed: %s", len,
			 (unsigned long long)iters, strerror(errno));
		return 0;
	}
	/* One fault per 4 KiB page: a transparent huge page would serve 512 touches with
	 * one fault. EINVAL means the kernel has no THP, which is just as good. */
	if (madvise(p, len, MADV_NOHUGEPAGE) != 0 && errno != EINVAL) {
		run_fail("madvise(MADV_NOHUGEPAGE) on the pgfault region failed: %s",
			 strerror(errno));
		munmap(p, len);
		return 0;
	}
	t0 = hv_tsc_begin();
	/* The store is written in asm so that a sanitizer build times the fault, not its
	 * shadow-memory checks. */
	HVNAT_LOOP(i, iters)
		__asm__ volatile("movb $1, (%0)" : : "r"(p + i * s->page) : "memory");
	t1 = hv_tsc_end();
	munmap(p, len);
	return t1 - t0;
}

/* ---- signal round trips: protfault (SIGSEGV) and divzero (SIGFPE) ----
 * The faulting instruction is fixed (register operands pinned by constraints) so the
 * handler can check its bytes at RIP and step over it. A signal that is not ours
 * restores the previous disposition and returns: the instruction faults again and
 * is handled as if we had never been installed (default action, or ASan's report). */

static const unsigned char store_insn[] = { 0xc6, 0x07, 0x01 };   /* movb $1, (%rdi) */
static const unsigned char div_insn[] = { 0xf7, 0xf1 };           /* divl %ecx */

static void *volatile prot_page;
static struct sigaction prev_segv, prev_fpe;
static volatile sig_atomic_t segv_installed, fpe_installed;

static int insn_at(const ucontext_t *uc, const unsigned char *insn, size_t len)
{
	const unsigned char *rip = (const unsigned char *)(uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

	for (size_t i = 0; i < len; i++)
		if (rip[i] != insn[i])
			return 0;
	return 1;
}

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	if (prot_page && si->si_addr == prot_page && insn_at(uc, store_insn, sizeof(store_insn))) {
		uc->uc_mcontext.gregs[REG_RIP] += sizeof(store_insn);
		return;
	}
	sigaction(sig, &prev_segv, NULL);
}

static void on_fpe(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	if (si->si_code == FPE_INTDIV && insn_at(uc, div_insn, sizeof(div_insn))) {
		uc->uc_mcontext.gregs[REG_RIP] += sizeof(div_insn);
		return;
	}
	sigaction(sig, &prev_fpe, NULL);
}

static int install(int sig, void (*fn)(int, siginfo_t *, void *), struct sigaction *prev,
		   char *why, size_t whylen)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, prev) != 0) {
		set_why(why, whylen, "sigaction(%s) failed: %s", strsignal(sig), strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_protfault(void **state, char *why, size_t whylen)
{
	void *p;

	*state = NULL;
	if (segv_installed) {
		set_why(why, whylen, "protfault is already set up (one instance at a time)");
		return -1;
	}
	p = mmap(NULL, page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		set_why(why, whylen, "mmap of one read-only page failed: %s", strerror(errno));
		return -1;
	}
	(void)*(volatile char *)p;      /* present, read-only: each write is a protection fault */
	prot_page = p;
	if (install(SIGSEGV, on_segv, &prev_segv, why, whylen) != 0) {
		prot_page = NULL;
		munmap(p, page_size());
		return -1;
	}
	segv_installed = 1;
	*state = p;
	return 0;
}

static uint64_t run_protfault(void *state, uint64_t iters)
{
	uint64_t t0;

	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters)
		__asm__ volatile("movb $1, (%%rdi)" : : "D"(state) : "memory");
	return hv_tsc_end() - t0;
}

static void teardown_protfault(void *state)
{
	if (segv_installed)
		sigaction(SIGSEGV, &prev_segv, NULL);
	segv_installed = 0;
	prot_page = NULL;
	if (state)
		munmap(state, page_size());
}

static int setup_divzero(void **state, char *why, size_t whylen)
{
	*state = NULL;
	if (fpe_installed) {
		set_why(why, whylen, "divzero is already set up (one instance at a time)");
		return -1;
	}
	if (install(SIGFPE, on_fpe, &prev_fpe, why, whylen) != 0)
		return -1;
	fpe_installed = 1;
	return 0;
}

static uint64_t run_divzero(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters) {
		uint32_t lo = 1, hi = 0;
		__asm__ volatile("divl %%ecx" : "+a"(lo), "+d"(hi) : "c"(0u) : "cc", "memory");
	}
	return hv_tsc_end() - t0;
}

static void teardown_divzero(void *state)
{
	(void)state;
	if (fpe_installed)
		sigaction(SIGFPE, &prev_fpe, NULL);
	fpe_installed = 0;
}

/* ---- ptemod: mprotect of one present page, alternating RW -> R and R -> RW.
 * Each mprotect call is one operation (a toggle pair is two). ---- */

struct ptemod_state {
	char *page;
	size_t len;
	int writable;
};

static int setup_ptemod(void **state, char *why, size_t whylen)
{
	struct ptemod_state *s = calloc(1, sizeof(*s));

	*state = NULL;
	if (!s) {
		set_why(why, whylen, "out of memory for ptemod state");
		return -1;
	}
	s->len = page_size();
	s->page = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->page == MAP_FAILED) {
		set_why(why, whylen, "mmap of one page failed: %s", strerror(errno));
		free(s);
		return -1;
	}
	s->page[0] = 1;                 /* present and dirty, so every mprotect edits its PTE */
	s->writable = 1;
	*state = s;
	return 0;
}

static uint64_t run_ptemod(void *state, uint64_t iters)
{
	struct ptemod_state *s = state;
	uint64_t t0, t1;
	int err = 0;

	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters) {
		s->writable = !s->writable;
		if (mprotect(s->page, s->len, s->writable ? PROT_READ | PROT_WRITE : PROT_READ)
		    != 0 && !err)
			err = errno;
	}
	t1 = hv_tsc_end();
	if (err)
		run_fail("mprotect of one page failed: %s", strerror(err));
	return t1 - t0;
}

static void teardown_ptemod(void *state)
{
	struct ptemod_state *s = state;

	if (!s)
		return;
	munmap(s->page, s->len);
	free(s);
}

/* ---- cpuid leaf 0 and rdtsc ---- */

static uint64_t run_cpuid(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters) {
		uint32_t a = 0, b, c = 0, d;
		__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
	}
	return hv_tsc_end() - t0;
}

static uint64_t run_rdtsc(void *state, uint64_t iters)
{
	uint64_t t0;

	(void)state;
	t0 = hv_tsc_begin();
	HVNAT_LOOP(i, iters) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	}
	return hv_tsc_end() - t0;
}

/* ---- the table ---- */

static const struct hv_native_op ops[] = {
	{ "syscall", "getppid via raw `syscall` insn", NULL, run_syscall, NULL, 0 },
	{ "in", "inb $0x80 at CPL3 after ioperm", setup_in, run_in, teardown_in, 0 },
	{ "callret", "call+ret of an asm `ret` function", NULL, run_callret, NULL, 0 },
	{ "pgfault", "1st write to fresh anon 4K page, no THP", setup_pgfault, run_pgfault,
	  free, 1u << 18 },
	{ "divzero", "divl by 0 -> SIGFPE, handler skips", setup_divzero, run_divzero,
	  teardown_divzero, 0 },
	{ "ptemod", "mprotect 1 page RW<->R (1 call = 1 op)", setup_ptemod, run_ptemod,
	  teardown_ptemod, 0 },
	{ "cpuid", "cpuid leaf 0", NULL, run_cpuid, NULL, 0 },
	{ "rdtsc", "rdtsc, unserialized", NULL, run_rdtsc, NULL, 0 },
	{ "protfault", "write R/O page -> SIGSEGV, handler skips", setup_protfault,
	  run_protfault, teardown_protfault, 0 },
};

const struct hv_native_op *hv_native_ops(size_t *n)
{
	*n = sizeof(ops) / sizeof(ops[0]);
	return ops;
}

const struct hv_native_op *hv_native_op_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, name) == 0)
			return &ops[i];
	return NULL;
}

const char *hv_native_absent_reason(const char *name)
{
	static const struct { const char *name, *why; } absent[] = {
		{ "cr8wr", "no native counterpart: CR8 (TPR) writes need CPL0" },
		{ "hypercall", "no native counterpart: there is no hypervisor to call" },
		{ "mmio", "no native counterpart: an MMIO exit exists only in a guest" },
		{ "ioeventfd", "no native counterpart: a KVM ioeventfd exists only in a guest" },
	};

	for (size_t i = 0; name && i < sizeof(absent) / sizeof(absent[0]); i++)
		if (strcmp(absent[i].name, name) == 0)
			return absent[i].why;
	return NULL;
}

/* ---- measurement ---- */

static uint64_t empty_loop_cycles(uint64_t iters)
{
	uint64_t best = UINT64_MAX;

	for (int k = 0; k < EMPTY_LOOP_RUNS; k++) {
		uint64_t c = run_empty(NULL, iters);
		if (c < best)
			best = c;
	}
	return best;
}

/* Runs op->run through hv_repeat_until from start iters; -1 with why on failure. */
static int timed_call(const struct hv_native_op *op, void *state, uint64_t start,
		      uint64_t min_cycles, uint64_t *iters, uint64_t *cycles, char *why,
		      size_t whylen)
{
	uint64_t max = op->max_iters ? op->max_iters : HV_NATIVE_MAX_ITERS;

	run_error[0] = '\0';
	if (hv_repeat_until(op->run, state, start, max, min_cycles, iters, cycles) != 0) {
		set_why(why, whylen, "%s: %s", op->name, run_error[0] ? run_error : hv_err_msg());
		return -1;
	}
	if (run_error[0]) {
		set_why(why, whylen, "%s: %s", op->name, run_error);
		return -1;
	}
	return 0;
}

int hv_native_begin(struct hv_native_session *s, const struct hv_native_op *op,
		    uint64_t min_cycles, char *why, size_t whylen)
{
	uint64_t cycles;

	if (why && whylen)
		why[0] = '\0';
	if (!s || !op || !op->run) {
		set_why(why, whylen, "hv_native_begin: needs a session and an op with a run body");
		return -1;
	}
	*s = (struct hv_native_session){ .op = op, .min_cycles = min_cycles };
	if (op->setup && op->setup(&s->state, why, whylen) != 0) {
		if (why && whylen && !why[0])
			set_why(why, whylen, "%s: setup failed without a reason", op->name);
		return -1;
	}
	/* Warm-up, discarded: finds the iters that take min_cycles and warms caches,
	 * TLB and the handler paths. */
	if (timed_call(op, s->state, 1, min_cycles, &s->start_iters, &cycles, why, whylen) != 0) {
		hv_native_end(s);
		return -1;
	}
	return 0;
}

int hv_native_rep(struct hv_native_session *s, double *cycles_per_op, uint64_t *iters,
		  char *why, size_t whylen)
{
	uint64_t n, cycles, empty;

	if (!s || !s->op || !cycles_per_op) {
		set_why(why, whylen, "hv_native_rep: the session is not open");
		return -1;
	}
	if (timed_call(s->op, s->state, s->start_iters, s->min_cycles, &n, &cycles, why,
		       whylen) != 0)
		return -1;
	empty = empty_loop_cycles(n);
	*cycles_per_op = ((double)cycles - (double)empty) / (double)n;
	if (iters)
		*iters = n;
	if (n > s->largest_iters)
		s->largest_iters = n;
	return 0;
}

void hv_native_end(struct hv_native_session *s)
{
	if (s && s->op && s->op->teardown)
		s->op->teardown(s->state);
	if (s) {
		s->op = NULL;
		s->state = NULL;
	}
}

int hv_native_measure(const struct hv_native_op *op, int reps, uint64_t min_cycles,
		      double *cycles_per_op, uint64_t *iters, char *why, size_t whylen)
{
	struct hv_native_session s;
	int rc = 0;

	if (why && whylen)
		why[0] = '\0';
	if (!op || reps < 1 || !cycles_per_op || !iters) {
		set_why(why, whylen, "hv_native_measure: needs an op, reps >= 1 (got %d) and "
			"output arrays", reps);
		return -1;
	}
	if (hv_native_begin(&s, op, min_cycles, why, whylen) != 0)
		return -1;
	for (int r = 0; rc == 0 && r < reps; r++)
		rc = hv_native_rep(&s, &cycles_per_op[r], NULL, why, whylen);
	if (rc == 0)
		*iters = s.largest_iters;
	hv_native_end(&s);
	return rc;
}
