/* memfd_exec: fileless execution, the classic in-memory-loader pattern.
 *
 * usage: memfd_exec [--name NAME] [PROGRAM [ARGS...]]
 *   Copies PROGRAM (default /bin/true) into memfd_create(NAME, 0) (NAME
 *   default "vigil-test") and fexecve()s it with ARGS (default: argv[0] only).
 * stdout: {"pid":P,"fd":N,"name":...,"source":...,"size":BYTES,"fd_path":...}
 *   printed just before the exec; the pid stays the same across the exec.
 * exit: PROGRAM's exit status (0 for /bin/true); 1 if the memfd could not
 *   be made or the exec failed ({"pid":..,"error":..,"errno":..} then). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/mman.h>
#include "helper.h"

extern char **environ;

static int fail(const char *what, int err)
{
	printf("{\"pid\":%d,\"failed\":\"%s\",\"errno\":%d,\"error\":\"%s\"",
	       getpid(), what, err, errname(err));
	json_end();
	return 1;
}

int main(int argc, char **argv)
{
	const char *name = "vigil-test";
	const char *src = "/bin/true";
	char *dflt_argv[] = { "true", NULL };
	char **exec_argv = dflt_argv;
	int i = 1;

	alarm(HELPER_TIMEOUT_S);
	if (i + 1 < argc && strcmp(argv[i], "--name") == 0) {
		name = argv[i + 1];
		i += 2;
	}
	if (i < argc) {
		src = argv[i];
		exec_argv = &argv[i];
	}

	/* flags 0 on purpose: no MFD_CLOEXEC (the fd must survive into the
	 * exec'd image like real loaders leave it), no MFD_NOEXEC_SEAL. */
	int fd = memfd_create(name, 0);
	if (fd < 0)
		return fail("memfd_create", errno);
	long size = copy_file_to_fd(src, fd);
	if (size < 0)
		return fail("copy", errno);

	printf("{\"pid\":%d,\"fd\":%d,\"name\":", getpid(), fd);
	json_str(name);
	fputs(",\"source\":", stdout);
	json_str(src);
	printf(",\"size\":%ld,\"fd_path\":\"/proc/%d/fd/%d\"", size, getpid(), fd);
	json_end();

	fexecve(fd, exec_argv, environ);
	return fail("fexecve", errno);
}
