/* The guest/VMM ABI of hv-minimal: boot protocol, ports, the hypercall page, and the
 * result records. Included by the VMM (host C) and by the guest kernel (freestanding
 * C), so it uses only fixed-width types and no host headers beyond <stdint.h>.
 *
 * Every field a guest writes is untrusted: the VMM checks each address, length and
 * number against guest memory before it uses it. */
#ifndef HVLAB_ABI_H
#define HVLAB_ABI_H
#include <stdint.h>

#define HV_ABI_VERSION 1

/* ---- Guest address-space layout (DESIGN.md: xv6's, in 64 bits) ---- */
#define HV_KERNBASE        0xffffffff80000000ull  /* guest-physical 0 maps here */
#define HV_USER_TOP        0x0000000080000000ull  /* user programs live in [0, 2 GiB) */
#define HV_MAX_GUEST_MEM   (2ull << 30)           /* at most 2 GiB of guest-physical memory */

/* ---- Boot protocol (the VMM's own; QEMU's PVH entry is a separate path) ----
 * The bootstrap vCPU starts in 64-bit long mode at the ELF entry point with:
 *   - CR0.PE|PG|WP, CR4.PAE (|OSFXSR|OSXMMEXCPT), EFER.LME|LMA|NXE;
 *   - a VMM-built page table at HV_BOOT_PT_GPA mapping guest-physical [0, mem) twice,
 *     identity and at HV_KERNBASE, with 2 MiB pages, supervisor, writable;
 *   - a flat GDT at HV_BOOT_GDT_GPA: 0x10 kernel code (L), 0x18 kernel data
 *     (Linux-compatible selectors: see PLATFORM.md);
 *   - RDI = guest-physical address of struct hv_boot_info, RSP = HV_KERNBASE +
 *     HV_BOOT_STACK_TOP, RFLAGS = 0x2 (interrupts off).
 * The kernel must build its own GDT, IDT, TSS and page tables; the boot tables are
 * scratch it may reuse or drop. Low memory below HV_BOOT_RESERVED_END is the VMM's,
 * but for HV_BOOT_AP_GPA.
 *
 * Application processors (nr_vcpus > 1) are started by the guest the way firmware
 * would: INIT and SIPI IPIs through the local APIC (the VMM creates an in-kernel
 * interrupt controller and runs every vCPU, the others waiting for their SIPI). */
#define HV_BOOT_INFO_GPA      0x1000ull
#define HV_BOOT_CMDLINE_GPA   0x2000ull   /* NUL-terminated, at most HV_CMDLINE_MAX */
#define HV_BOOT_GDT_GPA       0x3000ull
#define HV_BOOT_HCALL_GPA     0x4000ull   /* one 4 KiB hypercall page per vCPU, up to HV_MAX_VCPUS */
#define HV_BOOT_PT_GPA        0x20000ull  /* PML4, PDPTs, PDs (VMM scratch) */
#define HV_BOOT_STACK_TOP     0x80000ull  /* boot stack grows down from here */
#define HV_BOOT_AP_GPA        0x90000ull  /* [0x90000, 0x98000) is left to the guest: the
                                           * real-mode start of application processors
                                           * (INIT/SIPI vector 0x90) */
#define HV_BOOT_RESERVED_END  0x100000ull /* the kernel is loaded at or above 1 MiB */
#define HV_CMDLINE_MAX        4096
#define HV_MAX_VCPUS          16

#define HV_BOOT_MAGIC 0x68766c6162303031ull /* "hvlab001" */

struct hv_boot_info {
	uint64_t magic;          /* HV_BOOT_MAGIC */
	uint32_t abi_version;    /* HV_ABI_VERSION */
	uint32_t nr_vcpus;
	uint64_t mem_bytes;      /* guest-physical memory is [0, mem_bytes) */
	uint64_t cmdline_gpa;    /* HV_BOOT_CMDLINE_GPA */
	uint64_t hcall_gpa;      /* first hypercall page; vCPU i uses hcall_gpa + i * 4096 */
	uint64_t tsc_khz;        /* 0 when the VMM does not know */
	uint64_t kernel_end_gpa; /* first free guest-physical byte after the loaded image */
	char engine[16];         /* "hw", "bt": for labelling only, never to change behaviour */
	uint32_t devices;        /* HV_DEV_*: the hv-minimal devices this VMM provides */
};

/* hv_boot_info.devices: device discovery, as firmware tables would tell it. A boot
 * without them (QEMU's PVH entry) reports results on the console instead. */
#define HV_DEV_RESULT_PORT (1u << 0)   /* HV_PORT_RESULT */
#define HV_DEV_HCALL       (1u << 1)   /* HV_PORT_HCALL and the hypercall pages */

/* ---- Ports (KVM's in-kernel irqchip/PIT own 0x20-0x21, 0x40-0x43, 0x61, 0xa0-0xa1,
 * 0x4d0-0x4d1; hv-minimal's own ports sit at 0x500) ---- */
