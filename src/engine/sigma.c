/* The Sigma rule parser: YAML (libyaml's document API, so that every node
 * knows its line) into struct rule. Detection rules and correlation rules
 * (Sigma specification 2.x), several documents per file, plus vigil's
 * extension `vigil: {response, score, signal}`. A malformed rule is
 * reported as one "FILE:LINE: reason" line and skipped. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include "rule.h"
#include "sigma_int.h"

#define MAX_VALUES_PER_RULE 100000
#define MAX_VALUE_LEN 65536

struct ctx {
	yaml_document_t *doc;
	const char *file;
	struct strbuf *errs;
	struct rule *r;
	bool failed;
	long nvalues;
	const yaml_node_t *category_node;
};

static void fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	if (c->failed)
		return;
	c->failed = true;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line, whatever the reason quoted */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	sb_printf(c->errs, "%s:%lu: %s\n", c->file, n ? (unsigned long)n->start_mark.line + 1 : 1UL, msg);
}

static yaml_node_t *get(struct ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static bool is_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = sval(n);
	return !*s || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL") || !strcmp(s, "~");
}

static bool key_is(const yaml_node_t *k, const char *name)
{
	return is_scalar(k) && strcmp(sval(k), name) == 0;
}

/* Iterates a map's pairs with kn/vn (declared by the caller) set. */
#define FOR_PAIRS(c, map, it, kn, vn)                                                           \
	for (yaml_node_pair_t *it = (map)->data.mapping.pairs.start;                             \
	     it < (map)->data.mapping.pairs.top && ((kn = get(c, it->key)), (vn = get(c, it->value)), 1); \
	     it++)

static int seq_len(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_at(struct ctx *c, const yaml_node_t *n, int i)
{
	return get(c, n->data.sequence.items.start[i]);
}

static char *xstrdup(struct ctx *c, const yaml_node_t *n, const char *s)
{
	char *d = strdup(s);
	if (!d)
		fail(c, n, "out of memory");
	return d;
}

/* A scalar string into *out (replacing nothing: duplicate keys fail). */
static void get_str(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, char **out)
{
	if (*out) {
		fail(c, k, "duplicate key '%s'", sval(k));
		return;
	}
	if (!is_scalar(v) || is_null(v)) {
		fail(c, v ? v : k, "'%s' must be a string", sval(k));
		return;
	}
	*out = xstrdup(c, v, sval(v));
}

/* A string or a list of strings. */
static void get_str_list(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, char ***out, int *n)
{
	if (*out) {
		fail(c, k, "duplicate key '%s'", sval(k));
		return;
	}
	if (is_null(v))
		return;
	if (is_scalar(v)) {
		*out = calloc(1, sizeof(char *));
		if (!*out)
			return fail(c, v, "out of memory");
		(*out)[0] = xstrdup(c, v, sval(v));
		*n = 1;
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE)
		return fail(c, v, "'%s' must be a string or a list of strings", sval(k));
	int len = seq_len(v);
	*out = calloc((size_t)len + 1, sizeof(char *));
	if (!*out)
		return fail(c, v, "out of memory");
	for (int i = 0; i < len && !c->failed; i++) {
		yaml_node_t *it = seq_at(c, v, i);
		if (!is_scalar(it) || is_null(it))
			return fail(c, it ? it : v, "'%s' must be a list of strings", sval(k));
		(*out)[i] = xstrdup(c, it, sval(it));
		*n = i + 1;
	}
}

static bool get_bool(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, bool *out)
{
	if (is_scalar(v)) {
		const char *s = sval(v);
		if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) {
			*out = true;
			return true;
		}
		if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) {
			*out = false;
			return true;
		}
	}
	fail(c, v ? v : k, "'%s' must be true or false", sval(k));
	return false;
}

static bool get_int(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, long min, long max, long *out)
{
	if (is_scalar(v)) {
		char *end;
		errno = 0;
		long x = strtol(sval(v), &end, 10);
		if (*sval(v) && !*end && errno == 0 && x >= min && x <= max) {
			*out = x;
			return true;
		}
	}
	fail(c, v ? v : k, "'%s' must be an integer from %ld to %ld", sval(k), min, max);
	return false;
}

/* ---- freeing ----------------------------------------------------------- */

