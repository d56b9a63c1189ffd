/* `vigil events` and `vigil session`, and the dispatcher of the
 * investigation commands. */
#define _GNU_SOURCE
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

void investigate_usage(FILE *f)
{
	fprintf(f,
		"  events [--since T] [--until T] [--host H] [--session SID] [--pid PID] [--exe PATH]\n"
		"         [--sha256 H] [--remote IP] [--grep TEXT] [FIELD=VALUE ...] [--limit N] [--json]\n"
		"                                      stored events (T: RFC3339, or 10m, 2h, 1d ago)\n"
		"  session SID [--host H] [--json]     a login session's timeline\n"
		"  tree PID|--session SID [--json]     a process tree, marked where alerts fired\n"
		"  alerts [--since T] [--level L] [--json]   stored alerts\n"
		"  incidents [--since T] [--json]      stored incidents\n"
		"  incident ID [--dot|--json]          an incident, its alerts and provenance graph\n"
		"  (these read the store directly: --store DIR, default $VIGIL_STORE or " VIGIL_STORE_DEFAULT ")\n");
}

int investigate_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"events", cmd_events},   {"session", cmd_session},     {"tree", cmd_tree},
		{"alerts", cmd_alerts},   {"incidents", cmd_incidents}, {"incident", cmd_incident},
		{"actions", cmd_actions},
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i].name)) {
			cli_color_init();
			int rc = cmds[i].fn(argc, argv);
			if (fflush(stdout) || ferror(stdout))
				return rc ? rc : 1;
			return rc;
		}
	return -1;
}

/* ---- vigil events ------------------------------------------------------- */

static int need_arg(int argc, char **argv, int i)
{
	if (i + 1 >= argc) {
		fprintf(stderr, "vigil %s: %s needs a value\n", argv[0], argv[i]);
		return -1;
	}
	return 0;
}

struct events_ctx {
	bool json, header;
	struct jdoc doc;
	struct strbuf sb;
	long n;
};

static void put_event_line(const struct jnode *ev, uint64_t ts, struct strbuf *sb, bool with_sid)
{
	struct evinfo e;
	ev_info(ev, &e);
	char t[64];
	cli_fmt_time(ts ? ts : e.ts, t, sizeof(t));
	printf("%s%s%s  ", cc(CC_DIM), t, cc(CC_RESET));
	if (with_sid) {
		char sid[24] = "-";
		if (e.sid >= 0)
			snprintf(sid, sizeof(sid), "%lld", (long long)e.sid);
		printf("%-7s ", sid);
	}
	printf("%-7lld ", (long long)e.pid);
	const char *name = e.exe ? ev_basename(e.exe) : e.name;
	cli_put_cut(stdout, name, 15, true);
	fputc(' ', stdout);
	printf("%s", cc(ev_color(e.action)));
	cli_put_cut(stdout, e.action, 19, true);
	printf("%s ", cc(CC_RESET));
	sb_reset(sb);
	ev_detail(ev, sb);
	cli_put_cut(stdout, sb->buf ? sb->buf : "", 0, false);
	fputc('\n', stdout);
}

static int events_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct events_ctx *c = ctx;
	c->n++;
	if (c->json) {
		cli_put_json_line(json, len);
		return 0;
	}
	const struct jnode *ev = jdoc_parse(&c->doc, json, len);
	if (!ev) {
		fprintf(stderr, "vigil: a stored event does not parse (%s)\n", c->doc.err);
		return 0;
	}
	if (!c->header) {
		c->header = true;
		printf("%s%-23s  %-7s %-7s %-15s %-19s %s%s\n", cc(CC_BOLD), "TIME", "SID", "PID", "PROCESS", "ACTION",
		       "DETAIL", cc(CC_RESET));
	}
	put_event_line(ev, ts, &c->sb, true);
	return 0;
}

