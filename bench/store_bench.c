/* store_bench: the event store on a generated but realistic stream.
 *
 *   build/bench/store_bench [--events N[,N...]] [--dir DIR] [--no-compare] [--no-drop-caches]
 *
 * The stream (deterministic, seeded) is shaped like one busy Linux server
 * seen by vigild: ~25 long-running services (nginx and its workers taking
 * connections, an API server talking to postgres and redis, postgres
 * writing WAL files, journald and rsyslog writing logs, cron starting jobs
 * every minute, sshd, dockerd, a Prometheus exporter), interactive SSH
 * sessions arriving all day (a login, then shells running ls, vim, git,
 * curl, sudo, ...; 50 to 3000 events each, over minutes to an hour), and
 * bursts: CI builds (thousands of gcc/cc1/as/ld execs and object files in
 * two minutes), log rotation, package upgrades. Every event is JSON built
 * exactly like vigild's (same keys, same order, ancestors, hashes, stdio).
 * One SSH session in the middle of the stream is the "incident" whose
 * timeline is fetched.
 *
 * For each N (default 1000000,10000000) it measures, on one core:
 *   - ingest: store_append of every event plus store_flush every second
 *     (with fsync), then store_close (seal): events/s of CPU time and of
 *     wall time;
 *   - bytes on disk (segments, indexes, dictionary) vs the JSON lines, and
 *     vs `zstd -3` and `gzip` (the real tools, fed the same stream);
 *   - the incident session's full timeline: store_query by session after
 *     `echo 3 > /proc/sys/vm/drop_caches` (cold), and again warm;
 *   - a time-range scan of 10% of the stream (decoded JSON handed to the
 *     callback), cold and warm, in events/s.
 * Every query's count is checked against the generator's. Prints a
 * Markdown table (and progress on stderr). Needs root for drop_caches. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "store/store.h"

/* ---- clocks ----------------------------------------------------------- */

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- random ----------------------------------------------------------- */

static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}
static uint32_t rn(uint32_t n) { return (uint32_t)((rnd() >> 32) * n >> 32); }
static double ru(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }
/* exponential with the given mean */
static double rexp(double mean)
{
	double u = ru();
	return -mean * __builtin_log(1.0 - u * 0.999999);
}

/* ---- JSON writer ------------------------------------------------------ */

struct w {
	char *b;
	size_t n, cap;
};

static inline void wr(struct w *w, const char *s, size_t n)
{
	if (w->n + n + 1 > w->cap) {
		w->cap = (w->n + n + 1) * 2;
		w->b = realloc(w->b, w->cap);
		if (!w->b)
			abort();
	}
	memcpy(w->b + w->n, s, n);
	w->n += n;
}
#define WS(w, lit) wr(w, lit, sizeof(lit) - 1)
static inline void wstr(struct w *w, const char *s)
{
	wr(w, "\"", 1);
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\')
			wr(w, "\\", 1);
		wr(w, p, 1);
	}
	wr(w, "\"", 1);
}
static inline void wint(struct w *w, long long v)
{
	char t[24];
	int n = 0;
	unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
	do
		t[n++] = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		wr(w, "-", 1);
	while (n)
		wr(w, &t[--n], 1);
}
static void wtime(struct w *w, uint64_t ns)
{
	time_t s = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	gmtime_r(&s, &tm);
	char b[64];
	size_t n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(b + n, sizeof(b) - n, ".%09lluZ", (unsigned long long)(ns % 1000000000ULL));
	wr(w, "\"", 1);
	wr(w, b, n);
	wr(w, "\"", 1);
}

/* ---- the simulated host ----------------------------------------------- */

#define HOST "web-prod-17"
#define HOST_ID "4f1c2a9e8b7d4c6a9e0f1b2c3d4e5f60"
#define BOOT_NS 1795000000000000000ULL /* wall clock at boot */

struct proc {
	int pid, ppid, sid, pgid, uid;
	uint64_t start_ns;
	const char *exe, *name, *cwd, *tty;
	const char *argv[8];
	int argc;
	char sha[65];
	const struct proc *parent;
	bool container;
};

static void sha_of(const char *exe, char out[65])
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = exe; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	for (int i = 0; i < 64; i++) {
		h = h * 6364136223846793005ULL + 1442695040888963407ULL;
		out[i] = "0123456789abcdef"[(h >> 60) & 15];
	}
	out[64] = 0;
}

static int next_pid = 2000;
static uint64_t now_ns; /* simulated wall clock */

static void proc_init(struct proc *p, const struct proc *parent, int sid, int uid, const char *exe, const char *name,
		      const char *cwd, const char *tty, int argc, const char *const *argv)
{
	memset(p, 0, sizeof(*p));
	p->pid = next_pid++;
	if (next_pid > 4000000)
		next_pid = 2000;
	p->ppid = parent ? parent->pid : 1;
	p->parent = parent;
	p->sid = sid ? sid : p->pid;
	p->pgid = p->pid;
	p->uid = uid;
	p->start_ns = now_ns - BOOT_NS + 1000000000ULL;
	p->exe = exe;
	p->name = name;
	p->cwd = cwd;
	p->tty = tty;
	p->argc = argc > 8 ? 8 : argc;
	for (int i = 0; i < p->argc; i++)
		p->argv[i] = argv[i];
	sha_of(exe, p->sha);
}

