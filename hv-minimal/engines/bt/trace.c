/* The page-table trace (hvm run --bt-trace FILE): what the translator sees of the
 * guest's user address spaces, in ptwalk-sim's trace format
 * (experiments/shadow-vs-ept/sim/README.md), for the shadow-against-nested simulator to
 * replay a real workload instead of a synthetic one.
 *
 * The translator sees CR3 loads, writes to the page tables it watches, guest page
 * faults, invlpg, and each page's first touch in a window (a fill): not every memory
 * access, so the trace's r and w events are page touches. A fill of a page whose
 * mapping the trace has not shown yet (its table was written before the translator
 * watched it, as a fresh child's is) first shows the mapping the walk found, so that
 * the trace stays consistent for the simulator. Only the user half is traced. One
 * stream for all vCPUs, under a lock; an address space is shown as its CR3's ASID
 * (1, 2, ... in order of first use), with a c event whenever the stream's current one
 * changes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt.h"
#include "hvlab/err.h"
#include "hvlab/log.h"

#define TRACE_ASIDS 65535u      /* the simulator's limit */
#define USER_END    (1ull << 31)
#define E_P    (1ull << 0)
#define E_RW   (1ull << 1)
#define E_PS   (1ull << 7)
#define E_ADDR(e) ((e) & 0x000ffffffffff000ull)

struct bt_trace {
	FILE *f;
	pthread_mutex_t lock;
	uint64_t *roots;             /* ASID - 1 -> CR3 */
	unsigned nroots;
	unsigned cur;                /* the stream's address space, 0 before any */
	uint64_t *known;             /* open-addressing set of mapped (ASID, page) keys */
	size_t cap, n;
	int full;                    /* ASIDs ran out: tracing stopped */
	uint64_t events;
};

int bt_trace_open(struct bt_vm *vm, const char *path)
{
	struct bt_trace *t = calloc(1, sizeof(*t));

	if (!t)
		return hv_err_errno("allocating the trace recorder");
	t->f = fopen(path, "w");
	if (!t->f) {
		free(t);
		return hv_err_errno("--bt-trace %s: cannot create the file", path);
	}
	pthread_mutex_init(&t->lock, NULL);
	t->cap = 1u << 16;
	t->known = calloc(t->cap, sizeof(*t->known));
	t->roots = calloc(TRACE_ASIDS, sizeof(*t->roots));
	if (!t->known || !t->roots) {
		fclose(t->f);
		free(t->known);
		free(t->roots);
		free(t);
		return hv_err_errno("allocating the trace recorder");
	}
	fprintf(t->f, "ptwalk-trace 1\n# recorded by hvm's bt engine (--bt-trace): page touches, "
		"not every access\n");
	vm->trace = t;
	return 0;
}

void bt_trace_close(struct bt_vm *vm)
{
	struct bt_trace *t = vm->trace;

	if (!t)
		return;
	if (fclose(t->f))
		hv_warn("bt: writing the page-table trace: %s", strerror(errno));
	hv_info("bt: page-table trace: %llu events", (unsigned long long)t->events);
	free(t->known);
	free(t->roots);
	pthread_mutex_destroy(&t->lock);
	free(t);
	vm->trace = NULL;
}

/* ---- the set of mapped pages: key = ASID << 40 | page number << 1 | large ---- */