int cmd_events(int argc, char **argv)
{
	struct store_query q;
	cli_query_init(&q);
	const char *store = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int64_t v;
		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (a[0] == '-' && a[1] == '-') {
			if (need_arg(argc, argv, i))
				return 2;
			const char *val = argv[++i];
			if (!strcmp(a, "--store")) {
				store = val;
			} else if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
				uint64_t ns;
				if (cli_parse_time(val, &ns)) {
					fprintf(stderr, "vigil events: bad time '%s' (RFC3339, or 10m, 2h, 1d)\n", val);
					return 2;
				}
				if (a[2] == 's')
					q.from_ns = ns;
				else
					q.to_ns = ns;
			} else if (!strcmp(a, "--host")) {
				q.host = val;
			} else if (!strcmp(a, "--session") || !strcmp(a, "--sid") || !strcmp(a, "--pid") ||
				   !strcmp(a, "--limit")) {
				if (cli_parse_i64(val, &v)) {
					fprintf(stderr, "vigil events: %s needs a number\n", a);
					return 2;
				}
				if (!strcmp(a, "--pid"))
					q.pid = v;
				else if (!strcmp(a, "--limit"))
					q.limit = (size_t)v;
				else
					q.sid = v;
			} else if (!strcmp(a, "--exe")) {
				q.exe = val;
			} else if (!strcmp(a, "--sha256")) {
				q.sha256 = val;
			} else if (!strcmp(a, "--remote")) {
				q.remote_ip = val;
			} else if (!strcmp(a, "--grep")) {
				q.text = val;
			} else {
				fprintf(stderr, "vigil events: unknown option %s\n", a);
				return 2;
			}
			continue;
		}
		const char *eq = strchr(a, '=');
		if (eq && eq != a) {
			if (q.nconds >= (int)(sizeof(q.conds) / sizeof(q.conds[0]))) {
				fprintf(stderr, "vigil events: at most %zu FIELD=VALUE conditions\n",
					sizeof(q.conds) / sizeof(q.conds[0]));
				return 2;
			}
			a = argv[i]; /* split in place: FIELD\0VALUE */
			argv[i][eq - a] = 0;
			q.conds[q.nconds].field = argv[i];
			q.conds[q.nconds].value = eq + 1;
			q.nconds++;
			continue;
		}
		fprintf(stderr, "vigil events: unexpected argument '%s'\n", a);
		return 2;
	}
	if (q.from_ns && q.to_ns && q.from_ns > q.to_ns) {
		fprintf(stderr, "vigil events: --since is after --until\n");
		return 2;
	}
	struct events_ctx c = {.json = json};
	jdoc_init(&c.doc);
	sb_init(&c.sb);
	long n = cli_query(cli_store_dir(store), &q, events_row, &c);
	jdoc_free(&c.doc);
	sb_free(&c.sb);
	return n < 0 ? 1 : 0;
}

/* ---- vigil session ------------------------------------------------------ */

struct sess_alert {
	int64_t id, pid;
	uint64_t ts;
	int level;
	char *title;
};

struct leader {
	struct jdoc doc;
	char *exec_json;            /* the leader's first exec in the session */
	char *any_json;             /* else its first event */
	uint64_t setsid_ts, first_ts;
	char hosts[4][256];
	int nhosts;
	long seen;
};

static void note_host(struct leader *l, const char *h)
{
	if (!h || !*h)
		return;
	for (int i = 0; i < l->nhosts; i++)
		if (!strcmp(l->hosts[i], h))
			return;
	if (l->nhosts < 4)
		snprintf(l->hosts[l->nhosts++], sizeof(l->hosts[0]), "%s", h);
}

static int leader_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct leader *l = ctx;
	const struct jnode *ev = jdoc_parse(&l->doc, json, len);
	if (!ev)
		return 0;
	note_host(l, jstr(ev, "host.name", NULL));
	const char *a = jstr(ev, "event.action", "");
	if (!l->first_ts)
		l->first_ts = ts;
	if (!strcmp(a, "setsid") && !l->setsid_ts)
		l->setsid_ts = ts;
	if (!strcmp(a, "exec") && !l->exec_json)
		l->exec_json = strndup(json, len);
	if (!l->any_json)
		l->any_json = strndup(json, len);
	return 0;
}

