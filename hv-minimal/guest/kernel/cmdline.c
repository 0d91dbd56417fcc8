/* The boot command line: space-separated key=value options.
 *   workload=NAME      what to run (a kernel test or an embedded user program)
 *   wargs=ARGS         its arguments (no spaces)
 *   sysgate=GATE       system-call gate: syscall (default) or ud2
 *   kmem=MODE          page zeroing and copying: kernel (default) or user (kmem.h)
 *   cow=0|1            fork shares pages copy-on-write instead of copying (default 0)
 *   pagesize=4k|2m     user pages of the heap and the demand area: 4 KiB (default), or
 *                      2 MiB wherever a whole aligned 2 MiB region lies inside the area
 *   hugemem=N          pagesize=2m: MiB of memory set aside at boot for 2 MiB pages
 *                      (default: half of the memory above the kernel)
 *   hz=N               timer interrupts per second on each CPU (default 100); 0: no
 *                      timer, so no preemption, and IPIs are the only wake-ups
 *   spinlock=NAME      how a lock waiter waits: plain (spin, the default), pv-yield
 *                      (tell the VMM after the threshold), pv-halt (sleep until
 *                      kicked): spinlock.h
 *   spinthreshold=N    spins before pv-yield/pv-halt's slow path (default: the VMM's
 *                      CPUID leaf 0x40000104, else 32768)
 *   flavour=NAME       privileged operations as on bare metal (full, the default) or
 *                      through hypercalls (pv): pv.h; pv=on and pv=off say the same
 *   iopath=NAME        how the kernel reaches its block device (blk.c): emul (the
 *   io=NAME            default: one exit per register access), virtio, ioeventfd,
 *                      poll or split
 *   virtio_mmio.device=SIZE@0xADDR:GSI   the block device's virtio-mmio registers and
 *                      IOAPIC input when they are not hvm's (QEMU's microvm appends it)
 *   cpus=N             start at most N CPUs (default: all the boot info names)
 *   cr8wr=off          refuse the CR8-write nanobenchmark (the VMM asks for it where
 *                      its host cannot take a guest's CR8 writes: QEMU 7.2's TCG
 *                      aborts when a nested guest makes them)
 * A word this kernel does not know stops the boot, naming the word: a typo must not
 * run the workload under a mode nobody asked for. A bad value of a known option stops
 * it too. A later word overrides an earlier one (the VMM's --cmdline words come last).
 * The kernel reports what it booted with (main.c), and the VMM takes the mode columns
 * of its results from that report. */
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "spinlock.h"

#define HZ_DEFAULT 100
#define HZ_MAX     5000      /* the LAPIC timer's period floor on some hosts: 200 us */

static NORETURN void bad(const char *key, const char *v, const char *want)
{
	kprintf("cmdline: %s=%s is not %s\n", key, v, want);
	hv_exit(HV_EXIT_FAIL);
}

/* A decimal number in [lo, hi], else the boot stops. */
static uint32_t number(const char *key, const char *v, uint32_t lo, uint32_t hi)
{
	uint64_t n = 0;
	const char *p = v;

	for (; *p >= '0' && *p <= '9' && n <= hi; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	if (p == v || *p || n < lo || n > hi) {
		kprintf("cmdline: %s=%s is not a number in %u..%u\n", key, v, lo, hi);
		hv_exit(HV_EXIT_FAIL);
	}
	return (uint32_t)n;
}

/* One of the words in names (NULL-terminated), else the boot stops. */
static int one_of(const char *key, const char *v, const char *const *names, const char *want)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(v, names[i]))
			return i;
	bad(key, v, want);
}

static void opt_workload(const char *key, const char *v)
{
	(void)key;
	kcfg.workload = v;
}

static void opt_wargs(const char *key, const char *v)
{
	(void)key;
	kcfg.wargs = v;
}

