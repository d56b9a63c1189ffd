#define _GNU_SOURCE
/* kill: one process, its tree or its login session.
 *
 * A pid is only a name that the kernel hands out again once its owner is
 * reaped, so every signal goes through a pidfd, and a pidfd is trusted
 * only after the process it pins has been shown to be the one asked for:
 * /proc/PID/stat read after pidfd_open, then a null signal through the
 * pidfd proves the pinned process was alive (so still owned the pid) when
 * stat was read. For a tree or a session the whole set is stopped first,
 * /proc re-read until no new member shows up (a fork racing us), and only
 * then killed, so nothing escapes by forking faster than we scan. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "respond_int.h"

/* The fields of /proc/PID/stat that kill needs. */
struct kstat {
	pid_t pid, ppid, sid;
	char state;
	uint64_t ticks; /* starttime, clock ticks since boot */
};

/* Exported for the unit tests (tests/unit/test_kill.c), not in a header. */
int kill_parse_stat(const char *buf, pid_t *pid, char *state, pid_t *ppid, pid_t *sid, uint64_t *ticks);
int kill_parse_target(const char *s, pid_t *pid, uint64_t *start_ns);
int kill_parse_signal(const char *s);

/* Parses the text of /proc/PID/stat. The comm may hold spaces and ')'. */
int kill_parse_stat(const char *buf, pid_t *pid, char *state, pid_t *ppid, pid_t *sid, uint64_t *ticks)
{
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf || v <= 0 || v > INT_MAX)
		return -1;
	*pid = (pid_t)v;
	const char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* state(3) ppid(4) pgrp(5) session(6) ... starttime(22) */
	int field = 3;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		if (field == 3)
			*state = *p;
		else if (field == 4)
			*ppid = (pid_t)strtol(p, NULL, 10);
		else if (field == 6)
			*sid = (pid_t)strtol(p, NULL, 10);
		else if (field == 22) {
			*ticks = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
		field++;
	}
	return -1;
}

/* PID or PID@START_NS (START_NS as vigil's events give it: boot-time ns). */
int kill_parse_target(const char *s, pid_t *pid, uint64_t *start_ns)
{
	char *end;
	*start_ns = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || v == 0 || v > INT_MAX)
		return -1;
	*pid = (pid_t)v;
	if (*end == 0)
		return 0;
	if (*end != '@' || !isdigit((unsigned char)end[1]))
		return -1;
	s = end + 1;
	unsigned long long ns = strtoull(s, &end, 10);
	if (errno || *end || ns == 0)
		return -1;
	*start_ns = ns;
	return 0;
}

/* KILL, SIGKILL, kill or 9; -1 if none of those. */
int kill_parse_signal(const char *s)
{
	char *end;
	if (isdigit((unsigned char)*s)) {
		long v = strtol(s, &end, 10);
		return (*end || v <= 0 || v >= NSIG) ? -1 : (int)v;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && strcasecmp(name, s) == 0)
			return i;
	}
	return -1;
}

static const char *signame(int sig)
{
	const char *n = sigabbrev_np(sig);
	return n ? n : "?";
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* Is the process pinned by fd still running? A null signal that fails
 * only for permission still found it alive. */
static bool pinned_alive(int fd)
{
	return pidfd_signal(fd, 0) == 0 || errno == EPERM;
}

uint64_t respond_ns_per_tick(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	return 1000000000ULL / (uint64_t)(hz > 0 ? hz : 100);
}

bool respond_start_matches(uint64_t ticks, uint64_t start_ns)
{
	/* /proc counts clock ticks, events nanoseconds: a tick either way */
	uint64_t want = start_ns / respond_ns_per_tick();
	return !start_ns || (ticks <= want + 1 && ticks + 1 >= want);
}

static int read_kstat(pid_t pid, struct kstat *st)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	memset(st, 0, sizeof(*st));
	return kill_parse_stat(buf, &st->pid, &st->state, &st->ppid, &st->sid, &st->ticks);
}

/* Has PID@START_NS (start 0: any) stopped running: no such pid, a zombie,
 * or the pid now names a process started at another time? */
bool kill_target_gone(pid_t pid, uint64_t start_ns)
{
	struct kstat st;
	if (pid <= 0 || read_kstat(pid, &st))
		return true;
	return st.state == 'Z' || st.state == 'X' || !respond_start_matches(st.ticks, start_ns);
}

