/* Windows: a reserved host range of 4 GiB with a guard on each side, in which guest
 * virtual pages are mapped on demand (MAP_FIXED | MAP_SHARED onto the guest-physical
 * memfd). Translated code reaches it through GS with 32-bit addresses, so no guest
 * address can leave it; an empty page is PROT_NONE and a touch of it is a SIGSEGV
 * that the engine turns into a shadow fill or a guest #PF.
 *
 * A page dropped alone (invlpg, a changed entry, write permission taken away) is not
 * replaced by anonymous memory but parked: its file mapping stays, PROT_NONE, and the
 * window remembers which frame it holds (w->frame). Filling it again with the same frame,
 * as a process that unmaps and maps a page again or a read-only page that becomes
 * writable does, is then an mprotect as well. On a kind B host an mprotect costs
 * ~3,200-4,000 cycles against ~9,000-12,000 for an mmap (a C loop of each, 2,000 times). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <x86intrin.h>

#include "bt.h"
#include "hvlab/err.h"

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
#define NPAGES (BT_WIN_SIZE / BT_PAGE)
#define HALF (BT_WIN_SIZE / 2)

static int half_of(uint64_t off)
{
	return off >= HALF;
}

/* What w->frame holds for a 4 KiB mapping of memfd fd at foff in page off: the half's
 * generation, the fd and the page number, or 0 where they do not fit (no fast path). */
static uint64_t frame_key(const struct bt_window *w, uint64_t off, int fd, off_t foff)
{
	uint64_t pg = (uint64_t)foff / BT_PAGE + 1;

	if (fd < 0 || fd > 255 || foff < 0 || pg >= (1ull << 40))
		return 0;
	return (uint64_t)w->gen[half_of(off)] << 48 | (uint64_t)fd << 40 | pg;
}

/* The file mappings of [off, off + len) are gone: their keys go. */
static void frame_forget(struct bt_window *w, uint64_t off, uint64_t len)
{
	for (int h = 0; h < 2; h++) {
		uint64_t lo = h ? HALF : 0, a = off > lo ? off : lo;
		uint64_t b = off + len < lo + HALF ? off + len : lo + HALF;

		if (a >= b)
			continue;
		if (b - a < HALF) {
			memset(w->frame + a / BT_PAGE, 0, (b - a) / BT_PAGE * sizeof(w->frame[0]));
			continue;
		}
		/* a whole half: its keys go stale at once (the generation fits 16 bits; at
		 * its end the keys are cleared, so that no old key can match again) */
		if (++w->gen[h] == 1u << 16) {
			memset(w->frame + lo / BT_PAGE, 0, HALF / BT_PAGE * sizeof(w->frame[0]));
			w->gen[h] = 1;
		}
	}
}

/* Whether any page of [first, first + n) may be mapped; clears their bits. A summary
 * bit per bitmap word skips the empty parts of a large range (a 2 GiB half is 8,192
 * words). */
static int take_mapped(struct bt_window *w, uint64_t first, uint64_t n)
{
	uint64_t end = first + n, last = (end - 1) / 64;
	int any = 0;

	for (uint64_t i = first / 64; i <= last;) {
		uint64_t lo = i == first / 64 ? first % 64 : 0;
		uint64_t hi = i == last ? (end - 1) % 64 : 63;
		uint64_t mask = (hi == 63 ? ~0ull : (1ull << (hi + 1)) - 1) & ~((1ull << lo) - 1);

		if (!w->summary[i / 64]) {
			i = (i / 64 + 1) * 64;
			continue;
		}
		if (w->mapped[i] & mask) {
			any = 1;
			w->mapped[i] &= ~mask;
			if (!w->mapped[i])
				w->summary[i / 64] &= ~(1ull << (i % 64));
		}
		i++;
	}
	return any;
}

/* The host reservation: guard, [kernel half below the base: shared layout only],
 * 4 GiB from the base, guard. */
static size_t reserve_len(int shared)
{
	return BT_WIN_SIZE + 2 * BT_WIN_GUARD + (shared ? BT_WIN_SIZE / 2 : 0);
}

/* Where window offset off (a guest address's low 32 bits) is mapped. The split layout
 * maps it at base + off. The shared layout, whose kernel-mode code sign-extends its
 * addresses, maps the kernel half [2 GiB, 4 GiB) at base - 4 GiB + off, below the base;
 * [base + 2 GiB, base + 4 GiB), where user-mode code's 32-bit addresses of the kernel
 * half land, stays empty. A range handed here does not cross 2 GiB. */
