/* The simulator's configuration: documented defaults, this CPU's TLBs from CPUID, and
 * "key = value" settings from a file or the command line. */
#include <cpuid.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "ptwalk.h"

void pw_config_default(struct pw_config *c)
{
	memset(c, 0, sizeof(*c));
	c->guest_levels = 4;
	c->host_levels = 4;
	c->host_page = PW_4K;
	/* An Intel Skylake-class data TLB (Intel's optimization manual, TLB table): the
	 * L1 4 KiB/2 MiB/1 GiB arrays, the shared L2 (STLB) and its 1 GiB part. */
	c->l1_tlb[PW_4K] = (struct pw_geom){ 64, 4 };
	c->l1_tlb[PW_2M] = (struct pw_geom){ 32, 4 };
	c->l1_tlb[PW_1G] = (struct pw_geom){ 4, 0 };
	c->l2_tlb = (struct pw_geom){ 1536, 12 };
	c->l2_tlb_1g = (struct pw_geom){ 16, 4 };
	/* Walk caches: vendors do not publish their sizes; small fully associative caches
	 * per level, larger near the leaf, in the spirit of Bhargava et al.'s PWC. */
	c->pwc[5] = 2;
	c->pwc[4] = 4;
	c->pwc[3] = 4;
	c->pwc[2] = 32;
	memcpy(c->nested_pwc, c->pwc, sizeof(c->pwc));
	c->nested_tlb = (struct pw_geom){ 32, 0 };
	c->pcid = 0;
	c->shadow_policy = PW_SHADOW_UNSYNC;
	c->shadow_flood_writes = 3;
	c->lat = (struct pw_latency){
		.access = 30, .l2_tlb_hit = 7, .ref_hot = 10, .ref_leaf = 50,
		.pte_trap = 2500, .shadow_fill = 2000, .pf_exit = 1500, .invlpg_exit = 1000,
		.cr3_exit = 1500, .npf_exit = 2500, .guest_fault = 1100, .guest_switch = 2000,
	};
	snprintf(c->tlb_source, sizeof(c->tlb_source), "default (Skylake-class)");
}

/* ---- CPUID ---- */

static unsigned amd_l2_ways(unsigned code, unsigned entries)
{
	static const unsigned ways[16] = { 0, 1, 2, 3, 4, 6, 8, 0, 16, 0, 32, 48, 64, 96, 128, 0 };

	if (code == 0xf)
		return 0;                    /* fully associative */
	return ways[code & 0xf] ? ways[code & 0xf] : entries;
}

static int from_amd(struct pw_config *c)
{
	unsigned a, b, cx, d, max;
	struct pw_config n = *c;

	__cpuid(0x80000000, max, b, cx, d);
	if (max < 0x80000006)
		return hv_err_set("CPUID leaf 0x80000006 (AMD L2 TLB) is absent");
	__cpuid(0x80000005, a, b, cx, d);
	/* L1: entries in bits 23:16, associativity in 31:24 (0xff: fully) */
	if ((b >> 16 & 0xff) == 0)
		return hv_err_set("CPUID 0x80000005 reports no L1 data TLB");
	n.l1_tlb[PW_4K] = (struct pw_geom){ b >> 16 & 0xff, (b >> 24) == 0xff ? 0 : b >> 24 };
	if (a >> 16 & 0xff)
		n.l1_tlb[PW_2M] = (struct pw_geom){ a >> 16 & 0xff,
						    (a >> 24) == 0xff ? 0 : a >> 24 };
	__cpuid(0x80000006, a, b, cx, d);
	/* L2: entries in bits 27:16, an associativity code in 31:28; one array here holds
	 * both sizes, as on Zen, sized by the 4 KiB figure */
	if (b >> 16 & 0xfff)
		n.l2_tlb = (struct pw_geom){ b >> 16 & 0xfff, amd_l2_ways(b >> 28, b >> 16 & 0xfff) };
	int got_1g = 0;

	if (max >= 0x80000019) {
		__cpuid(0x80000019, a, b, cx, d);
		if (a >> 16 & 0xfff)
			n.l1_tlb[PW_1G] = (struct pw_geom){ a >> 16 & 0xfff,
							    amd_l2_ways(a >> 28, a >> 16 & 0xfff) };
		if (b >> 16 & 0xfff)
			n.l2_tlb_1g = (struct pw_geom){ b >> 16 & 0xfff,
							amd_l2_ways(b >> 28, b >> 16 & 0xfff) };
		got_1g = (a | b) >> 16 & 0xfff ? 1 : 0;
	}
	snprintf(n.tlb_source, sizeof(n.tlb_source), "CPUID 0x80000005/6%s (AMD)%s",
		 got_1g ? "/19" : "", got_1g ? "" : "; 1 GiB TLBs not reported: the defaults'");
	if (pw_config_check(&n))
		return -1;
	*c = n;
	return 0;
}

