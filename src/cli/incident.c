/* `vigil alerts`, `vigil incidents` and `vigil incident ID`: the incident,
 * its alerts and a provenance graph (processes, files and remote
 * addresses as nodes; exec, write/create/rename, connect and exec-of-file
 * as edges) as text, Graphviz DOT or JSON. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static enum cli_color level_color(int level)
{
	return level >= 4 ? CC_BOLDRED : level == 3 ? CC_RED : level == 2 ? CC_YELLOW : CC_DIM;
}

/* The stored JSON with the row's id (and incident) first. */
static void put_with_id(const char *json, int64_t id, const char *incident)
{
	const char *p = json ? strchr(json, '{') : NULL;
	if (!p)
		return;
	printf("{\"id\":%lld,", (long long)id);
	if (incident) {
		struct strbuf sb;
		sb_init(&sb);
		sb_json_cstr(&sb, incident);
		printf("\"incident_id\":%s,", sb.buf ? sb.buf : "\"\"");
		sb_free(&sb);
	}
	p++;
	while (*p == ' ')
		p++;
	if (*p == '}')
		printf("\"empty\":true");
	fputs(p, stdout);
	fputc('\n', stdout);
}

/* ---- vigil alerts --------------------------------------------------------- */

struct alerts_ctx {
	bool json;
	long n;
};

static void put_alert_row(const struct state_alert *a)
{
	char t[64], pid[24] = "-", sid[24] = "-";
	cli_fmt_time(a->ts_ns, t, sizeof(t));
	if (a->pid >= 0)
		snprintf(pid, sizeof(pid), "%lld", (long long)a->pid);
	if (a->sid >= 0)
		snprintf(sid, sizeof(sid), "%lld", (long long)a->sid);
	printf("%-6lld %s%s%s  %s%-8s%s %-7s %-7s ", (long long)a->id, cc(CC_DIM), t, cc(CC_RESET),
	       cc(level_color(a->level)), state_level_name(a->level) /* "informational" overflows: fine */,
	       cc(CC_RESET), sid, pid);
	cli_put_cut(stdout, a->exe ? ev_basename(a->exe) : "-", 15, true);
	printf(" %s", a->title ? a->title : "");
	if (a->incident_id)
		printf("  %s(%s)%s", cc(CC_DIM), a->incident_id, cc(CC_RESET));
	putchar('\n');
}

static int alerts_row(void *ctx, const struct state_alert *a)
{
	struct alerts_ctx *c = ctx;
	c->n++;
	if (c->json)
		put_with_id(a->json, a->id, a->incident_id);
	else
		put_alert_row(a);
	return 0;
}

static void alerts_header(void)
{
	printf("%s%-6s %-23s  %-8s %-7s %-7s %-15s %s%s\n", cc(CC_BOLD), "ID", "TIME", "LEVEL", "SID", "PID", "PROCESS",
	       "TITLE", cc(CC_RESET));
}

int cmd_alerts(int argc, char **argv)
{
	struct state_alert_query q;
	state_alert_query_init(&q);
	const char *store = NULL;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (i + 1 >= argc)
			goto usage;
		const char *v = argv[++i];
		int64_t n;
		if (!strcmp(a, "--store")) {
			store = v;
		} else if (!strcmp(a, "--since") || !strcmp(a, "--until")) {
			uint64_t ns;
			if (cli_parse_time(v, &ns)) {
				fprintf(stderr, "vigil alerts: bad time '%s' (RFC3339, or 10m, 2h, 1d)\n", v);
				return 2;
			}
			if (a[2] == 's')
				q.from_ns = ns;
			else
				q.to_ns = ns;
		} else if (!strcmp(a, "--level")) {
			q.min_level = state_level_num(v);
			if (q.min_level < 0) {
				fprintf(stderr, "vigil alerts: level is one of informational, low, medium, high, critical\n");
				return 2;
			}
		} else if (!strcmp(a, "--host")) {
			q.host = v;
		} else if (!strcmp(a, "--rule")) {
			q.rule_id = v;
		} else if (!strcmp(a, "--incident")) {
			q.incident_id = v;
		} else if ((!strcmp(a, "--session") || !strcmp(a, "--pid") || !strcmp(a, "--limit")) &&
			   !cli_parse_i64(v, &n)) {
			if (a[2] == 's')
				q.sid = n;
			else if (a[2] == 'p')
				q.pid = n;
			else
				q.limit = (size_t)n;
		} else {
			goto usage;
		}
	}
	const char *dir = cli_store_dir(store);
	struct state *st = cli_state_open(dir, false);
	if (!st)
		return 1;
	struct alerts_ctx c = {.json = json};
	if (!json)
		alerts_header();
	char err[512];
	long n = state_alerts(st, &q, alerts_row, &c, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, "vigil: %s\n", err);
	state_close(st);
	return n < 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: vigil alerts [--since T] [--until T] [--level L] [--host H] [--session SID] [--pid PID]\n"
			"                    [--rule ID] [--incident ID] [--limit N] [--json] [--store DIR]\n");
	return 2;
}

