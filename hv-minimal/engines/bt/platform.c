/* The local platform of a vCPU, which KVM's in-kernel irqchip provides under the hw
 * engine and this engine emulates itself: the local APIC (xAPIC registers by MMIO,
 * its timer in one-shot and periodic modes, EOI, TPR, fixed IPIs), the masks of the
 * legacy PICs and the PIT's speaker port, and the ioeventfd ports. Interrupts reach
 * a running vCPU through its poll page (translated code leaves at its next block) and
 * a halted one through its wake eventfd; the timer runs in a thread of its own
 * (a timerfd), so a halted vCPU sleeps instead of spinning. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <x86intrin.h>

#include "bt.h"
#include "hvlab/err.h"

#define LAPIC_ID     0x020
#define LAPIC_VER    0x030
#define LAPIC_TPR    0x080
#define LAPIC_APR    0x090
#define LAPIC_PPR    0x0a0
#define LAPIC_EOI    0x0b0
#define LAPIC_LDR    0x0d0
#define LAPIC_DFR    0x0e0
#define LAPIC_SVR    0x0f0
#define LAPIC_ISR    0x100
#define LAPIC_TMR    0x180
#define LAPIC_IRR    0x200
#define LAPIC_ESR    0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT0   0x320        /* timer; then thermal, perf, LINT0, LINT1, error */
#define LAPIC_TMICT  0x380
#define LAPIC_TMCCT  0x390
#define LAPIC_TDCR   0x3e0

#define LVT_MASKED   (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define RFLAGS_IF    (1ull << 9)

int bt_platform_init(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;

	memset(l, 0, sizeof(*l));
	l->id = v->index << 24;
	l->dfr = 0xffffffff;
	l->svr = 0xff;
	for (int i = 0; i < 6; i++)
		l->lvt[i] = LVT_MASKED;
	l->timer_fd = l->stop_fd = -1;
	l->pic_mask[0] = l->pic_mask[1] = 0xff;
	l->sipi_vector = -1;
	v->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->wake_fd < 0)
		return hv_err_errno("creating the wake-up eventfd of vCPU %u", v->index);
	return 0;
}

void bt_platform_destroy(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;
	uint64_t one = 1;

	if (l->timer_thread_up) {
		if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(l->timer_thread);
		pthread_join(l->timer_thread, NULL);
	}
	if (l->timer_fd >= 0)
		close(l->timer_fd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	if (v->wake_fd >= 0)
		close(v->wake_fd);
	v->wake_fd = -1;
}

/* ---- getting the vCPU's attention ---- */

void bt_arm_poll(struct bt_vcpu *v)
{
	if (!__atomic_exchange_n(&v->poll_armed, 1, __ATOMIC_ACQ_REL))
		mprotect(v->ctx->poll, sizeof(v->ctx->poll), PROT_READ);
}

void bt_wake(struct bt_vcpu *v)
{
	uint64_t one = 1;
	ssize_t r = write(v->wake_fd, &one, sizeof(one));

	(void)r;   /* EAGAIN: the counter is already set, which is enough */
}

/* Sleeps until bt_wake(); 0, or -1 with hv_err_msg() set. */
int bt_halt_wait(struct bt_vcpu *v)
{
	struct pollfd p = { .fd = v->wake_fd, .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, -1) < 0 && errno != EINTR)
		return hv_err_errno("waiting for an interrupt on halted vCPU %u", v->index);
	if (read(v->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return hv_err_errno("reading the wake-up eventfd of vCPU %u", v->index);
	return 0;
}

/* ---- interrupt state ---- */

void bt_irq_set(struct bt_vcpu *v, int vector)
{
	__atomic_fetch_or(&v->lapic.irr[vector / 32], 1u << (vector % 32), __ATOMIC_RELEASE);
	bt_arm_poll(v);
	bt_wake(v);
}

static int highest(const uint32_t *bits)
{
	for (int i = 7; i >= 0; i--) {
		uint32_t w = __atomic_load_n(&bits[i], __ATOMIC_ACQUIRE);

		if (w)
			return i * 32 + 31 - __builtin_clz(w);
	}
	return -1;
}

static uint32_t ppr(const struct bt_lapic *l)
{
	int isrv = highest(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	return (l->tpr & 0xf0) >= isr_class ? l->tpr : isr_class;
}

int bt_irq_pending(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;
	int vec;

	bt_timer_poll(v);
	if (!(v->cpu.vflags & RFLAGS_IF) || !(l->svr & 0x100))
		return -1;
	vec = highest(l->irr);
	if (vec < 16 || (uint32_t)(vec & 0xf0) <= (ppr(l) & 0xf0))
		return -1;
	return vec;
}

void bt_irq_ack(struct bt_vcpu *v, int vector)
{
	struct bt_lapic *l = &v->lapic;

	__atomic_fetch_and(&l->irr[vector / 32], ~(1u << (vector % 32)), __ATOMIC_ACQ_REL);
	l->isr[vector / 32] |= 1u << (vector % 32);
}

/* ---- the timer ---- */

static uint64_t divisor(const struct bt_lapic *l)
{
	uint32_t d = (l->timer_dcr & 3) | ((l->timer_dcr & 8) >> 1);

	return d == 7 ? 1 : 2ull << d;
}

/* The timer thread turns each expiry into a poll and a wake-up. */
static void *timer_thread(void *arg)
{
	struct bt_vcpu *v = arg;
	struct bt_lapic *l = &v->lapic;
	struct pollfd p[2] = { { .fd = l->timer_fd, .events = POLLIN },
			       { .fd = l->stop_fd, .events = POLLIN } };
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		uint64_t n;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN) || read(l->timer_fd, &n, sizeof(n)) != sizeof(n))
			continue;
		__atomic_store_n(&l->timer_fired, 1, __ATOMIC_RELEASE);
		bt_arm_poll(v);
		bt_wake(v);
	}
	return NULL;
}

