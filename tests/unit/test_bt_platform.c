/* The binary translator's local platform (what KVM's in-kernel irqchip provides under
 * the hw engine): the local APIC's registers, its periodic timer delivering interrupts
 * through the guest IDT to a halted vCPU that sleeps meanwhile, interrupts injected by
 * the VMM from another thread, EOI, the legacy PIC mask ports, and device memory that
 * is neither RAM nor the LAPIC becoming MMIO exits to the VMM. No /dev/kvm needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>


#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../../hv-minimal/engines/bt/flatguest.h"
#include "hvlab/abi.h"
#include "hvlab/err.h"

extern const struct hv_engine_ops hv_bt_engine_ops;

#define K_CODE  (HV_KERNBASE + FLAT_CODE)
#define K_DATA  (HV_KERNBASE + FLAT_DATA)
#define K_STACK (HV_KERNBASE + FLAT_STACK)

#define SNIPPET(name, body)                                                    \
	extern const uint8_t snip_##name##_b[], snip_##name##_e[];             \
	__asm__(".pushsection .rodata\n"                                        \
		"snip_" #name "_b:\n" body "\nsnip_" #name "_e:\n"              \
		".popsection\n")

/* Installs IDT vector VEC -> label H (an interrupt gate, kernel code selector):
 * %rax, %rdx and %rdi are used. */
#define SET_GATE(VEC, H)                                                       \
	"lea " H "(%rip), %rax\n"                                               \
	"mov $0xffffffff80007000 + 16 * " #VEC ", %rdi\n"                       \
	"mov %eax, %edx\n"                                                      \
	"and $0xffff, %edx\n"                                                   \
	"or $0x100000, %edx\n"                    /* selector 0x10 << 16 */     \
	"mov %edx, (%rdi)\n"                                                    \
	"mov %rax, %rdx\n"                                                      \
	"shr $16, %rdx\n"                                                       \
	"shl $16, %edx\n"                                                       \
	"or $0x8e00, %edx\n"                      /* present interrupt gate */  \
	"mov %edx, 4(%rdi)\n"                                                   \
	"shr $32, %rax\n"                                                       \
	"mov %eax, 8(%rdi)\n"

/* The LAPIC timer, periodic every 100000 counts at divide 16 (1.6 ms at the engine's
 * 1 GHz bus): three interrupts, each taken while the vCPU is halted. */
SNIPPET(timer,
	SET_GATE(0x40, "10f")
	"mov $0xfee00000, %rbx\n"
	"mov 0x20(%rbx), %r12d\n"           /* ID */
	"mov 0x30(%rbx), %r13d\n"           /* version */
	"movl $0x1ff, 0xf0(%rbx)\n"         /* SVR: enabled */
	"movl $3, 0x3e0(%rbx)\n"            /* divide by 16 */
	"movl $0x20040, 0x320(%rbx)\n"      /* periodic, vector 0x40 */
	"movl $100000, 0x380(%rbx)\n"
	"mov 0x390(%rbx), %r14d\n"          /* the count runs */
	"xor %r8d, %r8d\n"
	"sti\n"
	"1: hlt\n"
	"cmp $3, %r8d\n"
	"jb 1b\n"
	"cli\n"
	"movl $0x10000, 0x320(%rbx)\n"      /* masked */
	"out %al, $0x99\n"
	"10: inc %r8d\n"
	"movl $0, 0xb0(%rbx)\n"             /* EOI */
	"iretq\n");

struct run {
	struct flat_guest g;
	struct hv_regs r;
	uint16_t port;
};

static void start(struct run *x, const uint8_t *b, const uint8_t *e)
{
	memset(x, 0, sizeof(*x));
	if (flat_create(&x->g, &hv_bt_engine_ops))
		fail_msg("creating the flat guest: %s", hv_err_msg());
	flat_load(&x->g, FLAT_CODE, b, (size_t)(e - b));
	assert_int_equal(flat_start_kernel(&x->g, K_DATA), 0);
}

