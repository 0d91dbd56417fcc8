/* Differential tests of the binary translator: small guest programs covering the
 * instruction classes gcc emits (arithmetic and flags, shifts, multiplication and
 * division, memory operands, string operations, atomics, control flow, the stack,
 * RIP-relative data, guest %gs: operands) run natively on the host, under the bt
 * engine, and under the hw engine when /dev/kvm is there; final registers, flags and
 * memory must agree. A snippet sees RBX = its data buffer (4 KiB), RSP = its stack,
 * GS base = the data buffer, and ends where the harness appends its own exit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>


#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../hv-minimal/engines/bt/flatguest.h"
#include "hvlab/abi.h"
#include "hvlab/err.h"

extern const struct hv_engine_ops hv_bt_engine_ops;
extern const struct hv_engine_ops hv_kvm_engine_ops;

#define DATA_SIZE  4096
#define STACK_SIZE 8192
#define ARITH_FLAGS 0xcd5u            /* CF PF AF ZF SF DF OF */

/* ---- snippets ---- */

#define SNIPPET(name, body)                                                    \
	extern const uint8_t snip_##name##_b[], snip_##name##_e[];             \
	__asm__(".pushsection .rodata\n"                                        \
		"snip_" #name "_b:\n" body "\nsnip_" #name "_e:\n"              \
		".popsection\n")

SNIPPET(arith,
	"mov $0x123456789abcdef0, %rax\n"
	"mov $0x0fedcba987654321, %rcx\n"
	"add %rcx, %rax\n"
	"adc $5, %rcx\n"
	"sbb %rax, %rdx\n"
	"imul $7, %rcx, %rsi\n"
	"neg %rsi\n"
	"inc %edi\n"
	"dec %r8\n"
	"xor %r9, %r9\n"
	"sub $1, %r9\n"
	"lahf\n"
	"seto %r10b\n"
	"setc %r11b\n"
	"and $0xff, %r12\n"
	"or $0x100, %r12\n"
	"test %rax, %rax\n"
	"setnz %r13b\n"
	"cmp %rcx, %rax\n"
	"setl %r14b\n"
	"sets %r15b\n"
	"movzx %r14b, %r14\n"
	"bswap %rax\n"
	"cqo\n"
	"xadd %rcx, %rsi\n"
	"cmovg %rsi, %rdi\n"
	"sub %rax, %rax\n");

SNIPPET(shifts,
	"mov $0x8000000000000001, %rax\n"
	"mov $5, %cl\n"
	"shl %cl, %rax\n"
	"rol $3, %rax\n"
	"mov %rax, %rdx\n"
	"sar $7, %rdx\n"
	"shr %cl, %edx\n"
	"mov $0x7777, %rsi\n"
	"stc\n"
	"rcl $1, %rsi\n"
	"rcr %cl, %rsi\n"
	"mov $0x1234, %rdi\n"
	"shld $4, %rax, %rdi\n"
	"mov $0xabcdef, %r8\n"
	"shrd %cl, %rdx, %r8\n"
	"bt $3, %rax\n"
	"setc %r9b\n"
	"mov $0xf0f0, %r10\n"
	"bts $10, %r10\n"
	"btr $4, %r10\n"
	"btc $63, %r10\n"
	"bsf %rax, %r11\n"
	"bsr %rax, %r12\n"
	"popcnt %rax, %r13\n"
	"mov $0xff, %r14d\n"
	"ror $4, %r14b\n"
	"sal $1, %r14w\n");

SNIPPET(muldiv,
	"mov $123456789, %rax\n"
	"mov $987654321, %rcx\n"
	"mul %rcx\n"
	"mov %rax, %r8\n"
	"mov %rdx, %r9\n"
	"mov $1000000007, %rcx\n"
	"div %rcx\n"
	"mov %rax, %r10\n"
	"mov %rdx, %r11\n"
	"imul %rcx\n"
	"mov $-7, %eax\n"
	"cdq\n"
	"mov $2, %ecx\n"
	"idiv %ecx\n"
	"mov %rax, %r12\n"
	"mov %rdx, %r13\n"
	"mov $200, %ax\n"
	"mov $7, %sil\n"
	"div %sil\n"
	"mov %rax, %r14\n"
	"mov $-300, %ax\n"
	"cwd\n"
	"mov $13, %di\n"
	"idiv %di\n"
	"imul $-3, %rdx, %r15\n"
	"imul %r13, %r15\n");

