/* The program loader. */
#ifndef KERNEL_EXEC_H
#define KERNEL_EXEC_H
#include <stdint.h>
#include "vm.h"

/* Maps the ELF executable image[0, size) into vs and returns its entry point; on
 * failure returns -1 with *why saying what is wrong (pages mapped so far stay for
 * uvm_free). */
int exec_load(struct vmspace *vs, const uint8_t *image, uint64_t size, uint64_t *entry,
	      const char **why);

#endif
