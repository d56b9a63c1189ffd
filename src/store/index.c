/* Segment indexes: index keys, the in-memory index of the open segment,
 * writing it as seg-....idx when the segment is sealed, and reading it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store_int.h"

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint64_t ik_fnv(int kind, const void *a, size_t alen)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
	const uint8_t *p = a;
	for (size_t i = 0; i < alen; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static inline uint64_t ik_mix(uint64_t h, int kind, uint64_t b)
{
	h = mix64(h ^ mix64(b + (uint64_t)kind));
	return h ? h : 1;
}

uint64_t ik_hash(int kind, const void *a, size_t alen, uint64_t b)
{
	return ik_mix(ik_fnv(kind, a, alen), kind, b);
}

/* ik_fnv of a recent string from the memo: events repeat their host, the
 * sha256 of their executable and their addresses, and comparing 64 bytes
 * costs less than hashing them a byte at a time. */
static uint64_t ik_fnv_memo(struct ik_memo *m, int kind, const void *a, size_t n)
{
	if (!m || n > IK_MEMO_LEN)
		return ik_fnv(kind, a, n);
	uint64_t w0 = 0, w1 = 0;
	if (n >= 8) {
		memcpy(&w0, a, 8);
		memcpy(&w1, (const char *)a + n - 8, 8);
	} else {
		for (size_t i = 0; i < n; i++)
			w0 = w0 << 8 | ((const uint8_t *)a)[i];
	}
	uint64_t x = (w0 ^ w1 * 0x9e3779b97f4a7c15ULL) + n * 131 + (uint64_t)kind;
	struct ik_memo_ent *e = &m->e[(x * 0xbf58476d1ce4e5b9ULL) >> (64 - IK_MEMO_BITS)];
	if (e->kind == kind && e->len == n && memcmp(e->s, a, n) == 0)
		return e->fnv;
	e->fnv = ik_fnv(kind, a, n);
	e->kind = (uint8_t)kind;
	e->len = (uint8_t)n;
	memcpy(e->s, a, n);
	return e->fnv;
}

uint64_t ik_hash_memo(struct ik_memo *m, int kind, const void *a, size_t alen, uint64_t b)
{
	return ik_mix(ik_fnv_memo(m, kind, a, alen), kind, b);
}

int ik_event(const struct vgc_ext *x, uint64_t out[IK_MAX], struct ik_memo *m)
{
	int n = 0;
	if (x->has_sid) {
		if (x->host)
			out[n++] = ik_hash_memo(m, IK_SESSION, x->host, x->host_len, (uint64_t)x->sid);
		out[n++] = ik_hash(IK_SID, NULL, 0, (uint64_t)x->sid);
	}
	if (x->has_pid) {
		out[n++] = ik_hash(IK_PID, NULL, 0, (uint64_t)x->pid);
		if (x->has_start)
			out[n++] = ik_hash_memo(m, IK_PIDSTART, &x->start, sizeof(x->start), (uint64_t)x->pid);
	}
	if (x->sha && x->sha_len)
		out[n++] = ik_hash_memo(m, IK_SHA, x->sha, x->sha_len, 0);
	if (x->dip && x->dip_len)
		out[n++] = ik_hash_memo(m, IK_IP, x->dip, x->dip_len, 0);
	if (x->sip && x->sip_len &&
	    !(x->dip && x->dip_len == x->sip_len && memcmp(x->dip, x->sip, x->sip_len) == 0))
		out[n++] = ik_hash_memo(m, IK_IP, x->sip, x->sip_len, 0);
	return n;
}

/* ---- in-memory index -------------------------------------------------- */

int mi_init(struct mem_index *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->hcap = 4096;
	mi->hkeys = calloc(mi->hcap, sizeof(*mi->hkeys));
	mi->post = calloc(mi->hcap, sizeof(*mi->post));
	if (!mi->hkeys || !mi->post) {
		mi_free(mi);
		return -1;
	}
	return 0;
}

void mi_free(struct mem_index *mi)
{
	if (mi->post)
		for (uint32_t i = 0; i < mi->hcap; i++)
			free(mi->post[i].b);
	free(mi->post);
	free(mi->hkeys);
	free(mi->blocks);
	memset(mi, 0, sizeof(*mi));
}

void mi_reset(struct mem_index *mi)
{
	for (uint32_t i = 0; i < mi->hcap; i++) {
		free(mi->post[i].b);
		mi->post[i] = (struct posting){0};
		mi->hkeys[i] = 0;
	}
	mi->hcount = 0;
	mi->nblocks = 0;
	mi->first_ts = mi->last_ts = mi->nevents = 0;
}

