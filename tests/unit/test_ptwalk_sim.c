/* ptwalk-sim's model against hand-computed figures: the references of cold 1-D and
 * 2-D walks (4 native, 24 for 4x4 nested, 35 for 5x5, fewer with large pages), what
 * the walk caches save on a neighbouring page, LRU hit/miss sequences of a tiny TLB,
 * the exits of each mode for one page's map-touch-unmap, and traces and settings that
 * must be refused with the line and what to do. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "ptwalk.h"

/* ---- helpers ---- */

static int parse_text(struct pw_trace *t, const char *text)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	assert_non_null(f);
	r = pw_trace_read(t, f, "test.trace");
	fclose(f);
	return r;
}

/* Runs a trace text under mode; the stats are copied out. */
static void run_text(const struct pw_config *c, enum pw_mode mode, const char *text,
		     struct pw_stats *out)
{
	struct pw_trace t;
	struct pw_sim *s;

	assert_int_equal(parse_text(&t, text), 0);
	s = pw_sim_new(c, mode);
	assert_non_null(s);
	if (pw_sim_run(s, &t))
		fail_msg("simulation failed: %s", hv_err_msg());
	*out = *pw_sim_stats(s);
	pw_sim_free(s);
	pw_trace_free(&t);
}

/* Bhargava et al.'s reference counts are those of walks that reuse nothing: the walk
 * caches and the nested TLB off. (With them on, even a first walk reuses host entries
 * between its own steps: test_first_walk_reuses_its_own_host_entries.) */
static void no_walk_caches(struct pw_config *c)
{
	for (int k = 0; k <= PW_MAX_LEVELS; k++)
		c->pwc[k] = c->nested_pwc[k] = 0;
	c->nested_tlb.entries = 0;
}

/* One access to a freshly mapped page: every cache is cold. */
static const char one_access_4k[] =
	"ptwalk-trace 1\n"
	"c 1\n"
	"m 40000000 100000 4k\n"
	"r 40000008\n";

static const char one_access_2m[] =
	"ptwalk-trace 1\n"
	"c 1\n"
	"m 40000000 200000 2m\n"
	"r 40000008\n";

/* ---- cold walks ---- */

static void test_cold_native_is_four(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_NATIVE, one_access_4k, &st);
	assert_int_equal(st.l2_misses, 1);
	assert_int_equal(st.walk_refs, 4);           /* PML4E, PDPTE, PDE, PTE */
	run_text(&c, PW_SHADOW, one_access_4k, &st);
	assert_int_equal(st.walk_refs, 4);           /* the shadow table has the same shape */
	assert_int_equal(pw_cold_walk_refs(&c, PW_NATIVE, PW_4K), 4);
}

static void test_cold_nested_4x4_is_24(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	no_walk_caches(&c);
	run_text(&c, PW_NESTED, one_access_4k, &st);
	/* 4 guest entries, each after a 4-reference host walk of its table's gPA, and a
	 * last host walk for the data's gPA: 4 * 4 + 4 + 4 */
	assert_int_equal(st.walk_refs, 24);
	assert_int_equal(st.walk_refs_guest, 4);
	assert_int_equal(st.walk_refs_host, 20);
	assert_int_equal(pw_cold_walk_refs(&c, PW_NESTED, PW_4K), 24);
}

static void test_cold_nested_5x5_is_35(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	no_walk_caches(&c);
	c.guest_levels = c.host_levels = 5;
	run_text(&c, PW_NESTED, one_access_4k, &st);
	assert_int_equal(st.walk_refs, 35);          /* 5 * 5 + 5 + 5 */
	assert_int_equal(st.walk_refs_guest, 5);
	run_text(&c, PW_NATIVE, one_access_4k, &st);
	assert_int_equal(st.walk_refs, 5);
}

