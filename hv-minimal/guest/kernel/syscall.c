/* System calls: gate set-up and the handlers. Both gates (the `syscall` instruction
 * and `ud2` caught by #UD) deliver a trap frame to syscall_dispatch(). */
#include "guest/string.h"
#include "guest/uapi.h"
#include "hv.h"
#include "kop.h"
#include "percpu.h"
#include "proc.h"
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

	if (len > WRITE_MAX)
		len = WRITE_MAX;
	if (uvm_each(myproc()->pml4, tf->rdi, len, write_piece, NULL) < 0)
		return -GUEST_EFAULT;
	return (long)len;
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

/* A record from the program: checked before the VMM sees it (the VMM checks again). */
static long sys_result(struct trapframe *tf)
{
	struct hv_result r;

	if (copyin(myproc()->pml4, &r, tf->rdi, sizeof(r)) < 0)
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

static long sys_unmap(struct trapframe *tf)
{
	uint64_t va = tf->rdi, len = tf->rsi;

	if (va % PAGE_SIZE || len % PAGE_SIZE || va < GUEST_USER_DEMAND_BASE ||
	    va > GUEST_USER_DEMAND_END || len > GUEST_USER_DEMAND_END - va)
		return -GUEST_EINVAL;
	uvm_unmap(myproc()->pml4, va, len);
	return 0;
}

static long sys_map_device(struct trapframe *tf)
{
	pte_t *pml4 = myproc()->pml4;
	uint64_t va = GUEST_USER_DEVICE_BASE;

	if (tf->rdi != GUEST_DEV_MMIO_NULL)
		return -GUEST_EINVAL;
	pte_t *e = uvm_walk(pml4, va, 0);
	if (e && (*e & PTE_P))
		return (long)va;
	/* Uncached, as a device register must be. */
	if (uvm_map(pml4, va, HV_MMIO_UNBACKED, PTE_U | PTE_W | PTE_PCD | PTE_PWT | PTE_NX) < 0)
		return -GUEST_EFAULT;
	return (long)va;
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
};

void syscall_dispatch(struct trapframe *tf)
{
	uint64_t nr = tf->rax;

	tf->rax = nr < SYS_NR && handlers[nr] ? (uint64_t)handlers[nr](tf) : (uint64_t)-GUEST_ENOSYS;
}
