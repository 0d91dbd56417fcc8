# Unit tests (cmocka): tests/unit/test_NAME.c -> $(BUILD)/tests/test_NAME, linked with
# libhvlab and the VMM core library (libhvm, without main) so any module can be tested.
UNIT_TEST_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_TESTS     := $(UNIT_TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIBHVM) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVM) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS) -lcmocka

ALL_TARGETS += $(UNIT_TESTS)