#define HV_PORT_COM1        0x3f8   /* 16550 subset: THR/RBR, LSR at +5 */
#define HV_PORT_POST        0x80    /* POST code; the `in` nanobenchmark reads it */
#define HV_PORT_EXIT        0x501   /* out32 status: the guest is done; VMM exits with it */
#define HV_PORT_HCALL       0x510   /* out32 vCPU index: run the call in that vCPU's page */
#define HV_PORT_RESULT      0x520   /* out32 guest-physical address of a struct hv_result */
#define HV_PORT_IOEVENTFD   0x530   /* out32: handled by a KVM ioeventfd, no exit to the VMM */
#define HV_MMIO_UNBACKED    0xfe000000ull /* an address with no memory and no device */

/* Exit statuses written to HV_PORT_EXIT (kvm-unit-tests style). */
#define HV_EXIT_PASS  0
#define HV_EXIT_FAIL  1
#define HV_EXIT_SKIP  77
#define HV_EXIT_PANIC 0xdead

/* ---- Guest instruction counters ----
 * rdpmc indices that the bt engine answers, at any CPL, with the guest instructions it
 * has executed in the kernel half and in the user half of the address space since the
 * first such read turned counting on (engines/bt/README.md, counting mode). No CPU
 * has these indices: under other engines rdpmc with them raises #GP, so a guest probes
 * before it relies on them (nanobench icount=1). */
#define HV_PMC_GUEST_INSNS_KERNEL 0x48560000u
#define HV_PMC_GUEST_INSNS_USER   0x48560001u

/* ---- Hypercalls (hv-minimal/README.md, "Hypercall ABI") ----
 * The guest fills its vCPU's hypercall page (number, arguments) and writes its vCPU
 * index with out32 to HV_PORT_HCALL; when the out completes, ret holds the result and
 * seq has moved on. Never vmcall/vmmcall: they livelock kvm_pvm (PLATFORM.md). Every
 * engine reaches the same handler in the VMM core. A call the VMM refuses returns a
 * negative HV_HC_E* code and is counted; the guest goes on. */
enum hv_hcall_nr {
	HV_HC_NOP = 0,           /* returns 0; the hypercall nanobenchmark */
	HV_HC_CONSOLE = 1,       /* arg0 = gpa, arg1 = len: write bytes to the console */
	HV_HC_RESULT = 2,        /* arg0 = gpa of struct hv_result (same as HV_PORT_RESULT) */
	HV_HC_FEATURES = 3,      /* returns the HV_PV_* bits this VMM offers under its engine */
	HV_HC_MMU_UPDATE = 4,    /* arg0 = gpa of struct hv_mmu_update[arg1], arg1 = count
				  * (1..HV_MMU_BATCH_MAX), arg2 = root (a pinned PML4):
				  * applied in order; returns 0 or the first refusal's code,
				  * and args[3] = updates applied (HV_PV_MMU) */
	HV_HC_PIN_ROOT = 5,      /* arg0 = PML4 frame: from now on its user-half tables
				  * change only through HV_HC_MMU_UPDATE (HV_PV_MMU) */
	HV_HC_UNPIN_ROOT = 6,    /* arg0 = pinned root in no vCPU's CR3: its tables become
				  * ordinary memory again, for the guest to free (HV_PV_MMU) */
	HV_HC_NEW_BASEPTR = 7,   /* arg0 = root: load this vCPU's CR3 (HV_PV_CR3) */
	HV_HC_TLB_FLUSH = 8,     /* arg0 = guest-virtual page or HV_TLB_FLUSH_ALL, arg1 =
				  * mask of vCPUs (bit i: vCPU i, the caller's own bit included)
				  * whose TLBs drop it; no IPI (HV_PV_TLB) */
	HV_HC_CLOCK_PAGE = 9,    /* arg0 = gpa (32-byte aligned) of a struct hv_pvclock
				  * the VMM fills (HV_PV_CLOCK) */
	HV_HC_SPIN_NOTIFY = 10,  /* arg0 = spins so far: this vCPU has spun on a lock past
				  * the threshold of HV_CPUID_SPIN; the VMM yields its host
				  * CPU (Hyper-V's HvCallNotifyLongSpinWait) (HV_PV_SPIN) */
	HV_HC_SPIN_WAIT = 11,    /* arg0 = gpa (4-byte aligned) of a lock word, arg1 = the
				  * value the caller saw there: block until kicked, unless the
				  * word has changed, for at most HV_SPIN_WAIT_MAX_US; a kick
				  * sent before the call ends it at once. Returns 1 when
				  * kicked, 0 otherwise; the caller checks its lock again
				  * either way (KVM's pv-spinlock halt) (HV_PV_SPIN) */
	HV_HC_SPIN_KICK = 12,    /* arg0 = vCPU index: wake it from HV_HC_SPIN_WAIT (KVM's
				  * KVM_HC_KICK_CPU); a vCPU not waiting keeps the kick
				  * for its next wait (HV_PV_SPIN) */
	HV_HC_NR
};

