/* The store's writer: lanes, blocks, segments, the WAL, recovery,
 * dictionaries, retention and running out of disk space. The file
 * formats and the overall scheme are described in store_int.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zdict.h>
#include <zstd.h>
#include <zstd_errors.h>
#include "store.h"
#include "store_int.h"
#include "../util/clock.h"

#define NLANES 32
#define CKPT_BYTES (32u << 20)                  /* checkpoint when this much is pending (at most) */
#define CKPT_AGE_NS (30ULL * 1000000000ULL)     /* ... or the oldest pending event is this old */
#define DICT_SAMPLE_BYTES (4u << 20)            /* train the dictionary on this much */
#define DICT_SIZE (112u << 10)
#define RETRY_NS (3ULL * 1000000000ULL)         /* retry writing after a failure */
#define RETENTION_NS (60ULL * 1000000000ULL)
#define MAX_SEEDED_KEYS 4096                    /* beyond it a new segment starts a fresh key table */
#define WAL_NAME "wal.vgw"

/* ---- block builder: events waiting to become a block ------------------ */

struct bbrec {
	uint64_t ts;
	uint32_t off, len, sess;
};
struct bbsess {
	uint32_t host_off, host_len;
	int64_t sid;
};
struct bb {
	struct strbuf body, hosts;
	struct bbrec *recs;
	uint32_t n, cap;
	struct bbsess *sess;
	uint32_t nsess, sess_cap, last_sess;
	uint64_t *keys;
	size_t nkeys, keys_cap;
	uint64_t seen[64]; /* keys added lately: most repeat (same session, same process) */
};

/* a compressed block waiting for the next checkpoint */
struct pblock {
	struct blk_hdr h;
	uint8_t *comp;
	struct strbuf sessmeta;
	uint64_t *keys;
	size_t nkeys;
	struct pblock *next;
};

struct store {
	struct store_opts o;
	char *dir;
	int dirfd, lockfd;
	/* the open segment */
	int segfd;
	char seg_name[64];
	uint64_t seg_seq, seg_uuid, seg_size, seg_created_mono;
	uint32_t seg_keys; /* keys already written in this segment's blocks */
	struct mem_index mi;
	struct vgc_keys keys;
	/* write-ahead log */
	int walfd;
	uint64_t wal_size;
	uint32_t wal_epoch, wal_keys;
	/* pending events */
	struct bb lanes[NLANES];
	struct bb staging; /* not yet in the WAL */
	/* staging cut into WAL blocks as it fills, so what waits for the
	 * next flush is held compressed, not as one raw copy of it all */
	struct pblock *wal_ready, **wal_tail;
	uint64_t staged_bytes; /* staged since the last flush, cut or not */
	uint64_t arrived_bytes; /* appended since the last flush */
	bool skip_staging; /* the last interval was too busy for the WAL */
	struct pblock *ready;
	uint64_t pending_raw, pending_events, undurable, oldest_mono;
	bool replaying, opened;
	uint64_t ckpt_bytes; /* checkpoint at this much pending (raw bytes) */
	uint64_t staging_max; /* beyond this since the last flush, the flush checkpoints */
	bool staging_full;
	uint64_t mem_limit;  /* while writing is paused, events beyond this are dropped */
	/* compression */
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	ZSTD_CDict *cd_block, *cd_wal;
	uint32_t dict_id;
	bool dict_done;
	struct strbuf samples;
	size_t *sample_sizes;
	uint32_t nsamples, samples_cap;
	void *dict_unsaved; /* trained, not yet on disk */
	size_t dict_unsaved_len;
	struct dict_cache *dc;
	struct ik_memo ikm; /* strings of the index keys seen lately */
	/* scratch */
	struct strbuf enc, raw, wbuf, meta, json;
	struct blk_data bd;
	/* failures */
	bool paused, logged_pause;
	uint64_t retry_mono, last_retention_mono, dropped_in_pause;
	struct store_stats st; /* fields read by other threads: atomics */
};

#define ST_ADD(s, f, v) __atomic_add_fetch(&(s)->st.f, (v), __ATOMIC_RELAXED)
#define ST_SET(s, f, v) __atomic_store_n(&(s)->st.f, (v), __ATOMIC_RELAXED)

static void bb_free(struct bb *b)
{
	sb_free(&b->body);
	sb_free(&b->hosts);
	free(b->recs);
	free(b->sess);
	free(b->keys);
	memset(b, 0, sizeof(*b));
}

static void bb_reset(struct bb *b)
{
	sb_reset(&b->body);
	sb_reset(&b->hosts);
	b->n = b->nsess = b->last_sess = 0;
	b->nkeys = 0;
	memset(b->seen, 0, sizeof(b->seen));
}