/* ---- vigil incidents ------------------------------------------------------ */

struct incidents_ctx {
	bool json;
	struct jdoc doc;
};

static void join_arr(const struct jnode *arr, struct strbuf *sb)
{
	for (const struct jnode *e = arr && arr->type == JV_ARR ? arr->child : NULL; e; e = e->next)
		sb_printf(sb, "%s%s", e == arr->child ? "" : ",", jtext(e, ""));
}

static int incidents_row(void *ctx, const struct state_incident *in)
{
	struct incidents_ctx *c = ctx;
	if (c->json) {
		/* the stored JSON, with how many alerts are linked and updates seen */
		const char *p = in->json ? strchr(in->json, '{') : NULL;
		if (p)
			printf("{\"alerts_linked\":%lld,\"updates\":%lld,%s\n", (long long)in->nalerts,
			       (long long)in->updates, p + 1);
		return 0;
	}
	char a[64], b[64], sid[24] = "-";
	cli_fmt_time(in->first_ns, a, sizeof(a));
	cli_fmt_time(in->last_ns, b, sizeof(b));
	if (in->sid >= 0)
		snprintf(sid, sizeof(sid), "%lld", (long long)in->sid);
	struct strbuf sb;
	sb_init(&sb);
	const struct jnode *r = in->json ? jdoc_parse(&c->doc, in->json, strlen(in->json)) : NULL;
	join_arr(r ? jget(r, "threat.tactics") : NULL, &sb);
	printf("%-20s %s%s  %s%s  %5d %s%-8s%s %-7s %6lld  %s\n", in->id, cc(CC_DIM), a, b, cc(CC_RESET), in->score,
	       cc(level_color(in->level)), state_level_name(in->level), cc(CC_RESET), sid, (long long)in->nalerts,
	       sb.buf ? sb.buf : "");
	sb_free(&sb);
	return 0;
}

int cmd_incidents(int argc, char **argv)
{
	const char *store = NULL;
	bool json = false;
	uint64_t since = 0;
	int level = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--store") && i + 1 < argc) {
			store = argv[++i];
		} else if (!strcmp(a, "--since") && i + 1 < argc) {
			if (cli_parse_time(argv[++i], &since)) {
				fprintf(stderr, "vigil incidents: bad time '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(a, "--level") && i + 1 < argc && (level = state_level_num(argv[++i])) >= 0) {
		} else {
			fprintf(stderr, "usage: vigil incidents [--since T] [--level L] [--json] [--store DIR]\n");
			return 2;
		}
	}
	struct state *st = cli_state_open(cli_store_dir(store), false);
	if (!st)
		return 1;
	struct incidents_ctx c = {.json = json};
	jdoc_init(&c.doc);
	if (!json)
		printf("%s%-20s %-23s  %-23s  %5s %-8s %-7s %6s  %s%s\n", cc(CC_BOLD), "ID", "FIRST", "LAST", "SCORE",
		       "LEVEL", "SID", "ALERTS", "TACTICS", cc(CC_RESET));
	char err[512];
	long n = state_incidents(st, since, level, incidents_row, &c, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, "vigil: %s\n", err);
	jdoc_free(&c.doc);
	state_close(st);
	return n < 0 ? 1 : 0;
}

/* ---- vigil incident ID ---------------------------------------------------- */

struct inc_row {
	char *id, *json;
	int64_t updates, nalerts;
	int score, level;
	uint64_t first, last;
};

static int take_incident(void *ctx, const struct state_incident *in)
{
	struct inc_row *r = ctx;
	r->id = strdup(in->id);
	r->json = strdup(in->json ? in->json : "{}");
	r->updates = in->updates;
	r->nalerts = in->nalerts;
	r->score = in->score;
	r->level = in->level;
	r->first = in->first_ns;
	r->last = in->last_ns;
	return 1;
}

