# Run inside the nested test bed (scripts/nested.sh --script): each workload of
# $NESTED_WORKLOADS under each engine of $NESTED_ENGINES, one run directory each in
# /out/ENGINE-WORKLOAD, and one line "nested-run ENGINE WORKLOAD rc=N" per run.
# WORKLOAD may carry arguments (compute:size=64K) and "@N" for N vCPUs (locks@2).
for engine in ${NESTED_ENGINES:-hw bt}; do
	for spec in $NESTED_WORKLOADS; do
		w=${spec%@*}; vc=1
		case $spec in *@*) vc=${spec##*@} ;; esac
		name=${w%%:*}
		hvm run --engine "$engine" --workload "$w" --vcpus "$vc" --timeout "${NESTED_TIMEOUT:-120}" \
			--out "/out/$engine-$name" >"/out/$engine-$name.log" 2>&1
		echo "nested-run $engine $name rc=$?"
	done
done
