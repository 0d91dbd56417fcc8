/* Guest memory as the guest's own page tables describe it: the 4-level walk (with
 * accessed/dirty bits, U/S, R/W with CR0.WP, NX, SMEP/SMAP), copies to and from guest
 * virtual memory for the call-outs, and the shadow side: filling a window page after
 * a host fault, and dropping window pages on invlpg and CR3 loads. */
#include <string.h>

#include "bt.h"
#include "hvlab/err.h"
#include "hvlab/log.h"

#define CR0_PG  (1ull << 31)
#define CR0_WP  (1ull << 16)
#define CR4_SMEP (1ull << 20)
#define CR4_SMAP (1ull << 21)
#define EFER_NXE (1ull << 11)
#define RFLAGS_AC (1ull << 18)

const struct bt_memslot *bt_gpa_slot(struct bt_vm *vm, uint64_t gpa)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		const struct bt_memslot *s = &vm->slot[i];

		if (gpa >= s->gpa && gpa - s->gpa < s->size)
			return s;
	}
	return NULL;
}

void *bt_gpa_ptr(struct bt_vm *vm, uint64_t gpa, uint64_t len)
{
	const struct bt_memslot *s = bt_gpa_slot(vm, gpa);

	if (!s || len > s->size - (gpa - s->gpa))
		return NULL;
	return s->host + (gpa - s->gpa);
}

static int walk_fault(struct bt_walk *w, unsigned access, int present, uint32_t extra,
		      int nx_enabled)
{
	w->pf_error = (present ? BT_PF_P : 0) | ((access & BT_ACC_WRITE) ? BT_PF_W : 0) |
		      ((access & BT_ACC_USER) ? BT_PF_U : 0) | extra;
	if ((access & BT_ACC_FETCH) && nx_enabled)
		w->pf_error |= BT_PF_I;
	return 1;
}

/* An out-of-sync table (unsync.c) is watched again: write-protected on every vCPU. */
static void watch_again(struct bt_vcpu *v, struct bt_pinfo *pi, uint64_t table)
{
	if (!(pi->flags & BT_PG_UNSYNC))
		return;
	bt_unsync_drop(v->vm, pi, table);
	bt_protect_page(v, table);
	bt_xreq_protect(v, table);
}

/* A page-table page met on a walk at level (4: PML4 .. 1: PT) for va: from now on its
 * writes trap (protect.c). */
static void note_table(struct bt_vcpu *v, uint64_t table, int level, uint64_t va)
{
	struct bt_pinfo *pi = bt_pinfo(v->vm, table);
	uint64_t base = level >= 4 ? 0 : va & ~((1ull << (12 + 9 * level)) - 1);
	uint64_t root = v->cpu.cr3 & PTE_ADDR;

	if (!pi)
		return;
	if (!(pi->flags & BT_PG_PT)) {
		pi->flags |= BT_PG_PT;
		pi->level = (uint8_t)level;
		pi->va_base = base;
		pi->multi = 0;
		pi->root = root;
		bt_protect_page(v, table);
		bt_xreq_protect(v, table);
		return;
	}
	if (pi->level == level && pi->va_base == base) {
		/* the kernel half's tables are every address space's */
		if (pi->root != root)
			pi->root = BT_ROOT_SHARED;
	} else if (pi->root != root && pi->root != BT_ROOT_SHARED) {
		/* a page table of an address space that is gone, now another one's: what the
		 * old one's pairs mapped through it goes (they may be cached still) */
		if (pi->multi || pi->level >= 4)
			bt_inval_all_vcpus(v, pi->root, 0, BT_INVAL_ALL);
		else
			bt_inval_all_vcpus(v, pi->root, pi->va_base, 1ull << (12 + 9 * pi->level));
		pi->level = (uint8_t)level;
		pi->va_base = base;
		pi->multi = 0;
		pi->root = root;
		watch_again(v, pi, table);      /* another table now */
	} else {
		pi->multi = 1;
		watch_again(v, pi, table);      /* its writes are seen as they happen */
	}
}