static void test_cold_walks_with_2m_pages(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	no_walk_caches(&c);
	/* a 2 MiB guest page ends the guest walk at the PDE: n = 3 */
	run_text(&c, PW_NATIVE, one_access_2m, &st);
	assert_int_equal(st.walk_refs, 3);
	run_text(&c, PW_NESTED, one_access_2m, &st);
	assert_int_equal(st.walk_refs, 19);          /* 3 * 4 + 3 + 4 */
	/* shadow on 4 KiB host pages splinters the page: a 4-level shadow walk */
	run_text(&c, PW_SHADOW, one_access_2m, &st);
	assert_int_equal(st.walk_refs, 4);
	/* 2 MiB host pages too: m = 3 */
	c.host_page = PW_2M;
	run_text(&c, PW_NESTED, one_access_2m, &st);
	assert_int_equal(st.walk_refs, 15);          /* 3 * 3 + 3 + 3 */
	run_text(&c, PW_SHADOW, one_access_2m, &st);
	assert_int_equal(st.walk_refs, 3);
	/* 4 KiB guest pages on 2 MiB host pages */
	run_text(&c, PW_NESTED, one_access_4k, &st);
	assert_int_equal(st.walk_refs, 19);          /* 4 * 3 + 4 + 3 */
	assert_int_equal(pw_cold_walk_refs(&c, PW_NESTED, PW_2M), 15);
	assert_int_equal(pw_cold_walk_refs(&c, PW_NESTED, PW_1G), 11);  /* 2 * 3 + 2 + 3 */
}

/* ---- warm walks ---- */

static const char two_neighbours[] =
	"ptwalk-trace 1\n"
	"c 1\n"
	"m 40000000 100000 4k\n"
	"m 40001000 101000 4k\n"
	"r 40000000\n"
	"r 40001000\n";

static void test_walk_caches_shorten_the_second_walk(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_NATIVE, two_neighbours, &st);
	assert_int_equal(st.l2_misses, 2);
	assert_int_equal(st.walk_refs, 4 + 1);       /* the PDE cache leaves the PTE */
	run_text(&c, PW_NESTED, two_neighbours, &st);
	/* second walk: the guest PDE cache gives the PT page's host address (1 guest
	 * reference, no host walk for the table); the data's gPA is in the same 2 MiB
	 * as the first page's, so the host PDE cache leaves 1 host reference */
	assert_int_equal(st.walk_refs, 15 + 2);      /* the first: the test below */
	/* without walk caches and nested TLB, every walk is a full 2-D walk */
	no_walk_caches(&c);
	run_text(&c, PW_NESTED, two_neighbours, &st);
	assert_int_equal(st.walk_refs, 48);
	run_text(&c, PW_NATIVE, two_neighbours, &st);
	assert_int_equal(st.walk_refs, 8);
}

static void test_first_walk_reuses_its_own_host_entries(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_NESTED, one_access_4k, &st);
	/* the guest's four table pages sit side by side in guest-physical memory: the
	 * root's host walk takes 4 references, the next three tables 1 each (the host
	 * PDE cache holds their 2 MiB region), the data frame lies elsewhere (4): 4 guest
	 * + 4 + 3 + 4 host = 15 */
	assert_int_equal(st.walk_refs_guest, 4);
	assert_int_equal(st.walk_refs_host, 11);
	/* 5x5: the data frame now shares the root's PML5E (both below 2^48): 5 guest +
	 * 5 + 4 + 4 host = 18 */
	c.guest_levels = c.host_levels = 5;
	run_text(&c, PW_NESTED, one_access_4k, &st);
	assert_int_equal(st.walk_refs, 18);
}

static void test_uncached_walk_latency_ratio(void **state)
{
	struct pw_config c;
	struct pw_stats n, x;

	(void)state;
	pw_config_default(&c);
	no_walk_caches(&c);
	run_text(&c, PW_NATIVE, one_access_4k, &n);
	run_text(&c, PW_NESTED, one_access_4k, &x);
	/* native: 3 upper entries (10) + the leaf (50) = 80; nested: the guest's 80, 16
	 * hot references for its 4 tables' gPAs (160), and the data's host walk 80 = 320:
	 * 4.0x, inside Bhargava et al.'s 3.9-4.6x for uncached 2-D walks */
	assert_int_equal(n.walk_cycles, 80);
	assert_int_equal(x.walk_cycles, 320);
}

/* ---- TLB sequences ---- */

static void tiny_tlb(struct pw_config *c, unsigned l1, unsigned l2)
{
	pw_config_default(c);
	c->l1_tlb[PW_4K] = (struct pw_geom){ l1, 0 };
	c->l2_tlb = (struct pw_geom){ l2, 0 };
}

