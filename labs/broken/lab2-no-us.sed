# Lab 2, broken: the shadow fill walks the guest's tables with supervisor rights
# whatever the CPL, so a user program's window maps kernel pages (the U/S bit ignored).
# The check(s) it must fail, the others passing (tests/integration/labs.sh):
# loses: usertouch
# may also lose: bt-events (its U/S case catches this with the per-CPL windows of a host
# with user-mode FSGSBASE; under the shared GS layout, as on a host without it, it passed)
s/bt_walk(v, va, cpl_access(v, write ? BT_ACC_WRITE : 0), &w)/bt_walk(v, va, write ? BT_ACC_WRITE : 0, \&w)/
