/* Processes from stored events: each (pid, start time) a node with its
 * images (execs), exit, parent and children (fork events, else
 * process.parent.pid), and optionally its file and network acts; alerts
 * from state.db marked on the nodes they are about. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "../util/htab.h"

struct pchain {
	struct pnode *p;
	struct pchain *next;
};

void ptree_init(struct ptree *t)
{
	memset(t, 0, sizeof(*t));
	t->max_nodes = 5000;
	jdoc_init(&t->doc);
	htab_init(&t->by_pid, 1024);
}

static void free_chain(void *v)
{
	struct pchain *c = v;
	while (c) {
		struct pchain *n = c->next;
		free(c);
		c = n;
	}
}

static void pnode_free(struct pnode *p)
{
	free(p->exe);
	free(p->cmdline);
	free(p->host);
	free(p->tty);
	for (int i = 0; i < p->nexec; i++) {
		free(p->execs[i].exe);
		free(p->execs[i].cmdline);
	}
	free(p->execs);
	for (int i = 0; i < p->nact; i++) {
		free(p->acts[i].target);
		free(p->acts[i].extra);
	}
	free(p->acts);
	for (int i = 0; i < p->nalerts; i++)
		free(p->alerts[i].title);
	free(p->alerts);
	free(p);
}

void ptree_free(struct ptree *t)
{
	for (size_t i = 0; i < t->n; i++)
		pnode_free(t->nodes[i]);
	free(t->nodes);
	htab_free(&t->by_pid, free_chain);
	jdoc_free(&t->doc);
	memset(t, 0, sizeof(*t));
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct pnode *ptree_find(struct ptree *t, uint32_t pid, uint64_t start_ns)
{
	for (struct pchain *c = htab_get(&t->by_pid, pid); c; c = c->next)
		if (c->p->start_ns == start_ns)
			return c->p;
	return NULL;
}

/* The incarnation of pid alive at start time `at` (the latest started
 * at or before it), or any when at is 0. */
static struct pnode *find_alive(struct ptree *t, uint32_t pid, uint64_t at, const struct pnode *not)
{
	struct pnode *best = NULL;
	for (struct pchain *c = htab_get(&t->by_pid, pid); c; c = c->next) {
		struct pnode *p = c->p;
		if (p == not)
			continue;
		if (at && p->start_ns > at)
			continue;
		if (!best || p->start_ns > best->start_ns)
			best = p;
	}
	return best;
}

