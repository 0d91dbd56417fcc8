/* KVM detection against fixture sysfs trees built here, and the context block, TSC,
 * pinning and PAPI facts collected on this host. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvlab/context.h"
#include "hvlab/err.h"
#include "hvlab/json.h"
#include "hvlab/kvminfo.h"
#include "hvlab/papi.h"
#include "hvlab/pin.h"
#include "hvlab/tsc.h"

/* ---- fixture trees ---- */

struct fixture {
	char root[64];           /* temp dir */
	char sysfs[128];         /* <root>/sys */
	char dev_ok[128];        /* a file that opens read-write, standing in for /dev/kvm */
	char dev_missing[128];
};

static void mkdirs(const char *path)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(buf, 0755);
			*s = '/';
		}
	mkdir(buf, 0755);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* <sysfs>/module/<mod>/parameters[/<param> = value] */
static void add_module(struct fixture *fx, const char *mod, const char *param,
		       const char *value)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/module/%s/parameters", fx->sysfs, mod);
	mkdirs(path);
	if (param) {
		snprintf(path, sizeof(path), "%s/module/%s/parameters/%s", fx->sysfs, mod, param);
		write_file(path, value);
	}
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d))) {
			char sub[1024];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int fixture_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	snprintf(fx->root, sizeof(fx->root), "/tmp/hvlab-sysfs-XXXXXX");
	if (!mkdtemp(fx->root))
		return -1;
	snprintf(fx->sysfs, sizeof(fx->sysfs), "%s/sys", fx->root);
	snprintf(fx->dev_ok, sizeof(fx->dev_ok), "%s/kvm", fx->root);
	snprintf(fx->dev_missing, sizeof(fx->dev_missing), "%s/no-kvm", fx->root);
	mkdirs(fx->sysfs);
	mkdirs(fx->sysfs);
	write_file(fx->dev_ok, "");
	/* Every tree has the generic kvm module, as a real one does. */
	add_module(fx, "kvm", "tdp_mmu", "N\n");
	*state = fx;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *fx = *state;

	rm_rf(fx->root);
	free(fx);
	return 0;
}

/* ---- hv_kvm_detect ---- */

/* What the fixture trees describe: a bare-metal host (this one may be a VM). */
static const struct hv_host_vm bare_metal = { .is_vm = 0, .cpuid_bit = 0 };
static const struct hv_host_vm a_vm = { .is_vm = 1, .cpuid_bit = 1 };

static void expect(struct fixture *fx, const char *flavour, const char *paging)
{
	struct hv_kvm_info k;

	assert_int_equal(hv_kvm_detect_on(&k, fx->sysfs, fx->dev_ok, &bare_metal), 0);
	assert_int_equal(k.present, 1);
	assert_string_equal(k.flavour, flavour);
	assert_string_equal(k.paging, paging);
}

static void kvm_intel_ept(void **state)
{
	struct fixture *fx = *state;

	add_module(fx, "kvm_intel", "ept", "Y\n");
	expect(fx, "kvm_intel", "ept");
	add_module(fx, "kvm_intel", "ept", "N\n");
	expect(fx, "kvm_intel", "shadow-kvm");
}

static void kvm_amd_npt(void **state)
{
	struct fixture *fx = *state;

	add_module(fx, "kvm_amd", "npt", "1\n");
	expect(fx, "kvm_amd", "npt");
	add_module(fx, "kvm_amd", "npt", "Y\n");
	expect(fx, "kvm_amd", "npt");
	add_module(fx, "kvm_amd", "npt", "0\n");
	expect(fx, "kvm_amd", "shadow-kvm");
}

static void kvm_pvm(void **state)
{
	struct fixture *fx = *state;

	add_module(fx, "kvm_pvm", NULL, NULL);
	expect(fx, "kvm_pvm", "shadow-pvm");
}

static void kvm_module_without_parameter(void **state)
{
	struct fixture *fx = *state;
	struct hv_kvm_info k;

	add_module(fx, "kvm_intel", NULL, NULL);
	assert_int_equal(hv_kvm_detect_on(&k, fx->sysfs, fx->dev_ok, &bare_metal), 0);
	assert_string_equal(k.flavour, "kvm_intel");
	assert_string_equal(k.paging, "unknown");
	assert_non_null(strstr(k.why, "ept"));
}

static void kvm_none(void **state)
{
	struct fixture *fx = *state;
	struct hv_kvm_info k;

	assert_int_equal(hv_kvm_detect_on(&k, fx->sysfs, fx->dev_missing, &bare_metal), 0);
	assert_int_equal(k.present, 0);
	assert_string_equal(k.flavour, "none");
	assert_string_equal(k.paging, "none");
	assert_non_null(strstr(k.why, fx->dev_missing));
	assert_non_null(strstr(k.why, "No such file"));

	/* /dev/kvm opens but no known vendor module: say so, do not guess. */
	assert_int_equal(hv_kvm_detect_on(&k, fx->sysfs, fx->dev_ok, &bare_metal), 0);
	assert_int_equal(k.present, 1);
	assert_string_equal(k.flavour, "unknown");
	assert_string_equal(k.paging, "unknown");
	assert_true(strlen(k.why) > 0);
}

