// workload: system-call workload generator for the vigil sensor benchmarks.
//
//   workload MODE [--seconds S | --count N] [--threads T] [--dir DIR] [--rate R]
//
// MODE: exec | file | open | connect | mixed | rate | spin (see bench/README.md).
// Prints one JSON line: {"mode":..,"ops":..,"seconds":..,"ops_per_sec":..,...}.
// Every run is bounded: by --count (a per-mode default when neither --count nor
// --seconds is given), by --seconds, and always by a hard wall-clock cap.
// Everything it creates lives in a fresh directory (under --dir, default /tmp)
// that is removed before exit, also on SIGINT/SIGTERM.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_COUNT 1000000000L
#define MAX_SECONDS 3600.0
#define HARD_CAP_SECONDS 600.0 /* applies when --seconds is not given */
#define MAX_RATE 10000000L
#define FILE_SIZE 4096
#define CONNECT_RETRIES 200

/* mixed: one round = 1 exec + MIX_FILE file cycles + MIX_OPEN opens + MIX_CONNECT connects */
#define MIX_FILE 20
#define MIX_OPEN 20
#define MIX_CONNECT 5

/* rate: a cycle of RATE_CYCLE units: 1 fork+exit, RATE_CONNECTS connects, the rest file pairs.
 * Every unit accounts for 2 sensor events (file_create+file_delete, connect+accept, fork+exit). */
#define RATE_CYCLE 25
#define RATE_CONNECT_EVERY 5
#define EVENTS_PER_UNIT 2
#define SLICE_NS 10000000L /* 10 ms */
#define MAX_DEBT_SLICES 10 /* do not try to catch up on more than 100 ms of backlog */

enum mode { M_EXEC, M_FILE, M_OPEN, M_CONNECT, M_MIXED, M_RATE, M_SPIN };
static const char *const mode_names[] = {"exec", "file", "open", "connect", "mixed", "rate", "spin"};
static const long default_count[] = {2000, 20000, 200000, 10000, 200, 0, 0};

struct worker {
	int idx;
	long count;  /* operations to do (LONG_MAX = until deadline) */
	long done;   /* operations (rate: events) done */
	long errors;
	double rate; /* rate mode: events per second for this thread */
	char sub[PATH_MAX]; /* per-thread directory: no contention on one directory lock */
	char fa[PATH_MAX], fb[PATH_MAX];
	int sub_made;
	pthread_t th;
};

static enum mode g_mode;
static volatile sig_atomic_t g_stop;
static double g_deadline; /* CLOCK_MONOTONIC seconds */
static char g_dir[PATH_MAX - 64]; /* leaves room for the file names below */
static char g_open_path[PATH_MAX];
static int g_dir_made;
static int g_open_made;
static struct sockaddr_in g_addr;
static int g_listen_fd = -1;
static atomic_int g_listener_stop;
static atomic_long g_accepted;
static pthread_barrier_t g_barrier;
static char g_buf[FILE_SIZE];

static void on_signal(int sig) { g_stop = 1; }

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: workload MODE [--seconds S | --count N] [--threads T] [--dir DIR] [--rate R]\n"
		   "  MODE: exec | file | open | connect | mixed | rate | spin\n"
		   "  defaults: --count exec=%ld file=%ld open=%ld connect=%ld mixed=%ld (rounds);\n"
		   "            rate: --rate 10000 --seconds 10; --threads 1; --dir /tmp\n"
		   "  spin: no system calls, one CPU busy until SIGTERM (or --seconds)\n",
		default_count[M_EXEC], default_count[M_FILE], default_count[M_OPEN], default_count[M_CONNECT],
		default_count[M_MIXED]);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* ---- single operations; each returns 0 on success, -1 on failure ---- */

