/* Kernel-wide definitions: the address-space layout, the boot configuration, console
 * output and panics. The first part is shared with assembly. */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#define KERNBASE   0xffffffff80000000
#define PAGE_SIZE  4096
#define HUGE_SIZE  0x200000
#define POST_PORT  0x80              /* HV_PORT_POST (abi.h is C-only) */

/* POST codes written to the POST port as boot progresses. The first is the kernel's
 * first instruction, which the VMM uses to time start-up. */
#define POST_ENTRY   0x01
#define POST_CONSOLE 0x02
#define POST_TABLES  0x03
#define POST_PAGING  0x04
#define POST_USER    0x05
#define POST_SMP     0x06

/* Where application processors start (INIT/SIPI): real-mode code and its page tables,
 * in the low memory the VMM leaves to the guest (HV_BOOT_AP_GPA in abi.h). */
#define AP_TRAMP_PA  0x90000

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>
#include "hvlab/abi.h"

_Static_assert(KERNBASE == HV_KERNBASE, "KERNBASE");
_Static_assert(POST_PORT == HV_PORT_POST, "POST_PORT");
_Static_assert(AP_TRAMP_PA == HV_BOOT_AP_GPA, "AP_TRAMP_PA");

#define PAGE_MASK  (~(uint64_t)(PAGE_SIZE - 1))
#define P2V(pa) ((void *)((uint64_t)(pa) + KERNBASE))
#define V2P(va) ((uint64_t)(va) - KERNBASE)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((noreturn))

/* What the VMM told the kernel at boot (boot info block and command line). */
struct kconfig {
	uint64_t mem_bytes;
	uint64_t hcall_gpa;
	uint64_t tsc_khz;
	uint64_t kernel_end_gpa;
	uint32_t nr_vcpus;        /* CPUs to start (boot info, or cpus= when fewer) */
	char engine[16];
	uint32_t devices;         /* HV_DEV_*, from the boot info block */
	int gate;                 /* enum guest_gate, from sysgate= */
	int kmem;                 /* enum guest_kmem, from kmem= */
	int cow;                  /* fork copy-on-write, from cow= */
	int pagesize_2m;          /* pagesize=2m: demand areas in 2 MiB pages where they fit */
	uint32_t hugemem_mib;     /* hugemem=: the 2 MiB-page pool in MiB (0: the default) */
	int cr8wr_off;            /* cr8wr=off: the CR8-write nanobenchmark is refused */
	uint32_t pv_batch;         /* pv: page-table updates per hypercall at most, from pvbatch= */
	uint32_t hz;              /* timer interrupts per second, from hz= */
	const char *spinlock;     /* lock implementation, from spinlock= */
	uint32_t spin_threshold;  /* spinthreshold=; 0: the VMM's (CPUID) or the default */
	const char *flavour;      /* guest flavour, from flavour= (full) */
	const char *iopath;       /* I/O path, from iopath= or io= (blk.c) */
	uint64_t blk_mmio;        /* virtio-mmio block device, from virtio_mmio.device=
	                           * (0: HV_BLK_MMIO_BASE, the hvm device's) */
	uint32_t blk_gsi;         /* its interrupt as an IOAPIC input, when blk_gsi_set */
	int blk_gsi_set;
	const char *workload;     /* workload=, NULL when absent */
	const char *wargs;        /* wargs=, "" when absent */
	char cmdline[HV_CMDLINE_MAX];
};
extern struct kconfig kcfg;

/* bootinfo.c: validates the boot info block at boot_gpa and copies it and the command
 * line into kcfg; panics on a block it cannot trust. */
void bootinfo_read(uint64_t boot_gpa);
/* cmdline.c: parses kcfg.cmdline in place into kcfg's options. */
void cmdline_parse(void);

/* console.c: the 16550 UART at HV_PORT_COM1, polled. console_write is not locked
 * (kprintf and the write system call take the console lock around it). */
void console_init(void);
void console_write(const char *s, size_t n);
void console_lock(void);
void console_unlock(void);

/* printf.c */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* kprintf without the console lock, for panics (the failing CPU may hold it). */
int kprintf_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NORETURN void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* main.c */
NORETURN void kmain(uint64_t boot_gpa);

#endif /* __ASSEMBLER__ */
#endif
