/* The "bt" engine: struct hv_engine_ops for the binary translator. The VM is guest
 * memory (the core's memfd slots) and the host TSC; a vCPU is a context block, two
 * windows (kernel and user views), a code cache and the virtual CPU state. */
#include <cpuid.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bt.h"
#include "hvlab/abi.h"
#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/tsc.h"

/* The translator relies on BMI2 (rorx, a rotate that leaves the flags alone). GS is
 * written with wrgsbase or arch_prctl, whichever the host offers (segbase.c). */
static int host_supported(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 8)))
		return hv_err_set("the binary translator needs BMI2, which this host CPU lacks");
	return 0;
}

/* The windows' share of vm.max_map_count: a scattered window page is up to two host
 * mappings, and the rest of the process keeps a fifth of the limit. The vCPUs share it
 * (mmu.c): a busy one may use what idle ones do not. */
static uint64_t map_budget(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	unsigned long max = 65530;

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 65530;
		fclose(f);
	}
	return max * 4 / 5 / 2;
}

/* BMI2, and the GS write cfg asks for (a forced wrgsbase needs FSGSBASE). A value that
 * is no way of writing GS is not the host's lack: vm_create refuses it. */
static int bt_probe(const struct hv_vm_config *cfg)
{
	struct bt_vm scratch = { 0 };

	return host_supported() || bt_gs_choose(cfg->bt_gs, &scratch) == -2 ? -1 : 0;
}

static int bt_vm_create(const struct hv_vm_config *cfg, struct hv_engine_vm **out)
{
	struct bt_vm *vm;
	struct hv_tsc tsc;

	*out = NULL;
	if (host_supported() || bt_signals_install())
		return -1;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return hv_err_errno("allocating the binary translator's VM");
	if (bt_gs_choose(cfg->bt_gs, vm) < 0) {
		free(vm);
		return -1;
	}
	vm->shared = vm->gs_write == BT_GS_SHARED;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->adaptive = !cfg->bt_adaptive || strcmp(cfg->bt_adaptive, "off") != 0;
	bt_unsync_init(vm);
	vm->map_budget = map_budget();
	if (cfg->bt_trace && bt_trace_open(vm, cfg->bt_trace)) {
		free(vm);
		return -1;
	}
	bt_cpuid_init(vm);
	vm->nhvcpuid = cfg->ncpuid < HV_CPUID_LEAVES_MAX ? cfg->ncpuid : HV_CPUID_LEAVES_MAX;
	memcpy(vm->hvcpuid, cfg->cpuid, vm->nhvcpuid * sizeof(vm->hvcpuid[0]));
	/* The guest reads the host's TSC directly (rdtsc is not translated). */
	if (hv_tsc_init(&tsc) == 0 && tsc.hz > 0)
		vm->tsc_khz = (uint64_t)(tsc.hz / 1e3 + 0.5);
	*out = (struct hv_engine_vm *)vm;
	return 0;
}

static void bt_vm_destroy(struct hv_engine_vm *hvm)
{
	struct bt_vm *vm = (struct bt_vm *)hvm;

	if (!vm)
		return;
	bt_trace_close(vm);
	bt_unsync_destroy(vm);
	free(vm->pinfo);
	free(vm);
}

static int bt_mem_add(struct hv_engine_vm *hvm, uint32_t slot, uint64_t gpa, uint64_t size,
		      void *host, int fd, off_t offset)
{
	struct bt_vm *vm = (struct bt_vm *)hvm;

	if (fd < 0)
		return hv_err_set("the binary translator maps guest memory from its file: slot %u "
				  "at %#llx has none", slot, (unsigned long long)gpa);
	if (vm->nslots >= BT_MAX_SLOTS)
		return hv_err_set("guest memory slot %u: at most %d slots", slot, BT_MAX_SLOTS);
	if ((gpa | size | (uint64_t)offset) & (BT_PAGE - 1))
		return hv_err_set("guest memory slot %u (%#llx+%#llx) is not page aligned", slot,
				  (unsigned long long)gpa, (unsigned long long)size);
	if (bt_protect_init(vm, gpa + size))
		return -1;
	vm->slot[vm->nslots++] = (struct bt_memslot){
		.gpa = gpa, .size = size, .host = host, .fd = fd, .offset = offset,
	};
	return 0;
}

