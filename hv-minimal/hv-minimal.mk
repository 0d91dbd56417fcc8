# hv-minimal: the VMM `hvm` (core + engines in libhvm, so unit tests can link any
# module), its tools, and the guest kernel (guest/guest.mk defines GUEST_KERNEL).
-include hv-minimal/guest/guest.mk

HVM_CORE_SRCS := $(filter-out hv-minimal/vmm/main.c,$(wildcard hv-minimal/vmm/*.c)) \
                 $(wildcard hv-minimal/vmm/devices/*.c) \
                 $(wildcard hv-minimal/engines/*.c) \
                 $(wildcard hv-minimal/engines/kvm/*.c)
HVM_CORE_OBJS := $(HVM_CORE_SRCS:%.c=$(BUILD)/obj/%.o)

# The binary translator (engines/bt/bt.mk: BT_OBJS, BT_LDLIBS) lives in libhvm too.
include hv-minimal/engines/bt/bt.mk
HVM_CORE_OBJS += $(BT_OBJS)

# The cores of the workloads with a native column (guest/include/guest/work.h), built
# for the host by the guest's compiler with the guest's code-generation flags: the
# native figure then runs the same machine code as the guest, and a ratio measures
# the virtualization, not the build. Linked into hvm (same-run baseline) and the
# native-compute / native-memwalk programs.
WORK_SRCS := wargs work_compute work_memwalk
WORK_OBJS := $(WORK_SRCS:%=$(BUILD)/obj/hv-minimal/guest/native/%.o)
WORK_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIE -fno-stack-protector \
               -fcf-protection=none -fno-asynchronous-unwind-tables -fomit-frame-pointer \
               -mgeneral-regs-only -MMD -MP -I$(GUEST_DIR)/include
HVM_CORE_OBJS += $(WORK_OBJS)

$(BUILD)/obj/hv-minimal/guest/native/%.o: $(GUEST_DIR)/common/%.c
	@mkdir -p $(dir $@)
	@echo "  GCC     $< (native)"
	$(Q)$(GUEST_CC) $(WORK_CFLAGS) -c $< -o $@

# native_work.c and the guest library's unit test include the guest headers.
$(BUILD)/obj/hv-minimal/vmm/native_work.o: HOST_CFLAGS += -I$(GUEST_DIR)/include -Imicrobench
$(BUILD)/obj/tests/unit/test_guestlib.o: HOST_CFLAGS += -I$(GUEST_DIR)/include


LIBHVM     := $(BUILD)/lib/libhvm.a
HVM_LDLIBS := -lpthread $(BT_LDLIBS)
HVM        := $(BIN)/hvm
PIO_BARE   := $(BIN)/pio-bare

# The native baseline table lives with the microbenchmarks.
$(BUILD)/obj/hv-minimal/vmm/nanobench_report.o: HOST_CFLAGS += -Imicrobench
# The default results root is <source tree>/results/runs.
$(BUILD)/obj/hv-minimal/vmm/run.o: HOST_CFLAGS += -DHVLAB_SRCDIR='"$(CURDIR)"'

$(LIBHVM): $(HVM_CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# The guest image is built with hvm (order-only: a new kernel needs no relink).
$(HVM): $(BUILD)/obj/hv-minimal/vmm/main.o $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) | $(GUEST_KERNEL)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS)

# native-compute, native-memwalk: the workload cores as host programs (thin mains).
# native-forkwait: forkwait's host counterpart (microbench/native_forkwait.c).
NATIVE_WORKLOADS := $(BIN)/native-compute $(BIN)/native-memwalk $(BIN)/native-forkwait
$(BIN)/native-%: $(BUILD)/obj/hv-minimal/guest/native/native_%.o $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS)
$(BUILD)/obj/hv-minimal/guest/native/native_%.o: HOST_CFLAGS += -I$(GUEST_DIR)/include
$(BIN)/native-forkwait: $(BUILD)/obj/microbench/native_forkwait_main.o $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS)

# hvpeer: the guest image under QEMU (tcg, kvm), parsed from its console into hvm's
# run format through hvm's own recorder (tools/README.md).
HVPEER      := $(BIN)/hvpeer
HVPEER_OBJS := $(addprefix $(BUILD)/obj/hv-minimal/tools/,hvpeer.o hvpeer_run.o hvpeer_parse.o \
                 peer_qemu.o)
$(BUILD)/obj/hv-minimal/tools/hvpeer_%.o: HOST_CFLAGS += -DHVLAB_SRCDIR='"$(CURDIR)"'
$(HVPEER): $(HVPEER_OBJS) $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) | $(GUEST_KERNEL)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $(HVPEER_OBJS) $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS)

# A bare KVM_RUN loop, the reference for hvm's port-I/O round trip.
$(PIO_BARE): $(BUILD)/obj/hv-minimal/tools/pio_bare.o $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVLAB) $(LIBHVLAB_LDLIBS)

# Stub guests (tools/stubguest/stub.S): one tiny kernel per behaviour, well-behaved or
# hostile, for checking the VMM without the real guest kernel.
STUB_GUESTS := hello fail triple hang vmcall emufail wildport wildmmio nullmmio hcall badhcnr \
               badhcptr badhclen badresptr badresmag badresstr floodres manyops pioloop0 \
               pioloop3
STUB_ELFS   := $(STUB_GUESTS:%=$(BUILD)/stubguest/%.elf)

$(BUILD)/stubguest/%.elf: hv-minimal/tools/stubguest/stub.S hv-minimal/tools/stubguest/stub.ld
	@mkdir -p $(dir $@)
	@echo "  STUB    $@"
	$(Q)$(GUEST_CC) -c -DSTUB_$$(echo $* | tr a-z A-Z) -o $(@:.elf=.o) $<
	$(Q)$(GUEST_CC) -nostdlib -static -Wl,-T,hv-minimal/tools/stubguest/stub.ld \
		-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--build-id=none -o $@ $(@:.elf=.o)

ALL_TARGETS += $(LIBHVM) $(HVM) $(PIO_BARE) $(STUB_ELFS) $(NATIVE_WORKLOADS) $(HVPEER)

# linuxbench: the Linux guest's workload program (guest/linux), static, built by the
# guest's compiler for both the initramfs and the same run's native rows; compute and
# memwalk are the same objects hvm's native baselines use.
LINUXBENCH := $(BUILD)/guest/linux/linuxbench
$(BUILD)/obj/hv-minimal/guest/linux/linuxbench.o: hv-minimal/guest/linux/linuxbench.c
	@mkdir -p $(dir $@)
	@echo "  GCC     $< (linux guest)"
	$(Q)$(GUEST_CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -MMD -MP -I$(GUEST_DIR)/include -c $< -o $@
$(LINUXBENCH): $(BUILD)/obj/hv-minimal/guest/linux/linuxbench.o $(WORK_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (static)"
	$(Q)$(GUEST_CC) -static -o $@ $^
-include $(BUILD)/obj/hv-minimal/guest/linux/linuxbench.d
ALL_TARGETS += $(LINUXBENCH)
