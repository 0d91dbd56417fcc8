/* The way into long mode, interpreted: an application processor starts in real mode
 * at its SIPI vector and switches to protected and then long mode in a few dozen
 * instructions (guest/kernel/apboot.S is such a trampoline). The translator runs 64-bit
 * code only, so these instructions are executed here, one by one, until the vCPU has
 * paging and a 64-bit code segment; then the translator takes over.
 *
 * Executed: cli, sti, cld, std, nop, mov (registers, immediates, memory, segment and
 * control registers), or/and/add/sub/xor with a register or an immediate, lgdt, lidt,
 * rdmsr, wrmsr, jmp (near and far), and mov/out to ports through the ordinary
 * call-outs' rules (not needed by the trampolines: refused). Memory is physical (no
 * paging before long mode starts). */
#include <inttypes.h>
#include <string.h>

#include "bt.h"
#include "hvlab/err.h"

#define CR0_PE (1ull << 0)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define MAX_STEPS 10000

/* The machine mode the CPU decodes in now. */
static ZydisMachineMode mode_of(const struct bt_cpu *c)
{
	if (!(c->cr0 & CR0_PE))
		return ZYDIS_MACHINE_MODE_REAL_16;
	if (c->seg[BT_SEG_CS].l && (c->efer & EFER_LMA))
		return ZYDIS_MACHINE_MODE_LONG_64;
	return c->seg[BT_SEG_CS].db ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_LEGACY_16;
}

int bt_in_long_mode(const struct bt_vcpu *v)
{
	return mode_of(&v->cpu) == ZYDIS_MACHINE_MODE_LONG_64 && (v->cpu.cr0 & CR0_PG);
}

static int phys_read(struct bt_vcpu *v, uint64_t pa, void *dst, size_t len)
{
	const void *p = bt_gpa_ptr(v->vm, pa, len);

	if (!p)
		return hv_err_set("vCPU %u's start-up code reads guest-physical %#" PRIx64
				  " outside memory", v->index, pa);
	memcpy(dst, p, len);
	return 0;
}

/* Loads a segment register from the GDT (protected mode) or as real mode does. */
static int load_seg(struct bt_vcpu *v, int idx, uint16_t sel)
{
	struct bt_cpu *c = &v->cpu;
	struct hv_segment *s = &c->seg[idx];
	uint64_t d = 0;

	if (!(c->cr0 & CR0_PE)) {
		s->selector = sel;
		s->base = (uint64_t)sel << 4;
		s->limit = 0xffff;
		s->db = s->l = 0;
		return 0;
	}
	if (!(sel & ~3u)) {
		s->selector = sel;
		s->unusable = 1;
		return 0;
	}
	if ((sel | 7u) > c->gdt.limit ||
	    phys_read(v, c->gdt.base + (sel & ~7u), &d, 8))
		return hv_err_set("vCPU %u's start-up code loads selector %#x beyond its GDT",
				  v->index, sel);
	*s = (struct hv_segment){
		.selector = sel, .present = (d >> 47) & 1, .dpl = (d >> 45) & 3,
		.s = (d >> 44) & 1, .type = (d >> 40) & 15, .l = (d >> 53) & 1,
		.db = (d >> 54) & 1, .g = (d >> 55) & 1,
		.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24),
		.limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16)),
	};
	if (s->g)
		s->limit = (s->limit << 12) | 0xfff;
	return 0;
}

static int seg_index(ZydisRegister r)
{
	switch (r) {
	case ZYDIS_REGISTER_ES: return BT_SEG_ES;
	case ZYDIS_REGISTER_CS: return BT_SEG_CS;
	case ZYDIS_REGISTER_SS: return BT_SEG_SS;
	case ZYDIS_REGISTER_DS: return BT_SEG_DS;
	case ZYDIS_REGISTER_FS: return BT_SEG_FS;
	case ZYDIS_REGISTER_GS: return BT_SEG_GS;
	default: return -1;
	}
}

static uint64_t linear(struct bt_vcpu *v, const ZydisDecodedInstruction *in,
		       const ZydisDecodedOperand *op)
{
	uint64_t a = (uint64_t)op->mem.disp.value;
	int s = seg_index(op->mem.segment);

	if (op->mem.base != ZYDIS_REGISTER_NONE)
		a += bt_reg_read(v, op->mem.base);
	if (op->mem.index != ZYDIS_REGISTER_NONE)
		a += bt_reg_read(v, op->mem.index) * op->mem.scale;
	a &= in->address_width == 16 ? 0xffff : 0xffffffff;
	return a + v->cpu.seg[s < 0 ? BT_SEG_DS : s].base;
}

