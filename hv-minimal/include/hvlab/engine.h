/* The engine interface: what the VMM core needs from a CPU/memory virtualization
 * technique. The KVM engine (engines/kvm) implements it today; the binary translator
 * (engines/bt) plugs into the same table. The core never sees an engine's own
 * types: it works with the engine-neutral exit, register and segment structs below.
 *
 * Threading: vcpu_run and get/set of registers are called from the thread that runs
 * the vCPU (or after it has stopped); request_exit may be called from any thread (the
 * watchdog); inject_irq from the vCPU's thread or a device's (the block device's I/O
 * and relay threads): KVM's is an ioctl on the VM, bt's an atomic IRR update and a
 * wake-up. */
#ifndef HVLAB_ENGINE_H
#define HVLAB_ENGINE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hv_engine_vm;     /* an engine's VM, opaque to the core */
struct hv_engine_vcpu;   /* an engine's vCPU, opaque to the core */

/* Normalized exit reasons: every exit an engine returns is one of these. */
enum hv_exit_kind {
	HV_VMEXIT_IO,            /* port I/O the engine did not handle itself */
	HV_VMEXIT_MMIO,          /* access to a guest-physical address with no memory */
	HV_VMEXIT_HLT,           /* hlt reached the VMM (no in-kernel irqchip) */
	HV_VMEXIT_SHUTDOWN,      /* shutdown: triple fault, or a reset/poweroff event */
	HV_VMEXIT_INTERNAL,      /* the engine could not go on: emulation failure etc. */
	HV_VMEXIT_FAIL_ENTRY,    /* the guest state was refused on entry */
	HV_VMEXIT_INTERRUPTED,   /* a signal or request_exit() ended the run */
	HV_VMEXIT_DEBUG,         /* a debug trap nobody asked for */
	HV_VMEXIT_UNKNOWN,       /* anything else; raw_reason says what */
	HV_VMEXIT_NR
};

enum hv_io_dir { HV_IO_IN = 0, HV_IO_OUT = 1 };

#define HV_EXIT_DATA_MAX 16

struct hv_exit {
	enum hv_exit_kind kind;
	uint64_t raw_reason;     /* the engine's own code (e.g. KVM_EXIT_*) */
	union {
		struct {
			uint16_t port;
			uint8_t size;    /* 1, 2 or 4 bytes per element */
			uint8_t dir;     /* enum hv_io_dir */
			uint32_t count;  /* > 1 for rep ins/outs */
			uint8_t *data;   /* count * size bytes; filled by the core for IN */
		} io;
		struct {
			uint64_t addr;
			uint32_t len;    /* 1..8 */
			uint8_t is_write;
			uint8_t *data;   /* len bytes; filled by the core for reads */
		} mmio;
		struct {
			uint32_t suberror;   /* engine's code; see what */
			uint32_t ndata;
			uint64_t data[HV_EXIT_DATA_MAX];
			char what[96];       /* e.g. "instruction emulation failed" */
		} internal;
		struct {
			uint64_t hw_reason;
			uint32_t cpu;
		} fail_entry;
		struct {
			uint32_t type;       /* engine's event type (reset, shutdown, crash) */
			char what[48];
		} shutdown;
		struct {
			uint64_t pc;         /* guest RIP of the trap, when known */
		} debug;
	} u;
};

/* General-purpose registers. */
struct hv_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

/* A segment register as the CPU caches it (the hidden part included). */
struct hv_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type;            /* 4-bit descriptor type */
	uint8_t present, dpl, db, s, l, g, avl;
	uint8_t unusable;
};

struct hv_dtable {
	uint64_t base;
	uint16_t limit;
};

/* System registers. */
struct hv_sregs {
	struct hv_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct hv_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
};

/* A CPUID leaf the core defines (abi.h's HV_CPUID_*), for every engine to answer. */
struct hv_cpuid_leaf {
	uint32_t leaf;
	uint32_t r[4];           /* eax, ebx, ecx, edx */
};
#define HV_CPUID_LEAVES_MAX 8

/* What the core asks an engine for when it creates a VM. */
struct hv_vm_config {
	unsigned nr_vcpus;
	uint64_t mem_bytes;
	/* bt: how the GS base is written: "auto", "wrgsbase", "arch_prctl"; NULL: the
	 * HVLAB_BT_GS environment variable, else auto. Other engines ignore it. */
	const char *bt_gs;
	/* bt: "on" or "off", adaptive translation; NULL: on. Other engines ignore it. */
	const char *bt_adaptive;
	/* bt: a file to write the page-table trace to (ptwalk-sim's format); NULL: none.
	 * Other engines refuse it. */
	const char *bt_trace;
	/* 1: the guest is a PC operating system (Linux): the engine provides what it
	 * expects of a PC beside the interrupt controllers, a PIT (KVM: KVM_CREATE_PIT2). */
	int pc_platform;
	/* hv-minimal's own CPUID leaves (subleaf 0), which the guest sees as they are. */
	struct hv_cpuid_leaf cpuid[HV_CPUID_LEAVES_MAX];
	unsigned ncpuid;
};

