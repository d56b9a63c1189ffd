#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "exehash.h"
#include "../util/htab.h"

struct entry {
	struct exehash_key k;
	char hex[65];
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct htab cache;
static uint64_t limit = 256ULL << 20;
static uint64_t computed;

#define CACHE_MAX 65536

static uint64_t key_hash(const struct exehash_key *k)
{
	return htab_hash64(k->ino ^ htab_hash64(k->mtime_ns ^ htab_hash64(k->size ^ ((uint64_t)k->dev << 32))));
}

/* Field by field: the key has tail padding, which a key built by value
 * (a returned compound literal) need not zero. */
static bool key_eq(const struct exehash_key *a, const struct exehash_key *b)
{
	return a->ino == b->ino && a->mtime_ns == b->mtime_ns && a->size == b->size && a->dev == b->dev;
}

void exehash_init(uint64_t max_bytes)
{
	pthread_mutex_lock(&lock);
	if (!cache.buckets)
		htab_init(&cache, 1024);
	limit = max_bytes;
	pthread_mutex_unlock(&lock);
}

bool exehash_lookup(const struct exehash_key *k, char out[65])
{
	bool hit = false;
	pthread_mutex_lock(&lock);
	if (cache.buckets) {
		struct entry *e = htab_get(&cache, key_hash(k));
		if (e && key_eq(&e->k, k)) {
			memcpy(out, e->hex, 65);
			hit = true;
		}
	}
	pthread_mutex_unlock(&lock);
	return hit;
}

static int drop_all(uint64_t key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
	return 1;
}

bool exehash_compute(const struct exehash_key *k, int fd, char out[65])
{
	struct stat st;
	if (fstat(fd, &st) || (uint64_t)st.st_size > limit || limit == 0)
		return false;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return false;
	}
	static __thread unsigned char buf[1 << 16];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0) {
			EVP_MD_CTX_free(ctx);
			return false;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += n;
	}
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	for (int i = 0; i < 32; i++)
		snprintf(out + i * 2, 3, "%02x", md[i]);
	struct entry *e = malloc(sizeof(*e));
	if (!e)
		return true;
	e->k = *k;
	memcpy(e->hex, out, 65);
	pthread_mutex_lock(&lock);
	computed++;
	if (cache.buckets) {
		/* bounded: forget everything rather than grow without limit */
		if (cache.count >= CACHE_MAX)
			htab_sweep(&cache, drop_all, NULL);
		int failed = 0;
		free(htab_put(&cache, key_hash(k), e, &failed));
		if (failed)
			free(e);
	} else {
		free(e);
	}
	pthread_mutex_unlock(&lock);
	return true;
}

uint64_t exehash_computed(void)
{
	pthread_mutex_lock(&lock);
	uint64_t c = computed;
	pthread_mutex_unlock(&lock);
	return c;
}
