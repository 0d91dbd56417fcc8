# Host-native nanobenchmarks: libnativeops (the operation table, and forkwait on the
# host; also linked by hvm for same-run baselines) and the nativebench harness.
NATIVEOPS_LIB  := $(BUILD)/lib/libnativeops.a
NATIVEOPS_OBJS := $(BUILD)/obj/microbench/native_ops.o $(BUILD)/obj/microbench/native_forkwait.o
NATIVEBENCH    := $(BIN)/nativebench

$(NATIVEOPS_LIB): $(NATIVEOPS_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(NATIVEBENCH): $(BUILD)/obj/microbench/nativebench.o $(NATIVEOPS_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(NATIVEOPS_LIB) $(LIBHVLAB) $(LIBHVLAB_LDLIBS)

ALL_TARGETS += $(NATIVEOPS_LIB) $(NATIVEBENCH)
