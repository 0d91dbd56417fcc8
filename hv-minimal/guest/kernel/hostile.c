/* Misbehaving guests. Each one does one bad thing as plainly as possible and says on
 * the console what it is about to do, so the VMM's report can be matched against it. */
#include "blk.h"
#include "guest/string.h"
#include "hostile.h"
#include "hv.h"
#include "kalloc.h"
#include "percpu.h"
#include "programs.h"
#include "proc.h"
#include "pv.h"

#define WILD_PORT 0x1234   /* no device: neither KVM's nor the VMM's */

static int triplefault(const char *args)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	(void)args;
	kprintf("triplefault: loading an empty IDT and executing ud2\n");
	/* #UD finds no gate -> #GP, which finds none -> #DF, none -> shutdown. */
	__asm__ volatile("cli\n\tlidt %0\n\tud2" : : "m"(empty));
	kprintf("triplefault: the CPU went on after the fault\n");
	return HV_EXIT_FAIL;
}

static int hang(const char *args)
{
	if (!strcmp(args, "cpl3")) {
		const struct program *p = program_find("spin");
		kprintf("hang: spinning in user mode\n");
		if (p)
			proc_run(p, "");
		return HV_EXIT_FAIL;
	}
	kprintf("hang: spinning in the kernel with interrupts off\n");
	__asm__ volatile("cli\n1:\tjmp 1b");
	__builtin_unreachable();
}

static int vmcall(const char *args)
{
	uint64_t rax = 0;

	(void)args;
	kprintf("vmcall: executing vmcall at CPL0 (rax = 0)\n");
	__asm__ volatile("vmcall" : "+a"(rax) : : "rbx", "rcx", "rdx", "rsi", "memory");
	kprintf("vmcall: returned, rax = %#lx\n", rax);
	return HV_EXIT_PASS;
}

/* One hypercall that must be refused with code want; returns 1 when it was. */
static int refused_with(const char *what, int64_t want, uint64_t nr, uint64_t a0, uint64_t a1,
			uint64_t a2)
{
	int64_t ret = hv_hypercall3(nr, a0, a1, a2, NULL);

	kprintf("wildhcall: %s (nr %lu, %#lx, %#lx, %#lx) -> %ld%s\n", what, nr, a0, a1, a2,
		ret, ret == want ? "" : ret < 0 ? "  WRONG CODE" : "  NOT REFUSED");
	return ret == want;
}

static int refused(const char *what, uint64_t nr, uint64_t a0, uint64_t a1)
{
	int64_t want = nr >= HV_HC_NR ? HV_HC_ENOSYS :
		       nr == HV_HC_RESULT || a1 > (64u << 10) ? HV_HC_EINVAL : HV_HC_EFAULT;

	return refused_with(what, want, nr, a0, a1, 0);
}

static int wildhcall(const char *args)
{
	uint64_t mem = kcfg.mem_bytes;
	int ok = 1;

	(void)args;
	ok &= refused("unknown number", HV_HC_NR, 0, 0);
	ok &= refused("huge number", ~0ull, 0, 0);
	ok &= refused("console beyond memory", HV_HC_CONSOLE, mem, 16);
	ok &= refused("console straddling the end", HV_HC_CONSOLE, mem - 8, 16);
	ok &= refused("console huge length", HV_HC_CONSOLE, 0x100000, 1ull << 40);
	ok &= refused("console gpa+len overflows", HV_HC_CONSOLE, ~0ull - 8, 64);
	ok &= refused("result beyond memory", HV_HC_RESULT, mem + 4096, 0);
	ok &= refused("result at the MMIO hole", HV_HC_RESULT, HV_MMIO_UNBACKED, 0);

	kprintf("wildhcall: doorbell for vCPU 4096\n");
	outl(HV_PORT_HCALL, 4096);
	kprintf("wildhcall: result port with gpa %#x\n", 0xfffffff0u);
	outl(HV_PORT_RESULT, 0xfffffff0u);
	kprintf("wildhcall: result port with gpa %#lx (straddles the end)\n", mem - 4);
	outl(HV_PORT_RESULT, (uint32_t)(mem - 4));
	kprintf("wildhcall: %s\n", ok ? "all refused" : "some were NOT refused");
	return ok ? HV_EXIT_PASS : HV_EXIT_FAIL;
}

