#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "jsonv.h"

#define JBLOCK_MIN (64 * 1024)
#define JDEPTH_MAX 64

struct jblock {
	struct jblock *next;
	size_t used, cap;
	_Alignas(16) char data[];
};

void jdoc_init(struct jdoc *d)
{
	memset(d, 0, sizeof(*d));
}

static void free_blocks(struct jdoc *d)
{
	while (d->blocks) {
		struct jblock *b = d->blocks;
		d->blocks = b->next;
		free(b);
	}
}

void jdoc_free(struct jdoc *d)
{
	free_blocks(d);
	d->root = NULL;
}

static void *jalloc(struct jdoc *d, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct jblock *b = d->blocks;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > JBLOCK_MIN ? n : JBLOCK_MIN;
		struct jblock *nb = malloc(sizeof(*nb) + cap);
		if (!nb)
			return NULL;
		nb->used = 0;
		nb->cap = cap;
		if (b && b->cap - b->used > 1024) { /* keep filling the current block */
			nb->next = b->next;
			b->next = nb;
		} else {
			nb->next = b;
			d->blocks = nb;
		}
		b = nb;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

struct jp {
	struct jdoc *d;
	const char *p, *end;
	int depth;
};

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote; decodes into the arena. */
static const char *parse_str(struct jp *j, size_t *outlen)
{
	const char *s = ++j->p;
	const char *q = s;
	bool esc = false;
	while (q < j->end && *q != '"') {
		if (*q == '\\') {
			esc = true;
			q++;
		}
		q++;
	}
	if (q >= j->end) {
		j->d->err = "unterminated string";
		return NULL;
	}
	size_t raw = (size_t)(q - s);
	char *o = jalloc(j->d, raw + 1);
	if (!o) {
		j->d->err = "out of memory";
		return NULL;
	}
	if (!esc) {
		memcpy(o, s, raw);
		o[raw] = 0;
		*outlen = raw;
		j->p = q + 1;
		return o;
	}
	size_t n = 0;
	for (const char *p = s; p < q; p++) {
		if (*p != '\\') {
			o[n++] = *p;
			continue;
		}
		p++;
		switch (*p) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u': {
			unsigned cp;
			if (q - p < 5 || hex4(p + 1, &cp)) {
				j->d->err = "bad \\u escape";
				return NULL;
			}
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && q - p >= 7 && p[1] == '\\' && p[2] == 'u') {
				unsigned lo;
				if (!hex4(p + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				}
			}
			/* a \u escape never takes more bytes than its 6 */
			n += put_utf8(o + n, cp);
			break;
		}
		default:
			j->d->err = "bad escape";
			return NULL;
		}
	}
	o[n] = 0;
	*outlen = n;
	j->p = q + 1;
	return o;
}

static struct jnode *parse_val(struct jp *j);

static struct jnode *new_node(struct jp *j, enum jv_type t)
{
	struct jnode *n = jalloc(j->d, sizeof(*n));
	if (!n) {
		j->d->err = "out of memory";
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->type = t;
	return n;
}

static struct jnode *parse_container(struct jp *j, bool obj)
{
	if (++j->depth > JDEPTH_MAX) {
		j->d->err = "nested too deeply";
		return NULL;
	}
	struct jnode *n = new_node(j, obj ? JV_OBJ : JV_ARR);
	if (!n)
		return NULL;
	j->p++;
	ws(j);
	char close = obj ? '}' : ']';
	struct jnode **tail = &n->child;
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return n;
	}
	for (;;) {
		const char *key = NULL;
		ws(j);
		if (obj) {
			size_t kl;
			if (j->p >= j->end || *j->p != '"') {
				j->d->err = "expected a member name";
				return NULL;
			}
			key = parse_str(j, &kl);
			if (!key)
				return NULL;
			ws(j);
			if (j->p >= j->end || *j->p != ':') {
				j->d->err = "expected ':'";
				return NULL;
			}
			j->p++;
		}
		struct jnode *c = parse_val(j);
		if (!c)
			return NULL;
		c->key = key;
		*tail = c;
		tail = &c->next;
		n->n++;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			j->depth--;
			return n;
		}
		j->d->err = obj ? "expected ',' or '}'" : "expected ',' or ']'";
		return NULL;
	}
}

