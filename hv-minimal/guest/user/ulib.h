/* The guest user libc: system calls, console output, timing and fault probes. */
#ifndef USER_ULIB_H
#define USER_ULIB_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "guest/f64.h"
#include "guest/fmt.h"
#include "guest/string.h"
#include "guest/uapi.h"
#include "hvlab/abi.h"

/* The start block the kernel passed (gate, pid, TSC rate, name, arguments). */
extern const struct guest_start *ustart;

/* A program's entry point: args is the wargs= string ("" when none). */
int main(const char *args);

/* A system call through the gate the kernel opened (uapi.h). */
static inline long sys_call(long nr, long a0, long a1, long a2)
{
	long ret = nr;

	if (ustart->gate == GUEST_GATE_UD2)
		__asm__ volatile("ud2" : "+a"(ret) : "D"(a0), "S"(a1), "d"(a2) : "rcx", "r11", "memory");
	else
		__asm__ volatile("syscall" : "+a"(ret) : "D"(a0), "S"(a1), "d"(a2) : "rcx", "r11", "memory");
	return ret;
}

/* Two results: rax, and rdx in *rdx (SYS_wait). */
static inline long sys_call_rdx(long nr, long a0, uint64_t *rdx)
{
	long ret = nr;
	uint64_t d = 0;

	if (ustart->gate == GUEST_GATE_UD2)
		__asm__ volatile("ud2" : "+a"(ret), "+d"(d) : "D"(a0) : "rcx", "r11", "rsi", "memory");
	else
		__asm__ volatile("syscall" : "+a"(ret), "+d"(d) : "D"(a0) : "rcx", "r11", "rsi", "memory");
	*rdx = d;
	return ret;
}

__attribute__((noreturn)) void exit(int status);
long write(const void *buf, size_t len);
long getpid(void);
long nb_kernel_op(enum guest_kop op, uint64_t n);
long report(const struct hv_result *r);
long iopl(int level);
long ioperm(uint16_t from, uint16_t num, int on);
long fault_resume(const void *addr);
long unmap(uint64_t addr, uint64_t len);
long map_device(enum guest_device which);
/* Processes: fork returns the child's pid (0 in the child); wait the pid of an exited
 * child and its status in *status (may be NULL), -GUEST_ECHILD when there is none. */
long fork(void);
long wait(int *status);
long exec(const char *name, const char *args);
long yield(void);
/* Moves the heap break; returns the old break, or (void *)-1 when out of room. */
void *sbrk(long delta);
/* A thread: a process sharing this address space, running fn(arg) on a stack of
 * stack_bytes from the heap, ending with exit(0). Returns its pid (wait for it). */
long thread_create(void (*fn)(void *), void *arg, uint64_t stack_bytes);
long setcpu(unsigned cpu);
long getcpu(void);
long sysinfo(struct guest_sysinfo *si);
/* Maps [addr, addr+len) of a demand area now (page aligned). */
long populate(void *addr, uint64_t len);
long spin_wait_slow(struct guest_spinlock *l, uint32_t ticket);
long spin_kick(struct guest_spinlock *l);

/* The kernel's ticket lock for programs (ulock.c): a struct guest_spinlock in the
 * shared area, waited on as the boot's spinlock= says (plain, pv-yield, pv-halt), the
 * slow path by system call after the kernel's spin threshold. ulock_init reads the
 * mode once; ulock_acquire adds the spins it made to *spins. */
void ulock_init(void);
void ulock_acquire(struct guest_spinlock *l, uint64_t *spins, uint64_t *slow);
void ulock_release(struct guest_spinlock *l);
/* Cycles one spin of ulock_acquire's loop takes, measured now (for wasted cycles). */
uint64_t ulock_spin_cost_x1000(void);
/* Memory from the heap, 64-byte aligned, never freed; NULL when out of room. */
void *malloc(size_t n);

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);

/* Parses a decimal (or 0x-prefixed hex) number; returns the character after it in *end. */
uint64_t strtou64(const char *s, const char **end);

/* Result records (abi.h) for the VMM: a value (as the double nearest to the integer,
 * or to num/den), an info string. The first value record a workload sends is its
 * headline figure. */
void report_u64(const char *workload, const char *name, uint64_t v, const char *unit,
		unsigned rep);
void report_ratio(const char *workload, const char *name, uint64_t num, uint64_t den,
		  const char *unit, unsigned rep);
/* The same as report_ratio for a numerator that may be negative. */
void report_signed_ratio(const char *workload, const char *name, int64_t num, uint64_t den,
			 const char *unit, unsigned rep);
void report_info(const char *workload, const char *key, const char *value);
/* n fork+wait pairs per repetition reported as workload name (forkwait.c, forkexec.c):
 * args n=N,exec=0|1,reps=R; ex is exec's default. Returns the program's status. */
int fork_loop(const char *name, const char *args, uint64_t ex);
/* Marks the start of a repetition for report_work's hypercalls_per_op (the calls the
 * kernel made for the workload since: the pv flavour's cost in calls). */
void work_begin(void);
/* The records of one repetition of a macro workload, headline first: cycles_per_op,
 * elapsed (cycles), ops, checksum, and hypercalls_per_op after a work_begin; and a
 * console line saying the same. */
void report_work(const char *workload, unsigned rep, uint64_t cycles, uint64_t ops,
		 uint32_t checksum);

/* TSC reads ordered against the code around them (lfence on both sides of the read). */
static inline uint64_t tsc_read(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Fault probes (probe.S). Each returns 0 when the access worked, else 1 + the vector of
 * the fault, with the error code in *err. They use SYS_fault_resume and leave it
 * cleared. */
int probe_read64(const void *addr, uint64_t *val, uint64_t *err);
int probe_inb(uint16_t port, uint64_t *err);
int probe_rdpmc(uint32_t counter, uint64_t *val, uint64_t *err);

#endif
