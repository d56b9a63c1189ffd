/* A small JSON reader: parses one document into a tree of nodes kept in
 * an arena owned by a jdoc, for code that reads events, alerts and
 * incidents back (the store's state, the `vigil` investigation commands).
 * Strings are decoded (escapes, \u surrogate pairs) and NUL-terminated;
 * numbers, booleans and null keep their JSON text in str. */
#ifndef VIGIL_JSONV_H
#define VIGIL_JSONV_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jnode {
	enum jv_type type;
	const char *key;          /* member name inside an object, else NULL */
	const char *str;          /* strings, numbers, booleans, null: the text */
	size_t len;               /* of str */
	size_t n;                 /* children of an array or object */
	struct jnode *child, *next;
};

struct jblock;
struct jdoc {
	struct jblock *blocks;
	struct jnode *root;
	const char *err;          /* why parsing failed */
};

void jdoc_init(struct jdoc *d);
void jdoc_free(struct jdoc *d);
/* Parses json (len bytes; trailing whitespace allowed); the previous
 * document's nodes are freed. Returns the root, or NULL (d->err says why). */
struct jnode *jdoc_parse(struct jdoc *d, const char *json, size_t len);

/* Member of an object by dotted path ("process.parent.pid"), or NULL. */
const struct jnode *jget(const struct jnode *obj, const char *path);
/* Element i of an array, or NULL. */
const struct jnode *jat(const struct jnode *arr, size_t i);
/* A scalar's text (a string's value, a number's digits), else def. */
const char *jstr(const struct jnode *obj, const char *path, const char *def);
int64_t jint(const struct jnode *obj, const char *path, int64_t def);
bool jbool(const struct jnode *obj, const char *path, bool def);
/* The node's own scalar text, else def. */
const char *jtext(const struct jnode *n, const char *def);

/* "2026-01-02T03:04:05.123456789Z" (or +hh:mm offsets, or no fraction)
 * to nanoseconds since the epoch; 0 on success, -1 if malformed. */
int vg_parse_rfc3339(const char *s, uint64_t *ns);
/* ns since the epoch as RFC3339 with nanoseconds, UTC. */
void vg_format_rfc3339(uint64_t ns, char *buf, size_t cap);

#endif