static double cpu_seconds(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 +
	       (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void timer_interrupts(void **state)
{
	struct run x;
	double t0, c0, wall, cpu;

	(void)state;
	start(&x, snip_timer_b, snip_timer_e);
	t0 = now();
	c0 = cpu_seconds();
	if (flat_run(&x.g, &x.port))
		fail_msg("run: %s", hv_err_msg());
	wall = now() - t0;
	cpu = cpu_seconds() - c0;
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r8, 3);
	assert_int_equal(x.r.r12, 0);                /* APIC ID of vCPU 0 */
	assert_int_equal(x.r.r13 & 0xff, 0x14);
	assert_true(x.r.r14 > 0 && x.r.r14 <= 100000);
	/* three periods of 1.6 ms, slept through rather than spun */
	assert_true(wall >= 3 * 0.0016 * 0.9);
	print_message("3 timer periods: %.2f ms wall, %.2f ms CPU\n", wall * 1e3, cpu * 1e3);
	assert_true(cpu < wall + 0.05);
	flat_destroy(&x.g);
}

/* An interrupt injected by the VMM wakes a halted vCPU. */
SNIPPET(inject,
	SET_GATE(0x41, "10f")
	"mov $0xfee00000, %rbx\n"
	"movl $0x1ff, 0xf0(%rbx)\n"
	"xor %r8d, %r8d\n"
	"sti\n"
	"1: hlt\n"
	"test %r8d, %r8d\n"
	"jz 1b\n"
	"out %al, $0x99\n"
	"10: inc %r8d\n"
	"mov %rsp, %r9\n"
	"movl $0, 0xb0(%rbx)\n"
	"iretq\n");

static void *injector(void *arg)
{
	struct flat_guest *g = arg;
	struct timespec ts = { 0, 30 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	g->ops->inject_irq(g->vcpu, 0x41);
	return NULL;
}

static void injected_interrupt(void **state)
{
	struct run x;
	pthread_t t;

	(void)state;
	start(&x, snip_inject_b, snip_inject_e);
	assert_int_equal(pthread_create(&t, NULL, injector, &x.g), 0);
	if (flat_run(&x.g, &x.port))
		fail_msg("run: %s", hv_err_msg());
	pthread_join(t, NULL);
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	assert_int_equal(x.r.r8, 1);
	assert_int_equal(x.r.r9, K_STACK - 40);      /* a CPL0 frame: 5 words, no error */
	assert_int_equal(x.g.ops->inject_irq(x.g.vcpu, 3), -1);   /* reserved vector */
	flat_destroy(&x.g);
}

/* Device memory other than the LAPIC: each access is an MMIO exit to the VMM (which
 * flat_run answers with 0xab bytes); port I/O to the PIC masks stays in the engine. */
SNIPPET(mmio,
	"mov $0xfe000010, %rsi\n"
	"mov (%rsi), %eax\n"
	"movzbl 4(%rsi), %ecx\n"
	"movl $5, 8(%rsi)\n"
	"movq %rax, 16(%rsi)\n"
	"mov $0x5a, %al\n"
	"out %al, $0x21\n"
	"xor %eax, %eax\n"
	"in $0x21, %al\n"
	"mov %eax, %edx\n"
	"mov $1, %eax\n"
	"out %al, $0x99\n");

static void mmio_exits(void **state)
{
	struct run x;

	(void)state;
	flat_mmio_writes = 0;
	start(&x, snip_mmio_b, snip_mmio_e);
	if (flat_run(&x.g, &x.port))
		fail_msg("run: %s", hv_err_msg());
	x.g.ops->get_regs(x.g.vcpu, &x.r);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.rcx, 0xab);
	assert_int_equal(x.r.rdx, 0x5a);
	assert_int_equal(flat_mmio_writes, 2);
	flat_destroy(&x.g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(timer_interrupts),
		cmocka_unit_test(injected_interrupt),
		cmocka_unit_test(mmio_exits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
