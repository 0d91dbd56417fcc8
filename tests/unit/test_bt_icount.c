/* The binary translator's counting mode (engines/bt/icount.c): off until the guest's
 * first rdpmc of a guest instruction counter (abi.h), then exact counts of the
 * instructions retired, in the kernel half and the user half, with the guest's
 * arithmetic flags kept across the counting code at block entries; a block left at a
 * fault gives back what it did not run; any other rdpmc index raises #GP. Guest
 * programs run on the flat test guest (engines/bt/flatguest.h); no /dev/kvm. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../../hv-minimal/engines/bt/flatguest.h"
#include "hvlab/abi.h"
#include "hvlab/err.h"

extern const struct hv_engine_ops hv_bt_engine_ops;

#define K_CODE  (HV_KERNBASE + FLAT_CODE)

#define SNIPPET(name, body)                                                    \
	extern const uint8_t snip_##name##_b[], snip_##name##_e[];             \
	__asm__(".pushsection .rodata\n"                                        \
		"snip_" #name "_b:\n" body "\nsnip_" #name "_e:\n"              \
		".popsection\n")

#define DONE "out %al, $0x99\n"
#define READ_KERNEL "mov $0x48560000, %ecx\nrdpmc\n"
#define READ_USER   "mov $0x48560001, %ecx\nrdpmc\n"

struct run {
	struct flat_guest g;
	struct hv_regs r;
	uint16_t port;
};

/* Runs kernel code from K_CODE at CPL 0 until a port write to 0x98 or 0x99. */
static void run_code(struct run *x, const uint8_t *b, const uint8_t *e)
{
	memset(x, 0, sizeof(*x));
	if (flat_create(&x->g, &hv_bt_engine_ops))
		fail_msg("creating the flat guest: %s", hv_err_msg());
	flat_load(&x->g, FLAT_CODE, b, (size_t)(e - b));
	assert_int_equal(flat_start_kernel(&x->g, 0), 0);
	if (flat_run(&x->g, &x->port))
		fail_msg("run: %s", hv_err_msg());
	assert_int_equal(x->g.ops->get_regs(x->g.vcpu, &x->r), 0);
}

struct counters {
	int seen;
	uint64_t kernel, user;
};

static void take(void *arg, const char *name, uint64_t value)
{
	struct counters *c = arg;

	if (!strcmp(name, "bt_icount_kernel_insns")) {
		c->kernel = value;
		c->seen++;
	} else if (!strcmp(name, "bt_icount_user_insns")) {
		c->user = value;
		c->seen++;
	}
}

static struct counters counters_of(struct run *x)
{
	struct counters c = { 0 };

	x->g.ops->stats(x->g.vcpu, take, &c);
	return c;
}

/* From the first read on: 8 instructions retire before the second read, with flags
 * set before a block boundary and tested after it. */
SNIPPET(exact, READ_KERNEL
	    "mov %eax, %r8d\n"          /* 1: the first read (0) */
	    "stc\n"                      /* 2 */
	    "mov $-1, %eax\n"           /* 3 */
	    "add $1, %eax\n"            /* 4: CF = 1, ZF = 1 */
	    "jmp 1f\n"                   /* 5: the block ends; the next one counts itself */
	    "1: setc %r10b\n"            /* 6 */
	    "setz %r11b\n"               /* 7 */
	    "jmp 2f\n"                   /* 8 */
	    "2: mov $0x48560000, %ecx\n" /* 9 */
	    "rdpmc\n"                    /* reads 9: what retired before it */
	    "mov %eax, %r12d\n"
	    READ_USER
	    "mov %eax, %r13d\n" DONE);

static void counts_exactly_and_keeps_flags(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_exact_b, snip_exact_e);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.r8, 0);
	assert_int_equal(x.r.r12, 9);
	assert_int_equal(x.r.r13, 0);              /* nothing ran in the user half */
	assert_int_equal(x.r.r10 & 0xff, 1);       /* CF kept across the count */
	assert_int_equal(x.r.r11 & 0xff, 1);       /* ZF kept */
	flat_destroy(&x.g);
}

/* A division by zero in the middle of a block: the block counted six instructions at
 * its entry and gives back the four that did not run (the division and what follows);
 * the IDT stub adds its two (mov, out). */
SNIPPET(fault, READ_KERNEL
	    "xor %ecx, %ecx\n"
	    "mov $5, %eax\n"
	    "div %rcx\n"
	    "nop\n"
	    "nop\n" DONE);

static void fault_gives_back_what_did_not_run(void **state)
{
	struct run x;
	struct counters c;

	(void)state;
	run_code(&x, snip_fault_b, snip_fault_e);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r15, 0);              /* #DE */
	c = counters_of(&x);
	assert_int_equal(c.seen, 2);
	assert_int_equal(c.kernel, 4);
	assert_int_equal(c.user, 0);
	flat_destroy(&x.g);
}

SNIPPET(other, "mov $0x40000000, %ecx\n"
	    "rdpmc\n" DONE);

static void other_counters_raise_gp(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_other_b, snip_other_e);
	assert_int_equal(x.port, FLAT_PORT_TRAP);
	assert_int_equal(x.r.r15, 13);
	assert_int_equal(counters_of(&x).seen, 0);  /* and counting stayed off */
	flat_destroy(&x.g);
}

SNIPPET(plain, "mov $1, %eax\n"
	    "jmp 1f\n"
	    "1: add $2, %eax\n" DONE);

static void off_by_default(void **state)
{
	struct run x;

	(void)state;
	run_code(&x, snip_plain_b, snip_plain_e);
	assert_int_equal(x.port, FLAT_PORT_DONE);
	assert_int_equal(x.r.rax & 0xff, 3);
	assert_int_equal(counters_of(&x).seen, 0);
	flat_destroy(&x.g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_exactly_and_keeps_flags),
		cmocka_unit_test(fault_gives_back_what_did_not_run),
		cmocka_unit_test(other_counters_raise_gp),
		cmocka_unit_test(off_by_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
