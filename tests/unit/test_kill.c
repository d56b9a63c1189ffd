/* kill: the parsers, then real kills of this test's own children (no root
 * needed: a process may signal its own children). The test makes itself a
 * child subreaper so that orphaned grandchildren come back to it to be
 * reaped and counted. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <dirent.h>
#include "respond/respond_int.h"
#include "respondtest.h"

/* kill.c's parsers, exported for this test only */
int kill_parse_stat(const char *buf, pid_t *pid, char *state, pid_t *ppid, pid_t *sid, uint64_t *ticks);
int kill_parse_target(const char *s, pid_t *pid, uint64_t *start_ns);
int kill_parse_signal(const char *s);

static struct responder R;

static int setup(void **s)
{
	memset(&R, 0, sizeof(R));
	R.record = record_cb;
	R.self_pid = getpid(); /* the test plays vigild */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

static void test_parse_stat(void **s)
{
	pid_t pid, ppid, sid;
	char state;
	uint64_t ticks;
	/* a comm with spaces and parentheses: fields restart after the last ')' */
	const char *line = "4242 (evil) (x) y) S 4000 4242 4100 34816 4242 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
			   "987654 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
	assert_int_equal(kill_parse_stat(line, &pid, &state, &ppid, &sid, &ticks), 0);
	assert_int_equal(pid, 4242);
	assert_int_equal(state, 'S');
	assert_int_equal(ppid, 4000);
	assert_int_equal(sid, 4100);
	assert_int_equal(ticks, 987654);
	assert_int_equal(kill_parse_stat("12 (short) S 1 1 1 0", &pid, &state, &ppid, &sid, &ticks), -1);
	assert_int_equal(kill_parse_stat("12 no paren", &pid, &state, &ppid, &sid, &ticks), -1);
	assert_int_equal(kill_parse_stat("", &pid, &state, &ppid, &sid, &ticks), -1);
	assert_int_equal(kill_parse_stat("x (a) S", &pid, &state, &ppid, &sid, &ticks), -1);
}

static void test_parse_target(void **s)
{
	pid_t pid;
	uint64_t ns;
	assert_int_equal(kill_parse_target("1234", &pid, &ns), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(ns, 0);
	assert_int_equal(kill_parse_target("1234@5678901234", &pid, &ns), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(ns, 5678901234ULL);
	assert_int_equal(kill_parse_target("1234@", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("1234@x", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("1234@12x", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("0", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("-5", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("12a", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("99999999999", &pid, &ns), -1);
	assert_int_equal(kill_parse_target("", &pid, &ns), -1);
}

static void test_parse_signal(void **s)
{
	assert_int_equal(kill_parse_signal("KILL"), SIGKILL);
	assert_int_equal(kill_parse_signal("SIGTERM"), SIGTERM);
	assert_int_equal(kill_parse_signal("term"), SIGTERM);
	assert_int_equal(kill_parse_signal("stop"), SIGSTOP);
	assert_int_equal(kill_parse_signal("9"), 9);
	assert_int_equal(kill_parse_signal("15"), 15);
	assert_int_equal(kill_parse_signal("0"), -1);
	assert_int_equal(kill_parse_signal("999"), -1);
	assert_int_equal(kill_parse_signal("NOPE"), -1);
	assert_int_equal(kill_parse_signal("9x"), -1);
}

#define CMD(dry, ...) respond_cmd(kill_command, &R, dry, out, sizeof(out), err, sizeof(err), __VA_ARGS__, NULL)

static uint64_t start_ns_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = 0;
	pid_t p, pp, sid;
	char st;
	uint64_t ticks;
	assert_int_equal(kill_parse_stat(buf, &p, &st, &pp, &sid, &ticks), 0);
	return ticks * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* A child that sleeps under a binary tree of sleeping descendants
 * depth levels deep (1 + 2 + 4 ... processes). */
static void sleeper(int depth)
{
	while (depth > 0) {
		if (fork() == 0 || fork() == 0) {
			depth--; /* a child: make its own subtree */
			continue;
		}
		break;
	}
	for (;;)
		pause();
}

static pid_t spawn(int depth, bool new_session)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (new_session)
			setsid();
		sleeper(depth);
	}
	return pid;
}

/* Reaps every child of ours within timeout; returns how many were killed
 * by SIGKILL. */
static int reap_all(int want, double timeout)
{
	int killed = 0, got = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < want) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		if (p > 0) {
			got++;
			if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
				killed++;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 > timeout)
			break;
		usleep(10000);
	}
	return killed;
}

/* What lets the responder skip an automatic action without using a
 * rate-limit slot: running, a zombie, reaped, another start time. */
static void test_target_gone(void **s)
{
	(void)s;
	assert_false(kill_target_gone(getpid(), 0));
	assert_false(kill_target_gone(getpid(), start_ns_of(getpid())));
	assert_true(kill_target_gone(getpid(), start_ns_of(getpid()) + 10000000000ULL));
	assert_true(kill_target_gone(0, 0));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	uint64_t start = start_ns_of(pid);
	/* a zombie until reaped: still a pid, no longer a process */
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_true(kill_target_gone(pid, start));
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_true(kill_target_gone(pid, start));
}

static void test_kill_one(void **s)
{
	char out[4096], err[512], arg[64];
	pid_t pid = spawn(0, false);
	usleep(50000);
	uint64_t start = start_ns_of(pid);
	/* a wrong start time: refused, alive */
	snprintf(arg, sizeof(arg), "%d@%llu", pid, (unsigned long long)(start + 5000000000ULL));
	nrec = 0;
	assert_int_equal(CMD(false, "kill", arg), -1);
	assert_non_null(strstr(err, "is now another process"));
	assert_int_equal(nrec, 1);
	assert_non_null(strstr(last_rec, "\"result\":\"refused: "));
	assert_int_equal(kill(pid, 0), 0);
	/* dry run: recorded, alive */
	snprintf(arg, sizeof(arg), "%d@%llu", pid, (unsigned long long)start);
	assert_int_equal(CMD(true, "kill", arg), 0);
	assert_non_null(strstr(out, "would kill 1 process"));
	assert_non_null(strstr(last_rec, "\"result\":\"dry-run\""));
	assert_non_null(strstr(last_rec, "\"would_kill\":[{\"pid\":"));
	assert_int_equal(kill(pid, 0), 0);
	/* the right start time: killed */
	assert_int_equal(CMD(false, "kill", arg), 0);
	assert_non_null(strstr(out, "killed 1 process"));
	assert_non_null(strstr(last_rec, "\"result\":\"ok\""));
	assert_non_null(strstr(last_rec, "\"signal\":\"KILL\""));
	assert_int_equal(reap_all(1, 5), 1);
	/* now gone */
	assert_int_equal(CMD(false, "kill", arg), -1);
	assert_true(strstr(err, "no such process") || strstr(err, "another process"));
	assert_non_null(strstr(last_rec, "\"result\":\"failed: "));
}

static void test_kill_signal(void **s)
{
	char out[4096], err[512], arg[64];
	pid_t pid = spawn(0, false);
	snprintf(arg, sizeof(arg), "%d", pid);
	assert_int_equal(CMD(false, "kill", "--signal", "TERM", arg), 0);
	assert_non_null(strstr(out, "sent TERM to 1 process"));
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_int_equal(CMD(false, "kill", "--signal", "BOGUS", arg), -1);
	assert_non_null(strstr(err, "unknown signal"));
}

static void test_kill_tree(void **s)
{
	char out[4096], err[512], arg[64];
	/* depth 2: the root, 2 children, 2 grandchildren each: 7 processes */
	pid_t root = spawn(2, false);
	pid_t bystander = spawn(0, false);
	usleep(300000);
	snprintf(arg, sizeof(arg), "%d", root);
	assert_int_equal(CMD(true, "kill", "--tree", arg), 0);
	assert_non_null(strstr(out, "would kill 7 processes"));
	assert_int_equal(CMD(false, "kill", "--tree", arg), 0);
	assert_non_null(strstr(out, "killed 7 processes"));
	assert_non_null(strstr(last_rec, "\"scope\":\"tree\""));
	assert_int_equal(reap_all(7, 5), 7);
	assert_int_equal(kill(bystander, 0), 0);
	kill(bystander, SIGKILL);
	waitpid(bystander, NULL, 0);
}

static void test_kill_session(void **s)
{
	char out[4096], err[512], arg[64];
	/* a session leader and its two children */
	pid_t leader = spawn(1, true);
	pid_t bystander = spawn(0, false);
	usleep(300000);
	snprintf(arg, sizeof(arg), "%d", leader);
	assert_int_equal(CMD(false, "kill", "--session", arg), 0);
	assert_non_null(strstr(out, "killed 3 processes"));
	assert_non_null(strstr(last_rec, "\"scope\":\"session\""));
	assert_int_equal(reap_all(3, 5), 3);
	assert_int_equal(kill(bystander, 0), 0);
	kill(bystander, SIGKILL);
	waitpid(bystander, NULL, 0);
	/* an empty session */
	assert_int_equal(CMD(false, "kill", "--session", arg), -1);
	assert_non_null(strstr(err, "no process in session"));
}

/* The child of parent running exe, or 0. */
static pid_t child_running(pid_t parent, const char *exe)
{
	DIR *d = opendir("/proc");
	assert_non_null(d);
	pid_t found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		char path[300], buf[1024], link[4096];
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		pid_t pid, ppid, sid;
		char st;
		uint64_t ticks;
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (kill_parse_stat(buf, &pid, &st, &ppid, &sid, &ticks) || ppid != parent)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = 0, !strcmp(link, exe)))
			found = pid;
	}
	closedir(d);
	return found;
}

/* A protected member of a tree is skipped and reported; the rest dies. */
static void test_kill_tree_skips_protected(void **s)
{
	char out[4096], err[512], arg[64], sleep_exe[4096];
	const char *sleep_path = access("/usr/bin/sleep", X_OK) == 0 ? "/usr/bin/sleep" : "/bin/sleep";
	assert_non_null(realpath(sleep_path, sleep_exe));
	pid_t root = fork();
	assert_true(root >= 0);
	if (root == 0) {
		if (fork() == 0) {
			execl(sleep_path, "sleep", "100", (char *)NULL);
			_exit(127);
		}
		sleeper(1); /* and two plain sleepers */
	}
	pid_t protected_pid = 0;
	for (int tries = 0; tries < 500 && !protected_pid; tries++) {
		usleep(10000);
		protected_pid = child_running(root, sleep_exe);
	}
	assert_true(protected_pid > 0);
	char *protect[] = {sleep_exe};
	R.protect = protect;
	R.o.nprotect = 1;
	snprintf(arg, sizeof(arg), "%d", root);
	int rc = CMD(false, "kill", "--tree", arg);
	R.protect = NULL;
	R.o.nprotect = 0;
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "killed 3 processes"));
	assert_non_null(strstr(out, "protect list"));
	assert_non_null(strstr(last_rec, "\"skipped\":[{\"pid\":"));
	assert_int_equal(reap_all(3, 5), 3);
	/* the protected sleep lives (it came back to us as the subreaper) */
	assert_int_equal(kill(protected_pid, 0), 0);
	kill(protected_pid, SIGKILL);
	assert_int_equal(waitpid(protected_pid, NULL, 0), protected_pid);
}

