# Lab 5, broken: a kick is checked against the VMM's vCPU limit, not this VM's vCPUs, so
# a kick to a vCPU that does not exist is accepted.
# The check(s) it must fail, the others passing (tests/integration/labs.sh):
# loses: wildspin
s/target >= vcpu->vm->nr_vcpus/target >= HV_MAX_VCPUS/
