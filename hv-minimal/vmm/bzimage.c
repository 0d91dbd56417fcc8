/* The bzImage's setup header and the initrd, checked field by field, and the zero page
 * a 64-bit boot hands the kernel. Offsets are the boot protocol's (boot.rst). */
#include <inttypes.h>
#include <string.h>

#include "hvlab/bzimage.h"
#include "hvlab/err.h"

/* setup header, as offsets in the image (and in the zero page, where it is copied) */
#define HDR_SETUP_SECTS     0x1f1
#define HDR_SYSSIZE         0x1f4
#define HDR_VID_MODE        0x1fa
#define HDR_BOOT_FLAG       0x1fe
#define HDR_JUMP            0x200   /* its second byte: the header's length past 0x202 */
#define HDR_MAGIC           0x202
#define HDR_VERSION         0x206
#define HDR_KERNEL_VERSION  0x20e
#define HDR_TYPE_OF_LOADER  0x210
#define HDR_LOADFLAGS       0x211
#define HDR_RAMDISK_IMAGE   0x218
#define HDR_RAMDISK_SIZE    0x21c
#define HDR_HEAP_END_PTR    0x224
#define HDR_CMD_LINE_PTR    0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGN    0x230
#define HDR_RELOCATABLE     0x234
#define HDR_XLOADFLAGS      0x236
#define HDR_CMDLINE_SIZE    0x238
#define HDR_PREF_ADDRESS    0x258
#define HDR_INIT_SIZE       0x260

/* zero page fields outside the header */
#define ZP_E820_ENTRIES     0x1e8
#define ZP_SENTINEL         0x1ef
#define ZP_E820_TABLE       0x2d0
#define ZP_E820_MAX         128

#define BOOT_FLAG           0xaa55
#define HDR_MAGIC_VALUE     0x53726448u  /* "HdrS" */
#define PROTO_MIN           0x020c       /* xloadflags, the 64-bit entry's flag */
#define LOADED_HIGH         0x01
#define CAN_USE_HEAP        0x80
#define XLF_KERNEL_64       0x01
#define LOADER_UNDEFINED    0xff
#define ENTRY64_OFFSET      0x200
#define PAGE                4096ull

#define E820_RAM            1
#define E820_RESERVED       2

static uint8_t rd8(const uint8_t *p, size_t off) { return p[off]; }
static uint16_t rd16(const uint8_t *p, size_t off) { uint16_t v; memcpy(&v, p + off, 2); return v; }
static uint32_t rd32(const uint8_t *p, size_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }
static uint64_t rd64(const uint8_t *p, size_t off) { uint64_t v; memcpy(&v, p + off, 8); return v; }
static void wr16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void wr32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void wr64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

int hv_bzimage_detect(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return len >= HDR_MAGIC + 4 && rd16(p, HDR_BOOT_FLAG) == BOOT_FLAG &&
	       rd32(p, HDR_MAGIC) == HDR_MAGIC_VALUE;
}

/* The kernel version string: kernel_version + 0x200 in the setup code, printable. */
static void version_string(const uint8_t *p, size_t len, struct hv_bzimage *bz)
{
	size_t off = (size_t)rd16(p, HDR_KERNEL_VERSION) + 0x200, i;

	bz->kernel_version[0] = '\0';
	if (!rd16(p, HDR_KERNEL_VERSION) || off >= bz->setup_bytes || off >= len)
		return;
	for (i = 0; i + 1 < sizeof(bz->kernel_version) && off + i < len; i++) {
		uint8_t c = p[off + i];

		if (c < 0x20 || c > 0x7e)
			break;
		bz->kernel_version[i] = (char)c;
	}
	bz->kernel_version[i] = '\0';
}

int hv_bzimage_parse(const char *name, const void *buf, size_t len, uint64_t mem_bytes,
		     struct hv_bzimage *bz)
{
	const uint8_t *p = buf;
	uint32_t syssize, align;
	uint64_t pref;

