#!/usr/bin/env bash
# The host's memory-virtualization mode, and on a bare-metal host the switch between
# nested paging (EPT/NPT) and KVM's shadow paging for the shadow-vs-ept experiment.
#
#   paging-mode.sh [report] [--json]      what this host's KVM does (any user, any host)
#   paging-mode.sh check                  exit 0 when `run` could switch here, else say why
#   paging-mode.sh run --yes-reload-kvm [--settings 1,0] [--dry-run] -- COMMAND [ARGS...]
#       as root on a bare-metal host with kvm_intel or kvm_amd: for each setting, reload
#       the module with ept=S (npt=S), run COMMAND (every "{paging}" in its arguments
#       becomes ept|npt|shadow-kvm, also exported as HVLAB_PAGING), and restore the
#       original setting at the end, also when interrupted.
#
# It refuses to switch anywhere else, saying why: no kvm_intel/kvm_amd (kvm_pvm runs
# shadow paging only; no KVM at all), a host that is itself a VM (its "EPT" is the outer
# hypervisor's emulation; --allow-vm for the nested test bed, where that is the point),
# not root, no confirmation flag, or the module in use by running VMs.
#
# For tests: HVLAB_SYSFS (default /sys), HVLAB_CPUINFO (/proc/cpuinfo), HVLAB_DEV_KVM
# (/dev/kvm) and HVLAB_UID (id -u) describe another host; with any of them set, `run`
# never reloads a module (it prints the modprobe commands instead) but runs COMMAND.
# --dry-run prints both instead of running them.
set -uo pipefail

SYSFS=${HVLAB_SYSFS:-/sys}
CPUINFO=${HVLAB_CPUINFO:-/proc/cpuinfo}
DEV_KVM=${HVLAB_DEV_KVM:-/dev/kvm}
UID_NOW=${HVLAB_UID:-$(id -u)}
FAKE_HOST=
[ -n "${HVLAB_SYSFS:-}${HVLAB_CPUINFO:-}${HVLAB_DEV_KVM:-}${HVLAB_UID:-}" ] && FAKE_HOST=1

die() { echo "paging-mode: $*" >&2; exit 2; }
refuse() { echo "paging-mode: refused: $*" >&2; exit 3; }

# ---- what the host is ----

module_loaded() { [ -d "$SYSFS/module/$1" ]; }
param() { # param MODULE NAME: the parameter's value (Y/N/1/0), empty when absent
	local f="$SYSFS/module/$1/parameters/$2"
	[ -r "$f" ] && head -c 16 "$f" | tr -d ' \n'
}
truthy() { case "$1" in Y|y|1) return 0 ;; *) return 1 ;; esac; }

# The CPUID hypervisor bit, as Linux reports it in the flags line.
host_is_vm() { grep -m1 '^flags' "$CPUINFO" 2>/dev/null | grep -qw hypervisor; }

detect() {
	FLAVOUR=none PARAM= PAGING=none MEMVIRT=none
	if module_loaded kvm_intel; then
		FLAVOUR=kvm_intel PARAM=ept
	elif module_loaded kvm_amd; then
		FLAVOUR=kvm_amd PARAM=npt
	elif module_loaded kvm_pvm; then
		FLAVOUR=kvm_pvm
	fi
	case $FLAVOUR in
	kvm_intel|kvm_amd)
		local v
		v=$(param "$FLAVOUR" "$PARAM")
		if [ -z "$v" ]; then
			PAGING=unknown MEMVIRT=unknown
		elif truthy "$v"; then
			PAGING=$PARAM MEMVIRT=$PARAM
		else
			PAGING=shadow MEMVIRT=shadow-kvm
		fi ;;
	kvm_pvm) PAGING=pvm MEMVIRT=shadow-pvm ;;
	esac
	if host_is_vm; then
		NESTED=yes
		# kvminfo.h's names: a KVM inside a VM gets its EPT/NPT from the outer hypervisor
		case $MEMVIRT in ept|npt|shadow-kvm) MEMVIRT=$MEMVIRT-nested ;; esac
	else
		NESTED=no
	fi
	if [ -e "$DEV_KVM" ]; then DEVKVM=present; else DEVKVM=absent; fi
}

# Why `run` may not switch here; empty when it may (before the root and flag checks).
why_not_switchable() {
	case $FLAVOUR in
	kvm_pvm) echo "KVM here is kvm_pvm (PVM), which always uses shadow paging: there is no ept/npt to switch"; return ;;
	none) echo "neither kvm_intel nor kvm_amd is loaded${DEVKVM:+ (/dev/kvm $DEVKVM)}: there is no KVM paging mode to switch"; return ;;
	esac
	if [ "$PAGING" = unknown ]; then
		echo "$SYSFS/module/$FLAVOUR/parameters/$PARAM is missing"; return
	fi
	if [ "$NESTED" = yes ] && [ -z "$ALLOW_VM" ]; then
		echo "this host is itself a VM (CPUID hypervisor bit): its $PARAM is the outer hypervisor's emulation, not the hardware's; give --allow-vm only in the nested test bed, where that is what is measured"
		return
	fi
}

