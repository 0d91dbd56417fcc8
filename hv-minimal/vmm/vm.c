/* The VM: creation through the engine, the stop record, and the per-vCPU run loop with
 * its one switch on the normalized exit reason. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/pin.h"
#include "hvlab/tsc.h"
#include "hvlab/hvm.h"
#include "hvlab/hvm_cli.h"
#include "hvlab/vm.h"
#include "hvlab/watchdog.h"

int hv_stop_exit_status(enum hv_stop_kind k, uint32_t guest_status)
{
	switch (k) {
	case HV_STOP_GUEST_EXIT:
		if (guest_status == HV_EXIT_PASS)
			return HVM_EXIT_PASS;
		return guest_status == HV_EXIT_SKIP ? HVM_EXIT_SKIP : HVM_EXIT_FAIL;
	case HV_STOP_GUEST_FAULT:
	case HV_STOP_HANG:
	case HV_STOP_SIGNAL:
		return HVM_EXIT_GUEST;
	case HV_STOP_NONE:
	case HV_STOP_HOST_ERROR:
		break;
	}
	return HVM_EXIT_HOST;
}

void hv_stop_finish(struct hv_recorder *rec, const struct hvm_options *o, double host_hz,
		    enum hv_stop_kind k, const char *why, uint32_t guest_status,
		    const char *native_program)
{
	struct hv_run_end end = {
		.user_stopped = k == HV_STOP_SIGNAL,
		.stop_kind = hv_stop_kind_name(k),
		.stop_why = why,
		.guest_exited = k == HV_STOP_GUEST_EXIT,
		.guest_status = guest_status,
		.native_program = native_program,
	};

	hv_recorder_finish(rec, o->workload, o->wargs, o->reps_given ? o->reps : 0, host_hz,
			   &end);
}

const char *hv_stop_kind_name(enum hv_stop_kind k)
{
	switch (k) {
	case HV_STOP_NONE: return "running";
	case HV_STOP_GUEST_EXIT: return "guest exit";
	case HV_STOP_GUEST_FAULT: return "guest misbehaved";
	case HV_STOP_HANG: return "guest hung (watchdog)";
	case HV_STOP_SIGNAL: return "interrupted by the user";
	case HV_STOP_HOST_ERROR: return "host error";
	}
	return "?";
}

/* hv-minimal's CPUID leaves (abi.h): the signature, and the spin threshold a lock
 * waiter uses before it tells the VMM (Hyper-V's recommendation in 0x40000004 EBX). */
static void vm_cpuid_leaves(struct hv_vm_config *cfg, uint32_t spin_threshold)
{
	struct hv_cpuid_leaf *base = &cfg->cpuid[cfg->ncpuid++];
	struct hv_cpuid_leaf *spin = &cfg->cpuid[cfg->ncpuid++];

	base->leaf = HV_CPUID_BASE;
	base->r[0] = HV_CPUID_SPIN;
	memcpy(&base->r[1], HV_CPUID_SIG, 12);
	spin->leaf = HV_CPUID_SPIN;
	spin->r[1] = spin_threshold ? spin_threshold : HV_SPIN_THRESHOLD_DEFAULT;
}

static int vcpu_direct(void *ctx, unsigned idx, struct hv_exit *e);

int hv_vm_create(struct hv_vm *vm, const struct hv_vm_params *p)
{
	struct hv_vm_config cfg = { .nr_vcpus = p->nr_vcpus, .mem_bytes = p->mem_bytes,
				     .bt_gs = p->bt_gs, .bt_adaptive = p->bt_adaptive,
				     .bt_trace = p->bt_trace, .pc_platform = p->pc_platform };

	vm_cpuid_leaves(&cfg, p->spin_threshold);

	memset(vm, 0, sizeof(*vm));
	pthread_mutex_init(&vm->lock, NULL);
	vm->ops = p->ops;
	vm->culprit = -1;
	vm->mem.fd = -1;
	vm->dev.ioev.fd = -1;
	hv_bus_init(&vm->bus);
	if (p->nr_vcpus == 0 || p->nr_vcpus > HV_MAX_VCPUS)
		return hv_err_set("%u vCPUs requested; hv-minimal supports 1-%d", p->nr_vcpus,
				  HV_MAX_VCPUS);
	if (hv_guestmem_create(&vm->mem, p->mem_bytes))
		return -1;
	if (vm->ops->vm_create(&cfg, &vm->eng))
		return -1;
	if (vm->ops->mem_add(vm->eng, 0, 0, vm->mem.size, vm->mem.host, vm->mem.fd, 0))
		return -1;
	for (unsigned i = 0; i < p->nr_vcpus; i++) {
		struct hv_vcpu *c = &vm->vcpu[i];

		c->vm = vm;
		c->index = i;
		hv_exitstats_init(&c->stats, 0x9e3779b97f4a7c15ull * (i + 1));
		if (vm->ops->vcpu_create(vm->eng, i, &c->eng))
			return -1;
		vm->nr_vcpus = i + 1;
	}
	if (vm->ops->direct_exit_set)
		vm->ops->direct_exit_set(vm->eng, vcpu_direct, vm);
	return 0;
}

