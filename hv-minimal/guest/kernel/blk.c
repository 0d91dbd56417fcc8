/* Block drivers behind one interface, one per I/O path (blk_abi.h):
 *   emul       register-level: five port writes and a status read per page;
 *   virtio     virtio-blk on virtio-mmio, one QueueNotify per batch, interrupt;
 *   ioeventfd  the same rings, the doorbell on HV_BLK_PORT_NOTIFY (an eventfd in the
 *              engine), interrupt;
 *   poll       the same rings, no doorbell (the device says NO_NOTIFY), no interrupt
 *              (NO_INTERRUPT): the driver polls the used ring;
 *   split      the same as ioeventfd, served by a driver process in the host.
 * A batch is submitted whole and waited for whole: queue depth = batch size. */
#include "blk.h"
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "hvlab/blk_abi.h"
#include "kalloc.h"
#include "kernel.h"
#include "percpu.h"
#include "proc.h"
#include "trap.h"
#include "vm.h"
#include "x86.h"

#define BLK_QNUM 256u                /* descriptors: fits one page */

enum blk_mode { BLK_EMUL, BLK_VIRTIO, BLK_IOEVENTFD, BLK_POLL, BLK_SPLIT };

static volatile uint32_t *mmio;      /* the virtio-mmio page, mapped at boot */
static int mode, ready;
static uint64_t capacity;            /* sectors */
static struct virtq_desc *desc;
static struct virtq_avail *avail;
static struct virtq_used *used;
static struct virtio_blk_outhdr *hdrs;   /* one per request slot */
static uint8_t *stat;                    /* one status byte per slot */
static uint64_t hdrs_pa, stat_pa;
static uint16_t avail_idx, used_seen;
static volatile uint64_t irqs;

/* emul: the last values written to the high registers (a driver's shadow copy) */
static uint32_t emul_sec_hi = ~0u, emul_addr_hi = ~0u;

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static uint32_t mr(uint32_t off)
{
	return mmio[off / 4];
}

static void mw(uint32_t off, uint32_t v)
{
	mmio[off / 4] = v;
}

/* Routes IOAPIC input gsi to vector on CPU 0, edge-triggered, unmasked: how a
 * virtio-mmio device's interrupt arrives on a PC-like machine (QEMU's microvm has a
 * second IOAPIC for inputs 24-47). */
static void ioapic_route(uint32_t gsi, uint32_t vector)
{
	volatile uint32_t *io = vm_map_device(gsi < 24 ? 0xfec00000ull : 0xfec10000ull);
	uint32_t pin = gsi % 24;

	if (!io)
		return;
	io[0] = 0x10 + 2 * pin + 1;   /* redirection entry, high half: destination APIC 0 */
	io[4] = 0;
	io[0] = 0x10 + 2 * pin;       /* low half: fixed, physical, edge, active high */
	io[4] = vector;
}

void blk_boot(void)
{
	mmio = vm_map_device(kcfg.blk_mmio ? kcfg.blk_mmio : HV_BLK_MMIO_BASE);
	if (kcfg.blk_gsi_set)
		ioapic_route(kcfg.blk_gsi, HV_BLK_IRQ_VECTOR);
}

void blk_irq(void)
{
	/* what a virtio-mmio driver does: read the cause, acknowledge it */
	uint32_t st = mr(VIRTIO_MMIO_INTERRUPT_STATUS);

	mw(VIRTIO_MMIO_INTERRUPT_ACK, st);
	irqs++;
}

static int mode_of(const char *p)
{
	static const char *const names[] = { "emul", "virtio", "ioeventfd", "poll", "split" };

	for (int i = 0; i < 5; i++)
		if (!strcmp(p, names[i]))
			return i;
	return BLK_EMUL;
}

