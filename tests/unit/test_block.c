/* block: the pure parts of `vigil block` (targets, the persisted list, the
 * digest set, mountinfo), without fanotify or eBPF. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "respond/blocklist.h"

static const char *H1 = "c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2";

static void test_parse_sha256(void **state)
{
	uint8_t sha[32];
	char why[160], hex[65];
	assert_int_equal(block_parse_sha256(H1, sha, why, sizeof(why)), 0);
	assert_int_equal(sha[0], 0xc7);
	assert_int_equal(sha[31], 0xd2);
	block_hex(sha, hex);
	assert_string_equal(hex, H1);
	/* upper case is the same digest */
	char up[65];
	for (int i = 0; i < 65; i++)
		up[i] = (char)(H1[i] >= 'a' && H1[i] <= 'f' ? H1[i] - 32 : H1[i]);
	uint8_t sha2[32];
	assert_int_equal(block_parse_sha256(up, sha2, why, sizeof(why)), 0);
	assert_memory_equal(sha, sha2, 32);

	assert_int_equal(block_parse_sha256("", sha, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "64 hex digits"));
	assert_int_equal(block_parse_sha256("abc", sha, why, sizeof(why)), -1);
	char bad[65];
	memcpy(bad, H1, 65);
	bad[10] = 'g';
	assert_int_equal(block_parse_sha256(bad, sha, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "'g' at 11"));
	char longer[70];
	snprintf(longer, sizeof(longer), "%s00", H1);
	assert_int_equal(block_parse_sha256(longer, sha, why, sizeof(why)), -1);
}

static void test_check_path(void **state)
{
	char why[200];
	assert_int_equal(block_check_path("/usr/bin/nc", why, sizeof(why)), 0);
	assert_int_equal(block_check_path("/tmp/a b/c", why, sizeof(why)), 0);
	assert_int_equal(block_check_path("/x", why, sizeof(why)), 0);
	const char *bad[] = {"usr/bin/nc", "", "/", "/tmp/", "/tmp//x", "/tmp/./x", "/tmp/../x",
			     "/tmp/x/.", "/tmp/x/..", "/tmp/x\ny", "/tmp/\x7f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		assert_int_equal(block_check_path(bad[i], why, sizeof(why)), -1);
		assert_true(why[0] != 0);
	}
	/* "..x" is a name, not a parent */
	assert_int_equal(block_check_path("/tmp/..x", why, sizeof(why)), 0);
	char *huge = malloc(5000);
	memset(huge, 'a', 4999);
	huge[0] = '/';
	huge[4999] = 0;
	assert_int_equal(block_check_path(huge, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "longer"));
	free(huge);
}

