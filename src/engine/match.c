/* The matcher: detection rules compiled into Hyperscan databases.
 *
 * Every `field|modifiers: values` item of every rule becomes terms. String
 * values (plain, wildcards, contains/startswith/endswith, windash, base64,
 * regexes Hyperscan accepts) are "fast": they become patterns in one
 * Hyperscan database per (log source category, field), and a match sets an
 * atom bit. Everything else (null, exists, cidr, gt/lt, fieldref, regexes
 * only PCRE2 can run) is "slow": checked directly, and only when a rule is
 * evaluated.
 *
 * Per event: the category picks a bucket of databases; each field value is
 * scanned once against its field's database; a match marks its rule as a
 * candidate. Only candidates are evaluated, plus the bucket's "always" rules
 * (those whose condition can be true with every fast atom false, such as
 * `not sel` or a lone cidr selection). Evaluation memoizes selections per
 * event with epoch counters, so nothing is cleared between events.
 *
 * High-rate events repeat their values: a file storm's events all carry
 * the same action, executable, command line and often path. What a field's
 * database matched in a value is remembered (the scan memo), so a repeated
 * value costs a hash and a compare instead of a Hyperscan call. And a field
 * whose patterns can never make a rule a candidate (only filters and other
 * non-trigger items read it) is scanned lazily: only when a candidate's
 * evaluation reads one of its atoms, so most events never scan it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <hs/hs.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "rule.h"
#include "sigma_int.h"

/* ---- value helpers --------------------------------------------------- */

int cidr_parse(const char *s, struct cidr *c)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	memset(c, 0, sizeof(*c));
	int max;
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	c->bits = max;
	if (slash) {
		const char *b = slash + 1;
		if (!*b || strlen(b) > 3 || strspn(b, "0123456789") != strlen(b))
			return -1;
		c->bits = atoi(b);
		if (c->bits > max)
			return -1;
	}
	/* clear host bits so that comparisons can mask the address only */
	for (int i = 0; i < 16; i++) {
		int keep = c->bits - i * 8;
		if (keep <= 0)
			c->addr[i] = 0;
		else if (keep < 8)
			c->addr[i] &= (uint8_t)(0xFF << (8 - keep));
	}
	return 0;
}

bool number_parse(const char *s, double *out)
{
	if (!*s || isspace((unsigned char)*s))
		return false;
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (*end || errno || isnan(d))
		return false;
	*out = d;
	return true;
}

size_t base64_encode(const unsigned char *in, size_t n, char *out, bool pad)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = 0;
	return o;
}

/* ---- compiled model ---------------------------------------------------- */

enum term_kind {
	T_FAST,     /* Hyperscan: atom bit */
	T_PCRE,     /* a regex Hyperscan cannot run */
	T_NULL,     /* YAML null: field absent or empty */
	T_EXISTS,   /* |exists: true/false */
	T_PRESENT,  /* '*' (or contains ''): any value */
	T_EMPTY,    /* '': an empty value */
	T_CIDR,
	T_NUM,      /* gt gte lt lte */
	T_FIELDREF,
	T_NEVER,
};

struct term {
	uint8_t kind;
	bool want;       /* T_EXISTS */
	bool cased;      /* T_FIELDREF */
	uint32_t mods;   /* T_NUM: which comparison; T_FIELDREF: position */
	uint32_t atom;   /* T_FAST */
	uint32_t ref;    /* T_FIELDREF */
	double num;
	struct cidr cidr;
	pcre2_code *re;
};

struct item {
	uint32_t fields[2];
	int nfields;
	bool keyword;
	bool all;
	int nterms;
	struct term *terms;
};

struct msel {
	int nalts;
	int *alt_first, *alt_n; /* into the rule's items */
};

struct mrule {
	struct rule *r;
	uint64_t buckets; /* bit b: evaluated for events of bucket b (0 = inert) */
	bool always;
	bool disabled;
	struct msel *sels;
	uint32_t sel_base; /* memo slot of sels[0] */
	int nitems;
	struct item *items;
};

struct pat {
	char *re;
	unsigned flags;
	uint32_t atom;
	uint32_t field; /* UINT32_MAX: keywords (every field) */
	int rule;
};

struct eager {       /* a pattern Hyperscan refused in a database: PCRE2, every event */
	pcre2_code *re;
	unsigned id;
};

struct scanner {
	bool lazy;  /* sets no trigger atom: scanned when an evaluation needs it */
	hs_database_t *db;
	int neager;
	struct eager *eager;
};

struct bucket {
	bool used;
	uint32_t nfields;
	struct scanner **by_field;
	struct scanner *keywords;
	int nalways;
	int *always;
};

/* An atom's strength is the length of the shortest literal text that sets
 * it: long literals are rare, so they make good triggers. A rule is a
 * candidate only when one of its trigger atoms matched. */
struct atominfo {
	uint32_t strength;
	int rule;
	bool trigger;
};

/* The scan memo: direct-mapped (scanner, value) -> the patterns it
 * matched. A scan is a pure function of the database and the bytes, so a
 * replayed entry gives exactly what scanning would. Values longer than
 * MEMO_VAL_MAX and scans with more than MEMO_IDS matches are not kept. */
#define MEMO_SLOTS 256
#define MEMO_VAL_MAX 240
#define MEMO_IDS 6

struct memo {
	uint64_t hash;
	const struct scanner *s; /* NULL: empty */
	uint32_t len;
	uint32_t nids;
	unsigned ids[MEMO_IDS];
	char val[MEMO_VAL_MAX];
};

struct matcher {
	int nrules;
	struct mrule *rules;
	int npats, cap_pats;
	struct pat *pats;
	uint32_t natoms, nsels;
	uint32_t cap_atoms;
	struct atominfo *atoms; /* per atom */
	struct bucket *buckets; /* NCAT + 1: the last is for events of other categories */
	int ncat;
	hs_scratch_t *scratch;
	pcre2_match_data *md;
	/* per event */
	uint32_t epoch;
	uint32_t *atom_epoch, *rule_epoch, *sel_epoch;
	uint8_t *sel_val;
	int *cand;
	int ncand;
	const struct vg_flat *ev;
	struct memo *memo;  /* MEMO_SLOTS */
	struct memo *rec;   /* the entry the running scan fills, or NULL */
	const struct bucket *bk;  /* the event's */
	uint32_t *field_epoch;    /* lazy fields scanned for this event, by field id */
	uint32_t max_fields;      /* of any bucket: field_epoch's size */
	int nlazy;
	uint16_t lazy_at[VG_FLAT_MAX]; /* the event's fields that have a lazy scanner */
	struct strbuf *errs;
};

static uint32_t action_field = UINT32_MAX;

