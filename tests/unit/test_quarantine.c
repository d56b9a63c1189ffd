/* quarantine / restore / quarantined on real files in a temporary
 * directory, with a responder built by hand (no daemon, no root needed;
 * ownership is checked only when run as root). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>
#include "respond/respond_int.h"
#include "respondtest.h"
#include "util/jsonv.h"

/* sha256("hello\n") */
#define HELLO_SHA "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

static char root[64];     /* /tmp/vgqXXXXXX */
static char files[128];   /* root/files: what gets quarantined */
static char state[128];   /* root/state: the responder's directory */
static struct responder R;

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	chmod(p, 0700);
	return remove(p);
}

static int setup(void **s)
{
	snprintf(root, sizeof(root), "/tmp/vgqXXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(files, sizeof(files), "%s/files", root);
	snprintf(state, sizeof(state), "%s/state", root);
	assert_int_equal(mkdir(files, 0755), 0);
	assert_int_equal(mkdir(state, 0700), 0);
	memset(&R, 0, sizeof(R));
	R.dir = state;
	R.record = record_cb;
	return 0;
}

static int teardown(void **s)
{
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#define CMD(dry, ...) respond_cmd(quarantine_command, &R, dry, out, sizeof(out), err, sizeof(err), __VA_ARGS__, NULL)

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, cap - 1);
	assert_true(n >= 0);
	buf[n] = 0;
	close(fd);
}

/* The id out of "quarantined PATH as ID (...)". */
static void id_of(const char *out, char *id, size_t cap)
{
	const char *p = strstr(out, " as ");
	assert_non_null(p);
	p += 4;
	size_t n = strcspn(p, " ");
	assert_true(n < cap);
	memcpy(id, p, n);
	id[n] = 0;
}

static void test_quarantine_restore_exact(void **s)
{
	char path[256], out[4096], err[512], id[64], buf[64], p2[512];
	snprintf(path, sizeof(path), "%s/evil", files);
	write_file(path, "hello\n", 0755);
	assert_int_equal(chmod(path, 04750), 0); /* set-uid survives the round trip */
	struct timespec ts[2] = {{.tv_sec = 1600000000, .tv_nsec = 123456789},
				 {.tv_sec = 1500000000, .tv_nsec = 987654321}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	bool have_xattr = setxattr(path, "user.vigil_test", "v1", 2, 0) == 0;
	struct stat before;
	assert_int_equal(stat(path, &before), 0);

	nrec = 0;
	assert_int_equal(CMD(false, "quarantine", path), 0);
	assert_non_null(strstr(out, HELLO_SHA));
	assert_int_equal(nrec, 1);
	assert_non_null(strstr(last_rec, "\"action\":\"quarantine\""));
	assert_non_null(strstr(last_rec, "\"result\":\"ok\""));
	id_of(out, id, sizeof(id));
	assert_int_equal(strncmp(id, HELLO_SHA, 12), 0);

	/* gone from its place; stored 0400, in 0700 directories */
	struct stat st;
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(p2, sizeof(p2), "%s/quarantine", state);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(p2, sizeof(p2), "%s/quarantine/%s", state, id);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(p2, sizeof(p2), "%s/quarantine/%s/file", state, id);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(st.st_uid, geteuid());
	read_text(p2, buf, sizeof(buf));
	assert_string_equal(buf, "hello\n");

	/* the meta file has everything restore needs */
	char meta[8192];
	snprintf(p2, sizeof(p2), "%s/quarantine/%s/meta.json", state, id);
	read_text(p2, meta, sizeof(meta));
	struct jdoc doc;
	jdoc_init(&doc);
	const struct jnode *m = jdoc_parse(&doc, meta, strlen(meta));
	assert_non_null(m);
	assert_string_equal(jstr(m, "path", ""), path);
	assert_string_equal(jstr(m, "sha256", ""), HELLO_SHA);
	assert_int_equal(jint(m, "size", 0), 6);
	assert_int_equal(jint(m, "mode", 0), 04750);
	assert_int_equal(jint(m, "uid", -1), before.st_uid);
	assert_int_equal(jint(m, "gid", -1), before.st_gid);
	assert_int_equal(jint(m, "mtime_ns", 0), 1500000000987654321LL);
	assert_int_equal(jint(m, "atime_ns", 0), 1600000000123456789LL);
	jdoc_free(&doc);

	/* listed */
	assert_int_equal(CMD(false, "quarantined"), 0);
	assert_non_null(strstr(out, id));
	assert_non_null(strstr(out, path));
	assert_non_null(strstr(out, HELLO_SHA));
	assert_int_equal(CMD(false, "quarantined", "--json"), 0);
	assert_non_null(strstr(out, "\"size\":6"));

	/* restore: same place, content, mode, times, owner, xattrs */
	assert_int_equal(CMD(false, "restore", id), 0);
	assert_non_null(strstr(last_rec, "\"action\":\"restore\""));
	assert_non_null(strstr(last_rec, "\"result\":\"ok\""));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 04750);
	assert_int_equal(st.st_uid, before.st_uid);
	assert_int_equal(st.st_gid, before.st_gid);
	assert_int_equal(st.st_mtim.tv_sec, 1500000000);
	assert_int_equal(st.st_mtim.tv_nsec, 987654321);
	assert_int_equal(st.st_atim.tv_sec, 1600000000);
	assert_int_equal(st.st_atim.tv_nsec, 123456789);
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "hello\n");
	if (have_xattr) {
		char v[16] = "";
		assert_int_equal(getxattr(path, "user.vigil_test", v, sizeof(v)), 2);
		assert_memory_equal(v, "v1", 2);
	}
	/* the entry is gone */
	snprintf(p2, sizeof(p2), "%s/quarantine/%s", state, id);
	assert_int_equal(stat(p2, &st), -1);
	assert_int_equal(CMD(false, "quarantined"), 0);
	assert_null(strstr(out, id));
	assert_int_equal(CMD(false, "restore", id), -1);
	assert_non_null(strstr(err, "no quarantined file"));
	unlink(path);
}

