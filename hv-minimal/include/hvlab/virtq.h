/* The device side of a virtio 1.x split virtqueue, over a plain view of guest memory
 * (so the VMM's threads and the separate split driver process share it). Every index,
 * descriptor, address and length the guest wrote is read once into a local copy and
 * checked before use; a ring that breaks a rule marks the queue broken (vq->why says
 * how) and is never followed further. */
#ifndef HVLAB_VIRTQ_H
#define HVLAB_VIRTQ_H
#include <stddef.h>
#include <stdint.h>

#include "hvlab/blk_abi.h"

/* Guest-physical [0, size) at host. */
struct hv_memview {
	uint8_t *host;
	uint64_t size;
};

/* 1 when [gpa, gpa + len) is inside the view (overflow-safe). */
static inline int hv_memview_ok(const struct hv_memview *m, uint64_t gpa, uint64_t len)
{
	return gpa <= m->size && len <= m->size - gpa;
}

struct hv_vq {
	uint32_t num;            /* queue size: a power of 2, at most HV_BLK_QUEUE_MAX */
	uint64_t desc, avail, used;  /* guest-physical areas */
	uint16_t last_avail;     /* next avail ring slot the device reads */
	uint16_t used_idx;       /* the device's copy of used->idx */
	int broken;
	char why[200];
};

#define HV_VQ_MAX_SEGS (HV_BLK_SEG_MAX + 2)   /* header + data + status */

struct hv_vq_seg {
	uint64_t gpa;
	uint32_t len;
	int write;               /* device-writable */
};

struct hv_vq_chain {
	uint16_t head;
	unsigned n;
	struct hv_vq_seg seg[HV_VQ_MAX_SEGS];
};

/* Checks a queue's size and areas (alignment 16/2/4, inside memory, not wrapping).
 * Returns 0, or -1 with the queue marked broken. */
int hv_vq_setup(const struct hv_memview *m, struct hv_vq *vq);
/* 1 when the guest has made buffers available past last_avail. */
int hv_vq_has_work(const struct hv_memview *m, const struct hv_vq *vq);
/* Takes the next available chain. Returns 1 with *c filled, 0 when none is
 * available, -1 when the ring is malformed (queue marked broken): an avail index more
 * than num ahead, a head or next index out of range, a loop or a chain longer than
 * HV_VQ_MAX_SEGS, a readable descriptor after a writable one, an indirect descriptor
 * (not negotiated), a buffer outside guest memory, a length of 0 or beyond max_len. */
int hv_vq_pop(const struct hv_memview *m, struct hv_vq *vq, struct hv_vq_chain *c,
	      uint32_t max_len);
/* Returns the chain at head as used, len bytes written, and publishes used->idx. */
void hv_vq_push(const struct hv_memview *m, struct hv_vq *vq, uint16_t head, uint32_t len);
/* 1 when the driver asked for no interrupts (avail->flags NO_INTERRUPT). */
int hv_vq_no_interrupt(const struct hv_memview *m, const struct hv_vq *vq);
/* Sets used->flags (VIRTQ_USED_F_NO_NOTIFY when the backend polls). */
void hv_vq_set_used_flags(const struct hv_memview *m, const struct hv_vq *vq, uint16_t f);

#endif
