/* The IDT and trap handling: system calls through #UD, demand paging, interrupts
 * (timer, IPIs), faults of user programs, and panics on anything unexpected in the
 * kernel. */
#include "apic.h"
#include "blk.h"
#include "hvlab/blk_abi.h"
#include "guest/uapi.h"
#include "hv.h"
#include "kmem.h"
#include "percpu.h"
#include "proc.h"
#include "pv.h"
#include "tlb.h"
#include "trap.h"
#include "vm.h"

#define GATE_INTR 0x8e   /* present, DPL 0, 64-bit interrupt gate (clears IF) */
#define UD2_BYTES 0x0b0f /* 0f 0b, read as a little-endian word */
#define GP_ERR_IDT 0x2   /* #GP error code: the selector indexes the IDT */

struct gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, reserved;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static struct gate idt[T_NVEC] __attribute__((aligned(16)));

void idt_load(void)
{
	struct desc_ptr p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

void idt_init(void)
{
	for (int i = 0; i < T_NVEC; i++) {
		uint64_t a = trap_vectors[i];
		idt[i] = (struct gate){ (uint16_t)a, SEL_KCODE, 0, GATE_INTR, (uint16_t)(a >> 16),
					(uint32_t)(a >> 32), 0 };
	}
	/* Known-good stacks where the current one may be bad (gdt.c sets them up). */
	idt[T_DF].ist = 1;
	idt[T_NMI].ist = 2;
	idt[T_MC].ist = 3;
	idt_load();
}

static const char *const names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
	"#SS stack fault", "#GP general protection", "#PF page fault", "reserved 15",
	"#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
	"#VE virtualization", "#CP control protection",
};

const char *trap_name(uint64_t vector)
{
	if (vector < 32 && names[vector])
		return names[vector];
	if (vector == T_SYSCALL)
		return "syscall";
	return vector < 32 ? "reserved" : "interrupt";
}

static void print_frame(const struct trapframe *tf)
{
	kprintf_raw("  vector %lu (%s) error %#lx cr2 %#lx cr3 %#lx\n", tf->vector,
		trap_name(tf->vector), tf->error, rcr2(), rcr3());
	kprintf_raw("  rip %016lx cs %04lx rflags %08lx rsp %016lx ss %04lx\n", tf->rip, tf->cs,
		tf->rflags, tf->rsp, tf->ss);
	kprintf_raw("  rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", tf->rax, tf->rbx, tf->rcx,
		tf->rdx);
	kprintf_raw("  rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", tf->rsi, tf->rdi, tf->rbp,
		tf->r8);
	kprintf_raw("  r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", tf->r9, tf->r10, tf->r11,
		tf->r12);
	kprintf_raw("  r13 %016lx r14 %016lx r15 %016lx\n", tf->r13, tf->r14, tf->r15);
}

void trap_panic(const struct trapframe *tf, const char *why)
{
	cli();
	kprintf_raw("panic: %s: %s at %#lx\n", why, trap_name(tf->vector), tf->rip);
	print_frame(tf);
	hv_exit(HV_EXIT_PANIC);
}

/* An interrupt vector nothing is programmed for: counted and dropped. */
static void spurious(const struct trapframe *tf)
{
	struct cpu *c = mycpu();

	if (c->spurious++ == 0)
		kprintf("trap: unexpected interrupt vector %lu on CPU %u (further ones not shown)\n",
			tf->vector, c->id);
}

/* Interrupts, from user mode or the idle loop. Every one also serves this CPU's
 * pending TLB shootdown requests, so a lost IPI costs at most a timer period. */
static void irq(const struct trapframe *tf)
{
	struct cpu *c = mycpu();

	switch (tf->vector) {
	case T_TIMER:
		c->st.ticks++;
		break;
	case T_IPI:
		c->st.ipis++;
		break;
	case T_SPURIOUS:
		c->spurious++;        /* no EOI for the spurious vector */
		return;
	case HV_BLK_IRQ_VECTOR:
		blk_irq();
		break;
	default:
		spurious(tf);
		break;
	}
	pv->eoi();
	tlb_poll();
}

/* A `ud2` at the faulting address. The CPU has just fetched it from a mapped user page
 * of the current address space, so the kernel can read it in place. */
static int is_ud2(uint64_t rip)
{
	return rip <= HV_USER_TOP - 2 && *(const volatile uint16_t *)rip == UD2_BYTES;
}

/* A fault the kernel does not resolve: resume the program where it asked, or end it. */
static void user_fault(struct trapframe *tf, uint64_t cr2)
{
	struct proc *p = myproc();

	if (p->fault_resume) {
		tf->rip = p->fault_resume;
		tf->rax = tf->vector;
		tf->rdx = tf->error;
		return;
	}
	kprintf("pid %lu (%s): %s at rip %#lx, error %#lx, cr2 %#lx: killed\n", p->pid, p->name,
		trap_name(tf->vector), tf->rip, tf->error, cr2);
	/* A user-mode fetch fault at the syscall entry: the CPU jumped to LSTAR without
	 * switching to CPL0, which some hosts do for a guest that is not theirs. */
	if (tf->vector == T_PF && tf->rip == (uint64_t)syscall_entry)
		kprintf("  `syscall` reached the kernel entry without entering CPL0: this host "
			"cannot run the syscall gate; boot with sysgate=ud2\n");
	proc_exit(EXIT_KILLED_BASE + (int)tf->vector);
}

/* Everything from user mode but the system-call fast path. */
static __attribute__((noinline)) void user_trap(struct trapframe *tf)
{
	uint64_t cr2 = 0;

	/* The kernel's own CPL3 copy routine (kmem.c) coming back. */
	if (mycpu()->helper_rsp)
		kmem_user_trap(tf->vector);
	switch (tf->vector) {
	case T_SYSCALL:
		syscall_dispatch(tf);
		return;
	case T_PF:
		cr2 = rcr2();
		if (uvm_fault(myproc()->vs, cr2, tf->error) == 0)
			return;
		break;
	case T_GP:
		/* An interrupt vector beyond the IDT's limit. */
		if ((tf->error & GP_ERR_IDT) && (tf->error >> 3) >= T_NVEC) {
			spurious(tf);
			return;
		}
		break;
	default:
		if (tf->vector >= T_IRQ0) {
			/* Preemption: round robin among this CPU's runnable processes, a
			 * tick's once the process has run for a while (sched_tick). */
			irq(tf);
			if (tf->vector == T_TIMER)
				sched_tick();
			else
				yield();
			return;
		}
		break;
	}
	user_fault(tf, cr2);
}

/* Called by every entry path with the frame it built. The ud2 system call is tested
 * first and alone: under instruction emulation each instruction here is paid on every
 * system call. */
void trap(struct trapframe *tf)
{
	if (tf->cs & 3) {
		if (tf->vector == T_UD && kcfg.gate == GUEST_GATE_UD2 && is_ud2(tf->rip)) {
			tf->rip += 2;
			syscall_dispatch(tf);
			return;
		}
		user_trap(tf);
		return;
	}
	/* The idle loop halts with interrupts on; nothing else in the kernel does. */
	if (tf->vector >= T_IRQ0 && tf->vector < T_NVEC) {
		irq(tf);
		return;
	}
	trap_panic(tf, "kernel trap");
}
