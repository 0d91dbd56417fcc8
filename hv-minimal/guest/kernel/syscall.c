/* System calls: gate set-up and the handlers. Both gates (the `syscall` instruction
 * and `ud2` caught by #UD) deliver a trap frame to syscall_dispatch(). */
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "kalloc.h"
#include "blk.h"
#include "kop.h"
#include "percpu.h"
#include "proc.h"
#include "spinlock.h"
#include "trap.h"

#define WRITE_MAX (64 * 1024)   /* longest console write in one call */

void syscall_init(int gate)
{
	uint64_t efer = rdmsr(MSR_EFER);
	uint64_t want = efer | EFER_NXE;

	if (gate == GUEST_GATE_SYSCALL) {
		/* sysret loads CS = STAR[63:48] + 16 and SS = STAR[63:48] + 8: 0x33, 0x2b. */
		wrmsr(MSR_STAR, ((uint64_t)SEL_UCODE32 << 48) | ((uint64_t)SEL_KCODE << 32));
		wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
		wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_TF | RFLAGS_DF | RFLAGS_AC | RFLAGS_NT |
					 RFLAGS_IOPL3);
		want |= EFER_SCE;
	} else {
		/* Only the selected gate is open: `syscall` raises #UD. */
		want &= ~EFER_SCE;
	}
	if (want != efer)
		wrmsr(MSR_EFER, want);
}

static long sys_exit(struct trapframe *tf)
{
	proc_exit((int)tf->rdi);
}

static void write_piece(void *ctx, const void *p, size_t n)
{
	(void)ctx;
	console_write(p, n);
}

static long sys_write(struct trapframe *tf)
{
	uint64_t len = tf->rsi;
	int r;

	if (len > WRITE_MAX)
		len = WRITE_MAX;
	console_lock();
	r = uvm_each(myproc()->vs->pml4, tf->rdi, len, write_piece, NULL);
	console_unlock();
	return r < 0 ? -GUEST_EFAULT : (long)len;
}

static long sys_getpid(struct trapframe *tf)
{
	(void)tf;
	return (long)myproc()->pid;
}

static long sys_nb_kernel_op(struct trapframe *tf)
{
	return kop_run(myproc(), tf->rdi, tf->rsi);
}

/* A user lock's slow path and kick (spinlock.h): the lock must sit in the shared area,
 * where the processes that contend for it all map the same frame. */
static long spin_user_lock(struct trapframe *tf, int kick)
{
	uint64_t pa;

	if (tf->rdi % sizeof(struct guest_spinlock) || (!kick && tf->rsi > UINT32_MAX))
		return -GUEST_EINVAL;
	pa = uvm_hold_shared(myproc()->vs, tf->rdi, sizeof(struct guest_spinlock));
	if (!pa)
		return -GUEST_EFAULT;
	if (kick)
		spin_kick_waiter(P2V(pa));
	else
		spin_slow_path(P2V(pa), (uint32_t)tf->rsi);
	frame_put(pa & ~(uint64_t)(PAGE_SIZE - 1));
	return 0;
}

static long sys_spin_wait(struct trapframe *tf)
{
	return spin_user_lock(tf, 0);
}

static long sys_spin_kick(struct trapframe *tf)
{
	return spin_user_lock(tf, 1);
}

/* A record from the program: checked before the VMM sees it (the VMM checks again). */
static long sys_result(struct trapframe *tf)
{
	struct hv_result r;

	if (copyin(myproc()->vs, &r, tf->rdi, sizeof(r)) < 0)
		return -GUEST_EFAULT;
	if (r.magic != HV_RESULT_MAGIC || r.kind < HV_RES_NANOBENCH || r.kind > HV_RES_INFO ||
	    strnlen(r.workload, HV_NAME_MAX) == HV_NAME_MAX ||
	    strnlen(r.name, HV_NAME_MAX) == HV_NAME_MAX ||
	    strnlen(r.unit, HV_NAME_MAX) == HV_NAME_MAX)
		return -GUEST_EINVAL;
	hv_result_send(&r);
	return 0;
}

/* I/O privilege for this process: IOPL lives in RFLAGS, which every return to the
 * program restores from the frame and every entry saves again. */
static long sys_iopl(struct trapframe *tf)
{
	if (tf->rdi == 3)
		tf->rflags |= RFLAGS_IOPL3;
	else if (tf->rdi == 0)
		tf->rflags &= ~RFLAGS_IOPL3;
	else
		return -GUEST_EINVAL;
	return 0;
}

/* Port access through the TSS I/O permission bitmap: independent of IOPL. */
static long sys_ioperm(struct trapframe *tf)
{
	if (tf->rdx > 1 || ioperm_set(tf->rdi, tf->rsi, (int)tf->rdx) < 0)
		return -GUEST_EINVAL;
	return 0;
}

static long sys_fault_resume(struct trapframe *tf)
{
	if (tf->rdi >= HV_USER_TOP)
		return -GUEST_EINVAL;
	myproc()->fault_resume = tf->rdi;
	return 0;
}

/* 1 when [va, va+len) lies in [lo, hi). */
static int range_in(uint64_t va, uint64_t len, uint64_t lo, uint64_t hi)
{
	return va >= lo && va <= hi && len <= hi - va;
}

static long sys_unmap(struct trapframe *tf)
{
	uint64_t va = tf->rdi, len = tf->rsi;

	if (va % PAGE_SIZE || len % PAGE_SIZE ||
	    !(range_in(va, len, GUEST_USER_DEMAND_BASE, GUEST_USER_DEMAND_END) ||
	      range_in(va, len, GUEST_USER_SHARED_BASE, GUEST_USER_SHARED_END)))
		return -GUEST_EINVAL;
	uvm_unmap(myproc()->vs, va, len);
	return 0;
}

