#!/usr/bin/env bash
# What `make bench` runs: the host-native nanobenchmark baselines, then the guest
# nanobenchmarks under every engine this host can run, each in its own run directory
# below one results/runs/bench-<UTC time>/ directory.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
top=results/runs/bench-$stamp
mkdir -p "$top"
status=0

echo "== native baselines -> $top/native"
"$BUILD/bin/nativebench" --out "$top/native" || status=1

if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	echo "== guest nanobenchmarks, engine hw -> $top/hw-nanobench"
	"$BUILD/bin/hvm" run --engine hw --workload nanobench --out "$top/hw-nanobench" || status=1
else
	echo "== engine hw skipped: /dev/kvm is absent or not accessible by $(id -un)"
fi

echo "results: $top"
exit $status
