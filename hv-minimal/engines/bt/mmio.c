/* Guest accesses to device memory (guest-physical addresses outside RAM). A window
 * cannot map them, so the access faults; the run loop then emulates the guest
 * instruction here: the local APIC is the engine's own, anything else becomes an
 * HV_VMEXIT_MMIO exit to the core (as under the hw engine), completed by the next
 * run. The instructions drivers use for device registers are emulated: mov in both
 * directions (register or immediate), movzx and movsx loads. */
#include <inttypes.h>
#include <string.h>

#include "bt.h"
#include "hvlab/err.h"

static int find_mem(const struct bt_decoded *d)
{
	for (unsigned i = 0; i < d->in.operand_count_visible; i++)
		if (d->op[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
			return (int)i;
	return -1;
}

/* Writes a loaded value to the destination register as the instruction would. */
static void load_result(struct bt_vcpu *v, ZydisRegister dst, uint64_t val, uint8_t size,
			int sext)
{
	if (sext) {
		switch (size) {
		case 1: val = (uint64_t)(int64_t)(int8_t)val; break;
		case 2: val = (uint64_t)(int64_t)(int16_t)val; break;
		case 4: val = (uint64_t)(int64_t)(int32_t)val; break;
		default: break;
		}
	}
	bt_reg_write(v, dst, val);
}

int bt_mmio_emulate(struct bt_vcpu *v, struct hv_exit *exit)
{
	struct bt_decoded d;
	uint64_t gpa = v->mmio.gpa, val = 0;
	int m, r, write, sext = 0;
	uint8_t size;
	ZydisRegister dst = ZYDIS_REGISTER_NONE;

	v->mmio.pending = 0;
	r = bt_decode_at(v, v->cpu.rip, 0, &d);
	if (r)
		return r;
	m = find_mem(&d);
	if (m < 0)
		goto unsupported;
	size = (uint8_t)(d.op[m].size / 8);
	switch (d.in.mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		write = m == 0;
		if (write)
			val = d.op[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? d.op[1].imm.value.u
									   : bt_reg_read(v, d.op[1].reg.value);
		else
			dst = d.op[0].reg.value;
		break;
	case ZYDIS_MNEMONIC_MOVZX:
	case ZYDIS_MNEMONIC_MOVSX:
	case ZYDIS_MNEMONIC_MOVSXD:
		if (m != 1)
			goto unsupported;
		write = 0;
		dst = d.op[0].reg.value;
		sext = d.in.mnemonic != ZYDIS_MNEMONIC_MOVZX;
		break;
	default:
		goto unsupported;
	}
	if (size == 0 || size > 8)
		goto unsupported;
	if (bt_is_lapic(v, gpa)) {
		uint8_t buf[8];

		memcpy(buf, &val, 8);
		if (bt_lapic_mmio(v, gpa & 0xfff, size, write, buf))
			return -1;
		if (!write) {
			memcpy(&val, buf, 8);
			load_result(v, dst, val, size, sext);
		}
		v->cpu.rip += d.in.length;
		return 0;
	}
	memset(exit, 0, sizeof(*exit));
	exit->kind = HV_VMEXIT_MMIO;
	exit->u.mmio.addr = gpa;
	exit->u.mmio.len = size;
	exit->u.mmio.is_write = (uint8_t)write;
	exit->u.mmio.data = v->iobuf;
	memcpy(v->iobuf, &val, 8);
	if (write) {
		v->cpu.rip += d.in.length;
	} else {
		v->mmio.active = 1;
		v->mmio.dst = dst;
		v->mmio.size = size;
		v->mmio.sext = (uint8_t)sext;
		v->mmio.next_rip = v->cpu.rip + d.in.length;
	}
	return 2;
unsupported:
	return hv_err_set("the guest accessed device memory at guest-physical %#" PRIx64
			  " with %s at %#" PRIx64 ", which the binary translator does not "
			  "emulate on device memory", gpa, ZydisMnemonicGetString(d.in.mnemonic),
			  v->cpu.rip);
}

/* The core has answered a read. */
int bt_mmio_complete(struct bt_vcpu *v)
{
	uint64_t val = 0;

	if (!v->mmio.active)
		return 0;
	v->mmio.active = 0;
	memcpy(&val, v->iobuf, v->mmio.size);
	load_result(v, v->mmio.dst, val, v->mmio.size, v->mmio.sext);
	v->cpu.rip = v->mmio.next_rip;
	return 0;
}
