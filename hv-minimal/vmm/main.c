/* hvm, the hv-minimal VMM: a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "hvlab/blk.h"
#include "hvlab/engine.h"
#include "hvlab/engine_desc.h"
#include "hvlab/err.h"
#include "hvlab/kvminfo.h"
#include "hvlab/hvm.h"
#include "hvlab/hvm_cli.h"
#include "hvlab/tsc.h"

struct hvm_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, const struct hvm_invocation *inv);
	const char *summary;
};

static int cmd_help(int argc, char **argv, const struct hvm_invocation *inv);
static int cmd_host(int argc, char **argv, const struct hvm_invocation *inv);
static int cmd_engines(int argc, char **argv, const struct hvm_invocation *inv);

static int cmd_blkd(int argc, char **argv, const struct hvm_invocation *inv)
{
	(void)inv;
	return hv_blkd_main(argc, argv);
}

static const struct hvm_cmd cmds[] = {
	{ "run", hvm_cmd_run, "boot the guest kernel and run one workload" },
	{ "host", cmd_host, "what this host offers: KVM, FSGSBASE, and which engines can run" },
	{ "engines", cmd_engines, "each engine's description; --json for the runner and report" },
	{ "blkd", cmd_blkd, "the split I/O path's driver process (started by hvm run itself)" },
	{ "help", cmd_help, "this text, or `hvm help run` for one subcommand" },
};

static void usage(FILE *f)
{
	size_t n;
	const struct hv_engine_entry *e = hv_engines(&n);

	fprintf(f, "usage: hvm COMMAND [OPTIONS]\n\n"
		   "hv-minimal, a testbed hypervisor: one guest image, switchable virtualization\n"
		   "engines, identical workloads measured side by side.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nengines:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-8s %s%s\n", e[i].name, e[i].description,
			e[i].ops ? "" : " - not built yet");
	fprintf(f, "\nexample: hvm run --engine hw --workload nanobench\n"
		   "exit status: 0 pass, 1 guest failure, 2 usage, 3 guest stopped, 4 host error, "
		   "77 skipped\n");
}

static int cmd_help(int argc, char **argv, const struct hvm_invocation *inv)
{
	(void)inv;
	if (argc > 1 && !strcmp(argv[1], "run")) {
		hvm_cli_usage_run(stdout);
		return HVM_EXIT_PASS;
	}
	if (argc > 1) {
		fprintf(stderr, "hvm help: no command '%s'\n", argv[1]);
		return HVM_EXIT_USAGE;
	}
	usage(stdout);
	return HVM_EXIT_PASS;
}

static void print_note(void *arg, const char *key, const char *value)
{
	(void)arg;
	printf("; %s %s", key, value);
}

/* The host kind, then each engine's own answer: a VM is created and destroyed, so an
 * engine that cannot run here says why in its own words. */
static int cmd_host(int argc, char **argv, const struct hvm_invocation *inv)
{
	char line[512];
	size_t n;
	const struct hv_engine_entry *e = hv_engines(&n);

	(void)inv;
	if (argc > 1) {
		fprintf(stderr, "hvm host: takes no arguments ('%s')\n", argv[1]);
		return HVM_EXIT_USAGE;
	}
	hv_host_kind_line(line, sizeof(line));
	printf("host: %s\n", line);
	for (size_t i = 0; i < n; i++) {
		struct hv_engine_vm *vm = NULL;
		struct hv_vm_config cfg = { .nr_vcpus = 1, .mem_bytes = 16u << 20 };

		if (!e[i].ops) {
			printf("engine %s: not built\n", e[i].name);
			continue;
		}
		if ((e[i].ops->probe && e[i].ops->probe(&cfg)) || e[i].ops->vm_create(&cfg, &vm)) {
			printf("engine %s: unavailable: %s\n", e[i].name, hv_err_msg());
			continue;
		}
		printf("engine %s: available; memvirt %s", e[i].name, e[i].ops->memvirt(vm));
		if (e[i].ops->notes)
			e[i].ops->notes(vm, print_note, NULL);
		printf("\n");
		e[i].ops->vm_destroy(vm);
	}
	return HVM_EXIT_PASS;
}

/* Each engine describes itself (engine_desc.h); --json is what scripts/ reads. */
static void describe_engine(size_t i, struct hv_engine_desc *d)
{
	size_t n;

	hv_engine_describe(&hv_engines(&n)[i], d);
}

static int cmd_engines(int argc, char **argv, const struct hvm_invocation *inv)
{
	size_t n;

	(void)inv;
	hv_engines(&n);
	return hv_engine_desc_command("hvm", argc, argv, n, describe_engine);
}

int main(int argc, char **argv)
{
	struct hvm_invocation inv = { .argc = argc, .argv = argv, .tsc_start = hv_tsc_begin() };

	if (argc < 2) {
		usage(stderr);
		return HVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return HVM_EXIT_PASS;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1, &inv);
	fprintf(stderr, "hvm: unknown command '%s' (commands: run, host, engines, help; see hvm --help)\n",
		argv[1]);
	return HVM_EXIT_USAGE;
}
