/* pio-bare: the reference for hvm's port-I/O exit round trip. A bare KVM_RUN loop with
 * no VMM core (no bus, no devices, no accounting) runs a two-instruction guest,
 * `1: in $0x80, %al; jmp 1b` (or out), and times each round trip on the host TSC:
 * from one KVM_RUN return to the next, the minimal handling included. The guest runs
 * at CPL3 with IOPL 3 by default, as the `in` nanobenchmark does, or at CPL0.
 *
 * Results go to a run directory (experiment pio_roundtrip, one sample per batch: the
 * batch median) and a one-line summary to stdout. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/kvminfo.h"
#include "hvlab/pin.h"
#include "hvlab/results.h"
#include "hvlab/stats.h"
#include "hvlab/tsc.h"

#define MEM_SIZE   (4ull << 20)
#define PML4_GPA   0x1000
#define PDPT_GPA   0x2000
#define PD_GPA     0x3000
#define GDT_GPA    0x4000
#define TSS_GPA    0x5000
#define STACK_TOP  0x80000
#define CODE_GPA   0x100000

#define SEL_KCODE 0x10
#define SEL_KDATA 0x18
#define SEL_UDATA 0x2b
#define SEL_UCODE 0x33
#define SEL_TSS   0x40

struct opts {
	uint64_t iters, batches;
	int insn_in, cpl, irqchip;
	unsigned port;
	const char *out_dir;
};

struct bare {
	int kvm, vm, vcpu;
	uint8_t *mem;
	struct kvm_run *run;
	size_t run_size;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pio-bare [--iters N] [--batches N] [--insn in|out] [--cpl 0|3]\n"
		   "                [--port P] [--no-irqchip] [--out DIR]\n\n"
		   "Times N port-I/O exit round trips of a bare KVM_RUN loop (defaults: 10000 x\n"
		   "10 batches, in, CPL3, port 0x80, with the in-kernel irqchip as hvm has it);\n"
		   "the reference for hvm's own round trip.\n");
}

static int parse_u64(const char *opt, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 0);
	if (!*v || *end || errno || n < lo || n > hi || v[0] == '-')
		return hv_err_set("option %s: '%s' is not a number in %" PRIu64 "-%" PRIu64, opt, v,
				  lo, hi);
	*out = n;
	return 0;
}

/* Returns 0, 1 for --help, or -1 with hv_err_msg() set. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .iters = 10000, .batches = 10, .insn_in = 1, .cpl = 3,
			    .port = 0x80, .irqchip = 1 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;

		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 1;
		if (!strcmp(a, "--no-irqchip")) {
			o->irqchip = 0;
			continue;
		}
		if (strncmp(a, "--", 2))
			return hv_err_set("unexpected argument '%s'", a);
		if (!v)
			return hv_err_set("option %s needs a value (or is unknown)", a);
		i++;
		if (!strcmp(a, "--iters")) {
			if (parse_u64(a, v, 1, 100000000, &o->iters))
				return -1;
		} else if (!strcmp(a, "--batches")) {
			if (parse_u64(a, v, 1, 1000, &o->batches))
				return -1;
		} else if (!strcmp(a, "--insn")) {
			if (strcmp(v, "in") && strcmp(v, "out"))
				return hv_err_set("option --insn: '%s' is neither in nor out", v);
			o->insn_in = !strcmp(v, "in");
		} else if (!strcmp(a, "--cpl")) {
			if (strcmp(v, "0") && strcmp(v, "3"))
				return hv_err_set("option --cpl: '%s' is neither 0 nor 3", v);
			o->cpl = atoi(v);
		} else if (!strcmp(a, "--port")) {
			if (parse_u64(a, v, 0, 0xff, &n))   /* the imm8 form of in/out */
				return -1;
			o->port = (unsigned)n;
		} else if (!strcmp(a, "--out")) {
			o->out_dir = v;
		} else {
			return hv_err_set("unknown option '%s'", a);
		}
	}
	return 0;
}

static uint64_t seg_desc(int code, int dpl)
{
	/* Flat, present, accessed; code: execute/read + L; data: read/write + D/B. */
	uint64_t d = 0x0000000000ffffull | (0xfull << 48) | (1ull << 47) | (1ull << 44) |
		     (1ull << 55) | ((uint64_t)dpl << 45);

	return code ? d | (0xbull << 40) | (1ull << 53) : d | (0x3ull << 40) | (1ull << 54);
}