static int cr_set(struct bt_vcpu *v, unsigned cr, uint64_t val)
{
	struct bt_cpu *c = &v->cpu;

	switch (cr) {
	case 0:
		/* paging with LME makes long mode active */
		if ((val & CR0_PG) && !(c->cr0 & CR0_PG) && (c->efer & EFER_LME)) {
			if (!(c->cr4 & CR4_PAE))
				return hv_err_set("vCPU %u enables long mode without PAE", v->index);
			c->efer |= EFER_LMA;
		}
		c->cr0 = val | (1ull << 4);
		return 0;
	case 3: c->cr3 = val & 0x000ffffffffff000ull; return 0;
	case 4: c->cr4 = val; return 0;
	default: return hv_err_set("vCPU %u's start-up code writes CR%u", v->index, cr);
	}
}

static uint64_t cr_get(struct bt_vcpu *v, unsigned cr)
{
	return cr == 0 ? v->cpu.cr0 : cr == 3 ? v->cpu.cr3 : cr == 4 ? v->cpu.cr4 : 0;
}

static uint64_t operand_value(struct bt_vcpu *v, const ZydisDecodedInstruction *in,
			      const ZydisDecodedOperand *op, int *err)
{
	uint64_t x = 0;

	*err = 0;
	switch (op->type) {
	case ZYDIS_OPERAND_TYPE_REGISTER:
		if (seg_index(op->reg.value) >= 0)
			return v->cpu.seg[seg_index(op->reg.value)].selector;
		if (ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_CONTROL)
			return cr_get(v, (unsigned)(op->reg.value - ZYDIS_REGISTER_CR0));
		return bt_reg_read(v, op->reg.value);
	case ZYDIS_OPERAND_TYPE_IMMEDIATE:
		return op->imm.value.u;
	case ZYDIS_OPERAND_TYPE_MEMORY:
		*err = phys_read(v, linear(v, in, op), &x, op->size / 8);
		return x;
	default:
		*err = hv_err_set("unexpected operand in vCPU %u's start-up code", v->index);
		return 0;
	}
}

static int operand_store(struct bt_vcpu *v, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *op, uint64_t val)
{
	if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
		void *p = bt_gpa_ptr(v->vm, linear(v, in, op), op->size / 8);

		if (!p)
			return hv_err_set("vCPU %u's start-up code writes outside memory", v->index);
		memcpy(p, &val, op->size / 8);
		return 0;
	}
	if (op->type != ZYDIS_OPERAND_TYPE_REGISTER)
		return hv_err_set("unexpected destination in vCPU %u's start-up code", v->index);
	if (seg_index(op->reg.value) >= 0)
		return load_seg(v, seg_index(op->reg.value), (uint16_t)val);
	if (ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_CONTROL)
		return cr_set(v, (unsigned)(op->reg.value - ZYDIS_REGISTER_CR0), val);
	bt_reg_write(v, op->reg.value, val);
	return 0;
}

