/* Events: exceptions and interrupts delivered through the guest's own IDT (64-bit
 * interrupt and trap gates, IST, stack switch on a CPL change, error codes, CR2),
 * double and triple faults, and the instructions that cross privilege levels: iretq,
 * syscall, sysret. The vCPU's view (which window GS points at) follows its CPL. */
#include <string.h>

#include "bt.h"
#include "hvlab/err.h"

#define RFLAGS_TF   (1ull << 8)
#define RFLAGS_IF   (1ull << 9)
#define RFLAGS_DF   (1ull << 10)
#define RFLAGS_IOPL (3ull << 12)
#define RFLAGS_NT   (1ull << 14)
#define RFLAGS_RF   (1ull << 16)
#define RFLAGS_VM   (1ull << 17)
#define RFLAGS_AC   (1ull << 18)
#define RFLAGS_ID   (1ull << 21)
#define EFER_SCE    (1ull << 0)

uint64_t bt_get_rflags(const struct bt_vcpu *v)
{
	return (v->ctx->rflags & BT_RFLAGS_HOST) | (v->cpu.vflags & ~(uint64_t)BT_RFLAGS_HOST) | 2;
}

void bt_set_rflags(struct bt_vcpu *v, uint64_t rflags)
{
	/* The host keeps the arithmetic flags and DF; IF stays set in the host. */
	v->ctx->rflags = (rflags & BT_RFLAGS_HOST) | RFLAGS_IF | 2;
	v->cpu.vflags = rflags & ~(uint64_t)BT_RFLAGS_HOST &
			(RFLAGS_TF | RFLAGS_IF | RFLAGS_IOPL | RFLAGS_NT | RFLAGS_RF | RFLAGS_AC |
			 RFLAGS_ID);
}

void bt_set_view(struct bt_vcpu *v)
{
	struct bt_window *w = bt_cur_window(v);

	v->ctx->winbase = (uint64_t)(uintptr_t)w->base;
	v->ctx->negwin = (uint64_t)-(int64_t)(uintptr_t)w->base;
}

void bt_raise(struct bt_vcpu *v, uint8_t vector, int has_error, uint32_t error)
{
	if (v->fault.pending)
		return;          /* the first fault of an instruction wins */
	v->fault = (struct bt_fault){ .pending = 1, .vector = vector, .has_error = has_error,
				      .error = error };
}

void bt_raise_pf(struct bt_vcpu *v, uint64_t cr2, uint32_t error)
{
	if (v->fault.pending)
		return;
	bt_raise(v, 14, 1, error);
	v->fault.cr2 = cr2;
}

/* Descriptor privilege level of a code segment selector in the guest's GDT. */
static int selector_dpl(struct bt_vcpu *v, uint16_t sel, int *dpl)
{
	uint64_t desc;
	uint64_t off = sel & ~7u;

	if (off + 7 > v->cpu.gdt.limit)
		return 1;
	if (bt_vread(v, v->cpu.gdt.base + off, &desc, 8, BT_ACC_IMPLICIT))
		return 1;
	*dpl = (int)((desc >> 45) & 3);
	return 0;
}

