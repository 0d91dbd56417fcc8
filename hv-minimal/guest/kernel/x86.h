/* Privileged x86-64 instructions and architectural constants the kernel uses. Each
 * wrapper is one instruction: on a host that emulates guest kernel code, every
 * instruction counts. The constants are shared with assembly. */
#ifndef KERNEL_X86_H
#define KERNEL_X86_H

/* Segment selectors, Linux's layout (some hosts report these values back whatever the
 * guest loaded, so the guest uses the same ones). */
#define SEL_KCODE32 0x08
#define SEL_KCODE   0x10
#define SEL_KDATA   0x18
#define SEL_UCODE32 0x23
#define SEL_UDATA   0x2b
#define SEL_UCODE   0x33
#define SEL_TSS     0x40

#define RFLAGS_CF    (1ull << 0)
#define RFLAGS_FIXED (1ull << 1)
#define RFLAGS_TF    (1ull << 8)
#define RFLAGS_IF    (1ull << 9)
#define RFLAGS_DF    (1ull << 10)
#define RFLAGS_IOPL3 (3ull << 12)
#define RFLAGS_NT    (1ull << 14)
#define RFLAGS_RF    (1ull << 16)
#define RFLAGS_AC    (1ull << 18)

#define CR0_WP        (1ull << 16)
#define CR0_PE        (1ull << 0)
#define CR0_PG        (1ull << 31)
#define CR4_PAE       (1ull << 5)
#define CR4_PGE       (1ull << 7)
#define CR4_OSFXSR    (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_SMAP      (1ull << 21)

#define MSR_EFER           0xc0000080u
#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_FMASK          0xc0000084u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_NXE (1ull << 11)

/* Exception vectors. */
#define T_DE   0
#define T_DB   1
#define T_NMI  2
#define T_BP   3
#define T_UD   6
#define T_DF   8
#define T_GP   13
#define T_PF   14
#define T_MC   18
#define T_IRQ0 32        /* first external interrupt vector */
#define T_TIMER 32       /* local APIC timer */
#define T_IPI   33       /* inter-processor: reschedule, TLB shootdown */
#define T_SPURIOUS 47    /* local APIC spurious vector (low nibble all ones) */
#define T_NVEC 48        /* IDT entries: exceptions and 16 interrupt vectors */
#define T_SYSCALL 0x100  /* pseudo-vector of the `syscall` instruction path */

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t rcr0(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void lcr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline uint64_t rcr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t rcr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void lcr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t rcr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void lcr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

/* Enables interrupts and halts until one arrives: the one-instruction interrupt
 * shadow after sti means an interrupt already pending wakes the hlt, never slips in
 * between. Interrupts are on when this returns. */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti\n\thlt" : : : "memory");
}

static inline void pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* Stops this CPU for good (interrupts off). */
static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli\n\thlt");
}

#endif /* __ASSEMBLER__ */
#endif
