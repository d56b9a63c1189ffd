/* Reading the store: which blocks can hold matching events (the index
 * of each sealed segment; a walk of the block headers of an unsealed one;
 * the WAL), then only those blocks are read, and their events are merged
 * in time order. Needs no daemon: the WAL header gives a consistent
 * snapshot of what a running writer has made durable. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include "store.h"
#include "store_int.h"

struct qsrc {
	int fd;
	char *path;
	struct vgc_keys keys;
	uint64_t seq, uuid;
};

struct qcand {
	uint32_t src, bn;
	uint32_t len; /* 0: read the header first */
	uint64_t off, first_ts, last_ts;
};

struct qrun {
	const struct store_query *q;
	int dirfd;
	const char *dir;
	struct strbuf *warn;
	struct dict_cache *dc;
	struct qsrc *src;
	uint32_t nsrc, src_cap;
	struct qcand *cand;
	size_t ncand, cand_cap;
	/* index keys the query needs (all of them) */
	uint64_t ikeys[4];
	int nikeys;
	int64_t f_exe, f_cond[8], f_text[5];
};

static void warnf(struct qrun *r, const char *path, uint32_t bn, const char *why)
{
	if (r->warn)
		sb_printf(r->warn, "%s: block %u: %s\n", path, bn, why);
}

static int add_src(struct qrun *r, int fd, const char *name, uint64_t seq, uint64_t uuid)
{
	if (r->nsrc == r->src_cap) {
		uint32_t cap = r->src_cap ? r->src_cap * 2 : 16;
		struct qsrc *n = realloc(r->src, cap * sizeof(*n));
		if (!n)
			return -1;
		r->src = n;
		r->src_cap = cap;
	}
	struct qsrc *s = &r->src[r->nsrc];
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->seq = seq;
	s->uuid = uuid;
	vgc_keys_init(&s->keys);
	if (asprintf(&s->path, "%s/%s", r->dir, name) < 0)
		return -1;
	return (int)r->nsrc++;
}

static int add_cand(struct qrun *r, uint32_t src, uint32_t bn, uint64_t off, uint32_t len, uint64_t first,
		    uint64_t last)
{
	const struct store_query *q = r->q;
	if ((q->from_ns && last < q->from_ns) || (q->to_ns && first > q->to_ns))
		return 0;
	if (r->ncand == r->cand_cap) {
		size_t cap = r->cand_cap ? r->cand_cap * 2 : 256;
		struct qcand *n = realloc(r->cand, cap * sizeof(*n));
		if (!n)
			return -1;
		r->cand = n;
		r->cand_cap = cap;
	}
	r->cand[r->ncand++] = (struct qcand){src, bn, len, off, first, last};
	return 0;
}

static bool want_sessions(const struct store_query *q)
{
	return q->sid >= 0;
}

/* Does a block's session table hold the session the query asks for? */
static bool sess_match(const struct store_query *q, const struct blk_sess *s)
{
	if (s->sid != q->sid)
		return false;
	if (q->host && (s->host_len != strlen(q->host) || memcmp(s->host, q->host, s->host_len)))
		return false;
	return true;
}

/* ---- candidate blocks -------------------------------------------- */

static int from_index(struct qrun *r, uint32_t si, struct idx_reader *ir)
{
	const struct store_query *q = r->q;
	if (!ir->h.nevents || (q->from_ns && ir->h.last_ts < q->from_ns) || (q->to_ns && ir->h.first_ts > q->to_ns))
		return 0;
	uint32_t *sel = NULL, nsel = 0;
	bool all = true;
	for (int k = 0; k < r->nikeys; k++) {
		uint32_t *bl, nb;
		if (ir_lookup(ir, r->ikeys[k], &bl, &nb)) {
			warnf(r, r->src[si].path, 0, "index entry corrupt; the segment is read whole");
			free(sel);
			sel = NULL;
			all = true;
			break;
		}
		if (all) {
			sel = bl;
			nsel = nb;
			all = false;
		} else {
			/* intersect two sorted lists */
			uint32_t a = 0, b = 0, o = 0;
			while (a < nsel && b < nb) {
				if (sel[a] < bl[b])
					a++;
				else if (sel[a] > bl[b])
					b++;
				else
					sel[o++] = sel[a], a++, b++;
			}
			nsel = o;
			free(bl);
		}
		if (!nsel)
			break;
	}
	int rc = 0;
	if (all) {
		const char *why = ir_load_blocks(ir);
		if (why) {
			free(sel);
			return 1; /* read the segment whole instead */
		}
		for (uint32_t b = 0; b < ir->h.nblocks && !rc; b++)
			rc = add_cand(r, si, b, ir->blocks[b].off, ir->blocks[b].len, ir->blocks[b].first_ts,
				      ir->blocks[b].last_ts);
	} else {
		for (uint32_t i = 0; i < nsel && !rc; i++) {
			const struct idx_blk *b = ir_block(ir, sel[i]);
			if (!b) {
				free(sel);
				return 1;
			}
			rc = add_cand(r, si, sel[i], b->off, b->len, b->first_ts, b->last_ts);
		}
	}
	free(sel);
	return rc;
}

