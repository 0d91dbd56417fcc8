/* The binary translator's virtual CPU: exceptions delivered through the guest IDT
 * (vector, error code, CR2, the frame, the stack switch from CPL 3), iretq, syscall and
 * sysret, software interrupts, privileged instructions at CPL 3, the virtual interrupt
 * flag, CPUID, MSRs, port I/O exits, page faults and their error codes, invlpg and CR3
 * loads, accessed/dirty bits, a stop request into a guest loop, a triple fault, and
 * the window cache (address spaces kept by CR3, invalidated while cached, evicted).
 * Guest programs run on the flat test guest (engines/bt/flatguest.h); no /dev/kvm. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>


#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../hv-minimal/engines/bt/flatguest.h"
#include "hvlab/abi.h"
#include "hvlab/err.h"

extern const struct hv_engine_ops hv_bt_engine_ops;

#define K_CODE  (HV_KERNBASE + FLAT_CODE)
#define K_DATA  (HV_KERNBASE + FLAT_DATA)
#define K_STACK (HV_KERNBASE + FLAT_STACK)
#define K_RSP0  (HV_KERNBASE + FLAT_STACK0)
#define U_CODE  FLAT_USER

#define SNIPPET(name, body)                                                    \
	extern const uint8_t snip_##name##_b[], snip_##name##_e[];             \
	__asm__(".pushsection .rodata\n"                                        \
		"snip_" #name "_b:\n" body "\nsnip_" #name "_e:\n"              \
		".popsection\n")

#define DONE "out %al, $0x99\n"
/* the kernel part enters the user part at U_CODE with CPL 3 and IOPL 3 */
#define TO_USER                                                                \
	"push $0x2b\n"                                                          \
	"push $0x9f0000\n"                                                      \
	"push $0x3002\n"                                                        \
	"push $0x33\n"                                                          \
	"push $0x800000\n"                                                      \
	"iretq\n"

struct run {
	struct flat_guest g;
	struct hv_regs r;
	struct hv_sregs s;
	uint16_t port;
};

/* Loads kernel code at K_CODE (and user code at U_CODE), runs from K_CODE at CPL 0 with
 * RSP = K_STACK, until a port write to 0x98 or 0x99. */
static void run_code(struct run *x, const uint8_t *kb, const uint8_t *ke, const uint8_t *ub,
		     const uint8_t *ue, int expect_ok)
{
	memset(x, 0, sizeof(*x));
	if (flat_create(&x->g, &hv_bt_engine_ops))
		fail_msg("creating the flat guest: %s", hv_err_msg());
	flat_load(&x->g, FLAT_CODE, kb, (size_t)(ke - kb));
	if (ub)
		flat_load(&x->g, FLAT_USER, ub, (size_t)(ue - ub));
	assert_int_equal(flat_start_kernel(&x->g, K_DATA), 0);
	if (flat_run(&x->g, &x->port)) {
		if (expect_ok)
			fail_msg("run: %s", hv_err_msg());
		return;
	}
	assert_int_equal(x->g.ops->get_regs(x->g.vcpu, &x->r), 0);
	assert_int_equal(x->g.ops->get_sregs(x->g.vcpu, &x->s), 0);
}

/* The exception frame the stub's vector found: [error], rip, cs, rflags, rsp, ss. */
static const uint64_t *frame(struct run *x)
{
	uint64_t rsp = x->r.rsp;
	uint64_t pa = rsp >= HV_KERNBASE ? rsp - HV_KERNBASE : rsp;

	return flat_ptr(&x->g, pa);
}

static void done(struct run *x)
{
	flat_destroy(&x->g);
}

/* ---- exceptions at CPL 0 ---- */

SNIPPET(de, "xor %ecx, %ecx\n"
	    "mov $5, %eax\n"
	    "1: div %rcx\n" DONE);

static void divide_error(void **state)
{
	struct run x;
	const uint64_t *f;

	(void)state;
	run_code(&x, snip_de_b, snip_de_e, NULL, NULL, 1);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r15, 0);
	f = frame(&x);
	assert_int_equal(f[0], K_CODE + 7);          /* the div, not after it */
	assert_int_equal(f[1], FLAT_SEL_KCODE);
	assert_int_equal(f[3], K_STACK);
	assert_int_equal(x.r.rax, 5);                /* state as before the div */
	done(&x);
}

/* The zero divisor is seen before the div (translate.c): from memory, from a byte
 * register that needs REX, with the flags as they were before it (CF set). A non-zero
 * divisor in RCX still divides, with RCX kept. */
SNIPPET(de_mem, "movl $0, -16(%rsp)\n"
	"lea -16(%rsp), %rcx\n"
	"mov $5, %eax\n"
	"xor %edx, %edx\n"
	"stc\n"
	"divl (%rcx)\n" DONE);
SNIPPET(de_sil, "xor %esi, %esi\n"
	"mov $5, %eax\n"
	"div %sil\n" DONE);
