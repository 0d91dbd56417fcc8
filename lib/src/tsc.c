/* TSC calibration. The kernel's figure is preferred (it calibrates against HPET/PIT
 * or reads it from the hypervisor), but it is cross-checked against a short
 * measurement so that a wrong figure (firmware bugs exist: "TSC doesn't count with P0
 * frequency") is caught rather than trusted. */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/tsc.h"

#define MEASURE_NS      60000000ull   /* calibration window: 60 ms */
#define CHECK_NS        20000000ull   /* cross-check window for a kernel figure */
#define AGREE_TOLERANCE 0.01          /* kernel vs measured: 1 % */
#define OVERHEAD_REPS   10001

static uint64_t mono_raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One (tsc, ns) pair: the clock read bracketed by two TSC reads, keeping the tightest
 * of several tries so that a preemption between the reads does not skew it. */
static void clock_pair(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best_gap = UINT64_MAX;

	for (int i = 0; i < 9; i++) {
		uint64_t t0 = hv_tsc_begin();
		uint64_t c = mono_raw_ns();
		uint64_t t1 = hv_tsc_end();

		if (t1 - t0 < best_gap) {
			best_gap = t1 - t0;
			*tsc = t0 + (t1 - t0) / 2;
			*ns = c;
		}
	}
}

/* TSC ticks per second over a window of about window_ns, or 0 on a clock problem. */
static double measure_hz(uint64_t window_ns)
{
	uint64_t tsc0, ns0, tsc1, ns1;

	clock_pair(&tsc0, &ns0);
	do {
		clock_pair(&tsc1, &ns1);
	} while (ns1 - ns0 < window_ns);
	if (tsc1 <= tsc0 || ns1 <= ns0)
		return 0;
	return (double)(tsc1 - tsc0) * 1e9 / (double)(ns1 - ns0);
}

double hv_tsc_measure_hz(double seconds)
{
	if (!(seconds > 0) || seconds > 10)
		return 0;
	return measure_hz((uint64_t)(seconds * 1e9));
}

static double sysfs_khz(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/cpu0/tsc_freq_khz", "r");
	unsigned long long khz = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &khz) != 1)
		khz = 0;
	fclose(f);
	return (double)khz * 1e3;
}

/* Intel leaf 0x15 (crystal ratio) or 0x16 (base MHz); AMD does not offer them. */
static double cpuid_hz(const char **source)
{
	unsigned a, b, c, d, max;

	__cpuid(0, max, b, c, d);
	if (max >= 0x15) {
		__cpuid_count(0x15, 0, a, b, c, d);
		if (a && b && c) {
			*source = "cpuid-0x15";
			return (double)c * b / a;
		}
	}
	if (max >= 0x16) {
		__cpuid_count(0x16, 0, a, b, c, d);
		if (a & 0xffff) {
			*source = "cpuid-0x16";
			return (a & 0xffff) * 1e6;
		}
	}
	/* Hypervisor timing leaf (KVM/VMware convention): EAX = TSC kHz. */
	__cpuid(1, a, b, c, d);
	if (c & (1u << 31)) {
		__cpuid(0x40000000, max, b, c, d);
		if (max >= 0x40000010) {
			__cpuid(0x40000010, a, b, c, d);
			if (a) {
				*source = "cpuid-hypervisor";
				return a * 1e3;
			}
		}
	}
	return 0;
}

/* Ranks kernel log lines: the refined calibration beats the early TSC figure, which
 * beats the processor figure (equal to the TSC one unless the kernel says otherwise). */
static int kmsg_line(const char *line, double *mhz)
{
	static const struct { const char *before, *after; int rank; } pats[] = {
		{ "tsc: Refined TSC clocksource calibration: ", " MHz", 3 },
		{ "tsc: Detected ", " MHz TSC", 2 },
		{ "tsc: Detected ", " MHz processor", 1 },
	};

	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		const char *p = strstr(line, pats[i].before);
		char *end;
		double v;

		if (!p)
			continue;
		v = strtod(p + strlen(pats[i].before), &end);
		if (v > 0 && !strncmp(end, pats[i].after, strlen(pats[i].after))) {
			*mhz = v;
			return pats[i].rank;
		}
	}
	return 0;
}

