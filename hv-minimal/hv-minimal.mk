# (placeholder; filled in by the hv-minimal work)
LIBHVM :=
HVM_LDLIBS :=
