/* Helpers for the responder's unit tests: respond_cmd runs one command as
 * the core would (argv from the NULL-terminated words, the reply text in
 * out, the error in err); record_cb keeps the last audit record. */
#ifndef VIGIL_TEST_RESPONDTEST_H
#define VIGIL_TEST_RESPONDTEST_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include "respond/respond_int.h"

typedef int (*respond_cmd_fn)(struct respond_req *q, int argc, char **argv, char *err, size_t errlen);

static inline int respond_cmd(respond_cmd_fn fn, struct responder *r, bool dry, char *out, size_t outcap, char *err,
			      size_t errcap, ...)
{
	char *argv[8];
	int argc = 0;
	va_list ap;
	va_start(ap, errcap);
	for (const char *a; argc < 7 && (a = va_arg(ap, const char *));)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	struct strbuf sb;
	sb_init(&sb);
	struct respond_req q = {.r = r, .actor = "cli", .dry_run = dry, .out = &sb};
	err[0] = 0;
	int rc = fn(&q, argc, argv, err, errcap);
	snprintf(out, outcap, "%.*s", (int)sb.len, sb.buf ? sb.buf : "");
	sb_free(&sb);
	return rc;
}

/* The last record the responder logged, and how many it logged. */
static char last_rec[8192];
static int nrec;

static inline void record_cb(void *ctx, const struct respond_record *rec)
{
	(void)ctx;
	snprintf(last_rec, sizeof(last_rec), "%.*s", (int)rec->len, rec->json);
	nrec++;
}

#endif