static uint8_t *win_host(const struct bt_window *w, uint64_t off)
{
	return w->shared && off >= BT_WIN_SIZE / 2 ? w->base - BT_WIN_SIZE + off : w->base + off;
}

int bt_window_init(struct bt_window *w, int shared)
{
	size_t len = reserve_len(shared);
	void *p = mmap(NULL, len, PROT_NONE, RESERVE_FLAGS, -1, 0);

	memset(w, 0, sizeof(*w));
	if (p == MAP_FAILED)
		return hv_err_errno("reserving a %zu GiB window of host address space for the "
				    "binary translator (is the address space limited? see ulimit -v)",
				    len >> 30);
	w->mapped = calloc(NPAGES / 64, sizeof(uint64_t));
	w->summary = calloc(NPAGES / 64 / 64, sizeof(uint64_t));
	w->frame = calloc(NPAGES, sizeof(uint64_t));   /* touched only where pages are */
	w->gen[0] = w->gen[1] = 1;
	if (!w->mapped || !w->summary || !w->frame) {
		free(w->mapped);
		free(w->summary);
		free(w->frame);
		munmap(p, len);
		return hv_err_set("out of memory for a window's page bitmap");
	}
	w->reserve = p;
	w->reserve_len = len;
	w->shared = shared;
	w->base = w->reserve + BT_WIN_GUARD + (shared ? BT_WIN_SIZE / 2 : 0);
	return 0;
}

void bt_window_destroy(struct bt_window *w)
{
	if (w->reserve)
		munmap(w->reserve, w->reserve_len);
	free(w->mapped);
	free(w->summary);
	free(w->frame);
	w->mapped = w->summary = w->frame = NULL;
	w->reserve = w->base = NULL;
}

/* One host mapping more at window offset off, made since TSC t0. */
static void count_map(struct bt_window *w, uint64_t off, uint64_t t0)
{
	w->fills++;
	w->live++;
	if (off < (1ull << 31))
		w->ulive++;
	w->map_cycles += __rdtsc() - t0;
}

int bt_window_map(struct bt_window *w, uint64_t off, int fd, off_t foff, int writable)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint64_t t0 = __rdtsc(), key;

	if (off >= BT_WIN_SIZE || (off & (BT_PAGE - 1)))
		return hv_err_set("window offset %#llx is not a page inside the window",
				  (unsigned long long)off);
	key = frame_key(w, off, fd, foff);
	if (key && w->frame[off / BT_PAGE] == key &&
	    mprotect(win_host(w, off), BT_PAGE, prot) == 0) {
		/* the frame is there already, parked or with other rights */
		w->reprotects++;
	} else if (mmap(win_host(w, off), BT_PAGE, prot, MAP_SHARED | MAP_FIXED, fd, foff) ==
		   MAP_FAILED) {
		int e = errno;

		hv_err_errno("mapping guest-physical offset %#llx at window offset %#llx "
			     "(too many mappings? see /proc/sys/vm/max_map_count)",
			     (unsigned long long)foff, (unsigned long long)off);
		errno = e;
		return -1;
	} else {
		w->frame[off / BT_PAGE] = key;
	}
	w->mapped[off / BT_PAGE / 64] |= 1ull << (off / BT_PAGE % 64);
	w->summary[off / BT_PAGE / 64 / 64] |= 1ull << (off / BT_PAGE / 64 % 64);
	count_map(w, off, t0);
	return 0;
}

int bt_window_map_large(struct bt_window *w, uint64_t off, int fd, off_t foff, int writable)
{
	const uint64_t size = 2ull << 20, pages = size / BT_PAGE;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint64_t t0 = __rdtsc();

	if (off >= BT_WIN_SIZE || (off & (size - 1)) || (foff & (off_t)(size - 1)))
		return hv_err_set("window offset %#llx or memfd offset %#llx is not a 2 MiB "
				  "boundary inside the window", (unsigned long long)off,
				  (unsigned long long)foff);
	if (mmap(win_host(w, off), size, prot, MAP_SHARED | MAP_FIXED, fd, foff) == MAP_FAILED) {
		int e = errno;

		hv_err_errno("mapping guest-physical offset %#llx+2 MiB at window offset %#llx",
			     (unsigned long long)foff, (unsigned long long)off);
		errno = e;
		return -1;
	}
	/* one mapping of 2 MiB: no page of it is a 4 KiB mapping to reprotect */
	memset(w->frame + off / BT_PAGE, 0, pages * sizeof(w->frame[0]));
	/* 512 pages are 8 whole words of the bitmap, and one summary word covers them */
	for (uint64_t i = 0; i < pages / 64; i++)
		w->mapped[off / BT_PAGE / 64 + i] = ~0ull;
	for (uint64_t i = 0; i < pages / 64; i++)
		w->summary[(off / BT_PAGE / 64 + i) / 64] |= 1ull << ((off / BT_PAGE / 64 + i) % 64);
	/* live counts host mappings, which vm.max_map_count limits (the budget of
	 * bt_shadow_fill): one here, not 512 */
	count_map(w, off, t0);
	return 0;
}

