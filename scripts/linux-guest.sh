#!/usr/bin/env bash
# The Linux guest's files: Debian's kernel (cached by scripts/debian-kernel.sh) and an
# initramfs built here from busybox-static and linuxbench (hv-minimal/guest/linux).
#
#   scripts/linux-guest.sh [--build DIR]     prints the two paths, one per line
#
# Writes <build>/linux/vmlinuz (a link to the cached kernel) and
# <build>/linux/initramfs.cpio. The initramfs's /init mounts proc, sys and dev, reads
# hvlab.workload=NAME and hvlab.args=ARGS from the kernel command line, runs
# /bin/NAME ARGS with exit=1 (so the program's exit status reaches hvlab's exit port,
# which ends the run under hvm and QEMU alike) and powers off if that did not.
# Exit status: 0, or 1 with the reason (apt-get missing or failing, no build).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
die() { echo "linux-guest: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILD=${2:?--build needs a directory}; shift ;;
	-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1' (see scripts/linux-guest.sh --help)" ;;
	esac
	shift
done
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LB=$BUILD/guest/linux/linuxbench
[ -x "$LB" ] || die "$LB is missing (build it: make)"
. "$ROOT/scripts/debian-kernel.sh"
debian_kernel "$BUILD/debian"

OUT=$BUILD/linux
mkdir -p "$OUT" || die "cannot create $OUT"
ln -sf "$VMLINUZ" "$OUT/vmlinuz"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hvlab-linux.XXXXXX") || die "cannot make a temporary folder"
trap 'rm -rf "$WORK"' EXIT
R=$WORK/root
mkdir -p "$R"/{bin,proc,sys,dev,tmp} || die "cannot build the initramfs in $WORK"
cp "$BUSYBOX" "$R/bin/busybox" && cp "$LB" "$R/bin/linuxbench" || die "cannot copy into $WORK"
cat >"$R/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
wl=linuxbench args=
for w in $(cat /proc/cmdline); do
	case $w in
	hvlab.workload=*) wl=${w#hvlab.workload=} ;;
	hvlab.args=*) args=${w#hvlab.args=} ;;
	esac
done
if [ -x "/bin/$wl" ] && [ "$wl" != busybox ]; then
	"/bin/$wl" "${args:+$args,}exit=1"
	echo "init: $wl exited with status $? without reaching the exit port"
else
	echo "init: no workload program '$wl' in this initramfs (it holds linuxbench)"
fi
poweroff -f
INIT
chmod +x "$R/init"
(cd "$R" && find . | "$R/bin/busybox" cpio -o -H newc >"$OUT/initramfs.cpio.tmp" 2>/dev/null) &&
	mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio" || die "cannot pack the initramfs"
echo "$OUT/vmlinuz"
echo "$OUT/initramfs.cpio"
