#!/usr/bin/env bash
# The nested test bed: real KVM (kvm_amd, AMD-V with nested paging on or off) inside
# QEMU's TCG, on any host. QEMU emulates AMD-V and NPT; Debian's own kernel boots there,
# loads kvm_amd with the npt asked for, and runs hvm, which then drives a real
# kvm_amd/kvm. The figures are counts and checksums, not times: every instruction of
# the outer machine is emulated.
#
#   scripts/nested.sh [--npt=1|0] [options] -- hvm run --engine hw --workload ptchurn
#   scripts/nested.sh --npt=0 --script FILE      # a shell script run inside instead
#
# Options:
#   --npt=1|0        kvm_amd's nested paging (default 1)
#   --out DIR        where the machine's /out comes back (default
#                    results/runs/nested-npt<N>-<UTC time>); commands run with /out as
#                    their working directory, so hvm's run directories land there
#   --cpu MODEL      QEMU's CPU model (default max: AMD-V with NPT, fsgsbase)
#   --smp N          CPUs of the outer machine (default 2)
#   --mem SIZE       its memory (default 4G)
#   --timeout S      whole boot, in seconds (default 600)
#   --build DIR      the build to take hvm and the guest from (default $BUILD or build)
#   --env NAME=VALUE an environment variable for the command (repeatable)
#   --file PATH      a host file the command needs, copied in at the same absolute path
#                    (repeatable; e.g. a Linux guest's bzImage and initrd for hvm)
#
# What it needs is fetched from Debian's archive with apt-get download and unpacked
# without installing, into <build>/debian (scripts/debian-kernel.sh, shared with
# scripts/linux-guest.sh): the kernel (linux-image-amd64) and
# busybox-static. Exit status: the command's own, or 125 when the test bed itself
# failed (QEMU missing, no kernel, boot or transfer failure), with the reason.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
# One TCG thread for all CPUs by default: with one thread per CPU (multi), the outer
# kernel was seen to hang in a soft lockup under load here.
TCG_THREAD=${NESTED_TCG_THREAD:-single}
NPT=1 OUT="" CPU=max SMP=2 MEM=4G TIMEOUT=600 SCRIPT="" ENVS=() FILES=()
QEMU=${QEMU:-qemu-system-x86_64}

die() { echo "nested: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	--npt=0|--npt=1) NPT=${1#--npt=} ;;
	--npt=*) die "--npt takes 1 or 0, not '${1#--npt=}'" ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--out=*) OUT=${1#--out=} ;;
	--cpu) CPU=${2:?--cpu needs a QEMU CPU model}; shift ;;
	--smp) SMP=${2:?--smp needs a number}; shift ;;
	--mem) MEM=${2:?--mem needs a size}; shift ;;
	--timeout) TIMEOUT=${2:?--timeout needs seconds}; shift ;;
	--build) BUILD=${2:?--build needs a directory}; shift ;;
	--script) SCRIPT=${2:?--script needs a file}; shift ;;
	--env) [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env takes NAME=VALUE, not '${2:-}'"
		ENVS+=("$2"); shift ;;
	--file) [ -f "${2:-}" ] || die "--file '${2:-}': not a regular file"
		FILES+=("$(realpath "$2")"); shift ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) die "unknown option '$1' (see scripts/nested.sh --help)" ;;
	esac
	shift