	memset(bz, 0, sizeof(*bz));
	if (len < 1024 || !hv_bzimage_detect(buf, len))
		return hv_err_set("%s: not a bzImage (no boot_flag 0xaa55 at 0x1fe and \"HdrS\" "
				  "at 0x202)", name);
	bz->version = rd16(p, HDR_VERSION);
	if (bz->version < PROTO_MIN)
		return hv_err_set("%s: boot protocol version %u.%02u; hvm boots 64-bit kernels, "
				  "which need 2.12 or later", name, bz->version >> 8,
				  bz->version & 0xff);
	if ((size_t)HDR_MAGIC + rd8(p, HDR_JUMP + 1) < HDR_INIT_SIZE + 4)
		return hv_err_set("%s: the setup header ends at %#x (jump byte), before init_size "
				  "at %#x", name, HDR_MAGIC + rd8(p, HDR_JUMP + 1), HDR_INIT_SIZE);
	bz->setup_sects = rd8(p, HDR_SETUP_SECTS) ? rd8(p, HDR_SETUP_SECTS) : 4;
	bz->setup_bytes = ((size_t)bz->setup_sects + 1) * 512;
	if (bz->setup_bytes >= len)
		return hv_err_set("%s: setup_sects %u puts the kernel at byte %zu, past the file's "
				  "end (%zu bytes)", name, bz->setup_sects, bz->setup_bytes, len);
	bz->kernel_bytes = len - bz->setup_bytes;
	syssize = rd32(p, HDR_SYSSIZE);
	if (syssize == 0 || (uint64_t)syssize * 16 > bz->kernel_bytes + 15)
		return hv_err_set("%s: syssize %" PRIu32 " (16-byte units) does not match the %zu "
				  "bytes after the setup code", name, syssize, bz->kernel_bytes);
	if (!(rd8(p, HDR_LOADFLAGS) & LOADED_HIGH))
		return hv_err_set("%s: loadflags %#x lack LOADED_HIGH: a zImage loaded at 0x10000, "
				  "which hvm does not boot", name, rd8(p, HDR_LOADFLAGS));
	bz->xloadflags = rd16(p, HDR_XLOADFLAGS);
	if (!(bz->xloadflags & XLF_KERNEL_64))
		return hv_err_set("%s: xloadflags %#x lack XLF_KERNEL_64: the kernel has no 64-bit "
				  "entry point", name, bz->xloadflags);
	bz->relocatable = rd8(p, HDR_RELOCATABLE) != 0;
	align = rd32(p, HDR_KERNEL_ALIGN);
	if (bz->relocatable && (align == 0 || (align & (align - 1)) || align > (1u << 30)))
		return hv_err_set("%s: kernel_alignment %#" PRIx32 " is not a power of two up to "
				  "1 GiB", name, align);
	pref = rd64(p, HDR_PREF_ADDRESS);
	if (pref < 0x100000 || (pref & (PAGE - 1)) || (bz->relocatable && (pref & (align - 1))))
		return hv_err_set("%s: pref_address %#" PRIx64 " is below 1 MiB or not aligned "
				  "(kernel_alignment %#" PRIx32 ")", name, pref, align);
	bz->load_gpa = pref;
	bz->init_size = rd32(p, HDR_INIT_SIZE);
	if (bz->init_size < bz->kernel_bytes)
		return hv_err_set("%s: init_size %#" PRIx64 " is smaller than the %zu-byte kernel "
				  "it must hold", name, bz->init_size, bz->kernel_bytes);
	if (bz->load_gpa >= mem_bytes || bz->init_size > mem_bytes - bz->load_gpa)
		return hv_err_set("%s: the kernel needs [%#" PRIx64 ", %#" PRIx64 ") (pref_address "
				  "+ init_size), past the guest's %" PRIu64 " MiB: give more --mem",
				  name, bz->load_gpa, bz->load_gpa + bz->init_size, mem_bytes >> 20);
	bz->entry64 = bz->load_gpa + ENTRY64_OFFSET;
	bz->initrd_addr_max = rd32(p, HDR_INITRD_ADDR_MAX);
	bz->cmdline_size = rd32(p, HDR_CMDLINE_SIZE);
	if (bz->cmdline_size == 0)
		return hv_err_set("%s: cmdline_size is 0", name);
	version_string(p, len, bz);
	return 0;
}

/* ---- initrd ------------------------------------------------------------------------ */

