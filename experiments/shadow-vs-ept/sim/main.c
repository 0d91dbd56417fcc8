/* ptwalk-sim: generate traces of hvlab's workloads, run them through the translation
 * model under native, shadow and nested paging, and predict the shadow/nested ratio
 * and its crossover per workload. `ptwalk-sim --help` lists the commands. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/results.h"
#include "ptwalk.h"

static const char usage_text[] =
	"usage: ptwalk-sim COMMAND [OPTIONS]\n"
	"\n"
	"A trace-driven model of TLBs, page-walk caches and page walks under native, shadow\n"
	"and nested (EPT/NPT) paging. experiments/shadow-vs-ept/sim/README.md documents the\n"
	"model, its parameters and the trace format.\n"
	"\n"
	"commands:\n"
	"  gen WORKLOAD [ARGS] [-o FILE]  write a synthetic trace (to stdout without -o).\n"
	"                                 WORKLOAD: memwalk, ptchurn, forkwait, ctxswitch;\n"
	"                                 ARGS: key=value,... (ws=64m, steps=N, iters=N,\n"
	"                                 pages=N, dirty=N, reps=N, seed=N, page=4k|2m|1g,\n"
	"                                 cow=0|1 for forkwait)\n"
	"  run TRACE [--mode MODE] [--out DIR --name NAME]\n"
	"                                 simulate a trace file ('-': stdin) under MODE\n"
	"                                 (native, shadow, nested or all; default all);\n"
	"                                 --out records it as workload sim-NAME (default\n"
	"                                 sim-trace), e.g. one hvm --bt-trace recorded\n"
	"  predict [--quick] [--out DIR]  every workload with 4 KiB and 2 MiB guest pages,\n"
	"                                 memwalk over 16 KiB..1 GiB: the shadow/nested ratio\n"
	"                                 and its crossover; --out writes a run directory\n"
	"                                 (samples.csv, summary.json) for the matrix runner\n"
	"  walks                          the cold-cache references of one walk, per mode,\n"
	"                                 page size and table depth (24 for 4x4 nested)\n"
	"  config                         print the configuration in effect\n"
	"\n"
	"options of every command that simulates:\n"
	"  --config FILE     settings, one 'key = value' per line (see `ptwalk-sim config`)\n"
	"  --set KEY=VALUE   one setting, after the file (repeatable)\n"
	"  --host-tlb        TLB sizes and associativity from this CPU's CPUID (Intel 0x18,\n"
	"                    AMD 0x80000005/6/19) instead of the Skylake-class default\n"
	"  --workloads LIST  predict: a comma-separated subset\n"
	"\n"
	"exit status: 0 done, 1 the trace or simulation failed, 2 usage or configuration error\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ptwalk-sim: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(ptwalk-sim --help lists the commands and options)\n");
	return 2;
}

struct opts {
	struct pw_config cfg;
	const char *out, *mode, *output, *workloads, *name;
	int quick;
};

/* Options shared by the commands; argv[optind..] are left for the command. Returns 0,
 * an exit status (2) after saying what is wrong, or HELP_SHOWN after --help. */
