/* TSC timing: calibrated frequency, serialized reads, measured read overhead. */
#ifndef HVLAB_TSC_H
#define HVLAB_TSC_H
#include <stdint.h>

struct hv_tsc {
	double hz;              /* TSC ticks per second */
	const char *source;     /* where hz came from: "kernel" (sysfs tsc_freq_khz),
				 * "cpuid-0x15", "cpuid-0x16", "cpuid-hypervisor",
				 * "kernel-log" (the kernel's boot message), or "measured";
				 * a figure that disagrees with a measurement by over 1% is
				 * replaced by the measurement */
	double overhead;        /* cycles of an empty hv_tsc_begin()/hv_tsc_end() pair (median) */
	int invariant;          /* 1 if CPUID says constant+nonstop TSC */
};

/* Calibrates once: frequency from the kernel where it says (KVM's GET_TSC_KHZ is not
 * needed on the host; /sys/devices/system/cpu/cpu0/tsc_freq_khz or cpuid 0x15/0x16 or
 * the "tsc: Detected ... MHz" figure), else measured against CLOCK_MONOTONIC_RAW.
 * Returns 0, or -1 with hv_err_msg() set. */
int hv_tsc_init(struct hv_tsc *t);

/* Measures TSC ticks per second against CLOCK_MONOTONIC_RAW over the given time
 * (0 < seconds <= 10); 0 when the clocks do not advance together. */
double hv_tsc_measure_hz(double seconds);

/* Serialized reads: everything before begin has retired before the TSC is read; the
 * read at end waits for the timed code to retire. */
static inline uint64_t hv_tsc_begin(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t hv_tsc_end(void)
{
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
	(void)aux;
	return ((uint64_t)hi << 32) | lo;
}

/* An unserialized read, for the VMM's own accounting of intervals of hundreds of cycles
 * or more (each exit's run and handling): the reordering it allows is a few dozen
 * cycles, less than the two fences of hv_tsc_begin would add to every exit (~190
 * cycles per bt exit to the core on kind B). */
static inline uint64_t hv_tsc_now(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline double hv_tsc_ns(const struct hv_tsc *t, double cycles)
{
	return cycles * 1e9 / t->hz;
}

#endif
