/* Stub guests: tiny freestanding kernels that follow hv-minimal's boot protocol (abi.h)
 * and do one thing each, well or badly, so the VMM's handling of that one thing can be
 * checked without the real guest kernel. Built once per behaviour with -DSTUB_<NAME>:
 *
 *   HELLO      serial output, one result record, exit 0
 *   FAIL       serial output, exit 1
 *   TRIPLE     ud2 with no IDT: #UD -> #GP -> #DF -> triple fault
 *   HANG       spins forever at CPL0
 *   VMCALL     vmcall (livelocks kvm_pvm inside KVM_RUN)
 *   EMUFAIL    int3 at CPL0: kvm_pvm's instruction emulator gives up (internal error);
 *              on VT-x/AMD-V, with no IDT, it triple faults instead
 *   WILDPORT   out to a port with no device
 *   WILDMMIO   a write to a guest-physical address outside memory and devices
 *   NULLMMIO   reads and writes HV_MMIO_UNBACKED, checks all-ones, exits 0
 *   HCALL      NOP and CONSOLE hypercalls through the doorbell, checks ret/seq, exits 0
 *   BADHCNR    hypercall number 99: refused with HV_HC_ENOSYS, exits 0 (1 otherwise)
 *   BADHCPTR   CONSOLE hypercall with a pointer outside guest memory: HV_HC_EFAULT
 *   BADHCLEN   CONSOLE hypercall with a 1 TiB length: HV_HC_EINVAL
 *   BADRESPTR  result record address outside guest memory
 *   BADRESMAG  result record with a wrong magic
 *   BADRESSTR  result record whose name is not NUL-terminated
 *   FLOODRES   the same valid result record, forever: stopped at the run's record budget
 *   MANYOPS    33 nanobenchmark records of distinct names, one more than a run takes
 *   PIOLOOP0   `1: in $0x80, %al; jmp 1b` at CPL0, forever (stopped by the watchdog): the
 *              same guest code as `pio-bare --cpl 0`, for hvm's port round trip
 *   PIOLOOP3   the same loop at CPL3 with IOPL 3, as `pio-bare` (default) runs it
 *
 * Runs at CPL0 on the boot page tables and GDT; addresses below are guest-physical
 * (identity-mapped) unless they go through HV_KERNBASE. */

#define KERNBASE      0xffffffff80000000
#define PORT_COM1     0x3f8
#define PORT_POST     0x80
#define PORT_EXIT     0x501
#define PORT_HCALL    0x510
#define PORT_RESULT   0x520
#define HCALL_PAGE    0x4000
#define MMIO_UNBACKED 0xfe000000
#define BOOT_PML4     0x20000
#define BOOT_PDPT_LO  0x21000
#define BOOT_PD       0x23000
#define SCRATCH_PD    0x30000        /* free boot-reserved page for an extra PD */
#define SCRATCH_REC   0x31000        /* free boot-reserved page for a record built here */
#define REC_NAME      40             /* offsetof(struct hv_result, name) */
#define REC_SIZE      144            /* sizeof(struct hv_result) */

	.code64
	.section .text
	.globl _start
_start:
	mov $0x11, %al
	out %al, $PORT_POST          /* the first instruction: the startup figure */
	lea hello(%rip), %rsi
	mov $(hello_end - hello), %ecx
	call puts

#if defined(STUB_HELLO)
	lea rec_ok(%rip), %rax
	call send_result
	xor %eax, %eax
	jmp exit
#elif defined(STUB_FAIL)
	mov $1, %eax
	jmp exit
#elif defined(STUB_TRIPLE)
	ud2
#elif defined(STUB_HANG)
1:	jmp 1b
#elif defined(STUB_VMCALL)
	vmcall
	xor %eax, %eax
	jmp exit
#elif defined(STUB_EMUFAIL)
	int3
	xor %eax, %eax
	jmp exit
#elif defined(STUB_WILDPORT)
	mov $0x1234, %dx
	mov $0x42, %al
	out %al, %dx
	xor %eax, %eax
	jmp exit
#elif defined(STUB_WILDMMIO)
	/* Map 1 GiB at 3 GiB with one more PD and write just past the null-MMIO page. */
	call map_3g
	mov $(MMIO_UNBACKED + 0x1000), %rdi
	movl $0x5a5a5a5a, (%rdi)
	xor %eax, %eax
	jmp exit
#elif defined(STUB_NULLMMIO)
	call map_3g
	mov $MMIO_UNBACKED, %rdi
	movl $0x12345678, (%rdi)
	mov 8(%rdi), %eax
	cmp $0xffffffff, %eax
	jne fail
	xor %eax, %eax
	jmp exit
#elif defined(STUB_HCALL)
	movq $0, HCALL_PAGE              /* NOP */
	movq $7, HCALL_PAGE + 56         /* ret: must become 0 */
	mov HCALL_PAGE + 64, %rbx        /* seq before */
	call doorbell
	cmpq $0, HCALL_PAGE + 56
	jne fail
	inc %rbx
	cmp HCALL_PAGE + 64, %rbx
	jne fail
	movq $1, HCALL_PAGE              /* CONSOLE */
	lea hcmsg(%rip), %rax
	mov $KERNBASE, %rcx
	sub %rcx, %rax
	mov %rax, HCALL_PAGE + 8
	movq $(hcmsg_end - hcmsg), HCALL_PAGE + 16
	call doorbell
	cmpq $(hcmsg_end - hcmsg), HCALL_PAGE + 56
	jne fail
	xor %eax, %eax
	jmp exit
#elif defined(STUB_BADHCNR)
	movq $99, HCALL_PAGE
	call doorbell
	cmpq $-38, HCALL_PAGE + 56       /* refused: HV_HC_ENOSYS, and the guest goes on */
	jne fail
	xor %eax, %eax
	jmp exit