static size_t slot_of(const struct bt_trace *t, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (t->cap - 1);

	while (t->known[i] && t->known[i] != key)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int known(const struct bt_trace *t, uint64_t key)
{
	return t->known[slot_of(t, key)] == key;
}

static void grow(struct bt_trace *t)
{
	uint64_t *old = t->known;
	size_t n = t->cap;
	uint64_t *neu = calloc(n * 2, sizeof(*neu));

	if (!neu)
		return;                   /* stays full-ish: lookups still end at a 0 */
	t->known = neu;
	t->cap = n * 2;
	for (size_t i = 0; i < n; i++)
		if (old[i])
			t->known[slot_of(t, old[i])] = old[i];
	free(old);
}

static void add(struct bt_trace *t, uint64_t key)
{
	if (known(t, key))
		return;
	if ((t->n + 1) * 2 > t->cap)
		grow(t);
	if ((t->n + 1) * 10 > t->cap * 9)
		return;                   /* out of memory: forget it, a later m shows it */
	t->known[slot_of(t, key)] = key;
	t->n++;
}

static void drop(struct bt_trace *t, uint64_t key)
{
	size_t i = slot_of(t, key);

	if (t->known[i] != key)
		return;
	/* backward-shift deletion keeps every other key reachable */
	t->known[i] = 0;
	t->n--;
	for (size_t j = (i + 1) & (t->cap - 1); t->known[j]; j = (j + 1) & (t->cap - 1)) {
		uint64_t k = t->known[j];
		t->known[j] = 0;
		t->known[slot_of(t, k)] = k;
	}
}

static uint64_t key_of(unsigned asid, uint64_t va, int large)
{
	uint64_t page = large ? va >> 21 : va >> 12;

	return (uint64_t)asid << 40 | page << 1 | (uint64_t)large;
}

/* ---- events ---- */

static unsigned asid_of(struct bt_trace *t, uint64_t cr3)
{
	for (unsigned i = t->nroots; i-- > 0;)
		if (t->roots[i] == cr3)
			return i + 1;
	if (t->nroots == TRACE_ASIDS) {
		if (!t->full++)
			hv_warn("bt: the page-table trace ran out of address-space numbers (%u); "
				"it stops here", TRACE_ASIDS);
		return 0;
	}
	t->roots[t->nroots++] = cr3;
	return t->nroots;
}

/* Makes root the stream's address space; 0 when the trace has stopped. */
static unsigned use(struct bt_trace *t, uint64_t root)
{
	unsigned a = t->full ? 0 : asid_of(t, root);

	if (a && a != t->cur) {
		fprintf(t->f, "c %u\n", a);
		t->cur = a;
		t->events++;
	}
	return a;
}

void bt_trace_cr3(struct bt_vcpu *v, uint64_t cr3)
{
	struct bt_trace *t = v->vm->trace;

	pthread_mutex_lock(&t->lock);
	use(t, cr3);
	pthread_mutex_unlock(&t->lock);
}

void bt_trace_touch(struct bt_vcpu *v, uint64_t va, uint64_t gpa, int large, int write)
{
	struct bt_trace *t = v->vm->trace;
	uint64_t size = large ? 2ull << 20 : BT_PAGE;

	if (va >= USER_END)
		return;
	pthread_mutex_lock(&t->lock);
	unsigned a = use(t, v->cpu.cr3);
	if (a) {
		uint64_t k = key_of(a, va, large);
		if (!known(t, k)) {
			fprintf(t->f, "m %llx %llx %s\n", (unsigned long long)(va & ~(size - 1)),
				(unsigned long long)(gpa & ~(size - 1)), large ? "2m" : "4k");
			add(t, k);
			t->events++;
		}
		fprintf(t->f, "%c %llx\n", write ? 'w' : 'r', (unsigned long long)va);
		t->events++;
	}
	pthread_mutex_unlock(&t->lock);
}

void bt_trace_pte(struct bt_vcpu *v, uint64_t root, uint64_t va, int level, uint64_t old,
		  uint64_t new)
{
	struct bt_trace *t = v->vm->trace;
	int large = level == 2 && (new & E_PS), was_large = level == 2 && (old & E_PS);

	if (va >= USER_END || root == BT_ROOT_SHARED || (level != 1 && !large && !was_large))
		return;
	pthread_mutex_lock(&t->lock);
	unsigned a = use(t, root);
	uint64_t k = key_of(a, va, large || was_large);
	if (!a) {
		/* the trace has stopped */
	} else if ((new & E_P) &&
		   (!(old & E_P) || E_ADDR(old) != E_ADDR(new) || large != was_large)) {
		fprintf(t->f, "m %llx %llx %s\n", (unsigned long long)va,
			(unsigned long long)(E_ADDR(new) & ~((large ? 2ull << 20 : BT_PAGE) - 1)),
			large ? "2m" : "4k");
		add(t, key_of(a, va, large));
		t->events++;
	} else if (!(new & E_P) && (old & E_P) && known(t, k)) {
		fprintf(t->f, "u %llx\n", (unsigned long long)va);
		drop(t, k);
		t->events++;
	} else if ((new & E_P) && (old & E_RW) && !(new & E_RW) && known(t, k)) {
		fprintf(t->f, "p %llx\n", (unsigned long long)va);
		t->events++;
	}
	pthread_mutex_unlock(&t->lock);
}

void bt_trace_simple(struct bt_vcpu *v, char event, uint64_t va)
{
	struct bt_trace *t = v->vm->trace;

	if (va >= USER_END)
		return;
	pthread_mutex_lock(&t->lock);
	if (use(t, v->cpu.cr3)) {
		fprintf(t->f, "%c %llx\n", event, (unsigned long long)(va & ~(BT_PAGE - 1)));
		t->events++;
	}
	pthread_mutex_unlock(&t->lock);
}