static void opt_sysgate(const char *key, const char *v)
{
	static const char *const names[] = { "syscall", "ud2", NULL };
	static const int gates[] = { GUEST_GATE_SYSCALL, GUEST_GATE_UD2 };

	kcfg.gate = gates[one_of(key, v, names, "one of: syscall, ud2")];
}

static void opt_kmem(const char *key, const char *v)
{
	static const char *const names[] = { "kernel", "user", NULL };
	static const int modes[] = { GUEST_KMEM_KERNEL, GUEST_KMEM_USER };

	kcfg.kmem = modes[one_of(key, v, names, "one of: kernel, user")];
}

static void opt_cow(const char *key, const char *v)
{
	kcfg.cow = (int)number(key, v, 0, 1);
}

static void opt_pagesize(const char *key, const char *v)
{
	static const char *const names[] = { "4k", "2m", NULL };

	kcfg.pagesize_2m = one_of(key, v, names, "one of: 4k, 2m");
}

static void opt_hugemem(const char *key, const char *v)
{
	kcfg.hugemem_mib = number(key, v, 2, (uint32_t)(HV_MAX_GUEST_MEM >> 20));
	if (kcfg.hugemem_mib % 2)
		bad(key, v, "an even number of MiB (whole 2 MiB pages)");
}

static void opt_hz(const char *key, const char *v)
{
	kcfg.hz = number(key, v, 0, HZ_MAX);
}

static void opt_spinlock(const char *key, const char *v)
{
	if (lock_ops_select(v) < 0)
		bad(key, v, "a lock this kernel has (plain, pv-yield, pv-halt)");
	kcfg.spinlock = v;
}

static void opt_spinthreshold(const char *key, const char *v)
{
	kcfg.spin_threshold = number(key, v, 1, UINT32_MAX);
}

static void opt_flavour(const char *key, const char *v)
{
	static const char *const names[] = { "full", "pv", NULL };

	kcfg.flavour = names[one_of(key, v, names, "a flavour this kernel has (full, pv)")];
}

/* pv=on is flavour=pv, pv=off flavour=full: the boot switch of the paravirtual guest */
static void opt_pv(const char *key, const char *v)
{
	static const char *const names[] = { "off", "on", NULL };
	static const char *const flavours[] = { "full", "pv" };

	kcfg.flavour = flavours[one_of(key, v, names, "on or off")];
}

static void opt_iopath(const char *key, const char *v)
{
	static const char *const names[] = { "emul", "virtio", "ioeventfd", "poll", "split",
					     NULL };

	kcfg.iopath = names[one_of(key, v, names, "an I/O path this kernel has (emul, virtio, "
				   "ioeventfd, poll, split)")];
}

/* virtio_mmio.device=SIZE@ADDR:GSI, the form Linux takes and QEMU's microvm machine
 * appends for each virtio-mmio device: where the block device is when it is not hvm's
 * (HV_BLK_MMIO_BASE, MSI-style vector), and the IOAPIC input of its interrupt. */
static void opt_virtio_mmio(const char *key, const char *v)
{
	const char *at = strchr(v, '@'), *colon = at ? strchr(at, ':') : NULL;
	char num[24];
	uint64_t a = 0;
	const char *p;

	if (!at || !colon || at[1] != '0' || at[2] != 'x' || colon - at - 3 > 16 ||
	    colon - at - 3 < 1)
		bad(key, v, "SIZE@0xADDR:GSI");
	for (p = at + 3; p < colon; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 :
			-1;
		if (d < 0)
			bad(key, v, "SIZE@0xADDR:GSI (ADDR in lower-case hex)");
		a = a << 4 | (uint64_t)d;
	}
	if (a < kcfg.mem_bytes || a % 512 || a >= (1ull << 32))
		bad(key, v, "an address outside memory, 512-byte aligned, below 4 GiB");
	strlcpy(num, colon + 1, sizeof(num));
	kcfg.blk_gsi = number(key, num, 0, 47);
	kcfg.blk_gsi_set = 1;
	kcfg.blk_mmio = a;
}

