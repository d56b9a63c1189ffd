/* Weak signals, session scores, the tactic-order bonus, incidents and how
 * related alerts merge into one incident (session, process tree, dropped
 * file, remote address); the alert JSON; bounded session state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "engtest.h"
#include "engine/engine_int.h"

#define RULE(name, suffix, level, tags, extra)                                                       \
	"title: " name " title\nid: " name "\nlevel: " level "\ntags: " tags "\n" extra                 \
	"logsource: {product: linux, category: process_creation}\n"                                    \
	"detection:\n  sel:\n    Image|endswith: '" suffix "'\n  condition: sel\n---\n"

static char ev[8192];

static const char *exec_ev(int pid, int sid, const char *exe)
{
	return mkev(ev, sizeof(ev), "exec", pid, 1, sid, exe, NULL, "");
}

static void test_signals_threshold(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(RULE("weak", "/weak", "low", "[]", "") RULE("info", "/info", "informational", "[]", ""),
				     cap, NULL);
	/* 11 low signals = 55 < 60: no alert, no incident */
	for (int i = 0; i < 11; i++)
		feed(e, exec_ev(100 + i, 7, "/bin/weak"), T0 + (uint64_t)i * SEC);
	assert_int_equal(cap->n, 0);
	/* other sessions do not add up */
	for (int i = 0; i < 20; i++)
		feed(e, exec_ev(200 + i, 8 + i, "/bin/weak"), T0 + 20 * SEC);
	assert_int_equal(cap->n, 0);
	/* informational: 2 points; 55 + 2 = 57 */
	feed(e, exec_ev(120, 7, "/bin/info"), T0 + 30 * SEC);
	assert_int_equal(cap->n, 0);
	feed(e, exec_ev(121, 7, "/bin/weak"), T0 + 31 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 1);
	const struct out_rec *inc = last_of(cap, NULL, true);
	char b[256];
	assert_string_equal(out_get(inc, "kind", b, sizeof(b)), "incident");
	assert_string_equal(out_get(inc, "incident.score", b, sizeof(b)), "62");
	assert_string_equal(out_get(inc, "session.id", b, sizeof(b)), "7");
	assert_string_equal(out_get(inc, "host.name", b, sizeof(b)), "h1");
	assert_string_equal(out_get(inc, "user.id", b, sizeof(b)), "1000");
	assert_string_equal(out_get(inc, "incident.status", b, sizeof(b)), "new");
	assert_string_equal(out_get(inc, "members.kind", b, sizeof(b)), "signal");
	assert_string_equal(out_get(inc, "members.rule.id", b, sizeof(b)), "weak");
	assert_non_null(strstr(inc->json, "\"id\":\"info\""));
	struct engine_stats st;
	engine_stats(e, &st);
	assert_int_equal(st.incidents, 1);
	assert_int_equal(st.alerts, 0);
	assert_int_equal(st.signals, 11 + 20 + 2);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static const char *TACTICS =
	RULE("exec", "/exec", "low", "[attack.execution, attack.t1059.004]", "vigil: {score: 25}\n")
	RULE("disc", "/disc", "low", "[attack.discovery, attack.t1082]", "vigil: {score: 25}\n")
	RULE("pers", "/pers", "low", "[attack.persistence]", "vigil: {score: 10}\n");