static void test_refusals(void **s)
{
	char out[4096], err[512];
	assert_int_equal(CMD(false, "kill", "1"), -1);
	assert_non_null(strstr(err, "pid 1"));
	assert_non_null(strstr(last_rec, "\"result\":\"refused: "));
	assert_int_equal(CMD(false, "kill", "--tree", "1"), -1);
	char self[32];
	snprintf(self, sizeof(self), "%d", getpid());
	assert_int_equal(CMD(false, "kill", self), -1);
	assert_non_null(strstr(err, "vigild itself"));
	assert_int_equal(CMD(false, "kill"), -1);
	assert_non_null(strstr(err, "usage"));
	assert_int_equal(CMD(false, "kill", "--tree", "--session", "5"), -1);
	assert_int_equal(CMD(false, "kill", "--session", "5@7"), -1);
	assert_int_equal(CMD(false, "kill", "abc"), -1);
	assert_int_equal(CMD(false, "kill", "1", "2"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_target),
		cmocka_unit_test(test_parse_signal),
		cmocka_unit_test(test_target_gone),
		cmocka_unit_test(test_kill_one),
		cmocka_unit_test(test_kill_signal),
		cmocka_unit_test(test_kill_tree),
		cmocka_unit_test(test_kill_session),
		cmocka_unit_test(test_kill_tree_skips_protected),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
