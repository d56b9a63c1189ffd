/* Sigma correlation rules: event_count, value_count, temporal and
 * temporal_ordered over sliding windows of event time, per group-by key.
 *
 * Each correlation keeps a hash table of group keys (the group-by values
 * joined) and an LRU list of them. Memory is bounded: at most max_keys keys
 * and CORR_BYTES_MAX bytes of state per correlation (the least recently
 * updated key is evicted and counted), bounded rings per key, and at most
 * CORR_EVENTS_MAX contributing events kept per key.
 *
 * Semantics:
 * - A group-by field with several values (an array such as
 *   vigil.ancestors.pid) puts the event in each of those groups (at most
 *   CORR_GROUPS_MAX groups per event). An event that lacks a group-by field
 *   does not take part.
 * - gt/gte/eq conditions are checked on every event and fire once the
 *   condition holds; the group then starts over and stays quiet for one
 *   timespan, so a sustained burst alerts once per timespan, not once per
 *   threshold. lt/lte conditions are checked when the group's window
 *   (starting at its first event) closes.
 * - temporal: all referenced rules (or `condition: gte N` of them) matched
 *   within timespan, any order. temporal_ordered: in the listed order, each
 *   step by a later event than the previous step.
 */
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "../util/htab.h"

#define CORR_GROUPS_MAX 16         /* groups one event may belong to */
#define CORR_VALUES_MAX 16         /* values taken from one multi-valued field */
#define CORR_RING_MAX 1024         /* timestamps / distinct values per key */
#define CORR_BYTES_MAX (64u << 20) /* state bytes per correlation */
#define CORR_EVENT_MAX_BYTES 65536 /* larger events are counted, not kept */
#define CORR_GROUP_VAL_MAX 512     /* bytes of one group value shown (all are hashed) */

struct cev {
	uint64_t ts;
	uint64_t seq;
	int pos;
	uint32_t len;
	uint32_t cap;  /* of json: a slot's buffer is reused while the sizes fit */
	char *json;
};

struct ckey {
	uint64_t h;
	struct ckey *prev, *next; /* LRU, head = most recently updated */
	uint64_t last_ns;
	uint64_t win_start;       /* first event of the current window */
	uint64_t quiet_until;     /* fired: no new alert before this */
	char *group;              /* values joined by \x1f */
	size_t bytes;
	/* event_count: (ts, n) ring; value_count: (value hash, ts) set */
	uint64_t *a, *b;
	uint32_t cap, head, cnt;
	/* temporal: last ts per rule; ordered: chain start per step (0 = none)
	 * and the event that completed it (steps[nrules + i]) */
	uint64_t *steps;
	/* contributing events */
	struct cev *ev;
	uint32_t evcap, evhead, evcnt;
};

struct corr_state {
	struct rule *r;
	struct correlation *c;
	int nrules, ngroup;
	uint32_t gfield[CORR_RULES_MAX][8]; /* group-by field id per referenced rule */
	/* per referenced rule, field id -> bit g set when it is group-by
	 * field g: one look-up per event field instead of ngroup compares
	 * (NULL: ids too far apart for a table, compared instead) */
	uint8_t *gmask[CORR_RULES_MAX];
	uint32_t gmask_n[CORR_RULES_MAX];
	uint32_t vfield[CORR_RULES_MAX];    /* value_count field per referenced rule */
	uint32_t ring_need;                 /* ring entries that decide the condition */
	uint32_t ev_need;                   /* events kept per key */
	int temporal_need;                  /* rules that must match (temporal) */
	bool at_close;                      /* lt/lte: decided when the window closes */
	size_t max_keys;
	struct htab keys;
	struct ckey *lru_head, *lru_tail;
	size_t nkeys, bytes;
	uint64_t evicted;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}
#define FNV_INIT 1469598103934665603ULL

