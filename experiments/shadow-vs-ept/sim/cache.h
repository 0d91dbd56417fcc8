/* The two containers the simulator needs: a set-associative cache with LRU
 * replacement (TLBs, page-walk caches, the nested TLB) and a hash map of 64-bit keys
 * (guest mappings, page-table pages, backed guest-physical pages). */
#ifndef PTWALK_CACHE_H
#define PTWALK_CACHE_H
#include <stdint.h>

struct pw_cache {
	unsigned sets, ways;
	uint64_t *keys;              /* sets * ways; key + 1, so 0 marks an empty way */
	uint64_t *stamp;             /* last use, for LRU */
	uint64_t clock;
};

/* entries 0 gives a cache that never hits; ways 0 (or >= entries) fully associative.
 * -1 when entries is not a multiple of ways, or out of memory. */
int pw_cache_init(struct pw_cache *c, unsigned entries, unsigned ways);
void pw_cache_destroy(struct pw_cache *c);
/* 1 on a hit (and marks the entry used), 0 on a miss. */
int pw_cache_lookup(struct pw_cache *c, uint64_t key);
/* Inserts key (evicting the set's least recently used way) unless present. */
void pw_cache_insert(struct pw_cache *c, uint64_t key);
void pw_cache_remove(struct pw_cache *c, uint64_t key);
void pw_cache_flush(struct pw_cache *c);

/* Open addressing with linear probing and tombstones; never holds key UINT64_MAX. */
struct pw_map {
	uint64_t *keys;
	uint64_t *vals;
	uint64_t cap, used, tombs;
};

int pw_map_init(struct pw_map *m);
void pw_map_destroy(struct pw_map *m);
/* Pointer to key's value, or NULL when absent. */
uint64_t *pw_map_get(struct pw_map *m, uint64_t key);
/* Sets key's value; -1 out of memory. */
int pw_map_put(struct pw_map *m, uint64_t key, uint64_t val);
void pw_map_del(struct pw_map *m, uint64_t key);

/* A 64-bit mix (splitmix64's finaliser), to spread keys over sets and slots. */
static inline uint64_t pw_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif
