/* The responder's core: command dispatch to the action modules, the safety
 * rails, the audit records, and active defense (rule responses run on the
 * responder's own thread so that neither the sensor nor the engine ever
 * waits on an action). */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "respond_int.h"
#include "../util/strbuf.h"
#include "../util/clock.h"

#define AUTO_QUEUE_MAX 256

struct auto_job {
	struct auto_job *next;
	char *rule_id, *response, *exe, *sha256, *file_path;
	pid_t pid;
	uint64_t start_ns;
	int64_t sid;
	bool enforce_block;   /* an exec of a blocked hash that ran: kill it, whatever the mode */
};

static void count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

/* ---- records ------------------------------------------------------------ */

void respond_log(struct respond_req *q, const char *action, const char *target, const char *result,
		 const char *detail_json)
{
	struct responder *r = q->r;
	uint64_t ts = clock_ns(CLOCK_REALTIME);
	struct strbuf sb;
	sb_init(&sb);
	struct jw w;
	jw_init(&w, &sb);
	jw_obj_open(&w, NULL);
	jw_str(&w, "action", action);
	jw_str(&w, "actor", q->actor);
	jw_bool(&w, "automatic", q->automatic);
	jw_str(&w, "mode", q->dry_run ? "dry-run" : "on");
	jw_str(&w, "target", target ? target : "");
	jw_str(&w, "result", result ? result : "");
	if (detail_json && *detail_json)
		jw_raw(&w, "detail", detail_json);
	jw_uint(&w, "ts_ns", ts);
	jw_obj_close(&w);

	if (!result)
		result = "";
	if (!strncmp(result, "refused", 7))
		count(&r->st.refused);
	else if (!strncmp(result, "failed", 6))
		count(&r->st.failed);
	else if (!strcmp(result, "dry-run"))
		count(&r->st.dry_run);
	else if (!strncmp(result, "skipped", 7))
		count(&r->st.skipped);
	else
		count(&r->st.actions);
	if (r->record && !sb.oom) {
		struct respond_record rec = {.ts_ns = ts, .actor = q->actor, .action = action,
					     .target = target ? target : "", .result = result,
					     .json = sb.buf, .len = sb.len};
		r->record(r->record_ctx, &rec);
	}
	sb_free(&sb);
}

/* ---- safety rails ------------------------------------------------------- */

bool respond_protected_exe(struct responder *r, const char *exe)
{
	for (size_t i = 0; exe && i < r->o.nprotect; i++)
		if (!strcmp(r->protect[i], exe) || fnmatch(r->protect[i], exe, FNM_PATHNAME) == 0)
			return true;
	return false;
}

/* /proc/PID/stat: the flags (field 9) and the thread group id's status. */
static int read_stat_flags(pid_t pid, unsigned long *flags)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	char state;
	int ppid, pgrp, session, tty, tpgid;
	unsigned long fl;
	if (sscanf(p + 1, " %c %d %d %d %d %d %lu", &state, &ppid, &pgrp, &session, &tty, &tpgid, &fl) != 7)
		return -1;
	*flags = fl;
	return 0;
}

static pid_t tgid_of(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	pid_t tgid = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Tgid:", 5)) {
			tgid = (pid_t)atoi(line + 5);
			break;
		}
	fclose(f);
	return tgid;
}

#define PF_KTHREAD_FLAG 0x00200000UL

int respond_check_pid(struct responder *r, pid_t pid, char *why, size_t cap)
{
	if (pid <= 0) {
		snprintf(why, cap, "no such process %d", (int)pid);
		return -1;
	}
	if (pid == 1) {
		snprintf(why, cap, "pid 1 (init) is never acted on");
		return -1;
	}
	if (pid == r->self_pid || tgid_of(pid) == r->self_pid) {
		snprintf(why, cap, "pid %d is vigild itself", (int)pid);
		return -1;
	}
	unsigned long flags;
	if (read_stat_flags(pid, &flags)) {
		snprintf(why, cap, "no such process %d", (int)pid);
		return -1;
	}
	if (flags & PF_KTHREAD_FLAG) {
		snprintf(why, cap, "pid %d is a kernel thread", (int)pid);
		return -1;
	}
	char link[64], exe[4096];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		/* a replaced or deleted binary reads "PATH (deleted)": match PATH
		 * (the suffix only: the name itself may hold " (deleted)") */
		if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
			exe[n - 10] = 0;
		if (respond_protected_exe(r, exe)) {
			snprintf(why, cap, "pid %d runs %s, which is on the protect list", (int)pid, exe);
			return -1;
		}
	}
	return 0;
}

