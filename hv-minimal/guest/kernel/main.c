/* Boot: read what the VMM passed, set up the CPU, memory and gates, run the workload,
 * exit with its status. */
#include "guest/uapi.h"
#include "hostile.h"
#include "hv.h"
#include "kalloc.h"
#include "percpu.h"
#include "proc.h"
#include "trap.h"
#include "vm.h"

static const char *gate_name(int gate)
{
	return gate == GUEST_GATE_UD2 ? "ud2" : "syscall";
}

static void list_workloads(void)
{
	kprintf("workloads (workload=NAME wargs=ARGS):\n");
	for (const struct program *p = programs; p->name; p++)
		kprintf("  %-12s user program\n", p->name);
	for (const struct ktest *t = ktests; t->name; t++)
		kprintf("  %-12s %s\n", t->name, t->what);
}

/* A program's exit status as the VMM's exit status. */
static uint32_t exit_status(int status)
{
	if (status == 0)
		return HV_EXIT_PASS;
	if (status == HV_EXIT_SKIP)
		return HV_EXIT_SKIP;
	return HV_EXIT_FAIL;
}

static uint32_t run_workload(const char *name, const char *args)
{
	const struct ktest *t = ktest_find(name);
	const struct program *p = program_find(name);

	if (!t && !p) {
		kprintf("no workload named '%s'\n", name);
		list_workloads();
		return HV_EXIT_FAIL;
	}
	/* Recorded with the workload's results: how its system calls entered the kernel. */
	hv_result_info(name, "sysgate", gate_name(kcfg.gate));
	if (t)
		return (uint32_t)t->run(args);
	hv_post(POST_USER);
	int status = proc_run(p, args);
	kprintf("%s: exit status %d\n", name, status);
	return exit_status(status);
}

void kmain(uint64_t boot_gpa)
{
	console_init();
	hv_post(POST_CONSOLE);
	bootinfo_read(boot_gpa);
	cmdline_parse();
	kprintf("hvlab guest: %lu MiB, %u vCPU(s), engine %s, sysgate %s, workload %s%s%s\n",
		kcfg.mem_bytes >> 20, kcfg.nr_vcpus, kcfg.engine[0] ? kcfg.engine : "?",
		gate_name(kcfg.gate), kcfg.workload ? kcfg.workload : "(none)",
		kcfg.wargs[0] ? " " : "", kcfg.wargs);

	percpu_init(0);
	idt_init();
	hv_post(POST_TABLES);
	vm_init();
	kalloc_init(kcfg.kernel_end_gpa, kcfg.mem_bytes);
	syscall_init(kcfg.gate);
	hv_post(POST_PAGING);

	if (!kcfg.workload) {
		kprintf("no workload= on the command line\n");
		list_workloads();
		hv_exit(HV_EXIT_FAIL);
	}
	hv_exit(run_workload(kcfg.workload, kcfg.wargs));
}
