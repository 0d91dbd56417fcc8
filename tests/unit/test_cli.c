/* `hvm run` options: every option parsed in both spellings, defaults, sizes, the guest
 * command line; unknown and malformed options refused with the option named. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/blk.h"
#include "hvlab/hvm_cli.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void expect_refused(int argc, char **argv, const char *words)
{
	struct hvm_options o;

	assert_int_equal(hvm_cli_parse_run(argc, argv, &o), -1);
	if (!strstr(hv_err_msg(), words))
		fail_msg("message '%s' does not name '%s'", hv_err_msg(), words);
}

static void all_options(void **state)
{
	char *argv[] = { "run", "--engine", "hw", "--workload", "nanobench:fast,x=1",
			 "--vcpus", "4", "--mem=1G", "--timeout", "2.5", "--out", "/tmp/o",
			 "--kernel=/k.elf", "--cmdline", "debug=1 quiet", "--reps", "9",
			 "--max-records", "250" };
	struct hvm_options o;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(argv), argv, &o), 0);
	assert_string_equal(o.engine, "hw");
	assert_string_equal(o.workload, "nanobench");
	assert_string_equal(o.wargs, "fast,x=1");
	assert_int_equal(o.vcpus, 4);
	assert_true(o.mem_bytes == 1ull << 30);
	assert_true(o.timeout_s == 2.5);
	assert_string_equal(o.out_dir, "/tmp/o");
	assert_string_equal(o.kernel, "/k.elf");
	assert_string_equal(o.cmdline, "debug=1 quiet");
	assert_int_equal(o.reps, 9);
	assert_true(o.reps_given);
	assert_int_equal(o.max_records, 250);
	assert_false(o.help);
}

static void defaults(void **state)
{
	char *argv[] = { "run", "--workload", "nanobench" };
	struct hvm_options o;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(argv), argv, &o), 0);
	assert_string_equal(o.engine, "hw");
	assert_string_equal(o.wargs, "");
	assert_int_equal(o.vcpus, 1);
	assert_true(o.mem_bytes == HVM_MEM_DEFAULT);
	assert_true(o.timeout_s == HVM_TIMEOUT_DEFAULT);
	assert_null(o.out_dir);
	assert_null(o.kernel);
	assert_null(o.cmdline);
	assert_int_equal(o.reps, HVM_REPS_DEFAULT);
	assert_false(o.reps_given);
	assert_int_equal(o.max_records, 0);     /* the recorder's own default */
}

static void help(void **state)
{
	char *argv1[] = { "run", "--help" };
	char *argv2[] = { "run", "-h", "--vcpus", "2" };
	struct hvm_options o;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(argv1), argv1, &o), 0);
	assert_true(o.help);
	assert_int_equal(hvm_cli_parse_run(ARGC(argv2), argv2, &o), 0);
	assert_true(o.help);
}

static void unknown_option(void **state)
{
	char *a1[] = { "run", "--workload", "x", "--frobnicate" };
	char *a2[] = { "run", "--workload", "x", "--memory=1G" };
	char *a3[] = { "run", "--workload", "x", "stray" };
	char *a4[] = { "run", "--workload", "x", "-v" };
	char *a5[] = { "run", "--workload", "x", "--" };

	(void)state;
	expect_refused(ARGC(a1), a1, "--frobnicate");
	expect_refused(ARGC(a2), a2, "--memory");
	expect_refused(ARGC(a3), a3, "stray");
	expect_refused(ARGC(a4), a4, "-v");
	expect_refused(ARGC(a5), a5, "--");
}

static void missing_values(void **state)
{
	char *a1[] = { "run", "--workload", "x", "--mem" };
	char *a2[] = { "run", "--workload=" };
	char *a3[] = { "run", "--vcpus", "2" };
	char *a4[] = { "run", "--workload", "x", "--help=yes" };

	(void)state;
	expect_refused(ARGC(a1), a1, "--mem");
	expect_refused(ARGC(a2), a2, "--workload");
	expect_refused(ARGC(a3), a3, "--workload is required");
	expect_refused(ARGC(a4), a4, "--help");
}