static int bb_add(struct bb *b, uint64_t ts, const char *host, uint32_t hlen, bool has_sid, int64_t sid,
		  const void *body, uint32_t blen, const uint64_t *keys, int nk)
{
	uint32_t sess = 0;
	if (has_sid) {
		/* the last session is usually the one again */
		uint32_t i = b->last_sess;
		if (!(i < b->nsess && b->sess[i].sid == sid && b->sess[i].host_len == hlen &&
		      memcmp(b->hosts.buf + b->sess[i].host_off, host, hlen) == 0)) {
			for (i = 0; i < b->nsess; i++)
				if (b->sess[i].sid == sid && b->sess[i].host_len == hlen &&
				    memcmp(b->hosts.buf + b->sess[i].host_off, host, hlen) == 0)
					break;
			if (i == b->nsess) {
				if (b->nsess == b->sess_cap) {
					uint32_t cap = b->sess_cap ? b->sess_cap * 2 : 16;
					struct bbsess *ns = realloc(b->sess, cap * sizeof(*ns));
					if (!ns)
						return -1;
					b->sess = ns;
					b->sess_cap = cap;
				}
				b->sess[i] = (struct bbsess){(uint32_t)b->hosts.len, hlen, sid};
				sb_put(&b->hosts, host, hlen);
				b->nsess++;
			}
			b->last_sess = i;
		}
		sess = i + 1;
	}
	if (b->n == b->cap) {
		uint32_t cap = b->cap ? b->cap * 2 : 256;
		struct bbrec *nr = realloc(b->recs, cap * sizeof(*nr));
		if (!nr)
			return -1;
		b->recs = nr;
		b->cap = cap;
	}
	if (nk && b->nkeys + (size_t)nk > b->keys_cap) {
		size_t cap = b->keys_cap ? b->keys_cap * 2 : 1024;
		while (cap < b->nkeys + (size_t)nk)
			cap *= 2;
		uint64_t *nkp = realloc(b->keys, cap * sizeof(*nkp));
		if (!nkp)
			return -1;
		b->keys = nkp;
		b->keys_cap = cap;
	}
	b->recs[b->n++] = (struct bbrec){ts, (uint32_t)b->body.len, blen, sess};
	sb_put(&b->body, body, blen);
	for (int i = 0; i < nk; i++) {
		uint64_t *slot = &b->seen[(keys[i] ^ keys[i] >> 29) & 63];
		if (*slot != keys[i])
			b->keys[b->nkeys++] = *slot = keys[i];
	}
	return b->body.oom || b->hosts.oom ? -1 : 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct bbrec *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void pb_free(struct pblock *pb)
{
	if (!pb)
		return;
	free(pb->comp);
	sb_free(&pb->sessmeta);
	free(pb->keys);
	free(pb);
}

/* Compresses src with the dictionary cd, fed as a stream of unknown size:
 * zstd then refers to the dictionary's tables instead of copying them into
 * the context for every block (~1 MB at level 3): as small, ~10% faster. */
static size_t compress_dict(ZSTD_CCtx *cc, void *dst, size_t cap, const void *src, size_t n, const ZSTD_CDict *cd)
{
	ZSTD_inBuffer in = {src, n, 0};
	ZSTD_outBuffer out = {dst, cap, 0};
	ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
	size_t r = ZSTD_CCtx_refCDict(cc, cd);
	if (!ZSTD_isError(r))
		r = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue);
	while (!ZSTD_isError(r)) {
		r = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
		if (r == 0)
			return out.pos;
		if (!ZSTD_isError(r) && out.pos == out.size)
			r = (size_t)-ZSTD_error_dstSize_tooSmall;
	}
	ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
	return r;
}

/* Compresses what b holds into a block (records sorted by time); b is
 * emptied. NULL when out of memory (b is kept). */
static struct pblock *bb_cut(struct store *s, struct bb *b, bool wal)
{
	struct pblock *pb = calloc(1, sizeof(*pb));
	if (!pb)
		return NULL;
	bool sorted = true;
	for (uint32_t i = 1; i < b->n && sorted; i++)
		sorted = b->recs[i - 1].ts <= b->recs[i].ts;
	if (!sorted)
		qsort(b->recs, b->n, sizeof(*b->recs), rec_cmp);
	uint64_t first = b->recs[0].ts, last = b->recs[b->n - 1].ts;
	sb_reset(&s->raw);
	uint8_t v[32];
	for (uint32_t i = 0; i < b->n; i++) {
		const struct bbrec *r = &b->recs[i];
		size_t l = vgc_put_varint(v, r->ts - first);
		l += vgc_put_varint(v + l, r->sess);
		l += vgc_put_varint(v + l, r->len);
		sb_put(&s->raw, v, l);
		sb_put(&s->raw, b->body.buf + r->off, r->len);
	}
	size_t bound = ZSTD_compressBound(s->raw.len);
	pb->comp = malloc(bound);
	if (!pb->comp || s->raw.oom)
		goto oom;
	ZSTD_CDict *cd = wal ? s->cd_wal : s->cd_block;
	size_t c = cd ? compress_dict(s->cctx, pb->comp, bound, s->raw.buf, s->raw.len, cd)
		      : ZSTD_compressCCtx(s->cctx, pb->comp, bound, s->raw.buf, s->raw.len, wal ? 1 : 3);
	if (ZSTD_isError(c))
		goto oom;
	uint8_t *shrunk = realloc(pb->comp, c ? c : 1);
	if (shrunk)
		pb->comp = shrunk;
	sb_init(&pb->sessmeta);
	sb_put(&pb->sessmeta, v, vgc_put_varint(v, b->nsess));
	for (uint32_t i = 0; i < b->nsess; i++) {
		sb_put(&pb->sessmeta, v, vgc_put_varint(v, b->sess[i].host_len));
		sb_put(&pb->sessmeta, b->hosts.buf + b->sess[i].host_off, b->sess[i].host_len);
		sb_put(&pb->sessmeta, v, vgc_put_varint(v, vgc_zz(b->sess[i].sid)));
	}
	if (pb->sessmeta.oom)
		goto oom;
	if (b->nkeys) {
		qsort(b->keys, b->nkeys, sizeof(*b->keys), u64_cmp);
		size_t u = 0;
		for (size_t i = 0; i < b->nkeys; i++)
			if (!u || b->keys[i] != b->keys[u - 1])
				b->keys[u++] = b->keys[i];
		pb->keys = malloc(u * sizeof(*pb->keys));
		if (!pb->keys)
			goto oom;
		memcpy(pb->keys, b->keys, u * sizeof(*pb->keys));
		pb->nkeys = u;
	}
	pb->h.comp_len = (uint32_t)c;
	pb->h.raw_len = (uint32_t)s->raw.len;
	pb->h.nevents = b->n;
	pb->h.first_ts = first;
	pb->h.last_ts = last;
	pb->h.dict_id = cd ? s->dict_id : 0;
	pb->h.flags = cd ? BLK_F_DICT : 0;
	pb->h.crc = vg_crc32c(0, pb->comp, c);
	bb_reset(b);
	return pb;
oom:
	pb_free(pb);
	return NULL;
}

/* Appends header + meta + payload of pb to out; the meta starts with the
 * keys [key_from, keys.n). Returns the block's length. */
static uint32_t put_block(struct store *s, struct pblock *pb, uint32_t key_from, uint32_t epoch,
			  struct strbuf *out)
{
	sb_reset(&s->meta);
	vgc_keys_write(&s->keys, key_from, &s->meta);
	sb_put(&s->meta, pb->sessmeta.buf, pb->sessmeta.len);
	struct blk_hdr h = pb->h;
	h.key_base = key_from;
	h.meta_len = (uint32_t)s->meta.len;
	h.meta_crc = vg_crc32c(0, s->meta.buf, s->meta.len);
	h.epoch = epoch;
	blk_hdr_seal(&h);
	sb_put(out, &h, sizeof(h));
	sb_put(out, s->meta.buf, s->meta.len);
	sb_put(out, pb->comp, h.comp_len);
	return (uint32_t)(sizeof(h) + s->meta.len + h.comp_len);
}

