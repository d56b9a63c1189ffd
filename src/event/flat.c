#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "flat.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "../util/htab.h"
#include "../util/strbuf.h"

/* ---- field name interning ------------------------------------------ */

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static struct htab names_by_hash; /* fnv hash -> chain of struct name */
static char **names;
static uint32_t nnames, names_cap;

struct name {
	uint32_t id;
	struct name *next;
	char s[];
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int64_t lookup(const char *name, uint64_t h)
{
	if (!names_by_hash.buckets)
		return -1;
	for (struct name *n = htab_get(&names_by_hash, h); n; n = n->next)
		if (strcmp(n->s, name) == 0)
			return n->id;
	return -1;
}

int64_t vg_field_find(const char *name)
{
	pthread_mutex_lock(&names_lock);
	int64_t id = lookup(name, fnv(name));
	pthread_mutex_unlock(&names_lock);
	return id;
}

uint32_t vg_field_id(const char *name)
{
	uint64_t h = fnv(name);
	pthread_mutex_lock(&names_lock);
	int64_t id = lookup(name, h);
	if (id >= 0) {
		pthread_mutex_unlock(&names_lock);
		return (uint32_t)id;
	}
	if (!names_by_hash.buckets)
		htab_init(&names_by_hash, 256);
	if (nnames == names_cap) {
		uint32_t cap = names_cap ? names_cap * 2 : 256;
		char **nn = realloc(names, cap * sizeof(*nn));
		if (!nn)
			abort(); /* a few KiB: nothing sensible to do without them */
		names = nn;
		names_cap = cap;
	}
	size_t l = strlen(name);
	struct name *n = malloc(sizeof(*n) + l + 1);
	if (!n)
		abort();
	memcpy(n->s, name, l + 1);
	n->id = nnames;
	n->next = htab_get(&names_by_hash, h);
	htab_put(&names_by_hash, h, n, NULL);
	names[nnames] = n->s;
	uint32_t out = nnames++;
	pthread_mutex_unlock(&names_lock);
	return out;
}

const char *vg_field_name(uint32_t id)
{
	pthread_mutex_lock(&names_lock);
	const char *s = id < nnames ? names[id] : "?";
	pthread_mutex_unlock(&names_lock);
	return s;
}

/* ---- flattening ------------------------------------------------------ */

void vg_flat_init(struct vg_flat *fl)
{
	memset(fl, 0, sizeof(*fl));
}

void vg_flat_free(struct vg_flat *fl)
{
	free(fl->arena);
	vg_flat_init(fl);
}

struct parser {
	const char *p, *end;
	struct vg_flat *fl;
	int depth;
	uint32_t prev; /* the last key's field id (see next_key_id) */
};

/* Values are referenced by arena offset until the parse ends because the
 * arena may move. The arena keeps ARENA_SLACK bytes of room past what is
 * reserved, so short values are copied with two fixed-size moves. */
#define ARENA_SLACK 16

static __attribute__((noinline)) int arena_grow(struct vg_flat *fl, size_t n)
{
	size_t need = fl->arena_len + n + 1 + ARENA_SLACK;
	size_t cap = fl->arena_cap ? fl->arena_cap : 4096;
	while (cap < need)
		cap *= 2;
	char *na = realloc(fl->arena, cap);
	if (!na)
		return -1;
	fl->arena = na;
	fl->arena_cap = cap;
	return 0;
}

/* Reserves n bytes (+ a NUL) in the arena: the offset, or -1. */
static inline long arena_reserve(struct vg_flat *fl, size_t n)
{
	if (fl->arena_len + n + 1 + ARENA_SLACK > fl->arena_cap && arena_grow(fl, n))
		return -1;
	long off = (long)fl->arena_len;
	fl->arena[off + (long)n] = 0;
	fl->arena_len += n + 1;
	return off;
}

static inline long arena_put(struct vg_flat *fl, const char *s, size_t n)
{
	long off = arena_reserve(fl, n);
	if (off >= 0)
		memcpy(fl->arena + off, s, n);
	return off;
}

/* arena_put for a value inside a buffer that ends at end: up to 16 bytes
 * with 16-byte moves when the source has them (the slack covers the
 * destination), the NUL written after. */
static inline long arena_put_in(struct vg_flat *fl, const char *s, size_t n, const char *end)
{
	if (n > 16 || end - s < 16)
		return arena_put(fl, s, n);
	if (fl->arena_len + n + 1 + ARENA_SLACK > fl->arena_cap && arena_grow(fl, n))
		return -1;
	long off = (long)fl->arena_len;
	char *d = fl->arena + off;
	memcpy(d, s, 16);
	d[n] = 0;
	fl->arena_len += n + 1;
	return off;
}

/* Field ids by (parent id, key), per thread, so that the common case
 * takes no lock and never builds or hashes the whole dotted name: a
 * two-way set-associative cache keyed by a hash of the parent's id and the
 * key's bytes. Two ways, because with one a few pairs of keys that occur in
 * every event shared a slot by chance and evicted each other on every
 * event (four such pairs made a tenth of the flattening time in misses).
 * Interned names are never freed, so the cached pointers (to the key's part
 * of the dotted name) stay valid. */
#define FCACHE 2048 /* entries: FCACHE / 2 sets of two */
struct fcache_ent {
	uint64_t a, b; /* the key's words (see key_words): the whole key up to 16 bytes */
	uint32_t parent, len, id, used;
};
static __thread struct fcache_ent fcache[FCACHE];
static __thread const char *fcomp[FCACHE]; /* the last component of the interned name */

static inline uint64_t load64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t load32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* Two words that, with the length, determine a key of up to 16 bytes. */
static inline void key_words(const char *k, size_t n, uint64_t *a, uint64_t *b)
{
	if (n >= 8) {
		*a = load64(k);
		*b = load64(k + n - 8);
	} else if (n >= 4) {
		*a = load32(k) | (uint64_t)load32(k + n - 4) << 32;
		*b = 0;
	} else {
		*a = n ? (unsigned char)k[0] | (unsigned)(unsigned char)k[n / 2] << 8 |
				 (unsigned)(unsigned char)k[n - 1] << 16
		       : 0;
		*b = 0;
	}
}

static inline size_t key_slot(uint32_t parent, size_t n, uint64_t a, uint64_t b)
{
	uint64_t h = (a ^ (b << 29 | b >> 35) ^ ((uint64_t)parent << 40 | n)) * 0x9E3779B97F4A7C15ULL;
	return (size_t)(h >> 52) & (FCACHE - 2); /* the set's first way */
}

/* The slow path: builds "<parent>.<key>", interns it, caches it. */
static uint32_t child_miss(struct fcache_ent *e, uint32_t parent, const char *k, size_t n, uint64_t a, uint64_t b)
{
	char buf[1024];
	size_t pl = 0;
	if (parent != VG_FIELD_ROOT) {
		const char *pn = vg_field_name(parent);
		pl = strlen(pn);
		if (pl + 1 >= sizeof(buf))
			pl = sizeof(buf) - 2;
		memcpy(buf, pn, pl);
		if (pl) /* under an empty name, as at the top */
			buf[pl++] = '.';
	}
	size_t kl = n < sizeof(buf) - pl - 1 ? n : sizeof(buf) - pl - 1;
	memcpy(buf + pl, k, kl);
	buf[pl + kl] = 0;
	uint32_t id = vg_field_id(buf);
	/* a raw key may hold a NUL (the name stops there): cached, a hit would
	 * compare its n bytes against the shorter interned name */
	if (kl == n && strlen(buf + pl) == n) {
		e->a = a;
		e->b = b;
		e->used = 1;
		fcomp[e - fcache] = vg_field_name(id) + pl;
		e->parent = parent;
		e->len = (uint32_t)n;
		e->id = id;
	}
	return id;
}

static inline bool ent_is(const struct fcache_ent *e, uint32_t parent, const char *k, size_t n,
			  uint64_t a, uint64_t b)
{
	return e->a == a && e->b == b && e->parent == parent && e->len == n && e->used &&
	       (n <= 16 || memcmp(fcomp[e - fcache] + 8, k + 8, n - 16) == 0);
}

/* A name stops at its first NUL (such a key is never cached). A hit in the
 * second way swaps it to the first, so a miss replaces the one used less
 * recently. *comp: the cached last component of the name (the key's bytes,
 * NUL-terminated), or NULL when the key is not cacheable. */
static inline uint32_t child_id_comp(uint32_t parent, const char *k, size_t n, const char **comp)
{
	uint64_t a, b;
	key_words(k, n, &a, &b);
	struct fcache_ent *e = &fcache[key_slot(parent, n, a, b)];
	size_t i = (size_t)(e - fcache);
	if (ent_is(e, parent, k, n, a, b)) {
		*comp = fcomp[i];
		return e->id;
	}
	if (ent_is(e + 1, parent, k, n, a, b)) {
		struct fcache_ent t = e[1];
		const char *tc = fcomp[i + 1];
		e[1] = e[0];
		fcomp[i + 1] = fcomp[i];
		e[0] = t;
		fcomp[i] = tc;
		*comp = tc;
		return t.id;
	}
	e[1] = e[0];
	fcomp[i + 1] = fcomp[i];
	e->used = 0;
	uint32_t id = child_miss(e, parent, k, n, a, b);
	*comp = e->used ? fcomp[i] : NULL;
	return id;
}

static inline uint32_t child_id(uint32_t parent, const char *k, size_t n)
{
	const char *comp;
	return child_id_comp(parent, k, n, &comp);
}

uint32_t vg_field_child(uint32_t parent, const char *key)
{
	return child_id(parent, key, strlen(key));
}

/* Successor prediction for the parser: the events of one type list the
 * same keys in the same order, so the key that followed field `prev` last
 * time is almost always the next one. A hit costs one compare of the key's
 * bytes against the cached name, no hashing and no look-up in the larger
 * cache above (whose random slots miss the L1 cache); it made key look-ups
 * about a third of the flattening time. Indexed by the previous field's id
 * (ids of one event type's fields are near each other). */
#define SUCC 4096
struct succ_ent {
	const char *comp; /* NULL: empty */
	uint32_t parent, len, id;
};
static __thread struct succ_ent succ[SUCC];

static inline bool key_eq(const char *x, const char *y, size_t n)
{
	if (n >= 8)
		return load64(x) == load64(y) && load64(x + n - 8) == load64(y + n - 8) &&
		       (n <= 16 || memcmp(x + 8, y + 8, n - 16) == 0);
	if (n >= 4)
		return load32(x) == load32(y) && load32(x + n - 4) == load32(y + n - 4);
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* The id of key k under parent, the key after field *prev in the text. */
static inline __attribute__((always_inline)) uint32_t next_key_id(uint32_t *prev, uint32_t parent, const char *k, size_t n)
{
	struct succ_ent *se = &succ[*prev & (SUCC - 1)];
	uint32_t id;
	if (se->comp && se->parent == parent && se->len == n && key_eq(se->comp, k, n)) {
		id = se->id;
	} else {
		const char *comp;
		id = child_id_comp(parent, k, n, &comp);
		*se = (struct succ_ent){.comp = comp, .parent = parent, .len = (uint32_t)n, .id = id};
	}
	*prev = id;
	return id;
}

/* The closing quote of a JSON string body that starts at s, or NULL. */
static __attribute__((noinline)) const char *string_end(const char *s, const char *end)
{
	const char *p = s;
	while (p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		if (!q)
			return NULL;
		size_t nb = 0;
		for (const char *b = q; b > s && b[-1] == '\\'; b--)
			nb++;
		if (!(nb & 1))
			return q;
		p = q + 1;
	}
	return NULL;
}

/* The closing quote of the string body at s, and whether it holds escapes:
 * the first '"' or '\\', 16 bytes at a time. */
static inline __attribute__((always_inline)) const char *scan_string(const char *s, const char *end,
								      bool *esc)
{
	const char *p = s;
#ifdef __SSE2__
	const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, bs)));
		if (m) {
			p += __builtin_ctz(m);
			goto found;
		}
		p += 16;
	}
