#!/usr/bin/env bash
# A Linux guest's inputs, refused before any VM exists: hvm tells a bzImage from its own
# ELF image by the header, checks the setup header and the initrd field by field, and
# names the file and the field at fault (exit status 2). The images are made here from
# the boot protocol's layout, so the checks need no kernel download.
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

plan 9
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