struct ialert {
	struct state_alert a;
	char *rule_id, *title, *host, *exe, *json;
	uint64_t start_ns;
};

struct ialerts {
	struct ialert *v;
	size_t n;
	struct jdoc doc;
};

static int take_alert(void *ctx, const struct state_alert *a)
{
	struct ialerts *l = ctx;
	void *nv = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	if (!nv)
		return 1;
	l->v = nv;
	struct ialert *x = &l->v[l->n++];
	memset(x, 0, sizeof(*x));
	x->a = *a;
	x->rule_id = strdup(a->rule_id ? a->rule_id : "");
	x->title = strdup(a->title ? a->title : "");
	x->host = strdup(a->host ? a->host : "");
	x->exe = a->exe ? strdup(a->exe) : NULL;
	x->json = strdup(a->json ? a->json : "{}");
	x->a.rule_id = x->rule_id;
	x->a.title = x->title;
	x->a.host = x->host;
	x->a.exe = x->exe;
	x->a.json = x->json;
	x->a.incident_id = NULL;
	const struct jnode *r = jdoc_parse(&l->doc, x->json, strlen(x->json));
	const struct jnode *ev = r ? jat(jget(r, "events"), 0) : NULL;
	if (ev && jint(ev, "process.pid", -1) == a->pid)
		x->start_ns = (uint64_t)jint(ev, "process.start_ns", 0);
	return 0;
}

/* the graph */
enum gtype { G_PROC, G_FILE, G_ADDR };
struct gnode {
	enum gtype type;
	char *key;               /* "p:PID-START", "f:PATH", "a:IP:PORT" */
	const struct pnode *p;
	char *label;
};
struct gedge {
	int from, to;
	char type[16];
	uint64_t ts;
	char *extra;
};
struct graph {
	struct gnode *n;
	size_t nn, capn;
	struct gedge *e;
	size_t ne, cape;
};

static int gnode_find(struct graph *g, const char *key)
{
	for (size_t i = 0; i < g->nn; i++)
		if (!strcmp(g->n[i].key, key))
			return (int)i;
	return -1;
}

static int gnode_add(struct graph *g, enum gtype type, const char *key, const char *label, const struct pnode *p)
{
	int i = gnode_find(g, key);
	if (i >= 0)
		return i;
	if (g->nn == g->capn) {
		size_t cap = g->capn ? g->capn * 2 : 64;
		void *nv = realloc(g->n, cap * sizeof(*g->n));
		if (!nv)
			return -1;
		g->n = nv;
		g->capn = cap;
	}
	struct gnode *n = &g->n[g->nn];
	n->type = type;
	n->key = strdup(key);
	n->label = strdup(label ? label : key + 2);
	n->p = p;
	return (int)g->nn++;
}

static void gedge_add(struct graph *g, int from, int to, const char *type, uint64_t ts, const char *extra)
{
	if (from < 0 || to < 0)
		return;
	for (size_t i = 0; i < g->ne; i++)
		if (g->e[i].from == from && g->e[i].to == to && !strcmp(g->e[i].type, type))
			return;
	if (g->ne == g->cape) {
		size_t cap = g->cape ? g->cape * 2 : 64;
		void *nv = realloc(g->e, cap * sizeof(*g->e));
		if (!nv)
			return;
		g->e = nv;
		g->cape = cap;
	}
	struct gedge *e = &g->e[g->ne++];
	e->from = from;
	e->to = to;
	snprintf(e->type, sizeof(e->type), "%s", type);
	e->ts = ts;
	e->extra = extra ? strdup(extra) : NULL;
}

static void proc_key(const struct pnode *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "p:%u-%llu", p->pid, (unsigned long long)p->start_ns);
}

