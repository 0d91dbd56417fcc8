/* The translator: one guest basic block (up to a branch, a page end, or a length cap)
 * decoded with Zydis and turned into host code in the code cache.
 *
 *   innocuous instruction        copied byte for byte
 *   explicit memory operand      re-encoded as %gs: + addr32 (0x65 0x67); RIP-relative
 *                                and absolute operands become 32-bit absolutes; a guest
 *                                %fs:/%gs: operand adds the guest's base in a scratch
 *   push/pop/call/ret/leave      explicit loads and stores through %gs:(%esp)
 *   string instructions          RSI/RDI turned into host pointers into the window
 *   jmp/jcc/loop                 exits to stubs that the run loop chains to the target
 *   indirect jmp/call, ret       an inline lookup in the context's table
 *   sensitive instructions       call-outs (bt_callout) with an exit record
 * Every sequence keeps the rule that lets a fault be made precise: before the last
 * instruction that can fault, no guest state has changed except registers spilled
 * to their slots (recorded in the block's instruction map). */
#include <stdio.h>
#include <string.h>

#include "bt.h"
#include "emit.h"
#include "hvlab/err.h"
#include "hvlab/log.h"

#define MAX_INSNS      64
#define MAX_EXITS      4
#define BLOCK_ROOM     (48u << 10)    /* code-cache room a block may need, at most */

struct pending_exit {
	uint8_t *rel;            /* rel32 of the jump that goes to the stub */
	uint64_t target;
};

struct tctx {
	struct bt_vcpu *v;
	struct bt_emit e;
	struct bt_tb *tb;
	uint64_t start, rip;     /* block start, current instruction */
	uint64_t next;           /* address after the current instruction */
	struct pending_exit exits[MAX_EXITS];
	unsigned nexits;
	int end;                 /* the block ends after this instruction */
	int unsupported;         /* the current instruction could not be translated */
	int fpu_checked;         /* the guest's FPU state is known loaded here */
	/* recovery state of the current instruction's host code (see struct bt_imap) */
	uint16_t spilled;
	uint8_t delta;
	int8_t rsp_adj;
	int sext;                /* kernel mode of the shared layout: addresses sign-extended */
};

int bt_decoder_init(ZydisDecoder *d)
{
	if (ZYAN_FAILED(ZydisDecoderInit(d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
		return hv_err_set("initializing the Zydis decoder failed");
	return 0;
}

/* ---- registers ---- */

static int gpr_id(ZydisRegister r)
{
	ZydisRegisterClass cls;

	if (r == ZYDIS_REGISTER_NONE)
		return -1;
	cls = ZydisRegisterGetClass(r);
	if (cls != ZYDIS_REGCLASS_GPR8 && cls != ZYDIS_REGCLASS_GPR16 &&
	    cls != ZYDIS_REGCLASS_GPR32 && cls != ZYDIS_REGCLASS_GPR64)
		return -2;
	return ZydisRegisterGetId(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r));
}

/* GPRs the instruction names anywhere (operands, hidden ones, address parts). */
static uint32_t used_regs(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op)
{
	uint32_t m = 1u << BT_RSP;

	for (unsigned i = 0; i < in->operand_count; i++) {
		int id;

		if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			id = gpr_id(op[i].reg.value);
			if (id >= 0)
				m |= 1u << id;
		} else if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
			id = gpr_id(op[i].mem.base);
			if (id >= 0)
				m |= 1u << id;
			id = gpr_id(op[i].mem.index);
			if (id >= 0)
				m |= 1u << id;
		}
	}
	return m;
}

/* A scratch register outside used; low = one of rax..rdi (no REX needed). */
static int pick_scratch(uint32_t *used, int low)
{
	static const int order[] = { BT_RAX, BT_RCX, BT_RDX, BT_RBX, BT_RSI, BT_RDI, 8, 9, 10,
				     11, 14, 15, 12, 13, BT_RBP };

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int r = order[i];

		if (low && r >= 8)
			continue;
		if (!(*used & (1u << r))) {
			*used |= 1u << r;
			return r;
		}
	}
	return -1;
}

static void imap_add(struct tctx *t);

/* From here on (within this instruction) the guest value of r is in its slot. */
static void spill(struct tctx *t, int r)
{
	em_ctx_store(&t->e, r, CTX_SPILLR(r));
	if (!(t->spilled & (1u << r))) {
		t->spilled |= (uint16_t)(1u << r);
		imap_add(t);
	}
}

static void unspill(struct tctx *t, int r)
{
	em_ctx_load(&t->e, r, CTX_SPILLR(r));
}

/* ---- the instruction map ---- */

static void imap_add(struct tctx *t)
{
	struct bt_cache *c = &t->v->cache;
	struct bt_imap *m;

	if (c->nimap >= c->max_imap) {
		t->e.overflow = 1;
		return;
	}
	m = &c->imap[c->nimap++];
	m->host_off = (uint32_t)(t->e.p - t->e.start);
	m->guest_off = (uint16_t)(t->rip - t->start);
	m->spill = t->spilled;
	m->delta = t->delta;
	m->rsp_adj = t->rsp_adj;
	t->tb->imap_count++;
}

/* ---- exits ---- */

/* mov %rsp,ctx.RSP; mov ctx.HOST_RSP,%rsp; call *ctx.EXIT_FN; then the record. */
struct bt_exit_info *bt_emit_exit(struct bt_emit *e, uint8_t kind)
{
	struct bt_exit_info *info;

	em_ctx_store(e, BT_RSP, CTX_REG(BT_RSP));
	em_ctx_load(e, BT_RSP, CTX_HOST_RSP);
	em_call_ctx(e, CTX_EXIT_FN);
	info = (struct bt_exit_info *)e->p;
	em_bytes(e, &(struct bt_exit_info){ .kind = kind }, sizeof(*info));
	return e->overflow ? NULL : info;
}

static struct bt_exit_info *emit_exit(struct tctx *t, uint8_t kind)
{
	return bt_emit_exit(&t->e, kind);
}

static void emit_callout(struct tctx *t, uint8_t op, const ZydisDecodedInstruction *in,
			 uint8_t a, uint8_t b, uint8_t c, uint32_t imm)
{
	struct bt_exit_info *info = emit_exit(t, BT_EXIT_CALLOUT);

	t->fpu_checked = 0;       /* C ran: the FPU registers are the host's again */

	if (!info)
		return;
	info->op = op;
	info->len = in ? in->length : 0;
	info->a = a;
	info->b = b;
	info->c = c;
	info->imm = imm;
	info->rip = t->rip;
}

/* The indirect-branch lookup. On entry RCX = guest target, the guest's RCX is in its
 * spill slot. A hit jumps to the block with RCX and RDX restored, flags untouched
 * (only mov, lea, not, movzx and jrcxz). */
static void emit_lookup(struct tctx *t)
{
	struct bt_emit *e = &t->e;
	static const uint8_t load[] = { 0x8b };
	/* the table of this block's CPL: user-mode code never finds a kernel-mode block */
	int32_t table = t->tb->kmode ? CTX_HTAB_K : CTX_HTAB;
	struct bt_mem key = { .base = -1, .index = BT_RDX, .scale = 8, .disp = table };
	struct bt_mem host = { .base = -1, .index = BT_RDX, .scale = 8, .disp = table + 8 };
	struct bt_mem dbl = { .base = BT_RDX, .index = BT_RDX, .scale = 1, .disp = 0 };
	struct bt_mem diff = { .base = BT_RCX, .index = BT_RDX, .scale = 1, .disp = 1 };
	uint8_t *jr, *miss;

	spill(t, BT_RDX);
	em_ctx_store(e, BT_RCX, CTX_TARGET);
	em_movzwl_rr(e, BT_RDX, BT_RCX);
	em_lea(e, BT_RDX, &dbl);
	em_not(e, BT_RCX);
	em_rm(e, EM_CTX | EM_W, load, 1, BT_RDX, &key);
	em_lea(e, BT_RCX, &diff);                   /* key - target */
	em_jrcxz(e, 0);
	jr = e->p - 1;
	miss = e->p;
	unspill(t, BT_RCX);
	unspill(t, BT_RDX);
	emit_exit(t, BT_EXIT_LOOKUP);
	if (!e->overflow)
		*jr = (uint8_t)(e->p - miss);
	em_movzwl_ctx(e, BT_RDX, CTX_TARGET);
	em_lea(e, BT_RDX, &dbl);
	em_rm(e, EM_CTX | EM_W, load, 1, BT_RDX, &host);
	em_ctx_store(e, BT_RDX, CTX_JMP);
	unspill(t, BT_RDX);
	unspill(t, BT_RCX);
	em_jmp_ctx(e, CTX_JMP);
}

