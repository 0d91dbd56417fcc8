/* The VMM's devices, each on the bus (bus.h). State lives in struct hv_devices inside
 * the VM; each device's file holds its handler and its register function. */
#ifndef HVLAB_DEVICES_H
#define HVLAB_DEVICES_H
#include <pthread.h>
#include <stdint.h>

#include "hvlab/abi.h"

struct hv_vm;
struct hv_vcpu;
struct hv_console;

/* 16550 subset at HV_PORT_COM1..+7: the transmitter interrupt on ISA line 4 where the
 * engine has interrupt lines. */
struct hv_serial {
	struct hv_console *con;
	struct hv_vm *vm;
	pthread_mutex_t lock;        /* vCPUs write at once */
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fifo;                /* IIR's FIFO bits, from FCR */
	int thre_pending;            /* "transmitter empty" not yet read from IIR */
	/* where transmitted bytes go instead of the console (hvm's @hvr feed for a Linux
	 * guest), called under lock; NULL: the console */
	void (*sink)(void *arg, const char *buf, size_t n);
	void *sink_arg;
	int line;                    /* the level last set on the interrupt line */
};

/* What a PC guest (Linux) finds beside hvlab's devices: a CMOS clock, and every port or
 * address no device claims reading all ones (an empty ISA bus, no PCI) instead of
 * stopping the guest. */
struct hv_pc {
	uint8_t cmos_index;
	uint64_t unclaimed_pio, unclaimed_mmio;
	uint16_t first_ports[8];     /* the first distinct unclaimed ports, for the notes */
	unsigned nfirst;
};

/* POST port 0x80: the last code written is read back. */
struct hv_post {
	uint8_t last;
	uint64_t writes, reads;
};

/* What the VMM knows of a paravirtual guest's page tables (hcall_pv.c). */
struct hv_pv {
	pthread_mutex_t lock;        /* vCPUs call at once */
	uint64_t nframes;
	uint32_t *owner;             /* per frame: root frame + 1 of the pinned address
				      * space whose table it is, 0 for none; NULL until a
				      * first pin */
	uint8_t *level;              /* per frame: 4 (PML4) .. 1, for a table */
	uint32_t *wmaps;             /* per frame: writable leaf entries of pinned tables
				      * naming it */
	uint64_t cr3[HV_MAX_VCPUS];  /* root last loaded by HV_HC_NEW_BASEPTR */
	uint64_t updates;            /* page-table entries written for the guest */
};

/* Spin-wait notification, wait and kick (hcall_spin.c): per vCPU, a pending kick and
 * the condition its wait sleeps on. */
struct hv_spin_vcpu {
	pthread_mutex_t lock;
	pthread_cond_t wake;         /* CLOCK_MONOTONIC */
	int kicked;                  /* a kick no wait has taken yet */
	int waiting;                 /* inside HV_HC_SPIN_WAIT */
};

struct hv_spin {
	struct hv_spin_vcpu v[HV_MAX_VCPUS];
	uint64_t woken_kick;         /* waits ended by a kick (sent before or during) */
	uint64_t woken_changed;      /* waits that found the lock word changed */
	uint64_t woken_timeout;      /* waits that ran out (HV_SPIN_WAIT_MAX_US) */
	uint64_t kicks_idle;         /* kicks to a vCPU not waiting, kept for its next wait */
};

/* Hypercall doorbell: out32 vCPU index to HV_PORT_HCALL runs that vCPU's page. */
struct hv_hcall {
	uint64_t calls[HV_HC_NR];
	uint64_t refused[HV_HC_NR + 1];  /* by number; [HV_HC_NR]: unknown numbers */
	uint64_t refusals;               /* all of them */
	struct hv_pv pv;
	struct hv_spin spin;
};
/* A hypercall number's name for logs and counters ("mmu_update"), "unknown" else. */
const char *hv_hcall_name(uint64_t nr);
/* Frees what the paravirtual calls allocated. */
void hv_pv_free(struct hv_pv *pv);
/* The spin-wait state's locks and conditions (hcall_spin.c). */
void hv_spin_init(struct hv_spin *sp);
void hv_spin_destroy(struct hv_spin *sp);

/* HV_MMIO_UNBACKED page: writes discarded, reads all ones. */
struct hv_nullmmio {
	uint64_t reads, writes;
};

/* HV_PORT_IOEVENTFD: an eventfd signalled in the kernel where the engine can, and an
 * ordinary device that counts writes where it cannot. */
struct hv_ioev {
	int fd;                      /* eventfd, -1 when none */
	int in_kernel;               /* the engine took it */
	uint64_t fallback_writes;
};

struct hv_blk;

struct hv_devices {
	struct hv_blk *blk;          /* the block device (blk.h), NULL before it is set up */
	struct hv_serial serial;
	struct hv_post post;
	struct hv_hcall hcall;
	struct hv_nullmmio nullmmio;
	struct hv_ioev ioev;
	struct hv_pc pc;
};

/* Registers every device of vm on its bus. Returns 0 or -1 with hv_err_msg() set. */
int hv_devices_init(struct hv_vm *vm);
void hv_devices_close(struct hv_vm *vm);

int hv_serial_register(struct hv_vm *vm);
int hv_post_register(struct hv_vm *vm);
int hv_debug_exit_register(struct hv_vm *vm);
int hv_hcall_register(struct hv_vm *vm);
int hv_result_register(struct hv_vm *vm);
int hv_nullmmio_register(struct hv_vm *vm);
int hv_ioev_register(struct hv_vm *vm);
/* The PC platform a Linux guest expects (pc.c); only for one. */
int hv_pc_register(struct hv_vm *vm);
/* Port HV_PORT_IOEVENTFD writes signalled in the kernel since the last call. */
uint64_t hv_ioev_signals(struct hv_vm *vm);

/* The result channel (HV_PORT_RESULT and HV_HC_RESULT): copies the record at gpa out
 * of guest memory, validates it and records it. Returns 0, or -1 with hv_err_msg()
 * saying what is wrong with the record. */
int hv_result_submit(struct hv_vcpu *vcpu, uint64_t gpa);
/* Checks a copied record: magic, kind, NUL-terminated printable ASCII strings, a
 * non-empty name, iters > 0 for NANOBENCH, a finite value for VALUE, a repetition
 * index up to a million, vcpu < nr_vcpus. Returns 0 or -1 with hv_err_msg() set. */
int hv_result_validate(const struct hv_result *r, unsigned nr_vcpus);

#endif