static void test_tiny_tlb_lru_sequence(void **state)
{
	static const char head[] =
		"ptwalk-trace 1\nc 1\n"
		"m 40000000 100000 4k\nm 40001000 101000 4k\nm 40002000 102000 4k\n";
	/* A B A C B A through a 2-entry LRU TLB: miss miss hit miss(evicts B)
	 * miss(evicts A) miss(evicts C) */
	static const uint64_t pages[] = { 0, 1, 0, 2, 1, 0 };
	static const int miss[] = { 1, 1, 0, 1, 1, 1 };
	struct pw_config c;
	struct pw_trace t;
	struct pw_sim *s;
	uint64_t before;

	(void)state;
	tiny_tlb(&c, 2, 0);
	assert_int_equal(parse_text(&t, head), 0);
	s = pw_sim_new(&c, PW_NATIVE);
	assert_non_null(s);
	assert_int_equal(pw_sim_run(s, &t), 0);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		struct pw_event e = { .kind = PW_EV_READ, .va = 0x40000000 + pages[i] * 4096 };

		before = pw_sim_stats(s)->l1_misses;
		assert_int_equal(pw_sim_event(s, &e), 0);
		assert_int_equal(pw_sim_stats(s)->l1_misses - before, (uint64_t)miss[i]);
	}
	assert_int_equal(pw_sim_stats(s)->l2_misses, 5);   /* no L2: every miss walks */
	pw_sim_free(s);
	pw_trace_free(&t);
}

static void test_l2_tlb_catches_l1_evictions(void **state)
{
	static const char text[] =
		"ptwalk-trace 1\nc 1\n"
		"m 40000000 100000 4k\nm 40001000 101000 4k\n"
		"r 40000000\nr 40001000\nr 40000000\nr 40001000\n";
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	tiny_tlb(&c, 1, 4);
	run_text(&c, PW_NATIVE, text, &st);
	assert_int_equal(st.l1_misses, 4);           /* one L1 entry: A and B take turns */
	assert_int_equal(st.l2_misses, 2);           /* the L2 keeps both after the first */
	assert_int_equal(st.l2_hit_cycles, 2 * c.lat.l2_tlb_hit);
}

static void test_cr3_write_flushes_without_pcid(void **state)
{
	static const char text[] =
		"ptwalk-trace 1\nc 1\nm 40000000 100000 4k\nr 40000000\n"
		"c 2\nm 40000000 200000 4k\nr 40000000\n"
		"c 1\nr 40000000\n";
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_NATIVE, text, &st);
	assert_int_equal(st.l2_misses, 3);
	assert_int_equal(st.walk_refs, 12);          /* the walk caches are flushed too */
	c.pcid = 1;
	run_text(&c, PW_NATIVE, text, &st);
	assert_int_equal(st.l2_misses, 2);           /* space 1's entry survives */
}

static void test_splintered_large_page_needs_more_tlb_entries(void **state)
{
	static const char text[] =
		"ptwalk-trace 1\nc 1\nm 40000000 200000 2m\nr 40000000\nr 40001000\n";
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_NATIVE, text, &st);
	assert_int_equal(st.l2_misses, 1);           /* one 2 MiB entry covers both */
	run_text(&c, PW_NESTED, text, &st);
	assert_int_equal(st.l2_misses, 2);           /* 4 KiB host pages: two entries */
}

/* ---- exits per mode ---- */

/* One page of ptchurn: the fault, the handler's PTE write, the touch, the unmap and
 * its invlpg. */
static const char churn_one[] =
	"ptwalk-trace 1\nc 1\nb\n"
	"f 40000000\nm 40000000 100000 4k\nw 40000000\nu 40000000\ni 40000000\n";

static void test_exits_of_one_churned_page(void **state)
{
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_NATIVE, churn_one, &st);
	assert_int_equal(pw_stats_exits(&st), 0);
	assert_int_equal(st.pte_updates, 2);
	/* unsync (KVM): #PF intercepted, hidden fault to fill the entry, invlpg
	 * intercepted; the leaf PTE writes do not trap, but linking the new tables into
	 * the root does (the VMM shadows the root since the CR3 write); plus the CR3 write */
	run_text(&c, PW_SHADOW, churn_one, &st);
	assert_int_equal(st.exits[PW_X_PF], 1);
	assert_int_equal(st.exits[PW_X_FILL], 1);
	assert_int_equal(st.exits[PW_X_INVLPG], 1);
	assert_int_equal(st.exits[PW_X_PTE_TRAP], 1);
	assert_int_equal(st.exits[PW_X_CR3], 1);
	/* trap (VMware-style write-protected tables): both leaf PTE writes trap too, and
	 * the emulation installs the entry, so no fill */
	c.shadow_policy = PW_SHADOW_TRAP;
	run_text(&c, PW_SHADOW, churn_one, &st);
	assert_int_equal(st.exits[PW_X_PTE_TRAP], 1 + 2);
	assert_int_equal(st.exits[PW_X_FILL], 0);
	assert_int_equal(pw_stats_exits(&st), 3 + 1 + 1 + 1);
	/* nested: only first touches of guest-physical pages: the root table, the three
	 * tables the mapping needs, the data frame */
	run_text(&c, PW_NESTED, churn_one, &st);
	assert_int_equal(st.exits[PW_X_NPF], 5);
	assert_int_equal(pw_stats_exits(&st), 5);
}

