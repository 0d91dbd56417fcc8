/* The translation model: TLBs, page-walk caches, 1-D and 2-D walks, and the exits a
 * shadow-paging or nested-paging VMM takes for the guest's page-table work. */
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "hvlab/err.h"
#include "ptwalk.h"

const char *const pw_exit_names[PW_NEXITS] = {
	[PW_X_PTE_TRAP] = "pte_trap", [PW_X_FILL] = "shadow_fill", [PW_X_PF] = "pf_exit",
	[PW_X_INVLPG] = "invlpg_exit", [PW_X_CR3] = "cr3_exit", [PW_X_NPF] = "npf_exit",
};

/* Shadow entries are tracked per piece: the guest page, or each host page of it when
 * the host backs it in smaller pages (the shadow entry can map no more than both). A
 * piece is in step when it was filled at its mapping's current epoch; every guest PTE
 * write gives the mapping a new epoch. */

/* Guest page-table pages get guest-physical addresses from here up, above any data
 * frame a trace names (traces keep data below TABLE_GPA_BASE: trace.c checks). */
#define TABLE_GPA_BASE (1ull << 46)

struct pw_sim {
	struct pw_config cfg;
	enum pw_mode mode;
	struct pw_cache l1[PW_NPAGES], l2, l2_1g;
	struct pw_cache pwc[PW_MAX_LEVELS + 1], npwc[PW_MAX_LEVELS + 1], ntlb;
	struct pw_map maps;          /* (asid, size, vpn) -> gpa | flags */
	struct pw_map tables;        /* (asid, level, prefix) -> gpa of that guest table */
	struct pw_map backed;        /* nested: host pages the guest has touched */
	struct pw_map spaces;        /* asids that exist */
	struct pw_map epochs;        /* shadow: mapping key -> epoch of its last PTE write */
	struct pw_map pieces;        /* shadow: (asid, piece) -> epoch it was filled at */
	struct pw_map shadowed;      /* shadow: guest table gPAs the VMM has shadow pages of,
	                              * so write-protects (they stay so when freed) */
	uint64_t epoch;
	uint64_t *free_tables;       /* table gPAs freed by dropped address spaces */
	size_t nfree, free_cap;
	uint64_t next_table_gpa;
	unsigned asid;
	int have_space;
	struct pw_stats st;
	struct pw_stats mark;        /* st when the timed part began ('b') */
	int marked;
};

const char *pw_mode_name(enum pw_mode m)
{
	static const char *const names[PW_NMODES] = { "native", "shadow", "nested" };

	return m < PW_NMODES ? names[m] : "?";
}

const char *pw_page_name(enum pw_page p)
{
	static const char *const names[PW_NPAGES] = { "4k", "2m", "1g" };

	return p < PW_NPAGES ? names[p] : "?";
}

int pw_page_parse(const char *s, enum pw_page *p)
{
	for (int i = 0; i < PW_NPAGES; i++)
		if (!strcasecmp(s, pw_page_name((enum pw_page)i))) {
			*p = (enum pw_page)i;
			return 0;
		}
	return -1;
}

unsigned pw_page_shift(enum pw_page p)
{
	return 12 + 9 * (unsigned)p;
}

/* The level whose entries map a page of this size: 1 (PT) for 4 KiB. */
static unsigned leaf_level(enum pw_page p)
{
	return 1 + (unsigned)p;
}

uint64_t pw_stats_exits(const struct pw_stats *s)
{
	uint64_t n = 0;

	for (int i = 0; i < PW_NEXITS; i++)
		n += s->exits[i];
	return n;
}

uint64_t pw_stats_cycles(const struct pw_stats *s)
{
	return s->access_cycles + s->l2_hit_cycles + s->walk_cycles + s->exit_cycles +
	       s->guest_cycles;
}

unsigned pw_cold_walk_refs(const struct pw_config *c, enum pw_mode mode,
			   enum pw_page guest_page)
{
	enum pw_page eff = guest_page;

