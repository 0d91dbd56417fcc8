/* `hvm run` option parsing. Options take their value as `--opt VALUE` or `--opt=VALUE`;
 * each may be given once; anything unknown or malformed is refused by name. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/hvm_cli.h"
#include "hvlab/record.h"

enum opt_id {
	OPT_ENGINE, OPT_WORKLOAD, OPT_VCPUS, OPT_MEM, OPT_TIMEOUT, OPT_OUT, OPT_KERNEL,
	OPT_CMDLINE, OPT_REPS, OPT_PIN, OPT_BT_GS, OPT_BT_ADAPTIVE, OPT_BT_TRACE, OPT_MAX_RECORDS, OPT_DISK, OPT_DISK_SIZE,
	OPT_DISK_DIRECT, OPT_SPIN_THRESHOLD, OPT_INITRD, OPT_HELP, OPT_NR
};

struct opt_desc {
	const char *name;
	int has_value;
	const char *arg, *help;
};

static const struct opt_desc opts[OPT_NR] = {
	[OPT_ENGINE] = { "--engine", 1, "NAME", "CPU/memory virtualization engine: hw (KVM) or bt (binary translator) (default hw)" },
	[OPT_WORKLOAD] = { "--workload", 1, "NAME[:ARGS]", "guest workload, e.g. nanobench; ARGS reach the guest as wargs=ARGS (required)" },
	[OPT_VCPUS] = { "--vcpus", 1, "N", "vCPUs, 1-16, each a host thread; more than the host has is allowed (default 1)" },
	[OPT_MEM] = { "--mem", 1, "SIZE", "guest memory, 16M-2G in 2 MiB steps, e.g. 64M, 1G (default 256M)" },
	[OPT_TIMEOUT] = { "--timeout", 1, "S", "watchdog: stop the guest after S seconds (default 60)" },
	[OPT_OUT] = { "--out", 1, "DIR", "run directory (default results/runs/<experiment>-<date>-<pid>)" },
	[OPT_KERNEL] = { "--kernel", 1, "FILE", "guest kernel: hvlab's ELF image (default: the built one, ../guest/kernel.elf next to bin/) or a Linux bzImage, told apart by its header" },
	[OPT_CMDLINE] = { "--cmdline", 1, "STR", "extra guest command-line words, appended (a Linux guest's too)" },
	[OPT_REPS] = { "--reps", 1, "N", "repetitions of the native baseline, 1-1000 (default: as many as the guest made, at least 3; the guest's own count is a workload argument, e.g. nanobench:reps=9)" },
	[OPT_PIN] = { "--pin", 1, "CPULIST", "pin every vCPU thread to these host CPUs, e.g. 0, 0-1, 0,2 (default: not pinned)" },
	[OPT_BT_GS] = { "--bt-gs", 1, "HOW", "bt: how the translator sets GS: wrgsbase (user-mode FSGSBASE) or arch_prctl at each CPL change, or shared (one GS base for both CPLs); auto: wrgsbase where the host has it, else shared (default auto, or HVLAB_BT_GS)" },
	[OPT_BT_ADAPTIVE] = { "--bt-adaptive", 1, "on|off", "bt: adaptive translation, instructions that trap often become call-outs (default on)" },
	[OPT_BT_TRACE] = { "--bt-trace", 1, "FILE", "bt: write the guest's page-table trace (CR3 loads, page-table writes, faults, page touches) to FILE in ptwalk-sim's format (experiments/shadow-vs-ept/sim)" },
	[OPT_MAX_RECORDS] = { "--max-records", 1, "N", "result records the guest may send; one more stops it as misbehaving (exit 3) (default 100000)" },
	[OPT_DISK] = { "--disk", 1, "FILE", "the block device's host file, created sparse if absent (default: a sparse temporary file in the run directory, removed at the end)" },
	[OPT_DISK_SIZE] = { "--disk-size", 1, "SIZE", "the disk's size, e.g. 64M; a regular file is extended sparsely to it (default: the file's size, 64M for a new one)" },
	[OPT_DISK_DIRECT] = { "--disk-direct", 0, NULL, "open the disk file with O_DIRECT (no host page cache)" },
	[OPT_SPIN_THRESHOLD] = { "--spin-threshold", 1, "N", "spins a guest lock waiter makes before it tells the VMM (spinlock=pv-yield, pv-halt), advertised in CPUID leaf 0x40000104 EBX as Hyper-V's 0x40000004 EBX; 1-4294967295 (default 32768, Linux's SPIN_THRESHOLD; the guest's spinthreshold= overrides it)" },
	[OPT_INITRD] = { "--initrd", 1, "FILE", "a Linux guest's initrd (newc cpio, or compressed); only with a bzImage --kernel" },
	[OPT_HELP] = { "--help", 0, NULL, "this text" },
};

void hvm_cli_usage_run(FILE *f)
{
	fprintf(f, "usage: hvm run --workload NAME[:ARGS] [--engine hw|bt] [--vcpus N] [--mem SIZE]\n"
		   "               [--timeout S] [--out DIR] [--kernel FILE] [--initrd FILE]\n"
		   "               [--cmdline STR] [--reps N]\n"
		   "               [--pin CPULIST] [--bt-gs auto|wrgsbase|arch_prctl|shared]\n"
		   "               [--bt-adaptive on|off] [--bt-trace FILE] [--max-records N]\n"
		   "               [--disk FILE] [--disk-size SIZE] [--disk-direct]\n"
		   "               [--spin-threshold N]\n\n"
		   "Boots the guest kernel under the chosen engine, runs one workload, writes its\n"
		   "results to a run directory and prints a summary.\n\n");
	for (int i = 0; i < OPT_NR; i++) {
		char left[40];

		snprintf(left, sizeof(left), "%s%s%s", opts[i].name, opts[i].arg ? " " : "",
			 opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-24s %s\n", left, opts[i].help);
	}
	fprintf(f, "\nexit status: 0 guest passed, 1 guest reported failure, 2 usage error,\n"
		   "3 guest misbehaved or was stopped (watchdog, fault, bad access), 4 host error,\n"
		   "77 skipped: the guest skipped its workload, or this host cannot run the engine\n");
}

int hvm_parse_size(const char *s, uint64_t *bytes)
{
	static const struct { const char *sfx; unsigned shift; } units[] = {
		{ "", 0 }, { "B", 0 },
		{ "K", 10 }, { "KB", 10 }, { "KiB", 10 }, { "k", 10 },
		{ "M", 20 }, { "MB", 20 }, { "MiB", 20 }, { "m", 20 },
		{ "G", 30 }, { "GB", 30 }, { "GiB", 30 }, { "g", 30 },
	};
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return hv_err_set("'%s' is not a size (expected a number with an optional K, M or "
				  "G suffix, e.g. 64M)", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return hv_err_set("size '%s' is too large", s);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].sfx))
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return hv_err_set("size '%s' is too large", s);
		*bytes = (uint64_t)v << units[i].shift;
		return 0;
	}
	return hv_err_set("'%s' has an unknown size suffix '%s' (use K, M or G)", s, end);
}

int hvm_parse_cpulist(const char *list, unsigned *ncpus)
{
	uint64_t set[HVM_PIN_MAX_CPU / 64] = { 0 };
	const char *p = list;
	unsigned n = 0;

	if (!*p)
		return hv_err_set("CPU list is empty: give host CPUs like 0, 0-1 or 0,2");
	for (;;) {
		const char *item = p;
		unsigned long lo, hi;
		char *end;

		if (!isdigit((unsigned char)*p))
			return hv_err_set("CPU list '%s' is malformed at '%s': use CPU numbers and "
					  "ranges separated by commas, e.g. 0,2-3", list, item);
		lo = strtoul(p, &end, 10);
		hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return hv_err_set("CPU list '%s' is malformed at '%s': a range needs "
						  "two numbers, e.g. 0-3", list, item);
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (*p && *p != ',')
			return hv_err_set("CPU list '%s' is malformed at '%s': use CPU numbers and "
					  "ranges separated by commas, e.g. 0,2-3", list, item);
		if (hi < lo)
			return hv_err_set("CPU list '%s': range %lu-%lu runs backwards", list, lo, hi);
		if (hi >= HVM_PIN_MAX_CPU)
			return hv_err_set("CPU list '%s': CPU %lu is beyond %d", list, hi,
					  HVM_PIN_MAX_CPU - 1);
		for (unsigned long c = lo; c <= hi; c++) {
			if (!(set[c / 64] & (1ull << (c % 64))))
				n++;
			set[c / 64] |= 1ull << (c % 64);
		}
		if (!*p)
			break;
		p++;
		if (!*p)
			return hv_err_set("CPU list '%s' ends with a comma", list);
	}
	*ncpus = n;
	return 0;
}

static int parse_uint(const char *opt, const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)v[0]))
		return hv_err_set("option %s: '%s' is not a number", opt, v);
	n = strtoul(v, &end, 10);
	if (*end || errno)
		return hv_err_set("option %s: '%s' is not a number", opt, v);
	if (n < lo || n > hi)
		return hv_err_set("option %s: %lu is out of range (%u-%u)", opt, n, lo, hi);
	*out = (unsigned)n;
	return 0;
}

static int name_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

/* Words of the guest command line: printable, no spaces (they separate words). */
static int word_ok(const char *s)
{
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return 0;
	return 1;
}

