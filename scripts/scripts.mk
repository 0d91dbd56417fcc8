# Benchmark matrices, figures and the report (scripts/README.md, paper/README.md).
#   make bench                         the default matrix, then its figures
#   make bench BENCH_MATRIX=FILE       another matrix
#   make bench-full                    scripts/matrices/full.matrix
#   make bench-slurm [SLURM_OPTS=...]  the matrix as a Slurm job array (scripts/README.md,
#                                      "Running a matrix on a cluster")
#   make plots RUN=DIR                 figures of a run directory into DIR/figures
#   make paper [RUN=DIR]               paper/build/report.pdf from a run (default: the
#                                      newest matrix run, else the committed fixture)
BENCH_MATRIX      ?= scripts/matrices/default.matrix
BENCH_FULL_MATRIX ?= scripts/matrices/full.matrix
RUN               ?=
# matrix.py's Slurm options, e.g. "--partition bare --constraint ept --max-running 8"
SLURM_OPTS        ?=

.PHONY: bench-full bench-slurm plots paper

# scripts/bench.sh reads these from its environment.
bench: export BENCH_MATRIX := $(BENCH_MATRIX)
bench: export BUILD := $(BUILD)

bench-full: deps all
	@BENCH_MATRIX=$(BENCH_FULL_MATRIX) BUILD=$(BUILD) scripts/bench.sh

bench-slurm: deps all
	@BENCH_MATRIX=$(BENCH_MATRIX) BUILD=$(BUILD) scripts/bench.sh --slurm $(SLURM_OPTS)

plots:
	@if [ -z "$(RUN)" ]; then echo "make plots: give the run directory: make plots RUN=DIR" >&2; exit 2; fi
	@python3 scripts/plot.py $(RUN)

paper: deps
	@python3 scripts/report.py $(RUN) --pdf
