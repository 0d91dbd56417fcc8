/* The block device: one disk behind five I/O paths (blk_abi.h).
 *
 * emul's registers are served in the vCPU's exit. The ring paths share one
 * virtio-mmio transport and differ only in who serves the queue and how it learns of
 * work: the vCPU in its QueueNotify exit (virtio), an I/O thread woken by the
 * doorbell's eventfd (ioeventfd), a thread that polls the avail ring (poll), or the
 * driver process `hvm blkd` (split). A malformed ring marks the device broken and
 * stops the VM, reported; it is never followed. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hvlab/blk.h"
#include "hvlab/blkdev.h"
#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/vm.h"


struct hv_blk {
	struct hv_vm *vm;
	enum hv_blk_path path;
	struct hv_blkfile file;
	struct hv_memview mem;

	/* emul registers */
	uint32_t sec_lo, sec_hi, addr_lo, addr_hi, len, status;

	/* virtio-mmio registers */
	uint32_t dev_status, dev_feat_sel, drv_feat_sel, queue_sel, int_status;
	uint64_t drv_features;
	uint32_t q_num, q_ready;
	uint64_t q_desc, q_avail, q_used;

	/* the live queue: served under lock by whichever thread serves it */
	pthread_mutex_t lock;
	struct hv_vq vq;
	int active;

	int notify_fd;           /* doorbell eventfd (ioeventfd, split), -1 otherwise */
	int notify_in_kernel;    /* the engine signals it without an exit */
	int irq_fd;              /* completions as eventfd writes (ioeventfd, split) */
	int irq_in_kernel;       /* irq_fd is the engine's irqfd: no VMM on the way */
	int stop_fd;             /* wakes the threads to stop */
	pthread_t thread;
	int thread_on;
	int stopping;

	pid_t child;
	int pidfd;
	struct hv_blkd_shared *sh;  /* MAP_SHARED with the driver process */
	int sh_fd;

	/* counters since the device started (stats port takes differences) */
	uint64_t irqs, notifies, requests;
	struct hv_blk_stats mark;
	int marked;
};

static const char *const path_names[HV_BLK_NPATHS] = {
	"emul", "virtio", "ioeventfd", "poll", "split",
};

const char *hv_blk_path_name(enum hv_blk_path p)
{
	return (unsigned)p < HV_BLK_NPATHS ? path_names[p] : "?";
}