static void build_graph(struct ptree *t, struct graph *g)
{
	char key[4200];
	/* processes */
	for (size_t i = 0; i < t->n; i++) {
		const struct pnode *p = t->nodes[i];
		if (p->hidden)
			continue;
		proc_key(p, key, sizeof(key));
		struct strbuf label;
		sb_init(&label);
		sb_printf(&label, "%u ", p->pid);
		pnode_images(p, &label);
		gnode_add(g, G_PROC, key, label.buf, p);
		sb_free(&label);
	}
	/* files and addresses the processes touched */
	for (size_t i = 0; i < t->n; i++) {
		const struct pnode *p = t->nodes[i];
		if (p->hidden)
			continue;
		proc_key(p, key, sizeof(key));
		int pi = gnode_find(g, key);
		for (int k = 0; k < p->nact; k++) {
			const struct pact *a = &p->acts[k];
			if (!strcmp(a->type, "exec"))
				continue;
			bool net = !strcmp(a->type, "connect") || !strcmp(a->type, "accept");
			snprintf(key, sizeof(key), "%s%s", net ? "a:" : "f:", a->target);
			int ni = gnode_add(g, net ? G_ADDR : G_FILE, key, NULL, NULL);
			if (!strcmp(a->type, "accept"))
				gedge_add(g, ni, pi, "accept", a->ts, a->extra);
			else
				gedge_add(g, pi, ni, a->type, a->ts, a->extra);
		}
	}
	/* parent -> child; a file some process wrote -> the process that ran it */
	for (size_t i = 0; i < t->n; i++) {
		const struct pnode *p = t->nodes[i];
		if (p->hidden)
			continue;
		proc_key(p, key, sizeof(key));
		int pi = gnode_find(g, key);
		if (p->parent && !p->parent->hidden) {
			proc_key(p->parent, key, sizeof(key));
			gedge_add(g, gnode_find(g, key), pi, p->nexec ? "exec" : "fork", p->fork_ts ? p->fork_ts : p->first_ts,
				  NULL);
		}
		for (int k = 0; k < p->nexec; k++) {
			if (!p->execs[k].exe)
				continue;
			snprintf(key, sizeof(key), "f:%s", p->execs[k].exe);
			int fi = gnode_find(g, key);
			if (fi >= 0)
				gedge_add(g, fi, pi, "exec", p->execs[k].ts, NULL);
		}
	}
}

static void graph_free(struct graph *g)
{
	for (size_t i = 0; i < g->nn; i++) {
		free(g->n[i].key);
		free(g->n[i].label);
	}
	for (size_t i = 0; i < g->ne; i++)
		free(g->e[i].extra);
	free(g->n);
	free(g->e);
}

static void dot_str(struct strbuf *sb, const char *s)
{
	sb_putc(sb, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_putc(sb, '\\');
		if (*s == '\n')
			sb_puts(sb, "\\n");
		else
			sb_putc(sb, *s);
	}
	sb_putc(sb, '"');
}

static void print_dot(const struct inc_row *inc, const struct graph *g)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_puts(&sb, "digraph ");
	dot_str(&sb, inc->id);
	sb_puts(&sb, " {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
		     "  edge [fontname=\"Helvetica\", fontsize=9];\n  label=");
	char lbl[256];
	snprintf(lbl, sizeof(lbl), "%s  score %d  %s", inc->id, inc->score, state_level_name(inc->level));
	dot_str(&sb, lbl);
	sb_puts(&sb, ";\n");
	for (size_t i = 0; i < g->nn; i++) {
		const struct gnode *n = &g->n[i];
		sb_puts(&sb, "  ");
		dot_str(&sb, n->key);
		sb_puts(&sb, " [label=");
		if (n->type == G_PROC) {
			char l[1200];
			const struct pnode *p = n->p;
			struct strbuf im;
			sb_init(&im);
			pnode_images(p, &im);
			snprintf(l, sizeof(l), "%u\n%s", p->pid, im.buf ? im.buf : "?");
			sb_free(&im);
			for (int k = 0; k < p->nalerts; k++) {
				size_t used = strlen(l);
				snprintf(l + used, sizeof(l) - used, "\n! %s", p->alerts[k].title);
			}
			dot_str(&sb, l);
			sb_puts(&sb, ", shape=box");
			if (p->nalerts)
				sb_puts(&sb, ", color=red, fontcolor=red, penwidth=2");
			else if (p->ancestor_only)
				sb_puts(&sb, ", style=dashed");
		} else if (n->type == G_FILE) {
			dot_str(&sb, n->label);
			sb_puts(&sb, ", shape=note");
		} else {
			dot_str(&sb, n->label);
			sb_puts(&sb, ", shape=ellipse, color=purple");
		}
		sb_puts(&sb, "];\n");
	}
	for (size_t i = 0; i < g->ne; i++) {
		const struct gedge *e = &g->e[i];
		sb_puts(&sb, "  ");
		dot_str(&sb, g->n[e->from].key);
		sb_puts(&sb, " -> ");
		dot_str(&sb, g->n[e->to].key);
		sb_puts(&sb, " [label=");
		dot_str(&sb, e->type);
		sb_puts(&sb, "];\n");
	}
	sb_puts(&sb, "}\n");
	fwrite(sb.buf, 1, sb.len, stdout);
	sb_free(&sb);
}

