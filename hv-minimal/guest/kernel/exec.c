/* Loads an ELF executable into a user address space. The image is checked the way any
 * untrusted file would be: every offset, size and address against its bounds, without
 * overflow. */
#include "elf.h"
#include "exec.h"
#include "guest/string.h"
#include "guest/uapi.h"
#include "kalloc.h"
#include "kernel.h"
#include "kmem.h"
#include "vm.h"

#define MAX_PHDRS 16

/* 1 if [off, off+len) lies within [0, size). */
static int within(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* A read-only segment whose pages are pages of the image is mapped in place, without
 * a copy: under instruction emulation a copy costs one instruction per 8 bytes. */
static int map_in_place(struct vmspace *vs, const uint8_t *image, const struct elf64_phdr *ph,
			uint64_t flags)
{
	for (uint64_t va = ph->vaddr & PAGE_MASK; va < ph->vaddr + ph->memsz; va += PAGE_SIZE) {
		uint64_t pa = V2P(image + ph->offset + (va - ph->vaddr));
		if (uvm_map(vs, va, pa, flags) < 0)
			return -1;
	}
	return 0;
}

/* Other segments get zeroed frames with the file's bytes copied in (kmem batches:
 * the copies run at exec_load's end). */
static int load_segment(struct vmspace *vs, const uint8_t *image, const struct elf64_phdr *ph)
{
	uint64_t flags = PTE_U;

	if (!(ph->flags & PF_X))
		flags |= PTE_NX;
	if (!(ph->flags & PF_W) && ph->filesz == ph->memsz && (uint64_t)image % PAGE_SIZE == 0 &&
	    ph->offset % PAGE_SIZE == ph->vaddr % PAGE_SIZE)
		return map_in_place(vs, image, ph, flags);
	flags |= PTE_OWNED;
	if (ph->flags & PF_W)
		flags |= PTE_W;
	uint64_t file_end = ph->vaddr + ph->filesz;
	for (uint64_t va = ph->vaddr & PAGE_MASK; va < ph->vaddr + ph->memsz; va += PAGE_SIZE) {
		uint64_t f = frame_alloc_zeroed();
		if (!f)
			return -1;
		/* File bytes in this page: [lo, hi) in virtual addresses. */
		uint64_t lo = va > ph->vaddr ? va : ph->vaddr;
		uint64_t hi = va + PAGE_SIZE < file_end ? va + PAGE_SIZE : file_end;
		if (hi > lo)
			kmem_copy(f + (lo - va), V2P(image + ph->offset + (lo - ph->vaddr)), hi - lo);
		if (uvm_map(vs, va, f, flags) < 0) {
			kmem_flush();        /* a queued copy must not land in a free frame */
			frame_free(f);
			return -1;
		}
	}
	return 0;
}

int exec_load(struct vmspace *vs, const uint8_t *image, uint64_t size, uint64_t *entry,
	      const char **why)
{
	const struct elf64_ehdr *eh = (const void *)image;

	*why = "not an x86-64 ELF executable";
	if (size < sizeof(*eh) || eh->magic != ELF_MAGIC || eh->class != ELFCLASS64 ||
	    eh->data != ELFDATA2LSB || eh->type != ET_EXEC || eh->machine != EM_X86_64)
		return -1;
	*why = "bad program header table";
	if (eh->phentsize != sizeof(struct elf64_phdr) || eh->phnum == 0 || eh->phnum > MAX_PHDRS ||
	    !within(eh->phoff, (uint64_t)eh->phnum * sizeof(struct elf64_phdr), size) ||
	    eh->phoff % 8)
		return -1;

	const struct elf64_phdr *ph = (const void *)(image + eh->phoff);
	int entry_ok = 0;
	for (int i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD)
			continue;
		*why = "a segment is out of bounds";
		if (ph[i].filesz > ph[i].memsz || !within(ph[i].offset, ph[i].filesz, size) ||
		    ph[i].vaddr < GUEST_USER_IMAGE_BASE ||
		    !within(ph[i].vaddr - GUEST_USER_IMAGE_BASE, ph[i].memsz,
			    GUEST_USER_IMAGE_END - GUEST_USER_IMAGE_BASE))
			return -1;
		*why = "segments overlap or memory is exhausted";
		if (load_segment(vs, image, &ph[i]) < 0) {
			kmem_flush();
			return -1;
		}
		if ((ph[i].flags & PF_X) && eh->entry >= ph[i].vaddr &&
		    eh->entry - ph[i].vaddr < ph[i].memsz)
			entry_ok = 1;
	}
	kmem_flush();
	*why = "the entry point is not in an executable segment";
	if (!entry_ok)
		return -1;
	*entry = eh->entry;
	*why = NULL;
	return 0;
}
