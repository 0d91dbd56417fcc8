/* linuxbench: the Linux guest's workload program, an lmbench-style set of operations
 * timed with the TSC, run both inside a Linux guest (from the initramfs's init) and
 * natively on the host, so that the two give like-with-like rows. Every result is one
 * `@hvr` line on stdout (guest/README.md, "Result records on the console"), which hvm,
 * the QEMU peer and `hvpeer parse` turn into rows.
 *
 *   linuxbench [ARGS]        ARGS: key=value,... (below); also from $HVLAB_ARGS
 *
 *   reps=N        timed runs per operation (default 5)
 *   mincycles=C   each run lasts at least C TSC cycles (default 2^24)
 *   only=a+b      these operations only (default: all)
 *   exit=1        write the exit status to hvlab's exit port 0x501 at the end (in a
 *                 guest: hvm stops, QEMU's isa-debug-exit too); needs port access
 *
 * Operations (cycles per operation; nanobench records with the empty loop as baseline):
 * getppid (a null system call), forkwait (fork, the child exits, the parent waits),
 * forkexec (the same with an exec of this program), pgfault (the first write to a new
 * anonymous page), mprotect (one mprotect of a page), ctxswitch (one round trip of a
 * byte through two pipes between two processes on one CPU), compute (per byte) and
 * memwalk (per hop) from the small kernel's own workload source, with their checksums
 * as value records. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <x86intrin.h>

#include "guest/work.h"

#define WORKLOAD "linuxbench"
#define EXIT_PORT 0x501
#define ITERS_MAX (1ull << 24)

struct opts {
	unsigned reps;
	uint64_t mincycles;
	char only[256];
	int exit_port;
};

static const char *self_path = "/proc/self/exe";

static uint64_t tsc(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);

	_mm_lfence();
	return t;
}

/* One line per write(2): forked children never inherit half a buffered line. */
static void out(const char *line)
{
	size_t n = strlen(line);

	while (n) {
		ssize_t w = write(1, line, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		line += w;
		n -= (size_t)w;
	}
}

/* A value escaped as the @hvr format wants: space, %, = and non-printables as %XX. */
static void escape(char *dst, size_t cap, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *v && o + 4 < cap; v++) {
		unsigned char c = (unsigned char)*v;

		if (c <= ' ' || c == '%' || c == '=' || c > '~') {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
}

static void rec_info(const char *name, const char *value)
{
	char v[160], line[256];

	escape(v, sizeof(v), value);
	snprintf(line, sizeof(line), "@hvr kind=info workload=" WORKLOAD " name=%s value=%s\n",
		 name, v);
	out(line);
}

static void rec_value(const char *name, uint64_t value, const char *unit)
{
	char line[256];

	snprintf(line, sizeof(line), "@hvr kind=value workload=" WORKLOAD " name=%s value=%llu "
		 "unit=%s rep=0 vcpu=0\n", name, (unsigned long long)value, unit);
	out(line);
}

static void rec_nb(const char *name, uint64_t iters, uint64_t cycles, uint64_t base,
		   unsigned rep)
{
	char line[256];

	snprintf(line, sizeof(line), "@hvr kind=nanobench workload=" WORKLOAD " name=%s "
		 "iters=%llu cycles=%llu baseline=%llu unit=cycles rep=%u vcpu=0\n", name,
		 (unsigned long long)iters, (unsigned long long)cycles,
		 (unsigned long long)base, rep);
	out(line);
}

static void die(const char *what)
{
	char line[200];

	snprintf(line, sizeof(line), "linuxbench: %s: %s\n", what, strerror(errno));
	out(line);
	exit(1);
}

/* ---- the operations: each runs n of itself ---- */

static void op_getppid(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		syscall(SYS_getppid);
}

static void wait_child(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		die("a child did not exit 0");
}

static void op_forkwait(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		wait_child(pid);
	}
}

static void op_forkexec(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			char *argv[] = { "linuxbench", "--exit0", NULL };
			char *envp[] = { NULL };

			execve(self_path, argv, envp);
			_exit(127);
		}
		wait_child(pid);
	}
}