static void guest_tables(struct bare *b)
{
	uint64_t *pml4 = (uint64_t *)(b->mem + PML4_GPA), *pdpt = (uint64_t *)(b->mem + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(b->mem + PD_GPA), *gdt = (uint64_t *)(b->mem + GDT_GPA);
	uint64_t tss = TSS_GPA;

	/* [0, 4 MiB) identity, user-accessible so the same tables serve CPL3. */
	pml4[0] = PDPT_GPA | 0x7;
	pdpt[0] = PD_GPA | 0x7;
	pd[0] = 0x000000 | 0x87;
	pd[1] = 0x200000 | 0x87;
	gdt[SEL_KCODE / 8] = seg_desc(1, 0);
	gdt[SEL_KDATA / 8] = seg_desc(0, 0);
	gdt[SEL_UDATA / 8] = seg_desc(0, 3);
	gdt[SEL_UCODE / 8] = seg_desc(1, 3);
	/* 64-bit TSS descriptor (16 bytes): the CPU needs RSP0 only on a privilege change. */
	gdt[SEL_TSS / 8] = 0x67 | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
			   ((tss >> 24 & 0xff) << 56);
	gdt[SEL_TSS / 8 + 1] = tss >> 32;
	*(uint64_t *)(b->mem + TSS_GPA + 4) = STACK_TOP;      /* RSP0 */
}

static struct kvm_segment kseg(uint16_t sel, int code, int dpl)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = code ? 0xb : 0x3,
		.present = 1, .dpl = (uint8_t)dpl, .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0,
		.g = 1,
	};
}

static int vcpu_state(struct bare *b, const struct opts *o)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = CODE_GPA, .rsp = STACK_TOP, .rflags = 0x2 };
	int dpl = o->cpl;

	if (ioctl(b->vcpu, KVM_GET_SREGS, &s) < 0)
		return hv_err_errno("KVM_GET_SREGS");
	s.cs = kseg(dpl ? SEL_UCODE : SEL_KCODE, 1, dpl);
	s.ds = s.es = s.fs = s.gs = s.ss = kseg(dpl ? SEL_UDATA : SEL_KDATA, 0, dpl);
	s.tr = (struct kvm_segment){ .base = TSS_GPA, .limit = 0x67, .selector = SEL_TSS,
				     .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .type = 0x2, .unusable = 1 };
	s.gdt.base = GDT_GPA;
	s.gdt.limit = SEL_TSS + 15;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x80050033;               /* PE MP ET NE WP PG */
	s.cr3 = PML4_GPA;
	s.cr4 = 0x620;                    /* PAE OSFXSR OSXMMEXCPT */
	s.efer = 0xd00;                   /* LME LMA NXE */
	if (ioctl(b->vcpu, KVM_SET_SREGS, &s) < 0)
		return hv_err_errno("KVM_SET_SREGS");
	if (dpl)
		r.rflags |= 3u << 12;     /* IOPL 3: in/out allowed at CPL3 */
	if (ioctl(b->vcpu, KVM_SET_REGS, &r) < 0)
		return hv_err_errno("KVM_SET_REGS");
	return 0;
}

static int bare_setup(struct bare *b, const struct opts *o)
{
	struct kvm_userspace_memory_region region;
	const uint8_t code[4] = { o->insn_in ? 0xe4 : 0xe6, (uint8_t)o->port, 0xeb, 0xfc };
	int sz;

	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		return hv_err_errno("cannot open /dev/kvm");
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0);
	if (b->vm < 0)
		return hv_err_errno("KVM_CREATE_VM");
	/* hvm runs its guests with the in-kernel irqchip, which KVM_RUN then consults on
	 * every entry: the same here unless asked, so that only the VMM differs. */
	if (o->irqchip && ioctl(b->vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return hv_err_errno("KVM_CREATE_IRQCHIP");
	b->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->mem == MAP_FAILED) {
		b->mem = NULL;
		return hv_err_errno("mapping guest memory");
	}
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)b->mem,
	};
	if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return hv_err_errno("KVM_SET_USER_MEMORY_REGION");
	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
	if (b->vcpu < 0)
		return hv_err_errno("KVM_CREATE_VCPU");
	sz = ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return hv_err_errno("KVM_GET_VCPU_MMAP_SIZE");
	b->run_size = (size_t)sz;
	b->run = mmap(NULL, b->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (b->run == MAP_FAILED) {
		b->run = NULL;
		return hv_err_errno("mapping kvm_run");
	}
	guest_tables(b);
	memcpy(b->mem + CODE_GPA, code, sizeof(code));
	return vcpu_state(b, o);
}

static void bare_close(struct bare *b)
{
	if (b->run)
		munmap(b->run, b->run_size);
	if (b->mem)
		munmap(b->mem, MEM_SIZE);
	if (b->vcpu > 0)
		close(b->vcpu);
	if (b->vm > 0)
		close(b->vm);
	if (b->kvm > 0)
		close(b->kvm);
}

