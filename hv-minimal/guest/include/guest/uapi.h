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
	SYS_exit = 0,          /* (status): ends the calling process */
	SYS_write = 1,         /* (buf, len): bytes to the console; returns len */
	SYS_getpid = 2,        /* (): the process id; the null system call */
	SYS_nb_kernel_op = 3,  /* (op, n): n kernel-mode operations (enum guest_kop) */
	SYS_result = 4,        /* (struct hv_result *): validate and forward to the VMM */
	SYS_iopl = 5,          /* (level 0 or 3): I/O privilege for this process */
	SYS_fault_resume = 6,  /* (addr or 0): where a user fault resumes, see below */
	SYS_unmap = 7,         /* (addr, len): drop pages of a demand area (page aligned) */
	SYS_map_device = 8,    /* (which): map a device page uncached; returns its address */
	SYS_ioperm = 9,        /* (from, num, on): user access to ports [from, from+num) */
	SYS_fork = 10,         /* (): a copy of the caller; child pid, 0 in the child */
	SYS_wait = 11,         /* (): pid of an exited child, its status in rdx; -ECHILD */
	SYS_exec = 12,         /* (name, args): run embedded program name instead */
	SYS_yield = 13,        /* (): let another runnable process of this CPU run */
	SYS_sbrk = 14,         /* (delta): grow or shrink the heap; returns the old break */
	SYS_thread = 15,       /* (entry, stack_top, arg): a process sharing this address
	                        * space, started at entry(arg); returns its pid */
	SYS_setcpu = 16,       /* (cpu): move the caller to that CPU and keep it there */
	SYS_sysinfo = 17,      /* (struct guest_sysinfo *): CPUs, settings, counters */
	SYS_getcpu = 18,       /* (): the CPU the caller runs on */
	SYS_populate = 19,     /* (addr, len): map demand-zero pages now (no faults later) */
	SYS_blk = 20,          /* (cmd, arg, n): the block device, enum guest_blk_cmd */
	SYS_spin_wait = 21,    /* (lock, ticket): the slow path of the boot's spinlock=
				* mode for a user lock (struct guest_spinlock, 16-byte
				* aligned) whose waiter for ticket has spun past the
				* threshold: pv-yield tells the VMM, pv-halt sleeps until
				* kicked, plain returns at once */
	SYS_spin_kick = 22,    /* (lock): after a release with waiters, wakes the one whose
				* turn it is (pv-halt; nothing otherwise) */
	SYS_NR
};

#define GUEST_ENOENT  2
#define GUEST_EPERM   1
#define GUEST_ECHILD  10
#define GUEST_EAGAIN  11
#define GUEST_ENOMEM  12
#define GUEST_EFAULT  14
#define GUEST_EBUSY   16
#define GUEST_EINVAL  22
#define GUEST_ENOSYS  38

enum guest_gate {
	GUEST_GATE_SYSCALL = 1,
	GUEST_GATE_UD2 = 2,
};

/* How the kernel zeroes and copies pages (boot option kmem=): with its own string
 * instructions, or by handing the work to a routine it runs at CPL3 over a private
 * map of physical memory (where the host emulates guest kernel code, one CPL3
 * excursion costs less than a few kernel instructions per byte). */
enum guest_kmem {
	GUEST_KMEM_KERNEL = 1,
	GUEST_KMEM_USER = 2,
};

/* Fault resumption: with an address registered by SYS_fault_resume, a fault the kernel
 * does not resolve itself (anything but a demand-zero or copy-on-write page fault)
 * resumes the program at that address with rax = vector and rdx = error code, every
 * other register as it was at the fault. Without one, the fault ends the program. */

/* SYS_blk: the block device through the driver of the boot's I/O path (iopath=). */
enum guest_blk_cmd {
	GUEST_BLK_INFO = 0,      /* (struct guest_blk_info *) */
	GUEST_BLK_SUBMIT = 1,    /* (struct guest_blk_req *, n): n requests submitted
				  * together and waited for together; status set in each */
	GUEST_BLK_STATS = 2,     /* (0): start the VMM's counters; (struct hv_blk_stats *):
				  * stop them and copy them out */
};
enum guest_blk_op { GUEST_BLK_READ = 1, GUEST_BLK_WRITE = 2 };
#define GUEST_BLK_BATCH_MAX 64

/* One request: buf is a populated user buffer, aligned to 512 bytes; len a multiple of
 * 512 up to 64 KiB. status: HV_BLK_ST_* (blk_abi.h). */
struct guest_blk_req {
	uint32_t op;
	uint32_t status;
	uint64_t sector;
	uint64_t uva;
	uint32_t len;
	uint32_t pad;
};

