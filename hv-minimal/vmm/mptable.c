/* The MP table (Intel MultiProcessor Specification 1.4) of a Linux guest: how Linux,
 * finding no ACPI tables, learns its CPUs (one local APIC each, IDs 0..n-1), the I/O
 * APIC at 0xfec00000 and where the ISA interrupts arrive on it. ISA IRQ i goes to I/O
 * APIC pin i, KVM's default routing of its in-kernel PIC and IOAPIC; the PIC's
 * ExtINT and NMI reach every local APIC's LINT0 and LINT1. The floating pointer and
 * the table sit in the BIOS area the e820 map reserves, where Linux scans. */
#include <string.h>

#include "hvlab/bzimage.h"
#include "hvlab/err.h"
#include "hvlab/mptable.h"
#include "hvlab/vm.h"

#define MP_FLOAT_LEN    16
#define MP_HDR_LEN      44
#define MP_CPU_LEN      20
#define MP_ENTRY_LEN    8
#define MP_SPEC_REV     4
#define LAPIC_GPA       0xfee00000u
#define IOAPIC_GPA      0xfec00000u
#define LAPIC_VERSION   0x14
#define IOAPIC_VERSION  0x11
#define CPU_ENABLED     0x01
#define CPU_BSP         0x02
#define CPU_SIGNATURE   0x600u      /* family 6: a signature the table needs, not the CPU's */
#define CPU_FEATURES    0x201u      /* FPU, APIC */
#define ENTRY_CPU       0
#define ENTRY_BUS       1
#define ENTRY_IOAPIC    2
#define ENTRY_IOINT     3
#define ENTRY_LINT      4
#define INT_INT         0
#define INT_NMI         1
#define INT_EXTINT      3
#define ISA_IRQS        16

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0x100 - sum);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

size_t hv_mptable_build(unsigned nr_vcpus, uint32_t base_gpa, uint8_t *buf, size_t cap)
{
	size_t len = MP_FLOAT_LEN + MP_HDR_LEN + (size_t)nr_vcpus * MP_CPU_LEN +
		     MP_ENTRY_LEN * (2 + (ISA_IRQS - 1) + 2);
	uint8_t *fp = buf, *hdr = buf + MP_FLOAT_LEN, *e = hdr + MP_HDR_LEN;
	unsigned nentries = 0;
	uint8_t ioapic_id = (uint8_t)nr_vcpus;

	if (len > cap || nr_vcpus == 0 || nr_vcpus > 254)
		return 0;
	memset(buf, 0, len);
	for (unsigned i = 0; i < nr_vcpus; i++, e += MP_CPU_LEN, nentries++) {
		e[0] = ENTRY_CPU;
		e[1] = (uint8_t)i;
		e[2] = LAPIC_VERSION;
		e[3] = CPU_ENABLED | (i == 0 ? CPU_BSP : 0);
		put32(e + 4, CPU_SIGNATURE);
		put32(e + 8, CPU_FEATURES);
	}
	e[0] = ENTRY_BUS;
	memcpy(e + 2, "ISA   ", 6);
	e += MP_ENTRY_LEN, nentries++;
	e[0] = ENTRY_IOAPIC;
	e[1] = ioapic_id;
	e[2] = IOAPIC_VERSION;
	e[3] = 1;                                   /* usable */
	put32(e + 4, IOAPIC_GPA);
	e += MP_ENTRY_LEN, nentries++;
	for (unsigned irq = 0; irq < ISA_IRQS; irq++) {
		if (irq == 2)                       /* the PICs' cascade */
			continue;
		e[0] = ENTRY_IOINT;
		e[1] = INT_INT;                     /* flags 0: ISA's edge, active high */
		e[4] = 0;                           /* source bus: ISA */
		e[5] = (uint8_t)irq;
		e[6] = ioapic_id;
		e[7] = (uint8_t)irq;
		e += MP_ENTRY_LEN, nentries++;
	}
	for (unsigned lint = 0; lint < 2; lint++) {
		e[0] = ENTRY_LINT;
		e[1] = lint ? INT_NMI : INT_EXTINT;
		e[6] = 0xff;                        /* every local APIC */
		e[7] = (uint8_t)lint;
		e += MP_ENTRY_LEN, nentries++;
	}
	memcpy(hdr, "PCMP", 4);
	put16(hdr + 4, (uint16_t)(e - hdr));
	hdr[6] = MP_SPEC_REV;
	memcpy(hdr + 8, "HVLAB   ", 8);
	memcpy(hdr + 16, "HV-MINIMAL  ", 12);
	put16(hdr + 34, (uint16_t)nentries);
	put32(hdr + 36, LAPIC_GPA);
	hdr[7] = checksum(hdr, (size_t)(e - hdr));

	memcpy(fp, "_MP_", 4);
	put32(fp + 4, base_gpa + MP_FLOAT_LEN);
	fp[8] = 1;                                  /* length in 16-byte units */
	fp[9] = MP_SPEC_REV;
	fp[10] = checksum(fp, MP_FLOAT_LEN);
	return (size_t)(e - buf);
}

int hv_mptable_write(struct hv_vm *vm)
{
	uint8_t buf[1024];
	size_t n = hv_mptable_build(vm->nr_vcpus, HV_LINUX_BIOS_GPA, buf, sizeof(buf));

	if (!n)
		return hv_err_set("the MP table for %u vCPUs does not fit", vm->nr_vcpus);
	return hv_gpa_write(&vm->mem, HV_LINUX_BIOS_GPA, buf, n);
}
