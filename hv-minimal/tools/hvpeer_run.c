/* `hvpeer run`: the guest image under QEMU, measured as hvm measures it.
 *
 * Options as hvm run's -> the gate, boot words and memvirt hvm would choose for this
 * host -> QEMU's command line -> run directory -> QEMU with its serial console read
 * as it comes, each @hvr line through hvm's validation and recorder (vmm/hvr.c) -> how
 * QEMU ended, in hvm's stop kinds -> the native baselines hvm measures after a guest.
 * The run context comes from libhvlab, as for every hvlab program. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvlab/blkdev.h"
#include "hvlab/console.h"
#include "hvlab/engine.h"
#include "hvlab/engine_desc.h"
#include "hvlab/bzimage.h"
#include "hvlab/err.h"
#include "hvlab/guestfile.h"
#include "hvlab/linux_native.h"
#include "hvlab/hvm_cli.h"
#include "hvlab/log.h"
#include "hvlab/pin.h"
#include "hvlab/record.h"
#include "hvlab/results.h"
#include "hvlab/tsc.h"
#include "hvlab/vm.h"
#include "hvlab/work_report.h"
#include "hvpeer.h"
#include "hvlab/hvr.h"
#include "peer_qemu.h"

/* Each native repetition runs at least this long (as in hvm). */

static const struct peer_engine peer_engines[] = {
	/* TCG: `max`, every CPU feature TCG emulates. */
	{ "qemu-tcg", "tcg", "max", "QEMU's binary translator (TCG), softmmu", "QEMU TCG",
	  HV_FAMILY_TRANSLATOR },
	/* QEMU's default model: `-cpu host` fails on kvm_pvm hosts (MSR 0x10a). */
	{ "qemu-kvm", "kvm", NULL, "QEMU on the host's KVM, QEMU's default CPU model", "QEMU KVM",
	  HV_FAMILY_HARDWARE },
};

const struct peer_engine *hvpeer_engines(size_t *n)
{
	*n = sizeof(peer_engines) / sizeof(peer_engines[0]);
	return peer_engines;
}

static const struct peer_engine *peer_engine_find(const char *name)
{
	for (size_t i = 0; i < sizeof(peer_engines) / sizeof(peer_engines[0]); i++)
		if (!strcmp(peer_engines[i].name, name))
			return &peer_engines[i];
	return NULL;
}

/* What the guest is told and the rows say about this host. */
struct host_choice {
	char gate[16];               /* sysgate= */
	const char *words;           /* further boot words, or NULL */
	char memvirt[32];
	uint64_t tsc_khz;            /* guest TSC rate when the accelerator says; 0: unknown */
};

/* The gate, memory virtualization and TSC rate, decided as hvm decides them. Under
 * qemu-kvm the guest meets the host's KVM exactly as under `hvm --engine hw` (on
 * kvm_pvm the syscall gate is broken the same way), so the hw engine itself is asked,
 * through a throw-away VM: its guest_syscall_ok, memvirt and tsc_khz are the answer
 * hvm would act on. TCG runs syscall/sysret as a CPU does, in software paging.
 * Returns 0, or -1 with hv_err_msg() when KVM cannot be used here (a skip). */
static int decide_host(const struct peer_engine *pe, unsigned vcpus, struct host_choice *hc)
{
	const struct hv_engine_ops *ops;
	struct hv_engine_vm *vm;
	struct hv_vm_config cfg = { .nr_vcpus = vcpus, .mem_bytes = HVM_MEM_MIN };

	memset(hc, 0, sizeof(*hc));
	if (strcmp(pe->accel, "kvm")) {
		snprintf(hc->gate, sizeof(hc->gate), "syscall");
		snprintf(hc->memvirt, sizeof(hc->memvirt), "softmmu");
		return 0;
	}
	ops = hv_engine_find("hw");
	if (!ops)
		return -1;
	if (ops->vm_create(&cfg, &vm))
		return hv_err_set("%s needs a usable KVM: %s", pe->name, hv_err_msg());
	snprintf(hc->gate, sizeof(hc->gate), "%s", ops->guest_syscall_ok(vm) ? "syscall" : "ud2");
	snprintf(hc->memvirt, sizeof(hc->memvirt), "%s", ops->memvirt(vm));
	hc->tsc_khz = ops->tsc_khz(vm);
	ops->vm_destroy(vm);
	hc->words = hvm_host_words(hc->memvirt);
	return 0;
}

