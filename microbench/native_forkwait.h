/* forkwait on the host: the native column of the guest's forkwait workload (Adams &
 * Agesen 2006), linked into hvm and hvpeer (their same-run baseline, through
 * hv_native_work_run) and into the native-forkwait program. */
#ifndef HVLAB_NATIVE_FORKWAIT_H
#define HVLAB_NATIVE_FORKWAIT_H
#include <stddef.h>
#include <stdint.h>

/* The guest workload's defaults and limits (guest/user/forkwait.c). */
#define HV_FORKWAIT_DEFAULT_N    200
#define HV_FORKWAIT_DEFAULT_REPS 3
#define HV_FORKWAIT_MAX_REPS     64
#define HV_FORKWAIT_MAX_HEAP     (256ull << 20)
#define HV_FORKWAIT_ARGS "n=N,exec=0,reps=R,heap=BYTES,procs=1"
#define HV_FORKWAIT_HELPER "native-forkwait"

/* n fork+wait pairs of the calling process, as the guest does them: each child exits
 * at once with status i & 0x7f, and the parent waits for it before the next fork. With
 * heap bytes (the guest's heap=), the parent first fills a heap of that size, one
 * number per 4 KiB page, and each child folds one page's number into its status so
 * that it cancels out, as the guest's children do. The
 * checksum folds the exit statuses the way the guest's does (sum = sum * 33 +
 * status), so the two agree. *cycles is the TSC time of the loop alone. Returns 0, or
 * -1 with hv_err_msg() set (fork refused, a child that did not exit as asked). */
int hv_native_forkwait(uint64_t n, uint64_t heap, uint64_t *cycles, uint32_t *checksum);

/* The same, reps times, in a fresh process: the program native-forkwait next to the
 * running one (/proc/self/exe's directory), whose repetitions are read back. A fork
 * costs more the more memory the forking process has mapped (page tables to copy and
 * write-protect: a VMM holding a VM forks at twice the cost of a small program), so
 * the native column forks from a process as small as the guest's forkwait, as a
 * native benchmark would. Fills cycles[] and checksum[]; returns 0, or -1 with
 * hv_err_msg() set. */
int hv_native_forkwait_fresh(uint64_t n, uint64_t heap, unsigned reps, uint64_t *cycles,
			     uint32_t *checksum);

#endif
