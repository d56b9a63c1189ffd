/* vigil: the responder's command line. It talks to vigild over the
 * root-only API socket. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../daemon/api_proto.h"
#include "../engine/engine.h"
#include "../respond/respond.h"
#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vigil [--run-dir DIR] COMMAND\n"
		   "  status [--json]                     events/s and drops per hook\n"
		   "  filter list                         in-kernel filters and rate caps\n"
		   "  filter add|del exe PATH             ignore events of an executable\n"
		   "  filter add|del cgroup PATH|ID       ignore a cgroup\n"
		   "  filter add|del path PREFIX          ignore file events under a prefix\n"
		   "  filter add|del watch PREFIX         report writes under a prefix\n"
		   "  filter add|del watch-name NAME      report writes to files so named, anywhere\n"
		   "  filter add|del sensitive GLOB       report reads of matching files\n"
		   "  filter rate HOOK N                  cap a hook at N events/s (0 = none)\n"
		   "  rules check DIR                     validate the Sigma rules under DIR\n"
		   "  rules list [DIR]                    the rules under DIR (default: the shipped rules)\n"
		   "response (executed by vigild, recorded; --dry-run records what would be done):\n"
		   "  kill [--tree] PID[@START_NS]        kill a process (or its tree); never a reused pid\n"
		   "  kill --session SID                  kill every process of a login session\n"
		   "  block --hash SHA256 | --path PATH   deny execution (EPERM) before it runs; survives restarts\n"
		   "  unblock --hash SHA256 | --path PATH, blocks\n"
		   "  quarantine PATH                     move a file into the root-only quarantine\n"
		   "  restore ID [--force], quarantined   put it back exactly; list the quarantine\n"
		   "  isolate --host | --pid PID | --cgroup PATH   cut off the network (loopback and\n"
		   "                                      isolate_allow stay reachable); survives restarts\n"
		   "  release --host | --pid PID | --cgroup PATH | --all, isolations\n"
		   "  freeze|thaw --pid PID | --cgroup PATH   cgroup v2 freezer\n"
		   "  actions [--since T] [--json]        every action taken, from the store\n");
	investigate_usage(f);
}

/* The shipped rules: next to the binary (build tree or install prefix),
 * else the installed copy. */
static const char *default_rules_dir(char *buf, size_t cap)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = 0;
			static const char *const rel[] = {"../rules", "../share/vigil/rules"};
			for (int k = 0; k < 2; k++) {
				char p[4200];
				snprintf(p, sizeof(p), "%s/%s", exe, rel[k]);
				if (cap >= PATH_MAX && realpath(p, buf) && access(buf, R_OK | X_OK) == 0)
					return buf;
			}
		}
	}
	return "/usr/local/share/vigil/rules";
}

static int count_lines(const struct strbuf *sb)
{
	int n = 0;
	for (size_t i = 0; i < sb->len; i++)
		n += sb->buf[i] == '\n';
	return n;
}

/* `vigil rules check|list`: the engine's own loader and compiler, no daemon. */
static int rules_cmd(int argc, char **argv, int i)
{
	bool check = i + 1 < argc && !strcmp(argv[i + 1], "check");
	bool list = i + 1 < argc && !strcmp(argv[i + 1], "list");
	if ((!check && !list) || (check && i + 3 != argc) || (list && i + 3 < argc)) {
		usage(stderr);
		return 2;
	}
	char buf[PATH_MAX];
	const char *dir = i + 2 < argc ? argv[i + 2] : default_rules_dir(buf, sizeof(buf));
	struct engine *e = engine_new(NULL);
	if (!e) {
		fprintf(stderr, "vigil: out of memory\n");
		return 1;
	}
	struct strbuf errs, out;
	sb_init(&errs);
	sb_init(&out);
	int loaded = engine_load_dir(e, dir, &errs);
	int load_errs = count_lines(&errs);
	if (loaded >= 0)
		engine_compile(e, &errs);
	int nerr = count_lines(&errs);
	int rc = 0;
	if (check) {
		if (errs.len)
			fputs(errs.buf, stdout);
		int ok = loaded < 0 ? 0 : loaded - (nerr - load_errs);
		printf("%d rules ok, %d errors\n", ok < 0 ? 0 : ok, nerr);
		rc = nerr ? 1 : 0;
	} else {
		if (errs.len)
			fputs(errs.buf, stderr);
		engine_list(e, &out);
		if (out.len)
			fputs(out.buf, stdout);
		rc = loaded < 0 ? 1 : 0;
	}
	sb_free(&errs);
	sb_free(&out);
	engine_free(e);
	return rc;
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
	if (!strcmp(argv[i], "rules"))
		return rules_cmd(argc, argv, i);
	int inv = investigate_main(argc - i, argv + i); /* events, session, tree, alerts, incident(s) */
	if (inv >= 0)
		return inv;
	if (strcmp(argv[i], "status") && strcmp(argv[i], "filter") && strcmp(argv[i], "ping") &&
	    !responder_has_command(argv[i])) {
		fprintf(stderr, "vigil: unknown command '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	struct strbuf req, reply;
	sb_init(&req);
	sb_init(&reply);
	for (int k = i; k < argc; k++) {
		/* an empty word has no encoding: it would vanish and shift the
		 * words after it into other options' places */
		if (!argv[k][0]) {
			fprintf(stderr, "vigil: empty argument after '%s'\n", argv[k - 1]);
			sb_free(&req);
			return 2;
		}
		if (k > i)
			sb_putc(&req, ' ');
		api_put_arg(&req, argv[k]);
	}
	int rc = 1;
	if (req.len > API_REQ_MAX) {
		fprintf(stderr, "vigil: request too long (%zu bytes, at most %d)\n", req.len, API_REQ_MAX);
		rc = 2;
	} else {
		int e = api_call(run_dir, req.buf, &reply);
		const char *body = reply.buf ? reply.buf : "";
		if (e) {
			fprintf(stderr, "vigil: cannot reach vigild at %s/%s: %s\n", run_dir, VIGIL_SOCK_NAME,
				strerror(-e));
		} else if (strncmp(body, "ok\n", 3) == 0) {
			fputs(body + 3, stdout);
			rc = 0;
		} else {
			fputs(body, stderr);
		}
	}
	sb_free(&req);
	sb_free(&reply);
	return rc;
}
