/* Returned errors: a function below main() that fails sets a message saying what
 * failed, on what input and what to do, and returns -1 (or NULL). The caller prints
 * hv_err_msg() or adds its own context with hv_err_set() again. */
#ifndef HVLAB_ERR_H
#define HVLAB_ERR_H

#define HV_FMT(a, b) __attribute__((format(printf, a, b)))

/* Sets this thread's last error message; always returns -1. */
int hv_err_set(const char *fmt, ...) HV_FMT(1, 2);
/* Like hv_err_set, with ": strerror(errno)" appended (errno read on entry). */
int hv_err_errno(const char *fmt, ...) HV_FMT(1, 2);
/* This thread's last error message ("" when none). */
const char *hv_err_msg(void);

#endif
