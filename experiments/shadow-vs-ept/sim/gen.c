/* Synthetic traces of hvlab's guest workloads, with the page-table work hvlab's guest
 * kernel does for them (hv-minimal/guest/user/, guest/kernel/vm.c): which PTEs it
 * writes, where it takes page faults and issues invlpg, when it switches CR3. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "ptwalk.h"

const char *const pw_workloads[] = { "memwalk", "ptchurn", "forkwait", "ctxswitch", NULL };

#define USER_BASE 0x40000000ull      /* 1 GiB: aligned for every page size */
#define FRAME_BASE 0x40000000ull     /* guest-physical frames from here */

/* Guest-physical frames per page size, reused last-freed first as a kernel's free
 * list does (so a loop that frees and maps again touches the same frames). */
struct frames {
	uint64_t next[PW_NPAGES];
	uint64_t *free[PW_NPAGES];
	size_t nfree[PW_NPAGES], cap[PW_NPAGES];
};

static uint64_t frame_alloc(struct frames *f, enum pw_page p)
{
	if (f->nfree[p])
		return f->free[p][--f->nfree[p]];
	uint64_t size = 1ull << pw_page_shift(p);

	if (!f->next[p])
		f->next[p] = FRAME_BASE + (uint64_t)p * (64ull << 30);  /* one 64 GiB region each */
	f->next[p] = (f->next[p] + size - 1) & ~(size - 1);
	uint64_t a = f->next[p];

	f->next[p] += size;
	return a;
}

static int frame_free(struct frames *f, enum pw_page p, uint64_t a)
{
	if (f->nfree[p] == f->cap[p]) {
		size_t cap = f->cap[p] ? f->cap[p] * 2 : 256;
		uint64_t *n = realloc(f->free[p], cap * sizeof(*n));

		if (!n)
			return hv_err_set("ptwalk-sim: out of memory");
		f->free[p] = n;
		f->cap[p] = cap;
	}
	f->free[p][f->nfree[p]++] = a;
	return 0;
}

static void frames_destroy(struct frames *f)
{
	for (int p = 0; p < PW_NPAGES; p++)
		free(f->free[p]);
}

static int ev(struct pw_trace *t, int kind, uint64_t va, uint64_t gpa, enum pw_page p)
{
	struct pw_event e = { .kind = (uint8_t)kind, .page = (uint8_t)p, .va = va, .gpa = gpa };

	if (kind == PW_EV_SWITCH || kind == PW_EV_DROP)
		e.asid = (uint16_t)va;
	return pw_trace_push(t, &e);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

void pw_gen_defaults(const char *w, struct pw_gen_params *p)
{
	memset(p, 0, sizeof(*p));
	p->page = PW_4K;
	p->seed = 1;
	p->reps = 1;
	p->dirty = 0;
	if (!strcmp(w, "memwalk")) {
		p->ws = 64ull << 20;         /* the guest's default working set */
		p->steps = 1000000;
	} else if (!strcmp(w, "ptchurn")) {
		p->iters = 64;               /* the guest's defaults: 64 x 16 pages, 3 reps */
		p->pages = 16;
		p->reps = 3;
	} else if (!strcmp(w, "forkwait")) {
		p->iters = 200;              /* the guest's 200 pairs */
		p->pages = 16;
		p->dirty = 2;
		p->reps = 3;
	} else if (!strcmp(w, "ctxswitch")) {
		p->iters = 1000;
		p->pages = 4;
		p->reps = 3;
	}
}

static int parse_size(const char *v, uint64_t *out)
{
	char *end;
	uint64_t x;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case 'k': x <<= 10; end++; break;
	case 'm': x <<= 20; end++; break;
	case 'g': x <<= 30; end++; break;
	}
	if (*end)
		return -1;
	*out = x;
	return 0;
}

