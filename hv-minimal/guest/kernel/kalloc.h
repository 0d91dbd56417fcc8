/* Physical frame allocator over [kernel end, memory end). Frames handed out for the
 * first time come from a bump pointer; freed frames go on a free list. Nothing is
 * touched at boot: on a host that emulates kernel code a boot-time sweep over all of
 * memory would cost seconds. Each CPU keeps a few zeroed frames, zeroed in batches
 * (kmem.h). Every frame has a struct pageinfo: a reference count for data frames
 * shared between address spaces (fork, copy-on-write), and for page-table pages the
 * range of entries ever used, so that walks skip the empty rest.
 *
 * Page-table pages are recycled as page-table pages only, emptied entry by entry when
 * freed: a host with shadow paging keeps write-protecting a page it has seen as a
 * page table, and a data page that was one would cost an emulated instruction per
 * write; as a page table again it costs nothing extra and needs no zeroing. */
#ifndef KERNEL_KALLOC_H
#define KERNEL_KALLOC_H
#include <stdint.h>
#include "kernel.h"

struct pageinfo {
	uint32_t ref;             /* address spaces mapping the frame (data frames) */
	uint16_t lo, hi;          /* page tables: entries [lo, hi) may be present */
};

extern struct pageinfo pageinfo[HV_MAX_GUEST_MEM / PAGE_SIZE];

static inline struct pageinfo *pinfo(uint64_t pa)
{
	return &pageinfo[pa / PAGE_SIZE];
}

void kalloc_init(uint64_t start_pa, uint64_t end_pa);
/* A frame's physical address, contents undefined, reference count 1 and an empty
 * entry range; 0 when memory is exhausted. */
uint64_t frame_alloc(void);
/* The same, zero-filled. */
uint64_t frame_alloc_zeroed(void);
/* A zero-filled frame for a page table (reference count 1, empty entry range); 0 when
 * memory is exhausted. */
uint64_t pt_alloc(void);
/* Returns a page-table frame whose entries are all zero again. */
void pt_free(uint64_t pa);
/* Frees a frame regardless of its count. */
void frame_free(uint64_t pa);
/* One more / one fewer mapping of a shared frame; the last put frees it. */
void frame_get(uint64_t pa);
void frame_put(uint64_t pa);
/* 2 MiB pages (pagesize=2m): a pool set aside at boot, physically contiguous and
 * 2 MiB-aligned, that the 4 KiB allocator never hands out. huge_alloc returns a 2 MiB
 * frame (contents undefined) or 0 when the pool is empty (the caller falls back to
 * 4 KiB pages); huge_free returns it to the pool. huge_split_frames turns a 2 MiB
 * frame's 512 pieces into ordinary 4 KiB frames (reference count 1 each), which go
 * to the 4 KiB allocator when freed: a split page leaves the pool for good. */
uint64_t huge_alloc(void);
void huge_free(uint64_t pa);
void huge_split_frames(uint64_t pa);
/* The pool's size, and the 2 MiB pages handed out, for reports. */
uint64_t huge_pool_bytes(void);
uint64_t huge_pages_used(void);
/* Frames in use (including those kept in per-CPU caches), for reports. */
uint64_t frames_used(void);

#endif