static void free_strs(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_cond(struct field_cond *fc)
{
	free(fc->field);
	free_strs(fc->values, fc->nvalues);
	memset(fc, 0, sizeof(*fc));
}

static void free_sel(struct selection *s)
{
	free(s->name);
	for (int a = 0; a < s->nalts; a++) {
		if (s->conds) {
			for (int i = 0; s->conds[a] && i < s->nconds[a]; i++)
				free_cond(&s->conds[a][i]);
			free(s->conds[a]);
		}
	}
	free(s->conds);
	free(s->nconds);
}

static void free_corr(struct correlation *co)
{
	if (!co)
		return;
	free_strs(co->rules, co->nrules);
	free(co->resolved);
	free_strs(co->group_by, co->ngroup);
	free(co->group_ids);
	free(co->value_field);
	for (int a = 0; a < co->naliases; a++) {
		free(co->alias_names[a]);
		if (co->alias_fields)
			free_strs(co->alias_fields[a], co->nrules);
	}
	free(co->alias_names);
	free(co->alias_fields);
	free(co);
}

void rule_free(struct rule *r)
{
	if (!r)
		return;
	free(r->file);
	free(r->id);
	free(r->name);
	free(r->title);
	free(r->description);
	free(r->status);
	free(r->author);
	free_strs(r->tags, r->ntags);
	free(r->product);
	free(r->category);
	free(r->service);
	free_strs(r->falsepositives, r->nfalsepositives);
	for (int i = 0; r->sels && i < r->nsels; i++)
		free_sel(&r->sels[i]);
	free(r->sels);
	cond_free(r->cond);
	free(r->cond_text);
	free_corr(r->corr);
	free(r->response);
	free(r);
}

const char *level_name(enum level l)
{
	switch (l) {
	case LEVEL_INFORMATIONAL: return "informational";
	case LEVEL_LOW: return "low";
	case LEVEL_MEDIUM: return "medium";
	case LEVEL_HIGH: return "high";
	case LEVEL_CRITICAL: return "critical";
	}
	return "?";
}

/* ---- detection ------------------------------------------------------- */

static const struct {
	const char *name;
	uint32_t bit;
} modifiers[] = {
	{"contains", MOD_CONTAINS}, {"startswith", MOD_STARTSWITH}, {"endswith", MOD_ENDSWITH},
	{"all", MOD_ALL}, {"re", MOD_RE}, {"i", MOD_RE_I}, {"ignorecase", MOD_RE_I},
	{"m", MOD_RE_M}, {"multiline", MOD_RE_M}, {"s", MOD_RE_S}, {"dotall", MOD_RE_S},
	{"cidr", MOD_CIDR}, {"base64", MOD_BASE64}, {"base64offset", MOD_BASE64OFFSET},
	{"exists", MOD_EXISTS}, {"fieldref", MOD_FIELDREF}, {"gt", MOD_GT}, {"gte", MOD_GTE},
	{"lt", MOD_LT}, {"lte", MOD_LTE}, {"cased", MOD_CASED}, {"windash", MOD_WINDASH},
};

static const char *mod_name(uint32_t bit)
{
	for (size_t i = 0; i < sizeof(modifiers) / sizeof(modifiers[0]); i++)
		if (modifiers[i].bit == bit)
			return modifiers[i].name;
	return "?";
}

static int popcount(uint32_t x)
{
	return __builtin_popcount(x);
}

/* The first modifier of set in mods, for messages. */
static const char *first_mod(uint32_t mods, uint32_t set)
{
	uint32_t m = mods & set;
	return m ? mod_name(m & -m) : "?";
}

/* Checks a modifier combination; returns false after reporting. */
static bool check_mods(struct ctx *c, const yaml_node_t *k, const char *field, uint32_t mods, bool keyword)
{
	const uint32_t pos = MOD_CONTAINS | MOD_STARTSWITH | MOD_ENDSWITH;
	const uint32_t num = MOD_GT | MOD_GTE | MOD_LT | MOD_LTE;
	const uint32_t resub = MOD_RE_I | MOD_RE_M | MOD_RE_S;
	const uint32_t strx = pos | MOD_BASE64 | MOD_BASE64OFFSET | MOD_WINDASH;
	if (popcount(mods & pos) > 1) {
		fail(c, k, "'%s': modifiers contains, startswith and endswith exclude each other", field);
		return false;
	}
	if ((mods & resub) && !(mods & MOD_RE)) {
		fail(c, k, "'%s': modifier '%s' is only valid after 're'", field, first_mod(mods, resub));
		return false;
	}
	if ((mods & MOD_RE) && (mods & (strx | MOD_CIDR | num | MOD_EXISTS | MOD_FIELDREF))) {
		fail(c, k, "'%s': modifier 're' cannot be combined with '%s'", field,
		     first_mod(mods, strx | MOD_CIDR | num | MOD_EXISTS | MOD_FIELDREF));
		return false;
	}
	if ((mods & MOD_BASE64) && (mods & MOD_BASE64OFFSET)) {
		fail(c, k, "'%s': modifiers base64 and base64offset exclude each other", field);
		return false;
	}
	if ((mods & MOD_CIDR) && (mods & (strx | num | MOD_EXISTS | MOD_FIELDREF | MOD_CASED))) {
		fail(c, k, "'%s': modifier 'cidr' cannot be combined with '%s'", field,
		     first_mod(mods, strx | num | MOD_EXISTS | MOD_FIELDREF | MOD_CASED));
		return false;
	}
	if (popcount(mods & num) > 1 || ((mods & num) && (mods & (strx | MOD_EXISTS | MOD_FIELDREF | MOD_CASED)))) {
		fail(c, k, "'%s': a numeric comparison (gt, gte, lt, lte) takes no other modifier", field);
		return false;
	}
	if ((mods & MOD_EXISTS) && (mods & ~MOD_EXISTS)) {
		fail(c, k, "'%s': modifier 'exists' takes no other modifier", field);
		return false;
	}
	if ((mods & MOD_FIELDREF) && (mods & (MOD_BASE64 | MOD_BASE64OFFSET | MOD_WINDASH))) {
		fail(c, k, "'%s': modifier 'fieldref' cannot be combined with '%s'", field,
		     first_mod(mods, MOD_BASE64 | MOD_BASE64OFFSET | MOD_WINDASH));
		return false;
	}
	if (keyword && (mods & (MOD_EXISTS | MOD_FIELDREF | MOD_CIDR | num))) {
		fail(c, k, "keywords cannot take modifier '%s'",
		     first_mod(mods, MOD_EXISTS | MOD_FIELDREF | MOD_CIDR | num));
		return false;
	}
	return true;
}

/* Splits "Field|mod|mod" into the field (malloc'd; "" for keywords) and
 * the modifier bits. */
static char *parse_key(struct ctx *c, const yaml_node_t *k, uint32_t *mods)
{
	const char *key = sval(k);
	const char *bar = strchr(key, '|');
	size_t fl = bar ? (size_t)(bar - key) : strlen(key);
	char *field = strndup(key, fl);
	if (!field) {
		fail(c, k, "out of memory");
		return NULL;
	}
	*mods = 0;
	while (bar) {
		const char *m = bar + 1;
		bar = strchr(m, '|');
		size_t ml = bar ? (size_t)(bar - m) : strlen(m);
		uint32_t bit = 0;
		for (size_t i = 0; i < sizeof(modifiers) / sizeof(modifiers[0]); i++)
			if (strlen(modifiers[i].name) == ml && strncmp(modifiers[i].name, m, ml) == 0)
				bit = modifiers[i].bit;
		if (!bit) {
			static const char *unsupported[] = {"wide", "utf16", "utf16le", "utf16be", "expand",
							    NULL};
			bool known = false;
			for (int i = 0; unsupported[i]; i++)
				if (strlen(unsupported[i]) == ml && strncmp(unsupported[i], m, ml) == 0)
					known = true;
			fail(c, k, "%s modifier '%.*s' in '%s'", known ? "unsupported" : "unknown", (int)ml, m,
			     key);
			free(field);
			return NULL;
		}
		if (*mods & bit) {
			fail(c, k, "modifier '%.*s' repeated in '%s'", (int)ml, m, key);
			free(field);
			return NULL;
		}
		*mods |= bit;
	}
	if (*mods & MOD_BASE64OFFSET)
		*mods |= MOD_CONTAINS; /* the only way base64offset makes sense */
	return field;
}

/* Checks one value against the modifiers (numbers, CIDRs, regexes). */
static bool check_value(struct ctx *c, const yaml_node_t *n, const char *field, uint32_t mods, const char *v)
{
	if (!v)
		return true;
	if (strlen(v) > MAX_VALUE_LEN) {
		fail(c, n, "'%s': value too long", field);
		return false;
	}
	if (mods & (MOD_GT | MOD_GTE | MOD_LT | MOD_LTE)) {
		double d;
		if (!number_parse(v, &d)) {
			fail(c, n, "'%s|%s': '%s' is not a number", field,
			     first_mod(mods, MOD_GT | MOD_GTE | MOD_LT | MOD_LTE), v);
			return false;
		}
	}
	if (mods & MOD_CIDR) {
		struct cidr cd;
		if (cidr_parse(v, &cd)) {
			fail(c, n, "'%s|cidr': '%s' is not an IPv4 or IPv6 network", field, v);
			return false;
		}
	}
	if (mods & MOD_EXISTS) {
		if (strcasecmp(v, "true") && strcasecmp(v, "false")) {
			fail(c, n, "'%s|exists' must be true or false", field);
			return false;
		}
	}
	if (mods & MOD_FIELDREF) {
		if (!*v) {
			fail(c, n, "'%s|fieldref' needs a field name", field);
			return false;
		}
	}
	if (mods & MOD_RE) {
		int ec;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			fail(c, n, "'%s|re': bad regular expression '%s': %s at offset %zu", field, v,
			     (const char *)msg, (size_t)off);
			return false;
		}
		pcre2_code_free(re);
	}
	return true;
}