static void wargs(struct w *w, const struct proc *p)
{
	WS(w, "\"args\":[");
	for (int i = 0; i < p->argc; i++) {
		if (i)
			WS(w, ",");
		wstr(w, p->argv[i]);
	}
	WS(w, "],\"args_count\":");
	wint(w, p->argc);
	WS(w, ",\"command_line\":\"");
	for (int i = 0; i < p->argc; i++) {
		if (i)
			WS(w, " ");
		for (const char *c = p->argv[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				WS(w, "\\");
			wr(w, c, 1);
		}
	}
	WS(w, "\"");
}

/* the common part of every event, up to "user" */
static void whead(struct w *w, const char *action, const char *category, const struct proc *p, int tid)
{
	WS(w, "{\"@timestamp\":");
	wtime(w, now_ns);
	WS(w, ",\"event\":{\"kind\":\"event\",\"action\":\"");
	wr(w, action, strlen(action));
	WS(w, "\",\"category\":[\"");
	wr(w, category, strlen(category));
	WS(w, "\"],\"outcome\":\"success\"},\"host\":{\"name\":\"" HOST "\",\"id\":\"" HOST_ID "\"},\"process\":{\"pid\":");
	wint(w, p->pid);
	WS(w, ",\"vpid\":");
	wint(w, p->pid);
	WS(w, ",\"thread\":{\"id\":");
	wint(w, tid ? tid : p->pid);
	WS(w, "},\"name\":");
	wstr(w, p->name);
	WS(w, ",\"entity_id\":\"");
	wint(w, p->pid);
	WS(w, "-");
	wint(w, (long long)p->start_ns);
	WS(w, "\",\"start_ns\":");
	wint(w, (long long)p->start_ns);
	WS(w, ",\"executable\":");
	wstr(w, p->exe);
	WS(w, ",");
	wargs(w, p);
	WS(w, ",\"working_directory\":");
	wstr(w, p->cwd);
	WS(w, ",\"hash\":{\"sha256\":\"");
	wr(w, p->sha, 64);
	WS(w, "\"},\"tty\":{");
	if (p->tty) {
		WS(w, "\"name\":");
		wstr(w, p->tty);
	}
	WS(w, "},\"parent\":{\"pid\":");
	wint(w, p->ppid);
	if (p->parent) {
		WS(w, ",\"executable\":");
		wstr(w, p->parent->exe);
		WS(w, ",");
		wargs(w, p->parent);
	}
	WS(w, "},\"group_leader\":{\"pid\":");
	wint(w, p->pgid);
	WS(w, "},\"session_leader\":{\"pid\":");
	wint(w, p->sid);
	WS(w, "},\"user\":{\"id\":");
	wint(w, p->uid);
	WS(w, "},\"real_user\":{\"id\":");
	wint(w, p->uid);
	WS(w, "},\"group\":{\"id\":");
	wint(w, p->uid);
	WS(w, "},\"real_group\":{\"id\":");
	wint(w, p->uid);
	WS(w, "}},\"user\":{\"id\":");
	wint(w, p->uid);
	WS(w, ",\"effective\":{\"id\":");
	wint(w, p->uid);
	WS(w, "}},\"group\":{\"id\":");
	wint(w, p->uid);
	WS(w, "}");
}

static void wvigil(struct w *w, const struct proc *p, long ret)
{
	WS(w, "\"sid\":");
	wint(w, p->sid);
	WS(w, ",\"pgid\":");
	wint(w, p->pgid);
	WS(w, ",\"auid\":");
	wint(w, p->tty ? 1000 : 4294967295LL);
	WS(w, ",\"pidns\":4026531836,\"mntns\":");
	wint(w, p->container ? 4026532401LL : 4026531832LL);
	WS(w, ",\"cgroup_id\":");
	wint(w, p->container ? 8841 : 1);
	WS(w, ",\"cgroup\":");
	wstr(w, p->container ? "/system.slice/docker-3f9a1c.scope" : "/system.slice");
	WS(w, ",\"nodename\":\"" HOST "\",\"ret\":");
	wint(w, ret);
	WS(w, "}}");
}

static void ev_exec(struct w *w, const struct proc *p)
{
	whead(w, "exec", "process", p, 0);
	WS(w, ",\"vigil\":{\"exec\":{\"filename\":");
	wstr(w, p->exe);
	WS(w, ",\"execveat\":false,\"memfd\":false,\"tmpfs\":false,\"deleted\":false,\"fileless\":false,"
	      "\"setuid\":false,\"setgid\":false,\"inode\":");
	wint(w, 100000 + (long long)(p->sha[0] * 977 + p->sha[1] * 31));
	WS(w, ",\"dev\":266338304,\"size\":");
	wint(w, 20000 + (p->sha[2] * 1013));
	WS(w, ",\"owner_uid\":0},\"stdio\":{\"stdin\":{\"type\":");
	if (p->tty) {
		WS(w, "\"tty\",\"path\":");
		wstr(w, p->tty);
		WS(w, "},\"stdout\":{\"type\":\"tty\",\"path\":");
		wstr(w, p->tty);
		WS(w, "},\"stderr\":{\"type\":\"tty\",\"path\":");
		wstr(w, p->tty);
		WS(w, "}}");
	} else {
		WS(w, "\"char_device\",\"path\":\"/dev/null\"},\"stdout\":{\"type\":\"pipe\"},\"stderr\":{\"type\":\"pipe\"}}");
	}
	WS(w, ",\"ancestors\":[");
	int k = 0;
	for (const struct proc *a = p->parent; a && k < 6; a = a->parent, k++) {
		if (k)
			WS(w, ",");
		WS(w, "{\"pid\":");
		wint(w, a->pid);
		WS(w, ",\"executable\":");
		wstr(w, a->exe);
		WS(w, ",");
		wargs(w, a);
		WS(w, "}");
	}
	WS(w, "],");
	wvigil(w, p, 0);
}

static void ev_simple(struct w *w, const char *action, const struct proc *p, long ret, const char *extra)
{
	whead(w, action, "process", p, 0);
	WS(w, ",\"vigil\":{");
	if (extra)
		wr(w, extra, strlen(extra));
	wvigil(w, p, ret);
}

static void ev_fork(struct w *w, const struct proc *p, const struct proc *child)
{
	char x[96];
	snprintf(x, sizeof(x), "\"child\":{\"pid\":%d,\"start_ns\":%llu},", child->pid,
		 (unsigned long long)child->start_ns);
	ev_simple(w, "fork", p, 0, x);
}

static void ev_exit(struct w *w, const struct proc *p, int code)
{
	char x[64];
	snprintf(x, sizeof(x), "\"exit_code\":%d,\"core_dumped\":false,", code);
	ev_simple(w, "exit", p, 0, x);
}

static void ev_file(struct w *w, const char *action, const struct proc *p, const char *path, const char *old)
{
	whead(w, action, "file", p, 0);
	WS(w, ",\"file\":{\"path\":");
	wstr(w, path);
	WS(w, ",\"inode\":");
	wint(w, 500000 + (long long)(rnd() % 4000000));
	WS(w, ",\"mode\":\"0644\",\"uid\":");
	wint(w, p->uid);
	WS(w, ",\"gid\":");
	wint(w, p->uid);
	WS(w, "},\"vigil\":{");
	if (old) {
		WS(w, "\"file\":{\"old_path\":");
		wstr(w, old);
		WS(w, "},");
	} else if (!strcmp(action, "file_open_write")) {
		WS(w, "\"file\":{\"open_flags\":\"O_WRONLY|O_APPEND|O_CREAT\",\"truncated\":false},");
	}
	wvigil(w, p, 0);
}

static void ev_net(struct w *w, const char *action, const struct proc *p, int tid, const char *dip, int dport,
		   const char *sip, int sport, int fd)
{
	whead(w, action, "network", p, tid);
	WS(w, ",\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\",\"direction\":");
	wstr(w, !strcmp(action, "accept") ? "ingress" : "egress");
	WS(w, "},\"destination\":{\"ip\":");
	wstr(w, dip);
	WS(w, ",\"port\":");
	wint(w, dport);
	WS(w, "},\"source\":{\"ip\":");
	wstr(w, sip);
	WS(w, ",\"port\":");
	wint(w, sport);
	WS(w, "},\"vigil\":{\"net\":{\"fd\":");
	wint(w, fd);
	WS(w, "},");
	wvigil(w, p, 0);
}

static void ev_dns(struct w *w, const struct proc *p, const char *name)
{
	whead(w, "dns_query", "network", p, 0);
	WS(w, ",\"network\":{\"transport\":\"udp\",\"type\":\"ipv4\",\"direction\":\"egress\"},"
	      "\"destination\":{\"ip\":\"127.0.0.53\",\"port\":53},\"source\":{\"ip\":\"127.0.0.1\",\"port\":");
	wint(w, 30000 + rn(30000));
	WS(w, "},\"dns\":{\"question\":{\"name\":");
	wstr(w, name);
	WS(w, ",\"type\":\"A\"}},\"vigil\":{");
	wvigil(w, p, 0);
}

static void ev_cred(struct w *w, const struct proc *p)
{
	ev_simple(w, "cred_change", p, 0,
		  "\"creds\":{\"syscall\":\"setresuid\",\"old_uid\":{\"real\":1000,\"effective\":0,\"saved\":0,\"fs\":0},"
		  "\"new_uid\":{\"real\":0,\"effective\":0,\"saved\":0,\"fs\":0},\"gained_root\":true},");
}

/* ---- actors ------------------------------------------------------------ */

enum actor_kind { A_SERVICE, A_SSH, A_BUILD, A_CRON, A_SPAWNER };

struct actor {
	enum actor_kind kind;
	double next;   /* simulated seconds since boot */
	double mean;   /* mean seconds between its events */
	int state, left, svc;
	struct proc sh, cur, leader;
	bool incident;
	char scratch[128];
	struct proc *workers;
	int nworkers;
};

#define MAXACT 4096
static struct actor *act[MAXACT];
static int nact;

static void heap_up(int i)
{
	while (i) {
		int p = (i - 1) / 2;
		if (act[p]->next <= act[i]->next)
			break;
		struct actor *t = act[p];
		act[p] = act[i];
		act[i] = t;
		i = p;
	}
}
static void heap_down(int i)
{
	for (;;) {
		int l = 2 * i + 1, m = i;
		if (l < nact && act[l]->next < act[m]->next)
			m = l;
		if (l + 1 < nact && act[l + 1]->next < act[m]->next)
			m = l + 1;
		if (m == i)
			return;
		struct actor *t = act[m];
		act[m] = act[i];
		act[i] = t;
		i = m;
	}
}
static void add_actor(struct actor *a)
{
	if (nact == MAXACT) {
		free(a->workers);
		free(a);
		return;
	}
	act[nact] = a;
	heap_up(nact++);
}

static struct proc init_proc, sshd_proc, cron_proc;

static const char *const client_ips[] = {"203.0.113.7", "198.51.100.23", "192.0.2.44", "203.0.113.99",
					 "198.51.100.160", "192.0.2.201", "100.64.12.9", "100.64.77.31"};

static void ip_of(char *out, size_t cap, uint32_t x)
{
	snprintf(out, cap, "%u.%u.%u.%u", 10 + x % 200, (x >> 8) & 255, (x >> 16) & 255, 1 + (x >> 24) % 250);
}

struct svc_def {
	const char *exe, *name, *cwd;
	int uid, nworkers;
	double mean; /* seconds between events (per service) */
	int kind;    /* 0 web, 1 api, 2 db, 3 log, 4 misc */
	const char *args[4];
	int argc;
};

static const struct svc_def svcs[] = {
	{"/usr/sbin/nginx", "nginx", "/", 33, 4, 0.020, 0, {"nginx: worker process"}, 1},
	{"/usr/bin/node", "node", "/srv/api", 1001, 6, 0.025, 1, {"node", "/srv/api/dist/server.js"}, 2},
	{"/usr/lib/postgresql/15/bin/postgres", "postgres", "/var/lib/postgresql/15/main", 113, 8, 0.045, 2,
	 {"/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main"}, 3},
	{"/usr/bin/redis-server", "redis-server", "/var/lib/redis", 114, 1, 0.2, 2, {"/usr/bin/redis-server", "127.0.0.1:6379"}, 2},
	{"/lib/systemd/systemd-journald", "systemd-journal", "/", 0, 1, 0.5, 3, {"/lib/systemd/systemd-journald"}, 1},
	{"/usr/sbin/rsyslogd", "rsyslogd", "/", 0, 1, 0.7, 3, {"/usr/sbin/rsyslogd", "-n", "-iNONE"}, 3},
	{"/usr/bin/dockerd", "dockerd", "/", 0, 2, 1.5, 4, {"/usr/bin/dockerd", "-H", "fd://"}, 3},
	{"/usr/bin/prometheus-node-exporter", "prometheus-node", "/", 65534, 1, 1.0, 4, {"/usr/bin/prometheus-node-exporter"}, 1},
	{"/usr/bin/java", "java", "/opt/billing", 1002, 4, 0.1, 1,
	 {"/usr/bin/java", "-Xmx2g", "-jar", "/opt/billing/billing.jar"}, 4},
	{"/usr/sbin/sshd", "sshd", "/", 0, 1, 3.0, 4, {"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}, 1},
};
#define NSVC (int)(sizeof(svcs) / sizeof(svcs[0]))

static const char *const shell_cmds[][4] = {
	{"/usr/bin/ls", "ls", "-la", NULL}, {"/usr/bin/cat", "cat", "/etc/hosts", NULL},
	{"/usr/bin/vim", "vim", "config.yaml", NULL}, {"/usr/bin/git", "git", "pull", NULL},
	{"/usr/bin/curl", "curl", "-s", "https://api.github.com/"}, {"/usr/bin/sudo", "sudo", "systemctl", "restart"},
	{"/usr/bin/ps", "ps", "aux", NULL}, {"/usr/bin/grep", "grep", "-r", "TODO"},
	{"/usr/bin/tail", "tail", "-n", "100"}, {"/usr/bin/docker", "docker", "ps", NULL},
	{"/usr/bin/python3", "python3", "manage.py", "migrate"}, {"/usr/bin/ssh", "ssh", "db-2.internal", NULL},
	{"/usr/bin/tar", "tar", "czf", "/tmp/backup.tgz"}, {"/usr/bin/wget", "wget", "-q", "http://203.0.113.50/x.sh"},
};
#define NCMD (int)(sizeof(shell_cmds) / sizeof(shell_cmds[0]))

struct stream {
	struct w w;
	uint64_t events, bytes;
	/* the incident */
	int inc_sid;
	uint64_t inc_events, inc_first, inc_last;
	bool inc_started;
	uint64_t n_total;
};

static struct stream S;

static void count_event(const struct proc *p)
{
	if (S.inc_sid && p->sid == S.inc_sid) {
		if (!S.inc_events)
			S.inc_first = now_ns;
		S.inc_events++;
		S.inc_last = now_ns;
	}
}

static struct actor *new_actor(enum actor_kind k, double t)
{
	struct actor *a = calloc(1, sizeof(*a));
	a->kind = k;
	a->next = t;
	return a;
}

static void start_ssh(double t, bool incident)
{
	struct actor *a = new_actor(A_SSH, t);
	a->incident = incident;
	/* sshd forks a session process, which execs bash */
	static const char *const sa[] = {"sshd: alice [priv]"};
	proc_init(&a->leader, &sshd_proc, 0, 0, "/usr/sbin/sshd", "sshd", "/", NULL, 1, sa);
	static const char *const ba[] = {"-bash"};
	static char ttys[64][16];
	int tn = rn(64);
	snprintf(ttys[tn], sizeof(ttys[tn]), "/dev/pts/%d", tn);
	proc_init(&a->sh, &a->leader, a->leader.pid, 1000, "/usr/bin/bash", "bash", "/home/alice", ttys[tn], 1, ba);
	a->sh.sid = a->leader.pid;
	a->left = incident ? 2400 : 50 + (int)rexp(400);
	if (a->left > 3000)
		a->left = 3000;
	/* a session lasts minutes to an hour: the mean gap follows */
	double dur = incident ? 3600 : 120 + rexp(900);
	a->mean = dur / a->left;
	if (incident)
		S.inc_sid = a->leader.pid;
	add_actor(a);
}

static void start_build(double t)
{
	struct actor *a = new_actor(A_BUILD, t);
	static const char *const ma[] = {"make", "-j8"};
	proc_init(&a->sh, &init_proc, 0, 1003, "/usr/bin/make", "make", "/home/ci/work/app", NULL, 2, ma);
	a->left = 2000 + (int)rexp(6000);
	a->mean = 90.0 / a->left; /* ~90 s */
	add_actor(a);
}

/* One event from actor a into S.w; returns false when the actor is done. */
static bool fire(struct actor *a)
{
	struct w *w = &S.w;
	char path[256], ip[32], ip2[32];
	switch (a->kind) {
	case A_SERVICE: {
		const struct svc_def *d = &svcs[a->svc];
		struct proc *p = &a->workers[rn((uint32_t)a->nworkers)];
		int tid = p->pid + (int)rn(8);
		uint32_t r = rn(100);
		if (d->kind == 0) { /* web: clients in, upstream out, access log */
			if (r < 55) {
				const char *cip = client_ips[rn(8)];
				char cipb[32];
				if (rn(3) == 0) {
					snprintf(cipb, sizeof(cipb), "%u.%u.%u.%u", 1 + rn(223), rn(256), rn(256), 1 + rn(254));
					cip = cipb;
				}
				ev_net(w, "accept", p, tid, "10.0.1.17", 443, cip, 1024 + (int)rn(60000), 10 + (int)rn(500));
			} else if (r < 90) {
				ev_net(w, "connect", p, tid, "127.0.0.1", 3000, "127.0.0.1", 30000 + (int)rn(30000),
				       10 + (int)rn(500));
			} else {
				ev_file(w, "file_open_write", p, "/var/log/nginx/access.log", NULL);
			}
		} else if (d->kind == 1) { /* API: databases, caches, partners, DNS */
			if (r < 45)
				ev_net(w, "connect", p, tid, "127.0.0.1", 5432, "127.0.0.1", 30000 + (int)rn(30000),
				       20 + (int)rn(200));
			else if (r < 70)
				ev_net(w, "connect", p, tid, "127.0.0.1", 6379, "127.0.0.1", 30000 + (int)rn(30000),
				       20 + (int)rn(200));
			else if (r < 85) {
				ip_of(ip, sizeof(ip), (uint32_t)rn(40) * 2654435761u);
				ev_net(w, "connect", p, tid, ip, 443, "10.0.1.17", 30000 + (int)rn(30000), 20 + (int)rn(200));
			} else if (r < 95) {
				static const char *const names[] = {"api.stripe.com", "hooks.slack.com", "s3.amazonaws.com",
								    "sentry.io", "db-2.internal", "cache-1.internal"};
				ev_dns(w, p, names[rn(6)]);
			} else {
				snprintf(path, sizeof(path), "/srv/api/uploads/%08x.tmp", (unsigned)rnd());
				ev_file(w, rn(2) ? "file_create" : "file_delete", p, path, NULL);
			}
		} else if (d->kind == 2) { /* database files */
			if (r < 30) {
				ev_net(w, "accept", p, tid, "127.0.0.1", d->name[0] == 'r' ? 6379 : 5432, "127.0.0.1",
				       30000 + (int)rn(30000), 10 + (int)rn(100));
			} else {
				unsigned seg = (unsigned)(now_ns / 60000000000ULL);
				snprintf(path, sizeof(path), "/var/lib/postgresql/15/main/pg_wal/0000000100000A%02X%08X",
					 seg >> 8 & 255, seg);
				char old[300];
				snprintf(old, sizeof(old), "%s.tmp", path);
				if (r < 60)
					ev_file(w, "file_create", p, old, NULL);
				else if (r < 85)
					ev_file(w, "file_rename", p, path, old);
				else
					ev_file(w, "file_delete", p, old, NULL);
			}
		} else if (d->kind == 3) { /* logs */
			static const char *const logs[] = {"/var/log/syslog", "/var/log/auth.log", "/var/log/kern.log",
							   "/var/log/journal/4f1c2a9e/system.journal"};
			ev_file(w, "file_open_write", p, logs[rn(4)], NULL);
		} else { /* misc: exporters, dockerd, sshd, java */
			if (r < 50) {
				ip_of(ip, sizeof(ip), (uint32_t)rn(12) * 40503u);
				ev_net(w, "connect", p, tid, ip, 443, "10.0.1.17", 30000 + (int)rn(30000), 5 + (int)rn(50));
			} else if (r < 80) {
				ev_file(w, "file_read_sensitive", p, rn(2) ? "/etc/shadow" : "/etc/ssh/ssh_host_ed25519_key", NULL);
			} else {
				ev_net(w, "accept", p, tid, "10.0.1.17", 9100, "10.0.0.5", 40000 + (int)rn(20000), 7);
			}
		}
		count_event(p);
		/* daytime traffic is heavier than night-time */
		double hour = a->next / 3600.0;
		double load = 0.6 + 0.4 * __builtin_sin(hour / 24.0 * 6.283185307);
		a->next += rexp(a->mean / load);
		return true;
	}
	case A_CRON: {
		/* every minute: cron forks, sh -c job, the job runs, exits */
		struct proc *job = &a->cur;
		switch (a->state) {
		case 0: {
			static const char *const ja[] = {"/bin/sh", "-c", "/usr/local/bin/healthcheck.sh >/dev/null 2>&1"};
			proc_init(job, &cron_proc, 0, 0, "/usr/bin/dash", "sh", "/root", NULL, 3, ja);
			ev_fork(w, &cron_proc, job);
			count_event(&cron_proc);
			a->state = 1;
			a->next += 0.001;
			return true;
		}
		case 1:
			ev_exec(w, job);
			break;
		case 2: {
			static const char *const ca[] = {"curl", "-fsS", "http://127.0.0.1:3000/health"};
			struct proc c;
			proc_init(&c, job, job->sid, 0, "/usr/bin/curl", "curl", "/root", NULL, 3, ca);
			a->sh = c;
			a->sh.parent = job;
			ev_exec(w, &a->sh);
			count_event(&a->sh);
			a->state = 3;
			a->next += 0.002;
			return true;
		}
		case 3:
			ev_net(w, "connect", &a->sh, 0, "127.0.0.1", 3000, "127.0.0.1", 30000 + (int)rn(30000), 3);
			count_event(&a->sh);
			a->state = 4;
			a->next += 0.01;
			return true;
		case 4:
			ev_exit(w, &a->sh, 0);
			count_event(&a->sh);
			a->state = 5;
			a->next += 0.001;
			return true;
		default:
			ev_exit(w, job, 0);
			count_event(job);
			a->state = 0;
			a->next = (double)((uint64_t)a->next / 60 + 1) * 60 + ru() * 0.5;
			return true;
		}
		count_event(job);
		a->state++;
		a->next += 0.001;
		return true;
	}
	case A_SSH: {
		struct proc *sh = &a->sh, *c = &a->cur;
		if (a->state == 0) { /* login */
			ev_exec(w, sh);
			count_event(sh);
			a->state = 1;
		} else if (a->state == 1) { /* a command starts */
			const char *const *cmd = shell_cmds[a->incident && rn(4) == 0 ? NCMD - 1 : rn(NCMD)];
			int argc = cmd[2] ? (cmd[3] ? 3 : 2) : 1;
			proc_init(c, sh, sh->sid, 1000, cmd[0], cmd[1], sh->cwd, sh->tty, argc, cmd + 1);
			ev_fork(w, sh, c);
			count_event(sh);
			a->state = 2;
			a->scratch[0] = (char)(2 + rn(10)); /* actions of this command */
		} else if (a->state == 2) {
			ev_exec(w, c);
			count_event(c);
			a->state = 3;
		} else if (a->state == 3) { /* what the command does */
			uint32_t r = rn(100);
			if (!strcmp(c->name, "curl") || !strcmp(c->name, "wget") || !strcmp(c->name, "git") ||
			    !strcmp(c->name, "ssh")) {
				if (r < 30)
					ev_dns(w, c, !strcmp(c->name, "git") ? "github.com" : "api.github.com");
				else {
					ip_of(ip2, sizeof(ip2), a->incident ? 0xC0FFEEu : (uint32_t)rn(20) * 97u);
					ev_net(w, "connect", c, 0, ip2, !strcmp(c->name, "ssh") ? 22 : 443, "10.0.1.17",
					       30000 + (int)rn(30000), 3);
				}
			} else if (!strcmp(c->name, "sudo") && r < 40) {
				ev_cred(w, c);
			} else if (r < 60) {
				snprintf(path, sizeof(path), "%s/%s.%u", sh->cwd, r < 30 ? ".viminfo" : "notes", rn(50));
				ev_file(w, r < 20 ? "file_create" : r < 40 ? "file_rename" : "file_delete", c, path,
					r >= 20 && r < 40 ? "/home/alice/.notes.swp" : NULL);
			} else {
				ev_file(w, "file_open_write", c, a->incident ? "/etc/cron.d/.update" : "/home/alice/.bash_history",
					NULL);
			}
			count_event(c);
			if (--a->scratch[0] <= 0)
				a->state = 4;
		} else { /* the command exits */
			ev_exit(w, c, rn(10) ? 0 : 1);
			count_event(c);
			a->state = 1;
		}
		a->next += rexp(a->mean);
		return --a->left > 0;
	}
	case A_BUILD: {
		struct proc *mk = &a->sh, *c = &a->cur;
		static const char *const tools[][3] = {{"/usr/bin/gcc", "gcc", "-O2"},
						       {"/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "cc1", "-quiet"},
						       {"/usr/bin/as", "as", "--64"},
						       {"/usr/bin/ld", "ld", "-pie"}};
		switch (a->state % 5) {
		case 0: {
			int t = (int)rn(4);
			snprintf(a->scratch, sizeof(a->scratch), "src/mod%u/file%u.c", rn(40), rn(200));
			const char *args[4] = {tools[t][1], tools[t][2], "-c", a->scratch};
			proc_init(c, mk, mk->sid, 1003, tools[t][0], tools[t][1], mk->cwd, NULL, 4, args);
			ev_fork(w, mk, c);
			count_event(mk);
			break;
		}
		case 1:
			ev_exec(w, c);
			count_event(c);
			break;
		case 2:
			snprintf(path, sizeof(path), "%s/%.*s.o.tmp", mk->cwd, (int)strlen(a->scratch) - 2, a->scratch);
			ev_file(w, "file_create", c, path, NULL);
			count_event(c);
			break;
		case 3: {
			char old[256];
			snprintf(old, sizeof(old), "%s/%.*s.o.tmp", mk->cwd, (int)strlen(a->scratch) - 2, a->scratch);
			snprintf(path, sizeof(path), "%s/%.*s.o", mk->cwd, (int)strlen(a->scratch) - 2, a->scratch);
			ev_file(w, "file_rename", c, path, old);
			count_event(c);
			break;
		}
		default:
			ev_exit(w, c, 0);
			count_event(c);
		}
		a->state++;
		a->next += rexp(a->mean);
		return --a->left > 0;
	}
	case A_SPAWNER:
		/* new SSH sessions (~every 4 min) and builds (~every 40 min) */
		if (rn(10) == 0)
			start_build(a->next);
		else
			start_ssh(a->next, false);
		a->next += rexp(240);
		return true;
	}
	return false;
}

static void gen_init(uint64_t seed)
{
	memset(&S, 0, sizeof(S));
	rng_state = seed;
	nact = 0;
	next_pid = 2000;
	now_ns = BOOT_NS;
	static const char *const ia[] = {"/sbin/init"};
	proc_init(&init_proc, NULL, 1, 0, "/usr/lib/systemd/systemd", "systemd", "/", NULL, 1, ia);
	init_proc.pid = init_proc.sid = init_proc.pgid = 1;
	static const char *const sa[] = {"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"};
	proc_init(&sshd_proc, &init_proc, 0, 0, "/usr/sbin/sshd", "sshd", "/", NULL, 1, sa);
	static const char *const ca[] = {"/usr/sbin/cron", "-f"};
	proc_init(&cron_proc, &init_proc, 0, 0, "/usr/sbin/cron", "cron", "/var/spool/cron", NULL, 2, ca);
	for (int i = 0; i < NSVC; i++) {
		const struct svc_def *d = &svcs[i];
		struct actor *a = new_actor(A_SERVICE, ru());
		a->svc = i;
		a->mean = d->mean;
		a->nworkers = d->nworkers;
		a->workers = calloc((size_t)d->nworkers, sizeof(*a->workers));
		proc_init(&a->leader, &init_proc, 0, d->uid, d->exe, d->name, d->cwd, NULL, d->argc, d->args);
		for (int k = 0; k < d->nworkers; k++) {
			proc_init(&a->workers[k], &a->leader, a->leader.pid, d->uid, d->exe, d->name, d->cwd, NULL, d->argc,
				  d->args);
			a->workers[k].container = i == 1 || i == 8;
		}
		add_actor(a);
	}
	add_actor(new_actor(A_CRON, 30));
	add_actor(new_actor(A_SPAWNER, 5));
}

/* The next event's JSON into S.w (reset first); its time in now_ns. */
static void gen_next(void)
{
	for (;;) {
		struct actor *a = act[0];
		now_ns = BOOT_NS + (uint64_t)(a->next * 1e9);
		/* the incident starts at 45% of the stream */
		if (!S.inc_started && S.events >= S.n_total * 45 / 100) {
			S.inc_started = true;
			start_ssh(a->next, true);
			continue;
		}
		S.w.n = 0;
		bool more = fire(a);
		if (!more) {
			free(a->workers);
			free(a);
			act[0] = act[--nact];
		}
		if (nact)
			heap_down(0);
		if (S.w.n) {
			S.events++;
			S.bytes += S.w.n + 1;
			return;
		}
	}
}

/* ---- measuring ------------------------------------------------------- */

static uint64_t dir_size(const char *dir, int *nseg)
{
	DIR *d = opendir(dir);
	uint64_t t = 0;
	*nseg = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char p[4400];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			t += (uint64_t)st.st_blocks * 512;
			*nseg += strstr(de->d_name, ".vgs") != NULL;
		}
	}
	closedir(d);
	return t;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[4400];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static bool drop_caches_ok = true, no_drop_caches;
static cpu_set_t all_cpus; /* queries may use every core */
static bool keep_store;
static void drop_caches(void)
{
	if (no_drop_caches) {
		drop_caches_ok = false;
		return;
	}
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3\n", 2) != 2)
		drop_caches_ok = false;
	if (fd >= 0)
		close(fd);
}

struct qcount {
	uint64_t n, bytes;
};
static int count_row(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct qcount *c = ctx;
	c->n++;
	c->bytes += len;
	return 0;
}

struct result {
	uint64_t events, json_bytes, store_bytes, zstd_bytes, gzip_bytes;
	int segments;
	double ingest_cpu, ingest_wall, gen_cpu;
	uint64_t inc_events;
	double inc_cold_ms, inc_warm_ms;
	uint64_t scan_events;
	double scan_cold_s, scan_warm_s;
	double compare_wall;
	bool ok;
};

static uint64_t pipe_count(FILE *p)
{
	unsigned long long v = 0;
	if (fscanf(p, "%llu", &v) != 1)
		v = 0;
	return v;
}

static void run(uint64_t n, const char *base_dir, bool compare, struct result *r)
{
	memset(r, 0, sizeof(*r));
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/store-bench-%d-%llu", base_dir, getpid(), (unsigned long long)n);
	rm_dir(dir);
	struct store *s;
	char err[512];
	struct store_opts o = {.dir = dir, .retention_bytes = 1ULL << 40};
	if (store_open(&s, &o, err, sizeof(err))) {
		fprintf(stderr, "store_bench: %s\n", err);
		exit(1);
	}
	gen_init(0x5eed5eed12345ULL);
	S.n_total = n;
	uint64_t scan_from = 0, scan_to = 0;
	uint64_t scan_expect = 0;
	double cpu = 0, wall = 0, gen = 0, last_flush = wall_s();
	/* generated in batches, so that the clocks are read once per batch */
	enum { BATCH = 16384 };
	struct w buf = {0};
	size_t *off = malloc((BATCH + 1) * sizeof(*off));
	uint64_t *tss = malloc(BATCH * sizeof(*tss));
	for (uint64_t i = 0; i < n;) {
		double g0 = cpu_s();
		size_t m = 0;
		buf.n = 0;
		for (; m < BATCH && i + m < n; m++) {
			gen_next();
			off[m] = buf.n;
			tss[m] = now_ns;
			wr(&buf, S.w.b, S.w.n);
			/* the scan window: 10% of the stream, from 60% on */
			if (i + m == n * 60 / 100)
				scan_from = now_ns;
			if (i + m == n * 70 / 100)
				scan_to = now_ns;
		}
		off[m] = buf.n;
		double c0 = cpu_s(), w0 = wall_s();
		gen += c0 - g0;
		for (size_t k = 0; k < m; k++) {
			if (store_append(s, buf.b + off[k], off[k + 1] - off[k], NULL, tss[k])) {
				fprintf(stderr, "store_bench: store_append failed at event %llu\n", (unsigned long long)(i + k));
				exit(1);
			}
			/* the writer's flush, every second (with fsync) */
			if ((k & 1023) == 0 && wall_s() - last_flush >= 1.0) {
				store_flush(s);
				last_flush = wall_s();
			}
		}
		cpu += cpu_s() - c0;
		wall += wall_s() - w0;
		i += m;
		fprintf(stderr, "\r  %llu/%llu events", (unsigned long long)i, (unsigned long long)n);
	}
	free(buf.b);
	free(off);
	free(tss);
	double c0 = cpu_s(), w0 = wall_s();
	store_close(s);
	cpu += cpu_s() - c0;
	wall += wall_s() - w0;
	fprintf(stderr, "  incident: sid %d, %llu events\n", S.inc_sid, (unsigned long long)S.inc_events);
	fprintf(stderr, "\r  %llu events ingested: %.1f s CPU, %.1f s wall (generation %.1f s)\n",
		(unsigned long long)n, cpu, wall, gen);
	r->events = n;
	r->json_bytes = S.bytes;
	r->ingest_cpu = cpu;
	r->ingest_wall = wall;
	r->gen_cpu = gen;
	r->inc_events = S.inc_events;
	r->store_bytes = dir_size(dir, &r->segments);

	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	/* the second pass regenerates the stream: the scan window's true
	 * count, and the JSON for zstd and gzip */
	r->ok = true;
	if (compare) {
		fprintf(stderr, "  zstd -3 and gzip of the same JSON lines...\n");
		double t = wall_s();
		char cz[64], cg[64];
		snprintf(cz, sizeof(cz), "zstd -3 -q -c | wc -c");
		snprintf(cg, sizeof(cg), "gzip -c | wc -c");
		FILE *zr = NULL, *gr = NULL;
		/* two pipelines fed from here; their outputs are read back */
		char tmpz[4200], tmpg[4200];
		snprintf(tmpz, sizeof(tmpz), "%s.zstd-count", dir);
		snprintf(tmpg, sizeof(tmpg), "%s.gzip-count", dir);
		char full[4600];
		snprintf(full, sizeof(full), "%s > %s", cz, tmpz);
		FILE *z = popen(full, "w");
		snprintf(full, sizeof(full), "%s > %s", cg, tmpg);
		FILE *g = popen(full, "w");
		if (!z || !g) {
			fprintf(stderr, "store_bench: cannot run zstd or gzip\n");
			exit(1);
		}
		gen_init(0x5eed5eed12345ULL);
		S.n_total = n;
		for (uint64_t i = 0; i < n; i++) {
			gen_next();
			S.w.b[S.w.n] = '\n';
			if (now_ns >= scan_from && now_ns <= scan_to)
				scan_expect++;
			if (fwrite(S.w.b, 1, S.w.n + 1, z) != S.w.n + 1 || fwrite(S.w.b, 1, S.w.n + 1, g) != S.w.n + 1) {
				fprintf(stderr, "store_bench: cannot feed zstd/gzip\n");
				exit(1);
			}
		}
		pclose(z);
		pclose(g);
		zr = fopen(tmpz, "r");
		gr = fopen(tmpg, "r");
		r->zstd_bytes = zr ? pipe_count(zr) : 0;
		r->gzip_bytes = gr ? pipe_count(gr) : 0;
		if (zr)
			fclose(zr);
		if (gr)
			fclose(gr);
		unlink(tmpz);
		unlink(tmpg);
		r->compare_wall = wall_s() - t;
		fprintf(stderr, "  done in %.0f s\n", r->compare_wall);
	} else {
		gen_init(0x5eed5eed12345ULL);
		S.n_total = n;
		for (uint64_t i = 0; i < n; i++) {
			gen_next();
			if (now_ns >= scan_from && now_ns <= scan_to)
				scan_expect++;
		}
	}

	/* the incident's timeline */
	struct store_query q;
	memset(&q, 0, sizeof(q));
	q.sid = S.inc_sid;
	q.pid = -1;
	q.host = HOST;
	struct qcount qc = {0};
	struct strbuf warn;
	sb_init(&warn);
	drop_caches();
	double t = wall_s();
	long got = store_query(dir, &q, count_row, &qc, &warn);
	r->inc_cold_ms = (wall_s() - t) * 1e3;
	if (got != (long)S.inc_events || warn.len) {
		fprintf(stderr, "store_bench: session query returned %ld of %llu events %s\n", got,
			(unsigned long long)S.inc_events, warn.buf ? warn.buf : "");
		r->ok = false;
	}
	double best = 1e9;
	for (int k = 0; k < 5; k++) {
		qc.n = 0;
		t = wall_s();
		store_query(dir, &q, count_row, &qc, &warn);
		double e = (wall_s() - t) * 1e3;
		if (e < best)
			best = e;
	}
	r->inc_warm_ms = best;

	/* a time-range scan */
	memset(&q, 0, sizeof(q));
	q.sid = -1;
	q.pid = -1;
	q.from_ns = scan_from;
	q.to_ns = scan_to;
	drop_caches();
	qc.n = 0;
	t = wall_s();
	got = store_query(dir, &q, count_row, &qc, &warn);
	r->scan_cold_s = wall_s() - t;
	r->scan_events = (uint64_t)got;
	if (got != (long)scan_expect) {
		fprintf(stderr, "store_bench: scan returned %ld of %llu events\n", got, (unsigned long long)scan_expect);
		r->ok = false;
	}
	qc.n = 0;
	t = wall_s();
	store_query(dir, &q, count_row, &qc, &warn);
	r->scan_warm_s = wall_s() - t;
	sb_free(&warn);
	if (keep_store)
		fprintf(stderr, "  kept %s\n", dir);
	else
		rm_dir(dir);
}

static void human(char *out, size_t cap, double b)
{
	if (b >= 1e9)
		snprintf(out, cap, "%.2f GB", b / 1e9);
	else
		snprintf(out, cap, "%.1f MB", b / 1e6);
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp";
	char sizes[256] = "1000000,10000000";
	bool compare = true;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			snprintf(sizes, sizeof(sizes), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--no-compare"))
			compare = false;
		else if (!strcmp(argv[i], "--keep"))
			keep_store = true;
		else if (!strcmp(argv[i], "--no-drop-caches"))
			no_drop_caches = true;
		else {
			fprintf(stderr, "usage: store_bench [--events N[,N...]] [--dir DIR] [--no-compare] [--no-drop-caches] [--keep]\n");
			return 2;
		}
	}
	/* one core: the ingest figures are per core */
	sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &set);
	sched_setaffinity(0, sizeof(set), &set);

	struct result res[8];
	int nres = 0;
	for (char *tok = strtok(sizes, ","); tok && nres < 8; tok = strtok(NULL, ",")) {
		uint64_t n = strtoull(tok, NULL, 10);
		sched_setaffinity(0, sizeof(set), &set);
		fprintf(stderr, "store_bench: %llu events\n", (unsigned long long)n);
		run(n, dir, compare, &res[nres++]);
	}
	printf("| events | JSON lines | store on disk (segments) | JSON/store | zstd -3 | gzip | ingest events/s (CPU) | "
	       "ingest events/s (wall) | session fetch cold / warm (events) | time-range scan cold / warm (events) |\n");
	printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < nres; i++) {
		struct result *r = &res[i];
		char j[32], st[32], z[32], g[32];
		human(j, sizeof(j), (double)r->json_bytes);
		human(st, sizeof(st), (double)r->store_bytes);
		human(z, sizeof(z), (double)r->zstd_bytes);
		human(g, sizeof(g), (double)r->gzip_bytes);
		printf("| %llu | %s | %s (%d) | %.1f× | ", (unsigned long long)r->events, j, st, r->segments,
		       (double)r->json_bytes / (double)r->store_bytes);
		if (r->zstd_bytes)
			printf("%s (%.1f×) | %s (%.1f×) | ", z, (double)r->json_bytes / (double)r->zstd_bytes, g,
			       (double)r->json_bytes / (double)r->gzip_bytes);
		else
			printf("— | — | ");
		printf("%.0f | %.0f | %.1f ms / %.1f ms (%llu) | %.2f M/s / %.2f M/s (%llu) |%s\n",
		       (double)r->events / r->ingest_cpu, (double)r->events / r->ingest_wall, r->inc_cold_ms, r->inc_warm_ms,
		       (unsigned long long)r->inc_events, (double)r->scan_events / r->scan_cold_s / 1e6,
		       (double)r->scan_events / r->scan_warm_s / 1e6, (unsigned long long)r->scan_events,
		       r->ok ? "" : " **count mismatch**");
	}
	if (no_drop_caches)
		printf("\n(--no-drop-caches: the cold figures are warm)\n");
	else if (!drop_caches_ok)
		printf("\n(drop_caches failed: the cold figures are warm; run as root)\n");
	for (int i = 0; i < nres; i++)
		if (!res[i].ok)
			return 1;
	return 0;
}
