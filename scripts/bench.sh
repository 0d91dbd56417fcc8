#!/usr/bin/env bash
# What `make bench` runs: a benchmark matrix (BENCH_MATRIX, default
# scripts/matrices/default.matrix) through scripts/matrix.py into one run directory
# results/runs/bench-<matrix>-<UTC time>/, then its figures into <run>/figures/.
# `scripts/bench.sh --resume DIR` finishes an interrupted run and redraws its figures.
# `scripts/bench.sh --slurm [OPTION...]` (make bench-slurm) submits the matrix to Slurm
# instead (matrix.py --slurm with OPTIONs such as --partition P); its final job draws
# the figures. The run directory, under results/runs/, must be on a shared file system.
# Exit status: the matrix runner's (0: every cell done or skipped for a stated reason,
# e.g. hw and qemu-kvm on a host without a usable KVM; 1: a cell failed;
# 128+N: interrupted), or 1 when the figures cannot be drawn.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MATRIX=${BENCH_MATRIX:-scripts/matrices/default.matrix}

if [ "${1:-}" = "--slurm" ]; then
	shift
	run=results/runs/bench-$(basename "$MATRIX" .matrix)-$(date -u +%Y%m%dT%H%M%SZ)
	python3 scripts/matrix.py "$MATRIX" --bin "$BUILD/bin" --out "$run" --slurm --figures "$@"
	status=$?
	echo "results: $run (filled by the Slurm jobs; figures in $run/figures once they end)"
	exit $status
fi

if [ "${1:-}" = "--resume" ] && [ -n "${2:-}" ]; then
	run=$2
	python3 scripts/matrix.py --resume "$run"
	status=$?
else
	run=results/runs/bench-$(basename "$MATRIX" .matrix)-$(date -u +%Y%m%dT%H%M%SZ)
	python3 scripts/matrix.py "$MATRIX" --bin "$BUILD/bin" --out "$run"
	status=$?
fi

if [ -s "$run/samples.csv" ]; then
	echo "== figures -> $run/figures"
	python3 scripts/plot.py "$run" || { [ $status -eq 0 ] && status=1; }
fi
echo "results: $run"
exit $status
