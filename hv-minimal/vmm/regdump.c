/* The register dump printed when a guest is stopped for misbehaving or hanging. */
#include <inttypes.h>
#include <string.h>

#include "hvlab/guestmem.h"
#include "hvlab/regdump.h"

struct bitname {
	unsigned bit;
	const char *name;
};

static void decode_bits(uint64_t v, const struct bitname *b, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w;

		if (!(v & (1ull << b[i].bit)))
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", b[i].name);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, len, "-");
}

#define NBITS(a) (sizeof(a) / sizeof((a)[0]))

void hv_decode_rflags(uint64_t v, char *buf, size_t len)
{
	static const struct bitname b[] = {
		{ 0, "CF" }, { 2, "PF" }, { 4, "AF" }, { 6, "ZF" }, { 7, "SF" }, { 8, "TF" },
		{ 9, "IF" }, { 10, "DF" }, { 11, "OF" }, { 14, "NT" }, { 16, "RF" }, { 17, "VM" },
		{ 18, "AC" }, { 19, "VIF" }, { 20, "VIP" }, { 21, "ID" },
	};
	size_t used;

	decode_bits(v, b, NBITS(b), buf, len);
	used = strlen(buf);
	snprintf(buf + used, len - used, " IOPL=%u", (unsigned)((v >> 12) & 3));
}

void hv_decode_cr0(uint64_t v, char *buf, size_t len)
{
	static const struct bitname b[] = {
		{ 0, "PE" }, { 1, "MP" }, { 2, "EM" }, { 3, "TS" }, { 4, "ET" }, { 5, "NE" },
		{ 16, "WP" }, { 18, "AM" }, { 29, "NW" }, { 30, "CD" }, { 31, "PG" },
	};

	decode_bits(v, b, NBITS(b), buf, len);
}

void hv_decode_cr4(uint64_t v, char *buf, size_t len)
{
	static const struct bitname b[] = {
		{ 0, "VME" }, { 1, "PVI" }, { 2, "TSD" }, { 3, "DE" }, { 4, "PSE" }, { 5, "PAE" },
		{ 6, "MCE" }, { 7, "PGE" }, { 8, "PCE" }, { 9, "OSFXSR" }, { 10, "OSXMMEXCPT" },
		{ 11, "UMIP" }, { 12, "LA57" }, { 13, "VMXE" }, { 14, "SMXE" }, { 16, "FSGSBASE" },
		{ 17, "PCIDE" }, { 18, "OSXSAVE" }, { 20, "SMEP" }, { 21, "SMAP" }, { 22, "PKE" },
		{ 23, "CET" },
	};

	decode_bits(v, b, NBITS(b), buf, len);
}

void hv_decode_efer(uint64_t v, char *buf, size_t len)
{
	static const struct bitname b[] = {
		{ 0, "SCE" }, { 8, "LME" }, { 10, "LMA" }, { 11, "NXE" }, { 12, "SVME" },
		{ 13, "LMSLE" }, { 14, "FFXSR" }, { 15, "TCE" },
	};

	decode_bits(v, b, NBITS(b), buf, len);
}

#define PTE_P  1ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