static int hosts_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct leader *l = ctx;
	const struct jnode *ev = jdoc_parse(&l->doc, json, len);
	l->seen++;
	if (ev)
		note_host(l, jstr(ev, "host.name", NULL));
	return l->nhosts > 1;
}

static const char *user_name(int64_t uid, char *buf, size_t cap)
{
	struct passwd *pw = uid >= 0 ? getpwuid((uid_t)uid) : NULL;
	if (pw)
		snprintf(buf, cap, "%s (uid %lld)", pw->pw_name, (long long)uid);
	else if (uid >= 0)
		snprintf(buf, cap, "uid %lld", (long long)uid);
	else
		snprintf(buf, cap, "?");
	return buf;
}

/* SSH_CONNECTION="client_ip client_port server_ip server_port" */
static bool ssh_peer(const struct jnode *ev, char ip[64], char port[16], char sip[64], char sport[16])
{
	const struct jnode *env = jget(ev, "process.env_vars");
	for (const struct jnode *e = env && env->type == JV_ARR ? env->child : NULL; e; e = e->next) {
		const char *s = jtext(e, "");
		if (strncmp(s, "SSH_CONNECTION=", 15))
			continue;
		sip[0] = sport[0] = 0;
		if (sscanf(s + 15, "%63s %15s %63s %15s", ip, port, sip, sport) >= 2)
			return true;
	}
	return false;
}

struct session_ctx {
	bool json;
	struct jdoc doc;
	struct strbuf sb;
	long n;
	struct sess_alert *alerts;
	size_t nalerts;
	uint64_t first, last;
	int64_t pids[4096];
	size_t npids;
	bool many_pids;
};

static int collect_sess_alert(void *ctx, const struct state_alert *a)
{
	struct session_ctx *c = ctx;
	void *na = realloc(c->alerts, (c->nalerts + 1) * sizeof(*c->alerts));
	if (!na)
		return 1;
	c->alerts = na;
	struct sess_alert *s = &c->alerts[c->nalerts++];
	s->id = a->id;
	s->pid = a->pid;
	s->ts = a->ts_ns;
	s->level = a->level;
	s->title = strdup(a->title ? a->title : "");
	return 0;
}

static int session_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct session_ctx *c = ctx;
	c->n++;
	if (!c->first)
		c->first = ts;
	c->last = ts;
	if (c->json) {
		cli_put_json_line(json, len);
		return 0;
	}
	const struct jnode *ev = jdoc_parse(&c->doc, json, len);
	if (!ev)
		return 0;
	if (!strcmp(jstr(ev, "event.action", ""), "vigil_metrics"))
		return 0;
	put_event_line(ev, ts, &c->sb, false);
	int64_t pid = jint(ev, "process.pid", -1);
	bool seen = false;
	for (size_t i = 0; i < c->npids && !seen; i++)
		seen = c->pids[i] == pid;
	if (!seen && c->npids < sizeof(c->pids) / sizeof(c->pids[0]))
		c->pids[c->npids++] = pid;
	else if (!seen)
		c->many_pids = true;
	const char *t = jstr(ev, "@timestamp", NULL);
	uint64_t evts = 0;
	if (t)
		vg_parse_rfc3339(t, &evts);
	for (size_t i = 0; i < c->nalerts; i++)
		if (c->alerts[i].pid == pid && c->alerts[i].ts == evts)
			printf("%s%*s! ALERT #%lld [%s] %s%s\n", cc(c->alerts[i].level >= 3 ? CC_BOLDRED : CC_RED), 25, "",
			       (long long)c->alerts[i].id, state_level_name(c->alerts[i].level), c->alerts[i].title,
			       cc(CC_RESET));
	return 0;
}