SNIPPET(div_ok, "mov $100, %eax\n"
	"xor %edx, %edx\n"
	"mov $7, %ecx\n"
	"div %rcx\n"
	"mov $9, %esi\n"
	"movl $3, -16(%rsp)\n"
	"lea -16(%rsp), %rcx\n"
	"mov %eax, %r8d\n"
	"mov $31, %eax\n"
	"xor %edx, %edx\n"
	"divl (%rcx)\n" DONE);

static void divide_error_checked_forms(void **state)
{
	struct run x;
	const uint64_t *f;

	(void)state;
	run_code(&x, snip_de_mem_b, snip_de_mem_e, NULL, NULL, 1);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	f = frame(&x);
	assert_int_equal(f[0], K_CODE + (size_t)(snip_de_mem_e - snip_de_mem_b) - 2 - 2);
	assert_true(f[2] & 1);                       /* CF as before the div */
	assert_int_equal(x.r.rcx, K_STACK - 16);
	assert_int_equal(x.r.rax, 5);
	done(&x);

	run_code(&x, snip_de_sil_b, snip_de_sil_e, NULL, NULL, 1);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(frame(&x)[0], K_CODE + (size_t)(snip_de_sil_e - snip_de_sil_b) - 2 - 3);
	done(&x);

	run_code(&x, snip_div_ok_b, snip_div_ok_e, NULL, NULL, 1);
	assert_int_not_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r8, 14);                /* 100 / 7 */
	assert_int_equal(x.r.rax, 10);               /* 31 / 3 */
	assert_int_equal(x.r.rdx, 1);
	assert_int_equal(x.r.rcx, K_STACK - 16);
	done(&x);
}

SNIPPET(ud, "nop\n"
	    "ud2\n" DONE);

static void invalid_opcode(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_ud_b, snip_ud_e, NULL, NULL, 1);
	assert_int_equal(x.r.r15, 6);
	assert_int_equal(frame(&x)[0], K_CODE + 1);
	done(&x);
}

SNIPPET(pf_np, "mov $7, %ecx\n"
	       "push %rcx\n"
	       "mov 0x10, %rax\n" DONE);

static void page_fault_not_present(void **state)
{
	struct run x;
	const uint64_t *f;

	(void)state;
	run_code(&x, snip_pf_np_b, snip_pf_np_e, NULL, NULL, 1);
	assert_int_equal(x.r.r15, 14);
	f = frame(&x);
	assert_int_equal(f[0], 0);                   /* read, supervisor, not present */
	assert_int_equal(f[1], K_CODE + 6);
	assert_int_equal(f[4], K_STACK - 8);         /* the push happened, the load did not */
	assert_int_equal(x.s.cr2, 0x10);
	done(&x);
}

SNIPPET(pf_ro, "movl $1, 0x11000\n" DONE);

static void page_fault_read_only(void **state)
{
	struct run x;

	(void)state;
	memset(&x, 0, sizeof(x));
	if (flat_create(&x.g, &hv_bt_engine_ops))
		fail_msg("%s", hv_err_msg());
	flat_set_pte(&x.g, 0x11000, 0x1);            /* present, read-only */
	flat_load(&x.g, FLAT_CODE, snip_pf_ro_b, (size_t)(snip_pf_ro_e - snip_pf_ro_b));
	assert_int_equal(flat_start_kernel(&x.g, 0), 0);
	assert_int_equal(flat_run(&x.g, &x.port), 0);
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	x.g.ops->get_sregs(x.g.vcpu, &x.s);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(frame(&x)[0], 3);           /* present | write (CR0.WP is set) */
	assert_int_equal(x.s.cr2, 0x11000);
	done(&x);
}

/* A page-crossing access: the second page is missing. */
SNIPPET(pf_cross, "mov $0x1fffc, %rdi\n"
		  "movq $-1, (%rdi)\n" DONE);

static void page_fault_crossing(void **state)
{
	struct run x;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(flat_create(&x.g, &hv_bt_engine_ops), 0);
	flat_set_pte(&x.g, 0x20000, 0);
	flat_load(&x.g, FLAT_CODE, snip_pf_cross_b, (size_t)(snip_pf_cross_e - snip_pf_cross_b));
	assert_int_equal(flat_start_kernel(&x.g, 0), 0);
	assert_int_equal(flat_run(&x.g, &x.port), 0);
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	x.g.ops->get_sregs(x.g.vcpu, &x.s);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(x.s.cr2, 0x20000);
	assert_int_equal(frame(&x)[0], 2);           /* write, not present */
	done(&x);
}

/* Addresses outside the layout (their low 32 bits would alias another page in the
 * window) are never mapped there: the guest gets the fault its own tables give, with
 * the full address in CR2, or #GP for a non-canonical one. */
SNIPPET(outside, "mov $0x1234, %ecx\n"
		 "movabs 0x123400010000, %rax\n" DONE);
SNIPPET(noncanon, "movabs $0x8000000000000000, %rsi\n"
		  "mov (%rsi), %rax\n" DONE);

