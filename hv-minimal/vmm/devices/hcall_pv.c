/* The paravirtual hypercalls (abi.h): validated page-table updates on pinned address
 * spaces, CR3 loads, TLB flushes and the pvclock page.
 *
 * The VMM keeps, per guest frame, whose page table it is (the root frame of a pinned
 * address space, and the table's level) and how many leaf entries of pinned tables map
 * it writable. Those two facts give Xen's invariants, checked on every update:
 *   - an entry is changed only in a table of the root the caller names, in its user
 *     half (PML4 slots 0-255; the kernel half is the guest kernel's own);
 *   - a table belongs to one address space, and is adopted only empty;
 *   - no page table is mapped writable, so no process can write its own (or another
 *     process's) tables behind the VMM;
 *   - nothing below HV_BOOT_RESERVED_END (the VMM's boot page, hypercall pages and
 *     boot tables) is mapped, and every frame lies inside guest memory, or, for a leaf,
 *     in a device's MMIO range on the bus (Xen's I/O memory).
 * A refused update is not applied and its code returned; the ones before it in the
 * batch stand (the count is returned in args[3]), like Xen's mmu_update. */
#include <stdlib.h>
#include <string.h>

#include "hvlab/err.h"
#include "hvlab/log.h"
#include "hvlab/tsc.h"
#include "hvlab/vm.h"
#include "hcall_pv.h"

#define PG 4096ull
#define E_P  (1ull << 0)
#define E_W  (1ull << 1)
#define E_PS (1ull << 7)
#define E_ADDR 0x000ffffffffff000ull
#define E_RSVD 0x7ff0000000000000ull   /* bits 52-62: must be zero here */
#define USER_SLOTS 256

static uint64_t frame_of(uint64_t e)
{
	return (e & E_ADDR) / PG;
}

/* Lazily: the tables cost 9 bytes per guest frame, and a full guest never pins. */
static int pv_tables(struct hv_pv *pv, uint64_t mem_bytes)
{
	if (pv->owner)
		return 0;
	pv->nframes = mem_bytes / PG;
	pv->owner = calloc(pv->nframes, sizeof(*pv->owner));
	pv->level = calloc(pv->nframes, sizeof(*pv->level));
	pv->wmaps = calloc(pv->nframes, sizeof(*pv->wmaps));
	if (!pv->owner || !pv->level || !pv->wmaps) {
		hv_pv_free(pv);
		return hv_err_errno("allocating the page-table ownership map");
	}
	return 0;
}

void hv_pv_free(struct hv_pv *pv)
{
	free(pv->owner);
	free(pv->level);
	free(pv->wmaps);
	pv->owner = NULL;
	pv->level = NULL;
	pv->wmaps = NULL;
}

static uint64_t *table(struct hv_vm *vm, uint64_t frame)
{
	return hv_gpa_ptr(&vm->mem, frame * PG, PG);
}

#define DEVICE_PAGE 1

/* A frame a present entry may name at all: 0 for guest memory that is not the VMM's,
 * DEVICE_PAGE for a page of a device's MMIO range (for leaves only: no table, owner
 * or count is kept of it), or a refusal code. */
static int frame_check(struct hv_vm *vm, const struct hv_pv *pv, uint64_t e)
{
	uint64_t f = frame_of(e);

	if (e & E_RSVD)
		return HV_HC_EINVAL;
	if (f >= pv->nframes)
		return hv_bus_find(&vm->bus, HV_BUS_MMIO, f * PG, PG) ? DEVICE_PAGE : HV_HC_EFAULT;
	if (f * PG < HV_BOOT_RESERVED_END)
		return HV_HC_EPERM;
	return 0;
}

/* Drops the marks of table f (owned by root) and of every table below it. */
static void release(struct hv_vm *vm, struct hv_pv *pv, uint64_t f, uint32_t root1)
{
	uint64_t *t = table(vm, f);
	unsigned lvl = pv->level[f], n = lvl == 4 ? USER_SLOTS : 512;

	pv->owner[f] = 0;
	pv->level[f] = 0;
	for (unsigned i = 0; t && i < n; i++) {
		uint64_t e = t[i], c = frame_of(e);
		if (!(e & E_P) || c >= pv->nframes)
			continue;
		if (lvl == 1) {
			if ((e & E_W) && pv->wmaps[c])
				pv->wmaps[c]--;
		} else if (pv->owner[c] == root1) {
			release(vm, pv, c, root1);
		}
	}
}

