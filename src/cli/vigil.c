/* vigil: the responder's command line. It talks to vigild over the
 * root-only API socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../daemon/api_proto.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--run-dir DIR] COMMAND\n"
		   "  status [--json]                     events/s and drops per hook\n"
		   "  filter list                         in-kernel filters and rate caps\n"
		   "  filter add|del exe PATH             ignore events of an executable\n"
		   "  filter add|del cgroup PATH|ID       ignore a cgroup\n"
		   "  filter add|del path PREFIX          ignore file events under a prefix\n"
		   "  filter add|del watch PREFIX         report writes under a prefix\n"
		   "  filter add|del sensitive GLOB       report reads of matching files\n"
		   "  filter rate HOOK N                  cap a hook at N events/s (0 = none)\n");
}

int main(int argc, char **argv)
{
	const char *run_dir = getenv("VIGIL_RUN_DIR") ? getenv("VIGIL_RUN_DIR") : VIGIL_RUN_DIR;
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--run-dir") == 0) {
		run_dir = argv[i + 1];
		i += 2;
	}
	if (i >= argc || !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	if (strcmp(argv[i], "status") && strcmp(argv[i], "filter") && strcmp(argv[i], "ping")) {
		fprintf(stderr, "vigil: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	struct strbuf req, reply;
	sb_init(&req);
	sb_init(&reply);
	for (int k = i; k < argc; k++) {
		if (strpbrk(argv[k], " \t\r\n")) {
			fprintf(stderr, "vigil: arguments cannot contain spaces or newlines: '%s'\n", argv[k]);
			return 2;
		}
		if (k > i)
			sb_putc(&req, ' ');
		sb_puts(&req, argv[k]);
	}
	int e = api_call(run_dir, req.buf, &reply);
	if (e) {
		fprintf(stderr, "vigil: cannot reach vigild at %s/%s: %s\n", run_dir, VIGIL_SOCK_NAME, strerror(-e));
		return 1;
	}
	const char *body = reply.buf ? reply.buf : "";
	if (strncmp(body, "ok\n", 3) == 0) {
		fputs(body + 3, stdout);
		return 0;
	}
	fputs(body, stderr);
	return 1;
}