static void print_session_header(const char *host, int64_t sid, const struct leader *l, struct jdoc *doc,
				 bool json)
{
	const struct jnode *ev = NULL;
	if (l->exec_json)
		ev = jdoc_parse(doc, l->exec_json, strlen(l->exec_json));
	else if (l->any_json)
		ev = jdoc_parse(doc, l->any_json, strlen(l->any_json));
	char ip[64] = "", port[16] = "", sip[64] = "", sport[16] = "", user[128], t[64];
	bool ssh = ev && ssh_peer(ev, ip, port, sip, sport);
	int64_t uid = ev ? jint(ev, "user.id", -1) : -1;
	const char *tty = ev ? jstr(ev, "process.tty.name", NULL) : NULL;
	uint64_t started = l->setsid_ts ? l->setsid_ts : l->first_ts;
	if (json) {
		struct strbuf sb;
		struct jw w;
		sb_init(&sb);
		jw_init(&w, &sb);
		jw_obj_open(&w, NULL);
		jw_str(&w, "kind", "session");
		jw_str(&w, "host", host ? host : "");
		jw_int(&w, "id", sid);
		if (started) {
			vg_format_rfc3339(started, t, sizeof(t));
			jw_str(&w, "started", t);
		}
		if (ev) {
			jw_obj_open(&w, "leader");
			jw_int(&w, "pid", jint(ev, "process.pid", -1));
			jw_str(&w, "executable", jstr(ev, "process.executable", ""));
			jw_str(&w, "command_line", jstr(ev, "process.command_line", ""));
			jw_obj_open(&w, "parent");
			jw_int(&w, "pid", jint(ev, "process.parent.pid", -1));
			jw_str(&w, "executable", jstr(ev, "process.parent.executable", ""));
			jw_str(&w, "command_line", jstr(ev, "process.parent.command_line", ""));
			jw_obj_close(&w);
			jw_obj_close(&w);
			jw_obj_open(&w, "user");
			jw_int(&w, "id", uid);
			struct passwd *pw = uid >= 0 ? getpwuid((uid_t)uid) : NULL;
			if (pw)
				jw_str(&w, "name", pw->pw_name);
			jw_obj_close(&w);
			if (tty)
				jw_str(&w, "tty", tty);
			if (ssh) {
				jw_obj_open(&w, "ssh");
				jw_str(&w, "client_ip", ip);
				jw_str(&w, "client_port", port);
				if (*sip)
					jw_str(&w, "server_ip", sip);
				if (*sport)
					jw_str(&w, "server_port", sport);
				jw_obj_close(&w);
			}
		}
		jw_obj_close(&w);
		cli_put_json_line(sb.buf, sb.len);
		sb_free(&sb);
		return;
	}
	printf("%sSession %lld%s on %s", cc(CC_BOLD), (long long)sid, cc(CC_RESET), host && *host ? host : "?");
	if (started) {
		cli_fmt_time(started, t, sizeof(t));
		printf(", started %s", t);
	}
	putchar('\n');
	if (ev) {
		printf("  login    %s%lld%s ", cc(CC_GREEN), (long long)jint(ev, "process.pid", -1), cc(CC_RESET));
		cli_put_cut(stdout, jstr(ev, "process.command_line", jstr(ev, "process.executable", "?")), 0, false);
		if (!l->exec_json)
			printf(" (no exec recorded in the session)");
		putchar('\n');
		printf("  user     %s\n", user_name(uid, user, sizeof(user)));
		printf("  tty      %s\n", tty ? tty : "none");
		if (ssh)
			printf("  ssh from %s%s%s:%s%s%s%s\n", cc(CC_MAGENTA), ip, "", port, cc(CC_RESET), *sip ? " to " : "",
			       *sip ? sip : "");
		const char *pexe = jstr(ev, "process.parent.executable", NULL);
		int64_t ppid = jint(ev, "process.parent.pid", -1);
		if (ppid >= 0) {
			printf("  parent   %lld ", (long long)ppid);
			cli_put_cut(stdout, jstr(ev, "process.parent.command_line", pexe ? pexe : "?"), 0, false);
			putchar('\n');
		}
	}
	printf("%s%-23s  %-7s %-15s %-19s %s%s\n", cc(CC_BOLD), "TIME", "PID", "PROCESS", "ACTION", "DETAIL",
	       cc(CC_RESET));
}