static void test_list_ops(void **state)
{
	struct blocklist l;
	char why[160];
	blocklist_init(&l);
	struct block_entry *a = blocklist_add(&l, BLOCK_HASH, H1, 100, why, sizeof(why));
	assert_non_null(a);
	struct block_entry *b = blocklist_add(&l, BLOCK_PATH, "/tmp/evil", 101, why, sizeof(why));
	assert_non_null(b);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.nhash, 1);
	assert_int_equal(l.npath, 1);
	/* the same hash in upper case is a duplicate */
	char up[65];
	for (int i = 0; i < 65; i++)
		up[i] = (char)(H1[i] >= 'a' && H1[i] <= 'f' ? H1[i] - 32 : H1[i]);
	assert_ptr_equal(blocklist_find(&l, BLOCK_HASH, up), a);
	assert_null(blocklist_add(&l, BLOCK_HASH, up, 102, why, sizeof(why)));
	assert_string_equal(why, "already blocked");
	assert_null(blocklist_add(&l, BLOCK_PATH, "relative", 102, why, sizeof(why)));
	assert_null(blocklist_find(&l, BLOCK_PATH, "/tmp/evil2"));
	assert_null(blocklist_find(&l, BLOCK_HASH, "/tmp/evil"));
	blocklist_unlink(&l, a);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.nhash, 0);
	assert_ptr_equal(l.head, b);
	assert_ptr_equal(l.tail, b);
	block_entry_free(a);
	blocklist_unlink(&l, b);
	assert_null(l.head);
	assert_null(l.tail);
	block_entry_free(b);
	blocklist_free(&l);
}

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_block.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_persist_round_trip(void **state)
{
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/blocks", tmpdir);
	struct blocklist l, back;
	blocklist_init(&l);
	/* missing file: empty list, not an error */
	assert_int_equal(blocklist_load(&back, path, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);

	struct block_entry *a = blocklist_add(&l, BLOCK_HASH, H1, 1700000000, err, sizeof(err));
	assert_non_null(a);
	a->denied = 42;
	assert_non_null(blocklist_add(&l, BLOCK_PATH, "/opt/with space/x", 1700000001, err, sizeof(err)));
	/* a stale tmp file with loose permissions does not leak its mode */
	char tmp[140];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_file(tmp, "junk");
	chmod(tmp, 0666);
	assert_int_equal(blocklist_save(&l, path, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);

	assert_int_equal(blocklist_load(&back, path, err, sizeof(err)), 0);
	assert_int_equal(back.n, 2);
	assert_int_equal(back.head->kind, BLOCK_HASH);
	assert_string_equal(back.head->value, H1);
	assert_memory_equal(back.head->sha, a->sha, 32);
	assert_int_equal(back.head->added, 1700000000);
	assert_int_equal(back.head->denied, 42);
	assert_int_equal(back.tail->kind, BLOCK_PATH);
	assert_string_equal(back.tail->value, "/opt/with space/x");
	blocklist_free(&back);

	/* an empty list is a valid file too */
	blocklist_free(&l);
	assert_int_equal(blocklist_save(&l, path, err, sizeof(err)), 0);
	assert_int_equal(blocklist_load(&back, path, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);
}

static void expect_corrupt(const char *text, const char *want)
{
	char path[128], err[256] = "";
	snprintf(path, sizeof(path), "%s/blocks", tmpdir);
	write_file(path, text);
	struct blocklist l;
	assert_int_equal(blocklist_load(&l, path, err, sizeof(err)), -1);
	assert_int_equal(l.n, 0);
	assert_null(l.head);
	char prefix[160];
	snprintf(prefix, sizeof(prefix), "%s:", path);
	if (strncmp(err, prefix, strlen(prefix)) || !strstr(err, want))
		fail_msg("error '%s' does not start with '%s' or lacks '%s'", err, prefix, want);
}

static void test_persist_corrupt(void **state)
{
	char good[200];
	snprintf(good, sizeof(good), "# header\nhash 1 0 %s\n", H1);
	char text[400];
	snprintf(text, sizeof(text), "%spath 1 0 /ok\nhash 1 0 deadbeef\n", good);
	expect_corrupt(text, ":4: a sha256 is 64 hex digits");
	snprintf(text, sizeof(text), "%sexe 1 0 /x\n", good);
	expect_corrupt(text, ":3: unknown kind 'exe'");
	snprintf(text, sizeof(text), "%spath 1\n", good);
	expect_corrupt(text, ":3: expected");
	snprintf(text, sizeof(text), "%spath x y /a\n", good);
	expect_corrupt(text, ":3: expected");
	snprintf(text, sizeof(text), "%spath 1 0 relative\n", good);
	expect_corrupt(text, ":3: the path must be absolute");
	snprintf(text, sizeof(text), "%s%s", good, good + 9);
	expect_corrupt(text, ":3: already blocked");
}

static void test_hashset(void **state)
{
	enum { N = 10000 };
	struct blocklist l;
	char why[160], hex[65];
	blocklist_init(&l);
	uint8_t sha[32];
	srand(7);
	for (int i = 0; i < N; i++) {
		for (int k = 0; k < 32; k++)
			sha[k] = (uint8_t)rand();
		/* every tenth shares its first 8 bytes (the probe key) with the previous one */
		if (i % 10 == 1)
			memcpy(sha, l.tail->sha, 8);
		block_hex(sha, hex);
		assert_non_null(blocklist_add(&l, BLOCK_HASH, hex, i, why, sizeof(why)));
	}
	assert_non_null(blocklist_add(&l, BLOCK_PATH, "/p", 0, why, sizeof(why)));
	struct hashset s;
	assert_int_equal(hashset_build(&s, &l), 0);
	assert_int_equal(s.count, N);
	for (struct block_entry *e = l.head; e; e = e->next)
		if (e->kind == BLOCK_HASH)
			assert_ptr_equal(hashset_find(&s, e->sha), e);
	for (int i = 0; i < 1000; i++) {
		for (int k = 0; k < 32; k++)
			sha[k] = (uint8_t)rand();
		assert_null(hashset_find(&s, sha));
	}
	/* same probe key as an entry, different digest */
	memcpy(sha, l.head->sha, 32);
	sha[31] ^= 1;
	assert_null(hashset_find(&s, sha));
	hashset_free(&s);

	/* an empty set finds nothing */
	struct blocklist empty;
	blocklist_init(&empty);
	assert_int_equal(hashset_build(&s, &empty), 0);
	assert_null(hashset_find(&s, sha));
	hashset_free(&s);
	blocklist_free(&l);
}

static void test_mountinfo(void **state)
{
	unsigned maj, min;
	char mnt[256], type[32];
	assert_int_equal(mountinfo_parse("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
					 &maj, &min, mnt, sizeof(mnt), type, sizeof(type)),
			 0);
	assert_int_equal(maj, 98);
	assert_int_equal(min, 0);
	assert_string_equal(mnt, "/mnt2");
	assert_string_equal(type, "ext3");
	/* no optional fields, an escaped space in the mount point */
	assert_int_equal(mountinfo_parse("25 1 0:22 / /media/my\\040disk rw - tmpfs tmpfs rw", &maj, &min, mnt,
					 sizeof(mnt), type, sizeof(type)),
			 0);
	assert_int_equal(maj, 0);
	assert_int_equal(min, 22);
	assert_string_equal(mnt, "/media/my disk");
	assert_string_equal(type, "tmpfs");
	assert_int_equal(mountinfo_parse("25 1 0:22 / /x rw shared:1\n", &maj, &min, mnt, sizeof(mnt), type,
					 sizeof(type)),
			 -1);
	assert_int_equal(mountinfo_parse("25 1 zz / /x rw - ext4 /dev/sda rw", &maj, &min, mnt, sizeof(mnt), type,
					 sizeof(type)),
			 -1);
	assert_int_equal(mountinfo_parse("", &maj, &min, mnt, sizeof(mnt), type, sizeof(type)), -1);

	assert_true(block_fs_skipped("proc"));
	assert_true(block_fs_skipped("cgroup2"));
	assert_true(block_fs_skipped("fuse.sshfs"));
	assert_true(block_fs_skipped("nfs4"));
	assert_true(block_fs_skipped("cifs"));
	assert_false(block_fs_skipped("ext4"));
	assert_false(block_fs_skipped("tmpfs"));
	assert_false(block_fs_skipped("overlay"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sha256),
		cmocka_unit_test(test_check_path),
		cmocka_unit_test(test_list_ops),
		cmocka_unit_test_setup_teardown(test_persist_round_trip, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_persist_corrupt, setup_dir, teardown_dir),
		cmocka_unit_test(test_hashset),
		cmocka_unit_test(test_mountinfo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
