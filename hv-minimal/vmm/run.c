/* `hvm run`: options -> engine -> VM -> run directory -> devices -> boot -> run ->
 * what was measured, the stop reason and the exit status. Everything the guest
 * reported is in the run directory before hvm decides how to exit. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvlab/blk.h"
#include "hvlab/err.h"
#include "hvlab/guestfile.h"
#include "hvlab/hvr.h"
#include "hvlab/linux_native.h"
#include "hvlab/hvm.h"
#include "hvlab/hvm_cli.h"
#include "hvlab/kvminfo.h"
#include "hvlab/log.h"
#include "hvlab/pin.h"
#include "hvlab/regdump.h"
#include "hvlab/results.h"
#include "hvlab/tsc.h"
#include "hvlab/vm.h"
#include "hvlab/work_report.h"

#ifndef HVLAB_SRCDIR
#define HVLAB_SRCDIR "."
#endif
#define HVM_RESULTS_ROOT HVLAB_SRCDIR "/results/runs"
/* Each native repetition runs at least this long. */

struct run_state {
	struct hvm_options o;
	const struct hv_engine_ops *ops;
	char kernel_path[PATH_MAX];
	uint8_t *kernel;
	size_t kernel_len;
	int linux_guest;                 /* the kernel is a bzImage */
	uint8_t *initrd;                 /* its --initrd, or NULL */
	size_t initrd_len;
	struct hvr_feed feed;            /* a Linux guest's console: its @hvr records */
	uint64_t tsc_init;               /* host TSC when its init reported in, 0 before */
	char native_program[PATH_MAX];   /* its program run natively (linuxbench) */
	struct hv_vm *vm;
	int vm_created;
	struct hv_run *run;
	int console_open, recorder_init;
	struct hv_mode mode;
	char gate[16];
	char cmdline[HV_CMDLINE_MAX];
	char words[64];                  /* boot words this host needs (host_words) */
	char engine_label[24];           /* the engine column: the engine's name, "-tcg" */
	int under_tcg;                   /* this host is itself run by QEMU's TCG */
	double host_hz;
	uint64_t tsc_vm_ready, tsc_run_open, tsc_booted;
};

static int default_kernel(char *buf, size_t len)
{
	char exe[PATH_MAX];
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
	return 0;
}


static void note(struct run_state *s, const char *key, const char *value)
{
	if (s->run && hv_run_note(s->run, key, value))
		hv_warn("recording note %s: %s", key, hv_err_msg());
}

/* Boot words this host needs: the memory virtualization's (hvm_host_words), and
 * cr8wr=off for KVM under QEMU's TCG, where a nested guest's CR8 write aborts QEMU 7.2
 * (tcg_handle_interrupt: assertion qemu_mutex_iothread_locked() failed). */
static const char *host_words(struct run_state *s)
{
	const char *mv = hvm_host_words(s->ops->memvirt(s->vm->eng));
	int cr8 = s->under_tcg && !strcmp(s->ops->name, "hw");

	if (!cr8)
		return mv;
	snprintf(s->words, sizeof(s->words), "%s%scr8wr=off", mv ? mv : "", mv ? " " : "");
	return s->words;
}

/* The engine's own facts about this VM (struct hv_engine_ops.notes). */
static void engine_note(void *arg, const char *key, const char *value)
{
	note(arg, key, value);
}

static void note_num(struct run_state *s, const char *key, double value)
{
	if (s->run && hv_run_note_num(s->run, key, value))
		hv_warn("recording note %s: %s", key, hv_err_msg());
}

static double tsc_us(const struct run_state *s, uint64_t from, uint64_t to)
{
	return to > from ? (double)(to - from) * 1e6 / s->host_hz : 0;
}

/* The host TSC rate, calibrated on first use: calibration and the rest of the run
 * context take tens of ms, so they wait until the guest has been started. Returns 1
 * when known, 0 (with the error printed) when it cannot be had. */
