/* Call-outs: the sensitive and privileged instructions, emulated on the virtual CPU
 * state (struct bt_cpu and the registers in the context block). The translator leaves
 * a record with the instruction's address; operands are decoded again here when the
 * record does not carry them. Port I/O becomes an HV_VMEXIT_IO exit to the core, the
 * same exit the KVM engine returns, completed by the next run. */
#include <cpuid.h>
#include <string.h>
#include <x86intrin.h>

#include "bt.h"
#include "hvlab/err.h"

#define CR0_PE (1ull << 0)
#define CR0_TS (1ull << 3)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PGE (1ull << 7)
#define CR4_FSGSBASE (1ull << 16)
#define CR4_UMIP (1ull << 11)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_IOPL (3ull << 12)

#define MSR_TSC            0x10u
#define MSR_APIC_BASE      0x1bu
#define MSR_SYSENTER_CS    0x174u
#define MSR_SYSENTER_ESP   0x175u
#define MSR_SYSENTER_EIP   0x176u
#define MSR_MISC_ENABLE    0x1a0u
#define MSR_PAT            0x277u
#define MSR_EFER           0xc0000080u
#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_FMASK          0xc0000084u
#define MSR_FS_BASE        0xc0000100u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_TSC_AUX        0xc0000103u

/* ---- operands ---- */

/* len 0: as many bytes as can be fetched (up to 15) */
int bt_decode_at(struct bt_vcpu *v, uint64_t rip, unsigned len, struct bt_decoded *d)
{
	uint8_t buf[15];
	int r;

	if (!len) {
		unsigned to_end = (unsigned)(BT_PAGE - (rip & (BT_PAGE - 1)));

		len = 15;
		if (to_end < 15 && bt_vread(v, rip, buf, 15, BT_ACC_FETCH) != 0) {
			v->fault.pending = 0;     /* the next page may not be needed */
			len = to_end;
		}
	}
	r = bt_vread(v, rip, buf, len, BT_ACC_FETCH);

	if (r)
		return r;
	if (ZYAN_FAILED(ZydisDecoderDecodeFull(&v->dec, buf, len, &d->in, d->op)))
		return hv_err_set("cannot decode the guest instruction at %#llx again",
				  (unsigned long long)rip);
	return 0;
}

static int gpr_of(ZydisRegister r)
{
	ZydisRegisterClass cls = ZydisRegisterGetClass(r);

	if (cls != ZYDIS_REGCLASS_GPR8 && cls != ZYDIS_REGCLASS_GPR16 &&
	    cls != ZYDIS_REGCLASS_GPR32 && cls != ZYDIS_REGCLASS_GPR64)
		return -1;
	return ZydisRegisterGetId(ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r));
}

uint64_t bt_reg_read(struct bt_vcpu *v, ZydisRegister r)
{
	int id = gpr_of(r);
	uint64_t x;

	if (id < 0)
		return 0;
	x = v->ctx->regs[id];
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH)
		return (x >> 8) & 0xff;
	switch (ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r)) {
	case 8: return x & 0xff;
	case 16: return x & 0xffff;
	case 32: return x & 0xffffffff;
	default: return x;
	}
}

/* Writes as the hardware does: 32-bit writes zero-extend, 8/16-bit ones merge. */
void bt_reg_write(struct bt_vcpu *v, ZydisRegister r, uint64_t val)
{
	int id = gpr_of(r);
	uint64_t *x;

	if (id < 0)
		return;
	x = &v->ctx->regs[id];
	if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
		*x = (*x & ~0xff00ull) | ((val & 0xff) << 8);
		return;
	}
	switch (ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r)) {
	case 8: *x = (*x & ~0xffull) | (val & 0xff); break;
	case 16: *x = (*x & ~0xffffull) | (val & 0xffff); break;
	case 32: *x = val & 0xffffffff; break;
	default: *x = val; break;
	}
}

uint64_t bt_effective_address(struct bt_vcpu *v, const struct bt_decoded *d,
			      const ZydisDecodedOperand *op)
{
	uint64_t a = (uint64_t)op->mem.disp.value;

	if (op->mem.base == ZYDIS_REGISTER_RIP || op->mem.base == ZYDIS_REGISTER_EIP)
		a += v->cpu.rip + d->in.length;
	else if (op->mem.base != ZYDIS_REGISTER_NONE)
		a += bt_reg_read(v, op->mem.base);
	if (op->mem.index != ZYDIS_REGISTER_NONE)
		a += bt_reg_read(v, op->mem.index) * op->mem.scale;
	if (d->in.address_width == 32)
		a &= 0xffffffff;
	if (op->mem.segment == ZYDIS_REGISTER_FS)
		a += v->ctx->gfsbase;
	else if (op->mem.segment == ZYDIS_REGISTER_GS)
		a += v->ctx->ggsbase;
	return a;
}

/* The first visible operand as a value (register or memory) of its size. */
static int operand_read(struct bt_vcpu *v, const struct bt_decoded *d, unsigned i, uint64_t *val)
{
	const ZydisDecodedOperand *op = &d->op[i];

	*val = 0;
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		*val = bt_reg_read(v, op->reg.value);
		return 0;
	}
	if (op->type == ZYDIS_OPERAND_TYPE_MEMORY)
		return bt_vread(v, bt_effective_address(v, d, op), val, op->size / 8, 0);
	if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		*val = op->imm.value.u;
		return 0;
	}
	return hv_err_set("unexpected operand kind in a call-out");
}

static int operand_write(struct bt_vcpu *v, const struct bt_decoded *d, unsigned i, uint64_t val)
{
	const ZydisDecodedOperand *op = &d->op[i];

	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		bt_reg_write(v, op->reg.value, val);
		return 0;
	}
	if (op->type == ZYDIS_OPERAND_TYPE_MEMORY)
		return bt_vwrite(v, bt_effective_address(v, d, op), &val, op->size / 8, 0);
	return hv_err_set("unexpected destination operand in a call-out");
}

