/* The VM as the core sees it: an engine VM, guest memory, the bus and its devices,
 * vCPUs (one host thread each), and the stop record that ends a run. */
#ifndef HVLAB_VM_H
#define HVLAB_VM_H
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "hvlab/abi.h"
#include "hvlab/bzimage.h"
#include "hvlab/bus.h"
#include "hvlab/console.h"
#include "hvlab/devices.h"
#include "hvlab/elfload.h"
#include "hvlab/engine.h"
#include "hvlab/exitstats.h"
#include "hvlab/guestmem.h"
#include "hvlab/record.h"

/* Why a run ended; the first stop wins. */
enum hv_stop_kind {
	HV_STOP_NONE,
	HV_STOP_GUEST_EXIT,      /* the guest wrote its status to HV_PORT_EXIT */
	HV_STOP_GUEST_FAULT,     /* the guest misbehaved: fault, wild access, bad call */
	HV_STOP_HANG,            /* the watchdog expired */
	HV_STOP_SIGNAL,          /* SIGINT/SIGTERM from the user */
	HV_STOP_HOST_ERROR,      /* the host failed (an ioctl, memory) */
};

/* The signal that breaks a vCPU thread out of a run in progress (its handler does
 * nothing; the interrupted run call returns). */
#define HV_SIG_KICK SIGUSR1

struct hv_vm;

struct hv_vcpu {
	struct hv_vm *vm;
	unsigned index;
	struct hv_engine_vcpu *eng;
	pthread_t thread;
	int thread_started;      /* a thread was created (join it) */
	int running;             /* the thread is in its run loop (under vm->lock) */
	struct hv_exitstats stats;
	uint64_t nexits;
	uint64_t nexits_direct;  /* of them, served inside the engine's run (direct_exit_set) */
	/* A device handler changed the vCPU's state through the engine (pte_write,
	 * load_cr3, tlb_flush): an exit served inside the engine's run says so. */
	int engine_changed;
	/* The thread's involuntary and voluntary host context switches, read when it ends. */
	uint64_t host_preempted, host_blocked;
	/* Register state saved when the vCPU stopped on a fault, hang or signal. */
	int have_dump;
	struct hv_regs dump_regs;
	struct hv_sregs dump_sregs;
};

struct hv_vm_params {
	const struct hv_engine_ops *ops;
	unsigned nr_vcpus;
	uint64_t mem_bytes;
	const char *bt_gs;       /* struct hv_vm_config's */
	const char *bt_adaptive; /* the same */
	const char *bt_trace;    /* the same */
	uint32_t spin_threshold; /* CPUID HV_CPUID_SPIN's EBX; 0: HV_SPIN_THRESHOLD_DEFAULT */
	int pc_platform;         /* a Linux guest: struct hv_vm_config's, and hv_pc_register */
};

struct hv_vm {
	const struct hv_engine_ops *ops;
	struct hv_engine_vm *eng;
	struct hv_guestmem mem;
	struct hv_bus bus;
	unsigned nr_vcpus;
	struct hv_vcpu vcpu[HV_MAX_VCPUS];
	struct hv_devices dev;
	struct hv_console console;
	struct hv_recorder rec;
	const char *run_dir;     /* where regdump.txt goes; NULL: nowhere */
	const char *pin;         /* host CPU list every vCPU thread is bound to; NULL: none */

	pthread_mutex_t lock;
	int stopped;             /* read without the lock by the run loops */
	enum hv_stop_kind stop_kind;
	uint32_t guest_status;   /* HV_STOP_GUEST_EXIT */
	int culprit;             /* vCPU that caused a GUEST_FAULT/HOST_ERROR, or -1 */
	char stop_why[1024];

	uint64_t tsc_start;      /* host TSC at hvm's main() */
	uint64_t tsc_first_exit; /* host TSC at the guest's first exit, 0 before */
	struct hv_elf_image image;   /* hvlab's own kernel */
	int is_linux;                /* booted a bzImage instead (hv_vm_boot_linux) */
	struct hv_bzimage linux_kernel;
};

/* Creates the engine VM, guest memory and every vCPU. Returns 0 or -1 with
 * hv_err_msg() set (a host error). */
int hv_vm_create(struct hv_vm *vm, const struct hv_vm_params *p);
void hv_vm_destroy(struct hv_vm *vm);

/* Boot protocol of abi.h: loads the validated kernel, builds the boot page tables,
 * GDT, boot info and command line, and sets vCPU 0's registers. name labels errors. */
int hv_vm_boot(struct hv_vm *vm, const char *name, const void *elf, size_t elf_len,
	       const char *cmdline);

/* Linux's 64-bit boot protocol (bzimage.h): the checked bzImage's kernel at its
 * pref_address, the initrd (NULL: none) as high as allowed, the zero page with its e820
 * map, the command line, and vCPU 0 at the 64-bit entry with rsi at the zero page. */
int hv_vm_boot_linux(struct hv_vm *vm, const char *name, const void *image, size_t len,
		     const char *initrd_name, const void *initrd, size_t initrd_len,
		     const char *cmdline);

/* Runs every vCPU on its own thread (bound to vm->pin when set) under a watchdog of
 * timeout_s seconds, until the VM stops. vCPU 0 starts at the boot state; the others
 * wait inside the engine until the guest starts them (INIT/SIPI through the in-kernel
 * interrupt controller). Returns the stop kind. */
enum hv_stop_kind hv_vm_run(struct hv_vm *vm, double timeout_s);

/* Records why the VM stops (the first call wins) and breaks every vCPU out of its
 * run. vcpu is the culprit, or -1. fmt describes what happened. */
void hv_vm_stop(struct hv_vm *vm, enum hv_stop_kind kind, uint32_t status, int vcpu,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Interrupts every running vCPU (request_exit + HV_SIG_KICK). */
void hv_vm_kick_all(struct hv_vm *vm);
int hv_vm_is_stopped(const struct hv_vm *vm);

const char *hv_stop_kind_name(enum hv_stop_kind k);
/* The process exit status (enum hvm_exit) for a run that stopped this way. */
int hv_stop_exit_status(enum hv_stop_kind k, uint32_t guest_status);

struct hvm_options;
/* hv_recorder_finish for a run that stopped this way: what every runner of the guest
 * (hvm, hvpeer) does at its end; native_program: a Linux guest's workload program for
 * its native rows (NULL: hvlab's kernel, hvlab's native ops). */
void hv_stop_finish(struct hv_recorder *rec, const struct hvm_options *o, double host_hz,
		    enum hv_stop_kind k, const char *why, uint32_t guest_status,
		    const char *native_program);

#endif