static char *exe_of(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

struct member {
	pid_t pid;
	uint64_t ticks;
	int fd;
	char *exe;
	int err; /* errno of a failed signal, else 0 */
};

struct skipped {
	pid_t pid;
	uint64_t ticks;
	char why[160];
};

struct kill_set {
	struct member *m;
	size_t n, cap;
	struct skipped *s;
	size_t ns, scap;
};

static void set_free(struct kill_set *ks)
{
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->m[i].fd >= 0)
			close(ks->m[i].fd);
		free(ks->m[i].exe);
	}
	free(ks->m);
	free(ks->s);
}

/* Known already, as a member or as a skipped process? Keyed by start
 * time too: a pid that changed owner between two scans is a new process. */
static bool set_has(const struct kill_set *ks, pid_t pid, uint64_t ticks)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->m[i].pid == pid && ks->m[i].ticks == ticks)
			return true;
	for (size_t i = 0; i < ks->ns; i++)
		if (ks->s[i].pid == pid && ks->s[i].ticks == ticks)
			return true;
	return false;
}

static bool is_member(const struct kill_set *ks, pid_t pid)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->m[i].pid == pid)
			return true;
	return false;
}

static int add_skipped(struct kill_set *ks, pid_t pid, uint64_t ticks, const char *why)
{
	if (ks->ns == ks->scap) {
		size_t cap = ks->scap ? ks->scap * 2 : 8;
		struct skipped *s = realloc(ks->s, cap * sizeof(*s));
		if (!s)
			return -1;
		ks->s = s;
		ks->scap = cap;
	}
	struct skipped *s = &ks->s[ks->ns++];
	s->pid = pid;
	s->ticks = ticks;
	snprintf(s->why, sizeof(s->why), "%s", why);
	return 0;
}

enum { ADD_OK, ADD_GONE, ADD_SKIPPED, ADD_NOMEM };

/* Pins pid with a pidfd if it is still the process seen with ticks and
 * the safety rails allow it; stops it unless this is a dry run. */
static int add_member(struct respond_req *q, struct kill_set *ks, pid_t pid, uint64_t ticks, bool stop)
{
	int fd = pidfd_open(pid);
	if (fd < 0)
		return ADD_GONE;
	struct kstat st;
	if (read_kstat(pid, &st) || st.ticks != ticks || !pinned_alive(fd)) {
		close(fd);
		return ADD_GONE;
	}
	char why[160];
	if (respond_check_pid(q->r, pid, why, sizeof(why))) {
		close(fd);
		return add_skipped(ks, pid, ticks, why) ? ADD_NOMEM : ADD_SKIPPED;
	}
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 16;
		struct member *m = realloc(ks->m, cap * sizeof(*m));
		if (!m) {
			close(fd);
			return ADD_NOMEM;
		}
		ks->m = m;
		ks->cap = cap;
	}
	struct member *m = &ks->m[ks->n++];
	*m = (struct member){ .pid = pid, .ticks = ticks, .fd = fd, .exe = exe_of(pid) };
	if (stop)
		pidfd_signal(fd, SIGSTOP);
	return ADD_OK;
}

/* True when no member can fork any more: each has stopped, died, or is
 * gone (its pid now names another process). */
static bool all_stopped(const struct kill_set *ks)
{
	for (size_t i = 0; i < ks->n; i++) {
		struct kstat st;
		if (read_kstat(ks->m[i].pid, &st) || st.ticks != ks->m[i].ticks)
			continue;
		if (st.state != 'T' && st.state != 't' && st.state != 'Z' && st.state != 'X')
			return false;
	}
	return true;
}