	if (mode == PW_SHADOW && c->host_page < eff)
		eff = c->host_page;          /* the shadow entry maps the smaller page */
	if (mode != PW_NESTED)
		return c->guest_levels - leaf_level(eff) + 1;
	unsigned n = c->guest_levels - leaf_level(guest_page) + 1;
	unsigned m = c->host_levels - leaf_level(c->host_page) + 1;

	return n * m + n + m;
}

struct pw_sim *pw_sim_new(const struct pw_config *c, enum pw_mode mode)
{
	struct pw_sim *s;
	int bad = 0;

	if (pw_config_check(c))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		hv_err_set("ptwalk-sim: out of memory");
		return NULL;
	}
	s->cfg = *c;
	s->mode = mode;
	for (int p = 0; p < PW_NPAGES; p++)
		bad |= pw_cache_init(&s->l1[p], c->l1_tlb[p].entries, c->l1_tlb[p].ways);
	bad |= pw_cache_init(&s->l2, c->l2_tlb.entries, c->l2_tlb.ways);
	bad |= pw_cache_init(&s->l2_1g, c->l2_tlb_1g.entries, c->l2_tlb_1g.ways);
	for (int k = 0; k <= PW_MAX_LEVELS; k++) {
		bad |= pw_cache_init(&s->pwc[k], c->pwc[k], 0);
		bad |= pw_cache_init(&s->npwc[k], c->nested_pwc[k], 0);
	}
	bad |= pw_cache_init(&s->ntlb, c->nested_tlb.entries, c->nested_tlb.ways);
	bad |= pw_map_init(&s->maps) | pw_map_init(&s->tables) | pw_map_init(&s->backed) |
	       pw_map_init(&s->spaces) | pw_map_init(&s->epochs) | pw_map_init(&s->pieces) |
	       pw_map_init(&s->shadowed);
	s->next_table_gpa = TABLE_GPA_BASE;
	if (bad) {
		pw_sim_free(s);
		hv_err_set("ptwalk-sim: out of memory for the caches and maps");
		return NULL;
	}
	return s;
}

void pw_sim_free(struct pw_sim *s)
{
	if (!s)
		return;
	for (int p = 0; p < PW_NPAGES; p++)
		pw_cache_destroy(&s->l1[p]);
	pw_cache_destroy(&s->l2);
	pw_cache_destroy(&s->l2_1g);
	for (int k = 0; k <= PW_MAX_LEVELS; k++) {
		pw_cache_destroy(&s->pwc[k]);
		pw_cache_destroy(&s->npwc[k]);
	}
	pw_cache_destroy(&s->ntlb);
	pw_map_destroy(&s->maps);
	pw_map_destroy(&s->tables);
	pw_map_destroy(&s->backed);
	pw_map_destroy(&s->spaces);
	pw_map_destroy(&s->epochs);
	pw_map_destroy(&s->pieces);
	pw_map_destroy(&s->shadowed);
	free(s->free_tables);
	free(s);
}

const struct pw_stats *pw_sim_stats(const struct pw_sim *s)
{
	return &s->st;
}

void pw_sim_timed_stats(const struct pw_sim *s, struct pw_stats *out)
{
	const uint64_t *now = (const uint64_t *)&s->st, *then = (const uint64_t *)&s->mark;
	uint64_t *o = (uint64_t *)out;

	/* every field is a uint64_t counter (a static assertion in ptwalk.h) */
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = now[i] - (s->marked ? then[i] : 0);
}

static void take_exit(struct pw_sim *s, enum pw_exit_kind k)
{
	static const size_t cost_of[PW_NEXITS] = {
		[PW_X_PTE_TRAP] = offsetof(struct pw_latency, pte_trap),
		[PW_X_FILL] = offsetof(struct pw_latency, shadow_fill),
		[PW_X_PF] = offsetof(struct pw_latency, pf_exit),
		[PW_X_INVLPG] = offsetof(struct pw_latency, invlpg_exit),
		[PW_X_CR3] = offsetof(struct pw_latency, cr3_exit),
		[PW_X_NPF] = offsetof(struct pw_latency, npf_exit),
	};
	unsigned cost;

	memcpy(&cost, (const char *)&s->cfg.lat + cost_of[k], sizeof(cost));
	s->st.exits[k]++;
	s->st.exit_cycles += cost;
}

