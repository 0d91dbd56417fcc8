/* Register state: KVM's structs to and from the engine-neutral ones of engine.h. */
#include <string.h>
#include <sys/ioctl.h>

#include "hvlab/err.h"
#include "kvm_engine.h"

int kvm_get_regs(struct hv_engine_vcpu *c, struct hv_regs *r)
{
	struct kvm_regs k;

	if (ioctl(c->fd, KVM_GET_REGS, &k) < 0)
		return hv_err_errno("KVM_GET_REGS on vCPU %u", c->index);
	*r = (struct hv_regs){
		.rax = k.rax, .rbx = k.rbx, .rcx = k.rcx, .rdx = k.rdx,
		.rsi = k.rsi, .rdi = k.rdi, .rsp = k.rsp, .rbp = k.rbp,
		.r8 = k.r8, .r9 = k.r9, .r10 = k.r10, .r11 = k.r11,
		.r12 = k.r12, .r13 = k.r13, .r14 = k.r14, .r15 = k.r15,
		.rip = k.rip, .rflags = k.rflags,
	};
	return 0;
}

int kvm_set_regs(struct hv_engine_vcpu *c, const struct hv_regs *r)
{
	struct kvm_regs k = {
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx,
		.rsi = r->rsi, .rdi = r->rdi, .rsp = r->rsp, .rbp = r->rbp,
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15,
		.rip = r->rip, .rflags = r->rflags,
	};

	if (ioctl(c->fd, KVM_SET_REGS, &k) < 0)
		return hv_err_errno("KVM_SET_REGS on vCPU %u", c->index);
	return 0;
}

static void seg_from_kvm(struct hv_segment *s, const struct kvm_segment *k)
{
	*s = (struct hv_segment){
		.base = k->base, .limit = k->limit, .selector = k->selector, .type = k->type,
		.present = k->present, .dpl = k->dpl, .db = k->db, .s = k->s, .l = k->l,
		.g = k->g, .avl = k->avl, .unusable = k->unusable,
	};
}

static void seg_to_kvm(struct kvm_segment *k, const struct hv_segment *s)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
		.present = s->present, .dpl = s->dpl, .db = s->db, .s = s->s, .l = s->l,
		.g = s->g, .avl = s->avl, .unusable = s->unusable,
	};
}

int kvm_get_sregs(struct hv_engine_vcpu *c, struct hv_sregs *s)
{
	struct kvm_sregs k;

	if (ioctl(c->fd, KVM_GET_SREGS, &k) < 0)
		return hv_err_errno("KVM_GET_SREGS on vCPU %u", c->index);
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	s->gdt = (struct hv_dtable){ .base = k.gdt.base, .limit = k.gdt.limit };
	s->idt = (struct hv_dtable){ .base = k.idt.base, .limit = k.idt.limit };
	s->cr0 = k.cr0;
	s->cr2 = k.cr2;
	s->cr3 = k.cr3;
	s->cr4 = k.cr4;
	s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

/* Read-modify-write, so that state the neutral struct does not carry (the pending
 * interrupt bitmap) is kept. */
int kvm_set_sregs(struct hv_engine_vcpu *c, const struct hv_sregs *s)
{
	struct kvm_sregs k;

	if (ioctl(c->fd, KVM_GET_SREGS, &k) < 0)
		return hv_err_errno("KVM_GET_SREGS on vCPU %u", c->index);
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0;
	k.cr2 = s->cr2;
	k.cr3 = s->cr3;
	k.cr4 = s->cr4;
	k.cr8 = s->cr8;
	k.efer = s->efer;
	k.apic_base = s->apic_base;
	if (ioctl(c->fd, KVM_SET_SREGS, &k) < 0)
		return hv_err_errno("KVM_SET_SREGS on vCPU %u (guest state refused: check CR0/CR4/"
				    "EFER and the segments)", c->index);
	return 0;
}
