#!/usr/bin/env bash
# scripts/paging-mode.sh: its report on this host, and its refusals. The switch itself
# (reloading kvm_intel/kvm_amd) is checked on made-up hosts (HVLAB_SYSFS and friends),
# where the script only prints the modprobe commands: no module is ever reloaded here.
# A few seconds.
. "$(dirname "$0")/lib.sh"
PM=scripts/paging-mode.sh
[ -x "$PM" ] || skip_all "$PM is missing or not executable"
plan 12

# ---- this host ----
"$PM" >"$TMPDIR_IT/report" 2>&1
RC=$?
[ "$RC" -eq 0 ] && grep -Eq '^paging: (ept|npt|shadow|pvm|none|unknown)$' "$TMPDIR_IT/report" &&
	grep -Eq '^memvirt: (ept|npt|shadow-kvm|shadow-pvm)(-nested)?$|^memvirt: (none|unknown)$' "$TMPDIR_IT/report" &&
	grep -Eq '^nested: (yes|no)' "$TMPDIR_IT/report" && grep -Eq '^switchable: (yes|no: .+)' "$TMPDIR_IT/report" &&
	ok "report names paging, memvirt, KVM flavour, /dev/kvm, nested and whether it can switch" ||
	bad "report" "exit $RC: $(tr '\n' ' ' <"$TMPDIR_IT/report")"

if command -v python3 >/dev/null; then
	"$PM" --json >"$TMPDIR_IT/report.json" 2>&1
	python3 - "$TMPDIR_IT/report.json" "$TMPDIR_IT/report" <<'PY' >"$TMPDIR_IT/json.chk" 2>&1 &&
import json, sys
d = json.load(open(sys.argv[1]))
text = dict(l.split(": ", 1) for l in open(sys.argv[2]).read().splitlines())
assert d["paging"] == text["paging"] and d["memvirt"] == text["memvirt"], (d, text)
assert d["nested"] == text["nested"].startswith("yes")
assert d["switchable"] == text["switchable"].startswith("yes")
PY
		ok "--json says what the text report says" ||
		bad "--json" "$(tail -n 2 "$TMPDIR_IT/json.chk" | tr '\n' ' ')"
else
	skip "--json" "python3 is not installed"
fi

# This host refuses unless it is a bare-metal kvm_intel/kvm_amd host (then the test
# does not reload its KVM: that is for a person to confirm).
if grep -q '^switchable: yes' "$TMPDIR_IT/report"; then
	skip "refusal on this host" "this host can switch (bare-metal $(sed -n 's/^kvm: //p' "$TMPDIR_IT/report")); a test never reloads KVM"
else
	why=$(sed -n 's/^switchable: no: //p' "$TMPDIR_IT/report")
	"$PM" run --yes-reload-kvm -- true >"$TMPDIR_IT/here.out" 2>&1
	RC=$?
	[ "$RC" -eq 3 ] && grep -qF "refused: $why" "$TMPDIR_IT/here.out" &&
		ok "run refuses on this host (exit 3), saying why: $why" ||
		bad "refusal on this host" "exit $RC: $(tr '\n' ' ' <"$TMPDIR_IT/here.out")"
fi

# ---- made-up hosts ----
# fake_host DIR MODULE PARAM VALUE CPUFLAG: a sysfs tree and cpuinfo (MODULE none: no KVM)
fake_host() {
	mkdir -p "$1/sys/module"
	if [ "$2" != none ]; then
		mkdir -p "$1/sys/module/$2/parameters"
		[ -n "$3" ] && echo "$4" >"$1/sys/module/$2/parameters/$3"
		echo 0 >"$1/sys/module/$2/refcnt"
	fi
	printf 'processor\t: 0\nflags\t\t: fpu tsc %s\n' "$5" >"$1/cpuinfo"
}
# on DIR [VAR=VALUE...] -- ARGS: runs the script as on that host, as root unless told;
# output in $OUT, status in $RC
on() {
	local dir=$1; shift
	local env=(HVLAB_SYSFS="$dir/sys" HVLAB_CPUINFO="$dir/cpuinfo" HVLAB_DEV_KVM="$dir/kvm" HVLAB_UID=0)
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	OUT=$TMPDIR_IT/on.out
	env "${env[@]}" timeout 20 "$PM" "$@" >"$OUT" 2>&1
	RC=$?
}
expect_refusal() { # expect_refusal NAME PATTERN
	[ "$RC" -eq 3 ] && grep -Eq "refused: .*$2" "$OUT" && ! grep -q 'would run' "$OUT" &&
		ok "$1" || bad "$1" "exit $RC: $(tr '\n' ' ' <"$OUT")"
}