/* A table page freed with its address space and reused by the next one is still
 * shadowed: the guest's zeroing of it traps shadow_flood_writes times before the VMM
 * drops the shadow page; then writes to it are free. */
static void test_reused_shadowed_table_floods(void **state)
{
	static const char text[] =
		"ptwalk-trace 1\nc 1\n"
		"c 2\nm 40000000 100000 4k\nr 40000000\n"   /* fill: 2's tables shadowed */
		"c 1\nk 2\n"
		"c 3\nm 40000000 200000 4k\n";             /* 3 reuses 2's four tables */
	struct pw_config c;
	struct pw_stats st;

	(void)state;
	pw_config_default(&c);
	run_text(&c, PW_SHADOW, text, &st);
	/* 2: one trap linking its tables into its shadowed root. 3: its root and three
	 * tables, all reused and still shadowed: 4 x 3 flood traps, 4 shadow pages
	 * dropped; the root is shadowed again when CR3 loads it, so linking the new
	 * table into it traps once more */
	assert_int_equal(st.shadow_zaps, 4);
	assert_int_equal(st.exits[PW_X_PTE_TRAP], 1 + 4 * 3 + 1);
	c.shadow_flood_writes = 0;
	run_text(&c, PW_SHADOW, text, &st);
	assert_int_equal(st.exits[PW_X_PTE_TRAP], 1 + 1);
	run_text(&c, PW_NESTED, text, &st);
	assert_int_equal(st.exits[PW_X_PTE_TRAP], 0);
}

static void test_timed_part_starts_at_b(void **state)
{
	struct pw_config c;
	struct pw_trace t;
	struct pw_sim *s;
	struct pw_stats timed;

	(void)state;
	pw_config_default(&c);
	assert_int_equal(parse_text(&t, churn_one), 0);
	s = pw_sim_new(&c, PW_SHADOW);
	assert_non_null(s);
	assert_int_equal(pw_sim_run(s, &t), 0);
	pw_sim_timed_stats(s, &timed);
	assert_int_equal(pw_sim_stats(s)->exits[PW_X_CR3], 1);
	assert_int_equal(timed.exits[PW_X_CR3], 0);  /* before 'b' */
	assert_int_equal(timed.exits[PW_X_PF], 1);
	pw_sim_free(s);
	pw_trace_free(&t);
}

static void test_ptchurn_generator_matches_the_guest(void **state)
{
	struct pw_gen_params p;
	struct pw_trace t = { 0 };
	size_t faults = 0;

	(void)state;
	/* the guest's defaults: 64 iterations x 16 pages x 3 reps = 3,072 faults */
	assert_int_equal(pw_gen_parse("ptchurn", "", &p), 0);
	assert_int_equal(pw_gen("ptchurn", &p, &t), 0);
	for (size_t i = 0; i < t.n; i++)
		faults += t.ev[i].kind == PW_EV_FAULT;
	assert_int_equal(faults, 3072);
	pw_trace_free(&t);
	assert_int_equal(pw_gen_parse("ptchurn", "pages=2,bogus=1", &p), -1);
	assert_non_null(strstr(hv_err_msg(), "bogus"));
	assert_int_equal(pw_gen_parse("memwalk", "page=3m", &p), -1);
	assert_int_equal(pw_gen("nosuch", &p, &t), -1);
}

/* ---- refused input ---- */

static void expect_refused(const char *text, const char *needle)
{
	struct pw_trace t;

	assert_int_equal(parse_text(&t, text), -1);
	if (!strstr(hv_err_msg(), needle))
		fail_msg("message '%s' lacks '%s'", hv_err_msg(), needle);
	assert_null(t.ev);
}

