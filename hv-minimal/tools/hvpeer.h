/* hvpeer, the QEMU peers of hvm's engines: its subcommands (hvpeer.c is their table;
 * tools/README.md says what they do). */
#ifndef HVLAB_HVPEER_H
#define HVLAB_HVPEER_H
#include <stddef.h>
#include <stdio.h>

#include "hvlab/hvm.h"

#ifndef HVLAB_SRCDIR
#define HVLAB_SRCDIR "."
#endif
/* Where run directories go without --out, as for hvm. */
#define HVPEER_RESULTS_ROOT HVLAB_SRCDIR "/results/runs"

/* A peer: an engine name and how QEMU runs it. */
struct peer_engine {
	const char *name;            /* the engine column: qemu-tcg, qemu-kvm */
	const char *accel;           /* -accel */
	const char *cpu;             /* -cpu, or NULL for QEMU's default */
	const char *about;           /* one line for --help */
	const char *label;           /* a legend title (engine_desc.h) */
	const char *family;          /* HV_FAMILY_* */
};

const struct peer_engine *hvpeer_engines(size_t *n);
struct hv_engine_desc;
/* Fills d for one peer: QEMU found on PATH, and for qemu-kvm a usable KVM (the hw
 * engine is asked, as for a run). */
void hvpeer_describe(const struct peer_engine *pe, struct hv_engine_desc *d);

/* argv[0] is the subcommand's name; inv holds the whole command for the run's
 * context. Return an enum hvm_exit value. */
int hvpeer_cmd_run(int argc, char **argv, const struct hvm_invocation *inv);
int hvpeer_cmd_parse(int argc, char **argv, const struct hvm_invocation *inv);
void hvpeer_usage_run(FILE *f);
void hvpeer_usage_parse(FILE *f);

#endif
