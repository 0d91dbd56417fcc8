/* The guest console: bytes from the serial port and the console hypercall, written
 * line by line to stderr (non-printable bytes shown as \xNN, so a guest cannot drive
 * the terminal) and verbatim to console.log in the run directory. */
#ifndef HVLAB_CONSOLE_H
#define HVLAB_CONSOLE_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HV_CONSOLE_LINE 512

struct hv_console {
	pthread_mutex_t lock;
	FILE *log;               /* NULL: no log file */
	FILE *out;               /* stderr, or NULL for silence */
	char line[HV_CONSOLE_LINE];
	size_t len;
	uint64_t bytes;          /* total bytes the guest wrote */
};

/* log_path may be NULL. Returns 0 or -1 with hv_err_msg() set. */
int hv_console_open(struct hv_console *c, FILE *out, const char *log_path);
void hv_console_write(struct hv_console *c, const void *buf, size_t n);
/* Writes out a partial last line. */
void hv_console_flush(struct hv_console *c);
void hv_console_close(struct hv_console *c);

#endif