SNIPPET(memory,
	"mov $0x1122334455667788, %rax\n"
	"mov %rax, 8(%rbx)\n"
	"mov 8(%rbx), %rax\n"
	"mov $3, %ecx\n"
	"mov %rax, 16(%rbx,%rcx,8)\n"
	"movzbl 9(%rbx), %edx\n"
	"movswq 10(%rbx), %rsi\n"
	"addl $5, 12(%rbx)\n"
	"incq 40(%rbx)\n"
	"mov $0x42, %edi\n"
	"xchg %rdi, 48(%rbx)\n"
	"mov $9, %r8\n"
	"lock xaddq %r8, 56(%rbx)\n"
	"mov 56(%rbx), %rax\n"
	"mov $0x77, %r9\n"
	"lock cmpxchg %r9, 56(%rbx)\n"
	"mov $1, %eax\n"
	"lock cmpxchg %r9, 56(%rbx)\n"
	"setz %r10b\n"
	"xor %eax, %eax\n"
	"xor %edx, %edx\n"
	"mov $5, %ecx\n"
	"push %rbx\n"
	"mov $6, %ebx\n"
	"mov (%rsp), %r11\n"
	"lock cmpxchg16b 64(%r11)\n"
	"pop %rbx\n"
	"cmove 8(%rbx), %r12\n"
	"setg 100(%rbx)\n"
	"notq 104(%rbx)\n"
	"negl 112(%rbx)\n"
	"movb $7, 120(%rbx)\n"
	"mov $0x1234, %eax\n"
	"movb %ah, 121(%rbx)\n"
	"and %r10, 128(%rbx)\n"
	"lock orq $0x10, 136(%rbx)\n"
	"lock incl 144(%rbx)\n"
	"lock decw 148(%rbx)\n"
	"lock btsq $5, 152(%rbx)\n"
	"setc %r13b\n"
	"mov -8(%rsp), %r14\n"
	"mov %r14, -16(%rsp)\n"
	"movnti %rax, 160(%rbx)\n"
	"cmpxchg %r8d, 168(%rbx)\n"
	"adcx 176(%rbx), %r15\n");

SNIPPET(string,
	"cld\n"
	"lea 256(%rbx), %rdi\n"
	"mov $0x55, %al\n"
	"mov $64, %ecx\n"
	"rep stosb\n"
	"lea 256(%rbx), %rsi\n"
	"lea 512(%rbx), %rdi\n"
	"mov $100, %ecx\n"
	"rep movsb\n"
	"lea 1024(%rbx), %rdi\n"
	"mov $0x0123456789abcdef, %rax\n"
	"mov $16, %ecx\n"
	"rep stosq\n"
	"std\n"
	"lea 1151(%rbx), %rsi\n"
	"lea 2175(%rbx), %rdi\n"
	"mov $128, %ecx\n"
	"rep movsb\n"
	"cld\n"
	"lea 256(%rbx), %rsi\n"
	"lodsb\n"
	"lodsq\n"
	"mov %rax, %r8\n"
	"lea 512(%rbx), %rdi\n"
	"mov $0x55, %al\n"
	"mov $200, %ecx\n"
	"repe scasb\n"
	"mov %rcx, %r9\n"
	"lea 256(%rbx), %rsi\n"
	"lea 512(%rbx), %rdi\n"
	"mov $90, %ecx\n"
	"repe cmpsb\n"
	"setz %r10b\n"
	"lea 8(%rbx), %rsi\n"
	"lea 3000(%rbx), %rdi\n"
	"movsq\n"
	"movsw\n"
	"mov $0xab, %al\n"
	"stosb\n"
	"lea 3100(%rbx), %rdi\n"
	"mov $5, %ecx\n"
	"mov $0xfeed, %eax\n"
	"rep stosl\n"
	"sub %rbx, %rsi\n"
	"sub %rbx, %rdi\n");

