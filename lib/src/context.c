/* The context block: where, when, on what and from what source a result was made.
 * Every text field is filled: either the fact or "unavailable: <reason>". */
#include <errno.h>
#include <hwloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvlab/context.h"
#include "hvlab/err.h"
#include "hvlab/json.h"
#include "hvlab/papi.h"
#include "hvlab/tsc.h"

#ifndef HVLAB_CC
#define HVLAB_CC "unavailable: built without HVLAB_CC (use the hvlab Makefile)"
#endif
#ifndef HVLAB_CFLAGS
#define HVLAB_CFLAGS "unavailable: built without HVLAB_CFLAGS (use the hvlab Makefile)"
#endif
#ifndef HVLAB_SRCDIR
#define HVLAB_SRCDIR ""
#endif

/* snprintf into a fixed field; truncating a long fact is intended, not an error. */
static int setf(char *dst, size_t size, const char *fmt, ...) HV_FMT(3, 4);
static int setf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	return n < 0 ? 0 : n;
}

#define SET(field, ...) setf(field, sizeof(field), __VA_ARGS__)

static void collect_date(struct hv_context *c)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
	    !strftime(c->date, sizeof(c->date), "%Y-%m-%dT%H:%M:%SZ", &tm))
		SET(c->date, "unavailable: time(): %s", strerror(errno));
}

static void collect_host(struct hv_context *c)
{
	if (gethostname(c->host, sizeof(c->host)) || !c->host[0])
		SET(c->host, "unavailable: gethostname: %s", strerror(errno));
	c->host[sizeof(c->host) - 1] = 0;
}

static void collect_cpu_model(struct hv_context *c)
{
	/* "model name" on x86; other architectures name it differently. */
	static const char *const keys[] = { "model name", "Processor", "cpu model", "cpu" };
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	if (!f) {
		SET(c->cpu_model, "unavailable: /proc/cpuinfo: %s", strerror(errno));
		return;
	}
	c->cpu_model[0] = 0;
	while (!c->cpu_model[0] && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t kl = strlen(keys[k]);
			if (!strncmp(line, keys[k], kl) && strspn(line + kl, " \t") ==
			    (size_t)(colon - line - (long)kl)) {
				char *v = colon + 1 + strspn(colon + 1, " \t");
				v[strcspn(v, "\n")] = 0;
				if (*v)
					SET(c->cpu_model, "%s", v);
				break;
			}
		}
	}
	fclose(f);
	if (!c->cpu_model[0])
		SET(c->cpu_model, "unavailable: no model name in /proc/cpuinfo");
}

/* Appends "<size> x<count>" for each cache level, e.g. "L1d 32KiB x2". */
static void format_size(char *buf, size_t n, unsigned long long bytes)
{
	if (bytes >= (1ull << 20) && bytes % (1ull << 20) == 0)
		setf(buf, n, "%lluMiB", bytes >> 20);
	else if (bytes >= 1024 && bytes % 1024 == 0)
		setf(buf, n, "%lluKiB", bytes >> 10);
	else
		setf(buf, n, "%lluB", bytes);
}

static void collect_topology(struct hv_context *c)
{
	static const struct { hwloc_obj_type_t type; const char *name; } caches[] = {
		{ HWLOC_OBJ_L1CACHE, "L1d" }, { HWLOC_OBJ_L1ICACHE, "L1i" },
		{ HWLOC_OBJ_L2CACHE, "L2" }, { HWLOC_OBJ_L3CACHE, "L3" },
		{ HWLOC_OBJ_L4CACHE, "L4" },
	};
	hwloc_topology_t t;
	size_t len = 0;

	c->cores = c->threads = 0;
	if (hwloc_topology_init(&t)) {
		SET(c->caches, "unavailable: hwloc_topology_init failed");
		return;
	}
	/* Instruction caches are filtered out by default. */
	hwloc_topology_set_icache_types_filter(t, HWLOC_TYPE_FILTER_KEEP_ALL);
	if (hwloc_topology_load(t)) {
		SET(c->caches, "unavailable: hwloc_topology_load: %s", strerror(errno));
		hwloc_topology_destroy(t);
		return;
	}
	c->cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
	c->threads = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
	c->caches[0] = 0;
	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		int n = hwloc_get_nbobjs_by_type(t, caches[i].type);
		hwloc_obj_t o;
		char size[32];

		if (n <= 0)
			continue;
		o = hwloc_get_obj_by_type(t, caches[i].type, 0);
		if (!o || !o->attr)
			continue;
		format_size(size, sizeof(size), (unsigned long long)o->attr->cache.size);
		len += (size_t)setf(c->caches + len, len < sizeof(c->caches) ?
					sizeof(c->caches) - len : 0, "%s%s %s x%d",
					len ? ", " : "", caches[i].name, size, n);
		if (len >= sizeof(c->caches))
			break;
	}
	if (!c->caches[0])
		SET(c->caches, "unavailable: hwloc reports no caches");
	hwloc_topology_destroy(t);
}