static int from_intel(struct pw_config *c)
{
	unsigned a, b, cx, d, max, subleaves;
	struct pw_config n = *c;
	int found = 0;

	__cpuid(0, max, b, cx, d);
	if (max < 0x18)
		return hv_err_set("CPUID leaf 0x18 (deterministic address translation) is "
				  "absent; leaf 2's descriptors are not decoded: give a --config");
	__cpuid_count(0x18, 0, subleaves, b, cx, d);
	for (unsigned i = 0; i <= subleaves && i < 64; i++) {
		__cpuid_count(0x18, i, a, b, cx, d);
		unsigned type = d & 0x1f, level = d >> 5 & 7, ways = b >> 16;
		unsigned entries = ways * cx;

		if (d >> 8 & 1)
			ways = 0;
		/* data (1), unified (3) or load-only (4) TLBs translate loads */
		if (!(type == 1 || type == 3 || type == 4) || !entries)
			continue;
		found = 1;
		struct pw_geom g = { entries, ways };

		if (level == 1) {
			if (b & 1)
				n.l1_tlb[PW_4K] = g;
			if (b & 2)
				n.l1_tlb[PW_2M] = g;
			if (b & 8)
				n.l1_tlb[PW_1G] = g;
		} else if (level == 2) {
			if (b & 3)
				n.l2_tlb = g;
			if (b & 8)
				n.l2_tlb_1g = g;
		}
	}
	if (!found)
		return hv_err_set("CPUID leaf 0x18 lists no data TLB (a virtual CPU may hide "
				  "it): give a --config");
	snprintf(n.tlb_source, sizeof(n.tlb_source), "CPUID 0x18 (Intel)");
	if (pw_config_check(&n))
		return -1;
	*c = n;
	return 0;
}

int pw_config_from_cpuid(struct pw_config *c)
{
	unsigned max, b, cx, d;
	char vendor[13];

	if (!__get_cpuid(0, &max, &b, &cx, &d))
		return hv_err_set("no CPUID on this CPU");
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &cx, 4);
	vendor[12] = 0;
	if (!strcmp(vendor, "AuthenticAMD") || !strcmp(vendor, "HygonGenuine"))
		return from_amd(c);
	if (!strcmp(vendor, "GenuineIntel"))
		return from_intel(c);
	return hv_err_set("CPU vendor '%s': its TLB leaves are not known here", vendor);
}

/* ---- settings ---- */

static int parse_uint(const char *v, unsigned max, unsigned *out)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > max)
		return -1;
	*out = (unsigned)x;
	return 0;
}

/* "ENTRIES" (fully associative) or "ENTRIES:WAYS" (WAYS 0: fully associative) */
static int parse_geom(const char *v, struct pw_geom *g)
{
	char buf[64], *colon;
	struct pw_geom n = { 0, 0 };

	snprintf(buf, sizeof(buf), "%s", v);
	colon = strchr(buf, ':');
	if (colon)
		*colon = 0;
	if (parse_uint(buf, 1u << 20, &n.entries) ||
	    (colon && parse_uint(colon + 1, 1u << 20, &n.ways)))
		return -1;
	if (n.ways && n.entries % n.ways)
		return -1;
	*g = n;
	return 0;
}

#define LAT(name) { #name "_cycles", offsetof(struct pw_latency, name) }
static const struct {
	const char *key;
	size_t off;
} lat_keys[] = {
	LAT(access), LAT(l2_tlb_hit), LAT(ref_hot), LAT(ref_leaf), LAT(pte_trap),
	LAT(shadow_fill), LAT(pf_exit), LAT(invlpg_exit), LAT(cr3_exit), LAT(npf_exit),
	LAT(guest_fault), LAT(guest_switch),
};