#endif
	for (; p < end; p++)
		if (*p == '"' || *p == '\\')
			goto found;
	return NULL;
found:
	if (*p == '"') {
		*esc = false;
		return p;
	}
	*esc = true;
	return string_end(s, end);
}

/* Decodes the JSON string body src[0..n) into out (which has room for n
 * bytes: the decoded text is never longer). Returns the length or -1. */
static long decode_string(const char *src, size_t n, char *out)
{
	size_t o = 0, i = 0;
	while (i < n) {
		const char *bs = memchr(src + i, '\\', n - i);
		size_t run = bs ? (size_t)(bs - (src + i)) : n - i;
		memcpy(out + o, src + i, run);
		o += run;
		i += run;
		if (!bs)
			break;
		if (i + 1 >= n)
			return -1;
		char e = src[i + 1], c;
		i += 2;
		unsigned cp;
		switch (e) {
		case 'n': c = '\n'; break;
		case 't': c = '\t'; break;
		case 'r': c = '\r'; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case '/': case '\\': case '"': c = e; break;
		case 'u':
			if (n - i < 4)
				return -1;
			cp = 0;
			for (int k = 0; k < 4; k++) {
				int v = hex_digit(src[i + (size_t)k]);
				if (v < 0)
					return -1;
				cp = cp << 4 | (unsigned)v;
			}
			i += 4;
			/* our encoder escapes only bytes < 0x100; keep them as bytes */
			if (cp < 0x100) {
				c = (char)cp;
			} else {
				if (cp < 0x800) {
					out[o++] = (char)(0xC0 | (cp >> 6));
				} else {
					out[o++] = (char)(0xE0 | (cp >> 12));
					out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				}
				c = (char)(0x80 | (cp & 0x3F));
			}
			break;
		default:
			return -1;
		}
		out[o++] = c;
	}
	return (long)o;
}