static void address_outside_layout(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_outside_b, snip_outside_e, NULL, NULL, 1);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(x.s.cr2, 0x123400010000ull);
	assert_int_equal(frame(&x)[1], K_CODE + 5);
	done(&x);
	run_code(&x, snip_noncanon_b, snip_noncanon_e, NULL, NULL, 1);
	assert_int_equal(x.r.r15, 13);
	assert_int_equal(frame(&x)[0], 0);
	assert_int_equal(frame(&x)[1], K_CODE + 10);
	done(&x);
}

/* ---- CPL 3 ---- */

SNIPPET(to_user, TO_USER);
SNIPPET(u_pf, "mov $1, %eax\n"
	      "mov 0xffffffff80400000, %rax\n" DONE);

static void user_page_fault_switches_stack(void **state)
{
	struct run x;
	const uint64_t *f;

	(void)state;
	run_code(&x, snip_to_user_b, snip_to_user_e, snip_u_pf_b, snip_u_pf_e, 1);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(x.r.rsp, K_RSP0 - 6 * 8);   /* TSS.RSP0, error code + 5 words */
	f = frame(&x);
	assert_int_equal(f[0], 5);                   /* present | user */
	assert_int_equal(f[1], U_CODE + 5);
	assert_int_equal(f[2], FLAT_SEL_UCODE);
	assert_int_equal(f[4], 0x9f0000);
	assert_int_equal(f[5], FLAT_SEL_UDATA);
	assert_int_equal(x.s.cr2, 0xffffffff80400000ull);
	assert_int_equal(x.s.cs.selector, FLAT_SEL_KCODE);
	done(&x);
}

SNIPPET(u_priv, "mov %cr3, %rax\n" DONE);

static void user_privileged_instruction(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_to_user_b, snip_to_user_e, snip_u_priv_b, snip_u_priv_e, 1);
	assert_int_equal(x.r.r15, 13);
	assert_int_equal(frame(&x)[0], 0);
	assert_int_equal(frame(&x)[1], U_CODE);
	done(&x);
}

/* swapgs is inline at CPL 0 only: in user mode it still raises #GP(0), at the swapgs,
 * with RCX (its scratch register) as the guest left it. */
SNIPPET(u_swapgs, "mov $0x5a5a, %ecx\n"
		  "swapgs\n" DONE);

static void user_swapgs_faults(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_to_user_b, snip_to_user_e, snip_u_swapgs_b, snip_u_swapgs_e, 1);
	assert_int_equal(x.r.r15, 13);
	assert_int_equal(frame(&x)[0], 0);
	assert_int_equal(frame(&x)[1], U_CODE + 5);
	assert_int_equal(x.r.rcx, 0x5a5a);
	done(&x);
}

/* A kernel block an indirect call put in the branch table is not found from user mode:
 * the jump there from CPL 3 is a fetch #PF (U/S), not a run of kernel code. */
SNIPPET(k_call_then_user, "lea 1f(%rip), %r12\n"
			  "call *%r12\n"
			  TO_USER
			  "1: ret\n");
SNIPPET(u_jmp_kernel, "jmp *%r12\n" DONE);

static void user_jump_to_kernel_block_faults(void **state)
{
	struct run x;
	const uint64_t *f;
	uint64_t k2 = K_CODE + (size_t)(snip_k_call_then_user_e - snip_k_call_then_user_b) - 1;

	(void)state;
	run_code(&x, snip_k_call_then_user_b, snip_k_call_then_user_e, snip_u_jmp_kernel_b,
		 snip_u_jmp_kernel_e, 1);
	assert_int_equal(x.r.r15, 14);
	f = frame(&x);
	assert_int_equal(f[0], 0x15);                /* present, user, instruction fetch */
	assert_int_equal(f[1], k2);
	assert_int_equal(x.s.cr2, k2);
	done(&x);
}

SNIPPET(u_int, "mov $3, %ecx\n"
	       "int $0x80\n" DONE);

static void user_software_interrupt(void **state)
{
	struct run x;
	const uint64_t *f;

	(void)state;
	run_code(&x, snip_to_user_b, snip_to_user_e, snip_u_int_b, snip_u_int_e, 1);
	assert_int_equal(x.r.r15, 0x80);
	assert_int_equal(x.r.rsp, K_RSP0 - 5 * 8);   /* no error code */
	f = frame(&x);
	assert_int_equal(f[0], U_CODE + 7);          /* after the int */
	assert_int_equal(f[1], FLAT_SEL_UCODE);
	assert_true(f[2] & 0x3000);                  /* IOPL 3 as iretq set it */
	done(&x);
}

SNIPPET(u_done, "mov %cs, %eax\n"
		"mov %ss, %ecx\n" DONE);

static void iretq_to_user(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_to_user_b, snip_to_user_e, snip_u_done_b, snip_u_done_e, 1);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.s.cs.selector, FLAT_SEL_UCODE);
	assert_int_equal(x.s.cs.dpl, 3);
	assert_int_equal(x.r.rax & 0xffff, FLAT_SEL_UCODE);
	assert_int_equal(x.r.rcx & 0xffff, FLAT_SEL_UDATA);
	assert_int_equal(x.r.rsp, 0x9f0000);
	done(&x);
}