static int timer_start_thread(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;
	int err;

	l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->timer_fd < 0 || l->stop_fd < 0)
		return hv_err_errno("creating the LAPIC timer of vCPU %u", v->index);
	err = pthread_create(&l->timer_thread, NULL, timer_thread, v);
	if (err) {
		errno = err;
		return hv_err_errno("starting the LAPIC timer thread of vCPU %u", v->index);
	}
	l->timer_thread_up = 1;
	return 0;
}

/* (Re)programs the host timer from the initial count and the divider. */
static int timer_program(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;
	struct itimerspec its;

	if (!l->timer_thread_up && timer_start_thread(v))
		return -1;
	memset(&its, 0, sizeof(its));
	l->timer_ns = (uint64_t)l->timer_init * divisor(l);   /* a 1 GHz bus clock */
	l->timer_start = __rdtsc();
	__atomic_store_n(&l->timer_fired, 0, __ATOMIC_RELEASE);
	if (l->timer_ns) {
		its.it_value.tv_sec = (time_t)(l->timer_ns / 1000000000u);
		its.it_value.tv_nsec = (long)(l->timer_ns % 1000000000u);
		if (l->lvt[0] & LVT_PERIODIC)
			its.it_interval = its.it_value;
	}
	if (timerfd_settime(l->timer_fd, 0, &its, NULL))
		return hv_err_errno("arming the LAPIC timer of vCPU %u", v->index);
	return 0;
}

static uint32_t timer_current(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;
	uint64_t khz = v->vm->tsc_khz ? v->vm->tsc_khz : 1000000;
	uint64_t ns, counts;

	if (!l->timer_ns)
		return 0;
	ns = (__rdtsc() - l->timer_start) * 1000000u / khz;
	counts = ns / divisor(l);
	if (l->lvt[0] & LVT_PERIODIC)
		return l->timer_init - (uint32_t)(counts % l->timer_init);
	return counts >= l->timer_init ? 0 : l->timer_init - (uint32_t)counts;
}

void bt_timer_poll(struct bt_vcpu *v)
{
	struct bt_lapic *l = &v->lapic;

	if (!__atomic_exchange_n(&l->timer_fired, 0, __ATOMIC_ACQ_REL))
		return;
	if (!(l->lvt[0] & LVT_MASKED) && (l->lvt[0] & 0xff) >= 16)
		__atomic_fetch_or(&l->irr[(l->lvt[0] & 0xff) / 32], 1u << (l->lvt[0] % 32),
				  __ATOMIC_RELEASE);
	if (!(l->lvt[0] & LVT_PERIODIC))
		l->timer_ns = 0;
}

/* ---- IPIs ---- */

static void ipi_one(struct bt_vcpu *v, struct bt_vcpu *to, uint32_t icr)
{
	(void)v;
	switch ((icr >> 8) & 7) {
	case 0:                          /* fixed */
		bt_irq_set(to, (int)(icr & 0xff));
		break;
	case 5:                          /* INIT */
		__atomic_store_n(&to->lapic.init_received, 1, __ATOMIC_RELEASE);
		bt_wake(to);
		break;
	case 6:                          /* STARTUP */
		__atomic_store_n(&to->lapic.sipi_vector, (int)(icr & 0xff), __ATOMIC_RELEASE);
		bt_wake(to);
		break;
	default:
		break;                   /* NMI, SMI, lowest priority: not delivered */
	}
}

static void ipi_send(struct bt_vcpu *v, uint32_t icr)
{
	struct bt_vm *vm = v->vm;
	unsigned shorthand = (icr >> 18) & 3, dest = v->lapic.icr_hi >> 24;

	for (unsigned i = 0; i < vm->nr_vcpus && i < 16; i++) {
		struct bt_vcpu *to = vm->vcpus[i];

		if (!to)
			continue;
		if ((shorthand == 0 && i != dest) || (shorthand == 1 && to != v) ||
		    (shorthand == 3 && to == v))
			continue;
		ipi_one(v, to, icr);
	}
}

/* ---- registers ---- */

int bt_is_lapic(const struct bt_vcpu *v, uint64_t gpa)
{
	uint64_t base = v->cpu.apic_base & ~0xfffull;

	return (v->cpu.apic_base & (1ull << 11)) && gpa >= base && gpa - base < 4096;
}