static struct pnode *get_node(struct ptree *t, uint32_t pid, uint64_t start_ns)
{
	struct pnode *p = ptree_find(t, pid, start_ns);
	if (p)
		return p;
	if (t->n >= t->max_nodes) {
		t->truncated = true;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	struct pchain *c = calloc(1, sizeof(*c));
	if (!p || !c) {
		free(p);
		free(c);
		return NULL;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct pnode **nn = realloc(t->nodes, cap * sizeof(*nn));
		if (!nn) {
			free(p);
			free(c);
			return NULL;
		}
		t->nodes = nn;
		t->cap = cap;
	}
	p->pid = pid;
	p->start_ns = start_ns;
	p->ppid = -1;
	p->sid = -1;
	p->uid = -1;
	p->idx = (int)t->n;
	t->nodes[t->n++] = p;
	c->p = p;
	c->next = htab_get(&t->by_pid, pid);
	htab_put(&t->by_pid, pid, c, NULL);
	return p;
}

struct pnode *ptree_add_ancestor(struct ptree *t, uint32_t pid, const char *exe, const char *cmdline)
{
	struct pnode *p = find_alive(t, pid, 0, NULL);
	if (p)
		return p;
	p = get_node(t, pid, 0);
	if (!p)
		return NULL;
	p->ancestor_only = true;
	p->exe = dup_or_null(exe);
	p->cmdline = dup_or_null(cmdline);
	return p;
}

static void add_act(struct pnode *p, uint64_t ts, const char *type, const char *target, const char *extra)
{
	if (!target || !*target)
		return;
	/* the same act on the same target again: keep the first */
	for (int i = 0; i < p->nact; i++)
		if (!strcmp(p->acts[i].type, type) && !strcmp(p->acts[i].target, target))
			return;
	if (p->nact == p->capact) {
		int cap = p->capact ? p->capact * 2 : 8;
		struct pact *na = realloc(p->acts, (size_t)cap * sizeof(*na));
		if (!na)
			return;
		p->acts = na;
		p->capact = cap;
	}
	struct pact *a = &p->acts[p->nact++];
	memset(a, 0, sizeof(*a));
	a->ts = ts;
	snprintf(a->type, sizeof(a->type), "%s", type);
	a->target = strdup(target);
	a->extra = dup_or_null(extra);
}

static void addr_text(const struct jnode *ev, const char *side, char *buf, size_t cap)
{
	char k[32];
	snprintf(k, sizeof(k), "%s.ip", side);
	const char *ip = jstr(ev, k, NULL);
	snprintf(k, sizeof(k), "%s.port", side);
	const char *port = jstr(ev, k, NULL);
	if (!ip) {
		buf[0] = 0;
		return;
	}
	if (strchr(ip, ':'))
		snprintf(buf, cap, "[%s]:%s", ip, port ? port : "0");
	else
		snprintf(buf, cap, "%s:%s", ip, port ? port : "0");
}

void ptree_add_event(struct ptree *t, const struct jnode *ev, uint64_t ts)
{
	struct evinfo e;
	ev_info(ev, &e);
	if (e.pid < 0 || !strcmp(e.action, "vigil_metrics"))
		return;
	if (t->host && *e.host && strcmp(e.host, t->host))
		return;
	if (!ts)
		ts = e.ts;
	struct pnode *p = get_node(t, (uint32_t)e.pid, e.start_ns);
	if (!p)
		return;
	t->events++;
	if (!t->min_ts || ts < t->min_ts)
		t->min_ts = ts;
	if (ts > t->max_ts)
		t->max_ts = ts;
	if (!p->first_ts || ts < p->first_ts)
		p->first_ts = ts;
	if (ts > p->last_ts)
		p->last_ts = ts;
	if (!p->host && *e.host)
		p->host = strdup(e.host);
	if (e.sid >= 0 && (p->sid < 0 || !strcmp(e.action, "setsid")))
		p->sid = e.sid;
	int64_t ppid = jint(ev, "process.parent.pid", -1);
	if (ppid >= 0 && p->ppid < 0)
		p->ppid = ppid;
	if (!strcmp(e.action, "exec")) {
		p->exec_seen = true;
		if (p->nexec == p->capexec) {
			int cap = p->capexec ? p->capexec * 2 : 2;
			void *na = realloc(p->execs, (size_t)cap * sizeof(*p->execs));
			if (na) {
				p->execs = na;
				p->capexec = cap;
			}
		}
		/* the same exec seen twice (overlapping queries): once */
		bool dup = false;
		for (int i = 0; i < p->nexec; i++)
			if (p->execs[i].ts == ts)
				dup = true;
		if (!dup && p->nexec < p->capexec) {
			p->execs[p->nexec].ts = ts;
			p->execs[p->nexec].exe = dup_or_null(e.exe);
			p->execs[p->nexec].cmdline = dup_or_null(e.cmdline);
			p->nexec++;
		}
		int64_t uid = jint(ev, "user.id", -1);
		if (uid >= 0)
			p->uid = uid;
		const char *tty = jstr(ev, "process.tty.name", NULL);
		if (tty && !p->tty)
			p->tty = strdup(tty);
		if (t->keep_acts)
			add_act(p, ts, "exec", e.exe, NULL);
	} else if (!p->exe && e.exe) {
		/* the image it had before any exec we saw */
		p->exe = strdup(e.exe);
		p->cmdline = dup_or_null(e.cmdline);
	}
	if (p->uid < 0)
		p->uid = jint(ev, "user.id", -1);
	if (!strcmp(e.action, "fork")) {
		int64_t cpid = jint(ev, "vigil.child.pid", -1);
		uint64_t cstart = (uint64_t)jint(ev, "vigil.child.start_ns", 0);
		if (cpid > 0) {
			struct pnode *c = get_node(t, (uint32_t)cpid, cstart);
			if (c) {
				c->ppid = p->pid;
				c->parent_start = p->start_ns;
				c->fork_ts = ts;
				if (c->sid < 0)
					c->sid = p->sid;
				if (!c->exe && e.exe) {
					c->exe = strdup(e.exe);
					c->cmdline = dup_or_null(e.cmdline);
				}
				if (!c->host && *e.host)
					c->host = strdup(e.host);
			}
		}
	} else if (!strcmp(e.action, "exit")) {
		p->exited = true;
		p->exit_ts = ts;
		p->exit_code = (int)jint(ev, "vigil.exit_code", 0);
		p->exit_signal = (int)jint(ev, "vigil.exit_signal", 0);
	}
	if (!t->keep_acts)
		return;
	const char *a = e.action, *path = jstr(ev, "file.path", NULL);
	char addr[128];
	if (!strcmp(a, "file_create"))
		add_act(p, ts, "create", path, NULL);
	else if (!strcmp(a, "file_open_write") || !strcmp(a, "file_truncate"))
		add_act(p, ts, "write", path, NULL);
	else if (!strcmp(a, "file_rename"))
		add_act(p, ts, "rename", path, jstr(ev, "vigil.file.old_path", NULL));
	else if (!strcmp(a, "file_chmod"))
		add_act(p, ts, "chmod", path, jstr(ev, "file.mode", NULL));
	else if (!strcmp(a, "file_delete"))
		add_act(p, ts, "delete", path, NULL);
	else if (!strcmp(a, "file_read_sensitive"))
		add_act(p, ts, "read", path, NULL);
	else if (!strcmp(a, "file_link") || !strcmp(a, "file_symlink"))
		add_act(p, ts, "link", path, jstr(ev, "file.target_path", NULL));
	else if (!strcmp(a, "connect")) {
		addr_text(ev, "destination", addr, sizeof(addr));
		add_act(p, ts, "connect", addr, jstr(ev, "network.transport", NULL));
	} else if (!strcmp(a, "accept")) {
		addr_text(ev, "source", addr, sizeof(addr));
		add_act(p, ts, "accept", addr, jstr(ev, "network.transport", NULL));
	}
}

struct follow_ctx {
	struct ptree *t;
	uint32_t pid;
	uint64_t start;
};

int ptree_row(void *ctx, const char *json, size_t len, uint64_t ts_ns)
{
	struct ptree *t = ctx;
	const struct jnode *ev = jdoc_parse(&t->doc, json, len);
	if (ev)
		ptree_add_event(t, ev, ts_ns);
	return 0;
}

static int follow_row(void *ctx, const char *json, size_t len, uint64_t ts_ns)
{
	struct follow_ctx *f = ctx;
	const struct jnode *ev = jdoc_parse(&f->t->doc, json, len);
	/* only the incarnation we follow, not a later one with its pid */
	if (ev && (uint64_t)jint(ev, "process.start_ns", 0) == f->start)
		ptree_add_event(f->t, ev, ts_ns);
	return 0;
}

void ptree_follow_children(struct ptree *t, const char *dir)
{
	for (size_t i = 0; i < t->n && !t->truncated; i++) {
		struct pnode *p = t->nodes[i];
		if (p->first_ts || p->ancestor_only || !p->fork_ts)
			continue; /* has its own events already, or nothing to go on */
		struct store_query q;
		cli_query_init(&q);
		q.pid = p->pid;
		q.host = t->host;
		q.from_ns = p->fork_ts > 1000000000ULL ? p->fork_ts - 1000000000ULL : 0;
		struct follow_ctx f = {.t = t, .pid = p->pid, .start = p->start_ns};
		struct strbuf warn;
		sb_init(&warn);
		store_query(dir, &q, follow_row, &f, &warn);
		sb_free(&warn);
		if (!p->first_ts)
			p->first_ts = p->fork_ts; /* known only from its fork */
	}
}

static int by_start(const void *a, const void *b)
{
	const struct pnode *x = *(const struct pnode *const *)a, *y = *(const struct pnode *const *)b;
	uint64_t tx = x->fork_ts ? x->fork_ts : x->first_ts, ty = y->fork_ts ? y->fork_ts : y->first_ts;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int exec_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; /* ts is the first member */
	return x < y ? -1 : x > y;
}

void ptree_link(struct ptree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct pnode *p = t->nodes[i];
		p->parent = NULL;
		p->child = p->next_sib = NULL;
		if (p->nexec > 1)
			qsort(p->execs, (size_t)p->nexec, sizeof(*p->execs), exec_cmp);
	}
	/* children sorted by when they started */
	struct pnode **order = malloc(t->n * sizeof(*order));
	if (!order)
		return;
	memcpy(order, t->nodes, t->n * sizeof(*order));
	qsort(order, t->n, sizeof(*order), by_start);
	for (size_t k = t->n; k-- > 0;) {
		struct pnode *p = order[k];
		struct pnode *par = NULL;
		if (p->ppid > 0) {
			par = p->parent_start ? ptree_find(t, (uint32_t)p->ppid, p->parent_start) : NULL;
			if (!par)
				par = find_alive(t, (uint32_t)p->ppid, p->start_ns, p);
		}
		if (par == p)
			par = NULL;
		/* never a cycle: the parent cannot descend from p */
		for (struct pnode *a = par; a; a = a->parent)
			if (a == p) {
				par = NULL;
				break;
			}
		p->parent = par;
		if (par) {
			p->next_sib = par->child;
			par->child = p;
		}
	}
	free(order);
}