void hv_vm_destroy(struct hv_vm *vm)
{
	hv_devices_close(vm);
	for (unsigned i = 0; i < HV_MAX_VCPUS; i++) {
		struct hv_vcpu *c = &vm->vcpu[i];

		if (c->eng)
			vm->ops->vcpu_destroy(c->eng);
		c->eng = NULL;
		hv_exitstats_free(&c->stats);
	}
	if (vm->eng)
		vm->ops->vm_destroy(vm->eng);
	vm->eng = NULL;
	hv_guestmem_destroy(&vm->mem);
	pthread_mutex_destroy(&vm->lock);
}

int hv_vm_is_stopped(const struct hv_vm *vm)
{
	return __atomic_load_n(&vm->stopped, __ATOMIC_ACQUIRE);
}

void hv_vm_kick_all(struct hv_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct hv_vcpu *c = &vm->vcpu[i];

		if (!c->running)
			continue;
		vm->ops->request_exit(c->eng);
		/* The thread cannot exit while we hold the lock with running set. */
		if (!pthread_equal(c->thread, pthread_self()))
			pthread_kill(c->thread, HV_SIG_KICK);
	}
	pthread_mutex_unlock(&vm->lock);
}

void hv_vm_stop(struct hv_vm *vm, enum hv_stop_kind kind, uint32_t status, int vcpu,
		const char *fmt, ...)
{
	va_list ap;
	int first = 0;

	pthread_mutex_lock(&vm->lock);
	if (!vm->stopped) {
		first = 1;
		vm->stop_kind = kind;
		vm->guest_status = status;
		vm->culprit = vcpu;
		va_start(ap, fmt);
		vsnprintf(vm->stop_why, sizeof(vm->stop_why), fmt, ap);
		va_end(ap);
		__atomic_store_n(&vm->stopped, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->lock);
	if (first)
		hv_vm_kick_all(vm);
}

/* Port I/O: every element of a rep ins/outs goes to the device in turn. */
static void vcpu_handle_io(struct hv_vcpu *c, const struct hv_exit *e)
{
	/* LAB 1 BEGIN: port-io */
	struct hv_vm *vm = c->vm;
	const char *dir = e->u.io.dir == HV_IO_OUT ? "write" : "read";
	const struct hv_bus_dev *d = hv_bus_find(&vm->bus, HV_BUS_PIO, e->u.io.port,
						 e->u.io.size);

	if (!d) {
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, (int)c->index,
			   "wild port access: %u-byte %s at port %#x, where no device is",
			   e->u.io.size, dir, e->u.io.port);
		return;
	}
	for (uint32_t i = 0; i < e->u.io.count && !hv_vm_is_stopped(vm); i++) {
		uint8_t *data = e->u.io.data + (size_t)i * e->u.io.size;

		if (e->u.io.dir == HV_IO_IN)
			memset(data, 0xff, e->u.io.size);
		if (d->handler(d->dev, c, e->u.io.port - d->base, data, e->u.io.size,
			       e->u.io.dir == HV_IO_OUT)) {
			hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, (int)c->index,
				   "%u-byte %s at port %#x (%s): %s", e->u.io.size, dir,
				   e->u.io.port, d->name, hv_err_msg());
			return;
		}
	}
	/* LAB 1 END: port-io */
}