static void opt_pvbatch(const char *key, const char *v)
{
	kcfg.pv_batch = number(key, v, 1, HV_MMU_BATCH_MAX);
}

static void opt_cr8wr(const char *key, const char *v)
{
	static const char *const names[] = { "off", NULL };

	one_of(key, v, names, "off");
	kcfg.cr8wr_off = 1;
}

static void opt_cpus(const char *key, const char *v)
{
	uint32_t n = number(key, v, 1, HV_MAX_VCPUS);

	if (n < kcfg.nr_vcpus)
		kcfg.nr_vcpus = n;
}

static const struct {
	const char *key;
	void (*set)(const char *key, const char *value);
} options[] = {
	{ "workload", opt_workload }, { "wargs", opt_wargs }, { "sysgate", opt_sysgate },
	{ "kmem", opt_kmem }, { "cow", opt_cow }, { "hz", opt_hz },
	{ "spinlock", opt_spinlock }, { "spinthreshold", opt_spinthreshold }, { "flavour", opt_flavour }, { "pv", opt_pv },
	{ "pvbatch", opt_pvbatch }, { "iopath", opt_iopath }, { "io", opt_iopath },
	{ "cpus", opt_cpus }, { "cr8wr", opt_cr8wr }, { "virtio_mmio.device", opt_virtio_mmio },
	{ "pagesize", opt_pagesize }, { "hugemem", opt_hugemem },
};

/* A word that is no option of this kernel (val: after its '=', NULL without one): said
 * by name, with the options there are. */
static NORETURN void unknown(const char *key, const char *val)
{
	kprintf("cmdline: unknown word '%s%s%s': this kernel takes", key, val ? "=" : "",
		val ? val : "");
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		kprintf(" %s=", options[i].key);
	kprintf(" (a typo would run the workload under a mode nobody asked for)\n");
	hv_exit(HV_EXIT_FAIL);
}

static void option(const char *key, const char *val)
{
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		if (!strcmp(key, options[i].key)) {
			options[i].set(key, val);
			return;
		}
	unknown(key, val);
}

void cmdline_parse(void)
{
	char *p = kcfg.cmdline;

	kcfg.gate = GUEST_GATE_SYSCALL;
	kcfg.kmem = GUEST_KMEM_KERNEL;
	kcfg.cow = 0;
	kcfg.pagesize_2m = 0;
	kcfg.hugemem_mib = 0;
	kcfg.hz = HZ_DEFAULT;
	kcfg.spinlock = "plain";
	kcfg.flavour = "full";
	kcfg.pv_batch = HV_MMU_BATCH_MAX;
	kcfg.iopath = "emul";
	kcfg.workload = NULL;
	kcfg.wargs = "";
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *key = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
		char *eq = strchr(key, '=');
		if (!eq)
			unknown(key, NULL);
		*eq = 0;
		option(key, eq + 1);
	}
	/* Combinations this kernel does not have, checked once the last word has won. */
	if (kcfg.pagesize_2m && !strcmp(kcfg.flavour, "pv")) {
		kprintf("cmdline: pagesize=2m with flavour=pv is not supported: the VMM's "
			"page-table hypercall (HV_HC_MMU_UPDATE) takes 4 KiB leaves only; boot "
			"with pv=off or pagesize=4k\n");
		hv_exit(HV_EXIT_FAIL);
	}
	if (kcfg.pagesize_2m && kcfg.cow) {
		kprintf("cmdline: pagesize=2m with cow=1 is not supported: fork copies 2 MiB "
			"pages; boot with cow=0 or pagesize=4k\n");
		hv_exit(HV_EXIT_FAIL);
	}
	if (kcfg.hugemem_mib && !kcfg.pagesize_2m) {
		kprintf("cmdline: hugemem= needs pagesize=2m\n");
		hv_exit(HV_EXIT_FAIL);
	}
}
