/* The binary translation engine's own types, shared by its files and nowhere else: the
 * VMM core sees only struct hv_engine_vm / hv_engine_vcpu through hvlab/engine.h.
 *
 * How guest code runs (DESIGN.md, "The BT engine"):
 *   - guest basic blocks are translated into a per-vCPU code cache; innocuous
 *     instructions are copied, memory operands are rewritten to %gs: + addr32 so that
 *     they land in the current window, privileged ones become call-outs (exits to C);
 *   - the guest's 16 GPRs and arithmetic flags live in the host's while translated code
 *     runs (guest RSP included: translated code never uses the host stack);
 *   - GS base = the window of the current view; the context block is reached by
 *     absolute addresses below 2 GiB (FS stays glibc's);
 *   - a window is a reserved 4 GiB host range (+ guards) in which guest virtual pages
 *     are mapped on demand onto the guest-physical memfd: shadow paging done with mmap;
 *     a vCPU keeps a pair (kernel view, user view) per recently loaded CR3.
 * Guest addresses are meaningful in their low 32 bits (the layout of abi.h): a window
 * offset o stands for the guest virtual address sign-extend(o). */
#ifndef HVLAB_BT_H
#define HVLAB_BT_H
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "ctx.h"
#include "hvlab/engine.h"

struct bt_vm;
struct bt_vcpu;
struct bt_rmap_slot;

/* How the GS base is written (segbase.c). */
enum bt_gs_write { BT_GS_WRGSBASE = 1, BT_GS_ARCH_PRCTL, BT_GS_SHARED };

#define BT_PAGE       4096ull
/* guest page-table entry bits */
#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define BT_WIN_SIZE   (1ull << 32)
#define BT_WIN_GUARD  (64ull << 10)
#define BT_MAX_SLOTS  8
#define BT_WCACHE     4          /* window pairs per vCPU, one per recent guest CR3 */

/* ---- the context block (layout in ctx.h) ---- */
struct bt_ctx {
	uint64_t self;
	uint64_t icount[2];      /* counting mode: kernel-half, user-half instructions */
	uint64_t icount_tmp;
	uint64_t host_rsp;
	struct bt_vcpu *vcpu;
	uint64_t exit_fn, target, jmp, winbase, negwin, gfsbase, ggsbase, rflags;
	const struct bt_exit_info *exit_info;
	uint8_t fpu_hw, fpu_dirty, fpu_restore, pad0;
	uint32_t host_mxcsr;
	uint64_t regs[16];
	uint64_t spill[16];
	uint64_t delta[16];
	uint8_t guest_fx[512] __attribute__((aligned(16)));
	uint64_t kgsbase;        /* the guest's KERNEL_GS_BASE MSR */
	uint64_t swap_tmp;
	uint8_t pad1[CTX_POLL - CTX_SWAP_TMP - 8];
	uint8_t poll[4096];
	struct bt_htab_entry { uint64_t guest, host; } htab[2 * BT_HTAB_SIZE];
};

/* ---- exits from translated code ----
 * Translated code leaves through `call *%fs:CTX_EXIT_FN`, followed in the code cache
 * by this record (the call's return address points at it). */
enum bt_exit_kind {
	BT_EXIT_BRANCH = 1,      /* direct branch to rip, not chained yet; patch = site */
	BT_EXIT_LOOKUP,          /* indirect branch missed the table; target in ctx */
	BT_EXIT_CALLOUT,         /* a sensitive instruction at rip; op says which */
	BT_EXIT_FPU,             /* code that uses the FPU: load the guest's state */
};

enum bt_callout {
	BT_CO_UD = 1,            /* raise #UD (invalid, or unsupported by the translator) */
	BT_CO_GP0,               /* raise #GP(0) */
	BT_CO_CLI, BT_CO_STI, BT_CO_PUSHF, BT_CO_POPF, BT_CO_HLT, BT_CO_CPUID,
	BT_CO_RDMSR, BT_CO_WRMSR, BT_CO_IN, BT_CO_OUT, BT_CO_INS, BT_CO_OUTS,
	BT_CO_MOV_TO_CR, BT_CO_MOV_FROM_CR, BT_CO_MOV_DR,
	BT_CO_LGDT, BT_CO_LIDT, BT_CO_LTR, BT_CO_LLDT, BT_CO_SGDT, BT_CO_SIDT, BT_CO_STR,
	BT_CO_SLDT, BT_CO_SMSW, BT_CO_LMSW, BT_CO_CLTS, BT_CO_INVLPG, BT_CO_SWAPGS,
	BT_CO_SYSCALL, BT_CO_SYSRET, BT_CO_IRETQ, BT_CO_INT, BT_CO_INT3, BT_CO_INT1,
	BT_CO_RDTSCP, BT_CO_RDPID, BT_CO_MOV_TO_SREG, BT_CO_MOV_FROM_SREG, BT_CO_PUSH_SREG,
	BT_CO_POP_SREG, BT_CO_RDFSBASE, BT_CO_RDGSBASE, BT_CO_WRFSBASE, BT_CO_WRGSBASE,
	BT_CO_WBINVD, BT_CO_XGETBV, BT_CO_RDPMC, BT_CO_LAR_LSL, BT_CO_FAR, BT_CO_ENTER,
	BT_CO_EMULATE,           /* a hot instruction's memory access, done in C */
	BT_CO_DIVIDE,            /* raise #DE: a division by zero, seen before the div */
	BT_CO_NR
};

