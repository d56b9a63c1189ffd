/* libFuzzer target: what reaches the responder from outside vigild's
 * memory. (1) A request line from the API socket: api_split must give
 * NUL-free words that api_put_arg turns back into the same line's words.
 * (2) The persisted block list: a load either fails with "path:LINE:
 * reason" and an empty list, or gives a list that saves and loads back
 * to the same entries. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/api_proto.h"
#include "respond/blocklist.h"

static char path[64], path2[64];

static void fuzz_request(const uint8_t *data, size_t size)
{
	if (size > API_REQ_MAX)
		size = API_REQ_MAX;
	char *line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = 0;
	char *argv[64];
	int argc = api_split(line, argv, 64);
	struct strbuf sb;
	sb_init(&sb);
	for (int i = 0; i < argc; i++) {
		if (!argv[i][0])
			abort(); /* no empty word */
		if (i)
			sb_putc(&sb, ' ');
		api_put_arg(&sb, argv[i]);
	}
	/* what the CLI would send for these words splits back into them */
	char *again = sb.buf ? strdup(sb.buf) : strdup("");
	char *argv2[64];
	int argc2 = api_split(again, argv2, 64);
	if (argc2 != argc)
		abort();
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], argv2[i]))
			abort();
	free(again);
	sb_free(&sb);
	free(line);
}

static void fuzz_blocklist(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fwrite(data, 1, size, f);
	fclose(f);
	struct blocklist l;
	blocklist_init(&l);
	char err[512] = "";
	if (blocklist_load(&l, path, err, sizeof(err))) {
		if (strncmp(err, path, strlen(path)) || l.n)
			abort();
		blocklist_free(&l);
		return;
	}
	for (struct block_entry *e = l.head; e; e = e->next) {
		char why[128];
		uint8_t sha[32];
		if (e->kind == BLOCK_HASH ? block_parse_sha256(e->value, sha, why, sizeof(why))
					  : block_check_path(e->value, why, sizeof(why)))
			abort(); /* a loaded entry is a valid one */
	}
	if (blocklist_save(&l, path2, err, sizeof(err)) == 0) {
		struct blocklist l2;
		blocklist_init(&l2);
		if (blocklist_load(&l2, path2, err, sizeof(err)) || l2.n != l.n)
			abort();
		for (struct block_entry *a = l.head, *b = l2.head; a && b; a = a->next, b = b->next)
			if (a->kind != b->kind || strcmp(a->value, b->value))
				abort();
		blocklist_free(&l2);
	}
	struct hashset hs;
	if (hashset_build(&hs, &l) == 0) {
		for (struct block_entry *e = l.head; e; e = e->next)
			if (e->kind == BLOCK_HASH && hashset_find(&hs, e->sha) == NULL)
				abort();
		hashset_free(&hs);
	}
	blocklist_free(&l);
}

static void remove_files(void)
{
	unlink(path);
	unlink(path2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/fuzz_respond.%d", (int)getpid());
		snprintf(path2, sizeof(path2), "/tmp/fuzz_respond2.%d", (int)getpid());
		atexit(remove_files);
	}
	if (size && data[0] & 1)
		fuzz_request(data + 1, size - 1);
	else if (size)
		fuzz_blocklist(data + 1, size - 1);
	return 0;
}