int bt_walk(struct bt_vcpu *v, uint64_t va, unsigned access, struct bt_walk *w)
{
	const struct bt_cpu *c = &v->cpu;
	int nxe = (c->efer & EFER_NXE) != 0;
	int smep = (c->cr4 & CR4_SMEP) != 0;
	uint64_t table = c->cr3 & PTE_ADDR, *ptes[4];
	int rw = 1, us = 1, nx = 0, n = 0;
	uint64_t pte = 0, gpa = 0;

	memset(w, 0, sizeof(*w));
	if (!(c->cr0 & CR0_PG)) {
		w->gpa = va;
		w->writable = w->rw = w->user = w->dirty = 1;
		return 0;
	}
	if ((int64_t)va >> 47 != 0 && (int64_t)va >> 47 != -1) {
		w->noncanonical = 1;
		return 1;
	}
	for (int shift = 39; shift >= 12; shift -= 9) {
		uint64_t *p = bt_gpa_ptr(v->vm, table + ((va >> shift) & 511) * 8, 8);

		if (p)
			note_table(v, table, (shift - 12) / 9 + 1, va);
		if (!p) {
			hv_err_set("the guest page table at guest-physical %#llx (for address "
				   "%#llx, CR3 %#llx) lies outside guest memory",
				   (unsigned long long)table, (unsigned long long)va,
				   (unsigned long long)c->cr3);
			return -1;
		}
		pte = __atomic_load_n(p, __ATOMIC_RELAXED);
		if (!(pte & PTE_P))
			return walk_fault(w, access, 0, 0, nxe || smep);
		if ((pte & PTE_NX) && !nxe)
			return walk_fault(w, access, 1, BT_PF_RSVD, nxe || smep);
		ptes[n++] = p;
		rw &= (pte & PTE_W) != 0;
		us &= (pte & PTE_U) != 0;
		nx |= nxe && (pte & PTE_NX);
		if (shift == 39 && (pte & PTE_PS))
			return walk_fault(w, access, 1, BT_PF_RSVD, nxe || smep);
		if ((shift == 30 || shift == 21) && (pte & PTE_PS)) {
			uint64_t size = 1ull << shift;

			gpa = (pte & PTE_ADDR & ~(size - 1)) | (va & (size - 1));
			w->large = 1;
			break;
		}
		table = pte & PTE_ADDR;
		if (shift == 12)
			gpa = table | (va & 0xfff);
	}
	if ((access & BT_ACC_USER) && !us)
		return walk_fault(w, access, 1, 0, nxe || smep);
	if ((access & BT_ACC_WRITE) && !rw && ((access & BT_ACC_USER) || (c->cr0 & CR0_WP)))
		return walk_fault(w, access, 1, 0, nxe || smep);
	if ((access & BT_ACC_FETCH) && (nx || (!(access & BT_ACC_USER) && us && smep)))
		return walk_fault(w, access, 1, 0, nxe || smep);
	if (!(access & (BT_ACC_USER | BT_ACC_FETCH)) && us && (c->cr4 & CR4_SMAP) &&
	    !(c->vflags & RFLAGS_AC))
		return walk_fault(w, access, 1, 0, nxe || smep);
	/* The walk succeeded: accessed bits on every level, dirty on the leaf for a write,
	 * as the hardware sets them. */
	for (int i = 0; i < n; i++)
		if (!(__atomic_load_n(ptes[i], __ATOMIC_RELAXED) & PTE_A))
			__atomic_fetch_or(ptes[i], PTE_A, __ATOMIC_RELAXED);
	if ((access & BT_ACC_WRITE) && !(pte & PTE_D)) {
		__atomic_fetch_or(ptes[n - 1], PTE_D, __ATOMIC_RELAXED);
		pte |= PTE_D;
	}
	w->gpa = gpa;
	w->writable = rw || (!(access & BT_ACC_USER) && !(c->cr0 & CR0_WP));
	w->rw = rw;
	w->user = us;
	w->nx = nx;
	w->dirty = (pte & PTE_D) != 0;
	w->global = (pte & PTE_G) != 0;
	return 0;
}

