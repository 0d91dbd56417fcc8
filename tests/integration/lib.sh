# Shared helpers for integration suites (sourced). A suite prints one line per check:
# "ok - NAME", "not ok - NAME: why", or "skip - NAME: reason"; tests/run-all.sh counts them.
HVLAB_BUILD=${HVLAB_BUILD:-build}
HVM=${HVM:-$HVLAB_BUILD/bin/hvm}
TMPDIR_IT=$(mktemp -d)
trap 'rm -rf "$TMPDIR_IT"' EXIT

ok()   { echo "ok - $1"; }
bad()  { echo "not ok - $1: $2"; }
skip() { echo "skip - $1: $2"; }

# Why KVM tests cannot run here, or empty when they can.
kvm_unavailable() {
	if [ ! -e /dev/kvm ]; then echo "/dev/kvm is absent (no KVM on this host)"; return; fi
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then echo "/dev/kvm is not readable and writable by $(id -un)"; return; fi
	if [ ! -x "$HVM" ]; then echo "$HVM was not built"; return; fi
}

# run_hvm NAME TIMEOUT args... : runs hvm, leaves stdout+stderr in $OUT, exit code in $RC.
run_hvm() {
	local name=$1 t=$2; shift 2
	OUT=$TMPDIR_IT/$name.out
	timeout "$t" "$HVM" "$@" >"$OUT" 2>&1
	RC=$?
}