static void test_restore_refuses_existing(void **s)
{
	char path[256], out[4096], err[512], id[64], buf[64];
	snprintf(path, sizeof(path), "%s/twice", files);
	write_file(path, "hello\n", 0644);
	assert_int_equal(CMD(false, "quarantine", path), 0);
	id_of(out, id, sizeof(id));
	write_file(path, "newer\n", 0644);
	assert_int_equal(CMD(false, "restore", id), -1);
	assert_non_null(strstr(err, "exists"));
	assert_non_null(strstr(last_rec, "\"result\":\"refused: "));
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "newer\n");
	/* a directory there is never replaced, even with --force */
	unlink(path);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(CMD(false, "restore", "--force", id), -1);
	assert_non_null(strstr(err, "directory"));
	rmdir(path);
	write_file(path, "newer\n", 0644);
	assert_int_equal(CMD(false, "restore", "--force", id), 0);
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "hello\n");
	unlink(path);
}

static void test_refusals(void **s)
{
	char path[256], out[4096], err[512], link[300];
	/* directory */
	assert_int_equal(CMD(false, "quarantine", files), -1);
	assert_non_null(strstr(err, "is a directory"));
	assert_non_null(strstr(last_rec, "\"result\":\"refused: "));
	/* symlink: names its target, the target is untouched */
	snprintf(path, sizeof(path), "%s/target", files);
	write_file(path, "hello\n", 0755);
	snprintf(link, sizeof(link), "%s/link", files);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(CMD(false, "quarantine", link), -1);
	assert_non_null(strstr(err, "symbolic link"));
	assert_non_null(strstr(err, path));
	assert_int_equal(access(path, F_OK), 0);
	unlink(link);
	/* a symlink in the directory part is resolved: the real path is recorded */
	snprintf(link, sizeof(link), "%s/dirlink", root);
	assert_int_equal(symlink(files, link), 0);
	char via[400];
	snprintf(via, sizeof(via), "%s/target", link);
	assert_int_equal(CMD(false, "quarantine", via), 0);
	assert_non_null(strstr(out, path));
	char id[64];
	id_of(out, id, sizeof(id));
	assert_int_equal(CMD(false, "restore", id), 0);
	assert_int_equal(access(path, F_OK), 0);
	unlink(link);
	unlink(path);
	/* fifo (devices and sockets alike) */
	snprintf(path, sizeof(path), "%s/fifo", files);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(CMD(false, "quarantine", path), -1);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	/* relative, missing, inside the store, bad ids, usage */
	assert_int_equal(CMD(false, "quarantine", "relative/file"), -1);
	assert_non_null(strstr(err, "absolute"));
	snprintf(path, sizeof(path), "%s/missing", files);
	assert_int_equal(CMD(false, "quarantine", path), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_non_null(strstr(last_rec, "\"result\":\"failed: "));
	snprintf(path, sizeof(path), "%s/inside", state);
	write_file(path, "x", 0600);
	assert_int_equal(CMD(false, "quarantine", path), -1);
	assert_non_null(strstr(err, "state directory"));
	unlink(path);
	/* the protect list covers files too */
	snprintf(path, sizeof(path), "%s/keep-me", files);
	write_file(path, "x", 0755);
	char glob[300];
	snprintf(glob, sizeof(glob), "%s/keep-*", files);
	char *protect[] = {glob};
	R.protect = protect;
	R.o.nprotect = 1;
	int rc = CMD(false, "quarantine", path);
	R.protect = NULL;
	R.o.nprotect = 0;
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "protect list"));
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	assert_int_equal(CMD(false, "restore", "../../etc"), -1);
	assert_non_null(strstr(err, "bad quarantine id"));
	assert_int_equal(CMD(false, "restore", "abcdef"), -1);
	assert_int_equal(CMD(false, "quarantine"), -1);
	assert_non_null(strstr(err, "usage"));
	assert_int_equal(CMD(false, "quarantined", "extra"), -1);
	assert_int_equal(CMD(false, "restore", "--bogus", "x"), -1);
}