static const char *alias_field(const struct correlation *c, const char *name, int pos)
{
	for (int a = 0; a < c->naliases; a++)
		if (c->alias_names && c->alias_names[a] && strcmp(c->alias_names[a], name) == 0) {
			const char *f = c->alias_fields && c->alias_fields[a] ? c->alias_fields[a][pos] : NULL;
			return f && *f ? f : name;
		}
	return name;
}

static uint32_t map_field(const struct correlation *c, const char *name, int pos)
{
	const char *f = alias_field(c, name, pos);
	const struct rule *ref = c->resolved ? c->resolved[pos] : NULL;
	const char *ecs = sigma_field_to_ecs(f, ref ? ref->category : NULL);
	return vg_field_id(ecs ? ecs : f);
}

#define GMASK_MAX 65536 /* field ids a group-by table covers */

static void gmask_build(struct corr_state *cs, int p)
{
	uint64_t n = 0;
	for (int g = 0; g < cs->ngroup; g++)
		if (cs->gfield[p][g] >= n)
			n = (uint64_t)cs->gfield[p][g] + 1;
	if (n > GMASK_MAX || !(cs->gmask[p] = calloc(n ? n : 1, 1)))
		return; /* group_bits compares instead */
	cs->gmask_n[p] = (uint32_t)n;
	for (int g = 0; g < cs->ngroup; g++)
		cs->gmask[p][cs->gfield[p][g]] |= (uint8_t)(1u << g);
}

/* Which group-by fields (bit g: field g) an event field is. */
static inline unsigned group_bits(const struct corr_state *cs, int pos, uint32_t name)
{
	if (cs->gmask[pos])
		return name < cs->gmask_n[pos] ? cs->gmask[pos][name] : 0;
	unsigned bits = 0;
	for (int g = 0; g < cs->ngroup; g++)
		if (cs->gfield[pos][g] == name)
			bits |= 1u << g;
	return bits;
}

struct corr_state *corr_new(struct rule *r, size_t max_keys, struct strbuf *errs)
{
	struct correlation *c = r->corr;
	if (!c || c->nrules < 1 || c->nrules > CORR_RULES_MAX || c->ngroup > 8) {
		sb_printf(errs, "%s:%d: correlation needs 1 to %d rules and at most 8 group-by fields\n",
			  r->file ? r->file : "?", r->line, CORR_RULES_MAX);
		return NULL;
	}
	if (c->type == CORR_VALUE_COUNT && (!c->value_field || !*c->value_field)) {
		sb_printf(errs, "%s:%d: value_count correlation needs condition.field\n", r->file ? r->file : "?",
			  r->line);
		return NULL;
	}
	if (c->type < CORR_EVENT_COUNT || c->type > CORR_TEMPORAL_ORDERED) {
		sb_printf(errs, "%s:%d: unknown correlation type\n", r->file ? r->file : "?", r->line);
		return NULL;
	}
	struct corr_state *cs = calloc(1, sizeof(*cs));
	if (!cs || htab_init(&cs->keys, 64)) {
		free(cs);
		sb_printf(errs, "%s:%d: out of memory\n", r->file ? r->file : "?", r->line);
		return NULL;
	}
	cs->r = r;
	cs->c = c;
	cs->nrules = c->nrules;
	cs->ngroup = c->ngroup;
	cs->max_keys = max_keys ? max_keys : 65536;
	for (int p = 0; p < c->nrules; p++) {
		for (int g = 0; g < c->ngroup; g++)
			cs->gfield[p][g] = map_field(c, c->group_by[g], p);
		if (c->type == CORR_VALUE_COUNT)
			cs->vfield[p] = map_field(c, c->value_field, p);
		gmask_build(cs, p);
	}
	int64_t t = c->threshold < 0 ? 0 : c->threshold;
	cs->at_close = (c->type == CORR_EVENT_COUNT || c->type == CORR_VALUE_COUNT) &&
		       (c->cmp == CMP_LT || c->cmp == CMP_LTE);
	int64_t need = c->cmp == CMP_GTE ? t : t + 1;
	if (need < 1)
		need = 1;
	cs->ring_need = need > CORR_RING_MAX ? CORR_RING_MAX : (uint32_t)need;
	cs->temporal_need = c->nrules;
	if (c->type == CORR_TEMPORAL || c->type == CORR_TEMPORAL_ORDERED) {
		if (c->type == CORR_TEMPORAL && t > 0 && t < c->nrules && c->cmp == CMP_GTE)
			cs->temporal_need = (int)t;
		cs->ev_need = (uint32_t)c->nrules;
	} else {
		cs->ev_need = cs->ring_need < CORR_EVENTS_MAX ? cs->ring_need : CORR_EVENTS_MAX;
	}
	return cs;
}

