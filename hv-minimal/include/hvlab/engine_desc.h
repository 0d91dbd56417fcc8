/* An engine's description of itself, as `hvm engines` and `hvpeer engines` print it:
 * name, which program runs it, what figures call it, how it runs guest code, whether
 * this host can run it (and why not), its memory virtualization and the mode columns
 * its result rows fill. The runner and the report read this instead of knowing
 * engines by name (scripts/hvtools/engines.py). */
#ifndef HVLAB_ENGINE_DESC_H
#define HVLAB_ENGINE_DESC_H
#include <stdio.h>

#include "hvlab/engine.h"

struct hv_engine_desc {
	const char *name;            /* the --engine value and the engine column */
	const char *kind;            /* "vmm" (an engine of hvm) or "peer" (hvpeer's QEMU) */
	const char *program;         /* "hvm" or "hvpeer" */
	const char *label;           /* a legend title */
	const char *family;          /* HV_FAMILY_* */
	const char *description;     /* one line */
	const char *needs[3];        /* host requirements the runner checks first: "kvm",
				      * "qemu"; NULL-terminated */
	int built;                   /* 0: the engine is in the table but not built yet */
	int available;               /* 1: this host can run it */
	char skip_reason[384];       /* why not, when !available */
	char memvirt[32];            /* the memvirt column here, "" when unavailable */
	int has_segbase;             /* 1: the engine fills the segbase column */
	char segbase[16];            /* its value here (how the engine writes GS) */
};

/* Fills d for one hvm engine: probes it and creates (and destroys) a one-vCPU VM, so
 * that an engine that cannot run here says why in its own words. */
void hv_engine_describe(const struct hv_engine_entry *e, struct hv_engine_desc *d);

/* Prints descriptions as one JSON object {"program": ..., "engines": [...]}, or as one
 * line each. */
void hv_engine_desc_print_json(FILE *f, const char *program, const struct hv_engine_desc *d,
			       size_t n);
void hv_engine_desc_print_text(FILE *f, const struct hv_engine_desc *d, size_t n);

/* The `engines [--json]` subcommand of hvm and hvpeer: checks its arguments (a usage
 * error names the stray one), has describe fill the n descriptions (at most 8), prints
 * them. Returns the exit status. */
int hv_engine_desc_command(const char *program, int argc, char **argv, size_t n,
			   void (*describe)(size_t i, struct hv_engine_desc *d));

#endif