/* One page-table update through HV_HC_MMU_UPDATE, from a one-entry batch. */
static int bad_update(const char *what, int64_t want, uint64_t root, uint64_t ptr, uint64_t val)
{
	static struct hv_mmu_update u;

	u.ptr = ptr;
	u.val = val;
	return refused_with(what, want, HV_HC_MMU_UPDATE, V2P(&u), 1, root);
}

/* Paravirtual calls a buggy or hostile kernel could make: each is refused with its
 * code and the VM goes on. Codes depend on what the VMM offers under the engine: a
 * feature not offered is HV_HC_ENOSYS whatever the arguments. */
static int wildpv(const char *args)
{
	int64_t f = hv_hypercall(HV_HC_FEATURES, 0, 0);
	int mmu = f > 0 && (f & HV_PV_MMU), tlb = f > 0 && (f & HV_PV_TLB);
	uint64_t mem = kcfg.mem_bytes, va = 0x400000;
	static struct hv_mmu_update big[2];
	int ok = 1;

	(void)args;
	kprintf("wildpv: the VMM offers %#lx\n", (uint64_t)f);
#define M(code) (mmu ? (code) : HV_HC_ENOSYS)
	ok &= refused_with("unknown number", HV_HC_ENOSYS, HV_HC_NR + 7, 0, 0, 0);
	ok &= refused_with("empty batch", M(HV_HC_EINVAL), HV_HC_MMU_UPDATE, V2P(big), 0, 0);
	ok &= refused_with("oversized batch", M(HV_HC_E2BIG), HV_HC_MMU_UPDATE, V2P(big),
			   HV_MMU_BATCH_MAX + 1, 0);
	ok &= refused_with("batch beyond memory", M(HV_HC_EFAULT), HV_HC_MMU_UPDATE, mem - 16,
			   2, 0);
	ok &= refused_with("pin a root beyond memory", M(HV_HC_EFAULT), HV_HC_PIN_ROOT, mem, 0, 0);
	ok &= refused_with("pin the VMM's hypercall page", M(HV_HC_EPERM), HV_HC_PIN_ROOT,
			   kcfg.hcall_gpa, 0, 0);
	ok &= refused_with("unpin what is not pinned", M(HV_HC_EINVAL), HV_HC_UNPIN_ROOT,
			   V2P(big) & ~0xfffull, 0, 0);
	ok &= refused_with("load CR3 beyond memory", HV_HC_EFAULT, HV_HC_NEW_BASEPTR, mem, 0, 0);
	ok &= refused_with("flush a vCPU that does not exist", tlb ? HV_HC_EINVAL : HV_HC_ENOSYS,
			   HV_HC_TLB_FLUSH, HV_TLB_FLUSH_ALL, 1ull << 40, 0);
	ok &= refused_with("flush a non-canonical address", tlb ? HV_HC_EINVAL : HV_HC_ENOSYS,
			   HV_HC_TLB_FLUSH, 0x0000900000000000ull, 1, 0);
	ok &= refused_with("clock page beyond memory", f > 0 && (f & HV_PV_CLOCK) ? HV_HC_EFAULT :
			   HV_HC_ENOSYS, HV_HC_CLOCK_PAGE, mem, 0, 0);
	if (mmu && !pv_mmu_on) {
		kprintf("wildpv: the page-table cases need the pv flavour (pv=on)\n");
	} else if (mmu) {
		/* two address spaces of this kernel's own (pinned), a leaf table each */
		struct vmspace *a = vs_create(), *b = vs_create();
		if (!a || !b)
			panic("wildpv: out of memory");
		pte_t *ea = uvm_walk(a->pml4, va, 1), *eb = uvm_walk(b->pml4, va, 1);
		if (!ea || !eb)
			panic("wildpv: out of memory");
		uint64_t pa = V2P(ea), pb = V2P(eb), u = PTE_P | PTE_W | PTE_U;
		ok &= bad_update("an entry of the kernel half", HV_HC_EPERM, a->root,
				 a->root + 511 * 8, a->pml4[511]);
		ok &= bad_update("map the VMM's hypercall page", HV_HC_EPERM, a->root, pa,
				 kcfg.hcall_gpa | u);
		ok &= bad_update("map a frame beyond memory", HV_HC_EFAULT, a->root, pa, mem | u);
		ok &= bad_update("map its own PML4 writable", HV_HC_EPERM, a->root, pa, a->root | u);
		ok &= bad_update("map another process's PML4 writable", HV_HC_EPERM, a->root, pa,
				 b->root | u);
		ok &= bad_update("write another process's table", HV_HC_EPERM, a->root, pb,
				 V2P(big) | u);
		ok &= bad_update("a misaligned entry", HV_HC_EFAULT, a->root, pa + 3, 0);
		ok &= bad_update("a root that is not pinned", HV_HC_EINVAL, V2P(big) & ~0xfffull,
				 pa, 0);
		ok &= bad_update("reserved bits", HV_HC_EINVAL, a->root, pa,
				 (1ull << 55) | (V2P(big) & ~0xfffull) | u);
		ok &= bad_update("a non-empty table as a new table", HV_HC_EPERM, a->root,
				 a->root, b->root | u);
		ok &= refused_with("load a leaf table as CR3", HV_HC_EPERM, HV_HC_NEW_BASEPTR,
				   pa & ~0xfffull, 0, 0);
		/* a legitimate update still works after all that */
		struct hv_mmu_update good = { pa, (V2P(big) & ~0xfffull) | PTE_P | PTE_U };
		uint64_t done = 0;
		int64_t r = hv_hypercall3(HV_HC_MMU_UPDATE, V2P(&good), 1, a->root, &done);
		kprintf("wildpv: a valid update -> %ld, %lu applied%s\n", r, done,
			r == 0 && done == 1 ? "" : "  FAILED");
		ok &= r == 0 && done == 1;
		vs_put(a);
		vs_put(b);
	}
#undef M
	kprintf("wildpv: %s\n", ok ? "all refused" : "some were NOT refused as they should");
	return ok ? HV_EXIT_PASS : HV_EXIT_FAIL;
}