static char *map_value(struct ctx *c, const yaml_node_t *n, const char *field, const char *v)
{
	char buf[256];
	const char *m = sigma_value_to_ecs(field, v, buf, sizeof(buf));
	return xstrdup(c, n, m);
}

/* One `field|mods: value(s)` (or keyword list when field is "") into fc
 * (zeroed); takes field. */
static bool parse_field_cond(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, char *field,
			     uint32_t mods, bool keyword, struct field_cond *fc)
{
	fc->field = keyword ? NULL : field;
	if (keyword)
		free(field);
	fc->keyword = keyword;
	fc->mods = mods;
	fc->line = (int)k->start_mark.line + 1;
	const char *fname = keyword ? "keywords" : fc->field;
	if (!keyword) {
		const char *ecs = sigma_field_to_ecs(fc->field, c->r->category);
		fc->field_id = vg_field_id(ecs);
	} else {
		fc->field_id = UINT32_MAX;
	}
	if (!check_mods(c, k, fname, mods, keyword)) {
		free_cond(fc);
		return false;
	}
	int n = 1;
	if (v && v->type == YAML_SEQUENCE_NODE) {
		n = seq_len(v);
		if (n == 0) {
			fail(c, v, "'%s': empty list of values", fname);
			free_cond(fc);
			return false;
		}
	} else if (v && v->type == YAML_MAPPING_NODE) {
		fail(c, v, "'%s': expected a value or a list of values, not a map", fname);
		free_cond(fc);
		return false;
	}
	c->nvalues += n;
	if (c->nvalues > MAX_VALUES_PER_RULE) {
		fail(c, v, "too many values in one rule");
		free_cond(fc);
		return false;
	}
	fc->values = calloc((size_t)n, sizeof(char *));
	if (!fc->values) {
		fail(c, k, "out of memory");
		free_cond(fc);
		return false;
	}
	for (int i = 0; i < n; i++) {
		const yaml_node_t *it = (v && v->type == YAML_SEQUENCE_NODE) ? seq_at(c, v, i) : v;
		fc->nvalues = i + 1;
		if (it && it->type != YAML_SCALAR_NODE) {
			fail(c, it, "'%s': a value list holds plain values only", fname);
			break;
		}
		if (is_null(it)) {
			if (keyword) {
				fail(c, it ? it : k, "keywords cannot be null");
				break;
			}
			if (mods & ~(MOD_ALL | MOD_CASED)) {
				fail(c, it ? it : k, "'%s': null cannot take modifier '%s'", fname,
				     first_mod(mods, ~(MOD_ALL | MOD_CASED)));
				break;
			}
			continue; /* NULL */
		}
		if (!check_value(c, it, fname, mods, sval(it)))
			break;
		fc->values[i] = keyword ? xstrdup(c, it, sval(it)) : map_value(c, it, fc->field, sval(it));
		if (!fc->values[i])
			break;
	}
	if (!c->failed && (mods & MOD_EXISTS) && fc->nvalues != 1) {
		fail(c, k, "'%s|exists' takes one value", fname);
	}
	if (c->failed) {
		free_cond(fc);
		return false;
	}
	return true;
}