/* A direct branch to target: a jump to a stub emitted after the block (see
 * emit_stubs). */
static void branch_to(struct tctx *t, uint8_t *rel, uint64_t target)
{
	if (t->nexits >= MAX_EXITS) {
		t->e.overflow = 1;
		return;
	}
	t->exits[t->nexits++] = (struct pending_exit){ .rel = rel, .target = target };
}

/* Direct branches may be chained when the target's translation stays valid as long
 * as the source's does: same guest page, or both in the kernel half (which every
 * address space shares). Others go through the lookup table, which is flushed with
 * the address space. */
static int chainable(const struct tctx *t, uint64_t target)
{
	if ((target >> 12) == (t->start >> 12))
		return 1;
	return (int64_t)target < 0 && (int64_t)t->start < 0;
}

static void emit_stubs(struct tctx *t)
{
	for (unsigned i = 0; i < t->nexits && !t->e.overflow; i++) {
		struct pending_exit *x = &t->exits[i];

		em_patch_rel32(x->rel, t->e.p);
		if (chainable(t, x->target)) {
			struct bt_exit_info *info = emit_exit(t, BT_EXIT_BRANCH);

			if (info) {
				info->rip = x->target;
				info->patch = (uint32_t)(x->rel - t->v->cache.code);
			}
		} else {
			spill(t, BT_RCX);
			em_mov_imm(&t->e, BT_RCX, x->target);
			emit_lookup(t);
		}
	}
}

/* ---- memory operands ---- */

/* The host operand for a guest memory operand. A guest FS/GS segment adds the guest's
 * base: the address goes into a scratch register (two spilled, set in *spilled). */
static struct bt_mem mem_operand(struct tctx *t, const ZydisDecodedInstruction *in,
				 const ZydisDecodedOperand *op, uint32_t *used, int low,
				 uint32_t *spilled)
{
	int base = gpr_id(op->mem.base), index = gpr_id(op->mem.index);
	int64_t disp = op->mem.disp.value;
	int rip_rel = op->mem.base == ZYDIS_REGISTER_RIP || op->mem.base == ZYDIS_REGISTER_EIP;
	uint64_t abs = rip_rel ? t->next + (uint64_t)disp : (uint64_t)disp;
	struct bt_mem m;

	*spilled = 0;
	if (index < -1 || (!rip_rel && base < -1)) {
		t->unsupported = 1;
		return bt_abs(0);
	}
	if (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS) {
		int x = pick_scratch(used, low), y = pick_scratch(used, 0);
		struct bt_mem sum;

		if (x < 0 || y < 0) {
			t->unsupported = 1;
			return bt_abs(0);
		}
		spill(t, x);
		spill(t, y);
		if (rip_rel || (base < 0 && index < 0)) {
			em_mov_imm(&t->e, x, abs);
		} else {
			m = (struct bt_mem){ .base = base, .index = index, .scale = op->mem.scale,
					     .disp = (int32_t)disp };
			em_lea(&t->e, x, &m);
		}
		if (in->address_width == 32)
			em_mov_r32(&t->e, x, x);   /* a 32-bit guest address wraps at 4 GiB */
		em_ctx_load(&t->e, y, op->mem.segment == ZYDIS_REGISTER_FS ? CTX_GFSBASE
									  : CTX_GGSBASE);
		sum = (struct bt_mem){ .base = x, .index = y, .scale = 1, .disp = 0 };
		em_lea(&t->e, x, &sum);
		*spilled = 1u << x | 1u << y;
		return bt_based(x, 0);
	}
	if (rip_rel || (base < 0 && index < 0))
		return bt_abs((int32_t)(uint32_t)abs);
	return (struct bt_mem){ .base = base, .index = index, .scale = op->mem.scale ? op->mem.scale : 1,
				.disp = (int32_t)disp };
}

/* Guest memory operand m (its address wrapped to 32 bits, as addr32 does) reached
 * through GS for this block. User-mode blocks, and every block of the split layout,
 * use it as it is with addr32: the window is [W, W+4G), the kernel half in its top
 * 2 GiB. Kernel-mode blocks of the shared layout (one GS base for both CPLs,
 * segbase.c) sign-extend the address into a scratch register outside *used (lea to
 * 32 bits, movslq: no flags), so that the kernel half lands in [W-2G, W), where
 * user-mode code cannot reach. Returns the em_rm flags; *x is the scratch to give back
 * after the access (guest_operand_done), or -1. low: a scratch that needs no REX. */
static unsigned guest_operand(struct tctx *t, struct bt_mem *m, uint32_t *used, int low, int *x)
{
	static const uint8_t lea[] = { 0x8d }, movsxd[] = { 0x63 };

	*x = -1;
	if (!t->sext)
		return EM_GS | EM_A32;
	if (m->base >= 0)
		*used |= 1u << m->base;
	if (m->index >= 0)
		*used |= 1u << m->index;
	*x = pick_scratch(used, low);
	if (*x < 0) {
		t->unsupported = 1;
		return EM_GS;
	}
	spill(t, *x);
	em_rm(&t->e, 0, lea, 1, *x, m);
	em_rr(&t->e, EM_W, movsxd, 1, *x, *x);
	*m = bt_based(*x, 0);
	return EM_GS;
}

static void guest_operand_done(struct tctx *t, int x)
{
	if (x >= 0)
		unspill(t, x);
}

/* One access of the translator's own to guest memory at m: op (nop bytes) with reg in
 * the ModRM reg field (a register, marked in used, or an opcode extension), then imm
 * (nimm bytes). used: the registers the access must leave alone. */
static void em_guest(struct tctx *t, unsigned flags, const uint8_t *op, unsigned nop, int reg,
		     struct bt_mem m, uint32_t used, const void *imm, unsigned nimm)
{
	int x;
	unsigned f = guest_operand(t, &m, &used, 0, &x);

	if (t->unsupported)
		return;
	em_rm(&t->e, f | flags, op, nop, reg, &m);
	if (nimm)
		em_bytes(&t->e, imm, nimm);
	guest_operand_done(t, x);
}

static const uint8_t OPC_LOAD[] = { 0x8b }, OPC_STORE[] = { 0x89 }, OPC_MOVI[] = { 0xc7 };

static int is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return 1;
	}
	return 0;
}

/* Length of the prefix bytes before the REX (if any) and the opcode: legacy prefixes,
 * and REX bytes that another prefix follows (the CPU ignores those). */
static unsigned prefix_len(const uint8_t *raw, unsigned len)
{
	unsigned n = 0;

	while (n < len) {
		if (is_legacy_prefix(raw[n]))
			n++;
		else if ((raw[n] & 0xf0) == 0x40 && n + 1 < len &&
			 (is_legacy_prefix(raw[n + 1]) || (raw[n + 1] & 0xf0) == 0x40))
			n++;
		else
			break;
	}
	return n;
}

/* Checks a rewritten instruction: same mnemonic and length as emitted, and every
 * memory operand it has goes through %gs: with a 32-bit address. This is the
 * translator's isolation guarantee, so it is checked for every instruction. */