static inline int add_field(struct parser *ps, uint32_t id, long off, size_t n)
{
	struct vg_flat *fl = ps->fl;
	if (off < 0)
		return -1;
	if (fl->n >= VG_FLAT_MAX) {
		fl->arena_len = (size_t)off; /* keep what fits: later fields are the least useful */
		fl->dropped++;
		return 0;
	}
	fl->f[fl->n].name = id;
	fl->f[fl->n].len = (uint32_t)n;
	fl->f[fl->n].val = (const char *)(intptr_t)off; /* fixed up at the end */
	fl->n++;
	return 0;
}

/* A string value at ps->p (after the opening quote) into the arena:
 * without escapes (the usual case) one copy; else decoded in place (the
 * decoded text is never longer than the escaped one). */
static inline int string_value(struct parser *ps, uint32_t id)
{
	const char *s = ps->p;
	bool esc;
	const char *q = scan_string(s, ps->end, &esc);
	if (!q)
		return -1;
	size_t raw = (size_t)(q - s);
	ps->p = q + 1;
	if (!esc)
		return add_field(ps, id, arena_put_in(ps->fl, s, raw, ps->end), raw);
	long off = arena_reserve(ps->fl, raw);
	if (off < 0)
		return -1;
	long n = decode_string(s, raw, ps->fl->arena + off);
	if (n < 0)
		return -1;
	ps->fl->arena_len = (size_t)off + (size_t)n + 1;
	ps->fl->arena[off + n] = 0;
	return add_field(ps, id, off, (size_t)n);
}