struct guest_blk_info {
	uint64_t sectors;        /* capacity */
	uint32_t queue;          /* requests of 4 KiB one batch may hold */
	uint32_t pad;
	uint64_t irqs;           /* device interrupts the kernel has taken */
	char path[16];           /* the I/O path */
};

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
/* Or'd into the operation: each body twice (nanobench harness=marginal times op|TWICE
 * against op, so that the difference is n more operations beside n others). */
#define GUEST_KOP_TWICE 0x100u

/* ---- User address space: [0, HV_USER_TOP) ----
 * Demand areas (pages appear, zero-filled, on first touch): the heap [HEAP_BASE, break),
 * the demand area, the shared area and the stack. Pages of the shared area are shared
 * with children after fork (never copied); everything else is copied (or copy-on-write
 * with the cow=1 boot option). */
#define GUEST_USER_IMAGE_BASE  0x0000000000400000ull /* programs are linked here */
#define GUEST_USER_IMAGE_END   0x0000000010000000ull
#define GUEST_USER_HEAP_BASE   0x0000000010000000ull /* SYS_sbrk moves the break */
#define GUEST_USER_HEAP_END    0x0000000030000000ull
#define GUEST_USER_DEMAND_BASE 0x0000000040000000ull /* demand-zero area (pgfault) */
#define GUEST_USER_DEMAND_END  0x0000000050000000ull
#define GUEST_USER_SHARED_BASE 0x0000000060000000ull /* shared with children */
#define GUEST_USER_SHARED_END  0x0000000061000000ull
#define GUEST_USER_DEVICE_BASE 0x0000000070000000ull /* device pages (SYS_map_device) */
#define GUEST_USER_STACK_TOP   0x000000007fff0000ull
#define GUEST_USER_STACK_MAX   (256ull << 10)        /* grows on demand below the top */

/* The start block: rdi points at it when a program starts (it lives at the top of the
 * program's stack). */
#define GUEST_ARGS_MAX 256
struct guest_start {
	uint64_t gate;           /* enum guest_gate */
	uint64_t pid;
	uint64_t tsc_khz;        /* from the VMM or calibrated; 0 when unknown */
	char workload[32];       /* the program's name */
	char args[GUEST_ARGS_MAX]; /* wargs= from the command line, NUL-terminated */
};

/* The ticket spinlock of the kernel and of user programs (spinlock.h, ulib.h): the
 * next ticket, the ticket being served, and how many waiters sleep in the VMM
 * (spinlock=pv-halt), whom a releaser must kick. All zero: unlocked. */
struct guest_spinlock {
	volatile uint32_t next;
	volatile uint32_t owner;
	volatile uint32_t waiters;
	uint32_t pad;
} __attribute__((aligned(16)));

/* SYS_sysinfo: the machine, the boot settings, and kernel counters summed over CPUs. */
struct guest_sysinfo {
	uint32_t ncpus;              /* CPUs online */
	uint32_t hz;                 /* timer interrupts per second per CPU */
	uint32_t cow;                /* fork is copy-on-write */
	uint32_t kmem;               /* enum guest_kmem */
	uint64_t tsc_khz;
	uint64_t ticks;              /* timer interrupts */
	uint64_t ctxswitches;
	uint64_t forks;
	uint64_t page_faults;        /* resolved by the kernel */
	uint64_t cow_copies;         /* pages copied on a write after fork */
	uint64_t shootdowns;         /* remote TLB shootdowns, one per target CPU */
	uint64_t shootdown_ipis;     /* IPIs sent for them, re-sends included */
	uint64_t shootdown_resends;  /* IPIs sent again after no acknowledgement */
	uint64_t shootdown_max_cycles; /* longest wait for all acknowledgements */
	uint64_t ipis_received;
	uint64_t kmem_calls;         /* batches of page zeroing/copying */
	uint64_t frames_used;
	uint64_t hypercalls;         /* made by the kernel (pv flavour: HV_HC_*) */
	uint64_t pte_updates;        /* page-table entries sent in HV_HC_MMU_UPDATE */
	char spinlock[16];           /* the kernel's lock implementation */
	uint32_t spin_threshold;     /* spins before a waiter takes the mode's slow path */
	uint32_t pad;
	uint64_t spin_slow;          /* slow-path entries (kernel and SYS_spin_wait) */
	uint64_t spin_notifies;      /* HV_HC_SPIN_NOTIFY calls */
	uint64_t spin_waits;         /* HV_HC_SPIN_WAIT calls */
	uint64_t spin_kicks;         /* HV_HC_SPIN_KICK calls */
};

#endif
