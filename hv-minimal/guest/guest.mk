# The guest: a freestanding x86-64 kernel and its user programs, built with $(GUEST_CC)
# (not the host compiler: the guest image is the same whatever CC builds the VMM).
# Included by hv-minimal/hv-minimal.mk. Produces $(GUEST_KERNEL), with the user
# programs embedded in it.

GUEST_DIR    := hv-minimal/guest
GUEST_OUT    := $(BUILD)/guest
GUEST_KERNEL := $(GUEST_OUT)/kernel.elf

# User programs, each hv-minimal/guest/user/NAME.c, embedded in the kernel by name.
GUEST_PROGRAMS := hello nanobench usertouch spin true forktest forkwait forkexec compute memwalk ptchurn ctxswitch locks tlbshoot io
GUEST_EMPTY :=
GUEST_SPACE := $(GUEST_EMPTY) $(GUEST_EMPTY)

# Kernel code runs under instruction emulation on some hosts, where SSE at CPL0 is
# not emulated: general registers only, everywhere. Every instruction counts there:
# no CET (endbr64 in each function), no frame pointers. No red zone (user code
# calls from inline asm).
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -nostdlib \
                -fno-pic -fno-pie -fno-stack-protector -fcf-protection=none \
                -fno-asynchronous-unwind-tables -fomit-frame-pointer \
                -mgeneral-regs-only -mno-red-zone -MMD -MP \
                -Ihv-minimal/include -I$(GUEST_DIR)/include
GUEST_KCFLAGS := $(GUEST_CFLAGS) -mcmodel=kernel -I$(GUEST_DIR)/kernel
GUEST_UCFLAGS := $(GUEST_CFLAGS) -mcmodel=small -I$(GUEST_DIR)/user
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
                 -Wl,-z,noexecstack

GUEST_KSRCS := $(wildcard $(GUEST_DIR)/kernel/*.c $(GUEST_DIR)/kernel/*.S)
GUEST_KOBJS := $(patsubst $(GUEST_DIR)/kernel/%,$(GUEST_OUT)/obj/kernel/%.o,$(basename $(GUEST_KSRCS))) \
               $(GUEST_OUT)/obj/kcommon/fmt.o $(GUEST_OUT)/obj/kcommon/string.o \
               $(GUEST_OUT)/obj/kcommon/f64.o

GUEST_ULIB_OBJS := $(addprefix $(GUEST_OUT)/obj/user/,ulib.o probe.o bench.o nbloops.o forkloop.o ulock.o) \
                   $(GUEST_OUT)/obj/ucommon/fmt.o $(GUEST_OUT)/obj/ucommon/string.o \
                   $(GUEST_OUT)/obj/ucommon/f64.o $(GUEST_OUT)/obj/ucommon/wargs.o \
                   $(GUEST_OUT)/obj/ucommon/work_compute.o $(GUEST_OUT)/obj/ucommon/work_memwalk.o
GUEST_ULIB      := $(GUEST_OUT)/user/libu.a
GUEST_UPROGS    := $(GUEST_PROGRAMS:%=$(GUEST_OUT)/user/%.elf)
GUEST_UEMBED    := $(GUEST_PROGRAMS:%=$(GUEST_OUT)/user/embed/%.elf)
# Kept after the link (make would delete them as intermediates of the pattern rule).
.SECONDARY: $(GUEST_PROGRAMS:%=$(GUEST_OUT)/obj/user/%.o) $(GUEST_OUT)/obj/user/crt0.o \
            $(GUEST_UPROGS)

# ---- kernel ----
$(GUEST_OUT)/obj/kernel/%.o: $(GUEST_DIR)/kernel/%.c
	@mkdir -p $(dir $@)
	@echo "  GCC     $<"
	$(Q)$(GUEST_CC) $(GUEST_KCFLAGS) -c $< -o $@

$(GUEST_OUT)/obj/kernel/%.o: $(GUEST_DIR)/kernel/%.S
	@mkdir -p $(dir $@)
	@echo "  GAS     $<"
	$(Q)$(GUEST_CC) $(GUEST_KCFLAGS) -c $< -o $@

$(GUEST_OUT)/obj/kcommon/%.o: $(GUEST_DIR)/common/%.c
	@mkdir -p $(dir $@)
	@echo "  GCC     $< (kernel)"
	$(Q)$(GUEST_CC) $(GUEST_KCFLAGS) -c $< -o $@

# The programs' ELF files, stripped, are pulled in with .incbin from user/embed.
$(GUEST_OUT)/obj/kernel/programs.o: $(GUEST_DIR)/kernel/programs.S $(GUEST_UEMBED)
	@mkdir -p $(dir $@)
	@echo "  GAS     $<"
	$(Q)$(GUEST_CC) $(GUEST_KCFLAGS) -Wa,-I$(GUEST_OUT)/user/embed \
		-DGUEST_PROGRAMS="$(subst $(GUEST_SPACE),$(,),$(strip $(GUEST_PROGRAMS)))" -c $< -o $@

$(GUEST_KERNEL): $(GUEST_KOBJS) $(GUEST_DIR)/kernel/kernel.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-T,$(GUEST_DIR)/kernel/kernel.ld -o $@ $(GUEST_KOBJS)

# ---- user programs ----
$(GUEST_OUT)/obj/user/%.o: $(GUEST_DIR)/user/%.c
	@mkdir -p $(dir $@)
	@echo "  GCC     $<"
	$(Q)$(GUEST_CC) $(GUEST_UCFLAGS) -c $< -o $@

$(GUEST_OUT)/obj/user/%.o: $(GUEST_DIR)/user/%.S
	@mkdir -p $(dir $@)
	@echo "  GAS     $<"
	$(Q)$(GUEST_CC) $(GUEST_UCFLAGS) -c $< -o $@

$(GUEST_OUT)/obj/ucommon/%.o: $(GUEST_DIR)/common/%.c
	@mkdir -p $(dir $@)
	@echo "  GCC     $< (user)"
	$(Q)$(GUEST_CC) $(GUEST_UCFLAGS) -c $< -o $@

$(GUEST_ULIB): $(GUEST_ULIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(GUEST_OUT)/user/%.elf: $(GUEST_OUT)/obj/user/crt0.o $(GUEST_OUT)/obj/user/%.o $(GUEST_ULIB) \
                         $(GUEST_DIR)/user/user.ld
	@echo "  LD      $@"
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -Wl,-T,$(GUEST_DIR)/user/user.ld -o $@ \
		$(GUEST_OUT)/obj/user/crt0.o $(GUEST_OUT)/obj/user/$*.o $(GUEST_ULIB)

$(GUEST_OUT)/user/embed/%.elf: $(GUEST_OUT)/user/%.elf
	@mkdir -p $(dir $@)
	@echo "  STRIP   $@"
	$(Q)objcopy --strip-all $< $@

.PHONY: guest
guest: $(GUEST_KERNEL)

ALL_TARGETS += $(GUEST_KERNEL)