int pw_gen_parse(const char *w, const char *args, struct pw_gen_params *p)
{
	char buf[512], *save = NULL;
	int cow = -1;

	pw_gen_defaults(w, p);
	if (!args || !*args)
		return 0;
	if (strlen(args) >= sizeof(buf))
		return hv_err_set("%s: arguments too long", w);
	snprintf(buf, sizeof(buf), "%s", args);
	for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		uint64_t v = 0;

		if (!eq)
			return hv_err_set("%s: '%s' is not key=value", w, kv);
		*eq++ = 0;
		if (!strcmp(kv, "page")) {
			if (pw_page_parse(eq, &p->page))
				return hv_err_set("%s: page=%s: give 4k, 2m or 1g", w, eq);
			continue;
		}
		if (parse_size(eq, &v))
			return hv_err_set("%s: %s=%s: give a number (k, m, g suffixes allowed)", w, kv,
					  eq);
		if (!strcmp(kv, "ws"))
			p->ws = v;
		else if (!strcmp(kv, "steps"))
			p->steps = v;
		else if (!strcmp(kv, "iters") || !strcmp(kv, "n"))
			p->iters = v;
		else if (!strcmp(kv, "pages"))
			p->pages = v;
		else if (!strcmp(kv, "dirty"))
			p->dirty = v;
		else if (!strcmp(kv, "reps"))
			p->reps = v;
		else if (!strcmp(kv, "seed"))
			p->seed = v;
		else if (!strcmp(kv, "cow"))
			cow = (int)v;
		else
			return hv_err_set("%s: unknown argument '%s' (ws, steps, iters, pages, dirty, "
					  "reps, seed, page, cow)", w, kv);
	}
	if (cow >= 0 && strcmp(w, "forkwait"))
		return hv_err_set("%s: cow= is forkwait's", w);
	if (cow > 1)
		return hv_err_set("forkwait: cow=%d: give 0 (copy, hvlab's default) or 1", cow);
	if (cow == 1)
		p->cow = 1;
	if (!p->reps || p->reps > 1000)
		return hv_err_set("%s: reps must be 1..1000", w);
	return 0;
}

/* memwalk: the working set is mapped up front and written once (the chain is built),
 * then a random chase reads one 64-byte slot per step. */
static int gen_memwalk(const struct pw_gen_params *p, struct pw_trace *t, struct frames *f)
{
	uint64_t size = 1ull << pw_page_shift(p->page), x = p->seed * 0x9e3779b97f4a7c15ull + 7;
	uint64_t npages = (p->ws + size - 1) / size;

	if (p->ws < 4096 || p->ws > (64ull << 30))
		return hv_err_set("memwalk: ws=%llu: give 4 KiB to 64 GiB", (unsigned long long)p->ws);
	if (ev(t, 'c', 1, 0, 0))
		return -1;
	for (uint64_t i = 0; i < npages; i++)
		if (ev(t, 'm', USER_BASE + i * size, frame_alloc(f, p->page), p->page))
			return -1;
	for (uint64_t o = 0; o < p->ws; o += 4096)
		if (ev(t, 'w', USER_BASE + o, 0, 0))
			return -1;
	if (ev(t, 'b', 0, 0, 0))             /* the guest times the chase alone */
		return -1;
	for (uint64_t r = 0; r < p->reps; r++)
		for (uint64_t s = 0; s < p->steps; s++)
			if (ev(t, 'r', USER_BASE + (xorshift(&x) % (p->ws / 64)) * 64, 0, 0))
				return -1;
	return 0;
}

/* ptchurn: each page of the demand area faults in (a zeroed frame mapped), is written
 * and read, and the area is unmapped again (PTE cleared, invlpg) per iteration. */
static int gen_ptchurn(const struct pw_gen_params *p, struct pw_trace *t, struct frames *f)
{
	uint64_t size = 1ull << pw_page_shift(p->page);
	uint64_t *gpa = calloc(p->pages ? p->pages : 1, sizeof(*gpa));
	int r = -1;

	if (!gpa)
		return hv_err_set("ptchurn: out of memory");
	if (!p->pages || !p->iters) {
		hv_err_set("ptchurn: iters and pages must be at least 1");
		goto out;
	}
	if (ev(t, 'c', 1, 0, 0) || ev(t, 'b', 0, 0, 0))
		goto out;
	for (uint64_t rep = 0; rep < p->reps; rep++)
		for (uint64_t it = 0; it < p->iters; it++) {
			for (uint64_t k = 0; k < p->pages; k++) {
				uint64_t va = USER_BASE + k * size;

				gpa[k] = frame_alloc(f, p->page);
				if (ev(t, 'f', va, 0, 0) || ev(t, 'm', va, gpa[k], p->page) ||
				    ev(t, 'w', va, 0, 0) || ev(t, 'r', va + 8, 0, 0))
					goto out;
			}
			for (uint64_t k = 0; k < p->pages; k++) {
				uint64_t va = USER_BASE + k * size;

				if (ev(t, 'u', va, 0, 0) || ev(t, 'i', va, 0, 0) ||
				    frame_free(f, p->page, gpa[k]))
					goto out;
			}
		}
	r = 0;
out:
	free(gpa);
	return r;
}

/* forkwait: the parent (address space 1) forks a child (2) that touches a few pages and
 * exits; the parent waits. cow=0 (hvlab's default) copies every page into fresh frames;
 * cow=1 write-protects the parent's pages, shares them, and breaks the copy on the
 * child's and then the parent's writes. The child's address space is dropped whole. */