static const char *const level_names[PW_MAX_LEVELS + 1] = {
	NULL, NULL, "pd", "pdpt", "pml4", "pml5"
};

#define KEYS_HELP "guest_levels, host_levels, host_page, l1_tlb_4k, l1_tlb_2m, l1_tlb_1g, " \
	"l2_tlb, l2_tlb_1g, nested_tlb, pwc_{pd,pdpt,pml4,pml5}, " \
	"nested_pwc_{pd,pdpt,pml4,pml5}, pcid, shadow_policy, shadow_flood_writes, and " \
	"*_cycles: access, " \
	"l2_tlb_hit, ref_hot, ref_leaf, pte_trap, shadow_fill, pf_exit, invlpg_exit, " \
	"cr3_exit, npf_exit, guest_fault, guest_switch"

int pw_config_set(struct pw_config *c, const char *key, const char *v)
{
	static const char *const l1_keys[PW_NPAGES] = { "l1_tlb_4k", "l1_tlb_2m", "l1_tlb_1g" };
	unsigned u;

	if (!strcmp(key, "guest_levels") || !strcmp(key, "host_levels")) {
		if (parse_uint(v, 5, &u) || u < 4)
			return hv_err_set("%s = %s: give 4 or 5", key, v);
		*(key[0] == 'g' ? &c->guest_levels : &c->host_levels) = u;
		return 0;
	}
	if (!strcmp(key, "host_page")) {
		if (pw_page_parse(v, &c->host_page))
			return hv_err_set("host_page = %s: give 4k, 2m or 1g", v);
		return 0;
	}
	struct pw_geom *geom = !strcmp(key, "l2_tlb") ? &c->l2_tlb :
			       !strcmp(key, "l2_tlb_1g") ? &c->l2_tlb_1g :
			       !strcmp(key, "nested_tlb") ? &c->nested_tlb : NULL;

	for (int p = 0; p < PW_NPAGES; p++)
		if (!strcmp(key, l1_keys[p]))
			geom = &c->l1_tlb[p];
	if (geom) {
		if (parse_geom(v, geom))
			return hv_err_set("%s = %s: give ENTRIES or ENTRIES:WAYS (WAYS dividing "
					  "ENTRIES; 0 ways or none: fully associative)", key, v);
		if (geom != &c->nested_tlb)
			snprintf(c->tlb_source, sizeof(c->tlb_source), "configured");
		return 0;
	}
	for (int k = 2; k <= PW_MAX_LEVELS; k++) {
		char name[32];

		snprintf(name, sizeof(name), "pwc_%s", level_names[k]);
		int host = !strcmp(key + (strncmp(key, "nested_", 7) ? 0 : 7), name) &&
			   !strncmp(key, "nested_", 7);
		if (strcmp(key, name) && !host)
			continue;
		if (parse_uint(v, 1u << 16, &u))
			return hv_err_set("%s = %s: give a number of entries (0: no cache)", key, v);
		(host ? c->nested_pwc : c->pwc)[k] = u;
		return 0;
	}
	if (!strcmp(key, "shadow_flood_writes")) {
		if (parse_uint(v, 512, &u))
			return hv_err_set("shadow_flood_writes = %s: give 0 to 512", v);
		c->shadow_flood_writes = u;
		return 0;
	}
	if (!strcmp(key, "pcid")) {
		if (parse_uint(v, 1, &u))
			return hv_err_set("pcid = %s: give 0 or 1", v);
		c->pcid = (int)u;
		return 0;
	}
	if (!strcmp(key, "shadow_policy")) {
		if (!strcmp(v, "trap"))
			c->shadow_policy = PW_SHADOW_TRAP;
		else if (!strcmp(v, "unsync"))
			c->shadow_policy = PW_SHADOW_UNSYNC;
		else
			return hv_err_set("shadow_policy = %s: give trap or unsync", v);
		return 0;
	}
	for (size_t i = 0; i < sizeof(lat_keys) / sizeof(lat_keys[0]); i++)
		if (!strcmp(key, lat_keys[i].key)) {
			if (parse_uint(v, 100000000, &u))
				return hv_err_set("%s = %s: give whole cycles", key, v);
			memcpy((char *)&c->lat + lat_keys[i].off, &u, sizeof(u));
			return 0;
		}
	return hv_err_set("unknown setting '%s' (settings: %s)", key, KEYS_HELP);
}

