# The binary translation engine (engines/bt): its sources for libhvm, the Zydis
# library it links, and its own archive libhvbt with the rules of its unit tests
# (tests/unit/test_bt_*.c), which need Zydis on top of the usual test link.
BT_SRCS   := $(wildcard hv-minimal/engines/bt/*.c)
BT_OBJS   := $(BT_SRCS:%.c=$(BUILD)/obj/%.o)
BT_LDLIBS := -lZydis
LIBHVBT   := $(BUILD)/lib/libhvbt.a

BT_TEST_DIR ?= tests/unit
BT_TEST_SRCS := $(wildcard $(BT_TEST_DIR)/test_bt_*.c)
BT_TESTS     := $(BT_TEST_SRCS:$(BT_TEST_DIR)/%.c=$(BUILD)/tests/%)

$(LIBHVBT): $(BT_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# Explicit rules: they take precedence over the generic unit-test rule of tests.mk.
$(BT_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/$(BT_TEST_DIR)/%.o $(LIBHVBT) $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(LIBHVBT) $(LIBHVM) $(NATIVEOPS_LIB) $(LIBHVLAB) $(HVM_LDLIBS) $(LIBHVLAB_LDLIBS) $(BT_LDLIBS) -lcmocka

ALL_TARGETS += $(LIBHVBT) $(BT_TESTS)