/* Takes table f, found at level lvl of root (root1 = root frame + 1), with whatever it
 * holds: every entry checked as an update would be. On a refusal the marks made so
 * far stay; the caller releases the whole tree. */
static int adopt(struct hv_vm *vm, struct hv_pv *pv, uint64_t f, unsigned lvl, uint32_t root1)
{
	uint64_t *t = table(vm, f);
	unsigned n = lvl == 4 ? USER_SLOTS : 512;
	int r;

	if (pv->owner[f] || pv->wmaps[f])
		return HV_HC_EPERM;     /* another tree's table, or mapped writable */
	pv->owner[f] = root1;
	pv->level[f] = (uint8_t)lvl;
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = t[i], c = frame_of(e);
		if (!(e & E_P))
			continue;
		if ((r = frame_check(vm, pv, e)) == DEVICE_PAGE && lvl == 1)
			continue;
		if (r)
			return r == DEVICE_PAGE ? HV_HC_EPERM : r;
		if (lvl == 1) {
			if ((e & E_W) && pv->owner[c])
				return HV_HC_EPERM;
			if (e & E_W)
				pv->wmaps[c]++;
			continue;
		}
		if (e & E_PS)
			return HV_HC_EINVAL;     /* no large user pages in this ABI */
		if ((r = adopt(vm, pv, c, lvl - 1, root1)))
			return r;
	}
	return 0;
}

static int pinned(const struct hv_pv *pv, uint64_t root)
{
	uint64_t f = root / PG;

	return !(root % PG) && f < pv->nframes && pv->owner[f] == f + 1 && pv->level[f] == 4;
}

static int write_entry(struct hv_vcpu *vcpu, uint64_t gpa, uint64_t val)
{
	struct hv_vm *vm = vcpu->vm;

	vcpu->engine_changed = 1;
	if (vm->ops->pte_write)
		return vm->ops->pte_write(vcpu->eng, gpa, val);
	return hv_gpa_write(&vm->mem, gpa, &val, sizeof(val));
}

/* One update, under pv->lock: 0 applied, a refusal code, or 1 for a host error
 * (hv_err_msg() set). */
static int update_one(struct hv_vcpu *vcpu, struct hv_pv *pv, uint64_t root,
		      const struct hv_mmu_update *u)
{
	/* LAB 4 BEGIN: update-one */
	struct hv_vm *vm = vcpu->vm;
	uint64_t tf = u->ptr / PG, root1 = root / PG + 1, val = u->val;
	unsigned idx = (unsigned)(u->ptr % PG / 8), lvl;
	int r;

	if (u->ptr % 8)
		return HV_HC_EFAULT;
	if (tf >= pv->nframes)
		return HV_HC_EFAULT;
	if (pv->owner[tf] != root1)
		return HV_HC_EPERM;            /* not a table of the caller's address space */
	lvl = pv->level[tf];
	if (lvl == 4 && idx >= USER_SLOTS)
		return HV_HC_EPERM;            /* the kernel half */
	uint64_t old = table(vm, tf)[idx], nf = frame_of(val), of = frame_of(old);
	int device = 0;
	if (val & E_P) {
		if ((r = frame_check(vm, pv, val)) == DEVICE_PAGE && lvl == 1)
			device = 1;
		else if (r)
			return r == DEVICE_PAGE ? HV_HC_EPERM : r;
		if (lvl == 1) {
			if (!device && (val & E_W) && pv->owner[nf])
				return HV_HC_EPERM;    /* a page table, writable */
		} else if (val & E_PS) {
			return HV_HC_EINVAL;
		} else if (!((old & E_P) && of == nf)) {
			/* a new table: adopted empty, so that it holds nothing unchecked */
			uint64_t *t = table(vm, nf);
			if (pv->owner[nf] || pv->wmaps[nf])
				return HV_HC_EPERM;
			for (unsigned i = 0; i < 512; i++)
				if (t[i] & E_P)
					return HV_HC_EINVAL;
			pv->owner[nf] = (uint32_t)root1;
			pv->level[nf] = (uint8_t)(lvl - 1);
		}
	}
	if (write_entry(vcpu, u->ptr, val))
		return 1;
	/* what the old entry held goes */
	if ((old & E_P) && of < pv->nframes) {
		if (lvl == 1) {
			if ((old & E_W) && pv->wmaps[of])
				pv->wmaps[of]--;
		} else if (!((val & E_P) && nf == of) && pv->owner[of] == root1) {
			release(vm, pv, of, (uint32_t)root1);
		}
	}
	if (lvl == 1 && (val & E_P) && (val & E_W) && !device)
		pv->wmaps[nf]++;
	return 0;
	/* LAB 4 END: update-one */
}