/* syscall from CPL 3 to LSTAR and sysret back; STAR as Linux sets it */
SNIPPET(k_sys,
	"mov $0xc0000081, %ecx\n"
	"mov $0x00230010, %edx\n"           /* sysret base 0x23, syscall CS 0x10 */
	"xor %eax, %eax\n"
	"wrmsr\n"
	"mov $0xc0000082, %ecx\n"
	"lea 10f(%rip), %rax\n"
	"mov %rax, %rdx\n"
	"shr $32, %rdx\n"
	"wrmsr\n"
	"mov $0xc0000084, %ecx\n"
	"mov $0x200, %eax\n"
	"xor %edx, %edx\n"
	"wrmsr\n"
	TO_USER
	/* LSTAR: count the call, then sysret to the user code */
	"10: inc %r12\n"
	"cmp $2, %r12\n"
	"je 11f\n"
	"sysretq\n"
	"11: mov %rcx, %r13\n"
	"mov %r11, %r14\n" DONE);
SNIPPET(u_sys, "mov $7, %r12\n"
	       "xor %r12d, %r12d\n"
	       "syscall\n"
	       "mov %cs, %r8d\n"
	       "syscall\n");

static void syscall_sysret(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_k_sys_b, snip_k_sys_e, snip_u_sys_b, snip_u_sys_e, 1);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r12, 2);
	assert_int_equal(x.r.r8 & 0xffff, FLAT_SEL_UCODE);      /* sysret returned to CPL 3 */
	assert_int_equal(x.r.r13, U_CODE + (size_t)(snip_u_sys_e - snip_u_sys_b));
	assert_true(x.r.r14 & 0x3000);                         /* user RFLAGS in R11 */
	assert_int_equal(x.s.cs.selector, FLAT_SEL_KCODE);
	done(&x);
}

/* ---- the virtual CPU's own state ---- */

SNIPPET(flags,
	"cli\n"
	"pushfq\n"
	"pop %rax\n"
	"sti\n"
	"pushfq\n"
	"pop %rcx\n"
	"push $0x202\n"
	"popfq\n"
	"pushfq\n"
	"pop %rdx\n"
	"cli\n" DONE);

static void interrupt_flag(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_flags_b, snip_flags_e, NULL, NULL, 1);
	assert_int_equal(x.r.rax & 0x200, 0);
	assert_int_equal(x.r.rcx & 0x200, 0x200);
	assert_int_equal(x.r.rdx & 0x200, 0x200);
	assert_int_equal(x.r.rflags & 0x200, 0);
	done(&x);
}

SNIPPET(cpuid,
	"mov $0x40000000, %eax\n"
	"cpuid\n"
	"mov %ebx, %r8d\n"
	"mov %ecx, %r9d\n"
	"mov $1, %eax\n"
	"cpuid\n"
	"mov %ecx, %r10d\n"
	"mov %ebx, %r11d\n"
	"mov $0xc0000080, %ecx\n"
	"rdmsr\n"
	"mov %eax, %r12d\n"
	"mov $0xc0000102, %ecx\n"
	"mov $0x1234, %eax\n"
	"mov $0xffffffff, %edx\n"
	"wrmsr\n"
	"swapgs\n"
	"mov $0xc0000101, %ecx\n"
	"rdmsr\n"
	"mov %eax, %r13d\n"
	"mov %edx, %r14d\n" DONE);

static void cpuid_and_msrs(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_cpuid_b, snip_cpuid_e, NULL, NULL, 1);
	assert_memory_equal(&x.r.r8, "hvla", 4);
	assert_memory_equal(&x.r.r9, "b-bt", 4);
	assert_true(x.r.r10 & (1u << 31));          /* hypervisor */
	assert_false(x.r.r10 & (1u << 28));         /* no AVX */
	assert_int_equal(x.r.r12 & 0xd01, 0xd01);   /* EFER as set */
	assert_int_equal(x.r.r13, 0x1234);          /* swapgs took KERNEL_GS_BASE */
	assert_int_equal(x.r.r14, 0xffffffff);
	assert_int_equal(x.s.gs.base, 0xffffffff00001234ull);
	done(&x);
}

SNIPPET(io,
	"in $0x80, %al\n"
	"mov %eax, %r8d\n"
	"mov $0x70, %dx\n"
	"inw %dx, %ax\n"
	"mov %eax, %r9d\n"
	"lea 64(%rbx), %rdi\n"
	"mov $3, %ecx\n"
	"rep insb\n"
	"mov %rdi, %r10\n"
	"sub %rbx, %r10\n" DONE);

static void port_io(void **state)
{
	struct run x;
	const uint8_t *d;

	(void)state;
	run_code(&x, snip_io_b, snip_io_e, NULL, NULL, 1);
	assert_int_equal(x.r.r8 & 0xff, 0xab);       /* flat_run answers 0xab */
	assert_int_equal(x.r.r9 & 0xffff, 0xabab);
	assert_int_equal(x.r.r10, 67);
	d = flat_ptr(&x.g, FLAT_DATA + 64);
	assert_int_equal(d[0], 0xab);
	assert_int_equal(d[2], 0xab);
	assert_int_equal(d[3], 0);
	done(&x);
}

