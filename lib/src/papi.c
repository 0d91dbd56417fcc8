/* PAPI counters: cycles, instructions, data-TLB misses, each where the host offers
 * it. When none can be counted, p->why records the evidence (the PAPI error, the
 * perf_event component's state, the kernel's answer to a direct perf_event_open and
 * perf_event_paranoid), so a result can state why the counters are absent. */
#include <errno.h>
#include <linux/perf_event.h>
#include <papi.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hvlab/err.h"
#include "hvlab/papi.h"

static const char *const wanted[] = { "PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_TLB_DM" };

static int init_rc;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void papi_init(void)
{
	init_rc = PAPI_library_init(PAPI_VER_CURRENT);
}

/* Appends a formatted fragment to p->why, separated by "; ". */
static void why_add(struct hv_papi *p, const char *fmt, ...) HV_FMT(2, 3);
static void why_add(struct hv_papi *p, const char *fmt, ...)
{
	size_t len = strlen(p->why);
	va_list ap;

	if (len && len + 2 < sizeof(p->why)) {
		memcpy(p->why + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(p->why + len, sizeof(p->why) - len, fmt, ap);
	va_end(ap);
}

/* What the kernel itself says about a hardware cycle counter for this thread. */
static void probe_perf_event(struct hv_papi *p)
{
	struct perf_event_attr attr;
	FILE *f;
	int fd, paranoid = -99;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_HARDWARE;
	attr.config = PERF_COUNT_HW_CPU_CYCLES;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd >= 0) {
		close(fd);
		why_add(p, "perf_event_open(cycles) works");
	} else if (errno == ENOENT || errno == EOPNOTSUPP || errno == ENODEV) {
		why_add(p, "no PMU: perf_event_open(cycles): %s", strerror(errno));
	} else {
		why_add(p, "perf_event_open(cycles): %s", strerror(errno));
	}
	f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		if (fscanf(f, "%d", &paranoid) != 1)
			paranoid = -99;
		fclose(f);
	}
	if (paranoid != -99)
		why_add(p, "perf_event_paranoid=%d", paranoid);
	else
		why_add(p, "perf_event_paranoid unreadable");
}

static void component_state(struct hv_papi *p)
{
	int n = PAPI_num_components();

	for (int cid = 0; cid < n; cid++) {
		const PAPI_component_info_t *ci = PAPI_get_component_info(cid);

		if (!ci || strcmp(ci->name, "perf_event"))
			continue;
		if (ci->disabled)
			why_add(p, "PAPI perf_event component disabled: %s", ci->disabled_reason);
		else
			why_add(p, "PAPI perf_event component: %d preset events, %d counters",
				ci->num_preset_events, ci->num_cntrs);
		return;
	}
	why_add(p, "PAPI has no perf_event component");
}

/* Names the wanted events that failed, grouped by PAPI's error, e.g.
 * "PAPI_TOT_CYC, PAPI_TLB_DM: Event does not exist". */
static void why_missing(struct hv_papi *p, const int err[], size_t n)
{
	int done[sizeof(wanted) / sizeof(wanted[0])] = { 0 };

	for (size_t i = 0; i < n; i++) {
		char names[128] = "";
		size_t len = 0;

		if (err[i] == PAPI_OK || done[i])
			continue;
		for (size_t k = i; k < n; k++) {
			if (err[k] != err[i])
				continue;
			done[k] = 1;
			len += (size_t)snprintf(names + len, len < sizeof(names) ?
						sizeof(names) - len : 0, "%s%s",
						len ? ", " : "", wanted[k]);
		}
		why_add(p, "%s: %s", names, PAPI_strerror(err[i]));
	}
}

void hv_papi_open(struct hv_papi *p)
{
	int err[sizeof(wanted) / sizeof(wanted[0])];
	size_t nwanted = sizeof(wanted) / sizeof(wanted[0]);
	long long scratch[HV_PAPI_MAX];
	int rc;

	memset(p, 0, sizeof(*p));
	p->eventset = PAPI_NULL;

	pthread_once(&init_once, papi_init);
	if (init_rc != PAPI_VER_CURRENT) {
		why_add(p, "PAPI_library_init: %s",
			init_rc > 0 ? "library version mismatch" : PAPI_strerror(init_rc));
		probe_perf_event(p);
		return;
	}
	rc = PAPI_create_eventset(&p->eventset);
	if (rc != PAPI_OK) {
		p->eventset = PAPI_NULL;
		why_add(p, "PAPI_create_eventset: %s", PAPI_strerror(rc));
		return;
	}
	for (size_t i = 0; i < nwanted; i++) {
		int code;

		rc = PAPI_event_name_to_code((char *)wanted[i], &code);
		if (rc == PAPI_OK)
			rc = PAPI_query_event(code);
		if (rc == PAPI_OK)
			rc = PAPI_add_event(p->eventset, code);
		if (rc == PAPI_OK)
			snprintf(p->names[p->nevents++], sizeof(p->names[0]), "%s", wanted[i]);
		err[i] = rc;
	}
	if (p->nevents) {
		/* Adding an event does not prove it counts: start and stop once. */
		rc = PAPI_start(p->eventset);
		if (rc == PAPI_OK)
			rc = PAPI_stop(p->eventset, scratch);
		if (rc != PAPI_OK) {
			why_add(p, "PAPI_start with %d events: %s", p->nevents, PAPI_strerror(rc));
			p->nevents = 0;
		}
	}
	if (p->nevents) {
		/* Some events may still be missing: available, with p->why naming them. */
		why_missing(p, err, nwanted);
		p->available = 1;
		return;
	}
	/* Most telling first: the kernel's own answer, then PAPI's view. */
	probe_perf_event(p);
	component_state(p);
	why_missing(p, err, nwanted);
	PAPI_cleanup_eventset(p->eventset);
	PAPI_destroy_eventset(&p->eventset);
	p->eventset = PAPI_NULL;
}

int hv_papi_start(struct hv_papi *p)
{
	int rc;

	if (!p->available)
		return hv_err_set("PAPI counters unavailable: %s", p->why);
	rc = PAPI_start(p->eventset);
	if (rc != PAPI_OK)
		return hv_err_set("PAPI_start: %s", PAPI_strerror(rc));
	return 0;
}

int hv_papi_stop(struct hv_papi *p, long long values[HV_PAPI_MAX])
{
	int rc;

	memset(values, 0, HV_PAPI_MAX * sizeof(values[0]));
	if (!p->available)
		return hv_err_set("PAPI counters unavailable: %s", p->why);
	rc = PAPI_stop(p->eventset, values);
	if (rc != PAPI_OK)
		return hv_err_set("PAPI_stop: %s", PAPI_strerror(rc));
	return 0;
}

void hv_papi_close(struct hv_papi *p)
{
	if (p->eventset != PAPI_NULL) {
		long long scratch[HV_PAPI_MAX];
		int state = 0;

		if (PAPI_state(p->eventset, &state) == PAPI_OK && (state & PAPI_RUNNING))
			PAPI_stop(p->eventset, scratch);
		PAPI_cleanup_eventset(p->eventset);
		PAPI_destroy_eventset(&p->eventset);
	}
	p->eventset = PAPI_NULL;
	p->available = 0;
	p->nevents = 0;
}
