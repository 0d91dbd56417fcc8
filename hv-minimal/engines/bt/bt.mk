# The binary translation engine (engines/bt): its sources, which hv-minimal.mk puts in
# libhvm, and the Zydis library it links.
BT_SRCS   := $(wildcard hv-minimal/engines/bt/*.c)
BT_OBJS   := $(BT_SRCS:%.c=$(BUILD)/obj/%.o)
BT_LDLIBS := -lZydis
