/* The translator's counters, reported through the engine's optional stats op: blocks
 * translated, code-cache bytes, chained jumps, call-outs by kind, traps by kind, shadow
 * fills, page-table-write traps, windows flushed. Every name starts with "bt_". */
#include <stdio.h>

#include "bt.h"
#include "hvlab/log.h"

static const char *const callout_names[BT_CO_NR] = {
	[BT_CO_UD] = "ud", [BT_CO_GP0] = "gp", [BT_CO_CLI] = "cli", [BT_CO_STI] = "sti",
	[BT_CO_PUSHF] = "pushf", [BT_CO_POPF] = "popf", [BT_CO_HLT] = "hlt",
	[BT_CO_CPUID] = "cpuid", [BT_CO_RDMSR] = "rdmsr", [BT_CO_WRMSR] = "wrmsr",
	[BT_CO_IN] = "in", [BT_CO_OUT] = "out", [BT_CO_INS] = "ins", [BT_CO_OUTS] = "outs",
	[BT_CO_MOV_TO_CR] = "mov_to_cr", [BT_CO_MOV_FROM_CR] = "mov_from_cr",
	[BT_CO_MOV_DR] = "mov_dr", [BT_CO_LGDT] = "lgdt", [BT_CO_LIDT] = "lidt",
	[BT_CO_LTR] = "ltr", [BT_CO_LLDT] = "lldt", [BT_CO_SGDT] = "sgdt", [BT_CO_SIDT] = "sidt",
	[BT_CO_STR] = "str", [BT_CO_SLDT] = "sldt", [BT_CO_SMSW] = "smsw", [BT_CO_LMSW] = "lmsw",
	[BT_CO_CLTS] = "clts", [BT_CO_INVLPG] = "invlpg", [BT_CO_SWAPGS] = "swapgs",
	[BT_CO_SYSCALL] = "syscall", [BT_CO_SYSRET] = "sysret", [BT_CO_IRETQ] = "iretq",
	[BT_CO_INT] = "int", [BT_CO_INT3] = "int3", [BT_CO_INT1] = "int1",
	[BT_CO_RDTSCP] = "rdtscp", [BT_CO_RDPID] = "rdpid", [BT_CO_MOV_TO_SREG] = "mov_to_sreg",
	[BT_CO_MOV_FROM_SREG] = "mov_from_sreg", [BT_CO_PUSH_SREG] = "push_sreg",
	[BT_CO_POP_SREG] = "pop_sreg", [BT_CO_RDFSBASE] = "rdfsbase",
	[BT_CO_RDGSBASE] = "rdgsbase", [BT_CO_WRFSBASE] = "wrfsbase",
	[BT_CO_WRGSBASE] = "wrgsbase", [BT_CO_WBINVD] = "wbinvd", [BT_CO_XGETBV] = "xgetbv",
	[BT_CO_RDPMC] = "rdpmc", [BT_CO_LAR_LSL] = "lar_lsl", [BT_CO_FAR] = "far_branch",
	[BT_CO_ENTER] = "enter", [BT_CO_EMULATE] = "emulate", [BT_CO_DIVIDE] = "divide",
};

static const char *const trap_names[BT_TRAP_NR] = {
	[BT_TRAP_PF_FILL] = "shadow_fill", [BT_TRAP_PF_GUEST] = "guest_pf",
	[BT_TRAP_MMIO] = "mmio", [BT_TRAP_PROTECTED] = "protected_write",
	[BT_TRAP_DE] = "divide", [BT_TRAP_UD] = "invalid_opcode", [BT_TRAP_GP] = "protection",
	[BT_TRAP_POLL] = "poll", [BT_TRAP_OTHER] = "other",
};