/* ---- keys ---- */

static uint64_t map_key(unsigned asid, enum pw_page p, uint64_t va)
{
	return (va >> pw_page_shift(p)) << 18 | (uint64_t)p << 16 | asid;
}

static uint64_t table_key(unsigned asid, unsigned level, uint64_t va)
{
	return (va >> (12 + 9 * level)) << 20 | (uint64_t)level << 16 | asid;
}

/* TLB and guest walk-cache entries carry the address space only with PCIDs; without
 * them every CR3 write flushes, so one tag serves. */
static unsigned tag(const struct pw_sim *s)
{
	return s->cfg.pcid ? s->asid : 0;
}

static uint64_t tlb_key(const struct pw_sim *s, enum pw_page p, uint64_t va)
{
	return map_key(tag(s), p, va);
}

/* The walk-cache key of the level-k entry for va: the address bits above level k-1. */
static uint64_t pwc_key(unsigned tagv, unsigned k, uint64_t va)
{
	return (va >> (12 + 9 * (k - 1))) << 16 | tagv;
}

/* ---- guest tables and mappings ---- */

static uint64_t va_bits(const struct pw_sim *s)
{
	return 12 + 9 * (uint64_t)s->cfg.guest_levels;
}

/* The canonical va cut to the bits the tables translate; -1 when not canonical. */
static int canonical(const struct pw_sim *s, uint64_t va, uint64_t *out)
{
	unsigned bits = (unsigned)va_bits(s);
	uint64_t top = va >> (bits - 1);

	if (top && top != (UINT64_MAX >> (bits - 1)))
		return -1;
	*out = va & ((1ull << bits) - 1);
	return 0;
}

/* A page for a new guest table. One freed by a dropped address space comes back
 * first; under shadow paging it may still be shadowed, so the guest's zeroing of it
 * traps until the VMM sees the flood of writes and drops its shadow page (KVM's
 * write-flooding detection). */
static int alloc_table(struct pw_sim *s, uint64_t *gpa)
{
	if (s->nfree) {
		*gpa = s->free_tables[--s->nfree];
		if (s->mode == PW_SHADOW && pw_map_get(&s->shadowed, *gpa)) {
			for (unsigned i = 0; i < s->cfg.shadow_flood_writes; i++)
				take_exit(s, PW_X_PTE_TRAP);
			s->st.shadow_zaps++;
			pw_map_del(&s->shadowed, *gpa);
		}
		return 0;
	}
	*gpa = s->next_table_gpa;
	s->next_table_gpa += 4096;
	return 0;
}

/* Touch of a guest-physical page: under nested paging its first touch exits (EPT
 * violation / nested page fault) so the host can back it. */
static int touch_gpa(struct pw_sim *s, uint64_t gpa)
{
	uint64_t key = gpa >> pw_page_shift(s->cfg.host_page);

	if (s->mode != PW_NESTED || pw_map_get(&s->backed, key))
		return 0;
	take_exit(s, PW_X_NPF);
	return pw_map_put(&s->backed, key, 1);
}

/* The gPA of the level-k guest table that maps va, made (zeroed by the guest, so
 * touched) if it does not exist yet. */
static int guest_table_made(struct pw_sim *s, unsigned k, uint64_t va, uint64_t *gpa,
			    int *made)
{
	uint64_t key = table_key(s->asid, k, k == s->cfg.guest_levels ? 0 : va);
	uint64_t *v = pw_map_get(&s->tables, key);

	*made = !v;
	if (v) {
		*gpa = *v;
		return 0;
	}
	if (alloc_table(s, gpa) || pw_map_put(&s->tables, key, *gpa) || touch_gpa(s, *gpa))
		return hv_err_set("ptwalk-sim: out of memory for guest tables");
	return 0;
}

static int guest_table(struct pw_sim *s, unsigned k, uint64_t va, uint64_t *gpa)
{
	int made;

	return guest_table_made(s, k, va, gpa, &made);
}

/* Shadow paging: the VMM now has shadow pages of the guest tables that map va, from
 * the root down to leaf (it built them to fill an entry, or to load a root). */
