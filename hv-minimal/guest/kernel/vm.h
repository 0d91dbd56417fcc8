/* Page tables and address spaces. The kernel half (PML4 slot 511) is one direct map of
 * guest-physical memory at KERNBASE in 2 MiB pages, shared by every address space;
 * user address spaces map [0, HV_USER_TOP) with 4 KiB pages. */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H
#include <stddef.h>
#include <stdint.h>
#include "spinlock.h"

typedef uint64_t pte_t;

#define PTE_P     (1ull << 0)
#define PTE_W     (1ull << 1)
#define PTE_U     (1ull << 2)
#define PTE_PWT   (1ull << 3)
#define PTE_PCD   (1ull << 4)
#define PTE_PS    (1ull << 7)
#define PTE_G     (1ull << 8)
#define PTE_OWNED (1ull << 9)   /* software: a counted frame of the address spaces */
#define PTE_COW   (1ull << 10)  /* software: writable once copied (copy-on-write) */
#define PTE_NX    (1ull << 63)
#define PTE_ADDR(e) ((e) & 0x000ffffffffff000ull)

/* Page-fault error code bits. */
#define PF_PRESENT (1u << 0)
#define PF_WRITE   (1u << 1)
#define PF_USER    (1u << 2)
#define PF_RSVD    (1u << 3)
#define PF_FETCH   (1u << 4)

struct cpu;

/* A user address space: one per process, shared by the threads (SYS_thread). */
struct vmspace {
	pte_t *pml4;
	uint64_t root;             /* physical address of pml4: what CR3 holds */
	volatile uint32_t cpumask; /* CPUs with it in CR3: where a TLB may hold its entries */
	uint32_t refs;             /* processes using it */
	struct spinlock lock;      /* its page tables and break */
	uint64_t brk;              /* heap: [GUEST_USER_HEAP_BASE, brk) */
	struct vmspace *next_free;
};

static inline uint64_t vs_root(const struct vmspace *vs)
{
	return vs->root;
}

/* Takes vs->lock when threads share vs: an address space with one process is only
 * ever changed by that process, on one CPU at a time, and skips the lock (every
 * instruction counts where kernel code is emulated). Returns what vs_unlock needs. */
static inline int vs_lock(struct vmspace *vs)
{
	int locked = __atomic_load_n(&vs->refs, __ATOMIC_ACQUIRE) > 1;

	if (locked)
		spin_lock(&vs->lock);
	return locked;
}

static inline void vs_unlock(struct vmspace *vs, int locked)
{
	if (locked)
		spin_unlock(&vs->lock);
}

/* Builds the kernel's page table and switches to it (boot CPU). */
void vm_init(void);
/* Control registers and the kernel's page table on this CPU (every CPU). */
void vm_init_cpu(void);
/* Maps the device page holding pa, uncached, into the kernel's device window (shared
 * by all address spaces); returns the kernel address of pa, NULL when out of room.
 * Boot CPU only, before the others start. */
void *vm_map_device(uint64_t pa);
/* Physical address of the kernel-only PML4 (for running without a process). */
uint64_t vm_kernel_root(void);

/* pagesize=2m: sends the 2 MiB-page counters (summed over CPUs) as info records of
 * workload name. */
void vm_report_huge(const char *name);

/* A new, empty address space with one reference; NULL when out of memory. */
struct vmspace *vs_create(void);
void vs_get(struct vmspace *vs);
/* Drops a reference; the last one frees the page tables and the frames. The caller
 * must not have vs in CR3 (vs_switch away first). */
void vs_put(struct vmspace *vs);
/* A copy of parent for a child process: pages copied (or shared copy-on-write when
 * cow), the shared area and read-only image pages shared. NULL when out of memory. */
struct vmspace *vs_fork(struct vmspace *parent, int cow);
/* Loads vs (NULL: the kernel's own table) into this CPU's CR3. */
void vs_switch(struct cpu *c, struct vmspace *vs);

/* The 4 KiB PTE for user address va, allocating tables when alloc; NULL if absent or
 * out of memory. */
pte_t *uvm_walk(pte_t *pml4, uint64_t va, int alloc);
/* Maps user page va to pa with flags (PTE_P is added); -1 if va is already mapped or
 * memory is out. For an address space no CPU runs yet (no locking, no TLB flush). */
int uvm_map(struct vmspace *vs, uint64_t va, uint64_t pa, uint64_t flags);
/* Unmaps the pages of [va, va+len), dropping their frames, and flushes every TLB that
 * may hold them. */
void uvm_unmap(struct vmspace *vs, uint64_t va, uint64_t len);
/* Resolves a user page fault: demand-zero pages, copy-on-write. Returns 0 when
 * resolved, -1 when the fault is the program's. */
int uvm_fault(struct vmspace *vs, uint64_t va, uint64_t err);
/* Maps every page of [va, va+len) in a demand area now, writable; -1 when part of the
 * range is outside the demand areas, 0 or -GUEST_ENOMEM otherwise. */
long uvm_populate(struct vmspace *vs, uint64_t va, uint64_t len);
/* Moves the heap break by delta; returns the old break or -GUEST_ENOMEM. */
long uvm_sbrk(struct vmspace *vs, int64_t delta);
/* Copies n bytes from user address uva; -1 unless every byte is mapped user memory. */
int copyin(struct vmspace *vs, void *dst, uint64_t uva, size_t n);
/* Copies a NUL-terminated string of at most max bytes (NUL included); -1 when it is
 * unmapped or longer. */
int copyinstr(struct vmspace *vs, char *dst, uint64_t uva, size_t max);
/* Copies n bytes to user address uva, resolving demand and copy-on-write pages; -1
 * unless every byte is writable user memory. */
int copyout(struct vmspace *vs, uint64_t uva, const void *src, size_t n);
/* The physical address of the n bytes at user address uva, which must lie in one
 * writable 4 KiB page of the shared area, with a reference on its frame (frame_put
 * drops it), so that an unmap meanwhile cannot free it; 0 when they do not. */
uint64_t uvm_hold_shared(struct vmspace *vs, uint64_t uva, size_t n);

/* Calls fn on each user-mapped piece of [uva, uva+n) (through the direct map); -1 if
 * part of the range is not mapped user memory (pieces before it were processed). */
int uvm_each(pte_t *pml4, uint64_t uva, size_t n, void (*fn)(void *ctx, const void *p, size_t n),
	     void *ctx);

#endif
