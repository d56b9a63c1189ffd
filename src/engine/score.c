/* Weak signals and incidents.
 *
 * Every signal (low/informational rule) and every alert adds points to its
 * login session (host.name + vigil.sid): the rule's vigil.score, else by
 * level. A session whose signals follow ATT&CK tactic order earns a bonus:
 * +25% of its points for each new tactic later than all it showed before.
 *
 * Alerts open cases. A case gathers related sessions: an alert joins the
 * case of its own session, else a case it is related to (same process tree:
 * one process is an ancestor of, or is, the other; a file one wrote is the
 * other's executable or was written by both; the same remote address),
 * else opens a new one. A case whose score reaches the threshold is an
 * incident and is emitted; later members emit it again under the same id
 * when they bring something new (a rule, a session, a tactic, a higher
 * level), else at most every INC_UPDATE_NS, so a storm of one alert does
 * not become a storm of incident updates.
 * A signal-only session that reaches the threshold opens an incident too.
 *
 * Memory is bounded: SESS_MAX sessions and INC_MAX cases (the least
 * recently active go first), both dropped after an hour without activity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "../util/htab.h"

#define SESS_MAX 4096
#define SESS_MEMBERS 8
#define INC_MAX 1024
#define INC_MEMBERS 64
#define INC_PIDS 128
#define INC_STRS 32
#define IDLE_NS (3600ULL * 1000000000ULL)
#define INC_UPDATE_NS (10ULL * 1000000000ULL)
#define INC_RULES 64

struct member {
	struct rule *r;
	uint64_t ts;
	uint64_t start_ns;
	uint32_t pid;
	int points;
	bool alert;
	char sid[24];
	char exe[112];
};

struct tally {
	int64_t base;
	uint32_t tactics;
	int maxord;
	int chain;
};

struct sess {
	uint64_t key;
	struct sess *prev, *next; /* LRU, head = most recent */
	char host[64], sid[24], user[24];
	struct tally t;
	uint64_t first_ns, last_ns;
	uint64_t case_id;
	struct member mem[SESS_MEMBERS];
	int nmem, memhead;
};

struct incident {
	uint64_t id;
	char idstr[24];
	char host[64];                /* relation keys are this host's */
	struct incident *prev, *next; /* LRU, head = most recently active */
	struct tally t;
	uint64_t first_ns, last_ns, last_emit_ns;
	uint32_t emitted_tactics;
	int emitted_level, emitted_sessions;
	bool emitted;
	const struct rule *rules[INC_RULES]; /* distinct rules among the members */
	int nrules;
	int max_level;
	int nsess;
	struct {
		char host[64], sid[24], user[24];
	} sess[8];
	struct member mem[INC_MEMBERS];
	int nmem, memhead;
	uint64_t total_members;
	/* what relates other events to this case (each also in the index) */
	uint32_t pid_self[INC_PIDS], pid_up[INC_PIDS];
	int nself, nup;
	char *dropped[INC_STRS], *exes[INC_STRS], *ips[INC_STRS];
	int ndropped, nexes, nips;
};

struct scorer {
	int threshold;
	struct htab sessions;
	struct sess *lru_head, *lru_tail;
	size_t nsess;
	struct htab cases;  /* id -> case */
	struct htab index;  /* relation key hash -> case id */
	struct incident *inc_head, *inc_tail;
	size_t ninc;
	uint64_t next_id;
	uint64_t last_sweep;
	struct strbuf sb;
};

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (h ^ 0xff) * 1099511628211ULL;
}

int rule_points(const struct rule *r)
{
	if (r->score >= 0)
		return r->score;
	static const int pts[] = {2, 5, 15, 40, 60};
	return r->level <= LEVEL_CRITICAL ? pts[r->level] : 15;
}

static void tally_add(struct tally *t, int64_t points, uint32_t tactics)
{
	t->base += points;
	for (int o = 0; o < TACTIC_MAX; o++) {
		uint32_t bit = 1u << o;
		if (!(tactics & bit) || (t->tactics & bit))
			continue;
		if (t->tactics && o > t->maxord)
			t->chain++;
		t->tactics |= bit;
		if (o > t->maxord)
			t->maxord = o;
	}
}

static int tally_score(const struct tally *t)
{
	int64_t s = t->base * (100 + 25 * (int64_t)t->chain) / 100;
	return s > 1000000000 ? 1000000000 : (int)s;
}

