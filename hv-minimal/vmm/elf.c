/* The guest kernel loader. Headers are copied out of the buffer before use (no
 * unaligned casts), every offset and size is checked against the file and against
 * guest memory with overflow-safe arithmetic, and nothing is copied until the whole
 * file has been validated. */
#include <elf.h>
#include <inttypes.h>
#include <string.h>

#include "hvlab/elfload.h"
#include "hvlab/err.h"

/* [off, off + size) inside [0, total)? */
static int within(uint64_t off, uint64_t size, uint64_t total)
{
	return off <= total && size <= total - off;
}

static int check_ident(const char *name, const Elf64_Ehdr *eh)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		return hv_err_set("%s: not an ELF file (bad magic)", name);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return hv_err_set("%s: not a 64-bit ELF file (class %u)", name,
				  eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return hv_err_set("%s: not a little-endian ELF file (data encoding %u)", name,
				  eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return hv_err_set("%s: unknown ELF version", name);
	if (eh->e_machine != EM_X86_64)
		return hv_err_set("%s: built for machine %u, not x86-64 (%u)", name, eh->e_machine,
				  EM_X86_64);
	if (eh->e_type != ET_EXEC)
		return hv_err_set("%s: ELF type %u is not an executable (ET_EXEC); link the kernel "
				  "statically, not as PIE or a relocatable object", name, eh->e_type);
	return 0;
}

static int check_segment(const char *name, unsigned idx, const Elf64_Phdr *ph, size_t len,
			 uint64_t mem_bytes, uint64_t reserved_end)
{
	uint64_t pend, vend;

	if (!within(ph->p_offset, ph->p_filesz, len))
		return hv_err_set("%s: segment %u: file bytes %#" PRIx64 "+%#" PRIx64
				  " lie outside the file (%zu bytes)", name, idx, ph->p_offset,
				  ph->p_filesz, len);
	if (ph->p_filesz > ph->p_memsz)
		return hv_err_set("%s: segment %u: file size %#" PRIx64 " exceeds memory size %#"
				  PRIx64, name, idx, ph->p_filesz, ph->p_memsz);
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &pend))
		return hv_err_set("%s: segment %u: physical address %#" PRIx64 " + size %#" PRIx64
				  " overflows", name, idx, ph->p_paddr, ph->p_memsz);
	if (__builtin_add_overflow(ph->p_vaddr, ph->p_memsz, &vend))
		return hv_err_set("%s: segment %u: virtual address %#" PRIx64 " + size %#" PRIx64
				  " overflows", name, idx, ph->p_vaddr, ph->p_memsz);
	if (ph->p_paddr < reserved_end)
		return hv_err_set("%s: segment %u: physical address %#" PRIx64 " is below %#" PRIx64
				  ", which the VMM reserves for boot data", name, idx, ph->p_paddr,
				  reserved_end);
	if (pend > mem_bytes)
		return hv_err_set("%s: segment %u: physical range %#" PRIx64 "-%#" PRIx64
				  " lies outside guest memory (%" PRIu64 " MiB); give more --mem",
				  name, idx, ph->p_paddr, pend, mem_bytes >> 20);
	return 0;
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int add_segment(const char *name, unsigned idx, const Elf64_Phdr *ph,
		       struct hv_elf_image *img)
{
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct hv_elf_segment *s = &img->seg[i];

		if (overlaps(ph->p_paddr, ph->p_memsz, s->paddr, s->memsz))
			return hv_err_set("%s: segment %u (physical %#" PRIx64 "+%#" PRIx64
					  ") overlaps an earlier segment (physical %#" PRIx64 "+%#"
					  PRIx64 ")", name, idx, ph->p_paddr, ph->p_memsz, s->paddr,
					  s->memsz);
		if (overlaps(ph->p_vaddr, ph->p_memsz, s->vaddr, s->memsz))
			return hv_err_set("%s: segment %u (virtual %#" PRIx64 "+%#" PRIx64
					  ") overlaps an earlier segment (virtual %#" PRIx64 "+%#"
					  PRIx64 ")", name, idx, ph->p_vaddr, ph->p_memsz, s->vaddr,
					  s->memsz);
	}
	if (img->nseg >= HV_ELF_MAX_SEGS)
		return hv_err_set("%s: more than %d loadable segments", name, HV_ELF_MAX_SEGS);
	img->seg[img->nseg++] = (struct hv_elf_segment){
		.offset = ph->p_offset, .filesz = ph->p_filesz, .paddr = ph->p_paddr,
		.vaddr = ph->p_vaddr, .memsz = ph->p_memsz, .flags = ph->p_flags,
	};
	return 0;
}

static int check_entry(const char *name, const struct hv_elf_image *img)
{
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct hv_elf_segment *s = &img->seg[i];

		if ((s->flags & PF_X) && img->entry >= s->vaddr &&
		    img->entry - s->vaddr < s->memsz)
			return 0;
	}
	return hv_err_set("%s: entry point %#" PRIx64 " is not inside an executable loadable "
			  "segment", name, img->entry);
}

int hv_elf_parse(const char *name, const void *buf, size_t len, uint64_t mem_bytes,
		 uint64_t reserved_end, struct hv_elf_image *img)
{
	const uint8_t *bytes = buf;
	Elf64_Ehdr eh;

	memset(img, 0, sizeof(*img));
	if (len < sizeof(eh))
		return hv_err_set("%s: truncated: %zu bytes, an ELF64 header needs %zu", name, len,
				  sizeof(eh));
	memcpy(&eh, bytes, sizeof(eh));
	if (check_ident(name, &eh))
		return -1;
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return hv_err_set("%s: program header entry size %u, expected %zu", name,
				  eh.e_phentsize, sizeof(Elf64_Phdr));
	if (eh.e_phnum == 0 || eh.e_phnum > HV_ELF_MAX_PHNUM)
		return hv_err_set("%s: %u program headers (expected 1-%d)", name, eh.e_phnum,
				  HV_ELF_MAX_PHNUM);
	if (!within(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
		return hv_err_set("%s: program headers at %#" PRIx64 " (%u x %zu bytes) lie outside "
				  "the file (%zu bytes)", name, eh.e_phoff, eh.e_phnum,
				  sizeof(Elf64_Phdr), len);

	img->entry = eh.e_entry;
	img->paddr_lo = UINT64_MAX;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, bytes + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_INTERP)
			return hv_err_set("%s: asks for a program interpreter; the kernel must be "
					  "linked statically", name);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (check_segment(name, i, &ph, len, mem_bytes, reserved_end) ||
		    add_segment(name, i, &ph, img))
			return -1;
		if (ph.p_paddr < img->paddr_lo)
			img->paddr_lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > img->paddr_end)
			img->paddr_end = ph.p_paddr + ph.p_memsz;
	}
	if (img->nseg == 0)
		return hv_err_set("%s: no loadable segment", name);
	return check_entry(name, img);
}

int hv_elf_load(const struct hv_elf_image *img, const void *buf, size_t len, uint8_t *mem,
		uint64_t mem_bytes, int mem_zeroed)
{
	for (unsigned i = 0; i < img->nseg; i++) {
		const struct hv_elf_segment *s = &img->seg[i];

		/* Re-checked: img may not come from hv_elf_parse over this buffer. */
		if (!within(s->offset, s->filesz, len) || s->filesz > s->memsz ||
		    !within(s->paddr, s->memsz, mem_bytes))
			return hv_err_set("ELF segment %u does not fit its file or guest memory", i);
		memcpy(mem + s->paddr, (const uint8_t *)buf + s->offset, s->filesz);
		if (!mem_zeroed)
			memset(mem + s->paddr + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}