static void bt_vcpu_destroy(struct hv_engine_vcpu *hv)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;

	if (!v)
		return;
	hv_debug("bt: vCPU %u counters:", v->index);
	bt_stats_print(hv);
	bt_platform_destroy(v);
	if (v->vm->vcpus[v->index] == v)
		v->vm->vcpus[v->index] = NULL;
	bt_cache_destroy(&v->cache);
	bt_rmap_destroy(v);
	bt_xreq_destroy(v);
	for (unsigned i = 0; i < 2 * BT_WCACHE; i++)
		bt_window_destroy(&v->wins[i]);
	bt_altstack_release(v);
	free(v->dcache);
	if (v->ctx)
		munmap(v->ctx, sizeof(*v->ctx));
	free(v);
}

static void reset_state(struct bt_vcpu *v)
{
	struct bt_ctx *ctx = v->ctx;
	struct bt_cpu *c = &v->cpu;
	uint16_t fcw = 0x37f;
	uint32_t mxcsr = 0x1f80;

	memcpy(ctx->guest_fx, &fcw, 2);
	memcpy(ctx->guest_fx + 24, &mxcsr, 4);
	ctx->rflags = 0x202;
	c->vflags = 0;
	c->cr0 = 0x80000011;        /* PE | ET | PG: the engine runs long mode only */
	c->cr4 = 0x20;              /* PAE */
	c->efer = 0x500;            /* LME | LMA */
	c->pat = 0x0007040600070406ull;
	c->apic_base = 0xfee00000ull | (1ull << 11) | (v->index == 0 ? 1ull << 8 : 0);
	for (int i = 0; i < BT_SEG_NR; i++)
		c->seg[i] = (struct hv_segment){ .limit = 0xffffffff, .present = 1, .s = 1,
						 .type = 3, .g = 1, .db = 1 };
	c->seg[BT_SEG_CS] = (struct hv_segment){ .limit = 0xffffffff, .present = 1, .s = 1,
						 .type = 0xb, .g = 1, .l = 1 };
	c->tr = (struct hv_segment){ .limit = 0x67, .type = 0xb, .present = 1 };
	c->ldt = (struct hv_segment){ .type = 2, .unusable = 1 };
}

static int bt_vcpu_create(struct hv_engine_vm *hvm, unsigned index,
			  struct hv_engine_vcpu **out)
{
	struct bt_vm *vm = (struct bt_vm *)hvm;
	struct bt_vcpu *v = calloc(1, sizeof(*v));
	void *ctx;

	*out = NULL;
	if (!v)
		return hv_err_errno("allocating vCPU %u", index);
	if (index >= 16) {
		free(v);
		return hv_err_set("vCPU %u: the binary translator runs at most 16 vCPUs", index);
	}
	if (bt_signals_install()) {
		free(v);
		return -1;
	}
	v->vm = vm;
	v->index = index;
	v->wake_fd = v->lapic.timer_fd = v->lapic.stop_fd = -1;
	bt_xreq_init(v);
	/* below 2 GiB: translated code addresses it with sign-extended 32-bit absolutes */
	ctx = mmap(NULL, sizeof(struct bt_ctx), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (ctx == MAP_FAILED) {
		hv_err_errno("mapping the context block of vCPU %u below 2 GiB", index);
		goto fail;
	}
	v->ctx = ctx;
	if ((uintptr_t)ctx + sizeof(struct bt_ctx) > (1ull << 31)) {
		hv_err_set("the context block of vCPU %u was mapped at %p, above 2 GiB", index,
			   ctx);
		goto fail;
	}
	v->ctx->self = (uint64_t)(uintptr_t)ctx;
	v->ctx->vcpu = v;
	v->ctx->exit_fn = (uint64_t)(uintptr_t)bt_exit_stub;
	v->win = &v->wins[0];
	v->shared = vm->shared;
	if (bt_platform_init(v))
		goto fail;
	for (unsigned i = 0; i < 2 * BT_WCACHE; i++)
		if (bt_window_init(&v->wins[i], vm->shared))
			goto fail;
	if (bt_cache_init(&v->cache) || bt_decoder_init(&v->dec) || bt_rmap_init(v))
		goto fail;
	/* application processors wait for INIT and SIPI, as on hardware */
	v->wait_sipi = index != 0;
	vm->vcpus[index] = v;
	bt_htab_flush_all(v);
	reset_state(v);
	bt_wcache_reset(v, v->cpu.cr3);
	*out = (struct hv_engine_vcpu *)v;
	return 0;
fail:
	bt_vcpu_destroy((struct hv_engine_vcpu *)v);
	return -1;
}

static int bt_run(struct hv_engine_vcpu *hv, struct hv_exit *exit)
{
	return bt_vcpu_run((struct bt_vcpu *)hv, exit);
}

/* Async-signal-safe: an atomic store and an mprotect. The poll page turns read-only,
 * so translated code faults at its next block entry and the run returns. */
static void bt_request_exit(struct hv_engine_vcpu *hv)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;

