# Run inside the nested test bed (real kvm_amd under QEMU's TCG):
#   scripts/nested.sh --npt=1 --out DIR --script experiments/pv-vs-xen/nested.sh
#   python3 experiments/pv-vs-xen/nested_table.py DIR
# forkwait, ptchurn and ctxswitch under hw with the full and the pv guest, and the
# hostile pv calls; one run directory each in /out/pvFLAVOUR-WORKLOAD. Counts, not
# times: every instruction of the outer machine is emulated. (busybox sh: no arrays.)
for fl in off on; do
	for w in forkwait:n=20,reps=2 ptchurn:iters=8,pages=8,reps=2 ctxswitch:n=50,reps=2; do
		name=${w%%:*}
		hvm run --engine hw --workload "$w" --cmdline "pv=$fl" --timeout 300 \
			--out "/out/pv$fl-$name" >"/out/pv$fl-$name.log" 2>&1
		echo "nested-run pv=$fl $name rc=$?"
	done
done
hvm run --engine hw --workload wildpv --cmdline pv=on --timeout 120 --out /out/wildpv \
	>/out/wildpv.log 2>&1
echo "nested-run wildpv rc=$?"