static void vcpu_handle_mmio(struct hv_vcpu *c, const struct hv_exit *e)
{
	/* LAB 1 BEGIN: mmio */
	struct hv_vm *vm = c->vm;
	const char *dir = e->u.mmio.is_write ? "write" : "read";
	const struct hv_bus_dev *d = hv_bus_find(&vm->bus, HV_BUS_MMIO, e->u.mmio.addr,
						 e->u.mmio.len);

	if (!d) {
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, (int)c->index,
			   "wild MMIO: %u-byte %s at guest-physical %#" PRIx64 ", outside memory "
			   "(%" PRIu64 " MiB) and every device", e->u.mmio.len, dir,
			   e->u.mmio.addr, vm->mem.size >> 20);
		return;
	}
	if (!e->u.mmio.is_write)
		memset(e->u.mmio.data, 0xff, e->u.mmio.len);
	if (d->handler(d->dev, c, e->u.mmio.addr - d->base, e->u.mmio.data, e->u.mmio.len,
		       e->u.mmio.is_write))
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, (int)c->index,
			   "%u-byte MMIO %s at %#" PRIx64 " (%s): %s", e->u.mmio.len, dir,
			   e->u.mmio.addr, d->name, hv_err_msg());
	/* LAB 1 END: mmio */
}

static void vcpu_handle_internal(struct hv_vcpu *c, const struct hv_exit *e)
{
	char data[HV_EXIT_DATA_MAX * 20] = "";
	size_t used = 0;

	for (uint32_t i = 0; i < e->u.internal.ndata && used < sizeof(data); i++) {
		int w = snprintf(data + used, sizeof(data) - used, " %#" PRIx64,
				 e->u.internal.data[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	hv_vm_stop(c->vm, HV_STOP_GUEST_FAULT, 0, (int)c->index,
		   "the engine could not run the guest: %s%s%s", e->u.internal.what,
		   used ? "; data:" : "", data);
}

/* One exit, one case. Returns 0 to run again. */
static void vcpu_handle_exit(struct hv_vcpu *c, const struct hv_exit *e)
{
	struct hv_vm *vm = c->vm;
	int idx = (int)c->index;

	switch (e->kind) {
	case HV_VMEXIT_IO:
		vcpu_handle_io(c, e);
		break;
	case HV_VMEXIT_MMIO:
		vcpu_handle_mmio(c, e);
		break;
	case HV_VMEXIT_HLT:
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, idx,
			   "the guest halted with nothing to wake it, without writing its status "
			   "to port %#x", HV_PORT_EXIT);
		break;
	case HV_VMEXIT_SHUTDOWN:
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, idx, "the guest shut down: %s",
			   e->u.shutdown.what);
		break;
	case HV_VMEXIT_INTERNAL:
		vcpu_handle_internal(c, e);
		break;
	case HV_VMEXIT_FAIL_ENTRY:
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, idx,
			   "the guest state was refused on entry (hardware reason %#" PRIx64
			   ", host CPU %u)", e->u.fail_entry.hw_reason, e->u.fail_entry.cpu);
		break;
	case HV_VMEXIT_INTERRUPTED:
		/* A stop request, or a stray signal: the loop checks which. */
		break;
	case HV_VMEXIT_DEBUG:
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, idx,
			   "unexpected debug exit at %#" PRIx64 " (nobody set a breakpoint)",
			   e->u.debug.pc);
		break;
	case HV_VMEXIT_UNKNOWN:
	case HV_VMEXIT_NR:
		hv_vm_stop(vm, HV_STOP_GUEST_FAULT, 0, idx,
			   "unknown exit (engine %s reason %" PRIu64 ")", vm->ops->name,
			   e->raw_reason);
		break;
	}
}

static void vcpu_save_dump(struct hv_vcpu *c)
{
	const struct hv_engine_ops *ops = c->vm->ops;

	if (ops->get_regs(c->eng, &c->dump_regs) || ops->get_sregs(c->eng, &c->dump_sregs)) {
		hv_warn("vCPU %u: cannot read its registers for the dump: %s", c->index,
			hv_err_msg());
		return;
	}
	c->have_dump = 1;
}

/* A port or MMIO exit the engine offers before it leaves its run call
 * (direct_exit_set): handled as the run loop handles it (an access no device claims
 * stops the guest the same way), and counted as an exit of its kind, with no run time
 * and the handler's time measured one in 64 (two TSC reads cost as much as a short
 * handler). */
static int vcpu_direct(void *ctx, unsigned idx, struct hv_exit *e)
{
	struct hv_vm *vm = ctx;
	struct hv_vcpu *c;
	uint64_t t0;

	if (idx >= vm->nr_vcpus || hv_vm_is_stopped(vm) ||
	    (e->kind != HV_VMEXIT_IO && e->kind != HV_VMEXIT_MMIO))
		return 2;
	c = &vm->vcpu[idx];
	c->nexits++;
	c->engine_changed = 0;
	if (c->nexits_direct++ % 64) {
		vcpu_handle_exit(c, e);
		hv_exitstats_count(&c->stats, e);
	} else {
		t0 = hv_tsc_now();
		vcpu_handle_exit(c, e);
		hv_exitstats_add(&c->stats, e, 0, hv_tsc_now() - t0);
	}
	/* a stop (the handler's, or another thread's) is seen at the engine's next look
	 * at its exit request */
	return hv_vm_is_stopped(vm) || c->engine_changed ? 1 : 0;
}

