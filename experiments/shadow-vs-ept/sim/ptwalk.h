/* ptwalk-sim: a trace-driven model of address translation under three memory
 * virtualization modes: native (a 1-D walk of the guest's tables), shadow (a 1-D walk
 * of the VMM's shadow tables, with exits to keep them in step with the guest's) and
 * nested (EPT/NPT: a 2-D walk of guest and host tables, n*m + n + m references cold).
 * README.md beside this file documents the model, its parameters and the trace format. */
#ifndef PTWALK_H
#define PTWALK_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pw_mode { PW_NATIVE, PW_SHADOW, PW_NESTED, PW_NMODES };
enum pw_page { PW_4K, PW_2M, PW_1G, PW_NPAGES };
/* How the shadow tables follow guest PTE writes. trap: every guest PTE write traps and
 * the shadow entry is updated at once (VMware's write-protected tables, A&A's ptemod).
 * unsync: leaf tables are left writable (KVM's unsync shadow pages): the write costs
 * nothing, and the next use of the entry, invlpg or CR3 write resynchronises it. */
enum pw_shadow_policy { PW_SHADOW_TRAP, PW_SHADOW_UNSYNC };

#define PW_MAX_LEVELS 5
/* Page-table levels, numbered from the leaf: 1 PT, 2 PD, 3 PDPT, 4 PML4, 5 PML5. */

struct pw_geom {
	unsigned entries;            /* 0: the structure is absent */
	unsigned ways;               /* 0: fully associative */
};

/* Latencies in cycles (README.md: "The latency model"). */
struct pw_latency {
	unsigned access;             /* the data access itself, every mode alike */
	unsigned l2_tlb_hit;         /* an L1 TLB miss that hits the L2 TLB */
	unsigned ref_hot;            /* a walk reference to an upper-level entry, or in the
	                              * nested walk of a page-table page (few, cache-hot) */
	unsigned ref_leaf;           /* a reference to a leaf entry that maps data */
	unsigned pte_trap;           /* shadow: exit, emulate the guest PTE write, resync */
	unsigned shadow_fill;        /* shadow: hidden page fault that fills a shadow entry */
	unsigned pf_exit;            /* shadow: a guest #PF intercepted and reflected */
	unsigned invlpg_exit;        /* shadow: invlpg intercepted (resyncs that entry) */
	unsigned cr3_exit;           /* shadow: CR3 write intercepted (resyncs unsync pages) */
	unsigned npf_exit;           /* nested: first touch of a guest-physical page */
	unsigned guest_fault;        /* the guest kernel's own page-fault handling, every
	                              * mode alike (the native baseline has it too) */
	unsigned guest_switch;       /* the guest kernel's own process switch, likewise */
};

struct pw_config {
	unsigned guest_levels;       /* 4 or 5 */
	unsigned host_levels;        /* 4 or 5: the nested (EPT/NPT) tables */
	enum pw_page host_page;      /* page size backing guest memory (nested and shadow) */
	struct pw_geom l1_tlb[PW_NPAGES];   /* per page size */
	struct pw_geom l2_tlb;       /* 4 KiB and 2 MiB translations, shared */
	struct pw_geom l2_tlb_1g;
	unsigned pwc[PW_MAX_LEVELS + 1];    /* entries of the cache of level-k entries, k>=2 */
	unsigned nested_pwc[PW_MAX_LEVELS + 1]; /* the same for the host dimension */
	struct pw_geom nested_tlb;   /* gPA -> hPA (Bhargava's NTLB) */
	int pcid;                    /* 1: TLB and walk caches survive CR3 writes */
	enum pw_shadow_policy shadow_policy;
	unsigned shadow_flood_writes;  /* writes to a shadowed table page before the VMM
	                                * drops its shadow page (KVM: 3) */
	struct pw_latency lat;
	char tlb_source[160];        /* where the TLB geometry came from */
};

/* Defaults (README.md: "Default configuration"). */
void pw_config_default(struct pw_config *c);
/* TLB geometry from this CPU's CPUID (Intel leaf 0x18, AMD 0x80000005/6/19); 0 when
 * found, -1 with hv_err_msg() saying why not (c is then unchanged). */
int pw_config_from_cpuid(struct pw_config *c);
/* One "key = value" setting; -1 with hv_err_msg() naming the key and what is allowed. */
int pw_config_set(struct pw_config *c, const char *key, const char *value);
/* A file of settings, one per line, '#' comments; errors name file and line. */
int pw_config_load(struct pw_config *c, const char *path);
void pw_config_print(const struct pw_config *c, FILE *out);
/* -1 with a message when levels, sizes or ways do not fit together. */
int pw_config_check(const struct pw_config *c);

/* ---- traces ---- */

enum pw_event_kind {
	PW_EV_SWITCH = 'c',          /* c ASID: CR3 write to address space ASID */
	PW_EV_READ = 'r',            /* r VA */
	PW_EV_WRITE = 'w',           /* w VA */
	PW_EV_MAP = 'm',             /* m VA GPA SIZE: guest writes a present PTE */
	PW_EV_PROTECT = 'p',         /* p VA: guest clears the PTE's write permission */
	PW_EV_UNMAP = 'u',           /* u VA: guest clears the PTE */
	PW_EV_INVLPG = 'i',          /* i VA */
	PW_EV_FAULT = 'f',           /* f VA: a guest page fault (its handler runs) */
	PW_EV_DROP = 'k',            /* k ASID: address space destroyed, tables freed */
	PW_EV_BEGIN = 'b',           /* b: the timed part begins (the workload's setup is
	                              * done): timed statistics count from here */
};

