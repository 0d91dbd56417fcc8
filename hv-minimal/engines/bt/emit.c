/* The translator's own x86-64 encoder (see emit.h). */
#include <string.h>

#include "emit.h"

void em_byte(struct bt_emit *e, uint8_t b)
{
	if (e->p >= e->end) {
		e->overflow = 1;
		return;
	}
	*e->p++ = b;
}

void em_bytes(struct bt_emit *e, const void *b, unsigned n)
{
	if ((size_t)(e->end - e->p) < n) {
		e->overflow = 1;
		e->p = e->end;
		return;
	}
	memcpy(e->p, b, n);
	e->p += n;
}

void em_u32(struct bt_emit *e, uint32_t v)
{
	em_bytes(e, &v, 4);
}

void em_u64(struct bt_emit *e, uint64_t v)
{
	em_bytes(e, &v, 8);
}

static void em_prefixes(struct bt_emit *e, unsigned flags, int rex)
{
	if (flags & EM_GS)
		em_byte(e, 0x65);
	if (flags & EM_A32)
		em_byte(e, 0x67);
	if (flags & EM_O16)
		em_byte(e, 0x66);
	if (flags & EM_W)
		rex |= 8;
	if (rex || (flags & EM_REX))
		em_byte(e, (uint8_t)(0x40 | rex));
}

static unsigned scale_bits(unsigned scale)
{
	return scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
}

void em_rm(struct bt_emit *e, unsigned flags, const uint8_t *op, unsigned nop, int reg,
	   const struct bt_mem *m)
{
	/* LAB 3 BEGIN: em-rm */
	int rex = ((reg >> 3) & 1) << 2;
	unsigned r = (unsigned)reg & 7;
	struct bt_mem in_ctx;

	if (flags & EM_CTX) {
		in_ctx = *m;
		in_ctx.disp = (int32_t)(e->ctx + (uint32_t)m->disp);
		m = &in_ctx;
	}
	if (m->index >= 0)
		rex |= ((m->index >> 3) & 1) << 1;
	if (m->base >= 0)
		rex |= (m->base >> 3) & 1;
	em_prefixes(e, flags, rex);
	em_bytes(e, op, nop);
	if (m->base < 0) {
		/* no base: SIB with base 101 and mod 00 means disp32 */
		unsigned idx = m->index >= 0 ? ((unsigned)m->index & 7) : 4;

		em_byte(e, (uint8_t)(0x04 | r << 3));
		em_byte(e, (uint8_t)(scale_bits(m->scale) << 6 | idx << 3 | 5));
		em_u32(e, (uint32_t)m->disp);
		return;
	}
	unsigned b = (unsigned)m->base & 7, mod;
	int need_sib = m->index >= 0 || b == 4;

	if (m->disp == 0 && b != 5)
		mod = 0;
	else if (m->disp >= -128 && m->disp <= 127)
		mod = 1;
	else
		mod = 2;
	if (need_sib) {
		unsigned idx = m->index >= 0 ? ((unsigned)m->index & 7) : 4;

		em_byte(e, (uint8_t)(mod << 6 | r << 3 | 4));
		em_byte(e, (uint8_t)(scale_bits(m->scale) << 6 | idx << 3 | b));
	} else {
		em_byte(e, (uint8_t)(mod << 6 | r << 3 | b));
	}
	if (mod == 1)
		em_byte(e, (uint8_t)(int8_t)m->disp);
	else if (mod == 2)
		em_u32(e, (uint32_t)m->disp);
	/* LAB 3 END: em-rm */
}

void em_rr(struct bt_emit *e, unsigned flags, const uint8_t *op, unsigned nop, int reg, int rm)
{
	em_prefixes(e, flags, ((reg >> 3) & 1) << 2 | ((rm >> 3) & 1));
	em_bytes(e, op, nop);
	em_byte(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

static const uint8_t OP_STORE[] = { 0x89 }, OP_LOAD[] = { 0x8b }, OP_LEA[] = { 0x8d };

void em_ctx_store(struct bt_emit *e, int reg, int32_t off)
{
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX | EM_W, OP_STORE, 1, reg, &m);
}

void em_ctx_load(struct bt_emit *e, int reg, int32_t off)
{
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX | EM_W, OP_LOAD, 1, reg, &m);
}

void em_ctx_store_imm8(struct bt_emit *e, int32_t off, uint8_t imm)
{
	static const uint8_t op[] = { 0xc6 };
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX, op, 1, 0, &m);
	em_byte(e, imm);
}

void em_gs_store(struct bt_emit *e, int reg, int base, int32_t disp, unsigned opflags)
{
	struct bt_mem m = bt_based(base, disp);

	em_rm(e, EM_GS | EM_A32 | opflags, OP_STORE, 1, reg, &m);
}