const char *pnode_exe(const struct pnode *p)
{
	if (p->nexec && p->execs[p->nexec - 1].exe)
		return p->execs[p->nexec - 1].exe;
	return p->exe ? p->exe : "?";
}

const char *pnode_cmdline(const struct pnode *p)
{
	if (p->nexec && p->execs[p->nexec - 1].cmdline)
		return p->execs[p->nexec - 1].cmdline;
	return p->cmdline ? p->cmdline : "";
}

void pnode_images(const struct pnode *p, struct strbuf *sb)
{
	if (!p->nexec) {
		sb_puts(sb, p->exe ? p->exe : "?");
		return;
	}
	for (int i = 0; i < p->nexec; i++) {
		const char *e = p->execs[i].exe ? p->execs[i].exe : "?";
		if (i)
			sb_printf(sb, " -> %s", ev_basename(e));
		else
			sb_puts(sb, e);
	}
}

struct mark_ctx {
	struct ptree *t;
	struct jdoc doc;
};

static int mark_one(void *ctx, const struct state_alert *a)
{
	struct mark_ctx *m = ctx;
	struct ptree *t = m->t;
	if (a->pid < 0)
		return 0;
	struct pnode *p = NULL;
	/* the alert's own event names the exact process */
	const struct jnode *r = a->json ? jdoc_parse(&m->doc, a->json, strlen(a->json)) : NULL;
	const struct jnode *ev = r ? jat(jget(r, "events"), 0) : NULL;
	if (ev && jint(ev, "process.pid", -1) == a->pid)
		p = ptree_find(t, (uint32_t)a->pid, (uint64_t)jint(ev, "process.start_ns", 0));
	if (!p) {
		/* else the incarnation of the pid that was alive then */
		for (size_t i = 0; i < t->n; i++) {
			struct pnode *c = t->nodes[i];
			if (c->pid != a->pid || c->ancestor_only)
				continue;
			uint64_t from = c->fork_ts ? c->fork_ts : c->first_ts;
			uint64_t to = c->exited ? c->exit_ts : c->last_ts;
			if (a->ts_ns + 1000000000ULL >= from && (!c->exited || a->ts_ns <= to + 1000000000ULL)) {
				p = c;
				break;
			}
		}
	}
	if (!p)
		return 0;
	for (int i = 0; i < p->nalerts; i++)
		if (p->alerts[i].id == a->id)
			return 0;
	void *na = realloc(p->alerts, (size_t)(p->nalerts + 1) * sizeof(*p->alerts));
	if (!na)
		return 0;
	p->alerts = na;
	p->alerts[p->nalerts].id = a->id;
	p->alerts[p->nalerts].level = a->level;
	p->alerts[p->nalerts].title = strdup(a->title ? a->title : "");
	p->nalerts++;
	return 0;
}

