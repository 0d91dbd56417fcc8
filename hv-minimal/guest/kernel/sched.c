/* The scheduler: per-CPU run queues under one lock, direct process-to-process
 * switches, and an idle loop per CPU that halts until an interrupt (the timer, or the
 * IPI another CPU sends when it queues work here). */
#include "apic.h"
#include "percpu.h"
#include "proc.h"
#include "pv.h"
#include "tlb.h"
#include "trap.h"
#include "x86.h"

struct spinlock sched_lock;

static void rq_push(struct cpu *c, struct proc *p)
{
	p->rq_next = NULL;
	if (c->rq_tail)
		c->rq_tail->rq_next = p;
	else
		c->rq_head = p;
	c->rq_tail = p;
	c->rq_len++;
}

static struct proc *rq_pop(struct cpu *c)
{
	struct proc *p = c->rq_head;

	if (p) {
		c->rq_head = p->rq_next;
		if (!c->rq_head)
			c->rq_tail = NULL;
		c->rq_len--;
	}
	return p;
}

/* Switches from cur (NULL: the idle loop) to next (NULL: the idle loop). */
static void context_switch(struct cpu *c, struct proc *cur, struct proc *next)
{
	struct context **from = cur ? &cur->ctx : &c->idle_ctx;
	struct context *to;

	c->proc = next;
	c->st.ctxswitches++;
	if (next) {
		next->state = P_RUNNING;
		c->slice_start = rdtsc();
		vs_switch(c, next->vs);
		percpu_set_kstack((uint64_t)(next->kstack + KSTACK_SIZE));
		to = next->ctx;
	} else {
		vs_switch(c, NULL);
		to = c->idle_ctx;
	}
	swtch(from, to);
}

void sched(void)
{
	struct cpu *c = mycpu();
	struct proc *cur = c->proc, *next = rq_pop(c);

	if (next == cur) {
		cur->state = P_RUNNING;
		return;
	}
	context_switch(c, cur, next);
}

void yield(void)
{
	struct cpu *c = mycpu();
	struct proc *p = c->proc;

	if (!c->rq_head)
		return;
	spin_lock(&sched_lock);
	p->state = P_RUNNABLE;
	rq_push(c, p);
	sched();
	spin_unlock(&sched_lock);
}

/* A tick preempts a process only once it has run for half a tick period since it was
 * switched to. A tick that fell due while this CPU spun for sched_lock with interrupts
 * off is taken the moment the process it switched to enters user mode: yielding then
 * would give that process no time at all. When every wait for the lock outlasts a tick
 * (a plain ticket lock under vCPU overcommit: each hand-over waits for the host to run
 * the next waiter), every CPU would only go round its run queue, each return to user
 * mode straight back into sched_lock, and no process would run again (a livelock, not
 * a deadlock: the lock keeps moving). */
void sched_tick(void)
{
	if (kcfg.hz && rdtsc() - mycpu()->slice_start < kcfg.tsc_khz * 500 / kcfg.hz)
		return;
	yield();
}

void sched_wake(struct proc *p)
{
	struct cpu *t = &cpus[p->cpu];

	p->state = P_RUNNABLE;
	rq_push(t, p);
	if (t != mycpu())
		lapic_ipi(t->apic_id, T_IPI);
}

void forkret(void)
{
	spin_unlock(&sched_lock);
}

void sched_idle(void)
{
	struct cpu *c = mycpu();

	for (;;) {
		tlb_poll();
		if (c->rq_head) {
			spin_lock(&sched_lock);
			struct proc *next = rq_pop(c);
			if (next)
				context_switch(c, NULL, next);
			spin_unlock(&sched_lock);
			continue;
		}
		/* Work queued after the test above comes with an IPI, which wakes the hlt;
		 * a lost one leaves it to the next timer interrupt. */
		pv->idle_halt();
	}
}