SNIPPET(control,
	"xor %eax, %eax\n"
	"mov $10, %ecx\n"
	"1: add %ecx, %eax\n"
	"loop 1b\n"
	"mov $5, %ecx\n"
	"2: dec %ecx\n"
	"jnz 2b\n"
	"jrcxz 3f\n"
	"mov $1, %edx\n"
	"3: lea 4f(%rip), %rsi\n"
	"jmp *%rsi\n"
	"hlt\n"
	"4: call 5f\n"
	"jmp 6f\n"
	"5: add $100, %eax\n"
	"ret\n"
	"6: lea 5b(%rip), %rdi\n"
	"call *%rdi\n"
	"mov %rdi, 8(%rbx)\n"
	"call *8(%rbx)\n"
	"movq $0, 8(%rbx)\n"
	"mov $2, %ecx\n"
	"lea 20f(%rip), %rdx\n"
	"movslq (%rdx,%rcx,4), %rsi\n"
	"add %rdx, %rsi\n"
	"jmp *%rsi\n"
	"20: .long 21f-20b, 22f-20b, 23f-20b\n"
	"21: mov $10, %r8\n"
	"jmp 7f\n"
	"22: mov $11, %r8\n"
	"jmp 7f\n"
	"23: mov $12, %r8\n"
	"7: mov $15, %edi\n"
	"call 30f\n"
	"mov %rax, %r9\n"
	"mov $3, %ecx\n"
	"mov $100, %r10\n"
	"8: dec %r10\n"
	"cmp $50, %r10\n"
	"loopne 8b\n"
	"xor %edi, %edi\n"
	"xor %esi, %esi\n"
	"xor %edx, %edx\n"
	"jmp 40f\n"
	/* fib(n) by recursion through the guest stack */
	"30: cmp $2, %edi\n"
	"jb 31f\n"
	"push %rdi\n"
	"dec %edi\n"
	"call 30b\n"
	"pop %rdi\n"
	"push %rax\n"
	"sub $2, %edi\n"
	"call 30b\n"
	"pop %rcx\n"
	"add %rcx, %rax\n"
	"ret\n"
	"31: mov %rdi, %rax\n"
	"ret\n"
	"40:\n");

SNIPPET(stack,
	"push $0x1234\n"
	"push %rbx\n"
	"pushq 8(%rbx)\n"
	"pop %rax\n"
	"pop %rcx\n"
	"pop %rdx\n"
	"sub %rbx, %rcx\n"
	"push %rsp\n"
	"pop %rsi\n"
	"sub %rsp, %rsi\n"
	"mov %rsp, %rbp\n"
	"push %rbp\n"
	"mov %rsp, %rbp\n"
	"sub $32, %rsp\n"
	"movq $7, -8(%rbp)\n"
	"leave\n"
	"sub %rsp, %rbp\n"
	"push $-5\n"
	"popq 200(%rbx)\n"
	"pushw $0x77\n"
	"popw %r9w\n"
	"pushq 200(%rbx)\n"
	"popq 208(%rbx)\n"
	"mov %rsp, %r10\n"
	"push %r10\n"
	"pop %rsp\n"
	"sub %rsp, %r10\n"
	"pushfq\n"
	"popq %r11\n"
	"and $0xcd5, %r11\n"
	"mov $3, %r12\n"
	"lea 50f(%rip), %rax\n"
	"push %r12\n"
	"push %rax\n"
	"ret $8\n"
	"50: xor %eax, %eax\n");

SNIPPET(riprel,
	"mov 10f(%rip), %rax\n"
	"addq $1, 10f(%rip)\n"
	"mov 10f(%rip), %rcx\n"
	"lea 10f(%rip), %rdx\n"
	"lea 11f(%rip), %r8\n"
	"sub %r8, %rdx\n"
	"movl $9, 11f(%rip)\n"
	"mov 11f(%rip), %edi\n"
	"incw 11f+4(%rip)\n"
	"mov 11f(%rip), %rsi\n"
	"cmpq $42, 10f(%rip)\n"
	"sete %r9b\n"
	"lea 12f(%rip), %r10\n"
	"call *(%r10)\n"
	"xor %r8d, %r8d\n"
	"xor %r10d, %r10d\n"
	"jmp 13f\n"
	"10: .quad 41\n"
	"11: .quad 0\n"
	"12: .quad 0\n"
	"14: mov $77, %r11\n"
	"ret\n"
	"13:\n");