/* ---- commands ----------------------------------------------------------- */

static const struct {
	const char *verb;
	int (*fn)(struct respond_req *, int, char **, char *, size_t);
} commands[] = {
	{"kill", kill_command},		  {"quarantine", quarantine_command}, {"restore", quarantine_command},
	{"quarantined", quarantine_command}, {"block", block_command},	      {"unblock", block_command},
	{"blocks", block_command},	  {"isolate", isolate_command},	      {"release", isolate_command},
	{"isolations", isolate_command},  {"freeze", isolate_command},	      {"thaw", isolate_command},
};

const char *respond_mode_name(int mode)
{
	static const char *const names[] = {"off", "dry-run", "on"};
	return mode >= RESPOND_OFF && mode <= RESPOND_ON ? names[mode] : "?";
}

bool responder_has_command(const char *verb)
{
	for (size_t i = 0; verb && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].verb, verb))
			return true;
	return false;
}

static void free_list(char **v);

/* Under r->lock: the protect list of the last reload, if any. */
static void take_protect(struct responder *r)
{
	pthread_mutex_lock(&r->qlock);
	char **np = r->protect_next;
	size_t n = r->nprotect_next;
	r->protect_next = NULL;
	pthread_mutex_unlock(&r->qlock);
	if (!np)
		return;
	free_list(r->protect);
	r->protect = np;
	r->o.protect = (const char *const *)np;
	r->o.nprotect = n;
}

/* Runs one command under the lock; reply "ok\n..." or "error: ...\n". */
static int run(struct responder *r, struct respond_req *q, int argc, char **argv, struct strbuf *reply)
{
	char err[512] = "";
	int rc = -1;
	struct strbuf out;
	sb_init(&out);
	q->out = &out;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].verb, argv[0])) {
			pthread_mutex_lock(&r->lock);
			take_protect(r);
			rc = commands[i].fn(q, argc, argv, err, sizeof(err));
			pthread_mutex_unlock(&r->lock);
			break;
		}
	if (rc == 0) {
		sb_puts(reply, "ok\n");
		if (out.len)
			sb_put(reply, out.buf, out.len);
	} else {
		sb_printf(reply, "error: %s\n", *err ? err : "failed");
	}
	sb_free(&out);
	return rc;
}

int responder_command(struct responder *r, const char *actor, int argc, char **argv, struct strbuf *reply)
{
	if (argc < 1 || !responder_has_command(argv[0])) {
		sb_printf(reply, "error: unknown response command '%s'\n", argc ? argv[0] : "");
		return -1;
	}
	/* --dry-run anywhere: record what would be done, touch nothing */
	char *args[64];
	int n = 0;
	bool dry = false;
	for (int i = 0; i < argc && n < 63; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			dry = true;
		else
			args[n++] = argv[i];
	}
	args[n] = NULL;
	struct respond_req q = {.r = r, .actor = actor, .dry_run = dry};
	return run(r, &q, n, args, reply);
}

/* ---- active defense ------------------------------------------------------ */

