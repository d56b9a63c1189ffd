/* Blocks: header checks, reading and decoding one block, dictionaries,
 * file names. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>
#include "store_int.h"

#define BLK_MAX_META (16u << 20)
#define BLK_MAX_RAW (64u << 20)
#define BLK_MAX_COMP (80u << 20)

void blk_hdr_seal(struct blk_hdr *h)
{
	h->magic = BLK_MAGIC;
	h->version = STORE_VERSION;
	h->hdr_crc = vg_crc32c(0, h, offsetof(struct blk_hdr, hdr_crc));
}

const char *blk_hdr_check(const struct blk_hdr *h)
{
	if (h->magic != BLK_MAGIC)
		return "bad block magic";
	if (h->hdr_crc != vg_crc32c(0, h, offsetof(struct blk_hdr, hdr_crc)))
		return "header checksum mismatch";
	if (h->version != STORE_VERSION)
		return "unknown block version";
	if (h->meta_len > BLK_MAX_META || h->raw_len > BLK_MAX_RAW || h->comp_len > BLK_MAX_COMP)
		return "block lengths out of range";
	if (h->first_ts > h->last_ts)
		return "block time range inverted";
	if (h->nevents > h->raw_len)
		return "event count out of range";
	return NULL;
}

int seg_name_parse(const char *name, uint64_t *first_ts, uint64_t *seq)
{
	unsigned long long a, b;
	int n = 0;
	if (strlen(name) != 4 + 20 + 1 + 8 + 4 || sscanf(name, "seg-%20llu-%8llu.vgs%n", &a, &b, &n) != 2 ||
	    n != (int)strlen(name))
		return -1;
	*first_ts = a;
	*seq = b;
	return 0;
}

static int seg_ent_cmp(const void *a, const void *b)
{
	const struct seg_ent *x = a, *y = b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Segment files sorted by sequence number (malloc'd). */
struct seg_ent *seg_list(int dirfd, size_t *n)
{
	*n = 0;
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	rewinddir(d);
	struct seg_ent *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint64_t ts, seq;
		if (seg_name_parse(de->d_name, &ts, &seq))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			struct seg_ent *nv = realloc(v, cap * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
		}
		snprintf(v[*n].name, sizeof(v[*n].name), "%.63s", de->d_name);
		v[*n].seq = seq;
		v[*n].first_ts = ts;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), seg_ent_cmp);
	return v;
}


/* Next offset in (off, limit) where a well-formed block header starts, or 0. */
uint64_t blk_resync(int fd, uint64_t off, uint64_t limit)
{
	uint8_t buf[65536 + sizeof(struct blk_hdr)];
	for (uint64_t pos = off + 1; pos + sizeof(struct blk_hdr) <= limit;) {
		size_t want = sizeof(buf);
		if (pos + want > limit)
			want = (size_t)(limit - pos);
		ssize_t r = pread(fd, buf, want, (off_t)pos);
		if (r < (ssize_t)sizeof(struct blk_hdr))
			return 0;
		for (size_t i = 0; i + sizeof(struct blk_hdr) <= (size_t)r; i++) {
			uint32_t m;
			memcpy(&m, buf + i, 4);
			if (m != BLK_MAGIC)
				continue;
			struct blk_hdr h;
			memcpy(&h, buf + i, sizeof(h));
			if (!blk_hdr_check(&h) && pos + i + sizeof(h) + h.meta_len + h.comp_len <= limit)
				return pos + i;
		}
		pos += (uint64_t)r - sizeof(struct blk_hdr) + 1;
	}
	return 0;
}

/* ---- dictionaries ----------------------------------------------------- */

struct dict_ent {
	uint32_t id;
	ZSTD_DDict *dd; /* NULL: missing or unreadable */
};

struct dict_cache {
	int dirfd;
	pthread_mutex_t mu; /* query workers share it */
	struct dict_ent e[16];
	int n;
};

struct dict_cache *dc_new(int dirfd)
{
	struct dict_cache *dc = calloc(1, sizeof(*dc));
	if (dc) {
		dc->dirfd = dirfd;
		pthread_mutex_init(&dc->mu, NULL);
	}
	return dc;
}