static int push64(struct bt_vcpu *v, uint64_t val)
{
	int r = bt_vwrite(v, v->ctx->regs[BT_RSP] - 8, &val, 8, 0);

	if (r == 0)
		v->ctx->regs[BT_RSP] -= 8;
	return r;
}

static int pop64(struct bt_vcpu *v, uint64_t *val)
{
	int r = bt_vread(v, v->ctx->regs[BT_RSP], val, 8, 0);

	if (r == 0)
		v->ctx->regs[BT_RSP] += 8;
	return r;
}

/* ---- CPUID: the host's, without what the engine does not virtualize ----
 * The host's leaves are read once per VM (a CPUID is a trap on a nested host). */

static const uint32_t cpuid_leaves[][2] = {
	{ 0, 0 }, { 1, 0 }, { 2, 0 }, { 4, 0 }, { 4, 1 }, { 4, 2 }, { 4, 3 }, { 7, 0 },
	{ 0xb, 0 }, { 0xb, 1 }, { 0x15, 0 }, { 0x16, 0 }, { 0x80000000, 0 }, { 0x80000001, 0 },
	{ 0x80000002, 0 }, { 0x80000003, 0 }, { 0x80000004, 0 }, { 0x80000005, 0 },
	{ 0x80000006, 0 }, { 0x80000007, 0 }, { 0x80000008, 0 },
};
#define NLEAVES (sizeof(cpuid_leaves) / sizeof(cpuid_leaves[0]))

void bt_cpuid_init(struct bt_vm *vm)
{
	_Static_assert(NLEAVES <= sizeof(vm->cpuid) / sizeof(vm->cpuid[0]), "cpuid table");
	for (unsigned i = 0; i < NLEAVES; i++) {
		uint32_t *r = vm->cpuid[i].r;

		vm->cpuid[i].leaf = cpuid_leaves[i][0];
		vm->cpuid[i].sub = cpuid_leaves[i][1];
		__cpuid_count(cpuid_leaves[i][0], cpuid_leaves[i][1], r[0], r[1], r[2], r[3]);
		if (cpuid_leaves[i][0] == 0)
			vm->cpuid_max_basic = r[0];
		else if (cpuid_leaves[i][0] == 0x80000000)
			vm->cpuid_max_ext = r[0];
	}
	vm->ncpuid = NLEAVES;
}

static int host_cpuid(struct bt_vm *vm, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	/* leaves 4 and 0xb have subleaves; the others ignore ECX */
	if (leaf != 4 && leaf != 0xb)
		sub = 0;
	for (unsigned i = 0; i < vm->ncpuid; i++)
		if (vm->cpuid[i].leaf == leaf && vm->cpuid[i].sub == sub) {
			memcpy(r, vm->cpuid[i].r, 4 * sizeof(r[0]));
			return 1;
		}
	return 0;
}

void bt_cpuid(struct bt_vcpu *v, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	uint32_t max_basic = v->vm->cpuid_max_basic, max_ext = v->vm->cpuid_max_ext;

	memset(r, 0, 4 * sizeof(r[0]));
	if ((leaf < 0x40000000 && leaf > max_basic) || (leaf >= 0x80000000 && leaf > max_ext))
		return;
	if (leaf >= 0x40000000 && leaf < 0x80000000) {
		for (unsigned i = 0; i < v->vm->nhvcpuid; i++)
			if (v->vm->hvcpuid[i].leaf == leaf)
				memcpy(r, v->vm->hvcpuid[i].r, 4 * sizeof(r[0]));
		if (leaf == 0x40000000) {
			r[0] = 0x40000000;
			memcpy(&r[1], "hvla", 4);
			memcpy(&r[2], "b-bt", 4);
			memcpy(&r[3], "    ", 4);
		}
		return;
	}
	if (!host_cpuid(v->vm, leaf, sub, r))
		return;           /* a leaf not passed through: zeros */
	switch (leaf) {
	case 1:
		r[1] = (r[1] & 0x0000ffffu) | (1u << 16) | (v->index << 24);
		/* SSE3 PCLMUL SSSE3 CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES RDRAND, + hypervisor */
		r[2] &= (1u << 0) | (1u << 1) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) |
			(1u << 22) | (1u << 23) | (1u << 25) | (1u << 30);
		r[2] |= 1u << 31;
		/* FPU DE PSE TSC MSR PAE MCE CX8 PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2 */
		r[3] &= (1u << 0) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
			(1u << 7) | (1u << 8) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) |
			(1u << 19) | (1u << 23) | (1u << 24) | (1u << 25) | (1u << 26);
		break;
	case 7:
		if (sub == 0) {
			r[0] = 0;
			/* SMEP ERMS RDSEED ADX CLFLUSHOPT CLWB SHA */
			r[1] &= (1u << 7) | (1u << 9) | (1u << 18) | (1u << 19) | (1u << 23) |
				(1u << 24) | (1u << 29);
			r[2] &= 1u << 22;              /* RDPID */
			r[3] &= 1u << 4;               /* FSRM */
		} else {
			r[0] = r[1] = r[2] = r[3] = 0;
		}
		break;
	case 0xb:
	case 0x1f:
		r[3] = v->index;
		break;
	case 0x80000001:
		r[2] &= (1u << 0) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8);
		/* SYSCALL NX 1G pages RDTSCP LM, and leaf 1's basic bits */
		r[3] &= (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29) |
			(1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
			(1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) | (1u << 23) | (1u << 24);
		break;
	case 2: case 4: case 0x80000002: case 0x80000003: case 0x80000004:
	case 0x80000005: case 0x80000006: case 0x80000007: case 0x80000008:
	case 0: case 0x80000000: case 0x15: case 0x16:
		break;
	default:
		r[0] = r[1] = r[2] = r[3] = 0;
		break;
	}
}

/* ---- MSRs ---- */

