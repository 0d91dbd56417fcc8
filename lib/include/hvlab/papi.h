/* Hardware counters through PAPI where the host exposes them; the reason where not. */
#ifndef HVLAB_PAPI_H
#define HVLAB_PAPI_H
#include <stdint.h>

#define HV_PAPI_MAX 4

struct hv_papi {
	int available;
	int nevents;
	int eventset;
	char names[HV_PAPI_MAX][32];   /* e.g. "PAPI_TOT_CYC" */
	char why[256];                 /* when !available: no PMU, perf_event_paranoid, event missing */
};

/* Tries to open cycles, instructions, TLB data misses; never fails hard: on any problem
 * p->available = 0 and p->why says which. */
void hv_papi_open(struct hv_papi *p);
int hv_papi_start(struct hv_papi *p);
int hv_papi_stop(struct hv_papi *p, long long values[HV_PAPI_MAX]);
void hv_papi_close(struct hv_papi *p);

#endif