static int mi_grow(struct mem_index *mi)
{
	uint32_t ncap = mi->hcap * 2;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	struct posting *np = calloc(ncap, sizeof(*np));
	if (!nk || !np) {
		free(nk);
		free(np);
		return -1;
	}
	for (uint32_t i = 0; i < mi->hcap; i++) {
		if (!mi->hkeys[i])
			continue;
		uint32_t j = (uint32_t)mix64(mi->hkeys[i]) & (ncap - 1);
		while (nk[j])
			j = (j + 1) & (ncap - 1);
		nk[j] = mi->hkeys[i];
		np[j] = mi->post[i];
	}
	free(mi->hkeys);
	free(mi->post);
	mi->hkeys = nk;
	mi->post = np;
	mi->hcap = ncap;
	return 0;
}

int mi_add_block(struct mem_index *mi, const struct idx_blk *b, const uint64_t *keys, size_t nkeys)
{
	if (mi->nblocks == mi->blocks_cap) {
		uint32_t cap = mi->blocks_cap ? mi->blocks_cap * 2 : 256;
		struct idx_blk *nb = realloc(mi->blocks, cap * sizeof(*nb));
		if (!nb)
			return -1;
		mi->blocks = nb;
		mi->blocks_cap = cap;
	}
	uint32_t bn = mi->nblocks;
	mi->blocks[mi->nblocks++] = *b;
	if (!mi->nevents || b->first_ts < mi->first_ts)
		mi->first_ts = b->first_ts;
	if (!mi->nevents || b->last_ts > mi->last_ts)
		mi->last_ts = b->last_ts;
	mi->nevents += b->nevents;
	for (size_t k = 0; k < nkeys; k++) {
		if ((mi->hcount + 1) * 4 > mi->hcap * 3 && mi_grow(mi))
			return -1;
		uint64_t key = keys[k];
		uint32_t m = mi->hcap - 1, j = (uint32_t)mix64(key) & m;
		while (mi->hkeys[j] && mi->hkeys[j] != key)
			j = (j + 1) & m;
		if (!mi->hkeys[j]) {
			mi->hkeys[j] = key;
			mi->hcount++;
		}
		struct posting *p = &mi->post[j];
		if (p->n && p->b[p->n - 1] == bn)
			continue;
		if (p->n == p->cap) {
			uint32_t cap = p->cap ? p->cap * 2 : 2;
			uint32_t *nb = realloc(p->b, cap * sizeof(*nb));
			if (!nb)
				return -1;
			p->b = nb;
			p->cap = cap;
		}
		p->b[p->n++] = bn;
	}
	return 0;
}

/* Blocks holding key (in-memory); NULL when none. */
const struct posting *mi_lookup(const struct mem_index *mi, uint64_t key)
{
	uint32_t m = mi->hcap - 1, j = (uint32_t)mix64(key) & m;
	while (mi->hkeys[j]) {
		if (mi->hkeys[j] == key)
			return &mi->post[j];
		j = (j + 1) & m;
	}
	return NULL;
}

