/* `vigil actions`: the responder's audit trail, read from state.db (no
 * daemon needed: the record outlives it). */
#include <stdlib.h>
#include <string.h>
#include "cli.h"

struct actions_ctx {
	bool json;
	long n;
};

static int action_row(void *ctx, const struct state_action *a)
{
	struct actions_ctx *c = ctx;
	c->n++;
	if (c->json) {
		if (a->json && *a->json)
			cli_put_json_line(a->json, strlen(a->json));
		return 0;
	}
	char t[64];
	cli_fmt_time(a->ts_ns, t, sizeof(t));
	const char *res = a->result ? a->result : "";
	enum cli_color col = !strcmp(res, "ok") ? CC_GREEN : !strcmp(res, "dry-run") ? CC_YELLOW : CC_RED;
	printf("%-6lld %s%s%s  %-11s ", (long long)a->id, cc(CC_DIM), t, cc(CC_RESET), a->action ? a->action : "");
	cli_put_cut(stdout, a->target ? a->target : "", 32, true);
	printf(" %s", cc(col));
	cli_put_cut(stdout, res, 40, true);
	printf("%s %s\n", cc(CC_RESET), a->actor ? a->actor : "");
	return 0;
}

int cmd_actions(int argc, char **argv)
{
	const char *store = NULL;
	uint64_t since = 0;
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--store") && i + 1 < argc) {
			store = argv[++i];
		} else if (!strcmp(argv[i], "--since") && i + 1 < argc) {
			if (cli_parse_time(argv[++i], &since)) {
				fprintf(stderr, "vigil actions: bad time '%s' (RFC3339, or 10m, 2h, 1d)\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "usage: vigil actions [--since T] [--json] [--store DIR]\n");
			return 2;
		}
	}
	struct state *st = cli_state_open(cli_store_dir(store), false);
	if (!st)
		return 1;
	struct actions_ctx c = {.json = json};
	if (!json)
		printf("%s%-6s %-23s  %-11s %-32s %-40s %s%s\n", cc(CC_BOLD), "ID", "TIME", "ACTION", "TARGET", "RESULT",
		       "ACTOR", cc(CC_RESET));
	char err[512];
	long n = state_actions(st, since, action_row, &c, err, sizeof(err));
	if (n < 0)
		fprintf(stderr, "vigil: %s\n", err);
	state_close(st);
	return n < 0 ? 1 : 0;
}