static int msr_read(struct bt_vcpu *v, uint32_t msr, uint64_t *val)
{
	struct bt_cpu *c = &v->cpu;

	switch (msr) {
	case MSR_TSC: *val = __rdtsc(); return 0;
	case MSR_APIC_BASE: *val = c->apic_base; return 0;
	case MSR_SYSENTER_CS: *val = c->sysenter_cs; return 0;
	case MSR_SYSENTER_ESP: *val = c->sysenter_esp; return 0;
	case MSR_SYSENTER_EIP: *val = c->sysenter_eip; return 0;
	case MSR_MISC_ENABLE: *val = 1; return 0;
	case MSR_PAT: *val = c->pat; return 0;
	case MSR_EFER: *val = c->efer; return 0;
	case MSR_STAR: *val = c->star; return 0;
	case MSR_LSTAR: *val = c->lstar; return 0;
	case MSR_CSTAR: *val = c->cstar; return 0;
	case MSR_FMASK: *val = c->fmask; return 0;
	case MSR_FS_BASE: *val = v->ctx->gfsbase; return 0;
	case MSR_GS_BASE: *val = v->ctx->ggsbase; return 0;
	case MSR_KERNEL_GS_BASE: *val = v->ctx->kgsbase; return 0;
	case MSR_TSC_AUX: *val = c->tsc_aux; return 0;
	default: return 1;
	}
}

static int canonical(uint64_t a)
{
	return (int64_t)a >> 47 == 0 || (int64_t)a >> 47 == -1;
}

static int msr_write(struct bt_vcpu *v, uint32_t msr, uint64_t val)
{
	struct bt_cpu *c = &v->cpu;

	switch (msr) {
	case MSR_EFER:
		/* SCE, LME, NXE may change; LMA follows LME while paging is on */
		if (val & ~((1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11)))
			return 1;
		if ((val ^ c->efer) & (1ull << 11)) {
			bt_shadow_flush(v, 1);
			bt_cache_flush(v);
		}
		c->efer = (val & ~(1ull << 10)) | (c->efer & (1ull << 10));
		return 0;
	case MSR_STAR: c->star = val; return 0;
	case MSR_LSTAR: if (!canonical(val)) return 1; c->lstar = val; return 0;
	case MSR_CSTAR: c->cstar = val; return 0;
	case MSR_FMASK: c->fmask = val & 0xffffffff; return 0;
	case MSR_FS_BASE: if (!canonical(val)) return 1; v->ctx->gfsbase = val; return 0;
	case MSR_GS_BASE: if (!canonical(val)) return 1; v->ctx->ggsbase = val; return 0;
	case MSR_KERNEL_GS_BASE: if (!canonical(val)) return 1; v->ctx->kgsbase = val; return 0;
	case MSR_TSC_AUX: c->tsc_aux = val & 0xffffffff; return 0;
	case MSR_APIC_BASE: c->apic_base = val; return 0;
	case MSR_PAT: c->pat = val; return 0;
	case MSR_SYSENTER_CS: c->sysenter_cs = val; return 0;
	case MSR_SYSENTER_ESP: c->sysenter_esp = val; return 0;
	case MSR_SYSENTER_EIP: c->sysenter_eip = val; return 0;
	case MSR_MISC_ENABLE: return 0;
	default: return 1;
	}
}

/* ---- control registers ---- */

int bt_cr_write(struct bt_vcpu *v, unsigned cr, uint64_t val)
{
	struct bt_cpu *c = &v->cpu;

	switch (cr) {
	case 0:
		if (!(val & CR0_PE) || !(val & CR0_PG) || (val >> 32))
			return 1;       /* long mode stays on: leaving it is not emulated */
		if ((val ^ c->cr0) & (CR0_WP | CR0_PG)) {
			bt_shadow_flush(v, 1);
			bt_cache_flush(v);
		}
		c->cr0 = val | (1ull << 4);
		return 0;
	case 2:
		c->cr2 = val;
		return 0;
	case 3:
		c->cr3 = val & ~0xfffull & 0x000ffffffffff000ull;
		/* the windows of that address space, kept coherent with its page tables by
		 * their write protection (README.md, "Memory") */
		bt_wcache_load(v, c->cr3);
		bt_unsync_flush(v, c->cr3, BT_INVAL_ALL);
		bt_htab_flush_user(v);
		return 0;
	case 4:
		if (!(val & (1ull << 5)))
			return 1;       /* PAE stays on */
		if ((val ^ c->cr4) & ((1ull << 20) | (1ull << 21) | CR4_PGE)) {
			bt_shadow_flush(v, 1);
			bt_cache_flush(v);
		}
		c->cr4 = val;
		return 0;
	case 8:
		if (val > 15)
			return 1;
		c->cr8 = val;
		return 0;
	default:
		return 2;
	}
}

static uint64_t cr_read(struct bt_vcpu *v, unsigned cr)
{
	switch (cr) {
	case 0: return v->cpu.cr0;
	case 2: return v->cpu.cr2;
	case 3: return v->cpu.cr3;
	case 4: return v->cpu.cr4;
	default: return v->cpu.cr8;
	}
}

/* ---- port I/O ---- */

static int io_allowed(struct bt_vcpu *v)
{
	return v->cpu.cpl <= ((v->cpu.vflags & RFLAGS_IOPL) >> 12);
}

static int callout_io(struct bt_vcpu *v, const struct bt_exit_info *info, struct hv_exit *exit)
{
	uint16_t port = info->b ? (uint16_t)info->imm : (uint16_t)v->ctx->regs[BT_RDX];
	uint8_t size = info->a;

	if (!io_allowed(v)) {
		bt_raise(v, 13, 1, 0);
		return 1;
	}
	if (info->op == BT_CO_OUT) {
		uint64_t val = v->ctx->regs[BT_RAX];

		memcpy(v->iobuf, &val, size);
	}
	if (bt_platform_pio(v, port, size, info->op == BT_CO_OUT, v->iobuf)) {
		/* served by the engine: no exit */
		if (info->op == BT_CO_IN) {
			v->io.size = size;
			v->io.string = 0;
			v->io.active = 1;
			bt_io_complete(v);
		}
		v->cpu.rip = info->rip + info->len;
		return 0;
	}
	/* the I/O part only: the whole exit is large, and this is the hot path */
	exit->kind = HV_VMEXIT_IO;
	exit->raw_reason = info->op;
	exit->u.io = (typeof(exit->u.io)){
		.port = port, .size = size, .count = 1, .data = v->iobuf,
		.dir = info->op == BT_CO_OUT ? HV_IO_OUT : HV_IO_IN,
	};
	v->cpu.rip = info->rip + info->len;
	if (info->op == BT_CO_OUT)
		return bt_direct_exit(v, exit);
	v->io.active = 1;
	v->io.size = size;
	v->io.string = 0;
	return bt_direct_exit(v, exit);
}