struct bt_exit_info {
	uint8_t kind;            /* enum bt_exit_kind */
	uint8_t op;              /* enum bt_callout */
	uint8_t len;             /* length of the guest instruction */
	uint8_t a, b, c;         /* operand details, per op (register numbers, sizes) */
	uint16_t pad;
	uint32_t imm;            /* immediate operand, per op */
	uint32_t patch;          /* BRANCH: code-cache offset of the rel32 to patch */
	uint64_t rip;            /* guest address of the instruction, or branch target */
} __attribute__((packed));     /* it sits in the code cache at any alignment */

/* ---- guest-physical memory ---- */
struct bt_memslot {
	uint64_t gpa, size;
	uint8_t *host;
	int fd;
	off_t offset;
};

/* ---- windows (window.c) ---- */
struct bt_window {
	uint8_t *reserve;        /* guard + [2 GiB: shared layout] + 4 GiB + guard */
	size_t reserve_len;
	uint8_t *base;           /* offset 0 of the window (the GS base) */
	int shared;              /* the shared layout (segbase.c, win_host in window.c) */
	uint64_t fills, flushes;
	uint64_t map_cycles, unmap_cycles;   /* host TSC spent in mmap for them */
	uint64_t live;           /* mappings made since the window was last emptied (a page,
				  * or a guest 2 MiB page's 2 MiB) */
	uint64_t ulive;          /* the same for its user half */
	uint64_t *mapped;        /* a bit per page that may be mapped: unmapping the others
				  * costs no system call (one costs ~15,000 cycles in a VM) */
	uint64_t *summary;       /* a bit per word of mapped that may be non-zero */
	/* Per page, the 4 KiB file mapping its host range holds, accessible or parked
	 * (PROT_NONE): memfd, offset and the half's generation (window.c, frame_key); 0
	 * or another generation: anonymous PROT_NONE, or unknown. A page dropped alone is
	 * parked by mprotect, and a later fill of the same frame, or a write permission
	 * added, is an mprotect too: a third of an mmap's cost. */
	uint64_t *frame;
	uint32_t gen[2];         /* per half: a whole half emptied makes its keys stale */
	uint64_t reprotects;     /* fills and drops done by mprotect */
	uint64_t unmaps_skipped;
	int upper_nonglobal;     /* the kernel half holds non-global pages (CR3 drops them) */
	/* 2 MiB regions of the window filled from guest large pages: invlpg in one of them
	 * drops the whole region. */
	uint64_t large[BT_WIN_SIZE / (2u << 20) / 64];
};

int bt_window_init(struct bt_window *w, int shared);
/* No page's frame is known any more (its host address is about to change: the layout
 * goes from shared to split), so nothing is parked or reprotected from before. */
void bt_window_forget_frames(struct bt_window *w);
void bt_window_destroy(struct bt_window *w);
/* Whether the page at window offset off may be mapped (its bit). */
static inline int bt_window_has(const struct bt_window *w, uint64_t off)
{
	return (int)((w->mapped[off / BT_PAGE / 64] >> (off / BT_PAGE % 64)) & 1);
}

/* Maps the guest page at window offset off (page aligned) onto the memfd. */
int bt_window_map(struct bt_window *w, uint64_t off, int fd, off_t foff, int writable);
/* Maps the 2 MiB region at window offset off onto the memfd at foff with one host
 * mapping (both 2 MiB-aligned): a guest 2 MiB page. Its pages are unmapped one by one
 * as any others (the host splits the mapping). */
int bt_window_map_large(struct bt_window *w, uint64_t off, int fd, off_t foff, int writable);
/* Drops [off, off + len) (page aligned) from the window. */
int bt_window_unmap(struct bt_window *w, uint64_t off, uint64_t len);

/* ---- guest page tables (mmu.c) ---- */
#define BT_ACC_WRITE 1u
#define BT_ACC_USER  2u          /* the access is made at CPL3 */
#define BT_ACC_FETCH 4u
#define BT_ACC_IMPLICIT 8u       /* a supervisor access whatever the CPL (IDT, GDT, TSS) */

#define BT_PF_P    1u
#define BT_PF_W    2u
#define BT_PF_U    4u
#define BT_PF_RSVD 8u
#define BT_PF_I    16u

struct bt_walk {
	uint64_t gpa;            /* of the byte */
	int writable, user, nx, large, dirty, global;
	int rw;                  /* R/W set at every level (writable for user mode) */
	uint32_t pf_error;       /* when the walk failed: the #PF error code */
	int noncanonical;        /* when the walk failed: #GP, not #PF */
};

/* Walks the guest's page tables for va; sets accessed (and dirty for a write) bits.
 * Returns 0, or 1 for a guest page fault (w->pf_error), or -1 with hv_err_msg() set
 * when the tables themselves are unusable (outside memory). */
