/* Correlation rules: event_count and value_count windows, temporal and
 * temporal_ordered sequences, group-by, aliases, generate, lt conditions
 * decided at window close, reference errors, and memory bounded under a
 * flood of distinct group keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "engtest.h"

#define DET(name, suffix, level)                                                                     \
	"title: " name "\nname: " name "\nid: " name "\nlevel: " level "\n"                            \
	"logsource: {product: linux, category: process_creation}\n"                                    \
	"detection:\n  sel:\n    Image|endswith: '" suffix "'\n  condition: sel\n---\n"

static char ev[4096];

static const char *exec_ev(int pid, int sid, const char *exe)
{
	return mkev(ev, sizeof(ev), "exec", pid, 1, sid, exe, NULL, "");
}

static void test_event_count_window(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(DET("fail", "/fail", "medium")
				     "title: many fails\nid: many_fails\nlevel: high\n"
				     "correlation:\n  type: event_count\n  rules: [fail]\n  group-by: [host.name]\n"
				     "  timespan: 10s\n  condition: {gte: 3}\n",
				     cap, NULL);
	feed(e, exec_ev(100, 1, "/bin/fail"), T0);
	feed(e, exec_ev(101, 1, "/bin/fail"), T0 + 5 * SEC);
	/* the first event has left the 10 s window: 2 in it */
	feed(e, exec_ev(102, 1, "/bin/fail"), T0 + 11 * SEC);
	assert_int_equal(cap->n, 0); /* referenced, generate false: no alert of its own */
	feed(e, exec_ev(103, 1, "/bin/fail"), T0 + 12 * SEC);
	assert_int_equal(count_rule(cap, "many_fails", false), 1);
	const struct out_rec *a = last_of(cap, "many_fails", false);
	char b[256];
	assert_string_equal(out_get(a, "kind", b, sizeof(b)), "alert");
	assert_string_equal(out_get(a, "correlation.type", b, sizeof(b)), "event_count");
	assert_string_equal(out_get(a, "correlation.count", b, sizeof(b)), "3");
	assert_string_equal(out_get(a, "correlation.group.host.name", b, sizeof(b)), "h1");
	assert_string_equal(out_get(a, "rule.level", b, sizeof(b)), "high");
	/* every contributing event inside the window, embedded as objects */
	size_t n;
	const char *evs = json_get(a->json, a->len, "events", &n);
	assert_non_null(evs);
	assert_non_null(strstr(a->json, "\"pid\":101"));
	assert_non_null(strstr(a->json, "\"pid\":102"));
	assert_non_null(strstr(a->json, "\"pid\":103"));
	assert_null(strstr(a->json, "\"pid\":100,"));
	/* the group starts over after firing, and a sustained burst alerts
	 * once per timespan, not once per threshold */
	for (int i = 0; i < 9; i++)
		feed(e, exec_ev(104 + i, 1, "/bin/fail"), T0 + 13 * SEC + (uint64_t)i * SEC);
	assert_int_equal(count_rule(cap, "many_fails", false), 1);
	feed(e, exec_ev(113, 1, "/bin/fail"), T0 + 22 * SEC);
	assert_int_equal(count_rule(cap, "many_fails", false), 2);
	a = last_of(cap, "many_fails", false);
	/* the ring keeps what decides the condition: the count says "at least" */
	assert_string_equal(out_get(a, "correlation.count", b, sizeof(b)), "3");
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static const char *ORDERED = DET("s1", "/step1", "medium") DET("s2", "/step2", "medium")
	DET("s3", "/step3", "medium") "title: three steps\nid: steps\nlevel: high\n"
				      "correlation:\n  type: temporal_ordered\n  rules: [s1, s2, s3]\n"
				      "  group-by: [vigil.sid]\n  timespan: 60s\n";

