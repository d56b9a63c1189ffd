/* vg_path_resolve: lexical join of a base directory and a path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "event/event.h"

static void check(const char *base, const char *path, const char *want)
{
	char out[4096];
	memset(out, 'X', sizeof(out));
	size_t n = vg_path_resolve(base, path, out, sizeof(out));
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void test_absolute_ignores_base(void **state)
{
	check("/home/u", "/etc/passwd", "/etc/passwd");
	check("/home/u", "/", "/");
	check(NULL, "/etc/passwd", "/etc/passwd");
	check("relative/base", "/x", "/x");
}

static void test_relative_joins_base(void **state)
{
	check("/home/u", "a/b", "/home/u/a/b");
	check("/", "a", "/a");
	check("/home/u", "file.txt", "/home/u/file.txt");
	/* a relative base is still anchored at / */
	check("tmp", "x", "/tmp/x");
}

static void test_dot_and_dotdot(void **state)
{
	check("/home/u", ".", "/home/u");
	check("/home/u", "./a/./b/.", "/home/u/a/b");
	check("/home/u", "..", "/home");
	check("/home/u", "../v/x", "/home/v/x");
	check("/home/u", "a/../b", "/home/u/b");
	check("/a/./b/../c", "d", "/a/c/d");
	/* names that merely start with dots are names */
	check("/x", "...", "/x/...");
	check("/x", "..a/.b", "/x/..a/.b");
}

static void test_past_root(void **state)
{
	check("/a", "../../..", "/");
	check("/", "..", "/");
	check("/a/b", "../../../../etc/shadow", "/etc/shadow");
	check(NULL, "../../x", "/x");
	check("/..", "../a", "/a");
}

/* ".../" is how the sensor marks a path deeper than its walk */
static void test_cut_paths(void **state)
{
	check(NULL, ".../d6/d7/h", ".../d6/d7/h");
	check("", ".../d6/../h", ".../h");
	check(".../d6/d7", "x", ".../d6/d7/x");
	check(".../d6/d7", "../../../x", ".../x");
	check(".../d6", "/etc/passwd", "/etc/passwd");
	/* the user's relative path with a base is joined as any other */
	check("/x", ".../y", "/x/.../y");
	check("/x", "...", "/x/...");
}

static void test_slashes(void **state)
{
	check("//a///b", "c//d", "/a/b/c/d");
	check("/a/", "b/", "/a/b");
	check("/a//", "b//", "/a/b");
	check("///", "///", "/");
	check("/a/b/", "./", "/a/b");
	check("/a/b", "/..//../c/", "/c");
}

static void test_empty(void **state)
{
	check("", "", "/");
	check(NULL, NULL, "/");
	check(NULL, "", "/");
	check("", "rel", "/rel");
	check("/base", "", "/base");
	check("/base", NULL, "/base");
	/* cap 0 writes nothing; cap 1 writes only the NUL */
	char c[2] = {'X', 'X'};
	assert_int_equal(vg_path_resolve("/a", "b", c, 0), 0);
	assert_int_equal(c[0], 'X');
	assert_int_equal(vg_path_resolve("/a", "b", c, 1), 0);
	assert_int_equal(c[0], 0);
	assert_int_equal(c[1], 'X');
	assert_int_equal(vg_path_resolve("/a", "b", c, 2), 1);
	assert_string_equal(c, "/");
}

/* Every cap from 2 to past the full length: output is a NUL-terminated
 * prefix of the full result and never writes past cap (the buffer is a
 * heap allocation of exactly cap bytes, so ASan sees any overrun). */
static void test_truncation(void **state)
{
	const char *base = "/very/long/base/directory/name";
	const char *path = "../sub/dir/./file-with-a-long-name.txt";
	const char *full = "/very/long/base/directory/sub/dir/file-with-a-long-name.txt";
	for (size_t cap = 2; cap < strlen(full) + 4; cap++) {
		char *out = malloc(cap);
		assert_non_null(out);
		size_t n = vg_path_resolve(base, path, out, cap);
		assert_true(n < cap);
		assert_int_equal(strlen(out), n);
		assert_memory_equal(out, full, n);
		if (cap > strlen(full))
			assert_string_equal(out, full);
		free(out);
	}
}

static void test_overlong_input(void **state)
{
	/* 10000-byte components into a 64-byte buffer */
	size_t big = 10000;
	char *comp = malloc(big + 1);
	memset(comp, 'a', big);
	comp[big] = 0;
	char *out = malloc(64);
	size_t n = vg_path_resolve(comp, comp, out, 64);
	assert_int_equal(n, 63);
	assert_int_equal(out[0], '/');
	assert_int_equal(strlen(out), 63);
	/* ".." after a truncated component still leaves a clean prefix */
	char *p = malloc(big + 8);
	snprintf(p, big + 8, "%s/../b", comp);
	n = vg_path_resolve("/x", p, out, 64);
	assert_string_equal(out, "/x/b");
	assert_int_equal(n, 4);
	free(p);
	free(out);
	free(comp);
}

/* More components than the resolver's mark stack (256). */
static void test_many_components(void **state)
{
	size_t cap = 8192;
	char *path = malloc(cap), *out = malloc(cap);
	size_t o = 0;
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(path + o, cap - o, "d%d/", i);
	o += (size_t)snprintf(path + o, cap - o, "..");
	vg_path_resolve("/", path, out, cap);
	/* the last component went away, all others stay */
	const char *tail = strrchr(out, '/');
	assert_non_null(tail);
	assert_string_equal(tail, "/d298");
	assert_memory_equal(out, "/d0/d1/d2/", 10);

	/* 300 down, 300 up and out: back at the base */
	o = 0;
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(path + o, cap - o, "d%d/", i);
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(path + o, cap - o, "../");
	snprintf(path + o, cap - o, "etc/shadow");
	vg_path_resolve("/home/u", path, out, cap);
	assert_string_equal(out, "/home/u/etc/shadow");

	/* 300 down, 299 up: exactly one component left */
	o = 0;
	for (int i = 0; i < 300; i++)
		o += (size_t)snprintf(path + o, cap - o, "d%d/", i);
	for (int i = 0; i < 299; i++)
		o += (size_t)snprintf(path + o, cap - o, "../");
	vg_path_resolve("/", path, out, cap);
	assert_string_equal(out, "/d0");
	free(path);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute_ignores_base),
		cmocka_unit_test(test_relative_joins_base),
		cmocka_unit_test(test_dot_and_dotdot),
		cmocka_unit_test(test_past_root),
		cmocka_unit_test(test_cut_paths),
		cmocka_unit_test(test_slashes),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_overlong_input),
		cmocka_unit_test(test_many_components),
	};
	return cmocka_run_group_tests_name("path", tests, NULL, NULL);
}
