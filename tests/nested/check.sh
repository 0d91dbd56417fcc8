#!/usr/bin/env bash
# The nested test bed's checks (hw on real kvm_amd under QEMU's TCG, and bt beside it):
#   tests/nested/check.sh slice    what `make test` runs: one boot per npt mode, a few
#                                  workloads (about a minute each)
#   tests/nested/check.sh full     `make test-nested`: every workload under hw npt=1,
#                                  hw npt=0 and bt, and tlbshoot 50 times under hw
# It first prints its plan ("1..N", or "1..0 # SKIP reason": tests/README.md), then one
# line per check: "ok - NAME", "not ok - NAME: why" or "skip - NAME: reason". A
# workload's checksum must equal the one the host's own bt run gives (bt's equal the
# native ones: tests/integration/bt_engine.sh), and KVM's counters must follow the
# switch: npt=0 takes guest page faults and invlpg intercepts that npt=1 does not.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=${HVLAB_BUILD:-build}
MODE=${1:-slice}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
ok()   { echo "ok - $1"; }
bad()  { echo "not ok - $1: $2"; }
skip() { echo "skip - $1: $2"; }

if ! command -v qemu-system-x86_64 >/dev/null; then
	echo "1..0 # SKIP qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"; exit 0
fi
if [ ! -x "$BUILD/bin/hvm" ]; then echo "1..0 # SKIP $BUILD/bin/hvm was not built"; exit 0; fi

declare -A ARGS=(
	[hello]= [compute]=size=64K,rounds=4,reps=2 [forkwait]=n=20,reps=2
	[memwalk]=ws=4M,steps=100000,reps=2 [ptchurn]=iters=8,pages=8,reps=2
	[ctxswitch]=n=50,reps=2 [locks]=iters=300,reps=2 [tlbshoot]=rounds=10 [forktest]=
)
declare -A VCPUS=([locks]=2 [tlbshoot]=2)
if [ "$MODE" = full ]; then
	WL="hello compute forkwait memwalk ptchurn ctxswitch locks tlbshoot forktest"
else
	WL="compute forkwait ptchurn"
fi
spec() { local w=$1; echo "$w${ARGS[$w]:+:${ARGS[$w]}}${VCPUS[$w]:+@${VCPUS[$w]}}"; }
nwl=$(echo $WL | wc -w)
# per npt mode: each workload under each engine (hw and bt with npt=1, hw with npt=0),
# KVM's counters, the pv guest's forkwait and the pv-halt spinlock's locks under hw; then
# tlbshoot's 50 runs in full mode
echo "1..$(( 2 * nwl + 1 + nwl + 1 + 2 + 2 + $([ "$MODE" = full ] && echo 1 || echo 0) ))"
# skip_section N NAME REASON: the N checks of a section that cannot run
skip_section() { local i; for ((i = 1; i <= $1; i++)); do skip "$2 ($i of $1)" "$3"; done; }
specs=$(for w in $WL; do spec "$w"; done | tr '\n' ' ')

