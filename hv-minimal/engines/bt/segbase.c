/* The GS base: while translated code runs it is the current window. It is written
 * from C only when the window changes: C code never uses GS, so it keeps the window
 * across exits, and a per-thread copy of the last value written spares the rewrite.
 *
 * Three ways, chosen once per VM (the segbase mode column):
 *   wrgsbase    a window per view (kernel, user): GS changes at each CPL change and
 *               CR3 load, written by the instruction where the host offers user-mode
 *               FSGSBASE (AT_HWCAP2 bit 1, Linux 5.9+): ~40 cycles on PLATFORM.md's
 *               kind B;
 *   arch_prctl  the same windows, GS written by ARCH_SET_GS, a system call: ~1,000
 *               cycles on kind B and ~16,500 on kind C (no FSGSBASE there);
 *   shared      one window for both CPLs, kernel-mode blocks sign-extending their
 *               addresses (translate.c, window.c): GS changes only at CR3 loads, so
 *               a guest system call or fault writes none; written by wrgsbase where
 *               the host has it, else arch_prctl.
 * "auto" takes wrgsbase where it exists, else shared. HVLAB_BT_GS (or hvm's --bt-gs)
 * forces one, so that every path is tested on hosts that have them all. */
#include <asm/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bt.h"
#include "hvlab/err.h"
#include "hvlab/kvminfo.h"

/* The value this thread's GS base was last given here; valid while gs_known. */
static __thread uint64_t gs_cached;
static __thread int gs_known;

const char *bt_gs_write_name(enum bt_gs_write w)
{
	return w == BT_GS_WRGSBASE ? "wrgsbase" : w == BT_GS_SHARED ? "shared" : "arch_prctl";
}

int bt_gs_choose(const char *want, struct bt_vm *vm)
{
	const char *by = "--bt-gs";
	int fsgsbase = hv_host_user_fsgsbase();

	if (!want || !*want) {
		want = getenv("HVLAB_BT_GS");
		by = "HVLAB_BT_GS";
	}
	vm->gs_by_insn = fsgsbase;
	if (!want || !*want || !strcmp(want, "auto")) {
		vm->gs_write = fsgsbase ? BT_GS_WRGSBASE : BT_GS_SHARED;
		vm->gs_reason = fsgsbase ? "auto: the host offers user-mode FSGSBASE"
					 : "auto: the host offers no user-mode FSGSBASE, so one GS "
					   "base serves both CPLs";
		return 0;
	}
	if (!strcmp(want, "shared")) {
		vm->gs_write = BT_GS_SHARED;
		vm->gs_reason = by[0] == '-' ? "forced by --bt-gs" : "forced by HVLAB_BT_GS";
		return 0;
	}
	if (strcmp(want, "wrgsbase") && strcmp(want, "arch_prctl"))
		return hv_err_set("%s '%s': not a way to write GS; use auto, wrgsbase, "
				  "arch_prctl or shared", by, want);
	if (!strcmp(want, "wrgsbase") && !fsgsbase)
		return hv_err_set("%s wrgsbase: this host offers no user-mode FSGSBASE "
				  "(AT_HWCAP2 bit 1); use auto or arch_prctl", by), -2;
	vm->gs_write = !strcmp(want, "wrgsbase") ? BT_GS_WRGSBASE : BT_GS_ARCH_PRCTL;
	vm->gs_reason = by[0] == '-' ? "forced by --bt-gs" : "forced by HVLAB_BT_GS";
	return 0;
}

int bt_gs_sync(struct bt_vcpu *v)
{
	uint64_t base = v->ctx->winbase;

	if (gs_known && gs_cached == base)
		return 0;
	if (v->vm->gs_write == BT_GS_WRGSBASE ||
	    (v->vm->gs_write == BT_GS_SHARED && v->vm->gs_by_insn)) {
		__asm__ volatile("wrgsbase %0" : : "r"(base) : "memory");
	} else if (syscall(SYS_arch_prctl, ARCH_SET_GS, base)) {
		gs_known = 0;
		return hv_err_errno("setting the GS base to vCPU %u's window %#llx", v->index,
				    (unsigned long long)base);
	}
	gs_cached = base;
	gs_known = 1;
	v->stats.gs_writes++;
	return 0;
}
