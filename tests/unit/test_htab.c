/* htab: the pid/cgroup hash table, with 100k keys. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "util/htab.h"

#define N 100000

/* values are the key's address in a table, so a wrong match shows */
static uint64_t vals[N];

static void test_put_get_del(void **state)
{
	struct htab h;
	assert_int_equal(htab_init(&h, 0), 0);
	assert_int_equal(h.nbuckets, 16);
	assert_null(htab_get(&h, 1));
	assert_null(htab_del(&h, 1));
	int failed = 0;
	assert_null(htab_put(&h, 1, &vals[1], &failed));
	assert_int_equal(failed, 0);
	assert_ptr_equal(htab_get(&h, 1), &vals[1]);
	assert_null(htab_get(&h, 2));
	/* key 0 and the largest key are ordinary keys */
	assert_null(htab_put(&h, 0, &vals[0], NULL));
	assert_null(htab_put(&h, UINT64_MAX, &vals[2], NULL));
	assert_ptr_equal(htab_get(&h, 0), &vals[0]);
	assert_ptr_equal(htab_get(&h, UINT64_MAX), &vals[2]);
	assert_int_equal(h.count, 3);
	/* overwrite returns the previous value and keeps the count */
	assert_ptr_equal(htab_put(&h, 1, &vals[3], NULL), &vals[1]);
	assert_ptr_equal(htab_get(&h, 1), &vals[3]);
	assert_int_equal(h.count, 3);
	/* a NULL value is stored (and is indistinguishable on get) */
	assert_ptr_equal(htab_put(&h, 1, NULL, NULL), &vals[3]);
	assert_null(htab_get(&h, 1));
	assert_int_equal(h.count, 3);
	assert_null(htab_del(&h, 1));
	assert_int_equal(h.count, 2);
	assert_ptr_equal(htab_del(&h, 0), &vals[0]);
	assert_null(htab_get(&h, 0));
	assert_null(htab_del(&h, 0));
	assert_int_equal(h.count, 1);
	htab_free(&h, NULL);
	assert_null(h.buckets);
	htab_free(&h, NULL); /* twice is fine */
}

static void test_hint(void **state)
{
	struct htab h;
	assert_int_equal(htab_init(&h, 1000), 0);
	assert_int_equal(h.nbuckets, 1024);
	htab_free(&h, NULL);
	assert_int_equal(htab_init(&h, 1024), 0);
	assert_int_equal(h.nbuckets, 1024);
	htab_free(&h, NULL);
}

static void test_grow_100k(void **state)
{
	struct htab h;
	assert_int_equal(htab_init(&h, 16), 0);
	/* pid-like keys (dense) and inode-like keys (sparse, high bits) */
	for (uint64_t i = 0; i < N; i++) {
		uint64_t key = i & 1 ? i : (i << 40) | 0xabc;
		int failed = 0;
		assert_null(htab_put(&h, key, &vals[i], &failed));
		assert_int_equal(failed, 0);
	}
	assert_int_equal(h.count, N);
	assert_true(h.nbuckets >= N / 2);
	assert_int_equal(h.nbuckets & (h.nbuckets - 1), 0);
	/* no chain got long: the hash spreads these keys */
	size_t longest = 0, used = 0;
	for (size_t b = 0; b < h.nbuckets; b++) {
		size_t len = 0;
		for (struct htab_node *n = h.buckets[b]; n; n = n->next)
			len++;
		if (len)
			used++;
		if (len > longest)
			longest = len;
	}
	assert_true(longest < 16);
	assert_true(used > h.nbuckets / 3);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t key = i & 1 ? i : (i << 40) | 0xabc;
		assert_ptr_equal(htab_get(&h, key), &vals[i]);
	}
	assert_null(htab_get(&h, N + 1));
	assert_null(htab_get(&h, 2)); /* even keys were stored shifted */
	/* overwrite every tenth */
	for (uint64_t i = 1; i < N; i += 10)
		assert_ptr_equal(htab_put(&h, i, &vals[0], NULL), &vals[i]);
	assert_int_equal(h.count, N);
	/* delete the odd keys */
	for (uint64_t i = 1; i < N; i += 2)
		assert_non_null(htab_del(&h, i));
	assert_int_equal(h.count, N / 2);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t key = i & 1 ? i : (i << 40) | 0xabc;
		if (i & 1)
			assert_null(htab_get(&h, key));
		else
			assert_ptr_equal(htab_get(&h, key), &vals[i]);
	}
	htab_free(&h, NULL);
}

static int sweep_fn(uint64_t key, void *val, void *arg)
{
	int *calls = arg;
	(*calls)++;
	assert_ptr_equal(val, &vals[key]);
	return key % 3 == 0; /* delete multiples of three */
}

static int sweep_all(uint64_t key, void *val, void *arg)
{
	return 1;
}

static void test_sweep(void **state)
{
	struct htab h;
	assert_int_equal(htab_init(&h, 4), 0);
	for (uint64_t i = 0; i < N; i++)
		htab_put(&h, i, &vals[i], NULL);
	int calls = 0;
	htab_sweep(&h, sweep_fn, &calls);
	assert_int_equal(calls, N);
	size_t left = N - (N + 2) / 3;
	assert_int_equal(h.count, left);
	for (uint64_t i = 0; i < N; i++) {
		if (i % 3 == 0)
			assert_null(htab_get(&h, i));
		else
			assert_ptr_equal(htab_get(&h, i), &vals[i]);
	}
	/* a second sweep sees only what is left */
	calls = 0;
	htab_sweep(&h, sweep_fn, &calls);
	assert_int_equal(calls, (int)left);
	htab_sweep(&h, sweep_all, NULL);
	assert_int_equal(h.count, 0);
	for (size_t b = 0; b < h.nbuckets; b++)
		assert_null(h.buckets[b]);
	/* usable after emptying */
	htab_put(&h, 5, &vals[5], NULL);
	assert_ptr_equal(htab_get(&h, 5), &vals[5]);
	htab_free(&h, NULL);
}

static int freed;
static void count_free(void *p)
{
	freed++;
	free(p);
}

static void test_free_values(void **state)
{
	struct htab h;
	assert_int_equal(htab_init(&h, 0), 0);
	for (uint64_t i = 0; i < 5000; i++)
		htab_put(&h, i * 7919, malloc(16), NULL);
	/* replace some: the caller owns the returned old value */
	for (uint64_t i = 0; i < 100; i++)
		free(htab_put(&h, i * 7919, malloc(32), NULL));
	free(htab_del(&h, 0));
	freed = 0;
	htab_free(&h, count_free);
	assert_int_equal(freed, 4999); /* ASan: nothing leaks */
}

static void test_hash(void **state)
{
	/* a bijective mixer: no two small keys collide, and neighbours differ widely */
	assert_int_not_equal(htab_hash64(1), htab_hash64(2));
	assert_int_equal(htab_hash64(0), 0);
	int diff = __builtin_popcountll(htab_hash64(1000) ^ htab_hash64(1001));
	assert_true(diff > 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_del),
		cmocka_unit_test(test_hint),
		cmocka_unit_test(test_grow_100k),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_free_values),
		cmocka_unit_test(test_hash),
	};
	return cmocka_run_group_tests_name("htab", tests, NULL, NULL);
}
