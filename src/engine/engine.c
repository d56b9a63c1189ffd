/* The engine core: loads Sigma files, resolves correlation references,
 * builds the matcher, and runs each event through detection rules,
 * correlations and session scoring, handing alerts and incidents to the
 * output callback.
 *
 * Which hits alert: a detection or correlation rule alerts unless it is a
 * signal (by default low/informational rules; `vigil: {signal: ...}`
 * overrides), in which
 * case it only scores; a rule referenced by correlations alerts (or
 * scores) on its own only when one of them says `generate: true`. Every
 * alert scores too. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "engine_int.h"

#define RULE_FILE_MAX (4u << 20)
#define DIR_DEPTH_MAX 16
#define CHAIN_DEPTH_MAX 4

struct ref {
	int corr; /* rule index of the correlation */
	int pos;  /* position of the referenced rule in it */
};

struct engine {
	struct engine_opts opts;
	struct rule **rules;
	int nrules, cap;
	/* after engine_compile */
	bool compiled;
	bool *disabled;
	struct matcher *m;
	struct corr_state **cs;
	struct ref **refs;
	int *nrefs;
	bool *gen; /* alerts/scores on its own although referenced */
	struct scorer *sc;
	engine_output_fn fn;
	void *ctx;
	struct engine_stats st;
	struct strbuf out;
	struct rule **hits;
	int nhits, hcap;
	/* the event being processed */
	const struct vg_flat *ev;
	const char *json;
	size_t len;
	uint64_t now, seq, last_tick;
	int depth;
};

struct engine *engine_new(const struct engine_opts *opts)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	if (opts)
		e->opts = *opts;
	if (e->opts.incident_threshold <= 0)
		e->opts.incident_threshold = 60;
	if (!e->opts.max_corr_keys)
		e->opts.max_corr_keys = 65536;
	sb_init(&e->out);
	return e;
}

static void uncompile(struct engine *e)
{
	if (e->cs)
		for (int i = 0; i < e->nrules; i++)
			corr_free(e->cs[i]);
	if (e->refs)
		for (int i = 0; i < e->nrules; i++)
			free(e->refs[i]);
	free(e->cs);
	free(e->refs);
	free(e->nrefs);
	free(e->gen);
	free(e->disabled);
	matcher_free(e->m);
	score_free(e->sc);
	e->cs = NULL;
	e->refs = NULL;
	e->nrefs = NULL;
	e->gen = NULL;
	e->disabled = NULL;
	e->m = NULL;
	e->sc = NULL;
	e->compiled = false;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	uncompile(e);
	for (int i = 0; i < e->nrules; i++)
		rule_free(e->rules[i]);
	free(e->rules);
	free(e->hits);
	sb_free(&e->out);
	free(e);
}

/* ---- loading ---------------------------------------------------------- */

static const struct rule *find_id(const struct engine *e, const char *id)
{
	for (int i = 0; id && *id && i < e->nrules; i++)
		if (e->rules[i]->id && strcmp(e->rules[i]->id, id) == 0)
			return e->rules[i];
	return NULL;
}

static const struct rule *find_name(const struct engine *e, const char *name)
{
	for (int i = 0; name && *name && i < e->nrules; i++)
		if (e->rules[i]->name && strcmp(e->rules[i]->name, name) == 0)
			return e->rules[i];
	return NULL;
}

static int load_buf(struct engine *e, const char *text, size_t len, const char *name, struct strbuf *errs)
{
	struct rule **got = NULL;
	int ngot = 0;
	sigma_parse(text, len, name, &got, &ngot, errs);
	int added = 0;
	for (int i = 0; i < ngot; i++) {
		struct rule *r = got[i];
		const struct rule *dup = find_id(e, r->id);
		if (dup) {
			sb_printf(errs, "%s:%d: duplicate rule id %s (already in %s:%d); skipped\n",
				  r->file ? r->file : name, r->line, r->id, dup->file ? dup->file : "?", dup->line);
			rule_free(r);
			continue;
		}
		dup = find_name(e, r->name);
		if (dup) {
			sb_printf(errs, "%s:%d: duplicate rule name %s (already in %s:%d); skipped\n",
				  r->file ? r->file : name, r->line, r->name, dup->file ? dup->file : "?", dup->line);
			rule_free(r);
			continue;
		}
		if (e->nrules == e->cap) {
			int cap = e->cap ? e->cap * 2 : 64;
			struct rule **nr = realloc(e->rules, (size_t)cap * sizeof(*nr));
			if (!nr) {
				sb_printf(errs, "%s:%d: out of memory\n", name, r->line);
				rule_free(r);
				continue;
			}
			e->rules = nr;
			e->cap = cap;
		}
		r->index = e->nrules;
		e->rules[e->nrules++] = r;
		added++;
	}
	free(got);
	if (e->compiled)
		uncompile(e);
	return added;
}

