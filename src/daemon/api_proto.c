#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "api_proto.h"

int api_call(const char *run_dir, const char *request, struct strbuf *reply)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", run_dir, VIGIL_SOCK_NAME) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a response (a session kill, quarantine of a large file) may take a while */
	struct timeval tv = {.tv_sec = 60};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;
		close(fd);
		return -e;
	}
	size_t n = strlen(request);
	if (write(fd, request, n) != (ssize_t)n || write(fd, "\n", 1) != 1) {
		int e = errno;
		close(fd);
		return -e;
	}
	shutdown(fd, SHUT_WR);
	char buf[4096];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		sb_put(reply, buf, (size_t)r);
	}
	close(fd);
	return 0;
}

void api_put_arg(struct strbuf *sb, const char *arg)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
		if (*p == '%' || *p <= ' ' || *p == 0x7f) {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			sb_put(sb, esc, 3);
		} else {
			sb_putc(sb, (char)*p);
		}
	}
}

/* Undoes api_put_arg in place; a '%' not followed by two hex digits is
 * kept as it is, and %00 is refused (kept) so no argument is cut short. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		int hi, lo;
		if (*r == '%' && (hi = hex_digit(r[1])) >= 0 && (lo = hex_digit(r[2])) >= 0 && (hi | lo)) {
			*w++ = (char)(hi << 4 | lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

int api_split(char *line, char **argv, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t\r\n", &save); t && n < max; t = strtok_r(NULL, " \t\r\n", &save)) {
		unescape(t);
		argv[n++] = t;
	}
	return n;
}
