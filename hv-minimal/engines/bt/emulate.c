/* One guest instruction's memory access done in C, for the accesses translated code
 * cannot make itself: device memory (never mapped in a window), writes to protected
 * pages (translated code, page tables), addresses outside the layout, and instructions
 * that trapped often enough to be translated as call-outs (adaptive translation).
 *
 * The local APIC is the engine's own; other device memory becomes an HV_VMEXIT_MMIO
 * exit to the core, completed by the next run. Emulated: mov (both directions,
 * register or immediate), movzx/movsx/movsxd loads, and on memory xchg, cmpxchg and
 * add/sub/and/or/xor with a register or an immediate (locked or not: done atomically). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "hvlab/err.h"

#define HOT_AFTER 8               /* traps at one instruction before it is a call-out */
#define CALM_AFTER 64             /* call-outs in a row that native code would have run
				   * without a trap, before it is translated as before */
#define RFLAGS_ARITH 0x8d5u       /* CF PF AF ZF SF OF */

enum op { OP_LOAD, OP_STORE, OP_XCHG, OP_CMPXCHG, OP_ADD, OP_SUB, OP_AND, OP_OR, OP_XOR };

/* ---- adaptive translation ---- */

static unsigned hot_slot(uint64_t rip)
{
	return (unsigned)((rip * 0x9e3779b97f4a7c15ull) >> 56);
}

int bt_is_hot(struct bt_vcpu *v, uint64_t rip)
{
	const typeof(v->hot[0]) *h = &v->hot[hot_slot(rip)];

	return h->rip == rip && h->traps >= HOT_AFTER;
}

/* The blocks holding rip go, so that rip is translated again. */
static void retranslate(struct bt_vcpu *v, uint64_t rip)
{
	struct bt_cache *c = &v->cache;

	for (size_t i = 0; i < c->ntb; i++) {
		struct bt_tb *tb = &c->tbs[i];

		if (!tb->dead && rip >= tb->rip && rip < tb->rip + tb->guest_len &&
		    bt_cache_kill(v, tb)) {
			bt_cache_flush(v);
			return;
		}
	}
}

/* One more trap at rip; at HOT_AFTER the blocks holding rip are translated again, with
 * the instruction as a call-out (with --bt-adaptive off, never). */
void bt_note_trap(struct bt_vcpu *v, uint64_t rip)
{
	typeof(v->hot[0]) *h = &v->hot[hot_slot(rip)];

	if (!v->vm->adaptive)
		return;
	if (h->rip != rip) {
		h->rip = rip;
		h->traps = 0;
	}
	h->calm = 0;
	if (++h->traps != HOT_AFTER)
		return;
	v->stats.hot_retranslations++;
	retranslate(v, rip);
}

/* ---- values ---- */