static int host_hz_known(struct run_state *s)
{
	struct hv_tsc t;

	if (s->host_hz > 0)
		return 1;
	if (hv_tsc_init(&t)) {
		hv_err("calibrating the TSC: %s", hv_err_msg());
		return 0;
	}
	s->host_hz = t.hz;
	return 1;
}

/* Everything up to a VM ready to boot. Returns an HVM_EXIT_* code, 0 when ready. */
/* A Linux guest's console goes through the @hvr parser to the console and recorder:
 * its programs report as hvlab's own kernel does on the console (guest/README.md). */
static void linux_console(void *arg, const char *buf, size_t n)
{
	struct run_state *s = arg;

	hvr_feed_bytes(&s->feed, buf, n);
	if (s->feed.record_error || s->feed.guest_fault)
		hv_vm_stop(s->vm, s->feed.guest_fault ? HV_STOP_GUEST_FAULT : HV_STOP_HOST_ERROR,
			   0, 0, "the guest's @hvr records: %s", s->feed.record_why);
}

/* The initramfs's first record (an info record named init) marks the end of boot. */
static void linux_record(void *arg, const struct hv_result *r)
{
	struct run_state *s = arg;

	if (!s->tsc_init && r->kind == HV_RES_INFO && !strcmp(r->name, "init"))
		s->tsc_init = hv_tsc_begin();
}