/* A PTE cleared (the store traps: page tables are write-protected) and invlpg: the
 * next access faults. */
SNIPPET(invlpg,
	"movq $5, 0x12000\n"
	"mov 0x12000, %r8\n"
	"movq $0, 0xffffffff80005090\n"     /* the PTE of 0x12000 */
	"invlpg 0x12000\n"
	"mov $1, %r10\n"
	"mov 0x12000, %r11\n" DONE);

static void invlpg_drops_mapping(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_invlpg_b, snip_invlpg_e, NULL, NULL, 1);
	assert_int_equal(x.r.r8, 5);
	assert_int_equal(x.r.r10, 1);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(x.s.cr2, 0x12000);
	done(&x);
}

struct counters {
	uint64_t pt_traps, emulate, hot, smc, unsyncs, resyncs;
};

static void count(void *arg, const char *name, uint64_t value)
{
	struct counters *c = arg;

	if (!strcmp(name, "bt_pt_write_traps"))
		c->pt_traps = value;
	else if (!strcmp(name, "bt_callout_emulate"))
		c->emulate = value;
	else if (!strcmp(name, "bt_hot_retranslations"))
		c->hot = value;
	else if (!strcmp(name, "bt_smc_invalidations"))
		c->smc = value;
	else if (!strcmp(name, "bt_unsync_tables"))
		c->unsyncs = value;
	else if (!strcmp(name, "bt_resyncs"))
		c->resyncs = value;
}

/* Page-table writes trap, are emulated (the mapping changes at once), and an
 * instruction that keeps writing page tables becomes a call-out. */
SNIPPET(ptwrite,
	"mov 0x16000, %rax\n"               /* a walk: the PT page is watched now */
	"mov 0xffffffff800050b0, %rdx\n"    /* the PTE of 0x16000 */
	"mov $40, %ecx\n"
	"1: mov %rdx, 0xffffffff800050b0\n"  /* the same value, as ptemod stores */
	"dec %ecx\n"
	"jnz 1b\n"
	"movq $5, 0x16000\n"
	"mov 0x16000, %r8\n"
	"mov $0x17003, %esi\n"              /* 0x16000 -> the page of 0x17000 */
	"mov %rsi, 0xffffffff800050b0\n"
	"movq $9, 0x17000\n"
	"mov 0x16000, %r9\n" DONE);

static void page_table_writes(void **state)
{
	struct run x;
	struct counters c = { 0 };

	(void)state;
	run_code(&x, snip_ptwrite_b, snip_ptwrite_e, NULL, NULL, 1);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r8, 5);
	assert_int_equal(x.r.r9, 9);   /* at once: a table at two places stays in sync */
	assert_non_null(x.g.ops->stats);
	x.g.ops->stats(x.g.vcpu, count, &c);
	assert_true(c.pt_traps >= 1);
	assert_true(c.hot >= 1);
	assert_true(c.emulate >= 20);                /* the loop's store, as a call-out */
	done(&x);
}

SNIPPET(cr3,
	"movq $6, 0x13000\n"
	"movq $0, 0xffffffff80005098\n"     /* the PTE of 0x13000 */
	"mov %cr3, %rax\n"
	"mov %rax, %cr3\n"
	"mov $1, %r10\n"
	"mov 0x13000, %r11\n" DONE);

static void cr3_load_drops_mappings(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_cr3_b, snip_cr3_e, NULL, NULL, 1);
	assert_int_equal(x.r.r10, 1);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(x.s.cr2, 0x13000);
	done(&x);
}

SNIPPET(ad, "mov 0x14000, %rax\n"
	    "movq $1, 0x15000\n" DONE);

static void accessed_dirty_bits(void **state)
{
	struct run x;
	const uint64_t *pt;

	(void)state;
	run_code(&x, snip_ad_b, snip_ad_e, NULL, NULL, 1);
	pt = flat_ptr(&x.g, FLAT_PT);
	assert_int_equal(pt[0x14] & 0x60, 0x20);     /* accessed, clean */
	assert_int_equal(pt[0x15] & 0x60, 0x60);     /* accessed, dirty */
	done(&x);
}

SNIPPET(triple, "lidt 8(%rbx)\n"
		"ud2\n");

static void triple_fault_shuts_down(void **state)
{
	struct run x;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(flat_create(&x.g, &hv_bt_engine_ops), 0);
	memset(flat_ptr(&x.g, FLAT_DATA), 0, 64);    /* an empty IDT descriptor */
	flat_load(&x.g, FLAT_CODE, snip_triple_b, (size_t)(snip_triple_e - snip_triple_b));
	assert_int_equal(flat_start_kernel(&x.g, K_DATA), 0);
	assert_int_equal(flat_run(&x.g, &x.port), -1);
	assert_non_null(strstr(hv_err_msg(), "triple fault"));
	done(&x);
}

SNIPPET(hlt, "hlt\n");