static int op_exec(void)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0) {
		char *argv[] = {(char *)"true", NULL};
		char *envp[] = {NULL};
		execve("/bin/true", argv, envp);
		_exit(127);
	}
	int st = 0;
	while (waitpid(p, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : -1;
}

static int op_fork_exit(void)
{
	pid_t p = fork();
	if (p < 0)
		return -1;
	if (p == 0)
		_exit(0);
	int st = 0;
	while (waitpid(p, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* create, write 4 KiB, rename, unlink */
static int op_file(struct worker *w)
{
	int fd = open(w->fa, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, g_buf, sizeof g_buf);
	if (close(fd) < 0)
		rc = -1;
	if (rename(w->fa, w->fb) < 0) {
		unlink(w->fa);
		return -1;
	}
	if (unlink(w->fb) < 0)
		return -1;
	return rc;
}

/* create + unlink (rate mode: two cheap file events) */
static int op_file_pair(struct worker *w)
{
	int fd = open(w->fa, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return unlink(w->fa);
}

static int op_open(void)
{
	int fd = open(g_open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int op_connect(void)
{
	for (int attempt = 0; attempt < CONNECT_RETRIES && !g_stop; attempt++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0)
			return -1;
		if (connect(s, (struct sockaddr *)&g_addr, sizeof g_addr) == 0) {
			/* close with RST: no TIME_WAIT, so ephemeral ports never run out */
			struct linger lg = {.l_onoff = 1, .l_linger = 0};
			setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
			close(s);
			return 0;
		}
		int e = errno;
		close(s);
		if (e != EADDRNOTAVAIL && e != EAGAIN && e != EINTR && e != ECONNREFUSED)
			return -1;
		struct timespec ts = {0, 1000000}; /* 1 ms, bounded by CONNECT_RETRIES */
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* ---- listener thread: accept + close ---- */

static void *listener_main(void *arg)
{
	while (!atomic_load(&g_listener_stop)) {
		int c = accept4(g_listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			close(c);
			atomic_fetch_add(&g_accepted, 1);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
			continue;
		}
		break; /* EINVAL after shutdown() */
	}
	return NULL;
}

static int listener_start(pthread_t *th)
{
	g_listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g_listen_fd < 0)
		return -1;
	int one = 1;
	setsockopt(g_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&g_addr, 0, sizeof g_addr);
	g_addr.sin_family = AF_INET;
	g_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_addr.sin_port = 0;
	socklen_t len = sizeof g_addr;
	if (bind(g_listen_fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0 ||
	    getsockname(g_listen_fd, (struct sockaddr *)&g_addr, &len) < 0 || listen(g_listen_fd, SOMAXCONN) < 0)
		return -1;
	if (pthread_create(th, NULL, listener_main, NULL) != 0)
		return -1;
	return 0;
}

static void listener_stop(pthread_t th)
{
	atomic_store(&g_listener_stop, 1);
	shutdown(g_listen_fd, SHUT_RDWR); /* wakes a blocked accept() on Linux */
	pthread_join(th, NULL);
	close(g_listen_fd);
	g_listen_fd = -1;
}

/* ---- workers ---- */

static int time_up(void) { return g_stop || now_mono() >= g_deadline; }

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(&g_barrier);

	if (g_mode == M_RATE) {
		struct timespec next;
		clock_gettime(CLOCK_MONOTONIC, &next);
		long slice = 0, unit = 0;
		long sched = 0; /* events credited against the schedule */
		while (!time_up()) {
			slice++;
			next.tv_nsec += SLICE_NS;
			if (next.tv_nsec >= 1000000000L) {
				next.tv_nsec -= 1000000000L;
				next.tv_sec++;
			}
			double slice_end = (double)next.tv_sec + (double)next.tv_nsec / 1e9;
			long target = (long)(w->rate * ((double)slice * SLICE_NS / 1e9));
			long max_debt = (long)(w->rate * ((double)MAX_DEBT_SLICES * SLICE_NS / 1e9));
			if (target - sched > max_debt) /* fell far behind: forget the older backlog */
				sched = target - max_debt;
			long budget = target - sched;
			long made = 0;
			while (made < budget && !g_stop) {
				int rc;
				long k = unit++ % RATE_CYCLE;
				if (k == 0)
					rc = op_fork_exit();
				else if (k % RATE_CONNECT_EVERY == 1)
					rc = op_connect();
				else
					rc = op_file_pair(w);
				if (rc < 0)
					w->errors++;
				made += EVENTS_PER_UNIT;
				sched += EVENTS_PER_UNIT;
				w->done += EVENTS_PER_UNIT;
				if ((made & 31) == 0 && now_mono() >= slice_end)
					break;
			}
			if (now_mono() >= g_deadline)
				break;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR && !g_stop)
				;
		}
		return NULL;
	}

	while (w->done < w->count) {
		if ((w->done & 15) == 0 && time_up())
			break;
		int rc = 0;
		switch (g_mode) {
		case M_EXEC:
			rc = op_exec();
			break;
		case M_FILE:
			rc = op_file(w);
			break;
		case M_OPEN:
			rc = op_open();
			break;
		case M_CONNECT:
			rc = op_connect();
			break;
		case M_MIXED:
			rc = op_exec();
			for (int i = 0; i < MIX_FILE && !g_stop; i++)
				rc |= op_file(w);
			for (int i = 0; i < MIX_OPEN && !g_stop; i++)
				rc |= op_open();
			for (int i = 0; i < MIX_CONNECT && !g_stop; i++)
				rc |= op_connect();
			break;
		case M_RATE:
		case M_SPIN: /* neither gets here */
			break;
		}
		if (rc < 0)
			w->errors++;
		w->done++;
	}
	return NULL;
}

static void cleanup(struct worker *ws, int nthreads)
{
	for (int i = 0; i < nthreads; i++) {
		if (ws[i].fa[0])
			unlink(ws[i].fa);
		if (ws[i].fb[0])
			unlink(ws[i].fb);
		if (ws[i].sub_made && rmdir(ws[i].sub) < 0)
			fprintf(stderr, "workload: could not remove %s: %s\n", ws[i].sub, strerror(errno));
	}
	if (g_open_made)
		unlink(g_open_path);
	if (g_dir_made && rmdir(g_dir) < 0)
		fprintf(stderr, "workload: could not remove %s: %s\n", g_dir, strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	int found = 0;
	for (size_t i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++) {
		if (!strcmp(argv[1], mode_names[i])) {
			g_mode = (enum mode)i;
			found = 1;
		}
	}
	if (!found) {
		fprintf(stderr, "workload: unknown mode '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}

	long count = -1, threads = 1, rate = 10000;
	double seconds = -1;
	const char *base_dir = "/tmp";
	for (int i = 2; i < argc; i += 2) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (!strcmp(a, "--seconds") && v)
			bad = parse_double(v, 0.001, MAX_SECONDS, &seconds);
		else if (!strcmp(a, "--count") && v)
			bad = parse_long(v, 1, MAX_COUNT, &count);
		else if (!strcmp(a, "--threads") && v)
			bad = parse_long(v, 1, MAX_THREADS, &threads);
		else if (!strcmp(a, "--rate") && v)
			bad = parse_long(v, 1, MAX_RATE, &rate);
		else if (!strcmp(a, "--dir") && v)
			base_dir = v;
		else {
			fprintf(stderr, "workload: bad argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "workload: bad value for %s: '%s'\n", a, v);
			return 2;
		}
	}
	if (g_mode == M_SPIN && count > 0) {
		fprintf(stderr, "workload: spin mode takes --seconds, not --count\n");
		return 2;
	}
	if (g_mode == M_RATE) {
		if (count > 0) {
			fprintf(stderr, "workload: rate mode takes --seconds, not --count\n");
			return 2;
		}
		if (seconds < 0)
			seconds = 10;
	} else if (count < 0) {
		count = seconds > 0 ? MAX_COUNT : default_count[g_mode];
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the benchmark's control: what a busy CPU next to the workload costs
	 * it on this machine (shared caches, hyperthreads, the hypervisor) */
	if (g_mode == M_SPIN) {
		double t0 = now_mono(), until = t0 + (seconds > 0 ? seconds : HARD_CAP_SECONDS);
		volatile unsigned long spins = 0;
		while (!g_stop) {
			for (int i = 0; i < 1000000; i++)
				spins++;
			if (now_mono() >= until)
				break;
		}
		printf("{\"mode\":\"spin\",\"ops\":%lu,\"seconds\":%.4f}\n", (unsigned long)spins, now_mono() - t0);
		return 0;
	}

	for (size_t i = 0; i < sizeof g_buf; i++)
		g_buf[i] = (char)('a' + i % 26);

	/* private directory: everything created lives here and is removed at exit */
	if (snprintf(g_dir, sizeof g_dir, "%s/vigil-wl.XXXXXX", base_dir) >= (int)sizeof g_dir) {
		fprintf(stderr, "workload: --dir too long\n");
		return 2;
	}
	if (!mkdtemp(g_dir)) {
		fprintf(stderr, "workload: mkdtemp %s: %s\n", g_dir, strerror(errno));
		return 1;
	}
	g_dir_made = 1;

	int rc = 1;
	struct worker *ws = calloc((size_t)threads, sizeof *ws);
	pthread_t lth;
	int listener = 0;
	if (!ws) {
		fprintf(stderr, "workload: out of memory\n");
		goto out;
	}
	for (int i = 0; i < threads; i++) {
		struct worker *w = &ws[i];
		w->idx = i;
		if (g_mode != M_RATE)
			w->count = count / threads + (i < count % threads ? 1 : 0);
		w->rate = (double)rate / (double)threads;
		if (g_mode == M_FILE || g_mode == M_MIXED || g_mode == M_RATE) {
			snprintf(w->sub, sizeof w->sub, "%s/t%d", g_dir, i);
			if (mkdir(w->sub, 0700) < 0) {
				fprintf(stderr, "workload: mkdir %s: %s\n", w->sub, strerror(errno));
				goto out;
			}
			w->sub_made = 1;
			snprintf(w->fa, sizeof w->fa, "%s/t%d/f", g_dir, i);
			snprintf(w->fb, sizeof w->fb, "%s/t%d/f.renamed", g_dir, i);
		}
	}
	if (g_mode == M_OPEN || g_mode == M_MIXED) {
		snprintf(g_open_path, sizeof g_open_path, "%s/open-target", g_dir);
		int fd = open(g_open_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "workload: create %s: %s\n", g_open_path, strerror(errno));
			goto out;
		}
		g_open_made = 1;
		if (write_all(fd, g_buf, sizeof g_buf) < 0) {
			close(fd);
			fprintf(stderr, "workload: write %s: %s\n", g_open_path, strerror(errno));
			goto out;
		}
		close(fd);
	}
	if (g_mode == M_CONNECT || g_mode == M_MIXED || g_mode == M_RATE) {
		if (listener_start(&lth) < 0) {
			fprintf(stderr, "workload: listener on 127.0.0.1: %s\n", strerror(errno));
			if (g_listen_fd >= 0)
				close(g_listen_fd);
			goto out;
		}
		listener = 1;
	}

	if (pthread_barrier_init(&g_barrier, NULL, (unsigned)threads + 1) != 0) {
		fprintf(stderr, "workload: barrier init failed\n");
		goto out;
	}
	int started = 0;
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
			fprintf(stderr, "workload: pthread_create failed\n");
			g_stop = 1;
			break;
		}
		started++;
	}
	if (started < threads) {
		/* the barrier would never open; the started threads are released by exiting */
		cleanup(ws, threads);
		_exit(1);
	}
	double t0 = now_mono();
	g_deadline = t0 + (seconds > 0 ? seconds : HARD_CAP_SECONDS);
	pthread_barrier_wait(&g_barrier);
	long done = 0, errors = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(ws[i].th, NULL);
		done += ws[i].done;
		errors += ws[i].errors;
	}
	double elapsed = now_mono() - t0;
	pthread_barrier_destroy(&g_barrier);
	if (listener) {
		listener_stop(lth);
		listener = 0;
	}

	printf("{\"mode\":\"%s\",\"ops\":%ld,\"seconds\":%.4f,\"ops_per_sec\":%.1f,\"threads\":%ld,\"errors\":%ld",
	       mode_names[g_mode], done, elapsed, elapsed > 0 ? (double)done / elapsed : 0.0, threads, errors);
	if (g_mode == M_RATE)
		printf(",\"target_per_sec\":%ld", rate);
	if (g_stop)
		printf(",\"interrupted\":true");
	printf("}\n");
	fflush(stdout);
	if (errors)
		fprintf(stderr, "workload: %ld operations failed\n", errors);
	rc = errors || g_stop ? 1 : 0;
out:
	if (listener)
		listener_stop(lth);
	if (ws)
		cleanup(ws, (int)threads);
	free(ws);
	return rc;
}