/* Refusal codes (Linux errno values, negated). */
#define HV_HC_EPERM   (-1)      /* not the caller's: another address space's table, a
				 * table mapped writable, the VMM's own memory */
#define HV_HC_E2BIG   (-7)      /* a batch larger than HV_MMU_BATCH_MAX */
#define HV_HC_EFAULT  (-14)     /* an address outside guest memory or misaligned */
#define HV_HC_EBUSY   (-16)     /* unpinning a root some vCPU has in CR3 */
#define HV_HC_EINVAL  (-22)     /* a bad argument: count, flags, a root not pinned */
#define HV_HC_ENOSYS  (-38)     /* an unknown number, or a feature this VMM does not offer */

/* HV_HC_FEATURES bits: what the VMM can do for a paravirtual guest under this engine.
 * A guest uses a hypercall only for a feature offered and keeps the native
 * instruction otherwise (the same image runs both ways). */
#define HV_PV_MMU   (1u << 0)   /* page-table updates by hypercall, validated */
#define HV_PV_CR3   (1u << 1)   /* CR3 loads by hypercall */
#define HV_PV_TLB   (1u << 2)   /* TLB flushes, local and remote, by hypercall */
#define HV_PV_CLOCK (1u << 3)   /* a pvclock page */
#define HV_PV_SPIN  (1u << 4)   /* spin-wait notification, wait and kick */

#define HV_SPIN_WAIT_MAX_US 10000 /* HV_HC_SPIN_WAIT returns after this at the latest */

/* ---- CPUID: hv-minimal's own leaves, at 0x40000100 so that they sit beside an
 * engine's own hypervisor leaves at 0x40000000 (KVM's under hw), as Linux scans for
 * hypervisors in 0x100 steps. ---- */
#define HV_CPUID_BASE   0x40000100u  /* eax: highest leaf; ebx, ecx, edx: HV_CPUID_SIG */
#define HV_CPUID_SIG    "hv-minimal  "
#define HV_CPUID_SPIN   0x40000104u  /* ebx: spins before a lock waiter tells the VMM, the
				      * way Hyper-V's 0x40000004 EBX recommends a count;
				      * 0xffffffff: never */
#define HV_SPIN_THRESHOLD_DEFAULT 32768u /* Linux's SPIN_THRESHOLD (1 << 15) */

#define HV_MMU_BATCH_MAX   2048           /* updates per HV_HC_MMU_UPDATE, as Xen's */
#define HV_TLB_FLUSH_ALL   (~0ull)

/* One page-table update: the 8-byte entry at guest-physical address ptr (in a table of
 * the root named by the call, in its user half) becomes val. */
struct hv_mmu_update {
	uint64_t ptr;
	uint64_t val;
};

/* The pvclock page: guest time in ns = system_ns + ((tsc - tsc_base) * mul) >> 32.
 * version is odd while the VMM writes; a reader retries until it reads the same even
 * version before and after. */
struct hv_pvclock {
	uint32_t version;
	uint32_t pad;
	uint64_t tsc_base;
	uint64_t system_ns;
	uint64_t mul;            /* ns per TSC cycle, 32.32 fixed point */
};

/* ---- Hypercall page (one per vCPU) ---- */
struct hv_hcall_page {
	uint64_t nr;             /* enum hv_hcall_nr */
	uint64_t args[6];        /* in, and out where a call says so */
	int64_t ret;             /* written by the VMM */
	uint64_t seq;            /* incremented by the VMM on completion */
};

/* ---- Result records: the guest's measurements ---- */
#define HV_RESULT_MAGIC 0x52564c48u /* "HLVR" */
#define HV_NAME_MAX 32

enum hv_result_kind {
	HV_RES_NANOBENCH = 1,    /* name = operation; iters, cycles = total for iters ops */
	HV_RES_VALUE = 2,        /* name = metric; value with unit (e.g. checksum, seconds) */
	HV_RES_INFO = 3,         /* name = key, unit = string value (e.g. "sysgate", "ud2") */
};

struct hv_result {
	uint32_t magic;          /* HV_RESULT_MAGIC */
	uint32_t kind;           /* enum hv_result_kind */
	char workload[HV_NAME_MAX]; /* NUL-terminated within HV_NAME_MAX */
	char name[HV_NAME_MAX];
	char unit[HV_NAME_MAX];
	uint64_t iters;          /* operations measured (NANOBENCH) */
	uint64_t cycles;         /* guest TSC cycles for iters ops, harness subtracted */
	uint64_t baseline;       /* cycles of the same harness with no operation (0 if none) */
	double value;            /* VALUE */
	uint32_t rep;            /* repetition index */
	uint32_t vcpu;
};

#endif
