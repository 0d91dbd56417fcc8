/* The guest kernel's interface to its user programs: system-call numbers and
 * conventions, the start block a program receives, the user address-space layout and
 * the kernel-mode nanobenchmark operations. Shared by the kernel and the user libc. */
#ifndef GUEST_UAPI_H
#define GUEST_UAPI_H
#include <stdint.h>

/* ---- System calls ----
 * Number in rax; arguments in rdi, rsi, rdx, r10, r8, r9; result in rax (negative:
 * -GUEST_Exxx). Two gates reach the same table; the kernel enables exactly one and tells
 * the program which in its start block:
 *   GUEST_GATE_SYSCALL  the `syscall` instruction (rcx and r11 are clobbered);
 *   GUEST_GATE_UD2      `ud2` (0f 0b): the #UD handler recognizes it as a system call
 *                       and returns past it with iretq (all other registers kept). */
enum guest_sysnr {
	SYS_exit = 0,          /* (status): ends the program */
	SYS_write = 1,         /* (buf, len): bytes to the console; returns len */
	SYS_getpid = 2,        /* (): the process id; the null system call */
	SYS_nb_kernel_op = 3,  /* (op, n): n kernel-mode operations (enum guest_kop) */
	SYS_result = 4,        /* (struct hv_result *): validate and forward to the VMM */
	SYS_iopl = 5,          /* (level 0 or 3): I/O privilege for this process */
	SYS_fault_resume = 6,  /* (addr or 0): where a user fault resumes, see below */
	SYS_unmap = 7,         /* (addr, len): drop demand-zero pages (page aligned) */
	SYS_map_device = 8,    /* (which): map a device page uncached; returns its address */
	SYS_ioperm = 9,        /* (from, num, on): user access to ports [from, from+num) */
	SYS_NR
};

#define GUEST_EPERM   1
#define GUEST_EFAULT  14
#define GUEST_EINVAL  22
#define GUEST_ENOSYS  38

enum guest_gate {
	GUEST_GATE_SYSCALL = 1,
	GUEST_GATE_UD2 = 2,
};

/* Fault resumption: with an address registered by SYS_fault_resume, a fault the kernel
 * does not resolve itself (anything but a demand-zero page fault) resumes the program at
 * that address with rax = vector and rdx = error code, every other register as it was
 * at the fault. Without one, the fault ends the program. */

/* Devices a program may map (SYS_map_device). */
enum guest_device {
	GUEST_DEV_MMIO_NULL = 1,   /* HV_MMIO_UNBACKED: writes are discarded by the VMM */
};

/* Kernel-mode operations of the nanobenchmarks. Each loop is the same instruction
 * sequence with and without the operation, so op minus GUEST_KOP_NONE with the same n
 * is n operations. */
enum guest_kop {
	GUEST_KOP_NONE = 0,        /* the harness: an empty loop */
	GUEST_KOP_CR8WR = 1,       /* mov to %cr8 (task priority), value unchanged */
	GUEST_KOP_PTEMOD = 2,      /* store an unchanged value to a live user PTE */
	GUEST_KOP_HCALL = 3,       /* HV_HC_NOP through the hypercall doorbell */
	GUEST_KOP_IN = 4,          /* inb from HV_PORT_POST */
	GUEST_KOP_IOEVENTFD = 5,   /* outl to HV_PORT_IOEVENTFD */
	GUEST_KOP_MMIO = 6,        /* movl to HV_MMIO_UNBACKED (uncached mapping) */
	GUEST_KOP_NR
};
#define GUEST_KOP_MAX_N (1u << 24)

/* ---- User address space: [0, HV_USER_TOP) ---- */
#define GUEST_USER_IMAGE_BASE  0x0000000000400000ull /* programs are linked here */
#define GUEST_USER_IMAGE_END   0x0000000010000000ull
#define GUEST_USER_DEMAND_BASE 0x0000000040000000ull /* demand-zero area (pgfault) */
#define GUEST_USER_DEMAND_END  0x0000000050000000ull
#define GUEST_USER_DEVICE_BASE 0x0000000070000000ull /* device pages (SYS_map_device) */
#define GUEST_USER_STACK_TOP   0x000000007fff0000ull
#define GUEST_USER_STACK_MAX   (256ull << 10)        /* grows on demand below the top */

/* The start block: rdi points at it when a program starts (it lives at the top of the
 * program's stack). */
#define GUEST_ARGS_MAX 256
struct guest_start {
	uint64_t gate;           /* enum guest_gate */
	uint64_t pid;
	uint64_t tsc_khz;        /* from the VMM; 0 when unknown */
	char workload[32];       /* the program's name */
	char args[GUEST_ARGS_MAX]; /* wargs= from the command line, NUL-terminated */
};

#endif
