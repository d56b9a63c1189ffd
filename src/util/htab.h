/* A small chained hash table from 64-bit keys to pointers. Grows by
 * doubling; no shrinking. Not thread safe. */
#ifndef VIGIL_HTAB_H
#define VIGIL_HTAB_H
#include <stddef.h>
#include <stdint.h>

struct htab_node {
	uint64_t key;
	void *val;
	struct htab_node *next;
};

struct htab {
	struct htab_node **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
};

int htab_init(struct htab *h, size_t hint);
void htab_free(struct htab *h, void (*free_val)(void *));
void *htab_get(const struct htab *h, uint64_t key);
/* Inserts or replaces; returns the previous value (or NULL). On allocation
 * failure returns NULL and sets *failed when failed is not NULL. */
void *htab_put(struct htab *h, uint64_t key, void *val, int *failed);
void *htab_del(struct htab *h, uint64_t key);
/* Calls fn for each entry; fn returns non-zero to delete the entry. */
void htab_sweep(struct htab *h, int (*fn)(uint64_t key, void *val, void *arg), void *arg);
uint64_t htab_hash64(uint64_t x);

#endif
