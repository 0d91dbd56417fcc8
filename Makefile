# hvlab top-level build. One non-recursive make: each part adds its targets from its
# own fragment (lib/lib.mk, microbench/microbench.mk, hv-minimal/hv-minimal.mk,
# tests/tests.mk, experiments/shadow-vs-ept/sim/sim.mk, labs/labs.mk). Output goes under $(BUILD);
# variants build side by side:
#   make                       gcc, -O2
#   make CC=clang BUILD=build/clang
#   make SAN=1 BUILD=build/san  ASan + UBSan host code
# `make test` runs every suite; `make bench` runs the benchmarks.

ifeq ($(origin CC),default)
CC := gcc
endif
GUEST_CC ?= gcc
# A literal comma, for make functions whose own commas separate arguments: $(,).
# Defined first, so that assignments expanded at once (:=, +=) see it too.
, := ,
BUILD    ?= build
SAN      ?=
V        ?=

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
HOST_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) -D_GNU_SOURCE -MMD -MP \
               -Ilib/include -Ihv-minimal/include
HOST_LDLIBS := -lm -lpthread
SAN_CFLAGS  :=
ifeq ($(SAN),1)
SAN_CFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
HOST_CFLAGS += $(SAN_CFLAGS)
HOST_LDFLAGS += -fsanitize=address,undefined
endif
# Recorded in every result's context block: the flags as given, sanitizers included.
HOST_CFLAGS += -DHVLAB_CC='"$(shell $(CC) --version | head -n1)"' \
               -DHVLAB_CFLAGS='"$(strip $(CFLAGS) $(WARN) $(SAN_CFLAGS))"'

ifeq ($(V),)
Q := @
else
Q :=
endif

BIN := $(BUILD)/bin
ALL_TARGETS :=
UNIT_TESTS  :=

.PHONY: all deps test test-nested bench clean
all: deps-check

# Object rule shared by all host code.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(HOST_CFLAGS) -c $< -o $@

include lib/lib.mk
include microbench/microbench.mk
include hv-minimal/hv-minimal.mk
include tests/tests.mk
include experiments/shadow-vs-ept/sim/sim.mk
-include scripts/scripts.mk
include labs/labs.mk

all: $(ALL_TARGETS)

# Installs missing Debian packages (as root) or says which command to run.
deps:
	@scripts/setup-deps.sh
deps-check:
	@scripts/setup-deps.sh

test: deps
	@tests/run-all.sh

# The whole nested test bed: every workload under hw (kvm_amd npt=1 and npt=0, inside
# QEMU's TCG) and bt, and tlbshoot 50 times under hw (tests/nested/check.sh).
test-nested: deps all
	@tests/nested/check.sh full

bench: deps all
	@scripts/bench.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