struct scorer *score_new(int threshold)
{
	struct scorer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (htab_init(&s->sessions, 256) || htab_init(&s->cases, 64) || htab_init(&s->index, 256)) {
		htab_free(&s->sessions, NULL);
		htab_free(&s->cases, NULL);
		htab_free(&s->index, NULL);
		free(s);
		return NULL;
	}
	s->threshold = threshold > 0 ? threshold : 60;
	sb_init(&s->sb);
	return s;
}

static void inc_free(struct incident *I)
{
	for (int i = 0; i < I->ndropped; i++)
		free(I->dropped[i]);
	for (int i = 0; i < I->nexes; i++)
		free(I->exes[i]);
	for (int i = 0; i < I->nips; i++)
		free(I->ips[i]);
	free(I);
}

void score_free(struct scorer *s)
{
	if (!s)
		return;
	htab_free(&s->sessions, free);
	htab_free(&s->cases, NULL);
	htab_free(&s->index, NULL);
	while (s->inc_head) {
		struct incident *I = s->inc_head;
		s->inc_head = I->next;
		inc_free(I);
	}
	sb_free(&s->sb);
	free(s);
}

size_t score_sessions(const struct scorer *s)
{
	return s ? s->nsess : 0;
}

size_t score_incidents(const struct scorer *s)
{
	return s ? s->ninc : 0;
}

/* ---- sessions ------------------------------------------------------- */

static void lru_unlink(struct scorer *s, struct sess *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		s->lru_head = x->next;
	if (x->next)
		x->next->prev = x->prev;
	else
		s->lru_tail = x->prev;
	x->prev = x->next = NULL;
}

static void lru_push(struct scorer *s, struct sess *x)
{
	x->next = s->lru_head;
	x->prev = NULL;
	if (s->lru_head)
		s->lru_head->prev = x;
	s->lru_head = x;
	if (!s->lru_tail)
		s->lru_tail = x;
}

static void sess_drop(struct scorer *s, struct sess *x)
{
	lru_unlink(s, x);
	htab_del(&s->sessions, x->key);
	s->nsess--;
	free(x);
}

static struct sess *sess_get(struct scorer *s, const struct vg_flat *ev, uint64_t now)
{
	const char *host = flat_str(ev, FID("host.name"));
	const char *sid = flat_str(ev, FID("vigil.sid"));
	uint64_t key = fnv(fnv(1469598103934665603ULL, host), sid);
	struct sess *x = htab_get(&s->sessions, key);
	if (x) {
		lru_unlink(s, x);
		lru_push(s, x);
		return x;
	}
	while (s->nsess >= SESS_MAX && s->lru_tail)
		sess_drop(s, s->lru_tail);
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	int failed = 0;
	htab_put(&s->sessions, key, x, &failed);
	if (failed) {
		free(x);
		return NULL;
	}
	x->key = key;
	snprintf(x->host, sizeof(x->host), "%s", host);
	snprintf(x->sid, sizeof(x->sid), "%s", sid);
	snprintf(x->user, sizeof(x->user), "%s", flat_str(ev, FID("user.id")));
	x->t.maxord = -1;
	x->first_ns = now;
	s->nsess++;
	lru_push(s, x);
	return x;
}

/* ---- cases and incidents -------------------------------------------- */

static struct incident *inc_find(struct scorer *s, uint64_t id)
{
	return id ? htab_get(&s->cases, id) : NULL;
}

static void inc_unlink(struct scorer *s, struct incident *I)
{
	if (I->prev)
		I->prev->next = I->next;
	else
		s->inc_head = I->next;
	if (I->next)
		I->next->prev = I->prev;
	else
		s->inc_tail = I->prev;
	I->prev = I->next = NULL;
}

/* Moves a case to the head of the LRU list (linked says it is in it). */
static void inc_touch(struct scorer *s, struct incident *I, bool linked)
{
	if (s->inc_head == I)
		return;
	if (linked)
		inc_unlink(s, I);
	I->next = s->inc_head;
	if (s->inc_head)
		s->inc_head->prev = I;
	s->inc_head = I;
	if (!s->inc_tail)
		s->inc_tail = I;
}

/* ---- the relation index: "S:pid" a member process, "U:pid" an ancestor
 * of one, "D:path" a file written by one, "X:path" a member's executable,
 * "I:addr" a remote address --------------------------------------------- */