/* virtio 1.x initialization (section 3.1.1), queue 0 only. */
static int virtio_init(void)
{
	uint64_t dpa, apa, upa, spa;

	if (!mmio)
		return -GUEST_ENOENT;
	if (mr(VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC || mr(VIRTIO_MMIO_VERSION) != 2 ||
	    mr(VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BLOCK) {
		kprintf("blk: no virtio 1.x block device at %#lx (magic %#x, version %u, device "
			"%u)\n", (unsigned long)(kcfg.blk_mmio ? kcfg.blk_mmio : HV_BLK_MMIO_BASE),
			mr(VIRTIO_MMIO_MAGIC_VALUE), mr(VIRTIO_MMIO_VERSION),
			mr(VIRTIO_MMIO_DEVICE_ID));
		return -GUEST_ENOENT;
	}
	mw(VIRTIO_MMIO_STATUS, 0);
	mw(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mw(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	mw(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	if (!(mr(VIRTIO_MMIO_DEVICE_FEATURES) & 1u)) {      /* VERSION_1 is bit 32 */
		kprintf("blk: the device does not offer VIRTIO_F_VERSION_1\n");
		return -GUEST_ENOENT;
	}
	mw(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mw(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	mw(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	mw(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	mw(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK);
	if (!(mr(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		kprintf("blk: the device refused the features\n");
		return -GUEST_ENOENT;
	}
	mw(VIRTIO_MMIO_QUEUE_SEL, 0);
	if (mr(VIRTIO_MMIO_QUEUE_NUM_MAX) < BLK_QNUM) {
		kprintf("blk: queue 0 is smaller than %u\n", BLK_QNUM);
		return -GUEST_ENOENT;
	}
	dpa = frame_alloc_zeroed();
	apa = frame_alloc_zeroed();
	upa = frame_alloc_zeroed();
	spa = frame_alloc_zeroed();
	if (!dpa || !apa || !upa || !spa)
		return -GUEST_ENOMEM;
	desc = P2V(dpa);
	avail = P2V(apa);
	used = P2V(upa);
	hdrs = P2V(spa);                          /* 256 x 16 bytes: the page */
	hdrs_pa = spa;
	spa = frame_alloc_zeroed();
	if (!spa)
		return -GUEST_ENOMEM;
	stat = P2V(spa);
	stat_pa = spa;
	if (mode == BLK_POLL)
		avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	mw(VIRTIO_MMIO_QUEUE_NUM, BLK_QNUM);
	mw(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)dpa);
	mw(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(dpa >> 32));
	mw(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)apa);
	mw(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(apa >> 32));
	mw(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)upa);
	mw(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(upa >> 32));
	mw(VIRTIO_MMIO_QUEUE_READY, 1);
	capacity = (uint64_t)mr(VIRTIO_MMIO_CONFIG) | (uint64_t)mr(VIRTIO_MMIO_CONFIG + 4) << 32;
	mw(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	avail_idx = used_seen = 0;
	return 0;
}

static int blk_init(void)
{
	int r = 0;

	if (ready)
		return 0;
	mode = mode_of(kcfg.iopath);
	if (mode == BLK_EMUL)
		capacity = inl(HV_BLK_PORT + HV_BLK_REG_CAPACITY);
	else
		r = virtio_init();
	if (r == 0)
		ready = 1;
	return r;
}

/* One page-sized (or smaller) piece of a request's buffer, guest-physical. */
struct seg {
	uint64_t pa;
	uint32_t len;
};

#define MAX_SEGS (HV_BLK_MAX_XFER / PAGE_SIZE + 1)

/* The guest-physical pieces of a user buffer: present, user, and writable when the
 * device is to write it (a read request). Returns the count, or -errno. */
static int user_segs(struct vmspace *vs, uint64_t va, uint32_t len, int dev_writes,
		     struct seg *s)
{
	int n = 0;

	if (va >= HV_USER_TOP || len > HV_USER_TOP - va)
		return -GUEST_EFAULT;
	while (len) {
		pte_t *e = uvm_walk(vs->pml4, va, 0);
		uint32_t k = PAGE_SIZE - (uint32_t)(va % PAGE_SIZE);

		if (k > len)
			k = len;
		if (!e || !(*e & PTE_P) || !(*e & PTE_U) || (dev_writes && !(*e & PTE_W)))
			return -GUEST_EFAULT;   /* the program populates its buffers first */
		s[n].pa = PTE_ADDR(*e) + va % PAGE_SIZE;
		s[n].len = k;
		n++;
		va += k;
		len -= k;
	}
	return n;
}

static uint32_t emul_one(int write, uint64_t sector, const struct seg *s)
{
	uint16_t p = HV_BLK_PORT;

	outl(p + HV_BLK_REG_SECTOR_LO, (uint32_t)sector);
	if ((uint32_t)(sector >> 32) != emul_sec_hi)
		outl(p + HV_BLK_REG_SECTOR_HI, emul_sec_hi = (uint32_t)(sector >> 32));
	outl(p + HV_BLK_REG_ADDR_LO, (uint32_t)s->pa);
	if ((uint32_t)(s->pa >> 32) != emul_addr_hi)
		outl(p + HV_BLK_REG_ADDR_HI, emul_addr_hi = (uint32_t)(s->pa >> 32));
	outl(p + HV_BLK_REG_LEN, s->len);
	outl(p + HV_BLK_REG_CMD, write ? HV_BLK_CMD_WRITE : HV_BLK_CMD_READ);
	return inl(p + HV_BLK_REG_STATUS);
}

/* The batch: requests[i].status is set for each. */
static long blk_batch(struct guest_blk_req *rq, uint32_t n)
{
	struct vmspace *vs = myproc()->vs;
	struct seg s[MAX_SEGS];
	uint32_t d = 0;
	int locked = vs_lock(vs);
	long err = 0;

	for (uint32_t i = 0; i < n && !err; i++) {
		int w = rq[i].op == GUEST_BLK_WRITE;
		int ns;

		if ((rq[i].op != GUEST_BLK_READ && !w) || rq[i].len == 0 ||
		    rq[i].len % HV_BLK_SECTOR || rq[i].len > HV_BLK_MAX_XFER ||
		    (rq[i].uva % HV_BLK_SECTOR)) {
			err = -GUEST_EINVAL;
			break;
		}
		ns = user_segs(vs, rq[i].uva, rq[i].len, !w, s);
		if (ns < 0) {
			err = ns;
			break;
		}
		if (mode == BLK_EMUL) {
			uint64_t sector = rq[i].sector;

			rq[i].status = HV_BLK_ST_OK;
			for (int k = 0; k < ns && rq[i].status == HV_BLK_ST_OK; k++) {
				rq[i].status = emul_one(w, sector, &s[k]);
				sector += s[k].len / HV_BLK_SECTOR;
			}
			continue;
		}
		if (d + (uint32_t)ns + 2 > BLK_QNUM) {
			err = -GUEST_EINVAL;           /* the batch needs more descriptors */
			break;
		}
		/* header, data pieces, status: one chain */
		uint16_t head = (uint16_t)d;
		hdrs[i] = (struct virtio_blk_outhdr){ .type = w ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
						      .sector = rq[i].sector };
		stat[i] = 0xff;
		desc[d] = (struct virtq_desc){ .addr = hdrs_pa + 16ull * i, .len = 16,
					       .flags = VIRTQ_DESC_F_NEXT, .next = (uint16_t)(d + 1) };
		d++;
		for (int k = 0; k < ns; k++, d++)
			desc[d] = (struct virtq_desc){ .addr = s[k].pa, .len = s[k].len,
						       .flags = VIRTQ_DESC_F_NEXT |
							        (w ? 0 : VIRTQ_DESC_F_WRITE),
						       .next = (uint16_t)(d + 1) };
		desc[d] = (struct virtq_desc){ .addr = stat_pa + i, .len = 1,
					       .flags = VIRTQ_DESC_F_WRITE };
		d++;
		avail->ring[(uint16_t)(avail_idx + i) % BLK_QNUM] = head;
	}
	vs_unlock(vs, locked);
	if (err || mode == BLK_EMUL)
		return err;

	/* publish: the ring entries before the index, the index before the doorbell */
	avail_idx = (uint16_t)(avail_idx + n);
	__atomic_store_n(&avail->idx, avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!(__atomic_load_n(&used->flags, __ATOMIC_ACQUIRE) & VIRTQ_USED_F_NO_NOTIFY)) {
		if (mode == BLK_VIRTIO)
			mw(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		else
			outl(HV_BLK_PORT_NOTIFY, 0);
	}
	/* wait: halt for the interrupt, or poll the used ring */
	while (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) != avail_idx) {
		/* a device that found the ring malformed has stopped the VM: no status poll */
		if (mode == BLK_POLL)
			__asm__ volatile("pause");
		else {
			sti_hlt();
			cli();
		}
	}
	used_seen = avail_idx;
	for (uint32_t i = 0; i < n; i++)
		rq[i].status = stat[i] == VIRTIO_BLK_S_OK ? HV_BLK_ST_OK : HV_BLK_ST_IOERR;
	return 0;
}

long sys_blk(struct trapframe *tf)
{
	struct vmspace *vs = myproc()->vs;
	uint64_t cmd = tf->rdi, arg = tf->rsi, n = tf->rdx;
	long r = blk_init();

	if (r)
		return r;
	switch (cmd) {
	case GUEST_BLK_INFO: {
		struct guest_blk_info info = { .sectors = capacity, .queue = mode == BLK_EMUL ? 1 :
					       BLK_QNUM / 3, .irqs = irqs };

		strlcpy(info.path, kcfg.iopath, sizeof(info.path));
		return copyout(vs, arg, &info, sizeof(info)) < 0 ? -GUEST_EFAULT : 0;
	}
	case GUEST_BLK_SUBMIT: {
		struct guest_blk_req rq[GUEST_BLK_BATCH_MAX];

		if (n == 0 || n > GUEST_BLK_BATCH_MAX)
			return -GUEST_EINVAL;
		if (copyin(vs, rq, arg, n * sizeof(rq[0])) < 0)
			return -GUEST_EFAULT;
		r = blk_batch(rq, (uint32_t)n);
		if (r)
			return r;
		return copyout(vs, arg, rq, n * sizeof(rq[0])) < 0 ? -GUEST_EFAULT : 0;
	}
	case GUEST_BLK_STATS: {
		struct hv_blk_stats st;
		uint64_t pa = V2P(&st);

		/* the counters are hvm's: another VMM (QEMU) has no such port */
		if (!(kcfg.devices & HV_DEV_RESULT_PORT) || kcfg.blk_mmio)
			return -GUEST_ENOSYS;
		if (!arg) {
			outl(HV_BLK_PORT_STATS, HV_BLK_STATS_START);
			return 0;
		}
		/* the kernel stack lives in the direct map: its physical address is exact */
		outl(HV_BLK_PORT_STATS, (uint32_t)pa);
		return copyout(vs, arg, &st, sizeof(st)) < 0 ? -GUEST_EFAULT : 0;
	}
	default:
		return -GUEST_EINVAL;
	}
}

/* One valid-looking request made malformed in one way, submitted on the boot's ring
 * path: the device must refuse to follow it and the VMM stop the VM. Returning at all
 * is the failure. */
int blk_badring(const char *args)
{
	static const char *const cases[] = { "loop", "oob", "len", "head", "avail", "indirect",
					     "order", NULL };
	uint64_t data = frame_alloc_zeroed();
	int c = -1, r;

	for (int i = 0; cases[i]; i++)
		if (!strcmp(args, cases[i]))
			c = i;
	mode = mode_of(kcfg.iopath);
	if (c < 0 || mode == BLK_EMUL || !data) {
		kprintf("badring: wargs is one of loop, oob, len, head, avail, indirect, order, "
			"with a ring path (io=virtio, ioeventfd, poll, split)\n");
		return HV_EXIT_FAIL;
	}
	if ((r = virtio_init()) < 0) {
		kprintf("badring: no device (%d)\n", r);
		return HV_EXIT_FAIL;
	}
	hdrs[0] = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 0 };
	desc[0] = (struct virtq_desc){ .addr = hdrs_pa, .len = 16, .flags = VIRTQ_DESC_F_NEXT,
				       .next = 1 };
	desc[1] = (struct virtq_desc){ .addr = data, .len = 4096,
				       .flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, .next = 2 };
	desc[2] = (struct virtq_desc){ .addr = stat_pa, .len = 1, .flags = VIRTQ_DESC_F_WRITE };
	avail->ring[0] = 0;
	avail_idx = 1;
	switch (c) {
	case 0: desc[2].flags |= VIRTQ_DESC_F_NEXT; desc[2].next = 0; break;   /* 0 -> 1 -> 2 -> 0 */
	case 1: desc[1].addr = kcfg.mem_bytes - 2048; break;                    /* runs off memory */
	case 2: desc[1].len = 1u << 30; break;                                  /* 1 GiB */
	case 3: avail->ring[0] = 300; break;                                    /* no such descriptor */
	case 4: avail_idx = 1000; break;                                        /* 1000 new entries */
	case 5: desc[0].flags |= VIRTQ_DESC_F_INDIRECT; break;                  /* not negotiated */
	case 6: desc[0].flags |= VIRTQ_DESC_F_WRITE; desc[1].flags &= ~VIRTQ_DESC_F_WRITE; break;
	}
	kprintf("badring: submitting a request with a malformed ring (%s) on path %s\n", args,
		kcfg.iopath);
	__atomic_store_n(&avail->idx, avail_idx, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (mode == BLK_VIRTIO)
		mw(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	else if (mode != BLK_POLL)
		outl(HV_BLK_PORT_NOTIFY, 0);
	/* the timer (or the device's interrupt) wakes each hlt: about 2 s at 100 Hz */
	for (int i = 0; i < 200; i++) {
		sti_hlt();
		cli();
	}
	kprintf("badring: %s: the VM was not stopped (used idx %u, status %#x)\n", args,
		used->idx, mr(VIRTIO_MMIO_STATUS));
	return HV_EXIT_FAIL;
}
