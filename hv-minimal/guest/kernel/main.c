/* Boot: read what the VMM passed, set up the CPU, memory, interrupts and the other
 * CPUs, then run the workload as the first process; the VM exits with its status. */
#include "apic.h"
#include "blk.h"
#include "guest/fmt.h"
#include "guest/uapi.h"
#include "hostile.h"
#include "hv.h"
#include "kalloc.h"
#include "kmem.h"
#include "percpu.h"
#include "proc.h"
#include "pv.h"
#include "smp.h"
#include "spinlock.h"
#include "trap.h"
#include "vm.h"

static const char *gate_name(int gate)
{
	return gate == GUEST_GATE_UD2 ? "ud2" : "syscall";
}

static const char *kmem_name(int kmem)
{
	return kmem == GUEST_KMEM_USER ? "user" : "kernel";
}

static void list_workloads(void)
{
	kprintf("workloads (workload=NAME wargs=ARGS):\n");
	for (const struct program *p = programs; p->name; p++)
		kprintf("  %-12s user program\n", p->name);
	for (const struct ktest *t = ktests; t->name; t++)
		kprintf("  %-12s %s\n", t->name, t->what);
}

/* Recorded with the workload's results: how the kernel was configured. flavour,
 * spinlock and iopath are what the VMM writes in its rows' mode columns (vmm/record.c),
 * so they are sent before any measurement. */
static void report_config(const char *name)
{
	char num[16];

	hv_result_info(name, "flavour", kcfg.flavour);
	hv_result_info(name, "spinlock", lock_ops->name);
	hv_result_info(name, "iopath", kcfg.iopath);
	hv_result_info(name, "sysgate", gate_name(kcfg.gate));
	hv_result_info(name, "kmem", kmem_name(kcfg.kmem));
	hv_result_info(name, "fork", kcfg.cow ? "cow" : "copy");
	hv_result_info(name, "pagesize", kcfg.pagesize_2m ? "2m" : "4k");
	if (kcfg.pagesize_2m) {
		fmt_snprintf(num, sizeof(num), "%lu", huge_pool_bytes() >> 20);
		hv_result_info(name, "hugemem_mib", num);
	}
	fmt_snprintf(num, sizeof(num), "%u", ncpus);
	hv_result_info(name, "cpus_online", num);
	fmt_snprintf(num, sizeof(num), "%u", kcfg.hz);
	hv_result_info(name, "hz", num);
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
	report_config(name);
	if (t)
		return (uint32_t)t->run(args);
	hv_post(POST_USER);
	proc_run(p, args);       /* returns only when the program could not start */
	return HV_EXIT_FAIL;
}

void kmain(uint64_t boot_gpa)
{
	console_init();
	hv_post(POST_CONSOLE);
	bootinfo_read(boot_gpa);
	cmdline_parse();
	kprintf("hvlab guest: %lu MiB, %u vCPU(s), engine %s, flavour %s, spinlock %s, iopath "
		"%s, sysgate %s, kmem %s, fork %s, pagesize %s, workload %s%s%s\n",
		kcfg.mem_bytes >> 20, kcfg.nr_vcpus, kcfg.engine[0] ? kcfg.engine : "?",
		kcfg.flavour, kcfg.spinlock, kcfg.iopath,
		gate_name(kcfg.gate), kmem_name(kcfg.kmem), kcfg.cow ? "cow" : "copy",
		kcfg.pagesize_2m ? "2m" : "4k", kcfg.workload ? kcfg.workload : "(none)",
		kcfg.wargs[0] ? " " : "", kcfg.wargs);

	percpu_init(0);
	hv_result_tsc(kcfg.workload ? kcfg.workload : "none", "tsc_start"); /* needs mycpu() */
	idt_init();
	hv_post(POST_TABLES);
	vm_init();
	kalloc_init(kcfg.kernel_end_gpa, kcfg.mem_bytes);
	kmem_init();
	pv_init();
	pv_init_cpu();
	spin_init();
	blk_boot();
	syscall_init(kcfg.gate);
	hv_post(POST_PAGING);
	if (lapic_setup() < 0)
		panic("no usable local APIC timer");
	lapic_init_cpu();
	smp_boot();
	hv_post(POST_SMP);
	kprintf("smp: %u CPU(s) online\n", ncpus);

	if (!kcfg.workload) {
		kprintf("no workload= on the command line\n");
		list_workloads();
		hv_exit(HV_EXIT_FAIL);
	}
	uint32_t status = run_workload(kcfg.workload, kcfg.wargs);

	hv_result_tsc(kcfg.workload, "tsc_end");
	hv_exit(status);
}