	__atomic_store_n(&v->exit_request, 1, __ATOMIC_RELEASE);
	bt_arm_poll(v);
	bt_wake(v);
}

static int bt_get_regs(struct hv_engine_vcpu *hv, struct hv_regs *r)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;
	const uint64_t *g = v->ctx->regs;

	*r = (struct hv_regs){
		.rax = g[0], .rcx = g[1], .rdx = g[2], .rbx = g[3], .rsp = g[4], .rbp = g[5],
		.rsi = g[6], .rdi = g[7], .r8 = g[8], .r9 = g[9], .r10 = g[10], .r11 = g[11],
		.r12 = g[12], .r13 = g[13], .r14 = g[14], .r15 = g[15],
		.rip = v->cpu.rip, .rflags = bt_get_rflags(v),
	};
	return 0;
}

static int bt_set_regs(struct hv_engine_vcpu *hv, const struct hv_regs *r)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;
	uint64_t *g = v->ctx->regs;

	g[0] = r->rax; g[1] = r->rcx; g[2] = r->rdx; g[3] = r->rbx;
	g[4] = r->rsp; g[5] = r->rbp; g[6] = r->rsi; g[7] = r->rdi;
	g[8] = r->r8; g[9] = r->r9; g[10] = r->r10; g[11] = r->r11;
	g[12] = r->r12; g[13] = r->r13; g[14] = r->r14; g[15] = r->r15;
	v->cpu.rip = r->rip;
	bt_set_rflags(v, r->rflags);
	return 0;
}

static int bt_get_sregs(struct hv_engine_vcpu *hv, struct hv_sregs *s)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;
	const struct bt_cpu *c = &v->cpu;

	memset(s, 0, sizeof(*s));
	s->es = c->seg[BT_SEG_ES];
	s->cs = c->seg[BT_SEG_CS];
	s->ss = c->seg[BT_SEG_SS];
	s->ds = c->seg[BT_SEG_DS];
	s->fs = c->seg[BT_SEG_FS];
	s->gs = c->seg[BT_SEG_GS];
	s->fs.base = v->ctx->gfsbase;
	s->gs.base = v->ctx->ggsbase;
	s->tr = c->tr;
	s->ldt = c->ldt;
	s->gdt = c->gdt;
	s->idt = c->idt;
	s->cr0 = c->cr0;
	s->cr2 = c->cr2;
	s->cr3 = c->cr3;
	s->cr4 = c->cr4;
	s->cr8 = c->cr8;
	s->efer = c->efer;
	s->apic_base = c->apic_base;
	return 0;
}

