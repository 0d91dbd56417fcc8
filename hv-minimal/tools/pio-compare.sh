#!/bin/sh
# The port-I/O exit round trip through hvm against a bare KVM_RUN loop running the same
# guest instruction (`1: in $0x80, %al; jmp 1b`), interleaved round by round so that
# drift of a noisy host hits both alike. hvm runs the pioloop stub guest until its
# watchdog stops it and reports the host-side round trip of its io-in:0x80 exits
# (exit_roundtrip_ns_median); pio-bare reports the same interval of its own loop.
#
# usage: hv-minimal/tools/pio-compare.sh [ROUNDS] [CPL] [BUILD]   (defaults: 5 3 build)
# Prints one line per round and the medians; exit status 0 unless a run failed.
set -eu

rounds=${1:-5}
cpl=${2:-3}
build=${3:-build}
case $cpl in 0|3) ;; *) echo "pio-compare: CPL must be 0 or 3" >&2; exit 2 ;; esac
hvm=$build/bin/hvm
bare=$build/bin/pio-bare
stub=$build/stubguest/pioloop$cpl.elf
for f in "$hvm" "$bare" "$stub"; do
	[ -e "$f" ] || { echo "pio-compare: $f is missing: run make first" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/pio-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

# The value of metric in a run's samples.csv for the given params column.
metric() {
	awk -F, -v p="$2" -v m="$3" '$3 == p && $11 == m { print $12; exit }' "$1/samples.csv"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
					  else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

i=1
while [ "$i" -le "$rounds" ]; do
	# hvm: 2 s of exits; the watchdog ends the run (exit status 3 is expected).
	st=0
	"$hvm" run --workload pioloop --kernel "$stub" --timeout 2 --mem 16M \
		--out "$tmp/hvm$i" >/dev/null 2>"$tmp/hvm$i.err" || st=$?
	[ "$st" -eq 3 ] || { echo "pio-compare: hvm exited $st:" >&2; cat "$tmp/hvm$i.err" >&2; exit 1; }
	h=$(metric "$tmp/hvm$i" "exit=io-in:0x80" exit_roundtrip_ns_median)
	"$bare" --cpl "$cpl" --iters 20000 --batches 10 --out "$tmp/bare$i" >/dev/null
	b=$(awk -F, '$11 == "roundtrip_ns_median" { print $12 }' "$tmp/bare$i/samples.csv" | median)
	r=$(echo "$h $b" | awk '{ print $1 / $2 }')
	echo "$h" >>"$tmp/h"
	echo "$b" >>"$tmp/b"
	echo "$r" >>"$tmp/r"
	printf 'round %d: hvm %.0f ns, bare KVM_RUN loop %.0f ns, ratio %.3f\n' "$i" "$h" "$b" "$r"
	i=$((i + 1))
done
printf 'CPL%d, %d rounds: medians hvm %.0f ns, bare %.0f ns; median ratio %.3f (min %.3f, max %.3f)\n' \
	"$cpl" "$rounds" "$(median <"$tmp/h")" "$(median <"$tmp/b")" "$(median <"$tmp/r")" \
	"$(sort -g "$tmp/r" | head -n1)" "$(sort -g "$tmp/r" | tail -n1)"
