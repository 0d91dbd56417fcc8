/* A Linux bzImage and its initrd, checked against the x86 boot protocol
 * (Documentation/arch/x86/boot.rst) before anything is loaded, and the guest-physical
 * layout hvm gives a Linux guest. hvm boots it through the 64-bit entry point: long
 * mode, identity-mapped memory, RSI at the zero page (struct boot_params). */
#ifndef HVLAB_BZIMAGE_H
#define HVLAB_BZIMAGE_H
#include <stddef.h>
#include <stdint.h>

/* Guest-physical layout of a Linux boot (the boot GDT, page tables and stack are abi.h's,
 * below 1 MiB, as for hvlab's own kernel). */
#define HV_LINUX_ZERO_PAGE_GPA 0x7000ull
#define HV_LINUX_CMDLINE_GPA   0x10000ull
#define HV_LINUX_CMDLINE_MAX   4096u      /* with its NUL; the kernel's cmdline_size may be less */
#define HV_LINUX_EBDA_GPA      0x9fc00ull /* [EBDA, 1 MiB) is reserved in the e820 map */
#define HV_LINUX_BIOS_GPA      0xf0000ull /* the MP table lives here */
#define HV_LINUX_LOW_END       0xa0000ull

/* What the setup header says, after the checks. */
struct hv_bzimage {
	uint16_t version;            /* boot protocol, e.g. 0x020f */
	uint8_t setup_sects;         /* 512-byte sectors of real-mode code after the boot sector */
	size_t setup_bytes;          /* (setup_sects + 1) * 512: where the kernel proper starts */
	size_t kernel_bytes;         /* the protected-mode kernel's bytes in the file */
	uint64_t load_gpa;           /* where the protected-mode kernel is loaded */
	uint64_t init_size;          /* memory it needs from load_gpa while it decompresses */
	uint64_t entry64;            /* load_gpa + 0x200 */
	uint32_t initrd_addr_max;    /* highest address the initrd may occupy */
	uint32_t cmdline_size;       /* longest command line the kernel takes */
	uint16_t xloadflags;
	int relocatable;
	char kernel_version[64];     /* the version string setup points at, "" when absent */
};

/* 1 when buf starts like a bzImage (boot flag 0xaa55 and the "HdrS" magic), so that hvm
 * can tell it from its own ELF image; nothing more is checked. */
int hv_bzimage_detect(const void *buf, size_t len);

/* Checks the image's setup header for a 64-bit boot into mem_bytes of guest memory
 * and fills *bz. Returns 0, or -1 with hv_err_msg() naming name and the field at fault. */
int hv_bzimage_parse(const char *name, const void *buf, size_t len, uint64_t mem_bytes,
		     struct hv_bzimage *bz);

/* Checks an initrd: a newc cpio archive walked header by header to its trailer, or a
 * compressed image the kernel can unpack (gzip, xz, zstd, bzip2, lzma, lz4), known by
 * its magic. Returns 0, or -1 with hv_err_msg() naming name, the offset and the field. */
int hv_initrd_check(const char *name, const void *buf, size_t len);

/* Where an initrd of len bytes goes: as high as the kernel allows, page-aligned, above
 * the kernel's init_size. Returns 0 with *gpa set, or -1 with hv_err_msg(). */
int hv_initrd_place(const struct hv_bzimage *bz, uint64_t mem_bytes, size_t len,
		    uint64_t *gpa);

/* The zero page (4096 bytes): the setup header copied from the image, the loader's
 * fields (type_of_loader, command line, initrd) and the e820 map of mem_bytes. */
int hv_bzimage_zero_page(const struct hv_bzimage *bz, const void *image, uint64_t mem_bytes,
			 uint64_t cmdline_gpa, uint64_t initrd_gpa, uint64_t initrd_len,
			 uint8_t page[4096]);

#endif