struct hv_engine_ops {
	const char *name;            /* "hw", "bt": the --engine value */
	const char *description;     /* one line for --help */

	/* Whether this host can run the engine with cfg at all: 0, or -1 with hv_err_msg()
	 * saying what the host lacks (no usable /dev/kvm, no FSGSBASE for a forced
	 * wrgsbase...). hvm then skips (exit 77) instead of failing. Cheap: no VM. */
	int (*probe)(const struct hv_vm_config *cfg);
	/* Creates a VM; returns 0 or -1 with hv_err_msg() set. */
	int (*vm_create)(const struct hv_vm_config *cfg, struct hv_engine_vm **vm);
	/* Maps host memory [host, host + size) at guest-physical gpa. fd/offset name the
	 * same memory as a file (memfd), for engines that map it again themselves. */
	int (*mem_add)(struct hv_engine_vm *vm, uint32_t slot, uint64_t gpa, uint64_t size,
		       void *host, int fd, off_t offset);
	/* Creates vCPU index (0-based). */
	int (*vcpu_create)(struct hv_engine_vm *vm, unsigned index,
			   struct hv_engine_vcpu **vcpu);
	/* Runs the vCPU until an exit the core must handle; fills *exit. Pointers in
	 * *exit stay valid until the next vcpu_run. Returns 0, or -1 with hv_err_msg()
	 * set when the host itself failed (not the guest). */
	int (*vcpu_run)(struct hv_engine_vcpu *vcpu, struct hv_exit *exit);
	/* Makes the vCPU's current or next vcpu_run return HV_VMEXIT_INTERRUPTED soon;
	 * async-signal-safe and callable from any thread. The caller then signals the
	 * vCPU's thread to break a run already in progress. */
	void (*request_exit)(struct hv_engine_vcpu *vcpu);
	int (*get_regs)(struct hv_engine_vcpu *vcpu, struct hv_regs *regs);
	int (*set_regs)(struct hv_engine_vcpu *vcpu, const struct hv_regs *regs);
	int (*get_sregs)(struct hv_engine_vcpu *vcpu, struct hv_sregs *sregs);
	int (*set_sregs)(struct hv_engine_vcpu *vcpu, const struct hv_sregs *sregs);
	/* Delivers an external interrupt with this vector to the vCPU. */
	int (*inject_irq)(struct hv_engine_vcpu *vcpu, uint8_t vector);
	/* Optional (may be NULL): sets the level of ISA interrupt line irq (0-15; the PC's
	 * legacy devices: COM1 is 4) at the VM's interrupt controllers, as a device's
	 * interrupt pin does (KVM: KVM_IRQ_LINE). NULL: the engine has no such lines and
	 * the device is polled. From any thread. */
	int (*irq_line)(struct hv_engine_vm *vm, unsigned irq, int level);
	/* Optional (may be NULL): a port write of len bytes to port signals eventfd fd
	 * without an exit to the core. */
	int (*ioeventfd_add)(struct hv_engine_vm *vm, uint16_t port, uint32_t len, int fd);
	/* Optional (may be NULL): the engine offers each port I/O and MMIO exit to fn
	 * first, on the vCPU's thread inside vcpu_run, and returns it only when fn does
	 * not serve it (bt: the core's device handlers run inside the translator's
	 * call-out, as TCG calls its devices, with no trip through the run loop).
	 * fn(ctx, vcpu index, exit) returns 0 (served: the guest goes on, an IN or MMIO
	 * read completed from the exit's data), 1 (served, and the handler may have changed
	 * the vCPU's CPU state or page tables through this engine's ops: pte_write,
	 * load_cr3, or the VM is stopping: the engine looks at its state and exit
	 * request again), 2 (not served: vcpu_run returns the exit), or -1 with hv_err_msg()
	 * set (an internal exit). Call before the vCPUs run. */
	void (*direct_exit_set)(struct hv_engine_vm *vm,
				int (*fn)(void *ctx, unsigned vcpu, struct hv_exit *exit),
				void *ctx);
	/* Optional (may be NULL): a write to eventfd fd delivers a fixed interrupt with
	 * this vector to vCPU vcpu without the VMM (KVM's irqfd). Call before the vCPUs
	 * run; at most one per VM. */
	int (*irqfd_add)(struct hv_engine_vm *vm, int fd, unsigned vcpu, uint8_t vector);
	/* Guest TSC frequency in kHz, 0 when unknown. */
	uint64_t (*tsc_khz)(struct hv_engine_vm *vm);
	/* Memory virtualization as DESIGN.md names it (ept, npt, shadow-kvm, ...). */
	const char *(*memvirt)(struct hv_engine_vm *vm);
	/* Optional (may be NULL): how the engine writes a host segment base, for the
	 * segbase mode column (bt: "wrgsbase" or "arch_prctl"). */
	const char *(*segbase)(struct hv_engine_vm *vm);
	/* 1 when an unmodified guest's syscall/sysret work under this engine (the VMM
	 * then selects the guest's trap-based system-call gate if not). */
	int (*guest_syscall_ok)(struct hv_engine_vm *vm);
	void (*vcpu_destroy)(struct hv_engine_vcpu *vcpu);
	void (*vm_destroy)(struct hv_engine_vm *vm);
	/* Optional (may be NULL): the paravirtual work (HV_PV_MMU, HV_PV_TLB of abi.h)
	 * this engine lets the VMM do. HV_PV_MMU: the VMM may write the guest's page
	 * tables (through pte_write where the engine has it, else straight into guest
	 * memory) and the engine stays coherent; a shadow MMU that learns of table changes
	 * only from the guest's own writes cannot. HV_PV_TLB: the engine's translations
	 * follow every table write, so a guest TLB flush needs no work. NULL: neither. */
	uint32_t (*pv_caps)(struct hv_engine_vm *vm);
	/* Optional: writes the aligned 8-byte guest page-table entry at gpa (inside guest
	 * memory, checked by the caller) and updates what the engine derived from it.
	 * From the vCPU's thread, between runs. Returns 0 or -1 with hv_err_msg(). */
	int (*pte_write)(struct hv_engine_vcpu *vcpu, uint64_t gpa, uint64_t val);
	/* Optional: returns once no vCPU in mask (bit i: vCPU i) can still use a
	 * translation derived from a page-table entry the VMM or the guest changed before
	 * the call (HV_HC_TLB_FLUSH under HV_PV_TLB). NULL: nothing to wait for. From vcpu's
	 * thread, possibly inside the engine's call-out; 0, or -1 with hv_err_msg(). */
	int (*tlb_flush)(struct hv_engine_vcpu *vcpu, uint64_t mask);
	/* Optional (may be NULL): the vCPU's thread blocks in the VMM (on = 1) or is back
	 * (on = 0), inside a call-out or between runs: an engine whose vCPUs wait for each
	 * other (bt's tlb_flush) treats a parked vCPU as halted. */
	void (*vcpu_parked)(struct hv_engine_vcpu *vcpu, int on);
	/* Optional: loads CR3 as a guest `mov %reg, %cr3` would (no other state changes).
	 * NULL: the core does it through get_sregs/set_sregs. */
	int (*load_cr3)(struct hv_engine_vcpu *vcpu, uint64_t cr3);
	/* Optional (may be NULL): the engine's own counters for this vCPU since it was
	 * created, one call of emit per counter (name: a stable lower_snake identifier,
	 * e.g. "bt_blocks_translated"; value: a count or a byte total). Called from the
	 * vCPU's thread or after it stopped. */
	void (*stats)(struct hv_engine_vcpu *vcpu,
		      void (*emit)(void *arg, const char *name, uint64_t value), void *arg);
	/* Optional (may be NULL): facts about how this VM runs that belong in the run
	 * context (e.g. "bt_gs_write" = "arch_prctl"), one call of emit per fact. */
	void (*notes)(struct hv_engine_vm *vm,
		      void (*emit)(void *arg, const char *key, const char *value), void *arg);
};

/* The engine table (engines/engines.c). label and family are what figures and
 * reports say of the engine, so that they need not know it by name. */
struct hv_engine_entry {
	const char *name;
	const struct hv_engine_ops *ops;   /* NULL: not built yet */
	const char *description;
	const char *label;                 /* a legend title, e.g. "hw (KVM)" */
	const char *family;                /* HV_FAMILY_*: how guest code runs */
	const char *needs;                 /* host requirement the runner can check
					    * before starting ("kvm"), or NULL */
};

/* How an engine runs guest code, as engine descriptions say it. */
#define HV_FAMILY_HARDWARE "hardware"      /* on the CPU, under VT-x/AMD-V (or PVM) */
#define HV_FAMILY_TRANSLATOR "translator"  /* rewritten by a binary translator */

const struct hv_engine_entry *hv_engines(size_t *n);
/* The ops for name; NULL with hv_err_msg() set (unknown or not built; lists the
 * available engines). */
const struct hv_engine_ops *hv_engine_find(const char *name);

const char *hv_exit_kind_name(enum hv_exit_kind kind);

#endif