static uint32_t action_id(void)
{
	uint32_t id = __atomic_load_n(&action_field, __ATOMIC_RELAXED);
	if (id == UINT32_MAX) {
		id = vg_field_id("event.action");
		__atomic_store_n(&action_field, id, __ATOMIC_RELAXED);
	}
	return id;
}

static int event_cat_index(const struct vg_flat *ev)
{
	uint32_t a = action_id();
	for (int i = 0; i < ev->n; i++)
		if (ev->f[i].name == a)
			return sigma_action_category_index(ev->f[i].val, ev->f[i].len);
	return -1;
}

const char *event_category(const struct vg_flat *ev)
{
	int i = event_cat_index(ev);
	return i < 0 ? NULL : sigma_categories[i];
}

/* ---- building --------------------------------------------------------- */

static void berr(struct matcher *m, const struct rule *r, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void berr(struct matcher *m, const struct rule *r, int line, const char *fmt, ...)
{
	if (!m->errs)
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sb_printf(m->errs, "%s:%d: %s\n", r->file ? r->file : "?", line ? line : r->line, msg);
}

static int add_pat(struct matcher *m, char *re, unsigned flags, uint32_t atom, uint32_t field, int rule)
{
	if (!re)
		return -1;
	if (m->npats == m->cap_pats) {
		int cap = m->cap_pats ? m->cap_pats * 2 : 256;
		struct pat *np = realloc(m->pats, (size_t)cap * sizeof(*np));
		if (!np) {
			free(re);
			return -1;
		}
		m->pats = np;
		m->cap_pats = cap;
	}
	m->pats[m->npats++] = (struct pat){re, flags, atom, field, rule};
	return 0;
}

static bool is_word(unsigned char c)
{
	return isalnum(c) || c == '_';
}

static void put_byte(struct strbuf *sb, unsigned char c)
{
	if (isalnum(c))
		sb_putc(sb, (char)c);
	else
		sb_printf(sb, "\\x%02x", c);
}

enum tok_kind { TK_LIT, TK_STAR, TK_QMARK };

/* A plain Sigma value as a regex: wildcards (* ?, escaped with \), the
 * anchoring that contains/startswith/endswith imply, windash alternatives.
 * Returns NULL and sets *kind to T_PRESENT / T_EMPTY for values that need
 * no pattern. */
static char *value_regex(const char *v, size_t n, uint32_t mods, bool wildcards, int *kind)
{
	*kind = T_FAST;
	unsigned char *lit = malloc(n + 1);
	uint8_t *tk = malloc(n + 1);
	if (!lit || !tk) {
		free(lit);
		free(tk);
		return NULL;
	}
	size_t nt = 0;
	bool had_star = false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (wildcards && c == '\\' && i + 1 < n && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\')) {
			lit[nt] = (unsigned char)v[++i];
			tk[nt++] = TK_LIT;
		} else if (wildcards && c == '*') {
			tk[nt++] = TK_STAR;
			had_star = true;
		} else if (wildcards && c == '?') {
			tk[nt++] = TK_QMARK;
		} else {
			lit[nt] = c;
			tk[nt++] = TK_LIT;
		}
	}
	bool anchor_start = !(mods & (MOD_CONTAINS | MOD_ENDSWITH));
	bool anchor_end = !(mods & (MOD_CONTAINS | MOD_STARTSWITH));
	size_t b = 0, e = nt;
	while (b < e && tk[b] == TK_STAR) {
		b++;
		anchor_start = false;
	}
	while (e > b && tk[e - 1] == TK_STAR) {
		e--;
		anchor_end = false;
	}
	if (b == e) {
		*kind = (had_star || (mods & (MOD_CONTAINS | MOD_STARTSWITH | MOD_ENDSWITH))) ? T_PRESENT : T_EMPTY;
		free(lit);
		free(tk);
		return NULL;
	}
	struct strbuf sb;
	sb_init(&sb);
	if (anchor_start)
		sb_putc(&sb, '^');
	for (size_t i = b; i < e; i++) {
		if (tk[i] == TK_STAR) {
			sb_puts(&sb, ".*");
		} else if (tk[i] == TK_QMARK) {
			sb_putc(&sb, '.');
		} else if ((mods & MOD_WINDASH) && (lit[i] == '-' || lit[i] == '/') &&
			   (i == 0 || tk[i - 1] != TK_LIT || !is_word(lit[i - 1])) && i + 1 < nt &&
			   tk[i + 1] == TK_LIT && is_word(lit[i + 1])) {
			sb_puts(&sb, "(?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)");
		} else {
			put_byte(&sb, lit[i]);
		}
	}
	if (anchor_end)
		sb_puts(&sb, "\\z");
	free(lit);
	free(tk);
	*kind = T_FAST;
	if (sb.oom) {
		sb_free(&sb);
		return NULL;
	}
	return sb.buf;
}

/* A value as literal bytes (base64 output): no wildcards. */
static char *literal_regex(const char *v, size_t n, uint32_t mods)
{
	int kind;
	return value_regex(v, n, mods & ~MOD_WINDASH, false, &kind);
}

static pcre2_code *pcre_compile(const char *re, unsigned hsflags, char *err, size_t errlen)
{
	uint32_t opt = 0;
	if (hsflags & HS_FLAG_CASELESS)
		opt |= PCRE2_CASELESS;
	if (hsflags & HS_FLAG_MULTILINE)
		opt |= PCRE2_MULTILINE;
	if (hsflags & HS_FLAG_DOTALL)
		opt |= PCRE2_DOTALL;
	int ec;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opt, &ec, &off, NULL);
	if (!c) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
		return NULL;
	}
	pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* best effort */
	return c;
}

static bool hs_accepts(const char *re, unsigned flags)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	if (hs_compile(re, flags, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
		hs_free_compile_error(ce);
		return false;
	}
	hs_free_database(db);
	return true;
}

struct build_item {
	struct matcher *m;
	struct mrule *mr;
	int rule;
	struct item *it;
	const struct field_cond *fc;
	uint32_t mods;        /* fc->mods; keywords are substrings unless anchored */
	uint32_t shared_atom; /* non-all items: one atom for every fast value */
	bool user;            /* Sigma "User": user.id by uid, user.name by name */
};

static struct term *new_term(struct item *it)
{
	struct term *t = realloc(it->terms, (size_t)(it->nterms + 1) * sizeof(*t));
	if (!t)
		return NULL;
	it->terms = t;
	t = &t[it->nterms++];
	memset(t, 0, sizeof(*t));
	return t;
}

/* uid text for a user name (this host's passwd), or NULL. */
static const char *user_uid(const char *name, char *buf, size_t cap)
{
	double d;
	if (number_parse(name, &d))
		return name;
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwnam_r(name, &pw, tmp, sizeof(tmp), &res) != 0 || !res)
		return NULL;
	snprintf(buf, cap, "%u", (unsigned)res->pw_uid);
	return buf;
}

