/* The responder: actions on processes, files and the network, asked for by
 * a person (`vigil kill|block|quarantine|isolate|freeze ...` through the API
 * socket) or by a rule marked `vigil: {response: ...}` (active defense).
 * Every action, refused and dry-run ones included, is recorded through the
 * record callback (vigild stores it in state.db and emits it as an event).
 * Blocks and isolations are state that outlives vigild: they are restored
 * (blocks) or were never undone (pinned isolation links) at the next start. */
#ifndef VIGIL_RESPOND_H
#define VIGIL_RESPOND_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "../util/strbuf.h"

enum respond_mode { RESPOND_OFF = 0, RESPOND_DRY_RUN = 1, RESPOND_ON = 2 };
/* "off", "dry-run", "on" (as in the configuration file). */
const char *respond_mode_name(int mode);

struct respond_opts {
	const char *dir;                 /* root-only state: blocks, quarantine/, isolation */
	const char *pin_dir;             /* bpffs directory for pinned isolation programs */
	int mode;                        /* automatic actions: enum respond_mode */
	unsigned max_per_min;            /* automatic actions per minute */
	const char *const *protect;      /* executables (globs) never acted on */
	size_t nprotect;
	const char *const *isolate_allow; /* CIDRs reachable while isolated */
	size_t nallow;
	bool block_fanotify;             /* false: eBPF kill-at-exec only */
	const char *host_name;           /* for the action records */
};

/* One action record, a JSON object (no newline): what vigild stores and
 * emits as the `vigil.response` part of a "response" event. */
struct respond_record {
	uint64_t ts_ns;                  /* wall clock */
	const char *actor;               /* "cli" or "rule:<id>" */
	const char *action;              /* kill, block, quarantine, ... */
	const char *target;
	const char *result;              /* "ok", "dry-run", "refused: ...", "failed: ..." */
	const char *json;                /* the whole record */
	size_t len;
};
typedef void (*respond_record_fn)(void *ctx, const struct respond_record *rec);

struct responder;

/* Opens the state directory (created 0700), restores blocks and finds the
 * isolations left pinned. A part that cannot work on this kernel (no
 * fanotify, no cgroup v2) is reported on stderr once and its commands
 * answer with the reason; the rest works. -1 only on a fatal error. */
int responder_open(struct responder **out, const struct respond_opts *o, respond_record_fn fn, void *ctx,
		   char *err, size_t errlen);
/* Stops the threads. Blocks and isolations stay in force on disk and in
 * bpffs (an isolated host stays isolated while vigild restarts). */
void responder_close(struct responder *r);

/* Is verb a responder command (kill, block, unblock, blocks, quarantine,
 * restore, quarantined, isolate, release, isolations, freeze, thaw,
 * actions is not one: it is read from state.db by `vigil`)? */
bool responder_has_command(const char *verb);
/* Runs one manual command (argv[0] is the verb) as actor; the reply is
 * the API's: "ok\n" then text, or "error: reason\n". Serialised with
 * every other command. */
int responder_command(struct responder *r, const char *actor, int argc, char **argv, struct strbuf *reply);

/* An alert from a rule marked with a response, for active defense. */
struct respond_alert {
	const char *rule_id;
	const char *response;            /* kill, kill_tree, kill_session, block, block_exec,
					  * quarantine, isolate, isolate_process, isolate_host, freeze */
	pid_t pid;                       /* the process the alert is about */
	uint64_t start_ns;               /* its start (boot-time ns), 0 = unknown */
	int64_t sid;                     /* its session, -1 = unknown */
	const char *exe;                 /* process.executable, or NULL */
	const char *sha256;              /* process.hash.sha256, or NULL */
	const char *file_path;           /* file.path of the event, or NULL */
};
/* Queues the alert's response for the responder's thread (never blocks the
 * caller; a full queue is recorded as refused). Honours the mode, the
 * rate limit and the protect list. */
void responder_on_alert(struct responder *r, const struct respond_alert *a);
/* An exec whose image hash vigild has just computed: if that hash is
 * blocked, the exec got past the block (a memfd, a filesystem fanotify
 * could not mark, the eBPF fallback's first sight of a file) and the
 * process is killed at once (PID@start_ns, recorded with actor
 * "block:<sha256>"). Never blocks the caller. */
void responder_on_exec(struct responder *r, pid_t pid, uint64_t start_ns, const char *sha256, const char *exe);

/* A configuration reload: the automatic mode, the rate limit and the
 * protect list (the directories and the isolation allow list need a
 * restart). */
void responder_reconfigure(struct responder *r, int mode, unsigned max_per_min, const char *const *protect,
			   size_t nprotect);

struct responder_stats {
	uint64_t actions, refused, dry_run, failed, rate_limited;
	uint64_t skipped; /* automatic actions whose process had exited */
	uint64_t blocks, blocked_execs, isolations, quarantined;
};
void responder_stats(struct responder *r, struct responder_stats *st);

#endif