static int verify_rewrite(struct tctx *t, const ZydisDecodedInstruction *orig,
			  const uint8_t *p, unsigned len)
{
	/* sign-extended (guest_operand): %gs: and one 64-bit base register, nothing else */
	unsigned width = t->sext ? 64 : 32;

	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];

	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&t->v->dec, p, len, &in, op)) ||
	    in.length != len || in.mnemonic != orig->mnemonic)
		return -1;
	for (unsigned i = 0; i < in.operand_count; i++)
		if (op[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    op[i].mem.type != ZYDIS_MEMOP_TYPE_AGEN &&
		    (op[i].mem.segment != ZYDIS_REGISTER_GS || in.address_width != width ||
		     (t->sext && (op[i].mem.index != ZYDIS_REGISTER_NONE ||
				  op[i].mem.disp.value != 0 ||
				  ZydisRegisterGetClass(op[i].mem.base) != ZYDIS_REGCLASS_GPR64))))
			return -1;
	return 0;
}

/* Emits the guest instruction raw (legacy or REX encoded, one ModRM memory operand or
 * a moffs form) with its memory operand replaced by m, through %gs: with addr32. */
static void emit_rewritten(struct tctx *t, const ZydisDecodedInstruction *in,
			   const uint8_t *raw, const struct bt_mem *m)
{
	/* LAB 3 BEGIN: rewrite */
	struct bt_emit *e = &t->e;
	uint8_t *start = e->p;
	unsigned lp = 0, opc, opc_end, tail, flags = 0;
	int has_rex = (in->attributes & ZYDIS_ATTRIB_HAS_REX) != 0, reg;
	uint8_t moffs_op;

	lp = prefix_len(raw, in->length);
	if (has_rex && in->raw.rex.offset != lp) {
		t->unsupported = 1;
		return;
	}
	opc = lp + (has_rex ? 1 : 0);
	if (has_rex && in->raw.rex.W)
		flags |= EM_W;
	if (has_rex)
		flags |= EM_REX;
	em_byte(e, 0x65);
	if (!t->sext)
		em_byte(e, 0x67);
	for (unsigned i = 0; i < lp; i++)
		if (raw[i] == 0x66 || raw[i] == 0xf0 || raw[i] == 0xf2 || raw[i] == 0xf3)
			em_byte(e, raw[i]);
	if (in->attributes & ZYDIS_ATTRIB_HAS_MODRM) {
		opc_end = in->raw.modrm.offset;
		reg = in->raw.modrm.reg | ((has_rex && in->raw.rex.R) ? 8 : 0);
		if (in->raw.disp.size)
			tail = in->raw.disp.offset + in->raw.disp.size / 8u;
		else if (in->attributes & ZYDIS_ATTRIB_HAS_SIB)
			tail = in->raw.sib.offset + 1u;
		else
			tail = in->raw.modrm.offset + 1u;
		em_rm(e, flags, raw + opc, opc_end - opc, reg, m);
	} else if (in->opcode >= 0xa0 && in->opcode <= 0xa3 && opc + 1 == in->raw.disp.offset) {
		/* mov moffs <-> AL/AX/EAX/RAX as the ModRM form 8a/8b/88/89 */
		static const uint8_t modrm_form[] = { 0x8a, 0x8b, 0x88, 0x89 };

		moffs_op = modrm_form[in->opcode - 0xa0];
		tail = in->raw.disp.offset + in->raw.disp.size / 8u;
		em_rm(e, flags, &moffs_op, 1, BT_RAX, m);
	} else {
		t->unsupported = 1;
		return;
	}
	em_bytes(e, raw + tail, in->length - tail);
	if (e->overflow)
		return;
	if (e->p - start > 15 || verify_rewrite(t, in, start, (unsigned)(e->p - start))) {
		char hex[64] = "";

		for (uint8_t *q = start; q < e->p && q - start < 15; q++)
			snprintf(hex + 3 * (q - start), 4, " %02x", *q);
		hv_debug("bt: the rewrite of %s at %#llx does not check out:%s",
			 ZydisMnemonicGetString(in->mnemonic), (unsigned long long)t->rip, hex);
		e->p = start;
		t->unsupported = 1;
	}
	/* LAB 3 END: rewrite */
}

/* An instruction with one explicit memory operand, copied with it rewritten. */
static void translate_mem(struct tctx *t, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *op, const uint8_t *raw, int memop)
{
	uint32_t used = used_regs(in, op), spilled;
	int has_rex = (in->attributes & ZYDIS_ATTRIB_HAS_REX) != 0;
	struct bt_mem m = mem_operand(t, in, &op[memop], &used, !has_rex, &spilled);
	int x;

	if (t->unsupported)
		return;
	guest_operand(t, &m, &used, !has_rex, &x);
	if (t->unsupported)
		return;
	emit_rewritten(t, in, raw, &m);
	guest_operand_done(t, x);
	for (int r = 0; r < 16; r++)
		if (spilled & (1u << r))
			unspill(t, r);
}

/* ---- stack ---- */

static unsigned opsize_flags(unsigned bytes)
{
	return bytes == 8 ? EM_W : bytes == 2 ? EM_O16 : 0;
}

/* Loads the value of a push/jmp/call source operand (register, memory, immediate)
 * into register dst, 64 bits (or 16 with o16). */
static void load_operand(struct tctx *t, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *op, int dst, uint32_t *used, unsigned o16)
{
	static const uint8_t load[] = { 0x8b };

	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		int r = gpr_id(op->reg.value);

		if (r < 0) {
			t->unsupported = 1;
			return;
		}
		if (r != dst)
			em_rr(&t->e, o16 ? EM_O16 : EM_W, (const uint8_t[]){ 0x89 }, 1, r, dst);
	} else if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
		uint32_t spilled;
		struct bt_mem m = mem_operand(t, in, op, used, 0, &spilled);

		if (t->unsupported)
			return;
		em_guest(t, o16 ? EM_O16 : EM_W, load, 1, dst, m, *used | 1u << dst, NULL, 0);
		for (int r = 0; r < 16; r++)
			if (spilled & (1u << r))
				unspill(t, r);
	} else {
		t->unsupported = 1;
	}
}

static void translate_push(struct tctx *t, const ZydisDecodedInstruction *in,
			   const ZydisDecodedOperand *op)
{
	unsigned size = in->operand_width / 8;
	unsigned of = opsize_flags(size);
	struct bt_mem down = bt_based(BT_RSP, -(int32_t)size);

	if (size != 8 && size != 2) {
		t->unsupported = 1;
		return;
	}
	if (op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_id(op[0].reg.value) >= 0) {
		int r = gpr_id(op[0].reg.value);

		em_guest(t, of, OPC_STORE, 1, r, bt_based(BT_RSP, -(int32_t)size), 1u << r, NULL, 0);
	} else if (op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		if (size == 8) {
			int32_t imm = (int32_t)op[0].imm.value.s;

			em_guest(t, EM_W, OPC_MOVI, 1, 0, bt_based(BT_RSP, -8), 0, &imm, 4);
		} else {
			uint16_t imm = (uint16_t)op[0].imm.value.u;

			em_guest(t, EM_O16, OPC_MOVI, 1, 0, bt_based(BT_RSP, -2), 0, &imm, 2);
		}
	} else {
		uint32_t used = used_regs(in, op);
		int x = pick_scratch(&used, 0);

		if (x < 0) {
			t->unsupported = 1;
			return;
		}
		spill(t, x);
		load_operand(t, in, &op[0], x, &used, size == 2);
		em_guest(t, of, OPC_STORE, 1, x, bt_based(BT_RSP, -(int32_t)size), used, NULL, 0);
		em_lea(&t->e, BT_RSP, &down);
		unspill(t, x);
		return;
	}
	em_lea(&t->e, BT_RSP, &down);
}

