/* Processes and the scheduler. Every process has a home CPU and waits in that CPU's
 * run queue when runnable; a CPU runs its queue round robin, switching on yield,
 * sleep, exit and the timer interrupt, and halts when the queue is empty. A child
 * starts on its parent's CPU; SYS_setcpu moves a process (no automatic balancing,
 * so placement in the workloads is explicit and repeatable). One lock, sched_lock,
 * covers process states, run queues and parent/child links. Kernel code runs with
 * interrupts off and is never preempted; user code runs with them on. */
#ifndef KERNEL_PROC_H
#define KERNEL_PROC_H
#include <stdint.h>
#include "programs.h"
#include "spinlock.h"
#include "vm.h"

#define KSTACK_SIZE (16 * 1024)
#define NPROC 64
#define EXIT_KILLED_BASE 128   /* status of a program killed by vector v: 128 + v */

/* Callee-saved registers and the resume address, as swtch.S pushes them. */
struct context {
	uint64_t r15, r14, r13, r12, rbx, rbp, rip;
};

enum proc_state { P_FREE = 0, P_RUNNABLE, P_RUNNING, P_SLEEPING, P_ZOMBIE };

struct trapframe;

struct proc {
	enum proc_state state;
	uint32_t cpu;              /* home CPU: its run queue */
	uint64_t pid;
	const char *name;
	struct vmspace *vs;
	struct trapframe *tf;      /* top of kstack: the user registers */
	struct context *ctx;       /* saved kernel registers while not running */
	struct proc *rq_next;      /* run queue link */
	struct proc *parent;
	struct proc *zombies;      /* exited children not yet waited for */
	struct proc *zsib;         /* next in the parent's zombies */
	struct proc *free_next;
	uint32_t nchildren;        /* children not yet waited for */
	int waiting;               /* asleep in wait() */
	int exit_status;
	uint64_t fault_resume;     /* SYS_fault_resume address, 0 for none */
	uint8_t kstack[KSTACK_SIZE] __attribute__((aligned(16)));
};

extern struct spinlock sched_lock;

/* Starts prog with the argument string args as the first process (pid 1) on CPU 0
 * and enters the scheduler; the VM ends when that process exits. Returns only when
 * the process could not be created (-1, the reason printed). */
int proc_run(const struct program *prog, const char *args);

/* System calls of processes (syscall.c calls them; tf is the caller's frame). */
long proc_fork(void);
long proc_thread(uint64_t entry, uint64_t stack_top, uint64_t arg);
long proc_wait(struct trapframe *tf);
long proc_exec(struct trapframe *tf, const char *name, const char *args);
long proc_setcpu(uint64_t cpu);
/* Ends the running process with status; does not return. */
__attribute__((noreturn)) void proc_exit(int status);

/* sched.c */
/* Lets the other runnable processes of this CPU run first (no-op when none). */
void yield(void);
/* A timer tick from user mode: yields if the running process has had its time. */
void sched_tick(void);
/* Switches this CPU away from the current process, whose state the caller set (and
 * which it queued, if runnable); with sched_lock held, returned to with it held. */
void sched(void);
/* Makes p runnable on its home CPU (sched_lock held); wakes that CPU if it is
 * another one. */
void sched_wake(struct proc *p);
/* This CPU's scheduler loop when nothing is runnable: never returns. */
__attribute__((noreturn)) void sched_idle(void);
/* First return of a new process: releases sched_lock, enters user mode. */
void forkret(void);

/* swtch.S */
void swtch(struct context **save, struct context *load);
void forkret_asm(void);

#endif