/* Random paravirtual page-table calls against a scratch area of frames the test owns:
 * updates with random entry addresses and values (valid ones among them), pins and
 * unpins of random scratch frames, batches of random lengths, TLB flushes with random
 * masks. Nothing is checked but that the VMM answers every call and stays up (the
 * sanitizer build runs it too); the scratch frames are never given back, since the VMM
 * may still hold some of them as tables. wargs: the number of calls (default 20000). */
#define FUZZ_FRAMES 64

static int pvfuzz(const char *args)
{
	static struct hv_mmu_update batch[64];
	uint64_t frames[FUZZ_FRAMES], seed = 0x9e3779b97f4a7c15ull, calls = 20000, refused = 0;
	uint64_t mem = kcfg.mem_bytes;

	if (*args) {
		calls = 0;
		for (const char *p = args; *p >= '0' && *p <= '9'; p++)
			calls = calls * 10 + (uint64_t)(*p - '0');
	}
	if (!(hv_hypercall(HV_HC_FEATURES, 0, 0) & HV_PV_MMU)) {
		/* a pass: there is nothing to fuzz, and a VMM offering nothing is right */
		kprintf("pvfuzz: nothing to fuzz: the VMM offers no page-table calls under this "
			"engine\n");
		return HV_EXIT_PASS;
	}
	for (int i = 0; i < FUZZ_FRAMES; i++)
		if (!(frames[i] = frame_alloc_zeroed()))
			panic("pvfuzz: out of memory");
	kprintf("pvfuzz: %lu random calls on %d scratch frames\n", calls, FUZZ_FRAMES);
	for (uint64_t c = 0; c < calls; c++) {
		/* xorshift64 */
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		uint64_t r = seed, f = frames[r % FUZZ_FRAMES], g = frames[(r >> 8) % FUZZ_FRAMES];
		int64_t ret;
		switch ((r >> 16) % 6) {
		case 0:
			ret = hv_hypercall(HV_HC_PIN_ROOT, f, 0);
			break;
		case 1:
			ret = hv_hypercall(HV_HC_UNPIN_ROOT, f, 0);
			break;
		case 2:
			ret = hv_hypercall(HV_HC_TLB_FLUSH, (r & 1) ? HV_TLB_FLUSH_ALL : r << 12,
					   r >> 40);
			break;
		default: {
			/* a batch: entries in scratch frames, values naming scratch frames with
			 * random bits, or anything at all */
			unsigned n = (unsigned)((r >> 24) % 64) + 1;
			for (unsigned k = 0; k < n; k++) {
				seed ^= seed << 13;
				seed ^= seed >> 7;
				seed ^= seed << 17;
				uint64_t q = seed;
				batch[k].ptr = (q & 3) ? frames[q % FUZZ_FRAMES] + ((q >> 6) % 512) * 8 :
					       q % (mem + 8192);
				batch[k].val = (q & 4) ? frames[(q >> 12) % FUZZ_FRAMES] |
							 ((q >> 20) & 0x87) : q * 0x2545f4914f6cdd1dull;
			}
			ret = hv_hypercall3(HV_HC_MMU_UPDATE, V2P(batch), n, (r & 8) ? f : g, NULL);
			break;
		}
		}
		refused += ret < 0;
	}
	kprintf("pvfuzz: survived %lu calls, %lu refused\n", calls, refused);
	return HV_EXIT_PASS;
}