int hv_blk_path_of_cmdline(const char *cmdline, enum hv_blk_path *path)
{
	const char *p = cmdline;

	*path = HV_BLK_EMUL;
	while (p && *p) {
		size_t n = strcspn(p, " ");
		const char *v = NULL;

		if (n > 7 && !strncmp(p, "iopath=", 7))
			v = p + 7;
		else if (n > 3 && !strncmp(p, "io=", 3))
			v = p + 3;
		if (v) {
			size_t vl = (size_t)(p + n - v);
			int found = 0;

			for (int i = 0; i < HV_BLK_NPATHS; i++)
				if (strlen(path_names[i]) == vl && !strncmp(v, path_names[i], vl)) {
					*path = (enum hv_blk_path)i;
					found = 1;
				}
			if (!found)
				return hv_err_set("I/O path '%.*s' is none of emul, virtio, ioeventfd, "
						  "poll, split", (int)vl, v);
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static uint64_t ns_of(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t child_cpu_ns(const struct hv_blk *b)
{
	clockid_t clk;

	if (b->child <= 0 || clock_getcpuclockid(b->child, &clk))
		return 0;
	return ns_of(clk);
}

/* ---- interrupts ---- */

static void blk_raise(struct hv_blk *b)
{
	struct hv_vm *vm = b->vm;

	__atomic_fetch_or(&b->int_status, VIRTIO_INT_USED_RING, __ATOMIC_RELAXED);
	__atomic_fetch_add(&b->irqs, 1, __ATOMIC_RELAXED);
	if (b->irq_in_kernel) {
		uint64_t one = 1;

		if (write(b->irq_fd, &one, sizeof(one)) < 0 && !hv_vm_is_stopped(vm))
			hv_warn("block device: irqfd: %s", strerror(errno));
		return;
	}
	/* vCPU 0 takes the device's interrupts, as a fixed MSI route would send them */
	if (vm->ops->inject_irq(vm->vcpu[0].eng, HV_BLK_IRQ_VECTOR) && !hv_vm_is_stopped(vm))
		hv_warn("block device: interrupt not delivered: %s", hv_err_msg());
}

/* split without irqfd: the relay's half of an interrupt the driver process raised. */
static void blk_inject(struct hv_blk *b)
{
	struct hv_vm *vm = b->vm;

	__atomic_fetch_or(&b->int_status, VIRTIO_INT_USED_RING, __ATOMIC_RELAXED);
	if (vm->ops->inject_irq(vm->vcpu[0].eng, HV_BLK_IRQ_VECTOR) && !hv_vm_is_stopped(vm))
		hv_warn("block device: interrupt not delivered: %s", hv_err_msg());
}

/* Marks the device broken and stops the VM: the guest broke the ring's rules. */
static void blk_broken(struct hv_blk *b, const char *why)
{
	__atomic_fetch_or(&b->dev_status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_RELAXED);
	hv_vm_stop(b->vm, HV_STOP_GUEST_FAULT, 0, -1,
		   "block device (%s path): malformed virtqueue, device marked broken: %s",
		   hv_blk_path_name(b->path), why);
}

/* Serves every available request. Returns how many were completed; the caller raises
 * the interrupt (once per batch). */
static unsigned blk_serve_queue(struct hv_blk *b)
{
	struct hv_vq_chain c;
	unsigned n = 0;
	char why[200];
	int r;

	pthread_mutex_lock(&b->lock);
	if (!b->active || b->vq.broken) {
		pthread_mutex_unlock(&b->lock);
		return 0;
	}
	while ((r = hv_vq_pop(&b->mem, &b->vq, &c, HV_BLK_MAX_XFER)) == 1) {
		uint32_t used;

		if (hv_blk_serve(&b->file, &b->mem, &c, &used, why, sizeof(why))) {
			snprintf(b->vq.why, sizeof(b->vq.why), "%s", why);
			b->vq.broken = 1;
			r = -1;
			break;
		}
		hv_vq_push(&b->mem, &b->vq, c.head, used);
		n++;
	}
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", b->vq.why);
		pthread_mutex_unlock(&b->lock);
		blk_broken(b, why);
		return n;
	}
	pthread_mutex_unlock(&b->lock);
	__atomic_fetch_add(&b->requests, n, __ATOMIC_RELAXED);
	return n;
}

static void blk_complete(struct hv_blk *b, unsigned n)
{
	if (n && !hv_vq_no_interrupt(&b->mem, &b->vq))
		blk_raise(b);
}

/* ---- backends of the ring paths ---- */

/* ioeventfd: the doorbell's eventfd wakes this thread; no exit reached the VMM. */
static void *blk_iothread(void *arg)
{
	struct hv_blk *b = arg;
	struct pollfd p[2] = { { .fd = b->notify_fd, .events = POLLIN },
			       { .fd = b->stop_fd, .events = POLLIN } };

	while (!__atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE)) {
		uint64_t v;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		if (read(b->notify_fd, &v, sizeof(v)) == sizeof(v))
			__atomic_fetch_add(&b->notifies, v, __ATOMIC_RELAXED);
		blk_complete(b, blk_serve_queue(b));
	}
	return NULL;
}

/* poll: nobody rings; this thread watches the avail index. After a while with no
 * work it yields the CPU between looks, so an idle guest does not cost a core. */
static void *blk_pollthread(void *arg)
{
	struct hv_blk *b = arg;
	unsigned idle = 0;

	while (!__atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE) && !hv_vm_is_stopped(b->vm)) {
		if (hv_vq_has_work(&b->mem, &b->vq)) {
			idle = 0;
			blk_complete(b, blk_serve_queue(b));
			continue;
		}
		if (++idle > 100000)
			sched_yield();
		else
			__builtin_ia32_pause();
	}
	return NULL;
}

/* split: completions come from the driver process as eventfd counts, turned into
 * interrupts here; the process's end is seen on its pidfd. */
static void *blk_relaythread(void *arg)
{
	struct hv_blk *b = arg;
	/* with an irqfd the driver process interrupts the guest itself */
	struct pollfd p[3] = { { .fd = b->irq_in_kernel ? -1 : b->irq_fd, .events = POLLIN },
			       { .fd = b->pidfd, .events = POLLIN },
			       { .fd = b->stop_fd, .events = POLLIN } };

	while (!__atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE)) {
		uint64_t v;

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents)
			break;
		if ((p[0].revents & POLLIN) && read(b->irq_fd, &v, sizeof(v)) == sizeof(v))
			blk_inject(b);
		if (p[1].revents & POLLIN) {
			siginfo_t si = { 0 };

			if (waitid(P_PIDFD, (id_t)b->pidfd, &si, WEXITED | WNOHANG) == 0 &&
			    si.si_pid) {
				b->child = 0;
				if (__atomic_load_n(&b->sh->broken, __ATOMIC_ACQUIRE)) {
					char why[256];

					memcpy(why, b->sh->why, sizeof(why));
					why[sizeof(why) - 1] = 0;
					blk_broken(b, why);
				} else {
					hv_vm_stop(b->vm, HV_STOP_HOST_ERROR, 0, -1,
						   "block device (split path): the driver process %d %s "
						   "%d; the VM is stopped (its disk is gone)", si.si_pid,
						   si.si_code == CLD_EXITED ? "exited with status" :
						   "was killed by signal", si.si_status);
				}
				break;
			}
		}
	}
	return NULL;
}