static void halt_exits(void **state)
{
	struct run x;
	struct hv_exit e;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(flat_create(&x.g, &hv_bt_engine_ops), 0);
	flat_load(&x.g, FLAT_CODE, snip_hlt_b, (size_t)(snip_hlt_e - snip_hlt_b));
	assert_int_equal(flat_start_kernel(&x.g, 0), 0);
	assert_int_equal(x.g.ops->vcpu_run(x.g.vcpu, &e), 0);
	assert_int_equal(e.kind, HV_VMEXIT_HLT);
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	assert_int_equal(x.r.rip, K_CODE + 1);
	done(&x);
}

/* request_exit from another thread stops a guest spinning in a chained loop. */
SNIPPET(spin, "1: inc %rax\n"
	      "jmp 1b\n");

static void *kick(void *arg)
{
	struct flat_guest *g = arg;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	g->ops->request_exit(g->vcpu);
	return NULL;
}

static void request_exit_stops_loop(void **state)
{
	struct run x;
	struct hv_exit e;
	pthread_t t;

	(void)state;
	memset(&x, 0, sizeof(x));
	assert_int_equal(flat_create(&x.g, &hv_bt_engine_ops), 0);
	flat_load(&x.g, FLAT_CODE, snip_spin_b, (size_t)(snip_spin_e - snip_spin_b));
	assert_int_equal(flat_start_kernel(&x.g, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, kick, &x.g), 0);
	assert_int_equal(x.g.ops->vcpu_run(x.g.vcpu, &e), 0);
	pthread_join(t, NULL);
	assert_int_equal(e.kind, HV_VMEXIT_INTERRUPTED);
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	assert_true(x.r.rax > 1000);                 /* it did run, chained */
	assert_true(x.r.rip == K_CODE || x.r.rip == K_CODE + 3);
	/* and it goes on where it stopped */
	assert_int_equal(pthread_create(&t, NULL, kick, &x.g), 0);
	assert_int_equal(x.g.ops->vcpu_run(x.g.vcpu, &e), 0);
	pthread_join(t, NULL);
	assert_int_equal(e.kind, HV_VMEXIT_INTERRUPTED);
	done(&x);
}

/* ---- the window cache: one pair of windows per recent CR3 ---- */

/* Address space i has its own tables for [0, 2 MiB) at AS(i) (PML4, PDPT, PD, PT, then
 * a data page holding i + 1 that 0x12000 maps to); the kernel half is the flat
 * guest's. */
#define AS_BASE 0xc00000ull
#define AS(i)   (AS_BASE + (uint64_t)(i) * 0x10000)

static void make_space(struct flat_guest *g, unsigned i)
{
	static const uint64_t from[4] = { FLAT_PML4, FLAT_PDPT_LO, FLAT_PD, FLAT_PT };
	uint64_t base = AS(i);

	for (unsigned l = 0; l < 4; l++) {
		uint64_t *t = flat_ptr(g, base + 0x1000 * l);

		memcpy(t, flat_ptr(g, from[l]), 4096);
		if (l < 3)              /* entry 0 goes one level down, to its own table */
			t[0] = (base + 0x1000 * (l + 1)) | (t[0] & 0xfff);
		else            /* user-accessible: the shared layout maps only such pages
				 * in the user half (a supervisor one is emulated) */
			t[0x12] = (base + 0x4000) | (t[0x12] & 0xfff) | 4;
	}
	*(uint64_t *)flat_ptr(g, base + 0x4000) = i + 1;
}

/* run_code with address spaces 0 .. n - 1 made first. */
static void run_spaces(struct run *x, const uint8_t *kb, const uint8_t *ke, unsigned n)
{
	memset(x, 0, sizeof(*x));
	if (flat_create(&x->g, &hv_bt_engine_ops))
		fail_msg("creating the flat guest: %s", hv_err_msg());
	flat_load(&x->g, FLAT_CODE, kb, (size_t)(ke - kb));
	for (unsigned i = 0; i < n; i++)
		make_space(&x->g, i);
	assert_int_equal(flat_start_kernel(&x->g, 0), 0);
	if (flat_run(&x->g, &x->port))
		fail_msg("run: %s", hv_err_msg());
	assert_int_equal(x->g.ops->get_regs(x->g.vcpu, &x->r), 0);
	assert_int_equal(x->g.ops->get_sregs(x->g.vcpu, &x->s), 0);
}

struct wcache_counters {
	uint64_t hits, misses, evictions, fills;
};

static void wcache_count(void *arg, const char *name, uint64_t value)
{
	struct wcache_counters *c = arg;

	if (!strcmp(name, "bt_window_cache_hits"))
		c->hits = value;
	else if (!strcmp(name, "bt_window_cache_misses"))
		c->misses = value;
	else if (!strcmp(name, "bt_window_cache_evictions"))
		c->evictions = value;
	else if (!strcmp(name, "bt_shadow_fills"))
		c->fills = value;
}

static struct wcache_counters wcache_counters(struct run *x)
{
	struct wcache_counters c = { 0 };

	assert_non_null(x->g.ops->stats);
	x->g.ops->stats(x->g.vcpu, wcache_count, &c);
	return c;
}

#define LOAD_CR3(i) "mov $" #i " * 0x10000 + 0xc00000, %rax\nmov %rax, %cr3\n"

