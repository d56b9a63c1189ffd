#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "flat.h"
#include "../util/htab.h"

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
};

static void ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
}

/* Reserves n bytes (+ a NUL) in the arena; values are referenced by
 * offset until the parse ends because the arena may move. */
static long arena_reserve(struct vg_flat *fl, size_t n)
{
	if (fl->arena_len + n + 1 > fl->arena_cap) {
		size_t cap = fl->arena_cap ? fl->arena_cap : 4096;
		while (cap < fl->arena_len + n + 1)
			cap *= 2;
		char *na = realloc(fl->arena, cap);
		if (!na)
			return -1;
		fl->arena = na;
		fl->arena_cap = cap;
	}
	long off = (long)fl->arena_len;
	fl->arena[off + (long)n] = 0;
	fl->arena_len += n + 1;
	return off;
}

static long arena_put(struct vg_flat *fl, const char *s, size_t n)
{
	long off = arena_reserve(fl, n);
	if (off >= 0)
		memcpy(fl->arena + off, s, n);
	return off;
}

/* Field ids by dotted name, per thread, so that the common case takes no
 * lock: a direct-mapped cache keyed by an FNV hash the parser computes as
 * it builds the name. Interned names are never freed, so the cached name
 * pointers stay valid. */
#define FCACHE 2048
struct fcache_ent {
	uint64_t h;
	const char *name;
	uint32_t id, len;
};
static __thread struct fcache_ent fcache[FCACHE];

static uint64_t fnv_step(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static uint32_t field_id_hashed(const char *key, size_t len, uint64_t h)
{
	struct fcache_ent *e = &fcache[h & (FCACHE - 1)];
	if (e->name && e->h == h && e->len == len && memcmp(e->name, key, len) == 0)
		return e->id;
	uint32_t id = vg_field_id(key);
	e->h = h;
	e->id = id;
	e->len = (uint32_t)len;
	e->name = vg_field_name(id);
	return id;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The closing quote of a JSON string body that starts at s, or NULL. */
static const char *string_end(const char *s, const char *end)
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

/* The closing quote of the string body at s, and whether it holds escapes.
 * Short strings (most keys and values) are scanned byte by byte, longer
 * ones with memchr. */
static const char *scan_string(const char *s, const char *end, bool *esc)
{
	const char *p = s;
	const char *lim = end - s > 32 ? s + 32 : end;
	for (; p < lim; p++) {
		if (*p == '"') {
			*esc = false;
			return p;
		}
		if (*p == '\\') {
			*esc = true;
			return string_end(s, end);
		}
	}
	if (p >= end)
		return NULL;
	const char *q = memchr(p, '"', (size_t)(end - p));
	if (!q)
		return NULL;
	*esc = memchr(p, '\\', (size_t)(q - p)) != NULL;
	return *esc ? string_end(s, end) : q;
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
				int v = hexval(src[i + (size_t)k]);
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

static int add_field(struct parser *ps, const char *key, size_t keylen, uint64_t h, long off, size_t n)
{
	struct vg_flat *fl = ps->fl;
	if (off < 0)
		return -1;
	if (fl->n >= VG_FLAT_MAX) {
		fl->arena_len = (size_t)off; /* keep what fits: later fields are the least useful */
		return 0;
	}
	fl->f[fl->n].name = field_id_hashed(key, keylen, h);
	fl->f[fl->n].len = (uint32_t)n;
	fl->f[fl->n].val = (const char *)(intptr_t)off; /* fixed up at the end */
	fl->n++;
	return 0;
}

/* A string value at ps->p (after the opening quote) into the arena:
 * without escapes (the usual case) one copy; else decoded in place (the
 * decoded text is never longer than the escaped one). */
static int string_value(struct parser *ps, const char *key, size_t keylen, uint64_t h)
{
	const char *s = ps->p;
	bool esc;
	const char *q = scan_string(s, ps->end, &esc);
	if (!q)
		return -1;
	size_t raw = (size_t)(q - s);
	ps->p = q + 1;
	if (!esc)
		return add_field(ps, key, keylen, h, arena_put(ps->fl, s, raw), raw);
	long off = arena_reserve(ps->fl, raw);
	if (off < 0)
		return -1;
	long n = decode_string(s, raw, ps->fl->arena + off);
	if (n < 0)
		return -1;
	ps->fl->arena_len = (size_t)off + (size_t)n + 1;
	ps->fl->arena[off + n] = 0;
	return add_field(ps, key, keylen, h, off, (size_t)n);
}

static int parse_value(struct parser *ps, char *key, size_t keylen, uint64_t h);

static int parse_object(struct parser *ps, char *key, size_t keylen, uint64_t h)
{
	ps->p++; /* { */
	ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	while (ps->p < ps->end) {
		ws(ps);
		if (ps->p >= ps->end || *ps->p != '"')
			return -1;
		ps->p++;
		/* the name is decoded straight into the key, after the parent's */
		bool esc;
		const char *q = scan_string(ps->p, ps->end, &esc);
		size_t kl = keylen;
		if (!q || kl + (size_t)(q - ps->p) + 2 >= sizeof(ps->fl->keybuf))
			return -1;
		uint64_t h2 = h;
		if (kl) {
			key[kl++] = '.';
			h2 = fnv_step(h2, ".", 1);
		}
		long dl = (long)(q - ps->p);
		if (esc)
			dl = decode_string(ps->p, (size_t)(q - ps->p), key + kl);
		else
			memcpy(key + kl, ps->p, (size_t)dl);
		if (dl < 0)
			return -1;
		size_t nl = (size_t)dl;
		key[kl + nl] = 0;
		h2 = fnv_step(h2, key + kl, nl);
		ps->p = q + 1;
		ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return -1;
		ps->p++;
		ws(ps);
		if (parse_value(ps, key, kl + nl, h2))
			return -1;
		key[keylen] = 0;
		ws(ps);
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

static int parse_value(struct parser *ps, char *key, size_t keylen, uint64_t h)
{
	if (ps->p >= ps->end || ++ps->depth > 32)
		return -1;
	int r = -1;
	char c = *ps->p;
	if (c == '{') {
		r = parse_object(ps, key, keylen, h);
	} else if (c == '[') {
		ps->p++;
		ws(ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			r = 0;
		} else {
			while (ps->p < ps->end) {
				ws(ps);
				if (parse_value(ps, key, keylen, h))
					break;
				key[keylen] = 0;
				ws(ps);
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
	} else if (c == '"') {
		ps->p++;
		r = string_value(ps, key, keylen, h);
	} else {
		const char *s = ps->p;
		while (ps->p < ps->end && *ps->p != ',' && *ps->p != '}' && *ps->p != ']' &&
		       *ps->p != ' ' && *ps->p != '\n')
			ps->p++;
		if (ps->p > s)
			r = add_field(ps, key, keylen, h, arena_put(ps->fl, s, (size_t)(ps->p - s)),
				      (size_t)(ps->p - s));
	}
	ps->depth--;
	return r;
}

#define FNV_INIT 1469598103934665603ULL

int vg_flatten_json(struct vg_flat *fl, const char *json, size_t len)
{
	struct parser ps = {.p = json, .end = json + len, .fl = fl};
	fl->n = 0;
	fl->arena_len = 0;
	fl->keybuf[0] = 0;
	ws(&ps);
	int r = (ps.p < ps.end && *ps.p == '{') ? parse_object(&ps, fl->keybuf, 0, FNV_INIT) : -1;
	for (int i = 0; i < fl->n; i++)
		fl->f[i].val = fl->arena + (intptr_t)fl->f[i].val;
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