/* On a host that is itself a VM, a KVM's own paging is nested: never plain ept or npt. */
static void kvm_nested_paging(void **state)
{
	static const struct { const char *mod, *param, *value, *paging; } cases[] = {
		{ "kvm_intel", "ept", "Y\n", "ept-nested" },
		{ "kvm_intel", "ept", "N\n", "shadow-kvm-nested" },
		{ "kvm_amd", "npt", "1\n", "npt-nested" },
		{ "kvm_pvm", NULL, NULL, "shadow-pvm" },   /* PVM: always inside a VM */
	};
	struct fixture *fx = *state;
	struct hv_kvm_info k;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/module", fx->sysfs);
		rm_rf(path);
		add_module(fx, cases[i].mod, cases[i].param, cases[i].value);
		assert_int_equal(hv_kvm_detect_on(&k, fx->sysfs, fx->dev_ok, &a_vm), 0);
		assert_string_equal(k.paging, cases[i].paging);
		assert_int_equal(k.nested, 1);
		assert_int_equal(hv_kvm_detect_on(&k, fx->sysfs, fx->dev_ok, &bare_metal), 0);
		assert_null(strstr(k.paging, "nested"));
		assert_int_equal(k.nested, 0);
	}
}

/* Is the host a VM: the CPUID bit decides when set; DMI naming a virtual platform when
 * it is clear (hidden); a cloud vendor's bare-metal machine is not taken for a VM. */
static void host_vm_judged(void **state)
{
	static const struct {
		int bit;
		const char *vendor, *dmi;
		int is_vm;
		const char *how;
	} cases[] = {
		{ 1, "KVMKVMKVM", "unavailable: no dmi", 1, "hypervisor bit (leaf 1, ECX bit 31) is set; hypervisor KVMKVMKVM" },
		{ 0, "unavailable: clear", "sys_vendor 'QEMU', product_name 'Standard PC (Q35 + ICH9, 2009)'", 1, "DMI names a virtual platform ('QEMU') though the CPUID hypervisor bit is clear" },
		{ 0, "unavailable: clear", "sys_vendor 'Microsoft Corporation', product_name 'Virtual Machine'", 1, "'Virtual Machine'" },
		{ 0, "unavailable: clear", "sys_vendor 'Amazon EC2', product_name 'm5.metal'", 0, "names no virtual platform" },
		{ 0, "unavailable: clear", "unavailable: /sys/class/dmi/id: No such file or directory", 0, "DMI cannot be read" },
		{ -1, "unavailable: no CPUID", "unavailable: none", -1, "unavailable: " },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hv_host_vm vm = { .cpuid_bit = cases[i].bit };

		snprintf(vm.cpuid_vendor, sizeof(vm.cpuid_vendor), "%s", cases[i].vendor);
		snprintf(vm.dmi, sizeof(vm.dmi), "%s", cases[i].dmi);
		hv_host_vm_judge(&vm);
		if (vm.is_vm != cases[i].is_vm || !strstr(vm.how, cases[i].how))
			fail_msg("case %zu: is_vm %d (%s), expected %d (%s)", i, vm.is_vm, vm.how,
				 cases[i].is_vm, cases[i].how);
	}
}

/* DMI comes from <sysfs>/class/dmi/id, each file that can be read. */
static void host_vm_reads_dmi(void **state)
{
	struct fixture *fx = *state;
	struct hv_host_vm vm;
	char path[512];

	hv_host_vm_detect(&vm, fx->sysfs);
	assert_non_null(strstr(vm.dmi, "unavailable: "));
	snprintf(path, sizeof(path), "%s/class/dmi/id", fx->sysfs);
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/class/dmi/id/sys_vendor", fx->sysfs);
	write_file(path, "QEMU\n");
	snprintf(path, sizeof(path), "%s/class/dmi/id/product_name", fx->sysfs);
	write_file(path, "Standard PC (i440FX + PIIX, 1996)\n");
	hv_host_vm_detect(&vm, fx->sysfs);
	assert_string_equal(vm.dmi, "sys_vendor 'QEMU', product_name 'Standard PC (i440FX + "
			    "PIIX, 1996)'");
	assert_int_equal(vm.is_vm, 1);
	print_message("      this CPU: hypervisor bit %d, %s\n", vm.cpuid_bit, vm.cpuid_vendor);
}