void em_gs_load(struct bt_emit *e, int reg, int base, int32_t disp, unsigned opflags)
{
	struct bt_mem m = bt_based(base, disp);

	em_rm(e, EM_GS | EM_A32 | opflags, OP_LOAD, 1, reg, &m);
}

void em_gs_store_imm32(struct bt_emit *e, int base, int32_t disp, int32_t imm)
{
	static const uint8_t op[] = { 0xc7 };
	struct bt_mem m = bt_based(base, disp);

	em_rm(e, EM_GS | EM_A32 | EM_W, op, 1, 0, &m);
	em_u32(e, (uint32_t)imm);
}

void em_lea(struct bt_emit *e, int dst, const struct bt_mem *m)
{
	em_rm(e, EM_W, OP_LEA, 1, dst, m);
}

void em_mov_rr(struct bt_emit *e, int dst, int src)
{
	em_rr(e, EM_W, OP_STORE, 1, src, dst);
}

void em_mov_r32(struct bt_emit *e, int dst, int src)
{
	em_rr(e, 0, OP_STORE, 1, src, dst);
}

void em_mov_imm(struct bt_emit *e, int reg, uint64_t imm)
{
	if (imm <= 0xffffffffull) {
		/* mov $imm32, %e<reg> zero-extends */
		em_prefixes(e, 0, (reg >> 3) & 1);
		em_byte(e, (uint8_t)(0xb8 | (reg & 7)));
		em_u32(e, (uint32_t)imm);
	} else if ((int64_t)imm == (int64_t)(int32_t)imm) {
		static const uint8_t op[] = { 0xc7 };

		em_rr(e, EM_W, op, 1, 0, reg);
		em_u32(e, (uint32_t)imm);
	} else {
		em_prefixes(e, EM_W, (reg >> 3) & 1);
		em_byte(e, (uint8_t)(0xb8 | (reg & 7)));
		em_u64(e, imm);
	}
}

void em_not(struct bt_emit *e, int reg)
{
	static const uint8_t op[] = { 0xf7 };

	em_rr(e, EM_W, op, 1, 2, reg);
}

void em_movzwl_rr(struct bt_emit *e, int dst, int src)
{
	static const uint8_t op[] = { 0x0f, 0xb7 };

	em_rr(e, 0, op, 2, dst, src);
}

void em_movzwl_ctx(struct bt_emit *e, int dst, int32_t off)
{
	static const uint8_t op[] = { 0x0f, 0xb7 };
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX, op, 2, dst, &m);
}

/* rorx $imm, src, dst: VEX.LZ.F2.0F3A.W1 F0 /r ib (BMI2; leaves the flags alone). */
void em_rorx(struct bt_emit *e, int dst, int src, uint8_t imm)
{
	em_byte(e, 0xc4);
	em_byte(e, (uint8_t)((((dst >> 3) & 1) ? 0 : 0x80) | 0x40 | (((src >> 3) & 1) ? 0 : 0x20) |
			     0x03));
	em_byte(e, 0x80 | 0x78 | 0x03);
	em_byte(e, 0xf0);
	em_byte(e, (uint8_t)(0xc0 | (dst & 7) << 3 | (src & 7)));
	em_byte(e, imm);
}

void em_jrcxz(struct bt_emit *e, int8_t rel)
{
	em_byte(e, 0xe3);
	em_byte(e, (uint8_t)rel);
}

void em_jmp8(struct bt_emit *e, int8_t rel)
{
	em_byte(e, 0xeb);
	em_byte(e, (uint8_t)rel);
}

void em_movzbl_ctx(struct bt_emit *e, int dst, int32_t off)
{
	static const uint8_t op[] = { 0x0f, 0xb6 };
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX, op, 2, dst, &m);
}

void em_patch_rel32(uint8_t *rel, const uint8_t *target)
{
	int32_t d = (int32_t)(target - (rel + 4));

	memcpy(rel, &d, 4);
}

uint8_t *em_jmp(struct bt_emit *e, const uint8_t *target)
{
	uint8_t *rel;

	em_byte(e, 0xe9);
	rel = e->p;
	em_u32(e, 0);
	if (!e->overflow)
		em_patch_rel32(rel, target);
	return rel;
}

uint8_t *em_jcc(struct bt_emit *e, unsigned cc, const uint8_t *target)
{
	uint8_t *rel;

	em_byte(e, 0x0f);
	em_byte(e, (uint8_t)(0x80 | (cc & 15)));
	rel = e->p;
	em_u32(e, 0);
	if (!e->overflow)
		em_patch_rel32(rel, target);
	return rel;
}

void em_jmp_ctx(struct bt_emit *e, int32_t off)
{
	static const uint8_t op[] = { 0xff };
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX, op, 1, 4, &m);
}

void em_call_ctx(struct bt_emit *e, int32_t off)
{
	static const uint8_t op[] = { 0xff };
	struct bt_mem m = bt_abs(off);

	em_rm(e, EM_CTX, op, 1, 2, &m);
}
