/* Device side of a split virtqueue (virtq.h). The guest runs while the device reads
 * its rings, so each field is loaded once, with acquire order where the spec asks for
 * it, and only the local copy is checked and used. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hvlab/virtq.h"

static int vq_break(struct hv_vq *vq, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int vq_break(struct hv_vq *vq, const char *fmt, ...)
{
	va_list ap;

	if (!vq->broken) {
		va_start(ap, fmt);
		vsnprintf(vq->why, sizeof(vq->why), fmt, ap);
		va_end(ap);
	}
	vq->broken = 1;
	return -1;
}

static int area_ok(const struct hv_memview *m, struct hv_vq *vq, const char *what,
		   uint64_t gpa, uint64_t len, uint64_t align)
{
	if (gpa % align)
		return vq_break(vq, "%s area at %#llx is not %llu-byte aligned", what,
				(unsigned long long)gpa, (unsigned long long)align);
	if (!hv_memview_ok(m, gpa, len))
		return vq_break(vq, "%s area %#llx+%#llx is outside guest memory (%#llx bytes)",
				what, (unsigned long long)gpa, (unsigned long long)len,
				(unsigned long long)m->size);
	return 0;
}

int hv_vq_setup(const struct hv_memview *m, struct hv_vq *vq)
{
	uint64_t n = vq->num;

	vq->broken = 0;
	vq->why[0] = 0;
	vq->last_avail = vq->used_idx = 0;
	if (n == 0 || n > HV_BLK_QUEUE_MAX || (n & (n - 1)))
		return vq_break(vq, "queue size %llu is not a power of 2 in 1..%u",
				(unsigned long long)n, HV_BLK_QUEUE_MAX);
	if (area_ok(m, vq, "descriptor", vq->desc, 16 * n, 16) ||
	    area_ok(m, vq, "driver (avail)", vq->avail, 6 + 2 * n, 2) ||
	    area_ok(m, vq, "device (used)", vq->used, 6 + 8 * n, 4))
		return -1;
	/* A queue starts empty: both indexes at 0 (the driver zeroed its rings). */
	__atomic_store_n((uint16_t *)(m->host + vq->used + 2), 0, __ATOMIC_RELEASE);
	return 0;
}

static uint16_t avail_idx(const struct hv_memview *m, const struct hv_vq *vq)
{
	return __atomic_load_n((uint16_t *)(m->host + vq->avail + 2), __ATOMIC_ACQUIRE);
}

int hv_vq_has_work(const struct hv_memview *m, const struct hv_vq *vq)
{
	return !vq->broken && avail_idx(m, vq) != vq->last_avail;
}

int hv_vq_no_interrupt(const struct hv_memview *m, const struct hv_vq *vq)
{
	return __atomic_load_n((uint16_t *)(m->host + vq->avail), __ATOMIC_ACQUIRE) &
	       VIRTQ_AVAIL_F_NO_INTERRUPT;
}

void hv_vq_set_used_flags(const struct hv_memview *m, const struct hv_vq *vq, uint16_t f)
{
	__atomic_store_n((uint16_t *)(m->host + vq->used), f, __ATOMIC_RELEASE);
}

int hv_vq_pop(const struct hv_memview *m, struct hv_vq *vq, struct hv_vq_chain *c,
	      uint32_t max_len)
{
	/* LAB 6 BEGIN: pop */
	uint16_t ai, head, idx;
	uint64_t seen[(HV_BLK_QUEUE_MAX + 63) / 64] = { 0 };
	int saw_write = 0;

	if (vq->broken)
		return -1;
	ai = avail_idx(m, vq);
	if (ai == vq->last_avail)
		return 0;
	if ((uint16_t)(ai - vq->last_avail) > vq->num)
		return vq_break(vq, "avail index %u is %u entries ahead of the device's %u, more "
				"than the queue size %u", ai, (uint16_t)(ai - vq->last_avail),
				vq->last_avail, vq->num);
	head = __atomic_load_n((uint16_t *)(m->host + vq->avail + 4 +
					    2 * (vq->last_avail % vq->num)), __ATOMIC_RELAXED);
	if (head >= vq->num)
		return vq_break(vq, "avail ring slot %u names descriptor %u, beyond the queue "
				"size %u", vq->last_avail % vq->num, head, vq->num);
	c->head = head;
	c->n = 0;
	idx = head;
	for (;;) {
		struct virtq_desc d;

		if (seen[idx / 64] & (1ull << (idx % 64)))
			return vq_break(vq, "descriptor chain from %u loops back to descriptor %u",
					head, idx);
		seen[idx / 64] |= 1ull << (idx % 64);
		if (c->n == HV_VQ_MAX_SEGS)
			return vq_break(vq, "descriptor chain from %u is longer than %u descriptors",
					head, HV_VQ_MAX_SEGS);
		memcpy(&d, m->host + vq->desc + 16ull * idx, sizeof(d));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return vq_break(vq, "descriptor %u is indirect, a feature not negotiated", idx);
		if (d.len == 0 || d.len > max_len)
			return vq_break(vq, "descriptor %u has length %u (allowed 1..%u)", idx, d.len,
					max_len);
		if (!hv_memview_ok(m, d.addr, d.len))
			return vq_break(vq, "descriptor %u buffer %#llx+%#x is outside guest memory "
					"(%#llx bytes)", idx, (unsigned long long)d.addr, d.len,
					(unsigned long long)m->size);
		if (saw_write && !(d.flags & VIRTQ_DESC_F_WRITE))
			return vq_break(vq, "descriptor %u is device-readable after a writable one",
					idx);
		saw_write |= !!(d.flags & VIRTQ_DESC_F_WRITE);
		c->seg[c->n++] = (struct hv_vq_seg){ .gpa = d.addr, .len = d.len,
						     .write = !!(d.flags & VIRTQ_DESC_F_WRITE) };
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= vq->num)
			return vq_break(vq, "descriptor %u links to %u, beyond the queue size %u", idx,
					d.next, vq->num);
		idx = d.next;
	}
	vq->last_avail++;
	return 1;
	/* LAB 6 END: pop */
}

void hv_vq_push(const struct hv_memview *m, struct hv_vq *vq, uint16_t head, uint32_t len)
{
	/* LAB 6 BEGIN: push */
	struct virtq_used_elem e = { .id = head, .len = len };
	uint8_t *slot = m->host + vq->used + 4 + 8ull * (vq->used_idx % vq->num);

	memcpy(slot, &e, sizeof(e));
	vq->used_idx++;
	/* The element is visible before the index that publishes it. */
	__atomic_store_n((uint16_t *)(m->host + vq->used + 2), vq->used_idx, __ATOMIC_RELEASE);
	/* LAB 6 END: push */
}
