# Shared helpers for integration suites (sourced). A suite first declares how many checks
# it will print, with `plan N` (kselftest's TAP plan line "1..N"), then prints one line
# per check: "ok - NAME", "not ok - NAME: why", or "skip - NAME: reason". tests/run-all.sh
# counts them and fails the suite when it prints fewer or more than planned or exits
# non-zero (tests/runner-lib.sh), so a suite that dies midway cannot pass.
HVLAB_BUILD=${HVLAB_BUILD:-build}
HVM=${HVM:-$HVLAB_BUILD/bin/hvm}
TMPDIR_IT=$(mktemp -d)
trap 'rm -rf "$TMPDIR_IT"' EXIT
PLANNED=
CHECKS_DONE=0

ok()   { CHECKS_DONE=$((CHECKS_DONE + 1)); echo "ok - $1"; }
bad()  { CHECKS_DONE=$((CHECKS_DONE + 1)); echo "not ok - $1: $2"; }
skip() { CHECKS_DONE=$((CHECKS_DONE + 1)); echo "skip - $1: $2"; }

# plan N: this suite prints N checks. Count them from the suite's own tables, so that a
# loop that runs short is caught too.
plan() { PLANNED=$1; echo "1..$1"; }
# skip_all REASON: none of the suite's checks can run here ("1..0 # SKIP REASON"), in
# place of plan; ends the suite.
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
# skip_n N NAME REASON: N planned checks (a section of the suite) cannot run here: one
# skip line each.
skip_n() {
	local i
	for ((i = 1; i <= $1; i++)); do
		skip "$2 ($i of $1)" "$3"
	done
}
# skip_rest NAME REASON: the planned checks not yet printed cannot run here: one skip line
# each, then the suite ends.
skip_rest() {
	local i
	for ((i = CHECKS_DONE + 1; i <= PLANNED; i++)); do
		echo "skip - $1 (check $i of $PLANNED): $2"
	done
	exit 0
}

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

# run_hvm NAME TIMEOUT args... : runs hvm, leaves stdout+stderr in $OUT, exit code in $RC
# (124 or 137: hvm outlived TIMEOUT seconds; a SIGTERM it cannot take is followed by a
# SIGKILL 5 s later).
run_hvm() {
	local name=$1 t=$2; shift 2
	OUT=$TMPDIR_IT/$name.out
	timeout -k 5 "$t" "$HVM" "$@" >"$OUT" 2>&1
	RC=$?
}

# ---- Expectations that depend on the host, declared in tables (kvm-unit-tests style) ----
# A table holds one row per case and host key: "CASE KEY STATUS PATTERN WHY...". KEY is
# "bt" for the translator, the KVM flavour for hw (kvm_pvm, kvm_intel, kvm_amd), or "*"
# for every key the case has no row of its own for; STATUS is hvm's exit status and
# PATTERN an extended regular expression (no spaces) its output must match. A case
# whose outcome differs between hosts says so in its rows, so the suite passes on every
# host kind instead of requiring this one's behaviour.

# host_key ENGINE: the key of ENGINE's rows on this host.
host_key() {
	if [ "$1" = bt ]; then echo bt; return; fi
	local f
	f=$("$HVM" host 2>/dev/null | sed -n 's/^host: \/dev\/kvm \([a-z_0-9]*\) (paging.*/\1/p')
	echo "${f:-unknown}"
}

# expectation TABLE CASE KEY: sets WANT_STATUS, WANT_PAT and WANT_WHY from the row of
# CASE for KEY, else its "*" row; returns 1 when there is neither.
expectation() {
	local c k st pat why
	WANT_STATUS= WANT_PAT= WANT_WHY=
	while read -r c k st pat why; do
		[ "$c" = "$2" ] || continue
		if [ "$k" = "$3" ]; then
			WANT_STATUS=$st WANT_PAT=$pat WANT_WHY=$why
			return 0
		fi
		if [ "$k" = "*" ]; then
			WANT_STATUS=$st WANT_PAT=$pat WANT_WHY=$why
		fi
	done <<<"$1"
	[ -n "$WANT_STATUS" ]
}

# engine_unavailable ENGINE: why ENGINE cannot run here, or nothing.
engine_unavailable() {
	if [ ! -x "$HVM" ]; then echo "$HVM was not built"; return; fi
	if [ "$1" = hw ]; then
		[ -n "${KVM_WHY+set}" ] || KVM_WHY=$(kvm_unavailable)
		echo "$KVM_WHY"
	fi
}

