/* Result records from a guest's console. The guest prints every record it hands to the
 * VMM also as one `@hvr key=value ...` line (guest/README.md, "Result records on the
 * console"); a VMM without hvm's result port (QEMU) gets its measurements from these
 * lines. A line becomes a struct hv_result, is checked by hv_result_validate (the
 * check hvm applies to a record from its result port) and goes to the same recorder
 * (vmm/record.c), so the rows are hvm's. */
#ifndef HVLAB_HVR_H
#define HVLAB_HVR_H
#include <stddef.h>

#include "hvlab/abi.h"
#include "hvlab/console.h"
#include "hvlab/record.h"

#define HVR_MARK "@hvr"
#define HVR_LINE_MAX 1024        /* the guest writes at most 320 bytes per line */

/* Parses one console line (without its newline). Returns 1 when the line holds a
 * record (r filled, magic set; not yet validated), 0 when it holds none, -1 with
 * hv_err_msg() saying what is wrong when it holds a malformed one. */
int hvr_parse_line(const char *line, struct hv_result *r);

/* A console byte stream cut into lines: every line goes to the console (when one is
 * given), every record line through parse and validation to the recorder. A rejected
 * line is counted and warned about by line number; the stream goes on. A record the
 * recorder refuses ends the recording (record_error or guest_fault): the caller stops
 * the guest. */
struct hvr_feed {
	struct hv_console *console;  /* NULL: lines are not echoed or logged */
	struct hv_recorder *rec;
	unsigned nr_vcpus;
	const char *source;          /* for messages: "console", a log file name */
	char line[HVR_LINE_MAX];
	size_t len;
	int overlong;                /* the current line did not fit in line[] */
	unsigned long lineno;
	unsigned long bytes;
	unsigned nrecords, nrejected;
	char first_rejected[256];    /* the first rejection, for the run's notes */
	int record_error;            /* the recorder failed: the run cannot be written */
	int guest_fault;             /* ... or refused a record as the guest's fault (its
	                              * budget, a table full, its mode report): stop it */
	char record_why[256];        /* what the recorder said, for either */
	/* Optional: called with each record the recorder took, as its line arrives. */
	void (*on_record)(void *arg, const struct hv_result *r);
	void *on_record_arg;
};

void hvr_feed_init(struct hvr_feed *f, struct hv_console *console, struct hv_recorder *rec,
		   unsigned nr_vcpus, const char *source);
void hvr_feed_bytes(struct hvr_feed *f, const char *buf, size_t n);
/* Ends a last line that has no newline. */
void hvr_feed_end(struct hvr_feed *f);

#endif
