/* The code cache: translated blocks in one RWX region below 2 GiB (so that every
 * branch inside it is a rel32 and its addresses fit an imm32), their metadata, the
 * C-side lookup by (guest RIP, guest-physical address), the indirect-branch table that
 * translated code searches itself, and chaining (patching a block's exit jump to go
 * straight to the next block). A full cache is flushed as a whole. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bt.h"
#include "emit.h"
#include "hvlab/err.h"

#define CODE_SIZE   (32u << 20)
#define MAX_TB      (256u << 10)
#define MAX_IMAP    (4u << 20)
#define HASH_BITS   16
#define MAX_USLOTS  (2 * BT_HTAB_SIZE)
#define HTAB_EMPTY  0x8000000000000000ull   /* non-canonical: never a guest RIP */

int bt_cache_init(struct bt_cache *c)
{
	void *code;

	memset(c, 0, sizeof(*c));
	code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT | MAP_NORESERVE, -1, 0);
	if (code == MAP_FAILED)
		return hv_err_errno("mapping a %u MiB code cache below 2 GiB", CODE_SIZE >> 20);
	c->code = code;
	c->code_size = CODE_SIZE;
	c->max_tb = MAX_TB;
	c->max_imap = MAX_IMAP;
	c->hash_bits = HASH_BITS;
	c->max_uslots = MAX_USLOTS;
	c->tbs = calloc(c->max_tb, sizeof(*c->tbs));
	c->imap = calloc(c->max_imap, sizeof(*c->imap));
	c->hash = calloc(1u << c->hash_bits, sizeof(*c->hash));
	c->uslots = calloc(c->max_uslots, sizeof(*c->uslots));
	if (!c->tbs || !c->imap || !c->hash || !c->uslots) {
		bt_cache_destroy(c);
		return hv_err_errno("allocating the code cache's block tables");
	}
	return 0;
}

void bt_cache_destroy(struct bt_cache *c)
{
	if (c->code)
		munmap(c->code, c->code_size);
	free(c->tbs);
	free(c->imap);
	free(c->hash);
	free(c->uslots);
	memset(c, 0, sizeof(*c));
}

static unsigned tb_hash(const struct bt_cache *c, uint64_t rip, uint64_t gpa, int kmode)
{
	uint64_t h = (rip ^ (gpa << 7) ^ (uint64_t)kmode) * 0x9e3779b97f4a7c15ull;

	return (unsigned)(h >> (64 - c->hash_bits));
}

void bt_htab_flush_all(struct bt_vcpu *v)
{
	for (unsigned i = 0; i < 2 * BT_HTAB_SIZE; i++)
		v->ctx->htab[i].guest = HTAB_EMPTY;
	v->cache.nuslots = 0;
}

void bt_htab_flush_user(struct bt_vcpu *v)
{
	struct bt_cache *c = &v->cache;

	if (c->nuslots >= c->max_uslots) {
		bt_htab_flush_all(v);
		return;
	}
	for (size_t i = 0; i < c->nuslots; i++)
		v->ctx->htab[c->uslots[i]].guest = HTAB_EMPTY;
	c->nuslots = 0;
}

void bt_htab_insert(struct bt_vcpu *v, uint64_t guest, const struct bt_tb *tb)
{
	unsigned i = bt_htab_index(guest, tb->kmode);
	struct bt_cache *c = &v->cache;

	v->ctx->htab[i].guest = guest;
	v->ctx->htab[i].host = (uint64_t)(uintptr_t)(c->code + tb->host_off);
	/* User addresses depend on the address space: remember where they went. */
	if ((int64_t)guest >= 0 && c->nuslots < c->max_uslots)
		c->uslots[c->nuslots++] = i;
	else if ((int64_t)guest >= 0)
		c->nuslots = c->max_uslots;       /* overflowed: the next flush clears all */
}

void bt_cache_flush(struct bt_vcpu *v)
{
	struct bt_cache *c = &v->cache;

	c->code_used = 0;
	c->ntb = 0;
	c->nimap = 0;
	c->gen++;
	c->epoch++;
	memset(c->hash, 0, (sizeof(*c->hash)) << c->hash_bits);
	bt_htab_flush_all(v);
	v->stats.flushes++;
}

