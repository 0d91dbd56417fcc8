/* The spinlock hypercalls (abi.h): a lock waiter that has spun past the threshold the
 * VMM advertises in CPUID leaf HV_CPUID_SPIN either tells the VMM, which gives its host
 * CPU away (Hyper-V's HvCallNotifyLongSpinWait), or sleeps until the lock's releaser
 * kicks it (KVM's pv-spinlock halt and KVM_HC_KICK_CPU). With more vCPU threads than
 * host CPUs, either lets a preempted lock holder run instead of a spinner.
 *
 * A kick is kept until a wait takes it, as KVM's pv_unhalted is, so a kick sent
 * between the waiter's last look at its lock and its wait is not lost. The wait also
 * returns at once when the lock word no longer holds the value the waiter saw (a
 * futex's check), and after HV_SPIN_WAIT_MAX_US at the latest, so a guest that never
 * kicks still runs on and a stopping VM is not held up. Both run on the vCPU's own
 * thread, through the doorbell under hw and as a direct call-out under bt. */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "hvlab/err.h"
#include "hvlab/vm.h"
#include "hcall_pv.h"

void hv_spin_init(struct hv_spin *sp)
{
	pthread_condattr_t a;

	memset(sp, 0, sizeof(*sp));
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	for (unsigned i = 0; i < HV_MAX_VCPUS; i++) {
		pthread_mutex_init(&sp->v[i].lock, NULL);
		pthread_cond_init(&sp->v[i].wake, &a);
	}
	pthread_condattr_destroy(&a);
}

void hv_spin_destroy(struct hv_spin *sp)
{
	for (unsigned i = 0; i < HV_MAX_VCPUS; i++) {
		pthread_mutex_destroy(&sp->v[i].lock);
		pthread_cond_destroy(&sp->v[i].wake);
	}
}

static int64_t hc_spin_notify(void)
{
	sched_yield();
	return 0;
}

static int64_t hc_spin_wait(struct hv_vcpu *vcpu, uint64_t gpa, uint64_t seen)
{
	/* LAB 5 BEGIN: spin-wait */
	struct hv_vm *vm = vcpu->vm;
	struct hv_spin *sp = &vm->dev.hcall.spin;
	struct hv_spin_vcpu *me = &sp->v[vcpu->index];
	const volatile uint32_t *word;
	struct timespec until;
	int64_t ret = 0;

	if (gpa % 4 || seen > UINT32_MAX)
		return HV_HC_EINVAL;
	word = hv_gpa_ptr(&vm->mem, gpa, 4);
	if (!word)
		return HV_HC_EFAULT;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += HV_SPIN_WAIT_MAX_US * 1000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	if (vm->ops->vcpu_parked)
		vm->ops->vcpu_parked(vcpu->eng, 1);
	pthread_mutex_lock(&me->lock);
	me->waiting = 1;
	for (;;) {
		if (me->kicked) {
			ret = 1;
			__atomic_add_fetch(&sp->woken_kick, 1, __ATOMIC_RELAXED);
			break;
		}
		if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != (uint32_t)seen) {
			__atomic_add_fetch(&sp->woken_changed, 1, __ATOMIC_RELAXED);
			break;
		}
		if (__atomic_load_n(&vm->stopped, __ATOMIC_ACQUIRE))
			break;
		if (pthread_cond_timedwait(&me->wake, &me->lock, &until) == ETIMEDOUT) {
			__atomic_add_fetch(&sp->woken_timeout, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	me->kicked = 0;
	me->waiting = 0;
	pthread_mutex_unlock(&me->lock);
	if (vm->ops->vcpu_parked)
		vm->ops->vcpu_parked(vcpu->eng, 0);
	return ret;
	/* LAB 5 END: spin-wait */
}

static int64_t hc_spin_kick(struct hv_vcpu *vcpu, uint64_t target)
{
	/* LAB 5 BEGIN: spin-kick */
	struct hv_spin *sp = &vcpu->vm->dev.hcall.spin;
	struct hv_spin_vcpu *t;

	if (target >= vcpu->vm->nr_vcpus)
		return HV_HC_EINVAL;
	t = &sp->v[target];
	pthread_mutex_lock(&t->lock);
	if (!t->waiting)
		__atomic_add_fetch(&sp->kicks_idle, 1, __ATOMIC_RELAXED);
	t->kicked = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	return 0;
	/* LAB 5 END: spin-kick */
}

int64_t hv_spin_call(struct hv_vcpu *vcpu, const struct hv_hcall_page *pg)
{
	switch (pg->nr) {
	case HV_HC_SPIN_NOTIFY:
		return hc_spin_notify();
	case HV_HC_SPIN_WAIT:
		return hc_spin_wait(vcpu, pg->args[0], pg->args[1]);
	case HV_HC_SPIN_KICK:
		return hc_spin_kick(vcpu, pg->args[0]);
	default:
		return HV_HC_ENOSYS;
	}
}
