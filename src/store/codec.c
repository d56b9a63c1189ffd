/* Binary event encoding: see codec.h for the format. Every reader here is
 * bounds-checked: any byte string decodes to JSON or to an error. */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "codec.h"

enum { T_END, T_OBJ, T_ARR, T_TRUE, T_FALSE, T_NULL, T_INT, T_NUM, T_STR, T_TSTR, T_RAW };
#define T_SMALLINT 0x40
#define T_SHORTSTR 0x80

/* ---- key roles and the index fields ----------------------------------- */

enum { R_NONE, R_HOST, R_NAME, R_VIGIL, R_SID, R_PROCESS, R_PID, R_START, R_HASH, R_SHA256, R_DEST,
       R_SRC, R_IP };
enum { C_OTHER, C_ROOT, C_HOST, C_VIGIL, C_PROCESS, C_PHASH, C_DEST, C_SRC };

static uint8_t role_of(const char *s, size_t n)
{
	static const struct {
		const char *s;
		uint8_t r;
	} t[] = {{"host", R_HOST},   {"name", R_NAME},     {"vigil", R_VIGIL},
		 {"sid", R_SID},     {"process", R_PROCESS}, {"pid", R_PID},
		 {"start_ns", R_START}, {"hash", R_HASH},   {"sha256", R_SHA256},
		 {"destination", R_DEST}, {"source", R_SRC}, {"ip", R_IP}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strlen(t[i].s) == n && memcmp(t[i].s, s, n) == 0)
			return t[i].r;
	return R_NONE;
}

static inline uint8_t child_ctx(uint8_t ctx, uint8_t role)
{
	if (ctx == C_ROOT) {
		switch (role) {
		case R_HOST: return C_HOST;
		case R_VIGIL: return C_VIGIL;
		case R_PROCESS: return C_PROCESS;
		case R_DEST: return C_DEST;
		case R_SRC: return C_SRC;
		default: return C_OTHER;
		}
	}
	return ctx == C_PROCESS && role == R_HASH ? C_PHASH : C_OTHER;
}

/* The index field a string or an integer at (ctx, role) is, or X_NONE. */
enum { X_NONE, X_HOST, X_SHA, X_DIP, X_SIP, X_SID, X_PID, X_START };

static inline uint8_t str_field(uint8_t ctx, uint8_t role)
{
	if (ctx == C_HOST && role == R_NAME)
		return X_HOST;
	if (ctx == C_PHASH && role == R_SHA256)
		return X_SHA;
	if (ctx == C_DEST && role == R_IP)
		return X_DIP;
	if (ctx == C_SRC && role == R_IP)
		return X_SIP;
	return X_NONE;
}

static inline uint8_t int_field(uint8_t ctx, uint8_t role)
{
	if (ctx == C_VIGIL && role == R_SID)
		return X_SID;
	if (ctx == C_PROCESS && role == R_PID)
		return X_PID;
	if (ctx == C_PROCESS && role == R_START)
		return X_START;
	return X_NONE;
}

static void set_field(struct vgc_ext *x, uint8_t f, const char *s, uint32_t n, int64_t v)
{
	switch (f) {
	case X_HOST: x->host = s, x->host_len = n; break;
	case X_SHA: x->sha = s, x->sha_len = n; break;
	case X_DIP: x->dip = s, x->dip_len = n; break;
	case X_SIP: x->sip = s, x->sip_len = n; break;
	case X_SID: x->sid = v, x->has_sid = true; break;
	case X_PID: x->pid = v, x->has_pid = true; break;
	case X_START:
		if (v >= 0)
			x->start = (uint64_t)v, x->has_start = true;
		break;
	}
}

static inline void cap_str(struct vgc_ext *x, uint8_t ctx, uint8_t role, const char *s, uint32_t n)
{
	if (ctx != C_OTHER)
		set_field(x, str_field(ctx, role), s, n, 0);
}

static inline void cap_int(struct vgc_ext *x, uint8_t ctx, uint8_t role, int64_t v)
{
	if (ctx != C_OTHER)
		set_field(x, int_field(ctx, role), NULL, 0, v);
}

/* ---- repeated objects ------------------------------------------------ */

/* The events of one process repeat its "process" object (and "host",
 * "event", "user", ...) byte for byte, or all but a member or two (the
 * thread id). So the encoder keeps the last few objects it encoded at each
 * place (a member of the event: its key, context) with their binary form
 * and where each member ends in both. An object whose text starts with the
 * bytes of a kept one is that object (a kept text is balanced), and its
 * binary is copied instead of parsed; otherwise the members before the
 * first difference are copied, and after each member parsed the rest of
 * the object is compared with the rest of the kept one, and copied when it
 * is the same. Text and binary both run member by member, so any run of
 * whole members encodes the same wherever it is. The binary depends on the
 * key ids (a reset of the key table empties the cache), the depth (always
 * 1 here) and the record's time through timestamp strings (objects holding
 * one are not kept); the index fields found inside are kept, as offsets,
 * and set again. Places whose objects do not repeat (a file) would only
 * cost: after SUB_TRIES misses in a row, a place is tried once in
 * SUB_RETRY. */
#define SUB_SETS 128
#define SUB_WAYS 4
#define SUB_PLACES 64
#define SUB_MIN 16   /* smaller objects parse about as fast as they are found */
#define SUB_MAX 4096 /* JSON bytes kept per object, at most (all kept: < 7 MB) */
#define SUB_CAPS 4   /* index fields inside one object */
#define SUB_CPS 64   /* member ends kept per object */
#define SUB_TRIES 4
#define SUB_RETRY 8
#define SUB_RESYNC 2 /* compares of an object's rest with the kept one's, at most */
#define CAP_LOG 16   /* index fields noted per event */

struct cap {
	int64_t v;
	uint32_t off, len; /* string: offset from the object's (or event's) first byte */
	uint8_t f;         /* X_* */
};

/* where a member ends: at its ',' or '}' */
struct cpt {
	uint32_t jo, bo; /* offset in the text, in the binary */
	uint32_t key;    /* the member's key id + 1 */
	uint32_t nc;     /* index fields noted before */
};

