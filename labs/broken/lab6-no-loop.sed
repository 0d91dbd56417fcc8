# Lab 6, broken: the device does not remember which descriptors a chain has visited, so
# a chain that loops back is followed until it is too long.
# The check(s) it must fail, the others passing (tests/integration/labs.sh):
# loses: test-virtq ring-loop
s/if (seen\[idx \/ 64\] \& (1ull << (idx % 64)))/if (0)/