#elif defined(STUB_BADHCPTR)
	movq $1, HCALL_PAGE
	mov $0xffffffffff000000, %rax
	mov %rax, HCALL_PAGE + 8
	movq $64, HCALL_PAGE + 16
	call doorbell
	cmpq $-14, HCALL_PAGE + 56       /* refused: HV_HC_EFAULT */
	jne fail
	xor %eax, %eax
	jmp exit
#elif defined(STUB_BADHCLEN)
	movq $1, HCALL_PAGE
	movq $0x100000, HCALL_PAGE + 8
	mov $0x10000000000, %rax
	mov %rax, HCALL_PAGE + 16
	call doorbell
	cmpq $-22, HCALL_PAGE + 56       /* refused: HV_HC_EINVAL */
	jne fail
	xor %eax, %eax
	jmp exit
#elif defined(STUB_BADRESPTR)
	mov $0xfffffff0, %eax
	mov $PORT_RESULT, %dx
	out %eax, %dx
	xor %eax, %eax
	jmp exit
#elif defined(STUB_BADRESMAG)
	lea rec_badmagic(%rip), %rax
	call send_result
	xor %eax, %eax
	jmp exit
#elif defined(STUB_BADRESSTR)
	lea rec_badstr(%rip), %rax
	call send_result
	xor %eax, %eax
	jmp exit
#elif defined(STUB_FLOODRES)
1:	lea rec_ok(%rip), %rax
	call send_result
	jmp 1b
#elif defined(STUB_MANYOPS)
	/* rec_ok copied to scratch memory, then sent 33 times named "nopA" to "nopa". */
	lea rec_ok(%rip), %rsi
	mov $SCRATCH_REC, %edi
	mov $REC_SIZE, %ecx
	rep movsb
	xor %ebx, %ebx
1:	lea 'A'(%rbx), %eax
	movb %al, SCRATCH_REC + REC_NAME + 3
	mov $SCRATCH_REC, %eax
	mov $PORT_RESULT, %dx
	out %eax, %dx
	inc %ebx
	cmp $33, %ebx
	jne 1b
	xor %eax, %eax
	jmp exit
#elif defined(STUB_PIOLOOP0)
	jmp pioloop
#elif defined(STUB_PIOLOOP3)
	/* User bit on the identity map of [0, 2 MiB), a GDT with user segments, then
	 * iretq to the loop's identity address at CPL3 with IOPL 3. */
	orq $4, BOOT_PML4
	orq $4, BOOT_PDPT_LO
	orq $4, BOOT_PD
	mov %cr3, %rax
	mov %rax, %cr3
	lgdt gdtr(%rip)
	pushq $0x2b                     /* SS: user data */
	pushq $0x70000                  /* RSP: below the boot stack */
	pushq $0x3002                   /* RFLAGS: IOPL 3, IF 0 */
	pushq $0x33                     /* CS: user code */
	lea pioloop(%rip), %rax
	mov $KERNBASE, %rcx
	sub %rcx, %rax
	push %rax                       /* RIP: identity address */
	iretq
#else
#error "define one STUB_<NAME>"
#endif

pioloop:
1:	in $PORT_POST, %al
	jmp 1b

fail:
	mov $1, %eax
exit:
	mov $PORT_EXIT, %dx
	out %eax, %dx
	hlt
	jmp exit

/* rsi = string, ecx = length */
puts:
	mov $PORT_COM1, %dx
1:	lodsb
	out %al, %dx
	loop 1b
	ret

/* rax = kernel virtual address of a record */
send_result:
	mov $KERNBASE, %rcx
	sub %rcx, %rax
	mov $PORT_RESULT, %dx
	out %eax, %dx
	ret

doorbell:
	xor %eax, %eax                  /* vCPU 0 */
	mov $PORT_HCALL, %dx
	out %eax, %dx
	ret

/* Identity-maps [3 GiB, 4 GiB) with 2 MiB pages: PDPT_lo[3] -> SCRATCH_PD. */
map_3g:
	mov $SCRATCH_PD, %rdi
	mov $0xc0000083, %rax
	mov $512, %ecx
1:	mov %rax, (%rdi)
	add $0x200000, %rax
	add $8, %rdi
	loop 1b
	movq $(SCRATCH_PD | 3), BOOT_PDPT_LO + 24
	mov %cr3, %rax
	mov %rax, %cr3
	ret

/* Linux-compatible selectors: 0x10/0x18 kernel, 0x2b user data, 0x33 user code. */
	.balign 8
gdt:	.quad 0, 0
	.quad 0x00af9b000000ffff, 0x00cf93000000ffff
	.quad 0, 0x00cff3000000ffff, 0x00affb000000ffff
gdt_end:
gdtr:	.word gdt_end - gdt - 1
	.quad gdt

hello:	.ascii "stub guest: hello\n"
hello_end:
hcmsg:	.ascii "stub guest: console hypercall\n"
hcmsg_end:

/* struct hv_result: magic, kind, workload "stub", name "nop" (or 32 bytes of 'A' with
 * no NUL when badname is 1), unit "", iters 1000, cycles 50000, baseline 10000. */
	.macro record magic, kind, badname=0
	.long \magic, \kind
	.ascii "stub"
	.fill 28, 1, 0
	.if \badname
	.fill 32, 1, 0x41
	.else
	.ascii "nop"
	.fill 29, 1, 0
	.endif
	.fill 32, 1, 0
	.quad 1000, 50000, 10000
	.double 0
	.long 0, 0
	.endm

	.balign 8
rec_ok:		record 0x52564c48, 1
	.balign 8
rec_badmagic:	record 0x12345678, 1
	.balign 8
rec_badstr:	record 0x52564c48, 1, 1
