/* Processes: creation, fork and threads, exec, exit and wait, moving between CPUs. */
#include "exec.h"
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "kalloc.h"
#include "percpu.h"
#include "proc.h"
#include "trap.h"
#include "x86.h"

static struct proc procs[NPROC];
static struct proc *free_procs;     /* under sched_lock */
static struct proc *initproc;
static uint64_t next_pid = 1;

static uint64_t kstack_top(struct proc *p)
{
	return (uint64_t)(p->kstack + KSTACK_SIZE);
}

/* A free slot with a trap frame at the top of its kernel stack and a first context
 * that returns through forkret into trapret; NULL when all are in use. */
static struct proc *proc_alloc(void)
{
	static int init;
	struct proc *p;

	spin_lock(&sched_lock);
	if (!init) {
		for (int i = NPROC - 1; i >= 0; i--) {
			procs[i].free_next = free_procs;
			free_procs = &procs[i];
		}
		init = 1;
	}
	p = free_procs;
	if (p) {
		free_procs = p->free_next;
		p->pid = next_pid++;
	}
	spin_unlock(&sched_lock);
	if (!p)
		return NULL;
	p->state = P_FREE;     /* not schedulable until sched_wake */
	p->vs = NULL;
	p->parent = NULL;
	p->zombies = NULL;
	p->nchildren = 0;
	p->waiting = 0;
	p->exit_status = 0;
	p->fault_resume = 0;
	p->tf = (struct trapframe *)(kstack_top(p) - sizeof(struct trapframe));
	struct context *ctx = (struct context *)((uint8_t *)p->tf - sizeof(*ctx));
	ctx->rip = (uint64_t)forkret_asm;
	p->ctx = ctx;
	return p;
}

/* Returns a slot that never ran (or a reaped zombie) to the free list. */
static void proc_free_locked(struct proc *p)
{
	p->state = P_FREE;
	p->free_next = free_procs;
	free_procs = p;
}

static void proc_free(struct proc *p)
{
	spin_lock(&sched_lock);
	proc_free_locked(p);
	spin_unlock(&sched_lock);
}

/* Maps the top stack page with the start block in it; returns the block's user
 * address, 0 when memory is out. */
static uint64_t setup_stack(struct vmspace *vs, uint64_t pid, const char *name, const char *args)
{
	uint64_t f = frame_alloc_zeroed();
	uint64_t page_va = GUEST_USER_STACK_TOP - PAGE_SIZE;

	if (!f || uvm_map(vs, page_va, f, PTE_U | PTE_W | PTE_NX | PTE_OWNED) < 0) {
		if (f)
			frame_free(f);
		return 0;
	}
	uint64_t off = (PAGE_SIZE - sizeof(struct guest_start)) & ~15ull;
	struct guest_start *st = (struct guest_start *)((char *)P2V(f) + off);
	st->gate = (uint64_t)kcfg.gate;
	st->pid = pid;
	st->tsc_khz = kcfg.tsc_khz;
	strlcpy(st->workload, name, sizeof(st->workload));
	strlcpy(st->args, args, sizeof(st->args));
	return page_va + off;
}

/* The user registers that enter a program at entry with rdi = start block. User
 * mode runs with interrupts on: the timer preempts it. */
static void entry_frame(struct trapframe *tf, uint64_t entry, uint64_t start_block)
{
	memset(tf, 0, sizeof(*tf));
	tf->rip = entry;
	tf->cs = SEL_UCODE;
	tf->rflags = RFLAGS_FIXED | RFLAGS_IF;
	tf->rsp = start_block;      /* the block is 16-byte aligned: the ABI's entry state */
	tf->ss = SEL_UDATA;
	tf->rdi = start_block;
}

/* A new address space running prog; NULL with *why set on failure. */
static struct vmspace *image_load(const struct program *prog, uint64_t pid, const char *args,
				  uint64_t *entry, uint64_t *start_block, const char **why)
{
	struct vmspace *vs = vs_create();

	*why = "out of memory";
	if (!vs)
		return NULL;
	if (exec_load(vs, prog->start, (uint64_t)(prog->end - prog->start), entry, why) < 0)
		goto fail;
	*why = "out of memory";
	*start_block = setup_stack(vs, pid, prog->name, args);
	if (!*start_block)
		goto fail;
	return vs;
fail:
	vs_put(vs);
	return NULL;
}

int proc_run(const struct program *prog, const char *args)
{
	struct proc *p = proc_alloc();
	const char *why = "no free process slot";
	uint64_t entry, start_block;

	if (!p)
		goto fail;
	p->name = prog->name;
	p->vs = image_load(prog, p->pid, args, &entry, &start_block, &why);
	if (!p->vs) {
		proc_free(p);
		goto fail;
	}
	entry_frame(p->tf, entry, start_block);
	p->cpu = 0;
	initproc = p;
	spin_lock(&sched_lock);
	sched_wake(p);
	spin_unlock(&sched_lock);
	sched_idle();
fail:
	kprintf("exec %s: %s\n", prog->name, why);
	return -1;
}

/* A child of the caller sharing (thread) or copying (fork) its address space. */
static struct proc *proc_child(struct vmspace *vs)
{
	struct proc *parent = myproc();
	struct proc *np = proc_alloc();

	if (!np) {
		if (vs)
			vs_put(vs);
		return NULL;
	}
	np->vs = vs;
	np->name = parent->name;
	np->cpu = parent->cpu;
	np->fault_resume = parent->fault_resume;
	memcpy(np->tf, parent->tf, sizeof(*np->tf));
	return np;
}