H=$TMPDIR_IT/pvm;   fake_host "$H" kvm_pvm "" "" hypervisor
on "$H" -- run --yes-reload-kvm -- true
expect_refusal "a kvm_pvm host is refused: shadow paging only" "kvm_pvm \(PVM\), which always uses shadow paging"

H=$TMPDIR_IT/nokvm; fake_host "$H" none "" "" ""
on "$H" -- run --yes-reload-kvm -- true
expect_refusal "a host without KVM is refused" "neither kvm_intel nor kvm_amd is loaded"

H=$TMPDIR_IT/vm;    fake_host "$H" kvm_amd npt Y "svm hypervisor"
on "$H" -- run --yes-reload-kvm -- true
expect_refusal "a VM with kvm_amd is refused without --allow-vm" "itself a VM"

H=$TMPDIR_IT/metal; fake_host "$H" kvm_intel ept N vmx
on "$H" HVLAB_UID=1000 -- run --yes-reload-kvm -- true
expect_refusal "a user other than root is refused" "needs root"
on "$H" -- run -- true
expect_refusal "no confirmation flag, no reload" "give --yes-reload-kvm"

echo 2 >"$H/sys/module/kvm_intel/refcnt"
on "$H" -- run --yes-reload-kvm -- true
expect_refusal "a module in use by VMs is refused" "in use \(2 references"
echo 0 >"$H/sys/module/kvm_intel/refcnt"

# The switch on a bare-metal kvm_intel host whose ept was off: ept=1, the command, ept=0,
# the command, and back to the original ept=0.
on "$H" -- run --yes-reload-kvm -- sh -c 'echo "ran $HVLAB_PAGING $0"' '{paging}'
want='would run: modprobe -r kvm_intel && modprobe kvm_intel ept=1
ran ept ept
would run: modprobe -r kvm_intel && modprobe kvm_intel ept=0
ran shadow-kvm shadow-kvm
would run: modprobe -r kvm_intel && modprobe kvm_intel ept=0'
got=$(grep -E 'would run|^ran' "$OUT" | sed 's/^paging-mode: //')
[ "$RC" -eq 0 ] && [ "$got" = "$want" ] && grep -q 'restoring kvm_intel ept=0' "$OUT" &&
	ok "run reloads ept=1 then ept=0 around the command ({paging}, HVLAB_PAGING) and restores ept=0" ||
	bad "run on bare metal" "exit $RC: $(tr '\n' '|' <"$OUT")"

# Interrupted during the first setting: the original setting is restored all the same.
H=$TMPDIR_IT/amd;   fake_host "$H" kvm_amd npt Y svm
on "$H" -- run --yes-reload-kvm --settings 0,1 -- sh -c 'kill -TERM $PPID; sleep 0.3'
[ "$RC" -eq 143 ] && grep -q 'restoring kvm_amd npt=1' "$OUT" &&
	[ "$(grep -c 'would run: modprobe' "$OUT")" -eq 2 ] &&
	ok "SIGTERM during a run restores the original npt=1 (exit 143)" ||
	bad "interrupted run" "exit $RC: $(tr '\n' '|' <"$OUT")"

on "$H" -- run --yes-reload-kvm --bogus -- true
[ "$RC" -eq 2 ] && grep -q "unknown option '--bogus'" "$OUT" &&
	ok "an unknown option is a usage error (exit 2)" ||
	bad "unknown option" "exit $RC: $(tr '\n' ' ' <"$OUT")"
