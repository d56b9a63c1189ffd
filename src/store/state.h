/* The store's relational state: alerts, incidents (and which alerts they
 * hold) and response actions, in SQLite (state.db, mode 0600, WAL) in the
 * store directory beside the event segments. vigild writes it from its
 * output thread (and the responder); `vigil` reads it without the daemon.
 * Every row keeps the JSON it came from, and its host, session, pid and
 * time: enough to fetch its events back from the segments (store_query). */
#ifndef VIGIL_STATE_H
#define VIGIL_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/strbuf.h"

#define STATE_DB_NAME "state.db"
#define STATE_SCHEMA_VERSION 1

struct state;
struct engine_output;

/* Opens (creating the directory, the file and the schema when writable)
 * DIR/state.db. A read-only open of a store without state.db fails with
 * ENOENT in errno and a message in err. */
int state_open(struct state **out, const char *dir, bool readonly, char *err, size_t errlen);
void state_close(struct state *s);

/* An alert as the engine writes it (engine.h); returns its id (> 0), or -1. */
int64_t state_add_alert(struct state *s, const char *json, size_t len);
/* An incident (new or updated: same incident.id): the row is replaced by
 * the latest JSON, and each of its members that is a stored alert is
 * linked to it. Returns 0, or -1. */
int state_upsert_incident(struct state *s, const char *json, size_t len);
/* A response action (the responder's audit trail); json may be NULL.
 * Returns its id (> 0), or -1. */
int64_t state_add_action(struct state *s, uint64_t ts_ns, const char *actor, const char *action,
			 const char *target, const char *result, const char *json);
/* state_add_action for vigild's responder: with a writer thread running it
 * only queues (as state_record_output), so an action is never held up by
 * the disk; without one it writes at once. 0, or -1 (dropped, counted). */
int state_queue_action(struct state *s, uint64_t ts_ns, const char *actor, const char *action,
		       const char *target, const char *result, const char *json);
/* vigild's engine output callback hook: stores an alert or an incident
 * (copied: the caller's buffer may go). With a writer thread running it
 * only queues (in order, bounded; overflow is counted as dropped), so the
 * caller never waits on the disk or on another process's lock. Safe to
 * call with s == NULL (no store). */
void state_record_output(struct state *s, const struct engine_output *o);
/* Starts the writer thread; state_close drains its queue and stops it. */
int state_start_writer(struct state *s);
void state_writer_stats(struct state *s, uint64_t *written, uint64_t *dropped);

/* 0 informational .. 4 critical, -1 unknown; and back. */
int state_level_num(const char *name);
const char *state_level_name(int level);

/* ---- queries (for `vigil`) ---------------------------------------------- */
struct state_alert {
	int64_t id;
	uint64_t ts_ns;
	const char *rule_id, *title;
	int level;
	const char *host;
	int64_t sid, pid;
	const char *exe;
	const char *incident_id;   /* the (latest) incident holding it, or NULL */
	const char *json;
};

struct state_alert_query {
	uint64_t from_ns, to_ns;   /* 0 = unbounded */
	int min_level;             /* -1 = any */
	const char *host;          /* NULL = any */
	int64_t sid, pid;          /* -1 = any */
	const char *incident_id;   /* only the alerts of this incident */
	const char *rule_id;
	size_t limit;              /* 0 = no limit; the newest N, still in time order */
};
void state_alert_query_init(struct state_alert_query *q);
typedef int (*state_alert_fn)(void *ctx, const struct state_alert *a);
/* In time order; fn returns non-zero to stop. Returns the number of rows
 * delivered, or -1 (error in err). */
long state_alerts(struct state *s, const struct state_alert_query *q, state_alert_fn fn, void *ctx,
		  char *err, size_t errlen);

struct state_incident {
	const char *id;
	uint64_t first_ns, last_ns;
	int score, level;
	const char *status, *host;
	int64_t sid;
	int64_t updates;           /* how many times the engine emitted it */
	int64_t nalerts;           /* linked alerts */
	const char *json;
};
typedef int (*state_incident_fn)(void *ctx, const struct state_incident *i);
/* Incidents last active at or after from_ns (0 = all), oldest first. */
long state_incidents(struct state *s, uint64_t from_ns, int min_level, state_incident_fn fn, void *ctx,
		     char *err, size_t errlen);
/* One incident by id (or an unambiguous prefix of it); 1 found, 0 not, -1 error. */
int state_incident_get(struct state *s, const char *id, state_incident_fn fn, void *ctx, char *err,
		       size_t errlen);

struct state_action {
	int64_t id;
	uint64_t ts_ns;
	const char *actor, *action, *target, *result, *json;
};
typedef int (*state_action_fn)(void *ctx, const struct state_action *a);
long state_actions(struct state *s, uint64_t from_ns, state_action_fn fn, void *ctx, char *err,
		   size_t errlen);

struct state_counts {
	int64_t alerts, incidents, actions;
};
int state_counts(struct state *s, struct state_counts *c);

#endif