/* ---- writing ------------------------------------------------------ */

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* A write failed: pause writing, retry later. One line per episode. */
static void write_failed(struct store *s, const char *what, int err)
{
	ST_ADD(s, write_errors, 1);
	bool full = err == ENOSPC || err == EDQUOT;
	if (full)
		ST_SET(s, disk_full, true);
	s->paused = true;
	s->retry_mono = clock_ns(CLOCK_MONOTONIC) + RETRY_NS;
	if (!s->logged_pause) {
		s->logged_pause = true;
		if (full)
			fprintf(stderr, "vigild: store: disk full writing %s in %s (%s): new events are kept in memory "
					"up to %llu KiB, then dropped and counted, until space returns\n",
				what, s->dir, strerror(err), (unsigned long long)(s->mem_limit >> 10));
		else
			fprintf(stderr, "vigild: store: cannot write %s in %s (%s): retrying every %llu s\n", what, s->dir,
				strerror(err), (unsigned long long)(RETRY_NS / 1000000000ULL));
	}
}

static void write_resumed(struct store *s)
{
	if (s->logged_pause)
		fprintf(stderr, "vigild: store: writing to %s resumed (%llu events were dropped meanwhile)\n", s->dir,
			(unsigned long long)s->dropped_in_pause);
	s->paused = false;
	s->logged_pause = false;
	s->dropped_in_pause = 0;
	ST_SET(s, disk_full, false);
}

static int wal_reset(struct store *s)
{
	struct wal_hdr h = {.magic = WAL_MAGIC, .version = STORE_VERSION, .hdr_len = sizeof(h),
			    .seg_seq = s->seg_seq, .seg_uuid = s->seg_uuid, .seg_size = s->seg_size,
			    .seg_keys = s->seg_keys, .epoch = s->wal_epoch + 1};
	h.crc = vg_crc32c(0, &h, offsetof(struct wal_hdr, crc));
	if (pwrite_all(s->walfd, &h, sizeof(h), 0) || fdatasync(s->walfd)) {
		write_failed(s, WAL_NAME, errno);
		return -1;
	}
	s->wal_epoch = h.epoch;
	s->wal_size = sizeof(h);
	s->wal_keys = s->seg_keys;
	/* stale blocks after the header are ignored (other epoch) */
	if (ftruncate(s->walfd, sizeof(h)))
		(void)0;
	return 0;
}

static void wal_ready_free(struct store *s)
{
	while (s->wal_ready) {
		struct pblock *n = s->wal_ready->next;
		pb_free(s->wal_ready);
		s->wal_ready = n;
	}
	s->wal_tail = &s->wal_ready;
}

/* Compresses what is staged into a WAL block waiting for the flush. On
 * out of memory the staging stays as it is. */
static int wal_cut(struct store *s)
{
	if (!s->staging.n)
		return 0;
	struct pblock *pb = bb_cut(s, &s->staging, true);
	if (!pb)
		return -1;
	*s->wal_tail = pb;
	s->wal_tail = &pb->next;
	return 0;
}

static void staging_reset(struct store *s)
{
	wal_ready_free(s);
	bb_reset(&s->staging);
	s->staged_bytes = 0;
	s->staging_full = false;
}

static int block_order(const void *a, const void *b)
{
	const struct pblock *x = *(struct pblock *const *)a, *y = *(struct pblock *const *)b;
	return x->h.first_ts < y->h.first_ts ? -1 : x->h.first_ts > y->h.first_ts;
}

/* Writes every pending event into the open segment as blocks, fsyncs it
 * and empties the WAL. On failure nothing is lost from memory. */
static int checkpoint(struct store *s)
{
	if (s->segfd < 0)
		return -1;
	for (int i = 0; i < NLANES; i++) {
		if (!s->lanes[i].n)
			continue;
		struct pblock *pb = bb_cut(s, &s->lanes[i], false);
		if (!pb)
			return -1;
		pb->next = s->ready;
		s->ready = pb;
	}
	size_t nb = 0;
	for (struct pblock *p = s->ready; p; p = p->next)
		nb++;
	if (nb) {
		struct pblock **arr = malloc(nb * sizeof(*arr));
		uint32_t *lens = malloc(nb * sizeof(*lens));
		if (!arr || !lens) {
			free(arr);
			free(lens);
			return -1;
		}
		size_t i = 0;
		for (struct pblock *p = s->ready; p; p = p->next)
			arr[i++] = p;
		qsort(arr, nb, sizeof(*arr), block_order);
		sb_reset(&s->wbuf);
		for (i = 0; i < nb; i++)
			lens[i] = put_block(s, arr[i], i == 0 ? s->seg_keys : s->keys.n, 0, &s->wbuf);
		if (s->wbuf.oom) {
			free(arr);
			free(lens);
			return -1;
		}
		if (pwrite_all(s->segfd, s->wbuf.buf, s->wbuf.len, s->seg_size) || fdatasync(s->segfd)) {
			int e = errno;
			/* whatever made it is cut off: the WAL still covers it */
			if (ftruncate(s->segfd, (off_t)s->seg_size))
				(void)0;
			write_failed(s, s->seg_name, e);
			free(arr);
			free(lens);
			return -1;
		}
		uint64_t off = s->seg_size;
		for (i = 0; i < nb; i++) {
			struct idx_blk ib = {.off = off, .len = lens[i], .nevents = arr[i]->h.nevents,
					     .first_ts = arr[i]->h.first_ts, .last_ts = arr[i]->h.last_ts};
			if (mi_add_block(&s->mi, &ib, arr[i]->keys, arr[i]->nkeys))
				fprintf(stderr, "vigild: store: out of memory indexing %s\n", s->seg_name);
			off += lens[i];
			pb_free(arr[i]);
		}
		s->ready = NULL;
		s->seg_size = off;
		s->seg_keys = s->keys.n;
		ST_ADD(s, blocks_written, nb);
		ST_ADD(s, bytes_written, s->wbuf.len);
		free(arr);
		free(lens);
	}
	ST_ADD(s, events_written, s->undurable);
	s->undurable = 0;
	s->pending_raw = s->pending_events = 0;
	staging_reset(s);
	if (s->replaying)
		return 0;
	return wal_reset(s);
}

/* Appends the events that arrived since the last flush to the WAL. On
 * failure they are still in the lanes: the next checkpoint writes them. */
