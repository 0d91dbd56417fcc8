/* The bzImage and initrd checks: a header built here parses; each malformation is
 * refused naming the field; the zero page carries the header, the loader's fields and
 * the e820 map; an initrd is walked as a newc archive or known by its compression. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hvlab/bzimage.h"
#include "hvlab/err.h"
#include "hvlab/mptable.h"

#define MEM      (256ull << 20)
#define SETUP    2            /* setup sectors: the kernel proper starts at 3 * 512 */
#define KBYTES   4096
#define IMG_LEN  ((SETUP + 1) * 512 + KBYTES)
#define NAME     "bzImage"

static uint8_t img[IMG_LEN];

static void w8(size_t o, uint8_t v) { img[o] = v; }
static void w16(size_t o, uint16_t v) { memcpy(img + o, &v, 2); }
static void w32(size_t o, uint32_t v) { memcpy(img + o, &v, 4); }
static void w64(size_t o, uint64_t v) { memcpy(img + o, &v, 8); }

static void build(void)
{
	memset(img, 0, sizeof(img));
	w8(0x1f1, SETUP);
	w32(0x1f4, KBYTES / 16);               /* syssize */
	w16(0x1fe, 0xaa55);
	w8(0x200, 0xeb);
	w8(0x201, 0x6a);                       /* header ends at 0x26c */
	memcpy(img + 0x202, "HdrS", 4);
	w16(0x206, 0x020f);
	w16(0x20e, 0x100);                     /* version string at 0x300 */
	memcpy(img + 0x300, "6.1.0-test (hvlab)", 19);
	w8(0x211, 0x01);                       /* LOADED_HIGH */
	w32(0x22c, 0x7fffffff);                /* initrd_addr_max */
	w32(0x230, 0x200000);                  /* kernel_alignment */
	w8(0x234, 1);                          /* relocatable */
	w16(0x236, 0x1);                       /* XLF_KERNEL_64 */
	w32(0x238, 2047);                      /* cmdline_size */
	w64(0x258, 0x1000000);                 /* pref_address */
	w32(0x260, 0x2000000);                 /* init_size */
}

static void refused(const char *field)
{
	struct hv_bzimage bz;

	assert_int_equal(hv_bzimage_parse(NAME, img, sizeof(img), MEM, &bz), -1);
	if (!strstr(hv_err_msg(), field) || !strstr(hv_err_msg(), NAME))
		fail_msg("message '%s' does not name %s and %s", hv_err_msg(), NAME, field);
}

static void test_valid(void **state)
{
	struct hv_bzimage bz;

	(void)state;
	build();
	assert_true(hv_bzimage_detect(img, sizeof(img)));
	assert_int_equal(hv_bzimage_parse(NAME, img, sizeof(img), MEM, &bz), 0);
	assert_int_equal(bz.setup_bytes, (SETUP + 1) * 512);
	assert_int_equal(bz.kernel_bytes, KBYTES);
	assert_int_equal(bz.load_gpa, 0x1000000);
	assert_int_equal(bz.entry64, 0x1000200);
	assert_string_equal(bz.kernel_version, "6.1.0-test (hvlab)");
}

static void test_malformed(void **state)
{
	(void)state;
	build(); w16(0x1fe, 0x55aa); refused("boot_flag");
	build(); w16(0x206, 0x020b); refused("2.12");
	build(); w8(0x201, 0x10); refused("init_size");
	build(); w8(0x1f1, 200); refused("setup_sects");
	build(); w32(0x1f4, 0); refused("syssize");
	build(); w32(0x1f4, KBYTES); refused("syssize");
	build(); w8(0x211, 0); refused("LOADED_HIGH");
	build(); w16(0x236, 0); refused("XLF_KERNEL_64");
	build(); w32(0x230, 0x300000); refused("kernel_alignment");
	build(); w64(0x258, 0x1100000); refused("pref_address");
	build(); w64(0x258, 0x1000); refused("pref_address");
	build(); w32(0x260, 16); refused("init_size");
	build(); w32(0x260, 0x10000000); refused("--mem");
	build(); w32(0x238, 0); refused("cmdline_size");
	build();
	assert_int_equal(hv_bzimage_detect(img, 0x100), 0);
	struct hv_bzimage bz;
	assert_int_equal(hv_bzimage_parse(NAME, img, 600, MEM, &bz), -1);
}

static void test_zero_page(void **state)
{
	struct hv_bzimage bz;
	uint8_t zp[4096];
	uint64_t a, n;
	uint32_t t, u;

	(void)state;
	build();
	assert_int_equal(hv_bzimage_parse(NAME, img, sizeof(img), MEM, &bz), 0);
	assert_int_equal(hv_bzimage_zero_page(&bz, img, MEM, 0x10000, 0x8000000, 1234, zp), 0);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(zp[0x210], 0xff);               /* type_of_loader */
	memcpy(&u, zp + 0x228, 4);
	assert_int_equal(u, 0x10000);                     /* cmd_line_ptr */
	memcpy(&u, zp + 0x218, 4);
	assert_int_equal(u, 0x8000000);                   /* ramdisk_image */
	memcpy(&u, zp + 0x21c, 4);
	assert_int_equal(u, 1234);
	assert_int_equal(zp[0x1e8], 4);                   /* e820 entries */
	memcpy(&a, zp + 0x2d0 + 3 * 20, 8);
	memcpy(&n, zp + 0x2d0 + 3 * 20 + 8, 8);
	memcpy(&t, zp + 0x2d0 + 3 * 20 + 16, 4);
	assert_int_equal(a, 0x100000);
	assert_int_equal(a + n, MEM);
	assert_int_equal(t, 1);
	memcpy(&t, zp + 0x2d0 + 20 + 16, 4);
	assert_int_equal(t, 2);                           /* the EBDA is reserved */
}