/* A map of field conditions (all must hold). */
static bool parse_cond_map(struct ctx *c, const yaml_node_t *m, const char *sel, struct field_cond **out, int *n)
{
	int len = (int)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
	if (len == 0) {
		fail(c, m, "selection '%s' is empty", sel);
		return false;
	}
	*out = calloc((size_t)len, sizeof(**out));
	if (!*out) {
		fail(c, m, "out of memory");
		return false;
	}
	*n = 0;
	yaml_node_t *k, *v;
	FOR_PAIRS(c, m, it1, k, v)
	{
		if (c->failed)
			break;
		if (!is_scalar(k) || is_null(k)) {
			fail(c, k, "selection '%s': field names must be strings", sel);
			break;
		}
		uint32_t mods;
		char *field = parse_key(c, k, &mods);
		if (!field)
			break;
		bool keyword = field[0] == 0;
		if (!parse_field_cond(c, k, v, field, mods, keyword, &(*out)[*n]))
			break;
		(*n)++;
	}
	return !c->failed;
}

static bool alloc_alts(struct ctx *c, const yaml_node_t *n, struct selection *s, int nalts)
{
	s->nalts = nalts;
	s->nconds = calloc((size_t)nalts, sizeof(int));
	s->conds = calloc((size_t)nalts, sizeof(*s->conds));
	if (!s->nconds || !s->conds) {
		fail(c, n, "out of memory");
		return false;
	}
	return true;
}

static bool parse_selection(struct ctx *c, const yaml_node_t *k, const yaml_node_t *v, struct selection *s)
{
	const char *name = sval(k);
	s->name = xstrdup(c, k, name);
	s->line = (int)k->start_mark.line + 1;
	if (!s->name)
		return false;
	if (is_null(v)) {
		fail(c, k, "selection '%s' is empty", name);
		return false;
	}
	if (v->type == YAML_MAPPING_NODE) {
		if (!alloc_alts(c, v, s, 1))
			return false;
		return parse_cond_map(c, v, name, &s->conds[0], &s->nconds[0]);
	}
	if (v->type == YAML_SCALAR_NODE || v->type == YAML_SEQUENCE_NODE) {
		int len = v->type == YAML_SEQUENCE_NODE ? seq_len(v) : 1;
		if (len == 0) {
			fail(c, v, "selection '%s' is empty", name);
			return false;
		}
		int nmaps = 0;
		for (int i = 0; v->type == YAML_SEQUENCE_NODE && i < len; i++) {
			yaml_node_t *it = seq_at(c, v, i);
			if (it && it->type == YAML_MAPPING_NODE)
				nmaps++;
			else if (it && it->type == YAML_SEQUENCE_NODE) {
				fail(c, it, "selection '%s': nested lists are not allowed", name);
				return false;
			}
		}
		if (nmaps && nmaps != len) {
			fail(c, v, "selection '%s' mixes maps and plain values", name);
			return false;
		}
		if (nmaps) {
			if (!alloc_alts(c, v, s, len))
				return false;
			for (int i = 0; i < len; i++)
				if (!parse_cond_map(c, seq_at(c, v, i), name, &s->conds[i], &s->nconds[i]))
					return false;
			return true;
		}
		/* keywords */
		if (!alloc_alts(c, v, s, 1))
			return false;
		s->conds[0] = calloc(1, sizeof(struct field_cond));
		if (!s->conds[0]) {
			fail(c, v, "out of memory");
			return false;
		}
		char *empty = strdup("");
		if (!empty) {
			fail(c, v, "out of memory");
			return false;
		}
		if (!parse_field_cond(c, k, v, empty, 0, true, &s->conds[0][0]))
			return false;
		s->nconds[0] = 1;
		return true;
	}
	fail(c, v, "selection '%s' must be a map, a list of maps or a list of keywords", name);
	return false;
}

