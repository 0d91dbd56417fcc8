/* QEMU as a peer of hvm's engines: finding qemu-system-x86_64 and its firmware, the
 * command line that boots the guest image through its PVH entry, and one run of it
 * with the serial console read as it comes, a timeout, and the guest's exit status
 * from isa-debug-exit. */
#ifndef HVLAB_PEER_QEMU_H
#define HVLAB_PEER_QEMU_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PEER_QEMU_DEFAULT "qemu-system-x86_64"
#define PEER_QEMU_ARGS_MAX 40

struct peer_qemu_config {
	const char *qemu;            /* path of the QEMU binary */
	const char *accel;           /* "tcg" or "kvm" */
	const char *cpu;             /* -cpu MODEL, or NULL for QEMU's default */
	const char *firmware;        /* -bios FILE, or NULL for QEMU's default (SeaBIOS) */
	const char *kernel;
	const char *cmdline;         /* the guest command line (-append) */
	unsigned vcpus;
	uint64_t mem_bytes;          /* a whole number of MiB */
	const char *stderr_path;     /* QEMU's own messages go here */
	const char *pin;             /* host CPUs QEMU is confined to, or NULL */
	/* A raw disk image for QEMU's own virtio-blk-device, or NULL. With one, the
	 * machine is microvm (a virtio-mmio transport; QEMU names it to the guest with
	 * virtio_mmio.device= on its command line). */
	const char *disk;
	const char *initrd;          /* a Linux guest's -initrd, or NULL */
};

/* The QEMU command line: argv (NULL-terminated, pointing into the config and into
 * buf) and the same as one shell-quoted string. */
struct peer_qemu_argv {
	char *argv[PEER_QEMU_ARGS_MAX];
	char buf[4608];
	char shown[8192];
};

/* name_or_path: a path (has a '/') or a name searched in PATH. Fills path. Returns 0,
 * or -1 with hv_err_msg() saying it is not there. */
int peer_qemu_find(const char *name_or_path, char *path, size_t len);
/* QEMU's first line of `-version` ("QEMU emulator version 7.2.22 ..."), or
 * "unavailable: <why>". */
void peer_qemu_version(const char *qemu, char *buf, size_t len);
/* qboot (a minimal firmware that starts a PVH kernel at once) when this QEMU ships it
 * (<prefix>/share/qemu/qboot.rom next to <prefix>/bin/qemu-...): under KVM on a host
 * that emulates guest kernel code, SeaBIOS takes seconds to reach the kernel. Fills
 * path and returns 1, or returns 0 when there is none. */
int peer_qemu_qboot(const char *qemu, char *path, size_t len);

int peer_qemu_build_argv(const struct peer_qemu_config *c, struct peer_qemu_argv *a);

enum peer_end_kind {
	PEER_END_EXIT,               /* QEMU exited on its own: code is its exit status */
	PEER_END_SIGNALED,           /* QEMU was killed by a signal nobody here sent: code */
	PEER_END_TIMEOUT,            /* the timeout expired; QEMU was stopped */
	PEER_END_INTERRUPTED,        /* SIGINT or SIGTERM reached the peer: code; QEMU stopped */
	PEER_END_STOPPED,            /* on_output asked to stop; QEMU stopped */
};

struct peer_end {
	enum peer_end_kind kind;
	int code;
	double seconds;              /* QEMU's start to its end */
	double first_output_s;       /* QEMU's start to the first console byte; -1: none */
};

/* Starts QEMU and reads its console until it exits, timeout_s passes, or SIGINT or
 * SIGTERM arrives (then QEMU gets SIGTERM, and SIGKILL if it is still there after
 * two seconds; what it printed until then is still read). Every chunk of console
 * bytes goes to on_output as it arrives; on_output returns nonzero to stop QEMU. Returns 0 with *end filled, or -1 with hv_err_msg() when
 * QEMU could not be started or waited for. */
int peer_qemu_run(const struct peer_qemu_config *c, const struct peer_qemu_argv *a,
		  double timeout_s, int (*on_output)(void *arg, const char *buf, size_t n),
		  void *arg, struct peer_end *end);

#endif
