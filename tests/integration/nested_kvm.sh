#!/usr/bin/env bash
# The hw engine on real KVM on every host: kvm_amd with nested paging on and off inside
# QEMU's TCG (scripts/nested.sh), a slice of `make test-nested` (tests/nested/check.sh):
# one boot per npt mode, three workloads, about a minute each.
exec bash "$(dirname "$0")/../nested/check.sh" slice