int bt_walk(struct bt_vcpu *v, uint64_t va, unsigned access, struct bt_walk *w);
/* Host pointer to guest-physical [gpa, gpa + len) when it lies in one slot. */
void *bt_gpa_ptr(struct bt_vm *vm, uint64_t gpa, uint64_t len);
const struct bt_memslot *bt_gpa_slot(struct bt_vm *vm, uint64_t gpa);
/* Copies between guest virtual memory and the host, at the current CPL's rights;
 * returns 0, 1 with a #PF raised in v (vector, error, cr2 set), or -1. */
int bt_vread(struct bt_vcpu *v, uint64_t va, void *dst, size_t len, unsigned access);
int bt_vwrite(struct bt_vcpu *v, uint64_t va, const void *src, size_t len, unsigned access);
/* Handles a host fault at window offset off: maps the page, or reports a guest #PF.
 * Returns 0 (mapped: retry), 1 (guest #PF: v->fault set), 2 (device memory at
 * v->mmio.gpa: emulate the instruction), -1 (host error). */
int bt_shadow_fill(struct bt_vcpu *v, uint64_t off, int write);
/* invlpg: drops the page (or its 2 MiB region when it came from a large page) from the
 * current pair, and from every cached pair for a kernel-half address. */
void bt_shadow_invlpg(struct bt_vcpu *v, uint64_t va);
/* Empties every cached pair (kernel_too), or their user halves (and the kernel halves
 * that hold non-global pages). */
void bt_shadow_flush(struct bt_vcpu *v, int kernel_too);
/* The shared layout given up for this vCPU: its windows emptied and split by view, its
 * code cache emptied (kernel-mode blocks are translated anew), GS by CPL again. */
void bt_unshare(struct bt_vcpu *v);
/* Drops guest virtual [va, va + len) from the pairs that may map it through a table of
 * address space root (BT_ROOT_SHARED: every pair), on this vCPU only; len
 * BT_INVAL_ALL: all they map (every window entirely for BT_ROOT_SHARED). In a pair not
 * in use, the kernel half goes only when it holds non-global pages. */
#define BT_INVAL_ALL (1ull << 48)
void bt_shadow_inval(struct bt_vcpu *v, uint64_t root, uint64_t va, uint64_t len);
/* The same, and the translations that may have reached code through the entries. */
void bt_pt_inval_local(struct bt_vcpu *v, uint64_t root, uint64_t va, uint64_t len);
/* A CR3 load: makes the cached pair of that address space current (a new one, evicting
 * the least recently used, when there is none). */
void bt_wcache_load(struct bt_vcpu *v, uint64_t cr3);
/* Forgets the address spaces of the cache (its pairs are empty): the current pair is
 * keyed by cr3. */
void bt_wcache_reset(struct bt_vcpu *v, uint64_t cr3);

/* ---- the code cache (cache.c) ---- */
/* Per translated guest instruction (or part of one): where its host code starts and
 * how to recover the guest state if that code faults. */
struct bt_imap {
	uint32_t host_off;       /* from the block's host start */
	uint16_t guest_off;      /* from the block's guest start */
	uint16_t spill;          /* GPRs whose guest value is in their spill slot */
	uint8_t delta;           /* GPRs that hold host pointers (guest = reg + delta slot) */
	int8_t rsp_adj;          /* guest RSP = RSP + rsp_adj */
	uint16_t pad;
};

struct bt_tb {
	uint64_t rip;            /* guest virtual address of the first instruction */
	uint64_t gpa;            /* its guest-physical address (the key with rip) */
	uint64_t gpa_last;       /* guest-physical address of its last byte */
	int dead;                /* invalidated: its entry is an exit now */
	int kmode;               /* translated for CPL 0 (the key with rip and gpa) */
	uint32_t host_off;       /* in the code cache */
	uint32_t host_len;
	uint32_t guest_len;
	uint32_t ninsn;
	uint32_t imap_first, imap_count;
	struct bt_tb *hnext;     /* C-side lookup chain */
};

struct bt_cache {
	uint8_t *code;           /* RWX, below 2 GiB (rel32 reach, imm32 addresses) */
	size_t code_size, code_used;
	struct bt_tb *tbs;
	size_t ntb, max_tb;
	struct bt_imap *imap;
	size_t nimap, max_imap;
	struct bt_tb **hash;     /* C-side: by (rip, gpa) */
	unsigned hash_bits;
	uint32_t gen;            /* incremented by every flush */
	uint32_t epoch;          /* incremented by every flush and every block taken out */
	/* user-half entries of the indirect table, cleared on an address-space change */
	uint32_t *uslots;
	size_t nuslots, max_uslots;
};

int bt_cache_init(struct bt_cache *c);
void bt_cache_destroy(struct bt_cache *c);
void bt_cache_flush(struct bt_vcpu *v);
struct bt_tb *bt_cache_find(struct bt_cache *c, uint64_t rip, uint64_t gpa, int kmode);
struct bt_tb *bt_cache_find_host(struct bt_cache *c, uintptr_t host_pc);
/* Takes tb out: lookups miss it and its entry leaves to the run loop. -1: no room. */
int bt_cache_kill(struct bt_vcpu *v, struct bt_tb *tb);
void bt_cache_kill_range(struct bt_vcpu *v, uint64_t va, uint64_t len);
const struct bt_imap *bt_cache_imap(struct bt_cache *c, const struct bt_tb *tb,
				    uintptr_t host_pc);