/* The text a value is matched as on one field: Sigma's User names become
 * uids on user.id (exact values only); NULL when there is none. */
static const char *field_text(const struct build_item *bi, uint32_t field, const char *v, bool is_re, char *buf,
			      size_t cap)
{
	if (!bi->user || field != bi->fc->field_id)
		return v;
	if (is_re || (bi->mods & (MOD_CONTAINS | MOD_STARTSWITH | MOD_ENDSWITH | MOD_BASE64 |
				       MOD_BASE64OFFSET)) ||
	    strpbrk(v, "*?\\"))
		return v;
	return user_uid(v, buf, cap);
}

/* The regexes one value text stands for (three for base64offset). */
static int value_variants(const char *v, uint32_t mods, bool is_re, char *out[3])
{
	size_t n = strlen(v);
	int nv = 0;
	if (is_re) {
		out[nv++] = strdup(v);
		return out[0] ? nv : -1;
	}
	if (mods & (MOD_BASE64 | MOD_BASE64OFFSET)) {
		size_t cap = 4 * (n + 4) / 3 + 8;
		char *enc = malloc(cap);
		unsigned char *src = malloc(n + 3);
		if (!enc || !src) {
			free(enc);
			free(src);
			return -1;
		}
		if (mods & MOD_BASE64) {
			size_t l = base64_encode((const unsigned char *)v, n, enc, !(mods & MOD_CONTAINS));
			out[nv++] = literal_regex(enc, l, mods);
		} else {
			/* the three alignments a value can have inside a longer base64 text */
			static const int start[3] = {0, 2, 3}, endcut[3] = {0, 3, 2};
			for (int i = 0; i < 3; i++) {
				memset(src, ' ', (size_t)i);
				memcpy(src + i, v, n);
				size_t l = base64_encode(src, n + (size_t)i, enc, true);
				size_t cut = (size_t)endcut[(n + (size_t)i) % 3];
				size_t s = (size_t)start[i];
				if (l < s + cut + 1)
					continue;
				out[nv++] = literal_regex(enc + s, l - s - cut, mods);
			}
		}
		free(enc);
		free(src);
	} else {
		int kind;
		out[nv++] = value_regex(v, n, mods, true, &kind);
	}
	for (int i = 0; i < nv; i++)
		if (!out[i]) {
			for (int j = 0; j < nv; j++)
				free(out[j]);
			return -1;
		}
	return nv;
}

/* Adds the fast patterns of one value on each of the item's fields, all
 * setting the value's atom, and the term that reads it. */
static bool add_fast(struct build_item *bi, const char *v, unsigned flags, bool is_re)
{
	struct matcher *m = bi->m;
	struct item *it = bi->it;
	uint32_t mods = bi->mods;
	if (mods & (MOD_BASE64 | MOD_BASE64OFFSET))
		flags &= ~(unsigned)HS_FLAG_CASELESS; /* base64 is case-sensitive */
	uint32_t atom;
	if (it->all || bi->shared_atom == UINT32_MAX) {
		if (m->natoms == m->cap_atoms) {
			uint32_t cap = m->cap_atoms ? m->cap_atoms * 2 : 1024;
			struct atominfo *na = realloc(m->atoms, cap * sizeof(*na));
			if (!na)
				return false;
			m->atoms = na;
			m->cap_atoms = cap;
		}
		m->atoms[m->natoms] = (struct atominfo){UINT32_MAX, bi->rule, false};
		atom = m->natoms++;
		if (!it->all)
			bi->shared_atom = atom;
	} else {
		atom = bi->shared_atom;
	}
	/* strength: the literal characters of the value */
	uint32_t strength = 0;
	for (const char *c = v; *c; c++)
		strength += is_re ? (isalnum((unsigned char)*c) != 0) : (*c != '*' && *c != '?');
	if (strength < m->atoms[atom].strength)
		m->atoms[atom].strength = strength;
	int ntargets = it->keyword ? 1 : it->nfields;
	for (int f = 0; f < ntargets; f++) {
		uint32_t field = it->keyword ? UINT32_MAX : it->fields[f];
		char buf[32];
		const char *text = it->keyword ? v : field_text(bi, field, v, is_re, buf, sizeof(buf));
		if (!text)
			continue;
		char *vars[3];
		int nv = value_variants(text, mods, is_re, vars);
		if (nv < 0)
			return false;
		for (int i = 0; i < nv; i++)
			if (add_pat(m, vars[i], flags, atom, field, bi->rule)) {
				for (int j = i + 1; j < nv; j++)
					free(vars[j]);
				return false;
			}
	}
	for (int i = 0; i < it->nterms; i++)
		if (it->terms[i].kind == T_FAST && it->terms[i].atom == atom)
			return true;
	struct term *t = new_term(it);
	if (!t)
		return false;
	t->kind = T_FAST;
	t->atom = atom;
	return true;
}

static bool build_value(struct build_item *bi, const char *v)
{
	const struct field_cond *fc = bi->fc;
	uint32_t mods = bi->mods;
	struct term *t;
	char err[200];
	if (!v) {
		t = new_term(bi->it);
		if (!t)
			return false;
		t->kind = T_NULL;
		return true;
	}
	if (mods & MOD_EXISTS) {
		t = new_term(bi->it);
		if (!t)
			return false;
		t->kind = T_EXISTS;
		t->want = strcasecmp(v, "true") == 0;
		return true;
	}
	if (mods & MOD_CIDR) {
		t = new_term(bi->it);
		if (!t)
			return false;
		t->kind = T_CIDR;
		if (cidr_parse(v, &t->cidr))
			t->kind = T_NEVER;
		return true;
	}
	if (mods & (MOD_GT | MOD_GTE | MOD_LT | MOD_LTE)) {
		t = new_term(bi->it);
		if (!t)
			return false;
		t->kind = T_NUM;
		t->mods = mods & (MOD_GT | MOD_GTE | MOD_LT | MOD_LTE);
		if (!number_parse(v, &t->num))
			t->kind = T_NEVER;
		return true;
	}
	if (mods & MOD_FIELDREF) {
		t = new_term(bi->it);
		if (!t)
			return false;
		t->kind = T_FIELDREF;
		t->ref = vg_field_id(sigma_field_to_ecs(v, bi->mr->r->category));
		t->cased = (mods & MOD_CASED) != 0;
		t->mods = mods & (MOD_CONTAINS | MOD_STARTSWITH | MOD_ENDSWITH);
		return true;
	}
	unsigned flags = HS_FLAG_SINGLEMATCH;
	if (mods & MOD_RE) {
		if (mods & MOD_RE_I)
			flags |= HS_FLAG_CASELESS;
		if (mods & MOD_RE_M)
			flags |= HS_FLAG_MULTILINE;
		if (mods & MOD_RE_S)
			flags |= HS_FLAG_DOTALL;
		if (!hs_accepts(v, flags)) {
			t = new_term(bi->it);
			if (!t)
				return false;
			t->kind = T_PCRE;
			t->re = pcre_compile(v, flags, err, sizeof(err));
			if (!t->re) {
				berr(bi->m, bi->mr->r, fc->line, "bad regular expression '%s': %s", v, err);
				bi->mr->disabled = true;
			}
			return true;
		}
		return add_fast(bi, v, flags, true);
	}
	flags |= HS_FLAG_DOTALL;
	if (!(mods & MOD_CASED))
		flags |= HS_FLAG_CASELESS;
	if (!(mods & (MOD_BASE64 | MOD_BASE64OFFSET))) {
		/* values that need no pattern: '*', '' */
		int kind;
		char *re = value_regex(v, strlen(v), mods, true, &kind);
		free(re);
		if (kind != T_FAST) {
			t = new_term(bi->it);
			if (!t)
				return false;
			t->kind = (uint8_t)kind;
			return true;
		}
	}
	return add_fast(bi, v, flags, false);
}