static void translate_pop(struct tctx *t, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *op)
{
	unsigned size = in->operand_width / 8;
	unsigned of = opsize_flags(size);
	struct bt_mem up = bt_based(BT_RSP, (int32_t)size);

	if (size != 8 && size != 2) {
		t->unsupported = 1;
		return;
	}
	if (op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_id(op[0].reg.value) >= 0) {
		int r = gpr_id(op[0].reg.value);

		em_guest(t, of, OPC_LOAD, 1, r, bt_based(BT_RSP, 0), 1u << r, NULL, 0);
		if (r != BT_RSP)
			em_lea(&t->e, BT_RSP, &up);
		return;
	}
	if (op[0].type != ZYDIS_OPERAND_TYPE_MEMORY) {
		t->unsupported = 1;
		return;
	}
	/* pop to memory: the address is computed after RSP has moved up */
	uint32_t used = used_regs(in, op), spilled;
	int x = pick_scratch(&used, 0);
	static const uint8_t store[] = { 0x89 };

	if (x < 0) {
		t->unsupported = 1;
		return;
	}
	spill(t, x);
	em_guest(t, of, OPC_LOAD, 1, x, bt_based(BT_RSP, 0), used, NULL, 0);
	em_lea(&t->e, BT_RSP, &up);
	t->rsp_adj = (int8_t)-(int)size;
	imap_add(t);
	struct bt_mem m = mem_operand(t, in, &op[0], &used, 0, &spilled);

	if (t->unsupported)
		return;
	em_guest(t, of, store, 1, x, m, used, NULL, 0);
	for (int r = 0; r < 16; r++)
		if (spilled & (1u << r))
			unspill(t, r);
	unspill(t, x);
}

static void translate_leave(struct tctx *t, const ZydisDecodedInstruction *in)
{
	struct bt_mem up = bt_based(BT_RBP, 8);

	if (in->operand_width != 64) {
		t->unsupported = 1;
		return;
	}
	spill(t, BT_RAX);
	em_guest(t, EM_W, OPC_LOAD, 1, BT_RAX, bt_based(BT_RBP, 0), 1u << BT_RAX, NULL, 0);
	em_lea(&t->e, BT_RSP, &up);
	em_mov_rr(&t->e, BT_RBP, BT_RAX);
	unspill(t, BT_RAX);
}

/* Pushes the return address of a call. */
static void push_return(struct tctx *t)
{
	struct bt_mem down = bt_based(BT_RSP, -8);

	if ((int64_t)t->next == (int64_t)(int32_t)t->next) {
		int32_t imm = (int32_t)t->next;

		em_guest(t, EM_W, OPC_MOVI, 1, 0, down, 1u << BT_RCX, &imm, 4);
	} else {
		spill(t, BT_RDX);
		em_mov_imm(&t->e, BT_RDX, t->next);
		em_guest(t, EM_W, OPC_STORE, 1, BT_RDX, down, 1u << BT_RCX | 1u << BT_RDX, NULL, 0);
		unspill(t, BT_RDX);
	}
	em_lea(&t->e, BT_RSP, &down);
}

/* ---- control flow ---- */

static void translate_branch(struct tctx *t, const ZydisDecodedInstruction *in,
			     const ZydisDecodedOperand *op, const uint8_t *raw)
{
	struct bt_emit *e = &t->e;
	int relative = op[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op[0].imm.is_relative;
	uint64_t target = relative ? t->next + (uint64_t)op[0].imm.value.s : 0;
	uint32_t used = used_regs(in, op) | 1u << BT_RCX | 1u << BT_RDX;

	t->end = 1;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_CALL: {
		int call = in->mnemonic == ZYDIS_MNEMONIC_CALL;

		if (relative) {
			if (call)
				push_return(t);
			branch_to(t, em_jmp(e, e->p), target);
			return;
		}
		if (in->operand_width != 64) {
			t->unsupported = 1;
			return;
		}
		/* The target is read before the push: `call *(%rsp)` uses the old rsp. */
		spill(t, BT_RCX);
		load_operand(t, in, &op[0], BT_RCX, &used, 0);
		if (call)
			push_return(t);
		emit_lookup(t);
		return;
	}
	case ZYDIS_MNEMONIC_RET: {
		int32_t pop = 8 + (in->operand_count_visible ? (int32_t)op[0].imm.value.u : 0);
		struct bt_mem up = bt_based(BT_RSP, pop);

		if (in->operand_width != 64) {
			t->unsupported = 1;
			return;
		}
		spill(t, BT_RCX);
		em_guest(t, EM_W, OPC_LOAD, 1, BT_RCX, bt_based(BT_RSP, 0), 1u << BT_RCX, NULL, 0);
		em_lea(e, BT_RSP, &up);
		emit_lookup(t);
		return;
	}
	case ZYDIS_MNEMONIC_LOOP:
	case ZYDIS_MNEMONIC_LOOPE:
	case ZYDIS_MNEMONIC_LOOPNE:
	case ZYDIS_MNEMONIC_JRCXZ:
	case ZYDIS_MNEMONIC_JECXZ: {
		/* rel8 only: "op +5; jmp fallthrough; jmp target" */
		for (unsigned i = 0; i < in->length - 1u; i++)
			if (raw[i] == 0x67)
				em_byte(e, 0x67);
		em_byte(e, in->opcode);
		em_byte(e, 5);
		branch_to(t, em_jmp(e, e->p), t->next);
		branch_to(t, em_jmp(e, e->p), target);
		return;
	}
	default:
		if (in->meta.category == ZYDIS_CATEGORY_COND_BR && relative) {
			branch_to(t, em_jcc(e, in->opcode & 15, e->p), target);
			branch_to(t, em_jmp(e, e->p), t->next);
			return;
		}
		t->unsupported = 1;
	}
}

/* ---- string instructions ---- */

static void translate_string(struct tctx *t, const ZydisDecodedInstruction *in,
			     const uint8_t *raw)
{
	struct bt_emit *e = &t->e;
	uint8_t ptrs = 0;
	const int a = BT_RDX, b = BT_RBX;
	unsigned lp = 0;

	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
	case ZYDIS_MNEMONIC_MOVSQ: case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW:
	case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_CMPSQ:
		ptrs = 1u << BT_RSI | 1u << BT_RDI;
		break;
	case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
	case ZYDIS_MNEMONIC_STOSQ: case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW:
	case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
		ptrs = 1u << BT_RDI;
		break;
	case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
	case ZYDIS_MNEMONIC_LODSQ:
		ptrs = 1u << BT_RSI;
		break;
	default:
		t->unsupported = 1;
		return;
	}
	/* 32-bit addressing and a source segment (FS/GS) are not handled here. */
	lp = prefix_len(raw, in->length);
	for (unsigned i = 0; i < lp; i++)
		if (raw[i] == 0x67 || raw[i] == 0x64 || raw[i] == 0x65) {
			t->unsupported = 1;
			return;
		}
	spill(t, a);
	spill(t, b);
	for (int p = BT_RSI; p <= BT_RDI; p++) {
		struct bt_mem sum = { .base = a, .index = b, .scale = 1, .disp = 0 };
		struct bt_mem host = { .base = b, .index = p, .scale = 1, .disp = 0 };

		if (!(ptrs & (1u << p)))
			continue;
		if (t->sext) {
			/* delta = p - sext32(p) - window; p = window + sext32(p) (the kernel
			 * mode of the shared layout; not, lea: no flags) */
			static const uint8_t movsxd[] = { 0x63 };
			struct bt_mem diff = { .base = a, .index = b, .scale = 1, .disp = 1 };

			em_mov_rr(e, a, p);
			em_rr(e, EM_W, movsxd, 1, b, p);
			em_not(e, b);
			em_lea(e, a, &diff);
			em_ctx_load(e, b, CTX_NEGWIN);
			em_lea(e, a, &sum);
			em_ctx_store(e, a, CTX_DELTAR(p));
			em_rr(e, EM_W, movsxd, 1, p, p);
		} else {
			/* delta = (p & ~0xffffffff) - window; p = window + (uint32_t)p */
			em_rorx(e, a, p, 32);
			em_mov_r32(e, a, a);
			em_rorx(e, a, a, 32);
			em_ctx_load(e, b, CTX_NEGWIN);
			em_lea(e, a, &sum);
			em_ctx_store(e, a, CTX_DELTAR(p));
			em_mov_r32(e, p, p);
		}
		em_ctx_load(e, b, CTX_WINBASE);
		em_lea(e, p, &host);
	}
	unspill(t, a);
	unspill(t, b);
	t->delta = ptrs;
	imap_add(t);
	/* the instruction itself, without segment prefixes (ES/DS: flat, as the host's)
	 * and ignored REX bytes */
	for (unsigned i = 0; i < in->length; i++)
		if (i >= lp || !(raw[i] == 0x26 || raw[i] == 0x2e || raw[i] == 0x36 ||
				 raw[i] == 0x3e || (raw[i] & 0xf0) == 0x40))
			em_byte(e, raw[i]);
	spill(t, a);
	for (int p = BT_RSI; p <= BT_RDI; p++) {
		struct bt_mem back = { .base = p, .index = a, .scale = 1, .disp = 0 };

		if (!(ptrs & (1u << p)))
			continue;
		em_ctx_load(e, a, CTX_DELTAR(p));
		em_lea(e, p, &back);
	}
	unspill(t, a);
}