report() {
	local why
	why=$(why_not_switchable)
	if [ -n "$JSON" ]; then
		printf '{"paging": "%s", "memvirt": "%s", "kvm": "%s", "dev_kvm": "%s", "nested": %s, "switchable": %s, "why_not": "%s"}\n' \
			"$PAGING" "$MEMVIRT" "$FLAVOUR" "$DEVKVM" \
			"$([ "$NESTED" = yes ] && echo true || echo false)" \
			"$([ -z "$why" ] && echo true || echo false)" "${why//\"/\\\"}"
		return
	fi
	echo "paging: $PAGING"
	echo "memvirt: $MEMVIRT"
	echo "kvm: $FLAVOUR"
	echo "dev_kvm: $DEVKVM"
	echo "nested: $NESTED$([ "$NESTED" = yes ] && echo ' (the CPUID hypervisor bit is set: this host is a VM)')"
	if [ -z "$why" ]; then
		echo "switchable: yes ($FLAVOUR $PARAM=0|1, as root with --yes-reload-kvm)"
	else
		echo "switchable: no: $why"
	fi
}

# ---- the switch ----

ORIGINAL=
DRY=
FAKE_RELOAD=
reload() { # reload SETTING: the module again with PARAM=SETTING, checked
	local cmd="modprobe -r $FLAVOUR && modprobe $FLAVOUR $PARAM=$1"
	if [ -n "$DRY$FAKE_RELOAD" ]; then
		echo "paging-mode: would run: $cmd"
		return 0
	fi
	modprobe -r "$FLAVOUR" || { echo "paging-mode: modprobe -r $FLAVOUR failed (VMs running?)" >&2; return 1; }
	modprobe "$FLAVOUR" "$PARAM=$1" || { echo "paging-mode: modprobe $FLAVOUR $PARAM=$1 failed" >&2; return 1; }
	local now
	now=$(param "$FLAVOUR" "$PARAM")
	if { truthy "$now" && [ "$1" = 0 ]; } || { ! truthy "$now" && [ "$1" = 1 ]; }; then
		echo "paging-mode: $FLAVOUR reloaded but $PARAM reads '$now', not $1 (the CPU may lack it)" >&2
		return 1
	fi
}

restore() {
	[ -z "$ORIGINAL" ] && return
	local s=0
	truthy "$ORIGINAL" && s=1
	echo "paging-mode: restoring $FLAVOUR $PARAM=$s" >&2
	reload "$s" || echo "paging-mode: could not restore $PARAM=$s: run 'modprobe -r $FLAVOUR; modprobe $FLAVOUR $PARAM=$s' as root" >&2
	ORIGINAL=
}

run_settings() {
	local why
	why=$(why_not_switchable)
	[ -n "$why" ] && refuse "$why"
	[ "$UID_NOW" = 0 ] || refuse "reloading $FLAVOUR needs root (uid $UID_NOW)"
	[ -n "$CONFIRMED" ] || refuse "reloading $FLAVOUR stops every VM on this host: give --yes-reload-kvm to confirm"
	[ $# -gt 0 ] || die "run: give the command after --"
	local refs
	refs=$(cat "$SYSFS/module/$FLAVOUR/refcnt" 2>/dev/null || echo 0)
	[ "${refs:-0}" -eq 0 ] || refuse "$FLAVOUR is in use ($refs references: VMs running); stop them first"
	[ -n "$FAKE_HOST" ] && FAKE_RELOAD=1

	ORIGINAL=$(param "$FLAVOUR" "$PARAM")
	trap 'restore' EXIT
	trap 'restore; exit 130' INT
	trap 'restore; exit 143' TERM
	local s status=0
	for s in ${SETTINGS//,/ }; do
		case $s in 0|1) ;; *) die "--settings $SETTINGS: give 0 and/or 1, comma-separated" ;; esac
		local mode=shadow-kvm
		[ "$s" = 1 ] && mode=$PARAM
		reload "$s" || exit 1
		echo "paging-mode: $FLAVOUR $PARAM=$s ($mode)" >&2
		local args=() a
		for a in "$@"; do args+=("${a//\{paging\}/$mode}"); done
		if [ -n "$DRY" ]; then
			echo "paging-mode: would run: HVLAB_PAGING=$mode ${args[*]}"
		else
			HVLAB_PAGING=$mode "${args[@]}" || status=1
		fi
	done
	restore
	return $status
}

# ---- command line ----

CMD=report JSON= CONFIRMED= ALLOW_VM= SETTINGS=1,0
if [ $# -gt 0 ] && [[ $1 != -* ]]; then CMD=$1; shift; fi
while [ $# -gt 0 ]; do
	case $1 in
	--json) JSON=1 ;;
	--yes-reload-kvm) CONFIRMED=1 ;;
	--allow-vm) ALLOW_VM=1 ;;
	--dry-run) DRY=1 ;;
	--settings) [ $# -ge 2 ] || die "--settings needs a value"; SETTINGS=$2; shift ;;
	--settings=*) SETTINGS=${1#--settings=} ;;
	-h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; break ;;
	*) die "unknown option '$1' (paging-mode.sh --help)" ;;
	esac
	shift
done

detect
case $CMD in
report) report ;;
check)
	why=$(why_not_switchable)
	if [ -n "$why" ]; then echo "paging-mode: cannot switch here: $why"; exit 3; fi
	echo "paging-mode: $FLAVOUR $PARAM can be switched here (as root, with --yes-reload-kvm)" ;;
run) run_settings "$@"; exit $? ;;
*) die "unknown command '$CMD' (report, check, run; paging-mode.sh --help)" ;;
esac