static void parse_detection(struct ctx *c, const yaml_node_t *dk, const yaml_node_t *d)
{
	struct rule *r = c->r;
	if (d->type != YAML_MAPPING_NODE)
		return fail(c, d, "'detection' must be a map");
	int len = (int)(d->data.mapping.pairs.top - d->data.mapping.pairs.start);
	r->sels = calloc((size_t)len + 1, sizeof(*r->sels));
	if (!r->sels)
		return fail(c, d, "out of memory");
	const yaml_node_t *condn = NULL, *condk = NULL;
	yaml_node_t *k, *v;
	FOR_PAIRS(c, d, it2, k, v)
	{
		if (c->failed)
			return;
		if (!is_scalar(k) || is_null(k))
			return fail(c, k, "detection keys must be strings");
		if (key_is(k, "condition")) {
			if (condn)
				return fail(c, k, "duplicate key 'condition'");
			condn = v;
			condk = k;
			continue;
		}
		if (key_is(k, "timeframe"))
			continue; /* Sigma 1.x aggregations only; correlations use timespan */
		for (int i = 0; i < r->nsels; i++)
			if (strcmp(r->sels[i].name, sval(k)) == 0)
				return fail(c, k, "duplicate selection '%s'", sval(k));
		struct selection *s = &r->sels[r->nsels++];
		if (!parse_selection(c, k, v, s))
			return;
	}
	if (!condn)
		return fail(c, dk, "missing detection condition");
	if (r->nsels == 0)
		return fail(c, dk, "detection has no selection");
	int nconds = 1;
	if (condn->type == YAML_SEQUENCE_NODE) {
		nconds = seq_len(condn);
		if (nconds == 0)
			return fail(c, condn, "empty condition list");
	} else if (!is_scalar(condn) || is_null(condn)) {
		return fail(c, condn ? condn : condk, "condition must be a string or a list of strings");
	}
	struct strbuf text;
	sb_init(&text);
	for (int i = 0; i < nconds; i++) {
		const yaml_node_t *it = condn->type == YAML_SEQUENCE_NODE ? seq_at(c, condn, i) : condn;
		if (!is_scalar(it) || is_null(it)) {
			fail(c, it ? it : condn, "condition must be a string or a list of strings");
			break;
		}
		char err[300];
		struct cond_node *cn = cond_parse(sval(it), r, err, sizeof(err));
		if (!cn) {
			fail(c, it, "%s", err);
			break;
		}
		if (nconds > 1)
			sb_printf(&text, "%s(%s)", i ? " or " : "", sval(it));
		else
			sb_puts(&text, sval(it));
		if (!r->cond) {
			r->cond = cn;
		} else {
			struct cond_node *o = calloc(1, sizeof(*o));
			if (!o) {
				cond_free(cn);
				fail(c, it, "out of memory");
				break;
			}
			o->op = COND_OR;
			o->sel = -1;
			o->a = r->cond;
			o->b = cn;
			r->cond = o;
		}
	}
	if (!c->failed) {
		r->cond_text = text.buf ? text.buf : strdup("");
		text.buf = NULL;
		if (!r->cond_text || text.oom)
			fail(c, condn, "out of memory");
	}
	sb_free(&text);
}

/* ---- correlation ------------------------------------------------------ */

static bool parse_timespan(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (end == s || errno || n == 0 || !*end || end[1] || *s == '-' || *s == '+' || *s == ' ')
		return false;
	uint64_t unit;
	switch (*end) {
	case 's': unit = 1000000000ULL; break;
	case 'm': unit = 60ULL * 1000000000ULL; break;
	case 'h': unit = 3600ULL * 1000000000ULL; break;
	case 'd': unit = 86400ULL * 1000000000ULL; break;
	default: return false;
	}
	if (n > UINT64_MAX / unit)
		return false;
	*ns = n * unit;
	return true;
}

static void parse_corr_condition(struct ctx *c, struct correlation *co, const yaml_node_t *v)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail(c, v, "correlation condition must be a map like {gte: 3}");
	int nops = 0;
	yaml_node_t *k, *x;
	FOR_PAIRS(c, v, it3, k, x)
	{
		if (c->failed)
			return;
		static const struct {
			const char *n;
			enum cmp_op op;
		} ops[] = {{"gt", CMP_GT}, {"gte", CMP_GTE}, {"lt", CMP_LT}, {"lte", CMP_LTE}, {"eq", CMP_EQ}};
		bool done = false;
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (key_is(k, ops[i].n)) {
				long t;
				if (!get_int(c, k, x, 0, 1L << 40, &t))
					return;
				co->cmp = ops[i].op;
				co->threshold = t;
				nops++;
				done = true;
			}
		if (done)
			continue;
		if (key_is(k, "field")) {
			char *f = NULL;
			get_str(c, k, x, &f);
			if (c->failed)
				return;
			if (co->value_field) {
				free(f);
				return fail(c, k, "duplicate key 'field'");
			}
			co->value_field = xstrdup(c, x, sigma_field_to_ecs(f, NULL));
			free(f);
			if (co->value_field)
				co->value_field_id = vg_field_id(co->value_field);
			continue;
		}
		return fail(c, k, "unknown correlation condition key '%s' (expected gt, gte, lt, lte, eq or field)",
			    is_scalar(k) ? sval(k) : "?");
	}
	if (nops != 1)
		return fail(c, v, "correlation condition needs exactly one of gt, gte, lt, lte, eq");
}

