/* state.db: the schema (tables, version, WAL, mode 0600), alerts, incident
 * upserts and their alert links (from the real engine's output too),
 * actions, the queries `vigil` uses, read-only opening; and the small JSON
 * reader and RFC3339 parser they rely on. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#pragma GCC diagnostic ignored "-Wunused-function" /* engtest.h helpers this file does not use */
#include "engtest.h"
#include "store/state.h"
#include "util/jsonv.h"

static char dir[] = "/tmp/vigil-test-state-XXXXXX";

static int setup(void **st)
{
	char tmpl[] = "/tmp/vigil-test-state-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	strcpy(dir, tmpl);
	return 0;
}

static int teardown(void **st)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const char *alert_json(char *buf, size_t cap, const char *rule, const char *level, const char *ts, int sid,
			      int pid, const char *exe)
{
	snprintf(buf, cap,
		 "{\"@timestamp\":\"%s\",\"kind\":\"alert\",\"rule\":{\"id\":\"%s\",\"title\":\"Title of %s\","
		 "\"level\":\"%s\",\"tags\":[\"attack.execution\"]},\"threat\":{\"tactics\":[\"execution\"],"
		 "\"techniques\":[\"T1059\"]},\"host\":{\"name\":\"h1\"},\"session\":{\"id\":\"%d\"},"
		 "\"process\":{\"pid\":%d,\"executable\":\"%s\",\"chain\":[]},\"events\":[{\"a\":\"\\u00e9\\\"x\"}]}",
		 ts, rule, rule, level, sid, pid, exe);
	return buf;
}

static int64_t add_alert(struct state *s, const char *json)
{
	return state_add_alert(s, json, strlen(json));
}

static int upsert(struct state *s, const char *json)
{
	return state_upsert_incident(s, json, strlen(json));
}

static int64_t scalar(const char *sql)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_schema(void **st)
{
	struct state *s;
	char err[256] = "";
	/* nothing there yet: a reader is told so */
	assert_int_equal(state_open(&s, dir, true, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "state.db"));
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/state.db", dir);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(scalar("PRAGMA user_version"), STATE_SCHEMA_VERSION);
	assert_int_equal(scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
				"('alerts','incidents','incident_alerts','actions')"),
			 4);
	char jm[32];
	{
		sqlite3 *db;
		sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
		sqlite3_stmt *q;
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		snprintf(jm, sizeof(jm), "%s", sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
	assert_string_equal(jm, "wal");
	state_close(s);
	/* reopening keeps it; a newer schema is refused */
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), 0);
	state_close(s);
	{
		sqlite3 *db;
		sqlite3_open(path, &db);
		sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(state_open(&s, dir, true, err, sizeof(err)), -1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-shm", dir);
	unlink(path);
}

struct rows {
	int n;
	int64_t ids[64];
	char rules[64][64];
	char inc[64][64];
	int64_t pids[64];
	uint64_t ts[64];
};

static int collect(void *ctx, const struct state_alert *a)
{
	struct rows *r = ctx;
	if (r->n >= 64)
		return 1;
	r->ids[r->n] = a->id;
	snprintf(r->rules[r->n], 64, "%s", a->rule_id);
	snprintf(r->inc[r->n], 64, "%s", a->incident_id ? a->incident_id : "");
	r->pids[r->n] = a->pid;
	r->ts[r->n] = a->ts_ns;
	r->n++;
	return 0;
}

static void test_alerts_and_queries(void **st)
{
	struct state *s;
	char err[256] = "", b[2048];
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), 0);
	int64_t a1 = add_alert(s, alert_json(b, sizeof(b), "r-low", "low", "2024-01-01T00:00:01.000000001Z", 7, 100,
						   "/bin/a"));
	int64_t a2 = add_alert(s, alert_json(b, sizeof(b), "r-high", "high", "2024-01-01T00:00:03Z", 7, 101,
						   "/bin/b"));
	int64_t a3 = add_alert(s, alert_json(b, sizeof(b), "r-crit", "critical", "2024-01-01T00:00:02Z", 9, 102,
						   "/bin/c"));
	assert_true(a1 > 0 && a2 > a1 && a3 > a2);
	/* not an alert: refused, nothing stored */
	assert_int_equal(state_add_alert(s, "{\"kind\":\"alert\"}", 16), -1);
	assert_int_equal(state_add_alert(s, "{not json", 9), -1);
	struct state_counts c;
	assert_int_equal(state_counts(s, &c), 0);
	assert_int_equal(c.alerts, 3);
	assert_int_equal(scalar("SELECT ts FROM alerts WHERE rule_id = 'r-low'"), 1704067201000000001LL);
	assert_int_equal(scalar("SELECT level FROM alerts WHERE rule_id = 'r-crit'"), 4);
	assert_int_equal(scalar("SELECT sid FROM alerts WHERE rule_id = 'r-high'"), 7);
	assert_int_equal(scalar("SELECT pid FROM alerts WHERE rule_id = 'r-high'"), 101);
	assert_int_equal(scalar("SELECT count(*) FROM alerts WHERE exe = '/bin/c' AND host = 'h1' AND title = 'Title of r-crit'"), 1);
	state_close(s);

	/* a reader, as `vigil` opens it */
	assert_int_equal(state_open(&s, dir, true, err, sizeof(err)), 0);
	struct state_alert_query q;
	struct rows r = {0};
	state_alert_query_init(&q);
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 3);
	/* time order, not insertion order */
	assert_string_equal(r.rules[0], "r-low");
	assert_string_equal(r.rules[1], "r-crit");
	assert_string_equal(r.rules[2], "r-high");
	memset(&r, 0, sizeof(r));
	q.min_level = state_level_num("high");
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 2);
	assert_string_equal(r.rules[0], "r-crit");
	memset(&r, 0, sizeof(r));
	state_alert_query_init(&q);
	q.sid = 7;
	q.host = "h1";
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 2);
	memset(&r, 0, sizeof(r));
	q.host = "h2";
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 0);
	memset(&r, 0, sizeof(r));
	state_alert_query_init(&q);
	q.from_ns = 1704067202000000000ULL;
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 2);
	memset(&r, 0, sizeof(r));
	q.to_ns = 1704067202000000000ULL;
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 1);
	assert_int_equal(r.pids[0], 102);
	/* limit: the newest N, in time order */
	memset(&r, 0, sizeof(r));
	state_alert_query_init(&q);
	q.limit = 2;
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 2);
	assert_string_equal(r.rules[0], "r-crit");
	assert_string_equal(r.rules[1], "r-high");
	memset(&r, 0, sizeof(r));
	state_alert_query_init(&q);
	q.pid = 100;
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 1);
	assert_int_equal(r.ts[0], 1704067201000000001ULL);
	/* the stored JSON comes back as written */
	state_close(s);
	/* a reader cannot write */
	assert_int_equal(state_open(&s, dir, true, err, sizeof(err)), 0);
	assert_int_equal(add_alert(s, alert_json(b, sizeof(b), "x", "low", "2024-01-01T00:00:01Z", 1, 1, "/x")), -1);
	state_close(s);
}