/* Walks the block headers and metas of a file (an unsealed segment, or the
 * WAL when epoch is not 0) from off to limit. */
static int walk_blocks(struct qrun *r, uint32_t si, uint64_t off, uint64_t limit, bool wal, uint32_t epoch,
		       bool quiet_tail)
{
	struct qsrc *s = &r->src[si];
	uint8_t *meta = NULL;
	size_t meta_cap = 0;
	uint32_t bn = 0;
	int rc = 0;
	while (off + sizeof(struct blk_hdr) <= limit) {
		struct blk_hdr h;
		const char *why = NULL;
		ssize_t got = pread(s->fd, &h, sizeof(h), (off_t)off);
		if (got != sizeof(h))
			why = got < 0 ? "read error" : "truncated block header";
		else if ((why = blk_hdr_check(&h)) == NULL) {
			if (off + sizeof(h) + h.meta_len + h.comp_len > limit)
				why = "truncated block";
			else if (wal && h.epoch != epoch)
				break; /* stale: the end of this epoch */
		}
		if (!why) {
			if (h.meta_len > meta_cap) {
				uint8_t *nm = realloc(meta, h.meta_len);
				if (!nm) {
					rc = -1;
					break;
				}
				meta = nm;
				meta_cap = h.meta_len;
			}
			if (pread(s->fd, meta, h.meta_len, (off_t)(off + sizeof(h))) != (ssize_t)h.meta_len)
				why = "truncated block";
			else if (vg_crc32c(0, meta, h.meta_len) != h.meta_crc)
				why = "meta checksum mismatch";
		}
		if (!why) {
			if (h.key_base > s->keys.n) {
				/* a lost block defined keys: their names are unknown */
				while (s->keys.n < h.key_base) {
					char nm[48];
					int l = snprintf(nm, sizeof(nm), "\x01lost-key-%u", s->keys.n);
					if (vgc_key_add(&s->keys, nm, (size_t)l) < 0)
						break;
				}
			}
			long kl = h.key_base == s->keys.n ? vgc_keys_read(&s->keys, h.key_base, meta, h.meta_len) : -1;
			if (kl < 0 && h.key_base < s->keys.n) {
				uint64_t cnt;
				size_t w = vgc_get_varint(meta, h.meta_len, &cnt);
				kl = w && !cnt ? (long)w : -1;
			}
			if (kl < 0)
				why = "bad key run";
			else {
				bool ok = !want_sessions(r->q);
				size_t i = (size_t)kl;
				uint64_t ns, v;
				size_t w = vgc_get_varint(meta + i, h.meta_len - i, &ns);
				i += w;
				for (uint64_t j = 0; w && j < ns && !ok; j++) {
					struct blk_sess bs;
					w = vgc_get_varint(meta + i, h.meta_len - i, &v);
					if (!w || v > h.meta_len - i - w)
						break;
					i += w;
					bs.host = (const char *)meta + i;
					bs.host_len = (uint32_t)v;
					i += v;
					w = vgc_get_varint(meta + i, h.meta_len - i, &v);
					if (!w)
						break;
					i += w;
					bs.sid = vgc_unzz(v);
					ok = sess_match(r->q, &bs);
				}
				if (ok && add_cand(r, si, bn, off, (uint32_t)(sizeof(h) + h.meta_len + h.comp_len),
						   h.first_ts, h.last_ts)) {
					rc = -1;
					break;
				}
			}
		}
		if (why) {
			uint64_t next = wal ? 0 : blk_resync(s->fd, off, limit);
			if (!(wal || (quiet_tail && !next)))
				warnf(r, s->path, bn, why);
			if (!next)
				break;
			off = next;
			bn++;
			continue;
		}
		off += sizeof(h) + h.meta_len + h.comp_len;
		bn++;
	}
	if (!wal && !rc && off < limit && off + sizeof(struct blk_hdr) > limit)
		warnf(r, s->path, bn, "truncated block header");
	free(meta);
	return rc;
}

