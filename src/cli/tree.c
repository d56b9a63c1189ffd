/* `vigil tree PID|--session SID`: the process tree from exec, fork and
 * exit events, with exe and argv, marked where alerts fired. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

/* Prints text after `used` columns, cut to the terminal's width. */
static void put_rest(const char *s, int used)
{
	int cols = cli_term_cols();
	cli_put_cut(stdout, s, cols && used + 8 < cols ? cols - used : 0, false);
}

static int utf8_cols(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void print_node(const struct pnode *p, const char *prefix, bool last, bool root)
{
	char line[64];
	const char *branch = root ? "" : last ? "\xe2\x94\x94\xe2\x94\x80 " : "\xe2\x94\x9c\xe2\x94\x80 ";
	snprintf(line, sizeof(line), "%d", p->pid);
	int used = utf8_cols(prefix) + utf8_cols(branch) + (int)strlen(line) + 1;
	bool alerted = p->nalerts > 0;
	printf("%s%s%s%s%s ", prefix, branch, cc(alerted ? CC_BOLDRED : CC_BOLD), line, cc(CC_RESET));
	/* the first image it ran, then each later exec on its own line */
	const char *exe = p->nexec ? p->execs[0].exe : p->exe;
	const char *cmd = p->nexec ? p->execs[0].cmdline : p->cmdline;
	struct strbuf sb;
	sb_init(&sb);
	sb_printf(&sb, "%s", exe ? exe : "?");
	if (cmd && *cmd)
		sb_printf(&sb, "  %s", cmd);
	if (!p->nexec && p->fork_ts)
		sb_puts(&sb, "  (forked, no exec)");
	char tail[96] = "";
	if (p->exited && p->exit_signal)
		snprintf(tail, sizeof(tail), "  [killed by signal %d]", p->exit_signal);
	else if (p->exited)
		snprintf(tail, sizeof(tail), "  [exit %d]", p->exit_code);
	printf("%s", cc(alerted ? CC_RED : CC_RESET));
	put_rest(sb.buf ? sb.buf : "", used + utf8_cols(tail));
	printf("%s%s%s%s\n", cc(CC_RESET), cc(CC_DIM), tail, cc(CC_RESET));
	char sub[1024];
	snprintf(sub, sizeof(sub), "%s%s", prefix, root ? "" : last ? "   " : "\xe2\x94\x82  ");
	const char *bar = p->child ? "\xe2\x94\x82 " : "  ";
	for (int i = 1; i < p->nexec; i++) {
		sb_reset(&sb);
		sb_printf(&sb, "%s  %s", p->execs[i].exe ? p->execs[i].exe : "?",
			  p->execs[i].cmdline ? p->execs[i].cmdline : "");
		printf("%s%s  %s\xe2\x86\xb3 exec%s ", sub, bar, cc(CC_GREEN), cc(CC_RESET));
		put_rest(sb.buf, utf8_cols(sub) + 10);
		putchar('\n');
	}
	for (int i = 0; i < p->nalerts; i++)
		printf("%s%s  %s! ALERT #%lld [%s] %s%s\n", sub, bar, cc(p->alerts[i].level >= 3 ? CC_BOLDRED : CC_RED),
		       (long long)p->alerts[i].id, state_level_name(p->alerts[i].level), p->alerts[i].title,
		       cc(CC_RESET));
	sb_free(&sb);
	if (strlen(sub) > sizeof(sub) - 16) {
		printf("%s...\n", sub);
		return;
	}
	for (const struct pnode *c = p->child; c; c = c->next_sib)
		print_node(c, sub, !c->next_sib, false);
}

struct anc {
	int64_t pid;
	char *exe, *cmd;
};

struct tree_ctx {
	struct ptree *t;
	uint32_t pid;
	uint64_t want_start; /* 0: choose the latest incarnation */
	uint64_t best_start;
	bool pass2;
	struct anc anc[64];
	int nanc;
	bool anc_done;
	char hosts[4][256];
	int nhosts;
};

static void tree_note_host(struct tree_ctx *c, const char *h)
{
	if (!h || !*h)
		return;
	for (int i = 0; i < c->nhosts; i++)
		if (!strcmp(c->hosts[i], h))
			return;
	if (c->nhosts < 4)
		snprintf(c->hosts[c->nhosts++], sizeof(c->hosts[0]), "%s", h);
}

static void take_ancestors(struct tree_ctx *c, const struct jnode *ev)
{
	const struct jnode *an = jget(ev, "vigil.ancestors");
	if (an && an->type == JV_ARR && an->n) {
		for (const struct jnode *a = an->child; a && c->nanc < 64; a = a->next) {
			c->anc[c->nanc].pid = jint(a, "pid", -1);
			c->anc[c->nanc].exe = strdup(jstr(a, "executable", "?"));
			c->anc[c->nanc].cmd = strdup(jstr(a, "command_line", ""));
			c->nanc++;
		}
		c->anc_done = true;
	} else if (!c->nanc && jint(ev, "process.parent.pid", -1) >= 0) {
		/* the parent only, until an exec event gives the whole chain */
		c->anc[0].pid = jint(ev, "process.parent.pid", -1);
		c->anc[0].exe = strdup(jstr(ev, "process.parent.executable", "?"));
		c->anc[0].cmd = strdup(jstr(ev, "process.parent.command_line", ""));
		c->nanc = 1;
	}
}

static int tree_pid_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct tree_ctx *c = ctx;
	const struct jnode *ev = jdoc_parse(&c->t->doc, json, len);
	if (!ev)
		return 0;
	uint64_t start = (uint64_t)jint(ev, "process.start_ns", 0);
	if (!c->pass2) {
		/* pass 1: which incarnations of the pid, on which hosts */
		if (!c->t->host || !strcmp(jstr(ev, "host.name", ""), c->t->host)) {
			tree_note_host(c, jstr(ev, "host.name", NULL));
			if (start >= c->best_start)
				c->best_start = start;
		}
		return 0;
	}
	if (start != c->want_start)
		return 0;
	if (!c->anc_done && !strcmp(jstr(ev, "event.action", ""), "exec")) {
		for (int i = 0; i < c->nanc; i++) {
			free(c->anc[i].exe);
			free(c->anc[i].cmd);
		}
		c->nanc = 0;
		take_ancestors(c, ev);
	} else if (!c->nanc) {
		take_ancestors(c, ev);
	}
	ptree_add_event(c->t, ev, ts);
	return 0;
}