int pw_config_load(struct pw_config *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char line[512];
	unsigned lineno = 0;

	if (!f)
		return hv_err_errno("%s: cannot open the configuration", path);
	while (fgets(line, sizeof(line), f)) {
		char *key, *eq, *v, *end;

		lineno++;
		line[strcspn(line, "#\n")] = 0;
		for (key = line; isspace((unsigned char)*key); key++)
			;
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			fclose(f);
			return hv_err_set("%s:%u: expected 'key = value', got '%.60s'", path,
					  lineno, key);
		}
		for (end = eq; end > key && isspace((unsigned char)end[-1]); end--)
			;
		*end = 0;
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		for (end = v + strlen(v); end > v && isspace((unsigned char)end[-1]); end--)
			;
		*end = 0;
		if (pw_config_set(c, key, v)) {
			char msg[700];

			snprintf(msg, sizeof(msg), "%s", hv_err_msg());
			fclose(f);
			return hv_err_set("%s:%u: %s", path, lineno, msg);
		}
	}
	fclose(f);
	if (pw_config_check(c)) {
		char msg[400];

		snprintf(msg, sizeof(msg), "%s", hv_err_msg());
		return hv_err_set("%s: %s", path, msg);
	}
	return 0;
}

int pw_config_check(const struct pw_config *c)
{
	const struct pw_geom *g[] = { &c->l1_tlb[0], &c->l1_tlb[1], &c->l1_tlb[2], &c->l2_tlb,
				      &c->l2_tlb_1g, &c->nested_tlb };

	if (c->guest_levels < 4 || c->guest_levels > 5 || c->host_levels < 4 ||
	    c->host_levels > 5)
		return hv_err_set("guest_levels and host_levels must be 4 or 5");
	if (c->host_page >= PW_NPAGES)
		return hv_err_set("host_page must be 4k, 2m or 1g");
	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		if (g[i]->ways && g[i]->entries % g[i]->ways)
			return hv_err_set("a TLB of %u entries cannot have %u ways", g[i]->entries,
					  g[i]->ways);
	return 0;
}

static void print_geom(FILE *out, const char *key, struct pw_geom g)
{
	fprintf(out, "%-20s = %u:%u\n", key, g.entries, g.ways);
}

void pw_config_print(const struct pw_config *c, FILE *out)
{
	fprintf(out, "# TLB geometry: %s; ENTRIES:WAYS, 0 ways = fully associative\n",
		c->tlb_source);
	fprintf(out, "%-20s = %u\n%-20s = %u\n%-20s = %s\n", "guest_levels", c->guest_levels,
		"host_levels", c->host_levels, "host_page", pw_page_name(c->host_page));
	print_geom(out, "l1_tlb_4k", c->l1_tlb[PW_4K]);
	print_geom(out, "l1_tlb_2m", c->l1_tlb[PW_2M]);
	print_geom(out, "l1_tlb_1g", c->l1_tlb[PW_1G]);
	print_geom(out, "l2_tlb", c->l2_tlb);
	print_geom(out, "l2_tlb_1g", c->l2_tlb_1g);
	print_geom(out, "nested_tlb", c->nested_tlb);
	for (int k = 2; k <= PW_MAX_LEVELS; k++)
		fprintf(out, "pwc_%-16s = %u\n", level_names[k], c->pwc[k]);
	for (int k = 2; k <= PW_MAX_LEVELS; k++)
		fprintf(out, "nested_pwc_%-9s = %u\n", level_names[k], c->nested_pwc[k]);
	fprintf(out, "%-20s = %d\n%-20s = %s\n%-20s = %u\n", "pcid", c->pcid, "shadow_policy",
		c->shadow_policy == PW_SHADOW_TRAP ? "trap" : "unsync", "shadow_flood_writes",
		c->shadow_flood_writes);
	for (size_t i = 0; i < sizeof(lat_keys) / sizeof(lat_keys[0]); i++) {
		unsigned u;

		memcpy(&u, (const char *)&c->lat + lat_keys[i].off, sizeof(u));
		fprintf(out, "%-20s = %u\n", lat_keys[i].key, u);
	}
}