static bool build_item(struct matcher *m, struct mrule *mr, int rule, struct item *it, const struct field_cond *fc)
{
	memset(it, 0, sizeof(*it));
	it->keyword = fc->keyword;
	it->all = (fc->mods & MOD_ALL) != 0;
	bool user = !fc->keyword && fc->field && strcasecmp(fc->field, "User") == 0;
	if (!fc->keyword) {
		it->fields[it->nfields++] = fc->field_id;
		if (user)
			it->fields[it->nfields++] = vg_field_id("user.name");
	}
	uint32_t mods = fc->mods;
	if (fc->keyword && !(mods & (MOD_STARTSWITH | MOD_ENDSWITH | MOD_RE)))
		mods |= MOD_CONTAINS;
	struct build_item bi = {m, mr, rule, it, fc, mods, UINT32_MAX, user};
	for (int v = 0; v < fc->nvalues; v++)
		if (!build_value(&bi, fc->values[v]))
			return false;
	return true;
}

/* ---- evaluation ------------------------------------------------------- */

enum { F = 0, T = 1, U = 2 }; /* Kleene logic for the "always" analysis */

static int and3(int a, int b)
{
	return (a == F || b == F) ? F : (a == T && b == T) ? T : U;
}

static int or3(int a, int b)
{
	return (a == T || b == T) ? T : (a == F && b == F) ? F : U;
}

static bool ip_parse(const char *s, struct cidr *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->addr) == 1) {
		ip->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, ip->addr) == 1) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(ip->addr, mapped, 12) == 0) {
			memmove(ip->addr, ip->addr + 12, 4);
			memset(ip->addr + 4, 0, 12);
			ip->family = AF_INET;
		} else {
			ip->family = AF_INET6;
		}
		return true;
	}
	return false;
}

static bool cidr_has(const struct cidr *net, const struct cidr *ip)
{
	if (net->family != ip->family)
		return false;
	int full = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, ip->addr, (size_t)full))
		return false;
	if (rest && (ip->addr[full] & (uint8_t)(0xFF << (8 - rest))) != net->addr[full])
		return false;
	return true;
}

static bool has_field(const struct item *it, uint32_t name)
{
	if (it->keyword)
		return true;
	for (int i = 0; i < it->nfields; i++)
		if (it->fields[i] == name)
			return true;
	return false;
}

static bool ref_match(const struct term *t, const char *a, size_t al, const char *b, size_t bl)
{
	int (*cmp)(const char *, const char *, size_t) = t->cased ? strncmp : strncasecmp;
	if (t->mods & MOD_CONTAINS) {
		if (bl > al)
			return false;
		for (size_t i = 0; i + bl <= al; i++)
			if (cmp(a + i, b, bl) == 0)
				return true;
		return false;
	}
	if (t->mods & MOD_STARTSWITH)
		return bl <= al && cmp(a, b, bl) == 0;
	if (t->mods & MOD_ENDSWITH)
		return bl <= al && cmp(a + al - bl, b, bl) == 0;
	return al == bl && cmp(a, b, al) == 0;
}

static bool slow_term(struct matcher *m, const struct item *it, const struct term *t)
{
	const struct vg_flat *ev = m->ev;
	bool present = false;
	for (int i = 0; i < ev->n; i++) {
		const struct vg_flat_field *f = &ev->f[i];
		if (!has_field(it, f->name))
			continue;
		present = true;
		switch (t->kind) {
		case T_NULL:
			if (f->len)
				return false;
			break;
		case T_PRESENT:
			return true;
		case T_EMPTY:
			if (!f->len)
				return true;
			break;
		case T_CIDR: {
			struct cidr ip;
			if (f->len < 64 && ip_parse(f->val, &ip) && cidr_has(&t->cidr, &ip))
				return true;
			break;
		}
		case T_NUM: {
			double d;
			if (!number_parse(f->val, &d))
				break;
			if (((t->mods & MOD_GT) && d > t->num) || ((t->mods & MOD_GTE) && d >= t->num) ||
			    ((t->mods & MOD_LT) && d < t->num) || ((t->mods & MOD_LTE) && d <= t->num))
				return true;
			break;
		}
		case T_FIELDREF:
			for (int j = 0; j < ev->n; j++)
				if (ev->f[j].name == t->ref &&
				    ref_match(t, f->val, f->len, ev->f[j].val, ev->f[j].len))
					return true;
			break;
		case T_PCRE:
			if (t->re && pcre2_match(t->re, (PCRE2_SPTR)f->val, f->len, 0, 0, m->md, NULL) >= 0)
				return true;
			break;
		default:
			break;
		}
	}
	if (t->kind == T_NULL)
		return true;
	if (t->kind == T_EXISTS)
		return present == t->want;
	return false;
}

static void lazy_scan(struct matcher *m, const struct item *it);

/* mode analysis: fast atoms are false, slow terms unknown. */
static int eval_item(struct matcher *m, const struct item *it, bool analysis)
{
	int acc = it->all ? T : F;
	bool scanned = analysis;
	for (int i = 0; i < it->nterms; i++) {
		const struct term *t = &it->terms[i];
		int v;
		if (t->kind == T_FAST && !scanned) {
			lazy_scan(m, it); /* before the first atom is read */
			scanned = true;
		}
		if (t->kind == T_FAST)
			v = analysis ? F : (m->atom_epoch[t->atom] == m->epoch ? T : F);
		else if (t->kind == T_NEVER)
			v = F;
		else
			v = analysis ? U : (slow_term(m, it, t) ? T : F);
		acc = it->all ? and3(acc, v) : or3(acc, v);
		if (!analysis && (it->all ? acc == F : acc == T))
			break;
	}
	return acc;
}

