/* Kernel-mode operations for the nanobenchmarks (SYS_nb_kernel_op). */
#ifndef KERNEL_KOP_H
#define KERNEL_KOP_H
#include <stdint.h>
#include "proc.h"

/* Runs n of operation op (enum guest_kop) for process p; 0, or -GUEST_EINVAL. */
long kop_run(struct proc *p, uint64_t op, uint64_t n);

#endif