SNIPPET(gsrel,
	"mov %gs:8, %rax\n"
	"movq $0x99, %gs:16\n"
	"mov $2, %ecx\n"
	"mov %gs:(,%rcx,8), %rdx\n"
	"addq $1, %gs:24(%rcx)\n"
	"lock incl %gs:32\n"
	"lea 40, %rsi\n"
	"mov %gs:(%rsi), %rdi\n"
	"mov %gs:(%rsi,%rcx,4), %r8\n"
	"xchg %r9, %gs:48\n"
	"movabs %gs:0x10, %al\n"
	"movabs %rax, %gs:0x100\n");

/* Self-modifying code: a translated instruction's immediate is rewritten, then it
 * runs again and must see the new bytes. */
SNIPPET(smc,
	"mov $2, %r8d\n"
	"xor %r9d, %r9d\n"
	"2: call 3f\n"
	"add %rcx, %r9\n"
	"movl $7, 3f+1(%rip)\n"
	"dec %r8d\n"
	"jnz 2b\n"
	"jmp 4f\n"
	"3: mov $1, %ecx\n"
	"ret\n"
	"4:\n");

/* SSE and x87 state live across a call-out (cpuid): the FPU state is moved lazily. */
SNIPPET(fpu,
	"mov $3, %eax\n"
	"cvtsi2sd %eax, %xmm1\n"
	"movdqu 16(%rbx), %xmm2\n"
	"fld1\n"
	"fldpi\n"
	"push %rbx\n"
	"xor %eax, %eax\n"
	"cpuid\n"
	"pop %rbx\n"
	"mulsd %xmm1, %xmm1\n"
	"movsd %xmm1, 8(%rbx)\n"
	"paddd %xmm2, %xmm2\n"
	"movdqu %xmm2, 32(%rbx)\n"
	"faddp\n"
	"fstpl 48(%rbx)\n"
	"stmxcsr 56(%rbx)\n"
	"fnstcw 60(%rbx)\n"
	"push %rbx\n"
	"mov $1, %eax\n"
	"cpuid\n"
	"pop %rbx\n"
	"movq %xmm1, %r8\n"
	"movd %xmm2, %r9d\n"
	"xor %eax, %eax\n"
	"xor %ecx, %ecx\n"
	"xor %edx, %edx\n");

/* riprel's table entry points at its own code (label 14), relative to the copy */
static void riprel_fixup(uint8_t *code, uint64_t base)
{
	size_t len = (size_t)(snip_riprel_e - snip_riprel_b);
	/* "12:" holds the address of "14:" (8 bytes of code before the end) */
	uint64_t target = base + len - 8;

	memcpy(code + len - 8 - 8, &target, 8);
}

struct snippet {
	const char *name;
	const uint8_t *b, *e;
	void (*fixup)(uint8_t *code, uint64_t base);
};

#define SNIP(n, f) { #n, snip_##n##_b, snip_##n##_e, f }
static const struct snippet snippets[] = {
	SNIP(arith, NULL), SNIP(shifts, NULL), SNIP(muldiv, NULL), SNIP(memory, NULL),
	SNIP(string, NULL), SNIP(control, NULL), SNIP(stack, NULL), SNIP(riprel, riprel_fixup),
	SNIP(gsrel, NULL), SNIP(smc, NULL), SNIP(fpu, NULL),
};

/* ---- native runs ---- */

struct nstate {
	uint64_t r[16];          /* x86 order */
	uint64_t rflags;
};

struct nstate native_io;
uint64_t native_saved_rsp, native_target;
uint32_t native_mxcsr, native_saved_mxcsr;
void bt_native_run(void);
void bt_native_return(void);