static int shadow_tables_of(struct pw_sim *s, uint64_t va, unsigned leaf)
{
	for (unsigned k = s->cfg.guest_levels; k >= leaf && k >= 1; k--) {
		uint64_t key = table_key(s->asid, k, k == s->cfg.guest_levels ? 0 : va);
		uint64_t *gpa = pw_map_get(&s->tables, key);

		if (gpa && pw_map_put(&s->shadowed, *gpa, 1))
			return hv_err_set("ptwalk-sim: out of memory");
	}
	return 0;
}

static uint64_t *find_mapping(struct pw_sim *s, uint64_t va, enum pw_page *page)
{
	for (int p = 0; p < PW_NPAGES; p++) {
		uint64_t *v = pw_map_get(&s->maps, map_key(s->asid, (enum pw_page)p, va));

		if (v) {
			*page = (enum pw_page)p;
			return v;
		}
	}
	return NULL;
}

/* ---- walks ---- */

/* Reads of the level-(from..leaf) entries of a 1-D walk after the walk cache gave the
 * level-`from+1` entry; fills the cache. Returns the references. */
static unsigned walk_levels(struct pw_sim *s, struct pw_cache *pwc, unsigned tagv,
			    uint64_t va, unsigned from, unsigned leaf, int hot)
{
	unsigned refs = 0;

	for (unsigned j = from; j >= leaf && j >= 1; j--) {
		refs++;
		s->st.walk_cycles += (j == leaf && !hot) ? s->cfg.lat.ref_leaf : s->cfg.lat.ref_hot;
		if (j > leaf)
			pw_cache_insert(&pwc[j], pwc_key(tagv, j, va));
	}
	return refs;
}

/* The deepest walk-cache hit for va above leaf: the level whose entry is cached, or
 * levels + 1 when none is. */
static unsigned pwc_start(struct pw_cache *pwc, unsigned tagv, uint64_t va, unsigned leaf,
			  unsigned levels)
{
	for (unsigned k = leaf + 1; k <= levels; k++)
		if (pw_cache_lookup(&pwc[k], pwc_key(tagv, k, va)))
			return k;
	return levels + 1;
}

/* gPA -> hPA through the nested TLB, the host walk caches and the host tables.
 * hot: the gPA is a guest page-table page (its host entries stay cached). */
static void nested_translate(struct pw_sim *s, uint64_t gpa, int hot)
{
	unsigned hleaf = leaf_level(s->cfg.host_page), levels = s->cfg.host_levels;
	uint64_t nkey = gpa >> pw_page_shift(s->cfg.host_page);
	unsigned start, refs;

	if (pw_cache_lookup(&s->ntlb, nkey)) {
		s->st.nested_tlb_hits++;
		return;
	}
	s->st.nested_tlb_misses++;
	start = pwc_start(s->npwc, 0, gpa, hleaf, levels);
	refs = walk_levels(s, s->npwc, 0, gpa, start - 1, hleaf, hot);
	s->st.walk_refs += refs;
	s->st.walk_refs_host += refs;
	pw_cache_insert(&s->ntlb, nkey);
}

static int walk(struct pw_sim *s, uint64_t va, uint64_t gpa, enum pw_page guest_page,
		enum pw_page eff)
{
	unsigned levels = s->cfg.guest_levels, tagv = tag(s);

	if (s->mode != PW_NESTED) {
		/* native: the guest's tables; shadow: the VMM's, of the same shape */
		unsigned leaf = leaf_level(eff);
		unsigned start = pwc_start(s->pwc, tagv, va, leaf, levels);
		unsigned refs = walk_levels(s, s->pwc, tagv, va, start - 1, leaf, 0);

		s->st.walk_refs += refs;
		s->st.walk_refs_guest += refs;
		return 0;
	}
	/* nested: each guest entry read needs its table's gPA translated first, unless
	 * the walk cache handed over that table's host address with the entry above */
	unsigned leaf = leaf_level(guest_page);
	unsigned start = pwc_start(s->pwc, tagv, va, leaf, levels);

