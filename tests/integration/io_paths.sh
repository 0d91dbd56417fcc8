#!/usr/bin/env bash
# The block device's five I/O paths (hv-minimal/include/hvlab/blk_abi.h) under every
# engine present: data written is read back intact and the same checksum comes out of
# every path and engine; each malformed ring is refused with its reason and the VM
# stopped (exit 3); a host file that fails writes gives the guest I/O errors; the split
# driver process killed mid-run stops the VM cleanly (exit 4) with a report.
# san: yes
. "$(dirname "$0")/lib.sh"

PATHS="emul virtio ioeventfd poll split"
ENGINES="bt hw"
# badring case, path it runs on under bt; hw repeats the first two
RINGS="loop:virtio oob:poll len:split head:ioeventfd avail:virtio indirect:split order:poll"
HW_RINGS="loop:virtio oob:split"
IOERR_CASES="emul:bt virtio:bt split:hw"
KILL_ENGINES="bt hw"
n_words() { echo $#; }
plan $(( $(n_words $PATHS) * $(n_words $ENGINES) + 1 + $(n_words $RINGS) + $(n_words $HW_RINGS) \
	+ $(n_words $IOERR_CASES) + $(n_words $KILL_ENGINES) + 1 ))

IOARGS="io:count=48,qd=4,mix=50,reps=1,seed=7"
sums=

# 1. Integrity: every path under every engine.
for e in $ENGINES; do
	why=$(engine_unavailable "$e")
	for p in $PATHS; do
		if [ -n "$why" ]; then skip "io=$p under $e: read-back" "$why"; continue; fi
		run_hvm "int-$e-$p" 90 run --engine "$e" --workload "$IOARGS" --cmdline "io=$p" \
			--out "$TMPDIR_IT/int-$e-$p"
		if [ "$RC" -eq 77 ]; then
			skip "io=$p under $e: read-back" "hvm skipped: $(grep -m1 -i skip "$OUT")"
			continue
		fi
		sum=$(sed -n 's/^io: checksum \(0x[0-9a-f]*\), 0 errors: PASS/\1/p' "$OUT")
		if [ "$RC" -eq 0 ] && [ -n "$sum" ] && grep -q "io: path $p," "$OUT"; then
			ok "io=$p under $e: 48 requests (qd 4, half writes) read back intact, checksum $sum"
			sums="$sums $sum"
		else
			bad "io=$p under $e: read-back" "exit $RC: $(grep -E 'FAIL|error|stopped' "$OUT" | head -n 2 | tr '\n' ' ')"
		fi
	done
done
nsums=$(printf '%s\n' $sums | sort -u | grep -c .)
if [ "$nsums" -eq 1 ]; then
	ok "every path and engine that ran gave the same checksum ($(echo $sums | cut -d' ' -f1), $(n_words $sums) runs)"
elif [ "$nsums" -eq 0 ]; then
	skip "checksums agree" "no path ran"
else
	bad "checksums agree" "$(printf '%s\n' $sums | sort | uniq -c | tr '\n' ' ')"
fi

# 2. Malformed rings: the device refuses to follow, says why, the VM stops (exit 3).
declare -A RING_WHY=(
	[loop]="loops back" [oob]="outside guest memory" [len]="has length 1073741824"
	[head]="beyond the queue size" [avail]="entries ahead" [indirect]="indirect"
	[order]="device-readable after a writable"
)
ring_case() { # engine case:path
	local e=$1 c=${2%%:*} p=${2##*:} why
	why=$(engine_unavailable "$e")
	if [ -n "$why" ]; then skip "badring $c on $p under $e" "$why"; return; fi
	run_hvm "ring-$e-$c" 60 run --engine "$e" --workload "badring:$c" --cmdline "io=$p" \
		--timeout 30 --out "$TMPDIR_IT/ring-$e-$c"
	if [ "$RC" -eq 3 ] && grep -q "malformed virtqueue, device marked broken: .*${RING_WHY[$c]}" "$OUT"; then
		ok "badring $c on $p under $e: refused and reported ($(grep -o 'broken: .*' "$OUT" | head -n1 | cut -c9-70)...)"
	else
		bad "badring $c on $p under $e" "exit $RC, want 3 and '${RING_WHY[$c]}': $(grep -E 'badring|error' "$OUT" | head -n 2 | tr '\n' ' ')"
	fi
}
for r in $RINGS; do ring_case bt "$r"; done
for r in $HW_RINGS; do ring_case hw "$r"; done

# 3. The host file fails every write (/dev/full): each write is an I/O error in the guest.
for c in $IOERR_CASES; do
	p=${c%%:*} e=${c##*:}
	why=$(engine_unavailable "$e")
	[ -w /dev/full ] || why="/dev/full is not writable here"
	if [ -n "$why" ]; then skip "write errors on $p under $e" "$why"; continue; fi
	run_hvm "ioerr-$e-$p" 60 run --engine "$e" --workload io:ioerr=1,count=16 --disk /dev/full \
		--disk-size 16M --cmdline "io=$p" --out "$TMPDIR_IT/ioerr-$e-$p"
	if [ "$RC" -eq 0 ] && grep -q "16 of 16 writes came back as I/O errors, 0 other errors: PASS" "$OUT"; then
		ok "write errors on $p under $e: the host file's ENOSPC reached the guest as 16 I/O errors"
	else
		bad "write errors on $p under $e" "exit $RC: $(grep -E '^io:|error' "$OUT" | head -n 2 | tr '\n' ' ')"
	fi
done

# 4. The split driver process killed mid-run: reported, the VM stopped, hvm exits 4.
for e in $KILL_ENGINES; do
	why=$(engine_unavailable "$e")
	if [ -n "$why" ]; then skip "split driver killed under $e" "$why"; continue; fi
	OUT=$TMPDIR_IT/kill-$e.out
	# no timeout(1) in between: the driver process is hvm's own child
	"$HVM" run --engine "$e" --workload io:count=1000000,slots=256,reps=1 --timeout 30 \
		--cmdline io=split --out "$TMPDIR_IT/kill-$e" >"$OUT" 2>&1 &
	hvm_pid=$!
	child=
	for _ in $(seq 1 200); do
		child=$(pgrep -P "$hvm_pid" 2>/dev/null | head -n1)
		[ -n "$child" ] && grep -q "^io: path split" "$OUT" && break
		child=
		sleep 0.1
	done
	[ -n "$child" ] && kill -9 "$child"
	wait "$hvm_pid"
	RC=$?
	if [ -n "$child" ] && [ "$RC" -eq 4 ] && grep -q "driver process $child was killed by signal 9; the VM is stopped" "$OUT"; then
		ok "split driver killed under $e: reported, the VM stopped, exit 4"
	else
		bad "split driver killed under $e" "child '${child}', exit $RC: $(grep -E 'error|stopp' "$OUT" | head -n 2 | tr '\n' ' ')"
	fi
done

# 5. O_DIRECT: the disk opened without the host page cache, where the file system allows.
f=$HVLAB_BUILD/io-paths-direct.img
why=$(engine_unavailable bt)
if [ -z "$why" ] && ! python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT|os.O_DIRECT); os.close(fd)' "$f" 2>/dev/null; then
	why="the file system under $HVLAB_BUILD refuses O_DIRECT"
fi
if [ -n "$why" ]; then
	skip "O_DIRECT disk" "$why"
else
	run_hvm direct 60 run --engine bt --workload "$IOARGS" --cmdline io=virtio --disk "$f" \
		--disk-size 8M --disk-direct --out "$TMPDIR_IT/direct"
	if [ "$RC" -eq 0 ] && grep -q "0 errors: PASS" "$OUT" && grep -q '"disk_direct": *"on"' "$TMPDIR_IT/direct/summary.json"; then
		ok "O_DIRECT disk: read back intact, recorded as disk_direct on"
	else
		bad "O_DIRECT disk" "exit $RC: $(grep -E 'FAIL|error' "$OUT" | head -n 2 | tr '\n' ' ')"
	fi
fi
rm -f "$f"