void hvpeer_describe(const struct peer_engine *pe, struct hv_engine_desc *d)
{
	struct host_choice hc;
	char qemu[PATH_MAX];
	int kvm = !strcmp(pe->accel, "kvm");

	memset(d, 0, sizeof(*d));
	d->name = pe->name;
	d->kind = "peer";
	d->program = "hvpeer";
	d->label = pe->label;
	d->family = pe->family;
	d->description = pe->about;
	d->needs[0] = "qemu";
	d->needs[1] = kvm ? "kvm" : NULL;
	d->built = 1;
	if (peer_qemu_find(PEER_QEMU_DEFAULT, qemu, sizeof(qemu))) {
		snprintf(d->skip_reason, sizeof(d->skip_reason), "engine %s needs QEMU: %s",
			 pe->name, hv_err_msg());
		return;
	}
	if (decide_host(pe, 1, &hc)) {
		snprintf(d->skip_reason, sizeof(d->skip_reason), "%s", hv_err_msg());
		return;
	}
	d->available = 1;
	snprintf(d->memvirt, sizeof(d->memvirt), "%s", hc.memvirt);
}

static int default_kernel(char *buf, size_t len)
{
	char exe[PATH_MAX], real[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n < 0)
		return hv_err_errno("reading /proc/self/exe to find the guest kernel (give --kernel)");
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/../guest/kernel.elf", exe) >= len)
		return hv_err_set("the path of the default guest kernel is too long (give --kernel)");
	if (realpath(buf, real))
		snprintf(buf, len, "%s", real);
	return 0;
}

struct peer_opts {
	const char *qemu;            /* --qemu NAME|PATH */
	const char *firmware;        /* --firmware FILE|default; NULL: qboot if shipped */
};

void hvpeer_usage_run(FILE *f)
{
	fprintf(f,
		"usage: hvpeer run --engine qemu-tcg|qemu-kvm --workload NAME[:ARGS] [--vcpus N]\n"
		"                  [--mem SIZE] [--timeout S] [--out DIR] [--kernel FILE]\n"
		"                  [--cmdline STR] [--reps N] [--pin CPULIST] [--qemu PATH]\n"
		"                  [--firmware FILE|default]\n\n"
		"Boots the guest kernel under QEMU (PVH entry) with the command line hvm would\n"
		"build, reads its serial console, and writes hvm's run directory: samples.csv,\n"
		"summary.json, console.log, and qemu.log (QEMU's own messages).\n\n"
		"  --engine NAME       qemu-tcg (QEMU's translator, -cpu max) or qemu-kvm (QEMU on\n"
		"                      this host's KVM, QEMU's default CPU model)\n"
		"  --workload ... --pin  as for hvm run (see hvm run --help); --pin confines the\n"
		"                      whole QEMU process to the CPUs\n"
		"  --timeout S         stop QEMU after S seconds, keeping what was measured (60)\n"
		"  --qemu PATH         the QEMU binary (default qemu-system-x86_64 from PATH)\n"
		"  --firmware FILE     -bios FILE; 'default' for QEMU's own (SeaBIOS); without it\n"
		"                      qboot when QEMU ships it (boots in a fraction of the time)\n"
		"  --disk FILE, --disk-size SIZE  QEMU's own virtio-blk-device on this raw image\n"
		"                      (a sparse temporary one in the run directory with\n"
		"                      --disk-size alone), on the microvm machine's virtio-mmio\n"
		"                      transport: the io workload's peer\n\n"
		"exit status: 0 guest passed, 1 guest reported failure, 2 usage error, 3 guest\n"
		"misbehaved, timed out or was interrupted, 4 host error (QEMU failed), 77 skipped\n"
		"(QEMU or, for qemu-kvm, a usable KVM is missing; or the guest skipped)\n");
}