	for (unsigned j = start - 1; j >= leaf && j >= 1; j--) {
		uint64_t table;

		if (guest_table(s, j, va, &table))
			return -1;
		if (j != start - 1 || start == levels + 1)
			nested_translate(s, table, 1);
		s->st.walk_refs++;
		s->st.walk_refs_guest++;
		s->st.walk_cycles += j == leaf ? s->cfg.lat.ref_leaf : s->cfg.lat.ref_hot;
		if (j > leaf)
			pw_cache_insert(&s->pwc[j], pwc_key(tagv, j, va));
	}
	nested_translate(s, gpa, 0);
	return 0;
}

static int access(struct pw_sim *s, const struct pw_event *e)
{
	enum pw_page page, eff;
	uint64_t va, *m, gpa;

	if (!s->have_space)
		return hv_err_set("%c %#llx: no address space yet (begin the trace with 'c ASID')",
				  e->kind, (unsigned long long)e->va);
	if (canonical(s, e->va, &va))
		return hv_err_set("%c %#llx: not a canonical %u-bit address", e->kind,
				  (unsigned long long)e->va, (unsigned)va_bits(s));
	m = find_mapping(s, va, &page);
	if (!m)
		return hv_err_set("%c %#llx: not mapped in address space %u (map it first with "
				  "'m VA GPA SIZE')", e->kind, (unsigned long long)e->va, s->asid);
	gpa = *m + (va & ((1ull << pw_page_shift(page)) - 1));
	s->st.accesses++;
	s->st.access_cycles += s->cfg.lat.access;
	eff = page;
	if (s->mode != PW_NATIVE && s->cfg.host_page < eff)
		eff = s->cfg.host_page;      /* splintered: the host maps it in smaller pages */
	if (s->mode == PW_SHADOW) {
		uint64_t *mine = pw_map_get(&s->epochs, map_key(s->asid, page, va));
		uint64_t pk = map_key(s->asid, eff, va), *filled = pw_map_get(&s->pieces, pk);

		if (!filled || !mine || *filled != *mine) {
			take_exit(s, PW_X_FILL);
			if (pw_map_put(&s->pieces, pk, mine ? *mine : 0) ||
			    shadow_tables_of(s, va, leaf_level(page)))
				return hv_err_set("ptwalk-sim: out of memory");
		}
	}
	if (touch_gpa(s, gpa))
		return -1;
	uint64_t key = tlb_key(s, eff, va);
	struct pw_cache *l2 = eff == PW_1G ? &s->l2_1g : &s->l2;

	if (pw_cache_lookup(&s->l1[eff], key))
		return 0;
	s->st.l1_misses++;
	if (pw_cache_lookup(l2, key)) {
		s->st.l2_hit_cycles += s->cfg.lat.l2_tlb_hit;
		pw_cache_insert(&s->l1[eff], key);
		return 0;
	}
	s->st.l2_misses++;
	if (walk(s, va, gpa, page, eff))
		return -1;
	pw_cache_insert(l2, key);
	pw_cache_insert(&s->l1[eff], key);
	return 0;
}

static void flush_guest_caches(struct pw_sim *s)
{
	for (int p = 0; p < PW_NPAGES; p++)
		pw_cache_flush(&s->l1[p]);
	pw_cache_flush(&s->l2);
	pw_cache_flush(&s->l2_1g);
	for (int k = 0; k <= PW_MAX_LEVELS; k++)
		pw_cache_flush(&s->pwc[k]);
}

static void invlpg(struct pw_sim *s, uint64_t va)
{
	for (int p = 0; p < PW_NPAGES; p++) {
		uint64_t key = tlb_key(s, (enum pw_page)p, va);

		pw_cache_remove(&s->l1[p], key);
		pw_cache_remove(p == PW_1G ? &s->l2_1g : &s->l2, key);
	}
	/* invlpg also drops paging-structure cache entries; which ones is the CPU's
	 * choice, and dropping all of them is allowed */
	for (int k = 0; k <= PW_MAX_LEVELS; k++)
		pw_cache_flush(&s->pwc[k]);
}

/* A guest write to the PTE of the mapping (asid, page, va), which stays mapped unless
 * unmapped: what it costs depends on the mode and the shadow policy. */
