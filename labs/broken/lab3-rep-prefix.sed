# Lab 3, broken: the rewrite keeps the operand-size and lock prefixes but drops f2/f3,
# so an instruction whose meaning they select (movss/movsd, popcnt, lzcnt with a memory
# operand) becomes another instruction.
# The check(s) it must fail, the others passing (tests/integration/labs.sh):
# loses: bt-diff
s/raw\[i\] == 0xf0 || raw\[i\] == 0xf2 || raw\[i\] == 0xf3)/raw[i] == 0xf0)/