/* ---- keys ----------------------------------------------------------- */

static void key_clear(struct corr_state *cs, struct ckey *k)
{
	for (uint32_t i = 0; i < k->evcap; i++) {
		if (k->ev[i].json) {
			cs->bytes -= k->ev[i].len;
			k->bytes -= k->ev[i].len;
			free(k->ev[i].json);
		}
		k->ev[i].json = NULL;
		k->ev[i].cap = 0;
		k->ev[i].ts = 0;
	}
	k->evhead = k->evcnt = 0;
	k->head = k->cnt = 0;
	if (k->steps)
		memset(k->steps, 0, 2 * (size_t)cs->nrules * sizeof(*k->steps));
	k->win_start = 0;
}

static void key_free(struct corr_state *cs, struct ckey *k)
{
	key_clear(cs, k);
	cs->bytes -= k->bytes;
	free(k->a);
	free(k->b);
	free(k->ev);
	free(k->steps);
	free(k->group);
	free(k);
}

static void lru_unlink(struct corr_state *cs, struct ckey *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		cs->lru_head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		cs->lru_tail = k->prev;
	k->prev = k->next = NULL;
}

static void lru_push(struct corr_state *cs, struct ckey *k)
{
	k->prev = NULL;
	k->next = cs->lru_head;
	if (cs->lru_head)
		cs->lru_head->prev = k;
	cs->lru_head = k;
	if (!cs->lru_tail)
		cs->lru_tail = k;
}

static void key_drop(struct corr_state *cs, struct ckey *k)
{
	lru_unlink(cs, k);
	htab_del(&cs->keys, k->h);
	cs->nkeys--;
	key_free(cs, k);
}

static void evict(struct corr_state *cs, const struct ckey *keep)
{
	while (cs->lru_tail && cs->lru_tail != keep && (cs->nkeys > cs->max_keys || cs->bytes > CORR_BYTES_MAX)) {
		key_drop(cs, cs->lru_tail);
		cs->evicted++;
	}
}

