/* sensitive_read: read a credential-type file (/etc/shadow, ssh keys...)
 * the way a credential stealer would: open read-only, read, close.
 *
 * usage: sensitive_read PATH
 * stdout: {"pid":P,"path":..,"fd":FD|-1,"open_errno":E,"bytes":N|-1,
 *          "read_errno":E,"error":..}
 * exit: 0 if the open and the read succeeded (0 bytes of an empty file
 *   counts), 1 otherwise, 2 usage. */
#define _GNU_SOURCE
#include <fcntl.h>
#include "helper.h"

int main(int argc, char **argv)
{
	char buf[64];

	alarm(HELPER_TIMEOUT_S);
	if (argc != 2) {
		fprintf(stderr, "usage: sensitive_read PATH\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	int oerr = fd < 0 ? errno : 0;
	ssize_t n = -1;
	int rerr = 0;
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf));
		rerr = n < 0 ? errno : 0;
		close(fd);
	}

	printf("{\"pid\":%d,\"path\":", getpid());
	json_str(argv[1]);
	printf(",\"fd\":%d,\"open_errno\":%d,\"bytes\":%zd,\"read_errno\":%d,\"error\":\"%s\"",
	       fd, oerr, n, rerr, errname(oerr ? oerr : rerr));
	json_end();
	return n >= 0 ? 0 : 1;
}