/* pgfault and mprotect time their own loops (set-up and tear-down are left out). */
static uint64_t time_pgfault(uint64_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, n * (uint64_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t t0, t1;

	if (p == MAP_FAILED)
		die("mmap");
	t0 = tsc();
	for (uint64_t i = 0; i < n; i++)
		p[i * (uint64_t)page] = 1;
	t1 = tsc();
	munmap(p, n * (uint64_t)page);
	return t1 - t0;
}

static uint64_t time_mprotect(uint64_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t t0, t1;

	if (p == MAP_FAILED)
		die("mmap");
	p[0] = 1;
	t0 = tsc();
	for (uint64_t i = 0; i < n; i++)
		if (mprotect(p, (size_t)page, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ))
			die("mprotect");
	t1 = tsc();
	munmap(p, (size_t)page);
	return t1 - t0;
}

/* Both processes on the CPU the parent is on, so each round trip is two switches. */
static uint64_t time_ctxswitch(uint64_t n)
{
	int a[2], b[2];
	char c = 0;
	uint64_t t0, t1;
	cpu_set_t one;
	pid_t pid;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	if (pipe(a) || pipe(b))
		die("pipe");
	sched_setaffinity(0, sizeof(one), &one);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (uint64_t i = 0; i < n; i++)
			if (read(a[0], &c, 1) != 1 || write(b[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	t0 = tsc();
	for (uint64_t i = 0; i < n; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			die("pipe round trip");
	t1 = tsc();
	wait_child(pid);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
	return t1 - t0;
}

static void op_empty(uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
}

/* Cycles of n operations: a loop op times around itself, or run times itself. */
static uint64_t time_loop(void (*loop)(uint64_t), uint64_t n)
{
	uint64_t t0 = tsc();

	loop(n);
	return tsc() - t0;
}

struct op {
	const char *name;
	void (*loop)(uint64_t);          /* timed from outside */
	uint64_t (*timed)(uint64_t);     /* times itself */
	uint64_t max_iters;              /* fork, exec and page faults are bounded */
};

static const struct op ops[] = {
	{ "getppid", op_getppid, NULL, ITERS_MAX },
	{ "forkwait", op_forkwait, NULL, 4096 },
	{ "forkexec", op_forkexec, NULL, 1024 },
	{ "pgfault", NULL, time_pgfault, 1 << 16 },
	{ "mprotect", NULL, time_mprotect, ITERS_MAX },
	{ "ctxswitch", NULL, time_ctxswitch, 1 << 20 },
};

static uint64_t run_op(const struct op *o, uint64_t n)
{
	return o->timed ? o->timed(n) : time_loop(o->loop, n);
}

static int wanted(const struct opts *o, const char *name)
{
	size_t n = strlen(name);

	if (!o->only[0])
		return 1;
	for (const char *p = o->only; (p = strstr(p, name)); p += n)
		if ((p == o->only || p[-1] == '+') && (p[n] == '\0' || p[n] == '+'))
			return 1;
	return 0;
}

/* kvm-unit-tests style: the count doubles until a run lasts mincycles, then reps runs. */
static void measure(const struct opts *o, const struct op *op)
{
	uint64_t n = 1;

	while (run_op(op, n) < o->mincycles && n < op->max_iters)
		n *= 2;
	for (unsigned r = 0; r < o->reps; r++) {
		uint64_t c = run_op(op, n), base = time_loop(op_empty, n);

		rec_nb(op->name, n, c > base ? c - base : 0, base, r);
	}
}

static void workloads(const struct opts *o)
{
	if (wanted(o, "compute")) {
		struct compute_params p;
		uint8_t *buf;

		compute_defaults(&p);
		p.rounds = 16;
		buf = malloc(p.size);
		if (!buf)
			die("malloc");
		compute_fill(buf, p.size, p.seed);
		for (unsigned r = 0; r < o->reps; r++) {
			uint64_t t0 = tsc();
			uint32_t sum = compute_run(buf, p.size, p.rounds);

			rec_nb("compute", p.size * p.rounds, tsc() - t0, 0, r);
			if (r == 0)
				rec_value("compute_checksum", sum, "-");
		}
		free(buf);
	}
	if (wanted(o, "memwalk")) {
		struct memwalk_params p;
		uint64_t *buf;

		memwalk_defaults(&p);
		p.ws = 16 << 20;
		p.steps = 1 << 20;
		buf = malloc(p.ws);
		if (!buf)
			die("malloc");
		memwalk_build(buf, p.ws, p.seed);
		for (unsigned r = 0; r < o->reps; r++) {
			uint64_t t0 = tsc();
			uint32_t sum = memwalk_run(buf, p.steps);

			rec_nb("memwalk", p.steps, tsc() - t0, 0, r);
			if (r == 0)
				rec_value("memwalk_checksum", sum, "-");
		}
		free(buf);
	}
}

static int parse(const char *args, struct opts *o)
{
	char buf[512], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", args);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(w, '=');

		if (!eq)
			goto bad;
		*eq++ = '\0';
		if (!strcmp(w, "reps"))
			o->reps = (unsigned)strtoul(eq, NULL, 0);
		else if (!strcmp(w, "mincycles"))
			o->mincycles = strtoull(eq, NULL, 0);
		else if (!strcmp(w, "only"))
			snprintf(o->only, sizeof(o->only), "%s", eq);
		else if (!strcmp(w, "exit"))
			o->exit_port = atoi(eq);
		else
			goto bad;
		continue;
bad:
		fprintf(stderr, "linuxbench: '%s' is not reps=N, mincycles=C, only=a+b or exit=1\n", w);
		return -1;
	}
	if (o->reps == 0 || o->reps > 1000 || o->mincycles == 0) {
		fprintf(stderr, "linuxbench: reps is 1-1000 and mincycles above 0\n");
		return -1;
	}
	return 0;
}

static void finish(const struct opts *o, int status)
{
	if (o->exit_port && ioperm(EXIT_PORT, 4, 1) == 0)
		outl((unsigned)status, EXIT_PORT);
	exit(status);
}

int main(int argc, char **argv)
{
	struct opts o = { .reps = 5, .mincycles = 1ull << 24 };
	const char *env = getenv("HVLAB_ARGS");
	struct utsname u;
	char what[200];

	if (argc > 1 && !strcmp(argv[1], "--exit0"))
		return 0;                        /* forkexec's child */
	if ((env && *env && parse(env, &o)) || (argc > 1 && parse(argv[1], &o)))
		return 2;
	uname(&u);
	snprintf(what, sizeof(what), "%s %s", u.sysname, u.release);
	rec_info("init", what);                  /* the end of a guest's boot */
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (wanted(&o, ops[i].name))
			measure(&o, &ops[i]);
	workloads(&o);
	rec_info("done", "all operations measured");
	finish(&o, 0);
	return 0;
}