static int spawn_blkd(struct hv_blk *b)
{
	char exe[4096], a[8][32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	posix_spawn_file_actions_t fa;
	int r;

	if (n < 0)
		return hv_err_errno("finding hvm to start the split driver process");
	exe[n] = 0;
	/* the child's descriptors 3..7: memory, disk, doorbell, completion, shared page */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, b->vm->mem.fd, 3);
	posix_spawn_file_actions_adddup2(&fa, b->file.fd, 4);
	posix_spawn_file_actions_adddup2(&fa, b->notify_fd, 5);
	posix_spawn_file_actions_adddup2(&fa, b->irq_fd, 6);
	posix_spawn_file_actions_adddup2(&fa, b->sh_fd, 7);
	snprintf(a[0], sizeof(a[0]), "%" PRIu64, b->vm->mem.size);
	snprintf(a[1], sizeof(a[1]), "%" PRIu64, b->file.size);
	snprintf(a[2], sizeof(a[2]), "%u", b->vq.num);
	snprintf(a[3], sizeof(a[3]), "%#" PRIx64, b->vq.desc);
	snprintf(a[4], sizeof(a[4]), "%#" PRIx64, b->vq.avail);
	snprintf(a[5], sizeof(a[5]), "%#" PRIx64, b->vq.used);
	char *argv[] = { exe, "blkd", a[0], a[1], a[2], a[3], a[4], a[5], NULL };
	r = posix_spawn(&b->child, exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		errno = r;
		b->child = 0;
		return hv_err_errno("starting the split driver process %s blkd", exe);
	}
	b->pidfd = (int)syscall(SYS_pidfd_open, b->child, 0);
	if (b->pidfd < 0)
		return hv_err_errno("pidfd_open of the split driver process %d", b->child);
	return 0;
}