# expect_run LABEL ENGINE TABLE CASE ARGS...: `hvm run --engine ENGINE ARGS...` must end
# as the table's row for this host says: its exit status, its output matching the
# pattern, and a guest stopped as misbehaving (3) shown with its registers. Skips, with
# the reason, where the engine cannot run or the table has no row for this host.
expect_run() {
	local label=$1 engine=$2 table=$3 case=$4 key why; shift 4
	why=$(engine_unavailable "$engine")
	if [ -n "$why" ]; then skip "$label under $engine" "$why"; return; fi
	key=$(host_key "$engine")
	if ! expectation "$table" "$case" "$key"; then
		skip "$label under $engine" "no expectation declared for $key (add a row to the table)"
		return
	fi
	run_hvm "$engine-${case//[^a-z0-9_.-]/_}" 120 run --engine "$engine" "$@"
	if [ "$RC" -ne "$WANT_STATUS" ]; then
		bad "$label under $engine ($key)" "exit $RC, want $WANT_STATUS ($WANT_WHY): $(grep -Ei 'error|stopp|panic|cmdline' "$OUT" | head -n 2 | tr '\n' ' ')"
	elif ! grep -Eq -- "$WANT_PAT" "$OUT"; then
		bad "$label under $engine ($key)" "exit $RC, but nothing matches /$WANT_PAT/ ($WANT_WHY)"
	elif [ "$WANT_STATUS" -eq 3 ] && ! grep -q RIP "$OUT"; then
		bad "$label under $engine ($key)" "stopped without a register dump"
	else
		ok "$label under $engine ($key): exit $RC, $WANT_WHY"
	fi
}

# ---- What physics says of nanobenchmark figures ----
# cheaper    dearer     engines  why
NB_ORDER='callret    in         hw,bt    a port access leaves the guest (an exit or a call-out), a call/ret does not
callret    mmio       hw,bt    an MMIO access leaves the guest, a call/ret does not
callret    hypercall  hw,bt    a hypercall leaves the guest, a call/ret does not
callret    cpuid      hw,bt    cpuid leaves the guest (KVM or a call-out handles it), a call/ret does not
callret    syscall    hw,bt    a system call enters the guest kernel and returns, a call/ret stays in user mode
callret    pgfault    hw,bt    a page fault traps to the guest kernel, a call/ret does not
callret    divzero    hw,bt    a divide error traps to the guest kernel, a call/ret does not
ioeventfd  in         hw       a port write KVM completes itself (ioeventfd) costs less than one handed to the VMM'

# nb_order_count ENGINE: how many orderings nanobench_physics checks for ENGINE.
nb_order_count() { printf '%s\n' "$NB_ORDER" | awk -v e="$1" '$3 ~ "(^|,)" e "(,|$)"' | grep -c .; }

# nanobench_physics CSV ENGINE: every operation's median cycles_per_op under ENGINE is
# positive and no value negative (one check: the guest writes 0 for a repetition whose
# loop was no slower than its empty loop, as when a preemption lands in the empty loop of
# a cheap operation on a busy host, so a single 0 is noise, a median of 0 is not), and
# each ordering of NB_ORDER for ENGINE holds between the two operations' medians (one
# check each).
nanobench_physics() {
	local status name detail
	while IFS=$'\t' read -r status name detail; do
		if [ "$status" = ok ]; then ok "$name: $detail"; else bad "$name" "$detail"; fi
	done < <(python3 - "$1" "$2" "$NB_ORDER" <<'PY'
import csv, statistics, sys
path, engine, table = sys.argv[1:4]
vals = {}
try:
    for r in csv.DictReader(open(path)):
        if r["engine"] == engine and r["metric"] == "cycles_per_op":
            vals.setdefault(r["workload"], []).append(float(r["value"]))
except (OSError, KeyError, ValueError) as e:
    vals = {}
    err = f"{path}: {e}"
else:
    err = f"no {engine} cycles_per_op rows in {path}"
allv = [v for vs in vals.values() for v in vs]
name = f"{engine} nanobenchmarks are positive"
meds = {op: statistics.median(vs) for op, vs in vals.items()}
zeros = sorted(op for op, vs in vals.items() if 0 in vs)
if not allv:
    print(f"bad\t{name}\t{err}")
elif min(allv) < 0 or min(meds.values()) <= 0:
    bad = sorted(op for op in vals if min(vals[op]) < 0 or meds[op] <= 0)
    print(f"bad\t{name}\tmedian not positive, or a value negative: {', '.join(bad)}")
else:
    least = min(meds, key=meds.get)
    note = f"; a repetition at the guest's floor of 0: {', '.join(zeros)}" if zeros else ""
    print(f"ok\t{name}\tmedians of {len(meds)} operations, the least {least} at "
          f"{meds[least]:.3g} cycles{note}")
for line in table.splitlines():
    cheap, dear, engines, why = line.split(None, 3)
    if engine not in engines.split(","):
        continue
    name = f"{engine}: {dear} costs more than {cheap}"
    if cheap not in vals or dear not in vals:
        print(f"bad\t{name}\t{cheap if cheap not in vals else dear} was not measured")
        continue
    a, b = statistics.median(vals[cheap]), statistics.median(vals[dear])
    print(f"{'ok' if b > a else 'bad'}\t{name}\tmedian {b:.4g} against {a:.4g} cycles ({why})")
PY
)
}