/* The real host: consistent with what /sys says, whatever the machine is. */
static void kvm_this_host(void **state)
{
	struct hv_kvm_info k;
	struct stat st;

	(void)state;
	assert_int_equal(hv_kvm_detect(&k, "/sys", "/dev/kvm"), 0);
	print_message("      this host: present=%d flavour=%s paging=%s %s\n", k.present,
		      k.flavour, k.paging, k.why);
	if (stat("/sys/module/kvm_pvm", &st) == 0 && stat("/sys/module/kvm_intel", &st) &&
	    stat("/sys/module/kvm_amd", &st))
		assert_string_equal(k.paging, "shadow-pvm");
	if (!k.present)
		assert_true(strlen(k.why) > 0);
}

/* ---- the context block ---- */

static void check_filled(const char *name, const char *value)
{
	if (!value[0])
		fail_msg("context field %s is empty", name);
	if (!strncmp(value, "unavailable", 11) && strncmp(value, "unavailable: ", 13))
		fail_msg("context field %s says unavailable without a reason: %s", name, value);
	print_message("      %-13s %s\n", name, value);
}

static void context_collect(void **state)
{
	char *argv[] = { "prog", "a b", "it's", "plain-arg", "", NULL };
	struct hv_context c;
	struct hv_json j;

	(void)state;
	assert_int_equal(hv_context_collect(&c, 5, argv, 99), 0);
	check_filled("date", c.date);
	check_filled("host", c.host);
	check_filled("cpu_model", c.cpu_model);
	check_filled("caches", c.caches);
	check_filled("kernel", c.kernel);
	check_filled("kvm.flavour", c.kvm.flavour);
	check_filled("kvm.paging", c.kvm.paging);
	check_filled("host_vm.how", c.host_vm.how);
	check_filled("host_vm.cpuid_vendor", c.host_vm.cpuid_vendor);
	check_filled("host_vm.dmi", c.host_vm.dmi);
	check_filled("measured_on", c.measured_on);
	check_filled("tsc_source", c.tsc_source);
	check_filled("compiler", c.compiler);
	check_filled("cflags", c.cflags);
	check_filled("git_commit", c.git_commit);
	check_filled("command", c.command);
	check_filled("papi", c.papi);
	check_filled("freq_scaling", c.freq_scaling);

	/* 2026-11-23T12:58:41Z */
	assert_int_equal(strlen(c.date), 20);
	assert_true(c.date[4] == '-' && c.date[10] == 'T' && c.date[19] == 'Z');
	assert_true(c.cores >= 1 && c.threads >= c.cores);
	assert_true(c.tsc_hz > 1e8);
	assert_true(c.seed == 99);
	assert_string_equal(c.command, "prog 'a b' 'it'\\''s' plain-arg ''");
	assert_true(!strncmp(c.papi, "available: ", 11) || !strncmp(c.papi, "unavailable: ", 13));
	assert_true(c.git_dirty >= -1 && c.git_dirty <= 1);
	if (c.git_dirty >= 0 && !strncmp(c.git_commit, "unavailable", 11))
		/* The tree is a repository, so the commit can only be missing for lack
		 * of commits. */
		assert_non_null(strstr(c.git_commit, "no commits"));

	hv_json_init(&j);
	hv_context_json(&c, &j);
	assert_int_equal(j.failed, 0);
	assert_int_equal(j.depth, 0);
	assert_true(j.buf[0] == '{' && j.buf[j.len - 1] == '}');
	assert_non_null(strstr(j.buf, "\"seed\":\"99\""));
	assert_non_null(strstr(j.buf, "\"kvm\":{\"present\":"));
	assert_non_null(strstr(j.buf, "\"git_dirty\":"));
	hv_json_free(&j);
}

/* Results measured on another machine: the context says so and describes no host. */
static void context_measured_elsewhere(void **state)
{
	char *argv[] = { "hvpeer", "parse", "x.log", NULL };
	struct hv_context c;
	struct hv_json j;
	char host[128], mine[160];

	(void)state;
	hv_context_begin(&c, 3, argv, 0);
	hv_context_measured_elsewhere(&c, "read from x.log");
	hv_context_finish(&c);
	hv_json_init(&j);
	hv_context_json(&c, &j);
	assert_int_equal(j.failed, 0);
	assert_non_null(strstr(j.buf, "\"measured_on\":\"elsewhere: read from x.log\""));
	assert_non_null(strstr(j.buf, "\"host\":\"unavailable: measured on another host"));
	assert_non_null(strstr(j.buf, "\"cores\":null"));
	assert_non_null(strstr(j.buf, "\"is_vm\":null"));
	assert_non_null(strstr(j.buf, "\"present\":null"));
	assert_non_null(strstr(j.buf, "\"tsc_hz\":null"));
	assert_non_null(strstr(j.buf, "\"paging\":\"unavailable: measured elsewhere\""));
	assert_non_null(strstr(j.buf, "\"command\":\"hvpeer parse x.log\""));
	gethostname(host, sizeof(host));
	snprintf(mine, sizeof(mine), "\"host\":\"%s\"", host);
	assert_null(strstr(j.buf, mine));
	hv_json_free(&j);

	hv_context_begin(&c, 3, argv, 0);
	hv_context_finish(&c);
	assert_string_equal(c.measured_on, "this host");
}