void bt_stats(struct hv_engine_vcpu *hv, void (*emit)(void *arg, const char *name,
						      uint64_t value), void *arg)
{
	const struct bt_vcpu *v = (const struct bt_vcpu *)hv;
	const struct bt_stats *s = &v->stats;
	struct bt_window w = { 0 };     /* every cached pair's, added up */
	char name[64];
	uint64_t signals = 0;

	for (unsigned i = 0; i < 2 * BT_WCACHE; i++) {
		w.fills += v->wins[i].fills;
		w.map_cycles += v->wins[i].map_cycles;
		w.flushes += v->wins[i].flushes;
		w.unmaps_skipped += v->wins[i].unmaps_skipped;
		w.unmap_cycles += v->wins[i].unmap_cycles;
		w.reprotects += v->wins[i].reprotects;
	}
	emit(arg, "bt_blocks_translated", s->blocks);
	emit(arg, "bt_guest_insns_translated", s->guest_insns);
	emit(arg, "bt_code_cache_bytes", s->code_bytes);
	emit(arg, "bt_code_cache_flushes", s->flushes);
	emit(arg, "bt_chained_jumps", s->chains);
	emit(arg, "bt_indirect_lookup_misses", s->lookups_missed);
	emit(arg, "bt_unsupported_insns", s->unsupported);
	emit(arg, "bt_shadow_fills", s->shadow_fills);
	emit(arg, "bt_large_maps", s->large_maps);
	emit(arg, "bt_pt_write_traps", s->pt_write_traps);
	emit(arg, "bt_hot_retranslations", s->hot_retranslations);
	emit(arg, "bt_hot_cooled", s->hot_cooled);
	emit(arg, "bt_shared_fallbacks", s->shared_fallbacks);
	emit(arg, "bt_smc_invalidations", s->smc_invalidations);
	emit(arg, "bt_pt_unshadowed", s->pt_unshadowed);
	emit(arg, "bt_unsync_tables", s->unsyncs);
	emit(arg, "bt_unsync_evictions", s->unsync_evictions);
	emit(arg, "bt_resyncs", s->resyncs);
	emit(arg, "bt_resync_entries", s->resync_entries);
	emit(arg, "bt_fpu_loads", s->fpu_loads);
	emit(arg, "bt_map_budget_flushes", s->budget_flushes);
	emit(arg, "bt_window_maps", w.fills);
	emit(arg, "bt_window_map_cycles", w.map_cycles);
	emit(arg, "bt_window_unmaps", w.flushes);
	emit(arg, "bt_window_unmap_cycles", w.unmap_cycles);
	emit(arg, "bt_window_unmaps_skipped", w.unmaps_skipped);
	emit(arg, "bt_window_reprotects", w.reprotects);
	emit(arg, "bt_window_flushes", s->window_flushes);
	emit(arg, "bt_window_cache_hits", s->wcache_hits);
	emit(arg, "bt_window_cache_misses", s->wcache_misses);
	emit(arg, "bt_window_cache_evictions", s->wcache_evictions);
	emit(arg, "bt_pt_remote_invalidations", s->xinvals);
	emit(arg, "bt_interrupts_delivered", s->interrupts);
	emit(arg, "bt_gs_writes", s->gs_writes);
	if (v->icount) {
		/* counting mode: guest instructions run since it was turned on */
		emit(arg, "bt_icount_kernel_insns", v->ctx->icount[BT_ICOUNT_KERNEL]);
		emit(arg, "bt_icount_user_insns", v->ctx->icount[BT_ICOUNT_USER]);
	}
	emit(arg, "bt_callouts_inline", s->callouts_inline);
	emit(arg, "bt_direct_calls", s->direct_calls);
	emit(arg, "bt_tlb_flush_waits", s->tlb_flush_waits);
	emit(arg, "bt_tlb_flush_wait_cycles", s->tlb_flush_wait_cycles);
	for (int i = 1; i < BT_CO_NR; i++) {
		if (!s->callouts[i] || !callout_names[i])
			continue;
		snprintf(name, sizeof(name), "bt_callout_%s", callout_names[i]);
		emit(arg, name, s->callouts[i]);
		/* mean host cycles in C of the timed ones (one in 64), the trampolines aside */
		if (s->callouts_timed[i]) {
			snprintf(name, sizeof(name), "bt_callout_cycles_%s", callout_names[i]);
			emit(arg, name, s->callout_cycles[i] / s->callouts_timed[i]);
		}
	}
	for (int i = 0; i < BT_TRAP_NR; i++) {
		snprintf(name, sizeof(name), "bt_trap_%s", trap_names[i]);
		emit(arg, name, s->traps[i]);
		signals += s->traps[i];
	}
	emit(arg, "bt_host_signals", signals);
	for (int i = 0; i < 32; i++) {
		if (!s->exceptions[i])
			continue;
		snprintf(name, sizeof(name), "bt_exception_%d", i);
		emit(arg, name, s->exceptions[i]);
	}
}

static void print_one(void *arg, const char *name, uint64_t value)
{
	(void)arg;
	if (value)
		hv_debug("%-32s %llu", name, (unsigned long long)value);
}

/* For debugging (HVLAB_DEBUG): every non-zero counter. */
void bt_stats_print(struct hv_engine_vcpu *hv)
{
	bt_stats(hv, print_one, NULL);
}
