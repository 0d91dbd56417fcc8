/* User processes. One runs at a time on the boot CPU: the kernel starts a program,
 * returns to the scheduler context when it exits, and reports its status. */
#ifndef KERNEL_PROC_H
#define KERNEL_PROC_H
#include <stdint.h>
#include "programs.h"
#include "vm.h"

#define KSTACK_SIZE (16 * 1024)
#define EXIT_KILLED_BASE 128   /* status of a program killed by vector v: 128 + v */

/* Callee-saved registers and the resume address, as swtch.S pushes them. */
struct context {
	uint64_t r15, r14, r13, r12, rbx, rbp, rip;
};

enum proc_state { PROC_FREE = 0, PROC_RUNNING, PROC_EXITED /* not yet reaped */ };

struct proc {
	enum proc_state state;
	uint64_t pid;
	const char *name;
	pte_t *pml4;
	uint64_t fault_resume;     /* SYS_fault_resume address, 0 for none */
	int exit_status;
	struct context *ctx;
	uint8_t kstack[KSTACK_SIZE] __attribute__((aligned(16)));
};

/* Runs prog with the argument string args until it exits; returns its exit status, or
 * -1 when it could not be started (the reason is printed). */
int proc_run(const struct program *prog, const char *args);

/* Ends the running process with status; does not return. */
__attribute__((noreturn)) void proc_exit(int status);


/* swtch.S */
void swtch(struct context **save, struct context *load);

#endif