struct sub_ent {
	char *buf; /* text (jlen), binary (blen), member ends (ncp, 8-aligned) */
	uint32_t jlen, blen, ncp, size;
	uint8_t ncap;
	uint64_t used; /* clock of the last use: the least recent goes */
	struct cap cap[SUB_CAPS];
};

struct vgc_sub {
	uint64_t tag[SUB_SETS][SUB_WAYS]; /* the place; 0 = empty */
	struct sub_ent ent[SUB_SETS][SUB_WAYS];
	uint32_t miss[SUB_PLACES]; /* misses in a row, by place */
	int8_t credit[SUB_SETS];   /* > 0: its objects repeat, changed ones are worth keeping */
	uint64_t clock;
};

static void sub_clear(struct vgc_sub *sc)
{
	memset(sc->tag, 0, sizeof(sc->tag));
	memset(sc->miss, 0, sizeof(sc->miss));
	memset(sc->credit, 0, sizeof(sc->credit));
}

static void sub_free(struct vgc_sub *sc)
{
	for (int i = 0; i < SUB_SETS; i++)
		for (int w = 0; w < SUB_WAYS; w++)
			free(sc->ent[i][w].buf);
	free(sc);
}

static inline size_t cps_at(uint32_t jlen, uint32_t blen)
{
	return ((size_t)jlen + blen + 7) & ~(size_t)7;
}

static inline const struct cpt *ent_cps(const struct sub_ent *c)
{
	return (const struct cpt *)(c->buf + cps_at(c->jlen, c->blen));
}

/* key ids + 1 are at most VGC_MAX_KEYS (17 bits), ctx 3 bits; never 0 */
static inline uint64_t sub_tag(uint32_t pkey, uint32_t key, uint8_t ctx)
{
	return (uint64_t)pkey | (uint64_t)key << 17 | (uint64_t)ctx << 34 | 1ULL << 40;
}

static inline uint32_t sub_place(uint64_t tag)
{
	return (uint32_t)((tag * 0x9e3779b97f4a7c15ULL) >> 58);
}
_Static_assert(SUB_PLACES == 64, "sub_place gives 6 bits");

/* The set of the object at p: its place and its first 32 bytes (a
 * process's "pid":1234, an event's action), so that a place holds more
 * than SUB_WAYS objects, and the threads of one process meet in one set. */
static inline uint32_t sub_set(uint64_t tag, const char *p, const char *e)
{
	uint64_t h = tag * 0x9e3779b97f4a7c15ULL;
	if (e - p >= 32) {
		uint64_t w[4];
		memcpy(w, p, sizeof(w));
		h ^= (w[0] ^ w[1] * 0x9e3779b97f4a7c15ULL) + (w[2] ^ w[3] * 0xc2b2ae3d27d4eb4fULL);
		h *= 0xbf58476d1ce4e5b9ULL;
	}
	return (uint32_t)(h >> 57);
}
_Static_assert(SUB_SETS == 128, "sub_set gives 7 bits");

/* Whether to look for (and then keep) an object of this place. */
static inline bool sub_try(struct vgc_sub *sc, uint32_t place)
{
	uint32_t m = sc->miss[place]++; /* a hit sets it back to 0 */
	return m < SUB_TRIES || m % SUB_RETRY == 0;
}

/* Whether to keep an object that differs from a kept one in a member or
 * two: only while objects of its set are found again (one thread's
 * "process" over and over, a few alternating), else once in SUB_RETRY (a
 * process whose every event comes from another thread). */
static inline bool sub_keep_changed(struct vgc_sub *sc, uint32_t set)
{
	int8_t *c = &sc->credit[set];
	if (*c > 0) {
		(*c)--;
		return true;
	}
	if (--*c > -SUB_RETRY)
		return false;
	*c = 0;
	return true;
}

/* Length of the common prefix of a and b, n bytes at most. */
static size_t common_prefix(const char *a, const char *b, size_t n)
{
	size_t i = 0;
#if defined(__SSE2__)
	for (; i + 32 <= n; i += 32) {
		__m128i x0 = _mm_loadu_si128((const __m128i *)(a + i)), y0 = _mm_loadu_si128((const __m128i *)(b + i));
		__m128i x1 = _mm_loadu_si128((const __m128i *)(a + i + 16)), y1 = _mm_loadu_si128((const __m128i *)(b + i + 16));
		uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x0, y0)) |
			     (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x1, y1)) << 16;
		if (m != 0xffffffffu)
			return i + (size_t)__builtin_ctz(~m);
	}
#endif
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + ((size_t)__builtin_ctzll(x ^ y) >> 3); /* little-endian */
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* The kept object of the place tag that the text at p starts with, and
 * *same = its length; else the one sharing the longest prefix with it
 * (*same: that prefix), or NULL. */
static struct sub_ent *sub_find(struct vgc_sub *sc, uint32_t set, uint64_t tag, const char *p, const char *e,
				size_t *same)
{
	struct sub_ent *best = NULL;
	size_t bl = 0;
	for (int w = 0; w < SUB_WAYS; w++) {
		if (sc->tag[set][w] != tag)
			continue;
		struct sub_ent *c = &sc->ent[set][w];
		if (c->jlen <= (size_t)(e - p) && memcmp(p, c->buf, c->jlen) == 0) {
			c->used = ++sc->clock;
			*same = c->jlen;
			return c;
		}
	}
	for (int w = 0; w < SUB_WAYS; w++) {
		if (sc->tag[set][w] != tag)
			continue;
		struct sub_ent *c = &sc->ent[set][w];
		size_t l = common_prefix(p, c->buf, c->jlen <= (size_t)(e - p) ? c->jlen : (size_t)(e - p));
		if (!best || l > bl)
			best = c, bl = l;
	}
	if (best)
		best->used = ++sc->clock;
	*same = bl;
	return best;
}

/* Keeps an object just encoded (json: its text; bin: its binary; cap:
 * the index fields noted inside, offsets from base; cp: its member ends)
 * in place of the least recently used one of its set. */
