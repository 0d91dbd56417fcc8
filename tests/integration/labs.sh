#!/usr/bin/env bash
# The coursework labs (labs/README.md): every marker pairs up with its stub; the full
# tree scores full marks on every lab; each lab's skeleton differs from the tree only in
# the files with that lab's markers, builds warning-free (the whole tree with gcc, the
# cut files with clang too), scores zero on every check of its lab and full marks on
# another lab's (no cascade); each broken solution in labs/broken/ loses the checks its
# header names, and no others but those it names as host-dependent. Skeletons are built from a copy of this build's objects, so
# only what the cut changed is compiled again.
. "$(dirname "$0")/lib.sh"

LABS=$(awk '$1 == "lab" { print $2 }' labs/labs.txt)
BROKEN=$(ls labs/broken/*.sed 2>/dev/null)
n_words() { echo $#; }
# 1 marker check; per lab: full tree, skeleton files, gcc build, clang, zero, other lab;
# per broken solution: its grade
plan $(( 1 + 6 * $(n_words $LABS) + $(n_words $BROKEN) ))

if [ ! -x "$HVM" ] || ! git rev-parse --git-dir >/dev/null 2>&1; then
	skip_rest labs "needs the built tree ($HVM) and its git checkout (the skeleton is the tracked files)"
fi
CLANG=$(command -v clang)

# grade TREE BUILD LAB JSON [--only ...]: grades what is built, the JSON's total in $G
grade() {
	local tree=$1 b=$2 lab=$3 json=$4; shift 4
	(cd "$tree" && timeout -k 5 600 python3 labs/grade.py --lab "$lab" --no-build --build "$b" \
		--json "$json" --quiet "$@") >"$json.out" 2>&1
	G=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["total"])' "$json" 2>/dev/null)
}
# failing JSON: the checks that did not pass
failing() { python3 -c 'import json, sys; print(" ".join(t["name"] for t in json.load(open(sys.argv[1]))["tests"] if not t["passed"]))' "$1" 2>/dev/null; }
# every_check LAB: the names of lab LAB's checks
every_check() { awk -v l="$1" '$1 == l { print $2 }' labs/labs.txt | tr '\n' ' ' | sed 's/ $//'; }
max_of() { awk -v l="$1" '$1 == l { s += $3 } END { print s }' labs/labs.txt; }
# cut_files DIR: the files a skeleton's cut changed, against this tree
cut_files() {
	local f
	while read -r f; do
		[ -f "$f" ] && ! cmp -s "$f" "$1/$f" && echo "$f"
	done <"$1/labs/MANIFEST" | sort | tr '\n' ' ' | sed 's/ $//'
}
marked_files() { git grep -lE "/\* LAB $1 BEGIN: " -- '*.c' '*.h' '*.S' | sort | tr '\n' ' ' | sed 's/ $//'; }
# object DIR-relative source -> its object under BUILD (host, or the guest kernel's)
object() {
	case $1 in
	hv-minimal/guest/kernel/*) f=${1#hv-minimal/guest/kernel/}; echo "$2/guest/obj/kernel/${f%.*}.o" ;;
	*) echo "$2/obj/${1%.*}.o" ;;
	esac
}

if out=$(python3 labs/cut.py --check 2>&1); then
	ok "markers: $out"
else
	bad "markers" "$out"
fi

# unaffected LAB: what a skeleton of LAB must still pass of other labs, as LAB:CHECKS
# (CHECKS "all" or comma-separated). Labs 1-3 are the ground every guest under the
# translator stands on (port I/O, the shadow fill, the translator's encoder): their
# skeletons run no guest, so they are held to the checks that run none (unit tests);
# the others to the next lab, whole.
unaffected() {
	case $1 in
	1) echo "2:bt-events 3:bt-diff 6:test-virtq" ;;
	2|3) echo "6:test-virtq" ;;
	*) echo "$(( $1 % $(n_words $LABS) + 1 )):all" ;;
	esac
}

for n in $LABS; do
	j=$TMPDIR_IT/full-$n.json
	grade . "$HVLAB_BUILD" "$n" "$j"
	if [ -n "$G" ] && [ "$G" = "$(max_of "$n")/$(max_of "$n")" ]; then
		ok "lab $n: the full tree scores $G"
	else
		bad "lab $n: the full tree" "scores '${G:-no grade}', failing: $(failing "$j"); $(tail -n 2 "$j.out" | tr '\n' ' ')"
	fi

	s=$TMPDIR_IT/lab-$n
	if ! python3 labs/cut.py --lab "$n" --out "$s" --seed-build "$HVLAB_BUILD" >"$s.cut" 2>&1; then
		bad "lab $n: skeleton" "cut.py: $(cat "$s.cut")"
		skip_n 4 "lab $n: skeleton" "no skeleton"
		continue
	fi
	want=$(marked_files "$n") got=$(cut_files "$s")
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "lab $n: the skeleton differs only in lab $n's files ($want)"
	else
		bad "lab $n: skeleton files" "differs in '$got', lab $n's markers are in '$want'"
	fi
	if (cd "$s" && make -j2 all) >"$s.build" 2>&1; then
		ok "lab $n: the skeleton builds with gcc, -Werror ($(grep -cE '^  (CC|GCC)' "$s.build") files compiled)"
	else
		bad "lab $n: skeleton build (gcc)" "$(grep -E 'error|warning' "$s.build" | head -n 3 | tr '\n' ' ')"
		skip_n 3 "lab $n: skeleton" "it does not build"
		continue
	fi
	if [ -z "$CLANG" ]; then
		skip "lab $n: the cut files with clang" "clang is not installed"
	else
		objs=
		for f in $want; do objs="$objs $(object "$f" build/clang)"; done
		if (cd "$s" && make CC=clang GUEST_CC=clang BUILD=build/clang $objs) >"$s.clang" 2>&1; then
			ok "lab $n: the cut files build with clang, -Werror"
		else
			bad "lab $n: skeleton (clang)" "$(grep -E 'error|warning' "$s.clang" | head -n 3 | tr '\n' ' ') $(tail -n 2 "$s.clang" | tr '\n' ' ')"
		fi
	fi
	grade "$s" build "$n" "$TMPDIR_IT/skel-$n.json"
	if [ "$G" = "0/$(max_of "$n")" ] && [ "$(failing "$TMPDIR_IT/skel-$n.json")" = "$(every_check "$n")" ]; then
		ok "lab $n: the skeleton scores $G, every check failing"
	else
		bad "lab $n: the skeleton's grade" "'${G:-no grade}', failing '$(failing "$TMPDIR_IT/skel-$n.json")'"
	fi
	nc_bad= nc_ok=
	for u in $(unaffected "$n"); do
		o=${u%%:*} only=()
		[ "${u#*:}" != all ] && only=(--only "${u#*:}")
		grade "$s" build "$o" "$TMPDIR_IT/skel-$n-lab-$o.json" "${only[@]}"
		if [ -n "$G" ] && [ -z "$(failing "$TMPDIR_IT/skel-$n-lab-$o.json")" ]; then
			nc_ok="$nc_ok lab $o ${u#*:} $G;"
		else
			nc_bad="$nc_bad lab $o: '${G:-no grade}', failing '$(failing "$TMPDIR_IT/skel-$n-lab-$o.json")';"
		fi
	done
	if [ -z "$nc_bad" ]; then
		ok "lab $n: the skeleton still passes other labs' checks (no cascade):${nc_ok%;}"
	else
		bad "lab $n: the skeleton on other labs" "${nc_bad%;}"
	fi
	rm -rf "$s"
done

# Broken solutions: a skeleton whose lab holds the reference run through the sed script.
for f in $BROKEN; do
	b=$(basename "$f" .sed) n=${b#lab} n=${n%%-*}
	loses=$(sed -n 's/^# loses: //p' "$f")
	may=$(sed -n 's/^# may also lose: \([^(]*[^( ]\).*/\1/p' "$f")
	s=$TMPDIR_IT/$b
	if ! python3 labs/cut.py --lab "$n" --out "$s" --seed-build "$HVLAB_BUILD" --fill "$f" >"$s.cut" 2>&1 ||
	   ! (cd "$s" && make -j2 all) >"$s.build" 2>&1; then
		bad "$b" "no tree to grade: $(cat "$s.cut"; grep -E 'error|warning' "$s.build" 2>/dev/null | head -n 3)"
		continue
	fi
	grade "$s" build "$n" "$TMPDIR_IT/$b.json"
	# every check of "loses", and none but those and the host-dependent "may also lose"
	got=$(failing "$TMPDIR_IT/$b.json")
	if [ -n "$loses" ] && python3 -c 'import sys
got, want, may = (set(a.split()) for a in sys.argv[1:4])
sys.exit(0 if want <= got <= want | may else 1)' "$got" "$loses" "$may"; then
		ok "$b: scores $G, losing $got (must: $loses${may:+; on some hosts also: $may})"
	else
		bad "$b" "scores '${G:-no grade}', failing '$got', want '$loses'${may:+ and perhaps '$may'}"
	fi
	rm -rf "$s"
done