/* ---- sensitive instructions ---- */

static int has_sys_reg(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op,
		       ZydisRegisterClass cls, int *which)
{
	for (unsigned i = 0; i < in->operand_count_visible; i++)
		if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(op[i].reg.value) == cls) {
			*which = (int)i;
			return 1;
		}
	return 0;
}

/* Returns 1 when the instruction became a call-out (or #UD). */
/* swapgs in a block translated for CPL 0 exchanges two context-block words inline
 * (mov only: no flags); elsewhere it is the call-out, which raises #GP. */
static void emit_swapgs(struct tctx *t, const ZydisDecodedInstruction *in)
{
	struct bt_emit *e = &t->e;

	if (!t->tb->kmode) {
		emit_callout(t, BT_CO_SWAPGS, in, 0, 0, 0, 0);
		return;
	}
	spill(t, BT_RCX);
	em_ctx_load(e, BT_RCX, CTX_GGSBASE);
	em_ctx_store(e, BT_RCX, CTX_SWAP_TMP);
	em_ctx_load(e, BT_RCX, CTX_KGSBASE);
	em_ctx_store(e, BT_RCX, CTX_GGSBASE);
	em_ctx_load(e, BT_RCX, CTX_SWAP_TMP);
	em_ctx_store(e, BT_RCX, CTX_KGSBASE);
	unspill(t, BT_RCX);
}

static int translate_sensitive(struct tctx *t, const ZydisDecodedInstruction *in,
			       const ZydisDecodedOperand *op)
{
	uint8_t co = 0, a = 0, b = 0, c = 0;
	uint32_t imm = 0;
	int end = 0, w;

	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_CLI: co = BT_CO_CLI; break;
	case ZYDIS_MNEMONIC_STI: co = BT_CO_STI; break;
	case ZYDIS_MNEMONIC_PUSHFQ: case ZYDIS_MNEMONIC_PUSHF: co = BT_CO_PUSHF; break;
	case ZYDIS_MNEMONIC_POPFQ: case ZYDIS_MNEMONIC_POPF: co = BT_CO_POPF; break;
	case ZYDIS_MNEMONIC_HLT: co = BT_CO_HLT; break;
	case ZYDIS_MNEMONIC_CPUID: co = BT_CO_CPUID; break;
	case ZYDIS_MNEMONIC_RDMSR: co = BT_CO_RDMSR; break;
	case ZYDIS_MNEMONIC_WRMSR: co = BT_CO_WRMSR; end = 1; break;
	case ZYDIS_MNEMONIC_IN:
	case ZYDIS_MNEMONIC_OUT:
		/* LAB 3 BEGIN: io-callout */
		co = in->mnemonic == ZYDIS_MNEMONIC_IN ? BT_CO_IN : BT_CO_OUT;
		/* the AL/AX/EAX operand gives the size; the port is imm8 or DX */
		for (unsigned i = 0; i < in->operand_count_visible; i++) {
			if (op[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			    op[i].reg.value != ZYDIS_REGISTER_DX)
				a = (uint8_t)(op[i].size / 8);
			if (op[i].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
				b = 1;
				imm = (uint32_t)op[i].imm.value.u;
			}
		}
		/* LAB 3 END: io-callout */
		break;
	case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
	case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
		co = in->meta.category == ZYDIS_CATEGORY_IOSTRINGOP &&
		     (in->mnemonic == ZYDIS_MNEMONIC_INSB || in->mnemonic == ZYDIS_MNEMONIC_INSW ||
		      in->mnemonic == ZYDIS_MNEMONIC_INSD) ? BT_CO_INS : BT_CO_OUTS;
		a = (uint8_t)(in->operand_width / 8);
		if (in->mnemonic == ZYDIS_MNEMONIC_INSB || in->mnemonic == ZYDIS_MNEMONIC_OUTSB)
			a = 1;
		b = (in->attributes & ZYDIS_ATTRIB_HAS_REP) != 0;
		break;
	case ZYDIS_MNEMONIC_LGDT: co = BT_CO_LGDT; break;
	case ZYDIS_MNEMONIC_LIDT: co = BT_CO_LIDT; break;
	case ZYDIS_MNEMONIC_LTR: co = BT_CO_LTR; break;
	case ZYDIS_MNEMONIC_LLDT: co = BT_CO_LLDT; break;
	case ZYDIS_MNEMONIC_SGDT: co = BT_CO_SGDT; break;
	case ZYDIS_MNEMONIC_SIDT: co = BT_CO_SIDT; break;
	case ZYDIS_MNEMONIC_STR: co = BT_CO_STR; break;
	case ZYDIS_MNEMONIC_SLDT: co = BT_CO_SLDT; break;
	case ZYDIS_MNEMONIC_SMSW: co = BT_CO_SMSW; break;
	case ZYDIS_MNEMONIC_LMSW: co = BT_CO_LMSW; end = 1; break;
	case ZYDIS_MNEMONIC_CLTS: co = BT_CO_CLTS; break;
	case ZYDIS_MNEMONIC_INVLPG: co = BT_CO_INVLPG; end = 1; break;
	case ZYDIS_MNEMONIC_SWAPGS:
		emit_swapgs(t, in);
		return 1;
	case ZYDIS_MNEMONIC_SYSCALL: co = BT_CO_SYSCALL; end = 1; break;
	case ZYDIS_MNEMONIC_SYSRET: co = BT_CO_SYSRET; end = 1; break;
	case ZYDIS_MNEMONIC_IRETQ: case ZYDIS_MNEMONIC_IRETD: case ZYDIS_MNEMONIC_IRET:
		co = BT_CO_IRETQ;
		a = (uint8_t)(in->operand_width / 8);
		end = 1;
		break;
	case ZYDIS_MNEMONIC_INT: co = BT_CO_INT; imm = (uint32_t)op[0].imm.value.u; end = 1; break;
	case ZYDIS_MNEMONIC_INT3: co = BT_CO_INT3; end = 1; break;
	case ZYDIS_MNEMONIC_INT1: co = BT_CO_INT1; end = 1; break;
	case ZYDIS_MNEMONIC_RDTSCP: co = BT_CO_RDTSCP; break;
	case ZYDIS_MNEMONIC_RDPID: co = BT_CO_RDPID; break;
	case ZYDIS_MNEMONIC_RDFSBASE: co = BT_CO_RDFSBASE; break;
	case ZYDIS_MNEMONIC_RDGSBASE: co = BT_CO_RDGSBASE; break;
	case ZYDIS_MNEMONIC_WRFSBASE: co = BT_CO_WRFSBASE; break;
	case ZYDIS_MNEMONIC_WRGSBASE: co = BT_CO_WRGSBASE; break;
	case ZYDIS_MNEMONIC_WBINVD: case ZYDIS_MNEMONIC_INVD: co = BT_CO_WBINVD; break;
	case ZYDIS_MNEMONIC_XGETBV: co = BT_CO_XGETBV; break;
	case ZYDIS_MNEMONIC_RDPMC: co = BT_CO_RDPMC; break;
	case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR:
	case ZYDIS_MNEMONIC_VERW:
		co = BT_CO_LAR_LSL;
		break;
	case ZYDIS_MNEMONIC_ENTER: co = BT_CO_ENTER; break;
	case ZYDIS_MNEMONIC_PUSH:
		if (op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT)
			co = BT_CO_PUSH_SREG;
		break;
	case ZYDIS_MNEMONIC_POP:
		if (op[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(op[0].reg.value) == ZYDIS_REGCLASS_SEGMENT)
			co = BT_CO_POP_SREG;
		break;
	case ZYDIS_MNEMONIC_MOV:
		if (has_sys_reg(in, op, ZYDIS_REGCLASS_CONTROL, &w)) {
			co = w == 0 ? BT_CO_MOV_TO_CR : BT_CO_MOV_FROM_CR;
			/* the record carries the operands: no decoding in the call-out */
			a = (uint8_t)(op[w].reg.value - ZYDIS_REGISTER_CR0);
			/* a write ends the block, but of CR2 and CR8 (callout.c goes on) */
			end = w == 0 && a != 2 && a != 8;
			b = (uint8_t)gpr_id(op[1 - w].reg.value);
			c = 1;
		} else if (has_sys_reg(in, op, ZYDIS_REGCLASS_DEBUG, &w)) {
			co = BT_CO_MOV_DR;
		} else if (has_sys_reg(in, op, ZYDIS_REGCLASS_SEGMENT, &w)) {
			co = w == 0 ? BT_CO_MOV_TO_SREG : BT_CO_MOV_FROM_SREG;
		}
		break;
	case ZYDIS_MNEMONIC_LFS: case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
		co = BT_CO_MOV_TO_SREG;
		break;
	case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CALL: case ZYDIS_MNEMONIC_RET:
		if (in->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) {
			co = BT_CO_FAR;
			end = 1;
		}
		break;
	case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
		co = BT_CO_UD;
		end = 1;
		break;
	default:
		break;
	}
	if (!co)
		return 0;
	emit_callout(t, co, in, a, b, c, imm);
	t->end |= end;
	return 1;
}

/* Instructions that read or write x87, MMX or SSE state. */
static int uses_fpu(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *op)
{
	for (unsigned i = 0; i < in->operand_count; i++) {
		if (op[i].type != ZYDIS_OPERAND_TYPE_REGISTER)
			continue;
		switch (ZydisRegisterGetClass(op[i].reg.value)) {
		case ZYDIS_REGCLASS_X87: case ZYDIS_REGCLASS_MMX: case ZYDIS_REGCLASS_XMM:
		case ZYDIS_REGCLASS_YMM: case ZYDIS_REGCLASS_ZMM:
			return 1;
		default:
			break;
		}
	}
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_X87_ALU: case ZYDIS_CATEGORY_FCMOV: case ZYDIS_CATEGORY_MMX:
	case ZYDIS_CATEGORY_SSE: case ZYDIS_CATEGORY_AES: case ZYDIS_CATEGORY_PCLMULQDQ:
	case ZYDIS_CATEGORY_SHA: case ZYDIS_CATEGORY_STTNI: case ZYDIS_CATEGORY_GFNI:
	case ZYDIS_CATEGORY_LOGICAL_FP:
		return 1;
	default:
		return 0;
	}
}

