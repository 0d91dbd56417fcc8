/* Set-associative LRU caches and a hash map for the simulator (cache.h). */
#include <stdlib.h>
#include <string.h>

#include "cache.h"

int pw_cache_init(struct pw_cache *c, unsigned entries, unsigned ways)
{
	memset(c, 0, sizeof(*c));
	if (!entries)
		return 0;
	if (!ways || ways > entries)
		ways = entries;
	if (entries % ways)
		return -1;
	c->ways = ways;
	c->sets = entries / ways;
	c->keys = calloc(entries, sizeof(*c->keys));
	c->stamp = calloc(entries, sizeof(*c->stamp));
	if (!c->keys || !c->stamp) {
		pw_cache_destroy(c);
		return -1;
	}
	return 0;
}

void pw_cache_destroy(struct pw_cache *c)
{
	free(c->keys);
	free(c->stamp);
	memset(c, 0, sizeof(*c));
}

static uint64_t *set_of(struct pw_cache *c, uint64_t key, uint64_t **stamp)
{
	/* a direct index for set-associative hardware would use the low bits; mixing
	 * first keeps prefix keys of different structures from colliding in set 0 */
	uint64_t set = c->sets > 1 ? pw_mix(key) % c->sets : 0;

	*stamp = c->stamp + set * c->ways;
	return c->keys + set * c->ways;
}

int pw_cache_lookup(struct pw_cache *c, uint64_t key)
{
	uint64_t *stamp, *k;

	if (!c->sets)
		return 0;
	k = set_of(c, key, &stamp);
	for (unsigned w = 0; w < c->ways; w++)
		if (k[w] == key + 1) {
			stamp[w] = ++c->clock;
			return 1;
		}
	return 0;
}

void pw_cache_insert(struct pw_cache *c, uint64_t key)
{
	uint64_t *stamp, *k;
	unsigned victim = 0;

	if (!c->sets)
		return;
	k = set_of(c, key, &stamp);
	for (unsigned w = 0; w < c->ways; w++) {
		if (k[w] == key + 1) {
			stamp[w] = ++c->clock;
			return;
		}
		if (!k[w] || (k[victim] && stamp[w] < stamp[victim]))
			victim = w;
		if (!k[w])
			break;
	}
	k[victim] = key + 1;
	stamp[victim] = ++c->clock;
}

void pw_cache_remove(struct pw_cache *c, uint64_t key)
{
	uint64_t *stamp, *k;

	if (!c->sets)
		return;
	k = set_of(c, key, &stamp);
	for (unsigned w = 0; w < c->ways; w++)
		if (k[w] == key + 1)
			k[w] = 0;
}

void pw_cache_flush(struct pw_cache *c)
{
	if (c->sets)
		memset(c->keys, 0, (size_t)c->sets * c->ways * sizeof(*c->keys));
}

/* ---- hash map ---- */

#define EMPTY UINT64_MAX
#define TOMB (UINT64_MAX - 1)

static int map_alloc(struct pw_map *m, uint64_t cap)
{
	m->keys = malloc(cap * sizeof(*m->keys));
	m->vals = malloc(cap * sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		free(m->keys);
		free(m->vals);
		m->keys = m->vals = NULL;
		return -1;
	}
	memset(m->keys, 0xff, cap * sizeof(*m->keys));
	m->cap = cap;
	m->used = m->tombs = 0;
	return 0;
}

int pw_map_init(struct pw_map *m)
{
	memset(m, 0, sizeof(*m));
	return map_alloc(m, 1024);
}

void pw_map_destroy(struct pw_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static uint64_t *slot_of(const struct pw_map *m, uint64_t key, int for_insert)
{
	uint64_t i = pw_mix(key) & (m->cap - 1), *tomb = NULL;

	for (;;) {
		uint64_t k = m->keys[i];

		if (k == key)
			return &m->keys[i];
		if (k == EMPTY)
			return for_insert ? (tomb ? tomb : &m->keys[i]) : NULL;
		if (k == TOMB && !tomb)
			tomb = &m->keys[i];
		i = (i + 1) & (m->cap - 1);
	}
}

uint64_t *pw_map_get(struct pw_map *m, uint64_t key)
{
	uint64_t *k = slot_of(m, key, 0);

	return k ? &m->vals[k - m->keys] : NULL;
}

static int map_grow(struct pw_map *m)
{
	struct pw_map old = *m;
	uint64_t cap = (old.used * 4 > old.cap) ? old.cap * 2 : old.cap;

	if (map_alloc(m, cap)) {
		*m = old;
		return -1;
	}
	for (uint64_t i = 0; i < old.cap; i++)
		if (old.keys[i] < TOMB) {
			uint64_t *k = slot_of(m, old.keys[i], 1);

			*k = old.keys[i];
			m->vals[k - m->keys] = old.vals[i];
			m->used++;
		}
	free(old.keys);
	free(old.vals);
	return 0;
}

int pw_map_put(struct pw_map *m, uint64_t key, uint64_t val)
{
	uint64_t *k;

	/* at most half full, tombstones included, so probes stay short and end */
	if ((m->used + m->tombs + 1) * 2 > m->cap && map_grow(m))
		return -1;
	k = slot_of(m, key, 1);
	if (*k != key) {
		if (*k == TOMB)
			m->tombs--;
		*k = key;
		m->used++;
	}
	m->vals[k - m->keys] = val;
	return 0;
}

void pw_map_del(struct pw_map *m, uint64_t key)
{
	uint64_t *k = slot_of(m, key, 0);

	if (k) {
		*k = TOMB;
		m->used--;
		m->tombs++;
	}
}
