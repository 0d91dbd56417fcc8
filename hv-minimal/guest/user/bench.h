/* The benchmark driver (kvm-unit-tests style): an operation is repeated until enough
 * TSC cycles have passed for the timer's cost and granularity not to matter, then
 * measured a number of times at that count. */
#ifndef USER_BENCH_H
#define USER_BENCH_H
#include <stdint.h>

/* Runs n operations and the same harness without them; returns the cycles of each. */
typedef void (*bench_fn)(uint64_t n, uint64_t *op_cycles, uint64_t *base_cycles);

struct bench_sample {
	uint64_t iters;
	uint64_t cycles;    /* op run minus harness run (0 if the harness took longer) */
	uint64_t baseline;  /* harness run */
};

#define BENCH_MAX_REPS 64

/* Doubles n from 1 until one run of fn takes at least min_cycles (or n reaches
 * max_iters), then takes reps samples at that n into out[0..reps). */
void bench_run(bench_fn fn, uint64_t max_iters, uint64_t min_cycles, unsigned reps,
	       struct bench_sample *out);

/* What BENCH_LOOP reads before and after its loop: the TSC unless the program says
 * otherwise (nanobench's icount mode reads a guest instruction counter). */
#ifndef BENCH_CLOCK
#define BENCH_CLOCK() tsc_read()
#endif

/* A loop of n bodies between two TSC reads, in one asm statement so the harness is the
 * same instructions with any body: BENCH_LOOP(n, "cpuid", : "a"(0) : "rbx", ...).
 * The trailing arguments are the asm's input and clobber lists. */
#define BENCH_LOOP(n, body, ...)                                                         \
	({                                                                               \
		uint64_t bl_n_ = (n), bl_t0_ = BENCH_CLOCK();                            \
		__asm__ volatile("test %0, %0\n\t"                                       \
				 "jz 2f\n"                                               \
				 "1:\n\t" body "\n\t"                                    \
				 "dec %0\n\t"                                            \
				 "jnz 1b\n"                                              \
				 "2:"                                                    \
				 : "+r"(bl_n_) __VA_ARGS__);                             \
		BENCH_CLOCK() - bl_t0_;                                                  \
	})

#endif
