/* The context block every result carries (DESIGN.md "Results"). A field that cannot be
 * found holds "unavailable: <reason>", never an empty string or a guess. */
#ifndef HVLAB_CONTEXT_H
#define HVLAB_CONTEXT_H
#include <stdint.h>
#include "hvlab/kvminfo.h"

struct hv_json;

struct hv_context {
	char date[40];           /* ISO 8601 UTC */
	char host[128];
	char cpu_model[160];
	int cores, threads;      /* from hwloc */
	char caches[256];        /* e.g. "L1d 32KiB, L2 1MiB, L3 32MiB" (hwloc) */
	char kernel[160];        /* uname -srv */
	struct hv_host_vm host_vm;  /* is the host itself a VM (CPUID, DMI) */
	struct hv_kvm_info kvm;  /* paging ends in "-nested" where the host is a VM */
	double tsc_hz;           /* 0 when not calibrated */
	char tsc_source[32];
	char compiler[160];
	char cflags[256];
	char git_commit[64];
	int git_dirty;           /* -1 when unknown */
	char command[1024];      /* exact command line, shell-quoted */
	uint64_t seed;
	char papi[256];          /* "available: N counters" or "unavailable: <reason>" */
	char freq_scaling[128];  /* cpufreq governor or "unavailable: ..." */
	double tsc_overhead;     /* cycles of an empty timed region (hv_tsc.overhead) */
	int tsc_invariant;       /* 1 constant+nonstop TSC, 0 not, -1 unknown */
	/* "this host", or "elsewhere: <why>" for results made on another machine (a console
	 * log parsed here): then every field describing the measuring host (host, CPU,
	 * caches, kernel, KVM, host VM, TSC, PAPI, frequency scaling) is unavailable, and
	 * date, command, compiler, cflags and git describe the program that wrote them. */
	char measured_on[256];
	uint64_t guest_record_budget;  /* result records a guest may send; 0: no guest */
};

/* Collects everything; git facts are read from the source tree hvlab was built from. */
int hv_context_collect(struct hv_context *c, int argc, char **argv, uint64_t seed);
/* The same in two steps: begin records what only the start knows (date, command, seed)
 * and is cheap; finish gathers the rest (hwloc, git, TSC, PAPI: tens of ms), so a run
 * can defer it until its measurements are done. */
int hv_context_begin(struct hv_context *c, int argc, char **argv, uint64_t seed);
int hv_context_finish(struct hv_context *c);
/* Between begin and finish: the results were measured on another machine (why says
 * which, or that it is not known); finish then leaves the host fields unavailable. */
void hv_context_measured_elsewhere(struct hv_context *c, const char *why);
/* Writes the context as a JSON object value at the writer's current position. */
void hv_context_json(const struct hv_context *c, struct hv_json *j);

#endif