static void blk_stop_backend(struct hv_blk *b)
{
	uint64_t one = 1;

	__atomic_store_n(&b->stopping, 1, __ATOMIC_RELEASE);
	if (b->stop_fd >= 0 && write(b->stop_fd, &one, sizeof(one)) < 0)
		hv_warn("block device: waking its thread: %s", strerror(errno));
	if (b->child > 0) {
		siginfo_t si;

		kill(b->child, SIGKILL);
		waitid(P_PID, (id_t)b->child, &si, WEXITED);
		b->child = 0;
	}
	if (b->thread_on)
		pthread_join(b->thread, NULL);
	b->thread_on = 0;
	if (b->pidfd >= 0)
		close(b->pidfd);
	b->pidfd = -1;
	if (b->stop_fd >= 0 && read(b->stop_fd, &one, sizeof(one)) < 0)
		one = 0;
	__atomic_store_n(&b->stopping, 0, __ATOMIC_RELEASE);
}

/* DRIVER_OK: the queue's areas are checked and its server started. */
static void blk_activate(struct hv_blk *b)
{
	void *(*fn)(void *) = NULL;

	pthread_mutex_lock(&b->lock);
	b->vq = (struct hv_vq){ .num = b->q_num, .desc = b->q_desc, .avail = b->q_avail,
				.used = b->q_used };
	if (!b->q_ready || hv_vq_setup(&b->mem, &b->vq)) {
		char why[200];

		snprintf(why, sizeof(why), "%s", b->q_ready ? b->vq.why : "DRIVER_OK with queue 0 not ready");
		pthread_mutex_unlock(&b->lock);
		blk_broken(b, why);
		return;
	}
	b->active = 1;
	pthread_mutex_unlock(&b->lock);
	if (b->path == HV_BLK_POLL)
		hv_vq_set_used_flags(&b->mem, &b->vq, VIRTQ_USED_F_NO_NOTIFY);
	switch (b->path) {
	case HV_BLK_IOEVENTFD:
		fn = blk_iothread;
		break;
	case HV_BLK_POLL:
		fn = blk_pollthread;
		break;
	case HV_BLK_SPLIT:
		memset(b->sh, 0, sizeof(*b->sh));
		if (spawn_blkd(b)) {
			hv_vm_stop(b->vm, HV_STOP_HOST_ERROR, 0, -1, "block device: %s", hv_err_msg());
			return;
		}
		b->active = 0;   /* the driver process serves the queue, not this one */
		fn = blk_relaythread;
		break;
	default:
		return;
	}
	if (pthread_create(&b->thread, NULL, fn, b)) {
		hv_vm_stop(b->vm, HV_STOP_HOST_ERROR, 0, -1, "block device: cannot start its thread");
		return;
	}
	b->thread_on = 1;
}

static void blk_reset(struct hv_blk *b)
{
	blk_stop_backend(b);
	pthread_mutex_lock(&b->lock);
	b->active = 0;
	pthread_mutex_unlock(&b->lock);
	b->dev_status = b->dev_feat_sel = b->drv_feat_sel = b->queue_sel = b->int_status = 0;
	b->drv_features = 0;
	b->q_num = b->q_ready = 0;
	b->q_desc = b->q_avail = b->q_used = 0;
}

/* ---- virtio-mmio registers ---- */

static const uint64_t blk_features = (1ull << VIRTIO_F_VERSION_1) |
				     (1ull << VIRTIO_BLK_F_SIZE_MAX) |
				     (1ull << VIRTIO_BLK_F_SEG_MAX);

