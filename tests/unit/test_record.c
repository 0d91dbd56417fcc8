/* The recorder's rules for a hostile guest (vmm/record.c): past its record budget, a
 * 33rd nanobenchmark operation or workload metric, a 65th note, or a mode report that is
 * late, malformed or changes is the guest's fault (HV_RECORD_GUEST_FAULT, exit 3), never
 * a host error; the guest's notes live in their own namespace (notes.guest), where they
 * cannot overwrite the host's; the mode columns are what the guest reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/record.h"
#include "hvlab/results.h"

static struct hv_result rec(uint32_t kind, const char *name, const char *unit)
{
	struct hv_result r;

	memset(&r, 0, sizeof(r));
	r.magic = HV_RESULT_MAGIC;
	r.kind = kind;
	snprintf(r.workload, sizeof(r.workload), "w");
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.unit, sizeof(r.unit), "%s", unit);
	r.iters = 10;
	r.cycles = 1000;
	r.value = 1;
	return r;
}

static const struct hv_mode host_mode = {
	.engine = "hw", .memvirt = "ept", .flavour = "constant-from-the-host",
	.spinlock = "constant-from-the-host", .iopath = "constant-from-the-host", .vcpus = 1,
	.pcpus = 1,
};

static void init(struct hv_recorder *r, struct hv_run *run)
{
	hv_recorder_init(r, run, &host_mode, "w", 1e9);
}

static void expect_fault(struct hv_recorder *r, const struct hv_result *res, const char *says)
{
	assert_int_equal(hv_recorder_add(r, res), HV_RECORD_GUEST_FAULT);
	if (!strstr(hv_err_msg(), says))
		fail_msg("the fault says '%s', not '%s'", hv_err_msg(), says);
}

static void budget(void **state)
{
	struct hv_recorder r;
	struct hv_result v = rec(HV_RES_VALUE, "checksum", "");

	(void)state;
	init(&r, NULL);
	assert_int_equal(r.budget, HV_RECORD_BUDGET_DEFAULT);
	hv_recorder_set_budget(&r, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(hv_recorder_add(&r, &v), HV_RECORD_OK);
	expect_fault(&r, &v, "more than 3 result records");
	/* info records count too: a guest cannot flood with notes instead */
	v = rec(HV_RES_INFO, "k", "v");
	expect_fault(&r, &v, "budget");
	assert_int_equal(r.nrecords, 3);
	hv_recorder_free(&r);
}

static void too_many_operations(void **state)
{
	struct hv_recorder r;
	char name[16];

	(void)state;
	init(&r, NULL);
	for (int i = 0; i < HV_NB_MAX_OPS; i++) {
		snprintf(name, sizeof(name), "op%d", i);
		struct hv_result nb = rec(HV_RES_NANOBENCH, name, "cycles");
		assert_int_equal(hv_recorder_add(&r, &nb), HV_RECORD_OK);
	}
	struct hv_result again = rec(HV_RES_NANOBENCH, "op0", "cycles");
	assert_int_equal(hv_recorder_add(&r, &again), HV_RECORD_OK);    /* a known one */
	struct hv_result extra = rec(HV_RES_NANOBENCH, "op32", "cycles");
	expect_fault(&r, &extra, "32 operations");
	hv_recorder_free(&r);
}

static void too_many_metrics(void **state)
{
	struct hv_recorder r;
	char name[16];

	(void)state;
	init(&r, NULL);
	for (int i = 0; i < HV_WV_MAX_METRICS; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		struct hv_result v = rec(HV_RES_VALUE, name, "-");
		assert_int_equal(hv_recorder_add(&r, &v), HV_RECORD_OK);
	}
	struct hv_result extra = rec(HV_RES_VALUE, "m32", "-");
	expect_fault(&r, &extra, "32 metrics");
	/* another workload's metrics do not feed this run's table: no limit there */
	snprintf(extra.workload, sizeof(extra.workload), "other");
	assert_int_equal(hv_recorder_add(&r, &extra), HV_RECORD_OK);
	hv_recorder_free(&r);
}