void bt_htab_insert(struct bt_vcpu *v, uint64_t guest, const struct bt_tb *tb);
void bt_htab_flush_user(struct bt_vcpu *v);
void bt_htab_flush_all(struct bt_vcpu *v);
void bt_cache_commit(struct bt_cache *c, struct bt_tb *tb);
/* Points the rel32 at code offset patch to tb's entry. */
void bt_chain(struct bt_vcpu *v, uint32_t patch, const struct bt_tb *tb);

/* ---- the translator (translate.c) ---- */
/* Returns the block for the vCPU's rip (translating it when needed), NULL with a guest
 * exception raised (a fetch fault), or NULL with v->host_error set. */
struct bt_tb *bt_translate(struct bt_vcpu *v, uint64_t rip);
struct bt_emit;
/* An exit to the run loop at e, followed by its record (returned, to fill in). */
struct bt_exit_info *bt_emit_exit(struct bt_emit *e, uint8_t kind);
int bt_decoder_init(ZydisDecoder *d);

/* ---- trampolines (trampoline.c) ---- */
const struct bt_exit_info *bt_enter(struct bt_ctx *ctx, const void *host_pc);
void bt_exit_stub(void);
void bt_exit_common(void);
void bt_sig_entry(int sig, siginfo_t *si, void *uc);
void bt_signal_handler(int sig, siginfo_t *si, void *ucv, struct bt_ctx *ctx);

/* ---- counting mode (icount.c) ----
 * Off by default. The first rdpmc of HV_PMC_GUEST_INSNS_KERNEL or _USER (abi.h) turns
 * it on for the VM: each vCPU empties its code cache, and every block translated from
 * then on adds its instruction count to ctx->icount[] at its entry, with a sequence
 * that leaves the arithmetic flags alone. A block left before its end (a guest
 * exception, device memory, a call-out that does not go on inline) gives back the
 * instructions it did not run. */
#define BT_ICOUNT_KERNEL 0
#define BT_ICOUNT_USER   1
/* Which counter a block at guest address rip adds to: the kernel half or the user
 * half of the address space (DESIGN.md's layout). */
static inline int bt_icount_half(uint64_t rip)
{
	return (rip >> 63) ? BT_ICOUNT_KERNEL : BT_ICOUNT_USER;
}
/* rdpmc at any CPL (info: its call-out record): 0 with *val set for the counter
 * indices of abi.h (turning counting on at the first read), 1 when index is not one of
 * them (the caller raises #GP). */
struct bt_exit_info;
int bt_icount_rdpmc(struct bt_vcpu *v, const struct bt_exit_info *info, uint32_t index,
		    uint64_t *val);
/* Before running translated code: empties the code cache if counting was turned on
 * since it was built. */
void bt_icount_sync(struct bt_vcpu *v);
/* How many of tb's instructions start at guest address rip or after it (0 when
 * counting is off): what a block left at rip counted and did not run. */
uint32_t bt_icount_rest(const struct bt_vcpu *v, const struct bt_tb *tb, uint64_t rip);
/* Takes n instructions back from the counter of the block at block_rip. */
void bt_icount_give_back(struct bt_vcpu *v, uint64_t block_rip, uint32_t n);
/* The block tb stopped at guest address rip: the instructions from there to its end
 * (from after rip when retired) were counted and did not run. */
void bt_icount_unrun(struct bt_vcpu *v, const struct bt_tb *tb, uint64_t rip, int retired);

/* ---- the GS base (segbase.c) ---- */
/* Sets vm->gs_write from want ("auto", "wrgsbase", "arch_prctl"; NULL or "": the
 * HVLAB_BT_GS environment variable, else auto). With hv_err_msg() set: -1 when want is
 * none of them, -2 when it names what the host lacks (wrgsbase without FSGSBASE). */
int bt_gs_choose(const char *want, struct bt_vm *vm);
const char *bt_gs_write_name(enum bt_gs_write w);
/* Makes this thread's GS base v's current window (a write only when it differs from the
 * last one made here). */
int bt_gs_sync(struct bt_vcpu *v);

/* ---- counters ---- */
enum bt_trap { BT_TRAP_PF_FILL, BT_TRAP_PF_GUEST, BT_TRAP_MMIO, BT_TRAP_PROTECTED, BT_TRAP_DE,
	       BT_TRAP_UD, BT_TRAP_GP, BT_TRAP_POLL, BT_TRAP_OTHER, BT_TRAP_NR };