struct inc_rows {
	int n;
	char id[8][64];
	int score[8];
	int64_t updates[8], nalerts[8];
	uint64_t first[8], last[8];
};

static int collect_inc(void *ctx, const struct state_incident *i)
{
	struct inc_rows *r = ctx;
	if (r->n >= 8)
		return 1;
	snprintf(r->id[r->n], 64, "%s", i->id);
	r->score[r->n] = i->score;
	r->updates[r->n] = i->updates;
	r->nalerts[r->n] = i->nalerts;
	r->first[r->n] = i->first_ns;
	r->last[r->n] = i->last_ns;
	r->n++;
	return 0;
}

static const char *incident_json(char *buf, size_t cap, const char *status, int score, const char *last,
				 const char *members)
{
	snprintf(buf, cap,
		 "{\"@timestamp\":\"%s\",\"kind\":\"incident\",\"incident\":{\"id\":\"inc-00000000000000ab\","
		 "\"status\":\"%s\",\"score\":%d,\"threshold\":60,\"level\":\"high\","
		 "\"first\":\"2024-01-01T00:00:01.000000001Z\",\"last\":\"%s\",\"members_total\":2},"
		 "\"threat\":{\"tactics\":[],\"techniques\":[]},\"host\":{\"name\":\"h1\"},\"session\":{\"id\":\"7\"},"
		 "\"user\":{\"id\":\"0\"},\"sessions\":[{\"host\":\"h1\",\"id\":\"7\",\"user\":\"0\"}],"
		 "\"members\":[%s]}",
		 last, status, score, last, members);
	return buf;
}

#define MEMBER(kind, ts, rule, pid)                                                                        \
	"{\"kind\":\"" kind "\",\"@timestamp\":\"" ts "\",\"rule\":{\"id\":\"" rule "\",\"title\":\"t\","     \
	"\"level\":\"high\"},\"score\":10,\"session\":{\"id\":\"7\"},\"process\":{\"pid\":" #pid "}}"