static int64_t hc_mmu_update(struct hv_vcpu *vcpu, struct hv_pv *pv, struct hv_hcall_page *pg)
{
	/* LAB 4 BEGIN: mmu-update */
	struct hv_vm *vm = vcpu->vm;
	uint64_t gpa = pg->args[0], count = pg->args[1], root = pg->args[2];
	const struct hv_mmu_update *reqs;
	int64_t ret = 0;
	uint64_t done = 0;

	pg->args[3] = 0;
	if (count == 0)
		return HV_HC_EINVAL;
	if (count > HV_MMU_BATCH_MAX)
		return HV_HC_E2BIG;
	reqs = hv_gpa_ptr(&vm->mem, gpa, count * sizeof(*reqs));
	if (!reqs || gpa % 8)
		return HV_HC_EFAULT;
	pthread_mutex_lock(&pv->lock);
	if (!pv->owner || !pinned(pv, root)) {
		ret = HV_HC_EINVAL;
	} else {
		for (; done < count; done++) {
			/* a copy: another vCPU may change the array meanwhile */
			struct hv_mmu_update u = reqs[done];
			int r = update_one(vcpu, pv, root, &u);
			if (r == 1) {
				pthread_mutex_unlock(&pv->lock);
				return INT64_MIN;      /* host error */
			}
			if (r) {
				ret = r;
				break;
			}
		}
	}
	pv->updates += done;
	pthread_mutex_unlock(&pv->lock);
	pg->args[3] = done;
	return ret;
	/* LAB 4 END: mmu-update */
}

static int64_t hc_pin(struct hv_vcpu *vcpu, struct hv_pv *pv, uint64_t root, int pin)
{
	struct hv_vm *vm = vcpu->vm;
	uint64_t f = root / PG;
	int64_t r = 0;

	if (root % PG)
		return HV_HC_EFAULT;
	if (pv_tables(pv, vm->mem.size))
		return INT64_MIN;
	pthread_mutex_lock(&pv->lock);
	if (f >= pv->nframes) {
		r = HV_HC_EFAULT;
	} else if (root < HV_BOOT_RESERVED_END) {
		r = HV_HC_EPERM;
	} else if (pin) {
		if (pv->owner[f])
			r = pinned(pv, root) ? HV_HC_EINVAL : HV_HC_EPERM;
		else if ((r = adopt(vm, pv, f, 4, (uint32_t)(f + 1))))
			release(vm, pv, f, (uint32_t)(f + 1));
	} else if (!pinned(pv, root)) {
		r = HV_HC_EINVAL;
	} else {
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			if (pv->cr3[i] == root)
				r = HV_HC_EBUSY;
		if (!r)
			release(vm, pv, f, (uint32_t)(f + 1));
	}
	pthread_mutex_unlock(&pv->lock);
	return r;
}

static int64_t hc_new_baseptr(struct hv_vcpu *vcpu, struct hv_pv *pv, uint64_t root)
{
	struct hv_vm *vm = vcpu->vm;
	uint64_t f = root / PG;

	if (root % PG || f >= vm->mem.size / PG)
		return HV_HC_EFAULT;
	if (root < HV_BOOT_RESERVED_END)
		return HV_HC_EPERM;
	pthread_mutex_lock(&pv->lock);
	/* a table below a root is no root (an unpinned frame is the kernel's business) */
	int bad = pv->owner && pv->owner[f] && !pinned(pv, root);
	if (!bad)
		pv->cr3[vcpu->index] = root;
	pthread_mutex_unlock(&pv->lock);
	if (bad)
		return HV_HC_EPERM;
	vcpu->engine_changed = 1;
	if (vm->ops->load_cr3) {
		if (vm->ops->load_cr3(vcpu->eng, root))
			return INT64_MIN;
	} else {
		struct hv_sregs s;
		if (vm->ops->get_sregs(vcpu->eng, &s))
			return INT64_MIN;
		s.cr3 = root;
		if (vm->ops->set_sregs(vcpu->eng, &s))
			return INT64_MIN;
	}
	return 0;
}