static void job_free(struct auto_job *j)
{
	if (!j)
		return;
	free(j->rule_id);
	free(j->response);
	free(j->exe);
	free(j->sha256);
	free(j->file_path);
	free(j);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* An action that never reached a module still gets its record; result is
 * e.g. "refused: why". */
static void record_unrun(struct responder *r, const struct auto_job *j, const char *result)
{
	char actor[300], target[64];
	snprintf(actor, sizeof(actor), "rule:%s", j->rule_id ? j->rule_id : "?");
	snprintf(target, sizeof(target), "pid %d", (int)j->pid);
	struct respond_req q = {.r = r, .actor = actor, .automatic = true,
				.dry_run = __atomic_load_n(&r->o.mode, __ATOMIC_RELAXED) == RESPOND_DRY_RUN};
	respond_log(&q, j->response, target, result, NULL);
}

static void refuse(struct responder *r, const struct auto_job *j, const char *why)
{
	char res[256];
	snprintf(res, sizeof(res), "refused: %s", why);
	record_unrun(r, j, res);
}

/* Responses whose only target is the alert's process. */
static bool acts_on_process_only(const char *resp)
{
	static const char *const verbs[] = {"kill", "kill_tree", "isolate", "isolate_process", "freeze"};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(resp, verbs[i]))
			return true;
	return false;
}

#define ARG_MAX_ 4096

/* Which commands a rule's response runs (at most two); -1 when the alert
 * names no target, -2 when a target does not fit (a cut path would name
 * another file). */
static int plan(const struct auto_job *j, char cmds[2][6][ARG_MAX_])
{
	bool cut = false;
	const char *resp = j->response;
	char proc[64];
	if (j->start_ns)
		snprintf(proc, sizeof(proc), "%d@%llu", (int)j->pid, (unsigned long long)j->start_ns);
	else
		snprintf(proc, sizeof(proc), "%d", (int)j->pid);
#define SET(c, ...)                                                                                \
	do {                                                                                       \
		const char *v_[] = {__VA_ARGS__, NULL};                                            \
		for (int k_ = 0; v_[k_] && k_ < 5; k_++)                                           \
			cut |= snprintf(cmds[c][k_], sizeof(cmds[c][k_]), "%s", v_[k_]) >=         \
			       (int)sizeof(cmds[c][k_]);                                           \
	} while (0)
	/* a command the module rejects as malformed leaves no record: every
	 * target is checked here, where a refusal is recorded */
	bool pid_ok = j->pid > 0;
	if (!strcmp(resp, "kill")) {
		if (!pid_ok)
			return -1;
		SET(0, "kill", proc);
		return 1;
	}
	if (!strcmp(resp, "kill_tree")) {
		if (!pid_ok)
			return -1;
		SET(0, "kill", "--tree", proc);
		return 1;
	}
	if (!strcmp(resp, "kill_session")) {
		if (j->sid <= 1 || j->sid > INT32_MAX)
			return -1;
		char sid[32];
		snprintf(sid, sizeof(sid), "%lld", (long long)j->sid);
		SET(0, "kill", "--session", sid);
		return 1;
	}
	if (!strcmp(resp, "block") || !strcmp(resp, "block_exec")) {
		if (j->sha256)
			SET(0, "block", "--hash", j->sha256);
		else if (j->exe)
			SET(0, "block", "--path", j->exe);
		else
			return -1;
		if (!pid_ok)
			return cut ? -2 : 1;
		SET(1, "kill", proc); /* the running copy goes too */
		return cut ? -2 : 2;
	}
	if (!strcmp(resp, "quarantine")) {
		const char *path = j->file_path ? j->file_path : j->exe;
		if (!path)
			return -1;
		SET(0, "quarantine", path);
		return cut ? -2 : 1;
	}
	/* PID@START_NS like kill: a pid reused since the alert is refused */
	if (!strcmp(resp, "isolate") || !strcmp(resp, "isolate_process")) {
		if (!pid_ok)
			return -1;
		SET(0, "isolate", "--pid", proc);
		return 1;
	}
	if (!strcmp(resp, "isolate_host")) {
		SET(0, "isolate", "--host");
		return 1;
	}
	if (!strcmp(resp, "freeze")) {
		if (!pid_ok)
			return -1;
		SET(0, "freeze", "--pid", proc);
		return 1;
	}
#undef SET
	return -1;
}