#define HELP_SHOWN (-1)
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, 0, 'c' }, { "set", required_argument, 0, 's' },
		{ "host-tlb", no_argument, 0, 'H' }, { "mode", required_argument, 0, 'm' },
		{ "out", required_argument, 0, 'O' }, { "quick", no_argument, 0, 'q' },
		{ "workloads", required_argument, 0, 'w' }, { "help", no_argument, 0, 'h' },
		{ "name", required_argument, 0, 'n' },
		{ 0, 0, 0, 0 }
	};
	const char *config_file = NULL, *sets[64];
	int nsets = 0, host_tlb = 0, c;

	memset(o, 0, sizeof(*o));
	pw_config_default(&o->cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': config_file = optarg; break;
		case 's':
			if (nsets == 64)
				return usage_error("%s: at most 64 --set options", "--set");
			sets[nsets++] = optarg;
			break;
		case 'H': host_tlb = 1; break;
		case 'm': o->mode = optarg; break;
		case 'O': o->out = optarg; break;
		case 'o': o->output = optarg; break;
		case 'q': o->quick = 1; break;
		case 'w': o->workloads = optarg; break;
		case 'n': o->name = optarg; break;
		case 'h': fputs(usage_text, stdout); return HELP_SHOWN;
		default: return usage_error("%s", "bad option");
		}
	}
	if (host_tlb && pw_config_from_cpuid(&o->cfg)) {
		fprintf(stderr, "ptwalk-sim: --host-tlb: %s\n", hv_err_msg());
		return 2;
	}
	if (config_file && pw_config_load(&o->cfg, config_file)) {
		fprintf(stderr, "ptwalk-sim: %s\n", hv_err_msg());
		return 2;
	}
	for (int i = 0; i < nsets; i++) {
		char key[64];
		const char *eq = strchr(sets[i], '=');

		if (!eq || eq == sets[i] || (size_t)(eq - sets[i]) >= sizeof(key))
			return usage_error("--set %s: give KEY=VALUE", sets[i]);
		memcpy(key, sets[i], (size_t)(eq - sets[i]));
		key[eq - sets[i]] = 0;
		if (pw_config_set(&o->cfg, key, eq + 1)) {
			fprintf(stderr, "ptwalk-sim: --set %s: %s\n", sets[i], hv_err_msg());
			return 2;
		}
	}
	if (pw_config_check(&o->cfg)) {
		fprintf(stderr, "ptwalk-sim: %s\n", hv_err_msg());
		return 2;
	}
	return 0;
}

/* ---- running the modes ---- */

/* Per mode: the timed part's statistics (after the trace's 'b') and the whole run's. */
struct outcome {
	struct pw_stats st[PW_NMODES], whole[PW_NMODES];
};

static int simulate(const struct pw_config *cfg, const struct pw_trace *t, int modes_mask,
		    struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	for (int m = 0; m < PW_NMODES; m++) {
		if (!(modes_mask & 1 << m))
			continue;
		struct pw_sim *s = pw_sim_new(cfg, (enum pw_mode)m);

		if (!s)
			return -1;
		if (pw_sim_run(s, t)) {
			pw_sim_free(s);
			return -1;
		}
		pw_sim_timed_stats(s, &o->st[m]);
		o->whole[m] = *pw_sim_stats(s);
		pw_sim_free(s);
	}
	return 0;
}

static double per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* The exit-cost scale at which shadow and nested cost the same: with every exit cost
 * multiplied by k, shadow = A_s + k X_s and nested = A_n + k X_n. Shadow is cheaper
 * below k (HUGE_VAL: at any exit cost; 0: at none). */
static double crossover_scale(const struct outcome *o)
{
	const struct pw_stats *s = &o->st[PW_SHADOW], *n = &o->st[PW_NESTED];
	double as = (double)(pw_stats_cycles(s) - s->exit_cycles);
	double an = (double)(pw_stats_cycles(n) - n->exit_cycles);
	double xs = (double)s->exit_cycles, xn = (double)n->exit_cycles;

	if (xs <= xn)
		return as <= an ? HUGE_VAL : 0.0;
	double k = (an - as) / (xs - xn);

	return k > 0 ? k : 0.0;
}

static void fmt_scale(char *buf, size_t len, double k)
{
	if (isinf(k))
		snprintf(buf, len, "always");
	else if (k <= 0)
		snprintf(buf, len, "never");
	else
		snprintf(buf, len, "%.3gx", k);
}

/* The crossover as the mean cycles of one shadow exit at which both modes cost the
 * same: shadow is faster while its exits cost less (HUGE_VAL: at any cost). */
static double break_even_cycles(const struct outcome *o)
{
	double k = crossover_scale(o);
	const struct pw_stats *s = &o->st[PW_SHADOW];

	if (isinf(k) || !pw_stats_exits(s))
		return k;
	return k * (double)s->exit_cycles / (double)pw_stats_exits(s);
}

static void fmt_cycles_or_word(char *buf, size_t len, double c)
{
	if (isinf(c))
		snprintf(buf, len, "any");
	else if (c <= 0)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%.3g", c);
}

