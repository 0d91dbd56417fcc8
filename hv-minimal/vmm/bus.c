/* The device bus. A handful of devices per space: a linear scan is as fast as anything
 * cleverer and obviously right. */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "hvlab/bus.h"
#include "hvlab/err.h"

void hv_bus_init(struct hv_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
}

const char *hv_bus_space_name(enum hv_bus_space space)
{
	return space == HV_BUS_PIO ? "port" : space == HV_BUS_MMIO ? "MMIO" : "?";
}

/* [a, a + alen) and [b, b + blen) overlap; neither range wraps (checked before). */
static int ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int hv_bus_register(struct hv_bus *bus, enum hv_bus_space space, uint64_t base,
		    uint64_t len, const char *name, void *dev, hv_bus_handler handler)
{
	const char *sp = hv_bus_space_name(space);

	if ((unsigned)space >= HV_BUS_NSPACES)
		return hv_err_set("device %s: no such bus space %d", name, (int)space);
	if (len == 0)
		return hv_err_set("device %s: empty %s range at %#" PRIx64, name, sp, base);
	if (base + len < base)
		return hv_err_set("device %s: %s range %#" PRIx64 "+%#" PRIx64 " wraps around",
				  name, sp, base, len);
	if (space == HV_BUS_PIO && base + len > HV_BUS_PIO_END)
		return hv_err_set("device %s: port range %#" PRIx64 "+%#" PRIx64
				  " goes beyond port 0xffff", name, base, len);
	if (!handler)
		return hv_err_set("device %s: no handler", name);
	for (unsigned i = 0; i < bus->ndevs; i++) {
		const struct hv_bus_dev *d = &bus->devs[i];

		if (d->space == space && ranges_overlap(base, len, d->base, d->len))
			return hv_err_set("device %s: %s range %#" PRIx64 "-%#" PRIx64
					  " overlaps device %s at %#" PRIx64 "-%#" PRIx64,
					  name, sp, base, base + len - 1, d->name, d->base,
					  d->base + d->len - 1);
	}
	if (bus->ndevs >= HV_BUS_MAX_DEVS)
		return hv_err_set("device %s: the bus is full (%d devices)", name, HV_BUS_MAX_DEVS);
	bus->devs[bus->ndevs++] = (struct hv_bus_dev){
		.space = space, .base = base, .len = len, .name = name, .dev = dev,
		.handler = handler,
	};
	return 0;
}

/* Whole access inside d's range, computed without overflow. */
static int dev_holds(const struct hv_bus_dev *d, enum hv_bus_space space, uint64_t addr,
		     uint32_t len)
{
	return d->space == space && addr >= d->base && addr - d->base < d->len &&
	       len <= d->len - (addr - d->base);
}

const struct hv_bus_dev *hv_bus_find(const struct hv_bus *bus, enum hv_bus_space space,
				     uint64_t addr, uint32_t len)
{
	unsigned h;

	if (len == 0 || (unsigned)space >= HV_BUS_NSPACES)
		return NULL;
	h = __atomic_load_n(&bus->hint[space], __ATOMIC_RELAXED);
	if (h < bus->ndevs && dev_holds(&bus->devs[h], space, addr, len))
		return &bus->devs[h];
	for (unsigned i = 0; i < bus->ndevs; i++) {
		if (dev_holds(&bus->devs[i], space, addr, len)) {
			/* the bus is the VM's, never const storage: the hint may change */
			__atomic_store_n((unsigned *)&bus->hint[space], i, __ATOMIC_RELAXED);
			return &bus->devs[i];
		}
	}
	return bus->fallback[space].handler ? &bus->fallback[space] : NULL;
}

void hv_bus_set_fallback(struct hv_bus *bus, enum hv_bus_space space, const char *name,
			 void *dev, hv_bus_handler handler)
{
	bus->fallback[space] = (struct hv_bus_dev){
		.space = space, .base = 0, .len = space == HV_BUS_PIO ? HV_BUS_PIO_END : UINT64_MAX,
		.name = name, .dev = dev, .handler = handler,
	};
}