struct bt_stats {
	uint64_t blocks, guest_insns, code_bytes, chains, lookups_missed, flushes;
	uint64_t callouts[BT_CO_NR];
	/* host TSC cycles in C of one call-out in 64 of each kind, and how many were timed */
	uint64_t callout_cycles[BT_CO_NR], callouts_timed[BT_CO_NR];
	uint64_t callouts_inline;        /* finished by bt_callout_fast, no run-loop turn */
	uint64_t direct_calls;           /* port writes served by the core from a call-out */
	uint64_t tlb_flush_waits;        /* other vCPUs a paravirtual TLB flush waited for */
	uint64_t tlb_flush_wait_cycles;  /* and the TSC cycles it waited */
	uint64_t traps[BT_TRAP_NR];
	uint64_t exceptions[32], interrupts;
	uint64_t large_maps;             /* shadow fills of a whole guest 2 MiB page */
	uint64_t shadow_fills, pt_write_traps, pt_write_callouts, window_flushes, unsupported;
	uint64_t hot_cooled;             /* hot instructions translated again as before */
	uint64_t shared_fallbacks;       /* bt_unshare: the shared layout given up */
	uint64_t smc_invalidations, hot_retranslations, pt_unshadowed, fpu_loads;
	uint64_t budget_flushes;         /* windows emptied for vm.max_map_count */
	uint64_t wcache_hits, wcache_misses, wcache_evictions;
	uint64_t xinvals;                /* page-table invalidations from other vCPUs */
	uint64_t gs_writes;              /* GS base writes (window changes seen at entry) */
	uint64_t unsyncs;                /* leaf tables let out of sync (unsync.c) */
	uint64_t unsync_evictions;       /* and watched again to make room */
	uint64_t resyncs;                /* out-of-sync tables found changed at a flush */
	uint64_t resync_entries;         /* entries those had changed */
};

/* ---- the virtual CPU ---- */
enum { BT_SEG_ES, BT_SEG_CS, BT_SEG_SS, BT_SEG_DS, BT_SEG_FS, BT_SEG_GS, BT_SEG_NR };

struct bt_cpu {
	uint64_t rip;
	uint64_t vflags;         /* IF, IOPL, TF, AC, NT, ID...: never in the host's RFLAGS */
	unsigned cpl;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	struct hv_segment seg[BT_SEG_NR], tr, ldt;
	struct hv_dtable gdt, idt;
	uint64_t star, lstar, cstar, fmask, tsc_aux, apic_base, pat;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	int shadow;              /* interrupt shadow after sti / mov ss: one instruction */
	int halted;
};

/* An exception raised while emulating (walks, call-outs), delivered by the run loop. */
struct bt_fault {
	int pending;
	int from_data;           /* a #PF of a translated data access (adaptive translation) */
	uint8_t vector;
	int has_error;
	uint32_t error;
	uint64_t cr2;
};

/* The local APIC, and what KVM's in-kernel irqchip provides under the hw engine (the
 * legacy PIC and PIT ports): the engine emulates them itself (platform.c). */
struct bt_lapic {
	uint32_t id, tpr, svr, ldr, dfr, esr, icr_lo, icr_hi;
	uint32_t lvt[6];                 /* timer, thermal, perf, LINT0, LINT1, error */
	uint32_t timer_init, timer_dcr;
	uint64_t timer_start;            /* host TSC when the count was written */
	uint64_t timer_ns;               /* one period in ns (0: stopped) */
	uint32_t irr[8];                 /* set by any thread (atomic), cleared by the vCPU */
	uint32_t isr[8];
	int timer_fd, stop_fd;           /* timerfd and the timer thread's stop eventfd */
	pthread_t timer_thread;
	int timer_thread_up;
	int timer_fired;                 /* atomic: the timer thread saw an expiry */
	uint8_t pic_mask[2];
	uint8_t port61;
	int sipi_vector;                 /* -1, or the vector of a SIPI to this vCPU */
	int init_received;
};

/* What the engine knows of one guest-physical page (protect.c). */
#define BT_PG_CODE 1u            /* translated code comes from it */
#define BT_PG_PT   2u            /* a page table of a walk */
#define BT_PG_UNSYNC 4u          /* PT: out of sync, written freely (unsync.c) */
struct bt_pinfo {
	uint8_t flags;
	uint8_t level;           /* PT: 4 (PML4) .. 1 (PT) */
	uint8_t multi;           /* PT: seen at more than one place (level, address) */
	uint8_t uslot;           /* UNSYNC: its slot in bt_vm.unsync */
	uint64_t va_base;        /* PT: first guest address its entries map */
	uint64_t root;           /* PT: the CR3 of its walks, or BT_ROOT_SHARED */
};
#define BT_ROOT_SHARED 1ull

struct bt_trace;

struct bt_vm {
	struct bt_trace *trace;          /* --bt-trace: the page-table trace, or NULL */
	enum bt_gs_write gs_write;       /* how GS is written (segbase.c) */
	int gs_by_insn;                  /* the host offers wrgsbase */
	int shared;                      /* one window for both CPLs (gs_write shared) */
	const char *gs_reason;           /* why: auto-detected or forced */
	struct bt_pinfo *pinfo;          /* one per guest-physical page */
	uint64_t npages;
	struct bt_memslot slot[BT_MAX_SLOTS];
	unsigned nslots;
	unsigned nr_vcpus;
	uint64_t tsc_khz;
	struct bt_vcpu *vcpus[16];
	struct { uint16_t port; uint32_t len; int fd; } ioev[8];
	unsigned nioev;
	/* the core's device handlers, offered port I/O and MMIO exits from the call-out
	 * (direct_exit_set) */
	int (*direct_fn)(void *ctx, unsigned vcpu, struct hv_exit *exit);
	void *direct_ctx;
	struct { uint32_t leaf, sub, r[4]; } cpuid[32];   /* the host's, read once */
	uint32_t cpuid_max_basic, cpuid_max_ext;          /* leaves 0 and 0x80000000's EAX */
	struct hv_cpuid_leaf hvcpuid[HV_CPUID_LEAVES_MAX]; /* the core's own leaves */
	unsigned nhvcpuid;
	unsigned ncpuid;
	uint64_t map_budget;             /* window pages all vCPUs together may keep mapped */
	int icount;                      /* counting mode asked for (atomic; icount.c) */
	int adaptive;                    /* adaptive translation (emulate.c): --bt-adaptive */
	/* Leaf page tables out of sync (unsync.c): written without a trap, compared with
	 * their snapshot at the guest's TLB flushes. */
	pthread_mutex_t unsync_lock;
	struct bt_unsync *unsync;        /* BT_UNSYNC_MAX slots, allocated on first use */
	unsigned nunsync;                /* slots in use (atomic: read without the lock) */
	uint64_t unsync_clock;
};

