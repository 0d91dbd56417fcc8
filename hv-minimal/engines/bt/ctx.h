/* The per-vCPU context block: the memory that translated code reaches by absolute
 * 32-bit addresses (the block is mapped below 2 GiB, and each vCPU has its own code
 * cache, so its address can be part of the code). It holds the guest registers while
 * the engine's C code runs, scratch slots for rewritten sequences, the host state to
 * return to, the poll page and the indirect-branch table. No segment base points at
 * it: FS stays glibc's thread pointer throughout, and GS is the current window.
 *
 * The offsets are plain numbers because the trampolines (trampoline.c, file-scope
 * assembly) and the code emitter use them as displacements; struct bt_ctx in bt.h
 * checks each one with a static assertion. */
#ifndef HVLAB_BT_CTX_H
#define HVLAB_BT_CTX_H

#define CTX_SELF      0x000   /* the block's own address */
/* Counting mode (icount.c): guest instructions executed in translated code, in the
 * kernel half and the user half of the address space, and the slot that keeps RAX
 * while a block adds its count. */
#define CTX_ICOUNT_K  0x008
#define CTX_ICOUNT_U  0x010
#define CTX_ICOUNT_TMP 0x018
#define CTX_HOST_RSP  0x020   /* host stack of bt_enter(), below its saved registers */
#define CTX_VCPU      0x028   /* struct bt_vcpu * of the owner */
#define CTX_EXIT_FN   0x030   /* address of the exit stub (translated code calls it) */
#define CTX_TARGET    0x038   /* host entry on bt_enter; guest target of a lookup */
#define CTX_JMP       0x040   /* host address of a lookup hit */
#define CTX_WINBASE   0x048   /* host base of the current window (= GS base) */
#define CTX_NEGWIN    0x050   /* -CTX_WINBASE, for flag-free pointer conversion */
#define CTX_GFSBASE   0x058   /* the guest's own FS base (virtual) */
#define CTX_GGSBASE   0x060   /* the guest's own GS base (virtual) */
#define CTX_RFLAGS    0x068   /* guest arithmetic flags and DF, as the host holds them */
#define CTX_EXIT_INFO 0x070   /* struct bt_exit_info * of the last exit, 0 for a signal */
/* Lazy FPU: the guest's x87/SSE state is moved only around code that uses it. */
#define CTX_FPU_HW      0x078 /* byte: the FPU registers hold the guest's state */
#define CTX_FPU_DIRTY   0x079 /* byte: the guest changed them since CTX_GUEST_FX */
#define CTX_FPU_RESTORE 0x07a /* byte: bt_enter loads CTX_GUEST_FX first */
#define CTX_HOST_MXCSR  0x07c /* the host's MXCSR, put back after guest state */
#define CTX_REGS      0x080   /* 16 guest GPRs in x86 encoding order */
#define CTX_SPILL     0x100   /* one spill slot per GPR, for rewritten sequences */
#define CTX_DELTA     0x180   /* guest - host pointer deltas of string operations */
#define CTX_GUEST_FX  0x200   /* fxsave64 area of the guest (512 bytes) */
/* swapgs runs inline at CPL 0 (translate.c): the guest's KERNEL_GS_BASE and a swap
 * slot. */
#define CTX_KGSBASE   0x400
#define CTX_SWAP_TMP  0x408
#define CTX_POLL      0x1000  /* one page: made read-only to stop translated code */
/* Indirect-branch tables: BT_HTAB_SIZE x {guest, host} for blocks translated at CPL 3,
 * then as many for CPL 0 (a block is translated for one CPL: user-mode code never
 * finds a kernel-mode block). */
#define CTX_HTAB      0x2000

#define BT_HTAB_BITS  16
#define BT_HTAB_SIZE  (1 << BT_HTAB_BITS)
#define CTX_HTAB_K    (CTX_HTAB + BT_HTAB_SIZE * 16)
#define CTX_SIZE      (CTX_HTAB + 2 * BT_HTAB_SIZE * 16)

/* x86 register numbers (ModRM encoding order). */
#define BT_RAX 0
#define BT_RCX 1
#define BT_RDX 2
#define BT_RBX 3
#define BT_RSP 4
#define BT_RBP 5
#define BT_RSI 6
#define BT_RDI 7

#define CTX_REG(r)   (CTX_REGS + 8 * (r))
#define CTX_SPILLR(r) (CTX_SPILL + 8 * (r))
#define CTX_DELTAR(r) (CTX_DELTA + 8 * (r))

#endif
