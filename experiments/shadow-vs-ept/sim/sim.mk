# ptwalk-sim: the shadow-vs-ept experiment's trace-driven TLB and page-walk simulator.
# The model (every file but main.c) is a library, so the unit test links it too.
PTWALK_DIR  := experiments/shadow-vs-ept/sim
PTWALK_LIB  := $(BUILD)/lib/libptwalk.a
PTWALK_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(PTWALK_DIR)/main.c,$(wildcard $(PTWALK_DIR)/*.c)))
PTWALK_SIM  := $(BIN)/ptwalk-sim

$(PTWALK_LIB): $(PTWALK_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(PTWALK_SIM): $(BUILD)/obj/$(PTWALK_DIR)/main.o $(PTWALK_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(PTWALK_LIB) $(LIBHVLAB) $(LIBHVLAB_LDLIBS)

# Its unit test (tests/unit/test_ptwalk_sim.c) needs the model besides what every unit
# test links: this rule takes the place of tests/tests.mk's pattern for it.
$(BUILD)/obj/tests/unit/test_ptwalk_sim.o: HOST_CFLAGS += -I$(PTWALK_DIR)
$(BUILD)/tests/test_ptwalk_sim: $(BUILD)/obj/tests/unit/test_ptwalk_sim.o $(PTWALK_LIB) $(LIBHVLAB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(HOST_LDFLAGS) -o $@ $< $(PTWALK_LIB) $(LIBHVLAB) $(LIBHVLAB_LDLIBS) -lcmocka

ALL_TARGETS += $(PTWALK_LIB) $(PTWALK_SIM)
