/* Trap frames and the trap entry points. */
#ifndef KERNEL_TRAP_H
#define KERNEL_TRAP_H

/* Offsets into struct trapframe, for the assembly paths. */
#define TF_RCX    96
#define TF_R11    32
#define TF_VECTOR 120
#define TF_RIP    136
#define TF_CS     144
#define TF_RFLAGS 152
#define TF_RSP    160
#define TF_SS     168
#define TF_SIZE   176

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Everything an entry saves, lowest address first: the general registers pushed by
 * trapasm.S, the vector and error code (0 when the CPU pushes none), and the frame
 * the CPU pushed. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

_Static_assert(__builtin_offsetof(struct trapframe, rcx) == TF_RCX, "TF_RCX");
_Static_assert(__builtin_offsetof(struct trapframe, r11) == TF_R11, "TF_R11");
_Static_assert(__builtin_offsetof(struct trapframe, vector) == TF_VECTOR, "TF_VECTOR");
_Static_assert(__builtin_offsetof(struct trapframe, rip) == TF_RIP, "TF_RIP");
_Static_assert(__builtin_offsetof(struct trapframe, cs) == TF_CS, "TF_CS");
_Static_assert(__builtin_offsetof(struct trapframe, rflags) == TF_RFLAGS, "TF_RFLAGS");
_Static_assert(__builtin_offsetof(struct trapframe, rsp) == TF_RSP, "TF_RSP");
_Static_assert(__builtin_offsetof(struct trapframe, ss) == TF_SS, "TF_SS");
_Static_assert(sizeof(struct trapframe) == TF_SIZE, "TF_SIZE");

/* trap.c */
void idt_init(void);       /* builds the IDT and loads it (boot CPU) */
void idt_load(void);       /* loads it (other CPUs) */
void trap(struct trapframe *tf);
const char *trap_name(uint64_t vector);
/* Prints a frame and exits the VM with HV_EXIT_PANIC. */
void trap_panic(const struct trapframe *tf, const char *why) __attribute__((noreturn));

/* trapasm.S */
extern const uint64_t trap_vectors[];   /* entry stub per IDT vector */
void trapret(void);                     /* pops a trapframe and returns with iretq */
void syscall_entry(void);               /* LSTAR target */

/* syscall.c */
void syscall_init(int gate);
void syscall_dispatch(struct trapframe *tf);
#endif
#endif
