/* A Linux guest's MP table (mptable.c): its CPUs, I/O APIC and ISA interrupt routes. */
#ifndef HVLAB_MPTABLE_H
#define HVLAB_MPTABLE_H
#include <stddef.h>
#include <stdint.h>

struct hv_vm;

/* The floating pointer followed by the configuration table, for a table placed at
 * guest-physical base_gpa; returns its length, 0 when it does not fit in cap bytes. */
size_t hv_mptable_build(unsigned nr_vcpus, uint32_t base_gpa, uint8_t *buf, size_t cap);
/* Writes it at HV_LINUX_BIOS_GPA. 0, or -1 with hv_err_msg(). */
int hv_mptable_write(struct hv_vm *vm);

#endif