static int64_t hc_tlb_flush(struct hv_vcpu *vcpu, uint64_t va, uint64_t mask)
{
	struct hv_vm *vm = vcpu->vm;
	uint64_t all = vm->nr_vcpus >= 64 ? ~0ull : (1ull << vm->nr_vcpus) - 1;
	int64_t sva = (int64_t)(va << 16) >> 16;

	if (!mask || (mask & ~all))
		return HV_HC_EINVAL;
	if (va != HV_TLB_FLUSH_ALL && ((uint64_t)sva != va || va % PG))
		return HV_HC_EINVAL;
	/* HV_PV_TLB is offered only where the engine's translations follow every table
	 * write: what is left is waiting until the other vCPUs have applied them (no IPI,
	 * no interrupt to the guest) */
	vcpu->engine_changed = 1;
	if (vm->ops->tlb_flush && vm->ops->tlb_flush(vcpu->eng, mask))
		return INT64_MIN;
	return 0;
}

static int64_t hc_clock_page(struct hv_vcpu *vcpu, uint64_t gpa)
{
	struct hv_vm *vm = vcpu->vm;
	uint64_t khz = vm->ops->tsc_khz(vm->eng);
	struct hv_pvclock c;

	if (!khz)
		return HV_HC_ENOSYS;
	if (gpa % sizeof(c) || !hv_gpa_range_ok(&vm->mem, gpa, sizeof(c)))
		return HV_HC_EFAULT;
	if (gpa < HV_BOOT_RESERVED_END)
		return HV_HC_EPERM;
	memset(&c, 0, sizeof(c));
	c.version = 2;
	c.tsc_base = hv_tsc_now();
	c.system_ns = (uint64_t)((double)(c.tsc_base - vm->tsc_start) * 1e6 / (double)khz);
	c.mul = (uint64_t)((1000000ull << 32) / khz);
	if (hv_gpa_write(&vm->mem, gpa, &c, sizeof(c)))
		return INT64_MIN;
	return 0;
}

uint32_t hv_pv_features(struct hv_vm *vm)
{
	uint32_t f = HV_PV_CR3 | HV_PV_SPIN;

	if (vm->ops->pv_caps)
		f |= vm->ops->pv_caps(vm->eng) & (HV_PV_MMU | HV_PV_TLB);
	if (vm->ops->tsc_khz(vm->eng))
		f |= HV_PV_CLOCK;
	return f;
}

int64_t hv_pv_call(struct hv_vcpu *vcpu, struct hv_hcall_page *pg)
{
	struct hv_pv *pv = &vcpu->vm->dev.hcall.pv;
	uint32_t have = hv_pv_features(vcpu->vm);

	switch (pg->nr) {
	case HV_HC_FEATURES:
		return have;
	case HV_HC_MMU_UPDATE:
		return have & HV_PV_MMU ? hc_mmu_update(vcpu, pv, pg) : HV_HC_ENOSYS;
	case HV_HC_PIN_ROOT:
	case HV_HC_UNPIN_ROOT:
		return have & HV_PV_MMU ? hc_pin(vcpu, pv, pg->args[0], pg->nr == HV_HC_PIN_ROOT)
					: HV_HC_ENOSYS;
	case HV_HC_NEW_BASEPTR:
		return hc_new_baseptr(vcpu, pv, pg->args[0]);
	case HV_HC_TLB_FLUSH:
		return have & HV_PV_TLB ? hc_tlb_flush(vcpu, pg->args[0], pg->args[1]) : HV_HC_ENOSYS;
	case HV_HC_CLOCK_PAGE:
		return hc_clock_page(vcpu, pg->args[0]);
	case HV_HC_SPIN_NOTIFY:
	case HV_HC_SPIN_WAIT:
	case HV_HC_SPIN_KICK:
		return hv_spin_call(vcpu, pg);
	default:
		return HV_HC_ENOSYS;
	}
}
