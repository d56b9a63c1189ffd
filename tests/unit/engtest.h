/* Helpers for the engine unit tests: an engine built from YAML text, small
 * JSON events, and a record of every alert and incident it emitted.
 * Header-only: include it once, after cmocka.h. */
#ifndef VIGIL_TEST_ENGTEST_H
#define VIGIL_TEST_ENGTEST_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine/engine.h"
#include "event/flat.h"
#include "jsoncheck.h"

#define SEC 1000000000ULL
#define T0 (1700000000ULL * SEC)

struct out_rec {
	bool incident;
	char rule_id[128];
	int level;
	char *json;
	size_t len;
};

struct captured {
	int n;
	struct out_rec o[4096];
};

static void cap_fn(void *ctx, const struct engine_output *o)
{
	struct captured *c = ctx;
	assert_null(json_check(o->json, o->len, NULL));
	if (c->n >= 4096)
		return;
	struct out_rec *r = &c->o[c->n++];
	r->incident = o->incident;
	snprintf(r->rule_id, sizeof(r->rule_id), "%s", o->rule_id ? o->rule_id : "");
	r->level = o->level;
	r->json = strndup(o->json, o->len);
	r->len = o->len;
}

static void cap_clear(struct captured *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->o[i].json);
	c->n = 0;
}

static struct engine *mk_engine(const char *yaml, struct captured *cap, const struct engine_opts *opts)
{
	struct engine *e = engine_new(opts);
	assert_non_null(e);
	struct strbuf errs;
	sb_init(&errs);
	int n = engine_load_text(e, yaml, "test.yml", &errs);
	if (errs.len)
		fprintf(stderr, "rule errors:\n%s", errs.buf);
	assert_int_equal(errs.len, 0);
	assert_true(n > 0);
	assert_int_equal(engine_compile(e, &errs), 0);
	if (errs.len)
		fprintf(stderr, "compile errors:\n%s", errs.buf);
	assert_int_equal(errs.len, 0);
	sb_free(&errs);
	engine_set_output(e, cap_fn, cap);
	return e;
}

static struct vg_flat test_flat;

static void feed(struct engine *e, const char *json, uint64_t t)
{
	size_t n = strlen(json);
	assert_int_equal(vg_flatten_json(&test_flat, json, n), 0);
	engine_process(e, &test_flat, json, n, t);
}

/* One event: process pid in session sid on host, with extra top-level
 * members (JSON text after a comma, may be "") and ancestors list
 * (a JSON array text, may be NULL). */
static const char *mkev(char *buf, size_t cap, const char *action, int pid, int ppid, int sid, const char *exe,
			const char *ancestors, const char *extra)
{
	snprintf(buf, cap,
		 "{\"@timestamp\":\"2023-11-14T22:13:20.000000000Z\",\"event\":{\"action\":\"%s\",\"kind\":\"event\"},"
		 "\"host\":{\"name\":\"h1\"},\"process\":{\"pid\":%d,\"start_ns\":%d000,\"executable\":\"%s\","
		 "\"command_line\":\"%s -x\",\"parent\":{\"pid\":%d}},\"user\":{\"id\":1000}%s%s,"
		 "\"vigil\":{\"sid\":%d%s%s}}",
		 action, pid, pid, exe, exe, ppid, *extra ? "," : "", extra, sid, ancestors ? ",\"ancestors\":" : "",
		 ancestors ? ancestors : "");
	return buf;
}

/* The first value of a dotted field of an output, "" when absent. */
static const char *out_get(const struct out_rec *r, const char *field, char *buf, size_t cap)
{
	static struct vg_flat fl;
	buf[0] = 0;
	if (vg_flatten_json(&fl, r->json, r->len))
		return buf;
	int64_t id = vg_field_find(field);
	if (id < 0)
		return buf;
	const char *v = vg_flat_get(&fl, (uint32_t)id, NULL);
	snprintf(buf, cap, "%s", v ? v : "");
	return buf;
}

static int count_rule(const struct captured *c, const char *rule_id, bool incident)
{
	int n = 0;
	for (int i = 0; i < c->n; i++)
		if (c->o[i].incident == incident && (!rule_id || strcmp(c->o[i].rule_id, rule_id) == 0))
			n++;
	return n;
}

static const struct out_rec *last_of(const struct captured *c, const char *rule_id, bool incident)
{
	for (int i = c->n - 1; i >= 0; i--)
		if (c->o[i].incident == incident && (!rule_id || strcmp(c->o[i].rule_id, rule_id) == 0))
			return &c->o[i];
	return NULL;
}

/* ASan's quarantine holds freed memory: RSS bounds mean nothing there. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKS 0
#else
#define RSS_CHECKS 1
#endif

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

#endif