int hv_guest_translate(const struct hv_guestmem *mem, uint64_t cr3, uint64_t va,
		       uint64_t *gpa)
{
	uint64_t table = cr3 & PTE_ADDR;

	for (int level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		uint64_t idx = (va >> shift) & 511, pte;

		if (hv_gpa_read(mem, table + 8 * idx, &pte, sizeof(pte)) || !(pte & PTE_P))
			return -1;
		if (level == 0 || ((level == 1 || level == 2) && (pte & PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;

			*gpa = (pte & PTE_ADDR & ~mask) | (va & mask);
			return 0;
		}
		table = pte & PTE_ADDR;
	}
	return -1;
}

static void dump_segment(FILE *f, const char *name, const struct hv_segment *s)
{
	fprintf(f, "  %-4s sel 0x%04x base 0x%016" PRIx64 " limit 0x%08x type %#x s%u dpl%u p%u "
		   "l%u db%u g%u avl%u%s\n", name, s->selector, s->base, s->limit, s->type, s->s,
		s->dpl, s->present, s->l, s->db, s->g, s->avl, s->unusable ? " unusable" : "");
}

static void dump_code(FILE *f, const struct hv_regs *r, const struct hv_sregs *s,
		      const struct hv_guestmem *mem)
{
	uint8_t bytes[16];
	uint64_t gpa;
	size_t n = 0;

	if (!(s->cr0 & (1ull << 31)))
		gpa = r->rip;
	else if (hv_guest_translate(mem, s->cr3, r->rip, &gpa)) {
		fprintf(f, "  code at RIP: not mapped by the guest page tables (or they lie "
			   "outside memory)\n");
		return;
	}
	/* Stop at the end of memory or of the page (the next may not be mapped). */
	while (n < sizeof(bytes) && ((gpa + n) & 0xfff || n == 0) &&
	       !hv_gpa_read(mem, gpa + n, &bytes[n], 1))
		n++;
	fprintf(f, "  code at RIP (guest-physical %#" PRIx64 "):", gpa);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %02x", bytes[i]);
	fprintf(f, "%s\n", n ? "" : " outside guest memory");
}

void hv_regdump(FILE *f, unsigned vcpu, const struct hv_regs *r, const struct hv_sregs *s,
		const struct hv_guestmem *mem)
{
	char bits[256];

	fprintf(f, "vCPU %u state (CPL %u from SS.DPL):\n", vcpu, s->ss.dpl);
	hv_decode_rflags(r->rflags, bits, sizeof(bits));
	fprintf(f, "  RIP 0x%016" PRIx64 "  RSP 0x%016" PRIx64 "  RFLAGS %#" PRIx64 " [%s]\n",
		r->rip, r->rsp, r->rflags, bits);
	fprintf(f, "  RAX 0x%016" PRIx64 "  RBX 0x%016" PRIx64 "  RCX 0x%016" PRIx64 "  RDX %#018"
		   PRIx64 "\n", r->rax, r->rbx, r->rcx, r->rdx);
	fprintf(f, "  RSI 0x%016" PRIx64 "  RDI 0x%016" PRIx64 "  RBP 0x%016" PRIx64 "  R8  %#018"
		   PRIx64 "\n", r->rsi, r->rdi, r->rbp, r->r8);
	fprintf(f, "  R9  0x%016" PRIx64 "  R10 0x%016" PRIx64 "  R11 0x%016" PRIx64 "  R12 %#018"
		   PRIx64 "\n", r->r9, r->r10, r->r11, r->r12);
	fprintf(f, "  R13 0x%016" PRIx64 "  R14 0x%016" PRIx64 "  R15 0x%016" PRIx64 "\n", r->r13,
		r->r14, r->r15);
	hv_decode_cr0(s->cr0, bits, sizeof(bits));
	fprintf(f, "  CR0 %#" PRIx64 " [%s]\n", s->cr0, bits);
	fprintf(f, "  CR2 %#" PRIx64 "  CR3 %#" PRIx64 "  CR8 %#" PRIx64 "\n", s->cr2, s->cr3,
		s->cr8);
	hv_decode_cr4(s->cr4, bits, sizeof(bits));
	fprintf(f, "  CR4 %#" PRIx64 " [%s]\n", s->cr4, bits);
	hv_decode_efer(s->efer, bits, sizeof(bits));
	fprintf(f, "  EFER %#" PRIx64 " [%s]  APIC_BASE %#" PRIx64 "\n", s->efer, bits,
		s->apic_base);
	dump_segment(f, "CS", &s->cs);
	dump_segment(f, "SS", &s->ss);
	dump_segment(f, "DS", &s->ds);
	dump_segment(f, "ES", &s->es);
	dump_segment(f, "FS", &s->fs);
	dump_segment(f, "GS", &s->gs);
	dump_segment(f, "TR", &s->tr);
	dump_segment(f, "LDTR", &s->ldt);
	fprintf(f, "  GDTR base 0x%016" PRIx64 " limit 0x%04x\n", s->gdt.base, s->gdt.limit);
	fprintf(f, "  IDTR base 0x%016" PRIx64 " limit 0x%04x\n", s->idt.base, s->idt.limit);
	if (mem)
		dump_code(f, r, s, mem);
}

const char *hv_insn_hint(const struct hv_guestmem *mem, const struct hv_regs *r,
			 const struct hv_sregs *s)
{
	static const struct { uint8_t len, bytes[3]; const char *hint; } hints[] = {
		{ 3, { 0x0f, 0x01, 0xc1 }, "the guest is at vmcall, which livelocks KVM_RUN under "
					   "kvm_pvm; hypercalls go through the HV_PORT_HCALL "
					   "doorbell" },
		{ 3, { 0x0f, 0x01, 0xd9 }, "the guest is at vmmcall, which livelocks KVM_RUN under "
					   "kvm_pvm; hypercalls go through the HV_PORT_HCALL "
					   "doorbell" },
		{ 2, { 0xeb, 0xfe }, "the guest is spinning on a jump to itself" },
		{ 2, { 0x0f, 0x0b }, "the guest is at ud2" },
		{ 1, { 0xcc }, "the guest is at int3, which kvm_pvm's instruction emulator "
			       "cannot run at CPL0" },
		{ 1, { 0xcd }, "the guest is at int N, which kvm_pvm's instruction emulator "
			       "cannot run at CPL0" },
		{ 1, { 0xf4 }, "the guest is at hlt" },
	};
	uint8_t code[3] = { 0 };
	uint64_t gpa = r->rip;

	if ((s->cr0 & (1ull << 31)) && hv_guest_translate(mem, s->cr3, r->rip, &gpa))
		return NULL;
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (!hv_gpa_read(mem, gpa, code, hints[i].len) &&
		    !memcmp(code, hints[i].bytes, hints[i].len))
			return hints[i].hint;
	return NULL;
}