static uint32_t mmio_read(struct hv_blk *b, uint64_t off)
{
	uint64_t cap = hv_blkfile_sectors(&b->file);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return VIRTIO_ID_BLOCK;
	case VIRTIO_MMIO_VENDOR_ID: return HV_BLK_VENDOR_ID;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return b->dev_feat_sel < 2 ? (uint32_t)(blk_features >> (32 * b->dev_feat_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return b->queue_sel == 0 ? HV_BLK_QUEUE_MAX : 0;
	case VIRTIO_MMIO_QUEUE_READY: return b->queue_sel == 0 ? b->q_ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return __atomic_load_n(&b->int_status, __ATOMIC_RELAXED);
	case VIRTIO_MMIO_STATUS: return __atomic_load_n(&b->dev_status, __ATOMIC_RELAXED);
	case VIRTIO_MMIO_CONFIG_GENERATION: return 0;
	case VIRTIO_MMIO_CONFIG: return (uint32_t)cap;
	case VIRTIO_MMIO_CONFIG + 4: return (uint32_t)(cap >> 32);
	case VIRTIO_MMIO_CONFIG + 8: return 4096;             /* size_max */
	case VIRTIO_MMIO_CONFIG + 12: return HV_BLK_SEG_MAX;  /* seg_max */
	default: return 0;
	}
}

static void set_lo(uint64_t *v, uint32_t x) { *v = (*v & ~0xffffffffull) | x; }
static void set_hi(uint64_t *v, uint32_t x) { *v = (*v & 0xffffffffull) | (uint64_t)x << 32; }

static int mmio_write(struct hv_blk *b, uint64_t off, uint32_t v)
{
	int q0 = b->queue_sel == 0;
	/* queue registers are frozen once the driver is running */
	int live = (b->dev_status & VIRTIO_STATUS_DRIVER_OK) != 0;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: b->dev_feat_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: b->drv_feat_sel = v; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (b->drv_feat_sel == 0)
			set_lo(&b->drv_features, v);
		else if (b->drv_feat_sel == 1)
			set_hi(&b->drv_features, v);
		break;
	case VIRTIO_MMIO_QUEUE_SEL: b->queue_sel = v; break;
	case VIRTIO_MMIO_QUEUE_NUM: if (q0 && !live) b->q_num = v; break;
	case VIRTIO_MMIO_QUEUE_READY: if (q0 && !live) b->q_ready = v & 1; break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: if (q0 && !live) set_lo(&b->q_desc, v); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: if (q0 && !live) set_hi(&b->q_desc, v); break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW: if (q0 && !live) set_lo(&b->q_avail, v); break;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: if (q0 && !live) set_hi(&b->q_avail, v); break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW: if (q0 && !live) set_lo(&b->q_used, v); break;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: if (q0 && !live) set_hi(&b->q_used, v); break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v != 0)
			return hv_err_set("virtio-blk: notify of queue %u; the device has queue 0 only", v);
		__atomic_fetch_add(&b->notifies, 1, __ATOMIC_RELAXED);
		/* every path takes this doorbell; only virtio's is meant to ring here */
		if (b->path == HV_BLK_SPLIT) {
			uint64_t one = 1;

			if (write(b->notify_fd, &one, sizeof(one)) < 0)
				hv_warn("virtio-blk: doorbell: %s", strerror(errno));
		} else {
			blk_complete(b, blk_serve_queue(b));
		}
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		__atomic_fetch_and(&b->int_status, ~v, __ATOMIC_RELAXED);
		break;
	case VIRTIO_MMIO_STATUS:
		if (v == 0) {
			blk_reset(b);
			break;
		}
		if ((v & VIRTIO_STATUS_FEATURES_OK) && !(b->dev_status & VIRTIO_STATUS_FEATURES_OK) &&
		    ((b->drv_features & ~blk_features) ||
		     !(b->drv_features & (1ull << VIRTIO_F_VERSION_1))))
			v &= ~VIRTIO_STATUS_FEATURES_OK;   /* refused: the driver reads it back */
		if ((v & VIRTIO_STATUS_DRIVER_OK) && !live) {
			b->dev_status = v;
			blk_activate(b);
			break;
		}
		b->dev_status = v | (b->dev_status & VIRTIO_STATUS_NEEDS_RESET);
		break;
	default:
		break;   /* read-only or unknown registers ignore writes, as a device would */
	}
	return 0;
}