/* Whether guest writes to the page must trap: translated code, or a page table the
 * engine keeps in sync. */
static inline int bt_pg_watched(const struct bt_pinfo *pi)
{
	return pi && ((pi->flags & BT_PG_CODE) ||
		      (pi->flags & (BT_PG_PT | BT_PG_UNSYNC)) == BT_PG_PT);
}

struct bt_vcpu {
	struct bt_vm *vm;
	unsigned index;
	struct bt_ctx *ctx;
	struct bt_cpu cpu;
	/* The window cache: pair i is wins[2i] (kernel view) and wins[2i + 1] (user view),
	 * keyed by wkey[i] (a CR3 without its low 12 bits). */
	struct bt_window wins[2 * BT_WCACHE];
	struct bt_window *win;           /* the current pair: win[0] kernel, win[1] user */
	unsigned wcur;                   /* its index */
	uint64_t live_pub;               /* its windows' pages, for the other vCPUs (atomic) */
	int shared;                      /* its windows have the shared layout (vm->shared,
					  * until bt_unshare) */
	uint64_t wkey[BT_WCACHE];
	uint64_t wused[BT_WCACHE];       /* LRU stamps; 0: the pair holds no address space */
	uint64_t wclock;
	struct bt_cache cache;
	struct bt_stats stats;
	struct bt_fault fault;
	ZydisDecoder dec;
	int host_error;                  /* hv_err_msg() says what */
	int shutdown;                    /* a triple fault ended the guest */
	int exit_request;                /* request_exit(): atomic */
	int parked;                      /* blocked in the VMM (vcpu_parked): atomic */
	int poll_armed;                  /* the poll page is read-only */
	/* a call-out bt_callout_fast ran but could not finish: the run loop takes its result */
	struct {
		int done, r;
		uint32_t epoch;
		struct hv_exit exit;
	} fast;
	void *altstack;
	size_t altstack_size;
	/* a port I/O exit in progress: completed by the next run */
	struct {
		int active;
		uint16_t port;
		uint8_t size, dir, reg, rep, string;
		uint32_t count;
		uint64_t next_rip;
	} io;
	uint8_t iobuf[4096];
	/* an MMIO access in progress: found by a fault, emulated by the run loop */
	struct {
		int pending;             /* the guest instruction at cpu.rip touched gpa */
		int active;              /* a read exit to the core: complete it next run */
		uint64_t gpa;
		uint8_t reg, size, sext;
		uint32_t dst_bytes;
		ZydisRegister dst;
		uint64_t next_rip;
	} mmio;
	struct bt_lapic lapic;
	struct bt_rmap_slot *rmap;       /* guest page -> window pages mapping it writable */
	unsigned rmap_used;
	int rmap_lost;                   /* entries were dropped: protect by flushing */
	int single_insn;                 /* translate one instruction, unprotected (SMC) */
	int icount;                      /* the code cache was built in counting mode */
	/* guest instructions that trapped on protected pages, by address: after a few,
	 * they are translated as call-outs (adaptive translation) */
	struct { uint64_t rip; uint32_t traps, calm; } hot[256];
	/* the decoded instruction of a hot call-out, by its exit record (emulate.c) */
	struct bt_decoded_slot *dcache;
	/* requests from other vCPUs about code pages: served before the next run */
	struct {
		pthread_mutex_t lock;
		int pending;             /* atomic: something is queued */
		unsigned nprot, ninval;
		int overflow;            /* too many: flush everything instead */
		uint64_t prot[32], inval[32];
		/* page-table changes: window ranges to drop (bt_shadow_inval's arguments) */
		unsigned npt;
		int pt_overflow;         /* too many: empty every window instead */
		struct { uint64_t root, va, len; } pt[32];
	} xreq;
	int wake_fd;                     /* eventfd: wakes a halted vCPU */
	int wait_sipi;                   /* an application processor before its SIPI */
	pthread_t thread;
	int thread_set;
};

/* The view (window) the CPL selects. */
/* Blocks are translated for one CPL: 1 for CPL 0, 0 otherwise. */
static inline int bt_kmode(const struct bt_vcpu *v)
{
	return v->cpu.cpl == 0;
}

/* The index of guest in the indirect-branch tables for blocks of mode kmode. */
static inline unsigned bt_htab_index(uint64_t guest, int kmode)
{
	return (unsigned)(guest & (BT_HTAB_SIZE - 1)) + (kmode ? BT_HTAB_SIZE : 0u);
}