static void print_json(const struct inc_row *inc, const struct ialerts *al, const struct graph *g, bool truncated)
{
	struct strbuf sb;
	struct jw w;
	char ts[64];
	sb_init(&sb);
	jw_init(&w, &sb);
	jw_obj_open(&w, NULL);
	jw_str(&w, "kind", "incident_report");
	jw_str(&w, "id", inc->id);
	jw_int(&w, "updates", inc->updates);
	jw_raw(&w, "incident", inc->json);
	jw_arr_open(&w, "alerts");
	for (size_t i = 0; i < al->n; i++) {
		jw_obj_open(&w, NULL);
		jw_int(&w, "id", al->v[i].a.id);
		jw_raw(&w, "alert", al->v[i].json);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_open(&w, "graph");
	jw_arr_open(&w, "nodes");
	for (size_t i = 0; i < g->nn; i++) {
		const struct gnode *n = &g->n[i];
		jw_obj_open(&w, NULL);
		jw_str(&w, "id", n->key);
		jw_str(&w, "type", n->type == G_PROC ? "process" : n->type == G_FILE ? "file" : "address");
		jw_str(&w, "label", n->label);
		if (n->type == G_PROC) {
			const struct pnode *p = n->p;
			jw_uint(&w, "pid", p->pid);
			if (p->start_ns)
				jw_uint(&w, "start_ns", p->start_ns);
			jw_str(&w, "executable", pnode_exe(p));
			jw_str(&w, "command_line", pnode_cmdline(p));
			if (p->ancestor_only)
				jw_bool(&w, "ancestor", true);
			jw_arr_open(&w, "alerts");
			for (int k = 0; k < p->nalerts; k++)
				jw_int(&w, NULL, p->alerts[k].id);
			jw_arr_close(&w);
		} else if (n->type == G_FILE) {
			jw_str(&w, "path", n->key + 2);
		} else {
			const char *s = n->key + 2, *colon = strrchr(s, ':');
			if (colon) {
				size_t l = (size_t)(colon - s);
				if (s[0] == '[' && l >= 2)
					jw_strn(&w, "ip", s + 1, l - 2);
				else
					jw_strn(&w, "ip", s, l);
				jw_int(&w, "port", atoi(colon + 1));
			}
		}
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_arr_open(&w, "edges");
	for (size_t i = 0; i < g->ne; i++) {
		const struct gedge *e = &g->e[i];
		jw_obj_open(&w, NULL);
		jw_str(&w, "from", g->n[e->from].key);
		jw_str(&w, "to", g->n[e->to].key);
		jw_str(&w, "type", e->type);
		if (e->ts) {
			vg_format_rfc3339(e->ts, ts, sizeof(ts));
			jw_str(&w, "@timestamp", ts);
		}
		if (e->extra)
			jw_str(&w, !strcmp(e->type, "rename") ? "old_path" : !strcmp(e->type, "chmod") ? "mode" : "detail",
			       e->extra);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_bool(&w, "truncated", truncated);
	jw_obj_close(&w);
	jw_obj_close(&w);
	cli_put_json_line(sb.buf, sb.len);
	sb_free(&sb);
}

static const struct pnode *next_shown(const struct pnode *c)
{
	for (c = c->next_sib; c && c->hidden; c = c->next_sib)
		;
	return c;
}

/* text: the process tree with what each process did, then the files and
 * addresses with who touched them */
static void print_proc(const struct graph *g, const struct pnode *p, const char *prefix, bool last, bool root)
{
	const char *branch = root ? "" : last ? "\xe2\x94\x94\xe2\x94\x80 " : "\xe2\x94\x9c\xe2\x94\x80 ";
	printf("%s%s%s%u%s %s", prefix, branch, cc(p->nalerts ? CC_BOLDRED : CC_BOLD), p->pid, cc(CC_RESET),
	       p->ancestor_only ? cc(CC_DIM) : "");
	struct strbuf sb;
	sb_init(&sb);
	pnode_images(p, &sb);
	const char *cmd = pnode_cmdline(p);
	if (*cmd)
		sb_printf(&sb, "  %s", cmd);
	cli_put_cut(stdout, sb.buf ? sb.buf : "", cli_term_cols() > 60 ? cli_term_cols() - (int)strlen(prefix) / 2 - 8 : 0,
		    false);
	sb_free(&sb);
	printf("%s\n", cc(CC_RESET));
	char sub[1024];
	snprintf(sub, sizeof(sub), "%s%s", prefix, root ? "" : last ? "   " : "\xe2\x94\x82  ");
	const struct pnode *first = p->child && p->child->hidden ? next_shown(p->child) : p->child;
	const char *bar = first ? "\xe2\x94\x82 " : "  ";
	for (int i = 0; i < p->nalerts; i++)
		printf("%s%s  %s! ALERT #%lld [%s] %s%s\n", sub, bar, cc(level_color(p->alerts[i].level)),
		       (long long)p->alerts[i].id, state_level_name(p->alerts[i].level), p->alerts[i].title, cc(CC_RESET));
	for (int i = 0; i < p->nact; i++) {
		const struct pact *a = &p->acts[i];
		if (!strcmp(a->type, "exec"))
			continue;
		printf("%s%s  %s%-8s%s ", sub, bar, cc(ev_color(!strcmp(a->type, "connect") || !strcmp(a->type, "accept") ?
								    "connect" : "file_x")),
		       a->type, cc(CC_RESET));
		cli_put_cut(stdout, a->target, 0, false);
		if (a->extra && !strcmp(a->type, "rename"))
			printf("  (from %s)", a->extra);
		else if (a->extra && !strcmp(a->type, "chmod"))
			printf("  (mode %s)", a->extra);
		putchar('\n');
	}
	(void)g;
	if (strlen(sub) > sizeof(sub) - 16)
		return;
	for (const struct pnode *c = p->child; c; c = c->next_sib)
		if (!c->hidden)
			print_proc(g, c, sub, !next_shown(c), false);
}

static void print_text(const struct inc_row *inc, const struct ialerts *al, struct ptree *t, const struct graph *g,
		       struct jdoc *doc)
{
	const struct jnode *r = jdoc_parse(doc, inc->json, strlen(inc->json));
	char a[64], b[64];
	cli_fmt_time(inc->first, a, sizeof(a));
	cli_fmt_time(inc->last, b, sizeof(b));
	printf("%sIncident %s%s  score %d  %s%s%s  (%s, %lld update%s)\n", cc(CC_BOLD), inc->id, cc(CC_RESET),
	       inc->score, cc(level_color(inc->level)), state_level_name(inc->level), cc(CC_RESET),
	       jstr(r, "incident.status", "?"), (long long)inc->updates, inc->updates == 1 ? "" : "s");
	printf("  time       %s .. %s\n", a, b);
	printf("  sessions  ");
	const struct jnode *ss = jget(r, "sessions");
	for (const struct jnode *s = ss && ss->type == JV_ARR ? ss->child : NULL; s; s = s->next)
		printf(" %s/%s (uid %s)", jstr(s, "host", "?"), jstr(s, "id", "?"), jstr(s, "user", "?"));
	putchar('\n');
	struct strbuf sb;
	sb_init(&sb);
	join_arr(jget(r, "threat.tactics"), &sb);
	printf("  tactics    %s\n", sb.buf ? sb.buf : "");
	sb_reset(&sb);
	join_arr(jget(r, "threat.techniques"), &sb);
	printf("  techniques %s\n", sb.buf ? sb.buf : "");
	sb_free(&sb);
	printf("\n%sAlerts (%zu)%s\n", cc(CC_BOLD), al->n, cc(CC_RESET));
	if (al->n)
		alerts_header();
	for (size_t i = 0; i < al->n; i++)
		put_alert_row(&al->v[i].a);
	const struct jnode *mem = jget(r, "members");
	int nsig = 0;
	for (const struct jnode *m = mem && mem->type == JV_ARR ? mem->child : NULL; m; m = m->next)
		nsig += !strcmp(jstr(m, "kind", ""), "signal");
	if (nsig) {
		printf("%sSignals (%d)%s\n", cc(CC_BOLD), nsig, cc(CC_RESET));
		for (const struct jnode *m = mem->child; m; m = m->next)
			if (!strcmp(jstr(m, "kind", ""), "signal"))
				printf("  %s  %-7s %s  (%s)\n", jstr(m, "@timestamp", "?"), jstr(m, "process.pid", "?"),
				       jstr(m, "rule.title", "?"), jstr(m, "rule.level", "?"));
	}
	size_t np = 0, nf = 0, na = 0;
	for (size_t i = 0; i < g->nn; i++)
		np += g->n[i].type == G_PROC, nf += g->n[i].type == G_FILE, na += g->n[i].type == G_ADDR;
	printf("\n%sProvenance%s (%zu processes, %zu files, %zu addresses, %zu edges%s)\n", cc(CC_BOLD), cc(CC_RESET), np,
	       nf, na, g->ne, t->truncated ? "; cut" : "");
	for (size_t i = 0; i < t->n; i++)
		if (!t->nodes[i]->parent && !t->nodes[i]->hidden)
			print_proc(g, t->nodes[i], "", true, true);
	if (nf || na) {
		printf("\n%sFiles and addresses%s\n", cc(CC_BOLD), cc(CC_RESET));
		for (size_t i = 0; i < g->nn; i++) {
			if (g->n[i].type == G_PROC)
				continue;
			printf("  %s", cc(g->n[i].type == G_FILE ? CC_YELLOW : CC_MAGENTA));
			cli_put_cut(stdout, g->n[i].key + 2, 0, false);
			printf("%s\n", cc(CC_RESET));
			for (size_t k = 0; k < g->ne; k++) {
				const struct gedge *e = &g->e[k];
				if (e->to == (int)i && g->n[e->from].type == G_PROC)
					printf("      <- %-8s by %s\n", e->type, g->n[e->from].label);
				else if (e->from == (int)i)
					printf("      -> %-8s %s\n", e->type, g->n[e->to].label);
			}
		}
	}
}

/* ancestors from an alert's process.chain: [the process, parent, ...] */
static void add_chain(struct ptree *t, const char *json, struct jdoc *doc)
{
	const struct jnode *r = jdoc_parse(doc, json, strlen(json));
	const struct jnode *ch = r ? jget(r, "process.chain") : NULL;
	if (!ch || ch->type != JV_ARR)
		return;
	struct pnode *below = NULL;
	for (const struct jnode *c = ch->child; c; c = c->next) {
		int64_t pid = jint(c, "pid", -1);
		if (pid <= 0)
			break;
		struct pnode *p = ptree_add_ancestor(t, (uint32_t)pid, jstr(c, "executable", NULL),
						     jstr(c, "command_line", NULL));
		if (below && p && below != p && below->ppid < 0)
			below->ppid = pid;
		below = p;
	}
}

struct seed_ctx {
	struct ptree *t;
	int64_t pid;
	uint64_t at;          /* pass 1: the alert's time */
	uint64_t start;       /* pass 1 finds it, pass 2 keeps only it */
	uint64_t best_first;
	bool pass2;
	struct jdoc doc;
};

static int seed_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct seed_ctx *c = ctx;
	const struct jnode *ev = jdoc_parse(&c->doc, json, len);
	if (!ev || jint(ev, "process.pid", -1) != c->pid)
		return 0;
	uint64_t start = (uint64_t)jint(ev, "process.start_ns", 0);
	if (!c->pass2) {
		/* the incarnation alive at the alert: the latest seen by then */
		if (ts <= c->at + 1000000000ULL && ts >= c->best_first) {
			c->best_first = ts;
			c->start = start;
		}
		return 0;
	}
	if (start == c->start)
		ptree_add_event(c->t, ev, ts);
	return 0;
}

int cmd_incident(int argc, char **argv)
{
	const char *store = NULL, *id = NULL;
	bool json = false, dot = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--dot"))
			dot = true;
		else if (!strcmp(argv[i], "--store") && i + 1 < argc)
			store = argv[++i];
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			goto usage;
	}
	if (!id || (json && dot))
		goto usage;
	const char *dir = cli_store_dir(store);
	struct state *st = cli_state_open(dir, false);
	if (!st)
		return 1;
	struct inc_row inc = {0};
	char err[512] = "";
	int found = state_incident_get(st, id, take_incident, &inc, err, sizeof(err));
	if (found <= 0) {
		if (found < 0 || *err)
			fprintf(stderr, "vigil incident: %s\n", err);
		else
			fprintf(stderr, "vigil incident: no incident '%s' in %s\n", id, dir);
		state_close(st);
		return 1;
	}
	struct ialerts al = {0};
	jdoc_init(&al.doc);
	struct state_alert_query q;
	state_alert_query_init(&q);
	q.incident_id = inc.id;
	if (state_alerts(st, &q, take_alert, &al, err, sizeof(err)) < 0)
		fprintf(stderr, "vigil: %s\n", err);
	struct jdoc doc;
	jdoc_init(&doc);
	const struct jnode *r = jdoc_parse(&doc, inc.json, strlen(inc.json));
	const char *host = r ? jstr(r, "host.name", NULL) : NULL;
	char *host_copy = host && *host ? strdup(host) : NULL;
	/* the processes the alerts (and signals) are about: their events and
	 * their descendants; their ancestors from the alerts' chains */
	struct ptree t;
	ptree_init(&t);
	t.keep_acts = true;
	t.max_nodes = 2000;
	t.host = host_copy;
	struct seed {
		int64_t pid;
		uint64_t start, ts;
	} seeds[256];
	int nseeds = 0;
	for (size_t i = 0; i < al.n && nseeds < 256; i++)
		if (al.v[i].a.pid > 0)
			seeds[nseeds++] = (struct seed){al.v[i].a.pid, al.v[i].start_ns, al.v[i].a.ts_ns};
	const struct jnode *mem = r ? jget(r, "members") : NULL;
	for (const struct jnode *m = mem && mem->type == JV_ARR ? mem->child : NULL; m && nseeds < 256; m = m->next) {
		int64_t pid = jint(m, "process.pid", -1);
		uint64_t ts = 0;
		const char *tt = jstr(m, "@timestamp", NULL);
		if (pid <= 0 || !tt || vg_parse_rfc3339(tt, &ts))
			continue;
		bool dup = false;
		for (int k = 0; k < nseeds && !dup; k++)
			dup = seeds[k].pid == pid;
		if (!dup)
			seeds[nseeds++] = (struct seed){pid, 0, ts};
	}
	bool have_store = true;
	struct seed_ctx sc = {.t = &t};
	jdoc_init(&sc.doc);
	for (int i = 0; i < nseeds && have_store; i++) {
		struct store_query sq;
		cli_query_init(&sq);
		sq.pid = seeds[i].pid;
		sq.host = t.host;
		sc.pid = seeds[i].pid;
		sc.at = seeds[i].ts;
		sc.start = seeds[i].start;
		sc.best_first = 0;
		if (!sc.start) {
			sc.pass2 = false;
			sq.to_ns = seeds[i].ts + 1000000000ULL;
			if (cli_query(dir, &sq, seed_row, &sc) < 0)
				have_store = false;
			sq.to_ns = 0;
		}
		struct pnode *have = ptree_find(&t, (uint32_t)seeds[i].pid, sc.start);
		if (!have_store || (have && have->first_ts && have->seed))
			continue;
		sc.pass2 = true;
		if (cli_query(dir, &sq, seed_row, &sc) < 0)
			have_store = false;
		have = ptree_find(&t, (uint32_t)seeds[i].pid, sc.start);
		if (have)
			have->seed = true;
	}
	jdoc_free(&sc.doc);
	if (have_store)
		ptree_follow_children(&t, dir);
	for (size_t i = 0; i < al.n; i++)
		add_chain(&t, al.v[i].json, &doc);
	ptree_link(&t);
	ptree_mark_alerts(&t, st);
	state_close(st);
	/* what the incident is about: the seeds, their descendants and the
	 * ancestors of all those; anything else (a process that only shared
	 * a pid) is hidden */
	for (size_t i = 0; i < t.n; i++) {
		struct pnode *p = t.nodes[i];
		bool k = p->seed || p->nalerts;
		for (struct pnode *a = p->parent; a && !k; a = a->parent)
			k = a->seed;
		p->hidden = !k;
	}
	for (size_t i = 0; i < t.n; i++)
		if (!t.nodes[i]->hidden)
			for (struct pnode *a = t.nodes[i]->parent; a; a = a->parent)
				a->hidden = false;
	struct graph g = {0};
	build_graph(&t, &g);
	if (dot)
		print_dot(&inc, &g);
	else if (json)
		print_json(&inc, &al, &g, t.truncated);
	else
		print_text(&inc, &al, &t, &g, &doc);
	graph_free(&g);
	ptree_free(&t);
	free(host_copy);
	for (size_t i = 0; i < al.n; i++) {
		free(al.v[i].rule_id);
		free(al.v[i].title);
		free(al.v[i].host);
		free(al.v[i].exe);
		free(al.v[i].json);
	}
	free(al.v);
	jdoc_free(&al.doc);
	jdoc_free(&doc);
	free(inc.id);
	free(inc.json);
	return 0;
usage:
	fprintf(stderr, "usage: vigil incident ID [--dot|--json] [--store DIR]\n");
	return 2;
}