static int step(struct bt_vcpu *v)
{
	struct bt_cpu *c = &v->cpu;
	ZydisDecoder dec;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	ZydisMachineMode mode = mode_of(c);
	uint64_t pc = c->seg[BT_SEG_CS].base + c->rip, a, b = 0, next;
	size_t n = 15;
	int err = 0;

	while (n && !bt_gpa_ptr(v->vm, pc, n))
		n--;
	if (!n || ZYAN_FAILED(ZydisDecoderInit(&dec, mode, mode == ZYDIS_MACHINE_MODE_LEGACY_32 ?
					       ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16)) ||
	    ZYAN_FAILED(ZydisDecoderDecodeFull(&dec, bt_gpa_ptr(v->vm, pc, n), n, &in, op)))
		return hv_err_set("vCPU %u: cannot decode its start-up code at %#" PRIx64,
				  v->index, pc);
	next = (c->rip + in.length) & (mode == ZYDIS_MACHINE_MODE_LEGACY_32 ? 0xffffffff : 0xffff);
	switch (in.mnemonic) {
	case ZYDIS_MNEMONIC_CLI: c->vflags &= ~RFLAGS_IF; break;
	case ZYDIS_MNEMONIC_STI: c->vflags |= RFLAGS_IF; break;
	case ZYDIS_MNEMONIC_CLD: v->ctx->rflags &= ~RFLAGS_DF; break;
	case ZYDIS_MNEMONIC_STD: v->ctx->rflags |= RFLAGS_DF; break;
	case ZYDIS_MNEMONIC_NOP: break;
	case ZYDIS_MNEMONIC_MOV:
		a = operand_value(v, &in, &op[1], &err);
		if (err || operand_store(v, &in, &op[0], a))
			return -1;
		break;
	case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_ADD:
	case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR:
		a = operand_value(v, &in, &op[0], &err);
		if (!err)
			b = operand_value(v, &in, &op[1], &err);
		if (err)
			return -1;
		a = in.mnemonic == ZYDIS_MNEMONIC_OR ? a | b : in.mnemonic == ZYDIS_MNEMONIC_AND ?
		    a & b : in.mnemonic == ZYDIS_MNEMONIC_ADD ? a + b :
		    in.mnemonic == ZYDIS_MNEMONIC_SUB ? a - b : a ^ b;
		if (operand_store(v, &in, &op[0], a))
			return -1;
		break;
	case ZYDIS_MNEMONIC_LGDT:
	case ZYDIS_MNEMONIC_LIDT: {
		uint8_t t[6] = { 0 };
		uint32_t base;
		struct hv_dtable *d = in.mnemonic == ZYDIS_MNEMONIC_LGDT ? &c->gdt : &c->idt;

		if (phys_read(v, linear(v, &in, &op[0]), t, 6))
			return -1;
		memcpy(&d->limit, t, 2);
		memcpy(&base, t + 2, 4);
		d->base = in.operand_width == 16 ? base & 0xffffff : base;
		break;
	}
	case ZYDIS_MNEMONIC_RDMSR:
		if ((uint32_t)v->ctx->regs[BT_RCX] != 0xc0000080)
			return hv_err_set("vCPU %u's start-up code reads MSR %#x", v->index,
					  (uint32_t)v->ctx->regs[BT_RCX]);
		v->ctx->regs[BT_RAX] = (uint32_t)c->efer;
		v->ctx->regs[BT_RDX] = c->efer >> 32;
		break;
	case ZYDIS_MNEMONIC_WRMSR:
		if ((uint32_t)v->ctx->regs[BT_RCX] != 0xc0000080)
			return hv_err_set("vCPU %u's start-up code writes MSR %#x", v->index,
					  (uint32_t)v->ctx->regs[BT_RCX]);
		c->efer = ((v->ctx->regs[BT_RAX] & 0xffffffff) | (v->ctx->regs[BT_RDX] << 32)) &
			  ~EFER_LMA;
		c->efer |= (c->cr0 & CR0_PG) && (c->efer & EFER_LME) ? EFER_LMA : 0;
		break;
	case ZYDIS_MNEMONIC_JMP:
		if (op[0].type == ZYDIS_OPERAND_TYPE_POINTER) {
			if (load_seg(v, BT_SEG_CS, op[0].ptr.segment))
				return -1;
			c->rip = op[0].ptr.offset;
			return 0;
		}
		if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op[0].imm.is_relative) {
			c->rip = next + (uint64_t)op[0].imm.value.s;
			return 0;
		}
		return hv_err_set("vCPU %u's start-up code jumps indirectly at %#" PRIx64,
				  v->index, pc);
	default:
		return hv_err_set("vCPU %u's start-up code has %s at %#" PRIx64 ", which the "
				  "binary translator's mode-switch interpreter does not run",
				  v->index, ZydisMnemonicGetString(in.mnemonic), pc);
	}
	c->rip = next;
	return 0;
}

/* A SIPI: real mode at vector << 12, CS = vector << 8, as the hardware starts. */
void bt_sipi_reset(struct bt_vcpu *v, int vector)
{
	struct bt_cpu *c = &v->cpu;

	memset(v->ctx->regs, 0, sizeof(v->ctx->regs));
	c->cr0 = 0x10;
	c->cr3 = 0;
	c->cr4 = 0;
	c->efer = 0;
	c->vflags = 0;
	v->ctx->rflags = 0x202;
	c->cpl = 0;
	for (int i = 0; i < BT_SEG_NR; i++)
		c->seg[i] = (struct hv_segment){ .limit = 0xffff, .present = 1, .s = 1, .type = 3 };
	c->seg[BT_SEG_CS] = (struct hv_segment){ .selector = (uint16_t)(vector << 8),
						 .base = (uint64_t)vector << 12, .limit = 0xffff,
						 .present = 1, .s = 1, .type = 0xb };
	c->rip = 0;
	c->gdt = c->idt = (struct hv_dtable){ .base = 0, .limit = 0xffff };
}

/* Runs the start-up code until long mode; 0, or -1 with hv_err_msg() set. */
int bt_boot_to_long_mode(struct bt_vcpu *v)
{
	for (int i = 0; i < MAX_STEPS; i++) {
		if (bt_in_long_mode(v)) {
			bt_wcache_reset(v, v->cpu.cr3);
			bt_cache_flush(v);
			return 0;
		}
		if (step(v))
			return -1;
	}
	return hv_err_set("vCPU %u did not reach long mode in %d start-up instructions",
			  v->index, MAX_STEPS);
}