/* Keys are per host: pids and paths mean nothing across hosts. */
static uint64_t rkey_pid(const char *host, char kind, uint32_t pid)
{
	char b[16];
	snprintf(b, sizeof(b), "%c:%u", kind, pid);
	return fnv(fnv(1469598103934665603ULL, host), b);
}

static uint64_t rkey_str(const char *host, char kind, const char *v)
{
	char k[3] = {kind, ':', 0};
	return fnv(fnv(fnv(1469598103934665603ULL, host), k), v);
}

static void index_put(struct scorer *s, uint64_t key, const struct incident *I)
{
	htab_put(&s->index, key, (void *)(uintptr_t)I->id, NULL);
}

static void index_del(struct scorer *s, uint64_t key, const struct incident *I)
{
	if ((uint64_t)(uintptr_t)htab_get(&s->index, key) == I->id)
		htab_del(&s->index, key);
}

static struct incident *index_get(struct scorer *s, uint64_t key)
{
	return inc_find(s, (uint64_t)(uintptr_t)htab_get(&s->index, key));
}

static void inc_remove(struct scorer *s, struct incident *I)
{
	for (int i = 0; i < I->nself; i++)
		index_del(s, rkey_pid(I->host, 'S', I->pid_self[i]), I);
	for (int i = 0; i < I->nup; i++)
		index_del(s, rkey_pid(I->host, 'U', I->pid_up[i]), I);
	for (int i = 0; i < I->ndropped; i++)
		index_del(s, rkey_str(I->host, 'D', I->dropped[i]), I);
	for (int i = 0; i < I->nexes; i++)
		index_del(s, rkey_str(I->host, 'X', I->exes[i]), I);
	for (int i = 0; i < I->nips; i++)
		index_del(s, rkey_str(I->host, 'I', I->ips[i]), I);
	inc_unlink(s, I);
	htab_del(&s->cases, I->id);
	s->ninc--;
	inc_free(I);
}

static void sweep(struct scorer *s, uint64_t now)
{
	while (s->lru_tail && s->lru_tail->last_ns + IDLE_NS < now)
		sess_drop(s, s->lru_tail);
	while (s->inc_tail && s->inc_tail->last_ns + IDLE_NS < now)
		inc_remove(s, s->inc_tail);
}

static void member_fill(struct member *m, struct rule *r, bool alert, int points, const struct vg_flat *ev,
			uint64_t now)
{
	m->r = r;
	m->ts = now;
	m->alert = alert;
	m->points = points;
	m->pid = (uint32_t)flat_u64(ev, FID("process.pid"));
	m->start_ns = flat_u64(ev, FID("process.start_ns"));
	snprintf(m->sid, sizeof(m->sid), "%s", flat_str(ev, FID("vigil.sid")));
	snprintf(m->exe, sizeof(m->exe), "%s", flat_str(ev, FID("process.executable")));
}

static void inc_add_member(struct incident *I, const struct member *m)
{
	int slot;
	if (I->nmem < INC_MEMBERS) {
		slot = (I->memhead + I->nmem++) % INC_MEMBERS;
	} else {
		slot = I->memhead;
		I->memhead = (I->memhead + 1) % INC_MEMBERS;
	}
	I->mem[slot] = *m;
	I->total_members++;
	bool seen = false;
	for (int i = 0; i < I->nrules && !seen; i++)
		seen = I->rules[i] == m->r;
	if (!seen && I->nrules < INC_RULES)
		I->rules[I->nrules++] = m->r;
	if ((int)m->r->level > I->max_level)
		I->max_level = (int)m->r->level;
	if (m->ts > I->last_ns)
		I->last_ns = m->ts;
	if (!I->first_ns || m->ts < I->first_ns)
		I->first_ns = m->ts;
}

static bool pid_in(const uint32_t *a, int n, uint32_t p)
{
	for (int i = 0; i < n; i++)
		if (a[i] == p)
			return true;
	return false;
}

static bool str_in(char *const *a, int n, const char *v)
{
	for (int i = 0; i < n; i++)
		if (strcmp(a[i], v) == 0)
			return true;
	return false;
}

/* What relates an event to others: its process and ancestors, the file it
 * wrote, its executable, the remote address it used. */
struct relkeys {
	const char *host;
	uint32_t self;
	uint32_t up[40];
	int nup;
	const char *dropped, *exe, *ip;
};

