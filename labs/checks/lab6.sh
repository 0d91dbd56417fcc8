#!/usr/bin/env bash
# Lab 6, a virtio ring: the device side of a split virtqueue (hv_vq_pop, hv_vq_push in
# vmm/devices/virtq.c), every ring field checked before use. The badring workload builds
# malformed rings on purpose: the device must refuse each, saying why, and the VMM stops
# the guest (exit 3).
. "$(dirname "$0")/lib.sh"

io() { # NAME PATH
	bt "$1" 60 --workload io:count=48,qd=4,mix=50,reps=1,seed=7 --cmdline "io=$2"
	req=$(metric "$D" device_requests) err=$(metric "$D" errors)
	if [ "$RC" -eq 0 ] && [ "${req%.*}" = 48 ] && [ "${err%.*}" = 0 ] && grep -q "io: checksum .*PASS" "$OUT"; then
		ok "$1: 48 requests through the $2 path's ring, read back intact"
	else
		bad "$1" "exit $RC, device requests '$req', errors '$err': $(why)"
	fi
}

ring() { # CASE PATH REASON
	bt "ring-$1" 60 --workload "badring:$1" --cmdline "io=$2" --timeout 30
	if [ "$RC" -eq 3 ] && grep -q "malformed virtqueue, device marked broken: .*$3" "$OUT"; then
		ok "ring-$1: refused: $(grep -o 'broken: .*' "$OUT" | head -n1 | cut -c9-)"
	else
		bad "ring-$1" "exit $RC, want 3 and '$3': $(why)"
	fi
}

case $1 in
test-virtq) unit test_virtq ;;
virtio) io virtio virtio ;;
poll) io poll poll ;;
ring-loop) ring loop virtio "loops back" ;;
ring-head) ring head ioeventfd "beyond the queue size" ;;
ring-oob) ring oob poll "outside guest memory" ;;
ring-order) ring order poll "device-readable after a writable" ;;
ring-len) ring len virtio "has length 1073741824" ;;
ring-avail) ring avail virtio "entries ahead" ;;
*) unknown_check "$1" ;;
esac