static void test_dry_run(void **s)
{
	char path[256], out[4096], err[512];
	snprintf(path, sizeof(path), "%s/dry", files);
	write_file(path, "hello\n", 0755);
	nrec = 0;
	assert_int_equal(CMD(true, "quarantine", path), 0);
	assert_non_null(strstr(out, "would quarantine"));
	assert_non_null(strstr(last_rec, "\"result\":\"dry-run\""));
	assert_int_equal(nrec, 1);
	assert_int_equal(access(path, F_OK), 0);
	/* --dry-run as an argument does the same */
	assert_int_equal(CMD(false, "quarantine", "--dry-run", path), 0);
	assert_non_null(strstr(last_rec, "\"result\":\"dry-run\""));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(CMD(false, "quarantined"), 0);
	assert_non_null(strstr(out, "no quarantined files"));
	unlink(path);
}

/* A file on another filesystem is copied, synced and unlinked; restore
 * copies it back. Needs two filesystems: /dev/shm against /tmp. */
static void test_cross_filesystem(void **s)
{
	struct stat a, b;
	if (stat("/dev/shm", &a) || stat(root, &b) || a.st_dev == b.st_dev || access("/dev/shm", W_OK)) {
		skip();
		return;
	}
	char dir[64], path[128], out[4096], err[512], id[64], buf[64];
	snprintf(dir, sizeof(dir), "/dev/shm/vgqXXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/other-fs", dir);
	write_file(path, "hello\n", 02711);
	struct timespec ts[2] = {{.tv_sec = 1400000000, .tv_nsec = 5}, {.tv_sec = 1300000000, .tv_nsec = 7}};
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_int_equal(CMD(false, "quarantine", path), 0);
	assert_non_null(strstr(last_rec, "\"stored\":\"copy\""));
	id_of(out, id, sizeof(id));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(CMD(false, "restore", id), 0);
	assert_non_null(strstr(last_rec, "\"stored\":\"copy\""));
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 02711);
	assert_int_equal(st.st_mtim.tv_sec, 1300000000);
	assert_int_equal(st.st_mtim.tv_nsec, 7);
	assert_int_equal(st.st_atim.tv_sec, 1400000000);
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "hello\n");
	/* no temporary file left beside it */
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s/.vigil-restore-%s", dir, id);
	assert_int_equal(access(tmp, F_OK), -1);
	unlink(path);
	rmdir(dir);
}

/* As root: the owner comes back too (quarantine made it ours). */
static void test_owner_as_root(void **s)
{
	if (geteuid() != 0) {
		skip();
		return;
	}
	char path[256], out[4096], err[512], id[64];
	snprintf(path, sizeof(path), "%s/owned", files);
	write_file(path, "hello\n", 0755);
	assert_int_equal(chown(path, 12345, 23456), 0);
	assert_int_equal(chmod(path, 06755), 0); /* chown cleared the set-id bits */
	assert_int_equal(CMD(false, "quarantine", path), 0);
	id_of(out, id, sizeof(id));
	char stored[512];
	snprintf(stored, sizeof(stored), "%s/quarantine/%s/file", state, id);
	struct stat st;
	assert_int_equal(stat(stored, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	assert_int_equal(CMD(false, "restore", id), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 12345);
	assert_int_equal(st.st_gid, 23456);
	assert_int_equal(st.st_mode & 07777, 06755);
	unlink(path);
}

/* Two quarantines of the same content get distinct ids. */
static void test_same_content_twice(void **s)
{
	char p1[256], p2[256], out[4096], err[512], id1[64], id2[64];
	snprintf(p1, sizeof(p1), "%s/one", files);
	snprintf(p2, sizeof(p2), "%s/two", files);
	write_file(p1, "hello\n", 0644);
	write_file(p2, "hello\n", 0600);
	assert_int_equal(CMD(false, "quarantine", p1), 0);
	id_of(out, id1, sizeof(id1));
	assert_int_equal(CMD(false, "quarantine", p2), 0);
	id_of(out, id2, sizeof(id2));
	assert_string_not_equal(id1, id2);
	assert_int_equal(CMD(false, "restore", id2), 0);
	assert_int_equal(CMD(false, "restore", id1), 0);
	struct stat st;
	assert_int_equal(stat(p1, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(p2, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	unlink(p1);
	unlink(p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quarantine_restore_exact),
		cmocka_unit_test(test_restore_refuses_existing),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_cross_filesystem),
		cmocka_unit_test(test_owner_as_root),
		cmocka_unit_test(test_same_content_twice),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