static int parse_workload(const char *v, struct hvm_options *o)
{
	const char *colon = strchr(v, ':');
	size_t nlen = colon ? (size_t)(colon - v) : strlen(v);

	if (nlen == 0)
		return hv_err_set("option --workload: '%s' has no workload name", v);
	if (nlen >= sizeof(o->workload))
		return hv_err_set("option --workload: name '%.*s' is longer than %zu characters",
				  (int)nlen, v, sizeof(o->workload) - 1);
	for (size_t i = 0; i < nlen; i++)
		if (!name_char_ok(v[i]))
			return hv_err_set("option --workload: name '%.*s' may hold only letters, "
					  "digits, '_', '-' and '.'", (int)nlen, v);
	memcpy(o->workload, v, nlen);
	o->workload[nlen] = '\0';
	o->wargs[0] = '\0';
	if (!colon)
		return 0;
	if (!colon[1])
		return hv_err_set("option --workload: '%s' has an empty ARGS after ':'", v);
	if (!word_ok(colon + 1))
		return hv_err_set("option --workload: ARGS '%s' must be printable and without "
				  "spaces", colon + 1);
	if (strlen(colon + 1) >= sizeof(o->wargs))
		return hv_err_set("option --workload: ARGS are longer than %zu characters",
				  sizeof(o->wargs) - 1);
	strcpy(o->wargs, colon + 1);
	return 0;
}