static unsigned cpl_access(const struct bt_vcpu *v, unsigned access)
{
	if (access & BT_ACC_IMPLICIT)
		return access & ~(BT_ACC_IMPLICIT | BT_ACC_USER);
	return access | (v->cpu.cpl == 3 ? BT_ACC_USER : 0);
}

/* Copies len bytes between guest virtual va and buf, page by page. */
static int vcopy(struct bt_vcpu *v, uint64_t va, void *buf, size_t len, unsigned access,
		 int write)
{
	uint8_t *b = buf;

	access = cpl_access(v, access | (write ? BT_ACC_WRITE : 0));
	while (len) {
		struct bt_walk w;
		size_t chunk = BT_PAGE - (va & (BT_PAGE - 1));
		uint8_t *p;
		int r;

		if (chunk > len)
			chunk = len;
		r = bt_walk(v, va, access, &w);
		if (r < 0)
			return -1;
		if (r > 0) {
			if (w.noncanonical)
				bt_raise(v, 13, 1, 0);
			else
				bt_raise_pf(v, va, w.pf_error);
			return 1;
		}
		p = bt_gpa_ptr(v->vm, w.gpa, chunk);
		if (!p)
			return hv_err_set("a call-out accessed guest address %#llx, which maps "
					  "guest-physical %#llx outside memory (device memory is "
					  "not reachable from this instruction)",
					  (unsigned long long)va, (unsigned long long)w.gpa);
		if (write)
			memcpy(p, b, chunk);
		else
			memcpy(b, p, chunk);
		b += chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}

int bt_vread(struct bt_vcpu *v, uint64_t va, void *dst, size_t len, unsigned access)
{
	return vcopy(v, va, dst, len, access, 0);
}

int bt_vwrite(struct bt_vcpu *v, uint64_t va, const void *src, size_t len, unsigned access)
{
	return vcopy(v, va, (void *)src, len, access, 1);
}

static void mark_large(struct bt_window *w, uint64_t off)
{
	uint64_t r = off >> 21;

	w->large[r / 64] |= 1ull << (r % 64);
}

static uint64_t live_pages(const struct bt_vcpu *v)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < 2 * BT_WCACHE; i++)
		n += v->wins[i].live;
	return n;
}

/* What the other vCPUs' windows hold, as they last published it: a count published
 * before a flush is too high, which only makes this one flush early. */
static uint64_t others_live(const struct bt_vcpu *v)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < v->vm->nr_vcpus; i++) {
		const struct bt_vcpu *o = v->vm->vcpus[i];

		if (o && o != v)
			n += __atomic_load_n(&o->live_pub, __ATOMIC_RELAXED);
	}
	return n;
}

static void publish_live(struct bt_vcpu *v)
{
	__atomic_store_n(&v->live_pub, live_pages(v), __ATOMIC_RELAXED);
}

/* Empties pair i: its user halves, and its kernel halves too (kernel_too, or when they
 * hold non-global pages, which a CR3 load drops). */
static void flush_pair(struct bt_vcpu *v, unsigned i, int kernel_too)
{
	for (int k = 0; k < 2; k++) {
		struct bt_window *w = &v->wins[2 * i + k];
		int all = kernel_too || w->upper_nonglobal;

		bt_window_unmap(w, 0, all ? BT_WIN_SIZE : (1ull << 31));
		if (all) {
			memset(w->large, 0, sizeof(w->large));
			w->upper_nonglobal = 0;
		} else {
			memset(w->large, 0, sizeof(w->large) / 2);
		}
	}
}

