/* A flat test guest for exercising an engine without a guest kernel: guest-physical
 * memory with 4-level page tables (the low 2 MiB in 4 KiB pages, the rest in 2 MiB
 * pages, mapped both at 0 and at HV_KERNBASE), a Linux-style GDT with a TSS, and an IDT
 * whose every vector runs a stub that records the vector in R15 and stops with a port
 * write. Code is placed with flat_load() and run until the first port write.
 * Engine-neutral: the same guest runs on the bt and hw engines. */
#ifndef HVLAB_BT_FLATGUEST_H
#define HVLAB_BT_FLATGUEST_H
#include <stddef.h>
#include <stdint.h>

#include "hvlab/engine.h"
#include "hvlab/guestmem.h"

#define FLAT_MEM        (16ull << 20)
#define FLAT_PML4       0x1000ull
#define FLAT_PDPT_LO    0x2000ull
#define FLAT_PDPT_HI    0x3000ull
#define FLAT_PD         0x4000ull
#define FLAT_PT         0x5000ull     /* 4 KiB pages of [0, 2 MiB) */
#define FLAT_GDT        0x6000ull
#define FLAT_IDT        0x7000ull
#define FLAT_TSS        0x8000ull
#define FLAT_STUBS      0x9000ull     /* 16 bytes per vector */
#define FLAT_PD_DEV     0xa000ull     /* the 4th GiB: device pages, identity */
#define FLAT_LAPIC      0xfee00000ull
#define FLAT_MMIO       0xfe000000ull /* no memory, no device: exits to the VMM */
#define FLAT_STACK0     0x1f0000ull   /* CPL0 stack top (TSS.RSP0) */
#define FLAT_STACK_IST  0x1e0000ull   /* IST1 stack top */
#define FLAT_CODE       0x200000ull
#define FLAT_DATA       0x400000ull
#define FLAT_STACK      0x600000ull   /* the code's own stack top */
#define FLAT_USER       0x800000ull   /* 2 MiB user-accessible region */

#define FLAT_PORT_DONE  0x99          /* out %al, $0x99 ends a snippet */
#define FLAT_PORT_TRAP  0x98          /* the IDT stubs' port */

#define FLAT_SEL_KCODE  0x10
#define FLAT_SEL_KDATA  0x18
#define FLAT_SEL_UDATA  0x2b
#define FLAT_SEL_UCODE  0x33
#define FLAT_SEL_TSS    0x40

struct flat_guest {
	const struct hv_engine_ops *ops;
	struct hv_engine_vm *vm;
	struct hv_engine_vcpu *vcpu;
	struct hv_guestmem mem;
};

/* Creates the engine VM, memory and vCPU 0 and writes the tables. Returns 0 or -1
 * with hv_err_msg() set. */
int flat_create(struct flat_guest *g, const struct hv_engine_ops *ops);
void flat_destroy(struct flat_guest *g);
/* Copies bytes to guest-physical gpa. */
int flat_load(struct flat_guest *g, uint64_t gpa, const void *src, size_t len);
void *flat_ptr(struct flat_guest *g, uint64_t gpa);
/* Sets the 4 KiB PTE of the page at va (in [0, 2 MiB)) to flags | its identity frame;
 * flags 0 leaves it not present. */
void flat_set_pte(struct flat_guest *g, uint64_t va, uint64_t flags);
/* Long-mode state at rip with rsp, CPL 0 or 3, all registers zero but those in *r
 * (rip, rsp, rflags taken from the arguments). */
int flat_start(struct flat_guest *g, const struct hv_regs *r, unsigned cpl, uint64_t gs_base);
/* flat_start at CPL 0 at the kernel address of FLAT_CODE, RSP at the kernel address of
 * FLAT_STACK, RFLAGS 2 and RBX = rbx: where the unit tests' kernel snippets start. */
int flat_start_kernel(struct flat_guest *g, uint64_t rbx);
/* Runs until an exit that is not a port write the snippet did on purpose; returns 0
 * when the run ended on port (FLAT_PORT_DONE or _TRAP), -1 otherwise (hv_err_msg()
 * says what happened). *port gets the port. Reads of other ports and of device
 * memory return 0xab bytes; writes to device memory are counted in mmio_writes. */
int flat_run(struct flat_guest *g, uint16_t *port);
extern unsigned flat_mmio_writes;

#endif