static void malformed_numbers(void **state)
{
	char *cases[][2] = {
		{ "--vcpus", "0" }, { "--vcpus", "17" }, { "--vcpus", "two" }, { "--vcpus", "2x" },
		{ "--vcpus", "-1" }, { "--mem", "12X" }, { "--mem", "8M" }, { "--mem", "3G" },
		{ "--mem", "65M" }, { "--mem", "M" }, { "--mem", "99999999999999999999G" },
		{ "--timeout", "0" }, { "--timeout", "-3" }, { "--timeout", "abc" },
		{ "--timeout", "nan" }, { "--timeout", "1e9" }, { "--reps", "0" },
		{ "--reps", "1001" }, { "--max-records", "0" }, { "--max-records", "1e5" },
		{ "--max-records", "100000001" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = { "run", "--workload", "x", cases[i][0], cases[i][1] };

		expect_refused(ARGC(argv), argv, cases[i][0]);
	}
}

static void malformed_strings(void **state)
{
	char *a1[] = { "run", "--workload", ":args" };
	char *a2[] = { "run", "--workload", "a b" };
	char *a3[] = { "run", "--workload", "nanobench:" };
	char *a4[] = { "run", "--workload", "nb:a b" };
	char *a5[] = { "run", "--workload", "x", "--cmdline", "a\nb" };
	char *a6[] = { "run", "--workload", "x", "--engine", "" };
	char *a7[] = { "run", "--workload", "x", "--workload", "y" };
	char *a8[] = { "run", "--workload", "abcdefghijklmnopqrstuvwxyz0123456789" };

	(void)state;
	expect_refused(ARGC(a1), a1, "--workload");
	expect_refused(ARGC(a2), a2, "--workload");
	expect_refused(ARGC(a3), a3, "--workload");
	expect_refused(ARGC(a4), a4, "--workload");
	expect_refused(ARGC(a5), a5, "--cmdline");
	expect_refused(ARGC(a6), a6, "--engine");
	expect_refused(ARGC(a7), a7, "twice");
	expect_refused(ARGC(a8), a8, "--workload");
}

static void sizes(void **state)
{
	uint64_t b;

	(void)state;
	assert_int_equal(hvm_parse_size("64M", &b), 0);
	assert_true(b == 64ull << 20);
	assert_int_equal(hvm_parse_size("1G", &b), 0);
	assert_true(b == 1ull << 30);
	assert_int_equal(hvm_parse_size("512MiB", &b), 0);
	assert_true(b == 512ull << 20);
	assert_int_equal(hvm_parse_size("16777216", &b), 0);
	assert_true(b == 16777216);
	assert_int_equal(hvm_parse_size("4k", &b), 0);
	assert_true(b == 4096);
	assert_int_equal(hvm_parse_size("2GB", &b), 0);
	assert_true(b == 2ull << 30);
	assert_int_equal(hvm_parse_size("1T", &b), -1);
	assert_int_equal(hvm_parse_size("", &b), -1);
	assert_int_equal(hvm_parse_size(" 1M", &b), -1);
	assert_int_equal(hvm_parse_size("17179869184G", &b), -1);      /* 2^34 GiB overflows */
}

static void mem_limits(void **state)
{
	char *lo[] = { "run", "--workload", "x", "--mem", "16M" };
	char *hi[] = { "run", "--workload", "x", "--mem", "2G" };
	struct hvm_options o;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(lo), lo, &o), 0);
	assert_true(o.mem_bytes == HVM_MEM_MIN);
	assert_int_equal(hvm_cli_parse_run(ARGC(hi), hi, &o), 0);
	assert_true(o.mem_bytes == HVM_MEM_MAX);
}

