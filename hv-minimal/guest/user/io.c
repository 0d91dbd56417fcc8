/* io: the block device through the boot's I/O path (iopath=/io=), the io-paths
 * experiment's workload. The area [0, slots * size) is written once (untimed); each
 * repetition then runs count requests of size bytes in batches of qd (the queue
 * depth), each a write with probability mix percent, else a read whose data is
 * verified against what was last written there; a last untimed pass reads every slot
 * back, verifies it and folds it into the checksum, the same on every path and engine.
 * wargs: size=BYTES,qd=N,count=N,mix=PERCENT,seed=S,reps=R,slots=N,ioerr=0|1
 * ioerr=1: the host file fails every write (e.g. --disk /dev/full): passes when every
 * write comes back as an I/O error and nothing claims success. */
#include "guest/work.h"
#include "hvlab/blk_abi.h"
#include "ulib.h"

#define W "io"

struct io_params {
	uint64_t size, qd, count, mix, seed, reps, slots, ioerr;
};

static long blk(uint64_t cmd, const void *arg, uint64_t n)
{
	return sys_call(SYS_blk, (long)cmd, (long)arg, (long)n);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t word_of(const struct io_params *p, uint64_t slot, uint32_t gen, uint64_t j)
{
	return mix64(p->seed ^ (slot << 20) ^ ((uint64_t)gen << 44) ^ j);
}

static void fill(const struct io_params *p, uint64_t *buf, uint64_t slot, uint32_t gen)
{
	for (uint64_t j = 0; j < p->size / 8; j++)
		buf[j] = word_of(p, slot, gen, j);
}

/* The index of the first wrong word, or -1. */
static long check(const struct io_params *p, const uint64_t *buf, uint64_t slot, uint32_t gen)
{
	for (uint64_t j = 0; j < p->size / 8; j++)
		if (buf[j] != word_of(p, slot, gen, j))
			return (long)j;
	return -1;
}

static void sort_u64(uint64_t *v, uint64_t n)
{
	for (uint64_t gap = n / 2; gap; gap /= 2)
		for (uint64_t i = gap; i < n; i++)
			for (uint64_t j = i; j >= gap && v[j - gap] > v[j]; j -= gap) {
				uint64_t t = v[j];
				v[j] = v[j - gap];
				v[j - gap] = t;
			}
}

struct io_state {
	struct io_params p;
	uint8_t *buf;                /* qd buffers of size bytes */
	uint32_t *gen;               /* per slot: the generation last written */
	struct guest_blk_req rq[GUEST_BLK_BATCH_MAX];
	uint64_t errors, ioerrs;
};

/* Runs one batch of n requests starting at request i0 of a pass; is_write(i) says which
 * are writes. Verifies the reads. Returns 0, or -1 when the kernel refused the batch. */
static int batch(struct io_state *s, uint64_t i0, unsigned n, uint64_t slot0,
		 const uint8_t *writes)
{
	struct io_params *p = &s->p;

	for (unsigned k = 0; k < n; k++) {
		uint64_t slot = (slot0 + k) % p->slots;
		uint64_t *b = (uint64_t *)(s->buf + k * p->size);

		if (writes[k])
			fill(p, b, slot, ++s->gen[slot]);
		s->rq[k] = (struct guest_blk_req){
			.op = writes[k] ? GUEST_BLK_WRITE : GUEST_BLK_READ,
			.status = ~0u, .sector = slot * (p->size / HV_BLK_SECTOR),
			.uva = (uint64_t)b, .len = (uint32_t)p->size,
		};
	}
	long r = blk(GUEST_BLK_SUBMIT, s->rq, n);
	if (r < 0) {
		printf("io: FAIL: batch at request %lu refused by the kernel (%ld)\n", i0, r);
		return -1;
	}
	for (unsigned k = 0; k < n; k++) {
		uint64_t slot = (slot0 + k) % p->slots;
		long bad;

		if (s->rq[k].status != HV_BLK_ST_OK) {
			if (s->rq[k].status == HV_BLK_ST_IOERR && writes[k])
				s->ioerrs++;
			else if (s->errors++ < 4)
				printf("io: request %lu (%s slot %lu) failed: status %u\n", i0 + k,
				       writes[k] ? "write" : "read", slot, s->rq[k].status);
			if (writes[k])
				s->gen[slot]--;   /* nothing was acknowledged: the old data stands */
			continue;
		}
		if (!writes[k] && (bad = check(p, (uint64_t *)(s->buf + k * p->size), slot,
					       s->gen[slot])) >= 0 && s->errors++ < 4)
			printf("io: FAIL: slot %lu read back wrong at byte %ld (generation %u)\n",
			       slot, bad * 8, s->gen[slot]);
	}
	return 0;
}

static int parse(const char *args, struct io_params *p)
{
	const char *bad;
	const struct warg w[] = {
		{ "size", &p->size }, { "qd", &p->qd }, { "count", &p->count }, { "mix", &p->mix },
		{ "seed", &p->seed }, { "reps", &p->reps }, { "slots", &p->slots },
		{ "ioerr", &p->ioerr },
	};

	*p = (struct io_params){ .size = 4096, .qd = 1, .count = 256, .mix = 50, .seed = 1,
				 .reps = 3, .slots = 0 };
	if (wargs_parse(args, w, sizeof(w) / sizeof(w[0]), &bad) < 0 ||
	    p->size == 0 || p->size % HV_BLK_SECTOR || p->size > HV_BLK_MAX_XFER ||
	    p->qd == 0 || p->qd > GUEST_BLK_BATCH_MAX || p->count == 0 || p->count > 1000000 ||
	    p->mix > 100 || p->reps == 0 || p->reps > 64 || p->ioerr > 1) {
		printf("io: bad arguments '%s' (size=512..65536 in 512s, qd=1..%u, count=1..1000000, "
		       "mix=0..100, reps=1..64, slots=N, ioerr=0|1)\n", args, GUEST_BLK_BATCH_MAX);
		return -1;
	}
	return 0;
}

int main(const char *args)
{
	static struct io_state s;
	struct io_params *p = &s.p;
	struct guest_blk_info info;
	uint8_t writes[GUEST_BLK_BATCH_MAX];
	uint64_t *lat;
	uint64_t khz = ustart->tsc_khz;
	long r;

	if (parse(args, p) < 0)
		return 1;
	if ((r = blk(GUEST_BLK_INFO, &info, 0)) < 0) {
		printf("io: FAIL: no block device (%ld)\n", r);
		return 1;
	}
	if (!p->slots)
		p->slots = p->count;
	if (p->slots < p->qd)
		p->slots = p->qd;
	if (p->slots * (p->size / HV_BLK_SECTOR) > info.sectors) {
		printf("io: FAIL: %lu slots of %lu bytes do not fit the disk (%lu sectors)\n",
		       p->slots, p->size, info.sectors);
		return 1;
	}
	s.buf = malloc(p->qd * p->size + 4096);
	s.gen = malloc(p->slots * sizeof(uint32_t));
	lat = malloc(p->count * sizeof(uint64_t));
	if (!s.buf || !s.gen || !lat) {
		printf("io: FAIL: out of memory\n");
		return 1;
	}
	s.buf = (uint8_t *)(((uint64_t)s.buf + 4095) & ~4095ull);
	populate(s.buf, (p->qd * p->size + 4095) & ~4095ull);
	printf("io: path %s, %lu sectors, size %lu, qd %lu, count %lu, mix %lu%% writes, %lu slots, "
	       "%lu reps\n", info.path, info.sectors, p->size, p->qd, p->count, p->mix, p->slots,
	       p->reps);
	report_info(W, "io_path", info.path);

	/* every slot written once: each later read has known contents */
	for (uint64_t i = 0; i < p->slots; i += p->qd) {
		unsigned n = (unsigned)(p->slots - i < p->qd ? p->slots - i : p->qd);

		for (unsigned k = 0; k < n; k++)
			writes[k] = 1;
		if (batch(&s, i, n, i, writes) < 0)
			return 1;
	}
	if (p->ioerr) {
		int ok = s.ioerrs == p->slots && s.errors == 0;

		printf("io: %lu of %lu writes came back as I/O errors, %lu other errors: %s\n",
		       s.ioerrs, p->slots, s.errors, ok ? "PASS" : "FAIL");
		report_u64(W, "write_ioerrors", s.ioerrs, "requests", 0);
		return ok ? 0 : 1;
	}

	for (unsigned rep = 0; rep < p->reps; rep++) {
		struct hv_blk_stats st = { 0 };
		uint64_t nb = 0, base = (uint64_t)rep * p->count, t0, t;
		/* hvm's device counts exits and CPU time; another VMM's (QEMU's) does not */
		int counted = blk(GUEST_BLK_STATS, 0, 0) == 0;

		t0 = tsc_read();
		for (uint64_t i = 0; i < p->count; i += p->qd) {
			unsigned n = (unsigned)(p->count - i < p->qd ? p->count - i : p->qd);
			uint64_t b0;

			for (unsigned k = 0; k < n; k++)
				writes[k] = mix64(p->seed * 31 + base + i + k) % 100 < p->mix;
			b0 = tsc_read();
			if (batch(&s, base + i, n, (base + i) % p->slots, writes) < 0)
				return 1;
			lat[nb++] = tsc_read() - b0;
		}
		t = tsc_read() - t0;
		if (counted && blk(GUEST_BLK_STATS, &st, 0) < 0) {
			printf("io: FAIL: no counters from the device\n");
			return 1;
		}
		sort_u64(lat, nb);
		uint64_t p50 = lat[nb / 2], p99 = lat[(nb * 99) / 100 < nb ? (nb * 99) / 100 : nb - 1];
		uint64_t n = p->count;

		if (khz) {
			report_ratio(W, "iops", n * khz * 1000, t, "IO/s", rep);
			report_ratio(W, "mb_per_s", n * p->size * khz, t * 1000, "MB/s", rep);
			report_ratio(W, "lat_p50_ns", p50 * 1000000, khz, "ns", rep);
			report_ratio(W, "lat_p99_ns", p99 * 1000000, khz, "ns", rep);
		}
		report_ratio(W, "cycles_per_io", t, n, "cycles", rep);
		if (!counted)
			goto said;
		report_ratio(W, "vmm_exits_per_io", st.vmm_exits, n, "exits", rep);
		report_ratio(W, "irqs_per_io", st.irqs, n, "interrupts", rep);
		report_ratio(W, "notifies_per_io", st.notifies, n, "notifies", rep);
		report_ratio(W, "host_cpu_ns_per_io", st.host_cpu_ns + st.backend_cpu_ns, n, "ns", rep);
		report_ratio(W, "backend_cpu_ns_per_io", st.backend_cpu_ns, n, "ns", rep);
		report_ratio(W, "host_wall_ns_per_io", st.wall_ns, n, "ns", rep);
		report_u64(W, "device_requests", st.requests, "requests", rep);
said:
		printf("io: rep %u: %lu I/Os in %lu cycles, %lu cycles/IO, %lu VMM exits, %lu irqs, "
		       "p50 %lu p99 %lu cycles\n", rep, n, t, t / n, st.vmm_exits, st.irqs, p50, p99);
	}

	/* read everything back: verification and the checksum */
	uint64_t h = 0xcbf29ce484222325ull;
	for (uint64_t i = 0; i < p->slots; i += p->qd) {
		unsigned n = (unsigned)(p->slots - i < p->qd ? p->slots - i : p->qd);

		for (unsigned k = 0; k < n; k++)
			writes[k] = 0;
		if (batch(&s, i, n, i, writes) < 0)
			return 1;
		for (unsigned k = 0; k < n; k++) {
			const uint64_t *b = (const uint64_t *)(s.buf + k * p->size);

			for (uint64_t j = 0; j < p->size / 8; j++)
				h = (h ^ b[j]) * 0x100000001b3ull;
		}
	}
	uint32_t sum = (uint32_t)(h ^ (h >> 32));
	report_u64(W, "checksum", sum, "-", 0);
	report_u64(W, "errors", s.errors + s.ioerrs, "requests", 0);
	printf("io: checksum %#x, %lu errors: %s\n", sum, s.errors + s.ioerrs,
	       s.errors + s.ioerrs ? "FAIL" : "PASS");
	return s.errors + s.ioerrs ? 1 : 0;
}