static void test_incident_upsert(void **st)
{
	struct state *s;
	char err[256] = "", b[4096];
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), 0);
	/* the alerts of test_alerts_and_queries are there: r-low (pid 100,
	 * ...01.000000001) and r-high (pid 101, ...03) */
	assert_int_equal(upsert(s, incident_json(b, sizeof(b), "new", 70, "2024-01-01T00:00:01.000000001Z",
								 MEMBER("signal", "2024-01-01T00:00:00Z", "weak", 100) ","
								 MEMBER("alert", "2024-01-01T00:00:01.000000001Z", "r-low", 100))),
			 0);
	struct inc_rows r = {0};
	assert_int_equal(state_incident_get(s, "inc-00000000000000ab", collect_inc, &r, err, sizeof(err)), 1);
	assert_int_equal(r.score[0], 70);
	assert_int_equal(r.updates[0], 1);
	assert_int_equal(r.nalerts[0], 1);
	/* an update: same row, new score and last time, one more alert (its
	 * member timestamp a little off: matched by the nearest) */
	assert_int_equal(upsert(s, incident_json(b, sizeof(b), "updated", 120, "2024-01-01T00:00:03Z",
								 MEMBER("alert", "2024-01-01T00:00:01.000000001Z", "r-low", 100) ","
								 MEMBER("alert", "2024-01-01T00:00:03.5Z", "r-high", 101) ","
								 MEMBER("alert", "2024-01-01T00:00:03Z", "unknown-rule", 5))),
			 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(state_incident_get(s, "inc-00000000000000ab", collect_inc, &r, err, sizeof(err)), 1);
	assert_int_equal(r.score[0], 120);
	assert_int_equal(r.updates[0], 2);
	assert_int_equal(r.nalerts[0], 2);
	assert_int_equal(r.first[0], 1704067201000000001ULL);
	assert_int_equal(r.last[0], 1704067203000000000ULL);
	assert_int_equal(scalar("SELECT count(*) FROM incidents"), 1);
	assert_int_equal(scalar("SELECT count(*) FROM incident_alerts"), 2);
	assert_int_equal(scalar("SELECT json LIKE '%\"status\":\"updated\"%' FROM incidents"), 1);
	/* a prefix finds it; a wrong id does not */
	memset(&r, 0, sizeof(r));
	assert_int_equal(state_incident_get(s, "00000000000000a", collect_inc, &r, err, sizeof(err)), 1);
	assert_string_equal(r.id[0], "inc-00000000000000ab");
	assert_int_equal(state_incident_get(s, "inc-ffff", collect_inc, &r, err, sizeof(err)), 0);
	assert_int_equal(state_incident_get(s, "%", collect_inc, &r, err, sizeof(err)), 0);
	/* the incident's alerts; each alert names its incident */
	struct state_alert_query q;
	state_alert_query_init(&q);
	q.incident_id = "inc-00000000000000ab";
	struct rows ar = {0};
	assert_int_equal(state_alerts(s, &q, collect, &ar, err, sizeof(err)), 2);
	assert_string_equal(ar.rules[0], "r-low");
	assert_string_equal(ar.rules[1], "r-high");
	assert_string_equal(ar.inc[0], "inc-00000000000000ab");
	memset(&r, 0, sizeof(r));
	assert_int_equal(state_incidents(s, 0, -1, collect_inc, &r, err, sizeof(err)), 1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(state_incidents(s, 1704067204000000000ULL, -1, collect_inc, &r, err, sizeof(err)), 0);
	assert_int_equal(state_incidents(s, 0, 4, collect_inc, &r, err, sizeof(err)), 0);
	/* not an incident */
	assert_int_equal(state_upsert_incident(s, "{\"kind\":\"incident\"}", 19), -1);
	state_close(s);
}

struct act_rows {
	int n;
	char action[8][32], target[8][64], result[8][32];
};

static int collect_act(void *ctx, const struct state_action *a)
{
	struct act_rows *r = ctx;
	snprintf(r->action[r->n], 32, "%s", a->action);
	snprintf(r->target[r->n], 64, "%s", a->target ? a->target : "");
	snprintf(r->result[r->n], 32, "%s", a->result ? a->result : "");
	r->n++;
	return 0;
}

static void test_actions(void **st)
{
	struct state *s;
	char err[256] = "";
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), 0);
	int64_t a = state_add_action(s, 2000, "rule:r-high", "kill", "pid:101", "ok", "{\"signal\":9}");
	int64_t b = state_add_action(s, 1000, "operator", "quarantine", "/tmp/x", "failed: ENOENT", NULL);
	assert_true(a > 0 && b > a);
	assert_int_equal(state_add_action(s, 1, "x", NULL, NULL, NULL, NULL), -1);
	struct act_rows r = {0};
	assert_int_equal(state_actions(s, 0, collect_act, &r, err, sizeof(err)), 2);
	assert_string_equal(r.action[0], "quarantine");
	assert_string_equal(r.result[0], "failed: ENOENT");
	assert_string_equal(r.action[1], "kill");
	assert_string_equal(r.target[1], "pid:101");
	memset(&r, 0, sizeof(r));
	assert_int_equal(state_actions(s, 1500, collect_act, &r, err, sizeof(err)), 1);
	assert_int_equal(scalar("SELECT count(*) FROM actions WHERE json IS NULL"), 1);
	state_close(s);
}