struct sort_ent {
	uint64_t hash;
	const struct posting *p;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;
	return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int mi_write(const struct mem_index *mi, const struct vgc_keys *keys, int dirfd, const char *name,
	     uint64_t seg_uuid, uint64_t seg_size, uint64_t seg_seq)
{
	struct sort_ent *ents = malloc((mi->hcount ? mi->hcount : 1) * sizeof(*ents));
	if (!ents) {
		errno = ENOMEM;
		return -1;
	}
	uint32_t ne = 0;
	for (uint32_t i = 0; i < mi->hcap; i++)
		if (mi->hkeys[i])
			ents[ne++] = (struct sort_ent){mi->hkeys[i], &mi->post[i]};
	qsort(ents, ne, sizeof(*ents), ent_cmp);
	uint32_t bits = 4;
	/* ~32 entries (512 bytes) a bucket: a look-up reads one small run */
	while (bits < 20 && (ne >> bits) > 32)
		bits++;
	struct strbuf sb;
	sb_init(&sb);
	struct idx_hdr h = {.magic = IDX_MAGIC, .version = STORE_VERSION, .hdr_len = sizeof(h),
			    .seg_uuid = seg_uuid, .seg_size = seg_size, .seg_seq = seg_seq,
			    .first_ts = mi->first_ts, .last_ts = mi->last_ts, .nevents = mi->nevents,
			    .nblocks = mi->nblocks, .nentries = ne, .fence_bits = bits, .nkeys = keys->n};
	sb_put(&sb, &h, sizeof(h));
	h.off_keys = sb.len;
	vgc_keys_write(keys, 0, &sb);
	h.keys_len = (uint32_t)(sb.len - h.off_keys);
	while (sb.len % 8)
		sb_putc(&sb, 0);
	h.off_fence = sb.len;
	uint32_t e = 0;
	for (uint64_t j = 0; j <= (1ULL << bits); j++) {
		while (e < ne && (ents[e].hash >> (64 - bits)) < j)
			e++;
		uint32_t v = j == (1ULL << bits) ? ne : e;
		sb_put(&sb, &v, sizeof(v));
	}
	while (sb.len % 8)
		sb_putc(&sb, 0);
	h.off_blocks = sb.len;
	h.crc_head = vg_crc32c(0, sb.buf + h.off_keys, sb.len - h.off_keys);
	sb_put(&sb, mi->blocks, (size_t)mi->nblocks * sizeof(*mi->blocks));
	h.crc_blocks = vg_crc32c(0, sb.buf + h.off_blocks, sb.len - h.off_blocks);
	h.off_entries = sb.len;
	/* postings go after the entries: compute their offsets first */
	struct strbuf post;
	sb_init(&post);
	for (uint32_t i = 0; i < ne; i++) {
		struct idx_ent ie = {.hash = ents[i].hash, .post_off = (uint32_t)post.len, .count = ents[i].p->n};
		uint32_t prev = 0;
		for (uint32_t k = 0; k < ents[i].p->n; k++) {
			uint8_t v[10];
			uint32_t b = ents[i].p->b[k];
			sb_put(&post, v, vgc_put_varint(v, b - prev));
			prev = b;
		}
		sb_put(&sb, &ie, sizeof(ie));
	}
	h.off_postings = sb.len;
	sb_put(&sb, post.buf, post.len);
	sb_free(&post);
	free(ents);
	h.file_size = sb.len;
	if (sb.oom) {
		sb_free(&sb);
		errno = ENOMEM;
		return -1;
	}
	h.crc = vg_crc32c(0, &h, offsetof(struct idx_hdr, crc));
	memcpy(sb.buf, &h, sizeof(h));
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = -1, saved = 0;
	if (fd >= 0 && write_all(fd, sb.buf, sb.len) == 0 && fdatasync(fd) == 0 &&
	    renameat(dirfd, tmp, dirfd, name) == 0)
		rc = 0;
	else
		saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc) {
		unlinkat(dirfd, tmp, 0);
		errno = saved;
	} else {
		fsync(dirfd);
	}
	sb_free(&sb);
	return rc;
}

/* ---- reading an index ------------------------------------------------- */

static ssize_t pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -1 : (ssize_t)done;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

void ir_close(struct idx_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->tables);
	free(r->blocks);
	free(r->loaded);
	vgc_keys_free(&r->keys);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

const char *ir_open(struct idx_reader *r, int dirfd, const char *name, uint64_t seg_uuid, uint64_t seg_size)
{
	memset(r, 0, sizeof(*r));
	vgc_keys_init(&r->keys);
	r->seg_size = seg_size;
	r->fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return errno == ENOENT ? "no index" : "cannot open the index";
	/* header, keys and fence are contiguous: usually one read */
	char first[32768];
	ssize_t got = pread_all(r->fd, first, sizeof(first), 0);
	struct idx_hdr *h = &r->h;
	if (got < (ssize_t)sizeof(*h))
		return "index truncated";
	memcpy(h, first, sizeof(*h));
	if (h->magic != IDX_MAGIC || h->crc != vg_crc32c(0, h, offsetof(struct idx_hdr, crc)) ||
	    h->version != STORE_VERSION)
		return "index header corrupt";
	if (h->seg_uuid != seg_uuid || h->seg_size != seg_size)
		return "index does not match the segment";
	if (h->fence_bits > 24 || h->off_keys != sizeof(*h) || h->off_fence < h->off_keys + h->keys_len ||
	    h->off_blocks != h->off_fence + (((1ULL << h->fence_bits) + 1) * 4 + 7) / 8 * 8 ||
	    h->off_entries != h->off_blocks + (uint64_t)h->nblocks * sizeof(struct idx_blk) ||
	    h->off_postings != h->off_entries + (uint64_t)h->nentries * sizeof(struct idx_ent) ||
	    h->file_size < h->off_postings || h->off_entries > (256u << 20))
		return "index layout corrupt";
	size_t tl = (size_t)(h->off_blocks - h->off_keys);
	r->tables = malloc(tl ? tl : 1);
	r->blocks = malloc(h->nblocks ? h->nblocks * sizeof(*r->blocks) : 1);
	r->loaded = calloc(h->nblocks / IR_PAGE + 1, 1);
	if (!r->tables || !r->blocks || !r->loaded)
		return "out of memory";
	size_t have = (size_t)got > h->off_keys ? (size_t)got - h->off_keys : 0;
	if (have > tl)
		have = tl;
	memcpy(r->tables, first + h->off_keys, have);
	if (have < tl && pread_all(r->fd, r->tables + have, tl - have, h->off_keys + have) != (ssize_t)(tl - have))
		return "index truncated";
	if (vg_crc32c(0, r->tables, tl) != h->crc_head)
		return "index checksum mismatch";
	if (vgc_keys_read(&r->keys, 0, r->tables, h->keys_len) != (long)h->keys_len || r->keys.n != h->nkeys)
		return "index key table corrupt";
	r->fence = (const uint32_t *)(r->tables + (h->off_fence - h->off_keys));
	for (uint64_t j = 0; j <= (1ULL << h->fence_bits); j++)
		if (r->fence[j] > h->nentries || (j && r->fence[j] < r->fence[j - 1]))
			return "index fence corrupt";
	return NULL;
}