static bool write_action(const char *a)
{
	static const char *const w[] = {"file_create", "file_open_write", "file_rename", "file_chmod",
					"file_link", "file_symlink", "file_truncate", "file_utimes", "file_chown",
					"file_xattr_set", "file_flags"};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		if (strcmp(a, w[i]) == 0)
			return true;
	return false;
}

static bool routable_ip(const char *ip)
{
	return *ip && strncmp(ip, "127.", 4) != 0 && strcmp(ip, "::1") != 0 && strcmp(ip, "0.0.0.0") != 0 &&
	       strcmp(ip, "::") != 0 && strncmp(ip, "::ffff:127.", 11) != 0;
}

static void relkeys_of(const struct vg_flat *ev, struct relkeys *k)
{
	memset(k, 0, sizeof(*k));
	k->host = flat_str(ev, FID("host.name"));
	uint32_t pid = (uint32_t)flat_u64(ev, FID("process.pid"));
	k->self = pid > 2 ? pid : 0;
	uint32_t ppid = (uint32_t)flat_u64(ev, FID("process.parent.pid"));
	if (ppid > 2)
		k->up[k->nup++] = ppid;
	uint32_t anc = FID("vigil.ancestors.pid");
	for (int i = 0; i < ev->n && k->nup < 40; i++)
		if (ev->f[i].name == anc) {
			uint32_t p = (uint32_t)strtoul(ev->f[i].val, NULL, 10);
			if (p > 2 && !pid_in(k->up, k->nup, p))
				k->up[k->nup++] = p;
		}
	const char *path = flat_str(ev, FID("file.path"));
	if (*path && write_action(flat_str(ev, FID("event.action"))))
		k->dropped = path;
	const char *exe = flat_str(ev, FID("process.executable"));
	k->exe = *exe ? exe : NULL;
	const char *ip = flat_str(ev, FID("destination.ip"));
	k->ip = routable_ip(ip) ? ip : NULL;
}

static struct incident *find_related(struct scorer *s, const struct relkeys *k)
{
	struct incident *I = NULL;
	if (k->self && (I = index_get(s, rkey_pid(k->host, 'S', k->self))))
		return I;
	if (k->self && (I = index_get(s, rkey_pid(k->host, 'U', k->self))))
		return I;
	for (int i = 0; i < k->nup; i++)
		if ((I = index_get(s, rkey_pid(k->host, 'S', k->up[i]))))
			return I;
	if (k->exe && (I = index_get(s, rkey_str(k->host, 'D', k->exe))))
		return I;
	if (k->dropped && ((I = index_get(s, rkey_str(k->host, 'X', k->dropped))) || (I = index_get(s, rkey_str(k->host, 'D', k->dropped)))))
		return I;
	if (k->ip && (I = index_get(s, rkey_str(k->host, 'I', k->ip))))
		return I;
	return NULL;
}

static void add_pid(struct scorer *s, struct incident *I, char kind, uint32_t *a, int *n, uint32_t p)
{
	if (!p || pid_in(a, *n, p))
		return;
	if (*n < INC_PIDS) {
		a[(*n)++] = p;
	} else { /* full: the oldest goes */
		index_del(s, rkey_pid(I->host, kind, a[0]), I);
		memmove(a, a + 1, (INC_PIDS - 1) * sizeof(*a));
		a[INC_PIDS - 1] = p;
	}
	index_put(s, rkey_pid(I->host, kind, p), I);
}

static void add_str(struct scorer *s, struct incident *I, char kind, char **a, int *n, const char *v)
{
	if (!v || str_in(a, *n, v))
		return;
	char *c = strdup(v);
	if (!c)
		return;
	if (*n < INC_STRS) {
		a[(*n)++] = c;
	} else {
		index_del(s, rkey_str(I->host, kind, a[0]), I);
		free(a[0]);
		memmove(a, a + 1, (INC_STRS - 1) * sizeof(*a));
		a[INC_STRS - 1] = c;
	}
	index_put(s, rkey_str(I->host, kind, c), I);
}

static void inc_add_keys(struct scorer *s, struct incident *I, const struct relkeys *k)
{
	add_pid(s, I, 'S', I->pid_self, &I->nself, k->self);
	for (int i = 0; i < k->nup; i++)
		add_pid(s, I, 'U', I->pid_up, &I->nup, k->up[i]);
	add_str(s, I, 'D', I->dropped, &I->ndropped, k->dropped);
	add_str(s, I, 'X', I->exes, &I->nexes, k->exe);
	add_str(s, I, 'I', I->ips, &I->nips, k->ip);
}