static void sub_keep(struct vgc_sub *sc, uint32_t set, uint64_t tag, const char *json, size_t jlen,
		     const uint8_t *bin, size_t blen, const struct cap *cap, uint32_t ncap, uint32_t base,
		     const struct cpt *cp, uint32_t ncp)
{
	if (jlen < SUB_MIN || jlen > SUB_MAX || ncap > SUB_CAPS)
		return;
	if (ncp > SUB_CPS)
		ncp = SUB_CPS;
	int w = 0;
	for (int i = 1; i < SUB_WAYS && sc->tag[set][w]; i++)
		if (!sc->tag[set][i] || sc->ent[set][i].used < sc->ent[set][w].used)
			w = i;
	struct sub_ent *c = &sc->ent[set][w];
	sc->tag[set][w] = 0;
	size_t at = cps_at((uint32_t)jlen, (uint32_t)blen), need = at + ncp * sizeof(*cp);
	if (c->size < need) {
		size_t size = (need + 255) & ~(size_t)255;
		char *nb = realloc(c->buf, size);
		if (!nb)
			return;
		c->buf = nb;
		c->size = (uint32_t)size;
	}
	memcpy(c->buf, json, jlen);
	memcpy(c->buf + jlen, bin, blen);
	memcpy(c->buf + at, cp, ncp * sizeof(*cp));
	c->jlen = (uint32_t)jlen;
	c->blen = (uint32_t)blen;
	c->ncp = ncp;
	c->ncap = (uint8_t)ncap;
	for (uint32_t i = 0; i < ncap; i++) {
		c->cap[i] = cap[i];
		if (cap[i].f <= X_SIP)
			c->cap[i].off -= base;
	}
	c->used = ++sc->clock;
	sc->tag[set][w] = tag;
}

/* ---- key table -------------------------------------------------------- */

static uint32_t khash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

void vgc_keys_init(struct vgc_keys *k)
{
	memset(k, 0, sizeof(*k));
}

void vgc_keys_reset(struct vgc_keys *k)
{
	for (uint32_t i = 0; i < k->n; i++) {
		free(k->v[i].s);
		free(k->v[i].q);
	}
	k->n = 0;
	memset(k->pred, 0, sizeof(k->pred));
	if (k->sub)
		sub_clear(k->sub);
	if (k->slots)
		memset(k->slots, 0, k->nslots * sizeof(*k->slots));
}

void vgc_keys_free(struct vgc_keys *k)
{
	vgc_keys_reset(k);
	free(k->v);
	free(k->slots);
	if (k->sub)
		sub_free(k->sub);
	vgc_keys_init(k);
}

int64_t vgc_key_find(const struct vgc_keys *k, const char *s, size_t len)
{
	if (!k->nslots)
		return -1;
	uint32_t m = k->nslots - 1;
	for (uint32_t i = khash(s, len) & m;; i = (i + 1) & m) {
		uint32_t id = k->slots[i];
		if (!id)
			return -1;
		const struct vgc_key *e = &k->v[id - 1];
		if (e->len == len && memcmp(e->s, s, len) == 0)
			return id - 1;
	}
}

static int rehash(struct vgc_keys *k, uint32_t nslots)
{
	uint32_t *ns = calloc(nslots, sizeof(*ns));
	if (!ns)
		return -1;
	for (uint32_t id = 0; id < k->n; id++) {
		uint32_t i = khash(k->v[id].s, k->v[id].len) & (nslots - 1);
		while (ns[i])
			i = (i + 1) & (nslots - 1);
		ns[i] = id + 1;
	}
	free(k->slots);
	k->slots = ns;
	k->nslots = nslots;
	return 0;
}