static void guest_cmdline(void **state)
{
	char *a1[] = { "run", "--workload", "nanobench" };
	char *a2[] = { "run", "--workload", "nanobench:quick", "--cmdline", "debug" };
	char *a3[] = { "run", "--workload", "nanobench", "--reps", "3" };
	struct hvm_options o;
	char buf[HV_CMDLINE_MAX];

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(a1), a1, &o), 0);
	assert_int_equal(hvm_build_cmdline(&o, "syscall", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "workload=nanobench sysgate=syscall");
	assert_int_equal(hvm_cli_parse_run(ARGC(a2), a2, &o), 0);
	assert_int_equal(hvm_build_cmdline(&o, "ud2", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "workload=nanobench wargs=quick sysgate=ud2 debug");
	assert_int_equal(hvm_cli_parse_run(ARGC(a3), a3, &o), 0);
	assert_int_equal(hvm_build_cmdline(&o, "ud2", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "workload=nanobench sysgate=ud2");     /* reps: host only */
	/* Too long for the boot page: refused, not cut. */
	assert_int_equal(hvm_build_cmdline(&o, "ud2", buf, 16), -1);
}

static void pin_lists(void **state)
{
	char *a1[] = { "run", "--workload", "x", "--pin", "0" };
	char *a2[] = { "run", "--workload", "x", "--pin=0-3,2,8" };
	struct hvm_options o;
	unsigned n;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(a1), a1, &o), 0);
	assert_string_equal(o.pin, "0");
	assert_int_equal(o.pin_ncpus, 1);
	assert_int_equal(hvm_cli_parse_run(ARGC(a2), a2, &o), 0);
	assert_int_equal(o.pin_ncpus, 5);          /* 0,1,2,3,8: the repeated 2 counted once */
	assert_int_equal(hvm_parse_cpulist("1,0", &n), 0);
	assert_int_equal(n, 2);
	char *defaults[] = { "run", "--workload", "x" };
	assert_int_equal(hvm_cli_parse_run(ARGC(defaults), defaults, &o), 0);
	assert_null(o.pin);

	const char *bad[] = { "x", "0-", "-1", "1-0", "0,", ",0", "0,,1", "0 1", "1-2-3", "0x1",
			      "4096", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run", "--workload", "x", "--pin", (char *)bad[i] };

		expect_refused(ARGC(argv), argv, "--pin");
		if (!strstr(hv_err_msg(), bad[i]))
			fail_msg("message '%s' does not name the list '%s'", hv_err_msg(), bad[i]);
	}
}

/* The block device's options: a file, a size in 512-byte units, O_DIRECT; and the I/O
 * path a guest command line selects (the last iopath= or io= word). */
static void disk_options(void **state)
{
	char *a1[] = { "run", "--workload", "io", "--disk", "/tmp/d.img", "--disk-size=32M",
		       "--disk-direct" };
	char *none[] = { "run", "--workload", "io" };
	struct hvm_options o;
	enum hv_blk_path p;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(a1), a1, &o), 0);
	assert_string_equal(o.disk, "/tmp/d.img");
	assert_int_equal(o.disk_size, 32ull << 20);
	assert_int_equal(o.disk_direct, 1);
	assert_int_equal(hvm_cli_parse_run(ARGC(none), none, &o), 0);
	assert_null(o.disk);
	assert_int_equal(o.disk_size, 0);
	assert_int_equal(o.disk_direct, 0);
	const char *bad[] = { "0", "100", "1Q" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run", "--workload", "io", "--disk-size", (char *)bad[i] };

		expect_refused(ARGC(argv), argv, "--disk-size");
	}

	assert_int_equal(hv_blk_path_of_cmdline("workload=io sysgate=ud2", &p), 0);
	assert_int_equal(p, HV_BLK_EMUL);
	assert_int_equal(hv_blk_path_of_cmdline("iopath=virtio x=1 io=split", &p), 0);
	assert_int_equal(p, HV_BLK_SPLIT);
	assert_int_equal(hv_blk_path_of_cmdline("io=poll", &p), 0);
	assert_string_equal(hv_blk_path_name(p), "poll");
	assert_int_equal(hv_blk_path_of_cmdline("io=virtiox", &p), -1);
	assert_non_null(strstr(hv_err_msg(), "virtiox"));
	assert_int_equal(hv_blk_path_of_cmdline("myio=virtio", &p), 0);   /* not the word */
	assert_int_equal(p, HV_BLK_EMUL);
}