/* A block is a person's explicit order, not a rule's guess: neither the
 * automatic mode nor the rate limit applies to enforcing it. */
static void run_enforce(struct responder *r, const struct auto_job *j)
{
	/* the eBPF fallback kills such an exec in the kernel: nothing left to do */
	if (kill(j->pid, 0) && errno == ESRCH)
		return;
	char actor[128], proc[64];
	snprintf(actor, sizeof(actor), "block:%s", j->sha256 ? j->sha256 : "?");
	snprintf(proc, sizeof(proc), "%d@%llu", (int)j->pid, (unsigned long long)j->start_ns);
	char *argv[] = {"kill", proc, NULL};
	struct respond_req q = {.r = r, .actor = actor, .automatic = true};
	struct strbuf reply;
	sb_init(&reply);
	if (run(r, &q, 2, argv, &reply) == 0)
		count(&r->st.blocked_execs);
	sb_free(&reply);
}

static void run_job(struct responder *r, const struct auto_job *j)
{
	if (j->enforce_block) {
		run_enforce(r, j);
		return;
	}
	int mode = __atomic_load_n(&r->o.mode, __ATOMIC_RELAXED);
	if (mode == RESPOND_OFF)
		return;
	/* An action on a process that has exited would do nothing: it is
	 * recorded but takes no slot of the rate limit, which is there to bound
	 * what wrong alerts can break. One reverse shell whose rc files start
	 * two dozen short-lived shells (each its own alert) spent a limit's
	 * slots on "no such process" and left the next real shell alive. */
	if (j->pid > 0 && acts_on_process_only(j->response) && kill_target_gone(j->pid, j->start_ns)) {
		record_unrun(r, j, "skipped: the process has exited (no rate-limit slot used)");
		return;
	}
	/* the rate limit counts every automatic action, dry runs included, so
	 * dry-run shows what "on" would do */
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	/* the reload's flag is taken even when the minute is over anyway: left
	 * set, it would open a second window at the next action */
	bool reloaded = __atomic_exchange_n(&r->window_reset, false, __ATOMIC_ACQ_REL);
	if (reloaded || now - r->window_start_ns >= 60000000000ULL) {
		r->window_start_ns = now;
		r->window_count = 0;
	}
	unsigned max = __atomic_load_n(&r->o.max_per_min, __ATOMIC_RELAXED);
	if (r->window_count >= max) {
		count(&r->st.rate_limited);
		char why[128];
		snprintf(why, sizeof(why), "rate limit (%u automatic actions per minute)", max);
		refuse(r, j, why);
		return;
	}
	r->window_count++;
	char (*cmds)[6][ARG_MAX_] = calloc(2, sizeof(*cmds)); /* 48 KiB: not on the stack */
	int n = cmds ? plan(j, cmds) : -3;
	if (n < 0) {
		refuse(r, j, n == -3 ? "out of memory" : n == -2 ? "the alert's target path is too long" :
			     "the alert does not name a target for this response");
		free(cmds);
		return;
	}
	char actor[300];
	snprintf(actor, sizeof(actor), "rule:%s", j->rule_id ? j->rule_id : "?");
	for (int c = 0; c < n; c++) {
		char *argv[7];
		int argc = 0;
		while (argc < 6 && cmds[c][argc][0]) {
			argv[argc] = cmds[c][argc];
			argc++;
		}
		argv[argc] = NULL;
		struct respond_req q = {.r = r, .actor = actor, .automatic = true, .dry_run = mode == RESPOND_DRY_RUN};
		struct strbuf reply;
		sb_init(&reply);
		run(r, &q, argc, argv, &reply);
		sb_free(&reply);
	}
	free(cmds);
}

static void *auto_main(void *arg)
{
	struct responder *r = arg;
	pthread_setname_np(pthread_self(), "vigild-respond");
	pthread_mutex_lock(&r->qlock);
	for (;;) {
		while (!r->qhead && !r->stopping)
			pthread_cond_wait(&r->qcond, &r->qlock);
		if (!r->qhead && r->stopping)
			break;
		struct auto_job *j = r->qhead;
		r->qhead = j->next;
		if (!r->qhead)
			r->qtail = NULL;
		r->qlen--;
		pthread_mutex_unlock(&r->qlock);
		run_job(r, j);
		job_free(j);
		pthread_mutex_lock(&r->qlock);
	}
	pthread_mutex_unlock(&r->qlock);
	return NULL;
}

