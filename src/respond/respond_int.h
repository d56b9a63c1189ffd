/* Internal to src/respond: the core (respond.c) and the action modules
 * (kill.c, quarantine.c, block.c, isolate.c). The core serialises every
 * command with r->lock, checks nothing about targets itself: each module
 * calls respond_check_pid() before touching a process and respond_log()
 * once per action it takes, refuses or (dry run) would take. */
#ifndef VIGIL_RESPOND_INT_H
#define VIGIL_RESPOND_INT_H
#include <pthread.h>
#include "respond.h"

struct blocker;   /* block.c */
struct isolator;  /* isolate.c */

struct responder {
	struct respond_opts o;        /* strings and lists owned (copied) */
	char *dir, *pin_dir, *host_name;
	char **protect, **allow;
	pthread_mutex_t lock;         /* one command at a time */
	respond_record_fn record;
	void *record_ctx;
	struct blocker *block;        /* NULL until block_open succeeds */
	struct isolator *iso;
	pid_t self_pid;

	/* automatic actions (respond.c) */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct auto_job *qhead, *qtail;
	unsigned qlen;
	bool stopping;
	uint64_t window_start_ns;
	unsigned window_count;
	bool window_reset;            /* set by a reload: start a new window */
	uint64_t full_logged_ns;      /* qlock: last "queue is full" record */
	/* a reloaded protect list, under qlock: taken in by the next command
	 * under r->lock, so a reload never waits for a running command */
	char **protect_next;
	size_t nprotect_next;

	struct responder_stats st;    /* atomics */
};

/* One request being served. */
struct respond_req {
	struct responder *r;
	const char *actor;            /* "cli" or "rule:<id>" */
	bool automatic;
	bool dry_run;                 /* record what would be done, do nothing */
	struct strbuf *out;           /* the reply's text after "ok" */
};

/* Records one action: target is what was acted on ("pid 1234", a path,
 * "host"), result "ok", "dry-run", "refused: why" or "failed: why";
 * detail is a JSON object's text or NULL (e.g. {"killed":[...]}). */
void respond_log(struct respond_req *q, const char *action, const char *target, const char *result,
		 const char *detail_json);

/* The safety rails no rule or person can override: pid 1, kernel threads,
 * vigild itself (any of its threads) and executables on the protect list.
 * 0 = may act; -1 with why filled otherwise. */
int respond_check_pid(struct responder *r, pid_t pid, char *why, size_t cap);
/* exe matches the protect list (fnmatch globs or exact paths). */
bool respond_protected_exe(struct responder *r, const char *exe);

/* ---- the action modules ------------------------------------------------
 * Each *_command() serves its verbs. argv[0] is the verb; on success it
 * writes its text to q->out and returns 0; on error it returns -1 with a
 * one-line reason in err (the core turns it into "error: reason"). */

/* kill.c: kill [--tree|--session] PID[@START_NS] | kill --session SID */
int kill_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen);
/* Nanoseconds per clock tick, the unit of /proc's starttime. */
uint64_t respond_ns_per_tick(void);
/* Is /proc's starttime (clock ticks) the START_NS of an event (0: any)? */
bool respond_start_matches(uint64_t ticks, uint64_t start_ns);
/* Has the process PID@START_NS (START_NS 0: any) stopped running? */
bool kill_target_gone(pid_t pid, uint64_t start_ns);
/* quarantine.c: quarantine PATH | restore ID | quarantined */
int quarantine_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen);
/* block.c: block --hash SHA256 | --path PATH | unblock ... | blocks */
int block_open(struct responder *r, char *err, size_t errlen);
void block_close(struct responder *r);
int block_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen);
/* Is this sha256 (hex) blocked? Lock-light, for the output thread. */
bool block_sha_blocked(struct responder *r, const char *hex);
/* isolate.c: isolate --host | --pid PID | --cgroup PATH; release ...;
 * freeze --pid PID | --cgroup PATH; thaw ...; isolations */
int isolate_open(struct responder *r, char *err, size_t errlen);
void isolate_close(struct responder *r);
int isolate_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen);

#endif