/* The window of the current view: of the CPL's view in the split layout, the one
 * window of the address space in the shared layout. */
static inline struct bt_window *bt_cur_window(struct bt_vcpu *v)
{
	return &v->win[!v->shared && v->cpu.cpl == 3];
}

/* ---- run loop, events, call-outs ---- */
int bt_vcpu_run(struct bt_vcpu *v, struct hv_exit *exit);
void bt_set_view(struct bt_vcpu *v);
void bt_raise(struct bt_vcpu *v, uint8_t vector, int has_error, uint32_t error);
void bt_raise_pf(struct bt_vcpu *v, uint64_t cr2, uint32_t error);
/* Delivers v->fault (or an interrupt) through the guest IDT. Returns 0, or 1 when the
 * vCPU shut down (triple fault; why in v->shutdown_why). */
/* The pending v->fault, delivered: as bt_deliver. */
int bt_deliver_fault(struct bt_vcpu *v);
int bt_deliver(struct bt_vcpu *v, uint8_t vector, int has_error, uint32_t error, int soft);
/* Returns 0: go on at the next instruction (inline), 1: go on at cpu.rip (dispatch),
 * 2: an exit to the core is in *exit, -1: host error. */
int bt_callout(struct bt_vcpu *v, const struct bt_exit_info *info, struct hv_exit *exit);
/* Called by the exit stub on the host stack: runs a call-out at once and returns where
 * translated code goes on, or NULL for the run loop (trampoline.c). */
const uint8_t *bt_callout_fast(struct bt_ctx *ctx);
const uint8_t *bt_known_block(struct bt_vcpu *v);
uint64_t bt_get_rflags(const struct bt_vcpu *v);
void bt_set_rflags(struct bt_vcpu *v, uint64_t rflags);

/* platform.c */
int bt_platform_init(struct bt_vcpu *v);
void bt_platform_destroy(struct bt_vcpu *v);
/* Port I/O the engine serves itself (PIC, PIT, ioeventfd ports): 1 handled, 0 not. */
int bt_platform_pio(struct bt_vcpu *v, uint16_t port, uint8_t size, int is_write,
		    uint8_t *data);
int bt_lapic_mmio(struct bt_vcpu *v, uint64_t offset, uint32_t len, int is_write,
		  uint8_t *data);
int bt_is_lapic(const struct bt_vcpu *v, uint64_t gpa);
/* The highest interrupt vector that may be delivered now, or -1. */
int bt_irq_pending(struct bt_vcpu *v);
void bt_irq_ack(struct bt_vcpu *v, int vector);
void bt_irq_set(struct bt_vcpu *v, int vector);
void bt_timer_poll(struct bt_vcpu *v);
/* Makes translated code leave at its next block entry (async-signal-safe). */
void bt_arm_poll(struct bt_vcpu *v);
void bt_wake(struct bt_vcpu *v);
int bt_halt_wait(struct bt_vcpu *v);

int bt_io_complete(struct bt_vcpu *v);
void bt_cpuid_init(struct bt_vm *vm);
void bt_cpuid(struct bt_vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4]);

/* bootmode.c: the real- and protected-mode start-up code of an application processor */
void bt_sipi_reset(struct bt_vcpu *v, int vector);
int bt_boot_to_long_mode(struct bt_vcpu *v);
int bt_in_long_mode(const struct bt_vcpu *v);

/* emulate.c: one instruction's memory access done in C (device memory, protected
 * pages, addresses outside the layout, hot instructions) */
int bt_mmio_emulate(struct bt_vcpu *v, struct hv_exit *exit);
int bt_mmio_complete(struct bt_vcpu *v);
int bt_is_hot(struct bt_vcpu *v, uint64_t rip);
int bt_emulate_callout(struct bt_vcpu *v, const struct bt_exit_info *info,
		       struct hv_exit *exit);
void bt_note_trap(struct bt_vcpu *v, uint64_t rip);
/* A guest page fault raised by a translated data access at rip (a host signal). */
void bt_note_pf_trap(struct bt_vcpu *v, uint64_t rip);

/* protect.c */
int bt_protect_init(struct bt_vm *vm, uint64_t mem_end);
struct bt_pinfo *bt_pinfo(struct bt_vm *vm, uint64_t gpa);
int bt_rmap_init(struct bt_vcpu *v);
void bt_rmap_destroy(struct bt_vcpu *v);
void bt_rmap_clear(struct bt_vcpu *v);
void bt_rmap_add(struct bt_vcpu *v, uint64_t gpa, int win, uint64_t off);
void bt_protect_page(struct bt_vcpu *v, uint64_t gpa);
void bt_code_page(struct bt_vcpu *v, uint64_t gpa);
int bt_code_invalidate(struct bt_vcpu *v, uint64_t gpa, uintptr_t host_pc);
void bt_xreq_init(struct bt_vcpu *v);
void bt_xreq_destroy(struct bt_vcpu *v);
void bt_xreq_serve(struct bt_vcpu *v);
/* A page-table entry at gpa changed from old: drops what the windows mapped from it. */
void bt_pt_written(struct bt_vcpu *v, uint64_t gpa, uint64_t old, uint64_t new);
/* n entries from entry first of the table at gpa changed, some of them present before:
 * drops what the windows mapped from them. */