struct bt_tb *bt_cache_find(struct bt_cache *c, uint64_t rip, uint64_t gpa, int kmode)
{
	for (struct bt_tb *tb = c->hash[tb_hash(c, rip, gpa, kmode)]; tb; tb = tb->hnext)
		if (tb->rip == rip && tb->gpa == gpa && tb->kmode == kmode)
			return tb;
	return NULL;
}

/* Blocks are laid out in the order of c->tbs: a binary search by host offset. */
struct bt_tb *bt_cache_find_host(struct bt_cache *c, uintptr_t host_pc)
{
	size_t lo = 0, hi = c->ntb;
	uintptr_t base = (uintptr_t)c->code;

	if (host_pc < base || host_pc >= base + c->code_used)
		return NULL;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		struct bt_tb *tb = &c->tbs[mid];

		if (host_pc < base + tb->host_off)
			hi = mid;
		else if (host_pc >= base + tb->host_off + tb->host_len)
			lo = mid + 1;
		else
			return tb;
	}
	return NULL;
}

const struct bt_imap *bt_cache_imap(struct bt_cache *c, const struct bt_tb *tb,
				    uintptr_t host_pc)
{
	uint32_t off = (uint32_t)(host_pc - (uintptr_t)(c->code + tb->host_off));
	const struct bt_imap *best = NULL;

	for (uint32_t i = 0; i < tb->imap_count; i++) {
		const struct bt_imap *m = &c->imap[tb->imap_first + i];

		if (m->host_off > off)
			break;
		best = m;
	}
	return best;
}

/* Called by the translator once a block is complete. */
void bt_cache_commit(struct bt_cache *c, struct bt_tb *tb)
{
	unsigned h = tb_hash(c, tb->rip, tb->gpa, tb->kmode);

	tb->hnext = c->hash[h];
	c->hash[h] = tb;
	c->code_used = tb->host_off + tb->host_len;
}

int bt_cache_kill(struct bt_vcpu *v, struct bt_tb *tb)
{
	struct bt_cache *c = &v->cache;
	uint8_t *entry = c->code + tb->host_off, *stub = c->code + c->code_used;
	struct bt_emit e = { .p = stub, .start = stub, .end = stub + 64,
			      .ctx = (uint32_t)(uintptr_t)v->ctx };
	struct bt_exit_info *info;
	unsigned i = bt_htab_index(tb->rip, tb->kmode);

	if (tb->dead)
		return 0;
	if (c->code_size - c->code_used < 64)
		return -1;
	for (struct bt_tb **pp = &c->hash[tb_hash(c, tb->rip, tb->gpa, tb->kmode)]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == tb) {
			*pp = tb->hnext;
			break;
		}
	if (v->ctx->htab[i].host == (uint64_t)(uintptr_t)entry)
		v->ctx->htab[i].guest = HTAB_EMPTY;
	/* The entry jumps to an exit that asks for the block again, unchained: whoever
	 * comes here (a chained jump, a stale table entry) finds the new translation. */
	info = bt_emit_exit(&e, BT_EXIT_BRANCH);
	if (!info)
		return -1;
	info->rip = tb->rip;
	info->patch = UINT32_MAX;
	c->code_used += (size_t)(e.p - stub);
	entry[0] = 0xe9;
	em_patch_rel32(entry + 1, stub);
	tb->dead = 1;
	c->epoch++;
	return 0;
}

/* Kernel code in [va, va + len) may have moved: its blocks go (chains into them come
 * back to the run loop), and so does the indirect table. */
void bt_cache_kill_range(struct bt_vcpu *v, uint64_t va, uint64_t len)
{
	struct bt_cache *c = &v->cache;

	for (size_t i = 0; i < c->ntb; i++) {
		struct bt_tb *tb = &c->tbs[i];

		if (!tb->dead && tb->rip - va < len && bt_cache_kill(v, tb)) {
			bt_cache_flush(v);
			return;
		}
	}
	bt_htab_flush_all(v);
}

void bt_chain(struct bt_vcpu *v, uint32_t patch, const struct bt_tb *tb)
{
	struct bt_cache *c = &v->cache;

	em_patch_rel32(c->code + patch, c->code + tb->host_off);
	v->stats.chains++;
}