#define NREG(i) "native_io+8*" #i "(%rip)"
__asm__(".text\n"
	".globl bt_native_run\n"
	"bt_native_run:\n"
	"	push %rbp\n	push %rbx\n	push %r12\n	push %r13\n	push %r14\n	push %r15\n"
	"	mov %rsp, native_saved_rsp(%rip)\n"
	/* a fresh FPU, as a new vCPU has */
	"	stmxcsr native_saved_mxcsr(%rip)\n"
	"	fninit\n"
	"	ldmxcsr native_mxcsr(%rip)\n"
	"	mov " NREG(4) ", %rsp\n"
	"	pushq native_io+128(%rip)\n"
	"	popfq\n"
	"	mov " NREG(0) ", %rax\n	mov " NREG(1) ", %rcx\n	mov " NREG(2) ", %rdx\n"
	"	mov " NREG(3) ", %rbx\n	mov " NREG(5) ", %rbp\n	mov " NREG(6) ", %rsi\n"
	"	mov " NREG(7) ", %rdi\n	mov " NREG(8) ", %r8\n	mov " NREG(9) ", %r9\n"
	"	mov " NREG(10) ", %r10\n	mov " NREG(11) ", %r11\n	mov " NREG(12) ", %r12\n"
	"	mov " NREG(13) ", %r13\n	mov " NREG(14) ", %r14\n	mov " NREG(15) ", %r15\n"
	"	jmp *native_target(%rip)\n"
	".globl bt_native_return\n"
	"bt_native_return:\n"
	"	mov %rax, " NREG(0) "\n	mov %rcx, " NREG(1) "\n	mov %rdx, " NREG(2) "\n"
	"	mov %rbx, " NREG(3) "\n	mov %rsp, " NREG(4) "\n	mov %rbp, " NREG(5) "\n"
	"	mov %rsi, " NREG(6) "\n	mov %rdi, " NREG(7) "\n	mov %r8, " NREG(8) "\n"
	"	mov %r9, " NREG(9) "\n	mov %r10, " NREG(10) "\n	mov %r11, " NREG(11) "\n"
	"	mov %r12, " NREG(12) "\n	mov %r13, " NREG(13) "\n	mov %r14, " NREG(14) "\n"
	"	mov %r15, " NREG(15) "\n"
	"	pushfq\n"
	"	popq native_io+128(%rip)\n"
	"	cld\n"
	"	fninit\n"
	"	ldmxcsr native_saved_mxcsr(%rip)\n"
	"	mov native_saved_rsp(%rip), %rsp\n"
	"	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n	pop %rbx\n	pop %rbp\n"
	"	ret\n");

static uint8_t ndata[DATA_SIZE] __attribute__((aligned(4096)));
static uint8_t nstack[STACK_SIZE] __attribute__((aligned(4096)));

static void fill_data(uint8_t *d)
{
	for (unsigned i = 0; i < DATA_SIZE; i++)
		d[i] = (uint8_t)(i * 7 + 3);
}

static void initial_regs(uint64_t r[16])
{
	for (int i = 0; i < 16; i++)
		r[i] = 0x1000 * (uint64_t)i + 0x11;
}

static void run_native(const struct snippet *s, struct nstate *out, uint8_t *data_out)
{
	unsigned long saved_gs;
	size_t len = (size_t)(s->e - s->b);
	uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t tail[14] = { 0xff, 0x25, 0, 0, 0, 0 };
	uint64_t back = (uint64_t)(uintptr_t)bt_native_return;

	assert_true(code != MAP_FAILED);
	memcpy(code, s->b, len);
	memcpy(tail + 6, &back, 8);
	memcpy(code + len, tail, sizeof(tail));
	if (s->fixup)
		s->fixup(code, (uint64_t)(uintptr_t)code);
	fill_data(ndata);
	memset(nstack, 0, sizeof(nstack));
	initial_regs(native_io.r);
	native_io.r[3] = (uint64_t)(uintptr_t)ndata;
	native_io.r[4] = (uint64_t)(uintptr_t)(nstack + STACK_SIZE - 64);
	native_io.rflags = 0x202;
	native_mxcsr = 0x1f80;
	native_target = (uint64_t)(uintptr_t)code;
	/* GS = the data, as the window is under bt; arch_prctl works on every host (C
	 * code does not use GS). It is put back, so the engine's copy of it stays right. */
	assert_int_equal(syscall(SYS_arch_prctl, ARCH_GET_GS, &saved_gs), 0);
	assert_int_equal(syscall(SYS_arch_prctl, ARCH_SET_GS, (uintptr_t)ndata), 0);
	bt_native_run();
	assert_int_equal(syscall(SYS_arch_prctl, ARCH_SET_GS, saved_gs), 0);
	*out = native_io;
	memcpy(data_out, ndata, DATA_SIZE);
	munmap(code, 4096);
}