void ptree_mark_alerts(struct ptree *t, struct state *st)
{
	if (!st || !t->n)
		return;
	struct state_alert_query q;
	state_alert_query_init(&q);
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct pnode *p = t->nodes[i];
		uint64_t f = p->fork_ts && p->fork_ts < p->first_ts ? p->fork_ts : p->first_ts;
		if (f && f < lo)
			lo = f;
		if (p->last_ts > hi)
			hi = p->last_ts;
	}
	if (!hi)
		return;
	q.from_ns = lo > 2000000000ULL ? lo - 2000000000ULL : 1;
	q.to_ns = hi + 2000000000ULL;
	q.host = t->host;
	struct mark_ctx m = {.t = t};
	jdoc_init(&m.doc);
	char err[256];
	if (state_alerts(st, &q, mark_one, &m, err, sizeof(err)) < 0)
		fprintf(stderr, "vigil: %s\n", err);
	jdoc_free(&m.doc);
}

void pnode_json(const struct pnode *p, struct jw *w, bool recurse)
{
	char ts[64];
	jw_obj_open(w, NULL);
	jw_uint(w, "pid", p->pid);
	if (p->start_ns)
		jw_uint(w, "start_ns", p->start_ns);
	if (p->ppid >= 0)
		jw_int(w, "ppid", p->ppid);
	if (p->sid >= 0)
		jw_int(w, "sid", p->sid);
	if (p->uid >= 0)
		jw_int(w, "uid", p->uid);
	jw_str(w, "executable", pnode_exe(p));
	jw_str(w, "command_line", pnode_cmdline(p));
	if (p->exe && p->nexec) {
		jw_str(w, "forked_as", p->exe);
	}
	if (p->first_ts) {
		vg_format_rfc3339(p->fork_ts && p->fork_ts < p->first_ts ? p->fork_ts : p->first_ts, ts, sizeof(ts));
		jw_str(w, "first", ts);
	}
	jw_arr_open(w, "execs");
	for (int i = 0; i < p->nexec; i++) {
		jw_obj_open(w, NULL);
		vg_format_rfc3339(p->execs[i].ts, ts, sizeof(ts));
		jw_str(w, "@timestamp", ts);
		jw_str(w, "executable", p->execs[i].exe ? p->execs[i].exe : "");
		jw_str(w, "command_line", p->execs[i].cmdline ? p->execs[i].cmdline : "");
		jw_obj_close(w);
	}
	jw_arr_close(w);
	if (p->exited) {
		vg_format_rfc3339(p->exit_ts, ts, sizeof(ts));
		jw_str(w, "exit", ts);
		jw_int(w, "exit_code", p->exit_code);
		if (p->exit_signal)
			jw_int(w, "exit_signal", p->exit_signal);
	}
	jw_arr_open(w, "alerts");
	for (int i = 0; i < p->nalerts; i++) {
		jw_obj_open(w, NULL);
		jw_int(w, "id", p->alerts[i].id);
		jw_str(w, "level", state_level_name(p->alerts[i].level));
		jw_str(w, "title", p->alerts[i].title);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	if (recurse) {
		jw_arr_open(w, "children");
		for (const struct pnode *c = p->child; c; c = c->next_sib)
			pnode_json(c, w, true);
		jw_arr_close(w);
	}
	jw_obj_close(w);
}