static int eval_sel(struct matcher *m, const struct mrule *mr, int s, bool analysis)
{
	uint32_t slot = mr->sel_base + (uint32_t)s;
	if (!analysis && m->sel_epoch[slot] == m->epoch)
		return m->sel_val[slot];
	const struct msel *ms = &mr->sels[s];
	int acc = F;
	for (int a = 0; a < ms->nalts && acc != T; a++) {
		int v = T;
		for (int i = 0; i < ms->alt_n[a] && v != F; i++)
			v = and3(v, eval_item(m, &mr->items[ms->alt_first[a] + i], analysis));
		acc = or3(acc, v);
	}
	if (!analysis) {
		m->sel_epoch[slot] = m->epoch;
		m->sel_val[slot] = (uint8_t)acc;
	}
	return acc;
}

static int eval_node(struct matcher *m, const struct mrule *mr, const struct cond_node *n, bool analysis)
{
	int a;
	switch (n->op) {
	case COND_SEL:
		return eval_sel(m, mr, n->sel, analysis);
	case COND_AND:
		a = eval_node(m, mr, n->a, analysis);
		return a == F ? F : and3(a, eval_node(m, mr, n->b, analysis));
	case COND_OR:
		a = eval_node(m, mr, n->a, analysis);
		return a == T ? T : or3(a, eval_node(m, mr, n->b, analysis));
	case COND_NOT:
		a = eval_node(m, mr, n->a, analysis);
		return a == U ? U : a == T ? F : T;
	case COND_ONE_OF:
		a = F;
		for (int i = 0; i < n->nsels && a != T; i++)
			a = or3(a, eval_sel(m, mr, n->sels[i], analysis));
		return a;
	case COND_ALL_OF:
		a = T;
		for (int i = 0; i < n->nsels && a != F; i++)
			a = and3(a, eval_sel(m, mr, n->sels[i], analysis));
		return a;
	}
	return F;
}

/* ---- databases -------------------------------------------------------- */

static void scanner_free(struct scanner *s)
{
	if (!s)
		return;
	hs_free_database(s->db);
	for (int i = 0; i < s->neager; i++)
		pcre2_code_free(s->eager[i].re);
	free(s->eager);
	free(s);
}

/* Compiles the patterns idx[0..n) into one scanner. A pattern Hyperscan
 * refuses in the database is run with PCRE2 instead. */
static struct scanner *scanner_build(struct matcher *m, const int *idx, int n)
{
	struct scanner *s = calloc(1, sizeof(*s));
	const char **exprs = calloc((size_t)n, sizeof(char *));
	unsigned *flags = calloc((size_t)n, sizeof(unsigned));
	unsigned *ids = calloc((size_t)n, sizeof(unsigned));
	int *live = calloc((size_t)n, sizeof(int));
	if (!s || !exprs || !flags || !ids || !live)
		goto oom;
	int nl = n;
	s->lazy = true;
	for (int i = 0; i < n; i++) {
		live[i] = idx[i];
		if (m->atoms[m->pats[idx[i]].atom].trigger)
			s->lazy = false;
	}
	while (nl > 0) {
		for (int i = 0; i < nl; i++) {
			exprs[i] = m->pats[live[i]].re;
			flags[i] = m->pats[live[i]].flags;
			ids[i] = (unsigned)live[i];
		}
		hs_compile_error_t *ce = NULL;
		if (hs_compile_multi(exprs, flags, ids, (unsigned)nl, HS_MODE_BLOCK, NULL, &s->db, &ce) ==
		    HS_SUCCESS)
			break;
		int bad = ce ? ce->expression : -1;
		hs_free_compile_error(ce);
		s->db = NULL;
		if (bad < 0 || bad >= nl)
			goto oom; /* not one pattern's fault: give up on this field */
		struct eager *ne = realloc(s->eager, (size_t)(s->neager + 1) * sizeof(*ne));
		if (!ne)
			goto oom;
		s->eager = ne;
		char err[200];
		const struct pat *p = &m->pats[live[bad]];
		pcre2_code *re = pcre_compile(p->re, p->flags, err, sizeof(err));
		if (re)
			s->eager[s->neager++] = (struct eager){re, (unsigned)live[bad]};
		else
			berr(m, m->rules[p->rule].r, 0, "pattern '%s' cannot be compiled: %s", p->re, err);
		live[bad] = live[--nl];
	}
	if (s->db && hs_alloc_scratch(s->db, &m->scratch) != HS_SUCCESS)
		goto oom;
	free(exprs);
	free(flags);
	free(ids);
	free(live);
	return s;
oom:
	free(exprs);
	free(flags);
	free(ids);
	free(live);
	scanner_free(s);
	return NULL;
}

static bool in_bucket(const struct matcher *m, const struct pat *p, int b)
{
	const struct mrule *mr = &m->rules[p->rule];
	return !mr->disabled && (mr->buckets >> b & 1);
}

static int cmp_field(const void *a, const void *b, void *ctx)
{
	const struct matcher *m = ctx;
	uint32_t fa = m->pats[*(const int *)a].field, fb = m->pats[*(const int *)b].field;
	return fa < fb ? -1 : fa > fb;
}

static bool bucket_build(struct matcher *m, int b)
{
	struct bucket *bk = &m->buckets[b];
	int *idx = calloc((size_t)m->npats + 1, sizeof(int));
	if (!idx)
		return false;
	int n = 0;
	uint32_t maxf = 0;
	for (int i = 0; i < m->npats; i++)
		if (in_bucket(m, &m->pats[i], b)) {
			idx[n++] = i;
			if (m->pats[i].field != UINT32_MAX && m->pats[i].field + 1 > maxf)
				maxf = m->pats[i].field + 1;
		}
	qsort_r(idx, (size_t)n, sizeof(int), cmp_field, m);
	bk->nfields = maxf;
	bk->by_field = calloc((size_t)maxf + 1, sizeof(*bk->by_field));
	if (!bk->by_field) {
		free(idx);
		return false;
	}
	bool ok = true;
	for (int i = 0; i < n && ok;) {
		int j = i;
		uint32_t f = m->pats[idx[i]].field;
		while (j < n && m->pats[idx[j]].field == f)
			j++;
		struct scanner *s = scanner_build(m, idx + i, j - i);
		if (!s)
			ok = false;
		else if (f == UINT32_MAX)
			(bk->keywords = s)->lazy = false; /* a keyword item reads every field */
		else
			bk->by_field[f] = s;
		i = j;
	}
	free(idx);
	/* rules evaluated for every event of the bucket */
	bk->always = calloc((size_t)m->nrules + 1, sizeof(int));
	if (!bk->always)
		return false;
	for (int r = 0; r < m->nrules; r++) {
		const struct mrule *mr = &m->rules[r];
		if (mr->disabled || !mr->always || !(mr->buckets >> b & 1))
			continue;
		bk->always[bk->nalways++] = r;
	}
	bk->used = true;
	return ok;
}