/* Every live process in /proc (zombies are already dead: nothing to kill). */
static int scan_proc(struct kstat **out, size_t *count)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -1;
	size_t n = 0, cap = 256;
	struct kstat *v = malloc(cap * sizeof(*v));
	struct dirent *de;
	while (v && (de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		struct kstat st;
		if (read_kstat((pid_t)strtol(de->d_name, NULL, 10), &st) || st.state == 'Z' || st.state == 'X')
			continue;
		if (n == cap) {
			cap *= 2;
			struct kstat *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[n++] = st;
	}
	closedir(d);
	*out = v;
	*count = n;
	return v ? 0 : -1;
}

enum kill_mode { KILL_ONE, KILL_TREE, KILL_SESSION };

/* One pass: adds every process of the snapshot that belongs to the set and
 * is not known yet. A tree grows from its members only, so the subtree of
 * a skipped (protected) process is left alone. Returns how many were added
 * or skipped anew, -1 on allocation failure. */
static int grow(struct respond_req *q, struct kill_set *ks, enum kill_mode mode, pid_t key, bool stop)
{
	struct kstat *v;
	size_t n;
	if (scan_proc(&v, &n))
		return -1;
	int added = 0;
	bool changed = true;
	while (changed) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			bool in = mode == KILL_SESSION ? v[i].sid == key : is_member(ks, v[i].ppid);
			if (!in || set_has(ks, v[i].pid, v[i].ticks))
				continue;
			int rc = add_member(q, ks, v[i].pid, v[i].ticks, stop);
			if (rc == ADD_NOMEM) {
				free(v);
				return -1;
			}
			if (rc != ADD_GONE) {
				added++;
				changed = mode == KILL_TREE; /* its children may come earlier in /proc */
			}
		}
	}
	free(v);
	return added;
}

/* Waits up to timeout_ms for the members to exit; returns how many did. */
static size_t wait_gone(struct kill_set *ks, int timeout_ms)
{
	size_t want = 0;
	for (size_t i = 0; i < ks->n; i++)
		want += !ks->m[i].err;
	if (!want)
		return 0;
	struct pollfd *p = calloc(ks->n, sizeof(*p));
	if (!p)
		return 0;
	for (size_t i = 0; i < ks->n; i++)
		p[i] = (struct pollfd){ .fd = ks->m[i].err ? -1 : ks->m[i].fd, .events = POLLIN };
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t gone = 0;
	for (;;) {
		gone = 0;
		for (size_t i = 0; i < ks->n; i++)
			if (p[i].fd < 0 && !ks->m[i].err)
				gone++;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (gone == want || left <= 0)
			break;
		if (poll(p, ks->n, (int)left) < 0 && errno != EINTR)
			break;
		for (size_t i = 0; i < ks->n; i++)
			if (p[i].fd >= 0 && p[i].revents)
				p[i].fd = -1; /* exited: leave it out of the next poll */
	}
	free(p);
	return gone;
}

