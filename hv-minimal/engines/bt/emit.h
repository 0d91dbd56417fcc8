/* A small x86-64 encoder for the instructions the translator generates itself (spills,
 * rewritten stack and string operations, lookups, exits). Guest instructions are not
 * encoded here: they are copied, with their memory operands rewritten byte by byte. */
#ifndef HVLAB_BT_EMIT_H
#define HVLAB_BT_EMIT_H
#include <stdint.h>

struct bt_emit {
	uint8_t *p;              /* next byte */
	uint8_t *start;          /* of the block being emitted */
	uint8_t *end;
	int overflow;            /* ran out of room: the block is abandoned */
	uint32_t ctx;            /* address of the vCPU's context block (below 2 GiB) */
};

/* A memory operand: base/index are register numbers or -1 (none); base = index = -1
 * is an absolute disp32 (sign-extended with 64-bit addressing, not with EM_A32). */
struct bt_mem {
	int base, index;
	unsigned scale;          /* 1, 2, 4, 8 */
	int32_t disp;
};

#define EM_CTX 0x01u             /* disp is an offset in the context block: absolute */
#define EM_GS  0x02u             /* %gs: prefix */
#define EM_A32 0x04u             /* 0x67: 32-bit address */
#define EM_O16 0x08u             /* 0x66: 16-bit operand */
#define EM_W   0x10u             /* REX.W */
#define EM_REX 0x20u             /* a REX prefix even when no bit is set (sil, dil...) */

static inline struct bt_mem bt_abs(int32_t disp)
{
	return (struct bt_mem){ .base = -1, .index = -1, .scale = 1, .disp = disp };
}

static inline struct bt_mem bt_based(int base, int32_t disp)
{
	return (struct bt_mem){ .base = base, .index = -1, .scale = 1, .disp = disp };
}

void em_byte(struct bt_emit *e, uint8_t b);
void em_bytes(struct bt_emit *e, const void *b, unsigned n);
void em_u32(struct bt_emit *e, uint32_t v);
void em_u64(struct bt_emit *e, uint64_t v);
/* op with a ModRM memory operand: reg field = reg (or an opcode extension). */
void em_rm(struct bt_emit *e, unsigned flags, const uint8_t *op, unsigned nop, int reg,
	   const struct bt_mem *m);
/* op with a ModRM register operand (mod = 11). */
void em_rr(struct bt_emit *e, unsigned flags, const uint8_t *op, unsigned nop, int reg, int rm);

/* The context block is reached by absolute 32-bit addresses (it is mapped below
 * 2 GiB, as the code cache is): no segment base is involved. */
void em_ctx_store(struct bt_emit *e, int reg, int32_t off);
void em_ctx_load(struct bt_emit *e, int reg, int32_t off);
void em_ctx_store_imm8(struct bt_emit *e, int32_t off, uint8_t imm);
/* 64-bit load/store through the window: %gs:disp(%e<base>). */
void em_gs_store(struct bt_emit *e, int reg, int base, int32_t disp, unsigned opflags);
void em_gs_load(struct bt_emit *e, int reg, int base, int32_t disp, unsigned opflags);
/* movq $imm32 (sign-extended), %gs:disp(%e<base>) */
void em_gs_store_imm32(struct bt_emit *e, int base, int32_t disp, int32_t imm);
void em_lea(struct bt_emit *e, int dst, const struct bt_mem *m);
void em_mov_rr(struct bt_emit *e, int dst, int src);
void em_mov_r32(struct bt_emit *e, int dst, int src);
void em_mov_imm(struct bt_emit *e, int reg, uint64_t imm);
void em_not(struct bt_emit *e, int reg);
void em_movzwl_rr(struct bt_emit *e, int dst, int src);
void em_movzwl_ctx(struct bt_emit *e, int dst, int32_t off);
void em_rorx(struct bt_emit *e, int dst, int src, uint8_t imm);
void em_jrcxz(struct bt_emit *e, int8_t rel);
void em_jmp8(struct bt_emit *e, int8_t rel);
void em_movzbl_ctx(struct bt_emit *e, int dst, int32_t off);
/* jmp/jcc rel32 to target; returns the address of the rel32 field. */
uint8_t *em_jmp(struct bt_emit *e, const uint8_t *target);
uint8_t *em_jcc(struct bt_emit *e, unsigned cc, const uint8_t *target);
void em_jmp_ctx(struct bt_emit *e, int32_t off);
void em_call_ctx(struct bt_emit *e, int32_t off);
/* Points an emitted rel32 at target. */
void em_patch_rel32(uint8_t *rel, const uint8_t *target);

#endif