/* ---- initrd ---- */

static size_t cpio_entry(uint8_t *p, const char *name, const char *data, size_t dlen)
{
	size_t nlen = strlen(name) + 1, off;
	char h[160];

	snprintf(h, sizeof(h), "070701%08x%08x%08x%08x%08x%08x%08zx%08x%08x%08x%08x%08zx%08x",
		 1, 0100644, 0, 0, 1, 0, dlen, 0, 0, 0, 0, nlen, 0);
	memcpy(p, h, 110);
	memcpy(p + 110, name, nlen);
	off = (110 + nlen + 3) & ~(size_t)3;
	memset(p + 110 + nlen, 0, off - 110 - nlen);
	memcpy(p + off, data, dlen);
	off += dlen;
	while (off & 3)
		p[off++] = 0;
	return off;
}

static void test_initrd(void **state)
{
	static uint8_t a[1024];
	size_t n;

	(void)state;
	n = cpio_entry(a, "init", "#!/bin/sh\n", 10);
	n += cpio_entry(a + n, "TRAILER!!!", "", 0);
	assert_int_equal(hv_initrd_check("initrd", a, n), 0);
	assert_int_equal(hv_initrd_check("initrd", a, n - 4), -1);
	assert_non_null(strstr(hv_err_msg(), "initrd"));
	/* no trailer */
	assert_int_equal(hv_initrd_check("initrd", a, cpio_entry(a, "init", "x", 1)), -1);
	assert_non_null(strstr(hv_err_msg(), "TRAILER"));
	/* a size running past the end */
	n = cpio_entry(a, "init", "x", 1);
	memcpy(a + 6 + 8 * 6, "0000ffff", 8);
	assert_int_equal(hv_initrd_check("initrd", a, n), -1);
	assert_non_null(strstr(hv_err_msg(), "c_filesize"));
	/* a field that is not hex */
	n = cpio_entry(a, "init", "x", 1);
	memcpy(a + 6 + 8 * 11, "zz000005", 8);
	assert_int_equal(hv_initrd_check("initrd", a, n), -1);
	assert_non_null(strstr(hv_err_msg(), "c_namesize"));
	/* neither cpio nor a known compression */
	assert_int_equal(hv_initrd_check("initrd", "hello world", 11), -1);
	assert_non_null(strstr(hv_err_msg(), "c_magic"));
	assert_int_equal(hv_initrd_check("initrd", "", 0), -1);
	/* gzip and zstd are left to the kernel */
	assert_int_equal(hv_initrd_check("initrd", "\x1f\x8b\x08\x00", 4), 0);
	assert_int_equal(hv_initrd_check("initrd", "\x28\xb5\x2f\xfd\x00", 5), 0);
}

static void test_initrd_place(void **state)
{
	struct hv_bzimage bz;
	uint64_t gpa;

	(void)state;
	build();
	assert_int_equal(hv_bzimage_parse(NAME, img, sizeof(img), MEM, &bz), 0);
	assert_int_equal(hv_initrd_place(&bz, MEM, 10000, &gpa), 0);
	assert_int_equal(gpa & 0xfff, 0);
	assert_true(gpa + 10000 <= MEM);
	assert_true(gpa >= bz.load_gpa + bz.init_size);
	assert_int_equal(hv_initrd_place(&bz, MEM, MEM - 0x2000000, &gpa), -1);
	assert_non_null(strstr(hv_err_msg(), "--mem"));
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Both checksums hold, the pointer finds the table, and there is one enabled CPU per
 * vCPU with only the first the bootstrap one. */
static void test_mptable(void **state)
{
	uint8_t b[1024];
	size_t n = hv_mptable_build(4, 0xf0000, b, sizeof(b));
	uint32_t ptr;
	uint16_t len, count;

	(void)state;
	assert_true(n > 16 + 44);
	assert_memory_equal(b, "_MP_", 4);
	assert_int_equal(sum(b, 16), 0);
	memcpy(&ptr, b + 4, 4);
	assert_int_equal(ptr, 0xf0010);
	assert_memory_equal(b + 16, "PCMP", 4);
	memcpy(&len, b + 16 + 4, 2);
	memcpy(&count, b + 16 + 34, 2);
	assert_int_equal(16 + len, n);
	assert_int_equal(sum(b + 16, len), 0);
	assert_int_equal(count, 4 + 1 + 1 + 15 + 2);
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = b + 16 + 44 + 20 * i;

		assert_int_equal(e[0], 0);
		assert_int_equal(e[1], i);
		assert_int_equal(e[3], i == 0 ? 3 : 1);
	}
	assert_int_equal(hv_mptable_build(4, 0xf0000, b, 100), 0);
	assert_int_equal(hv_mptable_build(0, 0xf0000, b, sizeof(b)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_zero_page),
		cmocka_unit_test(test_initrd),
		cmocka_unit_test(test_initrd_place),
		cmocka_unit_test(test_mptable),
	};

	return cmocka_run_group_tests_name("bzimage", tests, NULL, NULL);
}
