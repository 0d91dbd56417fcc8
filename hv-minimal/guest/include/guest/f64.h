/* IEEE 754 doubles as bit patterns, built and printed with integer arithmetic only:
 * guest code is compiled without floating point (-mgeneral-regs-only), yet result
 * records carry a double. */
#ifndef GUEST_F64_H
#define GUEST_F64_H
#include <stddef.h>
#include <stdint.h>

/* The double nearest to v (round to nearest, ties to even). */
uint64_t f64_from_u64(uint64_t v);
/* The double nearest to num / den (den 0 gives 0). */
uint64_t f64_from_ratio(uint64_t num, uint64_t den);
/* Writes the value: an integral value exactly, others with 6 decimals; returns the
 * length (snprintf semantics). */
int f64_format(char *buf, size_t size, uint64_t bits);

#endif