static void put_report(struct respond_req *q, struct strbuf *detail, const struct kill_set *ks, int sig,
		       enum kill_mode mode, pid_t key, uint64_t key_start_ns)
{
	uint64_t tick = respond_ns_per_tick();
	bool dry = q->dry_run;
	struct jw w;
	jw_init(&w, detail);
	jw_obj_open(&w, NULL);
	jw_str(&w, "signal", signame(sig));
	jw_str(&w, "scope", mode == KILL_SESSION ? "session" : mode == KILL_TREE ? "tree" : "process");
	jw_int(&w, mode == KILL_SESSION ? "sid" : "pid", key);
	if (key_start_ns)
		jw_uint(&w, "start_ns", key_start_ns);
	jw_arr_open(&w, dry ? "would_kill" : "killed");
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->m[i].err)
			continue;
		jw_obj_open(&w, NULL);
		jw_int(&w, "pid", ks->m[i].pid);
		jw_str(&w, "exe", ks->m[i].exe ? ks->m[i].exe : "");
		jw_uint(&w, "start_ns", ks->m[i].pid == key && key_start_ns ? key_start_ns : ks->m[i].ticks * tick);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_arr_open(&w, "skipped");
	for (size_t i = 0; i < ks->ns; i++) {
		jw_obj_open(&w, NULL);
		jw_int(&w, "pid", ks->s[i].pid);
		jw_str(&w, "why", ks->s[i].why);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	bool any_failed = false;
	for (size_t i = 0; i < ks->n; i++)
		any_failed |= ks->m[i].err != 0;
	if (any_failed) {
		jw_arr_open(&w, "failed");
		for (size_t i = 0; i < ks->n; i++) {
			if (!ks->m[i].err)
				continue;
			jw_obj_open(&w, NULL);
			jw_int(&w, "pid", ks->m[i].pid);
			jw_str(&w, "error", strerror(ks->m[i].err));
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
	}
	jw_obj_close(&w);

	/* the human reply */
	size_t ok = ks->n;
	for (size_t i = 0; i < ks->n; i++)
		ok -= ks->m[i].err != 0;
	if (dry)
		sb_printf(q->out, "dry run: would %s %zu process%s", sig == SIGKILL ? "kill" : "signal", ok,
			  ok == 1 ? "" : "es");
	else if (sig == SIGKILL)
		sb_printf(q->out, "killed %zu process%s", ok, ok == 1 ? "" : "es");
	else
		sb_printf(q->out, "sent %s to %zu process%s", signame(sig), ok, ok == 1 ? "" : "es");
	const char *sep = ": ";
	for (size_t i = 0; i < ks->n; i++) {
		if (ks->m[i].err)
			continue;
		sb_printf(q->out, "%s%d %s", sep, ks->m[i].pid, ks->m[i].exe ? ks->m[i].exe : "?");
		sep = ", ";
	}
	sb_putc(q->out, '\n');
	for (size_t i = 0; i < ks->ns; i++)
		sb_printf(q->out, "skipped %d: %s\n", ks->s[i].pid, ks->s[i].why);
	for (size_t i = 0; i < ks->n; i++)
		if (ks->m[i].err)
			sb_printf(q->out, "failed %d %s: %s\n", ks->m[i].pid, ks->m[i].exe ? ks->m[i].exe : "?",
				  strerror(ks->m[i].err));
}

static int usage(char *err, size_t errlen)
{
	snprintf(err, errlen, "usage: kill [--tree] [--signal SIG] [--dry-run] PID[@START_NS] | "
			      "kill --session [--signal SIG] [--dry-run] SID");
	return -1;
}

/* Logs a refusal or failure and turns it into the command's error. */
static int give_up(struct respond_req *q, const char *target, const char *kind, const char *err)
{
	char result[300];
	snprintf(result, sizeof(result), "%s: %s", kind, err);
	respond_log(q, "kill", target, result, NULL);
	return -1;
}

int kill_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen)
{
	enum kill_mode mode = KILL_ONE;
	int sig = SIGKILL;
	const char *arg = NULL;
	bool tree = false, session = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tree") == 0)
			tree = true;
		else if (strcmp(argv[i], "--session") == 0)
			session = true;
		else if (strcmp(argv[i], "--dry-run") == 0)
			q->dry_run = true;
		else if (strcmp(argv[i], "--signal") == 0 || strcmp(argv[i], "-s") == 0) {
			if (++i == argc || (sig = kill_parse_signal(argv[i])) < 0) {
				snprintf(err, errlen, "unknown signal %s", i < argc ? argv[i] : "(none)");
				return -1;
			}
		} else if (argv[i][0] == '-' || arg)
			return usage(err, errlen);
		else
			arg = argv[i];
	}
	if (!arg || (tree && session))
		return usage(err, errlen);
	mode = session ? KILL_SESSION : tree ? KILL_TREE : KILL_ONE;
	pid_t key;
	uint64_t start_ns;
	if (kill_parse_target(arg, &key, &start_ns) || (mode == KILL_SESSION && start_ns)) {
		snprintf(err, errlen, "bad %s: %s", mode == KILL_SESSION ? "session id" : "PID[@START_NS]", arg);
		return -1;
	}

	char target[64];
	if (mode == KILL_SESSION)
		snprintf(target, sizeof(target), "session %d", key);
	else
		snprintf(target, sizeof(target), "%s %d", mode == KILL_TREE ? "tree of pid" : "pid", key);

	struct kill_set ks = { 0 };
	char why[160];
	bool stop = mode != KILL_ONE && !q->dry_run;
	int rc = -1;
	if (mode == KILL_SESSION) {
		/* A session id needs no start time: the kernel keeps the number
		 * allocated while any member lives, so it cannot name another
		 * session until this one is gone entirely. A session led by
		 * pid 1 or vigild is the system's, not an intruder's. */
		struct kstat lead;
		if (read_kstat(key, &lead) == 0 && lead.sid == key && respond_check_pid(q->r, key, why, sizeof(why))) {
			snprintf(err, errlen, "session %d is led by a protected process (%s)", key, why);
			return give_up(q, target, "refused", err);
		}
	} else {
		int fd = pidfd_open(key);
		if (fd < 0) {
			if (errno == EINVAL)
				snprintf(err, errlen, "pid %d is a thread, not a process", key);
			else
				snprintf(err, errlen, "pid %d: %s", key, errno == ESRCH ? "no such process" : strerror(errno));
			return give_up(q, target, "failed", err);
		}
		struct kstat st;
		/* stat after the pidfd, then a null signal through it: the pinned
		 * process was alive after stat was read, so stat described it */
		if (read_kstat(key, &st) || !pinned_alive(fd) || st.state == 'Z') {
			close(fd);
			snprintf(err, errlen, "pid %d: no such process", key);
			return give_up(q, target, "failed", err);
		}
		if (respond_check_pid(q->r, key, why, sizeof(why))) {
			close(fd);
			snprintf(err, errlen, "%s", why);
			return give_up(q, target, "refused", err);
		}
		if (!respond_start_matches(st.ticks, start_ns)) {
			close(fd);
			snprintf(err, errlen, "pid %d is now another process (started at %" PRIu64 ", expected %" PRIu64 ")",
				 key, st.ticks * respond_ns_per_tick(), start_ns);
			return give_up(q, target, "refused", err);
		}
		ks.m = malloc(sizeof(*ks.m));
		if (!ks.m) {
			close(fd);
			snprintf(err, errlen, "out of memory");
			return give_up(q, target, "failed", err);
		}
		ks.cap = ks.n = 1;
		ks.m[0] = (struct member){ .pid = key, .ticks = st.ticks, .fd = fd, .exe = exe_of(key) };
		if (stop)
			pidfd_signal(fd, SIGSTOP);
	}

	if (mode != KILL_ONE) {
		/* stopped members cannot fork: rescan until a pass finds nobody
		 * new and every member has taken its stop. A SIGSTOP does not
		 * cancel a fork already under way, so a member still running may
		 * yet bring a child that the last pass could not see. */
		int added = 1;
		for (int round = 0; round < 256; round++) {
			added = grow(q, &ks, mode, key, stop);
			if (added < 0 || q->dry_run)
				break;
			if (added > 0)
				continue;
			if (!stop || all_stopped(&ks))
				break;
			usleep(1000);
		}
		if (added < 0) {
			snprintf(err, errlen, "cannot read /proc: %s", strerror(errno ? errno : ENOMEM));
			goto fail_cont;
		}
		if (ks.n == 0) {
			if (ks.ns)
				snprintf(err, errlen, "every process of %s is protected (%d: %s)", target, ks.s[0].pid,
					 ks.s[0].why);
			else
				snprintf(err, errlen, "no process in %s", target);
			give_up(q, target, ks.ns ? "refused" : "failed", err);
			goto out;
		}
	}

	if (!q->dry_run) {
		for (size_t i = 0; i < ks.n; i++)
			if (pidfd_signal(ks.m[i].fd, sig) && errno != ESRCH)
				ks.m[i].err = errno;
		/* a stopped process acts on a catchable signal only once continued */
		if (stop && sig != SIGKILL && sig != SIGSTOP)
			for (size_t i = 0; i < ks.n; i++)
				pidfd_signal(ks.m[i].fd, SIGCONT);
	}
	size_t alive = 0;
	if (!q->dry_run && sig == SIGKILL) {
		size_t ok = ks.n;
		for (size_t i = 0; i < ks.n; i++)
			ok -= ks.m[i].err != 0;
		/* report only once they are really gone (or say which are not) */
		alive = ok - wait_gone(&ks, 2000);
	}

	struct strbuf detail;
	sb_init(&detail);
	put_report(q, &detail, &ks, sig, mode, key, start_ns);
	if (alive)
		sb_printf(q->out, "%zu process%s still running after SIGKILL (uninterruptible?)\n", alive,
			  alive == 1 ? "" : "es");
	bool all_failed = true;
	for (size_t i = 0; i < ks.n; i++)
		all_failed &= ks.m[i].err != 0;
	if (all_failed && !q->dry_run) {
		char result[300];
		snprintf(result, sizeof(result), "failed: %s", strerror(ks.m[0].err));
		respond_log(q, "kill", target, result, detail.oom ? NULL : detail.buf);
		snprintf(err, errlen, "%s: %s", target, strerror(ks.m[0].err));
	} else {
		respond_log(q, "kill", target, q->dry_run ? "dry-run" : "ok", detail.oom ? NULL : detail.buf);
		rc = 0;
	}
	sb_free(&detail);
	goto out;

fail_cont:
	/* leave nothing stopped behind when giving up */
	for (size_t i = 0; stop && i < ks.n; i++)
		pidfd_signal(ks.m[i].fd, SIGCONT);
	give_up(q, target, "failed", err);
out:
	set_free(&ks);
	return rc;
}