static void collect_kernel(struct hv_context *c)
{
	struct utsname u;

	if (uname(&u))
		SET(c->kernel, "unavailable: uname: %s", strerror(errno));
	else
		SET(c->kernel, "%s %s %s", u.sysname, u.release, u.version);
}

/* Runs cmd through the shell, collecting its first output line; returns the exit
 * status, or -1 with errno set when it could not be run or waited for (a caller that
 * ignores SIGCHLD makes pclose fail with ECHILD). */
static int run_line(const char *cmd, char *out, size_t size, int *any_output)
{
	FILE *p = popen(cmd, "r");
	char buf[512];
	int st;

	out[0] = 0;
	*any_output = 0;
	if (!p)
		return -1;
	while (fgets(buf, sizeof(buf), p)) {
		if (!*any_output) {
			buf[strcspn(buf, "\n")] = 0;
			setf(out, size, "%s", buf);
		}
		*any_output = 1;
	}
	st = pclose(p);
	if (st == -1)
		return -1;
	if (!WIFEXITED(st)) {
		errno = EINTR;
		return -1;
	}
	return WEXITSTATUS(st);
}

/* Single-quotes s for the shell when it holds anything but safe characters. */
static size_t shell_quote(char *out, size_t size, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_@%+=:,./-";
	size_t n = 0;

#define PUT(ch) do { if (n + 1 < size) out[n] = (ch); n++; } while (0)
	if (*s && strspn(s, safe) == strlen(s)) {
		for (; *s; s++)
			PUT(*s);
	} else {
		PUT('\'');
		for (; *s; s++) {
			if (*s == '\'') {
				PUT('\''); PUT('\\'); PUT('\''); PUT('\'');
			} else {
				PUT(*s);
			}
		}
		PUT('\'');
	}
#undef PUT
	if (size)
		out[n < size ? n : size - 1] = 0;
	return n;
}

static void collect_git(struct hv_context *c)
{
	const char *src = HVLAB_SRCDIR;
	char qsrc[1024], cmd[1200], line[256];
	int rc, any;

	c->git_dirty = -1;
	if (!src[0]) {
		SET(c->git_commit, "unavailable: built without HVLAB_SRCDIR");
		return;
	}
	if (shell_quote(qsrc, sizeof(qsrc), src) >= sizeof(qsrc)) {
		SET(c->git_commit, "unavailable: source path too long");
		return;
	}
	setf(cmd, sizeof(cmd), "git -C %s rev-parse --verify -q HEAD 2>&1", qsrc);
	rc = run_line(cmd, line, sizeof(line), &any);
	if (rc == 0 && strlen(line) >= 40 && strspn(line, "0123456789abcdef") == strlen(line)) {
		SET(c->git_commit, "%s", line);
	} else if (rc == -1) {
		SET(c->git_commit, "unavailable: could not run git: %s", strerror(errno));
	} else if (rc == 127) {
		SET(c->git_commit, "unavailable: git not found (install git)");
	} else if (rc == 1 && !any) {
		/* --verify -q: HEAD does not resolve, i.e. a repository without commits. */
		SET(c->git_commit, "unavailable: no commits yet");
	} else if (strstr(line, "not a git repository")) {
		SET(c->git_commit, "unavailable: source tree is not a git repository");
	} else if (strstr(line, "cannot change to")) {
		SET(c->git_commit, "unavailable: source tree is gone");
	} else if (strstr(line, "dubious ownership")) {
		SET(c->git_commit, "unavailable: git: dubious ownership (safe.directory)");
	} else {
		const char *msg = strncmp(line, "fatal: ", 7) ? line : line + 7;
		SET(c->git_commit, "unavailable: %s", *msg ? msg : "git rev-parse HEAD failed");
	}
	if (rc == 127 || rc == -1)
		return;
	setf(cmd, sizeof(cmd), "git -C %s status --porcelain 2>/dev/null", qsrc);
	rc = run_line(cmd, line, sizeof(line), &any);
	if (rc == 0)
		c->git_dirty = any;
}