static int parse_timeout(const char *v, double *out)
{
	char *end;
	double t;

	errno = 0;
	t = strtod(v, &end);
	if (end == v || *end || errno || !isfinite(t))
		return hv_err_set("option --timeout: '%s' is not a number of seconds", v);
	if (t <= 0 || t > HVM_TIMEOUT_MAX)
		return hv_err_set("option --timeout: %s is out of range (more than 0, at most %.0f)",
				  v, HVM_TIMEOUT_MAX);
	*out = t;
	return 0;
}

static int parse_mem(const char *v, uint64_t *out)
{
	uint64_t b;

	if (hvm_parse_size(v, &b))
		return hv_err_set("option --mem: %s", hv_err_msg());
	if (b < HVM_MEM_MIN || b > HVM_MEM_MAX)
		return hv_err_set("option --mem: %s is out of range (16M-2G)", v);
	if (b % HVM_MEM_ALIGN)
		return hv_err_set("option --mem: %s is not a multiple of 2M", v);
	*out = b;
	return 0;
}

static int bt_gs_word(const char *v)
{
	return !strcmp(v, "auto") || !strcmp(v, "wrgsbase") || !strcmp(v, "arch_prctl") ||
	       !strcmp(v, "shared");
}

static int apply_opt(enum opt_id id, const char *v, struct hvm_options *o)
{
	const char *name = opts[id].name;

	if (opts[id].has_value && !*v)
		return hv_err_set("option %s: empty value", name);
	switch (id) {
	case OPT_ENGINE:
		if (strlen(v) >= sizeof(o->engine))
			return hv_err_set("option --engine: '%s' is not an engine name", v);
		strcpy(o->engine, v);
		return 0;
	case OPT_WORKLOAD:
		return parse_workload(v, o);
	case OPT_VCPUS:
		return parse_uint(name, v, 1, HV_MAX_VCPUS, &o->vcpus);
	case OPT_MEM:
		return parse_mem(v, &o->mem_bytes);
	case OPT_TIMEOUT:
		return parse_timeout(v, &o->timeout_s);
	case OPT_OUT:
		o->out_dir = v;
		return 0;
	case OPT_KERNEL:
		o->kernel = v;
		return 0;
	case OPT_CMDLINE:
		for (const char *p = v; *p; p++)
			if (!isprint((unsigned char)*p))
				return hv_err_set("option --cmdline: holds a non-printable character "
						  "(%#x)", (unsigned char)*p);
		if (strlen(v) >= HV_CMDLINE_MAX)
			return hv_err_set("option --cmdline: longer than %d characters",
					  HV_CMDLINE_MAX - 1);
		o->cmdline = v;
		return 0;
	case OPT_REPS:
		o->reps_given = 1;
		return parse_uint(name, v, 1, HVM_REPS_MAX, &o->reps);
	case OPT_PIN:
		if (hvm_parse_cpulist(v, &o->pin_ncpus))
			return hv_err_set("option --pin: %s", hv_err_msg());
		o->pin = v;
		return 0;
	case OPT_BT_GS:
		if (!bt_gs_word(v))
			return hv_err_set("option --bt-gs: '%s' is not auto, wrgsbase, arch_prctl or shared",
					  v);
		o->bt_gs = v;
		return 0;
	case OPT_BT_ADAPTIVE:
		if (strcmp(v, "on") && strcmp(v, "off"))
			return hv_err_set("option --bt-adaptive: '%s' is not on or off", v);
		o->bt_adaptive = v;
		return 0;
	case OPT_BT_TRACE:
		if (!*v)
			return hv_err_set("option --bt-trace: give a file name");
		o->bt_trace = v;
		return 0;
	case OPT_MAX_RECORDS:
		return parse_uint(name, v, 1, HV_RECORD_BUDGET_MAX, &o->max_records);
	case OPT_DISK:
		o->disk = v;
		return 0;
	case OPT_DISK_SIZE:
		if (hvm_parse_size(v, &o->disk_size))
			return hv_err_set("option --disk-size: %s", hv_err_msg());
		if (o->disk_size == 0 || o->disk_size % 512)
			return hv_err_set("option --disk-size: %s is not a positive multiple of 512 "
					  "bytes", v);
		return 0;
	case OPT_DISK_DIRECT:
		o->disk_direct = 1;
		return 0;
	case OPT_SPIN_THRESHOLD:
		return parse_uint(name, v, 1, UINT32_MAX, &o->spin_threshold);
	case OPT_INITRD:
		o->initrd = v;
		return 0;
	case OPT_HELP:
		o->help = 1;
		return 0;
	case OPT_NR:
		break;
	}
	return hv_err_set("option %s: not handled", name);
}

