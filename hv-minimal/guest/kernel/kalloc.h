/* Physical frame allocator over [kernel end, memory end). Frames handed out for the
 * first time come from a bump pointer; freed frames go on a free list. Nothing is
 * touched at boot: on a host that emulates kernel code a boot-time sweep over all of
 * memory would cost seconds. */
#ifndef KERNEL_KALLOC_H
#define KERNEL_KALLOC_H
#include <stdint.h>

void kalloc_init(uint64_t start_pa, uint64_t end_pa);
/* A frame's physical address, contents undefined; 0 when memory is exhausted. */
uint64_t frame_alloc(void);
/* The same, zero-filled. */
uint64_t frame_alloc_zeroed(void);
void frame_free(uint64_t pa);
/* Frames in use, for reports. */
uint64_t frames_used(void);

#endif