/* ---- public ------------------------------------------------------------ */

static void mrule_free(struct mrule *mr)
{
	for (int i = 0; mr->items && i < mr->nitems; i++) {
		for (int t = 0; t < mr->items[i].nterms; t++)
			if (mr->items[i].terms[t].re)
				pcre2_code_free(mr->items[i].terms[t].re);
		free(mr->items[i].terms);
	}
	free(mr->items);
	for (int s = 0; mr->sels && s < mr->r->nsels; s++) {
		free(mr->sels[s].alt_first);
		free(mr->sels[s].alt_n);
	}
	free(mr->sels);
}

void matcher_free(struct matcher *m)
{
	if (!m)
		return;
	for (int r = 0; m->rules && r < m->nrules; r++)
		mrule_free(&m->rules[r]);
	free(m->rules);
	for (int i = 0; i < m->npats; i++)
		free(m->pats[i].re);
	free(m->pats);
	for (int b = 0; m->buckets && b <= m->ncat; b++) {
		struct bucket *bk = &m->buckets[b];
		for (uint32_t f = 0; bk->by_field && f < bk->nfields; f++)
			scanner_free(bk->by_field[f]);
		free(bk->by_field);
		scanner_free(bk->keywords);
		free(bk->always);
	}
	free(m->buckets);
	hs_free_scratch(m->scratch);
	if (m->md)
		pcre2_match_data_free(m->md);
	free(m->atom_epoch);
	free(m->atoms);
	free(m->rule_epoch);
	free(m->sel_epoch);
	free(m->sel_val);
	free(m->cand);
	free(m->memo);
	free(m->field_epoch);
	free(m);
}

/* Buckets a rule without a logsource category can match in, from its
 * condition: when it can only be true for events whose event.action is in a
 * list of exact values, only the buckets of those actions' categories.
 * Such a rule would otherwise add its patterns to every bucket, and every
 * event would be scanned for them (8 rules of this kind cost each event
 * 20% more scanning and doubled the rules' compile time). */
static uint64_t sel_buckets(const struct selection *sel, uint64_t all)
{
	uint32_t action = action_id();
	uint64_t acc = 0;
	for (int a = 0; a < sel->nalts; a++) {
		uint64_t alt = all;
		for (int i = 0; i < sel->nconds[a]; i++) {
			const struct field_cond *fc = &sel->conds[a][i];
			if (fc->keyword || fc->field_id != action || (fc->mods & ~(uint32_t)MOD_CASED) || !fc->nvalues)
				continue;
			uint64_t vals = 0;
			for (int v = 0; v < fc->nvalues && vals != all; v++) {
				const char *val = fc->values[v];
				char low[64];
				size_t n = val ? strlen(val) : 0;
				int c = -1;
				/* a null, a wildcard or an unknown action: no narrowing */
				if (val && n < sizeof(low) && !strpbrk(val, "*?\\")) {
					for (size_t k = 0; k <= n; k++)
						low[k] = (char)tolower((unsigned char)val[k]);
					c = sigma_action_category_index(low, n);
				}
				vals |= c >= 0 && c < 63 ? 1ull << c : all;
			}
			alt &= vals;
		}
		acc |= alt;
	}
	return acc;
}

static uint64_t cond_buckets(const struct rule *r, const struct cond_node *n, uint64_t all)
{
	uint64_t acc;
	switch (n->op) {
	case COND_SEL:
		return sel_buckets(&r->sels[n->sel], all);
	case COND_AND:
		return cond_buckets(r, n->a, all) & cond_buckets(r, n->b, all);
	case COND_OR:
		return cond_buckets(r, n->a, all) | cond_buckets(r, n->b, all);
	case COND_ONE_OF:
		acc = 0;
		for (int i = 0; i < n->nsels; i++)
			acc |= sel_buckets(&r->sels[n->sels[i]], all);
		return acc;
	case COND_ALL_OF:
		acc = all;
		for (int i = 0; i < n->nsels; i++)
			acc &= sel_buckets(&r->sels[n->sels[i]], all);
		return acc;
	case COND_NOT:
		break;
	}
	return all;
}

/* Bit b set: the rule is evaluated for events of bucket b; bit ncat is the
 * bucket of events whose category has none of its own. */
static uint64_t rule_buckets(const struct matcher *m, const struct rule *r)
{
	if (r->product && strcasecmp(r->product, "linux"))
		return 0; /* another platform's rule */
	if (r->service && strcasecmp(r->service, "vigil"))
		return 0; /* auditd, syslog, ...: logs vigil does not read */
	uint64_t all = (m->ncat + 1 >= 64) ? ~0ull : (1ull << (m->ncat + 1)) - 1;
	if (!r->category)
		return r->cond ? cond_buckets(r, r->cond, all) : all;
	int i = sigma_category_index(r->category);
	return i < 0 || i >= 63 ? 0 : 1ull << i;
}

/* ---- triggers ---------------------------------------------------------- */

/* A set of atoms one of which must match for a (sub)condition to be true;
 * bottom when there is none (the condition can be true through slow terms
 * or negations). */
struct tset {
	uint32_t *a;
	int n;
	bool bottom;
	double cost; /* sum of the atoms' match likelihoods (estimated) */
};

static double atom_cost(const struct matcher *m, uint32_t a)
{
	uint32_t s = m->atoms[a].strength == UINT32_MAX ? 0 : m->atoms[a].strength;
	return 1.0 / (1.0 + (double)s);
}

static struct tset t_bottom(void)
{
	return (struct tset){NULL, 0, true, 0};
}

static struct tset t_atom(const struct matcher *m, uint32_t a)
{
	struct tset t = {malloc(sizeof(uint32_t)), 1, false, atom_cost(m, a)};
	if (!t.a)
		return t_bottom();
	t.a[0] = a;
	return t;
}

/* union, consuming both */
static struct tset t_union(struct tset x, struct tset y)
{
	if (x.bottom || y.bottom) {
		free(x.a);
		free(y.a);
		return t_bottom();
	}
	uint32_t *na = realloc(x.a, (size_t)(x.n + y.n + 1) * sizeof(uint32_t));
	if (!na) {
		free(x.a);
		free(y.a);
		return t_bottom();
	}
	memcpy(na + x.n, y.a, (size_t)y.n * sizeof(uint32_t));
	free(y.a);
	return (struct tset){na, x.n + y.n, false, x.cost + y.cost};
}

