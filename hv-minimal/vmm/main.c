/* hvm, the hv-minimal VMM: a table of subcommands. */
#include <stdio.h>
#include <string.h>

#include "hvlab/engine.h"
#include "hvlab/hvm.h"
#include "hvlab/hvm_cli.h"
#include "hvlab/tsc.h"

struct hvm_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, const struct hvm_invocation *inv);
	const char *summary;
};

static int cmd_help(int argc, char **argv, const struct hvm_invocation *inv);

static const struct hvm_cmd cmds[] = {
	{ "run", hvm_cmd_run, "boot the guest kernel and run one workload" },
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
	fprintf(stderr, "hvm: unknown command '%s' (commands: run, help; see hvm --help)\n",
		argv[1]);
	return HVM_EXIT_USAGE;
}
