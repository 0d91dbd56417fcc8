/* A run directory: samples.csv (one row per sample, each row one write(2), so a crash
 * never leaves half a row) and summary.json (written to a temporary file and renamed,
 * so it is whole or absent) with the context block. */
#ifndef HVLAB_RESULTS_H
#define HVLAB_RESULTS_H
#include <stdint.h>
#include "hvlab/context.h"
#include "hvlab/stats.h"

/* The mode columns of DESIGN.md; NULL fields are written as "-". */
struct hv_mode {
	const char *engine;      /* native, hw, bt, qemu-tcg, qemu-kvm */
	const char *memvirt;     /* ept, npt, shadow-kvm, shadow-pvm, shadow-bt, native */
	const char *flavour;     /* full, pv */
	const char *spinlock;    /* plain, pv */
	const char *iopath;      /* emul, virtio, ioeventfd, poll, split */
	const char *segbase;     /* bt: how its GS base is written, wrgsbase or arch_prctl */
	int vcpus, pcpus;
};

struct hv_sample {
	const char *experiment;  /* e.g. "nanobench" */
	const char *workload;    /* e.g. "syscall" */
	const char *params;      /* free text without commas, e.g. "iters=1000"; may be NULL */
	const struct hv_mode *mode;
	const char *metric;      /* e.g. "cycles_per_op" */
	double value;
	const char *unit;        /* e.g. "cycles", "ns", "ratio" */
	int rep;                 /* repetition index from 0 */
};

struct hv_run;

/* Creates the run directory: out_dir if given (created if missing), else
 * <results_root>/<experiment>-<UTC date>-<pid> (results_root NULL: "results/runs").
 * samples.csv must not exist yet in the directory (an earlier run is never appended
 * to or overwritten). Records the start of the
 * context now (date, command, seed); the rest is gathered on first use of
 * hv_run_context() or when the summary is written, so it never delays a measurement.
 * Returns NULL with hv_err_msg() set. */
struct hv_run *hv_run_open(const char *results_root, const char *experiment,
			   const char *out_dir, int argc, char **argv, uint64_t seed);
const char *hv_run_dir(const struct hv_run *r);
struct hv_context *hv_run_context(struct hv_run *r);

/* Appends a row to samples.csv at once (and keeps it for the summary). */
int hv_run_add(struct hv_run *r, const struct hv_sample *s);

/* Extra top-level facts for summary.json, e.g. ("syscall_gate", "ud2"); copied. The key
 * "guest" is the guest's own (hv_run_guest_note). */
int hv_run_note(struct hv_run *r, const char *key, const char *value);
int hv_run_note_num(struct hv_run *r, const char *key, double value);
/* A fact the guest reported about itself, in a namespace of its own: summary.json's
 * notes.guest object, so a guest can never overwrite a note of the host's (engine,
 * fixture, ...). At most HV_RUN_GUEST_NOTES_MAX distinct keys: one more is refused
 * (HV_GUEST_NOTE_FULL, the caller's to treat as the guest's fault), with hv_err_msg()
 * set as for a host error. */
#define HV_RUN_GUEST_NOTES_MAX 64
enum hv_guest_note_status {
	HV_GUEST_NOTE_OK = 0,
	HV_GUEST_NOTE_HOST_ERROR = -1,   /* out of memory, or an empty key */
	HV_GUEST_NOTE_FULL = 1,          /* a new key past HV_RUN_GUEST_NOTES_MAX */
};
enum hv_guest_note_status hv_run_guest_note(struct hv_run *r, const char *key,
					    const char *value);

/* Facts for the context block that only the program writing the run knows. Call before
 * the summary is first written. */
/* The results were measured on another machine (a console log captured elsewhere):
 * the context then says so instead of describing this host (hv_context's measured_on). */
void hv_run_measured_elsewhere(struct hv_run *r, const char *why);
/* How many result records the guest may send (the recorder's budget). */
void hv_run_set_guest_record_budget(struct hv_run *r, uint64_t budget);

/* Writes summary.json now (also done by hv_run_close): one entry per
 * (experiment, workload, params, mode, metric, unit) group with hv_summary fields and
 * every sample. Safe to call repeatedly: each call replaces the file atomically. */
int hv_run_write_summary(struct hv_run *r);

/* Writes the summary, closes files, frees r. Returns 0 or -1. */
int hv_run_close(struct hv_run *r);

/* CSV header line written first in samples.csv. */
#define HV_CSV_HEADER \
	"experiment,workload,params,engine,memvirt,flavour,spinlock,iopath,segbase,vcpus,pcpus,metric,value,unit,rep"

#endif