static int blk_mmio(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		    uint32_t len, int is_write)
{
	struct hv_blk *b = dev;
	uint32_t v;

	(void)vcpu;
	if (len != 4 || offset % 4)
		return hv_err_set("virtio-mmio registers take aligned 4-byte accesses, not %u "
				  "bytes at offset %#" PRIx64, len, offset);
	if (!is_write) {
		v = mmio_read(b, offset);
		memcpy(data, &v, 4);
		return 0;
	}
	memcpy(&v, data, 4);
	return mmio_write(b, offset, v);
}

/* ---- emul: registers and a one-request DMA engine ---- */

static int blk_emul_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		       uint32_t len, int is_write)
{
	/* LAB 1 BEGIN: emul-regs */
	struct hv_blk *b = dev;
	uint32_t v = 0;

	(void)vcpu;
	if (len != 4 || offset % 4)
		return hv_err_set("the block device's registers take 4-byte in/out, not %u bytes "
				  "at offset %#" PRIx64, len, offset);
	if (!is_write) {
		switch (offset) {
		case HV_BLK_REG_STATUS: v = b->status; break;
		case HV_BLK_REG_CAPACITY: v = (uint32_t)hv_blkfile_sectors(&b->file); break;
		default: v = 0; break;
		}
		memcpy(data, &v, 4);
		return 0;
	}
	memcpy(&v, data, 4);
	switch (offset) {
	case HV_BLK_REG_SECTOR_LO: b->sec_lo = v; break;
	case HV_BLK_REG_SECTOR_HI: b->sec_hi = v; break;
	case HV_BLK_REG_ADDR_LO: b->addr_lo = v; break;
	case HV_BLK_REG_ADDR_HI: b->addr_hi = v; break;
	case HV_BLK_REG_LEN: b->len = v; break;
	case HV_BLK_REG_CMD: {
		uint64_t gpa = (uint64_t)b->addr_hi << 32 | b->addr_lo;
		void *buf = hv_gpa_ptr(&b->vm->mem, gpa, b->len);

		if (v != HV_BLK_CMD_READ && v != HV_BLK_CMD_WRITE)
			return hv_err_set("block device: command %u is neither read (1) nor write (2)", v);
		__atomic_fetch_add(&b->notifies, 1, __ATOMIC_RELAXED);
		if (!buf || b->len == 0) {
			b->status = HV_BLK_ST_BADREQ;
			break;
		}
		b->status = (uint32_t)hv_blkfile_rw(&b->file, v == HV_BLK_CMD_WRITE,
						    (uint64_t)b->sec_hi << 32 | b->sec_lo, buf, b->len);
		__atomic_fetch_add(&b->requests, 1, __ATOMIC_RELAXED);
		break;
	}
	default:
		break;
	}
	return 0;
	/* LAB 1 END: emul-regs */
}

/* ---- doorbell port and stats port ---- */

static int blk_notify_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
			 uint32_t len, int is_write)
{
	struct hv_blk *b = dev;
	uint64_t one = 1;

	(void)vcpu;
	(void)offset;
	(void)data;
	if (!is_write) {
		memset(data, 0, len);
		return 0;
	}
	/* Reached only where the engine did not take the write in its kernel: ring the
	 * same eventfd, so the path works (with an exit) everywhere. */
	if (b->notify_fd >= 0) {
		if (write(b->notify_fd, &one, sizeof(one)) < 0)
			return hv_err_errno("block doorbell eventfd");
	} else {
		__atomic_fetch_add(&b->notifies, 1, __ATOMIC_RELAXED);
		blk_complete(b, blk_serve_queue(b));
	}
	return 0;
}