/* ---- event filters ------------------------------------------------- */

static bool has_value(const struct vg_flat *fl, int64_t field, const char *val)
{
	if (field < 0)
		return false;
	for (int i = 0; i < fl->n; i++)
		if (fl->f[i].name == (uint32_t)field && strcmp(fl->f[i].val, val) == 0)
			return true;
	return false;
}

static bool has_substr(const struct vg_flat *fl, int64_t field, const char *needle)
{
	if (field < 0)
		return false;
	for (int i = 0; i < fl->n; i++)
		if (fl->f[i].name == (uint32_t)field && strstr(fl->f[i].val, needle))
			return true;
	return false;
}

static bool str_eq(const char *a, uint32_t alen, const char *b)
{
	return a && b && strlen(b) == alen && memcmp(a, b, alen) == 0;
}

/* Cheap checks on a record (time, session); no decoding. */
static bool rec_cheap(const struct store_query *q, const struct blk_data *bd, const struct blk_rec *rc)
{
	if ((q->from_ns && rc->ts < q->from_ns) || (q->to_ns && rc->ts > q->to_ns))
		return false;
	if (q->sid >= 0) {
		if (!rc->sess || !sess_match(q, &bd->sess[rc->sess - 1]))
			return false;
	}
	return true;
}

/* Per-thread scratch for reading blocks. */
struct qthr {
	struct blk_data bd;
	ZSTD_DCtx *dctx;
	struct vg_flat fl;
};

/* A block read, filtered and decoded: its matching events in time order. */
struct prep {
	const char *why;
	uint32_t n, cap, cand;
	uint64_t *ts;
	uint32_t *off, *len;
	struct strbuf json;
	struct prep *next; /* free list */
};

/* The remaining conditions; on success the event's JSON is appended to out. */
static bool rec_full(struct qrun *r, struct qthr *t, const struct vgc_keys *keys, const struct blk_rec *rc,
		     struct strbuf *out)
{
	const struct store_query *q = r->q;
	if (q->pid >= 0 || q->sha256 || q->remote_ip || (q->host && q->sid < 0)) {
		struct vgc_ext x;
		if (vgc_ext_binary(keys, rc->body, rc->len, &x))
			return false;
		if (q->pid >= 0 && !(x.has_pid && x.pid == q->pid))
			return false;
		if (q->sha256 && !str_eq(x.sha, x.sha_len, q->sha256))
			return false;
		if (q->remote_ip && !str_eq(x.dip, x.dip_len, q->remote_ip) && !str_eq(x.sip, x.sip_len, q->remote_ip))
			return false;
		if (q->host && q->sid < 0 && !str_eq(x.host, x.host_len, q->host))
			return false;
	}
	size_t at = out->len;
	if (vgc_decode(keys, rc->body, rc->len, rc->ts, out))
		return false;
	if (q->exe || q->nconds > 0 || (q->text && *q->text)) {
		bool ok = !(vg_flatten_json(&t->fl, out->buf + at, out->len - at) && !t->fl.n);
		if (ok && q->exe && !has_value(&t->fl, r->f_exe, q->exe))
			ok = false;
		for (int i = 0; ok && i < q->nconds && i < 8; i++)
			if (!has_value(&t->fl, r->f_cond[i], q->conds[i].value))
				ok = false;
		if (ok && q->text && *q->text) {
			bool hit = false;
			for (int i = 0; i < 5 && !hit; i++)
				hit = has_substr(&t->fl, r->f_text[i], q->text);
			ok = hit;
		}
		if (!ok) {
			out->len = at;
			return false;
		}
	}
	return true;
}