static int wal_append(struct store *s)
{
	if (wal_cut(s))
		return -1;
	if (!s->wal_ready)
		return 0;
	uint64_t n = 0;
	sb_reset(&s->wbuf);
	/* the first block carries the keys new since the last flush */
	for (struct pblock *pb = s->wal_ready; pb; pb = pb->next) {
		put_block(s, pb, pb == s->wal_ready ? s->wal_keys : s->keys.n, s->wal_epoch, &s->wbuf);
		n += pb->h.nevents;
	}
	staging_reset(s);
	if (s->wbuf.oom)
		return -1;
	if (pwrite_all(s->walfd, s->wbuf.buf, s->wbuf.len, s->wal_size) || fdatasync(s->walfd)) {
		int e = errno;
		if (ftruncate(s->walfd, (off_t)s->wal_size))
			(void)0;
		write_failed(s, WAL_NAME, e);
		return -1;
	}
	s->wal_size += s->wbuf.len;
	s->wal_keys = s->keys.n;
	ST_ADD(s, events_written, n);
	s->undurable -= n;
	return 0;
}

/* ---- segments ------------------------------------------------------- */

static uint64_t random64(void)
{
	uint64_t v;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = clock_ns(CLOCK_REALTIME) ^ ((uint64_t)getpid() << 32) ^ clock_ns(CLOCK_MONOTONIC);
	return v ? v : 1;
}

static void idx_name_of(const char *seg, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s.idx", (int)(strlen(seg) - 4), seg);
}

static int seg_create(struct store *s, uint64_t seq)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	char name[64];
	snprintf(name, sizeof(name), SEG_NAME_FMT, (unsigned long long)now, (unsigned long long)seq);
	int fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		write_failed(s, name, errno);
		return -1;
	}
	struct seg_hdr h = {.magic = SEG_MAGIC, .version = STORE_VERSION, .hdr_len = sizeof(h),
			    .uuid = random64(), .seq = seq, .first_ts = now, .created_ns = now};
	h.crc = vg_crc32c(0, &h, offsetof(struct seg_hdr, crc));
	if (pwrite_all(fd, &h, sizeof(h), 0) || fdatasync(fd) || fsync(s->dirfd)) {
		int e = errno;
		close(fd);
		unlinkat(s->dirfd, name, 0);
		write_failed(s, name, e);
		return -1;
	}
	if (s->segfd >= 0)
		close(s->segfd);
	s->segfd = fd;
	snprintf(s->seg_name, sizeof(s->seg_name), "%s", name);
	s->seg_seq = seq;
	s->seg_uuid = h.uuid;
	s->seg_size = sizeof(h);
	s->seg_keys = 0;
	s->seg_created_mono = clock_ns(CLOCK_MONOTONIC);
	mi_reset(&s->mi);
	ST_ADD(s, segments, 1);
	return 0;
}

/* Seals the open segment (its index) and starts the next one. */
static int roll(struct store *s)
{
	if (checkpoint(s))
		return -1;
	char idx[80];
	idx_name_of(s->seg_name, idx, sizeof(idx));
	if (mi_write(&s->mi, &s->keys, s->dirfd, idx, s->seg_uuid, s->seg_size, s->seg_seq))
		/* unsealed segments are scanned by readers and sealed on the next start */
		fprintf(stderr, "vigild: store: cannot write %s/%s: %s\n", s->dir, idx, strerror(errno));
	if (s->keys.n > MAX_SEEDED_KEYS)
		vgc_keys_reset(&s->keys);
	if (seg_create(s, s->seg_seq + 1))
		return -1; /* keep writing into the old segment */
	return wal_reset(s);
}

/* ---- directory listing and retention ---------------------------------- */

static uint64_t file_size_at(int dirfd, const char *name, uint64_t *mtime_ns)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, 0))
		return 0;
	if (mtime_ns)
		*mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
	return (uint64_t)st.st_size;
}

/* Last event time of a sealed segment (from its index), else its mtime. */
static uint64_t seg_last_ts(int dirfd, const char *idx, uint64_t mtime)
{
	struct idx_hdr h;
	int fd = openat(dirfd, idx, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mtime;
	ssize_t r = pread(fd, &h, sizeof(h), 0);
	close(fd);
	if (r != sizeof(h) || h.magic != IDX_MAGIC || h.crc != vg_crc32c(0, &h, offsetof(struct idx_hdr, crc)) ||
	    !h.nevents)
		return mtime;
	return h.last_ts;
}

static void retention(struct store *s)
{
	size_t n;
	struct seg_ent *v = seg_list(s->dirfd, &n);
	uint64_t total = 0, now = clock_ns(CLOCK_REALTIME);
	uint64_t *sz = calloc(n ? n : 1, sizeof(*sz)), *mt = calloc(n ? n : 1, sizeof(*mt));
	if (!sz || !mt)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char idx[80];
		idx_name_of(v[i].name, idx, sizeof(idx));
		sz[i] = file_size_at(s->dirfd, v[i].name, &mt[i]) + file_size_at(s->dirfd, idx, NULL);
		total += sz[i];
	}
	size_t removed = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].seq == s->seg_seq && s->segfd >= 0)
			break; /* never the open segment (nor anything newer) */
		char idx[80];
		idx_name_of(v[i].name, idx, sizeof(idx));
		bool over = s->o.retention_bytes && total > s->o.retention_bytes;
		bool old = s->o.retention_age_s &&
			   seg_last_ts(s->dirfd, idx, mt[i]) + (uint64_t)s->o.retention_age_s * 1000000000ULL < now;
		if (!over && !old)
			break;
		/* the segment first: an index without its segment is ignored */
		if (unlinkat(s->dirfd, v[i].name, 0) && errno != ENOENT)
			break;
		unlinkat(s->dirfd, idx, 0);
		total -= sz[i];
		removed++;
	}
	ST_SET(s, segments, n - removed);
out:
	free(sz);
	free(mt);
	free(v);
}

/* ---- dictionary ----------------------------------------------------- */

static int dict_use(struct store *s, const void *dict, size_t len)
{
	ZSTD_CDict *b = ZSTD_createCDict(dict, len, 3), *w = ZSTD_createCDict(dict, len, 1);
	if (!b || !w) {
		ZSTD_freeCDict(b);
		ZSTD_freeCDict(w);
		return -1;
	}
	ZSTD_freeCDict(s->cd_block);
	ZSTD_freeCDict(s->cd_wal);
	s->cd_block = b;
	s->cd_wal = w;
	s->dict_id = ZSTD_getDictID_fromDict(dict, len);
	s->dict_done = true;
	return 0;
}

