/* vg_flatten_json: dotted names, arrays as repeated fields, scalars as
 * their JSON text, escapes, long values, limits, malformed input, and the
 * per-thread field-id cache agreeing with the global table. */
#define _GNU_SOURCE
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
	/* a bare value ends at any JSON whitespace, tab and CR included */
	assert_int_equal(flat(&fl, "{\"t\":1\t,\"r\":true\r\n}"), 0);
	assert_int_equal(fl.n, 2);
	assert_string_equal(pair(&fl, 0), "t=1");
	assert_string_equal(pair(&fl, 1), "r=true");
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

/* A plain reference flattener (whole dotted names built as strings, ids
 * from vg_field_id) for valid JSON, to check the fast one against. */
struct ref {
	const char *p;
	char name[2048];
	char *vals[VG_FLAT_MAX];
	size_t lens[VG_FLAT_MAX];
	uint32_t ids[VG_FLAT_MAX];
	int n;
};

static size_t ref_string(struct ref *r, char *out)
{
	size_t o = 0;
	r->p++; /* " */
	while (*r->p != '"') {
		if (*r->p != '\\') {
			out[o++] = *r->p++;
			continue;
		}
		char e = r->p[1];
		r->p += 2;
		if (e == 'u') {
			unsigned cp = (unsigned)strtoul((char[5]){r->p[0], r->p[1], r->p[2], r->p[3], 0}, NULL, 16);
			r->p += 4;
			if (cp < 0x100) {
				out[o++] = (char)cp;
			} else if (cp < 0x800) {
				out[o++] = (char)(0xC0 | (cp >> 6));
				out[o++] = (char)(0x80 | (cp & 0x3F));
			} else {
				out[o++] = (char)(0xE0 | (cp >> 12));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[o++] = (char)(0x80 | (cp & 0x3F));
			}
		} else {
			out[o++] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e;
		}
	}
	r->p++;
	return o;
}

static void ref_ws(struct ref *r)
{
	while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')
		r->p++;
}

static void ref_add(struct ref *r, const char *v, size_t n)
{
	if (r->n >= VG_FLAT_MAX)
		return;
	r->vals[r->n] = malloc(n + 1);
	memcpy(r->vals[r->n], v, n);
	r->vals[r->n][n] = 0;
	r->lens[r->n] = n;
	r->ids[r->n++] = vg_field_id(r->name);
}

static void ref_value(struct ref *r)
{
	static char tmp[1 << 16];
	size_t at = strlen(r->name);
	ref_ws(r);
	if (*r->p == '{') {
		r->p++;
		ref_ws(r);
		while (*r->p != '}') {
			ref_ws(r);
			size_t kl = ref_string(r, tmp);
			tmp[kl] = 0;
			snprintf(r->name + at, sizeof(r->name) - at, "%s%s", at ? "." : "", tmp);
			ref_ws(r);
			r->p++; /* : */
			ref_value(r);
			r->name[at] = 0;
			ref_ws(r);
			if (*r->p == ',')
				r->p++;
		}
		r->p++;
	} else if (*r->p == '[') {
		r->p++;
		ref_ws(r);
		while (*r->p != ']') {
			ref_value(r);
			ref_ws(r);
			if (*r->p == ',')
				r->p++;
			ref_ws(r);
		}
		r->p++;
	} else if (*r->p == '"') {
		size_t n = ref_string(r, tmp);
		ref_add(r, tmp, n);
	} else {
		const char *s = r->p;
		while (*r->p && !strchr(",}] \n\t\r", *r->p))
			r->p++;
		ref_add(r, s, (size_t)(r->p - s));
	}
}

static void ref_check(struct vg_flat *fl, const char *js, size_t len)
{
	struct ref *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	r->p = js;
	ref_value(r);
	if (vg_flatten_json(fl, js, len))
		fail_msg("vg_flatten_json failed on %s", js);
	if (fl->n != r->n)
		fail_msg("%d fields, the reference has %d: %s", fl->n, r->n, js);
	for (int i = 0; i < r->n; i++) {
		if (fl->f[i].name != r->ids[i] || fl->f[i].len != r->lens[i] || memcmp(fl->f[i].val, r->vals[i], r->lens[i]) ||
		    fl->f[i].val[r->lens[i]])
			fail_msg("field %d: %s=%s, the reference has %s=%s in %s", i, vg_field_name(fl->f[i].name),
				 fl->f[i].val, vg_field_name(r->ids[i]), r->vals[i], js);
		free(r->vals[i]);
	}
	free(r);
}

