/* The device bus: port I/O and MMIO ranges, each owned by one device. The run loop
 * looks an access up here instead of growing a switch; registration refuses a range
 * that overlaps one already registered. */
#ifndef HVLAB_BUS_H
#define HVLAB_BUS_H
#include <stdint.h>

enum hv_bus_space { HV_BUS_PIO, HV_BUS_MMIO, HV_BUS_NSPACES };

#define HV_BUS_MAX_DEVS 32
#define HV_BUS_PIO_END  0x10000ull   /* ports are 16-bit */

struct hv_vcpu;

/* Handles one access of len bytes at offset from the device's base. For a read the
 * handler fills data[0..len). Returns 0, or -1 with hv_err_msg() saying what the guest
 * did wrong (the VMM then stops the guest). */
typedef int (*hv_bus_handler)(void *dev, struct hv_vcpu *vcpu, uint64_t offset,
			      uint8_t *data, uint32_t len, int is_write);

struct hv_bus_dev {
	enum hv_bus_space space;
	uint64_t base, len;
	const char *name;
	void *dev;
	hv_bus_handler handler;
};

struct hv_bus {
	struct hv_bus_dev devs[HV_BUS_MAX_DEVS];
	unsigned ndevs;
	/* per space, the device the last lookup found: accesses come in runs to one
	 * device (a hint only, read and written by every vCPU thread, atomically) */
	unsigned hint[HV_BUS_NSPACES];
	/* per space, what answers an access no device claims (a PC's floating bus for a
	 * Linux guest); unset (no handler): the access is the guest's fault */
	struct hv_bus_dev fallback[HV_BUS_NSPACES];
};

void hv_bus_init(struct hv_bus *bus);
/* Registers [base, base + len) in space. Returns 0, or -1 with hv_err_msg() set when
 * len is 0, the range wraps or leaves the space, it overlaps a registered device
 * (both are named), or the bus is full. */
int hv_bus_register(struct hv_bus *bus, enum hv_bus_space space, uint64_t base,
		    uint64_t len, const char *name, void *dev, hv_bus_handler handler);
/* Makes dev answer every access in space that no registered device claims. */
void hv_bus_set_fallback(struct hv_bus *bus, enum hv_bus_space space, const char *name,
			 void *dev, hv_bus_handler handler);
/* The device whose range holds all of [addr, addr + len), else the space's fallback,
 * else NULL. */
const struct hv_bus_dev *hv_bus_find(const struct hv_bus *bus, enum hv_bus_space space,
				     uint64_t addr, uint32_t len);
const char *hv_bus_space_name(enum hv_bus_space space);

#endif