static int dict_save(struct store *s)
{
	uint32_t id = ZSTD_getDictID_fromDict(s->dict_unsaved, s->dict_unsaved_len);
	char name[64], tmp[72];
	snprintf(name, sizeof(name), "dict-%u.zdict", id);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	int fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite_all(fd, s->dict_unsaved, s->dict_unsaved_len, 0) || fdatasync(fd) ||
	    renameat(s->dirfd, tmp, s->dirfd, name) || fsync(s->dirfd)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlinkat(s->dirfd, tmp, 0);
		write_failed(s, name, e);
		return -1;
	}
	close(fd);
	/* blocks may name the dictionary only once it is on disk */
	if (dict_use(s, s->dict_unsaved, s->dict_unsaved_len) == 0) {
		free(s->dict_unsaved);
		s->dict_unsaved = NULL;
	}
	return 0;
}

static void dict_train(struct store *s)
{
	void *dict = malloc(DICT_SIZE);
	size_t n = dict ? ZDICT_trainFromBuffer(dict, DICT_SIZE, s->samples.buf, s->sample_sizes, s->nsamples)
			: 0;
	sb_free(&s->samples);
	free(s->sample_sizes);
	s->sample_sizes = NULL;
	s->nsamples = s->samples_cap = 0;
	if (!dict || ZDICT_isError(n)) {
		/* too little variety to train on: no dictionary, plain zstd */
		free(dict);
		s->dict_done = true;
		return;
	}
	s->dict_unsaved = dict;
	s->dict_unsaved_len = n;
	s->dict_done = true;
	if (!s->paused)
		dict_save(s);
}

static void dict_sample(struct store *s, const void *body, size_t len)
{
	if (s->nsamples == s->samples_cap) {
		uint32_t cap = s->samples_cap ? s->samples_cap * 2 : 1024;
		size_t *ns = realloc(s->sample_sizes, cap * sizeof(*ns));
		if (!ns)
			return;
		s->sample_sizes = ns;
		s->samples_cap = cap;
	}
	sb_put(&s->samples, body, len);
	s->sample_sizes[s->nsamples++] = len;
	if (s->samples.len >= DICT_SAMPLE_BYTES || s->samples.oom)
		dict_train(s);
}

static void dict_load_existing(struct store *s)
{
	int fd = dup(s->dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	struct dirent *de;
	char best[256] = "";
	uint64_t best_mt = 0;
	while ((de = readdir(d))) {
		unsigned id;
		int used = 0;
		if (sscanf(de->d_name, "dict-%u.zdict%n", &id, &used) != 1 || used != (int)strlen(de->d_name))
			continue;
		uint64_t mt = 0;
		file_size_at(s->dirfd, de->d_name, &mt);
		if (!best[0] || mt >= best_mt) {
			snprintf(best, sizeof(best), "%s", de->d_name);
			best_mt = mt;
		}
	}
	closedir(d);
	if (!best[0])
		return;
	int dfd = openat(s->dirfd, best, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (dfd < 0)
		return;
	if (fstat(dfd, &st) == 0 && st.st_size > 8 && st.st_size < (16 << 20)) {
		void *buf = malloc((size_t)st.st_size);
		if (buf && pread(dfd, buf, (size_t)st.st_size, 0) == st.st_size)
			dict_use(s, buf, (size_t)st.st_size);
		free(buf);
	}
	close(dfd);
}

/* ---- appending ------------------------------------------------------ */

static int append_encoded(struct store *s, const uint8_t *body, size_t blen, uint64_t ts, const struct vgc_ext *x)
{
	uint64_t keys[IK_MAX];
	int nk = ik_event(x, keys, &s->ikm);
	const char *host = x->host ? x->host : "";
	uint32_t hlen = x->host ? x->host_len : 0;
	uint32_t lane = 0;
	if (x->has_sid)
		lane = (uint32_t)(ik_hash_memo(&s->ikm, IK_SESSION, host, hlen, (uint64_t)x->sid) >> 40) % NLANES;
	struct bb *b = &s->lanes[lane];
	if (bb_add(b, ts, host, hlen, x->has_sid, x->sid, body, (uint32_t)blen, keys, nk))
		return -1;
	/* the next flush writes the WAL only while little is pending; beyond
	 * that it checkpoints, so the staging copy is not needed (nor made,
	 * nor compressed). Out of memory here only means the WAL misses it:
	 * the lane has it. */
	if (!s->replaying && !s->staging_full) {
		if (s->skip_staging || s->staged_bytes >= s->staging_max || s->pending_raw >= s->ckpt_bytes / 4) {
			staging_reset(s);
			s->staging_full = true;
		} else if (bb_add(&s->staging, ts, host, hlen, x->has_sid, x->sid, body, (uint32_t)blen, NULL, 0) == 0) {
			s->staged_bytes += blen;
			if (s->staging.body.len >= s->o.block_bytes)
				(void)wal_cut(s);
		}
	}
	if (!s->pending_events)
		s->oldest_mono = clock_ns(CLOCK_MONOTONIC);
	s->pending_events++;
	s->pending_raw += blen + 16;
	s->arrived_bytes += blen;
	s->undurable++;
	if (b->body.len >= s->o.block_bytes) {
		struct pblock *pb = bb_cut(s, b, false);
		if (pb) {
			pb->next = s->ready;
			s->ready = pb;
		}
	}
	if (!s->paused && !s->replaying && s->pending_raw >= s->ckpt_bytes)
		checkpoint(s);
	return 0;
}

int store_append(struct store *s, const char *json, size_t len, const struct vg_flat *fl, uint64_t ts_ns)
{
	(void)fl; /* the index keys are read while encoding */
	if (!s || !json)
		return -1;
	if (s->pending_raw >= s->mem_limit) {
		/* writing is paused (disk full) and memory is spent: drop */
		ST_ADD(s, dropped_disk_full, 1);
		s->dropped_in_pause++;
		return 1;
	}
	sb_reset(&s->enc);
	struct vgc_ext x;
	if (vgc_encode(&s->keys, json, len, ts_ns, &s->enc, &x) < 0)
		return -1;
	if (!s->dict_done && !s->replaying)
		dict_sample(s, s->enc.buf, s->enc.len);
	return append_encoded(s, (const uint8_t *)s->enc.buf, s->enc.len, ts_ns, &x) ? -1 : 0;
}

int store_flush(struct store *s)
{
	if (!s)
		return -1;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	if (s->paused) {
		if (now < s->retry_mono)
			return -1;
		if (s->dict_unsaved && dict_save(s))
			return -1;
		s->paused = false; /* try */
		if (checkpoint(s))
			return -1;
		write_resumed(s);
	}
	if (s->dict_unsaved && dict_save(s))
		return -1;
	int rc = 0;
	/* an interval that filled the staging will likely be followed by
	 * another: its flush checkpoints, and a WAL copy would be compressed
	 * for nothing (a few % of the store's CPU at high rates) */
	s->skip_staging = s->arrived_bytes >= s->staging_max;
	s->arrived_bytes = 0;
	if (s->pending_events) {
		if (s->staging_full || s->pending_raw >= s->ckpt_bytes / 4 || now - s->oldest_mono >= CKPT_AGE_NS)
			rc = checkpoint(s);
		else
			rc = wal_append(s);
	}
	if (!rc && s->mi.nblocks &&
	    (s->seg_size >= s->o.segment_max_bytes ||
	     (s->o.segment_max_age_s && now - s->seg_created_mono >= s->o.segment_max_age_s * 1000000000ULL))) {
		rc = roll(s);
		s->last_retention_mono = 0;
	}
	if (now - s->last_retention_mono >= RETENTION_NS || !s->last_retention_mono) {
		retention(s);
		s->last_retention_mono = now ? now : 1;
	}
	return rc;
}

void store_stats(const struct store *s, struct store_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!s)
		return;
	st->events_written = __atomic_load_n(&s->st.events_written, __ATOMIC_RELAXED);
	st->blocks_written = __atomic_load_n(&s->st.blocks_written, __ATOMIC_RELAXED);
	st->bytes_written = __atomic_load_n(&s->st.bytes_written, __ATOMIC_RELAXED);
	st->segments = __atomic_load_n(&s->st.segments, __ATOMIC_RELAXED);
	st->dropped_disk_full = __atomic_load_n(&s->st.dropped_disk_full, __ATOMIC_RELAXED);
	st->write_errors = __atomic_load_n(&s->st.write_errors, __ATOMIC_RELAXED);
	st->disk_full = __atomic_load_n(&s->st.disk_full, __ATOMIC_RELAXED);
}

/* ---- opening and recovery ------------------------------------------- */

static int mkdir_p(const char *dir)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -1;
	return 0;
}

