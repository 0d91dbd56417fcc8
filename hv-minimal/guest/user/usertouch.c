/* Reads kernel memory from user mode. The kernel's pages are supervisor-only, so the
 * read must raise #PF (error code: present, user); the program passes if it does and
 * fails if the read returns data. */
#include "ulib.h"

#define PF_VECTOR 14

int main(const char *args)
{
	uint64_t val = 0, err = 0;
	const void *target = (const void *)HV_KERNBASE;

	(void)args;
	printf("usertouch: reading %p from user mode\n", target);
	int r = probe_read64(target, &val, &err);
	if (r == 0) {
		printf("usertouch: FAIL: the read succeeded (value %#lx)\n", val);
		return 1;
	}
	if (r - 1 != PF_VECTOR) {
		printf("usertouch: FAIL: vector %d instead of #PF\n", r - 1);
		return 1;
	}
	printf("usertouch: PASS: #PF, error code %#lx\n", err);
	return 0;
}