int bt_direct_exit(struct bt_vcpu *v, struct hv_exit *exit)
{
	int r;

	if (!v->vm->direct_fn)
		return 2;
	r = v->vm->direct_fn(v->vm->direct_ctx, v->index, exit);
	if (r < 0 || r == 2)
		return r;
	v->stats.direct_calls++;
	/* an IN's or MMIO read's value is in the exit's data (v->iobuf) */
	if (bt_io_complete(v) || bt_mmio_complete(v))
		return -1;
	/* served with the vCPU's state maybe changed (a hypercall may load CR3 or change
	 * tables): the run goes on from a fresh block lookup and GS view, not inline */
	return r;
}

/* ins/outs: as many elements as fit the buffer per exit; a rep that is not finished
 * runs the instruction again. */
static int callout_io_string(struct bt_vcpu *v, const struct bt_exit_info *info,
			     struct hv_exit *exit)
{
	uint8_t size = info->a;
	uint64_t count = info->b ? v->ctx->regs[BT_RCX] : 1, max = sizeof(v->iobuf) / size;
	int down = (v->ctx->rflags & RFLAGS_DF) != 0;
	int r;

	if (!io_allowed(v)) {
		bt_raise(v, 13, 1, 0);
		return 1;
	}
	if (count == 0) {
		v->cpu.rip = info->rip + info->len;
		return 0;
	}
	if (down)
		max = 1;
	if (count > max)
		count = max;
	memset(exit, 0, sizeof(*exit));
	exit->kind = HV_VMEXIT_IO;
	exit->raw_reason = info->op;
	exit->u.io.port = (uint16_t)v->ctx->regs[BT_RDX];
	exit->u.io.size = size;
	exit->u.io.count = (uint32_t)count;
	exit->u.io.data = v->iobuf;
	v->io.size = size;
	v->io.count = (uint32_t)count;
	v->io.rep = info->b;
	v->io.next_rip = info->rip + info->len;
	if (info->op == BT_CO_OUTS) {
		uint64_t src = v->ctx->regs[BT_RSI];

		r = bt_vread(v, down ? src : src, v->iobuf, count * size, 0);
		if (r)
			return r;
		exit->u.io.dir = HV_IO_OUT;
		v->ctx->regs[BT_RSI] = down ? src - count * size : src + count * size;
		if (info->b)
			v->ctx->regs[BT_RCX] -= count;
		v->cpu.rip = (info->b && v->ctx->regs[BT_RCX]) ? info->rip : info->rip + info->len;
		return 2;
	}
	exit->u.io.dir = HV_IO_IN;
	v->io.active = 1;
	v->io.string = 1;
	v->cpu.rip = info->rip;
	return 2;
}

/* The core has answered an IN: the data goes to the register or to memory. */
int bt_io_complete(struct bt_vcpu *v)
{
	uint64_t val = 0;
	int down = (v->ctx->rflags & RFLAGS_DF) != 0;
	int r;

	if (!v->io.active)
		return 0;
	v->io.active = 0;
	if (!v->io.string) {
		uint64_t *rax = &v->ctx->regs[BT_RAX];

		memcpy(&val, v->iobuf, v->io.size);
		if (v->io.size == 4)
			*rax = val;
		else if (v->io.size == 2)
			*rax = (*rax & ~0xffffull) | val;
		else
			*rax = (*rax & ~0xffull) | val;
		return 0;
	}
	r = bt_vwrite(v, v->ctx->regs[BT_RDI], v->iobuf, (size_t)v->io.count * v->io.size, 0);
	if (r)
		return r;
	v->ctx->regs[BT_RDI] += down ? -(uint64_t)v->io.count * v->io.size
				     : (uint64_t)v->io.count * v->io.size;
	if (v->io.rep)
		v->ctx->regs[BT_RCX] -= v->io.count;
	if (!v->io.rep || !v->ctx->regs[BT_RCX])
		v->cpu.rip = v->io.next_rip;
	return 0;
}

/* ---- descriptor tables and segments ---- */

static int load_tr(struct bt_vcpu *v, uint16_t sel)
{
	uint64_t d[2];
	int r;

	if (!(sel & ~7u) || (sel & 4) || (sel | 7u) + 8 > v->cpu.gdt.limit + 1u) {
		bt_raise(v, 13, 1, sel & ~3u);
		return 1;
	}
	r = bt_vread(v, v->cpu.gdt.base + (sel & ~7u), d, 16, BT_ACC_IMPLICIT);
	if (r)
		return r;
	if (((d[0] >> 40) & 0xf) != 0x9 || !((d[0] >> 47) & 1)) {
		bt_raise(v, 13, 1, sel & ~3u);
		return 1;
	}
	v->cpu.tr = (struct hv_segment){
		.base = ((d[0] >> 16) & 0xffffff) | (((d[0] >> 56) & 0xff) << 24) | (d[1] << 32),
		.limit = (uint32_t)((d[0] & 0xffff) | (((d[0] >> 48) & 0xf) << 16)),
		.selector = sel, .type = 0xb, .present = 1,
	};
	/* the descriptor becomes busy, as the hardware marks it */
	d[0] |= 1ull << 41;
	return bt_vwrite(v, v->cpu.gdt.base + (sel & ~7u), d, 8, BT_ACC_IMPLICIT);
}

