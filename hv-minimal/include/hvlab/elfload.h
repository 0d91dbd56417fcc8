/* The guest kernel loader: a pure function over the file's bytes that validates every
 * header field, segment bound and overlap before anything is copied. */
#ifndef HVLAB_ELFLOAD_H
#define HVLAB_ELFLOAD_H
#include <stddef.h>
#include <stdint.h>

#define HV_ELF_MAX_SEGS 16
#define HV_ELF_MAX_PHNUM 64

struct hv_elf_segment {
	uint64_t offset, filesz;     /* bytes in the file */
	uint64_t paddr, vaddr, memsz;/* where they go; memsz - filesz bytes are zeroed */
	uint32_t flags;              /* PF_X, PF_W, PF_R */
};

struct hv_elf_image {
	uint64_t entry;              /* virtual */
	unsigned nseg;               /* PT_LOAD segments with memsz > 0 */
	struct hv_elf_segment seg[HV_ELF_MAX_SEGS];
	uint64_t paddr_lo, paddr_end;/* lowest and one past the highest loaded byte */
};

/* Validates the ELF in buf[0, len) for guest memory [0, mem_bytes), loaded at or
 * above reserved_end. name labels the messages (the file name). Returns 0 with img
 * filled, or -1 with hv_err_msg() naming the file and what is wrong. */
int hv_elf_parse(const char *name, const void *buf, size_t len, uint64_t mem_bytes,
		 uint64_t reserved_end, struct hv_elf_image *img);
/* Copies the validated segments into mem (mem_bytes long) and zeroes their bss, unless
 * mem_zeroed says the memory is fresh (a new memfd reads as zeros): touching a
 * megabytes-long bss would only fault in its pages on the start-up path. */
int hv_elf_load(const struct hv_elf_image *img, const void *buf, size_t len, uint8_t *mem,
		uint64_t mem_bytes, int mem_zeroed);

#endif
