# The binary translation engine (engines/bt): its sources, which hv-minimal.mk puts in
# libhvm, and the Zydis library it links.
BT_SRCS   := $(wildcard hv-minimal/engines/bt/*.c)
BT_OBJS   := $(BT_SRCS:%.c=$(BUILD)/obj/%.o)
BT_LDLIBS := -lZydis

# The translator's unit tests (tests/unit/test_bt_*.c) skip with a reason when built
# without it; here it is built.
$(BUILD)/obj/tests/unit/test_bt_%.o: HOST_CFLAGS += -DHVLAB_BT_BUILT