/* Two address spaces in turn: each keeps its mapping of 0x12000 (its own page), so
 * only the first touch in each fills; a CR3 load with the same value keeps it too. */
SNIPPET(wc_alternate,
	LOAD_CR3(0) "mov 0x12000, %r8\n"
	LOAD_CR3(1) "mov 0x12000, %r9\n"
	LOAD_CR3(0) "mov 0x12000, %r10\n"
	LOAD_CR3(1) "mov 0x12000, %r11\n"
	LOAD_CR3(0) "mov %rax, %cr3\n"
	"mov 0x12000, %r12\n" DONE);

static void window_cache_keeps_address_spaces(void **state)
{
	struct run x;
	struct wcache_counters c;

	(void)state;
	run_spaces(&x, snip_wc_alternate_b, snip_wc_alternate_e, 2);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r8, 1);
	assert_int_equal(x.r.r9, 2);
	assert_int_equal(x.r.r10, 1);
	assert_int_equal(x.r.r11, 2);
	assert_int_equal(x.r.r12, 1);
	c = wcache_counters(&x);
	assert_int_equal(c.misses, 2);
	assert_int_equal(c.hits, 4);
	assert_int_equal(c.evictions, 0);
	assert_int_equal(c.fills, 2);               /* no refill after a switch back */
	done(&x);
}

/* A PTE of address space 0 cleared while space 1 runs: space 0's cached mapping goes
 * (the store traps), space 1's stays. */
SNIPPET(wc_ptw,
	LOAD_CR3(0) "mov %rax, %rcx\n"
	"mov 0x12000, %r8\n"
	LOAD_CR3(1) "mov 0x12000, %r9\n"
	"movq $0, 0xffffffff80c03090\n"      /* space 0's PTE of 0x12000 */
	"mov 0x12000, %r10\n"
	"mov %rcx, %cr3\n"
	"mov $1, %r11\n"
	"mov 0x12000, %r12\n" DONE);

static void window_cache_pt_write_in_cached_space(void **state)
{
	struct run x;
	struct wcache_counters c;

	(void)state;
	run_spaces(&x, snip_wc_ptw_b, snip_wc_ptw_e, 2);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r8, 1);
	assert_int_equal(x.r.r9, 2);
	assert_int_equal(x.r.r10, 2);                /* space 1's own PTE is untouched */
	assert_int_equal(x.r.r11, 1);
	assert_int_equal(x.r.r15, 14);               /* space 0 faults now */
	assert_int_equal(x.s.cr2, 0x12000);
	c = wcache_counters(&x);
	assert_int_equal(c.hits, 1);                 /* it was a cached pair */
	done(&x);
}

/* invlpg of a kernel page reaches every cached pair: the PTE is changed behind the
 * engine's back (by the VMM), invlpg runs in space 1, and space 0 faults. */
SNIPPET(wc_invlpg,
	LOAD_CR3(0) "mov %rax, %rcx\n"
	"mov 0xffffffff80012000, %r8\n"
	LOAD_CR3(1) "mov 0xffffffff80012000, %r9\n"
	DONE
	"invlpg 0xffffffff80012000\n"
	"mov %rcx, %cr3\n"
	"mov $1, %r10\n"
	"mov 0xffffffff80012000, %r11\n" DONE);

static void window_cache_invlpg_in_cached_space(void **state)
{
	struct run x;
	struct wcache_counters c;

	(void)state;
	memset(&x, 0, sizeof(x));
	run_spaces(&x, snip_wc_invlpg_b, snip_wc_invlpg_e, 2);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r8, x.r.r9);
	flat_set_pte(&x.g, 0x12000, 0);              /* not a guest store: no trap */
	if (flat_run(&x.g, &x.port))
		fail_msg("run: %s", hv_err_msg());
	assert_int_equal(x.g.ops->get_regs(x.g.vcpu, &x.r), 0);
	assert_int_equal(x.g.ops->get_sregs(x.g.vcpu, &x.s), 0);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r10, 1);
	assert_int_equal(x.r.r15, 14);
	assert_int_equal(x.s.cr2, 0xffffffff80012000ull);
	c = wcache_counters(&x);
	assert_int_equal(c.hits, 1);
	done(&x);
}

/* A leaf table the guest keeps writing goes out of sync (unsync.c): its stores stop
 * trapping, and each change reaches the windows at the guest's next TLB flush, whether
 * an invlpg, a CR3 reload, or the load of its address space after another vCPU's or
 * address space's write; a cleared entry then faults. */
