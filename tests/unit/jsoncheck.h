/* A strict little JSON validator for unit tests: a recursive-descent
 * parser of RFC 8259 text that accepts exactly one value and rejects raw
 * control characters in strings, bad escapes, trailing commas and
 * trailing garbage. Returns NULL when valid, else a static reason, with
 * *at set to the offset of the problem. Header-only: include it once. */
#ifndef VIGIL_TEST_JSONCHECK_H
#define VIGIL_TEST_JSONCHECK_H
#include <stddef.h>
#include <string.h>

struct jc {
	const char *s;
	size_t n, i;
	const char *why;
	int depth;
	/* optional lookup of one dotted path (array elements share their
	 * array's path; the first value at the path wins) */
	const char *want;
	char path[1024];
	size_t plen;
	const char *found;
	size_t found_len;
};

static void jc_ws(struct jc *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
		c->i++;
}

static int jc_fail(struct jc *c, const char *why)
{
	if (!c->why)
		c->why = why;
	return -1;
}

static int jc_hex(char h)
{
	return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
}

static int jc_string(struct jc *c)
{
	if (c->i >= c->n || c->s[c->i] != '"')
		return jc_fail(c, "expected a string");
	c->i++;
	while (c->i < c->n) {
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch == '"') {
			c->i++;
			return 0;
		}
		if (ch < 0x20)
			return jc_fail(c, "raw control character in a string");
		if (ch == '\\') {
			c->i++;
			if (c->i >= c->n)
				return jc_fail(c, "escape at the end");
			char e = c->s[c->i];
			if (e == 'u') {
				for (int k = 1; k <= 4; k++)
					if (c->i + k >= c->n || !jc_hex(c->s[c->i + k]))
						return jc_fail(c, "bad \\u escape");
				c->i += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == 0)
				return jc_fail(c, "bad escape");
			c->i++;
			continue;
		}
		c->i++;
	}
	return jc_fail(c, "unterminated string");
}

static int jc_number(struct jc *c)
{
	size_t st = c->i;
	if (c->i < c->n && c->s[c->i] == '-')
		c->i++;
	if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
		return jc_fail(c, "bad number");
	if (c->s[c->i] == '0' && c->i + 1 < c->n && c->s[c->i + 1] >= '0' && c->s[c->i + 1] <= '9')
		return jc_fail(c, "leading zero");
	while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9')
		c->i++;
	if (c->i < c->n && c->s[c->i] == '.') {
		c->i++;
		if (c->i >= c->n || c->s[c->i] < '0' || c->s[c->i] > '9')
			return jc_fail(c, "bad fraction");
		while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9')
			c->i++;
	}
	return c->i > st ? 0 : jc_fail(c, "bad number");
}

static int jc_value(struct jc *c);

static int jc_container(struct jc *c, char open, char close)
{
	if (++c->depth > 64)
		return jc_fail(c, "nested too deep");
	c->i++; /* open */
	(void)open;
	jc_ws(c);
	if (c->i < c->n && c->s[c->i] == close) {
		c->i++;
		c->depth--;
		return 0;
	}
	for (;;) {
		jc_ws(c);
		size_t keep = c->plen;
		if (close == '}') {
			size_t ks = c->i;
			if (jc_string(c))
				return -1;
			/* path += "." + raw key (keys here need no unescaping) */
			size_t kl = c->i - ks - 2;
			if (c->plen + kl + 2 < sizeof(c->path)) {
				if (c->plen)
					c->path[c->plen++] = '.';
				memcpy(c->path + c->plen, c->s + ks + 1, kl);
				c->plen += kl;
				c->path[c->plen] = 0;
			}
			jc_ws(c);
			if (c->i >= c->n || c->s[c->i] != ':')
				return jc_fail(c, "expected ':'");
			c->i++;
			jc_ws(c);
		}
		if (jc_value(c))
			return -1;
		c->plen = keep;
		c->path[keep] = 0;
		jc_ws(c);
		if (c->i < c->n && c->s[c->i] == ',') {
			c->i++;
			continue;
		}
		if (c->i < c->n && c->s[c->i] == close) {
			c->i++;
			c->depth--;
			return 0;
		}
		return jc_fail(c, "expected ',' or a closing bracket");
	}
}

static int jc_value1(struct jc *c);

static int jc_value(struct jc *c)
{
	jc_ws(c);
	size_t st = c->i;
	int mine = c->want && !c->found && strcmp(c->path, c->want) == 0;
	if (mine)
		c->found = c->s + st;
	int r = jc_value1(c);
	if (mine)
		c->found_len = c->i - st;
	return r;
}

static int jc_value1(struct jc *c)
{
	if (c->i >= c->n)
		return jc_fail(c, "expected a value");
	char ch = c->s[c->i];
	if (ch == '{')
		return jc_container(c, '{', '}');
	if (ch == '[')
		return jc_container(c, '[', ']');
	if (ch == '"')
		return jc_string(c);
	if (ch == '-' || (ch >= '0' && ch <= '9'))
		return jc_number(c);
	static const char *const words[] = {"true", "false", "null"};
	for (int k = 0; k < 3; k++) {
		size_t l = strlen(words[k]);
		if (c->n - c->i >= l && memcmp(c->s + c->i, words[k], l) == 0) {
			c->i += l;
			return 0;
		}
	}
	return jc_fail(c, "unexpected character");
}

/* NULL when s[0..n) is one valid JSON value. */
static inline const char *json_check(const char *s, size_t n, size_t *at)
{
	struct jc c = {.s = s, .n = n};
	if (jc_value(&c) == 0) {
		jc_ws(&c);
		if (c.i != c.n)
			jc_fail(&c, "trailing bytes after the value");
	}
	if (at)
		*at = c.i;
	return c.why;
}

/* The raw JSON text of the value at a dotted path ("process.args" gives
 * the whole array, "destination.ip" gives "\"127.0.0.1\""), or NULL when
 * the document is invalid or has no such path. *len gets its length. */
static inline const char *json_get(const char *s, size_t n, const char *path, size_t *len)
{
	struct jc c = {.s = s, .n = n, .want = path};
	if (jc_value(&c) || c.why)
		return NULL;
	*len = c.found ? c.found_len : 0;
	return c.found;
}

#endif
