/* Native runs of the guest workloads' cores (guest/include/guest/work.h), for hvm's
 * same-run baseline and the native-compute / native-memwalk programs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/work.h"
#include "hvlab/err.h"
#include "hvlab/tsc.h"
#include "hvlab/work_report.h"
#include "native_forkwait.h"

static int run_compute(const char *args, struct hv_native_sample *out, unsigned max)
{
	struct compute_params p;
	const char *bad;
	uint8_t *buf;

	if (compute_parse(args, &p, &bad))
		return hv_err_set("compute arguments '%s': bad at '%s' (%s)", args, bad,
				  COMPUTE_ARGS);
	buf = aligned_alloc(4096, (p.size + 4095) & ~4095ull);
	if (!buf)
		return hv_err_errno("compute: allocating %llu bytes", (unsigned long long)p.size);
	compute_fill(buf, p.size, p.seed);
	unsigned n = p.reps < max ? (unsigned)p.reps : max;
	for (unsigned r = 0; r < n; r++) {
		uint64_t t0 = hv_tsc_begin();
		uint32_t sum = compute_run(buf, p.size, p.rounds);
		out[r] = (struct hv_native_sample){ hv_tsc_end() - t0, p.size * p.rounds, sum };
	}
	free(buf);
	return (int)n;
}

static int run_memwalk(const char *args, struct hv_native_sample *out, unsigned max)
{
	struct memwalk_params p;
	const char *bad;
	uint64_t *buf;

	if (memwalk_parse(args, &p, &bad))
		return hv_err_set("memwalk arguments '%s': bad at '%s' (%s)", args, bad,
				  MEMWALK_ARGS);
	buf = aligned_alloc(4096, p.ws);
	if (!buf)
		return hv_err_errno("memwalk: allocating %llu bytes", (unsigned long long)p.ws);
	memwalk_build(buf, p.ws, p.seed);
	unsigned n = p.reps < max ? (unsigned)p.reps : max;
	for (unsigned r = 0; r < n; r++) {
		uint64_t t0 = hv_tsc_begin();
		uint32_t sum = memwalk_run(buf, p.steps);
		out[r] = (struct hv_native_sample){ hv_tsc_end() - t0, p.steps, sum };
	}
	free(buf);
	return (int)n;
}

/* Set in native-forkwait itself (hv_native_work_main), which runs the loop. */
static int forkwait_here;

/* forkwait has no shared core (a fork is the host kernel's work): the arguments and
 * checksum are the guest program's, the fork+wait loop microbench's, run in a fresh
 * small process (native_forkwait.h says why). */
static int run_forkwait(const char *args, struct hv_native_sample *out, unsigned max)
{
	uint64_t n = HV_FORKWAIT_DEFAULT_N, ex = 0, reps = HV_FORKWAIT_DEFAULT_REPS, heap = 0;
	uint64_t procs = 1;
	const struct warg w[] = { { "n", &n }, { "exec", &ex }, { "reps", &reps },
				  { "heap", &heap }, { "procs", &procs } };
	uint64_t cycles[HV_FORKWAIT_MAX_REPS];
	uint32_t sum[HV_FORKWAIT_MAX_REPS];
	const char *bad = args;

	if (wargs_parse(args, w, 5, &bad) < 0 || !n || ex > 1 || !reps ||
	    reps > HV_FORKWAIT_MAX_REPS || heap > HV_FORKWAIT_MAX_HEAP)
		return hv_err_set("forkwait arguments '%s': bad at '%s' (%s; reps 1..%d, heap at "
				  "most 256M)", args, bad, HV_FORKWAIT_ARGS, HV_FORKWAIT_MAX_REPS);
	/* the SMP loop (procs > 1) measures the guest kernel's lock contention, which a
	 * host process loop does not reproduce: no native column */
	if (procs > 1)
		return 0;
	if (ex)
		return hv_err_set("forkwait exec=1 has no native column: its children exec the "
				  "guest's own `true` program");
	unsigned nr = reps < max ? (unsigned)reps : max;
	if (!forkwait_here && hv_native_forkwait_fresh(n, heap, nr, cycles, sum))
		return -1;
	for (unsigned r = 0; r < nr; r++) {
		if (forkwait_here && hv_native_forkwait(n, heap, &cycles[r], &sum[r]))
			return -1;
		out[r] = (struct hv_native_sample){ cycles[r], n, sum[r] };
	}
	return (int)nr;
}

int hv_native_work_run(const char *workload, const char *args,
		       struct hv_native_sample *out, unsigned max)
{
	if (!strcmp(workload, "compute"))
		return run_compute(args, out, max);
	if (!strcmp(workload, "memwalk"))
		return run_memwalk(args, out, max);
	if (!strcmp(workload, "forkwait"))
		return run_forkwait(args, out, max);
	return 0;
}

static const char *work_args(const char *workload)
{
	return !strcmp(workload, "compute") ? COMPUTE_ARGS :
	       !strcmp(workload, "memwalk") ? MEMWALK_ARGS : HV_FORKWAIT_ARGS;
}

int hv_native_work_main(const char *workload, int argc, char **argv)
{
	struct hv_native_sample s[HV_NATIVE_MAX_REPS];
	const char *args = argc > 1 ? argv[1] : "";

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(argc > 2 ? stderr : stdout,
			"usage: native-%s [ARGS]\n\nRuns the %s workload's core natively with the "
			"guest's arguments (%s),\nprinting each repetition and the checksum.\n",
			workload, workload, work_args(workload));
		return argc > 2 ? 2 : 0;
	}
	forkwait_here = 1;
	int n = hv_native_work_run(workload, args, s, HV_NATIVE_MAX_REPS);
	if (n < 0) {
		fprintf(stderr, "native-%s: %s\n", workload, hv_err_msg());
		return 2;
	}
	for (int i = 0; i < n; i++)
		printf("%s: rep %d: %" PRIu64 " cycles, %" PRIu64 " ops, %.1f cycles/op, "
		       "checksum %#x\n", workload, i, s[i].cycles, s[i].ops,
		       (double)s[i].cycles / (double)s[i].ops, s[i].checksum);
	for (int i = 1; i < n; i++)
		if (s[i].checksum != s[0].checksum) {
			fprintf(stderr, "native-%s: checksums of repetitions 0 and %d differ\n",
				workload, i);
			return 1;
		}
	return 0;
}