/* Exit i is accounted when run i+1 starts, so that the two intervals cover the whole
 * loop: run = from the end of handling exit i-1 to the return of the run call (the
 * accounting of exit i-1 included), handle = from that return to the next run call. */
static void vcpu_loop(struct hv_vcpu *c)
{
	struct hv_vm *vm = c->vm;
	struct hv_exit e;
	uint64_t run_cycles = 0, t1 = 0;
	int pending = 0;

	while (!hv_vm_is_stopped(vm)) {
		uint64_t t0 = hv_tsc_now(), zero = 0;

		if (pending)
			hv_exitstats_add(&c->stats, &e, run_cycles, t0 - t1);
		if (vm->ops->vcpu_run(c->eng, &e)) {
			pending = 0;
			hv_vm_stop(vm, HV_STOP_HOST_ERROR, 0, (int)c->index, "%s", hv_err_msg());
			break;
		}
		t1 = hv_tsc_now();
		run_cycles = t1 - t0;
		pending = 1;
		__atomic_compare_exchange_n(&vm->tsc_first_exit, &zero, t1, 0, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED);
		c->nexits++;
		vcpu_handle_exit(c, &e);
	}
	if (pending)
		hv_exitstats_add(&c->stats, &e, run_cycles, hv_tsc_now() - t1);
}

static void kick_handler(int sig)
{
	(void)sig;       /* Only there so that the signal interrupts KVM_RUN. */
}

static void *vcpu_thread(void *arg)
{
	struct hv_vcpu *c = arg;
	struct hv_vm *vm = c->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, HV_SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	pthread_mutex_lock(&vm->lock);
	c->running = 1;
	pthread_mutex_unlock(&vm->lock);

	if (vm->pin && hv_pin_thread(vm->pin))
		hv_vm_stop(vm, HV_STOP_HOST_ERROR, 0, (int)c->index, "pinning vCPU %u: %s", c->index,
			   hv_err_msg());
	else
		vcpu_loop(c);
	{
		/* the host scheduler's preemptions of this vCPU (lock-holder preemption) */
		struct rusage ru;

		if (getrusage(RUSAGE_THREAD, &ru) == 0) {
			c->host_preempted = (uint64_t)ru.ru_nivcsw;
			c->host_blocked = (uint64_t)ru.ru_nvcsw;
		}
	}

	pthread_mutex_lock(&vm->lock);
	c->running = 0;
	pthread_mutex_unlock(&vm->lock);
	/* The state of a guest that stopped abnormally: every vCPU that was running for a
	 * hang or a signal, the culprit for a fault or a host error. */
	if (vm->stop_kind == HV_STOP_HANG || vm->stop_kind == HV_STOP_SIGNAL ||
	    (vm->stop_kind != HV_STOP_GUEST_EXIT && vm->culprit == (int)c->index))
		vcpu_save_dump(c);
	return NULL;
}

static int install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;   /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(HV_SIG_KICK, &sa, NULL))
		return hv_err_errno("installing the vCPU kick signal handler");
	return 0;
}

enum hv_stop_kind hv_vm_run(struct hv_vm *vm, double timeout_s)
{
	struct hv_watchdog wd;
	int err;

	if (install_kick_handler() || hv_watchdog_start(&wd, vm, timeout_s)) {
		hv_vm_stop(vm, HV_STOP_HOST_ERROR, 0, -1, "%s", hv_err_msg());
		return vm->stop_kind;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		err = pthread_create(&vm->vcpu[i].thread, NULL, vcpu_thread, &vm->vcpu[i]);
		if (err) {
			errno = err;
			hv_err_errno("starting the thread of vCPU %u", i);
			hv_vm_stop(vm, HV_STOP_HOST_ERROR, 0, -1, "%s", hv_err_msg());
			break;
		}
		vm->vcpu[i].thread_started = 1;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpu[i].thread_started)
			pthread_join(vm->vcpu[i].thread, NULL);
	hv_watchdog_stop(&wd);
	if (!hv_vm_is_stopped(vm))
		hv_vm_stop(vm, HV_STOP_HOST_ERROR, 0, -1, "the vCPU threads ended without a reason");
	return vm->stop_kind;
}