static uint32_t lapic_read(struct bt_vcpu *v, uint32_t reg)
{
	struct bt_lapic *l = &v->lapic;

	if (reg >= LAPIC_ISR && reg < LAPIC_ISR + 0x80)
		return l->isr[(reg - LAPIC_ISR) / 16];
	if (reg >= LAPIC_TMR && reg < LAPIC_TMR + 0x80)
		return 0;
	if (reg >= LAPIC_IRR && reg < LAPIC_IRR + 0x80)
		return __atomic_load_n(&l->irr[(reg - LAPIC_IRR) / 16], __ATOMIC_ACQUIRE);
	if (reg >= LAPIC_LVT0 && reg < LAPIC_LVT0 + 0x60)
		return l->lvt[(reg - LAPIC_LVT0) / 16];
	switch (reg) {
	case LAPIC_ID: return l->id;
	case LAPIC_VER: return 0x00050014;   /* version 0x14, 6 LVT entries */
	case LAPIC_TPR: return l->tpr;
	case LAPIC_APR: return 0;
	case LAPIC_PPR: return ppr(l);
	case LAPIC_LDR: return l->ldr;
	case LAPIC_DFR: return l->dfr;
	case LAPIC_SVR: return l->svr;
	case LAPIC_ESR: return l->esr;
	case LAPIC_ICR_LO: return l->icr_lo & ~(1u << 12);   /* delivered at once */
	case LAPIC_ICR_HI: return l->icr_hi;
	case LAPIC_TMICT: return l->timer_init;
	case LAPIC_TMCCT: return timer_current(v);
	case LAPIC_TDCR: return l->timer_dcr;
	default: return 0;
	}
}

static int lapic_write(struct bt_vcpu *v, uint32_t reg, uint32_t val)
{
	struct bt_lapic *l = &v->lapic;
	int vec;

	if (reg >= LAPIC_LVT0 && reg < LAPIC_LVT0 + 0x60) {
		unsigned i = (reg - LAPIC_LVT0) / 16;
		uint32_t old = l->lvt[i];

		l->lvt[i] = val;
		/* a mode change restarts the count, as it does on hardware */
		if (i == 0 && ((old ^ val) & LVT_PERIODIC) && l->timer_ns)
			return timer_program(v);
		return 0;
	}
	switch (reg) {
	case LAPIC_TPR: l->tpr = val & 0xff; break;
	case LAPIC_EOI:
		vec = highest(l->isr);
		if (vec >= 0)
			l->isr[vec / 32] &= ~(1u << (vec % 32));
		break;
	case LAPIC_LDR: l->ldr = val & 0xff000000u; break;
	case LAPIC_DFR: l->dfr = val | 0x0fffffffu; break;
	case LAPIC_SVR: l->svr = val & 0x3ff; break;
	case LAPIC_ESR: l->esr = 0; break;
	case LAPIC_ICR_HI: l->icr_hi = val; break;
	case LAPIC_ICR_LO:
		l->icr_lo = val;
		ipi_send(v, val);
		break;
	case LAPIC_TMICT:
		l->timer_init = val;
		return timer_program(v);
	case LAPIC_TDCR: l->timer_dcr = val & 0xb; break;
	default: break;                 /* read-only or reserved: ignored */
	}
	return 0;
}

int bt_lapic_mmio(struct bt_vcpu *v, uint64_t offset, uint32_t len, int is_write,
		  uint8_t *data)
{
	uint32_t reg = (uint32_t)offset & 0xff0, val;

	/* registers are 32 bits at 16-byte steps; other widths see the same value */
	if (is_write) {
		val = 0;
		memcpy(&val, data, len < 4 ? len : 4);
		return lapic_write(v, reg, val);
	}
	val = lapic_read(v, reg);
	memset(data, 0, len);
	memcpy(data, &val, len < 4 ? len : 4);
	return 0;
}

/* ---- ports ---- */

int bt_platform_pio(struct bt_vcpu *v, uint16_t port, uint8_t size, int is_write,
		    uint8_t *data)
{
	struct bt_lapic *l = &v->lapic;
	struct bt_vm *vm = v->vm;

	for (unsigned i = 0; i < vm->nioev; i++) {
		uint64_t one = 1;

		if (vm->ioev[i].port != port || vm->ioev[i].len != size || !is_write)
			continue;
		if (write(vm->ioev[i].fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			return 0;
		return 1;
	}
	switch (port) {
	case 0x20: case 0xa0:            /* PIC commands: nothing is routed through them */
	case 0x4d0: case 0x4d1:          /* ELCR */
	case 0x40: case 0x41: case 0x42: case 0x43:   /* PIT: reads count down from 0 */
		if (!is_write)
			memset(data, 0, size);
		return 1;
	case 0x21: case 0xa1:
		if (is_write)
			l->pic_mask[port == 0xa1] = data[0];
		else
			memset(data, l->pic_mask[port == 0xa1], size);
		return 1;
	case 0x61:                       /* speaker gate; OUT2 reads as expired */
		if (is_write)
			l->port61 = data[0];
		else
			memset(data, l->port61 | 0x20, size);
		return 1;
	default:
		return 0;
	}
}