/* 0 done, 1 another fault (in v->fault), -1 host error. */
static int deliver_once(struct bt_vcpu *v, uint8_t vector, int has_error, uint32_t error,
			int soft, uint64_t *fault_vec)
{
	struct bt_cpu *c = &v->cpu;
	uint64_t gate[2], rsp, frame[6], handler, rflags = bt_get_rflags(v);
	unsigned type, ist, dpl, newcpl, n = 0;
	uint16_t sel;
	int sdpl, r;

	*fault_vec = 13;
	if ((uint32_t)vector * 16 + 15 > c->idt.limit)
		return 2;
	r = bt_vread(v, c->idt.base + (uint64_t)vector * 16, gate, 16, BT_ACC_IMPLICIT);
	if (r)
		return r;
	type = (unsigned)(gate[0] >> 40) & 0xf;
	dpl = (unsigned)(gate[0] >> 45) & 3;
	ist = (unsigned)(gate[0] >> 32) & 7;
	sel = (uint16_t)(gate[0] >> 16);
	handler = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | (gate[1] << 32);
	if ((type != 0xe && type != 0xf) || (soft && dpl < c->cpl))
		return 2;
	if (!((gate[0] >> 47) & 1)) {
		*fault_vec = 11;
		return 2;
	}
	if (selector_dpl(v, sel, &sdpl))
		return 2;
	newcpl = (unsigned)sdpl;
	if (newcpl > c->cpl)
		return 2;
	if (ist) {
		r = bt_vread(v, c->tr.base + 0x24 + 8 * (ist - 1), &rsp, 8, BT_ACC_IMPLICIT);
		if (r)
			return r;
	} else if (newcpl < c->cpl) {
		r = bt_vread(v, c->tr.base + 4 + 8 * newcpl, &rsp, 8, BT_ACC_IMPLICIT);
		if (r)
			return r;
	} else {
		rsp = v->ctx->regs[BT_RSP];
	}
	rsp &= ~15ull;
	if (has_error)
		frame[n++] = error;
	frame[n++] = c->rip;
	frame[n++] = c->seg[BT_SEG_CS].selector;
	frame[n++] = rflags;
	frame[n++] = v->ctx->regs[BT_RSP];
	frame[n++] = c->seg[BT_SEG_SS].selector;
	rsp -= n * 8;
	r = bt_vwrite(v, rsp, frame, n * 8, BT_ACC_IMPLICIT);
	if (r)
		return r;
	if (newcpl != c->cpl) {
		c->seg[BT_SEG_SS].selector = (uint16_t)newcpl;
		c->seg[BT_SEG_SS].dpl = (uint8_t)newcpl;
	}
	c->cpl = newcpl;
	c->seg[BT_SEG_CS].selector = (uint16_t)((sel & ~3u) | newcpl);
	c->seg[BT_SEG_CS].dpl = (uint8_t)newcpl;
	v->ctx->regs[BT_RSP] = rsp;
	c->rip = handler;
	rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (type == 0xe)
		rflags &= ~RFLAGS_IF;
	bt_set_rflags(v, rflags);
	bt_set_view(v);
	c->shadow = 0;
	return 0;
}

static int contributory(uint8_t v)
{
	return v == 0 || (v >= 10 && v <= 13);
}

int bt_deliver(struct bt_vcpu *v, uint8_t vector, int has_error, uint32_t error, int soft)
{
	uint8_t first = vector;

	if (vector < 32)
		v->stats.exceptions[vector]++;
	else
		v->stats.interrupts++;
	for (int depth = 0; depth < 3; depth++) {
		uint64_t fv;
		int r;

		v->fault.pending = 0;
		r = deliver_once(v, vector, has_error, error, soft, &fv);
		if (r <= 0)
			return r;
		/* a fault while delivering: #GP/#NP for a bad gate, or the fault that the
		 * frame's write or the IDT's read raised */
		if (depth == 2 || vector == 8)
			break;
		uint8_t second = r == 2 ? (uint8_t)fv : v->fault.vector;

		if ((first == 14 && (second == 14 || contributory(second))) ||
		    (contributory(first) && contributory(second))) {
			vector = 8;
			has_error = 1;
			error = 0;
		} else {
			vector = second;
			has_error = r == 2 || v->fault.has_error;
			error = r == 2 ? (uint32_t)vector * 8 + 2 : v->fault.error;
			if (second == 14)
				v->cpu.cr2 = v->fault.cr2;
		}
		soft = 0;
	}
	v->fault.pending = 0;
	return 1;                /* triple fault */
}

