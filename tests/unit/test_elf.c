/* The guest ELF loader: a valid image built here parses and loads; each malformation
 * is refused with a message that names the file and the fault. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/abi.h"
#include "hvlab/elfload.h"
#include "hvlab/err.h"

#define MEM        (16ull << 20)
#define FILE_LEN   0x200
#define CODE_OFF   0x100
#define DATA_OFF   0x120
#define CODE_PA    0x100000ull
#define DATA_PA    0x200000ull
#define NAME       "kernel.elf"

/* An ELF64 x86-64 executable: header, two program headers, 16 bytes of code (R+X at
 * 1 MiB) and 8 bytes of data with a 4 KiB bss (R+W at 2 MiB), both in the higher half. */
struct image {
	uint8_t b[FILE_LEN];
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;          /* two entries */
};

static void image_build(struct image *im)
{
	memset(im->b, 0, sizeof(im->b));
	im->eh = (Elf64_Ehdr *)im->b;
	im->ph = (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr));
	memcpy(im->eh->e_ident, ELFMAG, SELFMAG);
	im->eh->e_ident[EI_CLASS] = ELFCLASS64;
	im->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh->e_ident[EI_VERSION] = EV_CURRENT;
	im->eh->e_type = ET_EXEC;
	im->eh->e_machine = EM_X86_64;
	im->eh->e_version = EV_CURRENT;
	im->eh->e_entry = HV_KERNBASE + CODE_PA + 4;
	im->eh->e_phoff = sizeof(Elf64_Ehdr);
	im->eh->e_ehsize = sizeof(Elf64_Ehdr);
	im->eh->e_phentsize = sizeof(Elf64_Phdr);
	im->eh->e_phnum = 2;
	im->ph[0] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = CODE_OFF,
		.p_vaddr = HV_KERNBASE + CODE_PA, .p_paddr = CODE_PA, .p_filesz = 16,
		.p_memsz = 16, .p_align = 0x1000,
	};
	im->ph[1] = (Elf64_Phdr){
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = DATA_OFF,
		.p_vaddr = HV_KERNBASE + DATA_PA, .p_paddr = DATA_PA, .p_filesz = 8,
		.p_memsz = 0x1000, .p_align = 0x1000,
	};
	for (int i = 0; i < 16; i++)
		im->b[CODE_OFF + i] = (uint8_t)(0x90 + i);
	memset(im->b + DATA_OFF, 0xab, 8);
}

static int parse(const struct image *im, size_t len, struct hv_elf_image *out)
{
	return hv_elf_parse(NAME, im->b, len, MEM, HV_BOOT_RESERVED_END, out);
}

/* Refused, with the file name and the given words in the message. */
static void expect_refused(const struct image *im, size_t len, const char *words)
{
	struct hv_elf_image out;

	assert_int_equal(parse(im, len, &out), -1);
	assert_non_null(strstr(hv_err_msg(), NAME));
	if (!strstr(hv_err_msg(), words))
		fail_msg("message '%s' does not say '%s'", hv_err_msg(), words);
}

static void valid_parses_and_loads(void **state)
{
	struct image im;
	struct hv_elf_image out;
	uint8_t *mem = calloc(1, MEM);

	(void)state;
	assert_non_null(mem);
	image_build(&im);
	assert_int_equal(parse(&im, sizeof(im.b), &out), 0);
	assert_int_equal(out.nseg, 2);
	assert_true(out.entry == HV_KERNBASE + CODE_PA + 4);
	assert_true(out.paddr_lo == CODE_PA);
	assert_true(out.paddr_end == DATA_PA + 0x1000);

	memset(mem, 0x5a, MEM);      /* the bss must be zeroed, not left as found */
	assert_int_equal(hv_elf_load(&out, im.b, sizeof(im.b), mem, MEM, 0), 0);
	assert_memory_equal(mem + CODE_PA, im.b + CODE_OFF, 16);
	assert_memory_equal(mem + DATA_PA, im.b + DATA_OFF, 8);
	for (size_t i = 8; i < 0x1000; i++)
		assert_int_equal(mem[DATA_PA + i], 0);
	assert_int_equal(mem[DATA_PA + 0x1000], 0x5a);     /* nothing past memsz */
	assert_int_equal(mem[CODE_PA - 1], 0x5a);
	free(mem);
}

static void truncated_header(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	expect_refused(&im, 10, "truncated");
	expect_refused(&im, sizeof(Elf64_Ehdr) - 1, "truncated");
}

static void bad_magic(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.b[1] = 'F';
	expect_refused(&im, sizeof(im.b), "bad magic");
}

static void wrong_class_data_version(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_refused(&im, sizeof(im.b), "64-bit");
	image_build(&im);
	im.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_refused(&im, sizeof(im.b), "little-endian");
	image_build(&im);
	im.eh->e_version = 7;
	expect_refused(&im, sizeof(im.b), "version");
}