static void collect_command(struct hv_context *c, int argc, char **argv)
{
	size_t len = 0, size = sizeof(c->command);
	static const char more[] = " [truncated]";

	if (argc <= 0 || !argv) {
		SET(c->command, "unavailable: no command line given");
		return;
	}
	c->command[0] = 0;
	for (int i = 0; i < argc && argv[i]; i++) {
		if (i && len + 1 < size)
			c->command[len] = ' ';
		if (i)
			len++;
		len += shell_quote(len < size ? c->command + len : c->command + size - 1,
				   len < size ? size - len : 1, argv[i]);
	}
	if (len >= size)
		memcpy(c->command + size - sizeof(more), more, sizeof(more));
	else
		c->command[len] = 0;
}

static void collect_tsc(struct hv_context *c)
{
	struct hv_tsc t;

	if (hv_tsc_init(&t)) {
		c->tsc_hz = 0;
		c->tsc_overhead = 0;
		c->tsc_invariant = -1;
		SET(c->tsc_source, "unavailable: calibration failed");
		return;
	}
	c->tsc_hz = t.hz;
	c->tsc_overhead = t.overhead;
	c->tsc_invariant = t.invariant;
	SET(c->tsc_source, "%s", t.source);
}

static void collect_papi(struct hv_context *c)
{
	struct hv_papi p;
	size_t len;

	hv_papi_open(&p);
	if (!p.available) {
		SET(c->papi, "unavailable: %s", p.why);
	} else {
		len = (size_t)SET(c->papi, "available: %d counters", p.nevents);
		for (int i = 0; i < p.nevents && len < sizeof(c->papi); i++)
			len += (size_t)setf(c->papi + len, sizeof(c->papi) - len, "%s%s",
						i ? ", " : " (", p.names[i]);
		if (len < sizeof(c->papi))
			setf(c->papi + len, sizeof(c->papi) - len, ")%s%s",
				 p.why[0] ? "; " : "", p.why);
	}
	hv_papi_close(&p);
}

static void collect_freq(struct hv_context *c)
{
	const char *path = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor";
	FILE *f = fopen(path, "r");
	char gov[64];

	if (!f) {
		SET(c->freq_scaling, "unavailable: %s: %s (no cpufreq driver)", path,
		    strerror(errno));
		return;
	}
	if (fgets(gov, sizeof(gov), f)) {
		gov[strcspn(gov, "\n")] = 0;
		SET(c->freq_scaling, "%s", gov[0] ? gov : "unavailable: empty governor");
	} else {
		SET(c->freq_scaling, "unavailable: %s is empty", path);
	}
	fclose(f);
}

int hv_context_begin(struct hv_context *c, int argc, char **argv, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	collect_date(c);
	collect_command(c, argc, argv);
	c->seed = seed;
	SET(c->measured_on, "this host");
	return 0;
}

void hv_context_measured_elsewhere(struct hv_context *c, const char *why)
{
	SET(c->measured_on, "elsewhere: %s", why);
}

static int elsewhere(const struct hv_context *c)
{
	return !strncmp(c->measured_on, "elsewhere", 9);
}

/* Every field that describes the measuring host, for results measured elsewhere. */
static void host_unavailable(struct hv_context *c)
{
	static const char why[] = "unavailable: measured on another host (see measured_on)";
	static const char brief[] = "unavailable: measured elsewhere";   /* fits kvm's 32 */

	SET(c->host, "%s", why);
	SET(c->cpu_model, "%s", why);
	SET(c->caches, "%s", why);
	SET(c->kernel, "%s", why);
	c->host_vm.is_vm = -1;
	c->host_vm.cpuid_bit = -1;
	SET(c->host_vm.cpuid_vendor, "%s", why);
	SET(c->host_vm.dmi, "%s", why);
	SET(c->host_vm.how, "%s", why);
	SET(c->kvm.flavour, "%s", brief);
	SET(c->kvm.paging, "%s", brief);
	SET(c->kvm.why, "%s", why);
	c->tsc_invariant = -1;
	SET(c->tsc_source, "%s", why);
	SET(c->papi, "%s", why);
	SET(c->freq_scaling, "%s", why);
}