static int run_setup(struct run_state *s, const struct hvm_invocation *inv)
{
	struct hvm_options *o = &s->o;
	char path[PATH_MAX + 32];
	struct hv_elf_image image;
	char real[PATH_MAX];
	double guest_hz;

	s->ops = hv_engine_find(o->engine);
	if (!s->ops) {
		hv_err("%s", hv_err_msg());
		return HVM_EXIT_USAGE;
	}
	if (o->kernel)
		snprintf(s->kernel_path, sizeof(s->kernel_path), "%s", o->kernel);
	else if (default_kernel(s->kernel_path, sizeof(s->kernel_path)))
		goto usage;
	else if (realpath(s->kernel_path, real))    /* drop the bin/.. */
		memcpy(s->kernel_path, real, sizeof(real));
	if (hv_guest_file_read(s->kernel_path, "guest kernel", &s->kernel, &s->kernel_len))
		goto usage;
	/* Refuse a malformed image before anything is created (the boot checks again). */
	s->linux_guest = hv_bzimage_detect(s->kernel, s->kernel_len);
	if (s->linux_guest) {
		struct hv_bzimage bz;

		if (hv_bzimage_parse(s->kernel_path, s->kernel, s->kernel_len, o->mem_bytes, &bz))
			goto usage;
		if (o->initrd &&
		    (hv_guest_file_read(o->initrd, "initrd", &s->initrd, &s->initrd_len) ||
		     hv_initrd_check(o->initrd, s->initrd, s->initrd_len)))
			goto usage;
		if (hv_linux_native_default(s->native_program, sizeof(s->native_program)))
			goto usage;
	} else if (o->initrd) {
		hv_err_set("--initrd %s: the kernel %s is not a Linux bzImage (an initrd goes with "
			   "one)", o->initrd, s->kernel_path);
		goto usage;
	} else if (hv_elf_parse(s->kernel_path, s->kernel, s->kernel_len, o->mem_bytes,
				HV_BOOT_RESERVED_END, &image)) {
		/* neither kind: say both were looked for */
		if (s->kernel_len < 4 || memcmp(s->kernel, "\x7f" "ELF", 4))
			hv_err_set("%s (and no Linux bzImage either: no boot_flag 0xaa55 and \"HdrS\" "
				   "in its setup header)", hv_err_msg());
		goto usage;
	}

	if (s->ops->probe &&
	    s->ops->probe(&(struct hv_vm_config){ .nr_vcpus = o->vcpus, .mem_bytes = o->mem_bytes,
						  .bt_gs = o->bt_gs })) {
		/* what the host lacks is a skip, as for a peer without QEMU */
		fprintf(stderr, "hvm: skipped: engine %s cannot run on this host: %s\n",
			s->ops->name, hv_err_msg());
		return HVM_EXIT_SKIP;
	}
	s->vm = calloc(1, sizeof(*s->vm));
	if (!s->vm) {
		hv_err("allocating the VM: out of memory");
		return HVM_EXIT_HOST;
	}
	s->vm_created = 1;
	if (hv_vm_create(s->vm, &(struct hv_vm_params){ .ops = s->ops, .nr_vcpus = o->vcpus,
							 .mem_bytes = o->mem_bytes,
							 .bt_gs = o->bt_gs,
							 .bt_adaptive = o->bt_adaptive,
							 .bt_trace = o->bt_trace,
							 .spin_threshold = o->spin_threshold,
							 .pc_platform = s->linux_guest })) {
		hv_err("creating the VM (engine %s): %s", s->ops->name, hv_err_msg());
		return HVM_EXIT_HOST;
	}
	s->tsc_vm_ready = hv_tsc_begin();
	snprintf(s->gate, sizeof(s->gate), "%s",
		 s->ops->guest_syscall_ok(s->vm->eng) ? "syscall" : "ud2");
	s->under_tcg = hv_host_under_tcg();
	if (s->linux_guest ? hvm_build_linux_cmdline(o, s->cmdline, sizeof(s->cmdline)) :
	    hvm_build_cmdline_host(o, s->gate, host_words(s), s->cmdline, sizeof(s->cmdline))) {
		hv_err("%s", hv_err_msg());
		return HVM_EXIT_USAGE;
	}

	/* HVLAB_RESULTS_ROOT moves the default (the nested test bed points it at what it
	 * brings back to the host) */
	const char *root = getenv("HVLAB_RESULTS_ROOT");

	s->run = hv_run_open(root && *root ? root : HVM_RESULTS_ROOT, o->workload, o->out_dir,
			     inv->argc, inv->argv, 0);
	if (!s->run) {
		hv_err("opening the run directory: %s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	s->tsc_run_open = hv_tsc_begin();
	s->vm->run_dir = hv_run_dir(s->run);
	s->vm->pin = o->pin;
	/* pcpus: the host CPUs the vCPU threads may run on. */
	/* Under QEMU's TCG (the nested test bed) every instruction is emulated: the rows
	 * say so in the engine column ("hw-tcg"), so they never mix with real ones.
	 * flavour, spinlock, iopath: what the guest reports it booted with (record.c). */
	snprintf(s->engine_label, sizeof(s->engine_label), "%s%s", s->ops->name,
		 s->under_tcg ? "-tcg" : "");
	s->mode = (struct hv_mode){
		.engine = s->engine_label, .memvirt = s->ops->memvirt(s->vm->eng),
		.vcpus = (int)o->vcpus,
		.segbase = s->ops->segbase ? s->ops->segbase(s->vm->eng) : NULL,
		.pcpus = o->pin ? (int)o->pin_ncpus : hv_pin_ncpus(),
	};
	snprintf(path, sizeof(path), "%s/console.log", hv_run_dir(s->run));
	if (hv_console_open(&s->vm->console, stderr, path)) {
		hv_err("%s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	s->console_open = 1;
	if (s->ops->tsc_khz(s->vm->eng))
		guest_hz = (double)s->ops->tsc_khz(s->vm->eng) * 1e3;
	else if (host_hz_known(s))
		guest_hz = s->host_hz;
	else
		return HVM_EXIT_HOST;
	hv_recorder_init(&s->vm->rec, s->run, &s->mode, o->workload, guest_hz);
	if (o->max_records)
		hv_recorder_set_budget(&s->vm->rec, o->max_records);
	s->recorder_init = 1;

	note(s, "engine", s->ops->name);
	note(s, "sysgate", s->gate);
	note(s, "guest_cmdline", s->cmdline);
	note(s, "kernel", s->kernel_path);
	note(s, "guest_os", s->linux_guest ? "linux" : "hvlab");
	if (s->linux_guest)
		note(s, "initrd", o->initrd ? o->initrd : "none");
	note_num(s, "guest_mem_bytes", (double)o->mem_bytes);
	note_num(s, "guest_tsc_khz", (double)s->ops->tsc_khz(s->vm->eng));
	note_num(s, "timeout_s", o->timeout_s);
	note(s, "pin", o->pin ? o->pin : "none");
	if (s->ops->notes)
		s->ops->notes(s->vm->eng, engine_note, s);
	if (s->under_tcg) {
		/* the nested test bed names the outer machine; anyone else's is unknown */
		const char *outer = getenv("HVLAB_NESTED_OUTER");

		note(s, "outer_emulator", outer && *outer ? outer : "QEMU TCG (version and CPU "
		     "model unknown: not started by scripts/nested.sh)");
		note(s, "times", "emulated: this host is itself run by QEMU's TCG, so times are "
		     "not performance figures; counts and checksums are");
		if (!strcmp(s->ops->name, "hw")) {
			char npt[16];

			note(s, "kvm_amd_npt", hv_kvm_module_param("kvm_amd", "npt", npt, sizeof(npt)));
			note(s, "cr8wr", "off: QEMU 7.2's TCG aborts on a nested guest's CR8 write "
			     "(tcg_handle_interrupt: assertion qemu_mutex_iothread_locked() failed)");
		}
	}

	if (hv_devices_init(s->vm) || (s->linux_guest && hv_pc_register(s->vm))) {
		hv_err("setting up the devices: %s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	if (s->linux_guest) {
		hvr_feed_init(&s->feed, &s->vm->console, &s->vm->rec, o->vcpus, "console");
		s->feed.on_record = linux_record;
		s->feed.on_record_arg = s;
		s->vm->dev.serial.sink = linux_console;
		s->vm->dev.serial.sink_arg = s;
	}
	if (hv_blk_register(s->vm, &(struct hv_blk_config){ .path = o->disk,
			    .size = o->disk_size, .direct = o->disk_direct,
			    .cmdline = s->cmdline })) {
		hv_err("setting up the block device: %s", hv_err_msg());
		return HVM_EXIT_HOST;
	}
	note(s, "disk", s->vm->dev.blk ? hv_blk_file_path(s->vm) : "none");
	note(s, "disk_direct", o->disk_direct ? "on" : "off");
	note(s, "blk_irq_route", hv_blk_irq_route(s->vm));
	note(s, "blk_notify", hv_blk_notify_route(s->vm));
	if (s->linux_guest ?
	    hv_vm_boot_linux(s->vm, s->kernel_path, s->kernel, s->kernel_len, o->initrd,
			     s->initrd, s->initrd_len, s->cmdline) :
	    hv_vm_boot(s->vm, s->kernel_path, s->kernel, s->kernel_len, s->cmdline)) {
		hv_err("cannot boot: %s", hv_err_msg());
		note(s, "stop_kind", "refused");
		note(s, "stop_reason", hv_err_msg());
		return HVM_EXIT_USAGE;
	}
	s->tsc_booted = hv_tsc_begin();
	return 0;
usage:
	hv_err("%s", hv_err_msg());
	return HVM_EXIT_USAGE;
}

/* Boot to init, host-side: from the guest's first instruction (the booted vCPU state)
 * to its init's first record, a sample of the run ("boot", metric boot_to_init). */
static void report_linux_boot(struct run_state *s)
{
	double secs;

	note_num(s, "linux_records", (double)s->feed.nrecords);
	note_num(s, "linux_records_rejected", (double)s->feed.nrejected);
	if (s->feed.nrejected)
		note(s, "linux_first_rejected", s->feed.first_rejected);
	if (!s->tsc_init) {
		note(s, "linux_boot_to_init", "not reached: no init record on the console");
		return;
	}
	secs = (double)(s->tsc_init - s->tsc_booted) / s->host_hz;
	if (hv_linux_boot_record(s->run, hv_recorder_mode(&s->vm->rec), s->o.workload, secs))
		hv_warn("recording the boot time: %s", hv_err_msg());
}

/* What a Linux guest found on the floating bus (pc.c). */
static void report_pc(struct run_state *s)
{
	const struct hv_pc *pc = &s->vm->dev.pc;
	char ports[8 * 8 + 1] = "";
	size_t used = 0;

	note_num(s, "pc_unclaimed_port_accesses", (double)pc->unclaimed_pio);
	note_num(s, "pc_unclaimed_mmio_accesses", (double)pc->unclaimed_mmio);
	for (unsigned i = 0; i < pc->nfirst && used < sizeof(ports) - 8; i++)
		used += (size_t)snprintf(ports + used, sizeof(ports) - used, "%s%#x", i ? "," : "",
					 pc->first_ports[i]);
	note(s, "pc_unclaimed_ports_first", pc->nfirst ? ports : "none");
}

static void write_dumps(struct run_state *s)
{
	char path[PATH_MAX + 32];
	const char *hint;
	FILE *f = NULL;

	for (unsigned i = 0; i < s->vm->nr_vcpus; i++) {
		struct hv_vcpu *c = &s->vm->vcpu[i];

		if (!c->have_dump)
			continue;
		if (!f && s->run) {
			snprintf(path, sizeof(path), "%s/regdump.txt", hv_run_dir(s->run));
			f = fopen(path, "we");
		}
		hint = hv_insn_hint(&s->vm->mem, &c->dump_regs, &c->dump_sregs);
		hv_regdump(stderr, i, &c->dump_regs, &c->dump_sregs, &s->vm->mem);
		if (hint)
			fprintf(stderr, "  note: %s\n", hint);
		if (f) {
			hv_regdump(f, i, &c->dump_regs, &c->dump_sregs, &s->vm->mem);
			if (hint)
				fprintf(f, "  note: %s\n", hint);
		}
		if (hint)
			note(s, "stop_hint", hint);
	}
	if (f)
		fclose(f);
}

/* Startup figures: from hvm's main() to the guest's first exit (its first instruction
 * writes a POST code), and the phases in between. */
static void report_startup(struct run_state *s, const struct hvm_invocation *inv)
{
	struct hv_vm *vm = s->vm;

	if (!vm->tsc_first_exit)
		return;
	note_num(s, "startup_to_first_exit_us", tsc_us(s, inv->tsc_start, vm->tsc_first_exit));
	note_num(s, "startup_vm_create_us", tsc_us(s, inv->tsc_start, s->tsc_vm_ready));
	note_num(s, "startup_run_open_us", tsc_us(s, s->tsc_vm_ready, s->tsc_run_open));
	note_num(s, "startup_boot_us", tsc_us(s, s->tsc_run_open, s->tsc_booted));
	note_num(s, "startup_launch_to_first_exit_us", tsc_us(s, s->tsc_booted,
							       vm->tsc_first_exit));
	hv_info("startup: %.0f us from main() to the guest's first exit (%.0f us of it "
		"opening the run directory; %.0f us from vCPU launch)",
		tsc_us(s, inv->tsc_start, vm->tsc_first_exit),
		tsc_us(s, s->tsc_vm_ready, s->tsc_run_open),
		tsc_us(s, s->tsc_booted, vm->tsc_first_exit));
}

/* The engine's own counters (optional engine op), summed over vCPUs: notes
 * "engine_NAME", and samples of experiment "counters" (metric NAME, unit count), so
 * that KVM's statistics and the translator's counters sit beside the measurements in
 * samples.csv with the run's mode columns. */
#define ENGINE_COUNTERS_MAX 256

struct engine_counters {
	unsigned n, dropped;
	char name[ENGINE_COUNTERS_MAX][48];
	uint64_t value[ENGINE_COUNTERS_MAX];
};

static void engine_counter(void *arg, const char *name, uint64_t value)
{
	struct engine_counters *ec = arg;
	unsigned i;

	for (i = 0; i < ec->n && strcmp(ec->name[i], name); i++)
		;
	if (i == ec->n) {
		if (ec->n == ENGINE_COUNTERS_MAX) {
			ec->dropped++;
			return;
		}
		snprintf(ec->name[i], sizeof(ec->name[i]), "%s", name);
		ec->value[ec->n++] = 0;
	}
	ec->value[i] += value;
}

/* A counter of the run: note key, and a sample of experiment "counters" (metric, unit
 * count) with the run's mode columns. */
static void record_counter(struct run_state *s, const char *key, const char *metric,
			   uint64_t value)
{
	note_num(s, key, (double)value);
	if (hv_run_add(s->run, &(struct hv_sample){
		    .experiment = "counters", .workload = s->o.workload,
		    .mode = hv_recorder_mode(&s->vm->rec), .metric = metric,
		    .value = (double)value, .unit = "count" }))
		hv_warn("recording counter %s: %s", metric, hv_err_msg());
}

static void report_engine_counters(struct run_state *s)
{
	static struct engine_counters ec;

	if (!s->ops->stats)
		return;
	ec.n = ec.dropped = 0;
	for (unsigned i = 0; i < s->vm->nr_vcpus; i++)
		if (s->vm->vcpu[i].eng)
			s->ops->stats(s->vm->vcpu[i].eng, engine_counter, &ec);
	for (unsigned i = 0; i < ec.n; i++) {
		char key[64];

		snprintf(key, sizeof(key), "engine_%s", ec.name[i]);
		record_counter(s, key, ec.name[i], ec.value[i]);
	}
	if (ec.dropped)
		hv_warn("%u engine counters beyond the first %d were not recorded", ec.dropped,
			ENGINE_COUNTERS_MAX);
}

/* Hypercalls by number, refusals and the page-table entries written for a paravirtual
 * guest: notes "hcall_NAME", and samples of experiment "counters" like the engine's. */
static void report_hcalls(struct run_state *s)
{
	const struct hv_hcall *hc = &s->vm->dev.hcall;

	for (uint64_t nr = 0; nr <= HV_HC_NR; nr++) {
		uint64_t calls = nr < HV_HC_NR ? hc->calls[nr] : 0, refused = hc->refused[nr];
		const char *name = hv_hcall_name(nr);
		char metric[64];

		for (int pass = 0; pass < 2; pass++) {
			uint64_t v = pass ? refused : calls;
			if (!v)
				continue;
			snprintf(metric, sizeof(metric), "hcall_%s%s", name, pass ? "_refused" : "");
			record_counter(s, metric, metric, v);
		}
	}
	if (hc->pv.updates)
		note_num(s, "pv_pte_updates", (double)hc->pv.updates);
	{
		const struct hv_spin *sp = &hc->spin;
		const struct { const char *name; uint64_t v; } spin[] = {
			{ "spin_wait_woken_kick", sp->woken_kick },
			{ "spin_wait_woken_changed", sp->woken_changed },
			{ "spin_wait_woken_timeout", sp->woken_timeout },
			{ "spin_kicks_idle", sp->kicks_idle },
		};

		for (unsigned i = 0; i < sizeof(spin) / sizeof(spin[0]); i++)
			if (spin[i].v)
				record_counter(s, spin[i].name, spin[i].name, spin[i].v);
	}
}

/* How often the host took a CPU from a vCPU thread (involuntary context switches) and
 * how often one blocked: the run's whole life, boot included. */
static void report_host_sched(struct run_state *s)
{
	uint64_t preempted = 0, blocked = 0;

	for (unsigned i = 0; i < s->vm->nr_vcpus; i++) {
		preempted += s->vm->vcpu[i].host_preempted;
		blocked += s->vm->vcpu[i].host_blocked;
	}
	record_counter(s, "host_vcpu_preemptions", "host_vcpu_preemptions", preempted);
	record_counter(s, "host_vcpu_blocks", "host_vcpu_blocks", blocked);
}

static void report_run(struct run_state *s, const struct hvm_invocation *inv)
{
	struct hv_vm *vm = s->vm;
	struct hv_exitstats all;
	uint64_t nexits = 0, ndirect = 0;

	hv_console_flush(&vm->console);
	if (!host_hz_known(s))
		return;
	hv_exitstats_init(&all, 1);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		char key[32];

		hv_exitstats_merge(&all, &vm->vcpu[i].stats);
		nexits += vm->vcpu[i].nexits;
		ndirect += vm->vcpu[i].nexits_direct;
		snprintf(key, sizeof(key), "exits_vcpu%u", i);
		note_num(s, key, (double)vm->vcpu[i].nexits);
	}
	if (hv_exitstats_report(&all, s->run, hv_recorder_mode(&vm->rec), s->o.workload,
				s->o.workload, s->host_hz, stderr))
		hv_warn("writing the exit statistics: %s", hv_err_msg());
	hv_exitstats_free(&all);
	note_num(s, "exits_total", (double)nexits);
	note_num(s, "exits_direct", (double)ndirect);
	report_engine_counters(s);
	report_hcalls(s);
	report_host_sched(s);
	note_num(s, "ioeventfd_signals", (double)hv_ioev_signals(vm));
	if (s->linux_guest) {
		pthread_mutex_lock(&vm->dev.serial.lock);
		hvr_feed_end(&s->feed);
		pthread_mutex_unlock(&vm->dev.serial.lock);
		report_pc(s);
		report_linux_boot(s);
	}
	report_startup(s, inv);

	hv_stop_finish(&vm->rec, &s->o, s->host_hz, vm->stop_kind, vm->stop_why, vm->guest_status,
		       s->linux_guest ? s->native_program : NULL);
}

static void run_teardown(struct run_state *s)
{
	if (s->recorder_init)
		hv_recorder_free(&s->vm->rec);
	if (s->console_open)
		hv_console_close(&s->vm->console);
	if (s->run) {
		const char *dir = hv_run_dir(s->run);

		hv_info("results in %s", dir);
		if (hv_run_close(s->run))
			hv_err("closing the run: %s", hv_err_msg());
	}
	if (s->vm_created)
		hv_vm_destroy(s->vm);
	free(s->vm);
	free(s->kernel);
	free(s->initrd);
}

int hvm_cmd_run(int argc, char **argv, const struct hvm_invocation *inv)
{
	struct run_state s;
	int rc;

	memset(&s, 0, sizeof(s));
	if (hvm_cli_parse_run(argc, argv, &s.o)) {
		fprintf(stderr, "hvm run: %s\n", hv_err_msg());
		return HVM_EXIT_USAGE;
	}
	if (s.o.help) {
		hvm_cli_usage_run(stdout);
		return HVM_EXIT_PASS;
	}
	rc = run_setup(&s, inv);
	if (rc == 0) {
		s.vm->tsc_start = inv->tsc_start;
		hv_vm_run(s.vm, s.o.timeout_s);
		hv_console_flush(&s.vm->console);
		if (s.vm->stop_kind == HV_STOP_GUEST_EXIT)
			hv_info("%s", s.vm->stop_why);
		else
			hv_err("guest stopped (%s): %s", hv_stop_kind_name(s.vm->stop_kind),
			       s.vm->stop_why);
		write_dumps(&s);
		report_run(&s, inv);
		rc = hv_stop_exit_status(s.vm->stop_kind, s.vm->guest_status);
	}
	run_teardown(&s);
	return rc;
}
