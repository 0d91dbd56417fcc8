/* The memwalk workload's core (work.h). Slot i's first word holds the index of the
 * next slot; the second word is scratch while the cycle is built. */
#include "guest/work.h"

#define WORDS (MEMWALK_SLOT / 8)

void memwalk_defaults(struct memwalk_params *p)
{
	p->ws = 64ull << 20;
	p->steps = 2ull << 20;
	p->seed = 1;
	p->reps = 3;
}

int memwalk_parse(const char *args, struct memwalk_params *p, const char **bad)
{
	const struct warg w[] = {
		{ "ws", &p->ws }, { "steps", &p->steps }, { "seed", &p->seed }, { "reps", &p->reps },
	};

	memwalk_defaults(p);
	if (wargs_parse(args, w, sizeof(w) / sizeof(w[0]), bad) < 0)
		return -1;
	if (p->ws < 2 * MEMWALK_SLOT || p->ws > (1ull << 30) || p->ws % 4096) {
		*bad = "ws (8 KiB to 1 GiB, a multiple of 4 KiB)";
		return -1;
	}
	if (!p->steps || !p->reps || p->reps > 64) {
		*bad = "steps or reps (steps >= 1, reps 1..64)";
		return -1;
	}
	return 0;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

void memwalk_build(uint64_t *buf, uint64_t ws, uint64_t seed)
{
	uint64_t n = ws / MEMWALK_SLOT, x = seed * 0x9e3779b97f4a7c15ull + 7;

	/* Sattolo: a uniformly random permutation with one cycle, in the scratch words. */
	for (uint64_t i = 0; i < n; i++)
		buf[i * WORDS + 1] = i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = (uint64_t)(((unsigned __int128)next_rand(&x) * i) >> 64);
		uint64_t t = buf[i * WORDS + 1];
		buf[i * WORDS + 1] = buf[j * WORDS + 1];
		buf[j * WORDS + 1] = t;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t from = buf[i * WORDS + 1], to = buf[(i + 1 < n ? i + 1 : 0) * WORDS + 1];
		buf[from * WORDS] = to;
	}
}

uint32_t memwalk_run(const uint64_t *buf, uint64_t steps)
{
	uint64_t i = 0, sum = 0;

	for (uint64_t s = 0; s < steps; s++) {
		i = buf[i * WORDS];
		sum += i ^ s;
	}
	return (uint32_t)(sum ^ (sum >> 32));
}
