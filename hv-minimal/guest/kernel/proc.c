/* Process creation, entry to user mode and exit. */
#include "exec.h"
#include "guest/string.h"
#include "guest/uapi.h"
#include "kalloc.h"
#include "percpu.h"
#include "proc.h"
#include "trap.h"
#include "x86.h"

#define NPROC 2

static struct proc procs[NPROC];
static uint64_t next_pid = 1;

/* An exited process keeps its address space until its slot is needed again: freeing
 * walks every page table, which under instruction emulation takes milliseconds, and
 * the last program's is never needed again. */
static void proc_reap(struct proc *p)
{
	if (p->pml4)
		uvm_free(p->pml4);
	p->pml4 = NULL;
	p->state = PROC_FREE;
}

static struct proc *proc_alloc(void)
{
	for (int i = 0; i < NPROC; i++) {
		if (procs[i].state == PROC_EXITED)
			proc_reap(&procs[i]);
		if (procs[i].state == PROC_FREE) {
			procs[i].state = PROC_RUNNING;
			procs[i].pid = next_pid++;
			procs[i].fault_resume = 0;
			procs[i].pml4 = NULL;
			procs[i].exit_status = 0;
			return &procs[i];
		}
	}
	return NULL;
}

/* Maps the top stack page with the start block in it; returns the block's user
 * address, 0 when memory is out. */
static uint64_t setup_stack(struct proc *p, const char *args)
{
	uint64_t f = frame_alloc_zeroed();
	uint64_t page_va = GUEST_USER_STACK_TOP - PAGE_SIZE;

	if (!f || uvm_map(p->pml4, page_va, f, PTE_U | PTE_W | PTE_NX | PTE_OWNED) < 0)
		return 0;
	uint64_t off = (PAGE_SIZE - sizeof(struct guest_start)) & ~15ull;
	struct guest_start *st = (struct guest_start *)((char *)P2V(f) + off);
	st->gate = kcfg.gate;
	st->pid = p->pid;
	st->tsc_khz = kcfg.tsc_khz;
	strlcpy(st->workload, p->name, sizeof(st->workload));
	strlcpy(st->args, args, sizeof(st->args));
	return page_va + off;
}

/* Lays out the kernel stack so that the first swtch to p "returns" into trapret,
 * which pops a trap frame built to enter the program at its entry point. */
static void setup_kstack(struct proc *p, uint64_t entry, uint64_t start_block)
{
	uint8_t *top = p->kstack + KSTACK_SIZE;
	struct trapframe *tf = (struct trapframe *)(top - sizeof(*tf));

	memset(tf, 0, sizeof(*tf));
	tf->rip = entry;
	tf->cs = SEL_UCODE;
	/* Interrupts stay off in user mode too: the kernel drives no interrupt controller
	 * (none is among the documented devices), and a legacy PIC left as firmware
	 * programmed it would deliver its timer on an exception vector. */
	tf->rflags = RFLAGS_FIXED;
	tf->rsp = start_block;      /* the block is 16-byte aligned: the ABI's entry state */
	tf->ss = SEL_UDATA;
	tf->rdi = start_block;

	struct context *ctx = (struct context *)((uint8_t *)tf - sizeof(*ctx));
	memset(ctx, 0, sizeof(*ctx));
	ctx->rip = (uint64_t)trapret;
	p->ctx = ctx;
}

int proc_run(const struct program *prog, const char *args)
{
	struct proc *p = proc_alloc();
	const char *why = "out of memory";
	uint64_t entry, start_block;

	if (!p) {
		kprintf("exec %s: no free process slot\n", prog->name);
		return -1;
	}
	p->name = prog->name;
	p->pml4 = uvm_create();
	if (!p->pml4)
		goto fail;
	if (exec_load(p->pml4, prog->start, (uint64_t)(prog->end - prog->start), &entry, &why) < 0)
		goto fail;
	why = "out of memory";
	start_block = setup_stack(p, args);
	if (!start_block)
		goto fail;
	setup_kstack(p, entry, start_block);

	struct cpu *c = mycpu();
	c->proc = p;
	ioperm_reset();
	percpu_set_kstack((uint64_t)(p->kstack + KSTACK_SIZE));
	lcr3(V2P(p->pml4));
	swtch(&c->scheduler, p->ctx);

	/* Back here when the program has exited. */
	lcr3(vm_kernel_root());
	c->proc = NULL;
	return p->exit_status;

fail:
	kprintf("exec %s: %s\n", prog->name, why);
	proc_reap(p);
	return -1;
}

void proc_exit(int status)
{
	struct proc *p = myproc();

	p->exit_status = status;
	p->state = PROC_EXITED;
	swtch(&p->ctx, mycpu()->scheduler);
	panic("exited process %lu was resumed", p->pid);
}

const struct program *program_find(const char *name)
{
	for (const struct program *p = programs; p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}