/* The spin hypercalls with kicks nobody waits for and bad arguments: each call must
 * return at once with its code, and the VM go on. A kick to a vCPU that is not waiting
 * is kept for its next wait, which therefore returns at once. */
static int wildspin(const char *args)
{
	static volatile uint32_t word = 7;
	int64_t f = hv_hypercall(HV_HC_FEATURES, 0, 0), r;
	int ok = 1;

	if (f < 0 || !(f & HV_PV_SPIN)) {
		kprintf("wildspin: the VMM offers no spin hypercalls (features %ld)\n", f);
		return HV_EXIT_PASS;
	}
	if (!strcmp(args, "forever")) {
		/* a kernel that sleeps on a lock nobody releases: each wait ends on its own,
		 * and only the watchdog stops the guest */
		kprintf("wildspin: waiting on a lock word forever\n");
		for (;;)
			hv_hypercall(HV_HC_SPIN_WAIT, V2P(&word), word);
	}
	for (uint32_t i = 0; i < ncpus; i++) {
		r = hv_hypercall(HV_HC_SPIN_KICK, i, 0);
		kprintf("wildspin: kick vCPU %u (not waiting) -> %ld\n", i, r);
		ok &= r == 0;
	}
	uint64_t t0 = rdtsc();
	r = hv_hypercall(HV_HC_SPIN_WAIT, V2P(&word), 7);
	kprintf("wildspin: wait after a kick to itself -> %ld (1: the kept kick)\n", r);
	ok &= r == 1;
	r = hv_hypercall(HV_HC_SPIN_WAIT, V2P(&word), 8);
	kprintf("wildspin: wait on a word that has moved on -> %ld\n", r);
	ok &= r == 0;
	r = hv_hypercall(HV_HC_SPIN_WAIT, V2P(&word), 7);
	uint64_t waited = rdtsc() - t0;
	kprintf("wildspin: wait nobody kicks -> %ld after %lu cycles in all\n", r, waited);
	ok &= r == 0 && (!kcfg.tsc_khz || waited < kcfg.tsc_khz * 1000);
	const struct { const char *what; uint64_t nr, a0, a1; int64_t want; } bad[] = {
		{ "kick a vCPU past the last", HV_HC_SPIN_KICK, ncpus, 0, HV_HC_EINVAL },
		{ "kick vCPU 2^63", HV_HC_SPIN_KICK, 1ull << 63, 0, HV_HC_EINVAL },
		{ "wait on a misaligned word", HV_HC_SPIN_WAIT, V2P(&word) + 1, 7, HV_HC_EINVAL },
		{ "wait on a word past memory", HV_HC_SPIN_WAIT, kcfg.mem_bytes, 0, HV_HC_EFAULT },
		{ "wait on a word at 2^63", HV_HC_SPIN_WAIT, 1ull << 63, 0, HV_HC_EFAULT },
		{ "wait for a value wider than the word", HV_HC_SPIN_WAIT, V2P(&word), 1ull << 32,
		  HV_HC_EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = hv_hypercall(bad[i].nr, bad[i].a0, bad[i].a1);
		kprintf("wildspin: %s -> %ld\n", bad[i].what, r);
		ok &= r == bad[i].want;
	}
	r = hv_hypercall(HV_HC_SPIN_NOTIFY, ~0ull, 0);
	kprintf("wildspin: a long-spin notification -> %ld\n", r);
	ok &= r == 0;
	kprintf("wildspin: %s\n", ok ? "every call answered as it should" :
		"some calls were NOT answered as they should");
	return ok ? HV_EXIT_PASS : HV_EXIT_FAIL;
}

static int wildio(const char *args)
{
	(void)args;
	kprintf("wildio: outb to port %#x\n", WILD_PORT);
	outb(WILD_PORT, 0x5a);
	kprintf("wildio: outl to port %#x\n", WILD_PORT);
	outl(WILD_PORT, 0xdeadbeef);
	uint8_t v = inb(WILD_PORT);
	kprintf("wildio: inb from port %#x -> %#x\n", WILD_PORT, v);
	return HV_EXIT_PASS;
}

/* One instruction at CPL0 that an instruction emulator may lack. On a CPU that runs
 * it, the workload passes; a host that emulates kernel code and lacks it stops the
 * guest with an emulation failure, which is what a test of the VMM looks for. */
static int cpl0insn(const char *args)
{
	static const char *const names[] = { "rdtscp", "int", "sse" };
	uint32_t lo, hi, aux;

	kprintf("cpl0insn: executing %s at CPL0\n", args);
	if (!strcmp(args, "rdtscp")) {
		__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	} else if (!strcmp(args, "int")) {
		/* A software interrupt to a vector whose handler just returns. */
		__asm__ volatile("int $0x20" : : : "memory");
	} else if (!strcmp(args, "sse")) {
		/* Nothing in the guest keeps state in xmm0 (all code is built without SSE),
		 * which is also why the compiler cannot be told it is clobbered. */
		__asm__ volatile("pxor %xmm0, %xmm0");
	} else {
		kprintf("cpl0insn: wargs must be one of:");
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			kprintf(" %s", names[i]);
		kprintf("\n");
		return HV_EXIT_FAIL;
	}
	kprintf("cpl0insn: %s completed\n", args);
	return HV_EXIT_PASS;
}

const struct ktest ktests[] = {
	{ "triplefault", "the kernel triple faults (empty IDT, then ud2)", triplefault },
	{ "hang", "spins forever at CPL0, interrupts off (wargs=cpl3: in user mode)", hang },
	{ "vmcall", "executes vmcall at CPL0", vmcall },
	{ "wildhcall", "hypercalls with bad numbers, addresses, lengths; wild result address",
	  wildhcall },
	{ "wildpv", "paravirtual hypercalls a hostile kernel could make (refused, the VM goes on)",
	  wildpv },
	{ "pvfuzz", "random paravirtual page-table calls (wargs: how many)", pvfuzz },
	{ "wildspin", "spin hypercalls: kicks to vCPUs not waiting, bad arguments (wargs=forever: "
	  "waits on a lock forever)", wildspin },
	{ "wildio", "port I/O to an unassigned port", wildio },
	{ "cpl0insn", "one instruction at CPL0 (wargs: rdtscp, int, sse)", cpl0insn },
	{ "badring", "a malformed virtqueue on the ring paths (wargs: loop, oob, len, head, "
	  "avail, indirect, order)", blk_badring },
	{ NULL, NULL, NULL },
};

const struct ktest *ktest_find(const char *name)
{
	for (const struct ktest *t = ktests; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}