static void options_default(struct hvm_options *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->engine, "hw");
	o->vcpus = 1;
	o->mem_bytes = HVM_MEM_DEFAULT;
	o->timeout_s = HVM_TIMEOUT_DEFAULT;
	o->reps = HVM_REPS_DEFAULT;
}

static int find_opt(const char *arg, size_t namelen)
{
	for (int i = 0; i < OPT_NR; i++)
		if (strlen(opts[i].name) == namelen && !strncmp(opts[i].name, arg, namelen))
			return i;
	return -1;
}

int hvm_cli_parse_run(int argc, char **argv, struct hvm_options *o)
{
	unsigned seen = 0;

	options_default(o);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *eq, *val;
		size_t namelen;
		int id;

		if (!strcmp(arg, "-h")) {
			o->help = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) || !arg[2])
			return hv_err_set("unexpected argument '%s' (options start with --; see "
					  "hvm run --help)", arg);
		eq = strchr(arg, '=');
		namelen = eq ? (size_t)(eq - arg) : strlen(arg);
		id = find_opt(arg, namelen);
		if (id < 0)
			return hv_err_set("unknown option '%.*s' (see hvm run --help)", (int)namelen,
					  arg);
		if (seen & (1u << id))
			return hv_err_set("option %s given twice", opts[id].name);
		seen |= 1u << id;
		if (!opts[id].has_value) {
			if (eq)
				return hv_err_set("option %s takes no value", opts[id].name);
			val = "";
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return hv_err_set("option %s needs a value (%s)", opts[id].name, opts[id].arg);
		}
		if (apply_opt((enum opt_id)id, val, o))
			return -1;
	}
	if (o->help)
		return 0;
	if (!(seen & (1u << OPT_WORKLOAD)))
		return hv_err_set("option --workload is required (e.g. --workload nanobench)");
	/* the environment's default for --bt-gs is checked as strictly as the option */
	const char *env = getenv("HVLAB_BT_GS");

	if (!o->bt_gs && env && *env && !bt_gs_word(env))
		return hv_err_set("HVLAB_BT_GS='%s' is not auto, wrgsbase, arch_prctl or shared", env);
	if (o->bt_trace && strcmp(o->engine, "bt"))
		return hv_err_set("option --bt-trace: the page-table trace is the bt engine's (it "
				  "sees the guest's table writes); use --engine bt, not %s", o->engine);
	return 0;
}

