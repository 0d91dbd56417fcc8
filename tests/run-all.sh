#!/usr/bin/env bash
# Runs every hvlab test suite and ends with one line "N passed, N failed, N skipped"
# summing them all: the cmocka unit suites (gcc build and ASan+UBSan build), the
# integration suites (real guests on real engines; each declares its checks with a plan
# line and is failed when it prints fewer or exits non-zero: tests/runner-lib.sh), and
# the -Werror builds themselves.
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# count, run_cmocka, run_suite (plan lines and exit statuses) and summary.
. tests/runner-lib.sh

# A build is a test: it must be warning-free under -Werror.
build() { # build NAME make-args...
	local name=$1; shift
	echo "=== build: $name"
	if make -j"$JOBS" "$@" all >"$tmp/build-$name.log" 2>&1; then
		echo "ok - build $name"
		count pass "build $name"
		return 0
	fi
	tail -n 40 "$tmp/build-$name.log"
	echo "not ok - build $name"
	count fail "build $name"
	return 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The host kind (PLATFORM.md's table): what a skip below is about.
host_kind() {
	if [ -x build/bin/hvm ]; then
		build/bin/hvm host 2>&1 | sed 's/^/# /'
	else
		echo "# host: unknown (hvm was not built)"
	fi
	[ -n "${HVLAB_BT_GS:-}" ] && echo "# HVLAB_BT_GS=$HVLAB_BT_GS forces the translator's GS write"
}

# 1. The default (gcc) build and its suites.
if build gcc; then
	host_kind
	for t in build/tests/test_*; do
		[ -x "$t" ] || continue
		echo "=== unit: $t"
		run_cmocka "$t" "$t"
	done
	for s in tests/integration/*.sh; do
		[ "$s" != tests/integration/lib.sh ] && run_suite "$s" HVLAB_BUILD=build
	done
	# The translator's GS modes (engines/bt/README.md): the run above took auto, which
	# is wrgsbase where the host offers user-mode FSGSBASE, else shared; the other
	# modes the host can run go through the bt suites again.
	if [ -z "${HVLAB_BT_GS:-}" ]; then
		others="arch_prctl shared"
		if ! build/bin/hvm host | grep -q 'user-mode FSGSBASE yes'; then
			others="arch_prctl"
			echo "skip - bt with GS by wrgsbase: this host offers no user-mode FSGSBASE (shared ran above)"
			count skip "bt wrgsbase"
		fi
		for g in $others; do
			export HVLAB_BT_GS=$g
			for t in build/tests/test_bt_*; do
				echo "=== unit (bt, GS $g): $t"
				run_cmocka "$t ($g)" "$t"
			done
			run_suite tests/integration/bt_engine.sh HVLAB_BUILD=build
		done
		unset HVLAB_BT_GS
	fi
fi

# 2. clang must build the same code warning-free.
if command -v clang >/dev/null; then
	build clang CC=clang BUILD=build/clang
else
	echo "skip - build clang: clang not installed (scripts/setup-deps.sh installs it)"
	count skip "build clang"
fi

# 3. ASan + UBSan build of the host code: unit suites, and the integration suites that
#    drive the VMM through hostile guests.
if build san SAN=1 BUILD=build/san; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	for t in build/san/tests/test_*; do
		[ -x "$t" ] || continue
		echo "=== unit (asan+ubsan): $t"
		run_cmocka "$t (san)" "$t"
	done
	for s in tests/integration/*.sh; do
		[ -f "$s" ] && grep -q '^# san: yes' "$s" && run_suite "$s" HVLAB_BUILD=build/san
	done
fi

echo
host_kind
summary