/* Every window empty: the reverse map starts again, complete. */
static void rmap_if_empty(struct bt_vcpu *v)
{
	if (!live_pages(v))
		bt_rmap_clear(v);
}

/* Whether the guest 2 MiB page holding gpa (whose 4 KiB page is at memfd offset foff)
 * can take one host mapping: the whole 2 MiB in slot s, 2 MiB-aligned in the memfd,
 * and no page of it translated code or a page table (those stay 4 KiB mappings, so
 * that their writes trap). */
static int large_fill_ok(struct bt_vcpu *v, const struct bt_memslot *s, uint64_t gpa, off_t foff)
{
	const uint64_t size = 2ull << 20;
	uint64_t gbase = gpa & ~(size - 1);

	if (gbase < s->gpa || gbase + size > s->gpa + s->size ||
	    ((uint64_t)foff - (gpa & (size - BT_PAGE))) % size)
		return 0;
	for (uint64_t a = gbase; a < gbase + size; a += BT_PAGE) {
		const struct bt_pinfo *pi = bt_pinfo(v->vm, a);

		if (pi && (pi->flags & (BT_PG_CODE | BT_PG_PT)))
			return 0;
	}
	return 1;
}

int bt_shadow_fill(struct bt_vcpu *v, uint64_t off, int write)
{
	/* LAB 2 BEGIN: shadow-fill */
	struct bt_window *win = bt_cur_window(v);
	uint64_t va = (uint64_t)bt_sext32(off), page = off & ~(BT_PAGE - 1);
	const struct bt_memslot *s;
	const struct bt_pinfo *pi;
	struct bt_walk w;
	int protected, writable;
	off_t foff;
	int r = bt_walk(v, va, cpl_access(v, write ? BT_ACC_WRITE : 0), &w);

	if (r < 0)
		return -1;
	if (r > 0) {
		bt_raise_pf(v, va, w.pf_error);
		return 1;
	}
	s = bt_gpa_slot(v->vm, w.gpa);
	pi = bt_pinfo(v->vm, w.gpa);
	protected = bt_pg_watched(pi);
	/* The shared layout's one window serves both CPLs: user-mode code addresses the
	 * kernel half where nothing is mapped (its page is reached by emulation, if its
	 * walk allows), and the user half holds only pages user mode may touch, with
	 * user-mode rights (a supervisor page there, or a write CR0.WP=0 allows only the
	 * kernel, is emulated). */
	if (v->shared && (bt_kmode(v) ? page < (1ull << 31) && !w.user : page >= (1ull << 31)))
		s = NULL;
	if (!s || (write && protected) ||
	    (v->shared && page < (1ull << 31) && write && !w.rw)) {
		/* device memory (never mapped), or a write to translated code or to a page
		 * table: the instruction is emulated */
		v->mmio.gpa = w.gpa;
		return 2;
	}
	if (v->vm->trace)
		bt_trace_touch(v, va, w.gpa, w.large, write);
	/* A clean page is mapped read-only so that its first write sets the dirty bit;
	 * a protected page always is. */
	writable = (v->shared && page < (1ull << 31) ? w.rw : w.writable) && w.dirty &&
		   !protected;
	foff = s->offset + (off_t)((w.gpa & ~(BT_PAGE - 1)) - s->gpa);
	/* Each scattered page costs the process up to two mappings, and the kernel allows
	 * vm.max_map_count in all: past the budget (every vCPU's cached pairs together),
	 * this vCPU's other address spaces' pairs are emptied, then its current one. */
	if (live_pages(v) + others_live(v) >= v->vm->map_budget) {
		if (!v->stats.budget_flushes++)
			hv_warn("bt: the vCPUs touch more guest pages than vm.max_map_count lets "
				"them keep mapped (%llu); vCPU %u's windows start afresh each "
				"time (raise the limit, e.g. sysctl vm.max_map_count=1048576)",
				(unsigned long long)v->vm->map_budget, v->index);
		for (unsigned i = 0; i < BT_WCACHE; i++)
			if (i != v->wcur)
				flush_pair(v, i, 1);
		if (live_pages(v) + others_live(v) >= v->vm->map_budget * 3 / 4)
			flush_pair(v, v->wcur, 1);
		rmap_if_empty(v);
		v->stats.window_flushes++;
	}
	if (w.large && page < (1ull << 31) && w.user && large_fill_ok(v, s, w.gpa, foff)) {
		/* a user 2 MiB page, none of it protected: one host mapping for all of it */
		uint64_t base = page & ~((2ull << 20) - 1), gbase = w.gpa & ~((2ull << 20) - 1);

		if (bt_window_map_large(win, base, s->fd, foff - (off_t)(w.gpa & ((2ull << 20) - BT_PAGE)),
					writable))
			return -1;
		for (uint64_t i = 0; writable && i < (2ull << 20); i += BT_PAGE)
			bt_rmap_add(v, gbase + i, (int)(win - v->wins), base + i);
		v->stats.large_maps++;
	} else {
		if (bt_window_map(win, page, s->fd, foff, writable))
			return -1;
		if (writable)
			bt_rmap_add(v, w.gpa, (int)(win - v->wins), page);
	}
	if (w.large)
		mark_large(win, page);
	if (page >= (1ull << 31) && !w.global)
		win->upper_nonglobal = 1;
	v->stats.shadow_fills++;
	publish_live(v);
	return 0;
	/* LAB 2 END: shadow-fill */
}