int64_t vgc_key_add(struct vgc_keys *k, const char *s, size_t len)
{
	int64_t id = vgc_key_find(k, s, len);
	if (id >= 0)
		return id;
	if (k->n >= VGC_MAX_KEYS || len > VGC_MAX_KEY_LEN)
		return -1;
	if ((k->n + 1) * 2 > k->nslots && rehash(k, k->nslots ? k->nslots * 2 : 512))
		return -1;
	if (k->n == k->cap) {
		uint32_t cap = k->cap ? k->cap * 2 : 256;
		struct vgc_key *nv = realloc(k->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		k->v = nv;
		k->cap = cap;
	}
	char *c = malloc(len + 1);
	/* "key": padded to 32 bytes for the decoder's fixed-size copies */
	char *q = malloc(len + 4 < 32 ? 32 : len + 4);
	if (!c || !q) {
		free(c);
		free(q);
		return -1;
	}
	memcpy(c, s, len);
	c[len] = 0;
	memset(q, 0, len + 4 < 32 ? 32 : len + 4);
	q[0] = '"';
	memcpy(q + 1, s, len);
	q[len + 1] = '"';
	q[len + 2] = ':';
	struct vgc_key *e = &k->v[k->n];
	*e = (struct vgc_key){.s = c, .q = q, .len = (uint32_t)len, .qlen = (uint32_t)len + 3, .role = role_of(s, len)};
	memcpy(e->qs, q, 32);
	uint32_t m = k->nslots - 1;
	uint32_t i = khash(s, len) & m;
	while (k->slots[i])
		i = (i + 1) & m;
	k->slots[i] = k->n + 1;
	return k->n++;
}

void vgc_keys_write(const struct vgc_keys *k, uint32_t from, struct strbuf *out)
{
	uint8_t v[10];
	uint32_t cnt = from < k->n ? k->n - from : 0;
	sb_put(out, v, vgc_put_varint(v, cnt));
	for (uint32_t i = from; i < k->n; i++) {
		sb_put(out, v, vgc_put_varint(v, k->v[i].len));
		sb_put(out, k->v[i].s, k->v[i].len);
	}
}

long vgc_keys_read(struct vgc_keys *k, uint32_t base, const uint8_t *p, size_t n)
{
	uint64_t cnt, l;
	size_t i = vgc_get_varint(p, n, &cnt);
	if (!i || base != k->n || cnt > VGC_MAX_KEYS - k->n)
		return -1;
	for (uint64_t j = 0; j < cnt; j++) {
		size_t w = vgc_get_varint(p + i, n - i, &l);
		if (!w || l > VGC_MAX_KEY_LEN || l > n - i - w)
			return -1;
		i += w;
		uint32_t before = k->n;
		/* a repeated key would make two ids for one name: corrupt */
		if (vgc_key_add(k, (const char *)p + i, (size_t)l) != (int64_t)before)
			return -1;
		i += (size_t)l;
	}
	return (long)i;
}

int vgc_keys_copy(struct vgc_keys *dst, const struct vgc_keys *src)
{
	vgc_keys_reset(dst);
	for (uint32_t i = 0; i < src->n; i++)
		if (vgc_key_add(dst, src->v[i].s, src->v[i].len) != (int64_t)i)
			return -1;
	return 0;
}

/* ---- timestamps ------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void vgc_ts_format(int64_t ns, char out[VGC_TS_LEN])
{
	if (ns < 0)
		ns = 0;
	int64_t z = ns / 86400000000000LL;
	int64_t rem = ns % 86400000000000LL;
	z += 719468;
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	unsigned secs = (unsigned)(rem / 1000000000LL);
	unsigned frac = (unsigned)(rem % 1000000000LL);
	unsigned hh = secs / 3600, mm = secs / 60 % 60, ss = secs % 60;
	char *o = out;
#define D2(v) (*o++ = (char)('0' + (v) / 10 % 10), *o++ = (char)('0' + (v) % 10))
	unsigned yy = (unsigned)y;
	*o++ = (char)('0' + yy / 1000 % 10);
	*o++ = (char)('0' + yy / 100 % 10);
	D2(yy % 100);
	*o++ = '-';
	D2(m);
	*o++ = '-';
	D2(d);
	*o++ = 'T';
	D2(hh);
	*o++ = ':';
	D2(mm);
	*o++ = ':';
	D2(ss);
	*o++ = '.';
	for (int i = 8; i >= 0; i--) {
		o[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	o += 9;
	*o = 'Z';
#undef D2
}

static inline int dig(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : -1;
}

bool vgc_ts_parse(const char *s, size_t n, int64_t *ns)
{
	if (n != VGC_TS_LEN || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != '.' || s[29] != 'Z')
		return false;
	static const uint8_t pos[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28};
	for (size_t i = 0; i < sizeof(pos); i++)
		if (dig(s[pos[i]]) < 0)
			return false;
#define N2(i) (unsigned)(dig(s[i]) * 10 + dig(s[(i) + 1]))
	unsigned y = N2(0) * 100 + N2(2), mo = N2(5), d = N2(8), h = N2(11), mi = N2(14), se = N2(17);
#undef N2
	if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
		return false;
	int64_t frac = 0;
	for (int i = 20; i < 29; i++)
		frac = frac * 10 + dig(s[i]);
	static const uint8_t mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo] || (mo == 2 && d == 29 && !leap))
		return false;
	/* every field is in range and zero-padded: formatting gives s back */
	int64_t days = days_from_civil(y, mo, d);
	*ns = ((days * 86400 + h * 3600 + mi * 60 + se) * 1000000000LL) + frac;
	return true;
}

/* ---- encoding --------------------------------------------------------- */

static int reserve(struct strbuf *sb, size_t n)
{
	if (sb->len + n <= sb->cap)
		return 0;
	size_t cap = sb->cap ? sb->cap : 4096;
	while (cap < sb->len + n)
		cap *= 2;
	char *nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->oom = true;
		return -1;
	}
	sb->buf = nb;
	sb->cap = cap;
	return 0;
}

/* The closing quote of a string whose content starts at p, or NULL:
 * eight bytes at a time while no quote or backslash is among them. */
static inline const char *str_end(const char *p, const char *e)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	for (;;) {
		for (;;) {
#if defined(__SSE2__)
			if (e - p >= 16) {
				__m128i x = _mm_loadu_si128((const __m128i *)p);
				int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
								       _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
				if (m) {
					p += __builtin_ctz((unsigned)m);
					break;
				}
				p += 16;
				continue;
			}
#endif
			if (e - p < 8) {
				while (p < e && *p != '"' && *p != '\\')
					p++;
				break;
			}
			uint64_t x;
			memcpy(&x, p, 8);
			uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
			uint64_t m = ((q - ones) & ~q & highs) | ((b - ones) & ~b & highs);
			if (m) {
				/* the lowest flagged byte is a true match */
				p += __builtin_ctzll(m) >> 3;
				break;
			}
			p += 8;
		}
		if (p >= e)
			return NULL;
		if (*p == '"')
			return p;
		p += 2; /* an escape: skip the escaped byte */
		if (p > e)
			return NULL;
	}
}

static inline bool same(const char *a, const char *b, size_t n)
{
	while (n >= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
		a += 8, b += 8, n -= 8;
	}
	while (n--)
		if (*a++ != *b++)
			return false;
	return true;
}

/* Length of a JSON number at p (0 if not one); *is_int when it is a
 * canonical integer that fits int64 (value in *v). One pass. */
#define ISDIG(c) ((unsigned)((c) - '0') <= 9)
static size_t scan_number(const char *p, const char *e, bool *is_int, int64_t *v)
{
	const char *s = p;
	bool neg = false;
	if (p < e && *p == '-')
		neg = true, p++;
	if (p >= e || !ISDIG(*p))
		return 0;
	const char *ds = p;
	uint64_t x = 0;
	if (*p == '0')
		p++;
	else
		while (p < e && ISDIG(*p))
			x = x * 10 + (uint64_t)(*p++ - '0'); /* wraps past 19 digits: not an int then */
	size_t nd = (size_t)(p - ds);
	bool frac = false;
	if (p < e && *p == '.') {
		p++;
		if (p >= e || !ISDIG(*p))
			return 0;
		while (p < e && ISDIG(*p))
			p++;
		frac = true;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p >= e || !ISDIG(*p))
			return 0;
		while (p < e && ISDIG(*p))
			p++;
		frac = true;
	}
	*is_int = false;
	if (!frac && nd <= 19 && !(neg && nd == 1 && *ds == '0')) {
		/* 19 digits never overflow uint64 */
		if (x <= (uint64_t)INT64_MAX) {
			*v = neg ? -(int64_t)x : (int64_t)x;
			*is_int = true;
		} else if (neg && x == (uint64_t)INT64_MAX + 1) {
			*v = INT64_MIN;
			*is_int = true;
		}
	}
	return (size_t)(p - s);
}