/* Reads candidate k into p (reset first). */
static void prepare(struct qrun *r, struct qthr *t, uint32_t k, struct prep *p)
{
	const struct qcand *cd = &r->cand[k];
	struct qsrc *s = &r->src[cd->src];
	p->n = 0;
	p->cand = k;
	p->why = bd_read(&t->bd, s->fd, cd->off, cd->len, r->dc, t->dctx, NULL);
	sb_reset(&p->json);
	if (p->why)
		return;
	for (uint32_t i = 0; i < t->bd.nrecs; i++) {
		const struct blk_rec *rc = &t->bd.recs[i];
		if (!rec_cheap(r->q, &t->bd, rc))
			continue;
		size_t at = p->json.len;
		if (!rec_full(r, t, &s->keys, rc, &p->json))
			continue;
		if (p->n == p->cap) {
			uint32_t cap = p->cap ? p->cap * 2 : 256;
			uint64_t *nt = realloc(p->ts, cap * sizeof(*nt));
			if (nt)
				p->ts = nt;
			uint32_t *no = realloc(p->off, cap * sizeof(*no));
			if (no)
				p->off = no;
			uint32_t *nl = realloc(p->len, cap * sizeof(*nl));
			if (nl)
				p->len = nl;
			if (!nt || !no || !nl) {
				p->why = "out of memory";
				return;
			}
			p->cap = cap;
		}
		p->ts[p->n] = rc->ts;
		p->off[p->n] = (uint32_t)at;
		p->len[p->n] = (uint32_t)(p->json.len - at);
		p->n++;
	}
	if (p->json.oom)
		p->why = "out of memory";
}

static void prep_free(struct prep *p)
{
	if (!p)
		return;
	free(p->ts);
	free(p->off);
	free(p->len);
	sb_free(&p->json);
	free(p);
}

/* ---- reading blocks in parallel --------------------------------------- */

/* Large queries read, decompress and decode blocks in worker threads
 * (LOOKAHEAD blocks ahead of the merge); the merge itself and the
 * callback stay on the calling thread, in time order. */
#define LOOKAHEAD 32
#define MAX_WORKERS 4

struct pool {
	struct qrun *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct prep *slot[LOOKAHEAD];
	int64_t slot_k[LOOKAHEAD];
	uint32_t next_take, taken; /* workers take in order; the merge has taken up to */
	struct prep *free;
	bool stop;
	pthread_t th[MAX_WORKERS];
	int nth;
};

static struct prep *pool_alloc(struct pool *pl)
{
	struct prep *p = pl->free;
	if (p)
		pl->free = p->next;
	else {
		p = calloc(1, sizeof(*p));
		if (p)
			sb_init(&p->json);
	}
	return p;
}

static void *worker(void *arg)
{
	struct pool *pl = arg;
	struct qrun *r = pl->r;
	struct qthr t = {0};
	t.dctx = ZSTD_createDCtx();
	vg_flat_init(&t.fl);
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		while (!pl->stop && pl->next_take < r->ncand && pl->next_take >= pl->taken + LOOKAHEAD)
			pthread_cond_wait(&pl->cv, &pl->mu);
		if (pl->stop || pl->next_take >= r->ncand)
			break;
		uint32_t k = pl->next_take++;
		struct prep *p = pool_alloc(pl);
		pthread_mutex_unlock(&pl->mu);
		if (p) {
			if (t.dctx)
				prepare(r, &t, k, p);
			else
				p->why = "out of memory", p->n = 0, p->cand = k;
		}
		pthread_mutex_lock(&pl->mu);
		if (!p) {
			pl->stop = true; /* the merge sees a missing block and stops */
			pthread_cond_broadcast(&pl->cv);
			break;
		}
		pl->slot[k % LOOKAHEAD] = p;
		pl->slot_k[k % LOOKAHEAD] = k;
		pthread_cond_broadcast(&pl->cv);
	}
	pthread_mutex_unlock(&pl->mu);
	ZSTD_freeDCtx(t.dctx);
	bd_free(&t.bd);
	vg_flat_free(&t.fl);
	return NULL;
}