#define PW_MAX_ASID 65535
struct pw_event {
	uint8_t kind;                /* enum pw_event_kind */
	uint8_t page;                /* enum pw_page, for PW_EV_MAP */
	uint16_t asid;               /* PW_EV_SWITCH, PW_EV_DROP */
	uint32_t line;               /* its line in the trace file, 0 when generated */
	uint64_t va, gpa;
};

struct pw_trace {
	struct pw_event *ev;
	size_t n, cap;
};

#define PW_TRACE_MAGIC "ptwalk-trace 1"

int pw_trace_push(struct pw_trace *t, const struct pw_event *e);
void pw_trace_free(struct pw_trace *t);
/* Parses a text trace (README.md: "Trace format"). name is what errors call the input
 * ("FILE:LINE: ..."). Returns 0, or -1 with hv_err_msg() set; t is then empty. */
int pw_trace_read(struct pw_trace *t, FILE *in, const char *name);
int pw_trace_read_file(struct pw_trace *t, const char *path);
int pw_trace_write(const struct pw_trace *t, FILE *out);

/* ---- synthetic workloads (gen.c) ---- */

struct pw_gen_params {
	uint64_t ws;                 /* memwalk: working set, bytes */
	uint64_t steps;              /* memwalk: chase steps */
	uint64_t iters;              /* ptchurn, forkwait, ctxswitch: iterations */
	uint64_t pages;              /* ptchurn: pages per iteration; forkwait: parent's
	                              * resident pages; ctxswitch: pages touched per turn */
	uint64_t dirty;              /* forkwait: pages the child and then the parent write */
	int cow;                     /* forkwait: 1 shares pages copy-on-write, 0 copies */
	uint64_t reps;               /* repetitions of the whole loop */
	uint64_t seed;
	enum pw_page page;           /* guest page size of the workload's data */
};

void pw_gen_defaults(const char *workload, struct pw_gen_params *p);
/* "ws=64m,steps=1000000,page=2m": -1 with a message naming the bad key or value. */
int pw_gen_parse(const char *workload, const char *args, struct pw_gen_params *p);
/* Appends the workload's events; -1 for an unknown workload (message lists them). */
int pw_gen(const char *workload, const struct pw_gen_params *p, struct pw_trace *t);
extern const char *const pw_workloads[];   /* NULL-terminated */

/* ---- the simulator (ptwalk.c) ---- */

enum pw_exit_kind { PW_X_PTE_TRAP, PW_X_FILL, PW_X_PF, PW_X_INVLPG, PW_X_CR3, PW_X_NPF,
		    PW_NEXITS };
extern const char *const pw_exit_names[PW_NEXITS];

struct pw_stats {
	uint64_t accesses, pte_updates, guest_faults, switches;
	uint64_t l1_misses, l2_misses;       /* an L2 miss is a page walk */
	uint64_t walk_refs, walk_refs_guest, walk_refs_host;
	uint64_t walk_cycles, l2_hit_cycles;
	uint64_t exits[PW_NEXITS];
	uint64_t exit_cycles;
	uint64_t access_cycles;
	uint64_t guest_cycles;               /* the guest kernel's own work, every mode */
	uint64_t nested_tlb_hits, nested_tlb_misses;
	uint64_t shadow_zaps;                /* shadow pages dropped for write flooding */
};

_Static_assert(sizeof(struct pw_stats) % sizeof(uint64_t) == 0,
	       "struct pw_stats holds uint64_t counters only");

uint64_t pw_stats_exits(const struct pw_stats *s);
/* access + L2 TLB hits + walks + exits + the guest kernel's own work */
uint64_t pw_stats_cycles(const struct pw_stats *s);

struct pw_sim;

/* NULL with hv_err_msg() on a bad configuration or no memory. */
struct pw_sim *pw_sim_new(const struct pw_config *c, enum pw_mode mode);
void pw_sim_free(struct pw_sim *s);
/* One event; -1 with a message when the trace is inconsistent (a touch of an
 * unmapped address, a switch to a dropped address space). */
int pw_sim_event(struct pw_sim *s, const struct pw_event *e);
/* Every event; errors say which event (its index, 1-based, is its line among the
 * trace's events). */
int pw_sim_run(struct pw_sim *s, const struct pw_trace *t);
/* Everything since the start of the trace. */
const struct pw_stats *pw_sim_stats(const struct pw_sim *s);
/* Since the last 'b' event (everything when there was none). */
void pw_sim_timed_stats(const struct pw_sim *s, struct pw_stats *out);
/* The references of one access's walk when every cache is cold: n*m + n + m nested. */
unsigned pw_cold_walk_refs(const struct pw_config *c, enum pw_mode mode,
			   enum pw_page guest_page);

const char *pw_mode_name(enum pw_mode m);
const char *pw_page_name(enum pw_page p);
int pw_page_parse(const char *s, enum pw_page *p);
unsigned pw_page_shift(enum pw_page p);

#endif
