/* Internal to src/engine, shared by sigma.c, cond.c, fieldmap.c and match.c.
 *
 * The Sigma condition grammar (cond.c):
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | primary
 *   primary := '(' expr ')' | QUANT 'of' (PATTERN | 'them') | NAME
 *   QUANT   := '1' | 'any' | 'all'
 * PATTERN is a selection name where '*' matches any run of characters;
 * 'them' means every selection whose name does not start with '_'. */
#ifndef VIGIL_ENGINE_SIGMA_INT_H
#define VIGIL_ENGINE_SIGMA_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rule.h"

/* Parses text against r's selections (r->sels, r->nsels). On error returns
 * NULL with a one-line reason in err. */
struct cond_node *cond_parse(const char *text, const struct rule *r, char *err, size_t errlen);
void cond_free(struct cond_node *n);
/* '*' glob of selection names (also used for `1 of sel*`). */
int cond_glob(const char *pat, const char *name);


/* ---- field and log source tables (fieldmap.c; docs/sigma-fields.md) ---- */

/* Rewrites a value written for a Sigma field into the ECS field's terms
 * (Initiated: true -> egress; Hashes: "SHA256=x" -> x). Returns value
 * itself when nothing changes, else a string in buf. */
const char *sigma_value_to_ecs(const char *sigma_field, const char *value, char *buf, size_t cap);
/* Is category a log source category vigil produces? */
bool sigma_category_known(const char *category);
/* Category of an event.action value (NULL for unknown actions). */
const char *sigma_action_category(const char *action, size_t len);
/* Index of a category / of an event.action's category in
 * sigma_categories, or -1. */
int sigma_category_index(const char *category);
int sigma_action_category_index(const char *action, size_t len);
/* All known categories, NULL-terminated. */
extern const char *const sigma_categories[];


/* ---- values (match.c) ---- */
/* "10.0.0.0/8", "fd00::/8"; a bare address is a /32 or /128. 0 or -1. */
struct cidr {
	int family; /* AF_INET or AF_INET6 */
	int bits;
	uint8_t addr[16];
};
int cidr_parse(const char *s, struct cidr *c);
/* A whole string as a number (decimal, 0x hex or float). */
bool number_parse(const char *s, double *out);
/* Base64 of n bytes into out (cap >= 4 * (n + 2) / 3 + 1); no padding when
 * pad is false. Returns the length. */
size_t base64_encode(const unsigned char *in, size_t n, char *out, bool pad);

#endif
