# Lab 1, broken: a rep ins/outs hands the device its first element only (the kernel
# prints 16 bytes per rep outsb).
# The check(s) it must fail, the others passing (tests/integration/labs.sh):
# loses: console
s/i < e->u\.io\.count \&\& /i < 1 \&\& /
