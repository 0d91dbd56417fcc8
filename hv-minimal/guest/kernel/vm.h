/* Page tables. The kernel half (PML4 slot 511) is one direct map of guest-physical
 * memory at KERNBASE in 2 MiB pages, shared by every address space; user address
 * spaces map [0, HV_USER_TOP) with 4 KiB pages. */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H
#include <stddef.h>
#include <stdint.h>

typedef uint64_t pte_t;

#define PTE_P     (1ull << 0)
#define PTE_W     (1ull << 1)
#define PTE_U     (1ull << 2)
#define PTE_PWT   (1ull << 3)
#define PTE_PCD   (1ull << 4)
#define PTE_PS    (1ull << 7)
#define PTE_G     (1ull << 8)
#define PTE_OWNED (1ull << 9)   /* software: the frame belongs to this address space */
#define PTE_NX    (1ull << 63)
#define PTE_ADDR(e) ((e) & 0x000ffffffffff000ull)

/* Page-fault error code bits. */
#define PF_PRESENT (1u << 0)
#define PF_WRITE   (1u << 1)
#define PF_USER    (1u << 2)
#define PF_RSVD    (1u << 3)
#define PF_FETCH   (1u << 4)

/* Builds the kernel's page table and switches to it. */
void vm_init(void);
/* Maps the device page holding pa, uncached, into the kernel's device window (shared
 * by all address spaces); returns the kernel address of pa, NULL when out of room. */
void *vm_map_device(uint64_t pa);
/* Physical address of the kernel-only PML4 (for running without a process). */
uint64_t vm_kernel_root(void);

/* A new user address space sharing the kernel half; NULL when out of memory. */
pte_t *uvm_create(void);
/* Frees the user half (frames marked PTE_OWNED and all user page tables) and the root. */
void uvm_free(pte_t *pml4);
/* The 4 KiB PTE for user address va, allocating tables when alloc; NULL if absent or
 * out of memory. */
pte_t *uvm_walk(pte_t *pml4, uint64_t va, int alloc);
/* Maps user page va to pa with flags (PTE_P is added); -1 if va is already mapped or
 * memory is out. */
int uvm_map(pte_t *pml4, uint64_t va, uint64_t pa, uint64_t flags);
/* Unmaps the pages of [va, va+len), freeing owned frames. */
void uvm_unmap(pte_t *pml4, uint64_t va, uint64_t len);
/* Resolves a user page fault in a demand-zero area (the stack, the demand area);
 * returns 0 when resolved, -1 when the fault is the program's. */
int uvm_fault(pte_t *pml4, uint64_t va, uint64_t err);
/* Copies n bytes from user address uva; -1 unless every byte is mapped user memory. */
int copyin(pte_t *pml4, void *dst, uint64_t uva, size_t n);
/* Calls fn on each user-mapped piece of [uva, uva+n) (through the direct map); -1 if
 * part of the range is not mapped user memory (pieces before it were processed). */
int uvm_each(pte_t *pml4, uint64_t uva, size_t n, void (*fn)(void *ctx, const void *p, size_t n),
	     void *ctx);

#endif
