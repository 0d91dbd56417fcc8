/* Thread pinning through hwloc. The topology is loaded once per process and shared
 * (loading it walks sysfs and costs milliseconds). */
#include <errno.h>
#include <sched.h>
#include <hwloc.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/pin.h"

static hwloc_topology_t topo;
static int topo_rc;
static pthread_once_t topo_once = PTHREAD_ONCE_INIT;

static void topo_load(void)
{
	if (hwloc_topology_init(&topo)) {
		topo_rc = -1;
		return;
	}
	if (hwloc_topology_load(topo)) {
		hwloc_topology_destroy(topo);
		topo_rc = -1;
	}
}

static hwloc_topology_t topology(void)
{
	pthread_once(&topo_once, topo_load);
	return topo_rc ? NULL : topo;
}

int hv_pin_ncpus(void)
{
	/* The affinity mask, not the hwloc topology: it is what threads may run on, and
	 * it costs no topology load (milliseconds) on a VMM's start-up path. */
	cpu_set_t set;
	long n;

	if (!sched_getaffinity(0, sizeof(set), &set) && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* Parses a CPU number at *p; -1 if there is none, -2 if it is absurdly large. */
static long parse_cpu(const char **p)
{
	char *end;
	long v;

	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtol(*p, &end, 10);
	*p = end;
	if (errno || v > INT_MAX)
		return -2;
	return v;
}

/* Fills set from a list like "0", "0-1", "0,2-3"; no CPU may exceed last. */
static int parse_cpulist(const char *list, hwloc_bitmap_t set, int last)
{
	const char *p = list;

	if (!*p)
		return hv_err_set("CPU list is empty: give CPUs like \"0\", \"0-1\" or \"0,2\"");
	for (;;) {
		const char *item = p;
		long lo = parse_cpu(&p), hi = lo;

		if (lo >= 0 && *p == '-') {
			p++;
			hi = parse_cpu(&p);
		}
		if (lo == -2 || hi == -2)
			return hv_err_set("CPU list \"%s\": a CPU number at \"%s\" is beyond this "
					  "machine, whose highest CPU number is %d", list, item, last);
		if (lo < 0 || hi < 0 || (*p && *p != ','))
			return hv_err_set("CPU list \"%s\" is malformed at \"%s\": use numbers and "
					  "ranges separated by commas, e.g. \"0,2-3\"", list, item);
		if (hi < lo)
			return hv_err_set("CPU list \"%s\": range %ld-%ld runs backwards", list,
					  lo, hi);
		if (hi > last)
			return hv_err_set("CPU list \"%s\": CPU %ld is beyond this machine, whose "
					  "highest CPU number is %d", list, hi, last);
		hwloc_bitmap_set_range(set, (unsigned)lo, (int)hi);
		if (!*p)
			return 0;
		p++;
	}
}

int hv_pin_thread(const char *cpulist)
{
	hwloc_topology_t t = topology();
	hwloc_bitmap_t set, missing;
	hwloc_const_bitmap_t have;
	int rc = 0;

	if (!cpulist)
		return hv_err_set("pin: no CPU list given");
	if (!t)
		return hv_err_set("pin %s: hwloc could not load the machine topology", cpulist);
	set = hwloc_bitmap_alloc();
	missing = hwloc_bitmap_alloc();
	if (!set || !missing) {
		rc = hv_err_set("pin %s: out of memory", cpulist);
		goto out;
	}
	if (parse_cpulist(cpulist, set,
			  hwloc_bitmap_last(hwloc_topology_get_complete_cpuset(t)))) {
		rc = -1;
		goto out;
	}
	/* The CPUs this process may run on (cgroups and affinity already applied). */
	have = hwloc_topology_get_allowed_cpuset(t);
	hwloc_bitmap_andnot(missing, set, have);
	if (!hwloc_bitmap_iszero(missing)) {
		char *ms = NULL, *hs = NULL;

		hwloc_bitmap_list_asprintf(&ms, missing);
		hwloc_bitmap_list_asprintf(&hs, have);
		rc = hv_err_set("pin %s: CPU %s not available on this machine (usable CPUs: %s); "
				"choose CPUs from that list", cpulist, ms ? ms : "?",
				hs ? hs : "?");
		free(ms);
		free(hs);
		goto out;
	}
	if (hwloc_set_cpubind(t, set, HWLOC_CPUBIND_THREAD))
		rc = hv_err_errno("pin %s: hwloc_set_cpubind refused", cpulist);
out:
	hwloc_bitmap_free(set);
	hwloc_bitmap_free(missing);
	return rc;
}
