/* A small streaming JSON writer into a growing buffer (escapes strings, writes finite
 * numbers, null for NaN/inf). */
#ifndef HVLAB_JSON_H
#define HVLAB_JSON_H
#include <stddef.h>
#include <stdint.h>

struct hv_json {
	char *buf;
	size_t len, cap;
	int depth;
	int need_comma[32];
	int failed;              /* allocation failed: the buffer is incomplete */
};

void hv_json_init(struct hv_json *j);
void hv_json_free(struct hv_json *j);
void hv_json_obj_begin(struct hv_json *j);
void hv_json_obj_end(struct hv_json *j);
void hv_json_arr_begin(struct hv_json *j);
void hv_json_arr_end(struct hv_json *j);
void hv_json_key(struct hv_json *j, const char *key);     /* next value belongs to key */
void hv_json_str(struct hv_json *j, const char *s);
void hv_json_num(struct hv_json *j, double v);
void hv_json_int(struct hv_json *j, int64_t v);
void hv_json_bool(struct hv_json *j, int v);
void hv_json_null(struct hv_json *j);
/* key + value in one call */
void hv_json_kv_str(struct hv_json *j, const char *key, const char *s);
void hv_json_kv_num(struct hv_json *j, const char *key, double v);
void hv_json_kv_int(struct hv_json *j, const char *key, int64_t v);

/* Formats v as the shortest of %.15g..%.17g that strtod() reads back exactly (also
 * used for CSV values); "nan"/"inf"/"-inf" for non-finite v. Returns buf. */
char *hv_fmt_double(char *buf, size_t size, double v);

#endif
