#include <stdlib.h>
#include "htab.h"

uint64_t htab_hash64(uint64_t x)
{
	/* splitmix64 finaliser: pids and inode numbers are far from random */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

int htab_init(struct htab *h, size_t hint)
{
	size_t n = 16;
	while (n < hint)
		n *= 2;
	h->buckets = calloc(n, sizeof(*h->buckets));
	if (!h->buckets)
		return -1;
	h->nbuckets = n;
	h->count = 0;
	return 0;
}

void htab_free(struct htab *h, void (*free_val)(void *))
{
	if (!h->buckets)
		return;
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct htab_node *n = h->buckets[i];
		while (n) {
			struct htab_node *next = n->next;
			if (free_val)
				free_val(n->val);
			free(n);
			n = next;
		}
	}
	free(h->buckets);
	h->buckets = NULL;
	h->nbuckets = h->count = 0;
}

void *htab_get(const struct htab *h, uint64_t key)
{
	struct htab_node *n = h->buckets[htab_hash64(key) & (h->nbuckets - 1)];
	for (; n; n = n->next)
		if (n->key == key)
			return n->val;
	return NULL;
}

static void htab_grow(struct htab *h)
{
	size_t nb = h->nbuckets * 2;
	struct htab_node **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* stay at this size: lookups get slower, not wrong */
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct htab_node *n = h->buckets[i];
		while (n) {
			struct htab_node *next = n->next;
			size_t j = htab_hash64(n->key) & (nb - 1);
			n->next = b[j];
			b[j] = n;
			n = next;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = nb;
}

void *htab_put(struct htab *h, uint64_t key, void *val, int *failed)
{
	size_t i = htab_hash64(key) & (h->nbuckets - 1);
	for (struct htab_node *n = h->buckets[i]; n; n = n->next)
		if (n->key == key) {
			void *old = n->val;
			n->val = val;
			return old;
		}
	struct htab_node *n = malloc(sizeof(*n));
	if (!n) {
		if (failed)
			*failed = 1;
		return NULL;
	}
	n->key = key;
	n->val = val;
	n->next = h->buckets[i];
	h->buckets[i] = n;
	if (++h->count > h->nbuckets)
		htab_grow(h);
	return NULL;
}

void *htab_del(struct htab *h, uint64_t key)
{
	struct htab_node **pp = &h->buckets[htab_hash64(key) & (h->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->key == key) {
			struct htab_node *n = *pp;
			void *v = n->val;
			*pp = n->next;
			free(n);
			h->count--;
			return v;
		}
	return NULL;
}

void htab_sweep(struct htab *h, int (*fn)(uint64_t, void *, void *), void *arg)
{
	for (size_t i = 0; i < h->nbuckets; i++) {
		struct htab_node **pp = &h->buckets[i];
		while (*pp) {
			struct htab_node *n = *pp;
			if (fn(n->key, n->val, arg)) {
				*pp = n->next;
				free(n);
				h->count--;
			} else {
				pp = &n->next;
			}
		}
	}
}