int hvm_build_cmdline(const struct hvm_options *o, const char *gate, char *buf, size_t len)
{
	return hvm_build_cmdline_host(o, gate, NULL, buf, len);
}

int hvm_build_cmdline_host(const struct hvm_options *o, const char *gate, const char *host,
			   char *buf, size_t len)
{
	int n = snprintf(buf, len, "workload=%s%s%s sysgate=%s%s%s%s%s", o->workload,
			 o->wargs[0] ? " wargs=" : "", o->wargs, gate, host ? " " : "",
			 host ? host : "", o->cmdline ? " " : "", o->cmdline ? o->cmdline : "");

	if (n < 0 || (size_t)n >= len || (size_t)n >= HV_CMDLINE_MAX)
		return hv_err_set("the guest command line would be %d characters; at most %d fit",
				  n, HV_CMDLINE_MAX - 1);
	return 0;
}

int hvm_build_linux_cmdline(const struct hvm_options *o, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s hvlab.workload=%s%s%s%s%s", HVM_LINUX_CMDLINE_BASE,
			 o->workload, o->wargs[0] ? " hvlab.args=" : "", o->wargs,
			 o->cmdline ? " " : "", o->cmdline ? o->cmdline : "");

	if (n < 0 || (size_t)n >= len)
		return hv_err_set("the Linux command line would be %d characters; at most %zu fit",
				  n, len - 1);
	for (const char *p = o->wargs; *p; p++)
		if (*p == ' ')
			return hv_err_set("--workload %s:%s: a Linux guest's arguments cannot hold "
					  "spaces (they are one kernel command-line word)", o->workload,
					  o->wargs);
	return 0;
}

/* Boot options a host needs beyond the gate. Under PVM the guest's kernel code runs in
 * KVM's instruction emulator (PLATFORM.md): the guest then zeroes and copies pages at
 * CPL3 (kmem=user), where they run at native speed. The choice lands in the command
 * line, hence in every result's context (guest_cmdline) and the kmem note. */
const char *hvm_host_words(const char *memvirt)
{
	return !strcmp(memvirt, "shadow-pvm") ? "kmem=user" : NULL;
}