static bool blk_ok(const struct idx_reader *r, const struct idx_blk *b)
{
	return b->len >= sizeof(struct blk_hdr) && b->off + b->len <= r->seg_size && b->first_ts <= b->last_ts;
}

const struct idx_blk *ir_block(struct idx_reader *r, uint32_t bn)
{
	if (bn >= r->h.nblocks)
		return NULL;
	uint32_t pg = bn / IR_PAGE;
	if (!r->loaded[pg]) {
		uint32_t from = pg * IR_PAGE, n = r->h.nblocks - from < IR_PAGE ? r->h.nblocks - from : IR_PAGE;
		size_t len = n * sizeof(*r->blocks);
		if (pread_all(r->fd, r->blocks + from, len, r->h.off_blocks + from * sizeof(*r->blocks)) != (ssize_t)len)
			return NULL;
		r->loaded[pg] = 1;
	}
	return blk_ok(r, &r->blocks[bn]) ? &r->blocks[bn] : NULL;
}

const char *ir_load_blocks(struct idx_reader *r)
{
	size_t len = (size_t)r->h.nblocks * sizeof(*r->blocks);
	if (pread_all(r->fd, r->blocks, len, r->h.off_blocks) != (ssize_t)len)
		return "index truncated";
	if (vg_crc32c(0, r->blocks, len) != r->h.crc_blocks)
		return "index block table checksum mismatch";
	memset(r->loaded, 1, r->h.nblocks / IR_PAGE + 1);
	for (uint32_t b = 0; b < r->h.nblocks; b++)
		if (!blk_ok(r, &r->blocks[b]))
			return "index block table corrupt";
	return NULL;
}

int ir_lookup(struct idx_reader *r, uint64_t key, uint32_t **out, uint32_t *nout)
{
	*out = NULL;
	*nout = 0;
	uint64_t j = key >> (64 - r->h.fence_bits);
	uint32_t lo = r->fence[j], hi = r->fence[j + 1];
	if (lo >= hi)
		return 0;
	size_t n = hi - lo;
	struct idx_ent *e = malloc(n * sizeof(*e));
	if (!e)
		return -1;
	if (pread_all(r->fd, e, n * sizeof(*e), r->h.off_entries + (uint64_t)lo * sizeof(*e)) !=
	    (ssize_t)(n * sizeof(*e))) {
		free(e);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].hash != key)
			continue;
		uint64_t plen_max = (uint64_t)e[i].count * 5;
		uint64_t off = r->h.off_postings + e[i].post_off;
		if (e[i].count > r->h.nblocks || off > r->h.file_size) {
			rc = -1;
			break;
		}
		if (off + plen_max > r->h.file_size)
			plen_max = r->h.file_size - off;
		uint8_t *pb = malloc(plen_max ? plen_max : 1);
		uint32_t *bl = malloc((e[i].count ? e[i].count : 1) * sizeof(*bl));
		ssize_t got = pb && bl ? pread_all(r->fd, pb, plen_max, off) : -1;
		uint32_t cnt = 0, prev = 0;
		size_t q = 0;
		while (got >= 0 && cnt < e[i].count) {
			uint64_t d;
			size_t w = vgc_get_varint(pb + q, (size_t)got - q, &d);
			if (!w || prev + d >= r->h.nblocks || (cnt && !d))
				break;
			q += w;
			prev += (uint32_t)d;
			bl[cnt++] = prev;
		}
		free(pb);
		if (cnt != e[i].count) {
			free(bl);
			rc = -1;
			break;
		}
		*out = bl;
		*nout = cnt;
		break;
	}
	free(e);
	return rc;
}
