/* file_ops: one of every file-modification hook, on files a, b, c, d in DIR.
 *
 * Half of the steps use paths relative to the cwd (cwd = DIR), the other
 * half are *at() calls relative to a dirfd on DIR issued while the cwd is
 * "/": a sensor that resolves a dirfd-relative name against the cwd (or
 * drops the directory) reports a wrong path, and the test catches it.
 *
 * usage: file_ops DIR
 *   create a (open O_CREAT|O_EXCL, cwd) / write "vigil\n" / rename a->b
 *   (renameat, dirfd) / chmod b 0755 (fchmodat, dirfd) / chown b 65534:65534
 *   (chown, cwd) / link b->c (linkat, dirfd) / symlink d->"b" (symlink, cwd)
 *   / truncate c to 0 (truncate, cwd) / utimes b = 2001-01-01T00:00:00Z
 *   (utimensat, dirfd) / unlink b (unlinkat, dirfd) / unlink c (unlink, cwd)
 *   / unlink d (unlinkat, dirfd).
 * stdout: {"pid":P,"dir":ABS_DIR,"steps":[{"op":..,"via":"cwd"|"dirfd"|"fd",
 *   "syscall":..,"path":ABS,"rc":R,"errno":E,"error":..[,"new_path":ABS]
 *   [,"target":"b"][,"mode":493][,"uid":65534,"gid":65534][,"length":0]
 *   [,"mtime":978307200][,"bytes":6]},...]}  (paths are the absolute paths
 *   the sensor should report; mode is decimal)
 * exit: 0 if every step succeeded, 1 otherwise, 2 usage / DIR unusable. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "helper.h"

static char dir[PATH_MAX];
static int nsteps, nfailed;

static const char *abs_path(const char *name)
{
	static char buf[2][PATH_MAX + 8];
	static int which;
	which ^= 1;
	snprintf(buf[which], sizeof(buf[which]), "%s/%s", dir, name);
	return buf[which];
}

/* Print one step; the caller appends op-specific fields and the closing '}'. */
static void step(const char *op, const char *via, const char *sc, const char *name,
		 int rc, int err)
{
	if (rc < 0)
		nfailed++;
	printf("%s{\"op\":\"%s\",\"via\":\"%s\",\"syscall\":\"%s\",\"path\":", nsteps++ ? "," : "",
	       op, via, sc);
	json_str(abs_path(name));
	printf(",\"rc\":%d,\"errno\":%d,\"error\":\"%s\"", rc, rc < 0 ? err : 0,
	       rc < 0 ? errname(err) : "");
}

/* cwd-relative steps run in DIR, dirfd-relative ones with the cwd at "/". */
static void in_dir(void)
{
	if (chdir(dir) < 0)
		perror("chdir");
}

static void at_root(void)
{
	if (chdir("/") < 0)
		perror("chdir /");
}

int main(int argc, char **argv)
{
	int rc;

	alarm(HELPER_TIMEOUT_S);
	if (argc != 2) {
		fprintf(stderr, "usage: file_ops DIR\n");
		return 2;
	}
	int dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !realpath(argv[1], dir)) {
		perror(argv[1]);
		return 2;
	}

	printf("{\"pid\":%d,\"dir\":", getpid());
	json_str(dir);
	fputs(",\"steps\":[", stdout);

	in_dir();
	int fd = open("a", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	step("create", "cwd", "open", "a", fd, errno);
	fputs("}", stdout);
	rc = fd < 0 ? -1 : (int)write(fd, "vigil\n", 6);
	step("write", "fd", "write", "a", rc, errno);
	printf(",\"bytes\":%d}", rc);
	if (fd >= 0)
		close(fd);

	at_root();
	rc = renameat(dfd, "a", dfd, "b");
	step("rename", "dirfd", "renameat", "a", rc, errno);
	fputs(",\"new_path\":", stdout);
	json_str(abs_path("b"));
	fputs("}", stdout);

	rc = fchmodat(dfd, "b", 0755, 0);
	step("chmod", "dirfd", "fchmodat", "b", rc, errno);
	printf(",\"mode\":%d}", 0755);

	in_dir();
	rc = chown("b", 65534, 65534);
	step("chown", "cwd", "chown", "b", rc, errno);
	fputs(",\"uid\":65534,\"gid\":65534}", stdout);

	at_root();
	rc = linkat(dfd, "b", dfd, "c", 0);
	step("link", "dirfd", "linkat", "b", rc, errno);
	fputs(",\"new_path\":", stdout);
	json_str(abs_path("c"));
	fputs("}", stdout);

	in_dir();
	rc = symlink("b", "d");
	step("symlink", "cwd", "symlink", "d", rc, errno);
	fputs(",\"target\":\"b\"}", stdout);

	rc = truncate("c", 0);
	step("truncate", "cwd", "truncate", "c", rc, errno);
	fputs(",\"length\":0}", stdout);

	at_root();
	/* 2001-01-01T00:00:00Z: an obviously back-dated timestamp. */
	const struct timespec old[2] = { { .tv_sec = 978307200 }, { .tv_sec = 978307200 } };
	rc = utimensat(dfd, "b", old, 0);
	step("utimes", "dirfd", "utimensat", "b", rc, errno);
	fputs(",\"mtime\":978307200}", stdout);

	rc = unlinkat(dfd, "b", 0);
	step("unlink", "dirfd", "unlinkat", "b", rc, errno);
	fputs("}", stdout);

	in_dir();
	rc = unlink("c");
	step("unlink", "cwd", "unlink", "c", rc, errno);
	fputs("}", stdout);

	at_root();
	rc = unlinkat(dfd, "d", 0);
	step("unlink", "dirfd", "unlinkat", "d", rc, errno);
	fputs("}]", stdout);

	json_end();
	close(dfd);
	return nfailed ? 1 : 0;
}