static void pad_keys(struct vgc_keys *k, uint32_t n)
{
	while (k->n < n) {
		char name[48];
		int l = snprintf(name, sizeof(name), "\x01lost-key-%u", k->n);
		if (vgc_key_add(k, name, (size_t)l) < 0)
			break;
	}
}

/* Scans a segment's blocks up to limit: rebuilds its key table and index.
 * A bad block followed by good ones is reported and skipped; a bad tail
 * ends the scan. Returns the end of the last good block. */
static uint64_t scan_segment(struct store *s, int fd, const char *name, uint64_t limit, struct vgc_keys *keys,
			     struct mem_index *mi)
{
	uint64_t off = sizeof(struct seg_hdr);
	uint32_t bn = 0;
	uint64_t *kv = NULL;
	size_t kn = 0, kcap = 0;
	vgc_keys_reset(keys);
	mi_reset(mi);
	while (off + sizeof(struct blk_hdr) <= limit) {
		struct blk_hdr h;
		const char *why = NULL;
		if (pread(fd, &h, sizeof(h), (off_t)off) != sizeof(h))
			why = "truncated block header";
		else if (!(why = blk_hdr_check(&h)) && off + sizeof(h) + h.meta_len + h.comp_len > limit)
			why = "truncated block";
		if (!why) {
			if (h.key_base > keys->n)
				pad_keys(keys, h.key_base);
			why = bd_read(&s->bd, fd, off, 0, s->dc, s->dctx, keys);
		}
		if (why) {
			uint64_t next = blk_resync(fd, off, limit);
			if (!next)
				break; /* the tail: cut here */
			fprintf(stderr, "vigild: store: %s/%s: block %u: %s (skipped)\n", s->dir, name, bn, why);
			off = next;
			bn++;
			continue;
		}
		kn = 0;
		for (uint32_t i = 0; i < s->bd.nrecs; i++) {
			struct vgc_ext x;
			if (vgc_ext_binary(keys, s->bd.recs[i].body, s->bd.recs[i].len, &x))
				continue;
			if (kn + IK_MAX > kcap) {
				size_t cap = kcap ? kcap * 2 : 1024;
				uint64_t *nk = realloc(kv, cap * sizeof(*nk));
				if (!nk)
					break;
				kv = nk;
				kcap = cap;
			}
			kn += (size_t)ik_event(&x, kv + kn, NULL);
		}
		if (kn) {
			qsort(kv, kn, sizeof(*kv), u64_cmp);
			size_t u = 0;
			for (size_t i = 0; i < kn; i++)
				if (!u || kv[i] != kv[u - 1])
					kv[u++] = kv[i];
			kn = u;
		}
		uint32_t len = (uint32_t)(sizeof(h) + s->bd.h.meta_len + s->bd.h.comp_len);
		struct idx_blk ib = {.off = off, .len = len, .nevents = s->bd.h.nevents,
				     .first_ts = s->bd.h.first_ts, .last_ts = s->bd.h.last_ts};
		mi_add_block(mi, &ib, kv, kn);
		off += len;
		bn++;
	}
	free(kv);
	return off;
}

static int read_seg_hdr(int fd, struct seg_hdr *h)
{
	if (pread(fd, h, sizeof(*h), 0) != sizeof(*h) || h->magic != SEG_MAGIC ||
	    h->crc != vg_crc32c(0, h, offsetof(struct seg_hdr, crc)) || h->version != STORE_VERSION)
		return -1;
	return 0;
}

static bool is_sealed(struct store *s, const char *name, const struct seg_hdr *h, uint64_t size,
		      struct vgc_keys *keys_out)
{
	char idx[80];
	idx_name_of(name, idx, sizeof(idx));
	struct idx_reader r;
	const char *why = ir_open(&r, s->dirfd, idx, h->uuid, size);
	if (!why && keys_out)
		vgc_keys_copy(keys_out, &r.keys);
	ir_close(&r);
	return !why;
}