static long sys_populate(struct trapframe *tf)
{
	long r = uvm_populate(myproc()->vs, tf->rdi, tf->rsi);

	return r == -1 ? -GUEST_EINVAL : r;
}

static long sys_map_device(struct trapframe *tf)
{
	struct vmspace *vs = myproc()->vs;
	uint64_t va = GUEST_USER_DEVICE_BASE;
	long r = (long)va;

	if (tf->rdi != GUEST_DEV_MMIO_NULL)
		return -GUEST_EINVAL;
	int locked = vs_lock(vs);
	pte_t *e = uvm_walk(vs->pml4, va, 0);
	/* Uncached, as a device register must be. */
	if (!(e && (*e & PTE_P)) &&
	    uvm_map(vs, va, HV_MMIO_UNBACKED, PTE_U | PTE_W | PTE_PCD | PTE_PWT | PTE_NX) < 0)
		r = -GUEST_EFAULT;
	vs_unlock(vs, locked);
	return r;
}

static long sys_fork(struct trapframe *tf)
{
	(void)tf;
	return proc_fork();
}

static long sys_wait(struct trapframe *tf)
{
	return proc_wait(tf);
}

static long sys_exec(struct trapframe *tf)
{
	char name[HV_NAME_MAX], args[GUEST_ARGS_MAX];
	struct vmspace *vs = myproc()->vs;

	if (copyinstr(vs, name, tf->rdi, sizeof(name)) < 0 ||
	    (tf->rsi && copyinstr(vs, args, tf->rsi, sizeof(args)) < 0))
		return -GUEST_EFAULT;
	if (!tf->rsi)
		args[0] = 0;
	return proc_exec(tf, name, args);
}

static long sys_yield(struct trapframe *tf)
{
	(void)tf;
	yield();
	return 0;
}

static long sys_sbrk(struct trapframe *tf)
{
	return uvm_sbrk(myproc()->vs, (int64_t)tf->rdi);
}

static long sys_thread(struct trapframe *tf)
{
	return proc_thread(tf->rdi, tf->rsi, tf->rdx);
}

static long sys_setcpu(struct trapframe *tf)
{
	return proc_setcpu(tf->rdi);
}

static long sys_getcpu(struct trapframe *tf)
{
	(void)tf;
	return mycpu()->id;
}

static long sys_sysinfo(struct trapframe *tf)
{
	struct guest_sysinfo si;

	memset(&si, 0, sizeof(si));
	si.ncpus = ncpus;
	si.hz = kcfg.hz;
	si.cow = (uint32_t)kcfg.cow;
	si.kmem = (uint32_t)kcfg.kmem;
	si.tsc_khz = kcfg.tsc_khz;
	for (uint32_t i = 0; i < ncpus; i++) {
		const struct cpu_stats *st = &cpus[i].st;
		si.ticks += st->ticks;
		si.ctxswitches += st->ctxswitches;
		si.forks += st->forks;
		si.page_faults += st->page_faults;
		si.cow_copies += st->cow_copies;
		si.shootdowns += st->shootdowns;
		si.shootdown_ipis += st->shootdown_ipis;
		si.shootdown_resends += st->shootdown_resends;
		if (st->shootdown_max_cycles > si.shootdown_max_cycles)
			si.shootdown_max_cycles = st->shootdown_max_cycles;
		si.ipis_received += st->ipis;
		si.kmem_calls += st->kmem_calls;
		si.hypercalls += st->hypercalls;
		si.pte_updates += st->pte_updates;
		si.spin_slow += st->spin_slow;
		si.spin_notifies += st->spin_notifies;
		si.spin_waits += st->spin_waits;
		si.spin_kicks += st->spin_kicks;
	}
	si.spin_threshold = spin_threshold;
	si.frames_used = frames_used();
	strlcpy(si.spinlock, lock_ops->name, sizeof(si.spinlock));
	return copyout(myproc()->vs, tf->rdi, &si, sizeof(si)) < 0 ? -GUEST_EFAULT : 0;
}

static long (*const handlers[SYS_NR])(struct trapframe *) = {
	[SYS_exit] = sys_exit,
	[SYS_write] = sys_write,
	[SYS_getpid] = sys_getpid,
	[SYS_nb_kernel_op] = sys_nb_kernel_op,
	[SYS_result] = sys_result,
	[SYS_iopl] = sys_iopl,
	[SYS_fault_resume] = sys_fault_resume,
	[SYS_unmap] = sys_unmap,
	[SYS_map_device] = sys_map_device,
	[SYS_ioperm] = sys_ioperm,
	[SYS_fork] = sys_fork,
	[SYS_wait] = sys_wait,
	[SYS_exec] = sys_exec,
	[SYS_yield] = sys_yield,
	[SYS_sbrk] = sys_sbrk,
	[SYS_thread] = sys_thread,
	[SYS_setcpu] = sys_setcpu,
	[SYS_sysinfo] = sys_sysinfo,
	[SYS_getcpu] = sys_getcpu,
	[SYS_populate] = sys_populate,
	[SYS_spin_wait] = sys_spin_wait,
	[SYS_spin_kick] = sys_spin_kick,
	[SYS_blk] = sys_blk,
};

void syscall_dispatch(struct trapframe *tf)
{
	uint64_t nr = tf->rax;

	tf->rax = nr < SYS_NR && handlers[nr] ? (uint64_t)handlers[nr](tf) : (uint64_t)-GUEST_ENOSYS;
}