/* Drops window page off, or its 2 MiB region when a large page filled it. */
static void inval_page(struct bt_window *w, uint64_t off)
{
	uint64_t r = off >> 21;

	if (w->large[r / 64] & (1ull << (r % 64))) {
		w->large[r / 64] &= ~(1ull << (r % 64));
		bt_window_unmap(w, r << 21, 2u << 20);
	} else {
		bt_window_unmap(w, off, BT_PAGE);
	}
}

/* Drops [off, off + len), widened to 2 MiB boundaries (large pages). */
static void inval_range(struct bt_window *w, uint64_t off, uint64_t len)
{
	uint64_t lo = off & ~((2ull << 20) - 1);
	uint64_t hi = (off + len + (2ull << 20) - 1) & ~((2ull << 20) - 1);

	bt_window_unmap(w, lo, hi - lo);
}

/* Drops [off, off + len) of pair i's windows: a page, or a range widened to 2 MiB. */
static void inval_pair(struct bt_vcpu *v, unsigned i, uint64_t off, uint64_t len)
{
	for (int k = 0; k < 2; k++) {
		if (len <= BT_PAGE)
			inval_page(&v->wins[2 * i + k], off);
		else
			inval_range(&v->wins[2 * i + k], off, len);
	}
}

void bt_shadow_inval(struct bt_vcpu *v, uint64_t root, uint64_t va, uint64_t len)
{
	const int64_t half = 1ll << 31;
	int any = root == BT_ROOT_SHARED;
	int64_t lo = (int64_t)va, hi;

	if (len >= BT_INVAL_ALL && any) {
		bt_shadow_flush(v, 1);
		return;
	}
	if (len >= BT_INVAL_ALL) {
		lo = -half;
		len = 2ull << 31;
	}
	/* what a window can hold of it: guest addresses [-2 GiB, 2 GiB) */
	hi = lo + (int64_t)len;
	if (lo < -half)
		lo = -half;
	if (hi > half)
		hi = half;
	if (lo >= hi)
		return;
	for (unsigned i = 0; i < BT_WCACHE; i++) {
		if (!v->wused[i] || (!any && v->wkey[i] != root))
			continue;
		if (hi > 0 && i != v->wcur) {
			/* a user half not in use: its address space is being changed (built,
			 * torn down), it all goes at once and later changes cost nothing */
			for (int k = 0; k < 2; k++) {
				bt_window_unmap(&v->wins[2 * i + k], 0, 1ull << 31);
				memset(v->wins[2 * i + k].large, 0, sizeof(v->wins[0].large) / 2);
			}
		} else if (hi > 0) {                             /* user half */
			int64_t a = lo > 0 ? lo : 0;

			inval_pair(v, i, (uint64_t)a, (uint64_t)(hi - a));
		}
		/* kernel half: a table of one address space changed; the global pages a
		 * cached pair keeps need not follow before an invlpg (they survive CR3
		 * loads on hardware too), the other pages must */
		if (lo < 0 && (any || i == v->wcur || v->wins[2 * i].upper_nonglobal ||
			       v->wins[2 * i + 1].upper_nonglobal)) {
			int64_t b = hi < 0 ? hi : 0;

			inval_pair(v, i, (uint64_t)(lo + 2 * half), (uint64_t)(b - lo));
		}
	}
	v->stats.window_flushes++;
}