static void test_temporal_ordered(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(ORDERED, cap, NULL);
	/* out of order: never fires */
	feed(e, exec_ev(10, 5, "/x/step2"), T0 + 1 * SEC);
	feed(e, exec_ev(11, 5, "/x/step3"), T0 + 2 * SEC);
	feed(e, exec_ev(12, 5, "/x/step1"), T0 + 3 * SEC);
	feed(e, exec_ev(13, 5, "/x/step3"), T0 + 4 * SEC);
	feed(e, exec_ev(14, 5, "/x/step3"), T0 + 5 * SEC);
	assert_int_equal(count_rule(cap, "steps", false), 0);
	feed(e, exec_ev(15, 5, "/x/step2"), T0 + 6 * SEC);
	assert_int_equal(count_rule(cap, "steps", false), 0);
	feed(e, exec_ev(16, 5, "/x/step3"), T0 + 7 * SEC);
	assert_int_equal(count_rule(cap, "steps", false), 1);
	const struct out_rec *a = last_of(cap, "steps", false);
	/* the chain's events in order: step1 (12), step2 (15), step3 (16) */
	const char *evs = strstr(a->json, "\"events\":[");
	assert_non_null(evs);
	const char *p12 = strstr(evs, "\"pid\":12,"), *p15 = strstr(evs, "\"pid\":15,"), *p16 = strstr(evs, "\"pid\":16,");
	assert_non_null(p12);
	assert_non_null(p15);
	assert_non_null(p16);
	assert_true(p12 < p15 && p15 < p16);
	char b[64];
	assert_string_equal(out_get(a, "correlation.group.vigil.sid", b, sizeof(b)), "5");
	assert_string_equal(out_get(a, "correlation.count", b, sizeof(b)), "3");
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_temporal_ordered_window(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(ORDERED, cap, NULL);
	/* in order but spread over more than the timespan */
	feed(e, exec_ev(20, 6, "/x/step1"), T0);
	feed(e, exec_ev(21, 6, "/x/step2"), T0 + 30 * SEC);
	feed(e, exec_ev(22, 6, "/x/step3"), T0 + 61 * SEC);
	assert_int_equal(count_rule(cap, "steps", false), 0);
	/* one event that matches two steps advances one step only */
	engine_free(e);
	cap_clear(cap);
	e = mk_engine(DET("a", "/ab", "medium") DET("b", "b", "medium")
		      "title: a then b\nid: ab\nlevel: high\ncorrelation:\n  type: temporal_ordered\n"
		      "  rules: [a, b]\n  group-by: [vigil.sid]\n  timespan: 60s\n",
		      cap, NULL);
	feed(e, exec_ev(30, 7, "/x/ab"), T0);
	assert_int_equal(count_rule(cap, "ab", false), 0);
	feed(e, exec_ev(31, 7, "/x/b"), T0 + SEC);
	assert_int_equal(count_rule(cap, "ab", false), 1);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_temporal_any_order(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(DET("s1", "/step1", "medium") DET("s2", "/step2", "medium")
				     DET("s3", "/step3", "medium") "title: three any order\nid: any3\nlevel: high\n"
				     "correlation:\n  type: temporal\n  rules: [s1, s2, s3]\n"
				     "  group-by: [vigil.sid]\n  timespan: 60s\n  generate: true\n",
				     cap, NULL);
	feed(e, exec_ev(40, 8, "/x/step3"), T0);
	feed(e, exec_ev(41, 8, "/x/step1"), T0 + SEC);
	/* generate: true lets the referenced rules alert on their own */
	assert_int_equal(count_rule(cap, "s3", false), 1);
	assert_int_equal(count_rule(cap, "s1", false), 1);
	assert_int_equal(count_rule(cap, "any3", false), 0);
	feed(e, exec_ev(42, 8, "/x/step2"), T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, "any3", false), 1);
	/* expired: s1 and s3 are older than 60 s by now */
	feed(e, exec_ev(43, 8, "/x/step1"), T0 + 100 * SEC);
	feed(e, exec_ev(44, 8, "/x/step2"), T0 + 101 * SEC);
	feed(e, exec_ev(45, 8, "/x/step3"), T0 + 170 * SEC);
	assert_int_equal(count_rule(cap, "any3", false), 1);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_group_by_separation(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(DET("x", "/x", "medium")
				     "title: two per session\nid: two\nlevel: high\n"
				     "correlation:\n  type: event_count\n  rules: [x]\n  group-by: [vigil.sid, host.name]\n"
				     "  timespan: 1m\n  condition: {gte: 2}\n",
				     cap, NULL);
	feed(e, exec_ev(50, 1, "/bin/x"), T0);
	feed(e, exec_ev(51, 2, "/bin/x"), T0 + SEC);
	feed(e, exec_ev(52, 3, "/bin/x"), T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, "two", false), 0);
	feed(e, exec_ev(53, 2, "/bin/x"), T0 + 3 * SEC);
	assert_int_equal(count_rule(cap, "two", false), 1);
	char b[64];
	assert_string_equal(out_get(last_of(cap, "two", false), "correlation.group.vigil.sid", b, sizeof(b)), "2");
	/* group by the process tree: ancestors put an event in several groups */
	engine_free(e);
	cap_clear(cap);
	e = mk_engine(DET("x", "/x", "medium")
		      "title: two in a tree\nid: tree2\nlevel: high\n"
		      "correlation:\n  type: event_count\n  rules: [x]\n  group-by: [vigil.ancestors.pid]\n"
		      "  timespan: 1m\n  condition: {gte: 2}\n",
		      cap, NULL);
	feed(e, mkev(ev, sizeof(ev), "exec", 60, 59, 1, "/bin/x", "[{\"pid\":59},{\"pid\":58}]", ""), T0);
	feed(e, mkev(ev, sizeof(ev), "exec", 70, 69, 1, "/bin/x", "[{\"pid\":69},{\"pid\":68}]", ""), T0 + SEC);
	assert_int_equal(count_rule(cap, "tree2", false), 0);
	/* a grandchild of 58 */
	feed(e, mkev(ev, sizeof(ev), "exec", 61, 60, 1, "/bin/x", "[{\"pid\":60},{\"pid\":59},{\"pid\":58}]", ""),
	     T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, "tree2", false), 2); /* groups 59 and 58 */
	/* an event without the group-by field takes no part */
	feed(e, exec_ev(71, 1, "/bin/x"), T0 + 3 * SEC);
	feed(e, exec_ev(72, 1, "/bin/x"), T0 + 4 * SEC);
	assert_int_equal(count_rule(cap, "tree2", false), 2);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_aliases(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(
		"title: drop\nname: drop\nlevel: low\nlogsource: {product: linux, category: file_event}\n"
		"detection:\n  sel:\n    TargetFilename|startswith: '/tmp/'\n  condition: sel\n---\n"
		"title: run\nname: run\nlevel: low\nlogsource: {product: linux, category: process_creation}\n"
		"detection:\n  sel:\n    Image|startswith: '/tmp/'\n  condition: sel\n---\n"
		"title: drop then run\nid: droprun\nlevel: high\ncorrelation:\n  type: temporal_ordered\n"
		"  rules: [drop, run]\n  group-by: [path]\n  timespan: 5m\n"
		"  aliases:\n    path:\n      drop: TargetFilename\n      run: Image\n",
		cap, NULL);
	feed(e, mkev(ev, sizeof(ev), "file_create", 80, 1, 9, "/usr/bin/curl", NULL, "\"file\":{\"path\":\"/tmp/x\"}"),
	     T0);
	feed(e, exec_ev(81, 9, "/tmp/y"), T0 + SEC);
	assert_int_equal(count_rule(cap, "droprun", false), 0);
	feed(e, exec_ev(82, 9, "/tmp/x"), T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, "droprun", false), 1);
	char b[64];
	const struct out_rec *a = last_of(cap, "droprun", false);
	assert_string_equal(out_get(a, "correlation.group.path", b, sizeof(b)), "/tmp/x");
	assert_non_null(strstr(a->json, "\"/usr/bin/curl\""));
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_value_count(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(
		"title: conn\nname: conn\nlevel: low\nlogsource: {product: linux, category: network_connection}\n"
		"detection:\n  sel:\n    DestinationPort: 22\n  condition: sel\n---\n"
		"title: scan\nid: scan\nlevel: high\ncorrelation:\n  type: value_count\n  rules: [conn]\n"
		"  group-by: [process.pid]\n  timespan: 30s\n  condition: {field: DestinationIp, gte: 3}\n",
		cap, NULL);
	const char *d1 = "\"destination\":{\"ip\":\"10.0.0.1\",\"port\":22}";
	const char *d2 = "\"destination\":{\"ip\":\"10.0.0.2\",\"port\":22}";
	const char *d3 = "\"destination\":{\"ip\":\"10.0.0.3\",\"port\":22}";
	for (int i = 0; i < 5; i++)
		feed(e, mkev(ev, sizeof(ev), "connect", 90, 1, 1, "/usr/bin/ssh", NULL, d1), T0 + (uint64_t)i * SEC);
	feed(e, mkev(ev, sizeof(ev), "connect", 90, 1, 1, "/usr/bin/ssh", NULL, d2), T0 + 5 * SEC);
	/* another process's distinct value counts for its own group */
	feed(e, mkev(ev, sizeof(ev), "connect", 91, 1, 1, "/usr/bin/ssh", NULL, d3), T0 + 6 * SEC);
	assert_int_equal(count_rule(cap, "scan", false), 0);
	feed(e, mkev(ev, sizeof(ev), "connect", 90, 1, 1, "/usr/bin/ssh", NULL, d3), T0 + 7 * SEC);
	assert_int_equal(count_rule(cap, "scan", false), 1);
	char b[64];
	assert_string_equal(out_get(last_of(cap, "scan", false), "correlation.count", b, sizeof(b)), "3");
	/* distinct values age out of the window */
	feed(e, mkev(ev, sizeof(ev), "connect", 92, 1, 1, "/usr/bin/ssh", NULL, d1), T0 + 10 * SEC);
	feed(e, mkev(ev, sizeof(ev), "connect", 92, 1, 1, "/usr/bin/ssh", NULL, d2), T0 + 20 * SEC);
	feed(e, mkev(ev, sizeof(ev), "connect", 92, 1, 1, "/usr/bin/ssh", NULL, d3), T0 + 45 * SEC);
	assert_int_equal(count_rule(cap, "scan", false), 1);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_lt_at_window_close(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(DET("beat", "/beat", "low") DET("other", "/other", "low")
				     "title: too few beats\nid: fewbeats\nlevel: medium\n"
				     "correlation:\n  type: event_count\n  rules: [beat]\n  group-by: [process.pid]\n"
				     "  timespan: 10s\n  condition: {lt: 3}\n",
				     cap, NULL);
	feed(e, exec_ev(1000, 1, "/bin/beat"), T0);
	feed(e, exec_ev(1000, 1, "/bin/beat"), T0 + SEC);
	for (int i = 0; i < 3; i++)
		feed(e, exec_ev(2000, 1, "/bin/beat"), T0 + (uint64_t)i * SEC);
	assert_int_equal(count_rule(cap, "fewbeats", false), 0); /* decided when the window closes */
	feed(e, exec_ev(3000, 1, "/bin/other"), T0 + 12 * SEC);
	assert_int_equal(count_rule(cap, "fewbeats", false), 1);
	char b[64];
	const struct out_rec *a = last_of(cap, "fewbeats", false);
	assert_string_equal(out_get(a, "correlation.group.process.pid", b, sizeof(b)), "1000");
	assert_string_equal(out_get(a, "correlation.count", b, sizeof(b)), "2");
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_chained_correlation(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(DET("x", "/x", "medium")
				     "title: pair\nname: pair\nid: pair\nlevel: medium\n"
				     "correlation:\n  type: event_count\n  rules: [x]\n  group-by: [vigil.sid]\n"
				     "  timespan: 1m\n  condition: {gte: 2}\n---\n"
				     "title: pairs in two sessions\nid: pairs2\nlevel: high\n"
				     "correlation:\n  type: value_count\n  rules: [pair]\n  group-by: [host.name]\n"
				     "  timespan: 1m\n  condition: {field: vigil.sid, gte: 2}\n",
				     cap, NULL);
	feed(e, exec_ev(1, 1, "/bin/x"), T0);
	feed(e, exec_ev(2, 1, "/bin/x"), T0 + SEC);
	feed(e, exec_ev(3, 2, "/bin/x"), T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, "pairs2", false), 0);
	feed(e, exec_ev(4, 2, "/bin/x"), T0 + 3 * SEC);
	assert_int_equal(count_rule(cap, "pairs2", false), 1);
	assert_int_equal(count_rule(cap, "pair", false), 0); /* referenced, generate false */
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_reference_errors(void **state)
{
	struct engine *e = engine_new(NULL);
	struct strbuf errs;
	sb_init(&errs);
	assert_int_equal(engine_load_text(e,
					  DET("x", "/x", "high") "title: broken\nid: broken\nlevel: high\n"
								 "correlation:\n  type: event_count\n  rules: [nope]\n"
								 "  group-by: [host.name]\n  timespan: 1m\n"
								 "  condition: {gte: 2}\n",
					  "refs.yml", &errs),
			 2);
	assert_int_equal(errs.len, 0);
	assert_int_equal(engine_compile(e, &errs), 0);
	assert_non_null(strstr(errs.buf, "refs.yml:11: "));
	assert_non_null(strstr(errs.buf, "'nope'"));
	/* the other rule still works */
	struct captured *cap = calloc(1, sizeof(*cap));
	engine_set_output(e, cap_fn, cap);
	feed(e, exec_ev(1, 1, "/bin/x"), T0);
	assert_int_equal(count_rule(cap, "x", false), 1);
	engine_free(e);
	sb_free(&errs);
	cap_clear(cap);
	free(cap);
}

/* A file storm as vigild sees one: create, rename and delete by one
 * process, a millisecond apart, events of varying size. Each burst fires at
 * its threshold and then once per timespan with the latest events embedded
 * intact; deletes (a category no member rule has), an excluded program and
 * a slower process never count. */
static const char *STORM =
	"title: written\nname: written\nid: written\nlevel: informational\n"
	"logsource: {product: linux, category: file_event}\n"
	"detection:\n  sel:\n    event.action: file_create\n  filter:\n    process.executable|endswith: /tar\n"
	"  condition: sel and not filter\n---\n"
	"title: renamed\nname: renamed\nid: renamed\nlevel: informational\n"
	"logsource: {product: linux, category: file_rename}\n"
	"detection:\n  sel:\n    event.action: file_rename\n  condition: sel\n---\n"
	"title: write burst\nid: wburst\nlevel: medium\n"
	"correlation:\n  type: event_count\n  rules: [written]\n  group-by: [host.name, process.pid]\n"
	"  timespan: 10s\n  condition: {gte: 50}\n---\n"
	"title: rename burst\nid: rburst\nlevel: high\n"
	"correlation:\n  type: event_count\n  rules: [renamed]\n  group-by: [host.name, process.pid]\n"
	"  timespan: 10s\n  condition: {gte: 50}\n";

static const char *storm_ev(const char *action, int pid, const char *exe, int seq)
{
	char extra[1024], pad[720];
	int n = (seq * 37) % 700;
	memset(pad, 'p', (size_t)n);
	pad[n] = 0;
	snprintf(extra, sizeof(extra), "\"file\":{\"path\":\"/tmp/wl/f\"},\"pad\":\"%s\",\"seq\":%d", pad, seq);
	return mkev(ev, sizeof(ev), action, pid, 1, 7, exe, NULL, extra);
}

static void test_file_storm(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(STORM, cap, NULL);
	const uint64_t MS = SEC / 1000;
	for (int i = 0; i < 21000; i++) {
		uint64_t t = T0 + (uint64_t)i * MS;
		feed(e, storm_ev("file_create", 900, "/opt/wl", i), t);
		feed(e, storm_ev("file_rename", 900, "/opt/wl", i), t + MS / 3);
		feed(e, storm_ev("file_delete", 900, "/opt/wl", i), t + 2 * MS / 3);
		feed(e, storm_ev("file_create", 901, "/usr/bin/tar", i), t + MS / 2);
		if (i % 300 == 0)
			feed(e, storm_ev("file_create", 902, "/opt/slow", i), t + MS / 2);
		if (i < 60) { /* 40 writes and many deletes: below the threshold */
			if (i < 40)
				feed(e, storm_ev("file_create", 903, "/opt/del", i), t + MS / 2);
			feed(e, storm_ev("file_delete", 903, "/opt/del", i), t + MS / 2);
			feed(e, storm_ev("file_delete", 903, "/opt/del", i), t + MS / 2);
		}
	}
	/* at the 50th event, then at the first one a timespan later, twice */
	assert_int_equal(count_rule(cap, "wburst", false), 3);
	assert_int_equal(count_rule(cap, "rburst", false), 3);
	assert_int_equal(count_rule(cap, "written", false), 0); /* building blocks alert nowhere */
	char b[64];
	int nw = 0;
	for (int i = 0; i < cap->n; i++) {
		const struct out_rec *a = &cap->o[i];
		if (a->incident || strcmp(a->rule_id, "wburst"))
			continue;
		assert_string_equal(out_get(a, "correlation.group.process.pid", b, sizeof(b)), "900");
		assert_string_equal(out_get(a, "correlation.count", b, sizeof(b)), "50");
		/* the 20 latest writes, copied whole whatever their size */
		int last = (int[]){49, 10049, 20049}[nw++];
		for (int s = last - 19; s <= last; s++) {
			char want[800], pad[720];
			int n = (s * 37) % 700;
			memset(pad, 'p', (size_t)n);
			pad[n] = 0;
			snprintf(want, sizeof(want), "\"pad\":\"%s\",\"seq\":%d,", pad, s);
			assert_non_null(strstr(a->json, want));
		}
		snprintf(b, sizeof(b), "\"seq\":%d,", last - 20);
		assert_null(strstr(a->json, b));
	}
	assert_int_equal(nw, 3);
	struct engine_stats st;
	engine_stats(e, &st);
	assert_int_equal(st.alerts, 6);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_flood_bounded(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine_opts o = {.max_corr_keys = 10000};
	struct engine *e = mk_engine(DET("x", "/x", "medium")
				     "title: repeated path\nid: rep\nlevel: high\n"
				     "correlation:\n  type: event_count\n  rules: [x]\n  group-by: [file.path]\n"
				     "  timespan: 1h\n  condition: {gte: 5}\n",
				     cap, &o);
	char extra[256];
	/* warm up, then measure growth over 1M distinct keys */
	for (int i = 0; i < 20000; i++) {
		snprintf(extra, sizeof(extra), "\"file\":{\"path\":\"/warm/%d\"}", i);
		feed(e, mkev(ev, sizeof(ev), "exec", 5, 1, 1, "/bin/x", NULL, extra), T0 + (uint64_t)i * 1000);
	}
	long before = rss_kib();
	for (int i = 0; i < 1000000; i++) {
		snprintf(extra, sizeof(extra), "\"file\":{\"path\":\"/flood/%d\"}", i);
		feed(e, mkev(ev, sizeof(ev), "exec", 5, 1, 1, "/bin/x", NULL, extra), T0 + 20 * SEC + (uint64_t)i * 1000);
	}
	long after = rss_kib();
	struct engine_stats st;
	engine_stats(e, &st);
	assert_true(st.corr_keys <= 10000);
	assert_true(st.corr_evicted >= 1000000 + 20000 - 10000);
	assert_int_equal(st.events, 1020000);
	assert_int_equal(count_rule(cap, "rep", false), 0);
	fprintf(stderr, "flood: keys %llu evicted %llu, RSS %ld -> %ld KiB\n", (unsigned long long)st.corr_keys,
		(unsigned long long)st.corr_evicted, before, after);
	if (RSS_CHECKS)
		assert_true(after - before < 8 * 1024);
	/* a key that keeps coming back is not lost in the flood */
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_count_window),
		cmocka_unit_test(test_temporal_ordered),
		cmocka_unit_test(test_temporal_ordered_window),
		cmocka_unit_test(test_temporal_any_order),
		cmocka_unit_test(test_group_by_separation),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_value_count),
		cmocka_unit_test(test_lt_at_window_close),
		cmocka_unit_test(test_chained_correlation),
		cmocka_unit_test(test_reference_errors),
		cmocka_unit_test(test_flood_bounded),
		cmocka_unit_test(test_file_storm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
