/* Exit accounting: per exit reason and per port / MMIO address, the count and the
 * host-TSC time of the run call that ended in the exit ("run") and of the VMM's
 * handling until the next run call ("handle"). Medians come from a uniform reservoir
 * sample, so memory stays bounded however long the guest runs. One instance per vCPU
 * (no locking); merged at the end. */
#ifndef HVLAB_EXITSTATS_H
#define HVLAB_EXITSTATS_H
#include <stdint.h>
#include <stdio.h>

#include "hvlab/engine.h"

#define HV_XS_MAX_KEYS   64
#define HV_XS_RESERVOIR  4096

struct hv_xs_key {
	uint8_t kind;            /* enum hv_exit_kind */
	uint8_t dir;             /* io: enum hv_io_dir; mmio: is_write */
	uint64_t addr;           /* port or guest-physical address; 0 otherwise */
};

struct hv_xs_entry {
	struct hv_xs_key key;
	uint64_t count;
	uint64_t timed;                      /* of them, timed: the reservoir's population */
	uint64_t run_sum, handle_sum;        /* cycles, of the timed exits */
	uint32_t nres;                       /* samples held (<= HV_XS_RESERVOIR) */
	uint64_t (*res)[2];                  /* {run, handle} cycles */
};

struct hv_exitstats {
	struct hv_xs_entry e[HV_XS_MAX_KEYS];
	unsigned n;
	unsigned last;           /* the entry the last exit went to */
	uint64_t dropped;        /* exits whose key did not fit: counted only here */
	uint64_t rng;
};

struct hv_run;
struct hv_mode;

void hv_exitstats_init(struct hv_exitstats *xs, uint64_t seed);
void hv_exitstats_add(struct hv_exitstats *xs, const struct hv_exit *exit, uint64_t run_cycles,
		      uint64_t handle_cycles);
/* An exit counted without its time (the core times one direct exit in 64: two TSC
 * reads cost as much as serving it). */
void hv_exitstats_count(struct hv_exitstats *xs, const struct hv_exit *exit);
/* Adds src's counts and samples into dst. */
void hv_exitstats_merge(struct hv_exitstats *dst, const struct hv_exitstats *src);
/* "io-out:0x80", "mmio-write:0xfe000000", "hlt". */
void hv_exitstats_label(const struct hv_xs_key *k, char *buf, size_t len);
/* Writes samples "exits", "exit_run_ns_median", "exit_handle_ns_median" and
 * "exit_roundtrip_ns_median" (params "exit=LABEL") per key to run (if not NULL) and a
 * short table to out (if not NULL). hz converts cycles to ns. */
int hv_exitstats_report(const struct hv_exitstats *xs, struct hv_run *run,
			const struct hv_mode *mode, const char *experiment,
			const char *workload, double hz, FILE *out);
/* Median run and handle cycles of one key; 0 when it has no samples. */
void hv_exitstats_medians(const struct hv_xs_entry *e, double *run, double *handle);
const struct hv_xs_entry *hv_exitstats_find(const struct hv_exitstats *xs,
					    const struct hv_xs_key *k);
void hv_exitstats_free(struct hv_exitstats *xs);

#endif