static int bt_set_sregs(struct hv_engine_vcpu *hv, const struct hv_sregs *s)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;
	struct bt_cpu *c = &v->cpu;

	if (!(s->cr0 & 1) || !(s->cr0 & (1ull << 31)) || !(s->cr4 & (1ull << 5)) ||
	    !(s->efer & (1ull << 10)) || !s->cs.l)
		return hv_err_set("the binary translator runs 64-bit long mode only: CR0 %#llx, "
				  "CR4 %#llx, EFER %#llx, CS.L %u ask for something else",
				  (unsigned long long)s->cr0, (unsigned long long)s->cr4,
				  (unsigned long long)s->efer, s->cs.l);
	c->seg[BT_SEG_ES] = s->es;
	c->seg[BT_SEG_CS] = s->cs;
	c->seg[BT_SEG_SS] = s->ss;
	c->seg[BT_SEG_DS] = s->ds;
	c->seg[BT_SEG_FS] = s->fs;
	c->seg[BT_SEG_GS] = s->gs;
	v->ctx->gfsbase = s->fs.base;
	v->ctx->ggsbase = s->gs.base;
	c->tr = s->tr;
	c->ldt = s->ldt;
	c->gdt = s->gdt;
	c->idt = s->idt;
	c->cr0 = s->cr0;
	c->cr2 = s->cr2;
	c->cr3 = s->cr3 & 0x000ffffffffff000ull;
	c->cr4 = s->cr4;
	c->cr8 = s->cr8;
	c->efer = s->efer;
	c->apic_base = s->apic_base;
	c->cpl = s->cs.dpl & 3;
	/* anything cached for the old state is stale */
	bt_wcache_reset(v, c->cr3);
	bt_cache_flush(v);
	return 0;
}

/* A fixed interrupt into the vCPU's local APIC, as an MSI would put it there. */
static int bt_inject_irq(struct hv_engine_vcpu *hv, uint8_t vector)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;

	if (vector < 16)
		return hv_err_set("interrupt vector %u to vCPU %u: vectors below 16 are "
				  "reserved", vector, v->index);
	bt_irq_set(v, vector);
	return 0;
}

/* A write of len bytes to the port signals the eventfd from the call-out: no exit. */
static int bt_ioeventfd_add(struct hv_engine_vm *hvm, uint16_t port, uint32_t len, int fd)
{
	struct bt_vm *vm = (struct bt_vm *)hvm;

	if (vm->nioev >= sizeof(vm->ioev) / sizeof(vm->ioev[0]))
		return hv_err_set("port %#x: at most %zu ioeventfds", port,
				  sizeof(vm->ioev) / sizeof(vm->ioev[0]));
	vm->ioev[vm->nioev].port = port;
	vm->ioev[vm->nioev].len = len;
	vm->ioev[vm->nioev].fd = fd;
	vm->nioev++;
	return 0;
}

static void bt_direct_exit_set(struct hv_engine_vm *hvm,
			       int (*fn)(void *ctx, unsigned vcpu, struct hv_exit *exit),
			       void *ctx)
{
	struct bt_vm *vm = (struct bt_vm *)hvm;

	vm->direct_fn = fn;
	vm->direct_ctx = ctx;
}

static uint64_t bt_tsc_khz(struct hv_engine_vm *hvm)
{
	return ((struct bt_vm *)hvm)->tsc_khz;
}

/* With adaptive translation off, every page-table write traps: shadow paging by
 * tracing alone, a technique of its own in the results. */
static const char *bt_memvirt(struct hv_engine_vm *hvm)
{
	return ((struct bt_vm *)hvm)->adaptive ? "shadow-bt" : "shadow-bt-traced";
}

/* syscall and sysret are call-outs: they work as on bare metal. */
static int bt_guest_syscall_ok(struct hv_engine_vm *hvm)
{
	(void)hvm;
	return 1;
}

/* The windows follow every table write they depend on (write protection, and
 * bt_pte_write below for the VMM's own), so a guest TLB flush has nothing to drop. */
static uint32_t bt_pv_caps(struct hv_engine_vm *hvm)
{
	(void)hvm;
	return HV_PV_MMU | HV_PV_TLB;
}

static int bt_pte_write(struct hv_engine_vcpu *hv, uint64_t gpa, uint64_t val)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;
	uint64_t *e = bt_gpa_ptr(v->vm, gpa, sizeof(*e));
	const struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);

	if (!e || (gpa & 7))
		return hv_err_set("page-table entry %#llx: not an aligned entry in guest memory",
				  (unsigned long long)gpa);
	uint64_t old = __atomic_exchange_n(e, val, __ATOMIC_SEQ_CST);
	/* only a table some walk went through has windows derived from it */
	if (pi && (pi->flags & BT_PG_PT)) {
		bt_pt_written(v, gpa, old, val);
		bt_unsync_seen(v->vm, gpa, old, val);
	}
	return 0;
}

