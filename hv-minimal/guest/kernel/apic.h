/* The local APIC (xAPIC, memory-mapped at its architectural address): the timer that
 * drives the scheduler, end of interrupt, inter-processor interrupts, and INIT/SIPI
 * to start the other CPUs. Under KVM it is the in-kernel LAPIC the VMM creates; under
 * QEMU its own. */
#ifndef KERNEL_APIC_H
#define KERNEL_APIC_H
#include <stdint.h>

/* Boot CPU: maps the LAPIC, measures its timer (and the TSC when the boot info gave
 * no rate) and returns 0, or -1 with the reason printed. */
int lapic_setup(void);
/* Every CPU: enables its LAPIC and starts the periodic timer at kcfg.hz (none at 0). */
void lapic_init_cpu(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
/* A fixed interrupt with vector to the CPU with APIC ID dest. */
void lapic_ipi(uint32_t dest, uint32_t vector);
/* The start-up sequence of the Intel MP specification. */
void lapic_init_ipi(uint32_t dest);
void lapic_sipi(uint32_t dest, uint32_t page);

/* Busy-waits about us microseconds on the TSC. */
void udelay(uint64_t us);

#endif