int cmd_session(int argc, char **argv)
{
	const char *store = NULL, *host = NULL;
	bool json = false;
	int64_t sid = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--store") || !strcmp(a, "--host")) {
			if (need_arg(argc, argv, i))
				return 2;
			if (a[2] == 's')
				store = argv[++i];
			else
				host = argv[++i];
		} else if (sid < 0 && !cli_parse_i64(a, &sid)) {
		} else {
			fprintf(stderr, "usage: vigil session SID [--host H] [--json] [--store DIR]\n");
			return 2;
		}
	}
	if (sid < 0) {
		fprintf(stderr, "usage: vigil session SID [--host H] [--json] [--store DIR]\n");
		return 2;
	}
	const char *dir = cli_store_dir(store);
	/* the leader: its events in the session (setsid, its exec) */
	struct leader l = {0};
	jdoc_init(&l.doc);
	struct store_query q;
	cli_query_init(&q);
	q.sid = sid;
	q.pid = sid;
	q.host = host;
	if (cli_query(dir, &q, leader_row, &l) < 0) {
		jdoc_free(&l.doc);
		return 1;
	}
	if (!host && l.nhosts <= 1) {
		/* other hosts may have a session of that number too (a fleet's
		 * store): their events interleave, the first few thousand tell */
		cli_query_init(&q);
		q.sid = sid;
		q.limit = 4000;
		cli_query(dir, &q, hosts_row, &l);
	} else if (!l.first_ts) {
		cli_query_init(&q);
		q.sid = sid;
		q.host = host;
		q.limit = 1;
		cli_query(dir, &q, hosts_row, &l);
	}
	if (!l.first_ts && !l.seen) {
		fprintf(stderr, "vigil session: no events of session %lld%s%s in %s\n", (long long)sid, host ? " on " : "",
			host ? host : "", dir);
		jdoc_free(&l.doc);
		return 1;
	}
	if (!host && l.nhosts > 1) {
		fprintf(stderr, "vigil session: session %lld is on several hosts (", (long long)sid);
		for (int i = 0; i < l.nhosts; i++)
			fprintf(stderr, "%s%s", i ? ", " : "", l.hosts[i]);
		fprintf(stderr, "): choose one with --host\n");
		jdoc_free(&l.doc);
		free(l.exec_json);
		free(l.any_json);
		return 2;
	}
	if (!host && l.nhosts == 1)
		host = l.hosts[0];
	struct session_ctx c = {.json = json};
	jdoc_init(&c.doc);
	sb_init(&c.sb);
	struct state *st = json ? NULL : cli_state_open(dir, true);
	if (st) {
		struct state_alert_query aq;
		state_alert_query_init(&aq);
		aq.sid = sid;
		aq.host = host;
		char err[256];
		state_alerts(st, &aq, collect_sess_alert, &c, err, sizeof(err));
		state_close(st);
	}
	struct jdoc hdoc;
	jdoc_init(&hdoc);
	print_session_header(host, sid, &l, &hdoc, json);
	jdoc_free(&hdoc);
	cli_query_init(&q);
	q.sid = sid;
	q.host = host;
	long n = cli_query(dir, &q, session_row, &c);
	int rc = 0;
	if (n == 0) {
		fprintf(stderr, "vigil session: no events of session %lld%s%s in %s\n", (long long)sid, host ? " on " : "",
			host ? host : "", dir);
		rc = 1;
	} else if (n < 0) {
		rc = 1;
	} else if (!json) {
		char a[64], b[64];
		cli_fmt_time(c.first, a, sizeof(a));
		cli_fmt_time(c.last, b, sizeof(b));
		printf("%s%ld events, %zu%s processes, %s .. %s (%.1f s)%s\n", cc(CC_DIM), c.n, c.npids,
		       c.many_pids ? "+" : "", a, b, (double)(c.last - c.first) / 1e9, cc(CC_RESET));
	}
	for (size_t i = 0; i < c.nalerts; i++)
		free(c.alerts[i].title);
	free(c.alerts);
	jdoc_free(&c.doc);
	sb_free(&c.sb);
	jdoc_free(&l.doc);
	free(l.exec_json);
	free(l.any_json);
	return rc;
}