static int parse_value(struct parser *ps, uint32_t id);

/* Bytes that end a bare value (number, true, false, null). */
static const bool scalar_end[256] = {[','] = 1, ['}'] = 1, [']'] = 1, [' '] = 1, ['\n'] = 1,
				     ['\t'] = 1, ['\r'] = 1};

static inline int scalar_value(struct parser *ps, uint32_t id)
{
	const char *s = ps->p;
	while (ps->p < ps->end && !scalar_end[(unsigned char)*ps->p])
		ps->p++;
	size_t n = (size_t)(ps->p - s);
	if (!n)
		return -1;
	return add_field(ps, id, arena_put_in(ps->fl, s, n, ps->end), n);
}

/* A key with escapes, decoded into kbuf: its length, or -1. Out of line:
 * its buffer would put a stack canary on every object. */
static __attribute__((noinline)) long escaped_key(const char *k, size_t kl, char *kbuf, size_t cap)
{
	if (kl >= cap)
		return -1;
	long dl = decode_string(k, kl, kbuf);
	if (dl < 0)
		return -1;
	return (long)strnlen(kbuf, (size_t)dl); /* a name ends at a NUL */
}

#define WS(ps)                                                                                       \
	do {                                                                                         \
		while ((ps)->p < (ps)->end && (unsigned char)*(ps)->p <= ' ' &&                      \
		       (*(ps)->p == ' ' || *(ps)->p == '\n' || *(ps)->p == '\t' || *(ps)->p == '\r')) \
			(ps)->p++;                                                                   \
	} while (0)

/* The members of an object whose dotted name is `parent`: each member's
 * id is looked up by (parent, key), never by the whole dotted name.
 * Strings and bare values are parsed here; only nested objects and
 * arrays recurse. */
