# libhvlab: timing, statistics, results, context, pinning, PAPI. Every part links it.
LIBHVLAB        := $(BUILD)/lib/libhvlab.a
LIBHVLAB_SRCS   := $(wildcard lib/src/*.c)
LIBHVLAB_OBJS   := $(LIBHVLAB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBHVLAB_LDLIBS := -lhwloc -lpapi -lm -lpthread

# Where the sources live, so a result can name the git commit it was built from.
$(BUILD)/obj/lib/src/context.o: HOST_CFLAGS += -DHVLAB_SRCDIR='"$(CURDIR)"'
# The compiler flags it records (HVLAB_CFLAGS) are defined in the Makefile: rebuilt
# when that changes, so that a build never records flags it was not built with.
$(BUILD)/obj/lib/src/context.o: Makefile

$(LIBHVLAB): $(LIBHVLAB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(LIBHVLAB)
