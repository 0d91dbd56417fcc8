/* The block device's guest/VMM ABI (io-paths experiment): one device behind five I/O
 * paths, chosen by the guest's iopath= (or io=) boot option. Kept apart from abi.h so
 * the two grow independently. Freestanding: fixed-width types only.
 *
 *   emul       register-level device on ports HV_BLK_PORT..+0x1f: one exit per
 *              register access, data moved by the device from a guest-physical buffer
 *              named in two registers (a small bus-master DMA engine, IDE-BMDMA style);
 *              synchronous, no interrupt.
 *   virtio     virtio-blk over virtio-mmio (virtio 1.x, split virtqueue) at
 *              HV_BLK_MMIO_BASE: one QueueNotify write per batch, served in the vCPU's
 *              exit; completion by interrupt (vector HV_BLK_IRQ_VECTOR).
 *   ioeventfd  the same device, notified by an out32 of the queue index to
 *              HV_BLK_PORT_NOTIFY, which the engine turns into an eventfd signal
 *              without an exit to the VMM (KVM ioeventfd; bt signals it from its port
 *              call-out); an I/O thread serves the queue and interrupts.
 *   poll       the same device, no notify and no interrupt: a VMM thread polls the
 *              avail ring, the guest polls the used ring.
 *   split      the same device, served by a separate driver process (hvm blkd) that
 *              maps guest memory from its memfd; notify through HV_BLK_PORT_NOTIFY's
 *              eventfd, completion through an eventfd the VMM turns into an interrupt.
 * Every ring field, index, address and length is untrusted: a malformed ring marks
 * the device broken (virtio status DEVICE_NEEDS_RESET) and stops the VM, reported. */
#ifndef HVLAB_BLK_ABI_H
#define HVLAB_BLK_ABI_H
#include <stdint.h>

#define HV_BLK_SECTOR        512u
#define HV_BLK_MAX_XFER      (64u << 10)   /* largest request's data, bytes */
#define HV_BLK_QUEUE_MAX     256u          /* QueueNumMax */
#define HV_BLK_IRQ_VECTOR    34u           /* fixed, edge: what an MSI would deliver */

/* ---- emul: 32-bit registers at HV_BLK_PORT + offset (in32/out32 only) ---- */
#define HV_BLK_PORT          0x540
#define HV_BLK_PORT_LEN      0x20
#define HV_BLK_REG_SECTOR_LO 0x00
#define HV_BLK_REG_SECTOR_HI 0x04
#define HV_BLK_REG_ADDR_LO   0x08   /* guest-physical buffer */
#define HV_BLK_REG_ADDR_HI   0x0c
#define HV_BLK_REG_LEN       0x10   /* bytes, a multiple of HV_BLK_SECTOR, <= MAX_XFER */
#define HV_BLK_REG_CMD       0x14   /* write: HV_BLK_CMD_*; runs the request */
#define HV_BLK_REG_STATUS    0x18   /* read: HV_BLK_ST_* of the last command */
#define HV_BLK_REG_CAPACITY  0x1c   /* read: capacity in sectors (low 32 bits) */

enum hv_blk_cmd { HV_BLK_CMD_READ = 1, HV_BLK_CMD_WRITE = 2 };
enum hv_blk_status {
	HV_BLK_ST_OK = 0,
	HV_BLK_ST_IOERR = 1,     /* the host file failed: nothing was acknowledged */
	HV_BLK_ST_BADREQ = 2,    /* out-of-range sector, bad length or address */
};

/* ---- doorbell and measurement ports (every path) ---- */
#define HV_BLK_PORT_NOTIFY   0x560  /* out32 queue index: ioeventfd and split paths */
#define HV_BLK_PORT_STATS    0x564  /* out32 0: start counting; out32 gpa: stop, and
				     * write a struct hv_blk_stats there */
#define HV_BLK_STATS_START   0u

/* What the VMM counted between start and stop. */
struct hv_blk_stats {
	uint64_t vmm_exits;      /* exits that reached the VMM, all vCPUs, minus the two
				  * stats-port writes */
	uint64_t irqs;           /* completion interrupts the device raised */
	uint64_t notifies;       /* doorbells the backend saw (QueueNotify, eventfd) */
	uint64_t requests;       /* requests completed */
	uint64_t host_cpu_ns;    /* CPU time of the VMM process (vCPU threads included) */
	uint64_t backend_cpu_ns; /* CPU time of the split driver process; 0 otherwise */
	uint64_t wall_ns;        /* host monotonic time */
};

/* ---- virtio-mmio (virtio 1.x, section 4.2.2), one page ---- */
#define HV_BLK_MMIO_BASE     0xfe100000ull
#define HV_BLK_MMIO_LEN      0x1000u

#define VIRTIO_MMIO_MAGIC_VALUE       0x000   /* "virt" */
#define VIRTIO_MMIO_VERSION           0x004   /* 2 */
#define VIRTIO_MMIO_DEVICE_ID         0x008   /* 2: block */
#define VIRTIO_MMIO_VENDOR_ID         0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES   0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES   0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL         0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX     0x034
#define VIRTIO_MMIO_QUEUE_NUM         0x038
#define VIRTIO_MMIO_QUEUE_READY       0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY      0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS  0x060
#define VIRTIO_MMIO_INTERRUPT_ACK     0x064
#define VIRTIO_MMIO_STATUS            0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW    0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH   0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW  0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW  0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG            0x100   /* struct virtio_blk_config: capacity le64 */

#define VIRTIO_MMIO_MAGIC  0x74726976u
#define VIRTIO_ID_BLOCK    2u
#define HV_BLK_VENDOR_ID   0x6c766868u   /* "hhvl" */

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE  1u
#define VIRTIO_STATUS_DRIVER       2u
#define VIRTIO_STATUS_DRIVER_OK    4u
#define VIRTIO_STATUS_FEATURES_OK  8u
#define VIRTIO_STATUS_NEEDS_RESET  0x40u
#define VIRTIO_STATUS_FAILED       0x80u

/* Feature bits this device offers. */
#define VIRTIO_BLK_F_SIZE_MAX  1     /* config size_max: largest segment */
#define VIRTIO_BLK_F_SEG_MAX   2     /* config seg_max: segments per request */
#define VIRTIO_F_VERSION_1     32

#define VIRTIO_INT_USED_RING   1u    /* InterruptStatus bit: used buffer notification */

/* Split virtqueue (virtio 1.x, section 2.7). */
#define VIRTQ_DESC_F_NEXT      1u
#define VIRTQ_DESC_F_WRITE     2u
#define VIRTQ_DESC_F_INDIRECT  4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];         /* then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];  /* then avail_event */
};

/* virtio-blk request header and status (section 5.2.6). */
#define VIRTIO_BLK_T_IN    0u
#define VIRTIO_BLK_T_OUT   1u
#define VIRTIO_BLK_S_OK     0u
#define VIRTIO_BLK_S_IOERR  1u
#define VIRTIO_BLK_S_UNSUPP 2u

struct virtio_blk_outhdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

#define HV_BLK_SEG_MAX 17u   /* data segments per request: 64 KiB in 4 KiB pages + 1 */

#endif
