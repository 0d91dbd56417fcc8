/* Counting mode: the guest instructions executed in translated code, per vCPU, in the
 * kernel half and the user half of the guest address space (bt.h).
 *
 * Off by default, so that ordinary runs pay nothing. The guest turns it on with its
 * first rdpmc of HV_PMC_GUEST_INSNS_KERNEL or _USER (abi.h); from then on every block
 * the translator emits begins, after its poll, with
 *
 *     mov  %rax, ctx.icount_tmp
 *     mov  ctx.icount[half], %rax
 *     lea  N(%rax), %rax           N: the block's guest instruction count
 *     mov  %rax, ctx.icount[half]
 *     mov  ctx.icount_tmp, %rax
 *
 * which touches no arithmetic flag (mov and lea only) and cannot fault (the context
 * block is always mapped), so the guest's state at any fault is what the instruction
 * map says. A block counts all its instructions at its entry; where it is left before
 * its end, bt_icount_unrun() takes back those that did not run. */
#include <string.h>

#include "bt.h"
#include "hvlab/abi.h"

/* Turns counting on for the whole VM: this vCPU's cache is emptied now, the others' by
 * a flush request served before they run guest code again. */
static void icount_start(struct bt_vcpu *v)
{
	struct bt_vm *vm = v->vm;

	if (__atomic_exchange_n(&vm->icount, 1, __ATOMIC_ACQ_REL))
		return;
	for (unsigned i = 0; i < vm->nr_vcpus && i < 16; i++) {
		struct bt_vcpu *o = vm->vcpus[i];

		if (!o || o == v)
			continue;
		/* the icount flag itself is seen by bt_icount_sync before the next run */
		bt_arm_poll(o);
	}
	bt_icount_sync(v);
}

void bt_icount_sync(struct bt_vcpu *v)
{
	if (v->icount || !__atomic_load_n(&v->vm->icount, __ATOMIC_ACQUIRE))
		return;
	bt_cache_flush(v);
	v->icount = 1;
	v->ctx->icount[BT_ICOUNT_KERNEL] = v->ctx->icount[BT_ICOUNT_USER] = 0;
}

int bt_icount_rdpmc(struct bt_vcpu *v, const struct bt_exit_info *info, uint32_t index,
		    uint64_t *val)
{
	const struct bt_tb *tb;
	uint32_t rest = 0;
	int half;

	if (index == HV_PMC_GUEST_INSNS_KERNEL)
		half = BT_ICOUNT_KERNEL;
	else if (index == HV_PMC_GUEST_INSNS_USER)
		half = BT_ICOUNT_USER;
	else
		return 1;
	/* As on hardware, the count is of the instructions retired before this one: its
	 * block counted itself whole at its entry, so the rdpmc and what follows it in the
	 * block are taken off the value read (not off the counter). */
	tb = v->icount ? bt_cache_find_host(&v->cache, (uintptr_t)info) : NULL;
	if (tb && bt_icount_half(tb->rip) == half)
		rest = bt_icount_rest(v, tb, info->rip);
	icount_start(v);
	*val = v->ctx->icount[half] - rest;
	return 0;
}

/* The position of guest address rip among tb's instructions: how many start before it.
 * The instruction map has an entry at each instruction's start (and more within one
 * for spills), in order. */
static uint32_t insn_index(const struct bt_vcpu *v, const struct bt_tb *tb, uint64_t rip)
{
	uint64_t off = rip - tb->rip;
	uint32_t n = 0;
	int have = 0;
	uint16_t last = 0;

	for (uint32_t i = 0; i < tb->imap_count; i++) {
		const struct bt_imap *m = &v->cache.imap[tb->imap_first + i];

		if (m->guest_off >= off)
			break;
		if (!have || m->guest_off != last)
			n++;
		last = m->guest_off;
		have = 1;
	}
	return n;
}

uint32_t bt_icount_rest(const struct bt_vcpu *v, const struct bt_tb *tb, uint64_t rip)
{
	uint32_t before;

	if (!v->icount || !tb || rip < tb->rip || rip - tb->rip >= tb->guest_len)
		return 0;
	before = insn_index(v, tb, rip);
	return before < tb->ninsn ? tb->ninsn - before : 0;
}

void bt_icount_give_back(struct bt_vcpu *v, uint64_t block_rip, uint32_t n)
{
	if (v->icount)
		v->ctx->icount[bt_icount_half(block_rip)] -= n;
}

void bt_icount_unrun(struct bt_vcpu *v, const struct bt_tb *tb, uint64_t rip, int retired)
{
	uint32_t rest = bt_icount_rest(v, tb, rip);

	if (rest > (retired ? 1u : 0u))
		bt_icount_give_back(v, tb->rip, rest - (retired ? 1u : 0u));
}