static struct ckey *key_get(struct corr_state *cs, uint64_t h, const char *group, size_t glen)
{
	struct ckey *k = htab_get(&cs->keys, h);
	if (k) {
		lru_unlink(cs, k);
		lru_push(cs, k);
		return k;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->group = malloc(glen + 1);
	if (!k->group) {
		free(k);
		return NULL;
	}
	memcpy(k->group, group, glen);
	k->group[glen] = 0;
	k->h = h;
	k->bytes = sizeof(*k) + glen + 1 + sizeof(struct htab_node);
	if (cs->c->type == CORR_TEMPORAL || cs->c->type == CORR_TEMPORAL_ORDERED) {
		k->steps = calloc(2 * (size_t)cs->nrules, sizeof(*k->steps));
		if (!k->steps) {
			free(k->group);
			free(k);
			return NULL;
		}
		k->bytes += 2 * (size_t)cs->nrules * sizeof(*k->steps);
	}
	int failed = 0;
	htab_put(&cs->keys, h, k, &failed);
	if (failed) {
		free(k->steps);
		free(k->group);
		free(k);
		return NULL;
	}
	cs->bytes += k->bytes;
	cs->nkeys++;
	lru_push(cs, k);
	evict(cs, k);
	return k;
}

static int grow_ring(struct corr_state *cs, struct ckey *k)
{
	if (k->cap >= cs->ring_need)
		return 0;
	uint32_t cap = k->cap ? k->cap * 2 : 4;
	if (cap > cs->ring_need)
		cap = cs->ring_need;
	/* keep ring order: unroll it into the new arrays */
	uint64_t *a = malloc(cap * sizeof(*a)), *b = malloc(cap * sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return -1;
	}
	for (uint32_t i = 0; i < k->cnt; i++) {
		a[i] = k->a[(k->head + i) % k->cap];
		b[i] = k->b[(k->head + i) % k->cap];
	}
	free(k->a);
	free(k->b);
	k->a = a;
	k->b = b;
	size_t delta = (size_t)(cap - k->cap) * 2 * sizeof(uint64_t);
	k->bytes += delta;
	cs->bytes += delta;
	k->cap = cap;
	k->head = 0;
	return 0;
}

/* Keeps a copy of the event: the latest per rule (temporal), else a ring. */
static void keep_event(struct corr_state *cs, struct ckey *k, int pos, const char *json, size_t len,
		       uint64_t now, uint64_t seq)
{
	if (!cs->ev_need || !json || len > CORR_EVENT_MAX_BYTES)
		return;
	if (!k->ev) {
		k->ev = calloc(cs->ev_need, sizeof(*k->ev));
		if (!k->ev)
			return;
		k->evcap = cs->ev_need;
		k->bytes += cs->ev_need * sizeof(*k->ev);
		cs->bytes += cs->ev_need * sizeof(*k->ev);
	}
	bool by_rule = cs->c->type == CORR_TEMPORAL || cs->c->type == CORR_TEMPORAL_ORDERED;
	uint32_t slot;
	if (by_rule) {
		slot = (uint32_t)pos;
	} else if (k->evcnt < k->evcap) {
		slot = (k->evhead + k->evcnt++) % k->evcap;
	} else {
		slot = k->evhead;
		k->evhead = (k->evhead + 1) % k->evcap;
	}
	struct cev *e = &k->ev[slot];
	/* a burst rotates the ring over and over: the slot's buffer is reused
	 * when the event fits and does not waste half of it, so a storm costs
	 * a copy, not an allocation. State bytes count the events' lengths, as
	 * before; a buffer is at most twice that (and 64 bytes). */
	bool reuse = e->json && e->cap >= len && e->cap / 2 <= len;
	char *buf = e->json;
	size_t cap = (len + 64) & ~(size_t)63;
	if (!reuse && !(buf = malloc(cap)))
		return;
	if (e->json) {
		cs->bytes -= e->len;
		k->bytes -= e->len;
		if (!reuse)
			free(e->json);
	}
	if (!reuse)
		e->cap = (uint32_t)cap;
	memcpy(buf, json, len);
	e->json = buf;
	e->len = (uint32_t)len;
	e->ts = now;
	e->seq = seq;
	e->pos = pos;
	cs->bytes += len;
	k->bytes += len;
}

static bool cmp_ok(enum cmp_op op, int64_t v, int64_t t)
{
	switch (op) {
	case CMP_GT: return v > t;
	case CMP_GTE: return v >= t;
	case CMP_LT: return v < t;
	case CMP_LTE: return v <= t;
	case CMP_EQ: return v == t;
	}
	return false;
}

static int cev_cmp(const void *x, const void *y)
{
	const struct cev *a = *(const struct cev *const *)x, *b = *(const struct cev *const *)y;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void fire_key(struct corr_state *cs, struct ckey *k, uint64_t count, uint64_t from, uint64_t now,
		     corr_fire_fn fire, void *ctx)
{
	struct corr_fire f;
	memset(&f, 0, sizeof(f));
	f.r = cs->r;
	f.count = count;
	f.last_ns = now;
	f.first_ns = now;
	/* group values: split the joined key */
	char *vals[8] = {0};
	char *g = k->group;
	f.ngroup = cs->ngroup;
	for (int i = 0; i < cs->ngroup; i++) {
		f.group_names[i] = cs->c->group_by[i];
		char *sep = strchr(g, '\x1f');
		size_t n = sep ? (size_t)(sep - g) : strlen(g);
		vals[i] = strndup(g, n);
		f.group_vals[i] = vals[i] ? vals[i] : "";
		g = sep ? sep + 1 : g + n;
	}
	struct cev *sorted[CORR_RULES_MAX > CORR_EVENTS_MAX ? CORR_RULES_MAX : CORR_EVENTS_MAX];
	int n = 0;
	for (uint32_t i = 0; i < k->evcap && n < CORR_EVENTS_MAX; i++)
		if (k->ev[i].json && k->ev[i].ts >= from)
			sorted[n++] = &k->ev[i];
	qsort(sorted, (size_t)n, sizeof(sorted[0]), cev_cmp);
	for (int i = 0; i < n; i++) {
		f.ev_json[i] = sorted[i]->json;
		f.ev_len[i] = sorted[i]->len;
		if (sorted[i]->ts < f.first_ns)
			f.first_ns = sorted[i]->ts;
	}
	f.nevents = n;
	if (k->win_start && k->win_start < f.first_ns && k->win_start >= from)
		f.first_ns = k->win_start;
	fire(ctx, &f);
	for (int i = 0; i < cs->ngroup; i++)
		free(vals[i]);
}

/* Events in the window [from, ...] of an event_count ring. Order does not
 * matter for a sum: the ring is read as the (at most two) runs it fills,
 * without a division per entry. */
static uint64_t ring_count(const struct ckey *k, uint64_t from)
{
	uint64_t c = 0;
	uint32_t end = k->head + k->cnt;
	for (uint32_t j = k->head; j < end && j < k->cap; j++)
		c += k->a[j] >= from ? k->b[j] : 0;
	for (uint32_t j = 0; end > k->cap && j < end - k->cap; j++)
		c += k->a[j] >= from ? k->b[j] : 0;
	return c;
}

static uint64_t distinct_count(const struct ckey *k, uint64_t from)
{
	uint64_t c = 0;
	for (uint32_t i = 0; i < k->cnt; i++)
		if (k->b[i] >= from)
			c++;
	return c;
}

static uint64_t window_from(const struct corr_state *cs, uint64_t now)
{
	uint64_t span = cs->c->timespan_ns;
	return now > span ? now - span : 0;
}

/* lt/lte: decides a closed window, then the key starts over. */
static void close_window(struct corr_state *cs, struct ckey *k, corr_fire_fn fire, void *ctx)
{
	uint64_t end = k->win_start + cs->c->timespan_ns;
	uint64_t c = 0;
	if (cs->c->type == CORR_EVENT_COUNT) {
		for (uint32_t i = 0; i < k->cnt; i++) {
			uint32_t j = (k->head + i) % k->cap;
			if (k->a[j] >= k->win_start && k->a[j] <= end)
				c += k->b[j];
		}
	} else {
		for (uint32_t i = 0; i < k->cnt; i++)
			if (k->b[i] >= k->win_start && k->b[i] <= end)
				c++;
	}
	if (cmp_ok(cs->c->cmp, (int64_t)c, cs->c->threshold))
		fire_key(cs, k, c, k->win_start, end, fire, ctx);
	key_clear(cs, k);
}

static void update_key(struct corr_state *cs, struct ckey *k, int pos, const struct vg_flat *ev, const char *json,
		       size_t len, uint64_t now, uint64_t seq, corr_fire_fn fire, void *ctx)
{
	const struct correlation *c = cs->c;
	uint64_t from = window_from(cs, now);
	if (cs->at_close && k->win_start && now > k->win_start + c->timespan_ns)
		close_window(cs, k, fire, ctx);
	if (!k->win_start)
		k->win_start = now;
	k->last_ns = now;
	switch (c->type) {
	case CORR_EVENT_COUNT: {
		if (k->cnt == k->cap && grow_ring(cs, k) && !k->cap)
			return;
		uint32_t newest = (k->head + k->cnt + k->cap - 1) % k->cap;
		uint64_t gran = c->timespan_ns / (k->cap ? k->cap : 1);
		if (k->cnt == k->cap && k->cap == CORR_RING_MAX && now - k->a[newest] < gran) {
			k->b[newest]++; /* a long window of many events: merge close timestamps */
		} else if (k->cnt < k->cap) {
			uint32_t j = (k->head + k->cnt++) % k->cap;
			k->a[j] = now;
			k->b[j] = 1;
		} else {
			k->a[k->head] = now;
			k->b[k->head] = 1;
			k->head = (k->head + 1) % k->cap;
		}
		keep_event(cs, k, pos, json, len, now, seq);
		if (cs->at_close)
			return;
		if (now < k->quiet_until)
			return; /* fired within the last timespan: nothing to decide */
		uint64_t n = ring_count(k, from);
		if (cmp_ok(c->cmp, (int64_t)n, c->threshold)) {
			fire_key(cs, k, n, from, now, fire, ctx);
			key_clear(cs, k);
			k->quiet_until = now + c->timespan_ns;
		}
		return;
	}
	case CORR_VALUE_COUNT: {
		uint32_t vl;
		const char *v = vg_flat_get(ev, cs->vfield[pos], &vl);
		if (!v)
			return;
		uint64_t vh = fnv1a(FNV_INIT, v, vl);
		uint32_t i;
		for (i = 0; i < k->cnt; i++)
			if (k->a[i] == vh)
				break;
		if (i < k->cnt) {
			k->b[i] = now; /* seen again: refresh */
		} else {
			if (k->cnt == k->cap && grow_ring(cs, k) && !k->cap)
				return;
			if (k->cnt < k->cap) {
				i = k->cnt++;
			} else { /* full: replace the value seen longest ago */
				i = 0;
				for (uint32_t j = 1; j < k->cnt; j++)
					if (k->b[j] < k->b[i])
						i = j;
			}
			k->a[i] = vh;
			k->b[i] = now;
			keep_event(cs, k, pos, json, len, now, seq);
		}
		if (cs->at_close)
			return;
		if (now < k->quiet_until)
			return;
		uint64_t n = distinct_count(k, from);
		if (cmp_ok(c->cmp, (int64_t)n, c->threshold)) {
			fire_key(cs, k, n, from, now, fire, ctx);
			key_clear(cs, k);
			k->quiet_until = now + c->timespan_ns;
		}
		return;
	}
	case CORR_TEMPORAL: {
		k->steps[pos] = now;
		keep_event(cs, k, pos, json, len, now, seq);
		int have = 0;
		for (int p = 0; p < cs->nrules; p++)
			if (k->steps[p] && k->steps[p] >= from)
				have++;
		if (have >= cs->temporal_need && now >= k->quiet_until) {
			fire_key(cs, k, (uint64_t)have, from, now, fire, ctx);
			key_clear(cs, k);
			k->quiet_until = now + c->timespan_ns;
		}
		return;
	}
	case CORR_TEMPORAL_ORDERED: {
		if (pos == 0) {
			k->steps[0] = now;
		} else if (k->steps[pos - 1] && k->steps[pos - 1] >= from && k->steps[cs->nrules + pos - 1] != seq) {
			k->steps[pos] = k->steps[pos - 1]; /* the chain's start */
		} else {
			return; /* out of order: nothing to advance */
		}
		k->steps[cs->nrules + pos] = seq;
		keep_event(cs, k, pos, json, len, now, seq);
		if (pos == cs->nrules - 1) {
			bool quiet = now < k->quiet_until;
			if (!quiet)
				fire_key(cs, k, (uint64_t)cs->nrules, k->steps[pos], now, fire, ctx);
			key_clear(cs, k);
			if (!quiet)
				k->quiet_until = now + c->timespan_ns;
		}
		return;
	}
	default:
		return;
	}
}

/* Drops groups whose last event left the window long ago (their state can
 * no longer make the condition true); lt/lte groups are decided first. */
static void expire(struct corr_state *cs, uint64_t now, corr_fire_fn fire, void *ctx)
{
	uint64_t span = cs->c->timespan_ns;
	while (cs->lru_tail && cs->lru_tail->last_ns + span < now) {
		struct ckey *k = cs->lru_tail;
		if (cs->at_close && k->win_start)
			close_window(cs, k, fire, ctx);
		key_drop(cs, k);
	}
}

void corr_feed(struct corr_state *cs, int pos, const struct vg_flat *ev, const char *json, size_t len,
	       uint64_t now, uint64_t seq, corr_fire_fn fire, void *ctx)
{
	if (!cs || pos < 0 || pos >= cs->nrules)
		return;
	expire(cs, now, fire, ctx);
	/* the values of each group-by field (several for arrays) */
	const char *vals[8][CORR_VALUES_MAX];
	uint32_t lens[8][CORR_VALUES_MAX];
	int nv[8] = {0};
	for (int i = 0; i < ev->n; i++) {
		unsigned bits = group_bits(cs, pos, ev->f[i].name);
		if (!bits)
			continue;
		for (int g = 0; g < cs->ngroup; g++)
			if ((bits & (1u << g)) && nv[g] < CORR_VALUES_MAX) {
				/* an array may repeat a value (ancestors): once is enough */
				bool dup = false;
				for (int j = 0; j < nv[g]; j++)
					if (lens[g][j] == ev->f[i].len && memcmp(vals[g][j], ev->f[i].val, ev->f[i].len) == 0)
						dup = true;
				if (!dup) {
					vals[g][nv[g]] = ev->f[i].val;
					lens[g][nv[g]] = ev->f[i].len;
					nv[g]++;
				}
			}
	}
	int combos = 1;
	for (int g = 0; g < cs->ngroup; g++) {
		if (!nv[g])
			return;
		combos *= nv[g];
		if (combos > CORR_GROUPS_MAX)
			combos = CORR_GROUPS_MAX;
	}
	for (int ci = 0; ci < combos; ci++) {
		char buf[8 * (CORR_GROUP_VAL_MAX + 1)];
		size_t bl = 0;
		int rest = ci;
		uint64_t h = FNV_INIT;
		for (int g = 0; g < cs->ngroup; g++) {
			int idx = 0;
			if (nv[g] > 1) { /* usually one value: no division */
				idx = rest % nv[g];
				rest /= nv[g];
			}
			size_t l = lens[g][idx] > CORR_GROUP_VAL_MAX ? CORR_GROUP_VAL_MAX : lens[g][idx];
			if (g)
				buf[bl++] = '\x1f';
			memcpy(buf + bl, vals[g][idx], l);
			bl += l;
			h = fnv1a(h, vals[g][idx], lens[g][idx]);
			h = fnv1a(h, "\x1f", 1);
		}
		struct ckey *k = key_get(cs, h, buf, bl);
		if (k)
			update_key(cs, k, pos, ev, json, len, now, seq, fire, ctx);
	}
	evict(cs, NULL);
}

void corr_tick(struct corr_state *cs, uint64_t now, corr_fire_fn fire, void *ctx)
{
	if (!cs)
		return;
	expire(cs, now, fire, ctx);
	if (!cs->at_close)
		return;
	for (struct ckey *k = cs->lru_head; k; k = k->next)
		if (k->win_start && now > k->win_start + cs->c->timespan_ns)
			close_window(cs, k, fire, ctx);
}

void corr_free(struct corr_state *cs)
{
	if (!cs)
		return;
	while (cs->lru_head)
		key_drop(cs, cs->lru_head);
	htab_free(&cs->keys, NULL);
	for (int p = 0; p < CORR_RULES_MAX; p++)
		free(cs->gmask[p]);
	free(cs);
}

size_t corr_keys(const struct corr_state *cs)
{
	return cs ? cs->nkeys : 0;
}

uint64_t corr_evicted(const struct corr_state *cs)
{
	return cs ? cs->evicted : 0;
}