static void stats_now(struct hv_blk *b, struct hv_blk_stats *s)
{
	struct hv_vm *vm = b->vm;

	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		s->vmm_exits += __atomic_load_n(&vm->vcpu[i].nexits, __ATOMIC_RELAXED);
	s->irqs = __atomic_load_n(&b->irqs, __ATOMIC_RELAXED);
	if (b->path == HV_BLK_SPLIT && b->sh)
		s->irqs = __atomic_load_n(&b->sh->irqs, __ATOMIC_RELAXED);
	s->notifies = __atomic_load_n(&b->notifies, __ATOMIC_RELAXED);
	s->requests = __atomic_load_n(&b->requests, __ATOMIC_RELAXED);
	if (b->path == HV_BLK_SPLIT && b->sh) {
		s->notifies += __atomic_load_n(&b->sh->notifies, __ATOMIC_RELAXED);
		s->requests += __atomic_load_n(&b->sh->requests, __ATOMIC_RELAXED);
	}
	if (b->notify_in_kernel && b->path == HV_BLK_IOEVENTFD)
		s->notifies = __atomic_load_n(&b->notifies, __ATOMIC_RELAXED);
	s->host_cpu_ns = ns_of(CLOCK_PROCESS_CPUTIME_ID);
	s->backend_cpu_ns = child_cpu_ns(b);
	s->wall_ns = ns_of(CLOCK_MONOTONIC);
}

static int blk_stats_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
			uint32_t len, int is_write)
{
	struct hv_blk *b = dev;
	struct hv_blk_stats now, d;
	uint32_t gpa;

	(void)vcpu;
	(void)offset;
	if (!is_write || len != 4)
		return hv_err_set("the block stats port takes out32 (0 or a guest-physical address)");
	memcpy(&gpa, data, 4);
	stats_now(b, &now);
	if (gpa == HV_BLK_STATS_START) {
		b->mark = now;
		b->marked = 1;
		return 0;
	}
	if (!b->marked)
		return hv_err_set("block stats: stop without a start");
	d = (struct hv_blk_stats){
		/* this write's exit is counted already; the start's was before the mark */
		.vmm_exits = now.vmm_exits - b->mark.vmm_exits - 1,
		.irqs = now.irqs - b->mark.irqs,
		.notifies = now.notifies - b->mark.notifies,
		.requests = now.requests - b->mark.requests,
		.host_cpu_ns = now.host_cpu_ns - b->mark.host_cpu_ns,
		.backend_cpu_ns = now.backend_cpu_ns >= b->mark.backend_cpu_ns ?
				  now.backend_cpu_ns - b->mark.backend_cpu_ns : now.backend_cpu_ns,
		.wall_ns = now.wall_ns - b->mark.wall_ns,
	};
	return hv_gpa_write(&b->vm->mem, gpa, &d, sizeof(d));
}

/* ---- set-up ---- */