static void enqueue(struct responder *r, struct auto_job *j);

void responder_on_alert(struct responder *r, const struct respond_alert *a)
{
	if (!r || !a->response || __atomic_load_n(&r->o.mode, __ATOMIC_RELAXED) == RESPOND_OFF)
		return;
	struct auto_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->rule_id = dup_or_null(a->rule_id);
	j->response = strdup(a->response);
	j->exe = dup_or_null(a->exe);
	j->sha256 = dup_or_null(a->sha256);
	j->file_path = dup_or_null(a->file_path);
	j->pid = a->pid;
	j->start_ns = a->start_ns;
	j->sid = a->sid;
	if (!j->response) {
		job_free(j);
		return;
	}
	enqueue(r, j);
}

void responder_on_exec(struct responder *r, pid_t pid, uint64_t start_ns, const char *sha256, const char *exe)
{
	if (!r || pid <= 0 || !start_ns || !block_sha_blocked(r, sha256))
		return;
	struct auto_job *j = calloc(1, sizeof(*j));
	if (!j)
		return;
	j->enforce_block = true;
	j->response = strdup("kill");
	j->sha256 = dup_or_null(sha256);
	j->exe = dup_or_null(exe);
	j->pid = pid;
	j->start_ns = start_ns;
	j->sid = -1;
	if (!j->response) {
		job_free(j);
		return;
	}
	enqueue(r, j);
}

static void enqueue(struct responder *r, struct auto_job *j)
{
	pthread_mutex_lock(&r->qlock);
	if (r->qlen >= AUTO_QUEUE_MAX || !r->thread_started) {
		/* a flood: every refusal is counted, but recorded (a database
		 * write on the caller's thread, the output thread) once a second */
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		bool record = now - r->full_logged_ns >= 1000000000ULL;
		if (record)
			r->full_logged_ns = now;
		pthread_mutex_unlock(&r->qlock);
		if (record)
			refuse(r, j, "the responder's queue is full (further refusals this second are only counted)");
		else
			count(&r->st.refused);
		job_free(j);
		return;
	}
	if (r->qtail)
		r->qtail->next = j;
	else
		r->qhead = j;
	r->qtail = j;
	r->qlen++;
	pthread_cond_signal(&r->qcond);
	pthread_mutex_unlock(&r->qlock);
}

static char **dup_list(const char *const *v, size_t n);

void responder_reconfigure(struct responder *r, int mode, unsigned max_per_min, const char *const *protect,
			   size_t nprotect)
{
	__atomic_store_n(&r->o.mode, mode, __ATOMIC_RELAXED);
	__atomic_store_n(&r->o.max_per_min, max_per_min, __ATOMIC_RELAXED);
	__atomic_store_n(&r->window_reset, true, __ATOMIC_RELEASE); /* a new limit, a new minute */
	char **np = dup_list(protect, nprotect);
	if (!np)
		return;
	/* the rails are read under the command lock, which a command holds for
	 * as long as it runs (a session kill, a large quarantine): vigild's
	 * main thread, which reloads, must not wait for it while the ring
	 * buffer fills. The next command takes the list in (take_protect). */
	pthread_mutex_lock(&r->qlock);
	char **old = r->protect_next;
	r->protect_next = np;
	r->nprotect_next = nprotect;
	pthread_mutex_unlock(&r->qlock);
	free_list(old);
}