void bt_window_forget_frames(struct bt_window *w)
{
	frame_forget(w, 0, BT_WIN_SIZE);
}

/* Whether page i holds a 4 KiB file mapping the window knows (its key is current). */
static int frame_known(const struct bt_window *w, uint64_t i)
{
	return w->frame[i] && w->frame[i] >> 48 == w->gen[half_of(i * BT_PAGE)];
}

#define PARK_MAX 16

/* A page, or a range in which at most PARK_MAX pages are mapped, each a 4 KiB mapping
 * the window knows: they are parked one by one (an mprotect each, ~4,000-6,000 cycles;
 * their frames stay known) instead of the range replaced by one mmap, whose cost grows with the range (~64,000 cycles for a
 * 2 GiB half that a short-lived process used, forkwait's each fork). Returns 1 when it
 * parked them; 0 leaves everything to the caller. */
static int park_few(struct bt_window *w, uint64_t off, uint64_t len)
{
	uint64_t first = off / BT_PAGE, end = first + len / BT_PAGE, pages[PARK_MAX];
	unsigned n = 0;

	for (uint64_t i = first; i < end;) {
		if (!(i % 4096) && end - i >= 4096 && !w->summary[i / 4096]) {
			i += 4096;      /* a summary word: 4,096 pages without a mapping */
			continue;
		}
		if (!(i % 64) && end - i >= 64 && !w->mapped[i / 64]) {
			i += 64;
			continue;
		}
		if ((w->mapped[i / 64] >> (i % 64)) & 1) {
			if (n == PARK_MAX || !frame_known(w, i))
				return 0;
			pages[n++] = i;
		}
		i++;
	}
	if (!n)
		return 0;               /* nothing mapped: no system call either way */
	for (unsigned k = 0; k < n; k++)
		if (mprotect(win_host(w, pages[k] * BT_PAGE), BT_PAGE, PROT_NONE))
			return 0;       /* the caller's mmap makes it right */
	take_mapped(w, first, end - first);
	w->reprotects += n;
	return 1;
}

int bt_window_unmap(struct bt_window *w, uint64_t off, uint64_t len)
{
	uint64_t t0;

	if (off >= BT_WIN_SIZE || len > BT_WIN_SIZE - off)
		return hv_err_set("window range %#llx+%#llx lies outside the window",
				  (unsigned long long)off, (unsigned long long)len);
	if (!w->live || (off + len <= (1ull << 31) && !w->ulive))
		return 0;               /* empty already: no system call */
	t0 = __rdtsc();
	if (!(off & (BT_PAGE - 1)) && !(len & (BT_PAGE - 1)) && park_few(w, off, len)) {
		w->flushes++;
		w->unmap_cycles += __rdtsc() - t0;
		return 0;
	}
	if (!take_mapped(w, off / BT_PAGE, (len + BT_PAGE - 1) / BT_PAGE)) {
		w->unmaps_skipped++;
		return 0;               /* none of it mapped */
	}
	frame_forget(w, off, len);
	for (uint64_t a = off, end = off + len; a < end;) {
		/* the shared layout's two halves lie apart: one call each */
		uint64_t b = w->shared && a < BT_WIN_SIZE / 2 && end > BT_WIN_SIZE / 2 ?
			     BT_WIN_SIZE / 2 : end;

		if (mmap(win_host(w, a), b - a, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			return hv_err_errno("dropping window range %#llx+%#llx",
					    (unsigned long long)a, (unsigned long long)(b - a));
		a = b;
	}
	if (off == 0 && len == BT_WIN_SIZE)
		w->live = 0;
	if (off == 0 && len >= (1ull << 31))
		w->ulive = 0;
	w->flushes++;
	w->unmap_cycles += __rdtsc() - t0;
	return 0;
}