/* Before the first FPU instruction after C has run: the guest's FPU state must be in
 * the registers (else an exit loads it), and it is marked as changed. Flags untouched. */
static void emit_fpu_check(struct tctx *t)
{
	struct bt_emit *e = &t->e;
	uint8_t *jr, *jm, *slow;

	em_ctx_store(e, BT_RCX, CTX_SPILLR(BT_RCX));
	em_movzbl_ctx(e, BT_RCX, CTX_FPU_HW);
	em_jrcxz(e, 0);
	jr = e->p - 1;
	em_ctx_load(e, BT_RCX, CTX_SPILLR(BT_RCX));
	em_jmp8(e, 0);
	jm = e->p - 1;
	slow = e->p;
	em_ctx_load(e, BT_RCX, CTX_SPILLR(BT_RCX));
	emit_exit(t, BT_EXIT_FPU);
	if (!e->overflow) {
		*jr = (uint8_t)(slow - (jr + 1));
		*jm = (uint8_t)(e->p - (jm + 1));
	}
	em_ctx_store_imm8(e, CTX_FPU_DIRTY, 1);
	t->fpu_checked = 1;
}

/* The instructions emulate.c can do. */
static int emulatable(const ZydisDecodedInstruction *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
	case ZYDIS_MNEMONIC_MOVSXD: case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_CMPXCHG:
	case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_XOR:
		return 1;
	default:
		return 0;
	}
}

/* A constant address (absolute or RIP-relative, no guest segment base) that is not the
 * sign extension of its low 32 bits. */
static int outside_layout(const struct tctx *t, const ZydisDecodedOperand *op)
{
	int rip_rel = op->mem.base == ZYDIS_REGISTER_RIP;
	uint64_t a;

	if (op->mem.segment == ZYDIS_REGISTER_FS || op->mem.segment == ZYDIS_REGISTER_GS ||
	    op->mem.index != ZYDIS_REGISTER_NONE ||
	    (!rip_rel && op->mem.base != ZYDIS_REGISTER_NONE))
		return 0;
	a = rip_rel ? t->next + (uint64_t)op->mem.disp.value : (uint64_t)op->mem.disp.value;
	return (int64_t)a != bt_sext32(a);
}

/* Instructions that may run as they are once their memory operand is rewritten. */
static int innocuous(const ZydisDecodedInstruction *in)
{
	if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY &&
	    in->encoding != ZYDIS_INSTRUCTION_ENCODING_3DNOW)
		return 0;
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_PAUSE: case ZYDIS_MNEMONIC_LFENCE: case ZYDIS_MNEMONIC_MFENCE:
	case ZYDIS_MNEMONIC_SFENCE: case ZYDIS_MNEMONIC_CLFLUSH: case ZYDIS_MNEMONIC_RDTSC:
	case ZYDIS_MNEMONIC_LEA:
		return 1;
	default:
		break;
	}
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_ADOX_ADCX: case ZYDIS_CATEGORY_AES: case ZYDIS_CATEGORY_BINARY:
	case ZYDIS_CATEGORY_BITBYTE: case ZYDIS_CATEGORY_CMOV: case ZYDIS_CATEGORY_CONVERT:
	case ZYDIS_CATEGORY_DATAXFER: case ZYDIS_CATEGORY_FCMOV: case ZYDIS_CATEGORY_FLAGOP:
	case ZYDIS_CATEGORY_LOGICAL: case ZYDIS_CATEGORY_LOGICAL_FP: case ZYDIS_CATEGORY_LZCNT:
	case ZYDIS_CATEGORY_MMX: case ZYDIS_CATEGORY_PCLMULQDQ: case ZYDIS_CATEGORY_ROTATE:
	case ZYDIS_CATEGORY_SEMAPHORE: case ZYDIS_CATEGORY_SETCC: case ZYDIS_CATEGORY_SHA:
	case ZYDIS_CATEGORY_SHIFT: case ZYDIS_CATEGORY_SSE: case ZYDIS_CATEGORY_STTNI:
	case ZYDIS_CATEGORY_X87_ALU: case ZYDIS_CATEGORY_RDRAND: case ZYDIS_CATEGORY_RDSEED:
	case ZYDIS_CATEGORY_PREFETCH: case ZYDIS_CATEGORY_CLFLUSHOPT: case ZYDIS_CATEGORY_CLWB:
	case ZYDIS_CATEGORY_GFNI:
		return 1;
	default:
		return 0;
	}
}

