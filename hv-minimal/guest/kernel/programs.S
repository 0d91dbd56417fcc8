/* The user programs, linked into the kernel image as ELF files, and their table
 * (struct program in programs.h). The build passes the program names as
 * GUEST_PROGRAMS (comma-separated) and the directory holding NAME.elf with -Wa,-I.
 * Each file starts on a page and is padded to a page, so the loader can map its
 * read-only pages into a program without exposing anything else. */
.macro program name
	.section .rodata.progs, "a"
	.balign 4096
prog_\name\()_start:
	.incbin	"\name\().elf"
prog_\name\()_end:
	.balign 4096
	.section .rodata.prognames, "a"
prog_\name\()_name:
	.asciz	"\name"
	.section .rodata.progtab, "a"
	.quad	prog_\name\()_name, prog_\name\()_start, prog_\name\()_end
.endm

	.section .rodata.progtab, "a"
	.balign 8
	.globl programs
programs:
	.irp name, GUEST_PROGRAMS
	program \name
	.endr
	.section .rodata.progtab, "a"
	.quad	0, 0, 0
