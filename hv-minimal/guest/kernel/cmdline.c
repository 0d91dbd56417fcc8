/* The boot command line: space-separated key=value options.
 *   workload=NAME      what to run (a kernel test or an embedded user program)
 *   wargs=ARGS         its arguments (no spaces)
 *   sysgate=GATE       system-call gate: syscall (default) or ud2
 *   kmem=MODE          page zeroing and copying: kernel (default) or user (kmem.h)
 *   cow=0|1            fork shares pages copy-on-write instead of copying (default 0)
 *   hz=N               timer interrupts per second on each CPU (default 100); 0: no
 *                      timer, so no preemption, and IPIs are the only wake-ups
 *   spinlock=NAME      the kernel's lock implementation (default plain)
 *   cpus=N             start at most N CPUs (default: all the boot info names)
 *   cr8wr=off          refuse the CR8-write nanobenchmark (the VMM asks for it where
 *                      its host cannot take a guest's CR8 writes: QEMU 7.2's TCG
 *                      aborts when a nested guest makes them)
 * Unknown options are reported and ignored, so a newer VMM can pass more; a bad
 * value of a known one stops the boot. */
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "spinlock.h"

#define HZ_DEFAULT 100
#define HZ_MAX     5000      /* the LAPIC timer's period floor on some hosts: 200 us */

static NORETURN void bad(const char *key, const char *v, const char *want)
{
	kprintf("cmdline: %s=%s is not %s\n", key, v, want);
	hv_exit(HV_EXIT_FAIL);
}

/* A decimal number in [lo, hi], else the boot stops. */
static uint32_t number(const char *key, const char *v, uint32_t lo, uint32_t hi)
{
	uint64_t n = 0;
	const char *p = v;

	for (; *p >= '0' && *p <= '9' && n <= hi; p++)
		n = n * 10 + (uint64_t)(*p - '0');
	if (p == v || *p || n < lo || n > hi) {
		kprintf("cmdline: %s=%s is not a number in %u..%u\n", key, v, lo, hi);
		hv_exit(HV_EXIT_FAIL);
	}
	return (uint32_t)n;
}

static void option(const char *key, const char *val)
{
	if (!strcmp(key, "workload")) {
		kcfg.workload = val;
	} else if (!strcmp(key, "wargs")) {
		kcfg.wargs = val;
	} else if (!strcmp(key, "sysgate")) {
		if (!strcmp(val, "syscall"))
			kcfg.gate = GUEST_GATE_SYSCALL;
		else if (!strcmp(val, "ud2"))
			kcfg.gate = GUEST_GATE_UD2;
		else
			bad(key, val, "one of: syscall, ud2");
	} else if (!strcmp(key, "kmem")) {
		if (!strcmp(val, "kernel"))
			kcfg.kmem = GUEST_KMEM_KERNEL;
		else if (!strcmp(val, "user"))
			kcfg.kmem = GUEST_KMEM_USER;
		else
			bad(key, val, "one of: kernel, user");
	} else if (!strcmp(key, "cow")) {
		kcfg.cow = (int)number(key, val, 0, 1);
	} else if (!strcmp(key, "hz")) {
		kcfg.hz = number(key, val, 0, HZ_MAX);
	} else if (!strcmp(key, "spinlock")) {
		if (lock_ops_select(val) < 0)
			bad(key, val, "a lock this kernel has (plain)");
		kcfg.spinlock = val;
	} else if (!strcmp(key, "cr8wr")) {
		if (strcmp(val, "off"))
			bad(key, val, "off");
		kcfg.cr8wr_off = 1;
	} else if (!strcmp(key, "cpus")) {
		uint32_t n = number(key, val, 1, HV_MAX_VCPUS);
		if (n < kcfg.nr_vcpus)
			kcfg.nr_vcpus = n;
	} else {
		kprintf("cmdline: ignoring unknown option '%s'\n", key);
	}
}

void cmdline_parse(void)
{
	char *p = kcfg.cmdline;

	kcfg.gate = GUEST_GATE_SYSCALL;
	kcfg.kmem = GUEST_KMEM_KERNEL;
	kcfg.cow = 0;
	kcfg.hz = HZ_DEFAULT;
	kcfg.spinlock = "plain";
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
		option(key, val);
	}
}
