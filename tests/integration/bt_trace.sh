#!/usr/bin/env bash
# The bt engine's page-table trace (hvm run --bt-trace FILE): a real workload's trace
# holds every kind of event the translator sees and replays in ptwalk-sim without an
# inconsistency (a touch of an unmapped page, an unknown address space); the option is
# refused, by name, under an engine that has no such trace.
# san: yes
. "$(dirname "$0")/lib.sh"
SIM=$HVLAB_BUILD/bin/ptwalk-sim
plan 3

if [ ! -x "$HVM" ] || [ ! -x "$SIM" ]; then
	skip_rest "page-table traces" "$HVM or $SIM was not built (make)"
fi

# trace WORKLOAD: records it under bt into $TMPDIR_IT/WORKLOAD.trace and replays it
trace() {
	local w=$1 t=$TMPDIR_IT/${1%%:*}.trace
	run_hvm "trace-${w%%:*}" 120 run --engine bt --workload "$w" --bt-trace "$t" \
		--out "$TMPDIR_IT/run-${w%%:*}"
	[ "$RC" -eq 0 ] || { echo "hvm exit $RC: $(grep -m2 -i error "$OUT")"; return 1; }
	"$SIM" run "$t" >"$TMPDIR_IT/replay-${w%%:*}.txt" 2>&1 ||
		{ echo "ptwalk-sim: $(tail -n1 "$TMPDIR_IT/replay-${w%%:*}.txt")"; return 1; }
}

if why=$(trace ptchurn:iters=4,pages=16,reps=1); then
	t=$TMPDIR_IT/ptchurn.trace
	kinds=$(awk 'NR > 1 && !/^#/ { print $1 }' "$t" | sort -u | tr -d '\n')
	missing=
	for k in c f i m r u w; do
		case $kinds in *$k*) ;; *) missing="$missing $k" ;; esac
	done
	[ -z "$missing" ] &&
		ok "ptchurn's trace holds CR3 loads, faults, invlpg, mappings, unmappings and touches ($kinds), and replays" ||
		bad "ptchurn's trace" "event kinds '$kinds', without:$missing"
else
	bad "ptchurn's trace" "$why"
fi

if why=$(trace forkwait:n=20,reps=1); then
	n=$(grep -c '^c ' "$TMPDIR_IT/forkwait.trace")
	[ "$n" -ge 20 ] && ok "forkwait's trace (a process per fork, $n address-space switches) replays" ||
		bad "forkwait's trace" "$n address-space switches for 20 forks"
else
	bad "forkwait's trace" "$why"
fi

run_hvm trace-hw 20 run --engine hw --workload hello --bt-trace "$TMPDIR_IT/hw.trace"
[ "$RC" -eq 2 ] && grep -q -- --bt-trace "$OUT" && [ ! -e "$TMPDIR_IT/hw.trace" ] &&
	ok "--bt-trace under hw is refused by name, before anything runs" ||
	bad "--bt-trace under hw" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
