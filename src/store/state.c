/* state.db: alerts, incidents, incident_alerts, actions (SQLite, WAL).
 * One connection per struct state, serialised by a mutex (the output
 * thread and the responder may share one). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "state.h"
#include "../engine/engine.h"
#include "../util/jsonv.h"

enum pending_kind { PENDING_ALERT, PENDING_INCIDENT, PENDING_ACTION };

/* One queued write. An action's five strings (actor, action, target,
 * result, json) are packed NUL-terminated in json[], at off[i] (NO_STR: NULL). */
#define NO_STR UINT32_MAX
struct pending {
	struct pending *next;
	enum pending_kind kind;
	size_t len;
	uint64_t ts_ns;
	uint32_t off[5];
	char json[];
};

#define STATE_QUEUE_MAX 10000

struct state {
	sqlite3 *db;
	bool readonly;
	pthread_mutex_t lock;
	/* the writer thread (state_start_writer): a queue of outputs */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct pending *qhead, *qtail;
	size_t qlen;
	bool writer, stopping;
	pthread_t thread;
	uint64_t dropped, written;
	sqlite3_stmt *ins_alert, *up_incident, *link, *find_alert, *find_alert_near, *ins_action;
	struct jdoc doc;
};

static const char *const level_names[] = {"informational", "low", "medium", "high", "critical"};

int state_level_num(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < 5; i++)
		if (!strcasecmp(name, level_names[i]))
			return i;
	if (!strcasecmp(name, "info"))
		return 0;
	return -1;
}

const char *state_level_name(int level)
{
	return level >= 0 && level < 5 ? level_names[level] : "unknown";
}

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS alerts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ts INTEGER NOT NULL,"          /* ns since the epoch: the alert's @timestamp */
	" rule_id TEXT NOT NULL, title TEXT NOT NULL, level INTEGER NOT NULL,"
	" host TEXT NOT NULL, sid INTEGER, pid INTEGER, exe TEXT,"
	" json TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts)",
	"CREATE INDEX IF NOT EXISTS alerts_session ON alerts(host, sid, ts)",
	"CREATE INDEX IF NOT EXISTS alerts_pid ON alerts(pid, ts)",
	"CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule_id, ts)",
	"CREATE TABLE IF NOT EXISTS incidents ("
	" id TEXT PRIMARY KEY,"
	" ts_first INTEGER NOT NULL, ts_last INTEGER NOT NULL,"
	" score INTEGER NOT NULL, level INTEGER NOT NULL, status TEXT,"
	" host TEXT NOT NULL, sid INTEGER,"
	" updates INTEGER NOT NULL DEFAULT 1,"
	" json TEXT NOT NULL)",
	"CREATE INDEX IF NOT EXISTS incidents_last ON incidents(ts_last)",
	"CREATE TABLE IF NOT EXISTS incident_alerts ("
	" incident_id TEXT NOT NULL REFERENCES incidents(id),"
	" alert_id INTEGER NOT NULL REFERENCES alerts(id),"
	" PRIMARY KEY (incident_id, alert_id))",
	"CREATE INDEX IF NOT EXISTS incident_alerts_alert ON incident_alerts(alert_id)",
	"CREATE TABLE IF NOT EXISTS actions ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" ts INTEGER NOT NULL, actor TEXT, action TEXT NOT NULL, target TEXT, result TEXT,"
	" json TEXT)",
	"CREATE INDEX IF NOT EXISTS actions_ts ON actions(ts)",
	NULL,
};

static int exec_sql(struct state *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s: %s", sql, msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int user_version(struct state *s)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int create_schema(struct state *s, char *err, size_t errlen)
{
	int v = user_version(s);
	if (v > STATE_SCHEMA_VERSION) {
		seterr(err, errlen, "state.db: schema version %d is newer than this program's (%d)", v,
		       STATE_SCHEMA_VERSION);
		return -1;
	}
	if (v == STATE_SCHEMA_VERSION)
		return 0;
	if (exec_sql(s, "BEGIN IMMEDIATE", err, errlen))
		return -1;
	for (int i = 0; schema[i]; i++)
		if (exec_sql(s, schema[i], err, errlen)) {
			exec_sql(s, "ROLLBACK", NULL, 0);
			return -1;
		}
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STATE_SCHEMA_VERSION);
	if (exec_sql(s, sql, err, errlen) || exec_sql(s, "COMMIT", err, errlen)) {
		exec_sql(s, "ROLLBACK", NULL, 0);
		return -1;
	}
	return 0;
}

