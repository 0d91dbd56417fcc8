/* CPU pinning through hwloc. */
#ifndef HVLAB_PIN_H
#define HVLAB_PIN_H

/* Binds the calling thread to the CPUs in list ("0", "0-1", "0,2"). Returns 0, or -1
 * with hv_err_msg() set (malformed list, CPU absent, hwloc refused). */
int hv_pin_thread(const char *cpulist);
/* Number of host CPUs this process may run on (its affinity mask; >= 1). */
int hv_pin_ncpus(void);

#endif