static void wrong_machine(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.eh->e_machine = EM_386;
	expect_refused(&im, sizeof(im.b), "x86-64");
}

static void not_executable(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.eh->e_type = ET_DYN;
	expect_refused(&im, sizeof(im.b), "ET_EXEC");
}

static void phdrs_out_of_file(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.eh->e_phoff = sizeof(im.b) - 8;
	expect_refused(&im, sizeof(im.b), "outside the file");
	image_build(&im);
	im.eh->e_phoff = UINT64_MAX - 8;        /* offset + size wraps */
	expect_refused(&im, sizeof(im.b), "outside the file");
	image_build(&im);
	im.eh->e_phnum = 0;
	expect_refused(&im, sizeof(im.b), "program headers");
	image_build(&im);
	im.eh->e_phentsize = 32;
	expect_refused(&im, sizeof(im.b), "entry size");
}

static void segment_out_of_file(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[0].p_filesz = sizeof(im.b);       /* runs past the end */
	im.ph[0].p_memsz = sizeof(im.b);
	expect_refused(&im, sizeof(im.b), "outside the file");
}

static void filesz_above_memsz(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[1].p_memsz = 4;
	expect_refused(&im, sizeof(im.b), "exceeds memory size");
}

static void segment_outside_memory(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[1].p_paddr = MEM - 0x800;         /* the bss runs past the end */
	expect_refused(&im, sizeof(im.b), "outside guest memory");
}

static void segment_below_1mib(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[1].p_paddr = HV_BOOT_RESERVED_END - 0x1000;
	expect_refused(&im, sizeof(im.b), "reserves");
}

static void overlapping_segments(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[1].p_paddr = CODE_PA + 8;
	expect_refused(&im, sizeof(im.b), "overlaps");
	image_build(&im);
	im.ph[1].p_vaddr = HV_KERNBASE + CODE_PA;   /* physically apart, virtually not */
	expect_refused(&im, sizeof(im.b), "overlaps");
}

static void overflow_in_offset_plus_size(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[0].p_offset = UINT64_MAX - 4;
	expect_refused(&im, sizeof(im.b), "outside the file");
	image_build(&im);
	im.ph[1].p_paddr = UINT64_MAX - 0x10;
	expect_refused(&im, sizeof(im.b), "overflows");
	image_build(&im);
	im.ph[1].p_vaddr = UINT64_MAX - 0x10;
	expect_refused(&im, sizeof(im.b), "overflows");
}

static void entry_outside_code(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.eh->e_entry = HV_KERNBASE + DATA_PA;          /* in a segment, but not executable */
	expect_refused(&im, sizeof(im.b), "entry point");
	image_build(&im);
	im.eh->e_entry = HV_KERNBASE + CODE_PA + 16;     /* one past the code */
	expect_refused(&im, sizeof(im.b), "entry point");
	image_build(&im);
	im.eh->e_entry = 0x5000;
	expect_refused(&im, sizeof(im.b), "entry point");
}

static void no_loadable_segment(void **state)
{
	struct image im;

	(void)state;
	image_build(&im);
	im.ph[0].p_type = PT_NOTE;
	im.ph[1].p_type = PT_NOTE;
	expect_refused(&im, sizeof(im.b), "no loadable segment");
	image_build(&im);
	im.ph[1].p_type = PT_INTERP;
	expect_refused(&im, sizeof(im.b), "interpreter");
}

static void load_rechecks_bounds(void **state)
{
	struct image im;
	struct hv_elf_image out;
	uint8_t mem[64];

	(void)state;
	image_build(&im);
	assert_int_equal(parse(&im, sizeof(im.b), &out), 0);
	/* The same image into memory too small for it: refused, nothing written. */
	assert_int_equal(hv_elf_load(&out, im.b, sizeof(im.b), mem, sizeof(mem), 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_parses_and_loads),
		cmocka_unit_test(truncated_header),
		cmocka_unit_test(bad_magic),
		cmocka_unit_test(wrong_class_data_version),
		cmocka_unit_test(wrong_machine),
		cmocka_unit_test(not_executable),
		cmocka_unit_test(phdrs_out_of_file),
		cmocka_unit_test(segment_out_of_file),
		cmocka_unit_test(filesz_above_memsz),
		cmocka_unit_test(segment_outside_memory),
		cmocka_unit_test(segment_below_1mib),
		cmocka_unit_test(overlapping_segments),
		cmocka_unit_test(overflow_in_offset_plus_size),
		cmocka_unit_test(entry_outside_code),
		cmocka_unit_test(no_loadable_segment),
		cmocka_unit_test(load_rechecks_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