/* Every recorded event of tests/unit/data, and generated objects with
 * escaped keys and values, whitespace, nesting and arrays of objects. */
static void test_reference(void **state)
{
	struct vg_flat fl;
	vg_flat_init(&fl);
	FILE *f = fopen("tests/unit/data/store_events.jsonl", "r");
	assert_non_null(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lines = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = 0;
		ref_check(&fl, line, (size_t)n);
		lines++;
	}
	free(line);
	fclose(f);
	assert_true(lines > 100);
	uint64_t rs = 88172645463325252ULL;
	static const char *const keys[] = {"a", "b", "\\\"q\\\"", "k\\\\e", "\\u00e9t\\u00e9", "very_long_key_name_past_sixteen",
					   "x\\ny", "\\u0041B", "", "process", "args", "\\u0000cut"};
	static const char *const vals[] = {"\"v\"", "12", "-3", "true", "null", "\"\\u00ff\\u0001\\\\\\\"\"",
					   "\"long value long value long value long value\"", "[1,\"2\",{\"z\":3}]",
					   "{}", "[]", "{\"in\":{\"deep\":[\"d\",\"e\"]}}", "\"\\u20ac\\u00e9\""};
	char js[4096];
	for (int it = 0; it < 3000; it++) {
		size_t o = 0;
		int nk = 1 + (int)(rs % 9);
		o += (size_t)snprintf(js + o, sizeof(js) - o, "{");
		for (int k = 0; k < nk; k++) {
			rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
			const char *ws = rs & 1 ? " " : "";
			o += (size_t)snprintf(js + o, sizeof(js) - o, "%s%s\"%s\"%s:%s%s", k ? "," : "", ws, keys[rs % 12], ws, ws,
					      vals[(rs >> 8) % 12]);
			if ((rs >> 20) % 5 == 0)
				o += (size_t)snprintf(js + o, sizeof(js) - o, ",\"o%d\":{\"%s\":%s}", k, keys[(rs >> 24) % 12],
						      vals[(rs >> 28) % 12]);
		}
		snprintf(js + o, sizeof(js) - o, "}");
		ref_check(&fl, js, strlen(js));
	}
	vg_flat_free(&fl);
}

/* Built by hand: vg_flat_put and vg_field_child give what parsing gives. */
static void test_build(void **state)
{
	struct vg_flat a, b;
	vg_flat_init(&a);
	vg_flat_init(&b);
	vg_flat_begin(&a);
	uint32_t proc = vg_field_child(VG_FIELD_ROOT, "process");
	assert_int_equal(proc, vg_field_id("process"));
	vg_flat_put(&a, vg_field_child(proc, "pid"), "42", 2);
	uint32_t args = vg_field_child(proc, "args");
	vg_flat_put(&a, args, "ls", 2);
	vg_flat_put(&a, args, "a\0b", 3);
	assert_int_equal(vg_flat_put_json(&a, vg_field_child(VG_FIELD_ROOT, "vigil"), "{\"x\":[1,{\"y\":\"z\"}]}", 19), 0);
	vg_flat_end(&a);
	const char *js = "{\"process\":{\"pid\":42,\"args\":[\"ls\",\"a\\u0000b\"]},\"vigil\":{\"x\":[1,{\"y\":\"z\"}]}}";
	assert_int_equal(vg_flatten_json(&b, js, strlen(js)), 0);
	assert_int_equal(a.n, 5);
	assert_int_equal(b.n, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(a.f[i].name, b.f[i].name);
		assert_int_equal(a.f[i].len, b.f[i].len);
		assert_memory_equal(a.f[i].val, b.f[i].val, a.f[i].len + 1);
	}
	assert_string_equal(vg_field_name(a.f[4].name), "vigil.x.y");
	vg_flat_free(&a);
	vg_flat_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),	   cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_long_and_many), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ids_threads), cmocka_unit_test(test_reference),
		cmocka_unit_test(test_build),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