/* An index field found while encoding: set in ext, and noted in log for
 * the object that holds it (off: of a string, from the event's start). */
static inline void note(struct vgc_ext *ext, struct cap *log, uint32_t *nlog, uint8_t f, const char *s, uint32_t off,
			uint32_t n, int64_t v)
{
	if (f == X_NONE)
		return;
	if (ext)
		set_field(ext, f, s, n, v);
	if (*nlog < CAP_LOG)
		log[*nlog] = (struct cap){.v = v, .off = off, .len = n, .f = f};
	(*nlog)++;
}

/* Notes the index fields [from, to) of a kept object again; its text is
 * now at json + base (for a rest of it, base wraps below 0). */
static void replay(struct vgc_ext *ext, struct cap *log, uint32_t *nlog, const struct sub_ent *c, uint32_t from,
		   uint32_t to, const char *json, uint32_t base)
{
	for (uint32_t i = from; i < to; i++) {
		const struct cap *cp = &c->cap[i];
		uint32_t off = cp->f <= X_SIP ? base + cp->off : 0;
		note(ext, log, nlog, cp->f, json + off, off, cp->len, cp->v);
	}
}

/* The member of the event being encoded that may be kept. */
struct track {
	uint32_t set; /* + 1; 0: none */
	uint64_t tag;
	const char *js;          /* its text */
	uint32_t os, tsm, capm;  /* its binary's offset; timestamps, index fields before it */
	const struct sub_ent *ref; /* a kept object of its place: the same members are copied */
	uint32_t ncp;            /* members ended so far */
	uint32_t from, tries;    /* members copied from ref; compares of the rest */
	struct cpt cp[SUB_CPS];
};

#define PUTB(b) (o[ol++] = (uint8_t)(b))
#define PUTV(x) (ol += vgc_put_varint(o + ol, (x)))

int vgc_encode(struct vgc_keys *k, const char *json, size_t len, uint64_t ts, struct strbuf *out,
	       struct vgc_ext *ext)
{
	size_t start = out->len;
	if (ext)
		memset(ext, 0, sizeof(*ext));
	if (len > (1u << 30) || reserve(out, 2 * len + 64))
		return -1;
	if (!k->sub)
		k->sub = calloc(1, sizeof(*k->sub)); /* if not: nothing is kept */
	struct vgc_sub *sc = k->sub;
	uint8_t *o = (uint8_t *)out->buf + start;
	size_t ol = 0;
	const char *p = json, *e = json + len;
	int d = 0;
	uint8_t typ[VGC_MAX_DEPTH], ctx[VGC_MAX_DEPTH];
	uint32_t pkey[VGC_MAX_DEPTH], prev[VGC_MAX_DEPTH]; /* key ids + 1 (0 none) */
	uint8_t vctx = C_ROOT, vrole = R_NONE; /* context of the value being parsed */
	uint32_t vkey = 0;                     /* key id + 1 of that value */
	bool top = true;
	struct track tr;
	tr.set = 0;
	struct cap caps[CAP_LOG]; /* the index fields noted, in order */
	uint32_t ncap = 0, nts = 0; /* and the timestamp strings seen */

