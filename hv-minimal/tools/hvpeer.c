/* hvpeer: the hv-minimal guest image under QEMU (engines qemu-tcg and qemu-kvm),
 * measured into hvm's run-directory format; a table of subcommands, as hvm's.
 *
 *   hvpeer run --engine qemu-tcg|qemu-kvm --workload NAME[:ARGS] [hvm run's options]
 *   hvpeer parse [--engine E] [--out DIR] LOG */
#include <stdio.h>
#include <string.h>

#include "hvlab/engine_desc.h"
#include "hvlab/tsc.h"
#include "hvpeer.h"

struct hvpeer_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, const struct hvm_invocation *inv);
	void (*usage)(FILE *f);
	const char *summary;
};

static int cmd_engines(int argc, char **argv, const struct hvm_invocation *inv);
static void usage_engines(FILE *f);

static const struct hvpeer_cmd cmds[] = {
	{ "run", hvpeer_cmd_run, hvpeer_usage_run,
	  "boot the guest under QEMU and run one workload" },
	{ "parse", hvpeer_cmd_parse, hvpeer_usage_parse,
	  "a console log's @hvr result lines into a run directory" },
	{ "engines", cmd_engines, usage_engines,
	  "each peer's description; --json for the runner and report" },
};

static void usage_engines(FILE *f)
{
	fprintf(f, "usage: hvpeer engines [--json]\n\n"
		   "Each peer describes itself as hvm's engines do (hvm engines): name, family,\n"
		   "whether this host can run it and why not, memvirt, mode columns.\n");
}

static void describe_peer(size_t i, struct hv_engine_desc *d)
{
	size_t n;

	hvpeer_describe(&hvpeer_engines(&n)[i], d);
}

static int cmd_engines(int argc, char **argv, const struct hvm_invocation *inv)
{
	size_t n;

	(void)inv;
	hvpeer_engines(&n);
	return hv_engine_desc_command("hvpeer", argc, argv, n, describe_peer);
}

static void usage(FILE *f)
{
	size_t n;
	const struct peer_engine *e = hvpeer_engines(&n);

	fprintf(f, "usage: hvpeer COMMAND [OPTIONS]\n\n"
		   "The hv-minimal guest image under QEMU, measured into hvm's run format.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "  %-8s %s\n\nengines:\n", "help", "this text, or `hvpeer help COMMAND`");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-9s %s\n", e[i].name, e[i].about);
	fprintf(f, "\nexample: hvpeer run --engine qemu-tcg --workload compute:size=1M\n");
}

int main(int argc, char **argv)
{
	struct hvm_invocation inv = { .argc = argc, .argv = argv, .tsc_start = hv_tsc_begin() };

	if (argc < 2) {
		usage(stderr);
		return HVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		for (size_t i = 0; argc > 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[2], cmds[i].name)) {
				cmds[i].usage(stdout);
				return HVM_EXIT_PASS;
			}
		usage(stdout);
		return HVM_EXIT_PASS;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1, &inv);
	fprintf(stderr, "hvpeer: unknown command '%s' (commands: run, parse, engines, help)\n", argv[1]);
	return HVM_EXIT_USAGE;
}