/* the better of two alternatives that are both necessary, consuming both */
static struct tset t_best(struct tset x, struct tset y)
{
	if (x.bottom || (!y.bottom && y.cost < x.cost)) {
		free(x.a);
		return y;
	}
	free(y.a);
	return x;
}

static struct tset trig_item(const struct matcher *m, const struct item *it)
{
	struct tset acc = it->all ? t_bottom() : (struct tset){NULL, 0, false, 0};
	for (int i = 0; i < it->nterms; i++) {
		const struct term *t = &it->terms[i];
		struct tset x;
		if (t->kind == T_FAST)
			x = t_atom(m, t->atom);
		else if (t->kind == T_NEVER)
			x = (struct tset){NULL, 0, false, 0};
		else
			x = t_bottom();
		acc = it->all ? t_best(acc, x) : t_union(acc, x);
	}
	return acc;
}

static struct tset trig_sel(const struct matcher *m, const struct mrule *mr, int s)
{
	const struct msel *ms = &mr->sels[s];
	struct tset acc = {NULL, 0, false, 0};
	for (int a = 0; a < ms->nalts; a++) {
		struct tset alt = t_bottom();
		for (int i = 0; i < ms->alt_n[a]; i++)
			alt = t_best(alt, trig_item(m, &mr->items[ms->alt_first[a] + i]));
		acc = t_union(acc, alt);
	}
	return acc;
}

static struct tset trig_node(const struct matcher *m, const struct mrule *mr, const struct cond_node *n)
{
	struct tset acc;
	switch (n->op) {
	case COND_SEL:
		return trig_sel(m, mr, n->sel);
	case COND_AND:
		return t_best(trig_node(m, mr, n->a), trig_node(m, mr, n->b));
	case COND_OR:
		return t_union(trig_node(m, mr, n->a), trig_node(m, mr, n->b));
	case COND_ONE_OF:
		acc = (struct tset){NULL, 0, false, 0};
		for (int i = 0; i < n->nsels; i++)
			acc = t_union(acc, trig_sel(m, mr, n->sels[i]));
		return acc;
	case COND_ALL_OF:
		acc = t_bottom();
		for (int i = 0; i < n->nsels; i++)
			acc = t_best(acc, trig_sel(m, mr, n->sels[i]));
		return acc;
	case COND_NOT:
		break;
	}
	return t_bottom();
}

/* Marks the atoms whose match makes the rule a candidate. */
static void set_triggers(struct matcher *m, const struct mrule *mr, int ri)
{
	struct tset t = trig_node(m, mr, mr->r->cond);
	if (t.bottom) {
		/* no necessary set found (e.g. `not not sel`): any atom of the rule */
		for (uint32_t a = 0; a < m->natoms; a++)
			if (m->atoms[a].rule == ri)
				m->atoms[a].trigger = true;
	} else {
		for (int i = 0; i < t.n; i++)
			m->atoms[t.a[i]].trigger = true;
	}
	free(t.a);
}

static bool build_rule(struct matcher *m, int ri, struct rule *r)
{
	struct mrule *mr = &m->rules[ri];
	mr->r = r;
	mr->buckets = r->corr ? 0 : rule_buckets(m, r);
	if (r->corr || !r->cond || !mr->buckets) {
		mr->disabled = true;
		mr->buckets = 0;
		return true;
	}
	int nitems = 0;
	for (int s = 0; s < r->nsels; s++)
		for (int a = 0; a < r->sels[s].nalts; a++)
			nitems += r->sels[s].nconds[a];
	mr->items = calloc((size_t)nitems + 1, sizeof(*mr->items));
	mr->sels = calloc((size_t)r->nsels + 1, sizeof(*mr->sels));
	if (!mr->items || !mr->sels)
		return false;
	mr->sel_base = m->nsels;
	m->nsels += (uint32_t)r->nsels;
	for (int s = 0; s < r->nsels; s++) {
		struct msel *ms = &mr->sels[s];
		const struct selection *sel = &r->sels[s];
		ms->nalts = sel->nalts;
		ms->alt_first = calloc((size_t)sel->nalts + 1, sizeof(int));
		ms->alt_n = calloc((size_t)sel->nalts + 1, sizeof(int));
		if (!ms->alt_first || !ms->alt_n)
			return false;
		for (int a = 0; a < sel->nalts; a++) {
			ms->alt_first[a] = mr->nitems;
			ms->alt_n[a] = sel->nconds[a];
			for (int i = 0; i < sel->nconds[a]; i++)
				if (!build_item(m, mr, ri, &mr->items[mr->nitems++], &sel->conds[a][i]))
					return false;
		}
	}
	mr->always = eval_node(m, mr, r->cond, true) != F;
	if (!mr->always)
		set_triggers(m, mr, ri);
	return true;
}

struct matcher *matcher_build(struct rule **rules, int n, struct strbuf *errs)
{
	struct matcher *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->errs = errs;
	m->nrules = n;
	m->rules = calloc((size_t)n + 1, sizeof(*m->rules));
	for (m->ncat = 0; sigma_categories[m->ncat]; m->ncat++)
		;
	m->buckets = calloc((size_t)m->ncat + 1, sizeof(*m->buckets));
	m->md = pcre2_match_data_create(1, NULL);
	if (!m->rules || !m->buckets || !m->md)
		goto oom;
	for (int i = 0; i < n; i++)
		if (!build_rule(m, i, rules[i]))
			goto oom;
	/* a bucket per category that has rules of its own; events of the
	 * others share the last one (rules that can match any event) */
	uint64_t has = 0;
	for (int i = 0; i < n; i++)
		if (!m->rules[i].disabled)
			has |= m->rules[i].buckets;
	for (int b = 0; b < m->ncat; b++)
		if ((has >> b & 1) && !bucket_build(m, b))
			goto oom;
	/* the default bucket */
	if (!bucket_build(m, m->ncat))
		goto oom;
	m->atom_epoch = calloc(m->natoms + 1, sizeof(uint32_t));
	m->rule_epoch = calloc((size_t)n + 1, sizeof(uint32_t));
	m->sel_epoch = calloc(m->nsels + 1, sizeof(uint32_t));
	m->sel_val = calloc(m->nsels + 1, 1);
	m->cand = calloc((size_t)n + 1, sizeof(int));
	m->memo = calloc(MEMO_SLOTS, sizeof(*m->memo));
	for (int b = 0; b <= m->ncat; b++)
		if (m->buckets[b].nfields > m->max_fields)
			m->max_fields = m->buckets[b].nfields;
	m->field_epoch = calloc(m->max_fields + 1, sizeof(uint32_t));
	if (!m->atom_epoch || !m->rule_epoch || !m->sel_epoch || !m->sel_val || !m->cand || !m->memo ||
	    !m->field_epoch)
		goto oom;
	if (!m->scratch) {
		/* no database at all: nothing to scan, but keep the API happy */
	}
	m->errs = NULL;
	return m;
oom:
	if (errs)
		sb_puts(errs, "matcher: out of memory or Hyperscan failure\n");
	matcher_free(m);
	return NULL;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		    void *ctx)
{
	(void)from;
	(void)to;
	(void)flags;
	struct matcher *m = ctx;
	const struct pat *p = &m->pats[id];
	if (m->rec) {
		if (m->rec->nids < MEMO_IDS)
			m->rec->ids[m->rec->nids] = id;
		m->rec->nids++; /* past MEMO_IDS: not kept */
	}
	m->atom_epoch[p->atom] = m->epoch;
	if (m->atoms[p->atom].trigger && m->rule_epoch[p->rule] != m->epoch) {
		m->rule_epoch[p->rule] = m->epoch;
		m->cand[m->ncand++] = p->rule;
	}
	return 0;
}