static int hexfield(const uint8_t *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

#define CPIO_HDR 110
static const char *const cpio_fields[13] = {
	"c_ino", "c_mode", "c_uid", "c_gid", "c_nlink", "c_mtime", "c_filesize",
	"c_devmajor", "c_devminor", "c_rdevmajor", "c_rdevminor", "c_namesize", "c_check",
};

static size_t align4(size_t x) { return (x + 3) & ~(size_t)3; }

/* A newc archive, header by header; the kernel unpacks what follows a trailer too
 * (several archives concatenated, zero padding), which is not checked further. */
static int cpio_walk(const char *name, const uint8_t *p, size_t len)
{
	size_t off = 0;
	unsigned entries = 0;

	while (off < len) {
		uint32_t f[13];

		if (len - off < 6 || memcmp(p + off, "07070", 5) ||
		    (p[off + 5] != '1' && p[off + 5] != '2'))
			return hv_err_set("%s: c_magic at offset %zu is not 070701 or 070702 (newc "
					  "cpio)%s", name, off, off ? "" : ", nor is the file compressed "
					  "as the kernel unpacks (gzip, xz, zstd, bzip2, lzma, lz4)");
		if (len - off < CPIO_HDR)
			return hv_err_set("%s: a cpio header at offset %zu is cut short by the file's "
					  "end", name, off);
		for (int i = 0; i < 13; i++)
			if (hexfield(p + off + 6 + 8 * i, &f[i]))
				return hv_err_set("%s: %s of the cpio header at offset %zu is not 8 hex "
						  "digits", name, cpio_fields[i], off);
		uint32_t namesize = f[11], filesize = f[6];
		size_t name_end = off + CPIO_HDR + namesize;

		if (namesize == 0 || name_end > len || p[name_end - 1] != '\0')
			return hv_err_set("%s: c_namesize %" PRIu32 " of the cpio header at offset %zu "
					  "does not end a NUL-terminated name inside the file", name,
					  namesize, off);
		size_t data = align4(name_end);

		if (data > len || filesize > len - data)
			return hv_err_set("%s: c_filesize %" PRIu32 " of the cpio entry at offset %zu "
					  "runs past the file's end", name, filesize, off);
		entries++;
		if (namesize == 11 && !memcmp(p + off + CPIO_HDR, "TRAILER!!!", 11))
			return entries > 1 ? 0 :
			       hv_err_set("%s: the cpio archive holds nothing before its trailer", name);
		off = align4(data + filesize);
	}
	return hv_err_set("%s: the cpio archive has no TRAILER!!! entry", name);
}

int hv_initrd_check(const char *name, const void *buf, size_t len)
{
	static const struct {
		const char *what;
		uint8_t n, magic[6];
	} packed[] = {
		{ "gzip", 2, { 0x1f, 0x8b } },
		{ "xz", 6, { 0xfd, '7', 'z', 'X', 'Z', 0x00 } },
		{ "zstd", 4, { 0x28, 0xb5, 0x2f, 0xfd } },
		{ "bzip2", 3, { 'B', 'Z', 'h' } },
		{ "lzma", 3, { 0x5d, 0x00, 0x00 } },
		{ "lz4", 4, { 0x02, 0x21, 0x4c, 0x18 } },
	};
	const uint8_t *p = buf;

	if (len == 0)
		return hv_err_set("%s: the initrd is empty", name);
	for (size_t i = 0; i < sizeof(packed) / sizeof(packed[0]); i++)
		if (len > packed[i].n && !memcmp(p, packed[i].magic, packed[i].n))
			return 0;      /* the kernel checks the stream as it unpacks it */
	return cpio_walk(name, p, len);
}

int hv_initrd_place(const struct hv_bzimage *bz, uint64_t mem_bytes, size_t len,
		    uint64_t *gpa)
{
	uint64_t top = mem_bytes, floor = bz->load_gpa + bz->init_size;

	if ((uint64_t)bz->initrd_addr_max + 1 < top)
		top = (uint64_t)bz->initrd_addr_max + 1;
	if (len > top || ((top - len) & ~(PAGE - 1)) < floor)
		return hv_err_set("the initrd's %zu bytes do not fit between the kernel's end "
				  "%#" PRIx64 " and %#" PRIx64 " (initrd_addr_max, memory): give "
				  "more --mem", len, floor, top);
	*gpa = (top - len) & ~(PAGE - 1);
	return 0;
}

/* ---- the zero page ------------------------------------------------------------------ */

static void e820_add(uint8_t *zp, unsigned *n, uint64_t addr, uint64_t size, uint32_t type)
{
	size_t off = ZP_E820_TABLE + (size_t)*n * 20;

	wr64(zp, off, addr);
	wr64(zp, off + 8, size);
	wr32(zp, off + 16, type);
	(*n)++;
}

int hv_bzimage_zero_page(const struct hv_bzimage *bz, const void *image, uint64_t mem_bytes,
			 uint64_t cmdline_gpa, uint64_t initrd_gpa, uint64_t initrd_len,
			 uint8_t zp[4096])
{
	const uint8_t *p = image;
	size_t hdr_end = (size_t)HDR_MAGIC + rd8(p, HDR_JUMP + 1);
	unsigned n = 0;

	if (hdr_end > 0x290 || initrd_len > UINT32_MAX || initrd_gpa > UINT32_MAX)
		return hv_err_set("the setup header (to %#zx) or the initrd does not fit the zero "
				  "page's fields", hdr_end);
	memset(zp, 0, 4096);
	memcpy(zp + HDR_SETUP_SECTS, p + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);
	zp[ZP_SENTINEL] = 0;
	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	wr16(zp, HDR_HEAP_END_PTR, 0xfe00);
	wr16(zp, HDR_VID_MODE, 0xffff);          /* "normal" */
	wr32(zp, HDR_CMD_LINE_PTR, (uint32_t)cmdline_gpa);
	wr32(zp, HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	wr32(zp, HDR_RAMDISK_SIZE, (uint32_t)initrd_len);
	(void)bz;
	/* A PC's map: low memory up to the EBDA, the BIOS area reserved (the MP table is
	 * there), the rest from 1 MiB usable. */
	e820_add(zp, &n, 0, HV_LINUX_EBDA_GPA, E820_RAM);
	e820_add(zp, &n, HV_LINUX_EBDA_GPA, HV_LINUX_LOW_END - HV_LINUX_EBDA_GPA, E820_RESERVED);
	e820_add(zp, &n, HV_LINUX_BIOS_GPA, 0x100000 - HV_LINUX_BIOS_GPA, E820_RESERVED);
	e820_add(zp, &n, 0x100000, mem_bytes - 0x100000, E820_RAM);
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	return 0;
}
