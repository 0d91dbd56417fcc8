/* The JSON writer: exact output for escaping and nesting, null for non-finite
 * numbers, numbers that read back bit-for-bit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvlab/json.h"

static void string_escaping(void **state)
{
	struct hv_json j;

	(void)state;
	hv_json_init(&j);
	hv_json_str(&j, "q\" b\\ n\n t\t r\r b\b f\f c\x01 us\x1f del\x7f /");
	assert_string_equal(j.buf, "\"q\\\" b\\\\ n\\n t\\t r\\r b\\b f\\f c\\u0001 us\\u001f "
			    "del\x7f /\"");
	assert_int_equal(j.failed, 0);
	hv_json_free(&j);
}

static void utf8_kept_invalid_replaced(void **state)
{
	struct hv_json j;

	(void)state;
	hv_json_init(&j);
	hv_json_arr_begin(&j);
	hv_json_str(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");   /* valid */
	hv_json_str(&j, "a\xff" "b\xc3");                               /* stray, truncated */
	hv_json_str(&j, "\xc0\xaf \xed\xa0\x80");                       /* overlong, surrogate */
	hv_json_arr_end(&j);
	assert_string_equal(j.buf, "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
			    "\"a\\ufffdb\\ufffd\",\"\\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\"]");
	hv_json_free(&j);
}

static void nesting_and_commas(void **state)
{
	struct hv_json j;

	(void)state;
	hv_json_init(&j);
	hv_json_obj_begin(&j);
	hv_json_key(&j, "a");
	hv_json_arr_begin(&j);
	hv_json_int(&j, 1);
	hv_json_int(&j, -2);
	hv_json_obj_begin(&j);
	hv_json_key(&j, "b");
	hv_json_null(&j);
	hv_json_kv_str(&j, "k\"ey", "v");
	hv_json_obj_end(&j);
	hv_json_arr_begin(&j);
	hv_json_arr_end(&j);
	hv_json_obj_begin(&j);
	hv_json_obj_end(&j);
	hv_json_arr_end(&j);
	hv_json_key(&j, "c");
	hv_json_bool(&j, 1);
	hv_json_kv_int(&j, "d", INT64_MIN);
	hv_json_kv_int(&j, "e", INT64_MAX);
	hv_json_kv_num(&j, "f", 0.5);
	hv_json_kv_str(&j, "g", NULL);
	hv_json_key(&j, "h");
	hv_json_bool(&j, 0);
	hv_json_obj_end(&j);
	assert_int_equal(j.depth, 0);
	assert_int_equal(j.failed, 0);
	assert_string_equal(j.buf,
			    "{\"a\":[1,-2,{\"b\":null,\"k\\\"ey\":\"v\"},[],{}],\"c\":true,"
			    "\"d\":-9223372036854775808,\"e\":9223372036854775807,\"f\":0.5,"
			    "\"g\":null,\"h\":false}");
	assert_int_equal(j.len, strlen(j.buf));
	hv_json_free(&j);
}

static void nonfinite_is_null(void **state)
{
	struct hv_json j;

	(void)state;
	hv_json_init(&j);
	hv_json_arr_begin(&j);
	hv_json_num(&j, NAN);
	hv_json_num(&j, INFINITY);
	hv_json_num(&j, -INFINITY);
	hv_json_num(&j, 1);
	hv_json_arr_end(&j);
	assert_string_equal(j.buf, "[null,null,null,1]");
	hv_json_free(&j);
}

static void numbers_round_trip(void **state)
{
	const double v[] = { 0.1, 1.0 / 3, 2.0 / 3, 1e-310, DBL_MIN, DBL_MAX, -DBL_MAX,
			     -0.0, 123456789012345678.0, 4.35, 0.3, 1e21, 1e-7,
			     2596128000.0, 9007199254740993.0, M_PI, -M_E };
	const size_t n = sizeof(v) / sizeof(v[0]);
	struct hv_json j;
	const char *p;

	(void)state;
	hv_json_init(&j);
	hv_json_arr_begin(&j);
	for (size_t i = 0; i < n; i++)
		hv_json_num(&j, v[i]);
	hv_json_arr_end(&j);

	p = j.buf;
	assert_int_equal(*p, '[');
	for (size_t i = 0; i < n; i++) {
		char *end;
		double back = strtod(p + 1, &end);

		/* Bit-for-bit, so that -0.0 and 0.0 differ. */
		assert_memory_equal(&back, &v[i], sizeof(double));
		assert_true(*end == (i + 1 < n ? ',' : ']'));
		/* JSON has no "inf", "nan" or hex forms, and no leading '+' or '.'. */
		assert_true(strspn(p + 1, "-0123456789.e+") == (size_t)(end - p - 1));
		p = end;
	}
	/* Short forms are preferred where they read back exactly. */
	assert_non_null(strstr(j.buf, "[0.1,"));
	assert_non_null(strstr(j.buf, ",4.35,"));
	hv_json_free(&j);
}

static void fmt_double(void **state)
{
	char b[40];

	(void)state;
	assert_string_equal(hv_fmt_double(b, sizeof(b), 0.1), "0.1");
	assert_string_equal(hv_fmt_double(b, sizeof(b), NAN), "nan");
	assert_string_equal(hv_fmt_double(b, sizeof(b), -INFINITY), "-inf");
	assert_true(strtod(hv_fmt_double(b, sizeof(b), 1.0 / 3), NULL) == 1.0 / 3);
}

/* Deeper nesting than the writer tracks, or closing what was never opened, marks the
 * output failed instead of writing broken JSON silently. */
static void misuse_marks_failed(void **state)
{
	struct hv_json j;

	(void)state;
	hv_json_init(&j);
	for (int i = 0; i < 40; i++)
		hv_json_arr_begin(&j);
	assert_int_equal(j.failed, 1);
	hv_json_free(&j);

	hv_json_init(&j);
	hv_json_obj_end(&j);
	assert_int_equal(j.failed, 1);
	hv_json_free(&j);
}

static void large_output_grows(void **state)
{
	struct hv_json j;

	(void)state;
	hv_json_init(&j);
	hv_json_arr_begin(&j);
	for (int i = 0; i < 100000; i++)
		hv_json_int(&j, i);
	hv_json_arr_end(&j);
	assert_int_equal(j.failed, 0);
	assert_int_equal(j.len, strlen(j.buf));
	assert_true(j.len > 500000);
	assert_string_equal(j.buf + j.len - 7, ",99999]");
	hv_json_free(&j);
	assert_null(j.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(string_escaping),
		cmocka_unit_test(utf8_kept_invalid_replaced),
		cmocka_unit_test(nesting_and_commas),
		cmocka_unit_test(nonfinite_is_null),
		cmocka_unit_test(numbers_round_trip),
		cmocka_unit_test(fmt_double),
		cmocka_unit_test(misuse_marks_failed),
		cmocka_unit_test(large_output_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