void bt_pt_inval_local(struct bt_vcpu *v, uint64_t root, uint64_t va, uint64_t len)
{
	bt_shadow_inval(v, root, va, len);
	/* code reached through the entries may be other code now: the indirect table's
	 * user entries (they go at every CR3 load anyway) and kernel blocks, for the
	 * address space in use */
	if (root != BT_ROOT_SHARED && root != v->wkey[v->wcur])
		return;
	if (len >= BT_INVAL_ALL)
		bt_htab_flush_all(v);
	else if ((int64_t)va >= 0)
		bt_htab_flush_user(v);
	else
		bt_cache_kill_range(v, va, len);
}

void bt_shadow_invlpg(struct bt_vcpu *v, uint64_t va)
{
	uint64_t off = (uint32_t)va & ~(BT_PAGE - 1);

	if (v->vm->trace)
		bt_trace_simple(v, 'i', va);
	/* a user page: this address space's translation only (other address spaces'
	 * entries for it are other entries); a kernel page: any pair's (global) */
	bt_shadow_inval(v, off >= (1ull << 31) ? BT_ROOT_SHARED : v->wkey[v->wcur], va, BT_PAGE);
}

void bt_pt_written(struct bt_vcpu *v, uint64_t gpa, uint64_t old, uint64_t new)
{
	/* LAB 2 BEGIN: pt-write */
	const struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);
	uint64_t span = 0, va = 0;

	if (pi && !pi->multi) {
		span = 1ull << (12 + 9 * (pi->level - 1));
		va = pi->va_base + ((gpa & 0xfff) / 8) * span;
		if (pi->level == 4)
			va = (uint64_t)((int64_t)(va << 16) >> 16);
		if (v->vm->trace && pi->level <= 2)
			bt_trace_pte(v, pi->root, va, pi->level, old, new);
	}
	if (!(old & PTE_P))
		return;                 /* nothing was mapped from it */
	bt_pt_entries_changed(v, gpa & ~(BT_PAGE - 1), (unsigned)(gpa & (BT_PAGE - 1)) / 8, 1);
	/* LAB 2 END: pt-write */
}

void bt_pt_entries_changed(struct bt_vcpu *v, uint64_t gpa, unsigned first, unsigned n)
{
	const struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);
	uint64_t span, va;

	if (!pi || pi->multi) {
		/* at several places: whatever it mapped in its address space */
		bt_inval_all_vcpus(v, pi ? pi->root : BT_ROOT_SHARED, 0, BT_INVAL_ALL);
		return;
	}
	span = 1ull << (12 + 9 * (pi->level - 1));
	va = pi->va_base + first * span;
	if (pi->level == 4)
		va = (uint64_t)((int64_t)(va << 16) >> 16);
	/* the pairs of the table's address space (every pair for a shared table), on
	 * every vCPU: a cached pair is one CR3 load from use */
	bt_inval_all_vcpus(v, pi->root, va, n * span);
}

