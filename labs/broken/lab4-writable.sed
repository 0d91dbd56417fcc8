# Lab 4, broken: a leaf may map a page table writable, so a process could write its own
# page tables behind the VMM.
# The check(s) it must fail, the others passing (tests/integration/labs.sh):
# loses: wildpv
s/(val \& E_W) \&\& pv->owner\[nf\])/(val \& E_W) \&\& !pv->owner)/
