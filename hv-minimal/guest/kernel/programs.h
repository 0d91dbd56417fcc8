/* User programs embedded in the kernel image (programs.S). */
#ifndef KERNEL_PROGRAMS_H
#define KERNEL_PROGRAMS_H
#include <stdint.h>

struct program {
	const char *name;
	const uint8_t *start, *end;    /* the program's ELF file */
};

/* Terminated by an entry with name NULL. */
extern const struct program programs[];

const struct program *program_find(const char *name);

#endif