/* Takes hvpeer's own options out of argv (in place); the rest are hvm run's. */
static int take_peer_opts(int *argc, char **argv, struct peer_opts *p)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char **dst = NULL;
		const char *name = NULL;

		if (!strncmp(argv[i], "--qemu", 6) && (argv[i][6] == '=' || !argv[i][6]))
			dst = &p->qemu, name = "--qemu";
		else if (!strncmp(argv[i], "--firmware", 10) && (argv[i][10] == '=' || !argv[i][10]))
			dst = &p->firmware, name = "--firmware";
		if (!dst) {
			argv[out++] = argv[i];
			continue;
		}
		if (*dst)
			return hv_err_set("option %s given twice", name);
		if (argv[i][strlen(name)] == '=')
			*dst = argv[i] + strlen(name) + 1;
		else if (i + 1 < *argc)
			*dst = argv[++i];
		else
			return hv_err_set("option %s needs a value", name);
		if (!**dst)
			return hv_err_set("option %s: empty value", name);
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

/* The guest kernel's tsc_start or tsc_end record: its TSC when sent, and the host's
 * CLOCK_MONOTONIC when its line arrived. */
struct tsc_mark {
	int seen;
	uint64_t tsc;
	double at;
};

struct peer_run {
	struct hvm_options o;
	struct peer_opts p;
	const struct peer_engine *pe;
	struct host_choice host;
	char qemu[PATH_MAX], qemu_version[160], firmware[PATH_MAX], kernel[PATH_MAX];
	char cmdline[HV_CMDLINE_MAX], qemu_log[PATH_MAX + 16];
	double host_hz, guest_hz;
	struct tsc_mark marks[2];    /* tsc_start, tsc_end */
	struct hv_run *run;
	struct hv_mode mode;
	struct hv_console console;
	int console_open, recorder_init;
	struct hv_recorder rec;
	struct hvr_feed feed;
	struct peer_qemu_argv qargv;
	struct peer_end end;
	enum hv_stop_kind stop_kind;
	unsigned guest_status;
	char stop_why[512];
	int linux_guest;             /* the kernel is a Linux bzImage (QEMU's own -kernel) */
	char native_program[PATH_MAX];
	double t_start, t_init;      /* QEMU started; its init's first record (0: not yet) */
};

static void note(struct peer_run *s, const char *key, const char *value)
{
	if (s->run && hv_run_note(s->run, key, value))
		hv_warn("recording note %s: %s", key, hv_err_msg());
}

static void note_num(struct peer_run *s, const char *key, double value)
{
	if (s->run && hv_run_note_num(s->run, key, value))
		hv_warn("recording note %s: %s", key, hv_err_msg());
}

/* A Linux bzImage (and its initrd) gets hvm's checks before QEMU sees it; hvlab's own
 * ELF image is QEMU's to load (PVH). */
static int linux_check(struct peer_run *s)
{
	uint8_t *img = NULL, *rd = NULL;
	size_t len = 0, rdlen = 0;
	struct hv_bzimage bz;
	int rc = -1;

	if (hv_guest_file_read(s->kernel, "guest kernel", &img, &len))
		return -1;
	s->linux_guest = hv_bzimage_detect(img, len);
	if (!s->linux_guest) {
		rc = s->o.initrd ? hv_err_set("--initrd %s: the kernel %s is not a Linux bzImage "
					      "(an initrd goes with one)", s->o.initrd, s->kernel) : 0;
		goto out;
	}
	if (hv_bzimage_parse(s->kernel, img, len, s->o.mem_bytes, &bz) ||
	    (s->o.initrd && (hv_guest_file_read(s->o.initrd, "initrd", &rd, &rdlen) ||
			     hv_initrd_check(s->o.initrd, rd, rdlen))) ||
	    hv_linux_native_default(s->native_program, sizeof(s->native_program)))
		goto out;
	rc = 0;
out:
	free(img);
	free(rd);
	return rc;
}


/* The last non-empty line of QEMU's messages, for an error. */
static void qemu_last_message(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	char line[200];

	snprintf(buf, len, "(no message from QEMU)");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0])
			snprintf(buf, len, "%.*s", (int)(len - 1), line);
	}
	fclose(f);
}

/* Options, QEMU, the host's choices; everything before the run directory. Returns an
 * HVM_EXIT_* code, 0 when ready. */