/* An older segment left unsealed (a crash while rolling): index it now. */
static void seal_file(struct store *s, const char *name)
{
	int fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
	struct seg_hdr h;
	struct stat st;
	if (fd < 0)
		return;
	if (read_seg_hdr(fd, &h) || fstat(fd, &st) || is_sealed(s, name, &h, (uint64_t)st.st_size, NULL)) {
		close(fd);
		return;
	}
	struct vgc_keys keys;
	struct mem_index mi;
	vgc_keys_init(&keys);
	if (mi_init(&mi) == 0) {
		uint64_t end = scan_segment(s, fd, name, (uint64_t)st.st_size, &keys, &mi);
		if (end < (uint64_t)st.st_size) {
			fprintf(stderr, "vigild: store: %s/%s: cutting a torn tail at %llu (of %llu bytes)\n", s->dir,
				name, (unsigned long long)end, (unsigned long long)st.st_size);
			if (ftruncate(fd, (off_t)end) == 0)
				fdatasync(fd);
		}
		char idx[80];
		idx_name_of(name, idx, sizeof(idx));
		if (mi_write(&mi, &keys, s->dirfd, idx, h.uuid, end, h.seq))
			fprintf(stderr, "vigild: store: cannot write %s/%s: %s\n", s->dir, idx, strerror(errno));
		mi_free(&mi);
	}
	vgc_keys_free(&keys);
	close(fd);
}

/* Re-appends the events of the WAL (those of its current epoch), decoded
 * with the key table they were written with. Returns how many. */
static uint64_t wal_replay(struct store *s, const struct wal_hdr *wh, const struct vgc_keys *seg_keys,
			   uint64_t *end)
{
	struct vgc_keys k;
	vgc_keys_init(&k);
	uint64_t n = 0, off = sizeof(*wh);
	for (uint32_t i = 0; i < wh->seg_keys && i < seg_keys->n; i++)
		vgc_key_add(&k, seg_keys->v[i].s, seg_keys->v[i].len);
	pad_keys(&k, wh->seg_keys);
	s->replaying = true;
	for (;;) {
		struct blk_hdr h;
		if (pread(s->walfd, &h, sizeof(h), (off_t)off) != sizeof(h) || blk_hdr_check(&h) ||
		    h.epoch != wh->epoch)
			break;
		if (bd_read(&s->bd, s->walfd, off, 0, s->dc, s->dctx, &k))
			break;
		for (uint32_t i = 0; i < s->bd.nrecs; i++) {
			const struct blk_rec *r = &s->bd.recs[i];
			sb_reset(&s->json);
			if (vgc_decode(&k, r->body, r->len, r->ts, &s->json))
				continue;
			sb_reset(&s->enc);
			struct vgc_ext x;
			if (vgc_encode(&s->keys, s->json.buf, s->json.len, r->ts, &s->enc, &x) < 0 ||
			    append_encoded(s, (const uint8_t *)s->enc.buf, s->enc.len, r->ts, &x))
				continue;
			n++;
		}
		off += sizeof(h) + h.meta_len + h.comp_len;
	}
	s->replaying = false;
	vgc_keys_free(&k);
	*end = off;
	return n;
}

static void set_defaults(struct store_opts *o, const struct store_opts *in)
{
	memset(o, 0, sizeof(*o));
	if (in)
		*o = *in;
	if (!o->dir || !*o->dir)
		o->dir = "/var/lib/vigil";
	if (!o->segment_max_bytes)
		o->segment_max_bytes = 64ULL << 20;
	if (!o->segment_max_age_s)
		o->segment_max_age_s = 3600;
	if (!o->flush_interval_ms)
		o->flush_interval_ms = 1000;
	if (!o->retention_bytes)
		o->retention_bytes = 1ULL << 30;
	if (!o->block_bytes)
		o->block_bytes = 256u << 10;
	if (o->block_bytes < 4096)
		o->block_bytes = 4096;
	if (o->block_bytes > (16u << 20))
		o->block_bytes = 16u << 20;
}

