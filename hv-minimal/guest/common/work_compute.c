/* The compute workload's core (work.h). */
#include "guest/work.h"

#define CRC_POLY 0xedb88320u     /* CRC-32 (IEEE 802.3), reflected */
#define MIX_K1 0x9e3779b97f4a7c15ull
#define MIX_K2 0xc2b2ae3d27d4eb4full

void compute_defaults(struct compute_params *p)
{
	p->size = 1u << 20;
	p->rounds = 64;
	p->seed = 1;
	p->reps = 3;
}

int compute_parse(const char *args, struct compute_params *p, const char **bad)
{
	const struct warg w[] = {
		{ "size", &p->size }, { "rounds", &p->rounds }, { "seed", &p->seed },
		{ "reps", &p->reps },
	};

	compute_defaults(p);
	if (wargs_parse(args, w, sizeof(w) / sizeof(w[0]), bad) < 0)
		return -1;
	if (p->size < 64 || p->size > (1ull << 30) || p->size % 8) {
		*bad = "size (64 bytes to 1 GiB, a multiple of 8)";
		return -1;
	}
	if (!p->rounds || !p->reps || p->reps > 64) {
		*bad = "rounds or reps (rounds >= 1, reps 1..64)";
		return -1;
	}
	return 0;
}

void compute_fill(uint8_t *buf, uint64_t size, uint64_t seed)
{
	uint64_t x = seed * MIX_K1 + 1;

	for (uint64_t i = 0; i < size; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x * MIX_K2;
		for (int b = 0; b < 8; b++)
			buf[i + (uint64_t)b] = (uint8_t)(v >> (8 * b));
	}
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC_POLY : c >> 1;
		crc_table[i] = c;
	}
}

static inline uint64_t rotl(uint64_t v, int k)
{
	return (v << k) | (v >> (64 - k));
}

uint32_t compute_run(const uint8_t *buf, uint64_t size, uint64_t rounds)
{
	uint32_t sum = 0;

	if (!crc_table[1])
		crc_init();
	for (uint64_t r = 0; r < rounds; r++) {
		uint32_t crc = ~(uint32_t)r;
		uint64_t h = r * MIX_K1;
		for (uint64_t i = 0; i < size; i += 8) {
			uint64_t w = 0;
			for (int b = 0; b < 8; b++) {
				uint8_t byte = buf[i + (uint64_t)b];
				crc = crc_table[(crc ^ byte) & 0xff] ^ (crc >> 8);
				w |= (uint64_t)byte << (8 * b);
			}
			h = rotl(h ^ (w * MIX_K2), 31) * MIX_K1;
		}
		sum = (sum * 31) ^ ~crc ^ (uint32_t)(h ^ (h >> 32));
	}
	return sum;
}
