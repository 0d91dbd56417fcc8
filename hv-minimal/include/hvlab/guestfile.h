/* Guest files read whole (vmm/guestfile.c). */
#ifndef HVLAB_GUESTFILE_H
#define HVLAB_GUESTFILE_H
#include <stddef.h>
#include <stdint.h>

#define HV_GUEST_FILE_MAX (256u << 20)   /* larger than any guest kernel or initrd */

/* path, a regular file of at most HV_GUEST_FILE_MAX bytes, into a malloc'd *buf; what
 * ("guest kernel", "initrd") names it in errors. 0, or -1 with hv_err_msg(). */
int hv_guest_file_read(const char *path, const char *what, uint8_t **buf, size_t *len);

#endif
