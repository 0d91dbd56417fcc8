/* Page zeroing and copying in batches. Jobs name physical addresses; kmem_flush runs
 * the batch either with the kernel's string instructions (kmem=kernel) or in one CPL3
 * excursion (kmem=user): the kernel switches to an address space that maps all of
 * physical memory for user mode and nothing else, irets to a small routine in the
 * kernel image that works through the jobs, and that routine ends with a divide
 * error which brings the CPU back. Where the host emulates guest kernel code one
 * instruction at a time (PLATFORM.md: `rep movsq` of a 4 KiB page costs ~0.7 ms
 * there), one excursion costs about what a hundred kernel instructions do, and the
 * copies themselves run at native speed. */
#ifndef KERNEL_KMEM_H
#define KERNEL_KMEM_H
#include <stdint.h>

/* Queues zero-filling of [pa, pa+len) / copying len bytes from src to dst; a full
 * batch is run at once. Nothing is guaranteed done before kmem_flush returns. */
void kmem_zero(uint64_t pa, uint64_t len);
void kmem_copy(uint64_t dst, uint64_t src, uint64_t len);
/* Runs this CPU's queued jobs. */
void kmem_flush(void);

/* Builds the user-mode map of physical memory (boot CPU, after vm_init). */
void kmem_init(void);

/* trap.c: the CPL3 routine came back (its divide error) or faulted. */
void kmem_user_trap(uint64_t vector) __attribute__((noreturn));

/* kmemasm.S */
void kmem_user_call(uint64_t jobs_pa, uint64_t n, uint64_t cr3);
void kmem_user_return(void) __attribute__((noreturn));
void kmem_user_routine(void);

#endif