void responder_stats(struct responder *r, struct responder_stats *st)
{
	struct responder_stats *s = &r->st;
	st->actions = __atomic_load_n(&s->actions, __ATOMIC_RELAXED);
	st->refused = __atomic_load_n(&s->refused, __ATOMIC_RELAXED);
	st->dry_run = __atomic_load_n(&s->dry_run, __ATOMIC_RELAXED);
	st->failed = __atomic_load_n(&s->failed, __ATOMIC_RELAXED);
	st->rate_limited = __atomic_load_n(&s->rate_limited, __ATOMIC_RELAXED);
	st->skipped = __atomic_load_n(&s->skipped, __ATOMIC_RELAXED);
	st->blocks = __atomic_load_n(&s->blocks, __ATOMIC_RELAXED);
	st->blocked_execs = __atomic_load_n(&s->blocked_execs, __ATOMIC_RELAXED);
	st->isolations = __atomic_load_n(&s->isolations, __ATOMIC_RELAXED);
	st->quarantined = __atomic_load_n(&s->quarantined, __ATOMIC_RELAXED);
}

/* ---- life cycle ----------------------------------------------------------- */

/* All or nothing: a NULL inside the list would end free_list() early and
 * crash respond_protected_exe(), which trusts nprotect. */
static char **dup_list(const char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++)
		if (!(out[i] = strdup(v[i]))) {
			free_list(out);
			return NULL;
		}
	return out;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* mkdir -p with mode 0700 for what it creates, and 0700 on the last. */
static int mkdirs(const char *path)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0700) && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return chmod(buf, 0700) ? -errno : 0;
}

int responder_open(struct responder **out, const struct respond_opts *o, respond_record_fn fn, void *ctx,
		   char *err, size_t errlen)
{
	*out = NULL;
	struct responder *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->o = *o;
	r->dir = strdup(o->dir ? o->dir : "/var/lib/vigil/respond");
	r->pin_dir = strdup(o->pin_dir ? o->pin_dir : "/sys/fs/bpf/vigil");
	r->host_name = strdup(o->host_name ? o->host_name : "");
	r->protect = dup_list(o->protect, o->nprotect);
	r->allow = dup_list(o->isolate_allow, o->nallow);
	r->o.dir = r->dir;
	r->o.pin_dir = r->pin_dir;
	r->o.host_name = r->host_name;
	r->o.protect = (const char *const *)r->protect;
	r->o.isolate_allow = (const char *const *)r->allow;
	r->record = fn;
	r->record_ctx = ctx;
	r->self_pid = getpid();
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->qlock, NULL);
	pthread_cond_init(&r->qcond, NULL);
	if (!r->dir || !r->pin_dir || !r->host_name || !r->protect || !r->allow) {
		snprintf(err, errlen, "out of memory");
		responder_close(r);
		return -1;
	}
	int e = mkdirs(r->dir);
	if (e) {
		snprintf(err, errlen, "cannot create %s: %s", r->dir, strerror(-e));
		responder_close(r);
		return -1;
	}
	/* a part this kernel cannot do is reported and the rest works */
	char why[512];
	if (block_open(r, why, sizeof(why)))
		fprintf(stderr, "vigild: respond: blocking executables unavailable: %s\n", why);
	if (isolate_open(r, why, sizeof(why)))
		fprintf(stderr, "vigild: respond: isolation and freezing unavailable: %s\n", why);
	if (pthread_create(&r->thread, NULL, auto_main, r) == 0)
		r->thread_started = true;
	*out = r;
	return 0;
}

void responder_close(struct responder *r)
{
	if (!r)
		return;
	if (r->thread_started) {
		pthread_mutex_lock(&r->qlock);
		r->stopping = true;
		pthread_cond_broadcast(&r->qcond);
		pthread_mutex_unlock(&r->qlock);
		pthread_join(r->thread, NULL);
	}
	while (r->qhead) {
		struct auto_job *j = r->qhead;
		r->qhead = j->next;
		job_free(j);
	}
	block_close(r);
	isolate_close(r);
	free_list(r->protect_next);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->qlock);
	pthread_cond_destroy(&r->qcond);
	free(r->dir);
	free(r->pin_dir);
	free(r->host_name);
	free_list(r->protect);
	free_list(r->allow);
	free(r);
}
