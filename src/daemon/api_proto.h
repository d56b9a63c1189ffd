/* The local API between `vigil` and vigild: a root-only unix stream socket
 * in the run directory. One request line in, a reply until EOF out. The
 * reply's first line is "ok" or "error: reason". */
#ifndef VIGIL_API_PROTO_H
#define VIGIL_API_PROTO_H
#include <stddef.h>
#include "../util/strbuf.h"

#define VIGIL_RUN_DIR "/run/vigil"
#define VIGIL_SOCK_NAME "vigild.sock"
#define VIGIL_LOCK_NAME "vigild.lock"
#define API_REQ_MAX 4096

/* Sends one request and reads the whole reply; 0 or -errno. */
int api_call(const char *run_dir, const char *request, struct strbuf *reply);
/* Appends one argument to a request line: '%', blanks and control bytes
 * are written as %XX, so a path with spaces stays one argument. */
void api_put_arg(struct strbuf *sb, const char *arg);
/* Splits a request line into at most max words (in place, undoing
 * api_put_arg); returns the count. */
int api_split(char *line, char **argv, int max);

#endif
