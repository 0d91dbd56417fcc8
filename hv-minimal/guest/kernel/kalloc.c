/* Frame allocator: bump pointer plus a free list threaded through the free frames
 * (reached through the direct map). */
#include "guest/string.h"
#include "kalloc.h"
#include "kernel.h"

struct free_frame {
	struct free_frame *next;
};

static struct {
	uint64_t next;             /* first never-allocated frame */
	uint64_t end;
	uint64_t start;
	uint64_t used;
	struct free_frame *free;
} mem;

void kalloc_init(uint64_t start_pa, uint64_t end_pa)
{
	mem.start = (start_pa + PAGE_SIZE - 1) & PAGE_MASK;
	mem.next = mem.start;
	mem.end = end_pa & PAGE_MASK;
	mem.free = NULL;
	mem.used = 0;
}

uint64_t frame_alloc(void)
{
	uint64_t pa;

	if (mem.free) {
		pa = V2P(mem.free);
		mem.free = mem.free->next;
	} else if (mem.next < mem.end) {
		pa = mem.next;
		mem.next += PAGE_SIZE;
	} else {
		return 0;
	}
	mem.used++;
	return pa;
}

uint64_t frame_alloc_zeroed(void)
{
	uint64_t pa = frame_alloc();

	if (pa)
		memset(P2V(pa), 0, PAGE_SIZE);
	return pa;
}

void frame_free(uint64_t pa)
{
	if (pa % PAGE_SIZE || pa < mem.start || pa >= mem.next)
		panic("frame_free: %#lx was never allocated", pa);
	struct free_frame *f = P2V(pa);

	f->next = mem.free;
	mem.free = f;
	mem.used--;
}

uint64_t frames_used(void)
{
	return mem.used;
}