static void long_command_truncated_visibly(void **state)
{
	static char big[3000];
	char *argv[] = { "prog", big, NULL };
	struct hv_context c;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(hv_context_collect(&c, 2, argv, 0), 0);
	assert_int_equal(strlen(c.command), sizeof(c.command) - 1);
	assert_non_null(strstr(c.command, "[truncated]"));
}

/* ---- TSC, pinning, PAPI on this host ---- */

static void tsc_calibrated(void **state)
{
	struct hv_tsc t;
	double measured;

	(void)state;
	assert_int_equal(hv_tsc_init(&t), 0);
	measured = hv_tsc_measure_hz(0.05);
	print_message("      TSC %.6f MHz from %s; measured %.6f MHz; begin/end overhead %.0f "
		      "cycles; invariant %d\n", t.hz / 1e6, t.source, measured / 1e6,
		      t.overhead, t.invariant);
	assert_true(t.hz > 1e8 && t.hz < 1e11);
	assert_true(measured > 0);
	/* A kernel figure is only kept when it agrees with a measurement. */
	assert_true(t.hz / measured > 0.98 && t.hz / measured < 1.02);
	assert_true(t.overhead > 0 && t.overhead < 100000);
	assert_true(t.invariant == 0 || t.invariant == 1);
	assert_true(hv_tsc_measure_hz(0) == 0 && hv_tsc_measure_hz(11) == 0);
}

static void pin_lists(void **state)
{
	static const char *const bad[] = { "", "a", "0-", "-1", "1-0", "0,,1", "0,", " 0",
					   "0x1", "0-1a", "99999999999" };
	int n = hv_pin_ncpus();
	char list[32];

	(void)state;
	assert_true(n >= 1);
	assert_int_equal(hv_pin_thread("0"), 0);
	snprintf(list, sizeof(list), "0-%d", n - 1);
	assert_int_equal(hv_pin_thread(list), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (hv_pin_thread(bad[i]) != -1)
			fail_msg("CPU list \"%s\" was accepted", bad[i]);
		assert_non_null(strstr(hv_err_msg(), "CPU list"));
	}
	/* One past the last CPU, alone and in a list. */
	snprintf(list, sizeof(list), "%d", n + 64);
	assert_int_equal(hv_pin_thread(list), -1);
	assert_non_null(strstr(hv_err_msg(), "beyond this machine"));
	snprintf(list, sizeof(list), "0,%d", n + 64);
	assert_int_equal(hv_pin_thread(list), -1);
	assert_int_equal(hv_pin_thread(NULL), -1);
}

static void papi_available_or_says_why(void **state)
{
	struct hv_papi p;
	long long v[HV_PAPI_MAX];

	(void)state;
	hv_papi_open(&p);
	if (!p.available) {
		print_message("      PAPI unavailable: %s\n", p.why);
		assert_true(strlen(p.why) > 0);
		assert_int_equal(p.nevents, 0);
		assert_int_equal(hv_papi_start(&p), -1);
		assert_non_null(strstr(hv_err_msg(), p.why));
	} else {
		volatile unsigned long x = 0;

		print_message("      PAPI: %d events (%s...) %s\n", p.nevents, p.names[0], p.why);
		assert_true(p.nevents >= 1 && p.nevents <= HV_PAPI_MAX);
		assert_int_equal(hv_papi_start(&p), 0);
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		assert_int_equal(hv_papi_stop(&p, v), 0);
		assert_true(x > 0);
		assert_true(v[0] > 0);
	}
	hv_papi_close(&p);
	hv_papi_close(&p);                          /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(kvm_intel_ept, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(kvm_amd_npt, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(kvm_pvm, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(kvm_module_without_parameter, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(kvm_none, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(kvm_nested_paging, fixture_setup, fixture_teardown),
		cmocka_unit_test(host_vm_judged),
		cmocka_unit_test_setup_teardown(host_vm_reads_dmi, fixture_setup, fixture_teardown),
		cmocka_unit_test(kvm_this_host),
		cmocka_unit_test(context_collect),
		cmocka_unit_test(context_measured_elsewhere),
		cmocka_unit_test(long_command_truncated_visibly),
		cmocka_unit_test(tsc_calibrated),
		cmocka_unit_test(pin_lists),
		cmocka_unit_test(papi_available_or_says_why),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
