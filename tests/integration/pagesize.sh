#!/usr/bin/env bash
# 2 MiB guest pages (pagesize=2m): memwalk, ptchurn and forkwait give the checksums of
# 4 KiB pages under each engine this host has, and the 2 MiB runs really map 2 MiB pages
# (the guest's huge_maps; ptchurn's partial unmap splits one); under bt a user 2 MiB
# page takes one host mapping (bt_large_maps); rundata sets the 2 MiB rows apart; a bad
# pagesize= value, and the combinations the kernel does not have, are refused by name.
# san: yes
. "$(dirname "$0")/lib.sh"

declare -A ARGS=(
	[memwalk]=ws=8M,steps=50000,reps=2
	# 520 pages: the first 2 MiB region is unmapped whole, the second in part (a split)
	[ptchurn]=iters=2,pages=520,reps=2
	# a 2 MiB heap every fork copies (one 2 MiB page under pagesize=2m)
	[forkwait]=n=4,reps=2,heap=2M
)
WORKLOADS="memwalk ptchurn forkwait"
ENGINES="bt hw"
REFUSALS=3
plan $(( $(echo $ENGINES | wc -w) * $(echo $WORKLOADS | wc -w) + 2 + REFUSALS ))

# col FILE METRIC: the values of METRIC in a samples.csv, one a line.
col() { awk -F, -v m="$2" '$12 == m { print $13 }' "$1" 2>/dev/null; }
# gnote DIR KEY: a guest info record of the run (notes.guest in summary.json)
gnote() {
	python3 -c 'import json, sys
g = json.load(open(sys.argv[1])).get("notes", {}).get("guest", {})
print(g.get(sys.argv[2], ""))' "$1/summary.json" "$2" 2>/dev/null
}
# note DIR KEY: a number from the run's notes
note() { grep -o "\"$2\": *[0-9]*" "$1/summary.json" 2>/dev/null | head -n1 | sed 's/.*: *//'; }

for e in $ENGINES; do
	if [ "$e" = hw ]; then
		why=$(kvm_unavailable)
		if [ -n "$why" ]; then skip_n "$(echo $WORKLOADS | wc -w)" "2 MiB pages under hw" "$why"; continue; fi
	fi
	for w in $WORKLOADS; do
		for ps in 4k 2m; do
			d=$TMPDIR_IT/$e-$w-$ps
			run_hvm "$e-$w-$ps" 120 run --engine "$e" --workload "$w:${ARGS[$w]}" \
				--cmdline "pagesize=$ps" --out "$d"
			eval "RC_$ps=\$RC"
			eval "CK_$ps=\$(col \"$d/samples.csv\" checksum | sort -u | xargs)"
		done
		d=$TMPDIR_IT/$e-$w-2m
		ps=$(gnote "$d" pagesize); maps=$(gnote "$d" huge_maps); splits=$(gnote "$d" huge_splits)
		want_split=0
		[ "$w" = ptchurn ] && want_split=1
		if [ "$RC_4k" -eq 0 ] && [ "$RC_2m" -eq 0 ] && [ -n "$CK_2m" ] && [ "$CK_2m" = "$CK_4k" ] &&
		   [ "$(echo $CK_2m | wc -w)" -eq 1 ] && [ "$ps" = 2m ] && [ "${maps:-0}" -gt 0 ] &&
		   { [ $want_split = 0 ] || [ "${splits:-0}" -gt 0 ]; }; then
			ok "$w under $e: checksum $CK_2m with 4 KiB and 2 MiB pages (2 MiB pages mapped $maps, split ${splits:-0})"
		else
			bad "$w under $e" "exit $RC_4k/$RC_2m, checksums 4k '$CK_4k' 2m '$CK_2m', pagesize '$ps', huge_maps '$maps', huge_splits '$splits'"
		fi
	done
done

# bt maps a user 2 MiB page with one host mapping; with 4 KiB guest pages it never does
large=$(note "$TMPDIR_IT/bt-memwalk-2m" engine_bt_large_maps)
small=$(note "$TMPDIR_IT/bt-memwalk-4k" engine_bt_large_maps)
if [ "${large:-0}" -gt 0 ] && [ "${small:-1}" -eq 0 ]; then
	ok "bt: memwalk's 2 MiB pages took $large 2 MiB host mappings (4 KiB pages: 0)"
else
	bad "bt 2 MiB host mappings" "bt_large_maps 2m '$large', 4k '$small'"
fi

# rundata keeps the two page sizes apart: the 2 MiB run's engine is "bt (2m)"
labels=$(PYTHONPATH="$(dirname "$0")/../../scripts" python3 -c 'import sys
from hvtools.rundata import Run
print(" ".join(sorted({r["engine"] for r in Run(sys.argv[1]).rows if r["engine"] != "native"})),
      "/", " ".join(sorted({r["engine"] for r in Run(sys.argv[2]).rows if r["engine"] != "native"})))' \
	"$TMPDIR_IT/bt-memwalk-2m" "$TMPDIR_IT/bt-memwalk-4k" 2>&1)
if [ "$labels" = "bt (2m) / bt (4k)" ]; then
	ok "rundata: the rows of pagesize=2m read as engine 'bt (2m)', of pagesize=4k as 'bt (4k)'"
else
	bad "rundata page-size label" "got '$labels'"
fi

# refusals: CMDLINE EXPECTED-OUTPUT-PATTERN
NREFUSE=0
refuse() {
	NREFUSE=$((NREFUSE + 1))
	run_hvm refuse$NREFUSE 60 run --engine bt --workload hello --cmdline "$1" \
		--out "$TMPDIR_IT/refuse$NREFUSE"
	if [ "$RC" -eq 1 ] && grep -Eq "$2" "$OUT" 2>/dev/null; then
		ok "'$1' is refused: $(grep -Eho "$2" "$OUT" | head -n1)"
	else
		bad "'$1' refused" "exit $RC, output: $(tail -n 3 "$OUT" | tr '\n' ' ')"
	fi
}
refuse "pagesize=1g" "pagesize=1g is not one of: 4k, 2m"
refuse "pagesize=2m pv=on" "pagesize=2m with flavour=pv is not supported"
refuse "pagesize=2m cow=1" "pagesize=2m with cow=1 is not supported"