static int pte_write(struct pw_sim *s, enum pw_page page, uint64_t va, int unmapped)
{
	uint64_t mk = map_key(s->asid, page, va);

	s->st.pte_updates++;
	if (s->mode != PW_SHADOW)
		return 0;
	if (unmapped)
		pw_map_del(&s->epochs, mk);
	else if (pw_map_put(&s->epochs, mk, ++s->epoch))
		return hv_err_set("ptwalk-sim: out of memory");
	if (s->cfg.shadow_policy != PW_SHADOW_TRAP)
		return 0;                    /* unsync: resynchronised on next use */
	take_exit(s, PW_X_PTE_TRAP);
	/* the trap's emulation updates the shadow entry at once where it maps the whole
	 * guest page; a splintered page's host-sized pieces are refilled on use */
	if (!unmapped && (page <= s->cfg.host_page) &&
	    pw_map_put(&s->pieces, map_key(s->asid, page, va), s->epoch))
		return hv_err_set("ptwalk-sim: out of memory");
	return 0;
}

static int map(struct pw_sim *s, const struct pw_event *e)
{
	enum pw_page page = (enum pw_page)e->page, old;
	uint64_t va, mask = (1ull << pw_page_shift(page)) - 1, tablegpa, *m;

	if (!s->have_space)
		return hv_err_set("m %#llx: no address space yet (begin with 'c ASID')",
				  (unsigned long long)e->va);
	if (canonical(s, e->va, &va))
		return hv_err_set("m %#llx: not a canonical %u-bit address",
				  (unsigned long long)e->va, (unsigned)va_bits(s));
	if ((va & mask) || (e->gpa & mask))
		return hv_err_set("m %#llx %#llx %s: the address and the frame must be aligned "
				  "to the page size", (unsigned long long)e->va,
				  (unsigned long long)e->gpa, pw_page_name(page));
	if (leaf_level(page) > s->cfg.guest_levels)
		return hv_err_set("m: %s pages need more than %u levels", pw_page_name(page),
				  s->cfg.guest_levels);
	uint64_t above = 0;
	int above_made = 1;

	for (unsigned k = s->cfg.guest_levels; k >= leaf_level(page); k--) {
		int made;

		if (guest_table_made(s, k, va, &tablegpa, &made))
			return -1;
		/* a new table is linked into the one above it: a write to a non-leaf table,
		 * which shadow paging keeps write-protected under either policy while
		 * it has a shadow page of it */
		if (made && !above_made && s->mode == PW_SHADOW &&
		    pw_map_get(&s->shadowed, above)) {
			s->st.pte_updates++;
			take_exit(s, PW_X_PTE_TRAP);
		}
		above = tablegpa;
		above_made = made;
	}
	m = find_mapping(s, va, &old);
	if (m && old != page)
		pw_map_del(&s->maps, map_key(s->asid, old, va));
	if (pw_map_put(&s->maps, map_key(s->asid, page, va), e->gpa))
		return hv_err_set("ptwalk-sim: out of memory for mappings");
	return pte_write(s, page, va, 0);
}

static int pte_change(struct pw_sim *s, const struct pw_event *e)
{
	enum pw_page page;
	uint64_t va;

	if (!s->have_space || canonical(s, e->va, &va))
		return hv_err_set("%c %#llx: no address space yet, or not a canonical address",
				  e->kind, (unsigned long long)e->va);
	if (!find_mapping(s, va, &page))
		return hv_err_set("%c %#llx: not mapped in address space %u", e->kind,
				  (unsigned long long)e->va, s->asid);
	if (e->kind == PW_EV_UNMAP)
		pw_map_del(&s->maps, map_key(s->asid, page, va));
	return pte_write(s, page, va, e->kind == PW_EV_UNMAP);
}

static int switch_to(struct pw_sim *s, unsigned asid)
{
	uint64_t root;

	s->st.switches++;
	s->st.guest_cycles += s->cfg.lat.guest_switch;
	s->asid = asid;
	s->have_space = 1;
	if (!pw_map_get(&s->spaces, asid)) {
		if (pw_map_put(&s->spaces, asid, 1) ||
		    guest_table(s, s->cfg.guest_levels, 0, &root))
			return hv_err_set("ptwalk-sim: out of memory for address spaces");
	}
	if (s->mode == PW_SHADOW && shadow_tables_of(s, 0, s->cfg.guest_levels))
		return -1;                   /* the VMM loads a shadow root for it */
	if (!s->cfg.pcid)
		flush_guest_caches(s);
	if (s->mode == PW_SHADOW)
		take_exit(s, PW_X_CR3);
	return 0;
}

