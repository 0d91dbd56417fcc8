/* Workload cores shared by the guest programs and their native builds (native-compute,
 * native-memwalk, and hvm's same-run baseline): the same source, compiled by the same
 * compiler with the same code-generation flags, so a ratio to native measures the
 * virtualization and not the build. Freestanding: <stdint.h> and <stddef.h> only. */
#ifndef GUEST_WORK_H
#define GUEST_WORK_H
#include <stddef.h>
#include <stdint.h>

/* ---- workload arguments: "key=value,key=value", values decimal or 0x-hex with an
 * optional K, M or G (binary) suffix ---- */
struct warg {
	const char *key;
	uint64_t *val;           /* holds the default; replaced when the key is given */
};

/* Parses args into w[0..n). Returns 0, or -1 with *bad pointing at the offending
 * text (an unknown key, a malformed number). */
int wargs_parse(const char *args, const struct warg *w, unsigned n, const char **bad);

/* ---- compute: integer work on a generated buffer ----
 * Each round runs a table-driven CRC-32 and a multiply-rotate hash over the buffer;
 * the checksum folds both. Defaults: 1 MiB, 64 rounds (64 MiB hashed per repetition). */
struct compute_params {
	uint64_t size, rounds, seed, reps;
};
#define COMPUTE_ARGS "size=BYTES,rounds=N,seed=S,reps=R"
void compute_defaults(struct compute_params *p);
int compute_parse(const char *args, struct compute_params *p, const char **bad);
/* Fills buf[0, size) from a xorshift generator seeded with seed. */
void compute_fill(uint8_t *buf, uint64_t size, uint64_t seed);
/* The timed part: rounds passes over buf; returns the checksum. */
uint32_t compute_run(const uint8_t *buf, uint64_t size, uint64_t rounds);

/* ---- memwalk: a random pointer chase (the TLB-miss workload) ----
 * The working set holds one 64-byte slot per cache line, linked into a single random
 * cycle (Sattolo's algorithm); the chase follows it. Defaults: 64 MiB, 2 Mi steps. */
#define MEMWALK_SLOT 64
struct memwalk_params {
	uint64_t ws, steps, seed, reps;
};
#define MEMWALK_ARGS "ws=BYTES,steps=N,seed=S,reps=R"
void memwalk_defaults(struct memwalk_params *p);
int memwalk_parse(const char *args, struct memwalk_params *p, const char **bad);
/* Links the slots of buf[0, ws) (ws / MEMWALK_SLOT of them) into the cycle. */
void memwalk_build(uint64_t *buf, uint64_t ws, uint64_t seed);
/* The timed part: steps hops from slot 0; returns the checksum of the slots visited. */
uint32_t memwalk_run(const uint64_t *buf, uint64_t steps);

#endif