/* Actions queued to the writer thread (vigild's responder never waits on
 * state.db): all of them are there, in order, NULL fields kept NULL, once
 * state_close has drained the queue. */
static void test_queued_actions(void **st)
{
	struct state *s;
	char err[256] = "";
	assert_int_equal(state_open(&s, dir, false, err, sizeof(err)), 0);
	assert_int_equal(state_start_writer(s), 0);
	for (int i = 0; i < 5; i++) {
		char target[32];
		snprintf(target, sizeof(target), "pid:%d", 200 + i);
		assert_int_equal(state_queue_action(s, 3000 + (uint64_t)i, "rule:q", "kill", target, "ok", NULL), 0);
	}
	assert_int_equal(state_queue_action(s, 4000, NULL, "isolate", NULL, NULL, "{\"host\":true}"), 0);
	assert_int_equal(state_queue_action(s, 1, "x", NULL, NULL, NULL, NULL), -1);
	state_close(s);
	assert_int_equal(state_open(&s, dir, true, err, sizeof(err)), 0);
	struct act_rows r = {0};
	assert_int_equal(state_actions(s, 2500, collect_act, &r, err, sizeof(err)), 6);
	for (int i = 0; i < 5; i++) {
		char target[32];
		snprintf(target, sizeof(target), "pid:%d", 200 + i);
		assert_string_equal(r.action[i], "kill");
		assert_string_equal(r.target[i], target);
	}
	assert_string_equal(r.action[5], "isolate");
	assert_string_equal(r.target[5], "");
	state_close(s);
	assert_int_equal(scalar("SELECT count(*) FROM actions WHERE actor IS NULL AND target IS NULL "
				"AND result IS NULL AND json = '{\"host\":true}'"), 1);
}

/* The real engine's alerts and incidents, stored through the output hook. */
static void record_out(void *ctx, const struct engine_output *o)
{
	state_record_output(ctx, o);
}

static void test_engine_output(void **st)
{
	char sub[600], err[256] = "";
	snprintf(sub, sizeof(sub), "%s/engine", dir);
	struct state *s;
	assert_int_equal(state_open(&s, sub, false, err, sizeof(err)), 0);
	/* as in vigild: a writer thread takes the outputs from a queue */
	assert_int_equal(state_start_writer(s), 0);
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine("title: evil\nid: evil-rule\nlevel: high\ntags: [attack.execution, attack.t1059]\n"
				     "logsource: {product: linux, category: process_creation}\n"
				     "detection:\n  sel:\n    Image|endswith: '/evil'\n  condition: sel\n",
				     cap, NULL);
	engine_set_output(e, record_out, s);
	char ev[4096];
	feed(e, mkev(ev, sizeof(ev), "exec", 4242, 1, 4200, "/tmp/evil", NULL, ""), T0);
	feed(e, mkev(ev, sizeof(ev), "exec", 4243, 4242, 4200, "/tmp/evil", NULL, ""), T0 + SEC);
	feed(e, mkev(ev, sizeof(ev), "exec", 4244, 4242, 4200, "/bin/ls", NULL, ""), T0 + 2 * SEC);
	engine_free(e);
	free(cap);
	uint64_t written, dropped;
	state_close(s); /* drains the queue */
	assert_int_equal(state_open(&s, sub, true, err, sizeof(err)), 0);
	struct state_alert_query q;
	state_alert_query_init(&q);
	struct rows r = {0};
	assert_int_equal(state_alerts(s, &q, collect, &r, err, sizeof(err)), 2);
	assert_string_equal(r.rules[0], "evil-rule");
	assert_int_equal(r.pids[0], 4242);
	assert_int_equal(r.pids[1], 4243);
	assert_int_equal(r.ts[0], T0);
	/* high alerts make an incident; both alerts belong to it */
	struct inc_rows ir = {0};
	assert_int_equal(state_incidents(s, 0, -1, collect_inc, &ir, err, sizeof(err)), 1);
	assert_int_equal(ir.nalerts[0], 2);
	assert_non_null(strstr(r.inc[0], "inc-"));
	assert_string_equal(r.inc[0], ir.id[0]);
	assert_string_equal(r.inc[1], ir.id[0]);
	state_record_output(NULL, NULL); /* no store: nothing */
	state_writer_stats(s, &written, &dropped); /* a reader's: none */
	assert_int_equal(written + dropped, 0);
	state_close(s);
}