static int load_sreg(struct bt_vcpu *v, ZydisRegister reg, uint16_t sel)
{
	struct bt_cpu *c = &v->cpu;
	int idx = reg == ZYDIS_REGISTER_ES ? BT_SEG_ES : reg == ZYDIS_REGISTER_SS ? BT_SEG_SS :
		  reg == ZYDIS_REGISTER_DS ? BT_SEG_DS : reg == ZYDIS_REGISTER_FS ? BT_SEG_FS :
		  reg == ZYDIS_REGISTER_GS ? BT_SEG_GS : -1;
	uint64_t desc = 0;

	if (idx < 0) {
		bt_raise(v, 6, 0, 0);
		return 1;
	}
	if (sel & ~3u) {
		if ((sel | 7u) > c->gdt.limit || (sel & 4)) {
			bt_raise(v, 13, 1, sel & ~3u);
			return 1;
		}
		int r = bt_vread(v, c->gdt.base + (sel & ~7u), &desc, 8, BT_ACC_IMPLICIT);

		if (r)
			return r;
		if (!((desc >> 47) & 1)) {
			bt_raise(v, idx == BT_SEG_SS ? 12 : 11, 1, sel & ~3u);
			return 1;
		}
	} else if (idx == BT_SEG_SS && c->cpl == 3) {
		bt_raise(v, 13, 1, 0);
		return 1;
	}
	c->seg[idx].selector = sel;
	/* in long mode only FS and GS take a base from the descriptor (its low 32 bits) */
	if (idx == BT_SEG_FS)
		v->ctx->gfsbase = ((desc >> 16) & 0xffffff) | (((desc >> 56) & 0xff) << 24);
	if (idx == BT_SEG_GS)
		v->ctx->ggsbase = ((desc >> 16) & 0xffffff) | (((desc >> 56) & 0xff) << 24);
	return 0;
}

static uint16_t sreg_selector(struct bt_vcpu *v, ZydisRegister reg)
{
	switch (reg) {
	case ZYDIS_REGISTER_ES: return v->cpu.seg[BT_SEG_ES].selector;
	case ZYDIS_REGISTER_CS: return v->cpu.seg[BT_SEG_CS].selector;
	case ZYDIS_REGISTER_SS: return v->cpu.seg[BT_SEG_SS].selector;
	case ZYDIS_REGISTER_DS: return v->cpu.seg[BT_SEG_DS].selector;
	case ZYDIS_REGISTER_FS: return v->cpu.seg[BT_SEG_FS].selector;
	default: return v->cpu.seg[BT_SEG_GS].selector;
	}
}

/* ---- far branches (lret after lgdt, far jumps through memory) ---- */

/* Loads CS for a far transfer at the same privilege level. */
static int load_cs(struct bt_vcpu *v, uint16_t sel)
{
	struct bt_cpu *c = &v->cpu;
	uint64_t desc;
	int r;

	if (!(sel & ~3u) || (sel & 4) || (sel | 7u) > c->gdt.limit || (sel & 3) != c->cpl) {
		bt_raise(v, 13, 1, sel & ~3u);
		return 1;
	}
	r = bt_vread(v, c->gdt.base + (sel & ~7u), &desc, 8, BT_ACC_IMPLICIT);
	if (r)
		return r;
	if (!((desc >> 43) & 1) || !((desc >> 47) & 1) || ((desc >> 45) & 3) != c->cpl ||
	    !((desc >> 53) & 1)) {
		/* not a present 64-bit code segment of this privilege: not emulated */
		bt_raise(v, 13, 1, sel & ~3u);
		return 1;
	}
	c->seg[BT_SEG_CS].selector = sel;
	c->seg[BT_SEG_CS].dpl = (uint8_t)c->cpl;
	c->seg[BT_SEG_CS].l = 1;
	return 0;
}

static int callout_far(struct bt_vcpu *v, const struct bt_exit_info *info)
{
	struct bt_decoded d;
	uint64_t rsp = v->ctx->regs[BT_RSP], rip = 0, sel = 0, ea;
	unsigned w;
	uint8_t buf[10];
	int r = bt_decode_at(v, info->rip, info->len, &d);

	if (r)
		return r;
	w = d.in.operand_width / 8;
	switch (d.in.mnemonic) {
	case ZYDIS_MNEMONIC_RET:        /* lret [imm16] */
		if ((r = bt_vread(v, rsp, &rip, w, 0)) || (r = bt_vread(v, rsp + w, &sel, w, 0)))
			return r;
		if ((r = load_cs(v, (uint16_t)sel)))
			return r;
		v->ctx->regs[BT_RSP] = rsp + 2 * w +
				       (d.in.operand_count_visible ? d.op[0].imm.value.u : 0);
		v->cpu.rip = rip;
		return 0;
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_CALL:
		if (d.op[0].type != ZYDIS_OPERAND_TYPE_MEMORY) {
			bt_raise(v, 6, 0, 0);
			return 1;
		}
		ea = bt_effective_address(v, &d, &d.op[0]);
		if ((r = bt_vread(v, ea, buf, w + 2, 0)))
			return r;
		memcpy(&rip, buf, w);
		memcpy(&sel, buf + w, 2);
		if (d.in.mnemonic == ZYDIS_MNEMONIC_CALL) {
			uint64_t frame[2] = { info->rip + info->len, v->cpu.seg[BT_SEG_CS].selector };

			if (w != 8) {
				bt_raise(v, 6, 0, 0);
				return 1;
			}
			if ((r = bt_vwrite(v, rsp - 16, frame, 16, 0)))
				return r;
			if ((r = load_cs(v, (uint16_t)sel)))
				return r;
			v->ctx->regs[BT_RSP] = rsp - 16;
		} else if ((r = load_cs(v, (uint16_t)sel))) {
			return r;
		}
		v->cpu.rip = rip;
		return 0;
	default:
		bt_raise(v, 6, 0, 0);
		return 1;
	}
}

/* ---- the dispatcher ---- */

static int gp0(struct bt_vcpu *v)
{
	bt_raise(v, 13, 1, 0);
	return 1;
}