/* iretq (64-bit operand size; iretd from long mode is refused). */
int bt_iret(struct bt_vcpu *v, unsigned opsize)
{
	struct bt_cpu *c = &v->cpu;
	uint64_t f[5], rflags, keep;
	unsigned newcpl;
	int r;

	if (opsize != 8) {
		bt_raise(v, 6, 0, 0);
		return 1;
	}
	r = bt_vread(v, v->ctx->regs[BT_RSP], f, sizeof(f), 0);
	if (r)
		return r;
	newcpl = (unsigned)f[1] & 3;
	if (newcpl < c->cpl) {
		bt_raise(v, 13, 1, (uint32_t)f[1] & ~3u);
		return 1;
	}
	rflags = f[2];
	/* IOPL only at CPL 0, IF only when CPL <= IOPL */
	keep = 0;
	if (c->cpl > 0)
		keep |= RFLAGS_IOPL;
	if (c->cpl > ((c->vflags & RFLAGS_IOPL) >> 12))
		keep |= RFLAGS_IF;
	rflags = (rflags & ~keep) | (bt_get_rflags(v) & keep);
	c->rip = f[0];
	c->seg[BT_SEG_CS].selector = (uint16_t)f[1];
	c->seg[BT_SEG_CS].dpl = (uint8_t)newcpl;
	c->seg[BT_SEG_SS].selector = (uint16_t)f[4];
	c->seg[BT_SEG_SS].dpl = (uint8_t)newcpl;
	v->ctx->regs[BT_RSP] = f[3];
	c->cpl = newcpl;
	bt_set_rflags(v, rflags & ~(RFLAGS_RF | RFLAGS_VM));
	bt_set_view(v);
	return 0;
}

int bt_syscall(struct bt_vcpu *v, uint64_t next)
{
	struct bt_cpu *c = &v->cpu;
	uint64_t rflags = bt_get_rflags(v);

	if (!(c->efer & EFER_SCE)) {
		bt_raise(v, 6, 0, 0);
		return 1;
	}
	v->ctx->regs[BT_RCX] = next;
	v->ctx->regs[11] = rflags & ~RFLAGS_RF;
	c->seg[BT_SEG_CS].selector = (uint16_t)((c->star >> 32) & 0xfffc);
	c->seg[BT_SEG_SS].selector = (uint16_t)(((c->star >> 32) + 8) & 0xfffc);
	c->seg[BT_SEG_CS].dpl = c->seg[BT_SEG_SS].dpl = 0;
	c->cpl = 0;
	c->rip = c->lstar;
	bt_set_rflags(v, rflags & ~c->fmask & ~RFLAGS_RF);
	bt_set_view(v);
	return 0;
}

int bt_sysret(struct bt_vcpu *v)
{
	struct bt_cpu *c = &v->cpu;
	uint64_t rip = v->ctx->regs[BT_RCX];

	if (!(c->efer & EFER_SCE)) {
		bt_raise(v, 6, 0, 0);
		return 1;
	}
	if (c->cpl != 0 || ((int64_t)rip >> 47 != 0 && (int64_t)rip >> 47 != -1)) {
		bt_raise(v, 13, 1, 0);
		return 1;
	}
	c->rip = rip;
	c->seg[BT_SEG_CS].selector = (uint16_t)(((c->star >> 48) + 16) | 3);
	c->seg[BT_SEG_SS].selector = (uint16_t)(((c->star >> 48) + 8) | 3);
	c->seg[BT_SEG_CS].dpl = c->seg[BT_SEG_SS].dpl = 3;
	c->cpl = 3;
	bt_set_rflags(v, (v->ctx->regs[11] & ~(RFLAGS_RF | RFLAGS_VM)) | 2);
	bt_set_view(v);
	return 0;
}

/* The guest fault an instruction raised (v->fault), through the guest's IDT. */
int bt_deliver_fault(struct bt_vcpu *v)
{
	if (v->fault.vector == 14) {
		v->cpu.cr2 = v->fault.cr2;
		if (v->vm->trace)
			bt_trace_simple(v, 'f', v->fault.cr2);
	}
	return bt_deliver(v, v->fault.vector, v->fault.has_error, v->fault.error, 0);
}