static void test_jsonv(void **st)
{
	struct jdoc d;
	jdoc_init(&d);
	const char *j = "{\"a\":{\"b\":[1,\"x\\u00e9\\ud83d\\ude00\\n\",true,null,{\"c\":-2.5e3}]},\"d\":\"\",\"e\":false} ";
	const struct jnode *r = jdoc_parse(&d, j, strlen(j));
	assert_non_null(r);
	assert_int_equal(jget(r, "a.b")->n, 5);
	assert_string_equal(jtext(jat(jget(r, "a.b"), 0), NULL), "1");
	assert_string_equal(jtext(jat(jget(r, "a.b"), 1), NULL), "x\xc3\xa9\xf0\x9f\x98\x80\n");
	assert_true(jbool(jat(jget(r, "a.b"), 2), "", false) || jat(jget(r, "a.b"), 2)->type == JV_BOOL);
	assert_null(jtext(jat(jget(r, "a.b"), 3), NULL));
	assert_string_equal(jstr(jat(jget(r, "a.b"), 4), "c", ""), "-2.5e3");
	assert_string_equal(jstr(r, "d", "?"), "");
	assert_false(jbool(r, "e", true));
	assert_null(jget(r, "a.x"));
	assert_null(jget(r, "d.x"));
	assert_int_equal(jint(r, "a.b", 7), 7);
	const char *bad[] = {"{", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"abc", "{\"a\":tru}", "{\"a\" 1}", "\"\\q\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(jdoc_parse(&d, bad[i], strlen(bad[i])));
		assert_non_null(d.err);
	}
	char deep[300];
	memset(deep, '[', sizeof(deep));
	assert_null(jdoc_parse(&d, deep, sizeof(deep)));
	/* a big document spans arena blocks */
	struct strbuf sb;
	sb_init(&sb);
	sb_putc(&sb, '[');
	for (int i = 0; i < 20000; i++)
		sb_printf(&sb, "%s{\"k\":\"value number %d\"}", i ? "," : "", i);
	sb_putc(&sb, ']');
	r = jdoc_parse(&d, sb.buf, sb.len);
	assert_non_null(r);
	assert_int_equal(r->n, 20000);
	assert_string_equal(jstr(jat(r, 19999), "k", ""), "value number 19999");
	sb_free(&sb);
	jdoc_free(&d);
}

static void test_rfc3339(void **st)
{
	uint64_t ns;
	assert_int_equal(vg_parse_rfc3339("1970-01-01T00:00:00Z", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(vg_parse_rfc3339("2024-01-01T00:00:01.5Z", &ns), 0);
	assert_int_equal(ns, 1704067201500000000ULL);
	assert_int_equal(vg_parse_rfc3339("2024-01-01T01:00:01.000000001+01:00", &ns), 0);
	assert_int_equal(ns, 1704067201000000001ULL);
	assert_int_equal(vg_parse_rfc3339("2024-01-01", &ns), 0);
	assert_int_equal(ns, 1704067200000000000ULL);
	assert_int_equal(vg_parse_rfc3339("2024-01-01 00:01", &ns), 0);
	assert_int_equal(ns, 1704067260000000000ULL);
	assert_int_equal(vg_parse_rfc3339("2024-13-01T00:00:00Z", &ns), -1);
	assert_int_equal(vg_parse_rfc3339("2024-01-01T00:00:00Zjunk", &ns), -1);
	assert_int_equal(vg_parse_rfc3339("10m", &ns), -1);
	char buf[64];
	vg_format_rfc3339(1704067201000000001ULL, buf, sizeof(buf));
	assert_string_equal(buf, "2024-01-01T00:00:01.000000001Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_alerts_and_queries),
		cmocka_unit_test(test_incident_upsert),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_queued_actions),
		cmocka_unit_test(test_engine_output),
		cmocka_unit_test(test_jsonv),
		cmocka_unit_test(test_rfc3339),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