/* Table writes reach the other vCPUs as requests they serve at their next stop
 * (protect.c): a flush returns when each vCPU named has served them, or is halted (it
 * serves them before it runs again). This vCPU serves its own meanwhile, so that two
 * vCPUs flushing each other both go on. */
static int bt_tlb_flush(struct hv_engine_vcpu *hv, uint64_t mask)
{
	struct bt_vcpu *v = (struct bt_vcpu *)hv;
	struct bt_vm *vm = v->vm;

	for (unsigned i = 0; i < vm->nr_vcpus && i < 16; i++) {
		struct bt_vcpu *o = vm->vcpus[i];

		if (!o || o == v || !(mask & (1ull << i)))
			continue;
		uint64_t t0 = hv_tsc_now();
		while (__atomic_load_n(&o->xreq.pending, __ATOMIC_ACQUIRE) &&
		       !__atomic_load_n(&o->cpu.halted, __ATOMIC_ACQUIRE) &&
		       !__atomic_load_n(&o->parked, __ATOMIC_ACQUIRE)) {
			if (__atomic_load_n(&v->exit_request, __ATOMIC_ACQUIRE) ||
			    __atomic_load_n(&o->exit_request, __ATOMIC_ACQUIRE))
				return 0;     /* the VM is stopping: nothing runs on */
			bt_xreq_serve(v);
			sched_yield();
		}
		v->stats.tlb_flush_waits++;
		v->stats.tlb_flush_wait_cycles += hv_tsc_now() - t0;
	}
	return 0;
}

/* A vCPU blocked in a call-out (a spin wait) serves table-write requests on its way
 * back, as a halted one does: the call-out's return checks for them. */
static void bt_vcpu_parked(struct hv_engine_vcpu *hv, int on)
{
	__atomic_store_n(&((struct bt_vcpu *)hv)->parked, on, __ATOMIC_SEQ_CST);
}

static int bt_load_cr3(struct hv_engine_vcpu *hv, uint64_t cr3)
{
	if (bt_cr_write((struct bt_vcpu *)hv, 3, cr3))
		return hv_err_set("CR3 %#llx refused", (unsigned long long)cr3);
	return 0;
}

static const char *bt_segbase(struct hv_engine_vm *hvm)
{
	return bt_gs_write_name(((struct bt_vm *)hvm)->gs_write);
}

static void bt_notes(struct hv_engine_vm *hvm,
		     void (*emit)(void *arg, const char *key, const char *value), void *arg)
{
	struct bt_vm *vm = (struct bt_vm *)hvm;

	emit(arg, "bt_gs_write", bt_gs_write_name(vm->gs_write));
	emit(arg, "bt_gs_write_reason", vm->gs_reason);
	emit(arg, "bt_adaptive", vm->adaptive ? "on" : "off");
}

const struct hv_engine_ops hv_bt_engine_ops = {
	.name = "bt",
	.description = "hvlab's binary translator (shadow paging through host mappings)",
	.probe = bt_probe,
	.vm_create = bt_vm_create,
	.mem_add = bt_mem_add,
	.vcpu_create = bt_vcpu_create,
	.vcpu_run = bt_run,
	.request_exit = bt_request_exit,
	.get_regs = bt_get_regs,
	.set_regs = bt_set_regs,
	.get_sregs = bt_get_sregs,
	.set_sregs = bt_set_sregs,
	.inject_irq = bt_inject_irq,
	.ioeventfd_add = bt_ioeventfd_add,
	.direct_exit_set = bt_direct_exit_set,
	.tsc_khz = bt_tsc_khz,
	.memvirt = bt_memvirt,
	.segbase = bt_segbase,
	.guest_syscall_ok = bt_guest_syscall_ok,
	.vcpu_destroy = bt_vcpu_destroy,
	.vm_destroy = bt_vm_destroy,
	.stats = bt_stats,
	.notes = bt_notes,
	.pv_caps = bt_pv_caps,
	.pte_write = bt_pte_write,
	.load_cr3 = bt_load_cr3,
	.tlb_flush = bt_tlb_flush,
	.vcpu_parked = bt_vcpu_parked,
};