/* The prepared block k (waits for a worker); NULL when the pool failed. */
static struct prep *pool_get(struct pool *pl, uint32_t k)
{
	pthread_mutex_lock(&pl->mu);
	while (pl->slot_k[k % LOOKAHEAD] != (int64_t)k && !pl->stop)
		pthread_cond_wait(&pl->cv, &pl->mu);
	struct prep *p = NULL;
	if (pl->slot_k[k % LOOKAHEAD] == (int64_t)k) {
		p = pl->slot[k % LOOKAHEAD];
		pl->slot[k % LOOKAHEAD] = NULL;
		pl->slot_k[k % LOOKAHEAD] = -1;
	}
	pl->taken = k + 1;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	return p;
}

static void pool_put(struct pool *pl, struct prep *p)
{
	if (!pl) {
		prep_free(p);
		return;
	}
	pthread_mutex_lock(&pl->mu);
	p->next = pl->free;
	pl->free = p;
	pthread_mutex_unlock(&pl->mu);
}

static int pool_start(struct pool *pl, struct qrun *r)
{
	memset(pl, 0, sizeof(*pl));
	pl->r = r;
	for (int i = 0; i < LOOKAHEAD; i++)
		pl->slot_k[i] = -1;
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->cv, NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int want = ncpu > MAX_WORKERS ? MAX_WORKERS : ncpu < 1 ? 1 : (int)ncpu;
	for (int i = 0; i < want; i++)
		if (pthread_create(&pl->th[pl->nth], NULL, worker, pl) == 0)
			pl->nth++;
	return pl->nth ? 0 : -1;
}

static void pool_stop(struct pool *pl)
{
	pthread_mutex_lock(&pl->mu);
	pl->stop = true;
	pthread_cond_broadcast(&pl->cv);
	pthread_mutex_unlock(&pl->mu);
	for (int i = 0; i < pl->nth; i++)
		pthread_join(pl->th[i], NULL);
	for (int i = 0; i < LOOKAHEAD; i++)
		prep_free(pl->slot[i]);
	while (pl->free) {
		struct prep *n = pl->free->next;
		prep_free(pl->free);
		pl->free = n;
	}
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->cv);
}

/* ---- merging --------------------------------------------------------- */

struct qcur2 {
	struct prep *p;
	uint32_t i;
};

struct heap {
	struct qcur2 *v;
	size_t n, cap;
};

static inline bool cur_less(const struct qcur2 *a, const struct qcur2 *b)
{
	uint64_t ta = a->p->ts[a->i], tb = b->p->ts[b->i];
	if (ta != tb)
		return ta < tb;
	return a->p->cand < b->p->cand;
}

static int heap_push(struct heap *h, struct qcur2 c)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct qcur2 *nv = realloc(h->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		h->v = nv;
		h->cap = cap;
	}
	size_t i = h->n++;
	h->v[i] = c;
	while (i) {
		size_t p = (i - 1) / 2;
		if (!cur_less(&h->v[i], &h->v[p]))
			break;
		struct qcur2 t = h->v[i];
		h->v[i] = h->v[p];
		h->v[p] = t;
		i = p;
	}
	return 0;
}

static void heap_sift(struct heap *h)
{
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < h->n && cur_less(&h->v[l], &h->v[m]))
			m = l;
		if (l + 1 < h->n && cur_less(&h->v[l + 1], &h->v[m]))
			m = l + 1;
		if (m == i)
			return;
		struct qcur2 t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
}

