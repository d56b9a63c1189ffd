/* init_module_garbage: exercise the kernel-module syscalls without loading
 * anything (rootkit-style module load/unload attempts). All three calls are
 * expected to fail: the image is garbage and the module does not exist; on a
 * kernel without CONFIG_MODULES they fail with ENOSYS.
 *
 * usage: init_module_garbage
 *   init_module(64 garbage bytes, ""), finit_module(fd of a temp file holding
 *   the same bytes, "", 0), delete_module("vigil_nonexistent", O_NONBLOCK).
 * stdout: {"pid":P,"init_module":{"rc":..,"errno":..,"error":"ENOSYS"},
 *   "finit_module":{...},"finit_fd":N,"finit_path":"/tmp/vigil-module-..",
 *   "delete_module":{...},
 *   "delete_name":"vigil_nonexistent"}
 *   --int80 (x86_64): the same init_module through the 32-bit syscall
 *   entry instead, see int80_mode().
 * exit: 0 always (unless the temp file could not be made: 1). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "helper.h"

#if defined(__x86_64__)
/* int $0x80 from 64-bit code: the 32-bit syscall table (init_module is
 * 128 there, and 175, the 64-bit init_module, is rt_sigprocmask). */
static long int80(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
	return r;
}

/* usage: init_module_garbage --int80
 * stdout: {"pid":P,"int80_init_module":{"rc":..},"int80_sigprocmask":{"rc":..},
 *          "int80_select":{"rc":..}}
 * (rc is the raw -errno). Buffers live below 4 GiB: 32-bit pointers. */
static int int80_mode(void)
{
	unsigned char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (low == MAP_FAILED) {
		perror("mmap MAP_32BIT");
		return 1;
	}
	for (size_t i = 0; i < 64; i++)
		low[i] = (unsigned char)(0xA5 ^ (i * 37));
	low[64] = 0; /* empty parameter string */
	long irc = int80(128, (long)low, 64, (long)(low + 64));
	/* rt_sigprocmask(SIG_BLOCK, NULL, NULL, sigsetsize 0): EINVAL */
	long src = int80(175, 0, 0, 0);
	/* old select(NULL): EFAULT; 82 is rename in the 64-bit table, whose
	 * exit program the sys_exit dispatcher reaches by that number */
	long sel = int80(82, 0, 0, 0);
	printf("{\"pid\":%d,\"int80_init_module\":{\"rc\":%ld},"
	       "\"int80_sigprocmask\":{\"rc\":%ld},\"int80_select\":{\"rc\":%ld}",
	       getpid(), irc, src, sel);
	json_end();
	return 0;
}
#endif

int main(int argc, char **argv)
{
	unsigned char garbage[64];
	char path[] = "/tmp/vigil-module-XXXXXX";

	alarm(HELPER_TIMEOUT_S);
#if defined(__x86_64__)
	if (argc == 2 && strcmp(argv[1], "--int80") == 0)
		return int80_mode();
#endif
	if (argc != 1) {
		fprintf(stderr, "usage: init_module_garbage [--int80]\n");
		return 2;
	}
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
	printf(",\"finit_fd\":%d,\"finit_path\":", fd);
	json_str(path);
	fputs(",", stdout);
	json_result("delete_module", drc, derr);
	fputs(",\"delete_name\":\"vigil_nonexistent\"", stdout);
	json_end();
	return 0;
}
