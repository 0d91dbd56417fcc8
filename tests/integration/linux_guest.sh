#!/usr/bin/env bash
# A Linux guest. Its inputs are refused before any VM exists: hvm tells a bzImage from
# its own ELF image by the header, checks the setup header and the initrd field by
# field, and names the file and the field at fault (exit status 2); those images are
# made here from the boot protocol's layout. Then Debian's kernel with the project's
# initramfs (scripts/linux-guest.sh, fetched with apt-get download and cached, as the
# nested test bed's) boots under QEMU's TCG through hvpeer: linuxbench reports every
# operation, its checksums equal the same program's run on the host in the same run,
# and the boot's time to init is recorded.
# san: yes
. "$(dirname "$0")/lib.sh"
[ -x "$HVM" ] || skip_all "$HVM was not built"

# mkbz FILE [OFFSET=HEX-BYTES...]: a 64-bit bzImage header (protocol 2.15, relocatable,
# pref_address 16 MiB, init_size 32 MiB) over 4 KiB of kernel, with bytes patched in.
mkbz() {
	python3 - "$@" <<'PY'
import struct, sys
out, patches = sys.argv[1], sys.argv[2:]
b = bytearray(3 * 512 + 4096)
b[0x1f1] = 2
struct.pack_into('<I', b, 0x1f4, 4096 // 16)
struct.pack_into('<H', b, 0x1fe, 0xaa55)
b[0x200:0x202] = b'\xeb\x6a'
b[0x202:0x206] = b'HdrS'
struct.pack_into('<H', b, 0x206, 0x020f)
b[0x211] = 1
struct.pack_into('<I', b, 0x22c, 0x7fffffff)
struct.pack_into('<I', b, 0x230, 0x200000)
b[0x234] = 1
struct.pack_into('<H', b, 0x236, 1)
struct.pack_into('<I', b, 0x238, 2047)
struct.pack_into('<Q', b, 0x258, 0x1000000)
struct.pack_into('<I', b, 0x260, 0x2000000)
for p in patches:
    off, val = p.split('=')
    v = bytes.fromhex(val)
    b[int(off, 16):int(off, 16) + len(v)] = v
open(out, 'wb').write(b)
PY
}

# case NAME PATTERN hvm-args...: hvm refuses with status 2 and a message matching PATTERN
refused() {
	local name=$1 pat=$2; shift 2
	run_hvm "$name" 30 run --engine bt --workload linuxbench --out "$TMPDIR_IT/run-$name" "$@"
	if [ "$RC" -ne 2 ]; then
		bad "$name" "exit status $RC, not 2: $(tail -n 3 "$OUT" | tr '\n' ' ')"
	elif ! grep -Eq "$pat" "$OUT"; then
		bad "$name" "the message does not match '$pat': $(tail -n 2 "$OUT" | tr '\n' ' ')"
	else
		ok "$name"
	fi
}

plan 13
D=$TMPDIR_IT
mkbz "$D/good"
printf '070701%0104d' 0 >"$D/garbage.cpio"      # a newc magic, then a header of zeros
echo "hello" >"$D/text"
head -c 700 "$D/good" >"$D/short"

refused bz-boot-flag  "text.*no Linux bzImage"     --kernel "$D/text"
refused bz-short      "setup_sects|not a bzImage"          --kernel "$D/short"
mkbz "$D/no64" 236=0000
refused bz-no-64bit   "no64.*XLF_KERNEL_64"                --kernel "$D/no64"
mkbz "$D/oldproto" 206=0b02
refused bz-protocol   "oldproto.*2\.12"                    --kernel "$D/oldproto"
mkbz "$D/bigsize" 260=00000040
refused bz-init-size  "bigsize.*init_size.*--mem"          --kernel "$D/bigsize" --mem 64M
mkbz "$D/align" 230=00003000
refused bz-alignment  "align.*kernel_alignment"            --kernel "$D/align"
refused initrd-magic  "text.*c_magic"                      --kernel "$D/good" --initrd "$D/text"
refused initrd-header "garbage.cpio.*c_namesize|garbage.cpio.*not NUL" --kernel "$D/good" --initrd "$D/garbage.cpio"
refused initrd-on-elf "not a Linux bzImage"                --initrd "$D/garbage.cpio"

# ---- linuxbench natively, and Debian's kernel under QEMU's TCG ----
LB=$HVLAB_BUILD/guest/linux/linuxbench
QUICK=reps=1,mincycles=1000000
OPS="getppid forkwait forkexec pgfault mprotect ctxswitch compute memwalk"
if [ ! -x "$LB" ]; then
	skip_n 4 "linuxbench" "$LB was not built"
	exit 0
fi
if "$LB" "$QUICK" >"$D/native.log" 2>&1 &&
   "$HVLAB_BUILD/bin/hvpeer" parse --engine native --out "$D/native" "$D/native.log" >/dev/null 2>&1 &&
   [ "$(grep -c ',cycles_per_op,' "$D/native/samples.csv")" -eq 8 ]; then
	ok "linuxbench runs on the host and its lines parse into 8 operations' rows"
else
	bad "linuxbench native" "$(tail -n 2 "$D/native.log" | tr '\n' ' ')"
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
	skip_n 3 "linux under qemu-tcg" "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
	exit 0
fi
if ! files=$(BUILD=$HVLAB_BUILD scripts/linux-guest.sh 2>"$D/fetch.err"); then
	skip_n 3 "linux under qemu-tcg" "no kernel or initramfs: $(tail -n 1 "$D/fetch.err")"
	exit 0
fi
K=$(echo "$files" | sed -n 1p) I=$(echo "$files" | sed -n 2p)
timeout -k 5 300 "$HVLAB_BUILD/bin/hvpeer" run --engine qemu-tcg --kernel "$K" --initrd "$I" \
	--workload "linuxbench:$QUICK" --timeout 240 --out "$D/tcg" >"$D/tcg.out" 2>&1
rc=$?
S=$D/tcg/samples.csv
if [ "$rc" -ne 0 ]; then
	bad "linux boots under qemu-tcg" "hvpeer exit $rc: $(grep -v '^@hvr' "$D/tcg.out" | tail -n 3 | tr '\n' ' ')"
	skip_n 2 "linux under qemu-tcg" "the boot failed"
	exit 0
fi
missing=$(for op in $OPS; do
	grep -q "^linuxbench,$op,[^,]*,qemu-tcg,.*,cycles_per_op," "$S" || echo "$op"; done | tr '\n' ' ')
[ -z "$missing" ] && ok "linux boots under qemu-tcg and linuxbench reports every operation" ||
	bad "linux under qemu-tcg" "no rows for: $missing"
sums=$(python3 - "$S" <<'PY'
import csv, sys
v = {}
for r in csv.DictReader(open(sys.argv[1])):
    if r["metric"].endswith("_checksum"):
        v.setdefault(r["metric"], {})[r["engine"]] = r["value"]
print(" ".join("%s=%s" % (k, "same" if len(set(e.values())) == 1 and len(e) == 2 else e)
               for k, e in sorted(v.items())))
PY
)
[ "$sums" = "compute_checksum=same memwalk_checksum=same" ] &&
	ok "compute and memwalk checksums equal the native run's in the same run" ||
	bad "checksums against native" "$sums"
if grep -q '^boot,linuxbench,[^,]*,qemu-tcg,.*,boot_to_init,' "$S"; then
	ok "boot to init recorded ($(grep '^boot,' "$S" | cut -d, -f13) s)"
else
	bad "boot to init" "no boot/boot_to_init sample"
fi