static int parse_object(struct parser *ps, uint32_t parent)
{
	ps->p++; /* { */
	WS(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	while (ps->p < ps->end) {
		WS(ps);
		if (ps->p >= ps->end || *ps->p != '"')
			return -1;
		ps->p++;
		bool esc;
		const char *q = scan_string(ps->p, ps->end, &esc);
		if (!q)
			return -1;
		uint32_t id;
		if (esc) {
			char kbuf[512];
			long kl = escaped_key(ps->p, (size_t)(q - ps->p), kbuf, sizeof(kbuf));
			if (kl < 0)
				return -1;
			id = next_key_id(&ps->prev, parent, kbuf, (size_t)kl);
		} else {
			id = next_key_id(&ps->prev, parent, ps->p, (size_t)(q - ps->p));
		}
		ps->p = q + 1;
		WS(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return -1;
		ps->p++;
		WS(ps);
		if (ps->p >= ps->end)
			return -1;
		char c = *ps->p;
		int r;
		if (c == '"') {
			ps->p++;
			r = string_value(ps, id);
		} else if (c == '{' || c == '[') {
			r = parse_value(ps, id);
		} else {
			r = scalar_value(ps, id);
		}
		if (r)
			return -1;
		WS(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return 0;
		}
		return -1;
	}
	return -1;
}

static int parse_value(struct parser *ps, uint32_t id)
{
	if (ps->p >= ps->end || ++ps->depth > 32)
		return -1;
	int r = -1;
	char c = *ps->p;
	if (c == '"') {
		ps->p++;
		r = string_value(ps, id);
	} else if (c == '{') {
		r = parse_object(ps, id);
	} else if (c == '[') {
		ps->p++;
		WS(ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			r = 0;
		} else {
			while (ps->p < ps->end) {
				WS(ps);
				if (parse_value(ps, id))
					break;
				WS(ps);
				if (ps->p < ps->end && *ps->p == ',') {
					ps->p++;
					continue;
				}
				if (ps->p < ps->end && *ps->p == ']') {
					ps->p++;
					r = 0;
				}
				break;
			}
		}
	} else {
		r = scalar_value(ps, id);
	}
	ps->depth--;
	return r;
}

void vg_flat_begin(struct vg_flat *fl)
{
	fl->n = 0;
	fl->arena_len = 0;
	fl->dropped = 0;
}

void vg_flat_end(struct vg_flat *fl)
{
	for (int i = 0; i < fl->n; i++)
		fl->f[i].val = fl->arena + (intptr_t)fl->f[i].val;
}

long vg_flat_reserve(struct vg_flat *fl, size_t len)
{
	return arena_reserve(fl, len);
}

void vg_flat_put(struct vg_flat *fl, uint32_t name, const char *val, size_t len)
{
	if (fl->n >= VG_FLAT_MAX) {
		fl->dropped++;
		return;
	}
	long off = arena_reserve(fl, len);
	if (off < 0) {
		fl->dropped++;
		return;
	}
	if (len)
		memcpy(fl->arena + off, val, len);
	fl->f[fl->n].name = name;
	fl->f[fl->n].len = (uint32_t)len;
	fl->f[fl->n].val = (const char *)(intptr_t)off;
	fl->n++;
}

int vg_flat_put_json(struct vg_flat *fl, uint32_t parent, const char *json, size_t len)
{
	struct parser ps = {.p = json, .end = json + len, .fl = fl, .prev = parent};
	WS(&ps);
	if (ps.p >= ps.end)
		return -1;
	if (parent == VG_FIELD_ROOT)
		return *ps.p == '{' ? parse_object(&ps, VG_FIELD_ROOT) : -1;
	return parse_value(&ps, parent);
}

int vg_flatten_json(struct vg_flat *fl, const char *json, size_t len)
{
	vg_flat_begin(fl);
	int r = vg_flat_put_json(fl, VG_FIELD_ROOT, json, len);
	vg_flat_end(fl);
	return r;
}

const char *vg_flat_get(const struct vg_flat *fl, uint32_t name, uint32_t *len)
{
	for (int i = 0; i < fl->n; i++)
		if (fl->f[i].name == name) {
			if (len)
				*len = fl->f[i].len;
			return fl->f[i].val;
		}
	return NULL;
}
