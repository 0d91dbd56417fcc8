/* Format-checked logging to stderr. hv_debug prints only when HVLAB_DEBUG is set. */
#ifndef HVLAB_LOG_H
#define HVLAB_LOG_H
#include "hvlab/err.h"

void hv_err(const char *fmt, ...) HV_FMT(1, 2);   /* "hvlab: error: ..." */
void hv_warn(const char *fmt, ...) HV_FMT(1, 2);  /* "hvlab: warning: ..." */
void hv_info(const char *fmt, ...) HV_FMT(1, 2);  /* "hvlab: ..." */
void hv_debug(const char *fmt, ...) HV_FMT(1, 2);

#endif