static double kmsg_hz(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	double best = 0;
	int best_rank = 0;
	char rec[8192];

	if (fd >= 0) {
		/* Each read returns one record; EAGAIN marks the end of the buffer. */
		for (int n = 0; n < 100000; n++) {
			ssize_t r = read(fd, rec, sizeof(rec) - 1);
			double mhz;
			int rank;

			if (r < 0 && errno == EPIPE)
				continue;     /* record overwritten while reading */
			if (r <= 0)
				break;
			rec[r] = 0;
			rank = kmsg_line(rec, &mhz);
			if (rank > best_rank) {
				best_rank = rank;
				best = mhz;
			}
		}
		close(fd);
	}
	if (!best_rank) {
		static const char *const logs[] = { "/var/log/kern.log", "/var/log/dmesg" };
		for (size_t i = 0; i < 2 && !best_rank; i++) {
			FILE *f = fopen(logs[i], "r");
			char *line = NULL;
			size_t cap = 0;

			if (!f)
				continue;
			while (getline(&line, &cap, f) > 0) {
				double mhz;
				int rank = kmsg_line(line, &mhz);
				/* Later boots come later in the file: keep the last best. */
				if (rank >= best_rank && rank) {
					best_rank = rank;
					best = mhz;
				}
			}
			free(line);
			fclose(f);
		}
	}
	return best * 1e6;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double measure_overhead(void)
{
	static uint64_t d[OVERHEAD_REPS];

	for (int i = 0; i < OVERHEAD_REPS; i++) {
		uint64_t t0 = hv_tsc_begin();
		uint64_t t1 = hv_tsc_end();
		d[i] = t1 - t0;
	}
	qsort(d, OVERHEAD_REPS, sizeof(d[0]), cmp_u64);
	return (double)d[OVERHEAD_REPS / 2];
}

static int invariant_tsc(void)
{
	unsigned a, b, c, d, max;

	__cpuid(0x80000000, max, b, c, d);
	if (max < 0x80000007)
		return 0;
	__cpuid(0x80000007, a, b, c, d);
	return (d >> 8) & 1;
}

static struct hv_tsc cached;
static int cached_rc;
static char cached_err[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void calibrate(void)
{
	const char *source = NULL;
	double hz, measured;

	cached.invariant = invariant_tsc();
	cached.overhead = measure_overhead();

	hz = sysfs_khz();
	if (hz > 0)
		source = "kernel";
	if (!source) {
		hz = cpuid_hz(&source);
		if (hz <= 0)
			source = NULL;
	}
	if (!source) {
		hz = kmsg_hz();
		if (hz > 0)
			source = "kernel-log";
	}

	measured = measure_hz(source ? CHECK_NS : MEASURE_NS);
	if (measured <= 0) {
		cached_rc = -1;
		snprintf(cached_err, sizeof(cached_err),
			 "TSC calibration: CLOCK_MONOTONIC_RAW did not advance with the TSC; "
			 "check the host clocksource (/sys/devices/system/clocksource)");
		return;
	}
	if (source && (hz / measured > 1 + AGREE_TOLERANCE ||
		       hz / measured < 1 - AGREE_TOLERANCE)) {
		hv_warn("TSC frequency from %s (%.3f MHz) disagrees with a measurement "
			"(%.3f MHz) by more than %.0f%%; using a longer measurement",
			source, hz / 1e6, measured / 1e6, AGREE_TOLERANCE * 100);
		source = NULL;
		measured = measure_hz(MEASURE_NS);
	}
	if (!source) {
		hz = measured;
		source = "measured";
	}
	cached.hz = hz;
	cached.source = source;
	cached_rc = 0;
}

int hv_tsc_init(struct hv_tsc *t)
{
	pthread_once(&once, calibrate);
	if (cached_rc)
		return hv_err_set("%s", cached_err);
	*t = cached;
	return 0;
}