int engine_load_text(struct engine *e, const char *text, const char *name, struct strbuf *errs)
{
	return load_buf(e, text, strlen(text), name ? name : "<text>", errs);
}

int engine_load_file(struct engine *e, const char *path, struct strbuf *errs)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		sb_printf(errs, "%s:1: cannot read: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)RULE_FILE_MAX) {
		sb_printf(errs, "%s:1: cannot read: %s\n", path,
			  S_ISREG(st.st_mode) ? "larger than 4 MiB" : "not a regular file");
		close(fd);
		return -1;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	while (buf && n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	int err = errno;
	close(fd);
	if (!buf || n < (size_t)st.st_size) {
		sb_printf(errs, "%s:1: cannot read: %s\n", path, buf ? strerror(err) : "out of memory");
		free(buf);
		return -1;
	}
	buf[n] = 0;
	int r = load_buf(e, buf, n, path, errs);
	free(buf);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool rule_file_name(const char *n)
{
	size_t l = strlen(n);
	return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static int load_dir(struct engine *e, const char *dir, struct strbuf *errs, int depth)
{
	DIR *d = opendir(dir);
	if (!d) {
		sb_printf(errs, "%s:1: cannot read directory: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., hidden files and directories */
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, cap * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
		}
		if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	int total = 0;
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(names[i], &st)) {
			sb_printf(errs, "%s:1: cannot read: %s\n", names[i], strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			if (depth < DIR_DEPTH_MAX) {
				int r = load_dir(e, names[i], errs, depth + 1);
				if (r > 0)
					total += r;
			}
		} else if (rule_file_name(names[i])) {
			int r = engine_load_file(e, names[i], errs);
			if (r > 0)
				total += r;
		}
		free(names[i]);
	}
	free(names);
	return total;
}

int engine_load_dir(struct engine *e, const char *dir, struct strbuf *errs)
{
	struct stat st;
	if (stat(dir, &st)) {
		sb_printf(errs, "%s:1: cannot read directory: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		sb_printf(errs, "%s:1: cannot read directory: not a directory\n", dir);
		return -1;
	}
	return load_dir(e, dir, errs, 0);
}

/* ---- compiling ---------------------------------------------------------- */

static struct rule *find_ref(struct engine *e, const char *ref, const struct rule *self)
{
	for (int i = 0; i < e->nrules; i++) {
		struct rule *r = e->rules[i];
		if (r != self && r->name && strcmp(r->name, ref) == 0)
			return r;
	}
	for (int i = 0; i < e->nrules; i++) {
		struct rule *r = e->rules[i];
		if (r != self && r->id && strcmp(r->id, ref) == 0)
			return r;
	}
	return NULL;
}

/* A correlation that (indirectly) refers to itself can never complete. */
static bool has_cycle(struct engine *e, const struct rule *start, const struct rule *at, int depth)
{
	if (depth > CHAIN_DEPTH_MAX)
		return true;
	if (!at->corr || !at->corr->resolved)
		return false;
	for (int i = 0; i < at->corr->nrules; i++) {
		const struct rule *x = at->corr->resolved[i];
		if (!x)
			continue;
		if (x == start || has_cycle(e, start, x, depth + 1))
			return true;
	}
	return false;
}

int engine_compile(struct engine *e, struct strbuf *errs)
{
	uncompile(e);
	int n = e->nrules;
	size_t sz = n ? (size_t)n : 1;
	e->disabled = calloc(sz, sizeof(bool));
	e->cs = calloc(sz, sizeof(*e->cs));
	e->refs = calloc(sz, sizeof(*e->refs));
	e->nrefs = calloc(sz, sizeof(int));
	e->gen = calloc(sz, sizeof(bool));
	e->sc = score_new(e->opts.incident_threshold);
	if (!e->disabled || !e->cs || !e->refs || !e->nrefs || !e->gen || !e->sc) {
		sb_printf(errs, "engine: out of memory\n");
		uncompile(e);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct rule *r = e->rules[i];
		r->index = i;
	}
	/* resolve references by name, then id */
	for (int i = 0; i < n; i++) {
		struct rule *r = e->rules[i];
		struct correlation *c = r->corr;
		if (!c)
			continue;
		if (!c->resolved)
			c->resolved = calloc((size_t)(c->nrules > 0 ? c->nrules : 1), sizeof(*c->resolved));
		if (!c->resolved) {
			e->disabled[i] = true;
			continue;
		}
		for (int p = 0; p < c->nrules; p++) {
			c->resolved[p] = find_ref(e, c->rules[p], r);
			if (!c->resolved[p]) {
				sb_printf(errs, "%s:%d: correlation '%s' refers to unknown rule '%s'; skipped\n",
					  r->file ? r->file : "?", r->line, r->title ? r->title : "", c->rules[p]);
				e->disabled[i] = true;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		struct rule *r = e->rules[i];
		if (r->corr && !e->disabled[i] && has_cycle(e, r, r, 0)) {
			sb_printf(errs, "%s:%d: correlation '%s' refers to itself (directly or through others); skipped\n",
				  r->file ? r->file : "?", r->line, r->title ? r->title : "");
			e->disabled[i] = true;
		}
	}
	for (int i = 0; i < n; i++) {
		struct rule *r = e->rules[i];
		if (!r->corr || e->disabled[i])
			continue;
		e->cs[i] = corr_new(r, e->opts.max_corr_keys, errs);
		if (!e->cs[i])
			e->disabled[i] = true;
	}
	/* who feeds which correlation */
	for (int i = 0; i < n; i++) {
		struct rule *r = e->rules[i];
		if (!r->corr || e->disabled[i])
			continue;
		for (int p = 0; p < r->corr->nrules; p++) {
			int t = r->corr->resolved[p]->index;
			struct ref *nr = realloc(e->refs[t], (size_t)(e->nrefs[t] + 1) * sizeof(*nr));
			if (!nr)
				continue;
			nr[e->nrefs[t]++] = (struct ref){.corr = i, .pos = p};
			e->refs[t] = nr;
			if (r->corr->generate)
				e->gen[t] = true;
		}
	}
	/* the matcher gets the detection rules */
	struct rule **det = calloc(sz, sizeof(*det));
	if (!det) {
		uncompile(e);
		return -1;
	}
	int nd = 0;
	for (int i = 0; i < n; i++)
		if (!e->rules[i]->corr)
			det[nd++] = e->rules[i];
	e->m = matcher_build(det, nd, errs);
	free(det);
	if (!e->m && nd) {
		sb_printf(errs, "engine: cannot build the matcher\n");
		uncompile(e);
		return -1;
	}
	e->compiled = true;
	return 0;
}

void engine_set_output(struct engine *e, engine_output_fn fn, void *ctx)
{
	e->fn = fn;
	e->ctx = ctx;
}

/* ---- processing --------------------------------------------------------- */

static void collect(void *ctx, struct rule *r)
{
	struct engine *e = ctx;
	if (e->nhits == e->hcap) {
		int cap = e->hcap ? e->hcap * 2 : 16;
		struct rule **nh = realloc(e->hits, (size_t)cap * sizeof(*nh));
		if (!nh)
			return;
		e->hits = nh;
		e->hcap = cap;
	}
	e->hits[e->nhits++] = r;
}

static void on_incident(void *ctx, const struct score_emit *se)
{
	struct engine *e = ctx;
	if (se->is_new)
		e->st.incidents++;
	if (!e->fn)
		return;
	struct engine_output o = {
		.json = se->json, .len = se->len, .incident = true, .rule_id = se->id, .title = "incident",
		.level = se->level, .pid = se->pid, .start_ns = se->start_ns,
	};
	e->fn(e->ctx, &o);
}

static void emit_alert(struct engine *e, struct rule *r, const struct corr_fire *cf)
{
	e->st.alerts++;
	if (!e->fn)
		return;
	sb_reset(&e->out);
	struct alert_in in = {.r = r, .ev = e->ev, .ev_json = e->json, .ev_len = e->len, .now_ns = e->now, .cf = cf};
	alert_json(&e->out, &in);
	if (e->out.oom)
		return;
	struct engine_output o = {
		.json = e->out.buf, .len = e->out.len, .incident = false, .rule_id = r->id ? r->id : "",
		.title = r->title ? r->title : "", .level = (int)r->level, .response = r->response,
		.pid = (uint32_t)flat_u64(e->ev, FID("process.pid")),
		.start_ns = flat_u64(e->ev, FID("process.start_ns")),
	};
	e->fn(e->ctx, &o);
}

static void on_hit(struct engine *e, struct rule *r, const struct corr_fire *cf);

static void on_fire(void *ctx, const struct corr_fire *f)
{
	on_hit(ctx, f->r, f);
}

static void on_hit(struct engine *e, struct rule *r, const struct corr_fire *cf)
{
	if (e->depth > CHAIN_DEPTH_MAX || e->disabled[r->index])
		return;
	int nref = e->nrefs[r->index];
	if (!nref || e->gen[r->index]) {
		if (r->signal_only) {
			e->st.signals++;
		} else {
			emit_alert(e, r, cf);
		}
		score_add(e->sc, r, !r->signal_only, e->ev, e->now, on_incident, e);
	}
	/* copy: a correlation firing may not change refs, but be safe */
	for (int i = 0; i < nref; i++) {
		struct ref rf = e->refs[r->index][i];
		e->depth++;
		corr_feed(e->cs[rf.corr], rf.pos, e->ev, e->json, e->len, e->now, e->seq, on_fire, e);
		e->depth--;
	}
}

void engine_process(struct engine *e, const struct vg_flat *ev, const char *event_json, size_t json_len,
		    uint64_t now_ns)
{
	if (!e->compiled)
		return;
	e->st.events++;
	e->seq++;
	e->ev = ev;
	e->json = event_json;
	e->len = event_json ? json_len : 0;
	e->now = now_ns;
	e->nhits = 0;
	if (e->m)
		matcher_run(e->m, ev, collect, e);
	for (int i = 0; i < e->nhits; i++)
		on_hit(e, e->hits[i], NULL);
	/* once a second of event time: close lt/lte windows, drop expired groups */
	if (now_ns >= e->last_tick + 1000000000ULL || now_ns < e->last_tick) {
		e->last_tick = now_ns;
		for (int i = 0; i < e->nrules; i++)
			if (e->cs[i])
				corr_tick(e->cs[i], now_ns, on_fire, e);
	}
	e->ev = NULL;
	e->json = NULL;
}

void engine_list(const struct engine *e, struct strbuf *out)
{
	for (int i = 0; i < e->nrules; i++) {
		const struct rule *r = e->rules[i];
		sb_printf(out, "%-36s  %-13s  %s%s  %s:%d\n", r->id ? r->id : "-", level_name(r->level),
			  r->corr ? "[correlation] " : "", r->title ? r->title : "", r->file ? r->file : "?", r->line);
	}
}

size_t engine_rule_count(const struct engine *e)
{
	return e ? (size_t)e->nrules : 0;
}

void engine_stats(const struct engine *e, struct engine_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!e)
		return;
	*st = e->st;
	st->corr_keys = 0;
	st->corr_evicted = 0;
	if (e->cs)
		for (int i = 0; i < e->nrules; i++) {
			st->corr_keys += corr_keys(e->cs[i]);
			st->corr_evicted += corr_evicted(e->cs[i]);
		}
}