/* The memo slot of a value: its length and three 8-byte samples (start,
 * middle, end), not every byte. memcmp decides equality, so values that
 * share a slot only cost a miss; constant time keeps long command lines
 * as cheap as short actions. */
static uint64_t memo_hash(const struct scanner *s, const char *p, size_t n)
{
	uint64_t h = ((uint64_t)(uintptr_t)s ^ n) * 0x9E3779B97F4A7C15ULL;
	uint64_t a, b, c;
	if (n >= 8) {
		memcpy(&a, p, 8);
		memcpy(&b, p + (n - 8) / 2, 8);
		memcpy(&c, p + n - 8, 8);
	} else {
		uint32_t x = 0, y = 0;
		if (n >= 4) {
			memcpy(&x, p, 4);
			memcpy(&y, p + n - 4, 4);
		} else if (n) {
			x = (uint8_t)p[0] | (uint32_t)(uint8_t)p[n / 2] << 8 | (uint32_t)(uint8_t)p[n - 1] << 16;
		}
		a = x;
		b = y;
		c = 0;
	}
	h = (h ^ a) * 0xff51afd7ed558ccdULL;
	h ^= (b * 0xc4ceb9fe1a85ec53ULL) ^ (c * 0x94d049bb133111ebULL);
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 31);
}

static void scan(struct matcher *m, const struct scanner *s, const struct vg_flat_field *f)
{
	struct memo *me = NULL;
	if (f->len <= MEMO_VAL_MAX) {
		uint64_t h = memo_hash(s, f->val, f->len);
		me = &m->memo[h & (MEMO_SLOTS - 1)];
		if (me->s == s && me->hash == h && me->len == f->len && memcmp(me->val, f->val, f->len) == 0) {
			for (uint32_t i = 0; i < me->nids; i++)
				on_match(me->ids[i], 0, 0, 0, m);
			return;
		}
		me->s = NULL; /* refilled below */
		me->hash = h;
		me->len = f->len;
		me->nids = 0;
		m->rec = me;
	}
	bool ok = !s->db || hs_scan(s->db, f->val, f->len, 0, m->scratch, on_match, m) == HS_SUCCESS;
	for (int i = 0; i < s->neager; i++)
		if (pcre2_match(s->eager[i].re, (PCRE2_SPTR)f->val, f->len, 0, 0, m->md, NULL) >= 0)
			on_match(s->eager[i].id, 0, 0, 0, m);
	m->rec = NULL;
	if (me && ok && me->nids <= MEMO_IDS) {
		memcpy(me->val, f->val, f->len);
		me->s = s;
	}
}

/* Scans the item's lazy fields, once per event. Their patterns set no
 * trigger atom, so this never adds a candidate while candidates are being
 * evaluated; it only fills in the atoms the item is about to read. */
static void lazy_scan(struct matcher *m, const struct item *it)
{
	const struct bucket *bk = m->bk;
	if (!bk || it->keyword)
		return;
	for (int k = 0; k < it->nfields; k++) {
		uint32_t f = it->fields[k];
		if (f >= bk->nfields || !bk->by_field[f] || !bk->by_field[f]->lazy || m->field_epoch[f] == m->epoch)
			continue;
		m->field_epoch[f] = m->epoch;
		for (int i = 0; i < m->nlazy; i++)
			if (m->ev->f[m->lazy_at[i]].name == f)
				scan(m, bk->by_field[f], &m->ev->f[m->lazy_at[i]]);
	}
}

void matcher_run(struct matcher *m, const struct vg_flat *ev, void (*hit)(void *ctx, struct rule *r), void *ctx)
{
	if (!m)
		return;
	if (++m->epoch == 0) {
		memset(m->atom_epoch, 0, m->natoms * sizeof(uint32_t));
		memset(m->rule_epoch, 0, (size_t)m->nrules * sizeof(uint32_t));
		memset(m->sel_epoch, 0, m->nsels * sizeof(uint32_t));
		memset(m->field_epoch, 0, m->max_fields * sizeof(uint32_t));
		m->epoch = 1;
	}
	int c = event_cat_index(ev);
	const struct bucket *bk = (c >= 0 && m->buckets[c].used) ? &m->buckets[c] : &m->buckets[m->ncat];
	if (!bk->nfields && !bk->keywords && !bk->nalways)
		return; /* no rule can match an event of this category */
	m->ev = ev;
	m->bk = bk;
	m->ncand = 0;
	/* most fields have no database: keep the loop to a load and a test */
	struct scanner *const *by_field = bk->by_field;
	uint32_t nfields = bk->nfields;
	m->nlazy = 0;
	for (int i = 0; i < ev->n && i < VG_FLAT_MAX; i++) {
		uint32_t name = ev->f[i].name;
		if (name >= nfields || !by_field[name])
			continue;
		if (by_field[name]->lazy)
			m->lazy_at[m->nlazy++] = (uint16_t)i;
		else
			scan(m, by_field[name], &ev->f[i]);
	}
	if (bk->keywords)
		for (int i = 0; i < ev->n; i++)
			scan(m, bk->keywords, &ev->f[i]);
	for (int i = 0; i < bk->nalways; i++) {
		int r = bk->always[i];
		if (m->rule_epoch[r] != m->epoch) {
			m->rule_epoch[r] = m->epoch;
			m->cand[m->ncand++] = r;
		}
	}
	/* in rule order, so that output does not depend on pattern order */
	for (int i = 1; i < m->ncand; i++) {
		int v = m->cand[i], j = i;
		while (j > 0 && m->cand[j - 1] > v) {
			m->cand[j] = m->cand[j - 1];
			j--;
		}
		m->cand[j] = v;
	}
	for (int i = 0; i < m->ncand; i++) {
		struct mrule *mr = &m->rules[m->cand[i]];
		if (eval_node(m, mr, mr->r->cond, false) == T)
			hit(ctx, mr->r);
	}
	m->ev = NULL;
	m->bk = NULL;
}
