/* `hvm run` options: parsed without side effects (no printing, no exit), so the unit
 * tests can check every accepted and refused form. */
#ifndef HVLAB_HVM_CLI_H
#define HVLAB_HVM_CLI_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hvlab/abi.h"

#define HVM_MEM_MIN      (16ull << 20)
#define HVM_MEM_MAX      HV_MAX_GUEST_MEM
#define HVM_MEM_DEFAULT  (256ull << 20)
#define HVM_MEM_ALIGN    (2ull << 20)     /* the boot page tables map 2 MiB pages */
#define HVM_TIMEOUT_DEFAULT 60.0
#define HVM_TIMEOUT_MAX  86400.0
#define HVM_REPS_DEFAULT 5                /* when the guest's count is unknown */
#define HVM_REPS_MIN_AUTO 3
#define HVM_REPS_MAX     1000

struct hvm_options {
	char engine[16];
	char workload[HV_NAME_MAX];      /* NAME of --workload NAME[:ARGS] */
	char wargs[HV_CMDLINE_MAX];      /* ARGS, "" when absent */
	unsigned vcpus;
	uint64_t mem_bytes;
	double timeout_s;
	const char *out_dir;             /* NULL: under the results root */
	const char *kernel;              /* NULL: the built guest image */
	const char *cmdline;             /* NULL: none */
	const char *initrd;              /* --initrd: a Linux guest's initrd, or NULL */
	const char *pin;                 /* --pin CPULIST: host CPUs for the vCPU threads, or NULL */
	unsigned pin_ncpus;              /* how many CPUs that list names */
	const char *bt_gs;               /* --bt-gs: auto, wrgsbase, arch_prctl; NULL: not given */
	const char *bt_adaptive;
	const char *bt_trace;            /* --bt-trace: the page-table trace file; NULL: none */         /* --bt-adaptive: on, off; NULL: not given (on) */
	unsigned reps;                   /* native baseline repetitions */
	int reps_given;                  /* else: as many as the guest made */
	unsigned max_records;            /* --max-records: the guest's record budget; 0: default */
	const char *disk;                /* --disk FILE, or NULL: a temporary file */
	uint64_t disk_size;              /* --disk-size; 0: not given */
	int disk_direct;                 /* --disk-direct: O_DIRECT */
	unsigned spin_threshold;         /* --spin-threshold; 0: not given (the default) */
	int help;                        /* --help/-h was given */
};

/* Parses argv[1..argc) of `hvm run` (argv[0] is the subcommand name). Returns 0, or -1
 * with hv_err_msg() naming the offending option or argument. With --help, o->help is
 * set and the other options are not required. */
int hvm_cli_parse_run(int argc, char **argv, struct hvm_options *o);

/* Checks the form of a host CPU list ("0", "0-1", "0,2-3"; CPU numbers below
 * HVM_PIN_MAX_CPU) and counts the CPUs it names. Returns 0, or -1 with hv_err_msg()
 * naming the list. Whether the CPUs exist is checked when the threads are pinned. */
int hvm_parse_cpulist(const char *list, unsigned *ncpus);
#define HVM_PIN_MAX_CPU 4096

/* "64M", "1G", "512MiB", "16777216" -> bytes. Returns 0, or -1 with hv_err_msg(). */
int hvm_parse_size(const char *s, uint64_t *bytes);

/* The guest command line: "workload=NAME[ wargs=ARGS] sysgate=GATE[ USER]". Returns
 * 0, or -1 with hv_err_msg() when it would not fit in HV_CMDLINE_MAX. */
int hvm_build_cmdline(const struct hvm_options *o, const char *gate, char *buf, size_t len);
/* The same with further words the VMM chose for this host (e.g. "kmem=user", or NULL)
 * before the user's, which therefore win: "workload=NAME[ wargs=ARGS] sysgate=GATE[
 * HOST][ USER]". */
/* Boot words a host with this memory virtualization needs (NULL: none); hvm and the
 * QEMU peer runner both ask here. */
const char *hvm_host_words(const char *memvirt);
int hvm_build_cmdline_host(const struct hvm_options *o, const char *gate, const char *host,
			   char *buf, size_t len);

/* A Linux guest's command line: the console and panic words every runner (hvm, the
 * QEMU peer) gives, then "hvlab.workload=NAME[ hvlab.args=ARGS]" for the initramfs's
 * init, then --cmdline's words. 0, or -1 with hv_err_msg(). */
#define HVM_LINUX_CMDLINE_BASE "console=ttyS0 panic=-1 rdinit=/init"
int hvm_build_linux_cmdline(const struct hvm_options *o, char *buf, size_t len);

void hvm_cli_usage_run(FILE *f);

#endif
