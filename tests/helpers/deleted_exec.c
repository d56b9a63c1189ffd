/* deleted_exec: run a binary whose file no longer exists on disk (dropper
 * that deletes itself; exe shows up as "PATH (deleted)").
 *
 * usage: deleted_exec [--dir DIR] [PROGRAM [ARGS...]]
 *   Copies PROGRAM (default /bin/true) to DIR/vigil-deleted-XXXXXX (DIR
 *   default /tmp), opens the copy O_RDONLY, unlinks it, then
 *   execveat(fd, "", ARGS, envp, AT_EMPTY_PATH). The open fd keeps the inode
 *   alive, so the kernel execs a file with no name left.
 * stdout: {"pid":P,"path":"/tmp/vigil-deleted-XXXXXX","source":...,"size":N}
 *   printed just before the exec (same pid afterwards).
 * exit: PROGRAM's exit status (0 for /bin/true); 1 on failure
 *   ({"pid":..,"failed":STEP,"errno":..}). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "helper.h"

extern char **environ;

static int fail(const char *what, int err, const char *path)
{
	printf("{\"pid\":%d,\"failed\":\"%s\",\"errno\":%d,\"error\":\"%s\",\"path\":",
	       getpid(), what, err, errname(err));
	json_str(path);
	json_end();
	if (path)
		unlink(path);
	return 1;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp";
	const char *src = "/bin/true";
	char *dflt_argv[] = { "true", NULL };
	char **exec_argv = dflt_argv;
	char path[4096];
	int i = 1;

	alarm(HELPER_TIMEOUT_S);
	if (i + 1 < argc && strcmp(argv[i], "--dir") == 0) {
		dir = argv[i + 1];
		i += 2;
	}
	if (i < argc) {
		src = argv[i];
		exec_argv = &argv[i];
	}

	if (snprintf(path, sizeof(path), "%s/vigil-deleted-XXXXXX", dir) >= (int)sizeof(path))
		return fail("path", ENAMETOOLONG, NULL);
	int wfd = mkstemp(path);
	if (wfd < 0)
		return fail("mkstemp", errno, NULL);
	long size = copy_file_to_fd(src, wfd);
	if (size < 0)
		return fail("copy", errno, path);
	if (fchmod(wfd, 0755) < 0)
		return fail("fchmod", errno, path);
	/* The writable fd must be gone or execveat fails with ETXTBSY. */
	close(wfd);

	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open", errno, path);
	if (unlink(path) < 0)
		return fail("unlink", errno, path);

	printf("{\"pid\":%d,\"path\":", getpid());
	json_str(path);
	fputs(",\"source\":", stdout);
	json_str(src);
	printf(",\"size\":%ld", size);
	json_end();

	syscall(SYS_execveat, fd, "", exec_argv, environ, AT_EMPTY_PATH);
	return fail("execveat", errno, NULL);
}
