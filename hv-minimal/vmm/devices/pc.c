/* The rest of a PC, for a Linux guest: the CMOS real-time clock (index port 0x70, data
 * 0x71; the host's UTC time in BCD, 24-hour, never mid-update), and the floating bus:
 * a port or guest-physical address no device claims reads all ones and ignores writes,
 * as on a PC with nothing there. That is how Linux finds no PCI (config type 1 at
 * 0xcf8 reads back all ones), no keyboard controller and no second serial port. The
 * unclaimed accesses are counted and the first ports named in the run's notes. */
#include <time.h>

#include "hvlab/err.h"
#include "hvlab/vm.h"

#define CMOS_PORT      0x70
#define CMOS_SECONDS   0x00
#define CMOS_MINUTES   0x02
#define CMOS_HOURS     0x04
#define CMOS_WEEKDAY   0x06
#define CMOS_DAY       0x07
#define CMOS_MONTH     0x08
#define CMOS_YEAR      0x09
#define CMOS_STATUS_A  0x0a
#define CMOS_STATUS_B  0x0b
#define CMOS_STATUS_C  0x0c
#define CMOS_STATUS_D  0x0d
#define CMOS_CENTURY   0x32
#define STATUS_A_DIV   0x26   /* 32.768 kHz time base, 1024 Hz rate, no update in progress */
#define STATUS_B_24H   0x02   /* 24-hour, BCD, no interrupts */
#define STATUS_D_VRT   0x80   /* the battery is good */

static uint8_t bcd(int v) { return (uint8_t)(((v / 10) % 10) << 4 | (v % 10)); }

static uint8_t cmos_read(uint8_t index)
{
	time_t now = time(NULL);
	struct tm tm;

	if (!gmtime_r(&now, &tm))
		return 0;
	switch (index) {
	case CMOS_SECONDS: return bcd(tm.tm_sec);
	case CMOS_MINUTES: return bcd(tm.tm_min);
	case CMOS_HOURS: return bcd(tm.tm_hour);
	case CMOS_WEEKDAY: return bcd(tm.tm_wday + 1);
	case CMOS_DAY: return bcd(tm.tm_mday);
	case CMOS_MONTH: return bcd(tm.tm_mon + 1);
	case CMOS_YEAR: return bcd(tm.tm_year % 100);
	case CMOS_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	case CMOS_STATUS_A: return STATUS_A_DIV;
	case CMOS_STATUS_B: return STATUS_B_24H;
	case CMOS_STATUS_D: return STATUS_D_VRT;
	default: return 0;    /* status C (no interrupt flags) and the NVRAM: zeros */
	}
}

static int cmos_io(void *dev, struct hv_vcpu *vcpu, uint64_t offset, uint8_t *data,
		   uint32_t len, int is_write)
{
	struct hv_pc *pc = dev;

	(void)vcpu;
	if (len != 1)
		return hv_err_set("the CMOS ports are 1 byte wide, the guest used %u", len);
	if (offset == 0) {
		if (is_write)      /* bit 7 masks NMIs: nothing to mask here */
			__atomic_store_n(&pc->cmos_index, data[0] & 0x7f, __ATOMIC_RELAXED);
		return 0;
	}
	if (!is_write)
		data[0] = cmos_read(__atomic_load_n(&pc->cmos_index, __ATOMIC_RELAXED));
	return 0;
}

/* The floating bus. The core has filled a read with all ones already. */
static int unclaimed_pio(void *dev, struct hv_vcpu *vcpu, uint64_t port, uint8_t *data,
			 uint32_t len, int is_write)
{
	struct hv_pc *pc = dev;
	struct hv_vm *vm = vcpu->vm;

	(void)data;
	(void)len;
	(void)is_write;
	pthread_mutex_lock(&vm->lock);
	pc->unclaimed_pio++;
	unsigned i = 0;

	while (i < pc->nfirst && pc->first_ports[i] != port)
		i++;
	if (i == pc->nfirst && pc->nfirst < sizeof(pc->first_ports) / sizeof(pc->first_ports[0]))
		pc->first_ports[pc->nfirst++] = (uint16_t)port;
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int unclaimed_mmio(void *dev, struct hv_vcpu *vcpu, uint64_t addr, uint8_t *data,
			  uint32_t len, int is_write)
{
	struct hv_pc *pc = dev;

	(void)vcpu;
	(void)addr;
	(void)data;
	(void)len;
	(void)is_write;
	__atomic_add_fetch(&pc->unclaimed_mmio, 1, __ATOMIC_RELAXED);
	return 0;
}

int hv_pc_register(struct hv_vm *vm)
{
	struct hv_pc *pc = &vm->dev.pc;

	hv_bus_set_fallback(&vm->bus, HV_BUS_PIO, "unclaimed port", pc, unclaimed_pio);
	hv_bus_set_fallback(&vm->bus, HV_BUS_MMIO, "unclaimed memory", pc, unclaimed_mmio);
	return hv_bus_register(&vm->bus, HV_BUS_PIO, CMOS_PORT, 2, "cmos", pc, cmos_io);
}