static void parse_aliases(struct ctx *c, struct correlation *co, const yaml_node_t *v)
{
	if (v->type != YAML_MAPPING_NODE)
		return fail(c, v, "'aliases' must be a map of alias: {rule: field}");
	int n = (int)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	co->alias_names = calloc((size_t)n + 1, sizeof(char *));
	co->alias_fields = calloc((size_t)n + 1, sizeof(char **));
	if (!co->alias_names || !co->alias_fields)
		return fail(c, v, "out of memory");
	yaml_node_t *k, *m;
	FOR_PAIRS(c, v, it4, k, m)
	{
		if (c->failed)
			return;
		if (!is_scalar(k) || is_null(k))
			return fail(c, k, "alias names must be strings");
		for (int a = 0; a < co->naliases; a++)
			if (!strcmp(co->alias_names[a], sval(k)))
				return fail(c, k, "duplicate alias '%s'", sval(k));
		int a = co->naliases++;
		co->alias_names[a] = xstrdup(c, k, sval(k));
		co->alias_fields[a] = calloc((size_t)co->nrules + 1, sizeof(char *));
		if (!co->alias_fields[a])
			return fail(c, k, "out of memory");
		if (!m || m->type != YAML_MAPPING_NODE)
			return fail(c, m ? m : k, "alias '%s' must map rule names to fields", sval(k));
		yaml_node_t *rk, *fv;
		FOR_PAIRS(c, m, it5, rk, fv)
		{
			if (c->failed)
				return;
			int ri = -1;
			for (int i = 0; is_scalar(rk) && i < co->nrules; i++)
				if (!strcmp(co->rules[i], sval(rk)))
					ri = i;
			if (ri < 0)
				return fail(c, rk, "alias '%s': '%s' is not one of the correlation's rules",
					    sval(k), is_scalar(rk) ? sval(rk) : "?");
			if (!is_scalar(fv) || is_null(fv))
				return fail(c, fv ? fv : rk, "alias '%s': the field must be a string", sval(k));
			if (co->alias_fields[a][ri])
				return fail(c, rk, "alias '%s': rule '%s' given twice", sval(k), sval(rk));
			co->alias_fields[a][ri] = xstrdup(c, fv, sigma_field_to_ecs(sval(fv), NULL));
		}
	}
}

static void parse_correlation(struct ctx *c, const yaml_node_t *ck, const yaml_node_t *cn, bool *generate,
			      bool have_generate)
{
	struct rule *r = c->r;
	if (cn->type != YAML_MAPPING_NODE)
		return fail(c, cn, "'correlation' must be a map");
	struct correlation *co = calloc(1, sizeof(*co));
	if (!co)
		return fail(c, cn, "out of memory");
	r->corr = co;
	co->cmp = CMP_GTE;
	co->threshold = -1;
	const yaml_node_t *typen = NULL, *condn = NULL, *aliasn = NULL, *tsn = NULL;
	yaml_node_t *k, *v;
	FOR_PAIRS(c, cn, it6, k, v)
	{
		if (c->failed)
			return;
		if (key_is(k, "type")) {
			typen = v;
			if (!is_scalar(v))
				return fail(c, v ? v : k, "correlation type must be a string");
			const char *t = sval(v);
			co->type = !strcmp(t, "event_count")	   ? CORR_EVENT_COUNT
				   : !strcmp(t, "value_count")	   ? CORR_VALUE_COUNT
				   : !strcmp(t, "temporal")	   ? CORR_TEMPORAL
				   : !strcmp(t, "temporal_ordered") ? CORR_TEMPORAL_ORDERED
								   : CORR_NONE;
			if (co->type == CORR_NONE)
				return fail(c, v,
					    "unknown correlation type '%s' (expected event_count, value_count, "
					    "temporal or temporal_ordered)",
					    t);
		} else if (key_is(k, "rules")) {
			get_str_list(c, k, v, &co->rules, &co->nrules);
		} else if (key_is(k, "group-by")) {
			get_str_list(c, k, v, &co->group_by, &co->ngroup);
		} else if (key_is(k, "timespan")) {
			tsn = v;
			if (!is_scalar(v) || !parse_timespan(sval(v), &co->timespan_ns))
				return fail(c, v ? v : k,
					    "bad timespan '%s' (expected a number followed by s, m, h or d)",
					    is_scalar(v) ? sval(v) : "");
		} else if (key_is(k, "condition")) {
			condn = v;
		} else if (key_is(k, "aliases")) {
			aliasn = v;
		} else if (key_is(k, "generate")) {
			if (have_generate)
				return fail(c, k, "duplicate key 'generate'");
			get_bool(c, k, v, generate);
			have_generate = true;
		} else {
			return fail(c, k, "unknown correlation key '%s'", is_scalar(k) ? sval(k) : "?");
		}
	}
	if (c->failed)
		return;
	if (!typen)
		return fail(c, ck, "correlation without 'type'");
	if (co->nrules == 0)
		return fail(c, ck, "correlation without 'rules'");
	if (!tsn)
		return fail(c, ck, "correlation without 'timespan'");
	if ((co->type == CORR_TEMPORAL || co->type == CORR_TEMPORAL_ORDERED) && co->nrules < 2)
		return fail(c, ck, "a temporal correlation needs at least two rules");
	if (condn) {
		parse_corr_condition(c, co, condn);
		if (c->failed)
			return;
	} else if (co->type == CORR_EVENT_COUNT || co->type == CORR_VALUE_COUNT) {
		return fail(c, ck, "correlation without 'condition'");
	} else {
		co->cmp = CMP_GTE; /* temporal: every rule */
		co->threshold = co->nrules;
	}
	if (co->type == CORR_VALUE_COUNT && !co->value_field)
		return fail(c, condn, "value_count needs 'field' in its condition");
	co->resolved = calloc((size_t)co->nrules, sizeof(*co->resolved));
	if (!co->resolved)
		return fail(c, cn, "out of memory");
	if (aliasn) {
		parse_aliases(c, co, aliasn);
		if (c->failed)
			return;
	}
	co->group_ids = calloc((size_t)co->ngroup + 1, sizeof(uint32_t));
	if (!co->group_ids)
		return fail(c, cn, "out of memory");
	for (int g = 0; g < co->ngroup; g++) {
		bool alias = false;
		for (int a = 0; a < co->naliases; a++)
			if (!strcmp(co->alias_names[a], co->group_by[g]))
				alias = true;
		if (alias) {
			co->group_ids[g] = UINT32_MAX;
			continue;
		}
		const char *ecs = sigma_field_to_ecs(co->group_by[g], NULL);
		if (ecs != co->group_by[g]) {
			char *d = strdup(ecs);
			if (!d)
				return fail(c, cn, "out of memory");
			free(co->group_by[g]);
			co->group_by[g] = d;
		}
		co->group_ids[g] = vg_field_id(co->group_by[g]);
	}
}