static void test_tactic_order_bonus(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(TACTICS, cap, NULL);
	/* against the kill chain: discovery then execution = 50, no bonus */
	feed(e, exec_ev(10, 1, "/bin/disc"), T0);
	feed(e, exec_ev(11, 1, "/bin/exec"), T0 + SEC);
	assert_int_equal(cap->n, 0);
	/* in order: execution then discovery = 50 * 1.25 = 62 */
	feed(e, exec_ev(20, 2, "/bin/exec"), T0 + 2 * SEC);
	feed(e, exec_ev(21, 2, "/bin/disc"), T0 + 3 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 1);
	const struct out_rec *inc = last_of(cap, NULL, true);
	char b[256];
	assert_string_equal(out_get(inc, "session.id", b, sizeof(b)), "2");
	assert_string_equal(out_get(inc, "incident.score", b, sizeof(b)), "62");
	assert_string_equal(out_get(inc, "threat.tactics", b, sizeof(b)), "execution");
	assert_non_null(strstr(inc->json, "\"tactics\":[\"execution\",\"discovery\"]"));
	assert_non_null(strstr(inc->json, "\"techniques\":[\"T1059.004\",\"T1082\"]"));
	/* a repeated tactic gives no further bonus; a new earlier one neither:
	 * session 1 gets persistence (10): 60 without bonus: an incident */
	feed(e, exec_ev(12, 1, "/bin/pers"), T0 + 4 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 2);
	assert_string_equal(out_get(last_of(cap, NULL, true), "incident.score", b, sizeof(b)), "60");
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_alerts_add_up(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(RULE("hi", "/hi", "high", "[attack.execution]", "")
				     RULE("med", "/med", "medium", "[attack.persistence]", "")
				     RULE("kill", "/kill", "critical", "[attack.impact]", "vigil: {response: kill}\n"),
				     cap, NULL);
	feed(e, exec_ev(30, 3, "/bin/hi"), T0);
	assert_int_equal(count_rule(cap, "hi", false), 1);
	assert_int_equal(count_rule(cap, NULL, true), 0); /* 40 */
	feed(e, exec_ev(31, 3, "/bin/med"), T0 + SEC);
	assert_int_equal(count_rule(cap, NULL, true), 1); /* (40 + 15) * 1.25 = 68 */
	const struct out_rec *inc = last_of(cap, NULL, true);
	char id[64], b[256];
	out_get(inc, "incident.id", id, sizeof(id));
	assert_true(strncmp(id, "inc-", 4) == 0);
	assert_string_equal(out_get(inc, "incident.score", b, sizeof(b)), "68");
	assert_string_equal(out_get(inc, "incident.level", b, sizeof(b)), "high");
	assert_string_equal(out_get(inc, "members.kind", b, sizeof(b)), "alert");
	/* later alerts of the session update the same incident */
	feed(e, exec_ev(32, 3, "/bin/kill"), T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 2);
	inc = last_of(cap, NULL, true);
	assert_string_equal(out_get(inc, "incident.id", b, sizeof(b)), id);
	assert_string_equal(out_get(inc, "incident.status", b, sizeof(b)), "updated");
	assert_string_equal(out_get(inc, "incident.members_total", b, sizeof(b)), "3");
	assert_string_equal(out_get(inc, "incident.level", b, sizeof(b)), "critical");
	/* (40 + 15 + 60) * 1.5 */
	assert_string_equal(out_get(inc, "incident.score", b, sizeof(b)), "172");
	/* the same alert again and again: one update per 10 s, not one each */
	for (int i = 0; i < 50; i++)
		feed(e, exec_ev(33 + i, 3, "/bin/hi"), T0 + 3 * SEC + (uint64_t)i * 100000000ULL);
	assert_int_equal(count_rule(cap, NULL, true), 2);
	feed(e, exec_ev(99, 3, "/bin/hi"), T0 + 12 * SEC + 1);
	assert_int_equal(count_rule(cap, NULL, true), 3);
	assert_string_equal(out_get(last_of(cap, NULL, true), "incident.members_total", b, sizeof(b)), "54");
	struct engine_stats st;
	engine_stats(e, &st);
	assert_int_equal(st.incidents, 1);
	assert_int_equal(st.alerts, 54);
	/* the alert itself: rule, threat, process chain, response */
	const struct out_rec *a = last_of(cap, "kill", false);
	assert_non_null(a);
	assert_string_equal(out_get(a, "response", b, sizeof(b)), "kill");
	assert_string_equal(out_get(a, "rule.level", b, sizeof(b)), "critical");
	assert_string_equal(out_get(a, "threat.tactics", b, sizeof(b)), "impact");
	assert_int_equal(a->level, 4);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_alert_json(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(RULE("rsh", "/bash", "high", "[attack.execution, attack.t1059.004, attack.t1059]", ""),
				     cap, NULL);
	feed(e,
	     mkev(ev, sizeof(ev), "exec", 300, 299, 42, "/usr/bin/bash",
		  "[{\"pid\":299,\"executable\":\"/usr/bin/nc\",\"args\":[\"nc\",\"-e\"],\"command_line\":\"nc -e "
		  "/bin/sh\"},{\"pid\":298,\"executable\":\"/usr/sbin/sshd\",\"command_line\":\"sshd: u\"}]",
		  "\"container\":{\"id\":\"abc123\"}"),
	     T0 + 123456789);
	assert_int_equal(cap->n, 1);
	const struct out_rec *a = &cap->o[0];
	char b[256];
	size_t n;
	assert_string_equal(out_get(a, "@timestamp", b, sizeof(b)), "2023-11-14T22:13:20.123456789Z");
	assert_string_equal(out_get(a, "kind", b, sizeof(b)), "alert");
	assert_string_equal(out_get(a, "rule.id", b, sizeof(b)), "rsh");
	assert_string_equal(out_get(a, "rule.title", b, sizeof(b)), "rsh title");
	assert_string_equal(out_get(a, "rule.file", b, sizeof(b)), "test.yml");
	assert_non_null(strstr(a->json, "\"techniques\":[\"T1059.004\",\"T1059\"]"));
	assert_string_equal(out_get(a, "host.name", b, sizeof(b)), "h1");
	assert_string_equal(out_get(a, "session.id", b, sizeof(b)), "42");
	assert_string_equal(out_get(a, "user.id", b, sizeof(b)), "1000");
	assert_string_equal(out_get(a, "container.id", b, sizeof(b)), "abc123");
	assert_string_equal(out_get(a, "process.pid", b, sizeof(b)), "300");
	assert_string_equal(out_get(a, "process.executable", b, sizeof(b)), "/usr/bin/bash");
	const char *chain = json_get(a->json, a->len, "process.chain", &n);
	assert_non_null(chain);
	assert_memory_equal(chain,
			    "[{\"pid\":300,\"executable\":\"/usr/bin/bash\",\"command_line\":\"/usr/bin/bash -x\"},"
			    "{\"pid\":299,\"executable\":\"/usr/bin/nc\",\"command_line\":\"nc -e /bin/sh\"},"
			    "{\"pid\":298,\"executable\":\"/usr/sbin/sshd\",\"command_line\":\"sshd: u\"}]",
			    n);
	/* the event, embedded as an object */
	const char *evs = json_get(a->json, a->len, "events", &n);
	assert_non_null(evs);
	assert_int_equal(n, strlen(ev) + 2);
	assert_memory_equal(evs + 1, ev, strlen(ev));
	assert_null(json_get(a->json, a->len, "response", &n));
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static const char *MERGE = RULE("crit", "/crit", "critical", "[attack.execution]", "")
	RULE("med", "/med", "medium", "[attack.persistence]", "")
	"title: dropped\nid: dropped\nlevel: medium\nlogsource: {product: linux, category: file_event}\n"
	"detection:\n  sel:\n    TargetFilename|startswith: '/tmp/'\n  condition: sel\n---\n"
	"title: c2\nid: c2\nlevel: medium\nlogsource: {product: linux, category: network_connection}\n"
	"detection:\n  sel:\n    DestinationPort: 4444\n  condition: sel\n";

/* The incident id of the last incident emitted, and its sessions. */
static void last_incident(const struct captured *cap, char *id, size_t cap_id)
{
	const struct out_rec *inc = last_of(cap, NULL, true);
	assert_non_null(inc);
	out_get(inc, "incident.id", id, cap_id);
}

static void test_merge_by_tree(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(MERGE, cap, NULL);
	feed(e, mkev(ev, sizeof(ev), "exec", 500, 400, 10, "/bin/crit", "[{\"pid\":400},{\"pid\":300}]", ""), T0);
	assert_int_equal(count_rule(cap, NULL, true), 1);
	char id[64], id2[64];
	last_incident(cap, id, sizeof(id));
	/* a descendant of 500 in another session (setsid): same incident */
	feed(e, mkev(ev, sizeof(ev), "exec", 600, 550, 20, "/bin/med", "[{\"pid\":550},{\"pid\":500},{\"pid\":400}]", ""),
	     T0 + SEC);
	assert_int_equal(count_rule(cap, NULL, true), 2);
	last_incident(cap, id2, sizeof(id2));
	assert_string_equal(id, id2);
	const struct out_rec *inc = last_of(cap, NULL, true);
	assert_non_null(strstr(inc->json, "\"sessions\":[{\"host\":\"h1\",\"id\":\"10\",\"user\":\"1000\"},"
					  "{\"host\":\"h1\",\"id\":\"20\",\"user\":\"1000\"}]"));
	/* an ancestor of 500 (its parent) in a third session: same incident */
	feed(e, mkev(ev, sizeof(ev), "exec", 400, 300, 30, "/bin/med", "[{\"pid\":300}]", ""), T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 3);
	last_incident(cap, id2, sizeof(id2));
	assert_string_equal(id, id2);
	/* unrelated: sibling tree, different session: no incident (15 points) */
	feed(e, mkev(ev, sizeof(ev), "exec", 700, 650, 40, "/bin/med", "[{\"pid\":650},{\"pid\":1}]", ""), T0 + 3 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 3);
	struct engine_stats st;
	engine_stats(e, &st);
	assert_int_equal(st.incidents, 1);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_merge_by_session(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(MERGE, cap, NULL);
	feed(e, exec_ev(800, 11, "/bin/crit"), T0);
	char id[64], id2[64];
	last_incident(cap, id, sizeof(id));
	/* an unrelated process of the same session */
	feed(e, exec_ev(900, 11, "/bin/med"), T0 + SEC);
	assert_int_equal(count_rule(cap, NULL, true), 2);
	last_incident(cap, id2, sizeof(id2));
	assert_string_equal(id, id2);
	/* the same on another host is another session */
	feed(e, "{\"event\":{\"action\":\"exec\"},\"host\":{\"name\":\"h2\"},\"process\":{\"pid\":900,"
		"\"executable\":\"/bin/crit\"},\"vigil\":{\"sid\":11}}",
	     T0 + 2 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 3);
	last_incident(cap, id2, sizeof(id2));
	assert_string_not_equal(id, id2);
	char b[64];
	assert_string_equal(out_get(last_of(cap, NULL, true), "host.name", b, sizeof(b)), "h2");
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_merge_by_file_and_address(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(MERGE, cap, NULL);
	/* session 12 writes /tmp/implant and is an incident */
	feed(e, exec_ev(1000, 12, "/bin/crit"), T0);
	feed(e, mkev(ev, sizeof(ev), "file_create", 1000, 1, 12, "/bin/crit", NULL, "\"file\":{\"path\":\"/tmp/implant\"}"),
	     T0 + SEC);
	char id[64], id2[64];
	last_incident(cap, id, sizeof(id));
	int before = count_rule(cap, NULL, true);
	/* another session runs the dropped file */
	feed(e, mkev(ev, sizeof(ev), "exec", 2000, 1, 13, "/tmp/implant", NULL, ""), T0 + 2 * SEC);
	/* no rule matches a bare exec of /tmp/implant: an alert must carry it */
	assert_int_equal(count_rule(cap, NULL, true), before);
	feed(e,
	     mkev(ev, sizeof(ev), "connect", 2000, 1, 13, "/tmp/implant", NULL,
		  "\"destination\":{\"ip\":\"203.0.113.9\",\"port\":4444}"),
	     T0 + 3 * SEC);
	assert_int_equal(count_rule(cap, "c2", false), 1);
	assert_int_equal(count_rule(cap, NULL, true), before + 1);
	last_incident(cap, id2, sizeof(id2));
	assert_string_equal(id, id2);
	/* a third session talks to the same remote address */
	feed(e,
	     mkev(ev, sizeof(ev), "connect", 3000, 1, 14, "/usr/bin/python3", NULL,
		  "\"destination\":{\"ip\":\"203.0.113.9\",\"port\":4444}"),
	     T0 + 4 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), before + 2);
	last_incident(cap, id2, sizeof(id2));
	assert_string_equal(id, id2);
	const struct out_rec *inc = last_of(cap, NULL, true);
	assert_non_null(strstr(inc->json, "\"id\":\"14\""));
	assert_non_null(strstr(inc->json, "\"id\":\"13\""));
	/* loopback is not a shared address */
	feed(e,
	     mkev(ev, sizeof(ev), "connect", 4000, 1, 15, "/usr/bin/python3", NULL,
		  "\"destination\":{\"ip\":\"127.0.0.1\",\"port\":4444}"),
	     T0 + 5 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), before + 2);
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_related_below_threshold(void **state)
{
	/* two related sessions, each below the threshold, add up */
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(MERGE, cap, NULL);
	feed(e, mkev(ev, sizeof(ev), "file_create", 1, 1, 50, "/usr/bin/curl", NULL, "\"file\":{\"path\":\"/tmp/a\"}"), T0);
	feed(e, mkev(ev, sizeof(ev), "file_create", 2, 1, 50, "/usr/bin/curl", NULL, "\"file\":{\"path\":\"/tmp/b\"}"),
	     T0 + 1);
	assert_int_equal(count_rule(cap, NULL, true), 0); /* 30 */
	feed(e, mkev(ev, sizeof(ev), "exec", 3, 1, 51, "/tmp/a", NULL, ""), T0 + 2);
	feed(e,
	     mkev(ev, sizeof(ev), "connect", 3, 1, 51, "/tmp/a", NULL,
		  "\"destination\":{\"ip\":\"198.51.100.1\",\"port\":4444}"),
	     T0 + 3);
	assert_int_equal(count_rule(cap, NULL, true), 0); /* 45 */
	feed(e, exec_ev(4, 51, "/bin/med"), T0 + 4);
	assert_int_equal(count_rule(cap, NULL, true), 1); /* 30 + 15 + 15 (+ tactic bonus) */
	const struct out_rec *inc = last_of(cap, NULL, true);
	assert_non_null(strstr(inc->json, "\"id\":\"50\""));
	assert_non_null(strstr(inc->json, "\"id\":\"51\""));
	engine_free(e);
	cap_clear(cap);
	free(cap);
}

static void test_idle_and_bounds(void **state)
{
	struct captured *cap = calloc(1, sizeof(*cap));
	struct engine *e = mk_engine(MERGE, cap, NULL);
	/* 55 points, then an hour of silence: the session is forgotten */
	feed(e, exec_ev(1, 60, "/bin/med"), T0);
	feed(e, exec_ev(1, 60, "/bin/med"), T0 + SEC);
	feed(e, exec_ev(1, 60, "/bin/med"), T0 + 2 * SEC);
	feed(e, exec_ev(1, 61, "/bin/med"), T0 + 3 * SEC + 3700 * SEC);
	feed(e, exec_ev(1, 60, "/bin/med"), T0 + 3 * SEC + 3700 * SEC);
	assert_int_equal(count_rule(cap, NULL, true), 0);
	engine_free(e);
	cap_clear(cap);
	/* the scorer alone: sessions and cases stay bounded */
	struct scorer *s = score_new(60);
	struct rule r = {.id = "r", .title = "r", .level = LEVEL_MEDIUM, .score = -1};
	long before = rss_kib();
	for (int i = 0; i < 200000; i++) {
		char j[256];
		snprintf(j, sizeof(j),
			 "{\"host\":{\"name\":\"h\"},\"process\":{\"pid\":%d},\"vigil\":{\"sid\":%d},"
			 "\"file\":{\"path\":\"/f/%d\"}}",
			 i + 10, i + 10, i);
		vg_flatten_json(&test_flat, j, strlen(j));
		score_add(s, &r, true, &test_flat, T0 + (uint64_t)i * 1000, NULL, NULL);
	}
	long after = rss_kib();
	assert_true(score_sessions(s) <= 4096);
	assert_true(score_incidents(s) <= 1024);
	fprintf(stderr, "scorer: %zu sessions, %zu cases, RSS %ld -> %ld KiB\n", score_sessions(s),
		score_incidents(s), before, after);
	if (RSS_CHECKS)
		assert_true(after - before < 64 * 1024);
	score_free(s);
	free(cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals_threshold),
		cmocka_unit_test(test_tactic_order_bonus),
		cmocka_unit_test(test_alerts_add_up),
		cmocka_unit_test(test_alert_json),
		cmocka_unit_test(test_merge_by_tree),
		cmocka_unit_test(test_merge_by_session),
		cmocka_unit_test(test_merge_by_file_and_address),
		cmocka_unit_test(test_related_below_threshold),
		cmocka_unit_test(test_idle_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
