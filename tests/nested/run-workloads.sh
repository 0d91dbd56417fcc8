# Run inside the nested test bed (scripts/nested.sh --script): each workload of
# $NESTED_WORKLOADS under each engine of $NESTED_ENGINES, one run directory each in
# /out/ENGINE-WORKLOAD, and one line "nested-run ENGINE WORKLOAD rc=N" per run.
# WORKLOAD may carry arguments (compute:size=64K), "@N" for N vCPUs (locks@2) and a
# "+pv" suffix for the paravirtual guest (pv=on), which runs as NAME-pv, or "+halt" for
# the pv-halt spinlock with a low spin threshold, which runs as NAME-halt.
for engine in ${NESTED_ENGINES:-hw bt}; do
	for spec in $NESTED_WORKLOADS; do
		pv=""   # busybox sh: no arrays; the words are split on purpose below
		suffix=""
		case $spec in
		*+pv) spec=${spec%+pv}; pv="--cmdline pv=on"; suffix=-pv ;;
		*+halt) spec=${spec%+halt}; pv="--cmdline spinlock=pv-halt --spin-threshold 64"; suffix=-halt ;;
		esac
		w=${spec%@*}; vc=1
		case $spec in *@*) vc=${spec##*@} ;; esac
		name=${w%%:*}$suffix
		hvm run --engine "$engine" --workload "$w" --vcpus "$vc" --timeout "${NESTED_TIMEOUT:-120}" \
			$pv --out "/out/$engine-$name" >"/out/$engine-$name.log" 2>&1
		echo "nested-run $engine $name rc=$?"
	done
done