static void tree_json(struct ptree *t, const struct tree_ctx *c, int64_t sid, int64_t pid)
{
	struct strbuf sb;
	struct jw w;
	sb_init(&sb);
	jw_init(&w, &sb);
	jw_obj_open(&w, NULL);
	jw_str(&w, "kind", "tree");
	jw_str(&w, "host", t->host ? t->host : "");
	if (pid >= 0)
		jw_int(&w, "pid", pid);
	if (sid >= 0)
		jw_int(&w, "session", sid);
	jw_arr_open(&w, "ancestors");
	for (int i = c ? c->nanc - 1 : -1; i >= 0; i--) {
		jw_obj_open(&w, NULL);
		jw_int(&w, "pid", c->anc[i].pid);
		jw_str(&w, "executable", c->anc[i].exe);
		jw_str(&w, "command_line", c->anc[i].cmd);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_arr_open(&w, "roots");
	for (size_t i = 0; i < t->n; i++) {
		const struct pnode *p = t->nodes[i];
		if (!p->parent && (pid < 0 || p->pid == pid))
			pnode_json(p, &w, true);
	}
	jw_arr_close(&w);
	jw_uint(&w, "processes", t->n);
	jw_bool(&w, "truncated", t->truncated);
	jw_obj_close(&w);
	cli_put_json_line(sb.buf, sb.len);
	sb_free(&sb);
}

static int by_first(const void *a, const void *b)
{
	const struct pnode *x = *(const struct pnode *const *)a, *y = *(const struct pnode *const *)b;
	uint64_t tx = x->fork_ts ? x->fork_ts : x->first_ts, ty = y->fork_ts ? y->fork_ts : y->first_ts;
	return tx < ty ? -1 : tx > ty;
}

int cmd_tree(int argc, char **argv)
{
	const char *store = NULL, *host = NULL;
	bool json = false;
	int64_t sid = -1, pid = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			json = true;
		} else if ((!strcmp(a, "--store") || !strcmp(a, "--host") || !strcmp(a, "--session")) && i + 1 < argc) {
			const char *v = argv[++i];
			if (a[2] == 's' && a[3] == 't')
				store = v;
			else if (a[2] == 'h')
				host = v;
			else if (cli_parse_i64(v, &sid))
				goto usage;
		} else if (pid < 0 && !cli_parse_i64(a, &pid)) {
		} else {
			goto usage;
		}
	}
	if ((pid < 0) == (sid < 0))
		goto usage;
	const char *dir = cli_store_dir(store);
	struct ptree t;
	ptree_init(&t);
	t.host = host;
	struct tree_ctx c = {.t = &t};
	struct store_query q;
	cli_query_init(&q);
	q.host = host;
	long n;
	if (pid >= 0) {
		c.pid = (uint32_t)pid;
		q.pid = pid;
		n = cli_query(dir, &q, tree_pid_row, &c);
		if (n > 0 && !host && c.nhosts > 1) {
			fprintf(stderr, "vigil tree: pid %lld is on several hosts (", (long long)pid);
			for (int i = 0; i < c.nhosts; i++)
				fprintf(stderr, "%s%s", i ? ", " : "", c.hosts[i]);
			fprintf(stderr, "): choose one with --host\n");
			ptree_free(&t);
			return 2;
		}
		if (!host && c.nhosts == 1)
			t.host = c.hosts[0];
		if (n > 0) {
			c.pass2 = true;
			c.want_start = c.best_start; /* the latest process with that pid */
			n = cli_query(dir, &q, tree_pid_row, &c);
		}
	} else {
		q.sid = sid;
		n = cli_query(dir, &q, ptree_row, &t);
		if (n > 0 && !host) {
			/* one host */
			const char *h0 = NULL;
			for (size_t i = 0; i < t.n; i++)
				if (t.nodes[i]->host) {
					if (!h0)
						h0 = t.nodes[i]->host;
					else if (strcmp(h0, t.nodes[i]->host)) {
						fprintf(stderr, "vigil tree: session %lld is on several hosts (%s, %s, ...):"
								" choose one with --host\n", (long long)sid, h0, t.nodes[i]->host);
						ptree_free(&t);
						return 2;
					}
				}
			t.host = h0;
		}
	}
	if (n <= 0) {
		if (n == 0) {
			if (pid >= 0)
				fprintf(stderr, "vigil tree: no events of pid %lld in %s\n", (long long)pid, dir);
			else
				fprintf(stderr, "vigil tree: no events of session %lld in %s\n", (long long)sid, dir);
		}
		ptree_free(&t);
		return 1;
	}
	ptree_follow_children(&t, dir);
	ptree_link(&t);
	struct state *st = cli_state_open(dir, true);
	ptree_mark_alerts(&t, st);
	state_close(st);
	if (json) {
		tree_json(&t, pid >= 0 ? &c : NULL, sid, pid);
	} else {
		if (pid >= 0) {
			printf("%sProcess %lld%s on %s\n", cc(CC_BOLD), (long long)pid, cc(CC_RESET), t.host ? t.host : "?");
			char pre[512] = "";
			for (int i = c.nanc - 1; i >= 0; i--) {
				char head[64];
				snprintf(head, sizeof(head), "%lld ", (long long)c.anc[i].pid);
				printf("%s%s%s", cc(CC_DIM), pre, head);
				struct strbuf sb;
				sb_init(&sb);
				if (strcmp(c.anc[i].exe, "?") || !*c.anc[i].cmd)
					sb_printf(&sb, "%s  ", c.anc[i].exe);
				sb_puts(&sb, c.anc[i].cmd);
				put_rest(sb.buf ? sb.buf : "", (int)(strlen(pre) + strlen(head)));
				sb_free(&sb);
				printf("%s\n", cc(CC_RESET));
				if (strlen(pre) < sizeof(pre) - 8)
					strcat(pre, "  ");
			}
			struct pnode *root = NULL;
			for (size_t i = 0; i < t.n && !root; i++)
				if (t.nodes[i]->pid == (uint32_t)pid && t.nodes[i]->start_ns == c.want_start)
					root = t.nodes[i];
			if (root)
				print_node(root, pre, true, true);
		} else {
			printf("%sSession %lld%s on %s\n", cc(CC_BOLD), (long long)sid, cc(CC_RESET), t.host ? t.host : "?");
			struct pnode **roots = malloc(t.n * sizeof(*roots));
			size_t nr = 0;
			for (size_t i = 0; roots && i < t.n; i++)
				if (!t.nodes[i]->parent)
					roots[nr++] = t.nodes[i];
			if (roots)
				qsort(roots, nr, sizeof(*roots), by_first);
			for (size_t i = 0; i < nr; i++)
				print_node(roots[i], "", true, true);
			free(roots);
		}
		if (t.truncated)
			printf("%s(more than %zu processes: the tree is cut)%s\n", cc(CC_DIM), t.max_nodes, cc(CC_RESET));
	}
	for (int i = 0; i < c.nanc; i++) {
		free(c.anc[i].exe);
		free(c.anc[i].cmd);
	}
	ptree_free(&t);
	return 0;
usage:
	fprintf(stderr, "usage: vigil tree PID|--session SID [--host H] [--json] [--store DIR]\n");
	return 2;
}
