# Benchmark matrices, figures and the report (scripts/README.md, paper/README.md).
#   make bench                         the default matrix, then its figures
#   make bench BENCH_MATRIX=FILE       another matrix
#   make bench-full                    scripts/matrices/full.matrix
#   make plots RUN=DIR                 figures of a run directory into DIR/figures
#   make paper [RUN=DIR]               paper/build/report.pdf from a run (default: the
#                                      newest matrix run, else the committed fixture)
BENCH_MATRIX      ?= scripts/matrices/default.matrix
BENCH_FULL_MATRIX ?= scripts/matrices/full.matrix
RUN               ?=

.PHONY: bench-full plots paper

# scripts/bench.sh reads these from its environment.
bench: export BENCH_MATRIX := $(BENCH_MATRIX)
bench: export BUILD := $(BUILD)

bench-full: deps all
	@BENCH_MATRIX=$(BENCH_FULL_MATRIX) BUILD=$(BUILD) scripts/bench.sh

plots:
	@if [ -z "$(RUN)" ]; then echo "make plots: give the run directory: make plots RUN=DIR" >&2; exit 2; fi
	@python3 scripts/plot.py $(RUN)

paper: deps
	@python3 scripts/report.py $(RUN) --pdf
