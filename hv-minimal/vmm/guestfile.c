/* A guest kernel or initrd read whole into memory, for checking before it is loaded
 * (hvm and the QEMU peer). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/guestfile.h"

/* The guest kernel or initrd (what), whole, into memory. */
int hv_guest_file_read(const char *path, const char *what, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return hv_err_errno("cannot open the %s %s (build it with make, or give "
				    "another file)", what, path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return hv_err_set("%s is not a regular file", path);
	}
	if ((uint64_t)st.st_size > HV_GUEST_FILE_MAX) {
		close(fd);
		return hv_err_set("%s: %lld bytes is larger than any %s (%u MiB at most)",
				  path, (long long)st.st_size, what, HV_GUEST_FILE_MAX >> 20);
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		close(fd);
		return hv_err_errno("reading %s", path);
	}
	while (got < *len) {
		ssize_t r = read(fd, *buf + got, *len - got);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			hv_err_errno("reading %s", path);
			close(fd);
			free(*buf);
			*buf = NULL;
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	return 0;
}
