/* Guest-physical memory: a memfd (so an engine may map the same pages again, as the
 * binary translator's windows do) mapped once into the VMM. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/guestmem.h"

int hv_guestmem_create(struct hv_guestmem *m, uint64_t size)
{
	void *p;

	m->host = NULL;
	m->size = 0;
	m->fd = memfd_create("hvm-guest-ram", MFD_CLOEXEC);
	if (m->fd < 0)
		return hv_err_errno("memfd_create for %llu bytes of guest memory",
				    (unsigned long long)size);
	if (ftruncate(m->fd, (off_t)size) < 0) {
		hv_err_errno("sizing guest memory to %llu bytes", (unsigned long long)size);
		goto fail;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->fd, 0);
	if (p == MAP_FAILED) {
		hv_err_errno("mapping %llu bytes of guest memory", (unsigned long long)size);
		goto fail;
	}
	m->host = p;
	m->size = size;
	return 0;
fail:
	close(m->fd);
	m->fd = -1;
	return -1;
}

void hv_guestmem_destroy(struct hv_guestmem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->host = NULL;
	m->size = 0;
	m->fd = -1;
}

int hv_gpa_range_ok(const struct hv_guestmem *m, uint64_t gpa, uint64_t len)
{
	/* gpa + len may wrap: compare against what is left instead. */
	return gpa <= m->size && len <= m->size - gpa;
}

void *hv_gpa_ptr(const struct hv_guestmem *m, uint64_t gpa, uint64_t len)
{
	if (!m->host || !hv_gpa_range_ok(m, gpa, len))
		return NULL;
	return m->host + gpa;
}

int hv_gpa_read(const struct hv_guestmem *m, uint64_t gpa, void *dst, size_t len)
{
	const void *p = hv_gpa_ptr(m, gpa, len);

	if (!p)
		return hv_err_set("guest-physical range %#llx+%zu lies outside guest memory "
				  "(%llu bytes)", (unsigned long long)gpa, len,
				  (unsigned long long)m->size);
	memcpy(dst, p, len);
	return 0;
}

int hv_gpa_write(const struct hv_guestmem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = hv_gpa_ptr(m, gpa, len);

	if (!p)
		return hv_err_set("guest-physical range %#llx+%zu lies outside guest memory "
				  "(%llu bytes)", (unsigned long long)gpa, len,
				  (unsigned long long)m->size);
	memcpy(p, src, len);
	return 0;
}