static int gen_forkwait(const struct pw_gen_params *p, struct pw_trace *t, struct frames *f)
{
	int cow = p->cow;
	uint64_t dirty = p->dirty, size = 1ull << pw_page_shift(p->page);
	uint64_t *parent = calloc(p->pages ? p->pages : 1, sizeof(*parent));
	uint64_t *child = calloc(p->pages ? p->pages : 1, sizeof(*child));
	int r = -1;

	if (!parent || !child) {
		hv_err_set("forkwait: out of memory");
		goto out;
	}
	if (!p->pages || !p->iters || dirty > p->pages) {
		hv_err_set("forkwait: iters and pages at least 1, dirty at most pages");
		goto out;
	}
	if (ev(t, 'c', 1, 0, 0))
		goto out;
	for (uint64_t k = 0; k < p->pages; k++) {
		parent[k] = frame_alloc(f, p->page);
		if (ev(t, 'm', USER_BASE + k * size, parent[k], p->page) ||
		    ev(t, 'w', USER_BASE + k * size, 0, 0))
			goto out;
	}
	if (ev(t, 'b', 0, 0, 0))
		goto out;
	for (uint64_t rep = 0; rep < p->reps; rep++)
		for (uint64_t it = 0; it < p->iters; it++) {
			if (cow)
				for (uint64_t k = 0; k < p->pages; k++)
					if (ev(t, 'p', USER_BASE + k * size, 0, 0))
						goto out;
			if (ev(t, 'c', 2, 0, 0))
				goto out;
			for (uint64_t k = 0; k < p->pages; k++) {
				child[k] = cow ? parent[k] : frame_alloc(f, p->page);
				if (ev(t, 'm', USER_BASE + k * size, child[k], p->page))
					goto out;
			}
			for (uint64_t k = 0; k < dirty; k++) {
				uint64_t va = USER_BASE + k * size;

				if (cow) {
					child[k] = frame_alloc(f, p->page);
					if (ev(t, 'f', va, 0, 0) || ev(t, 'm', va, child[k], p->page))
						goto out;
				}
				if (ev(t, 'w', va, 0, 0))
					goto out;
			}
			if (ev(t, 'c', 1, 0, 0) || ev(t, 'k', 2, 0, 0))
				goto out;
			for (uint64_t k = 0; k < p->pages; k++)
				if ((!cow || k < dirty) && frame_free(f, p->page, child[k]))
					goto out;
			for (uint64_t k = 0; k < dirty; k++) {
				uint64_t va = USER_BASE + k * size;

				if (cow && (ev(t, 'f', va, 0, 0) || ev(t, 'm', va, parent[k], p->page)))
					goto out;
				if (ev(t, 'w', va, 0, 0))
					goto out;
			}
		}
	r = 0;
out:
	free(parent);
	free(child);
	return r;
}

/* ctxswitch: two address spaces take turns, each touching a few pages per turn. */
static int gen_ctxswitch(const struct pw_gen_params *p, struct pw_trace *t, struct frames *f)
{
	uint64_t size = 1ull << pw_page_shift(p->page);

	if (!p->pages || !p->iters)
		return hv_err_set("ctxswitch: iters and pages must be at least 1");
	for (unsigned as = 1; as <= 2; as++) {
		if (ev(t, 'c', as, 0, 0))
			return -1;
		for (uint64_t k = 0; k < p->pages; k++)
			if (ev(t, 'm', USER_BASE + k * size, frame_alloc(f, p->page), p->page))
				return -1;
	}
	if (ev(t, 'b', 0, 0, 0))
		return -1;
	for (uint64_t rep = 0; rep < p->reps; rep++)
		for (uint64_t it = 0; it < p->iters; it++)
			for (unsigned as = 1; as <= 2; as++) {
				if (ev(t, 'c', as, 0, 0))
					return -1;
				for (uint64_t k = 0; k < p->pages; k++)
					if (ev(t, 'w', USER_BASE + k * size + 64 * (it % 64), 0, 0))
						return -1;
			}
	return 0;
}

int pw_gen(const char *w, const struct pw_gen_params *p, struct pw_trace *t)
{
	struct frames f;
	int r;

	memset(&f, 0, sizeof(f));
	if (!strcmp(w, "memwalk"))
		r = gen_memwalk(p, t, &f);
	else if (!strcmp(w, "ptchurn"))
		r = gen_ptchurn(p, t, &f);
	else if (!strcmp(w, "forkwait"))
		r = gen_forkwait(p, t, &f);
	else if (!strcmp(w, "ctxswitch"))
		r = gen_ctxswitch(p, t, &f);
	else
		r = hv_err_set("unknown workload '%s' (memwalk, ptchurn, forkwait, ctxswitch)", w);
	frames_destroy(&f);
	return r;
}