/* --spin-threshold: the count the VMM advertises in CPUID, 1 to 2^32-1. */
static void spin_threshold(void **state)
{
	char *a1[] = { "run", "--workload", "locks", "--spin-threshold", "4294967295" };
	char *none[] = { "run", "--workload", "locks" };
	struct hvm_options o;

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(a1), a1, &o), 0);
	assert_int_equal(o.spin_threshold, 4294967295u);
	assert_int_equal(hvm_cli_parse_run(ARGC(none), none, &o), 0);
	assert_int_equal(o.spin_threshold, 0);
	const char *bad[] = { "0", "4294967296", "-1", "1k", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = { "run", "--workload", "locks", "--spin-threshold", (char *)bad[i] };

		expect_refused(ARGC(argv), argv, "--spin-threshold");
	}
}

/* --bt-gs and its environment default: the three words, anything else refused by name. */
static void bt_gs(void **state)
{
	char *ok[] = { "run", "--workload", "hello", "--bt-gs=arch_prctl" };
	char *bad[] = { "run", "--workload", "hello", "--bt-gs", "fast" };
	char *none[] = { "run", "--workload", "hello" };
	struct hvm_options o;

	(void)state;
	unsetenv("HVLAB_BT_GS");
	assert_int_equal(hvm_cli_parse_run(ARGC(ok), ok, &o), 0);
	assert_string_equal(o.bt_gs, "arch_prctl");
	assert_int_equal(hvm_cli_parse_run(ARGC(none), none, &o), 0);
	assert_null(o.bt_gs);
	expect_refused(ARGC(bad), bad, "--bt-gs");
	setenv("HVLAB_BT_GS", "wrgsbase", 1);
	assert_int_equal(hvm_cli_parse_run(ARGC(none), none, &o), 0);
	setenv("HVLAB_BT_GS", "sometimes", 1);
	expect_refused(ARGC(none), none, "HVLAB_BT_GS");
	/* the option wins over the environment */
	assert_int_equal(hvm_cli_parse_run(ARGC(ok), ok, &o), 0);
	unsetenv("HVLAB_BT_GS");
}

static void host_words(void **state)
{
	char *a[] = { "run", "--workload", "compute:size=1M", "--cmdline", "kmem=kernel" };
	struct hvm_options o;
	char buf[HV_CMDLINE_MAX];

	(void)state;
	assert_int_equal(hvm_cli_parse_run(ARGC(a), a, &o), 0);
	/* The VMM's choice first, the user's after it (the guest takes the last). */
	assert_int_equal(hvm_build_cmdline_host(&o, "ud2", "kmem=user", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "workload=compute wargs=size=1M sysgate=ud2 kmem=user kmem=kernel");
	assert_int_equal(hvm_build_cmdline_host(&o, "ud2", NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "workload=compute wargs=size=1M sysgate=ud2 kmem=kernel");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pin_lists),
		cmocka_unit_test(host_words),
		cmocka_unit_test(bt_gs),
		cmocka_unit_test(all_options),
		cmocka_unit_test(defaults),
		cmocka_unit_test(help),
		cmocka_unit_test(unknown_option),
		cmocka_unit_test(missing_values),
		cmocka_unit_test(malformed_numbers),
		cmocka_unit_test(malformed_strings),
		cmocka_unit_test(sizes),
		cmocka_unit_test(mem_limits),
		cmocka_unit_test(guest_cmdline),
		cmocka_unit_test(disk_options),
		cmocka_unit_test(spin_threshold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