static int cand_cmp(const void *a, const void *b)
{
	const struct qcand *x = a, *y = b;
	if (x->first_ts != y->first_ts)
		return x->first_ts < y->first_ts ? -1 : 1;
	if (x->src != y->src)
		return x->src < y->src ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static long merge(struct qrun *r, store_row_fn fn, void *ctx)
{
	const struct store_query *q = r->q;
	if (r->ncand)
		qsort(r->cand, r->ncand, sizeof(*r->cand), cand_cmp);
	struct heap h = {0};
	struct pool pl, *ppl = NULL;
	struct qthr t = {0};
	/* a few blocks (a session, a process) are read here; many, in parallel */
	if (r->ncand >= 16 && pool_start(&pl, r) == 0)
		ppl = &pl;
	if (!ppl) {
		t.dctx = ZSTD_createDCtx();
		vg_flat_init(&t.fl);
		if (!t.dctx)
			return -1;
	}
	size_t next = 0;
	long delivered = 0;
	bool stop = false;
	while (!stop) {
		while (next < r->ncand && (!h.n || h.v[0].p->ts[h.v[0].i] >= r->cand[next].first_ts)) {
			struct prep *p;
			if (ppl) {
				p = pool_get(ppl, (uint32_t)next);
			} else {
				p = calloc(1, sizeof(*p));
				if (p) {
					sb_init(&p->json);
					prepare(r, &t, (uint32_t)next, p);
				}
			}
			next++;
			if (!p) {
				stop = true;
				delivered = -1;
				break;
			}
			if (p->why)
				warnf(r, r->src[r->cand[p->cand].src].path, r->cand[p->cand].bn, p->why);
			if (!p->n || heap_push(&h, (struct qcur2){p, 0}))
				pool_put(ppl, p);
		}
		if (!h.n || stop)
			break;
		struct qcur2 *c = &h.v[0];
		struct prep *p = c->p;
		delivered++;
		if (fn(ctx, p->json.buf + p->off[c->i], p->len[c->i], p->ts[c->i]) ||
		    (q->limit && (size_t)delivered >= q->limit))
			stop = true;
		if (++c->i < p->n) {
			heap_sift(&h);
		} else {
			pool_put(ppl, p);
			h.v[0] = h.v[--h.n];
			if (h.n)
				heap_sift(&h);
		}
	}
	for (size_t i = 0; i < h.n; i++)
		pool_put(ppl, h.v[i].p);
	free(h.v);
	if (ppl)
		pool_stop(ppl);
	ZSTD_freeDCtx(t.dctx);
	bd_free(&t.bd);
	vg_flat_free(&t.fl);
	return delivered;
}

/* ---- the query ------------------------------------------------------ */

static void plan_keys(struct qrun *r)
{
	const struct store_query *q = r->q;
	r->nikeys = 0;
	if (q->sid >= 0) {
		if (q->host)
			r->ikeys[r->nikeys++] = ik_hash(IK_SESSION, q->host, strlen(q->host), (uint64_t)q->sid);
		else
			r->ikeys[r->nikeys++] = ik_hash(IK_SID, NULL, 0, (uint64_t)q->sid);
	}
	if (q->pid >= 0)
		r->ikeys[r->nikeys++] = ik_hash(IK_PID, NULL, 0, (uint64_t)q->pid);
	if (q->sha256)
		r->ikeys[r->nikeys++] = ik_hash(IK_SHA, q->sha256, strlen(q->sha256), 0);
	if (q->remote_ip)
		r->ikeys[r->nikeys++] = ik_hash(IK_IP, q->remote_ip, strlen(q->remote_ip), 0);
	r->f_exe = q->exe ? (int64_t)vg_field_id("process.executable") : -1;
	for (int i = 0; i < q->nconds && i < 8; i++)
		r->f_cond[i] = q->conds[i].field ? (int64_t)vg_field_id(q->conds[i].field) : -1;
	static const char *const text_fields[5] = {"process.command_line", "process.executable", "file.path",
						    "file.target_path", "vigil.file.old_path"};
	for (int i = 0; i < 5; i++)
		r->f_text[i] = q->text && *q->text ? (int64_t)vg_field_id(text_fields[i]) : -1;
}

long store_query(const char *dir, const struct store_query *q, store_row_fn fn, void *ctx, struct strbuf *warn)
{
	struct qrun r = {.q = q, .dir = dir, .warn = warn};
	long rc = -1;
	r.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r.dirfd < 0) {
		if (warn)
			sb_printf(warn, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	r.dc = dc_new(r.dirfd);
	if (!r.dc)
		goto out;
	plan_keys(&r);

	/* the WAL header first: what a running writer has made durable */
	struct wal_hdr wh;
	bool snap = false;
	int walfd = openat(r.dirfd, "wal.vgw", O_RDONLY | O_CLOEXEC);
	if (walfd >= 0 && pread(walfd, &wh, sizeof(wh), 0) == sizeof(wh) && wh.magic == WAL_MAGIC &&
	    wh.crc == vg_crc32c(0, &wh, offsetof(struct wal_hdr, crc)) && wh.version == STORE_VERSION)
		snap = true;
	size_t n;
	struct seg_ent *v = seg_list(r.dirfd, &n);
	int snap_src = -1;
	for (size_t i = 0; i < n; i++) {
		if (snap && v[i].seq > wh.seg_seq)
			break; /* newer than the snapshot */
		int fd = openat(r.dirfd, v[i].name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* removed by retention meanwhile */
		struct seg_hdr sh;
		struct stat st;
		if (pread(fd, &sh, sizeof(sh), 0) != sizeof(sh) || sh.magic != SEG_MAGIC ||
		    sh.crc != vg_crc32c(0, &sh, offsetof(struct seg_hdr, crc)) || fstat(fd, &st)) {
			if (warn)
				sb_printf(warn, "%s/%s: bad segment header; skipped\n", dir, v[i].name);
			close(fd);
			continue;
		}
		int si = add_src(&r, fd, v[i].name, sh.seq, sh.uuid);
		if (si < 0) {
			close(fd);
			goto out_list;
		}
		uint64_t size = (uint64_t)st.st_size, limit = size;
		bool live = snap && sh.seq == wh.seg_seq && sh.uuid == wh.seg_uuid;
		if (live) {
			snap_src = si;
			if (wh.seg_size < limit)
				limit = wh.seg_size;
		}
		char idx[80];
		snprintf(idx, sizeof(idx), "%.*s.idx", (int)(strlen(v[i].name) - 4), v[i].name);
		struct idx_reader ir;
		const char *why = limit == size ? ir_open(&ir, r.dirfd, idx, sh.uuid, size) : "live";
		if (!why) {
			vgc_keys_free(&r.src[si].keys);
			r.src[si].keys = ir.keys; /* moved */
			vgc_keys_init(&ir.keys);
			size_t before = r.ncand;
			int e = from_index(&r, (uint32_t)si, &ir);
			ir_close(&ir);
			if (e < 0)
				goto out_list;
			if (e > 0) {
				/* the index's block table is damaged: read the segment whole */
				if (warn)
					sb_printf(warn, "%s/%s: index damaged; the segment is read whole\n", dir, idx);
				r.ncand = before;
				vgc_keys_reset(&r.src[si].keys);
				if (walk_blocks(&r, (uint32_t)si, sizeof(struct seg_hdr), limit, false, 0, false))
					goto out_list;
			}
		} else {
			if (strcmp(why, "live"))
				ir_close(&ir);
			if (walk_blocks(&r, (uint32_t)si, sizeof(struct seg_hdr), limit, false, 0, false))
				goto out_list;
		}
	}
	if (snap && snap_src >= 0 && r.src[snap_src].keys.n >= wh.seg_keys) {
		int si = add_src(&r, walfd, "wal.vgw", 0, 0);
		if (si < 0)
			goto out_list;
		walfd = -1;
		const struct vgc_keys *sk = &r.src[snap_src].keys;
		for (uint32_t i = 0; i < wh.seg_keys; i++)
			vgc_key_add(&r.src[si].keys, sk->v[i].s, sk->v[i].len);
		struct stat st;
		if (fstat(r.src[si].fd, &st) == 0 &&
		    walk_blocks(&r, (uint32_t)si, sizeof(wh), (uint64_t)st.st_size, true, wh.epoch, true))
			goto out_list;
	}
	rc = merge(&r, fn, ctx);
out_list:
	free(v);
	if (walfd >= 0)
		close(walfd);
out:
	for (uint32_t i = 0; i < r.nsrc; i++) {
		if (r.src[i].fd >= 0)
			close(r.src[i].fd);
		free(r.src[i].path);
		vgc_keys_free(&r.src[i].keys);
	}
	free(r.src);
	free(r.cand);
	dc_free(r.dc);
	close(r.dirfd);
	return rc;
}