#define PTE0 "0xffffffff80c03090"        /* space 0's PTE of 0x12000, kernel alias */
SNIPPET(unsync,
	LOAD_CR3(0) "mov 0x12000, %r8\n"           /* a walk: the table is watched */
	"mov " PTE0 ", %rdx\n"
	"mov $40, %ecx\n"
	"1: mov %rdx, " PTE0 "\n"                  /* the same value, as ptemod stores */
	"dec %ecx\n"
	"jnz 1b\n"
	"mov %rdx, %rsi\n"
	"and $0xfff, %esi\n"
	"or $0xc14000, %rsi\n"                     /* 0x12000 -> space 1's data page */
	"mov %rsi, " PTE0 "\n"
	"invlpg 0x12000\n"
	"mov 0x12000, %r9\n"
	"mov %rdx, " PTE0 "\n"                     /* back, and a CR3 reload */
	"mov %cr3, %rax\n"
	"mov %rax, %cr3\n"
	"mov 0x12000, %r10\n"
	LOAD_CR3(1) "mov 0x12000, %r11\n"
	"mov %rsi, " PTE0 "\n"                     /* space 0's table, from space 1 */
	LOAD_CR3(0) "mov 0x12000, %r12\n"
	"movq $0, " PTE0 "\n"
	"invlpg 0x12000\n"
	"mov $1, %r13\n"
	"mov 0x12000, %r14\n" DONE);

static void unsync_leaf_table(void **state)
{
	struct run x;
	struct counters c = { 0 };

	(void)state;
	run_spaces(&x, snip_unsync_b, snip_unsync_e, 2);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r8, 1);
	assert_int_equal(x.r.r9, 2);                 /* after invlpg */
	assert_int_equal(x.r.r10, 1);                /* after the CR3 reload */
	assert_int_equal(x.r.r11, 2);
	assert_int_equal(x.r.r12, 2);                /* changed while space 1 ran */
	assert_int_equal(x.r.r13, 1);
	assert_int_equal(x.r.r15, 14);               /* the cleared entry faults */
	assert_int_equal(x.s.cr2, 0x12000);
	x.g.ops->stats(x.g.vcpu, count, &c);
	assert_true(c.unsyncs >= 1);
	assert_true(c.resyncs >= 4);
	assert_true(c.pt_traps < 10);                /* the loop's stores stopped trapping */
	done(&x);
}

/* More address spaces than the cache holds: the least recently used pair is taken
 * (and emptied) for a new one; an evicted space comes back right. */
SNIPPET(wc_evict,
	LOAD_CR3(0) "mov 0x12000, %r8\n"
	LOAD_CR3(1) "mov 0x12000, %r9\n"
	LOAD_CR3(2) "mov 0x12000, %r10\n"
	LOAD_CR3(3) "mov 0x12000, %r11\n"
	LOAD_CR3(4) "mov 0x12000, %r12\n"
	LOAD_CR3(5) "mov 0x12000, %r13\n"
	LOAD_CR3(0) "mov 0x12000, %r14\n"
	LOAD_CR3(5) "mov 0x12000, %rdx\n" DONE);

static void window_cache_evicts_lru(void **state)
{
	struct run x;
	struct wcache_counters c;

	(void)state;
	run_spaces(&x, snip_wc_evict_b, snip_wc_evict_e, 6);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r8, 1);
	assert_int_equal(x.r.r9, 2);
	assert_int_equal(x.r.r10, 3);
	assert_int_equal(x.r.r11, 4);
	assert_int_equal(x.r.r12, 5);
	assert_int_equal(x.r.r13, 6);
	assert_int_equal(x.r.r14, 1);                /* space 0 again, after its eviction */
	assert_int_equal(x.r.rdx, 6);
	c = wcache_counters(&x);
	assert_int_equal(c.misses, 7);               /* 6 spaces > the cache's pairs */
	assert_true(c.evictions >= 2);
	assert_int_equal(c.hits, 1);                 /* space 5, the most recent */
	assert_int_equal(c.fills, 7);
	done(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(divide_error),
		cmocka_unit_test(divide_error_checked_forms),
		cmocka_unit_test(invalid_opcode),
		cmocka_unit_test(page_fault_not_present),
		cmocka_unit_test(page_fault_read_only),
		cmocka_unit_test(page_fault_crossing),
		cmocka_unit_test(address_outside_layout),
		cmocka_unit_test(user_page_fault_switches_stack),
		cmocka_unit_test(user_privileged_instruction),
		cmocka_unit_test(user_swapgs_faults),
		cmocka_unit_test(user_jump_to_kernel_block_faults),
		cmocka_unit_test(user_software_interrupt),
		cmocka_unit_test(iretq_to_user),
		cmocka_unit_test(syscall_sysret),
		cmocka_unit_test(interrupt_flag),
		cmocka_unit_test(cpuid_and_msrs),
		cmocka_unit_test(port_io),
		cmocka_unit_test(invlpg_drops_mapping),
		cmocka_unit_test(page_table_writes),
		cmocka_unit_test(cr3_load_drops_mappings),
		cmocka_unit_test(accessed_dirty_bits),
		cmocka_unit_test(triple_fault_shuts_down),
		cmocka_unit_test(halt_exits),
		cmocka_unit_test(request_exit_stops_loop),
		cmocka_unit_test(window_cache_keeps_address_spaces),
		cmocka_unit_test(window_cache_pt_write_in_cached_space),
		cmocka_unit_test(window_cache_invlpg_in_cached_space),
		cmocka_unit_test(window_cache_evicts_lru),
		cmocka_unit_test(unsync_leaf_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