/* lea with a RIP-relative operand: the address is a constant. */
static void translate_lea(struct tctx *t, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *op, const uint8_t *raw)
{
	int dst = gpr_id(op[0].reg.value);
	uint64_t v = t->next + (uint64_t)op[1].mem.disp.value;

	if (op[1].mem.base != ZYDIS_REGISTER_RIP) {
		em_bytes(&t->e, raw, in->length);    /* no memory access: as it is */
		return;
	}
	if (dst < 0 || in->operand_width == 16) {
		t->unsupported = 1;
		return;
	}
	em_mov_imm(&t->e, dst, in->operand_width == 32 ? (uint32_t)v : v);
}

static void translate_one(struct tctx *t, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *op, const uint8_t *raw);

/* tzcnt is `rep bsf`: a CPU without BMI1 (what CPUID tells the guest) runs it as bsf,
 * and so does the translation. */
static void translate_tzcnt(struct tctx *t, const ZydisDecodedInstruction *in,
			    const uint8_t *raw)
{
	ZydisDecodedInstruction bsf;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t buf[15];
	unsigned n = 0, lp = prefix_len(raw, in->length);

	for (unsigned i = 0; i < in->length; i++)
		if (i >= lp || raw[i] != 0xf3)
			buf[n++] = raw[i];
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&t->v->dec, buf, n, &bsf, op)) ||
	    bsf.mnemonic != ZYDIS_MNEMONIC_BSF) {
		t->unsupported = 1;
		return;
	}
	translate_one(t, &bsf, op, buf);
}

/* An innocuous instruction: copied, its memory operand rewritten. */
static void translate_plain(struct tctx *t, const ZydisDecodedInstruction *in,
			    const ZydisDecodedOperand *op, const uint8_t *raw, int memop)
{
	if (memop >= 0)
		translate_mem(t, in, op, raw, memop);
	else
		em_bytes(&t->e, raw, in->length);
}

/* div and idiv: a zero divisor is seen before the division, flag-free (the divisor
 * zero-extended into RCX, jrcxz), and raises #DE by a call-out instead of a host
 * SIGFPE, which costs a signal. The flags are untouched until the div itself, so #DE
 * sees the guest's. A quotient that overflows still faults in the div (rare). Returns
 * 0 where the divisor cannot be loaded that way (AH..BH): the plain div does. */
static int emit_divisor_check(struct tctx *t, const ZydisDecodedInstruction *in,
			      const ZydisDecodedOperand *op, const uint8_t *raw, int memop)
{
	static const uint8_t movzb[] = { 0x0f, 0xb6 }, movzw[] = { 0x0f, 0xb7 }, mov[] = { 0x8b };
	const ZydisDecodedOperand *d = &op[0];
	unsigned bits = d->size, flags = bits == 64 ? EM_W : 0;
	const uint8_t *opc = bits == 8 ? movzb : bits == 16 ? movzw : mov;
	unsigned nopc = bits <= 16 ? 2 : 1;
	uint8_t *jz, *jover;
	struct bt_emit *e = &t->e;

	if (d->visibility != ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
		return 0;
	if (d->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		int r = gpr_id(d->reg.value);

		if (r < 0 || (d->reg.value >= ZYDIS_REGISTER_AH && d->reg.value <= ZYDIS_REGISTER_BH))
			return 0;
		if (bits == 8 && r >= 4 && r < 8)
			flags |= EM_REX;          /* spl..dil, not ah..bh */
		spill(t, BT_RCX);
		em_rr(e, flags, opc, nopc, BT_RCX, r);
	} else if (d->type == ZYDIS_OPERAND_TYPE_MEMORY) {
		uint32_t used = used_regs(in, op) | 1u << BT_RCX, spilled;
		struct bt_mem m;

		spill(t, BT_RCX);
		m = mem_operand(t, in, d, &used, 0, &spilled);
		if (t->unsupported)
			return 1;
		em_guest(t, flags, opc, nopc, BT_RCX, m, used, NULL, 0);
		for (int r = 0; r < 16; r++)
			if (spilled & (1u << r))
				unspill(t, r);
	} else {
		return 0;
	}
	jz = e->p;
	em_jrcxz(e, 0);
	unspill(t, BT_RCX);
	translate_plain(t, in, op, raw, memop);
	jover = e->p;
	em_jmp8(e, 0);
	jz[1] = (uint8_t)(e->p - (jz + 2));
	unspill(t, BT_RCX);
	emit_callout(t, BT_CO_DIVIDE, in, 0, 0, 0, 0);
	jover[1] = (uint8_t)(e->p - (jover + 2));
	return 1;
}

static void translate_one(struct tctx *t, const ZydisDecodedInstruction *in,
			  const ZydisDecodedOperand *op, const uint8_t *raw)
{
	int memop = -1, hidden_mem = 0;

	if (in->mnemonic == ZYDIS_MNEMONIC_TZCNT &&
	    in->encoding == ZYDIS_INSTRUCTION_ENCODING_LEGACY) {
		translate_tzcnt(t, in, raw);
		return;
	}

	for (unsigned i = 0; i < in->operand_count; i++) {
		if (op[i].type != ZYDIS_OPERAND_TYPE_MEMORY || op[i].mem.type == ZYDIS_MEMOP_TYPE_AGEN)
			continue;
		if (op[i].visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN)
			hidden_mem = 1;
		else
			memop = (int)i;
	}
	if (translate_sensitive(t, in, op))
		return;
	/* an instruction that trapped often on protected pages, or whose constant address
	 * lies outside the layout (the window would alias it): a call-out */
	if (memop >= 0 && !hidden_mem &&
	    (bt_is_hot(t->v, t->rip) || (emulatable(in) && outside_layout(t, &op[memop])))) {
		emit_callout(t, BT_CO_EMULATE, in, 0, 0, 0, 0);
		return;
	}
	switch (in->meta.category) {
	case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR: case ZYDIS_CATEGORY_CALL:
	case ZYDIS_CATEGORY_RET:
		translate_branch(t, in, op, raw);
		return;
	case ZYDIS_CATEGORY_PUSH:
		translate_push(t, in, op);
		return;
	case ZYDIS_CATEGORY_POP:
		translate_pop(t, in, op);
		return;
	case ZYDIS_CATEGORY_STRINGOP:
		translate_string(t, in, raw);
		return;
	default:
		break;
	}
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_NOP:
		return;
	case ZYDIS_MNEMONIC_LEAVE:
		translate_leave(t, in);
		return;
	case ZYDIS_MNEMONIC_LEA:
		translate_lea(t, in, op, raw);
		return;
	case ZYDIS_MNEMONIC_XLAT: {
		struct bt_mem m = { .base = BT_RBX, .index = BT_RDX, .scale = 1, .disp = 0 };
		static const uint8_t movzb[] = { 0x0f, 0xb6 }, movb[] = { 0x8a };

		spill(t, BT_RDX);
		em_rr(&t->e, 0, movzb, 2, BT_RDX, BT_RAX);
		em_guest(t, 0, movb, 1, BT_RAX, m, 1u << BT_RAX | 1u << BT_RBX | 1u << BT_RDX,
			 NULL, 0);
		unspill(t, BT_RDX);
		return;
	}
	default:
		break;
	}
	if (!innocuous(in) || hidden_mem) {
		t->unsupported = 1;
		return;
	}
	if (!t->fpu_checked && uses_fpu(in, op))
		emit_fpu_check(t);
	if ((in->mnemonic == ZYDIS_MNEMONIC_DIV || in->mnemonic == ZYDIS_MNEMONIC_IDIV) &&
	    emit_divisor_check(t, in, op, raw, memop))
		return;
	translate_plain(t, in, op, raw, memop);
}

/* Reads up to 15 code bytes at rip; returns how many could be fetched (0 with a
 * guest fault raised when not even the first byte could), -1 on a host error. */