static int run_prepare(struct peer_run *s, int argc, char **argv)
{
	struct hv_tsc tsc;

	if (take_peer_opts(&argc, argv, &s->p) || hvm_cli_parse_run(argc, argv, &s->o)) {
		fprintf(stderr, "hvpeer run: %s\n", hv_err_msg());
		return HVM_EXIT_USAGE;
	}
	if (s->o.help) {
		hvpeer_usage_run(stdout);
		return -1;
	}
	s->pe = peer_engine_find(s->o.engine);
	if (!s->pe) {
		fprintf(stderr, "hvpeer run: engine '%s' is not a peer; give --engine qemu-tcg or "
			"--engine qemu-kvm (hvm runs hw and bt)\n", s->o.engine);
		return HVM_EXIT_USAGE;
	}
	if (s->o.kernel)
		snprintf(s->kernel, sizeof(s->kernel), "%s", s->o.kernel);
	else if (default_kernel(s->kernel, sizeof(s->kernel)))
		goto usage;
	if (access(s->kernel, R_OK)) {
		hv_err_errno("cannot read the guest kernel %s (build it with make, or give "
			     "--kernel FILE)", s->kernel);
		goto usage;
	}
	if (linux_check(s))
		goto usage;
	if (peer_qemu_find(s->p.qemu ? s->p.qemu : PEER_QEMU_DEFAULT, s->qemu, sizeof(s->qemu))) {
		hv_info("skipped: engine %s needs QEMU: %s", s->pe->name, hv_err_msg());
		return HVM_EXIT_SKIP;
	}
	if (decide_host(s->pe, s->o.vcpus, &s->host)) {
		hv_info("skipped: %s", hv_err_msg());
		return HVM_EXIT_SKIP;
	}
	if (s->p.firmware && strcmp(s->p.firmware, "default"))
		snprintf(s->firmware, sizeof(s->firmware), "%s", s->p.firmware);
	else if (!s->p.firmware && !peer_qemu_qboot(s->qemu, s->firmware, sizeof(s->firmware)))
		s->firmware[0] = '\0';
	peer_qemu_version(s->qemu, s->qemu_version, sizeof(s->qemu_version));
	if (s->linux_guest ? hvm_build_linux_cmdline(&s->o, s->cmdline, sizeof(s->cmdline)) :
	    hvm_build_cmdline_host(&s->o, s->host.gate, s->host.words, s->cmdline,
				   sizeof(s->cmdline)))
		goto usage;
	/* The guest's TSC is the host's under both accelerators (KVM without TSC scaling;
	 * TCG reads the host TSC), so hvm's fallback rate serves for ns. */
	if (hv_tsc_init(&tsc)) {
		hv_err("calibrating the TSC: %s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	s->host_hz = tsc.hz;
	return 0;
usage:
	hv_err("%s", hv_err_msg());
	return HVM_EXIT_USAGE;
}

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Notes when the guest kernel's tsc_start and tsc_end records arrive (hv.h of the
 * guest kernel): the lines are read as QEMU writes them, so the host's clock at their
 * arrival and the guest's TSC in them span the same stretch of the run, less the
 * time to print a line at each end. */
static void on_record(void *arg, const struct hv_result *r)
{
	struct peer_run *s = arg;
	int i = !strcmp(r->name, "tsc_start") ? 0 : !strcmp(r->name, "tsc_end") ? 1 : -1;
	char *end;
	unsigned long long v;

	if (r->kind == HV_RES_INFO && !strcmp(r->name, "init") && !s->t_init)
		s->t_init = monotonic_s();
	if (r->kind != HV_RES_INFO || i < 0 || s->marks[i].seen)
		return;
	errno = 0;
	v = strtoull(r->unit, &end, 10);
	if (errno || end == r->unit || *end)
		return;
	s->marks[i] = (struct tsc_mark){ .seen = 1, .tsc = v, .at = monotonic_s() };
}

/* The guest's clock against the host's (tools/README.md, "The guest's cycles against
 * the host's clock"): the guest TSC cycles from tsc_start to tsc_end at the guest TSC
 * rate, over the host CLOCK_MONOTONIC time between the two lines' arrival. */
static void clock_check(struct peer_run *s)
{
	const struct tsc_mark *a = &s->marks[0], *b = &s->marks[1];
	double guest, host, ratio;

	if (!a->seen || !b->seen) {
		note(s, "guest_tsc_vs_host_clock", "unavailable: the guest kernel did not send "
		     "both tsc_start and tsc_end (the run did not end normally, or an older "
		     "guest image)");
		return;
	}
	if (b->tsc <= a->tsc || b->at <= a->at || !(s->guest_hz > 0)) {
		note(s, "guest_tsc_vs_host_clock", "unavailable: tsc_end is not after tsc_start");
		return;
	}
	guest = (double)(b->tsc - a->tsc) / s->guest_hz;
	host = b->at - a->at;
	ratio = guest / host;
	note_num(s, "guest_tsc_span_s", guest);
	note_num(s, "host_clock_span_s", host);
	note_num(s, "guest_tsc_vs_host_clock", ratio);
	/* Under half a second, a few milliseconds of printing and reading say more than
	 * the clocks do. */
	if (host >= 0.5 && (ratio < 0.95 || ratio > 1.05))
		hv_warn("the guest's TSC and the host's clock disagree: %.3f s of guest TSC at "
			"%.0f kHz over %.3f s of host time (ratio %.3f); cycles and ns of this "
			"run are suspect", guest, s->guest_hz / 1e3, host, ratio);
}

static int run_open(struct peer_run *s, int argc, char **argv)
{
	char path[PATH_MAX + 32];
	double guest_hz = s->host.tsc_khz ? (double)s->host.tsc_khz * 1e3 : s->host_hz;

	s->guest_hz = guest_hz;
	s->run = hv_run_open(HVPEER_RESULTS_ROOT, s->o.workload, s->o.out_dir, argc, argv, 0);
	if (!s->run) {
		hv_err("opening the run directory: %s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	/* flavour, spinlock and iopath: what the guest reports it booted with (record.c) */
	s->mode = (struct hv_mode){
		.engine = s->pe->name, .memvirt = s->host.memvirt, .vcpus = (int)s->o.vcpus,
		.pcpus = s->o.pin ? (int)s->o.pin_ncpus : hv_pin_ncpus(),
	};
	snprintf(path, sizeof(path), "%s/console.log", hv_run_dir(s->run));
	if (hv_console_open(&s->console, stderr, path)) {
		hv_err("%s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	s->console_open = 1;
	hv_recorder_init(&s->rec, s->run, &s->mode, s->o.workload, guest_hz);
	if (s->o.max_records)
		hv_recorder_set_budget(&s->rec, s->o.max_records);
	s->recorder_init = 1;
	hvr_feed_init(&s->feed, &s->console, &s->rec, s->o.vcpus, "console");
	s->feed.on_record = on_record;
	s->feed.on_record_arg = s;
	snprintf(s->qemu_log, sizeof(s->qemu_log), "%s/qemu.log", hv_run_dir(s->run));

	note(s, "engine", s->pe->name);
	note(s, "sysgate", s->host.gate);
	note(s, "guest_cmdline", s->cmdline);
	note(s, "kernel", s->kernel);
	note_num(s, "guest_mem_bytes", (double)s->o.mem_bytes);
	note_num(s, "guest_tsc_khz", guest_hz / 1e3);
	note(s, "guest_tsc_source", s->host.tsc_khz ? "KVM_GET_TSC_KHZ" : "host TSC calibration");
	note_num(s, "timeout_s", s->o.timeout_s);
	note(s, "pin", s->o.pin ? s->o.pin : "none");
	note(s, "qemu", s->qemu);
	note(s, "qemu_version", s->qemu_version);
	note(s, "qemu_accel", s->pe->accel);
	note(s, "qemu_cpu", s->pe->cpu ? s->pe->cpu : "QEMU's default");
	note(s, "qemu_firmware", s->firmware[0] ? s->firmware : "QEMU's default (SeaBIOS)");
	note(s, "exit_stats", "unavailable: QEMU does not report its exits");
	return 0;
}

static int on_console(void *arg, const char *buf, size_t n)
{
	struct peer_run *s = arg;

	hvr_feed_bytes(&s->feed, buf, n);
	return s->feed.record_error || s->feed.guest_fault;
}

/* How QEMU ended -> why the run stopped (hvm's stop kinds). */
static void judge(struct peer_run *s)
{
	const struct peer_end *e = &s->end;
	char msg[256];

	switch (e->kind) {
	case PEER_END_EXIT:
		/* isa-debug-exit: QEMU exits with (status << 1) | 1, so an odd status with
		 * console output is the guest's; QEMU's own failures exit 1 before any. */
		if ((e->code & 1) && s->feed.bytes) {
			s->stop_kind = HV_STOP_GUEST_EXIT;
			s->guest_status = (unsigned)e->code >> 1;
			snprintf(s->stop_why, sizeof(s->stop_why), "the guest exited with status %u "
				 "(low 7 bits, through isa-debug-exit)", s->guest_status);
		} else if (e->code == 0 && s->feed.bytes) {
			s->stop_kind = HV_STOP_GUEST_FAULT;
			snprintf(s->stop_why, sizeof(s->stop_why), "QEMU ended without the guest's "
				 "exit status: the guest shut down or reset (a triple fault, under "
				 "-no-reboot)");
		} else {
			qemu_last_message(s->qemu_log, msg, sizeof(msg));
			s->stop_kind = HV_STOP_HOST_ERROR;
			snprintf(s->stop_why, sizeof(s->stop_why), "QEMU exited with status %d%s: %s",
				 e->code, s->feed.bytes ? "" : " before the guest printed anything",
				 msg);
		}
		break;
	case PEER_END_SIGNALED:
		qemu_last_message(s->qemu_log, msg, sizeof(msg));
		s->stop_kind = HV_STOP_HOST_ERROR;
		snprintf(s->stop_why, sizeof(s->stop_why), "QEMU was killed by signal %d (%s): %s",
			 e->code, strsignal(e->code), msg);
		break;
	case PEER_END_TIMEOUT:
		s->stop_kind = HV_STOP_HANG;
		snprintf(s->stop_why, sizeof(s->stop_why), "the timeout of %g s expired; QEMU "
			 "was stopped (the %u records reported until then are kept)",
			 s->o.timeout_s, s->feed.nrecords);
		break;
	case PEER_END_INTERRUPTED:
		s->stop_kind = HV_STOP_SIGNAL;
		snprintf(s->stop_why, sizeof(s->stop_why), "hvpeer got %s; QEMU was stopped",
			 strsignal(e->code));
		break;
	case PEER_END_STOPPED:          /* the recorder refused a record: whose fault? */
		s->stop_kind = s->feed.guest_fault ? HV_STOP_GUEST_FAULT : HV_STOP_HOST_ERROR;
		snprintf(s->stop_why, sizeof(s->stop_why), "%s", s->feed.record_why);
		break;
	}
}

/* What hvm's report_run does after the guest, less exit statistics (QEMU has none). */
static void report(struct peer_run *s)
{
	hvr_feed_end(&s->feed);
	note_num(s, "qemu_seconds", s->end.seconds);
	if (s->end.first_output_s >= 0)
		note_num(s, "startup_to_first_output_us", s->end.first_output_s * 1e6);
	note_num(s, "console_bytes", (double)s->feed.bytes);
	note_num(s, "records_rejected", s->feed.nrejected);
	clock_check(s);
	if (s->feed.nrejected)
		note(s, "first_rejected", s->feed.first_rejected);
	if (s->linux_guest && s->t_init &&
	    hv_linux_boot_record(s->run, hv_recorder_mode(&s->rec), s->o.workload,
				 s->t_init - s->t_start))
		hv_warn("recording the boot time: %s", hv_err_msg());
	else if (s->linux_guest && !s->t_init)
		note(s, "linux_boot_to_init", "not reached: no init record on the console");
	hv_stop_finish(&s->rec, &s->o, s->host_hz, s->stop_kind, s->stop_why, s->guest_status,
		       s->linux_guest ? s->native_program : NULL);
}

static void run_teardown(struct peer_run *s)
{
	if (s->recorder_init)
		hv_recorder_free(&s->rec);
	if (s->console_open)
		hv_console_close(&s->console);
	if (s->run) {
		hv_info("results in %s", hv_run_dir(s->run));
		if (hv_run_close(s->run))
			hv_err("closing the run: %s", hv_err_msg());
	}
}

int hvpeer_cmd_run(int argc, char **argv, const struct hvm_invocation *inv)
{
	struct peer_run *s = calloc(1, sizeof(*s));
	/* take_peer_opts rewrites the array it is given. */
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	struct peer_qemu_config qc;
	int rc;

	if (!s || !args) {
		hv_err("out of memory");
		free(s);
		free(args);
		return HVM_EXIT_HOST;
	}
	memcpy(args, argv, (size_t)argc * sizeof(*args));
	rc = run_prepare(s, argc, args);
	if (rc < 0) {                            /* --help */
		free(args);
		free(s);
		return HVM_EXIT_PASS;
	}
	if (!rc)
		rc = run_open(s, inv->argc, inv->argv);
	struct hv_blkfile disk = { .fd = -1 };
	/* --disk or --disk-size: QEMU's own virtio-blk-device on that image (io workload) */
	if (!rc && (s->o.disk || s->o.disk_size) &&
	    hv_blkfile_open(&disk, s->o.disk, hv_run_dir(s->run), s->o.disk_size, 0)) {
		hv_err("%s", hv_err_msg());
		rc = HVM_EXIT_HOST;
	}
	/* QEMU 7.2's microvm (ACPI and a second IOAPIC) has 24 virtio-mmio transports at
	 * 0xfeb00000, 512 bytes apart, with IOAPIC inputs 24-47, and puts the first device
	 * on the last one (`info qtree`). Linux learns it from this word, which microvm
	 * adds for Linux's boot protocol only: for the PVH entry, hvpeer says it. */
	if (!rc && disk.fd >= 0) {
		size_t n = strlen(s->cmdline);

		if (snprintf(s->cmdline + n, sizeof(s->cmdline) - n,
			     " virtio_mmio.device=512@0xfeb02e00:47") >= (int)(sizeof(s->cmdline) - n)) {
			hv_err("the guest command line is too long for the disk's word");
			rc = HVM_EXIT_USAGE;
		} else {
			note(s, "guest_cmdline", s->cmdline);
		}
	}
	if (!rc) {
		note(s, "disk", disk.fd >= 0 ? disk.path : "none");
		qc = (struct peer_qemu_config){
			.qemu = s->qemu, .accel = s->pe->accel, .cpu = s->pe->cpu,
			.firmware = s->firmware[0] ? s->firmware : NULL, .kernel = s->kernel,
			.cmdline = s->cmdline, .vcpus = s->o.vcpus, .mem_bytes = s->o.mem_bytes,
			.stderr_path = s->qemu_log, .pin = s->o.pin,
			.disk = disk.fd >= 0 ? disk.path : NULL,
			.initrd = s->linux_guest ? s->o.initrd : NULL,
		};
		if (peer_qemu_build_argv(&qc, &s->qargv)) {
			hv_err("%s", hv_err_msg());
			rc = HVM_EXIT_USAGE;
		}
	}
	if (!rc) {
		note(s, "qemu_command", s->qargv.shown);
		hv_info("engine %s: %s", s->pe->name, s->qargv.shown);
		s->t_start = monotonic_s();
		if (peer_qemu_run(&qc, &s->qargv, s->o.timeout_s, on_console, s, &s->end)) {
			hv_err("%s", hv_err_msg());
			note(s, "stop_kind", hv_stop_kind_name(HV_STOP_HOST_ERROR));
			note(s, "stop_reason", hv_err_msg());
			rc = HVM_EXIT_HOST;
		} else {
			judge(s);
			if (s->stop_kind == HV_STOP_GUEST_EXIT)
				hv_info("%s", s->stop_why);
			else
				hv_err("guest stopped (%s): %s", hv_stop_kind_name(s->stop_kind),
				       s->stop_why);
			report(s);
			rc = hv_stop_exit_status(s->stop_kind, s->guest_status);
		}
	}
	if (disk.fd >= 0)
		hv_blkfile_close(&disk);
	run_teardown(s);
	free(args);
	free(s);
	return rc;
}