int hv_blk_register(struct hv_vm *vm, const struct hv_blk_config *cfg)
{
	struct hv_blk *b = calloc(1, sizeof(*b));

	if (!b)
		return hv_err_set("block device: out of memory");
	vm->dev.blk = b;
	b->vm = vm;
	b->notify_fd = b->irq_fd = b->stop_fd = b->pidfd = b->sh_fd = -1;
	b->file.fd = -1;
	pthread_mutex_init(&b->lock, NULL);
	b->mem = (struct hv_memview){ .host = vm->mem.host, .size = vm->mem.size };
	if (hv_blk_path_of_cmdline(cfg->cmdline, &b->path))
		return -1;
	if (hv_blkfile_open(&b->file, cfg->path, vm->run_dir, cfg->size, cfg->direct))
		return -1;
	b->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (b->stop_fd < 0)
		return hv_err_errno("block device: eventfd");
	if (b->path == HV_BLK_IOEVENTFD || b->path == HV_BLK_SPLIT) {
		b->notify_fd = eventfd(0, EFD_CLOEXEC);
		if (b->notify_fd < 0)
			return hv_err_errno("block device: doorbell eventfd");
		if (vm->ops->ioeventfd_add &&
		    vm->ops->ioeventfd_add(vm->eng, HV_BLK_PORT_NOTIFY, 4, b->notify_fd) == 0)
			b->notify_in_kernel = 1;
		else
			hv_warn("block device: port %#x is no ioeventfd under this engine (%s): "
				"each doorbell exits to the VMM", HV_BLK_PORT_NOTIFY,
				vm->ops->ioeventfd_add ? hv_err_msg() : "no ioeventfd support");
	}
	if (b->path == HV_BLK_IOEVENTFD || b->path == HV_BLK_SPLIT) {
		b->irq_fd = eventfd(0, EFD_CLOEXEC);
		if (b->irq_fd < 0)
			return hv_err_errno("block device: completion eventfd");
		/* irqfd where the engine has it (KVM); else the VMM injects */
		if (vm->ops->irqfd_add &&
		    vm->ops->irqfd_add(vm->eng, b->irq_fd, 0, HV_BLK_IRQ_VECTOR) == 0)
			b->irq_in_kernel = 1;
		else if (vm->ops->irqfd_add)
			hv_warn("block device: no irqfd (%s): the VMM injects each completion",
				hv_err_msg());
	}
	if (b->path == HV_BLK_SPLIT) {
		b->sh_fd = memfd_create("hvlab-blkd", MFD_CLOEXEC);
		if (b->sh_fd < 0 || ftruncate(b->sh_fd, 4096) < 0)
			return hv_err_errno("block device: the split driver's channel");
		b->sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b->sh_fd, 0);
		if (b->sh == MAP_FAILED) {
			b->sh = NULL;
			return hv_err_errno("block device: mapping the split driver's channel");
		}
	}
	if (hv_bus_register(&vm->bus, HV_BUS_PIO, HV_BLK_PORT, HV_BLK_PORT_LEN, "blk-emul", b,
			    blk_emul_io) ||
	    hv_bus_register(&vm->bus, HV_BUS_PIO, HV_BLK_PORT_NOTIFY, 4, "blk-doorbell", b,
			    blk_notify_io) ||
	    hv_bus_register(&vm->bus, HV_BUS_PIO, HV_BLK_PORT_STATS, 4, "blk-stats", b,
			    blk_stats_io) ||
	    hv_bus_register(&vm->bus, HV_BUS_MMIO, HV_BLK_MMIO_BASE, HV_BLK_MMIO_LEN,
			    "virtio-blk", b, blk_mmio))
		return -1;
	return 0;
}

const char *hv_blk_irq_route(struct hv_vm *vm)
{
	struct hv_blk *b = vm->dev.blk;

	if (!b || b->path == HV_BLK_EMUL || b->path == HV_BLK_POLL)
		return "none";
	if (b->irq_in_kernel)
		return "irqfd";
	return b->path == HV_BLK_SPLIT ? "relay-thread-inject" : "vmm-inject";
}

const char *hv_blk_notify_route(struct hv_vm *vm)
{
	struct hv_blk *b = vm->dev.blk;

	if (!b || b->path == HV_BLK_EMUL || b->path == HV_BLK_POLL)
		return "none";
	if (b->path == HV_BLK_VIRTIO)
		return "mmio-exit";
	return b->notify_in_kernel ? "ioeventfd" : "port-exit";
}

const char *hv_blk_file_path(struct hv_vm *vm)
{
	return vm->dev.blk ? vm->dev.blk->file.path : "none";
}

void hv_blk_close(struct hv_vm *vm)
{
	struct hv_blk *b = vm->dev.blk;

	if (!b)
		return;
	blk_stop_backend(b);
	hv_blkfile_close(&b->file);
	if (b->sh)
		munmap(b->sh, 4096);
	int fds[] = { b->notify_fd, b->irq_fd, b->stop_fd, b->sh_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&b->lock);
	free(b);
	vm->dev.blk = NULL;
}
