/* Guest-physical memory: one memfd mapped into the VMM, and the only way the core
 * reaches it. Every access names a guest-physical range, checked (overflow-safe)
 * against the memory size before a host pointer is formed. */
#ifndef HVLAB_GUESTMEM_H
#define HVLAB_GUESTMEM_H
#include <stddef.h>
#include <stdint.h>

struct hv_guestmem {
	uint8_t *host;           /* mapping of [0, size) */
	uint64_t size;
	int fd;                  /* memfd, for engines that map it again */
};

/* Creates size bytes of zeroed guest memory. Returns 0 or -1 with hv_err_msg() set. */
int hv_guestmem_create(struct hv_guestmem *m, uint64_t size);
void hv_guestmem_destroy(struct hv_guestmem *m);

/* 1 when [gpa, gpa + len) lies inside guest memory (len 0 included). */
int hv_gpa_range_ok(const struct hv_guestmem *m, uint64_t gpa, uint64_t len);
/* Host pointer to [gpa, gpa + len), or NULL when the range is not inside memory. */
void *hv_gpa_ptr(const struct hv_guestmem *m, uint64_t gpa, uint64_t len);
/* Copies out of / into guest memory; -1 with hv_err_msg() set when out of range. */
int hv_gpa_read(const struct hv_guestmem *m, uint64_t gpa, void *dst, size_t len);
int hv_gpa_write(const struct hv_guestmem *m, uint64_t gpa, const void *src, size_t len);

#endif