static void print_modes(const struct outcome *o, int mask)
{
	printf("%-7s %9s %9s %8s %8s %9s %8s %12s %9s\n", "mode", "accesses", "L2-miss",
	       "refs/acc", "refs/walk", "walk-cyc/a", "exits", "cycles", "slowdown");
	for (int m = 0; m < PW_NMODES; m++) {
		if (!(mask & 1 << m))
			continue;
		const struct pw_stats *s = &o->st[m];
		double native = (double)pw_stats_cycles(&o->st[PW_NATIVE]);

		char slow[32] = "-";

		if (mask & 1 << PW_NATIVE && native > 0)
			snprintf(slow, sizeof(slow), "%.3fx", (double)pw_stats_cycles(s) / native);
		printf("%-7s %9llu %9llu %8.3f %9.2f %9.2f %8llu %12llu %9s",
		       pw_mode_name((enum pw_mode)m), (unsigned long long)s->accesses,
		       (unsigned long long)s->l2_misses, per(s->walk_refs, s->accesses),
		       per(s->walk_refs, s->l2_misses), per(s->walk_cycles, s->accesses),
		       (unsigned long long)pw_stats_exits(s),
		       (unsigned long long)pw_stats_cycles(s), slow);
		printf("\n");
		for (int whole = 0; whole <= 1; whole++) {
			const struct pw_stats *x = whole ? &o->whole[m] : s;

			if (!pw_stats_exits(x) || (whole && !memcmp(x, s, sizeof(*x))))
				continue;
			printf("        %s exits:", whole ? "whole-run" : "timed");
			for (int k = 0; k < PW_NEXITS; k++)
				if (x->exits[k])
					printf(" %s %llu", pw_exit_names[k],
					       (unsigned long long)x->exits[k]);
			if (x->shadow_zaps)
				printf("; shadow pages dropped (write flooding) %llu",
				       (unsigned long long)x->shadow_zaps);
			printf("\n");
		}
	}
	if ((mask & 6) == 6) {
		char k[32], when[96];
		double scale = crossover_scale(o);

		fmt_scale(k, sizeof(k), scale);
		if (isinf(scale))
			snprintf(when, sizeof(when), "shadow is faster at any exit cost");
		else if (scale <= 0)
			snprintf(when, sizeof(when), "nested is faster even with free exits");
		else
			snprintf(when, sizeof(when), "shadow is faster while exits cost below %s "
				 "the configured ones", k);
		printf("shadow/nested: %.3f (above 1 nested is faster); %s\n",
		       per(pw_stats_cycles(&o->st[PW_SHADOW]), pw_stats_cycles(&o->st[PW_NESTED])),
		       when);
	}
}

static int cmd_gen(int argc, char **argv)
{
	struct opts o;
	struct pw_gen_params p;
	struct pw_trace t = { 0 };
	int r = parse_opts(argc, argv, &o);
	FILE *out = stdout;

	if (r)
		return r;
	if (optind + 2 > argc || optind + 3 < argc)
		return usage_error("%s: give WORKLOAD [ARGS]", "gen");
	const char *w = argv[optind + 1], *args = optind + 2 < argc ? argv[optind + 2] : "";

	if (pw_gen_parse(w, args, &p) || pw_gen(w, &p, &t)) {
		fprintf(stderr, "ptwalk-sim: gen: %s\n", hv_err_msg());
		pw_trace_free(&t);
		return 2;
	}
	if (o.output && !(out = fopen(o.output, "we"))) {
		fprintf(stderr, "ptwalk-sim: %s: cannot create: %s\n", o.output, strerror(errno));
		pw_trace_free(&t);
		return 1;
	}
	r = pw_trace_write(&t, out);
	if (out != stdout && fclose(out))
		r = -1;
	if (r)
		fprintf(stderr, "ptwalk-sim: %s: %s\n", o.output ? o.output : "<stdout>",
			hv_err_msg());
	pw_trace_free(&t);
	return r ? 1 : 0;
}

static int cmd_walks(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, &o);

	if (r)
		return r;
	printf("cold-cache references of one walk (guest levels x host levels; host page "
	       "size is that of the nested tables and of shadow's backing)\n");
	printf("%-6s %-6s %-9s %6s %6s %6s\n", "levels", "host", "guestpage", "native", "shadow",
	       "nested");
	for (unsigned lv = 4; lv <= 5; lv++)
		for (int hp = 0; hp < PW_NPAGES; hp++)
			for (int gp = 0; gp < PW_NPAGES; gp++) {
				struct pw_config c = o.cfg;

				c.guest_levels = c.host_levels = lv;
				c.host_page = (enum pw_page)hp;
				printf("%ux%-4u %-6s %-9s %6u %6u %6u\n", lv, lv,
				       pw_page_name((enum pw_page)hp), pw_page_name((enum pw_page)gp),
				       pw_cold_walk_refs(&c, PW_NATIVE, (enum pw_page)gp),
				       pw_cold_walk_refs(&c, PW_SHADOW, (enum pw_page)gp),
				       pw_cold_walk_refs(&c, PW_NESTED, (enum pw_page)gp));
			}
	return 0;
}

