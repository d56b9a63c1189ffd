/* init_module_garbage: exercise the kernel-module syscalls without loading
 * anything (rootkit-style module load/unload attempts). All three calls are
 * expected to fail: the image is garbage and the module does not exist; on a
 * kernel without CONFIG_MODULES they fail with ENOSYS.
 *
 * usage: init_module_garbage
 *   init_module(64 garbage bytes, ""), finit_module(fd of a temp file holding
 *   the same bytes, "", 0), delete_module("vigil_nonexistent", O_NONBLOCK).
 * stdout: {"pid":P,"init_module":{"rc":..,"errno":..,"error":"ENOSYS"},
 *   "finit_module":{...},"finit_fd":N,"delete_module":{...},
 *   "delete_name":"vigil_nonexistent"}
 * exit: 0 always (unless the temp file could not be made: 1). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include "helper.h"

int main(void)
{
	unsigned char garbage[64];
	char path[] = "/tmp/vigil-module-XXXXXX";

	alarm(HELPER_TIMEOUT_S);
	/* Deterministic, and deliberately not an ELF header. */
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (unsigned char)(0xA5 ^ (i * 37));

	long irc = syscall(SYS_init_module, garbage, sizeof(garbage), "");
	int ierr = errno;

	int wfd = mkstemp(path);
	if (wfd < 0 || write(wfd, garbage, sizeof(garbage)) != (ssize_t)sizeof(garbage)) {
		perror("temp module file");
		return 1;
	}
	/* finit_module refuses files that are open for writing (ETXTBSY). */
	close(wfd);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unlink(path);
	long frc = syscall(SYS_finit_module, fd, "", 0);
	int ferr = errno;
	if (fd >= 0)
		close(fd);

	long drc = syscall(SYS_delete_module, "vigil_nonexistent", O_NONBLOCK);
	int derr = errno;

	printf("{\"pid\":%d,", getpid());
	json_result("init_module", irc, ierr);
	fputs(",", stdout);
	json_result("finit_module", frc, ferr);
	printf(",\"finit_fd\":%d,", fd);
	json_result("delete_module", drc, derr);
	fputs(",\"delete_name\":\"vigil_nonexistent\"", stdout);
	json_end();
	return 0;
}