	for (;;) {
		/* -- one value */
		if (p >= e)
			goto raw;
		switch (*p) {
		case '{':
		case '[': {
			if (d >= VGC_MAX_DEPTH)
				goto raw;
			bool obj = *p == '{';
			uint8_t cx = top ? C_ROOT : obj ? child_ctx(vctx, vrole) : C_OTHER;
			if (d == 1 && sc) {
				/* a member of the event: kept objects of its place */
				tr.set = 0;
				uint64_t tag = sub_tag(pkey[0], vkey, cx);
				uint32_t place = sub_place(tag);
				if (obj && sub_try(sc, place)) {
					uint32_t set = sub_set(tag, p, e);
					size_t same;
					const struct sub_ent *c = sub_find(sc, set, tag, p, e, &same);
					uint32_t at = (uint32_t)(p - json);
					if (c && same == c->jlen) {
						memcpy(o + ol, c->buf + c->jlen, c->blen);
						ol += c->blen;
						replay(ext, caps, &ncap, c, 0, c->ncap, json, at);
						sc->miss[place] = 0;
						if (sc->credit[set] < 64)
							sc->credit[set]++;
						k->sub_hits++;
						p += c->jlen;
						goto after;
					}
					tr.set = set + 1, tr.tag = tag, tr.js = p, tr.ref = c, tr.ncp = 0, tr.from = 0, tr.tries = 0;
					tr.os = (uint32_t)ol, tr.tsm = nts, tr.capm = ncap;
					/* the members up to the first difference, and the ','
					 * after them, are the same */
					const struct cpt *cp = c ? ent_cps(c) : NULL;
					uint32_t m = 0;
					while (c && m < c->ncp && cp[m].jo < same)
						m++;
					if (m) {
						memcpy(o + ol, c->buf + c->jlen, cp[m - 1].bo);
						ol += cp[m - 1].bo;
						replay(ext, caps, &ncap, c, 0, cp[m - 1].nc, json, at);
						memcpy(tr.cp, cp, (m - 1) * sizeof(*cp));
						tr.ncp = m - 1; /* the m-th end is noted at `after` */
						tr.from = m;
						sc->miss[place] = 0;
						typ[1] = 1;
						ctx[1] = cx;
						pkey[1] = vkey;
						prev[1] = cp[m - 1].key;
						d = 2;
						p += cp[m - 1].jo;
						goto after;
					}
				}
			}
			p++;
			PUTB(obj ? T_OBJ : T_ARR);
			typ[d] = obj;
			ctx[d] = cx;
			pkey[d] = vkey;
			prev[d] = 0;
			d++;
			top = false;
			if (p < e && *p == (obj ? '}' : ']')) {
				p++;
				PUTB(T_END);
				d--;
				goto after;
			}
			if (obj)
				goto key;
			vctx = C_OTHER, vrole = R_NONE; /* array element */
			continue;
		}
		case '"': {
			const char *q = str_end(p + 1, e);
			if (!q)
				goto raw;
			size_t n = (size_t)(q - p - 1);
			int64_t tns;
			bool is_ts = n == VGC_TS_LEN && vgc_ts_parse(p + 1, n, &tns);
			nts += is_ts; /* what holds it is encoded relative to ts */
			if (is_ts && ts <= (uint64_t)INT64_MAX) {
				PUTB(T_TSTR);
				PUTV(vgc_zz(tns - (int64_t)ts));
			} else {
				if (n < 0x80)
					PUTB(T_SHORTSTR + n);
				else {
					PUTB(T_STR);
					PUTV(n);
				}
				memcpy(o + ol, p + 1, n);
				ol += n;
				if (vctx != C_OTHER)
					note(ext, caps, &ncap, str_field(vctx, vrole), p + 1, (uint32_t)(p + 1 - json),
					     (uint32_t)n, 0);
			}
			p = q + 1;
			break;
		}
		case 't':
			if (e - p < 4 || memcmp(p, "true", 4))
				goto raw;
			PUTB(T_TRUE);
			p += 4;
			break;
		case 'f':
			if (e - p < 5 || memcmp(p, "false", 5))
				goto raw;
			PUTB(T_FALSE);
			p += 5;
			break;
		case 'n':
			if (e - p < 4 || memcmp(p, "null", 4))
				goto raw;
			PUTB(T_NULL);
			p += 4;
			break;
		default: {
			bool is_int;
			int64_t v = 0;
			size_t n = scan_number(p, e, &is_int, &v);
			if (!n)
				goto raw;
			if (is_int) {
				uint64_t z = vgc_zz(v);
				if (z < 0x40)
					PUTB(T_SMALLINT + z);
				else {
					PUTB(T_INT);
					PUTV(z);
				}
				if (vctx != C_OTHER)
					note(ext, caps, &ncap, int_field(vctx, vrole), NULL, 0, 0, v);
			} else {
				PUTB(T_NUM);
				PUTV(n);
				memcpy(o + ol, p, n);
				ol += n;
			}
			p += n;
			break;
		}
		}
		top = false;
	after:
		if (d == 0) {
			if (p != e)
				goto raw;
			out->len = start + ol;
			return 0;
		}
		if (p >= e)
			goto raw;
		if (typ[d - 1]) { /* object */
			if (d == 2 && tr.set) {
				/* a member of the kept object ended */
				if (tr.ncp < SUB_CPS)
					tr.cp[tr.ncp] = (struct cpt){.jo = (uint32_t)(p - tr.js), .bo = (uint32_t)ol - tr.os,
								     .key = prev[1], .nc = ncap - tr.capm};
				tr.ncp++;
				const struct sub_ent *c = tr.ref;
				if (c && *p == ',' && tr.ncp > tr.from && tr.ncp <= c->ncp) {
					/* the rest as in the kept object? */
					const struct cpt *b = &ent_cps(c)[tr.ncp - 1];
					size_t rest = c->jlen - b->jo;
					if (rest <= (size_t)(e - p) && memcmp(p, c->buf + b->jo, rest) == 0) {
						uint32_t dj = (uint32_t)(p - tr.js) - b->jo, db = (uint32_t)ol - tr.os - b->bo,
							 dn = ncap - tr.capm - b->nc;
						memcpy(o + ol, c->buf + c->jlen + b->bo, c->blen - b->bo);
						ol += c->blen - b->bo;
						replay(ext, caps, &ncap, c, b->nc, c->ncap, json, (uint32_t)(p - json) - b->jo);
						for (uint32_t i = tr.ncp; i < c->ncp; i++) {
							tr.cp[i] = ent_cps(c)[i];
							tr.cp[i].jo += dj, tr.cp[i].bo += db, tr.cp[i].nc += dn;
						}
						tr.ncp = c->ncp;
						p += rest;
						d = 1;
						sc->miss[sub_place(tr.tag)] = 0;
						k->sub_hits++;
						goto kept_end;
					}
					if (++tr.tries == SUB_RESYNC)
						tr.ref = NULL; /* too different */
				}
			}
			if (*p == '}') {
				p++;
				PUTB(T_END);
				d--;
				if (d == 1 && tr.set)
					goto kept_end;
				goto after;
			}
			if (*p != ',')
				goto raw;
			p++;
			goto key;
		}
		if (*p == ']') {
			p++;
			PUTB(T_END);
			d--;
			goto after;
		}
		if (*p != ',')
			goto raw;
		p++;
		vctx = C_OTHER, vrole = R_NONE, vkey = pkey[d - 1];
		continue;
	kept_end:
		if (nts == tr.tsm && ncap <= CAP_LOG && (!tr.ref || sub_keep_changed(sc, tr.set - 1)))
			sub_keep(sc, tr.set - 1, tr.tag, tr.js, (size_t)(p - tr.js), o + tr.os, ol - tr.os, caps + tr.capm,
				 ncap - tr.capm, (uint32_t)(tr.js - json), tr.cp, tr.ncp);
		tr.set = 0;
		goto after;
	key: {
		if (p >= e || *p != '"')
			goto raw;
		/* the key that came next last time, after the same key in an
		 * object under the same key, is usually the one: compare
		 * `"key":` at once */
		uint32_t slot = (((pkey[d - 1] << 16) ^ prev[d - 1]) * 2654435761u) >> (32 - 12);
		uint32_t guess = k->pred[slot];
		uint32_t id;
		if (guess) {
			const struct vgc_key *g = &k->v[guess - 1];
#if defined(__SSE2__)
			if (g->qlen <= 32 && e - p >= 32) {
				__m128i a0 = _mm_loadu_si128((const __m128i *)p), a1 = _mm_loadu_si128((const __m128i *)(p + 16));
				__m128i b0 = _mm_loadu_si128((const __m128i *)g->qs), b1 = _mm_loadu_si128((const __m128i *)(g->qs + 16));
				uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a0, b0)) |
					     (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a1, b1)) << 16;
				uint32_t need = g->qlen == 32 ? 0xffffffffu : (1u << g->qlen) - 1;
				if ((m & need) == need) {
					id = guess - 1;
					p += g->qlen;
					goto key_done;
				}
			}
#endif
		}
		const char *q = str_end(p + 1, e);
		if (!q || q + 1 >= e || q[1] != ':')
			goto raw;
		const char *ks = p + 1;
		size_t kl = (size_t)(q - ks);
		if (guess && k->v[guess - 1].len == kl && same(k->v[guess - 1].s, ks, kl)) {
			id = guess - 1;
		} else {
			int64_t nid = vgc_key_add(k, ks, kl);
			if (nid < 0)
				goto raw;
			id = (uint32_t)nid;
			k->pred[slot] = id + 1;
		}
		p = q + 2;
	key_done:
		prev[d - 1] = id + 1;
		PUTV((uint64_t)id + 1);
		vctx = ctx[d - 1];
		vrole = k->v[id].role;
		vkey = id + 1;
		continue;
	}
	}