static int cmd_config(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, &o);

	if (r)
		return r;
	pw_config_print(&o.cfg, stdout);
	return 0;
}

/* ---- predict ---- */

struct recorder {
	struct hv_run *run;
	int failed;
};

static void record(struct recorder *rec, const char *workload, const char *params,
		   const char *memvirt, const char *metric, double value, const char *unit)
{
	struct hv_mode mode = { .engine = "ptwalk-sim", .memvirt = memvirt };
	struct hv_sample s = { .experiment = "ptwalk-sim", .workload = workload,
			       .params = params, .mode = &mode, .metric = metric,
			       .value = value, .unit = unit, .rep = 0 };

	if (rec->run && hv_run_add(rec->run, &s))
		rec->failed = 1;
}

static void record_outcome(struct recorder *rec, const char *wl, const char *params,
			   const struct outcome *o)
{
	char name[64];
	double native = (double)pw_stats_cycles(&o->st[PW_NATIVE]);

	snprintf(name, sizeof(name), "sim-%s", wl);
	for (int m = 0; m < PW_NMODES; m++) {
		const struct pw_stats *s = &o->st[m];
		const char *mv = pw_mode_name((enum pw_mode)m);

		record(rec, name, params, mv, "walk_refs_per_access", per(s->walk_refs, s->accesses),
		       "count");
		record(rec, name, params, mv, "walk_refs_per_walk", per(s->walk_refs, s->l2_misses),
		       "count");
		record(rec, name, params, mv, "tlb_misses", (double)s->l2_misses, "count");
		record(rec, name, params, mv, "exits", (double)pw_stats_exits(s), "count");
		record(rec, name, params, mv, "exits_whole_run",
		       (double)pw_stats_exits(&o->whole[m]), "count");
		for (int k = 0; k < PW_NEXITS; k++)
			if (o->whole[m].exits[k])
				record(rec, name, params, mv, pw_exit_names[k],
				       (double)o->whole[m].exits[k], "count");
		if (o->whole[m].shadow_zaps)
			record(rec, name, params, mv, "shadow_zaps", (double)o->whole[m].shadow_zaps,
			       "count");
		record(rec, name, params, mv, "cycles", (double)pw_stats_cycles(s), "cycles");
		record(rec, name, params, mv, "cycles_per_access",
		       per(pw_stats_cycles(s), s->accesses), "cycles");
		if (native > 0)
			record(rec, name, params, mv, "slowdown", (double)pw_stats_cycles(s) / native,
			       "ratio");
	}
	record(rec, name, params, "-", "shadow_over_nested",
	       per(pw_stats_cycles(&o->st[PW_SHADOW]), pw_stats_cycles(&o->st[PW_NESTED])),
	       "ratio");
	double k = crossover_scale(o);

	record(rec, name, params, "-", "crossover_exit_scale", isinf(k) ? INFINITY : k, "ratio");
	k = break_even_cycles(o);
	record(rec, name, params, "-", "break_even_cycles_per_exit", isinf(k) ? INFINITY : k,
	       "cycles");
}

/* The run directory of --out, with the model's settings as notes. */
static int open_recorder(struct recorder *rec, const struct opts *o, int argc, char **argv)
{
	rec->run = hv_run_open(NULL, "ptwalk-sim", o->out, argc, argv, 1);
	if (!rec->run) {
		fprintf(stderr, "ptwalk-sim: --out %s: %s\n", o->out, hv_err_msg());
		return -1;
	}
	hv_run_note(rec->run, "ptwalk.tlb_source", o->cfg.tlb_source);
	hv_run_note(rec->run, "ptwalk.shadow_policy",
		    o->cfg.shadow_policy == PW_SHADOW_TRAP ? "trap" : "unsync");
	hv_run_note_num(rec->run, "ptwalk.guest_levels", o->cfg.guest_levels);
	hv_run_note_num(rec->run, "ptwalk.host_levels", o->cfg.host_levels);
	return 0;
}