/* Instructions whose operands are decoded again; r < 0 is a host error. */
static int callout_decoded(struct bt_vcpu *v, const struct bt_exit_info *info)
{
	struct bt_cpu *c = &v->cpu;
	struct bt_decoded d;
	uint64_t val, tbl[2];
	uint8_t buf[10];
	int r = bt_decode_at(v, info->rip, info->len, &d);

	if (r)
		return r;
	switch (info->op) {
	case BT_CO_MOV_TO_CR:
	case BT_CO_MOV_FROM_CR: {
		int to = info->op == BT_CO_MOV_TO_CR;
		unsigned cr = (unsigned)(d.op[to ? 0 : 1].reg.value - ZYDIS_REGISTER_CR0);

		if (c->cpl)
			return gp0(v);
		if (!to) {
			if (cr != 0 && cr != 2 && cr != 3 && cr != 4 && cr != 8) {
				bt_raise(v, 6, 0, 0);
				return 1;
			}
			bt_reg_write(v, d.op[0].reg.value, cr_read(v, cr));
			return 0;
		}
		r = bt_cr_write(v, cr, bt_reg_read(v, d.op[1].reg.value));
		if (r == 2) {
			bt_raise(v, 6, 0, 0);
			return 1;
		}
		return r ? gp0(v) : 0;
	}
	case BT_CO_MOV_DR:
		if (c->cpl)
			return gp0(v);
		if (d.op[0].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_of(d.op[0].reg.value) >= 0)
			bt_reg_write(v, d.op[0].reg.value,
				  d.op[1].reg.value == ZYDIS_REGISTER_DR6 ? 0xffff0ff0 :
				  d.op[1].reg.value == ZYDIS_REGISTER_DR7 ? 0x400 : 0);
		return 0;
	case BT_CO_LGDT:
	case BT_CO_LIDT:
		if (c->cpl)
			return gp0(v);
		r = bt_vread(v, bt_effective_address(v, &d, &d.op[0]), buf, 10, 0);
		if (r)
			return r;
		memcpy(&tbl[0], buf, 2);
		memcpy(&tbl[1], buf + 2, 8);
		if (info->op == BT_CO_LGDT)
			c->gdt = (struct hv_dtable){ .base = tbl[1], .limit = (uint16_t)tbl[0] };
		else
			c->idt = (struct hv_dtable){ .base = tbl[1], .limit = (uint16_t)tbl[0] };
		return 0;
	case BT_CO_SGDT:
	case BT_CO_SIDT: {
		const struct hv_dtable *t = info->op == BT_CO_SGDT ? &c->gdt : &c->idt;

		if (c->cpl && (c->cr4 & CR4_UMIP))
			return gp0(v);
		memcpy(buf, &t->limit, 2);
		memcpy(buf + 2, &t->base, 8);
		return bt_vwrite(v, bt_effective_address(v, &d, &d.op[0]), buf, 10, 0);
	}
	case BT_CO_LTR:
	case BT_CO_LLDT:
		if (c->cpl)
			return gp0(v);
		r = operand_read(v, &d, 0, &val);
		if (r)
			return r;
		if (info->op == BT_CO_LTR)
			return load_tr(v, (uint16_t)val);
		c->ldt.selector = (uint16_t)val;
		c->ldt.unusable = !(val & ~3u);
		return 0;
	case BT_CO_STR:
	case BT_CO_SLDT:
	case BT_CO_SMSW:
		if (c->cpl && (c->cr4 & CR4_UMIP))
			return gp0(v);
		val = info->op == BT_CO_STR ? c->tr.selector : info->op == BT_CO_SLDT ?
		      c->ldt.selector : c->cr0;
		if (d.op[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
			return bt_vwrite(v, bt_effective_address(v, &d, &d.op[0]), &val, 2, 0);
		return operand_write(v, &d, 0, val);
	case BT_CO_LMSW:
		if (c->cpl)
			return gp0(v);
		r = operand_read(v, &d, 0, &val);
		if (r)
			return r;
		c->cr0 = (c->cr0 & ~0xeull) | (val & 0xe);
		return 0;
	case BT_CO_INVLPG:
		if (c->cpl)
			return gp0(v);
		val = bt_effective_address(v, &d, &d.op[0]);
		if ((int64_t)val >= 0)
			bt_unsync_flush(v, v->wkey[v->wcur], val);
		bt_shadow_invlpg(v, val);
		if ((int64_t)val >= 0)
			bt_htab_flush_user(v);
		else
			bt_cache_kill_range(v, val & ~(BT_PAGE - 1), BT_PAGE);   /* kernel code moved? */
		return 0;
	case BT_CO_MOV_TO_SREG:
		if (d.in.mnemonic != ZYDIS_MNEMONIC_MOV) {
			bt_raise(v, 6, 0, 0);     /* lfs/lgs/lss: not emulated */
			return 1;
		}
		r = operand_read(v, &d, 1, &val);
		if (r)
			return r;
		if (d.op[0].reg.value == ZYDIS_REGISTER_CS) {
			bt_raise(v, 6, 0, 0);
			return 1;
		}
		return load_sreg(v, d.op[0].reg.value, (uint16_t)val);
	case BT_CO_MOV_FROM_SREG:
		val = sreg_selector(v, d.op[1].reg.value);
		if (d.op[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
			return bt_vwrite(v, bt_effective_address(v, &d, &d.op[0]), &val, 2, 0);
		return operand_write(v, &d, 0, val);
	case BT_CO_PUSH_SREG:
		return push64(v, sreg_selector(v, d.op[0].reg.value));
	case BT_CO_POP_SREG: {
		uint64_t old = v->ctx->regs[BT_RSP];

		r = pop64(v, &val);
		if (r)
			return r;
		r = load_sreg(v, d.op[0].reg.value, (uint16_t)val);
		if (r)
			v->ctx->regs[BT_RSP] = old;
		return r;
	}
	case BT_CO_RDFSBASE: case BT_CO_RDGSBASE: case BT_CO_WRFSBASE: case BT_CO_WRGSBASE: {
		uint64_t *base = (info->op == BT_CO_RDFSBASE || info->op == BT_CO_WRFSBASE) ?
				 &v->ctx->gfsbase : &v->ctx->ggsbase;

		if (!(c->cr4 & CR4_FSGSBASE)) {
			bt_raise(v, 6, 0, 0);
			return 1;
		}
		if (info->op == BT_CO_RDFSBASE || info->op == BT_CO_RDGSBASE) {
			bt_reg_write(v, d.op[0].reg.value, *base);
			return 0;
		}
		val = bt_reg_read(v, d.op[0].reg.value);
		if (!canonical(val))
			return gp0(v);
		*base = val;
		return 0;
	}
	case BT_CO_RDPID:
		bt_reg_write(v, d.op[0].reg.value, c->tsc_aux);
		return 0;
	case BT_CO_ENTER: {
		uint64_t size = d.op[0].imm.value.u, rbp = v->ctx->regs[BT_RBP];

		if (d.op[1].imm.value.u != 0 || d.in.operand_width != 64) {
			bt_raise(v, 6, 0, 0);
			return 1;
		}
		r = push64(v, rbp);
		if (r)
			return r;
		v->ctx->regs[BT_RBP] = v->ctx->regs[BT_RSP];
		v->ctx->regs[BT_RSP] -= size;
		return 0;
	}
	default:
		return hv_err_set("call-out %u has no decoded form", info->op);
	}
}

static int callout_run(struct bt_vcpu *v, const struct bt_exit_info *info, struct hv_exit *exit)
{
	struct bt_cpu *c = &v->cpu;
	uint64_t next = info->rip + info->len, val, rflags;
	uint32_t r4[4];
	int r = 0;

	if (info->op < BT_CO_NR)
		v->stats.callouts[info->op]++;
	c->rip = info->rip;
	switch (info->op) {
	case BT_CO_UD:
		if (info->a) {
			/* an instruction the translator does not handle: say which, once */
			v->stats.unsupported++;
		}
		bt_raise(v, 6, 0, 0);
		return 1;
	case BT_CO_GP0:
		return gp0(v);
	case BT_CO_CLI:
	case BT_CO_STI:
		if (!io_allowed(v))
			return gp0(v);
		if (info->op == BT_CO_CLI) {
			c->vflags &= ~RFLAGS_IF;
		} else if (!(c->vflags & RFLAGS_IF)) {
			/* an interrupt waiting is taken after the next instruction (the sti
			 * shadow): it runs inline, and the poll stops the block after it */
			c->vflags |= RFLAGS_IF;
			if (bt_irq_pending(v) >= 0)
				bt_arm_poll(v);
		}
		break;
	case BT_CO_PUSHF:
		r = push64(v, bt_get_rflags(v) & ~((1ull << 16) | (1ull << 17)));
		break;
	case BT_CO_POPF: {
		uint64_t keep = (1ull << 16) | (1ull << 17) | (1ull << 19) | (1ull << 20);

		r = pop64(v, &val);
		if (r)
			break;
		if (c->cpl > 0)
			keep |= RFLAGS_IOPL;
		if (c->cpl > ((c->vflags & RFLAGS_IOPL) >> 12))
			keep |= RFLAGS_IF;
		rflags = bt_get_rflags(v);
		bt_set_rflags(v, (val & ~keep) | (rflags & keep));
		/* interrupts may have been enabled: look at them before going on */
		c->rip = next;
		return (c->vflags & RFLAGS_IF) && !(rflags & RFLAGS_IF) && bt_irq_pending(v) >= 0;
	}
	case BT_CO_HLT:
		if (c->cpl)
			return gp0(v);
		c->rip = next;
		c->halted = 1;
		return 1;
	case BT_CO_CPUID:
		bt_cpuid(v, (uint32_t)v->ctx->regs[BT_RAX], (uint32_t)v->ctx->regs[BT_RCX], r4);
		v->ctx->regs[BT_RAX] = r4[0];
		v->ctx->regs[BT_RBX] = r4[1];
		v->ctx->regs[BT_RCX] = r4[2];
		v->ctx->regs[BT_RDX] = r4[3];
		break;
	case BT_CO_RDMSR:
		if (c->cpl || msr_read(v, (uint32_t)v->ctx->regs[BT_RCX], &val))
			return gp0(v);
		v->ctx->regs[BT_RAX] = val & 0xffffffff;
		v->ctx->regs[BT_RDX] = val >> 32;
		break;
	case BT_CO_WRMSR:
		val = (v->ctx->regs[BT_RAX] & 0xffffffff) | (v->ctx->regs[BT_RDX] << 32);
		if (c->cpl || msr_write(v, (uint32_t)v->ctx->regs[BT_RCX], val))
			return gp0(v);
		c->rip = next;
		return 1;
	case BT_CO_IN:
	case BT_CO_OUT:
		return callout_io(v, info, exit);
	case BT_CO_INS:
	case BT_CO_OUTS:
		r = callout_io_string(v, info, exit);
		return r;
	case BT_CO_CLTS:
		if (c->cpl)
			return gp0(v);
		c->cr0 &= ~CR0_TS;
		break;
	case BT_CO_SWAPGS:
		if (c->cpl)
			return gp0(v);
		val = v->ctx->ggsbase;
		v->ctx->ggsbase = v->ctx->kgsbase;
		v->ctx->kgsbase = val;
		break;
	case BT_CO_SYSCALL:
		r = bt_syscall(v, next);
		return r < 0 ? r : 1;
	case BT_CO_SYSRET:
		r = bt_sysret(v);
		return r < 0 ? r : 1;
	case BT_CO_IRETQ:
		r = bt_iret(v, info->a);
		return r < 0 ? r : 1;
	case BT_CO_INT:
	case BT_CO_INT3:
	case BT_CO_INT1:
		c->rip = next;
		r = bt_deliver(v, info->op == BT_CO_INT ? (uint8_t)info->imm :
			       info->op == BT_CO_INT3 ? 3 : 1, 0, 0, info->op != BT_CO_INT1);
		if (r > 0)
			v->shutdown = 1;
		return r < 0 ? r : 1;
	case BT_CO_RDTSCP:
		val = __rdtsc();
		v->ctx->regs[BT_RAX] = val & 0xffffffff;
		v->ctx->regs[BT_RDX] = val >> 32;
		v->ctx->regs[BT_RCX] = c->tsc_aux;
		break;
	case BT_CO_WBINVD:
		if (c->cpl)
			return gp0(v);
		break;
	case BT_CO_XGETBV:
	case BT_CO_LAR_LSL:
		bt_raise(v, 6, 0, 0);
		return 1;
	case BT_CO_FAR:
		r = callout_far(v, info);
		return r < 0 ? -1 : 1;
	case BT_CO_RDPMC:
		/* the guest instruction counters of abi.h (counting mode, icount.c), at any
		 * CPL; every other counter raises #GP, as on a CPU without them */
		if (bt_icount_rdpmc(v, info, (uint32_t)v->ctx->regs[BT_RCX], &val))
			return gp0(v);
		v->ctx->regs[BT_RAX] = val & 0xffffffff;
		v->ctx->regs[BT_RDX] = val >> 32;
		break;
	case BT_CO_EMULATE:
		return bt_emulate_callout(v, info, exit);
	case BT_CO_DIVIDE:
		bt_raise(v, 0, 0, 0);
		return 1;
	case BT_CO_MOV_TO_CR:
	case BT_CO_MOV_FROM_CR:
		if (!info->c) {
			r = callout_decoded(v, info);
			break;
		}
		if (c->cpl)
			return gp0(v);
		if (info->op == BT_CO_MOV_FROM_CR) {
			if (info->a != 0 && info->a != 2 && info->a != 3 && info->a != 4 &&
			    info->a != 8) {
				bt_raise(v, 6, 0, 0);
				return 1;
			}
			v->ctx->regs[info->b & 15] = cr_read(v, info->a);
			break;
		}
		r = bt_cr_write(v, info->a, v->ctx->regs[info->b & 15]);
		if (r == 2) {
			bt_raise(v, 6, 0, 0);
			return 1;
		}
		if (r)
			return gp0(v);
		break;
	default:
		r = callout_decoded(v, info);
		break;
	}
	if (r)
		return r < 0 ? -1 : 1;      /* a fault: delivered by the run loop */
	c->rip = next;
	/* control-register and segment changes may have changed the view or flushed the
	 * cache: the rest of the block is not run */
	switch (info->op) {
	case BT_CO_MOV_TO_CR:
		/* CR2 and CR8 change neither the view nor the code cache; a lower TPR may
		 * let a waiting interrupt in, which the poll stops the block for */
		if (info->c && (info->a == 2 || info->a == 8)) {
			if (info->a == 8 && bt_irq_pending(v) >= 0)
				bt_arm_poll(v);
			return 0;
		}
		return 1;
	case BT_CO_LMSW: case BT_CO_INVLPG: case BT_CO_MOV_TO_SREG: case BT_CO_POP_SREG:
		return 1;
	default:
		return 0;
	}
}

/* One call-out in 64 of each kind is timed (two TSC reads cost about as much as a
 * short call-out), so that the counters say where the time goes at little cost. */
int bt_callout(struct bt_vcpu *v, const struct bt_exit_info *info, struct hv_exit *exit)
{
	uint8_t op = info->op < BT_CO_NR ? info->op : 0;
	uint64_t t0;
	int r;

	if (v->stats.callouts[op] % 64)
		return callout_run(v, info, exit);
	t0 = __rdtsc();
	r = callout_run(v, info, exit);
	v->stats.callout_cycles[op] += __rdtsc() - t0;
	v->stats.callouts_timed[op]++;
	return r;
}

/* The indirect-branch table of the current CPL, as translated code uses it: where
 * translated code already exists for the guest's RIP, found without a walk of the
 * guest's tables (its blocks were fetched at this CPL, U/S and SMEP checked). NULL:
 * not known. */
const uint8_t *bt_known_block(struct bt_vcpu *v)
{
	uint64_t rip = v->cpu.rip;
	const struct bt_htab_entry *h = &v->ctx->htab[bt_htab_index(rip, bt_kmode(v))];

	return h->guest == rip ? (const uint8_t *)(uintptr_t)h->host : NULL;
}

/* The exit stub's shortcut: the call-out runs on the host stack right away, and where
 * it leaves nothing for the run loop, translated code goes on at once, without the
 * return through bt_enter and the run loop's event scan:
 * - finished inline: after the call-out's record;
 * - moved the guest elsewhere (syscall, sysret, iretq, int, or a fault it raised,
 *   delivered here through the IDT): at the block already translated for the new RIP
 *   and CPL, with GS written first when the view changed.
 * Not with an exit to the core, the code cache changed, a poll armed or another
 * vCPU's request waiting, a stop asked, a halt, or an interrupt waiting: then the
 * result waits in v->fast for the run loop. Counting mode takes the run loop's way
 * (what a block gives back is worked out there). */
const uint8_t *bt_callout_fast(struct bt_ctx *ctx)
{
	struct bt_vcpu *v = ctx->vcpu;
	const struct bt_exit_info *info = ctx->exit_info;
	const uint8_t *next = NULL;
	uint32_t epoch;

	if (!info || info->kind != BT_EXIT_CALLOUT || v->icount)
		return NULL;
	epoch = v->cache.epoch;
	v->fast.r = bt_callout(v, info, &v->fast.exit);
	/* a fault raised in C (an emulated access, #GP, #DE) is delivered here too */
	if (v->fast.r == 1 && v->fault.pending && epoch == v->cache.epoch) {
		int d = bt_deliver_fault(v);

		if (d < 0)
			v->fast.r = -1;
		else if (d > 0)
			v->shutdown = 1;
	}
	if ((v->fast.r == 0 || v->fast.r == 1) && epoch == v->cache.epoch && !v->shutdown &&
	    !v->fault.pending && !v->cpu.halted &&
	    !__atomic_load_n(&v->poll_armed, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&v->xreq.pending, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&v->exit_request, __ATOMIC_ACQUIRE)) {
		if (v->fast.r == 0)
			next = (const uint8_t *)(info + 1);
		else if (bt_irq_pending(v) < 0 && (next = bt_known_block(v)) && bt_gs_sync(v))
			next = NULL;         /* the run loop reports the host error */
	}
	if (next) {
		v->stats.callouts_inline++;
		return next;
	}
	v->fast.done = 1;
	v->fast.epoch = epoch;
	return NULL;
}
