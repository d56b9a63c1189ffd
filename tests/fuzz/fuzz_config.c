/* libFuzzer target: config_parse on arbitrary text. A failed parse must
 * leave the previous configuration untouched and name "file:LINE: ";
 * a successful one must hold only absolute list entries. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/config.h"

static void check_list(const struct cfg_list *l)
{
	if (l->n < 0 || l->n > CFG_LIST_MAX)
		abort();
	for (int i = 0; i < l->n; i++)
		if (!l->v[i] || l->v[i][0] != '/')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct vigil_config c;
	config_defaults(&c);
	char err[256];
	if (config_parse(&c, "previous", "prev.conf", err, sizeof(err)) == 0)
		abort(); /* "previous" is not a key = value line */
	if (config_parse(&c, "ringbuf_mb = 8\nignore_exe = /keep\n", "prev.conf", err, sizeof(err)))
		abort();
	char *keep = c.ignore_exe.v[0];
	err[0] = 0;
	int r = config_parse(&c, text, "fuzz.conf", err, sizeof(err));
	if (r) {
		if (strncmp(err, "fuzz.conf:", 10) != 0 && strcmp(err, "fuzz.conf: out of memory") != 0)
			abort();
		if (c.ringbuf_mb != 8 || c.ignore_exe.n != 1 || c.ignore_exe.v[0] != keep)
			abort();
	} else {
		if (c.ringbuf_mb == 0 || (c.ringbuf_mb & (c.ringbuf_mb - 1)) || c.ringbuf_mb > 1024)
			abort();
		if (c.argv_max < 256 || c.argv_max > 24576 || c.env_max > 8192)
			abort();
		check_list(&c.ignore_exe);
		check_list(&c.ignore_cgroup);
		check_list(&c.ignore_path);
		check_list(&c.watch_path);
		check_list(&c.sensitive);
		if (c.sensitive.n == 0 || c.watch_path.n == 0 || c.watch_name.n == 0)
			abort();
		for (int i = 0; i < c.watch_name.n; i++)
			if (!config_watch_name_ok(c.watch_name.v[i]))
				abort();
	}
	config_free(&c);
	free(text);
	return 0;
}