/* One round trip: KVM_RUN until the port exit, answer an `in` with 0xff. */
static int round_trip(struct bare *b, const struct opts *o)
{
	if (ioctl(b->vcpu, KVM_RUN, 0) < 0)
		return hv_err_errno("KVM_RUN");
	if (b->run->exit_reason != KVM_EXIT_IO || b->run->io.port != o->port)
		return hv_err_set("unexpected exit %u (port %#x): the guest did not do its port "
				  "access", b->run->exit_reason, b->run->io.port);
	if (o->insn_in)
		*((uint8_t *)b->run + b->run->io.data_offset) = 0xff;
	return 0;
}

static int measure(struct bare *b, const struct opts *o, double *per_batch)
{
	uint64_t *cyc = malloc(o->iters * sizeof(*cyc));
	double *v = malloc(o->iters * sizeof(*v));
	struct hv_summary s;

	if (!cyc || !v) {
		free(cyc);
		free(v);
		return hv_err_errno("allocating %" PRIu64 " samples", o->iters);
	}
	for (int i = 0; i < 1000; i++)              /* warm up: shadow pages, caches */
		if (round_trip(b, o))
			goto fail;
	for (uint64_t k = 0; k < o->batches; k++) {
		uint64_t prev = hv_tsc_begin();

		for (uint64_t i = 0; i < o->iters; i++) {
			uint64_t now;

			if (round_trip(b, o))
				goto fail;
			now = hv_tsc_begin();
			cyc[i] = now - prev;
			prev = now;
		}
		for (uint64_t i = 0; i < o->iters; i++)
			v[i] = (double)cyc[i];
		if (hv_summarize(v, o->iters, &s))
			goto fail;
		per_batch[k] = s.median;
	}
	free(cyc);
	free(v);
	return 0;
fail:
	free(cyc);
	free(v);
	return -1;
}

static int report(const struct opts *o, const double *batch, double hz, int argc, char **argv)
{
	struct hv_kvm_info kvm;
	struct hv_summary s;
	struct hv_run *run;
	char params[64];
	struct hv_mode mode;

	hv_kvm_detect(&kvm, "/sys", "/dev/kvm");
	/* flavour, spinlock and iopath are "-": the guest is two instructions, no kernel
	 * that boots in a configuration and could report one. */
	mode = (struct hv_mode){ .engine = "bare-kvm", .memvirt = kvm.paging, .vcpus = 1,
				 .pcpus = hv_pin_ncpus() };
	if (hv_summarize(batch, o->batches, &s))
		return -1;
	snprintf(params, sizeof(params), "insn=%s port=%#x cpl=%d irqchip=%d iters=%" PRIu64,
		 o->insn_in ? "in" : "out", o->port, o->cpl, o->irqchip, o->iters);
	printf("pio-bare: %s port %#x at CPL%d: round trip median %.0f cycles = %.2f us "
	       "(batch medians %.0f-%.0f cycles, %" PRIu64 " batches x %" PRIu64 ")\n",
	       o->insn_in ? "in" : "out", o->port, o->cpl, s.median, s.median / hz * 1e6, s.min,
	       s.max, o->batches, o->iters);
	run = hv_run_open(NULL, "pio_roundtrip", o->out_dir, argc, argv, 0);
	if (!run)
		return -1;
	for (uint64_t k = 0; k < o->batches; k++) {
		struct hv_sample c = {
			.experiment = "pio_roundtrip", .workload = "bare-kvm-run", .params = params,
			.mode = &mode, .metric = "roundtrip_cycles_median", .value = batch[k],
			.unit = "cycles", .rep = (int)k,
		};
		struct hv_sample n = c;

		n.metric = "roundtrip_ns_median";
		n.value = batch[k] * 1e9 / hz;
		n.unit = "ns";
		if (hv_run_add(run, &c) || hv_run_add(run, &n)) {
			hv_run_close(run);
			return -1;
		}
	}
	printf("pio-bare: results in %s\n", hv_run_dir(run));
	return hv_run_close(run);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct bare b = { .kvm = -1, .vm = -1, .vcpu = -1 };
	struct hv_tsc tsc;
	double *batch;
	int rc = 4;

	switch (parse_opts(argc, argv, &o)) {
	case 0:
		break;
	case 1:
		usage(stdout);
		return 0;
	default:
		fprintf(stderr, "pio-bare: %s (see pio-bare --help)\n", hv_err_msg());
		return 2;
	}
	batch = calloc(o.batches, sizeof(*batch));
	if (!batch || hv_tsc_init(&tsc) || bare_setup(&b, &o) || measure(&b, &o, batch) ||
	    report(&o, batch, tsc.hz, argc, argv))
		fprintf(stderr, "pio-bare: %s\n", hv_err_msg());
	else
		rc = 0;
	bare_close(&b);
	free(batch);
	return rc;
}