/* ---- guest runs ---- */

/* Where a snippet runs: in the kernel half at CPL 0, in the user region at CPL 3 (with
 * IOPL 3, so that the final port write is allowed). */
struct place {
	unsigned cpl;
	uint64_t code, data, stack;      /* guest virtual */
	uint64_t code_pa, data_pa;
};

static const struct place kernel_place = {
	0, HV_KERNBASE + FLAT_CODE, HV_KERNBASE + FLAT_DATA, HV_KERNBASE + FLAT_STACK,
	FLAT_CODE, FLAT_DATA,
};
static const struct place user_place = {
	3, FLAT_USER, FLAT_USER + 0x100000, FLAT_USER + 0x1f0000,
	FLAT_USER, FLAT_USER + 0x100000,
};

static int run_guest(const struct hv_engine_ops *ops, const struct place *pl,
		     const struct snippet *s, struct nstate *out, uint8_t *data_out)
{
	struct flat_guest g;
	struct hv_regs r;
	uint64_t init[16];
	size_t len = (size_t)(s->e - s->b);
	uint8_t done[2] = { 0xe6, FLAT_PORT_DONE };
	uint16_t port;

	if (flat_create(&g, ops))
		return -1;
	flat_load(&g, pl->code_pa, s->b, len);
	flat_load(&g, pl->code_pa + len, done, sizeof(done));
	if (s->fixup)
		s->fixup(flat_ptr(&g, pl->code_pa), pl->code);
	fill_data(flat_ptr(&g, pl->data_pa));
	initial_regs(init);
	memset(&r, 0, sizeof(r));
	r.rax = init[0]; r.rcx = init[1]; r.rdx = init[2]; r.rbx = pl->data;
	r.rsp = pl->stack - 64; r.rbp = init[5]; r.rsi = init[6]; r.rdi = init[7];
	r.r8 = init[8]; r.r9 = init[9]; r.r10 = init[10]; r.r11 = init[11];
	r.r12 = init[12]; r.r13 = init[13]; r.r14 = init[14]; r.r15 = init[15];
	r.rip = pl->code;
	r.rflags = pl->cpl ? 0x3002 : 0x2;
	if (flat_start(&g, &r, pl->cpl, pl->data) || flat_run(&g, &port) ||
	    g.ops->get_regs(g.vcpu, &r)) {
		flat_destroy(&g);
		return -1;
	}
	if (port != FLAT_PORT_DONE) {
		hv_err_set("the snippet stopped on the trap port (exception vector %llu at %#llx)",
			   (unsigned long long)r.r15, (unsigned long long)r.rip);
		flat_destroy(&g);
		return -1;
	}
	uint64_t v[16] = { r.rax, r.rcx, r.rdx, r.rbx, r.rsp, r.rbp, r.rsi, r.rdi,
			   r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };

	memcpy(out->r, v, sizeof(v));
	out->rflags = r.rflags;
	memcpy(data_out, flat_ptr(&g, pl->data_pa), DATA_SIZE);
	flat_destroy(&g);
	return 0;
}

/* Pointers into the data buffer or the stack compare as offsets. */
static uint64_t normalize(uint64_t v, uint64_t data, uint64_t stack_top)
{
	if (v >= data && v < data + DATA_SIZE + 256)
		return 0xd000000000000000ull + (v - data);
	if (v <= stack_top + 64 && v >= stack_top - STACK_SIZE)
		return 0xe000000000000000ull + (stack_top + 64 - v);
	return v;
}