done
[ -n "$SCRIPT" ] || [ $# -gt 0 ] || die "nothing to run: give -- COMMAND... or --script FILE"
[ -z "$SCRIPT" ] || [ -r "$SCRIPT" ] || die "--script $SCRIPT: not a readable file"
[[ $SMP =~ ^[1-9][0-9]?$ ]] || die "--smp '$SMP': a number of CPUs, 1-99"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout '$TIMEOUT': whole seconds"
command -v "$QEMU" >/dev/null || die "$QEMU is not installed (Debian package qemu-system-x86)"
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
[ -x "$BUILD/bin/hvm" ] && [ -f "$BUILD/guest/kernel.elf" ] ||
	die "$BUILD/bin/hvm or $BUILD/guest/kernel.elf is missing (build it: make)"
[ -n "$OUT" ] || OUT=$ROOT/results/runs/nested-npt$NPT-$(date -u +%Y%m%dT%H%M%SZ)
[ -e "$OUT" ] && [ -n "$(ls -A "$OUT" 2>/dev/null)" ] && die "--out $OUT exists and is not empty"

# ---- the kernel and busybox, from Debian's archive, cached -----------------------------
. "$ROOT/scripts/debian-kernel.sh"
debian_kernel "$BUILD/debian"
MODS=(virt/lib/irqbypass.ko drivers/crypto/ccp/ccp.ko arch/x86/kvm/kvm.ko arch/x86/kvm/kvm-amd.ko)
for m in "${MODS[@]}"; do [ -f "$MODDIR/$m" ] || die "$MODDIR/$m is missing from $KVER"; done

# ---- the initramfs: busybox, the modules, hvm with its libraries at the same paths -----
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hvlab-nested.XXXXXX") || die "cannot make a temporary folder"
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R"/{bin,proc,sys,dev,tmp,out,mod} || die "cannot build the initramfs in $WORK"
cp "$BUSYBOX" "$R/bin/busybox"
for m in "${MODS[@]}"; do cp "$MODDIR/$m" "$R/mod/"; done
copy_with_libs() { # copy_with_libs FILE: the file and every shared library it loads
	local f=$1 lib
	mkdir -p "$R$(dirname "$f")" && cp -L "$f" "$R$f"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }'); do
		[ -e "$R$lib" ] && continue
		mkdir -p "$R$(dirname "$lib")" && cp -L "$lib" "$R$lib"
	done
}
for b in "$BUILD"/bin/*; do copy_with_libs "$b"; done
mkdir -p "$R$BUILD/guest" && cp "$BUILD/guest/kernel.elf" "$R$BUILD/guest/"
# a Linux guest's program, for hvm's native rows of it
[ -x "$BUILD/guest/linux/linuxbench" ] &&
	mkdir -p "$R$BUILD/guest/linux" && cp "$BUILD/guest/linux/linuxbench" "$R$BUILD/guest/linux/"
for f in "${FILES[@]}"; do mkdir -p "$R$(dirname "$f")" && cp "$f" "$R$f" || die "cannot copy --file $f"; done
{
	for e in "${ENVS[@]}"; do printf 'export %q\n' "$e"; done
	if [ -n "$SCRIPT" ]; then cat "$SCRIPT"; else printf '%q ' "$@"; echo; fi
} >"$R/job.sh"
OUTER="qemu-system-x86_64 $("$QEMU" --version | awk 'NR == 1 { print $4 }') TCG ($TCG_THREAD-threaded), -cpu $CPU, -smp $SMP"
cat >"$R/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in irqbypass ccp kvm; do insmod /mod/\$m.ko || echo "nested: insmod \$m failed"; done
insmod /mod/kvm-amd.ko npt=$NPT || echo "nested: insmod kvm-amd npt=$NPT failed"
echo "nested: kvm_amd npt=\$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null || echo absent)"
export PATH=$BUILD/bin:/bin HVLAB_RESULTS_ROOT=/out HVLAB_NESTED_OUTER="$OUTER" HVLAB_NESTED_NPT="\$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)"
cd /out && sh /job.sh; echo "nested: exit \$?"
tar -c -f /tmp/out.tar -C /out . && echo "nested: out \$(sha256sum /tmp/out.tar | cut -d' ' -f1)"
{ echo HVLAB-OUT-BEGIN; base64 /tmp/out.tar; echo HVLAB-OUT-END; } >/dev/ttyS1
sync; poweroff -f
EOF
chmod +x "$R/init"
(cd "$R" && find . | "$BUSYBOX" cpio -o -H newc >"$WORK/initrd.cpio" 2>/dev/null) ||
	die "cannot pack the initramfs"

# ---- boot, then bring /out back -------------------------------------------------------
echo "nested: $OUTER, kernel $KVER, kvm_amd npt=$NPT; output in $OUT" >&2
start=$SECONDS
timeout "$TIMEOUT" "$QEMU" -accel "tcg,thread=$TCG_THREAD" -cpu "$CPU" -smp "$SMP" -m "$MEM" -nodefaults \
	-display none -no-reboot -kernel "$VMLINUZ" -initrd "$WORK/initrd.cpio" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
	-serial "file:$WORK/console.log" -serial "file:$WORK/out.b64" >"$WORK/qemu.log" 2>&1
qrc=$?
secs=$((SECONDS - start))
mkdir -p "$OUT" || die "cannot create $OUT"
cp "$WORK/console.log" "$OUT/nested-console.log"
[ -s "$WORK/qemu.log" ] && cp "$WORK/qemu.log" "$OUT/nested-qemu.log"
grep -v '^nested: out ' "$WORK/console.log" | grep -a '^nested: \|^hvlab\|^hvm' | tail -n 40 >&2
[ $qrc -eq 124 ] && die "the outer machine ran past --timeout $TIMEOUT s (console: $OUT/nested-console.log)"
rc=$(grep -a '^nested: exit ' "$WORK/console.log" | tail -n1 | awk '{ print $3 }' | tr -d '\r')
[ -n "$rc" ] || die "the command never finished (QEMU exit $qrc; console: $OUT/nested-console.log)"
sum=$(grep -a '^nested: out ' "$WORK/console.log" | tail -n1 | awk '{ print $3 }' | tr -d '\r')
sed -n '/^HVLAB-OUT-BEGIN/,/^HVLAB-OUT-END/p' "$WORK/out.b64" | sed '1d;$d' | tr -d '\r' |
	base64 -d >"$WORK/out.tar" 2>/dev/null
[ -n "$sum" ] && [ "$(sha256sum "$WORK/out.tar" | cut -d' ' -f1)" = "$sum" ] ||
	die "the run directories did not come back whole (checksum '$sum'; QEMU exit $qrc)"
tar -x -f "$WORK/out.tar" -C "$OUT" || die "cannot unpack the run directories into $OUT"
echo "nested: exit $rc after $secs s; results in $OUT" >&2
exit "$rc"
