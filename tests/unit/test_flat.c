/* vg_flatten_json: dotted names, arrays as repeated fields, scalars as
 * their JSON text, escapes, long values, limits, malformed input, and the
 * per-thread field-id cache agreeing with the global table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "event/flat.h"

static int flat(struct vg_flat *fl, const char *js)
{
	return vg_flatten_json(fl, js, strlen(js));
}

/* "name=value" of field i */
static const char *pair(const struct vg_flat *fl, int i)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s=%s", vg_field_name(fl->f[i].name), fl->f[i].val);
	return buf;
}

static void test_shapes(void **state)
{
	struct vg_flat fl;
	vg_flat_init(&fl);
	assert_int_equal(flat(&fl, " { \"a\" : { \"b\" : \"x\" , \"c\":[1, \"two\",true,null,{\"d\":-2.5e3}]},"
				   "\"e\":{},\"f\":[],\"g\":false }"),
			 0);
	assert_int_equal(fl.n, 7);
	assert_string_equal(pair(&fl, 0), "a.b=x");
	assert_string_equal(pair(&fl, 1), "a.c=1");
	assert_string_equal(pair(&fl, 2), "a.c=two");
	assert_string_equal(pair(&fl, 3), "a.c=true");
	assert_string_equal(pair(&fl, 4), "a.c=null");
	assert_string_equal(pair(&fl, 5), "a.c.d=-2.5e3");
	assert_string_equal(pair(&fl, 6), "g=false");
	assert_int_equal(fl.f[0].len, 1);
	uint32_t len;
	assert_string_equal(vg_flat_get(&fl, vg_field_id("a.c"), &len), "1");
	assert_int_equal(len, 1);
	assert_null(vg_flat_get(&fl, vg_field_id("a.zz"), NULL));
	assert_int_equal(vg_field_find("a.c.d"), (int64_t)vg_field_id("a.c.d"));
	assert_int_equal(vg_field_find("never.seen.field"), -1);
	vg_flat_free(&fl);
}

static void test_escapes(void **state)
{
	struct vg_flat fl;
	vg_flat_init(&fl);
	assert_int_equal(flat(&fl, "{\"s\":\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\f\",\"u\":\"\\u0041\\u00e9\\u20ac\\u0000z\","
				   "\"k\\\"ey\":\"v\",\"e\":\"\\\\\",\"x\":\"\\\\\\\"\"}"),
			 0);
	assert_int_equal(fl.n, 5);
	assert_string_equal(fl.f[0].val, "q\"b\\s/n\nt\tr\rb\bf\f");
	assert_int_equal(fl.f[0].len, strlen("q\"b\\s/n\nt\tr\rb\bf\f"));
	/* \u00XX is a byte, larger code points UTF-8; NUL is kept (len says so) */
	assert_int_equal(fl.f[1].len, 7);
	assert_memory_equal(fl.f[1].val, "A\xe9\xe2\x82\xac\0z", 7);
	assert_string_equal(vg_field_name(fl.f[2].name), "k\"ey");
	assert_string_equal(fl.f[3].val, "\\");
	assert_string_equal(fl.f[4].val, "\\\"");
	/* a long string with escapes after the short-string scan window */
	char js[400];
	snprintf(js, sizeof(js), "{\"v\":\"%s\\\"end\"}", "0123456789012345678901234567890123456789");
	assert_int_equal(flat(&fl, js), 0);
	assert_string_equal(fl.f[0].val, "0123456789012345678901234567890123456789\"end");
	vg_flat_free(&fl);
}

static void test_long_and_many(void **state)
{
	struct vg_flat fl;
	vg_flat_init(&fl);
	/* a 200 KB value is kept whole */
	size_t n = 200000;
	char *js = malloc(n + 32);
	assert_non_null(js);
	memcpy(js, "{\"big\":\"", 8);
	memset(js + 8, 'x', n);
	strcpy(js + 8 + n, "\",\"after\":1}");
	assert_int_equal(vg_flatten_json(&fl, js, strlen(js)), 0);
	assert_int_equal(fl.n, 2);
	assert_int_equal(fl.f[0].len, n);
	assert_int_equal(fl.f[0].val[n - 1], 'x');
	assert_int_equal(fl.f[0].val[n], 0);
	assert_string_equal(pair(&fl, 1), "after=1");
	free(js);
	/* more than VG_FLAT_MAX fields: the first ones are kept */
	struct strbuf_like {
		char *b;
		size_t l;
	} sb = {malloc(64 * 1024), 0};
	assert_non_null(sb.b);
	sb.l += (size_t)sprintf(sb.b, "{\"arr\":[");
	for (int i = 0; i < VG_FLAT_MAX + 100; i++)
		sb.l += (size_t)sprintf(sb.b + sb.l, "%s\"v%d\"", i ? "," : "", i);
	sb.l += (size_t)sprintf(sb.b + sb.l, "]}");
	assert_int_equal(vg_flatten_json(&fl, sb.b, sb.l), 0);
	assert_int_equal(fl.n, VG_FLAT_MAX);
	assert_string_equal(fl.f[VG_FLAT_MAX - 1].val, "v511");
	free(sb.b);
	/* a small event after big ones: nothing left over */
	assert_int_equal(flat(&fl, "{\"a\":\"b\"}"), 0);
	assert_int_equal(fl.n, 1);
	assert_string_equal(pair(&fl, 0), "a=b");
	vg_flat_free(&fl);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\"", "{\"a\":", "{\"a\":\"x", "{\"a\":\"x\\q\"}", "{\"a\":\"\\u12\"}",
		"{\"a\" \"b\"}", "{\"a\":\"b\",}", "{\"a\":\"b\"", "{a:1}", "{\"a\":[1,2}", "{\"a\":\"x\\",
	};
	struct vg_flat fl;
	vg_flat_init(&fl);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (flat(&fl, bad[i]) != -1)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		assert_int_equal(flat(&fl, bad[i]), -1);
	}
	/* fields before the problem are kept */
	assert_int_equal(flat(&fl, "{\"a\":\"1\",\"b\":\"x\\q\"}"), -1);
	assert_int_equal(fl.n, 1);
	assert_string_equal(pair(&fl, 0), "a=1");
	/* deep nesting is refused, not a stack overflow */
	char deep[400];
	int d = 0;
	for (int i = 0; i < 60; i++)
		d += sprintf(deep + d, "{\"a\":");
	strcpy(deep + d, "1");
	assert_int_equal(flat(&fl, deep), -1);
	vg_flat_free(&fl);
}

/* The per-thread cache gives the ids of the global table, in every thread,
 * even with many distinct names colliding in the cache. */
static void *worker(void *arg)
{
	long t = (long)arg;
	struct vg_flat fl;
	vg_flat_init(&fl);
	char js[128];
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 5000; i++) {
			snprintf(js, sizeof(js), "{\"t%ld\":{\"n%d\":\"%d\"},\"shared\":{\"x\":1}}", t % 2, i, i);
			if (vg_flatten_json(&fl, js, strlen(js)) || fl.n != 2)
				return (void *)1;
			char name[64];
			snprintf(name, sizeof(name), "t%ld.n%d", t % 2, i);
			if (fl.f[0].name != (uint32_t)vg_field_find(name) || strcmp(vg_field_name(fl.f[0].name), name))
				return (void *)1;
			if (fl.f[1].name != vg_field_id("shared.x"))
				return (void *)1;
		}
	vg_flat_free(&fl);
	return NULL;
}

static void test_ids_threads(void **state)
{
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(th[i], &r);
		assert_null(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),	   cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_long_and_many), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ids_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