static int prep(struct state *s, sqlite3_stmt **st, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

static int prepare_writes(struct state *s, char *err, size_t errlen)
{
	return prep(s, &s->ins_alert,
		    "INSERT INTO alerts (ts, rule_id, title, level, host, sid, pid, exe, json)"
		    " VALUES (?,?,?,?,?,?,?,?,?)", err, errlen) ||
	       prep(s, &s->up_incident,
		    "INSERT INTO incidents (id, ts_first, ts_last, score, level, status, host, sid, json)"
		    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
		    " ON CONFLICT(id) DO UPDATE SET ts_first = min(ts_first, ?2), ts_last = max(ts_last, ?3),"
		    " score = ?4, level = ?5, status = ?6, host = ?7, sid = ?8, json = ?9, updates = updates + 1",
		    err, errlen) ||
	       prep(s, &s->link, "INSERT OR IGNORE INTO incident_alerts (incident_id, alert_id) VALUES (?,?)", err,
		    errlen) ||
	       prep(s, &s->find_alert, "SELECT id FROM alerts WHERE rule_id = ? AND ts = ? AND pid = ? LIMIT 1", err,
		    errlen) ||
	       /* the alert nearest in time to a member whose timestamp differs */
	       prep(s, &s->find_alert_near,
		    "SELECT id FROM alerts WHERE rule_id = ?1 AND pid = ?2 AND ts BETWEEN ?3 - 2000000000 AND ?3 + 2000000000"
		    " ORDER BY abs(ts - ?3) LIMIT 1", err, errlen) ||
	       prep(s, &s->ins_action,
		    "INSERT INTO actions (ts, actor, action, target, result, json) VALUES (?,?,?,?,?,?)", err, errlen);
}

int state_open(struct state **out, const char *dir, bool readonly, char *err, size_t errlen)
{
	*out = NULL;
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/var/lib/vigil", STATE_DB_NAME) >=
	    (int)sizeof(path)) {
		seterr(err, errlen, "state.db: path too long");
		errno = ENAMETOOLONG;
		return -1;
	}
	if (readonly) {
		if (access(path, R_OK)) {
			int e = errno;
			seterr(err, errlen, "cannot read %s: %s", path, strerror(e));
			errno = e;
			return -1;
		}
	} else {
		if (mkdir(dir && *dir ? dir : "/var/lib/vigil", 0700) && errno != EEXIST) {
			int e = errno;
			seterr(err, errlen, "cannot create %s: %s", dir, strerror(e));
			errno = e;
			return -1;
		}
		/* created 0600 before SQLite opens it (its -wal and -shm files
		 * take the database's mode) */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			int e = errno;
			seterr(err, errlen, "cannot open %s: %s", path, strerror(e));
			errno = e;
			return -1;
		}
		fchmod(fd, 0600);
		close(fd);
	}
	struct state *s = calloc(1, sizeof(*s));
	if (!s) {
		seterr(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	s->readonly = readonly;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	jdoc_init(&s->doc);
	int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_FULLMUTEX;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		seterr(err, errlen, "cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	if (!readonly) {
		if (exec_sql(s, "PRAGMA journal_mode = WAL", err, errlen) ||
		    exec_sql(s, "PRAGMA synchronous = NORMAL", err, errlen) || create_schema(s, err, errlen) ||
		    prepare_writes(s, err, errlen))
			goto fail;
	} else {
		int v = user_version(s);
		if (v < 0) {
			seterr(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
			goto fail;
		}
		if (v != STATE_SCHEMA_VERSION) {
			seterr(err, errlen, "%s: schema version %d, this program reads version %d", path, v,
			       STATE_SCHEMA_VERSION);
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	state_close(s);
	errno = EIO;
	return -1;
}

static void stop_writer(struct state *s);

void state_close(struct state *s)
{
	if (!s)
		return;
	stop_writer(s);
	sqlite3_finalize(s->ins_alert);
	sqlite3_finalize(s->up_incident);
	sqlite3_finalize(s->link);
	sqlite3_finalize(s->find_alert);
	sqlite3_finalize(s->find_alert_near);
	sqlite3_finalize(s->ins_action);
	sqlite3_close(s->db);
	jdoc_free(&s->doc);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	free(s);
}

static uint64_t ts_of(const struct jnode *root, const char *path)
{
	uint64_t ns = 0;
	const char *t = jstr(root, path, NULL);
	if (t && vg_parse_rfc3339(t, &ns))
		ns = 0;
	return ns;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_int_or_null(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static int step_done(struct state *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "vigild: state.db: %s\n", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int64_t state_add_alert(struct state *s, const char *json, size_t len)
{
	if (!s || s->readonly)
		return -1;
	pthread_mutex_lock(&s->lock);
	int64_t id = -1;
	const struct jnode *r = jdoc_parse(&s->doc, json, len);
	const char *rule_id = r ? jstr(r, "rule.id", NULL) : NULL;
	if (!r || r->type != JV_OBJ || !rule_id)
		goto out;
	sqlite3_stmt *st = s->ins_alert;
	uint64_t ts = ts_of(r, "@timestamp");
	sqlite3_bind_int64(st, 1, (int64_t)ts);
	sqlite3_bind_text(st, 2, rule_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, jstr(r, "rule.title", ""), -1, SQLITE_TRANSIENT);
	int lvl = state_level_num(jstr(r, "rule.level", NULL));
	sqlite3_bind_int(st, 4, lvl < 0 ? 2 : lvl);
	sqlite3_bind_text(st, 5, jstr(r, "host.name", ""), -1, SQLITE_TRANSIENT);
	bind_int_or_null(st, 6, jint(r, "session.id", -1));
	bind_int_or_null(st, 7, jint(r, "process.pid", -1));
	bind_text_or_null(st, 8, jstr(r, "process.executable", NULL));
	sqlite3_bind_text(st, 9, json, (int)len, SQLITE_TRANSIENT);
	if (step_done(s, st) == 0)
		id = sqlite3_last_insert_rowid(s->db);
out:
	pthread_mutex_unlock(&s->lock);
	return id;
}

static int64_t find_member_alert(struct state *s, const char *rule_id, uint64_t ts, int64_t pid)
{
	int64_t id = -1;
	sqlite3_stmt *st = s->find_alert;
	sqlite3_bind_text(st, 1, rule_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)ts);
	sqlite3_bind_int64(st, 3, pid);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (id > 0)
		return id;
	st = s->find_alert_near;
	sqlite3_bind_text(st, 1, rule_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, pid);
	sqlite3_bind_int64(st, 3, (int64_t)ts);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return id;
}

int state_upsert_incident(struct state *s, const char *json, size_t len)
{
	if (!s || s->readonly)
		return -1;
	pthread_mutex_lock(&s->lock);
	int rc = -1;
	const struct jnode *r = jdoc_parse(&s->doc, json, len);
	const char *id = r ? jstr(r, "incident.id", NULL) : NULL;
	if (!r || r->type != JV_OBJ || !id || !*id)
		goto out;
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "vigild: state.db: %s\n", sqlite3_errmsg(s->db));
		goto out;
	}
	uint64_t now = ts_of(r, "@timestamp");
	uint64_t first = ts_of(r, "incident.first"), last = ts_of(r, "incident.last");
	sqlite3_stmt *st = s->up_incident;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)(first ? first : now));
	sqlite3_bind_int64(st, 3, (int64_t)(last ? last : now));
	sqlite3_bind_int64(st, 4, jint(r, "incident.score", 0));
	int lvl = state_level_num(jstr(r, "incident.level", NULL));
	sqlite3_bind_int(st, 5, lvl < 0 ? 2 : lvl);
	bind_text_or_null(st, 6, jstr(r, "incident.status", NULL));
	sqlite3_bind_text(st, 7, jstr(r, "host.name", ""), -1, SQLITE_TRANSIENT);
	bind_int_or_null(st, 8, jint(r, "session.id", -1));
	sqlite3_bind_text(st, 9, json, (int)len, SQLITE_TRANSIENT);
	bool ok = step_done(s, st) == 0;
	const struct jnode *mem = jget(r, "members");
	for (const struct jnode *m = mem && mem->type == JV_ARR ? mem->child : NULL; ok && m; m = m->next) {
		const char *kind = jstr(m, "kind", "alert");
		const char *rid = jstr(m, "rule.id", NULL);
		if (strcmp(kind, "alert") || !rid)
			continue;
		int64_t aid = find_member_alert(s, rid, ts_of(m, "@timestamp"), jint(m, "process.pid", 0));
		if (aid <= 0)
			continue;
		sqlite3_bind_text(s->link, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s->link, 2, aid);
		ok = step_done(s, s->link) == 0;
	}
	if (ok && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		rc = 0;
	} else {
		fprintf(stderr, "vigild: state.db: incident %s not stored: %s\n", id, sqlite3_errmsg(s->db));
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int64_t state_add_action(struct state *s, uint64_t ts_ns, const char *actor, const char *action,
			 const char *target, const char *result, const char *json)
{
	if (!s || s->readonly || !action)
		return -1;
	pthread_mutex_lock(&s->lock);
	int64_t id = -1;
	sqlite3_stmt *st = s->ins_action;
	sqlite3_bind_int64(st, 1, (int64_t)ts_ns);
	bind_text_or_null(st, 2, actor);
	sqlite3_bind_text(st, 3, action, -1, SQLITE_TRANSIENT);
	bind_text_or_null(st, 4, target);
	bind_text_or_null(st, 5, result);
	bind_text_or_null(st, 6, json);
	if (step_done(s, st) == 0)
		id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return id;
}

static void write_one(struct state *s, const struct pending *p)
{
#define STR(i) (p->off[i] == NO_STR ? NULL : p->json + p->off[i])
	switch (p->kind) {
	case PENDING_INCIDENT:
		state_upsert_incident(s, p->json, p->len);
		break;
	case PENDING_ALERT:
		state_add_alert(s, p->json, p->len);
		break;
	case PENDING_ACTION:
		state_add_action(s, p->ts_ns, STR(0), STR(1), STR(2), STR(3), STR(4));
		break;
	}
#undef STR
}

static void *writer_main(void *arg)
{
	struct state *s = arg;
	pthread_setname_np(pthread_self(), "vigild-state");
	pthread_mutex_lock(&s->qlock);
	for (;;) {
		while (!s->qhead && !s->stopping)
			pthread_cond_wait(&s->qcond, &s->qlock);
		struct pending *batch = s->qhead;
		s->qhead = s->qtail = NULL;
		s->qlen = 0;
		bool stop = s->stopping;
		pthread_mutex_unlock(&s->qlock);
		/* in order: an incident after the alerts it names */
		while (batch) {
			struct pending *p = batch;
			batch = p->next;
			write_one(s, p);
			free(p);
			__atomic_add_fetch(&s->written, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_lock(&s->qlock);
		if (stop && !s->qhead)
			break;
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

int state_start_writer(struct state *s)
{
	if (!s || s->readonly || s->writer)
		return -1;
	s->stopping = false;
	if (pthread_create(&s->thread, NULL, writer_main, s))
		return -1;
	s->writer = true;
	return 0;
}

static void stop_writer(struct state *s)
{
	if (!s->writer)
		return;
	pthread_mutex_lock(&s->qlock);
	s->stopping = true;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	pthread_join(s->thread, NULL); /* it drains the queue first */
	s->writer = false;
}

/* Queues p for the writer thread: 0, or -1 (queue full: counted, freed). */
static int enqueue(struct state *s, struct pending *p)
{
	p->next = NULL;
	pthread_mutex_lock(&s->qlock);
	if (s->qlen >= STATE_QUEUE_MAX) {
		pthread_mutex_unlock(&s->qlock);
		free(p);
		__atomic_add_fetch(&s->dropped, 1, __ATOMIC_RELAXED);
		return -1;
	}
	if (s->qtail)
		s->qtail->next = p;
	else
		s->qhead = p;
	s->qtail = p;
	s->qlen++;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	return 0;
}

void state_record_output(struct state *s, const struct engine_output *o)
{
	if (!s || !o || !o->json || !o->len)
		return;
	if (!s->writer) {
		if (o->incident)
			state_upsert_incident(s, o->json, o->len);
		else
			state_add_alert(s, o->json, o->len);
		return;
	}
	struct pending *p = malloc(sizeof(*p) + o->len + 1);
	if (!p) {
		__atomic_add_fetch(&s->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	*p = (struct pending){.kind = o->incident ? PENDING_INCIDENT : PENDING_ALERT, .len = o->len};
	memcpy(p->json, o->json, o->len);
	p->json[o->len] = 0;
	enqueue(s, p);
}

int state_queue_action(struct state *s, uint64_t ts_ns, const char *actor, const char *action,
		       const char *target, const char *result, const char *json)
{
	if (!s || s->readonly || !action)
		return -1;
	if (!s->writer)
		return state_add_action(s, ts_ns, actor, action, target, result, json) > 0 ? 0 : -1;
	const char *str[5] = {actor, action, target, result, json};
	size_t len = 0;
	for (int i = 0; i < 5; i++)
		len += str[i] ? strlen(str[i]) + 1 : 0;
	struct pending *p = malloc(sizeof(*p) + len);
	if (!p) {
		__atomic_add_fetch(&s->dropped, 1, __ATOMIC_RELAXED);
		return -1;
	}
	*p = (struct pending){.kind = PENDING_ACTION, .len = len, .ts_ns = ts_ns};
	size_t off = 0;
	for (int i = 0; i < 5; i++) {
		if (!str[i]) {
			p->off[i] = NO_STR;
			continue;
		}
		size_t n = strlen(str[i]) + 1;
		memcpy(p->json + off, str[i], n);
		p->off[i] = (uint32_t)off;
		off += n;
	}
	return enqueue(s, p);
}

void state_writer_stats(struct state *s, uint64_t *written, uint64_t *dropped)
{
	*written = s ? __atomic_load_n(&s->written, __ATOMIC_RELAXED) : 0;
	*dropped = s ? __atomic_load_n(&s->dropped, __ATOMIC_RELAXED) : 0;
}

/* ---- queries ------------------------------------------------------------- */

void state_alert_query_init(struct state_alert_query *q)
{
	memset(q, 0, sizeof(*q));
	q->min_level = -1;
	q->sid = -1;
	q->pid = -1;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int64_t col_int_or(sqlite3_stmt *st, int i, int64_t def)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? def : sqlite3_column_int64(st, i);
}

long state_alerts(struct state *s, const struct state_alert_query *q, state_alert_fn fn, void *ctx,
		  char *err, size_t errlen)
{
	struct strbuf sql;
	sb_init(&sql);
	sb_puts(&sql, "SELECT a.id, a.ts, a.rule_id, a.title, a.level, a.host, a.sid, a.pid, a.exe, a.json,"
		      " (SELECT ia.incident_id FROM incident_alerts ia WHERE ia.alert_id = a.id"
		      "  ORDER BY ia.rowid DESC LIMIT 1) FROM alerts a WHERE 1");
	if (q->from_ns)
		sb_puts(&sql, " AND a.ts >= :from");
	if (q->to_ns)
		sb_puts(&sql, " AND a.ts <= :to");
	if (q->min_level >= 0)
		sb_puts(&sql, " AND a.level >= :level");
	if (q->host)
		sb_puts(&sql, " AND a.host = :host");
	if (q->sid >= 0)
		sb_puts(&sql, " AND a.sid = :sid");
	if (q->pid >= 0)
		sb_puts(&sql, " AND a.pid = :pid");
	if (q->rule_id)
		sb_puts(&sql, " AND a.rule_id = :rule");
	if (q->incident_id)
		sb_puts(&sql, " AND a.id IN (SELECT alert_id FROM incident_alerts WHERE incident_id = :inc)");
	/* the newest N, delivered oldest first */
	if (q->limit)
		sb_printf(&sql, " ORDER BY a.ts DESC, a.id DESC LIMIT %zu", q->limit);
	else
		sb_puts(&sql, " ORDER BY a.ts, a.id");
	if (sql.oom) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st;
	long n = -1;
	if (sqlite3_prepare_v2(s->db, sql.buf, -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		goto out;
	}
#define BIND_I(name, v) sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, name), (int64_t)(v))
#define BIND_T(name, v) sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, name), v, -1, SQLITE_STATIC)
	if (q->from_ns)
		BIND_I(":from", q->from_ns);
	if (q->to_ns)
		BIND_I(":to", q->to_ns);
	if (q->min_level >= 0)
		BIND_I(":level", q->min_level);
	if (q->host)
		BIND_T(":host", q->host);
	if (q->sid >= 0)
		BIND_I(":sid", q->sid);
	if (q->pid >= 0)
		BIND_I(":pid", q->pid);
	if (q->rule_id)
		BIND_T(":rule", q->rule_id);
	if (q->incident_id)
		BIND_T(":inc", q->incident_id);
	/* with a limit the rows come newest first: collect their ids, then
	 * deliver in time order */
	int64_t *ids = NULL;
	size_t nids = 0;
	n = 0;
	int rc;
	if (q->limit) {
		ids = calloc(q->limit, sizeof(*ids));
		if (!ids) {
			seterr(err, errlen, "out of memory");
			n = -1;
			sqlite3_finalize(st);
			goto out;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW && nids < q->limit)
			ids[nids++] = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			seterr(err, errlen, "state.db: %s", sqlite3_errstr(rc));
			free(ids);
			n = -1;
			goto out;
		}
		if (sqlite3_prepare_v2(s->db,
				       "SELECT a.id, a.ts, a.rule_id, a.title, a.level, a.host, a.sid, a.pid, a.exe, a.json,"
				       " (SELECT ia.incident_id FROM incident_alerts ia WHERE ia.alert_id = a.id"
				       "  ORDER BY ia.rowid DESC LIMIT 1) FROM alerts a WHERE a.id = ?",
				       -1, &st, NULL) != SQLITE_OK) {
			seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
			free(ids);
			n = -1;
			goto out;
		}
	}
	size_t k = nids;
	for (;;) {
		if (ids) {
			if (!k)
				break;
			sqlite3_reset(st);
			sqlite3_bind_int64(st, 1, ids[--k]);
		}
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE && ids)
			continue;
		if (rc != SQLITE_ROW)
			break;
		struct state_alert a = {
			.id = sqlite3_column_int64(st, 0),
			.ts_ns = (uint64_t)sqlite3_column_int64(st, 1),
			.rule_id = col_text(st, 2),
			.title = col_text(st, 3),
			.level = sqlite3_column_int(st, 4),
			.host = col_text(st, 5),
			.sid = col_int_or(st, 6, -1),
			.pid = col_int_or(st, 7, -1),
			.exe = col_text(st, 8),
			.json = col_text(st, 9),
			.incident_id = col_text(st, 10),
		};
		n++;
		if (fn && fn(ctx, &a))
			break;
		rc = SQLITE_DONE;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		n = -1;
	}
	free(ids);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	sb_free(&sql);
	return n;
}

#define INCIDENT_COLS                                                                                       \
	"SELECT i.id, i.ts_first, i.ts_last, i.score, i.level, i.status, i.host, i.sid, i.updates, i.json,"  \
	" (SELECT count(*) FROM incident_alerts ia WHERE ia.incident_id = i.id) FROM incidents i "

static long incident_rows(struct state *s, sqlite3_stmt *st, state_incident_fn fn, void *ctx, char *err,
			  size_t errlen)
{
	long n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_incident in = {
			.id = col_text(st, 0),
			.first_ns = (uint64_t)sqlite3_column_int64(st, 1),
			.last_ns = (uint64_t)sqlite3_column_int64(st, 2),
			.score = sqlite3_column_int(st, 3),
			.level = sqlite3_column_int(st, 4),
			.status = col_text(st, 5),
			.host = col_text(st, 6),
			.sid = col_int_or(st, 7, -1),
			.updates = sqlite3_column_int64(st, 8),
			.json = col_text(st, 9),
			.nalerts = sqlite3_column_int64(st, 10),
		};
		n++;
		if (fn && fn(ctx, &in)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return n;
}

long state_incidents(struct state *s, uint64_t from_ns, int min_level, state_incident_fn fn, void *ctx,
		     char *err, size_t errlen)
{
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st;
	long n = -1;
	if (sqlite3_prepare_v2(s->db, INCIDENT_COLS "WHERE i.ts_last >= ? AND i.level >= ? ORDER BY i.ts_first, i.id",
			       -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
	} else {
		sqlite3_bind_int64(st, 1, (int64_t)from_ns);
		sqlite3_bind_int(st, 2, min_level < 0 ? 0 : min_level);
		n = incident_rows(s, st, fn, ctx, err, errlen);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

struct first_match {
	char id[128];
	int n;
};

static int note_id(void *ctx, const struct state_incident *in)
{
	struct first_match *m = ctx;
	if (m->n++ == 0)
		snprintf(m->id, sizeof(m->id), "%s", in->id);
	return 0;
}

int state_incident_get(struct state *s, const char *id, state_incident_fn fn, void *ctx, char *err,
		       size_t errlen)
{
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st;
	int found = -1;
	if (sqlite3_prepare_v2(s->db, INCIDENT_COLS "WHERE i.id = ?", -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	long n = incident_rows(s, st, fn, ctx, err, errlen);
	sqlite3_finalize(st);
	if (n != 0) {
		found = n > 0 ? 1 : -1;
		goto out;
	}
	/* an unambiguous prefix ("inc-fc0f" or "fc0f") */
	struct first_match m = {.n = 0};
	char pat[256];
	snprintf(pat, sizeof(pat), "%s%s%%", strncmp(id, "inc-", 4) ? "inc-" : "", id);
	if (strpbrk(id, "%_") ||
	    sqlite3_prepare_v2(s->db, INCIDENT_COLS "WHERE i.id LIKE ? LIMIT 2", -1, &st, NULL) != SQLITE_OK) {
		found = 0;
		goto out;
	}
	sqlite3_bind_text(st, 1, pat, -1, SQLITE_STATIC);
	n = incident_rows(s, st, note_id, &m, err, errlen);
	sqlite3_finalize(st);
	if (n < 0)
		goto out;
	if (m.n != 1) {
		if (m.n > 1)
			seterr(err, errlen, "incident id '%s' is ambiguous", id);
		found = 0;
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, INCIDENT_COLS "WHERE i.id = ?", -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	sqlite3_bind_text(st, 1, m.id, -1, SQLITE_STATIC);
	n = incident_rows(s, st, fn, ctx, err, errlen);
	sqlite3_finalize(st);
	found = n > 0 ? 1 : n == 0 ? 0 : -1;
out:
	pthread_mutex_unlock(&s->lock);
	return found;
}

long state_actions(struct state *s, uint64_t from_ns, state_action_fn fn, void *ctx, char *err,
		   size_t errlen)
{
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st;
	long n = -1;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id, ts, actor, action, target, result, json FROM actions WHERE ts >= ?"
			       " ORDER BY ts, id", -1, &st, NULL) != SQLITE_OK) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	sqlite3_bind_int64(st, 1, (int64_t)from_ns);
	int rc;
	n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_action a = {
			.id = sqlite3_column_int64(st, 0),
			.ts_ns = (uint64_t)sqlite3_column_int64(st, 1),
			.actor = col_text(st, 2),
			.action = col_text(st, 3),
			.target = col_text(st, 4),
			.result = col_text(st, 5),
			.json = col_text(st, 6),
		};
		n++;
		if (fn && fn(ctx, &a)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		seterr(err, errlen, "state.db: %s", sqlite3_errmsg(s->db));
		n = -1;
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return n;
}

int state_counts(struct state *s, struct state_counts *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents),"
			       " (SELECT count(*) FROM actions)", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			c->alerts = sqlite3_column_int64(st, 0);
			c->incidents = sqlite3_column_int64(st, 1);
			c->actions = sqlite3_column_int64(st, 2);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}