int hv_context_finish(struct hv_context *c)
{
	if (elsewhere(c)) {
		host_unavailable(c);
	} else {
		collect_host(c);
		collect_cpu_model(c);
		collect_topology(c);
		collect_kernel(c);
		hv_host_vm_detect(&c->host_vm, "/sys");
		hv_kvm_detect_on(&c->kvm, "/sys", "/dev/kvm", &c->host_vm);
		collect_tsc(c);
		collect_papi(c);
		collect_freq(c);
	}
	SET(c->compiler, "%s", HVLAB_CC[0] ? HVLAB_CC : "unavailable: compiler unknown");
	SET(c->cflags, "%s", HVLAB_CFLAGS);
	collect_git(c);
	return 0;
}

int hv_context_collect(struct hv_context *c, int argc, char **argv, uint64_t seed)
{
	hv_context_begin(c, argc, argv, seed);
	return hv_context_finish(c);
}

/* A boolean that may be unknown (-1: null). */
static void json_tristate(struct hv_json *j, const char *key, int v)
{
	hv_json_key(j, key);
	if (v < 0)
		hv_json_null(j);
	else
		hv_json_bool(j, v);
}

void hv_context_json(const struct hv_context *c, struct hv_json *j)
{
	int away = elsewhere(c);

	hv_json_obj_begin(j);
	hv_json_kv_str(j, "date", c->date);
	hv_json_kv_str(j, "measured_on", c->measured_on);
	hv_json_kv_str(j, "host", c->host);
	hv_json_kv_str(j, "cpu_model", c->cpu_model);
	if (away) {
		hv_json_key(j, "cores");
		hv_json_null(j);
		hv_json_key(j, "threads");
		hv_json_null(j);
	} else {
		hv_json_kv_int(j, "cores", c->cores);
		hv_json_kv_int(j, "threads", c->threads);
	}
	hv_json_kv_str(j, "caches", c->caches);
	hv_json_kv_str(j, "kernel", c->kernel);
	hv_json_key(j, "host_vm");
	hv_json_obj_begin(j);
	json_tristate(j, "is_vm", c->host_vm.is_vm);
	hv_json_kv_str(j, "how", c->host_vm.how);
	json_tristate(j, "cpuid_hypervisor_bit", c->host_vm.cpuid_bit);
	hv_json_kv_str(j, "cpuid_vendor", c->host_vm.cpuid_vendor);
	hv_json_kv_str(j, "dmi", c->host_vm.dmi);
	hv_json_obj_end(j);
	hv_json_key(j, "kvm");
	hv_json_obj_begin(j);
	json_tristate(j, "present", away ? -1 : c->kvm.present);
	json_tristate(j, "usable", away ? -1 : c->kvm.usable);
	json_tristate(j, "nested", away ? -1 : c->kvm.nested);
	hv_json_kv_str(j, "flavour", c->kvm.flavour);
	hv_json_kv_str(j, "paging", c->kvm.paging);
	hv_json_kv_str(j, "why", c->kvm.why);
	hv_json_obj_end(j);
	json_tristate(j, "user_fsgsbase", away ? -1 : hv_host_user_fsgsbase());
	hv_json_key(j, "tsc_hz");
	if (c->tsc_hz > 0)
		hv_json_num(j, c->tsc_hz);
	else
		hv_json_null(j);
	hv_json_kv_str(j, "tsc_source", c->tsc_source);
	hv_json_key(j, "tsc_overhead_cycles");
	if (away)
		hv_json_null(j);
	else
		hv_json_num(j, c->tsc_overhead);
	hv_json_key(j, "tsc_invariant");
	if (c->tsc_invariant < 0)
		hv_json_null(j);
	else
		hv_json_bool(j, c->tsc_invariant);
	hv_json_kv_str(j, "compiler", c->compiler);
	hv_json_kv_str(j, "cflags", c->cflags);
	hv_json_kv_str(j, "git_commit", c->git_commit);
	hv_json_key(j, "git_dirty");
	if (c->git_dirty < 0)
		hv_json_null(j);
	else
		hv_json_bool(j, c->git_dirty);
	hv_json_kv_str(j, "command", c->command);
	/* A string: a 64-bit seed does not survive a JSON reader's doubles. */
	{
		char seed[24];
		snprintf(seed, sizeof(seed), "%llu", (unsigned long long)c->seed);
		hv_json_kv_str(j, "seed", seed);
	}
	hv_json_kv_str(j, "papi", c->papi);
	hv_json_kv_str(j, "freq_scaling", c->freq_scaling);
	if (c->guest_record_budget)
		hv_json_kv_int(j, "guest_record_budget", (int64_t)c->guest_record_budget);
	hv_json_obj_end(j);
}