static int fetch(struct bt_vcpu *v, uint64_t rip, uint8_t *buf, uint64_t *gpa)
{
	unsigned access = BT_ACC_FETCH | (v->cpu.cpl == 3 ? BT_ACC_USER : 0);
	unsigned n = 0;

	while (n < 15) {
		struct bt_walk w;
		uint64_t va = rip + n;
		unsigned chunk = (unsigned)(BT_PAGE - (va & (BT_PAGE - 1)));
		const uint8_t *p;
		int r = bt_walk(v, va, access, &w);

		if (r < 0)
			return -1;
		if (r > 0) {
			if (n == 0) {
				if (w.noncanonical)
					bt_raise(v, 13, 1, 0);
				else
					bt_raise_pf(v, va, w.pf_error);
			}
			return (int)n;
		}
		if (n == 0)
			*gpa = w.gpa;
		if (chunk > 15 - n)
			chunk = 15 - n;
		p = bt_gpa_ptr(v->vm, w.gpa, chunk);
		if (!p) {
			if (n == 0)
				return hv_err_set("the guest executes at %#llx, which maps guest-physical "
						  "%#llx outside memory", (unsigned long long)va,
						  (unsigned long long)w.gpa);
			return (int)n;
		}
		memcpy(buf + n, p, chunk);
		n += chunk;
	}
	return (int)n;
}

/* The guest-physical address of a block's last byte. */
static uint64_t last_gpa(struct bt_vcpu *v, uint64_t va, uint64_t first)
{
	struct bt_walk w;
	unsigned access = BT_ACC_FETCH | (v->cpu.cpl == 3 ? BT_ACC_USER : 0);

	if (bt_walk(v, va, access, &w) != 0)
		return first;
	return w.gpa;
}

/* Counting mode (icount.c): adds the block's instruction count to its half's counter
 * with mov and lea only (no flag changes). Returns where the count goes, patched once
 * the block is complete, or NULL when counting is off. */
static uint8_t *emit_icount(struct tctx *t)
{
	static const uint8_t lea_rax_disp32[] = { 0x48, 0x8d, 0x80 };  /* lea d32(%rax),%rax */
	int32_t slot = bt_icount_half(t->start) == BT_ICOUNT_KERNEL ? CTX_ICOUNT_K : CTX_ICOUNT_U;
	uint8_t *count;

	if (!t->v->icount)
		return NULL;
	em_ctx_store(&t->e, BT_RAX, CTX_ICOUNT_TMP);
	em_ctx_load(&t->e, BT_RAX, slot);
	em_bytes(&t->e, lea_rax_disp32, sizeof(lea_rax_disp32));
	count = t->e.p;
	em_u32(&t->e, 0);
	em_ctx_store(&t->e, BT_RAX, slot);
	em_ctx_load(&t->e, BT_RAX, CTX_ICOUNT_TMP);
	return t->e.overflow ? NULL : count;
}

static struct bt_tb *translate_block(struct bt_vcpu *v, uint64_t rip, uint64_t gpa)
{
	struct bt_cache *c = &v->cache;
	struct tctx t = { .v = v, .start = rip, .rip = rip };
	struct bt_tb *tb;
	unsigned ninsn = 0;
	uint8_t *count;

	if (c->code_size - c->code_used < BLOCK_ROOM || c->ntb >= c->max_tb ||
	    c->max_imap - c->nimap < 8 * MAX_INSNS)
		bt_cache_flush(v);
	tb = &c->tbs[c->ntb];
	memset(tb, 0, sizeof(*tb));
	tb->rip = rip;
	tb->gpa = gpa;
	tb->kmode = bt_kmode(v);
	t.sext = v->shared && tb->kmode;
	tb->host_off = (uint32_t)c->code_used;
	tb->imap_first = (uint32_t)c->nimap;
	t.tb = tb;
	t.e.start = t.e.p = c->code + c->code_used;
	t.e.end = t.e.start + BLOCK_ROOM;
	t.e.ctx = (uint32_t)(uintptr_t)v->ctx;

	imap_add(&t);
	em_ctx_store_imm8(&t.e, CTX_POLL, 0);      /* the poll: faults when an exit is asked */
	count = emit_icount(&t);                   /* after the poll: a poll exit counts nothing */
	while (!t.end && !t.e.overflow) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
		uint8_t buf[15], *mark = t.e.p;
		size_t imark = c->nimap;
		unsigned xmark = t.nexits;
		uint64_t igpa;
		int n;

		if (ninsn >= (v->single_insn ? 1u : MAX_INSNS) ||
		    (ninsn && (t.rip >> 12) != (rip >> 12))) {
			branch_to(&t, em_jmp(&t.e, t.e.p), t.rip);
			break;
		}
		n = fetch(v, t.rip, buf, &igpa);
		if (n < 0) {
			v->host_error = 1;
			return NULL;
		}
		if (n == 0) {
			if (ninsn == 0)
				return NULL;            /* the fetch fault is the block's */
			branch_to(&t, em_jmp(&t.e, t.e.p), t.rip);
			break;
		}
		t.spilled = 0;
		t.delta = 0;
		t.rsp_adj = 0;
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&v->dec, buf, (ZyanUSize)n, &in, op))) {
			if (n < 15 && ninsn) {
				/* may continue on a page that cannot be fetched: let it fault
				 * as the first instruction of its own block */
				branch_to(&t, em_jmp(&t.e, t.e.p), t.rip);
				break;
			}
			imap_add(&t);
			t.next = t.rip + 1;
			emit_callout(&t, BT_CO_UD, NULL, 0, 0, 0, 0);
			t.end = 1;
			ninsn++;
			break;
		}
		imap_add(&t);
		t.next = t.rip + in.length;
		t.unsupported = 0;
		translate_one(&t, &in, op, buf);
		if (t.unsupported && !t.e.overflow) {
			/* undo what the instruction emitted, and raise #UD in its place */
			t.e.p = mark;
			tb->imap_count -= (uint32_t)(c->nimap - imark);
			c->nimap = imark;
			t.nexits = xmark;
			t.spilled = 0;
			t.delta = 0;
			t.rsp_adj = 0;
			imap_add(&t);
			emit_callout(&t, BT_CO_UD, &in, 1, 0, 0, 0);
			v->stats.unsupported++;
			hv_debug("bt: %s at %#llx (%u bytes) is not translated: #UD in its place",
				 ZydisMnemonicGetString(in.mnemonic), (unsigned long long)t.rip,
				 in.length);
			t.end = 1;
		}
		ninsn++;
		v->stats.guest_insns++;
		t.rip = t.next;
	}
	emit_stubs(&t);
	if (t.e.overflow) {
		/* cannot happen with BLOCK_ROOM unless the cache is corrupt */
		hv_err_set("a block at guest %#llx did not fit in %u bytes of code cache",
			   (unsigned long long)rip, BLOCK_ROOM);
		v->host_error = 1;
		return NULL;
	}
	tb->host_len = (uint32_t)(t.e.p - t.e.start);
	tb->guest_len = (uint32_t)(t.rip - rip);
	tb->ninsn = ninsn;
	if (count) {
		uint32_t n32 = ninsn;

		memcpy(count, &n32, sizeof(n32));
	}
	tb->gpa_last = last_gpa(v, rip + tb->guest_len - 1, gpa);
	c->ntb++;
	v->stats.blocks++;
	v->stats.code_bytes += tb->host_len;
	if (v->single_insn) {
		/* one instruction that writes its own page: run once, never found again */
		v->single_insn = 0;
		tb->dead = 1;
		c->code_used = tb->host_off + tb->host_len;
		return tb;
	}
	bt_cache_commit(c, tb);
	/* its code pages are write-protected from now on */
	bt_code_page(v, gpa);
	if ((tb->gpa_last ^ gpa) & ~(BT_PAGE - 1))
		bt_code_page(v, tb->gpa_last);
	return tb;
}

struct bt_tb *bt_translate(struct bt_vcpu *v, uint64_t rip)
{
	uint8_t buf[15];
	uint64_t gpa = 0;
	struct bt_tb *tb;
	int n = fetch(v, rip, buf, &gpa);

	if (n < 0) {
		v->host_error = 1;
		return NULL;
	}
	if (n == 0)
		return NULL;
	tb = v->single_insn ? NULL : bt_cache_find(&v->cache, rip, gpa, bt_kmode(v));
	if (tb)
		return tb;
	return translate_block(v, rip, gpa);
}
