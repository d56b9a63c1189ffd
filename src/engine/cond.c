/* The Sigma condition grammar: a tokenizer and a recursive-descent parser
 * producing cond_node trees (precedence: not > and > or). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sigma_int.h"

#define MAX_DEPTH 64
#define MAX_TOKENS 4096

struct tok {
	const char *s;
	size_t n;
};

struct cp {
	struct tok *t;
	int nt, i;
	const struct rule *r;
	char *err;
	size_t errlen;
	int depth;
	bool failed;
};

int cond_glob(const char *pat, const char *name)
{
	/* iterative '*' matching with backtracking to the last star */
	const char *star = NULL, *resume = NULL;
	while (*name) {
		if (*pat == '*') {
			star = pat++;
			resume = name;
		} else if (*pat == *name) {
			pat++;
			name++;
		} else if (star) {
			pat = star + 1;
			name = ++resume;
		} else {
			return 0;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == 0;
}

static bool tok_is(const struct tok *t, const char *kw)
{
	return t->n == strlen(kw) && strncasecmp(t->s, kw, t->n) == 0;
}

static void tok_str(const struct tok *t, char *buf, size_t cap)
{
	size_t n = t->n < cap - 1 ? t->n : cap - 1;
	memcpy(buf, t->s, n);
	buf[n] = 0;
}

static void *fail(struct cp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void *fail(struct cp *p, const char *fmt, ...)
{
	if (!p->failed) {
		p->failed = true;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	return NULL;
}

/* "found 'x'" or "the condition ended" for the current token */
static void *expected(struct cp *p, const char *what)
{
	char buf[128], tk[64];
	if (p->i < p->nt) {
		tok_str(&p->t[p->i], tk, sizeof(tk));
		snprintf(buf, sizeof(buf), "found '%s'", tk);
	} else {
		snprintf(buf, sizeof(buf), "the condition ended");
	}
	if (!p->failed) {
		p->failed = true;
		snprintf(p->err, p->errlen, "bad condition: expected %s but %s", what, buf);
	}
	return NULL;
}

static struct cond_node *node(enum cond_op op)
{
	struct cond_node *n = calloc(1, sizeof(*n));
	if (n) {
		n->op = op;
		n->sel = -1;
	}
	return n;
}

void cond_free(struct cond_node *n)
{
	if (!n)
		return;
	cond_free(n->a);
	cond_free(n->b);
	free(n->sels);
	free(n);
}

static bool is_keyword(const struct tok *t)
{
	return tok_is(t, "and") || tok_is(t, "or") || tok_is(t, "not") || tok_is(t, "of") ||
	       tok_is(t, "them") || (t->n == 1 && (*t->s == '(' || *t->s == ')'));
}

static struct cond_node *parse_or(struct cp *p);

static struct cond_node *parse_quant(struct cp *p, enum cond_op op)
{
	p->i++; /* quantifier */
	if (p->i >= p->nt || !tok_is(&p->t[p->i], "of"))
		return expected(p, "'of'");
	p->i++;
	if (p->i >= p->nt || (is_keyword(&p->t[p->i]) && !tok_is(&p->t[p->i], "them")))
		return expected(p, "a selection pattern or 'them' after 'of'");
	const struct tok *t = &p->t[p->i++];
	char pat[256];
	if (t->n >= sizeof(pat))
		return fail(p, "bad condition: selection pattern too long");
	tok_str(t, pat, sizeof(pat));
	bool them = tok_is(t, "them");
	struct cond_node *n = node(op);
	if (!n)
		return fail(p, "out of memory");
	n->sels = calloc((size_t)(p->r->nsels ? p->r->nsels : 1), sizeof(int));
	if (!n->sels) {
		free(n);
		return fail(p, "out of memory");
	}
	for (int k = 0; k < p->r->nsels; k++) {
		const char *name = p->r->sels[k].name;
		if (them ? name[0] != '_' : cond_glob(pat, name))
			n->sels[n->nsels++] = k;
	}
	if (n->nsels == 0) {
		cond_free(n);
		if (them)
			return fail(p, "bad condition: 'them' matches no selection");
		return fail(p, "bad condition: '%s' matches no selection", pat);
	}
	return n;
}

static struct cond_node *parse_primary(struct cp *p)
{
	if (p->i >= p->nt)
		return expected(p, "a selection name, 'not', '(' or '1 of'/'all of'");
	const struct tok *t = &p->t[p->i];
	if (t->n == 1 && *t->s == '(') {
		p->i++;
		struct cond_node *n = parse_or(p);
		if (!n)
			return NULL;
		if (p->i >= p->nt || !(p->t[p->i].n == 1 && *p->t[p->i].s == ')')) {
			cond_free(n);
			return expected(p, "')'");
		}
		p->i++;
		return n;
	}
	if (tok_is(t, "1") || tok_is(t, "any"))
		return parse_quant(p, COND_ONE_OF);
	if (tok_is(t, "all"))
		return parse_quant(p, COND_ALL_OF);
	if (is_keyword(t))
		return expected(p, "a selection name, 'not', '(' or '1 of'/'all of'");
	char name[256];
	if (t->n >= sizeof(name))
		return fail(p, "bad condition: selection name too long");
	tok_str(t, name, sizeof(name));
	if (isdigit((unsigned char)name[0]) && strspn(name, "0123456789") == t->n)
		return fail(p, "bad condition: only '1 of' and 'all of' are supported, not '%s of'", name);
	if (strchr(name, '*'))
		return fail(p, "bad condition: a pattern like '%s' needs '1 of' or 'all of'", name);
	p->i++;
	for (int k = 0; k < p->r->nsels; k++)
		if (strcmp(p->r->sels[k].name, name) == 0) {
			struct cond_node *n = node(COND_SEL);
			if (!n)
				return fail(p, "out of memory");
			n->sel = k;
			return n;
		}
	return fail(p, "bad condition: unknown selection '%s'", name);
}

static struct cond_node *parse_unary(struct cp *p)
{
	if (p->i < p->nt && tok_is(&p->t[p->i], "not")) {
		if (++p->depth > MAX_DEPTH)
			return fail(p, "bad condition: nested too deeply");
		p->i++;
		struct cond_node *a = parse_unary(p);
		p->depth--;
		if (!a)
			return NULL;
		struct cond_node *n = node(COND_NOT);
		if (!n) {
			cond_free(a);
			return fail(p, "out of memory");
		}
		n->a = a;
		return n;
	}
	return parse_primary(p);
}

static struct cond_node *parse_bin(struct cp *p, bool is_or)
{
	struct cond_node *l = is_or ? parse_bin(p, false) : parse_unary(p);
	if (!l)
		return NULL;
	while (p->i < p->nt && tok_is(&p->t[p->i], is_or ? "or" : "and")) {
		p->i++;
		struct cond_node *r = is_or ? parse_bin(p, false) : parse_unary(p);
		if (!r) {
			cond_free(l);
			return NULL;
		}
		struct cond_node *n = node(is_or ? COND_OR : COND_AND);
		if (!n) {
			cond_free(l);
			cond_free(r);
			return fail(p, "out of memory");
		}
		n->a = l;
		n->b = r;
		l = n;
	}
	return l;
}

static struct cond_node *parse_or(struct cp *p)
{
	if (++p->depth > MAX_DEPTH)
		return fail(p, "bad condition: nested too deeply");
	struct cond_node *n = parse_bin(p, true);
	p->depth--;
	return n;
}

struct cond_node *cond_parse(const char *text, const struct rule *r, char *err, size_t errlen)
{
	struct tok *toks = calloc(MAX_TOKENS, sizeof(*toks));
	if (!toks) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct cp p = {.t = toks, .r = r, .err = err, .errlen = errlen};
	const char *s = text;
	while (*s) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
			s++;
			continue;
		}
		if (p.nt == MAX_TOKENS) {
			free(toks);
			snprintf(err, errlen, "bad condition: too long");
			return NULL;
		}
		if (*s == '|') {
			free(toks);
			snprintf(err, errlen, "bad condition: aggregations ('| count() ...') are not supported; "
					      "write a correlation rule");
			return NULL;
		}
		if (*s == '(' || *s == ')') {
			toks[p.nt++] = (struct tok){s, 1};
			s++;
			continue;
		}
		const char *b = s;
		while (*s && !strchr(" \t\r\n()|", *s))
			s++;
		toks[p.nt++] = (struct tok){b, (size_t)(s - b)};
	}
	struct cond_node *n = NULL;
	if (p.nt == 0) {
		snprintf(err, errlen, "bad condition: empty");
	} else {
		n = parse_or(&p);
		if (n && p.i < p.nt) {
			cond_free(n);
			n = expected(&p, "'and', 'or' or the end of the condition");
		}
	}
	free(toks);
	return n;
}
