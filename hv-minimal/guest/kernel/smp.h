/* Multiprocessor start-up: the boot CPU starts the others one at a time with INIT and
 * SIPI (the way firmware does, so it works the same under hvm and under QEMU). */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H
#include <stdint.h>

/* APIC IDs of the CPUs from the firmware's tables (PVH: ACPI MADT); when n is 0 the
 * CPUs are 0..kcfg.nr_vcpus-1 (hvm's numbering). Filled before kmain. */
struct boot_cpus {
	uint32_t n;
	uint8_t apic_id[HV_MAX_VCPUS];
};
extern struct boot_cpus boot_cpus;

/* Starts CPUs 1..kcfg.nr_vcpus-1 (boot CPU, after lapic_setup); sets ncpus to the
 * number running. */
void smp_boot(void);

#endif