static void start_child(struct proc *np)
{
	struct proc *parent = myproc();

	spin_lock(&sched_lock);
	np->parent = parent;
	parent->nchildren++;
	sched_wake(np);
	spin_unlock(&sched_lock);
	mycpu()->st.forks++;
}

long proc_fork(void)
{
	struct vmspace *vs = vs_fork(myproc()->vs, kcfg.cow);

	if (!vs)
		return -GUEST_ENOMEM;
	struct proc *np = proc_child(vs);
	if (!np)
		return -GUEST_EAGAIN;
	np->tf->rax = 0;
	uint64_t pid = np->pid;
	start_child(np);
	return (long)pid;
}

long proc_thread(uint64_t entry, uint64_t stack_top, uint64_t arg)
{
	struct vmspace *vs = myproc()->vs;

	if (entry >= HV_USER_TOP || stack_top >= HV_USER_TOP || stack_top % 16)
		return -GUEST_EINVAL;
	vs_get(vs);
	struct proc *np = proc_child(vs);
	if (!np)
		return -GUEST_EAGAIN;
	struct trapframe *tf = np->tf;
	uint64_t cs = tf->cs, ss = tf->ss, rflags = tf->rflags;
	memset(tf, 0, sizeof(*tf));
	tf->cs = cs;
	tf->ss = ss;
	tf->rflags = rflags;
	tf->rip = entry;
	tf->rsp = stack_top - 8;   /* as after a call: the ABI's function entry state */
	tf->rdi = arg;
	uint64_t pid = np->pid;
	start_child(np);
	return (long)pid;
}

long proc_exec(struct trapframe *tf, const char *name, const char *args)
{
	struct proc *p = myproc();
	const struct program *prog = program_find(name);
	const char *why;
	uint64_t entry, start_block;

	if (!prog)
		return -GUEST_ENOENT;
	if (__atomic_load_n(&p->vs->refs, __ATOMIC_ACQUIRE) > 1)
		return -GUEST_EBUSY;       /* other threads run in this address space */
	struct vmspace *vs = image_load(prog, p->pid, args, &entry, &start_block, &why);
	if (!vs)
		return -GUEST_ENOMEM;
	struct vmspace *old = p->vs;
	p->vs = vs;
	vs_switch(mycpu(), vs);
	vs_put(old);
	p->name = prog->name;
	p->fault_resume = 0;
	entry_frame(tf, entry, start_block);
	return (long)start_block;  /* lands in rax; the program ignores it */
}

/* The first process's children, when their parent exits first. */
static void reparent_locked(struct proc *p)
{
	for (int i = 0; i < NPROC; i++) {
		struct proc *q = &procs[i];
		if (q->parent != p || q->state == P_FREE)
			continue;
		q->parent = initproc;
		initproc->nchildren++;
	}
	while (p->zombies) {
		struct proc *z = p->zombies;
		p->zombies = z->zsib;
		z->zsib = initproc->zombies;
		initproc->zombies = z;
	}
	p->nchildren = 0;
}

/* The first process is the workload: its end is the VM's. */
static __attribute__((noreturn)) void init_exit(struct proc *p, int status)
{
	kprintf("%s: exit status %d\n", p->name, status);
	hv_result_tsc(p->name, "tsc_end");
	if (kcfg.pagesize_2m)
		vm_report_huge(p->name);
	if (status == 0)
		hv_exit(HV_EXIT_PASS);
	hv_exit(status == HV_EXIT_SKIP ? HV_EXIT_SKIP : HV_EXIT_FAIL);
}

void proc_exit(int status)
{
	struct proc *p = myproc();
	struct cpu *c = mycpu();

	if (p == initproc)
		init_exit(p, status);
	struct vmspace *vs = p->vs;
	p->vs = NULL;
	vs_switch(c, NULL);
	vs_put(vs);

	spin_lock(&sched_lock);
	if (p->nchildren || p->zombies)
		reparent_locked(p);
	p->exit_status = status;
	p->state = P_ZOMBIE;
	struct proc *parent = p->parent;
	p->zsib = parent->zombies;
	parent->zombies = p;
	if (parent->state == P_SLEEPING && parent->waiting)
		sched_wake(parent);
	sched();
	panic("exited process %lu was resumed", p->pid);
}

long proc_wait(struct trapframe *tf)
{
	struct proc *p = myproc();

	spin_lock(&sched_lock);
	for (;;) {
		struct proc *z = p->zombies;
		if (z) {
			p->zombies = z->zsib;
			p->nchildren--;
			long pid = (long)z->pid;
			tf->rdx = (uint64_t)(int64_t)z->exit_status;
			proc_free_locked(z);
			spin_unlock(&sched_lock);
			return pid;
		}
		if (!p->nchildren) {
			spin_unlock(&sched_lock);
			return -GUEST_ECHILD;
		}
		p->waiting = 1;
		p->state = P_SLEEPING;
		sched();
		p->waiting = 0;
	}
}

long proc_setcpu(uint64_t cpu)
{
	struct proc *p = myproc();

	if (cpu >= ncpus)
		return -GUEST_EINVAL;
	if (cpu == p->cpu)
		return 0;
	spin_lock(&sched_lock);
	p->cpu = (uint32_t)cpu;
	sched_wake(p);           /* queued there; this CPU moves on */
	sched();
	spin_unlock(&sched_lock);
	return 0;
}

const struct program *program_find(const char *name)
{
	for (const struct program *p = programs; p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}
