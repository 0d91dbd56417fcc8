# Run inside the nested test bed: tlbshoot under hw 50 times (2 vCPUs), one line
# "tlb50 fail N: ..." per failure and "tlb50: PASSED of 50" at the end.
n=0
for i in $(seq 1 50); do
	if hvm run --engine hw --workload tlbshoot:rounds=10 --vcpus 2 --timeout 60 --out /tmp/t >/tmp/t.log 2>&1; then
		n=$((n + 1))
	else
		echo "tlb50 fail $i: $(grep -aE 'panic|stopped|did not start' /tmp/t.log | head -n1)"
	fi
	rm -rf /tmp/t
done
echo "tlb50: $n of 50"
