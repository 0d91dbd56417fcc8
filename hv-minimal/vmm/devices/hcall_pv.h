/* The paravirtual hypercalls (hcall_pv.c), for the doorbell's dispatcher (hcall.c). */
#ifndef HVLAB_HCALL_PV_H
#define HVLAB_HCALL_PV_H
#include <stdint.h>

#include "hvlab/abi.h"

struct hv_vm;
struct hv_vcpu;

/* HV_PV_* bits this VMM offers under vm's engine (HV_HC_FEATURES). */
uint32_t hv_pv_features(struct hv_vm *vm);
/* Runs paravirtual call pg->nr (HV_HC_FEATURES and up) for vcpu; may write pg->args
 * (the call's outputs). Returns the call's result (a negative HV_HC_E* code when
 * refused), or INT64_MIN with hv_err_msg() set when the host failed. */
int64_t hv_pv_call(struct hv_vcpu *vcpu, struct hv_hcall_page *pg);

/* The spinlock calls (hcall_spin.c): HV_HC_SPIN_NOTIFY, _WAIT and _KICK, offered
 * under every engine (HV_PV_SPIN). Returns the call's result or a HV_HC_E* code. */
int64_t hv_spin_call(struct hv_vcpu *vcpu, const struct hv_hcall_page *pg);

#endif