raw:
	/* not canonical compact JSON: keep the bytes as they are */
	if (ext)
		memset(ext, 0, sizeof(*ext));
	o = (uint8_t *)out->buf + start;
	ol = 0;
	PUTB(T_RAW);
	PUTV(len);
	memcpy(o + ol, json, len);
	out->len = start + ol + len;
	return 1;
}

/* ---- decoding --------------------------------------------------------- */

static const char digits2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
			      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
			      "8081828384858687888990919293949596979899";

/* w has room for 21 bytes; digits are written in place, right to left */
static inline char *itoa64(char *w, int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (v < 0)
		*w++ = '-';
	static const uint64_t pow10[20] = {1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
					   10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
					   100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
					   1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
					   1000000000000000000ULL, 10000000000000000000ULL};
	/* digits from the bit length: log10(2) ~ 1233 / 4096 */
	int t = (64 - __builtin_clzll(u | 1)) * 1233 >> 12;
	int nd = t + (u >= pow10[t]);
	if (nd == 0)
		nd = 1;
	char *e = w + nd;
	while (u >= 100) {
		unsigned r = (unsigned)(u % 100);
		u /= 100;
		e -= 2;
		e[0] = digits2[r * 2];
		e[1] = digits2[r * 2 + 1];
	}
	if (u >= 10) {
		w[0] = digits2[u * 2];
		w[1] = digits2[u * 2 + 1];
	} else {
		w[0] = (char)('0' + u);
	}
	return w + nd;
}

/* Room for one value and the key after it, checked once per value. */
#define SLACK (2 * VGC_MAX_KEY_LEN + 256)

static char *grow_out(struct strbuf *out, char *w, size_t need)
{
	out->len = (size_t)(w - out->buf);
	if (reserve(out, need))
		return NULL;
	return out->buf + out->len;
}

#define ROOM(x)                                                                                    \
	do {                                                                                       \
		if ((size_t)(wend - w) < (size_t)(x)) {                                            \
			if ((size_t)(w - out->buf) - start > VGC_MAX_OUT)                          \
				goto bad;                                                          \
			w = grow_out(out, w, (size_t)(x));                                         \
			if (!w)                                                                    \
				goto bad;                                                          \
			wend = out->buf + out->cap;                                                \
		}                                                                                  \
	} while (0)

