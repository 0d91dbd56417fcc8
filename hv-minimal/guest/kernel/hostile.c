/* Misbehaving guests. Each one does one bad thing as plainly as possible and says on
 * the console what it is about to do, so the VMM's report can be matched against it. */
#include "blk.h"
#include "guest/string.h"
#include "hostile.h"
#include "hv.h"
#include "programs.h"
#include "proc.h"

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

/* One hypercall that must be refused; returns 1 when it was. */
static int refused(const char *what, uint64_t nr, uint64_t a0, uint64_t a1)
{
	int64_t ret = hv_hypercall(nr, a0, a1);

	kprintf("wildhcall: %s (nr %lu, %#lx, %#lx) -> %ld%s\n", what, nr, a0, a1, ret,
		ret == HV_HC_EINVAL ? "" : "  NOT REFUSED");
	return ret == HV_HC_EINVAL;
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