static void tally_merge(struct tally *dst, const struct tally *src)
{
	tally_add(dst, src->base, 0);
	for (int o = 0; o < TACTIC_MAX; o++)
		if (src->tactics & (1u << o))
			tally_add(dst, 0, 1u << o);
}

static void inc_add_session(struct incident *I, struct sess *x)
{
	for (int i = 0; i < I->nsess; i++)
		if (strcmp(I->sess[i].sid, x->sid) == 0 && strcmp(I->sess[i].host, x->host) == 0)
			return;
	if (I->nsess >= 8)
		return;
	snprintf(I->sess[I->nsess].host, sizeof(I->sess[0].host), "%s", x->host);
	snprintf(I->sess[I->nsess].sid, sizeof(I->sess[0].sid), "%s", x->sid);
	snprintf(I->sess[I->nsess].user, sizeof(I->sess[0].user), "%s", x->user);
	I->nsess++;
}

/* Folds a session (its points, tactics and recent members) into a case. */
static void inc_attach(struct incident *I, struct sess *x, bool merge_tally)
{
	if (merge_tally)
		tally_merge(&I->t, &x->t);
	inc_add_session(I, x);
	for (int i = 0; i < x->nmem; i++)
		inc_add_member(I, &x->mem[(x->memhead + i) % SESS_MEMBERS]);
	x->case_id = I->id;
}

static struct incident *inc_new(struct scorer *s, struct sess *x, uint64_t now)
{
	while (s->ninc >= INC_MAX && s->inc_tail) /* the least recently active case goes */
		inc_remove(s, s->inc_tail);
	struct incident *I = calloc(1, sizeof(*I));
	if (!I)
		return NULL;
	char seed[96];
	snprintf(seed, sizeof(seed), "%llu/%llu", (unsigned long long)now, (unsigned long long)++s->next_id);
	I->id = fnv(fnv(fnv(1469598103934665603ULL, x->host), x->sid), seed) | 1;
	snprintf(I->idstr, sizeof(I->idstr), "inc-%016llx", (unsigned long long)I->id);
	I->t = x->t; /* the session's points and tactics, in their order */
	snprintf(I->host, sizeof(I->host), "%s", x->host);
	I->first_ns = now;
	I->last_ns = now;
	int failed = 0;
	htab_put(&s->cases, I->id, I, &failed);
	if (failed) {
		free(I);
		return NULL;
	}
	s->ninc++;
	inc_touch(s, I, false);
	inc_attach(I, x, false);
	return I;
}

/* ---- incident JSON ----------------------------------------------------- */