static void compare(const char *what, const struct snippet *s, const struct nstate *a,
		    const uint8_t *da, uint64_t adata, uint64_t astack, const struct nstate *b,
		    const uint8_t *db, uint64_t bdata, uint64_t bstack)
{
	static const char *const names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi",
					       "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
					       "r14", "r15" };
	int bad = 0;

	for (int i = 0; i < 16; i++) {
		uint64_t x = normalize(a->r[i], adata, astack), y = normalize(b->r[i], bdata, bstack);

		if (x != y) {
			print_error("%s %s: %s native %#llx, %s %#llx\n", s->name, what, names[i],
				    (unsigned long long)x, what, (unsigned long long)y);
			bad = 1;
		}
	}
	if ((a->rflags & ARITH_FLAGS) != (b->rflags & ARITH_FLAGS)) {
		print_error("%s %s: flags native %#llx, %s %#llx\n", s->name, what,
			    (unsigned long long)(a->rflags & ARITH_FLAGS), what,
			    (unsigned long long)(b->rflags & ARITH_FLAGS));
		bad = 1;
	}
	for (unsigned i = 0; i < DATA_SIZE; i++)
		if (da[i] != db[i]) {
			print_error("%s %s: data byte %u native %#x, %s %#x\n", s->name, what, i,
				    da[i], what, db[i]);
			bad = 1;
			break;
		}
	if (bad)
		fail_msg("%s differs between native and %s", s->name, what);
}

static void diff(const struct snippet *s, const struct hv_engine_ops *ops,
		 const struct place *pl, const char *what)
{
	struct nstate n, b;
	static uint8_t nd[DATA_SIZE], bd[DATA_SIZE];

	memset(&b, 0, sizeof(b));
	run_native(s, &n, nd);
	if (run_guest(ops, pl, s, &b, bd))
		fail_msg("%s under %s: %s", s->name, what, hv_err_msg());
	compare(what, s, &n, nd, (uint64_t)(uintptr_t)ndata,
		(uint64_t)(uintptr_t)(nstack + STACK_SIZE - 64), &b, bd, pl->data, pl->stack - 64);
}

static void bt_kernel(void **state)
{
	diff(*state, &hv_bt_engine_ops, &kernel_place, "bt-cpl0");
}

static void bt_user(void **state)
{
	diff(*state, &hv_bt_engine_ops, &user_place, "bt-cpl3");
}

/* Under the hw engine at CPL 3, where KVM runs guest code natively even on hosts that
 * emulate guest CPL 0 (PLATFORM.md: that emulator lacks instructions such as popcnt). */
/* 1 when /dev/kvm is a KVM: it may also be absent, closed to us, or a stand-in (a
 * container binding /dev/null there) that opens but answers no KVM ioctl. */
static int kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int ok = fd >= 0 && ioctl(fd, 0xAE00 /* KVM_GET_API_VERSION */, 0) == 12;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void hw_user(void **state)
{
	const struct snippet *s = *state;

	if (!kvm_usable()) {
		print_message("skipped: /dev/kvm is not a usable KVM here, so %s cannot be "
			      "compared with the hw engine\n", s->name);
		skip();
	}
	diff(s, &hv_kvm_engine_ops, &user_place, "hw-cpl3");
}

#define NSNIP (sizeof(snippets) / sizeof(snippets[0]))

int main(void)
{
	static struct CMUnitTest tests[3 * NSNIP];
	static char names[3 * NSNIP][48];
	static const struct { const char *prefix; CMUnitTestFunction f; } kinds[] = {
		{ "bt_cpl0", bt_kernel }, { "bt_cpl3", bt_user }, { "hw_cpl3", hw_user },
	};

	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < NSNIP; i++) {
			size_t t = k * NSNIP + i;

			snprintf(names[t], sizeof(names[t]), "%s_%s", kinds[k].prefix,
				 snippets[i].name);
			tests[t] = (struct CMUnitTest){ .name = names[t], .test_func = kinds[k].f,
							.initial_state = (void *)&snippets[i] };
		}
	return _cmocka_run_group_tests("bt_diff", tests, 3 * NSNIP, NULL, NULL);
}