static void test_malformed_traces_are_refused(void **state)
{
	(void)state;
	expect_refused("", "empty");
	expect_refused("r 1000\n", "test.trace:1: the first line must be 'ptwalk-trace 1'");
	expect_refused("ptwalk-trace 1\nc 1\nx 1000\n", "test.trace:3: 'x' is not an event");
	expect_refused("ptwalk-trace 1\nm 1000 2000 3k\n", "test.trace:2: page size '3k'");
	expect_refused("ptwalk-trace 1\nm 1000 2000\n", "test.trace:2: 'm' takes VA GPA SIZE");
	expect_refused("ptwalk-trace 1\nr zz\n", "test.trace:2: 'r' takes one hexadecimal");
	expect_refused("ptwalk-trace 1\nc 70000\n", "test.trace:2: 'c' takes one address-space");
	expect_refused("ptwalk-trace 1\nr 1000 2000\n", "test.trace:2:");
	expect_refused("ptwalk-trace 1\nm 1000 400000000000 4k\n", "2^46");
	expect_refused("ptwalk-trace 1\nb 1\n", "'b' takes no fields");
}

static void test_inconsistent_traces_fail_with_their_line(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "ptwalk-trace 1\nc 1\n# a comment\nr 40000000\n",
		  "line 4: r 0x40000000: not mapped in address space 1" },
		{ "ptwalk-trace 1\nr 40000000\n", "line 2: r 0x40000000: no address space yet" },
		{ "ptwalk-trace 1\nc 1\nm 40000800 100000 4k\n", "line 3: m 0x40000800" },
		{ "ptwalk-trace 1\nc 1\nk 1\n", "line 3: k 1: the current address space" },
		{ "ptwalk-trace 1\nc 1\nu 5000\n", "line 3: u 0x5000: not mapped" },
		{ "ptwalk-trace 1\nc 1\nr 800000000000\n", "not a canonical 48-bit address" },
	};
	struct pw_config c;

	(void)state;
	pw_config_default(&c);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pw_trace t;
		struct pw_sim *s = pw_sim_new(&c, PW_NESTED);

		assert_int_equal(parse_text(&t, cases[i].text), 0);
		assert_int_equal(pw_sim_run(s, &t), -1);
		if (!strstr(hv_err_msg(), cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, hv_err_msg(), cases[i].needle);
		pw_sim_free(s);
		pw_trace_free(&t);
	}
}

static void test_bad_settings_are_refused(void **state)
{
	struct pw_config c;
	char path[] = "/tmp/ptwalk-test-XXXXXX";
	int fd;

	(void)state;
	pw_config_default(&c);
	assert_int_equal(pw_config_set(&c, "l2_tlb", "1536:12"), 0);
	assert_int_equal(pw_config_set(&c, "l2_tlb", "100:12"), -1);   /* 12 does not divide */
	assert_int_equal(pw_config_set(&c, "guest_levels", "3"), -1);
	assert_int_equal(pw_config_set(&c, "nested_pwc_pd", "8"), 0);
	assert_int_equal(c.nested_pwc[2], 8);
	assert_int_equal(pw_config_set(&c, "no_such_key", "1"), -1);
	assert_non_null(strstr(hv_err_msg(), "unknown setting 'no_such_key'"));
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, "# comment\nguest_levels = 5\nref_leaf_cycles 40\n", 46) == 46);
	close(fd);
	assert_int_equal(pw_config_load(&c, path), -1);
	if (!strstr(hv_err_msg(), ":3: expected 'key = value'"))
		fail_msg("message '%s'", hv_err_msg());
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cold_native_is_four),
		cmocka_unit_test(test_cold_nested_4x4_is_24),
		cmocka_unit_test(test_cold_nested_5x5_is_35),
		cmocka_unit_test(test_cold_walks_with_2m_pages),
		cmocka_unit_test(test_walk_caches_shorten_the_second_walk),
		cmocka_unit_test(test_first_walk_reuses_its_own_host_entries),
		cmocka_unit_test(test_uncached_walk_latency_ratio),
		cmocka_unit_test(test_tiny_tlb_lru_sequence),
		cmocka_unit_test(test_l2_tlb_catches_l1_evictions),
		cmocka_unit_test(test_cr3_write_flushes_without_pcid),
		cmocka_unit_test(test_splintered_large_page_needs_more_tlb_entries),
		cmocka_unit_test(test_exits_of_one_churned_page),
		cmocka_unit_test(test_reused_shadowed_table_floods),
		cmocka_unit_test(test_timed_part_starts_at_b),
		cmocka_unit_test(test_ptchurn_generator_matches_the_guest),
		cmocka_unit_test(test_malformed_traces_are_refused),
		cmocka_unit_test(test_inconsistent_traces_fail_with_their_line),
		cmocka_unit_test(test_bad_settings_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
