/* Starting the application processors (smp.h). */
#include "apic.h"
#include "guest/string.h"
#include "kalloc.h"
#include "percpu.h"
#include "proc.h"
#include "pv.h"
#include "smp.h"
#include "trap.h"
#include "vm.h"
#include "x86.h"

#define AP_STACK      (16 * 1024)
/* How long an application processor may take to come online: after the first SIPI,
 * then after the second. Its start-up code runs emulated under some KVMs (kvm_pvm: ~1 us
 * an instruction) and its thread may wait for a host CPU when vCPUs outnumber them, so
 * the second wait is long, as Linux's is (seconds); a CPU that starts costs no more. */
#define AP_WAIT_US        20000
#define AP_WAIT_LAST_US 2000000

extern const char ap_tramp_start[], ap_tramp_end[], ap_tramp_cr3[], ap_tramp_entry[];
void ap_entry64(void);
NORETURN void ap_main(uint32_t id);

struct boot_cpus boot_cpus;

/* Read by ap_entry64 on the CPU being started: one at a time. */
uint64_t ap_boot_stack;
uint32_t ap_boot_id;

static uint8_t ap_stacks[HV_MAX_VCPUS][AP_STACK] __attribute__((aligned(16)));

void ap_main(uint32_t id)
{
	struct cpu *c = &cpus[id];

	percpu_init(id);
	idt_load();
	vm_init_cpu();            /* the kernel's page table: the trampoline's is done with */
	syscall_init(kcfg.gate);
	lapic_init_cpu();
	pv_init_cpu();
	c->apic_id = lapic_id();
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	sched_idle();
}

/* The trampoline and its page tables in low memory: PML4, PDPT and PD map the first
 * 2 MiB at identity (not global: the switch to the kernel's table drops them). */
static void tramp_setup(void)
{
	uint8_t *t = P2V(AP_TRAMP_PA);
	uint64_t *pml4 = P2V(AP_TRAMP_PA + 0x1000), *pdpt = P2V(AP_TRAMP_PA + 0x2000);
	uint64_t *pd = P2V(AP_TRAMP_PA + 0x3000);

	memcpy(t, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
	memset(pml4, 0, 3 * PAGE_SIZE);
	pml4[0] = (AP_TRAMP_PA + 0x2000) | PTE_P | PTE_W;
	pml4[511] = ((uint64_t *)P2V(vm_kernel_root()))[511];
	pdpt[0] = (AP_TRAMP_PA + 0x3000) | PTE_P | PTE_W;
	pd[0] = PTE_P | PTE_W | PTE_PS;
	*(uint64_t *)(t + (ap_tramp_cr3 - ap_tramp_start)) = AP_TRAMP_PA + 0x1000;
	*(uint64_t *)(t + (ap_tramp_entry - ap_tramp_start)) = (uint64_t)ap_entry64;
}

static int wait_online(struct cpu *c, uint64_t us)
{
	uint64_t t0 = rdtsc(), n = us * kcfg.tsc_khz / 1000;

	while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE)) {
		if (rdtsc() - t0 > n)
			return 0;
		pause();
	}
	return 1;
}

static int start_ap(uint32_t id, uint32_t apic)
{
	struct cpu *c = &cpus[id];

	ap_boot_id = id;
	ap_boot_stack = (uint64_t)ap_stacks[id] + AP_STACK;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	lapic_init_ipi(apic);
	udelay(200);
	lapic_sipi(apic, AP_TRAMP_PA >> 12);
	if (wait_online(c, AP_WAIT_US))
		return 0;
	lapic_sipi(apic, AP_TRAMP_PA >> 12);   /* the specification's second SIPI */
	return wait_online(c, AP_WAIT_LAST_US) ? 0 : -1;
}

void smp_boot(void)
{
	uint32_t want = kcfg.nr_vcpus, bsp = lapic_id(), ids[HV_MAX_VCPUS], nids = 0;

	cpus[0].apic_id = bsp;
	cpus[0].online = 1;
	ncpus = 1;
	if (want < 2)
		return;
	/* The firmware's list without the boot CPU, or hvm's numbering. */
	if (boot_cpus.n) {
		for (uint32_t i = 0; i < boot_cpus.n; i++)
			if (boot_cpus.apic_id[i] != bsp)
				ids[nids++] = boot_cpus.apic_id[i];
	} else {
		for (uint32_t i = 1; i < want; i++)
			ids[nids++] = i;
	}
	tramp_setup();
	for (uint32_t k = 0; k < nids && ncpus < want; k++) {
		if (start_ap(ncpus, ids[k]) < 0) {
			kprintf("smp: CPU %u (APIC ID %u) did not start\n", ncpus, ids[k]);
			break;
		}
		ncpus++;
	}
}