int store_open(struct store **out, const struct store_opts *opts, char *err, size_t errlen)
{
	*out = NULL;
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	set_defaults(&s->o, opts);
	/* small segments checkpoint more often (raw bytes compress ~10x) */
	s->ckpt_bytes = s->o.segment_max_bytes / 2 < CKPT_BYTES ? s->o.segment_max_bytes / 2 : CKPT_BYTES;
	if (s->ckpt_bytes < s->o.block_bytes)
		s->ckpt_bytes = s->o.block_bytes;
	s->mem_limit = 2 * s->ckpt_bytes;
	s->staging_max = s->ckpt_bytes / 4 < (4u << 20) ? s->ckpt_bytes / 4 : (4u << 20);
	s->dir = strdup(s->o.dir);
	s->o.dir = s->dir;
	s->dirfd = s->lockfd = s->segfd = s->walfd = -1;
	s->wal_tail = &s->wal_ready;
	vgc_keys_init(&s->keys);
	s->cctx = ZSTD_createCCtx();
	s->dctx = ZSTD_createDCtx();
	if (!s->dir || !s->cctx || !s->dctx || mi_init(&s->mi)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (mkdir_p(s->dir)) {
		snprintf(err, errlen, "cannot create %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", s->dir, strerror(errno));
		goto fail;
	}
	s->lockfd = openat(s->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0 || flock(s->lockfd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "%s is in use by another writer (lock %s/.lock held)", s->dir, s->dir);
		goto fail;
	}
	s->dc = dc_new(s->dirfd);
	if (!s->dc) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	dict_load_existing(s);

	/* the WAL says how far the last checkpoint got */
	struct wal_hdr wh;
	bool wal_ok = false;
	s->walfd = openat(s->dirfd, WAL_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->walfd < 0) {
		snprintf(err, errlen, "cannot open %s/%s: %s", s->dir, WAL_NAME, strerror(errno));
		goto fail;
	}
	if (pread(s->walfd, &wh, sizeof(wh), 0) == sizeof(wh) && wh.magic == WAL_MAGIC &&
	    wh.crc == vg_crc32c(0, &wh, offsetof(struct wal_hdr, crc)) && wh.version == STORE_VERSION)
		wal_ok = true;
	s->wal_epoch = wal_ok ? wh.epoch : (uint32_t)random64();

	size_t n;
	struct seg_ent *v = seg_list(s->dirfd, &n);
	for (size_t i = 0; i + 1 < n; i++)
		seal_file(s, v[i].name);
	uint64_t next_seq = n ? v[n - 1].seq + 1 : 1;
	struct vgc_keys wal_keys; /* the key table the WAL was written against */
	vgc_keys_init(&wal_keys);
	bool wal_keys_ok = false;
	if (n) {
		const char *name = v[n - 1].name;
		int fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
		struct seg_hdr h;
		struct stat st;
		if (fd >= 0 && read_seg_hdr(fd, &h) == 0 && fstat(fd, &st) == 0) {
			uint64_t size = (uint64_t)st.st_size;
			bool wal_here = wal_ok && wh.seg_seq == h.seq && wh.seg_uuid == h.uuid;
			if (is_sealed(s, name, &h, size, &s->keys)) {
				/* closed cleanly: a new segment follows, same key ids */
				if (wal_here)
					vgc_keys_copy(&wal_keys, &s->keys), wal_keys_ok = true;
				close(fd);
			} else {
				uint64_t limit = size;
				if (wal_here && wh.seg_size < size)
					limit = wh.seg_size; /* beyond: a checkpoint that did not finish */
				uint64_t end = scan_segment(s, fd, name, limit, &s->keys, &s->mi);
				if (end < size) {
					if (end < limit)
						fprintf(stderr, "vigild: store: %s/%s: cut after the last good block at %llu "
								"(file had %llu bytes)\n",
							s->dir, name, (unsigned long long)end, (unsigned long long)size);
					if (ftruncate(fd, (off_t)end) || fdatasync(fd)) {
						snprintf(err, errlen, "cannot truncate %s/%s: %s", s->dir, name,
							 strerror(errno));
						close(fd);
						free(v);
						vgc_keys_free(&wal_keys);
						goto fail;
					}
				}
				s->segfd = fd;
				snprintf(s->seg_name, sizeof(s->seg_name), "%s", name);
				s->seg_seq = h.seq;
				s->seg_uuid = h.uuid;
				s->seg_size = end;
				s->seg_keys = s->keys.n;
				s->seg_created_mono = clock_ns(CLOCK_MONOTONIC); /* its age counts from now */
				if (wal_here)
					vgc_keys_copy(&wal_keys, &s->keys), wal_keys_ok = true;
			}
		} else {
			/* a segment whose header never made it to disk */
			if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size < (off_t)sizeof(struct seg_hdr))
				unlinkat(s->dirfd, name, 0);
			else
				fprintf(stderr, "vigild: store: %s/%s: bad segment header, left as it is\n", s->dir,
					name);
			if (fd >= 0)
				close(fd);
		}
	}
	free(v);
	if (s->keys.n > MAX_SEEDED_KEYS && s->segfd < 0)
		vgc_keys_reset(&s->keys);
	if (s->segfd < 0 && seg_create(s, next_seq)) {
		snprintf(err, errlen, "cannot create a segment in %s: %s", s->dir, strerror(errno));
		vgc_keys_free(&wal_keys);
		goto fail;
	}
	if (wal_ok && wal_keys_ok) {
		uint64_t end;
		uint64_t got = wal_replay(s, &wh, &wal_keys, &end);
		if (got)
			fprintf(stderr, "vigild: store: recovered %llu events from %s/%s\n", (unsigned long long)got,
				s->dir, WAL_NAME);
	} else if (wal_ok) {
		/* checkpoints empty the WAL before a segment is sealed, so a WAL
		 * naming another segment has nothing of its current epoch */
		struct blk_hdr bh;
		if (pread(s->walfd, &bh, sizeof(bh), sizeof(wh)) == sizeof(bh) && !blk_hdr_check(&bh) &&
		    bh.epoch == wh.epoch)
			fprintf(stderr, "vigild: store: %s/%s belongs to segment %llu, which is gone or not the "
					"last: its events are not replayed\n",
				s->dir, WAL_NAME, (unsigned long long)wh.seg_seq);
	}
	vgc_keys_free(&wal_keys);
	s->paused = false;
	/* whatever was replayed goes into the segment; then the WAL is reset.
	 * A full disk is not fatal: writing is paused and retried. */
	if (checkpoint(s) && !s->paused) {
		snprintf(err, errlen, "cannot write to %s: out of memory", s->dir);
		goto fail;
	}
	s->opened = true;
	retention(s);
	s->last_retention_mono = clock_ns(CLOCK_MONOTONIC);
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->opened) {
		s->paused = false;
		if (s->dict_unsaved)
			dict_save(s);
		if (checkpoint(s) == 0 && !s->mi.nblocks) {
			/* an empty segment is not kept */
			close(s->segfd);
			s->segfd = -1;
			unlinkat(s->dirfd, s->seg_name, 0);
			unlinkat(s->dirfd, WAL_NAME, 0);
			fsync(s->dirfd);
		} else if (s->undurable == 0) {
			char idx[80];
			idx_name_of(s->seg_name, idx, sizeof(idx));
			if (mi_write(&s->mi, &s->keys, s->dirfd, idx, s->seg_uuid, s->seg_size, s->seg_seq) == 0) {
				/* sealed: nothing is pending, the WAL is not needed */
				unlinkat(s->dirfd, WAL_NAME, 0);
				fsync(s->dirfd);
			} else {
				fprintf(stderr, "vigild: store: cannot write %s/%s: %s\n", s->dir, idx, strerror(errno));
			}
		} else {
			fprintf(stderr, "vigild: store: %llu events could not be written at close\n",
				(unsigned long long)s->undurable);
		}
	}
	for (int i = 0; i < NLANES; i++)
		bb_free(&s->lanes[i]);
	bb_free(&s->staging);
	wal_ready_free(s);
	while (s->ready) {
		struct pblock *n = s->ready->next;
		pb_free(s->ready);
		s->ready = n;
	}
	if (s->segfd >= 0)
		close(s->segfd);
	if (s->walfd >= 0)
		close(s->walfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	ZSTD_freeCCtx(s->cctx);
	ZSTD_freeDCtx(s->dctx);
	ZSTD_freeCDict(s->cd_block);
	ZSTD_freeCDict(s->cd_wal);
	dc_free(s->dc);
	free(s->dict_unsaved);
	sb_free(&s->samples);
	free(s->sample_sizes);
	sb_free(&s->enc);
	sb_free(&s->raw);
	sb_free(&s->wbuf);
	sb_free(&s->meta);
	sb_free(&s->json);
	bd_free(&s->bd);
	mi_free(&s->mi);
	vgc_keys_free(&s->keys);
	free(s->dir);
	free(s);
}
