/* The boot command line: space-separated key=value options.
 *   workload=NAME      what to run (a kernel test or an embedded user program)
 *   wargs=ARGS         its arguments (no spaces)
 *   sysgate=GATE       system-call gate: syscall (default) or ud2
 * Unknown options are reported and ignored, so a newer VMM can pass more. */
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"

static void set_gate(const char *v)
{
	if (!strcmp(v, "syscall")) {
		kcfg.gate = GUEST_GATE_SYSCALL;
	} else if (!strcmp(v, "ud2")) {
		kcfg.gate = GUEST_GATE_UD2;
	} else {
		kprintf("cmdline: sysgate=%s is not one of: syscall, ud2\n", v);
		hv_exit(HV_EXIT_FAIL);
	}
}

void cmdline_parse(void)
{
	char *p = kcfg.cmdline;

	kcfg.gate = GUEST_GATE_SYSCALL;
	kcfg.workload = NULL;
	kcfg.wargs = "";
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		char *key = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = 0;
		char *eq = strchr(key, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = 0;

		if (!strcmp(key, "workload"))
			kcfg.workload = val;
		else if (!strcmp(key, "wargs"))
			kcfg.wargs = val;
		else if (!strcmp(key, "sysgate"))
			set_gate(val);
		else
			kprintf("cmdline: ignoring unknown option '%s'\n", key);
	}
}