static void mode_from_the_guest(void **state)
{
	struct hv_recorder r;
	struct hv_result f = rec(HV_RES_INFO, "flavour", "full");
	struct hv_result s = rec(HV_RES_INFO, "spinlock", "plain");
	struct hv_result v = rec(HV_RES_VALUE, "checksum", "");

	(void)state;
	init(&r, NULL);
	/* the host's constants are not taken: "-" until the guest says */
	assert_null(hv_recorder_mode(&r)->flavour);
	assert_null(hv_recorder_mode(&r)->spinlock);
	assert_null(hv_recorder_mode(&r)->iopath);
	assert_string_equal(hv_recorder_mode(&r)->engine, "hw");
	assert_int_equal(hv_recorder_add(&r, &f), HV_RECORD_OK);
	assert_int_equal(hv_recorder_add(&r, &s), HV_RECORD_OK);
	assert_string_equal(hv_recorder_mode(&r)->flavour, "full");
	assert_string_equal(hv_recorder_mode(&r)->spinlock, "plain");
	assert_int_equal(hv_recorder_add(&r, &f), HV_RECORD_OK);       /* said again: fine */
	assert_int_equal(hv_recorder_add(&r, &v), HV_RECORD_OK);

	struct hv_result pv = rec(HV_RES_INFO, "flavour", "pv");
	expect_fault(&r, &pv, "changed during the run");
	struct hv_result late = rec(HV_RES_INFO, "iopath", "emul");
	expect_fault(&r, &late, "before measuring");
	assert_null(hv_recorder_mode(&r)->iopath);
	hv_recorder_free(&r);

	init(&r, NULL);
	struct hv_result comma = rec(HV_RES_INFO, "iopath", "emul,x");
	expect_fault(&r, &comma, "not one word");
	struct hv_result upper = rec(HV_RES_INFO, "iopath", "Emul");
	expect_fault(&r, &upper, "not one word");
	struct hv_result empty = rec(HV_RES_INFO, "iopath", "");
	expect_fault(&r, &empty, "not one word");
	hv_recorder_free(&r);
}

/* ---- with a run directory ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void rm_run(const char *dir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/samples.csv", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	unlink(path);
	rmdir(dir);
}

static void guest_notes_namespace(void **state)
{
	char dir[] = "/tmp/hvlab-test-record-XXXXXX", path[512];
	struct hv_recorder r;
	struct hv_run *run;
	char *json, *guest, *csv;

	(void)state;
	assert_non_null(mkdtemp(dir));
	run = hv_run_open(NULL, "w", dir, 0, NULL, 0);
	assert_non_null(run);
	assert_int_equal(hv_run_note(run, "engine", "hw"), 0);
	assert_int_equal(hv_run_note(run, "fixture", "no"), 0);
	/* the host cannot write into the guest's namespace either */
	assert_int_equal(hv_run_note(run, "guest", "x"), -1);
	init(&r, run);
	hv_recorder_set_budget(&r, 500);
	struct hv_result e = rec(HV_RES_INFO, "engine", "evil");
	struct hv_result x = rec(HV_RES_INFO, "fixture", "yes");
	struct hv_result f = rec(HV_RES_INFO, "flavour", "full");
	struct hv_result v = rec(HV_RES_VALUE, "checksum", "");
	assert_int_equal(hv_recorder_add(&r, &e), HV_RECORD_OK);
	assert_int_equal(hv_recorder_add(&r, &x), HV_RECORD_OK);
	assert_int_equal(hv_recorder_add(&r, &f), HV_RECORD_OK);
	assert_int_equal(hv_recorder_add(&r, &v), HV_RECORD_OK);
	/* a 65th distinct note is refused as the guest's fault */
	for (int i = 3; i < HV_RUN_GUEST_NOTES_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		struct hv_result n = rec(HV_RES_INFO, name, "v");
		assert_int_equal(hv_recorder_add(&r, &n), HV_RECORD_OK);
	}
	struct hv_result extra = rec(HV_RES_INFO, "one-too-many", "v");
	expect_fault(&r, &extra, "64 distinct notes");
	assert_int_equal(hv_recorder_add(&r, &e), HV_RECORD_OK);       /* a known key */
	hv_recorder_free(&r);
	assert_int_equal(hv_run_close(run), 0);

	snprintf(path, sizeof(path), "%s/summary.json", dir);
	json = slurp(path);
	guest = strstr(json, "\"guest\":{");
	assert_non_null(guest);
	*guest = 0;             /* json: the host's notes and context; guest + 1: the guest's */
	assert_non_null(strstr(json, "\"engine\":\"hw\""));
	assert_non_null(strstr(json, "\"fixture\":\"no\""));
	assert_null(strstr(json, "evil"));
	assert_non_null(strstr(guest + 1, "\"engine\":\"evil\""));
	assert_non_null(strstr(guest + 1, "\"fixture\":\"yes\""));
	assert_null(strstr(guest + 1, "one-too-many"));
	assert_non_null(strstr(json, "\"guest_record_budget\":500"));
	free(json);

	/* the row's mode columns are the guest's report, not the host's constants */
	snprintf(path, sizeof(path), "%s/samples.csv", dir);
	csv = slurp(path);
	assert_non_null(strstr(csv, "\nw,w,-,hw,ept,full,-,-,-,1,1,checksum,1,-,0\n"));
	assert_null(strstr(csv, "constant-from-the-host"));
	free(csv);
	rm_run(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(budget),
		cmocka_unit_test(too_many_operations),
		cmocka_unit_test(too_many_metrics),
		cmocka_unit_test(mode_from_the_guest),
		cmocka_unit_test(guest_notes_namespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
