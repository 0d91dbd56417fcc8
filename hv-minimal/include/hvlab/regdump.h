/* A decoded register dump of a stopped vCPU: general registers, RFLAGS, control
 * registers and EFER by flag name, every segment with its hidden part, GDTR/IDTR, and
 * the code bytes at RIP when the guest page tables lead to them. */
#ifndef HVLAB_REGDUMP_H
#define HVLAB_REGDUMP_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hvlab/engine.h"

struct hv_guestmem;

/* Names of the set bits, e.g. "IF ZF"; "-" when none. */
void hv_decode_rflags(uint64_t v, char *buf, size_t len);
void hv_decode_cr0(uint64_t v, char *buf, size_t len);
void hv_decode_cr4(uint64_t v, char *buf, size_t len);
void hv_decode_efer(uint64_t v, char *buf, size_t len);

/* Walks the guest's 4-level page tables (CR3) to the guest-physical address of va;
 * returns 0 or -1 when not mapped or a table lies outside memory. */
int hv_guest_translate(const struct hv_guestmem *mem, uint64_t cr3, uint64_t va,
		       uint64_t *gpa);

/* A sentence about the instruction at RIP when it explains a stop (vmcall, a jump to
 * itself, ...), else NULL. */
const char *hv_insn_hint(const struct hv_guestmem *mem, const struct hv_regs *r,
			 const struct hv_sregs *s);

/* mem may be NULL (no code bytes). */
void hv_regdump(FILE *f, unsigned vcpu, const struct hv_regs *r, const struct hv_sregs *s,
		const struct hv_guestmem *mem);

#endif