/* 0, or -1 after saying what failed. */
static int close_recorder(struct recorder *rec, const struct opts *o)
{
	if (hv_run_close(rec->run) || rec->failed) {
		fprintf(stderr, "ptwalk-sim: writing %s: %s\n", o->out, hv_err_msg());
		return -1;
	}
	return 0;
}

static int wanted(const char *list, const char *w)
{
	size_t n = strlen(w);

	if (!list)
		return 1;
	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

static void print_row(const char *wl, const char *params, const struct outcome *o)
{
	char k[32];
	const struct pw_stats *st = o->st;
	double native = (double)pw_stats_cycles(&st[PW_NATIVE]);

	fmt_cycles_or_word(k, sizeof(k), break_even_cycles(o));
	printf("%-10s %-30s %6.2f %6.2f %6.2f %8.3f %8.3f %8llu %8llu %8.3f %8s\n", wl, params,
	       per(st[PW_NATIVE].walk_refs, st[PW_NATIVE].l2_misses),
	       per(st[PW_SHADOW].walk_refs, st[PW_SHADOW].l2_misses),
	       per(st[PW_NESTED].walk_refs, st[PW_NESTED].l2_misses),
	       (double)pw_stats_cycles(&st[PW_SHADOW]) / native,
	       (double)pw_stats_cycles(&st[PW_NESTED]) / native,
	       (unsigned long long)pw_stats_exits(&st[PW_SHADOW]),
	       (unsigned long long)pw_stats_exits(&st[PW_NESTED]),
	       per(pw_stats_cycles(&st[PW_SHADOW]), pw_stats_cycles(&st[PW_NESTED])), k);
	fflush(stdout);
}

static int predict_one(const struct opts *o, struct recorder *rec, const char *wl,
		       const char *args, const char *params, struct outcome *out)
{
	struct pw_gen_params p;
	struct pw_trace t = { 0 };
	int r;

	if (pw_gen_parse(wl, args, &p) || pw_gen(wl, &p, &t)) {
		pw_trace_free(&t);
		return -1;
	}
	r = simulate(&o->cfg, &t, 7, out);
	pw_trace_free(&t);
	if (r)
		return -1;
	print_row(wl, params, out);
	record_outcome(rec, wl, params, out);
	return 0;
}

/* Bhargava et al.'s steps on one TLB-miss-heavy trace (memwalk, 256 MiB, 4 KiB pages):
 * nested paging with no walk caches, with the walk caches (guest and host dimension),
 * with the nested TLB too, and on 2 MiB host pages; each cycles per access beside
 * native's, and the uncached 2-D walk's latency over the native walk's. */
static int walk_caches(const struct pw_config *base, struct recorder *rec, int quick)
{
	static const char *const steps[] = { "none", "pwc", "pwc+ntlb", "pwc+ntlb+2m-host" };
	struct pw_gen_params p;
	struct pw_trace t = { 0 };
	struct outcome out;
	double cyc[4], native = 0, walk_native = 0, walk_none = 0;
	char args[96];

	snprintf(args, sizeof(args), "ws=256m,steps=%u", quick ? 100000 : 1000000);
	if (pw_gen_parse("memwalk", args, &p) || pw_gen("memwalk", &p, &t))
		return -1;
	for (int i = 0; i < 4; i++) {
		struct pw_config c = *base;

		if (i == 0)
			for (int k = 0; k <= PW_MAX_LEVELS; k++)
				c.pwc[k] = c.nested_pwc[k] = 0;
		if (i < 2)
			c.nested_tlb.entries = 0;
		if (i == 3)
			c.host_page = PW_2M;
		if (simulate(&c, &t, i == 0 ? 5 : 4, &out)) {
			pw_trace_free(&t);
			return -1;
		}
		const struct pw_stats *n = &out.st[PW_NESTED];

		cyc[i] = per(pw_stats_cycles(n), n->accesses);
		if (i == 0) {
			const struct pw_stats *x = &out.st[PW_NATIVE];

			walk_native = per(x->walk_cycles, x->l2_misses);
			walk_none = per(n->walk_cycles, n->l2_misses);
		}
		record(rec, "sim-walkcache", steps[i], "nested", "cycles_per_access", cyc[i],
		       "cycles");
	}
	if (simulate(base, &t, 1, &out)) {
		pw_trace_free(&t);
		return -1;
	}
	native = per(pw_stats_cycles(&out.st[PW_NATIVE]), out.st[PW_NATIVE].accesses);
	record(rec, "sim-walkcache", "default", "native", "cycles_per_access", native, "cycles");
	record(rec, "sim-walkcache", "none", "-", "walk_latency_ratio_uncached",
	       walk_native > 0 ? walk_none / walk_native : 0, "ratio");
	for (unsigned lv = 4; lv <= 5; lv++) {
		struct pw_config c = *base;
		char params[16];

		c.guest_levels = c.host_levels = lv;
		c.host_page = PW_4K;
		snprintf(params, sizeof(params), "%ux%u", lv, lv);
		for (int m = 0; m < PW_NMODES; m++)
			record(rec, "sim-walkcache", params, pw_mode_name((enum pw_mode)m),
			       "cold_walk_refs", pw_cold_walk_refs(&c, (enum pw_mode)m, PW_4K),
			       "count");
	}
	pw_trace_free(&t);
	printf("# walk caches (memwalk 256 MiB, 4 KiB pages, cycles per access): native %.1f; "
	       "nested without walk caches %.1f, with them %.1f (+%.0f%%), with the nested TLB "
	       "%.1f (+%.0f%%), on 2 MiB host pages %.1f (+%.0f%%); native ahead of the best by "
	       "%.0f%%; an uncached 2-D walk takes %.2fx a native walk's cycles\n", native,
	       cyc[0], cyc[1], (cyc[0] / cyc[1] - 1) * 100, cyc[2], (cyc[1] / cyc[2] - 1) * 100,
	       cyc[3], (cyc[2] / cyc[3] - 1) * 100, (cyc[3] / native - 1) * 100,
	       walk_native > 0 ? walk_none / walk_native : 0);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct opts o;
	struct pw_trace t;
	struct outcome out;
	int r = parse_opts(argc, argv, &o), mask = 7;

	if (r)
		return r;
	if (optind + 2 != argc)
		return usage_error("%s: give one trace file ('-' for stdin)", "run");
	if (o.mode && strcmp(o.mode, "all")) {
		mask = 0;
		for (int m = 0; m < PW_NMODES; m++)
			if (!strcmp(o.mode, pw_mode_name((enum pw_mode)m)))
				mask = 1 << m;
		if (!mask)
			return usage_error("--mode %s: give native, shadow, nested or all", o.mode);
		mask |= 1 << PW_NATIVE;      /* the baseline every slowdown divides by */
	}
	if (pw_trace_read_file(&t, argv[optind + 1])) {
		fprintf(stderr, "ptwalk-sim: %s\n", hv_err_msg());
		return 1;
	}
	if (simulate(&o.cfg, &t, mask, &out)) {
		fprintf(stderr, "ptwalk-sim: %s: %s\n", argv[optind + 1], hv_err_msg());
		pw_trace_free(&t);
		return 1;
	}
	printf("trace %s: %zu events\n", argv[optind + 1], t.n);
	print_modes(&out, mask);
	if (o.out) {
		/* a recorded trace in the run directory, as predict's synthetic ones are */
		struct recorder rec = { 0 };
		const char *base = strrchr(argv[optind + 1], '/');

		if (open_recorder(&rec, &o, argc, argv)) {
			pw_trace_free(&t);
			return 1;
		}
		hv_run_note(rec.run, "ptwalk.trace", argv[optind + 1]);
		record_outcome(&rec, o.name ? o.name : "trace", base ? base + 1 : argv[optind + 1],
			       &out);
		r = close_recorder(&rec, &o);
	}
	pw_trace_free(&t);
	return r ? 1 : 0;
}

static int cmd_predict(int argc, char **argv)
{
	struct opts o;
	struct recorder rec = { 0 };
	struct outcome out;
	int r = parse_opts(argc, argv, &o), status = 0;
	const uint64_t max_ws = 1ull << 30;

	if (r)
		return r;
	if (optind + 1 != argc)
		return usage_error("%s: takes options only", "predict");
	for (const char *p = o.workloads; p && *p;) {
		size_t n = strcspn(p, ",");
		int known = 0;

		for (int i = 0; pw_workloads[i]; i++)
			known |= strlen(pw_workloads[i]) == n && !strncmp(p, pw_workloads[i], n);
		if (!known)
			return usage_error("--workloads %s: give some of memwalk, ptchurn, forkwait, "
					   "ctxswitch, comma-separated", o.workloads);
		p += n + (p[n] == ',');
	}
	if (o.out && open_recorder(&rec, &o, argc, argv))
		return 1;
	printf("# TLBs: %s; shadow policy %s; %ux%u levels\n", o.cfg.tlb_source,
	       o.cfg.shadow_policy == PW_SHADOW_TRAP ? "trap" : "unsync", o.cfg.guest_levels,
	       o.cfg.host_levels);
	printf("# timed part of each workload: refs/walk per mode; slowdown = cycles / native; "
	       "exits; shadow/nested cycles (>1: nested faster); shadow faster while exits "
	       "cost below B cycles each (any: shadow is faster whatever exits cost; none: nested is "
	       "faster even with free exits)\n");
	printf("%-10s %-30s %6s %6s %6s %8s %8s %8s %8s %8s %8s\n", "workload", "params", "r.nat",
	       "r.shd", "r.nst", "shadow", "nested", "x.shd", "x.nst", "shd/nst", "B");
	/* guest pages / host pages: 4 KiB both; 2 MiB guest pages on 4 KiB host pages
	 * (splintered); 2 MiB both (VMware's "large pages close the gap") */
	static const enum pw_page configs[][2] = { { PW_4K, PW_4K }, { PW_2M, PW_4K },
						   { PW_2M, PW_2M } };
	const struct pw_config base = o.cfg;

	for (size_t ci = 0; ci < sizeof(configs) / sizeof(configs[0]); ci++) {
		const char *page = pw_page_name(configs[ci][0]);
		const char *host = pw_page_name(configs[ci][1]);
		char args[128], params[64];
		double prev_ratio = 0;
		uint64_t prev_ws = 0;

		o.cfg = base;
		o.cfg.host_page = configs[ci][1];

		if (wanted(o.workloads, "memwalk"))
			for (uint64_t ws = 16 << 10; ws <= (o.quick ? 64ull << 20 : max_ws); ws <<= 2) {
				snprintf(args, sizeof(args), "ws=%llu,steps=%u,page=%s",
					 (unsigned long long)ws, o.quick ? 100000 : 1000000, page);
				snprintf(params, sizeof(params), "page=%s host=%s ws=%llu", page,
					 host, (unsigned long long)ws);
				if (predict_one(&o, &rec, "memwalk", args, params, &out))
					goto fail;
				double ratio = per(pw_stats_cycles(&out.st[PW_SHADOW]),
						   pw_stats_cycles(&out.st[PW_NESTED]));

				if (prev_ws && (prev_ratio - 1) * (ratio - 1) < 0)
					printf("# memwalk %s/%s: shadow/nested crosses 1 between %llu and "
					       "%llu KiB\n", page, host, (unsigned long long)prev_ws >> 10,
					       (unsigned long long)ws >> 10);
				prev_ratio = ratio;
				prev_ws = ws;
			}
		for (int i = 1; pw_workloads[i]; i++) {
			if (!wanted(o.workloads, pw_workloads[i]))
				continue;
			snprintf(args, sizeof(args), "page=%s", page);
			snprintf(params, sizeof(params), "page=%s host=%s", page, host);
			if (predict_one(&o, &rec, pw_workloads[i], args, params, &out))
				goto fail;
		}
	}
	if (wanted(o.workloads, "memwalk") && walk_caches(&base, &rec, o.quick))
		goto fail;
	goto done;
fail:
	fprintf(stderr, "ptwalk-sim: predict: %s\n", hv_err_msg());
	status = 1;
done:
	if (rec.run && close_recorder(&rec, &o))
		status = 1;
	return status;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "gen", cmd_gen }, { "run", cmd_run }, { "predict", cmd_predict },
	{ "walks", cmd_walks }, { "config", cmd_config },
};

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			/* getopt moves the command word among the other operands: each command
			 * finds it at argv[optind] */
			int r = commands[i].fn(argc, argv);

			return r == HELP_SHOWN ? 0 : r;
		}
	return usage_error("unknown command '%s'", argv[1]);
}
