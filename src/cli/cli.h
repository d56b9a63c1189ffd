/* vigil's investigation commands (events, session, tree, alerts,
 * incidents, incident): they read the store directory directly, no
 * daemon needed. Internal to src/cli. */
#ifndef VIGIL_CLI_H
#define VIGIL_CLI_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../store/state.h"
#include "../store/store.h"
#include "../util/htab.h"
#include "../util/jsonv.h"
#include "../util/strbuf.h"

#define VIGIL_STORE_DEFAULT "/var/lib/vigil"

/* ---- out.c: terminal output, times, argument helpers ------------------- */
enum cli_color { CC_RESET, CC_DIM, CC_BOLD, CC_RED, CC_GREEN, CC_YELLOW, CC_BLUE, CC_MAGENTA, CC_CYAN,
		 CC_BOLDRED };
void cli_color_init(void);                 /* colour when stdout is a tty and NO_COLOR is unset */
const char *cc(enum cli_color c);          /* the escape, or "" without colour */
/* RFC3339 (or a date, or "YYYY-MM-DD HH:MM[:SS]"), a relative age ("10m",
 * "2h", "1d", "30s", "1w": that long ago), "now", or @EPOCH seconds. */
int cli_parse_time(const char *s, uint64_t *ns);
/* Local time "YYYY-MM-DD HH:MM:SS.mmm". */
void cli_fmt_time(uint64_t ns, char *buf, size_t cap);
int cli_parse_i64(const char *s, int64_t *out);
/* `--store DIR`, else $VIGIL_STORE, else the default. */
const char *cli_store_dir(const char *arg);
/* store_query, printing the store's warnings (corrupt segments) on stderr;
 * a missing store is reported as such. */
long cli_query(const char *dir, const struct store_query *q, store_row_fn fn, void *ctx);
void cli_query_init(struct store_query *q); /* no filters: sid, pid = -1 */
/* state.db, read-only; NULL (and a note on stderr unless quiet) when there is none. */
struct state *cli_state_open(const char *dir, bool quiet);
/* Prints s with control characters escaped, cut to width columns (UTF-8
 * aware enough; width 0 = no cut), padded when pad. */
void cli_put_cut(FILE *f, const char *s, int width, bool pad);
/* The terminal's width when stdout is one, else 0 (never cut). */
int cli_term_cols(void);
/* JSON text for one line: the raw object with a newline. */
void cli_put_json_line(const char *json, size_t len);

/* ---- evfmt.c: one event, one readable line ----------------------------- */
struct evinfo {
	uint64_t ts;
	const char *action, *host;
	int64_t pid, sid;
	uint64_t start_ns;
	const char *exe, *name, *cmdline;
};
void ev_info(const struct jnode *ev, struct evinfo *out);
/* The key detail of an event: exe+args for exec, path for file events,
 * addresses for network events, ... */
void ev_detail(const struct jnode *ev, struct strbuf *out);
enum cli_color ev_color(const char *action);
const char *ev_basename(const char *path);

/* ---- ptree.c: processes, their tree and activity, from events ---------- */
struct pact {                    /* one file/network/privilege act of a process */
	uint64_t ts;
	char type[16];               /* write, create, rename, chmod, delete, read, connect, accept, exec */
	char *target;                /* path or ip:port */
	char *extra;                 /* old path of a rename, ... */
};

struct pnode {
	uint32_t pid;
	uint64_t start_ns;           /* process.start_ns (boot clock); 0 when unknown */
	int64_t ppid, sid;
	uint64_t parent_start;       /* from the fork event, 0 = unknown */
	struct pnode *parent, *child, *next_sib;
	char *exe, *cmdline;         /* the first image seen */
	char *host, *tty;
	int64_t uid;
	uint64_t first_ts, last_ts, fork_ts, exit_ts;
	bool exited, exec_seen;
	int exit_code, exit_signal;
	struct {
		uint64_t ts;
		char *exe, *cmdline;
	} *execs;                    /* each exec, in order */
	int nexec, capexec;
	struct pact *acts;
	int nact, capact;
	int nalerts;
	struct palert {
		int64_t id;
		int level;
		char *title;
	} *alerts;
	bool seed, ancestor_only, hidden;
	int idx;
};

struct ptree {
	struct pnode **nodes;
	size_t n, cap;
	bool keep_acts;              /* collect file/network acts (for graphs) */
	size_t max_nodes;
	bool truncated;
	struct jdoc doc;
	struct htab by_pid;          /* pid -> chain of its incarnations */
	const char *host;            /* only this host */
	size_t events;
	uint64_t min_ts, max_ts;
};

void ptree_init(struct ptree *t);
void ptree_free(struct ptree *t);
struct pnode *ptree_find(struct ptree *t, uint32_t pid, uint64_t start_ns);
/* Adds one event (parsed). */
void ptree_add_event(struct ptree *t, const struct jnode *ev, uint64_t ts);
/* store_row_fn adding each event to the tree (ctx = struct ptree). */
int ptree_row(void *ctx, const char *json, size_t len, uint64_t ts_ns);
/* Follows forks from the nodes there are to their children, one pid query
 * each, until no new process appears (bounded by max_nodes). */
void ptree_follow_children(struct ptree *t, const char *dir);
/* A process known only from an alert's chain (pid, exe, argv): the node
 * of that pid if there is one, else a new ancestor-only node. */
struct pnode *ptree_add_ancestor(struct ptree *t, uint32_t pid, const char *exe, const char *cmdline);
/* Links each node to its parent (fork events, else process.parent.pid). */
void ptree_link(struct ptree *t);
/* Marks the alerts of state.db on the nodes they are about. */
void ptree_mark_alerts(struct ptree *t, struct state *st);
const char *pnode_exe(const struct pnode *p);      /* the last image */
const char *pnode_cmdline(const struct pnode *p);
/* "/usr/bin/setsid -> bash -> sleep": the images it ran, in order */
void pnode_images(const struct pnode *p, struct strbuf *sb);
void pnode_json(const struct pnode *p, struct jw *w, bool recurse);

/* ---- commands ------------------------------------------------------------ */
int cmd_events(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_alerts(int argc, char **argv);
int cmd_actions(int argc, char **argv);
int cmd_incidents(int argc, char **argv);
int cmd_incident(int argc, char **argv);
/* dispatch: argv[0] is the command; -1 when it is not one of these */
int investigate_main(int argc, char **argv);
void investigate_usage(FILE *f);

#endif