static void inc_json(struct scorer *s, struct incident *I, uint64_t now, bool is_new)
{
	struct strbuf *sb = &s->sb;
	sb_reset(sb);
	struct jw w;
	jw_init(&w, sb);
	jw_obj_open(&w, NULL);
	put_iso_time(&w, "@timestamp", now);
	jw_str(&w, "kind", "incident");
	jw_obj_open(&w, "incident");
	jw_str(&w, "id", I->idstr);
	jw_str(&w, "status", is_new ? "new" : "updated");
	jw_int(&w, "score", tally_score(&I->t));
	jw_int(&w, "threshold", s->threshold);
	jw_str(&w, "level", level_name((enum level)I->max_level));
	put_iso_time(&w, "first", I->first_ns);
	put_iso_time(&w, "last", I->last_ns);
	jw_uint(&w, "members_total", I->total_members);
	jw_obj_close(&w);
	jw_obj_open(&w, "threat");
	put_tactics(&w, "tactics", I->t.tactics);
	jw_arr_open(&w, "techniques");
	char seen[INC_MEMBERS][16];
	int nseen = 0;
	for (int i = 0; i < I->nmem; i++) {
		const struct rule *r = I->mem[(I->memhead + i) % INC_MEMBERS].r;
		for (int t = 0; t < r->ntags; t++) {
			char tech[32];
			if (!r->tags[t] || !tag_technique(r->tags[t], tech, sizeof(tech)) || strlen(tech) >= 16)
				continue;
			bool dup = false;
			for (int j = 0; j < nseen; j++)
				if (strcmp(seen[j], tech) == 0)
					dup = true;
			if (dup || nseen >= INC_MEMBERS)
				continue;
			memcpy(seen[nseen++], tech, strlen(tech) + 1);
			jw_str(&w, NULL, tech);
		}
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	jw_obj_open(&w, "host");
	jw_str(&w, "name", I->nsess ? I->sess[0].host : "");
	jw_obj_close(&w);
	jw_obj_open(&w, "session");
	jw_str(&w, "id", I->nsess ? I->sess[0].sid : "");
	jw_obj_close(&w);
	jw_obj_open(&w, "user");
	jw_str(&w, "id", I->nsess ? I->sess[0].user : "");
	jw_obj_close(&w);
	jw_arr_open(&w, "sessions");
	for (int i = 0; i < I->nsess; i++) {
		jw_obj_open(&w, NULL);
		jw_str(&w, "host", I->sess[i].host);
		jw_str(&w, "id", I->sess[i].sid);
		jw_str(&w, "user", I->sess[i].user);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_arr_open(&w, "members");
	for (int i = 0; i < I->nmem; i++) {
		const struct member *m = &I->mem[(I->memhead + i) % INC_MEMBERS];
		jw_obj_open(&w, NULL);
		jw_str(&w, "kind", m->alert ? "alert" : "signal");
		put_iso_time(&w, "@timestamp", m->ts);
		jw_obj_open(&w, "rule");
		jw_str(&w, "id", m->r->id ? m->r->id : "");
		jw_str(&w, "title", m->r->title ? m->r->title : "");
		jw_str(&w, "level", level_name(m->r->level));
		jw_obj_close(&w);
		jw_int(&w, "score", m->points);
		jw_obj_open(&w, "session");
		jw_str(&w, "id", m->sid);
		jw_obj_close(&w);
		jw_obj_open(&w, "process");
		jw_uint(&w, "pid", m->pid);
		if (m->exe[0])
			jw_str(&w, "executable", m->exe);
		jw_obj_close(&w);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
}

void score_add(struct scorer *s, struct rule *r, bool alert, const struct vg_flat *ev, uint64_t now,
	       void (*emit)(void *ctx, const struct score_emit *out), void *ctx)
{
	sweep(s, now);
	struct sess *x = sess_get(s, ev, now);
	if (!x)
		return;
	int points = rule_points(r);
	uint32_t tactics = rule_tactics(r);
	tally_add(&x->t, points, tactics);
	x->last_ns = now;
	struct member m;
	member_fill(&m, r, alert, points, ev, now);
	if (x->nmem < SESS_MEMBERS)
		x->mem[(x->memhead + x->nmem++) % SESS_MEMBERS] = m;
	else {
		x->mem[x->memhead] = m;
		x->memhead = (x->memhead + 1) % SESS_MEMBERS;
	}
	struct relkeys k;
	relkeys_of(ev, &k);
	struct incident *I = inc_find(s, x->case_id);
	int rules_before = I ? I->nrules : -1;
	if (I) {
		tally_add(&I->t, points, tactics);
		inc_add_member(I, &m);
	} else if (alert) {
		I = find_related(s, &k);
		if (I)
			inc_attach(I, x, true); /* the session's points and members, this one included */
		else
			I = inc_new(s, x, now);
	} else if (tally_score(&x->t) >= s->threshold) {
		I = inc_new(s, x, now);
	}
	if (!I)
		return;
	inc_touch(s, I, true);
	inc_add_keys(s, I, &k);
	int score = tally_score(&I->t);
	if (score < s->threshold)
		return;
	bool is_new = !I->emitted;
	bool news = is_new || I->t.tactics != I->emitted_tactics || I->max_level > I->emitted_level ||
		    I->nsess != I->emitted_sessions || I->nrules != rules_before;
	if (!news && now < I->last_emit_ns + INC_UPDATE_NS)
		return;
	I->emitted = true;
	I->emitted_tactics = I->t.tactics;
	I->emitted_level = I->max_level;
	I->emitted_sessions = I->nsess;
	I->last_emit_ns = now;
	inc_json(s, I, now, is_new);
	if (s->sb.oom)
		return;
	struct score_emit out = {
		.id = I->idstr, .is_new = is_new, .json = s->sb.buf, .len = s->sb.len, .score = score, .level = I->max_level,
		.pid = m.pid, .start_ns = m.start_ns,
	};
	if (emit)
		emit(ctx, &out);
}
