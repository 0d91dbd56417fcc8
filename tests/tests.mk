# Unit tests (cmocka): tests/unit/test_NAME.c -> $(BUILD)/tests/test_NAME, linked with
# the VMM core library (libhvm, without main), the native-op table and libhvlab, so any
# module can be tested.
UNIT_TEST_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS     := $(UNIT_TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/obj/tests/unit/%.o: HOST_CFLAGS += -Imicrobench

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS) -lcmocka

ALL_TARGETS += $(UNIT_TESTS)
