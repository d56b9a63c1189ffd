#define _GNU_SOURCE
/* The API socket: a thread that accepts one request at a time. Requests
 * are tiny and answered from memory or a few map operations, so a slow
 * client only delays other clients, never the sensor. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "daemon.h"
#include "api_proto.h"

static void handle(struct daemon *d, int fd, const struct ucred *peer)
{
	char req[API_REQ_MAX + 1];
	size_t n = 0;
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (n < API_REQ_MAX) {
		ssize_t r = read(fd, req + n, API_REQ_MAX - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(req, '\n', n))
			break;
	}
	req[n] = 0;
	char *nl = strchr(req, '\n');
	if (nl)
		*nl = 0;
	/* one slot more than is served: a word past the last would be dropped
	 * silently (a trailing --dry-run lost makes the action real) */
	char *argv[17];
	int argc = api_split(req, argv, 17);
	struct strbuf out;
	sb_init(&out);
	if (argc > 16) {
		sb_puts(&out, "error: too many arguments (at most 16 words)\n");
	} else if (argc >= 1 && strcmp(argv[0], "status") == 0) {
		bool json = argc >= 2 && strcmp(argv[1], "--json") == 0;
		sb_puts(&out, "ok\n");
		status_text(d, &out, json);
		if (json)
			sb_putc(&out, '\n');
	} else if (argc >= 1 && strcmp(argv[0], "filter") == 0) {
		filter_command(d, argc - 1, argv + 1, &out);
	} else if (argc >= 1 && responder_has_command(argv[0])) {
		if (!d->responder) {
			sb_puts(&out, "error: the responder is not running (see vigild's log)\n");
		} else {
			char actor[64];
			snprintf(actor, sizeof(actor), "cli:uid=%u,pid=%d", (unsigned)peer->uid, (int)peer->pid);
			responder_command(d->responder, actor, argc, argv, &out);
		}
	} else if (argc >= 1 && strcmp(argv[0], "ping") == 0) {
		sb_puts(&out, "ok\npong\n");
	} else {
		sb_printf(&out, "error: unknown request '%s' (status, filter, ping, or a response command)\n", argc ? argv[0] : "");
	}
	size_t off = 0;
	while (off < out.len) {
		ssize_t w = write(fd, out.buf + off, out.len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	sb_free(&out);
}

static void *api_main(void *arg)
{
	struct daemon *d = arg;
	pthread_setname_np(pthread_self(), "vigild-api");
	for (;;) {
		struct pollfd p = {.fd = d->api_fd, .events = POLLIN};
		int r = poll(&p, 1, 200);
		if (__atomic_load_n(&d->api_fd, __ATOMIC_ACQUIRE) < 0)
			break;
		if (r <= 0)
			continue;
		int c = accept4(d->api_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* root only: the socket mode is 0600 but check the peer too */
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 && cr.uid == 0)
			handle(d, c, &cr);
		close(c);
	}
	return NULL;
}

int api_start(struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", d->run_dir, VIGIL_SOCK_NAME) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unlink(sa.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r || chmod(sa.sun_path, 0600) || listen(fd, 16)) {
		int e = errno;
		close(fd);
		return -e;
	}
	d->api_fd = fd;
	if (pthread_create(&d->api_thread, NULL, api_main, d)) {
		close(fd);
		d->api_fd = -1;
		return -1;
	}
	return 0;
}

void api_stop(struct daemon *d)
{
	int fd = d->api_fd;
	if (fd < 0)
		return;
	__atomic_store_n(&d->api_fd, -1, __ATOMIC_RELEASE);
	pthread_join(d->api_thread, NULL);
	close(fd);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", d->run_dir, VIGIL_SOCK_NAME);
	unlink(path);
}
