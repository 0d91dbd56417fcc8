/* Local APIC driver. Every register access is an MMIO access; on a host that
 * emulates guest kernel code each one is an emulated instruction, so the paths that
 * run often (EOI, IPI) are one or two accesses. */
#include "apic.h"
#include "pv.h"
#include "kernel.h"
#include "tlb.h"
#include "vm.h"
#include "x86.h"

#define LAPIC_PA        0xfee00000ull
#define LAPIC_ID        0x020
#define LAPIC_TPR       0x080
#define LAPIC_EOI       0x0b0
#define LAPIC_SVR       0x0f0
#define LAPIC_ESR       0x280
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define SVR_ENABLE      0x100
#define LVT_MASKED      (1u << 16)
#define LVT_PERIODIC    (1u << 17)
#define TIMER_DIV_16    0x3
#define ICR_PENDING     (1u << 12)
#define ICR_INIT        0x00004500u   /* INIT, level assert */
#define ICR_STARTUP     0x00004600u
#define ICR_FIXED       0x00004000u   /* fixed, assert */

#define PIC1_DATA       0x21
#define PIC2_DATA       0xa1

#define CALIBRATE_MS    10
#define PIT_HZ          1193182u
#define PIT_CH2         0x42
#define PIT_CMD         0x43
#define PIT_GATE        0x61

static volatile uint32_t *lapic;
static uint32_t timer_count;          /* initial count for one tick, divide by 16 */

static inline uint32_t rd(uint32_t reg)
{
	return lapic[reg / 4];
}

static inline void wr(uint32_t reg, uint32_t v)
{
	lapic[reg / 4] = v;
}

void udelay(uint64_t us)
{
	if (kcfg.tsc_khz) {
		/* the kernel's time: the pvclock page under pv, the TSC at its known rate */
		uint64_t end = pv->clock_ns() + us * 1000;
		while (pv->clock_ns() < end)
			pause();
		return;
	}
	uint64_t t0 = rdtsc(), n = us * 2000000 / 1000;   /* before calibration: ~2 GHz */
	while (rdtsc() - t0 < n)
		pause();
}

/* The TSC rate against PIT channel 2 (speaker gate, no interrupt): only where the boot
 * info had none (PVH). */
static uint64_t tsc_khz_from_pit(void)
{
	uint16_t latch = (uint16_t)(PIT_HZ * CALIBRATE_MS / 1000);

	outb(PIT_GATE, (uint8_t)((inb(PIT_GATE) & ~0x02) | 0x01));
	outb(PIT_CMD, 0xb0);                  /* channel 2, lo/hi byte, mode 0 */
	outb(PIT_CH2, (uint8_t)latch);
	outb(PIT_CH2, (uint8_t)(latch >> 8));
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < (1ull << 32) && !(inb(PIT_GATE) & 0x20); i++)
		;
	return (rdtsc() - t0) / CALIBRATE_MS;
}

int lapic_setup(void)
{
	/* Firmware may have left the legacy PICs programmed: mask every line, so that only
	 * the local APIC interrupts (the LAPIC's LINT0 is masked too, per CPU). */
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	lapic = vm_map_device(LAPIC_PA);
	if (!lapic) {
		kprintf("lapic: no room to map it\n");
		return -1;
	}
	if (!kcfg.tsc_khz) {
		kcfg.tsc_khz = tsc_khz_from_pit();
		kprintf("lapic: TSC %lu kHz (measured against the PIT)\n", kcfg.tsc_khz);
	}
	if (!kcfg.tsc_khz) {
		kprintf("lapic: the TSC rate is unknown\n");
		return -1;
	}
	tlb_resend_cycles = kcfg.tsc_khz;     /* 1 ms */
	/* Timer ticks in CALIBRATE_MS, counting down from the top, masked. */
	wr(LAPIC_TIMER_DIV, TIMER_DIV_16);
	wr(LAPIC_LVT_TIMER, LVT_MASKED | T_TIMER);
	wr(LAPIC_TIMER_INIT, 0xffffffffu);
	udelay(CALIBRATE_MS * 1000);
	uint64_t ticks = 0xffffffffu - rd(LAPIC_TIMER_CUR);
	wr(LAPIC_TIMER_INIT, 0);
	uint64_t per_s = ticks * (1000 / CALIBRATE_MS);
	if (!kcfg.hz) {
		kprintf("lapic: timer off (hz=0): no preemption\n");
		return 0;
	}
	if (!ticks || per_s / kcfg.hz == 0 || per_s / kcfg.hz > 0xffffffffu) {
		kprintf("lapic: timer counted %lu in %d ms: cannot make %u Hz\n", ticks,
			CALIBRATE_MS, kcfg.hz);
		return -1;
	}
	timer_count = (uint32_t)(per_s / kcfg.hz);
	kprintf("lapic: timer %lu kHz (divided by 16), tick every %u counts (%u Hz)\n",
		per_s / 1000, timer_count, kcfg.hz);
	return 0;
}

void lapic_init_cpu(void)
{
	wr(LAPIC_SVR, SVR_ENABLE | T_SPURIOUS);
	wr(LAPIC_TPR, 0);
	wr(LAPIC_LVT_LINT0, LVT_MASKED);
	wr(LAPIC_LVT_LINT1, LVT_MASKED);
	wr(LAPIC_LVT_ERROR, LVT_MASKED);
	wr(LAPIC_ESR, 0);
	wr(LAPIC_TIMER_DIV, TIMER_DIV_16);
	wr(LAPIC_LVT_TIMER, (timer_count ? 0 : LVT_MASKED) | LVT_PERIODIC | T_TIMER);
	wr(LAPIC_TIMER_INIT, timer_count);
	lapic_eoi();
}

uint32_t lapic_id(void)
{
	return rd(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	wr(LAPIC_EOI, 0);
}

/* The previous IPI has left (bounded: a LAPIC that never clears the bit is not worth
 * hanging on). */
static void icr_wait(void)
{
	for (int i = 0; i < 1000 && (rd(LAPIC_ICR_LO) & ICR_PENDING); i++)
		pause();
}

static void icr_send(uint32_t dest, uint32_t lo)
{
	icr_wait();
	wr(LAPIC_ICR_HI, dest << 24);
	wr(LAPIC_ICR_LO, lo);
}

void lapic_ipi(uint32_t dest, uint32_t vector)
{
	icr_send(dest, ICR_FIXED | vector);
}

void lapic_init_ipi(uint32_t dest)
{
	icr_send(dest, ICR_INIT);
}

void lapic_sipi(uint32_t dest, uint32_t page)
{
	icr_send(dest, ICR_STARTUP | (page & 0xff));
}