void bt_pt_entries_changed(struct bt_vcpu *v, uint64_t gpa, unsigned first, unsigned n);

/* Out-of-sync leaf tables (unsync.c). */
#define BT_UNSYNC_MAX 32
struct bt_unsync {
	uint64_t gpa;                    /* the table's page; 0: a free slot */
	uint64_t used;                   /* LRU stamp */
	uint64_t snap[512];              /* its entries when last compared */
};
void bt_unsync_init(struct bt_vm *vm);
void bt_unsync_destroy(struct bt_vm *vm);
/* A trapped write to the page table at gpa: a user-half leaf table stops trapping. */
void bt_unsync_table(struct bt_vcpu *v, uint64_t gpa);
/* The guest flushes its TLB: at a CR3 load (va BT_INVAL_ALL: every out-of-sync table of
 * root) or an invlpg of va (the table that maps va). Changes since the snapshots are
 * dropped from every vCPU's windows. */
void bt_unsync_flush(struct bt_vcpu *v, uint64_t root, uint64_t va);
/* The engine wrote the entry itself (an emulated store, the VMM's write): the snapshot
 * follows, where it held old. */
void bt_unsync_seen(struct bt_vm *vm, uint64_t gpa, uint64_t old, uint64_t new);
/* The table is watched again, or no longer a table: its slot goes (lock not held). */
void bt_unsync_drop(struct bt_vm *vm, struct bt_pinfo *pi, uint64_t gpa);

/* The page-table trace (trace.c), recorded when vm->trace is set: opened at VM creation
 * (0, or -1 with hv_err_msg()), closed at its end; the events of ptwalk-sim's format. */
int bt_trace_open(struct bt_vm *vm, const char *path);
void bt_trace_close(struct bt_vm *vm);
void bt_trace_cr3(struct bt_vcpu *v, uint64_t cr3);
void bt_trace_touch(struct bt_vcpu *v, uint64_t va, uint64_t gpa, int large, int write);
void bt_trace_pte(struct bt_vcpu *v, uint64_t root, uint64_t va, int level, uint64_t old,
		  uint64_t new);
/* f (a guest page fault) or i (invlpg) at va. */
void bt_trace_simple(struct bt_vcpu *v, char event, uint64_t va);
/* A port I/O or MMIO exit offered to the core's handlers inside the call-out
 * (direct_exit_set): 0 served (an IN or MMIO read completed), 1 served and the vCPU's
 * state may have changed, 2 not served (take the exit), -1 error. */
int bt_direct_exit(struct bt_vcpu *v, struct hv_exit *exit);
/* A guest `mov` to control register cr: 0, 1 (a value the engine refuses: #GP), or 2
 * (no such register: #UD). */
int bt_cr_write(struct bt_vcpu *v, unsigned cr, uint64_t val);
void bt_pt_unshadow(struct bt_vcpu *v, uint64_t gpa);
/* Asks the other vCPUs to protect gpa's page (it became a page table). */
void bt_xreq_protect(struct bt_vcpu *v, uint64_t gpa);
/* Drops a range from every vCPU's windows (bt_shadow_inval), the others' before they
 * run guest code again. */
void bt_inval_all_vcpus(struct bt_vcpu *v, uint64_t root, uint64_t va, uint64_t len);

/* callout.c: operands of an instruction decoded again */
struct bt_decoded {
	ZydisDecodedInstruction in;
	ZydisDecodedOperand op[ZYDIS_MAX_OPERAND_COUNT];
};
int bt_decode_at(struct bt_vcpu *v, uint64_t rip, unsigned len, struct bt_decoded *d);
#define BT_DCACHE 64
struct bt_decoded_slot {
	const struct bt_exit_info *info;   /* NULL: empty */
	uint32_t gen;                      /* the code cache's generation then */
	struct bt_decoded d;
};
uint64_t bt_effective_address(struct bt_vcpu *v, const struct bt_decoded *d,
			      const ZydisDecodedOperand *op);
uint64_t bt_reg_read(struct bt_vcpu *v, ZydisRegister r);
void bt_reg_write(struct bt_vcpu *v, ZydisRegister r, uint64_t val);

int bt_iret(struct bt_vcpu *v, unsigned opsize);
int bt_syscall(struct bt_vcpu *v, uint64_t next);
int bt_sysret(struct bt_vcpu *v);

void bt_stats(struct hv_engine_vcpu *hv, void (*emit)(void *arg, const char *name,
						      uint64_t value), void *arg);
void bt_stats_print(struct hv_engine_vcpu *hv);

int bt_signals_install(void);
int bt_altstack_ensure(struct bt_vcpu *v);
void bt_altstack_release(struct bt_vcpu *v);

#define BT_RFLAGS_HOST (0x1u | 0x4u | 0x10u | 0x40u | 0x80u | 0x400u | 0x800u) /* CPAZSDO */
#define BT_RFLAGS_IF   0x200u

static inline int64_t bt_sext32(uint64_t off)
{
	return (int64_t)(int32_t)(uint32_t)off;
}

#endif
