#!/usr/bin/env bash
# What a host lacks is a skip with its reason, never a failure (PLATFORM.md's host
# kinds): hvm host names the kind; hvm engines --json describes each engine as hvm host
# finds it; hvm run exits 77 naming what is missing when the engine cannot run here. Where this host has /dev/kvm, a host without it is made by
# binding /dev/null over it in a private mount namespace (root only).
# san: yes
. "$(dirname "$0")/lib.sh"
if [ ! -x "$HVM" ]; then skip_all "$HVM was not built"; fi
plan 7

run_hvm host 20 host
[ "$RC" -eq 0 ] && grep -Eq '^host: /dev/kvm .*; host is (a VM|not a VM|perhaps a VM).*; user-mode FSGSBASE (yes|no)$' "$OUT" &&
	grep -q '^engine hw: ' "$OUT" && grep -q '^engine bt: ' "$OUT" &&
	ok "hvm host names /dev/kvm, whether the host is a VM, FSGSBASE and each engine" ||
	bad "hvm host" "exit $RC: $(head -n3 "$OUT" | tr '\n' ' ')"

# engines_json FILE HOSTFILE: hvm engines --json's description agrees with hvm host.
engines_json() {
	python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
host = open(sys.argv[2]).read()
es = {e["name"]: e for e in d["engines"]}
assert d["program"] == "hvm" and set(es) == {"hw", "bt"}, es.keys()
for n, e in es.items():
    assert e["kind"] == "vmm" and e["family"] in ("hardware", "translator"), e
    assert (e["skip_reason"] is None) == e["available"], e
    assert ("engine %s: available" % n in host) == e["available"], (n, host)
    assert e["available"] == (e["memvirt"] is not None), e
assert "segbase" in es["bt"]["mode_columns"] and "segbase" not in es["hw"]["mode_columns"]
assert es["hw"]["needs"] == ["kvm"] and es["bt"]["needs"] == []
print(es["hw"]["skip_reason"] or "")
PY
}
if ! command -v python3 >/dev/null; then
	skip "hvm engines --json" "python3 is not installed (scripts/setup-deps.sh installs it)"
else
	"$HVM" engines --json >"$TMPDIR_IT/engines.json" 2>&1
	engines_json "$TMPDIR_IT/engines.json" "$TMPDIR_IT/host.out" >"$TMPDIR_IT/engines.chk" 2>&1 &&
		ok "hvm engines --json describes hw and bt (kind, family, needs, mode columns) as hvm host finds them" ||
		bad "hvm engines --json" "$(tail -n 2 "$TMPDIR_IT/engines.chk" | tr '\n' ' ')"
fi

# hw where there is no usable KVM: exit 77, nothing measured, the reason printed.
nokvm() { # nokvm CMD...: runs CMD as on a host without a usable /dev/kvm
	if [ -n "$(kvm_unavailable)" ]; then
		"$@"
	else
		unshare -m bash -c 'mount --bind /dev/null /dev/kvm && exec "$@"' nokvm "$@"
	fi
}
if [ -z "$(kvm_unavailable)" ] && ! unshare -m true 2>/dev/null; then
	skip_n 3 "hw on a host without KVM" "cannot hide /dev/kvm here (unshare -m needs root)"
else
	OUT=$TMPDIR_IT/nokvm.out
	nokvm timeout 30 "$HVM" run --engine hw --workload hello --out "$TMPDIR_IT/nokvm" >"$OUT" 2>&1
	RC=$?
	[ "$RC" -eq 77 ] && grep -q 'skipped: engine hw cannot run on this host: .*/dev/kvm' "$OUT" &&
		[ ! -e "$TMPDIR_IT/nokvm/samples.csv" ] &&
		ok "hw without a usable /dev/kvm skips (77) naming /dev/kvm" ||
		bad "hw without KVM" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
	OUT=$TMPDIR_IT/nokvm-host.out
	nokvm "$HVM" host >"$OUT" 2>&1
	grep -q '^host: /dev/kvm unusable' "$OUT" && grep -q '^engine hw: unavailable: ' "$OUT" &&
		grep -q '^engine bt: available' "$OUT" &&
		ok "hvm host without KVM: hw unavailable with its reason, bt available" ||
		bad "hvm host without KVM" "$(tr '\n' ' ' <"$OUT")"
	nokvm "$HVM" engines --json >"$TMPDIR_IT/nokvm-engines.json" 2>&1
	if ! command -v python3 >/dev/null; then
		skip "hvm engines --json without KVM" "python3 is not installed"
	else
		why=$(engines_json "$TMPDIR_IT/nokvm-engines.json" "$OUT" 2>&1)
		[ $? -eq 0 ] && printf '%s' "$why" | grep -q '/dev/kvm' &&
			ok "hvm engines --json without KVM: hw unavailable, its skip reason names /dev/kvm" ||
			bad "hvm engines --json without KVM" "$why"
	fi
fi

# bt asked to use wrgsbase: runs where the host has user-mode FSGSBASE, else skips.
run_hvm gs-wr 60 run --engine bt --workload hello --bt-gs wrgsbase --out "$TMPDIR_IT/gs-wr"
if "$HVM" host | grep -q 'user-mode FSGSBASE yes'; then
	[ "$RC" -eq 0 ] && ok "bt --bt-gs wrgsbase runs where the host offers FSGSBASE" ||
		bad "bt --bt-gs wrgsbase" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
else
	[ "$RC" -eq 77 ] && grep -q 'FSGSBASE' "$OUT" &&
		ok "bt --bt-gs wrgsbase skips (77) naming FSGSBASE where the host lacks it" ||
		bad "bt --bt-gs wrgsbase without FSGSBASE" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
fi
run_hvm gs-ap 60 run --engine bt --workload hello --bt-gs arch_prctl --out "$TMPDIR_IT/gs-ap"
[ "$RC" -eq 0 ] && grep -q ',bt,shadow-bt,.*,arch_prctl,' "$TMPDIR_IT/gs-ap/samples.csv" &&
	ok "bt --bt-gs arch_prctl runs on every host, its rows say segbase arch_prctl" ||
	bad "bt --bt-gs arch_prctl" "exit $RC: $(head -n2 "$OUT" | tr '\n' ' ')"