static uint64_t mask_of(uint8_t size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static uint64_t sext(uint64_t v, uint8_t size)
{
	switch (size) {
	case 1: return (uint64_t)(int64_t)(int8_t)v;
	case 2: return (uint64_t)(int64_t)(int16_t)v;
	case 4: return (uint64_t)(int64_t)(int32_t)v;
	default: return v;
	}
}

/* The arithmetic flags of a op b at this width, as the host computes them. */
static uint64_t alu_flags(enum op op, uint64_t a, uint64_t b, uint8_t size)
{
	uint64_t f = 0;

#define ALU(insn, suffix, reg_a, reg_b, type)                                         \
	do {                                                                          \
		type x = (type)a, y = (type)b;                                        \
		__asm__(insn suffix " %" reg_b "2, %" reg_a "1\n\tpushfq\n\tpopq %0"   \
			: "=r"(f), "+r"(x) : "r"(y) : "cc");                          \
	} while (0)
#define ALL_SIZES(insn)                                                               \
	switch (size) {                                                               \
	case 1: ALU(insn, "b", "b", "b", uint8_t); break;                             \
	case 2: ALU(insn, "w", "w", "w", uint16_t); break;                            \
	case 4: ALU(insn, "l", "k", "k", uint32_t); break;                            \
	default: ALU(insn, "q", "q", "q", uint64_t); break;                           \
	}
	switch (op) {
	case OP_ADD: ALL_SIZES("add"); break;
	case OP_SUB: case OP_CMPXCHG: ALL_SIZES("sub"); break;   /* cmpxchg flags = cmp */
	case OP_AND: ALL_SIZES("and"); break;
	case OP_OR: ALL_SIZES("or"); break;
	case OP_XOR: ALL_SIZES("xor"); break;
	default: break;
	}
#undef ALL_SIZES
#undef ALU
	return f & RFLAGS_ARITH;
}

static uint64_t alu(enum op op, uint64_t a, uint64_t b)
{
	switch (op) {
	case OP_ADD: return a + b;
	case OP_SUB: return a - b;
	case OP_AND: return a & b;
	case OP_OR: return a | b;
	case OP_XOR: return a ^ b;
	default: return b;
	}
}

/* ---- the access itself ---- */

struct access {
	enum op op;
	uint8_t size;
	int sext;
	ZydisRegister reg;       /* the register operand (source or destination) */
	uint64_t src;            /* store / ALU source value */
};

static int classify(struct bt_vcpu *v, const struct bt_decoded *d, int m, struct access *a)
{
	const ZydisDecodedOperand *o = d->op;
	int other = m == 0 ? 1 : 0;

	memset(a, 0, sizeof(*a));
	a->size = (uint8_t)(o[m].size / 8);
	if (d->in.operand_count_visible >= 2) {
		if (o[other].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			a->reg = o[other].reg.value;
			a->src = bt_reg_read(v, a->reg);
		} else if (o[other].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
			a->src = o[other].imm.value.u;
		} else {
			return -1;
		}
	}
	switch (d->in.mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		a->op = m == 0 ? OP_STORE : OP_LOAD;
		return 0;
	case ZYDIS_MNEMONIC_MOVZX:
	case ZYDIS_MNEMONIC_MOVSX:
	case ZYDIS_MNEMONIC_MOVSXD:
		a->op = OP_LOAD;
		a->sext = d->in.mnemonic != ZYDIS_MNEMONIC_MOVZX;
		return m == 1 ? 0 : -1;
	case ZYDIS_MNEMONIC_XCHG: a->op = OP_XCHG; return 0;
	case ZYDIS_MNEMONIC_CMPXCHG: a->op = OP_CMPXCHG; return m == 0 ? 0 : -1;
	case ZYDIS_MNEMONIC_ADD: a->op = OP_ADD; break;
	case ZYDIS_MNEMONIC_SUB: a->op = OP_SUB; break;
	case ZYDIS_MNEMONIC_AND: a->op = OP_AND; break;
	case ZYDIS_MNEMONIC_OR: a->op = OP_OR; break;
	case ZYDIS_MNEMONIC_XOR: a->op = OP_XOR; break;
	default: return -1;
	}
	/* ALU forms: memory destination, and an immediate sign-extends to the width */
	if (m != 0)
		return -1;
	if (o[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		a->src = o[1].imm.value.u;
	a->src &= mask_of(a->size);
	return 0;
}

/* The memory operand of an instruction this emulator does, and its access in *a; -1
 * for any other instruction. */
static int access_of(struct bt_vcpu *v, const struct bt_decoded *d, struct access *a)
{
	int m = -1;

	for (unsigned i = 0; i < d->in.operand_count_visible; i++)
		if (d->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    d->op[i].mem.type != ZYDIS_MEMOP_TYPE_AGEN)
			m = (int)i;
	if (m < 0 || classify(v, d, m, a) || a->size == 0 || a->size > 8)
		return -1;
	return m;
}

static void set_flags(struct bt_vcpu *v, uint64_t f)
{
	v->ctx->rflags = (v->ctx->rflags & ~(uint64_t)RFLAGS_ARITH) | f;
}

/* The access on guest RAM at host pointer p (within one page). Returns the old value
 * in *old and the new one in *new (equal for loads). */
static void ram_access(struct bt_vcpu *v, struct access *a, void *p, uint64_t *old,
		       uint64_t *new)
{
	uint64_t m = mask_of(a->size), x = 0;

	memcpy(&x, p, a->size);
	*old = *new = x;
	switch (a->op) {
	case OP_LOAD:
		return;
	case OP_STORE:
		*new = a->src & m;
		break;
	case OP_XCHG:
		*new = a->src & m;
		bt_reg_write(v, a->reg, x);
		break;
	case OP_CMPXCHG: {
		uint64_t expect = v->ctx->regs[BT_RAX] & m;

		set_flags(v, alu_flags(OP_CMPXCHG, expect, x, a->size));
		if (x == expect)
			*new = a->src & m;
		else
			bt_reg_write(v, a->size == 8 ? ZYDIS_REGISTER_RAX : a->size == 4 ?
				     ZYDIS_REGISTER_EAX : a->size == 2 ? ZYDIS_REGISTER_AX :
				     ZYDIS_REGISTER_AL, x);
		break;
	}
	default:
		*new = alu(a->op, x, a->src) & m;
		set_flags(v, alu_flags(a->op, x, a->src, a->size));
		break;
	}
	/* one store of the full width: the other vCPUs see it whole (the
	 * read-modify-write forms are not atomic against them: a documented limit) */
	switch (a->size) {
	case 1: __atomic_store_n((uint8_t *)p, (uint8_t)*new, __ATOMIC_SEQ_CST); break;
	case 2: __atomic_store_n((uint16_t *)p, (uint16_t)*new, __ATOMIC_SEQ_CST); break;
	case 4: __atomic_store_n((uint32_t *)p, (uint32_t)*new, __ATOMIC_SEQ_CST); break;
	default: __atomic_store_n((uint64_t *)p, *new, __ATOMIC_SEQ_CST); break;
	}
}

static void load_result(struct bt_vcpu *v, ZydisRegister dst, uint64_t val, uint8_t size,
			int sx)
{
	bt_reg_write(v, dst, sx ? sext(val, size) : val);
}

/* Emulates the instruction at cpu.rip. Returns 0 (done, RIP advanced), 1 (a guest
 * fault is raised), 2 (*exit filled: device memory of the core), 3 (not an
 * instruction this emulator does: nothing done), -1 (host error). */
/* What a translated access would have met where emulate() made it. */
struct native_view {
	int trapped;             /* it would have trapped (protected write, page not mapped) */
	int unmapped;            /* ... because the window does not map the page yet */
	uint64_t off;            /* the page's window offset */
	int write;
};

/* An access that crosses a page, in guest RAM on both sides: each page walked (the
 * first that faults is the guest's #PF, at its first byte on the second page), the
 * value put together in a buffer, and written back in two parts (not atomic against
 * other vCPUs). Device memory across a page is not emulated (3). */
static int crossing(struct bt_vcpu *v, const struct bt_decoded *d, struct access *a,
		    uint64_t ea, struct native_view *nv)
{
	uint64_t at[2] = { ea, (ea | (BT_PAGE - 1)) + 1 }, old, new, buf = 0;
	unsigned n[2] = { (unsigned)(at[1] - ea), 0 };
	uint8_t *p[2];
	struct bt_walk w[2];

	n[1] = a->size - n[0];
	for (int i = 0; i < 2; i++) {
		int r = bt_walk(v, at[i], (a->op == OP_LOAD ? 0 : BT_ACC_WRITE) |
				(v->cpu.cpl == 3 ? BT_ACC_USER : 0), &w[i]);

		if (r < 0)
			return -1;
		if (r > 0) {
			if (w[i].noncanonical)
				bt_raise(v, 13, 1, 0);
			else
				bt_raise_pf(v, at[i], w[i].pf_error);
			return 1;
		}
		p[i] = bt_gpa_ptr(v->vm, w[i].gpa, n[i]);
		if (!p[i])
			return 3;
	}
	memcpy(&buf, p[0], n[0]);
	memcpy((uint8_t *)&buf + n[0], p[1], n[1]);
	ram_access(v, a, &buf, &old, &new);
	if (a->op == OP_LOAD)
		load_result(v, d->op[0].reg.value, old, a->size, a->sext);
	if (old != new) {
		memcpy(p[0], &buf, n[0]);
		memcpy(p[1], (uint8_t *)&buf + n[0], n[1]);
		for (int i = 0; i < 2; i++) {
			const struct bt_pinfo *pi = bt_pinfo(v->vm, w[i].gpa);

			if (pi && (pi->flags & BT_PG_CODE))
				bt_code_invalidate(v, w[i].gpa, 0);
			/* entries are aligned: a write across a page that reaches a table
			 * is odd, and the table stops being trusted */
			if (pi && (pi->flags & BT_PG_PT)) {
				v->stats.pt_unshadowed++;
				bt_pt_unshadow(v, w[i].gpa);
			}
		}
	}
	v->cpu.rip += d->in.length;
	nv->trapped = 1;             /* translated code would trap at a crossing again */
	return 0;
}

/* The instruction at cpu.rip, decoded. A hot call-out's comes from the cache, by its
 * exit record: the record belongs to one translation of fixed code bytes, and its
 * address is reused only after the code cache is emptied (a new generation). */
static int decode_here(struct bt_vcpu *v, const struct bt_exit_info *info, struct bt_decoded *d)
{
	struct bt_decoded_slot *s;
	int r;

	if (info && !v->dcache)
		v->dcache = calloc(BT_DCACHE, sizeof(*v->dcache));
	if (!info || !v->dcache)
		return bt_decode_at(v, v->cpu.rip, 0, d);
	s = &v->dcache[((uintptr_t)info / 8) % BT_DCACHE];
	if (s->info == info && s->gen == v->cache.gen) {
		*d = s->d;
		return 0;
	}
	r = bt_decode_at(v, v->cpu.rip, 0, d);
	if (!r) {
		s->info = info;
		s->gen = v->cache.gen;
		s->d = *d;
	}
	return r;
}

static int emulate(struct bt_vcpu *v, const struct bt_exit_info *info, struct hv_exit *exit,
		   struct native_view *nv)
{
	struct bt_decoded d;
	struct access a;
	struct bt_walk w;
	const struct bt_pinfo *pi;
	uint64_t ea, old, new;
	void *p;
	int m, r;

	memset(nv, 0, sizeof(*nv));
	nv->trapped = 1;
	r = decode_here(v, info, &d);
	if (r)
		return r;
	m = access_of(v, &d, &a);
	if (m < 0)
		return 3;
	ea = bt_effective_address(v, &d, &d.op[m]);
	if ((ea & (BT_PAGE - 1)) + a.size > BT_PAGE)
		return crossing(v, &d, &a, ea, nv);
	r = bt_walk(v, ea, (a.op == OP_LOAD ? 0 : BT_ACC_WRITE) |
		    (v->cpu.cpl == 3 ? BT_ACC_USER : 0), &w);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (w.noncanonical)
			bt_raise(v, 13, 1, 0);
		else
			bt_raise_pf(v, ea, w.pf_error);
		return 1;
	}
	p = bt_gpa_ptr(v->vm, w.gpa, a.size);
	if (!p) {
		/* device memory: loads and stores only */
		if (a.op != OP_LOAD && a.op != OP_STORE)
			return hv_err_set("the guest accessed device memory at guest-physical %#"
					  PRIx64 " with %s at %#" PRIx64 ", which the binary "
					  "translator emulates only for mov-like instructions",
					  w.gpa, ZydisMnemonicGetString(d.in.mnemonic), v->cpu.rip);
		if (bt_is_lapic(v, w.gpa)) {
			uint8_t buf[8];

			memcpy(buf, &a.src, 8);
			if (bt_lapic_mmio(v, w.gpa & 0xfff, a.size, a.op == OP_STORE, buf))
				return -1;
			if (a.op == OP_LOAD) {
				memcpy(&old, buf, 8);
				load_result(v, d.op[0].reg.value, old, a.size, a.sext);
			}
			v->cpu.rip += d.in.length;
			return 0;
		}
		exit->kind = HV_VMEXIT_MMIO;
		exit->raw_reason = 0;
		exit->u.mmio = (typeof(exit->u.mmio)){
			.addr = w.gpa, .len = a.size, .is_write = a.op == OP_STORE,
			.data = v->iobuf,
		};
		memcpy(v->iobuf, &a.src, 8);
		if (a.op == OP_STORE) {
			v->cpu.rip += d.in.length;
		} else {
			v->mmio.active = 1;
			v->mmio.dst = d.op[0].reg.value;
			v->mmio.size = a.size;
			v->mmio.sext = (uint8_t)a.sext;
			v->mmio.next_rip = v->cpu.rip + d.in.length;
		}
		/* served by the core's handler in the call-out: emulated (device memory
		 * traps again next time, nv says so) */
		r = bt_direct_exit(v, exit);
		return r == 1 ? 0 : r;
	}
	ram_access(v, &a, p, &old, &new);
	if (a.op == OP_LOAD)
		load_result(v, d.op[0].reg.value, old, a.size, a.sext);
	pi = bt_pinfo(v->vm, w.gpa);
	/* a write to translated code or a page table traps in translated code */
	nv->write = a.op != OP_LOAD;
	nv->off = (uint32_t)ea & ~(BT_PAGE - 1);
	nv->unmapped = !bt_window_has(bt_cur_window(v), nv->off);
	nv->trapped = nv->unmapped || (nv->write && bt_pg_watched(pi));
	if (pi && old != new) {
		if (pi->flags & BT_PG_PT) {
			bt_pt_written(v, w.gpa & ~7ull, old, new);
			bt_unsync_seen(v->vm, w.gpa & ~7ull, old, new);
		}
		if (pi->flags & BT_PG_CODE)
			bt_code_invalidate(v, w.gpa, 0);
	}
	/* a leaf table written again and again stops trapping (unsync.c) */
	if (nv->write && bt_pg_watched(pi) && (pi->flags & BT_PG_PT))
		bt_unsync_table(v, w.gpa);
	v->cpu.rip += d.in.length;
	return 0;
}

/* After a fault left translated code (v->mmio.pending): the rest of the instruction. */
int bt_mmio_emulate(struct bt_vcpu *v, struct hv_exit *exit)
{
	uint64_t rip = v->cpu.rip, gpa = v->mmio.gpa;
	const struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);
	struct native_view nv;
	int r;

	v->mmio.pending = 0;
	r = emulate(v, NULL, exit, &nv);
	if (r == 0 && pi && (pi->flags & BT_PG_PT))
		v->stats.pt_write_traps++;
	/* emulated after a trap (a page table, device memory): often enough, and the
	 * instruction is translated as a call-out */
	if (r == 0 || r == 2)
		bt_note_trap(v, rip);
	if (r != 3)
		return r;
	/* Not emulated. In the shared layout, a page only the kernel may touch in the user
	 * half is not mapped: this vCPU gives the layout up, and the instruction runs again,
	 * translated anew. */
	if (v->shared && bt_gpa_slot(v->vm, gpa) && !bt_pg_watched(pi)) {
		bt_unshare(v);
		return 0;
	}
	/* A protected page stops being protected and the instruction runs
	 * as translated: translations of the page go; as a page table, it is no longer
	 * trusted to stay unchanged, so every window mapping goes too. */
	if (pi && (pi->flags & BT_PG_CODE)) {
		bt_code_invalidate(v, gpa, 0);
		v->single_insn = 1;
		return 0;
	}
	if (pi && (pi->flags & BT_PG_PT)) {
		v->stats.pt_unshadowed++;
		bt_pt_unshadow(v, gpa);
		return 0;
	}
	return hv_err_set("the guest accessed device memory (or memory outside the address "
			  "layout) at guest-physical %#" PRIx64 " with an instruction at %#" PRIx64
			  " that the binary translator does not emulate", gpa, v->cpu.rip);
}

/* A guest #PF taken through a host signal: an instruction whose accesses keep faulting
 * (a page touched for the first time, again and again) becomes a call-out, which walks
 * the guest's tables in C and neither maps the page nor takes a signal. Only what the
 * call-out can emulate counts. */
void bt_note_pf_trap(struct bt_vcpu *v, uint64_t rip)
{
	struct bt_fault pf = v->fault;   /* the #PF being delivered: decoding may clear it */
	struct bt_decoded d;
	struct access a;
	int decoded;

	if (!v->vm->adaptive)
		return;
	decoded = bt_decode_at(v, rip, 0, &d) == 0;
	v->fault = pf;
	if (decoded && access_of(v, &d, &a) >= 0)
		bt_note_trap(v, rip);
}

/* A hot instruction's call-out ran (nv: NULL when it raised a fault). Where native
 * code would not have trapped CALM_AFTER times in a row, the instruction is translated
 * as before. A page the call-out reached that the window does not map yet is mapped
 * now, from C: the mapping a later touch needs anyway, without the signal that touch
 * would take. */
static void note_callout(struct bt_vcpu *v, uint64_t rip, const struct native_view *nv)
{
	typeof(v->hot[0]) *h = &v->hot[hot_slot(rip)];

	if (h->rip != rip || h->traps < HOT_AFTER)
		return;
	if (!nv || nv->trapped) {
		h->calm = 0;
		if (nv && nv->unmapped && bt_shadow_fill(v, nv->off, nv->write) < 0)
			v->host_error = 1;
		return;
	}
	if (++h->calm < CALM_AFTER)
		return;
	h->traps = 0;
	h->calm = 0;
	v->stats.hot_cooled++;
	retranslate(v, rip);
}

/* A hot instruction's call-out. */
int bt_emulate_callout(struct bt_vcpu *v, const struct bt_exit_info *info,
		       struct hv_exit *exit)
{
	uint64_t rip = v->cpu.rip;
	struct native_view nv;
	int r = emulate(v, info, exit, &nv);

	if (r == 0 || r == 1)
		note_callout(v, rip, r == 0 ? &nv : NULL);

	if (r == 3)
		return hv_err_set("the call-out for the instruction at %#" PRIx64 " cannot "
				  "emulate it", rip);
	return r;
}

/* The core has answered a read. */
int bt_mmio_complete(struct bt_vcpu *v)
{
	uint64_t val = 0;

	if (!v->mmio.active)
		return 0;
	v->mmio.active = 0;
	memcpy(&val, v->iobuf, v->mmio.size);
	load_result(v, v->mmio.dst, val, v->mmio.size, v->mmio.sext);
	v->cpu.rip = v->mmio.next_rip;
	return 0;
}