static inline size_t varint_fast(const uint8_t *p, size_t n, uint64_t *v)
{
	if (n && p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	return vgc_get_varint(p, n, v);
}

/* Copies n bytes; when the source has 16 bytes to spare, in 16-byte
 * chunks (the destination always has the slack). */
static inline void copy_short(char *w, const uint8_t *src, size_t n, size_t src_left)
{
	if (n + 16 <= src_left) {
		for (size_t j = 0; j < n; j += 16)
			memcpy(w + j, src + j, 16);
	} else {
		memcpy(w, src, n);
	}
}

/* Threaded code: each value handler ends in its own dispatch, so the
 * branch predictor learns the (very regular) shape of events. */
int vgc_decode(const struct vgc_keys *k, const uint8_t *p, size_t n, uint64_t ts, struct strbuf *out)
{
	static const void *const vt[256] = {
		[T_END] = &&bad,
		[T_OBJ] = &&v_obj,
		[T_ARR] = &&v_arr,
		[T_TRUE] = &&v_true,
		[T_FALSE] = &&v_false,
		[T_NULL] = &&v_null,
		[T_INT] = &&v_int,
		[T_NUM] = &&v_num,
		[T_STR] = &&v_str,
		[T_TSTR] = &&v_tstr,
		[T_RAW ... T_SMALLINT - 1] = &&bad,
		[T_SMALLINT ... T_SHORTSTR - 1] = &&v_small,
		[T_SHORTSTR ... 255] = &&v_short,
	};
	size_t start = out->len, i = 0;
	uint64_t v;
	size_t r;
	int d = 0;
	uint8_t t;
	/* per depth: bit 0 object, bit 1 has a first member */
	uint8_t st[VGC_MAX_DEPTH];
	if (reserve(out, n * 2 + SLACK))
		return -1;
	char *w = out->buf + out->len, *wend = out->buf + out->cap;
	if (n && p[0] == T_RAW) {
		r = vgc_get_varint(p + 1, n - 1, &v);
		if (!r || v != n - 1 - r || v > VGC_MAX_OUT)
			goto bad;
		ROOM(v);
		memcpy(w, p + 1 + r, v);
		w += v;
		goto done;
	}

#define VALUE()                                                                                    \
	do {                                                                                       \
		ROOM(SLACK);                                                                       \
		if (i >= n)                                                                        \
			goto bad;                                                                  \
		t = p[i++];                                                                        \
		goto *vt[t];                                                                       \
	} while (0)
	/* after a value: the next member, element, or the end */
#define AFTER()                                                                                    \
	do {                                                                                       \
		if (d == 0)                                                                        \
			goto end;                                                                  \
		if (st[d - 1] & 1)                                                                 \
			goto member;                                                               \
		goto element;                                                              \
	} while (0)

	VALUE();
v_short: {
	size_t l = t - T_SHORTSTR;
	if (l > n - i)
		goto bad;
	*w++ = '"';
	copy_short(w, p + i, l, n - i);
	w += l;
	*w++ = '"';
	i += l;
	AFTER();
}
v_small: {
	int x = (int)vgc_unzz(t - T_SMALLINT); /* -32..31 */
	if (x < 0)
		*w++ = '-', x = -x;
	if (x >= 10)
		*w++ = (char)('0' + x / 10);
	*w++ = (char)('0' + x % 10);
	AFTER();
}
v_obj:
	if (d >= VGC_MAX_DEPTH)
		goto bad;
	*w++ = '{';
	st[d++] = 1;
	goto member;
v_arr:
	if (d >= VGC_MAX_DEPTH)
		goto bad;
	*w++ = '[';
	st[d++] = 0;
	goto element;
v_true:
	memcpy(w, "true", 4);
	w += 4;
	AFTER();
v_false:
	memcpy(w, "false", 5);
	w += 5;
	AFTER();
v_null:
	memcpy(w, "null", 4);
	w += 4;
	AFTER();
v_int:
	r = vgc_get_varint(p + i, n - i, &v);
	if (!r)
		goto bad;
	i += r;
	w = itoa64(w, vgc_unzz(v));
	AFTER();
v_num:
v_str:
	r = varint_fast(p + i, n - i, &v);
	if (!r || v > n - i - r)
		goto bad;
	i += r;
	ROOM(v + SLACK);
	if (t == T_STR)
		*w++ = '"';
	memcpy(w, p + i, v);
	w += v;
	if (t == T_STR)
		*w++ = '"';
	i += v;
	AFTER();
v_tstr: {
	r = varint_fast(p + i, n - i, &v);
	if (!r || ts > (uint64_t)INT64_MAX)
		goto bad;
	i += r;
	int64_t dl = vgc_unzz(v), tv;
	if (__builtin_add_overflow((int64_t)ts, dl, &tv) || tv < 0 || tv >= 9214646400000000000LL /* 2262-01-01 */)
		goto bad;
	*w++ = '"';
	vgc_ts_format(tv, w);
	w += VGC_TS_LEN;
	*w++ = '"';
	AFTER();
}
member: {
	if (i >= n)
		goto bad;
	if (p[i] < 0x80)
		v = p[i++];
	else if ((r = vgc_get_varint(p + i, n - i, &v)))
		i += r;
	else
		goto bad;
	if (v == 0) {
		*w++ = '}';
		d--;
		AFTER();
	}
	if (v - 1 >= k->n)
		goto bad;
	const struct vgc_key *key = &k->v[v - 1];
	*w = ',';
	w += st[d - 1] >> 1;
	st[d - 1] = 3;
	if (key->qlen <= 32)
		memcpy(w, key->qs, 32); /* padded to 32 bytes */
	else
		memcpy(w, key->q, key->qlen);
	w += key->qlen;
	VALUE();
}
element:
	if (i >= n)
		goto bad;
	if (p[i] == T_END) {
		i++;
		*w++ = ']';
		d--;
		AFTER();
	}
	*w = ',';
	w += st[d - 1] >> 1;
	st[d - 1] = 2;
	VALUE();
end:
	if (i != n)
		goto bad;
done:
	out->len = (size_t)(w - out->buf);
	return 0;
bad:
	out->len = start;
	return -1;
#undef VALUE
#undef AFTER
}

int vgc_ext_binary(const struct vgc_keys *k, const uint8_t *p, size_t n, struct vgc_ext *x)
{
	size_t i = 0, r;
	uint64_t v;
	int d = 0;
	uint8_t typ[VGC_MAX_DEPTH], ctx[VGC_MAX_DEPTH];
	uint8_t vctx = C_ROOT, vrole = R_NONE;
	bool top = true;
	memset(x, 0, sizeof(*x));
	if (n && p[0] == T_RAW)
		return 0;
	for (;;) {
		if (i >= n)
			return -1;
		uint8_t t = p[i++];
		if (t >= T_SHORTSTR) {
			size_t l = t - T_SHORTSTR;
			if (l > n - i)
				return -1;
			cap_str(x, vctx, vrole, (const char *)p + i, (uint32_t)l);
			i += l;
		} else if (t >= T_SMALLINT) {
			cap_int(x, vctx, vrole, vgc_unzz(t - T_SMALLINT));
		} else {
			switch (t) {
			case T_OBJ:
			case T_ARR:
				if (d >= VGC_MAX_DEPTH)
					return -1;
				typ[d] = t == T_OBJ;
				ctx[d] = top ? C_ROOT : t == T_OBJ ? child_ctx(vctx, vrole) : C_OTHER;
				top = false;
				d++;
				goto next;
			case T_TRUE:
			case T_FALSE:
			case T_NULL:
				break;
			case T_INT:
			case T_TSTR:
				r = vgc_get_varint(p + i, n - i, &v);
				if (!r)
					return -1;
				i += r;
				if (t == T_INT)
					cap_int(x, vctx, vrole, vgc_unzz(v));
				break;
			case T_NUM:
			case T_STR:
				r = vgc_get_varint(p + i, n - i, &v);
				if (!r || v > n - i - r)
					return -1;
				i += r;
				if (t == T_STR)
					cap_str(x, vctx, vrole, (const char *)p + i, (uint32_t)v);
				i += v;
				break;
			default:
				return -1;
			}
		}
		top = false;
	after:
		if (d == 0)
			return i == n ? 0 : -1;
	next:
		if (typ[d - 1]) {
			r = vgc_get_varint(p + i, n - i, &v);
			if (!r)
				return -1;
			i += r;
			if (v == 0) {
				d--;
				goto after;
			}
			if (v - 1 >= k->n)
				return -1;
			vctx = ctx[d - 1];
			vrole = k->v[v - 1].role;
		} else {
			if (i >= n)
				return -1;
			if (p[i] == T_END) {
				i++;
				d--;
				goto after;
			}
			vctx = C_OTHER, vrole = R_NONE;
		}
	}
}

/* ---- crc32c ----------------------------------------------------------- */

static uint32_t crc_tab[8][256];
static int crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
	__atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;
	while (n >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		c64 = __builtin_ia32_crc32di(c64, x);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

uint32_t vg_crc32c(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint32_t c = ~crc;
#if defined(__x86_64__)
	static int hw = -1;
	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
	if (hw)
		return ~crc_hw(c, p, n);
#endif
	if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE))
		crc_init();
	while (n >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo ^= c;
		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
		    crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