# The reference checksums: the same workloads under bt on this host.
declare -A REF
for w in $(echo $WL locks | tr ' ' '\n' | sort -u); do
	"$BUILD/bin/hvm" run --engine bt --workload "$w${ARGS[$w]:+:${ARGS[$w]}}" \
		--vcpus "${VCPUS[$w]:-1}" --out "$T/ref-$w" >/dev/null 2>&1
	REF[$w]=$(python3 -c 'import csv, sys
print("/".join(sorted({r["value"] for r in csv.DictReader(open(sys.argv[1])) if r["metric"] == "checksum" and r["engine"] != "native"})))' "$T/ref-$w/samples.csv" 2>/dev/null)
done

counter() { # counter RUNDIR NAME
	python3 -c 'import csv, sys
v = [r["value"] for r in csv.DictReader(open(sys.argv[1])) if r["experiment"] == "counters" and r["metric"] == sys.argv[2]]
print(int(float(v[0])) if v else "")' "$1/samples.csv" "$2" 2>/dev/null
}

for npt in 1 0; do
	engines="hw"
	[ "$npt" = 1 ] && engines="hw bt"
	nsec=$(( $(echo $engines | wc -w) * nwl + 3 ))
	out=$T/npt$npt
	start=$(date +%s)
	scripts/nested.sh --npt=$npt --out "$out" --timeout 900 --build "$BUILD" \
		--env "NESTED_WORKLOADS=$specs $(spec forkwait)+pv $(spec locks)+halt" \
		--env "NESTED_ENGINES=$engines" \
		--script tests/nested/run-workloads.sh >"$T/nested$npt.log" 2>&1
	rc=$?
	echo "# nested npt=$npt: $(($(date +%s) - start)) s (exit $rc)"
	if [ $rc -eq 125 ] && grep -q 'apt-get\|apt-cache' "$T/nested$npt.log"; then
		skip_section "$nsec" "nested kvm_amd npt=$npt" "$(tail -n1 "$T/nested$npt.log")"; continue
	fi
	if [ $rc -ne 0 ]; then
		bad "nested boot npt=$npt" "exit $rc: $(tail -n2 "$T/nested$npt.log" | tr '\n' ' ')"
		skip_section $((nsec - 1)) "nested kvm_amd npt=$npt" "the nested boot failed"; continue
	fi
	# the outer machine is a VM (QEMU's TCG sets the CPUID hypervisor bit): KVM's paging
	# in it is nested, never written as plain npt or shadow-kvm (lib/README.md)
	want=$([ "$npt" = 1 ] && echo npt-nested || echo shadow-kvm-nested)
	for e in $engines; do
		for w in $WL; do
			d=$out/$e-$w
			line=$(grep -a "^nested-run $e $w " "$out/nested-console.log" | tr -d '\r')
			sum=$(python3 /dev/stdin "$d" <<'PY' 2>/dev/null
import sys
sys.path.insert(0, "tests/nested")
from table import read_run
r = read_run(sys.argv[1])
print(r["checksum"] + " " + r["memvirt"] if r else "")
PY
)
			if [ "$line" != "nested-run $e $w rc=0" ]; then
				bad "$w under $e, npt=$npt" "${line:-no result}: $(grep -aE 'panic|error|stopped' "$out/$e-$w.log" | head -n2 | tr '\n' ' ')"
				continue
			fi
			mv=${sum#* } ck=${sum%% *}
			[ "$e" = hw ] && [ "$mv" != "$want" ] &&
				{ bad "$w under hw, npt=$npt" "memvirt '$mv', not $want"; continue; }
			if [ -n "${REF[$w]}" ] || [ "$ck" != "-" ]; then
				[ "$ck" = "${REF[$w]}" ] && ok "$w under $e (nested, npt=$npt): checksum $ck as on the host" ||
					bad "$w under $e, npt=$npt" "checksum '$ck', the host's bt gives '${REF[$w]}'"
			else
				ok "$w under $e (nested, npt=$npt) exits 0"
			fi
		done
	done
	# KVM's counters follow the switch (ptchurn remaps pages and invlpgs each one).
	pg=$(counter "$out/hw-ptchurn" kvm_pf_guest) il=$(counter "$out/hw-ptchurn" kvm_invlpg)
	if [ -z "$pg" ]; then
		bad "KVM counters, npt=$npt" "ptchurn recorded no kvm_pf_guest"
	elif [ "$npt" = 1 ]; then
		[ "$pg" -eq 0 ] && [ "$il" -eq 0 ] && ok "npt=1: ptchurn takes no guest page-fault or invlpg intercepts (pf_guest $pg, invlpg $il)" ||
			bad "KVM counters, npt=1" "pf_guest $pg, invlpg $il: expected 0 under nested paging"
	else
		[ "$pg" -gt 0 ] && [ "$il" -gt 0 ] && ok "npt=0: ptchurn takes guest page-fault and invlpg intercepts (pf_guest $pg, invlpg $il)" ||
			bad "KVM counters, npt=0" "pf_guest $pg, invlpg $il: expected both > 0 under shadow paging"
	fi
	# The pv guest on real KVM: the same checksum, and page tables by hypercall exactly
	# where KVM keeps no shadow of them (npt=1), never under shadow paging (npt=0).
	d=$out/hw-forkwait-pv
	line=$(grep -a "^nested-run hw forkwait-pv " "$out/nested-console.log" | tr -d '\r')
	ck=$(python3 -c 'import csv, sys
print("/".join(sorted({r["value"] for r in csv.DictReader(open(sys.argv[1])) if r["metric"] == "checksum" and r["engine"] != "native"})))' "$d/samples.csv" 2>/dev/null)
	upd=$(grep -o '"hcall_mmu_update": *[0-9]*' "$d/summary.json" 2>/dev/null | grep -o '[0-9]*$')
	if [ "$line" != "nested-run hw forkwait-pv rc=0" ] || [ "$ck" != "${REF[forkwait]}" ]; then
		bad "pv forkwait under hw, npt=$npt" "${line:-no result}, checksum '$ck' (host bt '${REF[forkwait]}')"
	elif [ "$npt" = 1 ] && [ "${upd:-0}" -gt 0 ]; then
		ok "npt=1: the pv guest's forkwait gives checksum $ck with its page tables by hypercall ($upd mmu_update calls)"
	elif [ "$npt" = 0 ] && [ -z "$upd" ]; then
		ok "npt=0: the pv guest's forkwait gives checksum $ck and writes its page tables natively (no mmu_update offered under shadow paging)"
	else
		bad "pv forkwait under hw, npt=$npt" "mmu_update calls '${upd:-none}'"
	fi
	# The pv-halt spinlock on real KVM: the same count, with the spin hypercalls made.
	d=$out/hw-locks-halt
	line=$(grep -a "^nested-run hw locks-halt " "$out/nested-console.log" | tr -d '\r')
	ck=$(python3 -c 'import csv, sys
print("/".join(sorted({r["value"] for r in csv.DictReader(open(sys.argv[1])) if r["metric"] == "checksum" and r["engine"] != "native"})))' "$d/samples.csv" 2>/dev/null)
	mode=$(awk -F, '$2 == "locks" && $4 != "native" { print $7; exit }' "$d/samples.csv" 2>/dev/null)
	if [ "$line" = "nested-run hw locks-halt rc=0" ] && [ "$ck" = "${REF[locks]}" ] && [ "$mode" = pv-halt ]; then
		ok "locks under hw (nested, npt=$npt) with the pv-halt spinlock: checksum $ck as on the host"
	else
		bad "pv-halt locks under hw, npt=$npt" "${line:-no result}, checksum '$ck' (host bt '${REF[locks]}'), mode '$mode'"
	fi
	[ "$MODE" = full ] && python3 tests/nested/table.py "$out" | sed 's/^/# /'
done

if [ "$MODE" = full ]; then
	out=$T/tlb50
	scripts/nested.sh --npt=1 --out "$out" --timeout 1500 --build "$BUILD" \
		--script tests/nested/tlbshoot50.sh >"$T/tlb50.log" 2>&1
	n=$(grep -a '^tlb50: ' "$out/nested-console.log" 2>/dev/null | awk '{ print $2 }')
	[ "$n" = 50 ] && ok "tlbshoot under hw (nested, npt=1) passes 50 of 50" ||
		bad "tlbshoot under hw, 50 runs" "${n:-no} of 50 passed: $(grep -a 'tlb50 fail' "$out/nested-console.log" | head -n3 | tr '\n' ' ')"
fi