/* ---- a whole rule ----------------------------------------------------- */

static const char *const responses[] = {"kill",	   "kill_tree",	  "kill_session", "block",
					"block_exec", "quarantine", "isolate",	  "isolate_process",
					"isolate_host", "freeze", NULL};

static void parse_vigil(struct ctx *c, const yaml_node_t *v, int *signal)
{
	struct rule *r = c->r;
	if (!v || v->type != YAML_MAPPING_NODE)
		return fail(c, v, "'vigil' must be a map like {response: kill, score: 20}");
	yaml_node_t *k, *x;
	FOR_PAIRS(c, v, it7, k, x)
	{
		if (c->failed)
			return;
		if (key_is(k, "response")) {
			get_str(c, k, x, &r->response);
			if (c->failed)
				return;
			bool ok = false;
			for (int i = 0; responses[i]; i++)
				if (!strcmp(responses[i], r->response))
					ok = true;
			if (!ok)
				return fail(c, x, "unknown response '%s' (expected kill, kill_tree, kill_session, "
						  "block, block_exec, quarantine, isolate, isolate_process, isolate_host "
						  "or freeze)",
					    r->response);
		} else if (key_is(k, "score")) {
			long s;
			if (get_int(c, k, x, 0, 1000, &s))
				r->score = (int)s;
		} else if (key_is(k, "signal")) {
			bool b;
			if (get_bool(c, k, x, &b))
				*signal = b;
		} else {
			return fail(c, k, "unknown vigil key '%s' (expected response, score or signal)",
				    is_scalar(k) ? sval(k) : "?");
		}
	}
}

static void parse_logsource(struct ctx *c, const yaml_node_t *v)
{
	struct rule *r = c->r;
	if (!v || v->type != YAML_MAPPING_NODE)
		return fail(c, v, "'logsource' must be a map");
	yaml_node_t *k, *x;
	FOR_PAIRS(c, v, it8, k, x)
	{
		if (c->failed)
			return;
		if (key_is(k, "product"))
			get_str(c, k, x, &r->product);
		else if (key_is(k, "category")) {
			get_str(c, k, x, &r->category);
			c->category_node = x;
		}
		else if (key_is(k, "service"))
			get_str(c, k, x, &r->service);
		/* definition and others: free text */
	}
}