static struct jnode *parse_val(struct jp *j)
{
	ws(j);
	if (j->p >= j->end) {
		j->d->err = "unexpected end";
		return NULL;
	}
	char c = *j->p;
	if (c == '{' || c == '[')
		return parse_container(j, c == '{');
	if (c == '"') {
		struct jnode *n = new_node(j, JV_STR);
		if (!n)
			return NULL;
		n->str = parse_str(j, &n->len);
		return n->str ? n : NULL;
	}
	const char *s = j->p;
	while (j->p < j->end && !strchr(",]} \t\r\n", *j->p))
		j->p++;
	size_t l = (size_t)(j->p - s);
	enum jv_type t;
	if (l == 4 && !memcmp(s, "true", 4))
		t = JV_BOOL;
	else if (l == 5 && !memcmp(s, "false", 5))
		t = JV_BOOL;
	else if (l == 4 && !memcmp(s, "null", 4))
		t = JV_NULL;
	else if (l && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) && strspn(s, "0123456789+-.eE") >= l)
		t = JV_NUM;
	else {
		j->d->err = "bad value";
		return NULL;
	}
	struct jnode *n = new_node(j, t);
	char *o = n ? jalloc(j->d, l + 1) : NULL;
	if (!o) {
		j->d->err = "out of memory";
		return NULL;
	}
	memcpy(o, s, l);
	o[l] = 0;
	n->str = o;
	n->len = l;
	return n;
}

struct jnode *jdoc_parse(struct jdoc *d, const char *json, size_t len)
{
	free_blocks(d);
	d->root = NULL;
	d->err = NULL;
	struct jp j = {.d = d, .p = json, .end = json + len};
	struct jnode *r = parse_val(&j);
	if (!r)
		return NULL;
	ws(&j);
	if (j.p != j.end) {
		d->err = "trailing characters";
		return NULL;
	}
	d->root = r;
	return r;
}

const struct jnode *jget(const struct jnode *obj, const char *path)
{
	const struct jnode *cur = obj;
	const char *p = path;
	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (cur->type != JV_OBJ)
			return NULL;
		const struct jnode *found = NULL;
		for (const struct jnode *c = cur->child; c; c = c->next)
			if (strlen(c->key) == l && !memcmp(c->key, p, l)) {
				found = c;
				break;
			}
		/* a member whose own name has dots ("@timestamp" never does,
		 * but be lenient): try the rest of the path as one name */
		if (!found && dot) {
			size_t rl = strlen(p);
			for (const struct jnode *c = cur->child; c; c = c->next)
				if (strlen(c->key) == rl && !memcmp(c->key, p, rl))
					return c;
		}
		cur = found;
		p = dot ? dot + 1 : p + l;
	}
	return cur;
}

const struct jnode *jat(const struct jnode *arr, size_t i)
{
	if (!arr || arr->type != JV_ARR)
		return NULL;
	const struct jnode *c = arr->child;
	while (c && i--)
		c = c->next;
	return c;
}

const char *jtext(const struct jnode *n, const char *def)
{
	if (!n || n->type == JV_ARR || n->type == JV_OBJ || n->type == JV_NULL)
		return def;
	return n->str;
}

const char *jstr(const struct jnode *obj, const char *path, const char *def)
{
	return jtext(jget(obj, path), def);
}

int64_t jint(const struct jnode *obj, const char *path, int64_t def)
{
	const char *s = jstr(obj, path, NULL);
	if (!s || !*s)
		return def;
	char *e;
	long long v = strtoll(s, &e, 10);
	return *e && *e != '.' && *e != 'e' && *e != 'E' ? def : (int64_t)v;
}

bool jbool(const struct jnode *obj, const char *path, bool def)
{
	const struct jnode *n = jget(obj, path);
	if (!n || n->type != JV_BOOL)
		return def;
	return n->str[0] == 't';
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int vg_parse_rfc3339(const char *s, uint64_t *ns)
{
	int Y, M, D, h = 0, m = 0, sec = 0;
	if (!s || strlen(s) < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
	    digits(s + 8, 2, &D))
		return -1;
	const char *p = s + 10;
	uint64_t frac = 0;
	int off = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(p, 2, &h) || p[2] != ':' || digits(p + 3, 2, &m))
			return -1;
		p += 5;
		if (*p == ':') {
			if (digits(p + 1, 2, &sec))
				return -1;
			p += 3;
		}
		if (*p == '.' || *p == ',') {
			p++;
			int nd = 0;
			while (*p >= '0' && *p <= '9') {
				if (nd < 9) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					nd++;
				}
				p++;
			}
			if (!nd)
				return -1;
			for (; nd < 9; nd++)
				frac *= 10;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
				return -1;
			off = (oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
			p += 6;
		}
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970)
		return -1;
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m,
			.tm_sec = sec};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	int64_t secs = (int64_t)t - off;
	if (secs < 0)
		return -1;
	*ns = (uint64_t)secs * 1000000000ULL + frac;
	return 0;
}

void vg_format_rfc3339(uint64_t ns, char *buf, size_t cap)
{
	time_t secs = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n && n < cap)
		snprintf(buf + n, cap - n, ".%09lluZ", (unsigned long long)(ns % 1000000000ULL));
}
