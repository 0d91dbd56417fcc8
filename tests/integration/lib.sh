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
	# KVM_GET_API_VERSION must answer 12: /dev/kvm may be a stand-in (e.g. bound to
	# /dev/null in a container) that opens but is no KVM.
	if ! python3 -c 'import fcntl, os, sys
fd = os.open("/dev/kvm", os.O_RDWR)
sys.exit(0 if fcntl.ioctl(fd, 0xAE00) == 12 else 1)' 2>/dev/null; then
		echo "/dev/kvm does not answer KVM_GET_API_VERSION with 12 (not a usable KVM)"
	fi
}

# run_hvm NAME TIMEOUT args... : runs hvm, leaves stdout+stderr in $OUT, exit code in $RC.
run_hvm() {
	local name=$1 t=$2; shift 2
	OUT=$TMPDIR_IT/$name.out
	timeout "$t" "$HVM" "$@" >"$OUT" 2>&1
	RC=$?
}