static bool parse_level(const char *s, enum level *l)
{
	for (int i = LEVEL_INFORMATIONAL; i <= LEVEL_CRITICAL; i++)
		if (!strcmp(s, level_name((enum level)i))) {
			*l = (enum level)i;
			return true;
		}
	return false;
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static struct rule *parse_rule(struct ctx *c, const yaml_node_t *root, int docno, struct rule **prev, int nprev)
{
	struct rule *r = calloc(1, sizeof(*r));
	if (!r) {
		fail(c, root, "out of memory");
		return NULL;
	}
	c->r = r;
	c->failed = false;
	c->nvalues = 0;
	r->file = strdup(c->file);
	r->line = (int)root->start_mark.line + 1;
	r->score = -1;
	r->level = LEVEL_MEDIUM;
	if (!r->file) {
		fail(c, root, "out of memory");
		goto bad;
	}
	const yaml_node_t *det = NULL, *corr = NULL, *vig = NULL, *detk = NULL, *corrk = NULL;
	c->category_node = NULL;
	bool have_level = false, generate = false, have_generate = false;
	int signal = -1;
	yaml_node_t *k, *v;
	FOR_PAIRS(c, root, it9, k, v)
	{
		if (c->failed)
			break;
		if (!is_scalar(k))
			continue;
		const char *key = sval(k);
		if (!strcmp(key, "title"))
			get_str(c, k, v, &r->title);
		else if (!strcmp(key, "id"))
			get_str(c, k, v, &r->id);
		else if (!strcmp(key, "name"))
			get_str(c, k, v, &r->name);
		else if (!strcmp(key, "status"))
			get_str(c, k, v, &r->status);
		else if (!strcmp(key, "description"))
			get_str(c, k, v, &r->description);
		else if (!strcmp(key, "author"))
			get_str(c, k, v, &r->author);
		else if (!strcmp(key, "level")) {
			if (have_level) {
				fail(c, k, "duplicate key 'level'");
				break;
			}
			have_level = true;
			if (!is_scalar(v) || !parse_level(sval(v), &r->level))
				fail(c, v ? v : k,
				     "bad level '%s' (expected informational, low, medium, high or critical)",
				     is_scalar(v) ? sval(v) : "");
		} else if (!strcmp(key, "tags")) {
			get_str_list(c, k, v, &r->tags, &r->ntags);
		} else if (!strcmp(key, "falsepositives")) {
			get_str_list(c, k, v, &r->falsepositives, &r->nfalsepositives);
		} else if (!strcmp(key, "logsource")) {
			parse_logsource(c, v);
		} else if (!strcmp(key, "detection")) {
			if (det) {
				fail(c, k, "duplicate key 'detection'");
				break;
			}
			det = v ? v : k;
			detk = k;
		} else if (!strcmp(key, "correlation")) {
			if (corr) {
				fail(c, k, "duplicate key 'correlation'");
				break;
			}
			corr = v ? v : k;
			corrk = k;
		} else if (!strcmp(key, "vigil")) {
			vig = v ? v : k;
		} else if (!strcmp(key, "generate")) {
			have_generate = get_bool(c, k, v, &generate);
		} else if (!strcmp(key, "action")) {
			fail(c, k, "rule collections ('action: %s') are not supported: write one rule per document",
			     is_scalar(v) ? sval(v) : "");
		}
		/* other keys (date, modified, references, fields, related, license, ...)
		 * are informational */
	}
	if (c->failed)
		goto bad;
	if (!r->title) {
		fail(c, root, "missing title");
		goto bad;
	}
	if (det && corr) {
		fail(c, corrk, "a rule has either 'detection' or 'correlation', not both");
		goto bad;
	}
	if (!det && !corr) {
		fail(c, root, "missing detection");
		goto bad;
	}
	if (r->category && (!r->product || !strcasecmp(r->product, "linux")) && !r->service &&
	    !sigma_category_known(r->category)) {
		fail(c, c->category_node ? c->category_node : root,
		     "unknown logsource category '%s' (see docs/sigma-fields.md)", r->category);
		goto bad;
	}
	if (vig) {
		parse_vigil(c, vig, &signal);
		if (c->failed)
			goto bad;
	}
	if (det)
		parse_detection(c, detk, det);
	else
		parse_correlation(c, corrk, corr, &generate, have_generate);
	if (c->failed)
		goto bad;
	if (r->corr)
		r->corr->generate = generate;
	if (!r->id) {
		const char *b = basename_of(c->file);
		char buf[300];
		if (r->name)
			snprintf(buf, sizeof(buf), "%s", r->name);
		else if (docno > 1)
			snprintf(buf, sizeof(buf), "%.*s#%d", (int)strcspn(b, "."), b, docno);
		else
			snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(b, "."), b);
		r->id = strdup(buf);
		if (!r->id) {
			fail(c, root, "out of memory");
			goto bad;
		}
	}
	for (int i = 0; i < nprev; i++) {
		if (prev[i]->id && !strcmp(prev[i]->id, r->id)) {
			fail(c, root, "duplicate id '%s' (also in %s:%d)", r->id, prev[i]->file, prev[i]->line);
			goto bad;
		}
		if (r->name && prev[i]->name && !strcmp(prev[i]->name, r->name)) {
			fail(c, root, "duplicate name '%s' (also in %s:%d)", r->name, prev[i]->file, prev[i]->line);
			goto bad;
		}
	}
	r->signal_only = signal >= 0 ? signal == 1 : r->level <= LEVEL_LOW;
	return r;
bad:
	rule_free(r);
	c->r = NULL;
	return NULL;
}

int sigma_parse(const char *text, size_t len, const char *name, struct rule ***rules, int *nrules,
		struct strbuf *errs)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		sb_printf(errs, "%s:1: out of memory\n", name);
		return 0;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	struct ctx c = {.file = name, .errs = errs};
	int added = 0, docno = 0;
	for (;;) {
		yaml_document_t doc;
		if (!yaml_parser_load(&p, &doc)) {
			sb_printf(errs, "%s:%lu: YAML syntax error: %s%s%s\n", name,
				  (unsigned long)(p.problem_mark.line + 1), p.problem ? p.problem : "malformed",
				  p.context ? " " : "", p.context ? p.context : "");
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		docno++;
		c.doc = &doc;
		c.failed = false;
		if (is_null(root)) {
			/* an empty document (e.g. a trailing ---) */
		} else if (root->type != YAML_MAPPING_NODE) {
			fail(&c, root, "a rule must be a YAML map");
		} else {
			struct rule *r = parse_rule(&c, root, docno, *rules, *nrules);
			if (r) {
				struct rule **nr = realloc(*rules, (size_t)(*nrules + 1) * sizeof(*nr));
				if (!nr) {
					fail(&c, root, "out of memory");
					rule_free(r);
				} else {
					*rules = nr;
					nr[(*nrules)++] = r;
					added++;
				}
			}
		}
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&p);
	return added;
}