/* A page table written by an instruction the engine does not emulate (typically
 * zeroed, to be used for something else): it stops being watched, and the window
 * pages its entries mapped go. */
void bt_pt_unshadow(struct bt_vcpu *v, uint64_t gpa)
{
	struct bt_pinfo *pi = bt_pinfo(v->vm, gpa);

	if (!pi)
		return;
	bt_unsync_drop(v->vm, pi, gpa);
	pi->flags &= (uint8_t)~BT_PG_PT;
	if (pi->multi || pi->level >= 3)
		bt_inval_all_vcpus(v, pi->root, 0, BT_INVAL_ALL);
	else
		bt_inval_all_vcpus(v, pi->root, pi->va_base, 1ull << (12 + 9 * pi->level));
}

void bt_shadow_flush(struct bt_vcpu *v, int kernel_too)
{
	for (unsigned i = 0; i < BT_WCACHE; i++)
		flush_pair(v, i, kernel_too);
	if (kernel_too)
		bt_rmap_clear(v);
	v->stats.window_flushes++;
	publish_live(v);
}

void bt_unshare(struct bt_vcpu *v)
{
	if (!v->shared)
		return;
	if (!v->stats.shared_fallbacks++)
		hv_warn("bt: vCPU %u: the guest kernel reached a supervisor page in the user "
			"half (or memory across pages) with an instruction the engine does not "
			"emulate; it goes on with a GS base per CPL", v->index);
	/* the kernel half moves within the reservation: a parked page's frame, known at its
	 * old host address, must not be reprotected at the new one */
	for (unsigned i = 0; i < 2 * BT_WCACHE; i++)
		bt_window_forget_frames(&v->wins[i]);
	bt_shadow_flush(v, 1);
	for (unsigned i = 0; i < 2 * BT_WCACHE; i++)
		v->wins[i].shared = 0;
	v->shared = 0;
	bt_cache_flush(v);
	bt_set_view(v);
}

void bt_wcache_load(struct bt_vcpu *v, uint64_t cr3)
{
	unsigned pick = BT_WCACHE;

	for (unsigned i = 0; i < BT_WCACHE; i++) {
		if (v->wused[i] && v->wkey[i] == cr3) {
			pick = i;
			break;
		}
	}
	if (pick < BT_WCACHE) {
		v->stats.wcache_hits++;
	} else {
		uint64_t oldest = UINT64_MAX;

		v->stats.wcache_misses++;
		for (unsigned i = 0; i < BT_WCACHE; i++) {
			if (v->wused[i] < oldest) {
				oldest = v->wused[i];
				pick = i;
			}
		}
		if (v->wused[pick])
			v->stats.wcache_evictions++;
		/* its global kernel pages stay: a CR3 load keeps them on hardware too */
		flush_pair(v, pick, 0);
		rmap_if_empty(v);
		publish_live(v);
		/* before any walk through the new tables: another vCPU that changes them
		 * after reading the key sends this one its invalidation (protect.c) */
		__atomic_store_n(&v->wkey[pick], cr3, __ATOMIC_SEQ_CST);
	}
	v->wused[pick] = ++v->wclock;
	v->wcur = pick;
	v->win = &v->wins[2 * pick];
	bt_set_view(v);
	if (v->vm->trace)
		bt_trace_cr3(v, cr3);
}

void bt_wcache_reset(struct bt_vcpu *v, uint64_t cr3)
{
	bt_shadow_flush(v, 1);
	memset(v->wused, 0, sizeof(v->wused));
	v->wused[0] = ++v->wclock;
	__atomic_store_n(&v->wkey[0], cr3, __ATOMIC_SEQ_CST);
	v->wcur = 0;
	v->win = &v->wins[0];
	bt_set_view(v);
	if (v->vm->trace)
		bt_trace_cr3(v, cr3);
}
