# (placeholder; filled in by the microbench work)