void dc_free(struct dict_cache *dc)
{
	if (!dc)
		return;
	for (int i = 0; i < dc->n; i++)
		ZSTD_freeDDict(dc->e[i].dd);
	pthread_mutex_destroy(&dc->mu);
	free(dc);
}

static const void *dc_ddict_locked(struct dict_cache *dc, uint32_t id);

const void *dc_ddict(struct dict_cache *dc, uint32_t id)
{
	pthread_mutex_lock(&dc->mu);
	const void *dd = dc_ddict_locked(dc, id);
	pthread_mutex_unlock(&dc->mu);
	return dd;
}

/* A dictionary stays loaded while the cache lives (the first 16; beyond,
 * uncached ones leak: no store trains that many). */
static const void *dc_ddict_locked(struct dict_cache *dc, uint32_t id)
{
	for (int i = 0; i < dc->n; i++)
		if (dc->e[i].id == id)
			return dc->e[i].dd;
	char name[64];
	snprintf(name, sizeof(name), "dict-%u.zdict", id);
	ZSTD_DDict *dd = NULL;
	int fd = openat(dc->dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 8 && st.st_size < (16 << 20)) {
		void *buf = malloc((size_t)st.st_size);
		if (buf && pread(fd, buf, (size_t)st.st_size, 0) == st.st_size &&
		    ZSTD_getDictID_fromDict(buf, (size_t)st.st_size) == id)
			dd = ZSTD_createDDict(buf, (size_t)st.st_size);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	if (dc->n == (int)(sizeof(dc->e) / sizeof(dc->e[0])))
		return dd; /* more dictionaries than anyone trains: not cached */
	dc->e[dc->n++] = (struct dict_ent){.id = id, .dd = dd};
	return dd;
}

/* ---- reading a block -------------------------------------------------- */

void bd_free(struct blk_data *bd)
{
	free(bd->buf);
	free(bd->raw);
	free(bd->sess);
	free(bd->recs);
	memset(bd, 0, sizeof(*bd));
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *n = realloc(*p, c * elem);
	if (!n)
		return -1;
	*p = n;
	*cap = c;
	return 0;
}

static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

/* Skips a serialised key run; bytes consumed or -1. */
static long skip_keys(const uint8_t *p, size_t n)
{
	uint64_t cnt, l;
	size_t i = vgc_get_varint(p, n, &cnt);
	if (!i || cnt > VGC_MAX_KEYS)
		return -1;
	for (uint64_t j = 0; j < cnt; j++) {
		size_t w = vgc_get_varint(p + i, n - i, &l);
		if (!w || l > n - i - w)
			return -1;
		i += w + (size_t)l;
	}
	return (long)i;
}

/* by time, then by position (bodies lie in payload order): stable */
static int rec_cmp(const void *a, const void *b)
{
	const struct blk_rec *x = a, *y = b;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return x->body < y->body ? -1 : x->body > y->body;
}

const char *bd_read(struct blk_data *bd, int fd, uint64_t off, uint32_t len, struct dict_cache *dc,
		    void *dctx, struct vgc_keys *keys)
{
	struct blk_hdr h;
	ssize_t r;
	if (!len) {
		r = pread_full(fd, &h, sizeof(h), off);
		if (r < 0)
			return "read error";
		if (r < (ssize_t)sizeof(h))
			return "truncated block header";
		const char *why = blk_hdr_check(&h);
		if (why)
			return why;
		len = (uint32_t)(sizeof(h) + h.meta_len + h.comp_len);
	}
	size_t bcap = bd->buf_cap;
	if (len < sizeof(h) || grow((void **)&bd->buf, &bcap, len, 1))
		return "out of memory";
	bd->buf_cap = bcap;
	r = pread_full(fd, bd->buf, len, off);
	if (r < 0)
		return "read error";
	if (r < (ssize_t)sizeof(h))
		return "truncated block header";
	memcpy(&h, bd->buf, sizeof(h));
	const char *why = blk_hdr_check(&h);
	if (why)
		return why;
	if ((uint64_t)sizeof(h) + h.meta_len + h.comp_len != len)
		return "block length differs from the index";
	if (r < (ssize_t)len)
		return "truncated block";
	const uint8_t *meta = bd->buf + sizeof(h), *comp = meta + h.meta_len;
	if (vg_crc32c(0, meta, h.meta_len) != h.meta_crc)
		return "meta checksum mismatch";
	if (vg_crc32c(0, comp, h.comp_len) != h.crc)
		return "payload checksum mismatch";
	bd->h = h;
	/* meta: key run, session table */
	long kl;
	if (keys) {
		if (h.key_base > keys->n)
			return "key table gap";
		if (h.key_base < keys->n) {
			/* only possible after a gap was padded: accept an empty run */
			uint64_t cnt;
			if (!vgc_get_varint(meta, h.meta_len, &cnt) || cnt)
				return "key table out of order";
			kl = skip_keys(meta, h.meta_len);
		} else {
			kl = vgc_keys_read(keys, h.key_base, meta, h.meta_len);
		}
	} else {
		kl = skip_keys(meta, h.meta_len);
	}
	if (kl < 0)
		return "bad key run";
	size_t i = (size_t)kl;
	uint64_t ns, v;
	size_t w = vgc_get_varint(meta + i, h.meta_len - i, &ns);
	if (!w || ns > h.meta_len)
		return "bad session table";
	i += w;
	size_t scap = bd->sess_cap;
	if (grow((void **)&bd->sess, &scap, ns ? ns : 1, sizeof(*bd->sess)))
		return "out of memory";
	bd->sess_cap = (uint32_t)scap;
	for (uint64_t j = 0; j < ns; j++) {
		w = vgc_get_varint(meta + i, h.meta_len - i, &v);
		if (!w || v > h.meta_len - i - w)
			return "bad session table";
		i += w;
		bd->sess[j].host = (const char *)meta + i;
		bd->sess[j].host_len = (uint32_t)v;
		i += v;
		w = vgc_get_varint(meta + i, h.meta_len - i, &v);
		if (!w)
			return "bad session table";
		i += w;
		bd->sess[j].sid = vgc_unzz(v);
	}
	if (i != h.meta_len)
		return "bad meta length";
	bd->nsess = (uint32_t)ns;
	/* payload */
	size_t rcap = bd->raw_cap;
	if (grow((void **)&bd->raw, &rcap, h.raw_len ? h.raw_len : 1, 1))
		return "out of memory";
	bd->raw_cap = rcap;
	size_t got;
	if (h.flags & BLK_F_DICT) {
		const ZSTD_DDict *dd = dc ? dc_ddict(dc, h.dict_id) : NULL;
		if (!dd)
			return "dictionary missing";
		got = ZSTD_decompress_usingDDict(dctx, bd->raw, h.raw_len, comp, h.comp_len, dd);
	} else {
		got = ZSTD_decompressDCtx(dctx, bd->raw, h.raw_len, comp, h.comp_len);
	}
	if (ZSTD_isError(got) || got != h.raw_len)
		return "decompression failed";
	size_t ecap = bd->recs_cap;
	if (grow((void **)&bd->recs, &ecap, h.nevents ? h.nevents : 1, sizeof(*bd->recs)))
		return "out of memory";
	bd->recs_cap = (uint32_t)ecap;
	const uint8_t *p = bd->raw;
	size_t n = h.raw_len;
	i = 0;
	bool sorted = true;
	for (uint32_t j = 0; j < h.nevents; j++) {
		uint64_t dt, s, l;
		size_t a = vgc_get_varint(p + i, n - i, &dt);
		if (!a)
			return "bad record";
		i += a;
		a = vgc_get_varint(p + i, n - i, &s);
		if (!a)
			return "bad record";
		i += a;
		a = vgc_get_varint(p + i, n - i, &l);
		if (!a || l > n - i - a || s > ns || dt > h.last_ts - h.first_ts)
			return "bad record";
		i += a;
		struct blk_rec *rc = &bd->recs[j];
		rc->ts = h.first_ts + dt;
		rc->sess = (uint32_t)s;
		rc->len = (uint32_t)l;
		rc->body = p + i;
		if (j && rc->ts < bd->recs[j - 1].ts)
			sorted = false;
		i += l;
	}
	if (i != n)
		return "bad payload length";
	bd->nrecs = h.nevents;
	if (!sorted) {
		/* the writer sorts; keep the reader right anyway */
		qsort(bd->recs, bd->nrecs, sizeof(*bd->recs), rec_cmp);
	}
	return NULL;
}