/* Deletes every key of map m whose low 16 bits are asid; with s_tables, the values
 * (guest table gPAs) go to that simulator's free list, for the next tables. */
static int drop_keys(struct pw_map *m, unsigned asid, struct pw_sim *s_tables)
{
	for (uint64_t i = 0; i < m->cap; i++) {
		uint64_t k = m->keys[i];

		if (k >= UINT64_MAX - 1 || (k & 0xffff) != asid)
			continue;
		if (s_tables) {
			struct pw_sim *s = s_tables;

			if (s->nfree == s->free_cap) {
				size_t cap = s->free_cap ? s->free_cap * 2 : 256;
				uint64_t *n = realloc(s->free_tables, cap * sizeof(*n));

				if (!n)
					return hv_err_set("ptwalk-sim: out of memory");
				s->free_tables = n;
				s->free_cap = cap;
			}
			s->free_tables[s->nfree++] = m->vals[i];
		}
		pw_map_del(m, k);
	}
	return 0;
}

static int drop(struct pw_sim *s, unsigned asid)
{
	if (!pw_map_get(&s->spaces, asid))
		return hv_err_set("k %u: no such address space", asid);
	if (s->have_space && s->asid == asid)
		return hv_err_set("k %u: the current address space (switch away with 'c' first)",
				  asid);
	pw_map_del(&s->spaces, asid);
	if (drop_keys(&s->maps, asid, NULL) || drop_keys(&s->tables, asid, s) ||
	    drop_keys(&s->epochs, asid, NULL) || drop_keys(&s->pieces, asid, NULL))
		return -1;
	return 0;
}

int pw_sim_event(struct pw_sim *s, const struct pw_event *e)
{
	switch (e->kind) {
	case PW_EV_READ:
	case PW_EV_WRITE:
		return access(s, e);
	case PW_EV_MAP:
		return map(s, e);
	case PW_EV_PROTECT:
	case PW_EV_UNMAP:
		return pte_change(s, e);
	case PW_EV_INVLPG: {
		uint64_t va;
		enum pw_page page;
		uint64_t *m;

		if (!s->have_space || canonical(s, e->va, &va))
			return hv_err_set("i %#llx: no address space yet, or not canonical",
					  (unsigned long long)e->va);
		invlpg(s, va);
		if (s->mode != PW_SHADOW)
			return 0;
		take_exit(s, PW_X_INVLPG);
		m = find_mapping(s, va, &page);
		if (m) {                     /* the exit resynchronises the entry */
			enum pw_page eff = page < s->cfg.host_page ? page : s->cfg.host_page;
			uint64_t *mine = pw_map_get(&s->epochs, map_key(s->asid, page, va));

			if (mine && pw_map_put(&s->pieces, map_key(s->asid, eff, va), *mine))
				return hv_err_set("ptwalk-sim: out of memory");
		}
		return 0;
	}
	case PW_EV_FAULT:
		s->st.guest_faults++;
		s->st.guest_cycles += s->cfg.lat.guest_fault;
		if (s->mode == PW_SHADOW)
			take_exit(s, PW_X_PF);
		return 0;
	case PW_EV_SWITCH:
		return switch_to(s, e->asid);
	case PW_EV_DROP:
		return drop(s, e->asid);
	case PW_EV_BEGIN:
		s->mark = s->st;
		s->marked = 1;
		return 0;
	}
	return hv_err_set("event kind '%c' unknown", e->kind);
}

int pw_sim_run(struct pw_sim *s, const struct pw_trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (pw_sim_event(s, &t->ev[i])) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", hv_err_msg());
			if (t->ev[i].line)
				return hv_err_set("line %u: %s", t->ev[i].line, msg);
			return hv_err_set("event %zu: %s", i + 1, msg);
		}
	return 0;
}
