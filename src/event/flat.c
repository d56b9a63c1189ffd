#include <pthread.h>
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

/* Reserves n bytes in the arena; values are referenced by offset until the
 * parse ends because the arena may move. */
static long arena_put(struct vg_flat *fl, const char *s, size_t n)
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
	memcpy(fl->arena + off, s, n);
	fl->arena[off + (long)n] = 0;
	fl->arena_len += n + 1;
	return off;
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

/* Parses a JSON string at ps->p (after the opening quote) into out. */
static int parse_string(struct parser *ps, char *out, size_t cap, size_t *outlen)
{
	size_t n = 0;
	while (ps->p < ps->end) {
		char c = *ps->p++;
		if (c == '"') {
			*outlen = n;
			return 0;
		}
		if (c == '\\') {
			if (ps->p >= ps->end)
				return -1;
			char e = *ps->p++;
			unsigned cp;
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case '/': case '\\': case '"': c = e; break;
			case 'u':
				if (ps->end - ps->p < 4)
					return -1;
				cp = 0;
				for (int i = 0; i < 4; i++) {
					int v = hexval(ps->p[i]);
					if (v < 0)
						return -1;
					cp = cp << 4 | (unsigned)v;
				}
				ps->p += 4;
				/* our encoder escapes only bytes < 0x100; keep them as bytes */
				if (cp < 0x100) {
					c = (char)cp;
				} else {
					char u[3];
					int k = 0;
					if (cp < 0x800) {
						u[k++] = (char)(0xC0 | (cp >> 6));
					} else {
						u[k++] = (char)(0xE0 | (cp >> 12));
						u[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
					}
					for (int i = 0; i < k; i++)
						if (n < cap)
							out[n++] = u[i];
					c = (char)(0x80 | (cp & 0x3F));
				}
				break;
			default:
				return -1;
			}
		}
		if (n < cap)
			out[n++] = c;
	}
	return -1;
}

static int add_field(struct parser *ps, const char *key, const char *val, size_t n)
{
	struct vg_flat *fl = ps->fl;
	if (fl->n >= VG_FLAT_MAX)
		return 0; /* keep what fits: later fields are the least useful */
	long off = arena_put(fl, val, n);
	if (off < 0)
		return -1;
	fl->f[fl->n].name = vg_field_id(key);
	fl->f[fl->n].len = (uint32_t)n;
	fl->f[fl->n].val = (const char *)(intptr_t)off; /* fixed up at the end */
	fl->n++;
	return 0;
}

static int parse_value(struct parser *ps, char *key, size_t keylen);

static int parse_object(struct parser *ps, char *key, size_t keylen)
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
		char name[256];
		size_t nl;
		if (parse_string(ps, name, sizeof(name) - 1, &nl))
			return -1;
		size_t kl = keylen;
		if (kl + nl + 2 >= sizeof(ps->fl->keybuf))
			return -1;
		if (kl)
			key[kl++] = '.';
		memcpy(key + kl, name, nl);
		key[kl + nl] = 0;
		ws(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return -1;
		ps->p++;
		ws(ps);
		if (parse_value(ps, key, kl + nl))
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

static int parse_value(struct parser *ps, char *key, size_t keylen)
{
	if (ps->p >= ps->end || ++ps->depth > 32)
		return -1;
	int r = -1;
	char c = *ps->p;
	if (c == '{') {
		r = parse_object(ps, key, keylen);
	} else if (c == '[') {
		ps->p++;
		ws(ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			r = 0;
		} else {
			while (ps->p < ps->end) {
				ws(ps);
				if (parse_value(ps, key, keylen))
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
		static __thread char val[65536];
		size_t n;
		if (parse_string(ps, val, sizeof(val), &n) == 0)
			r = add_field(ps, key, val, n);
	} else {
		const char *s = ps->p;
		while (ps->p < ps->end && *ps->p != ',' && *ps->p != '}' && *ps->p != ']' &&
		       *ps->p != ' ' && *ps->p != '\n')
			ps->p++;
		if (ps->p > s)
			r = add_field(ps, key, s, (size_t)(ps->p - s));
	}
	ps->depth--;
	return r;
}

int vg_flatten_json(struct vg_flat *fl, const char *json, size_t len)
{
	struct parser ps = {.p = json, .end = json + len, .fl = fl};
	fl->n = 0;
	fl->arena_len = 0;
	fl->keybuf[0] = 0;
	ws(&ps);
	int r = (ps.p < ps.end && *ps.p == '{') ? parse_object(&ps, fl->keybuf, 0) : -1;
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
